//! COPY text format: splitting a row into fields and undoing backslash escapes.
//!
//! `COPY … TO STDOUT` (text format) ends each row with `\n`, separates fields with `\t`,
//! writes NULL as `\N` and escapes backslash, tab, newline, carriage return and other
//! control characters with a backslash. What remains is the type's text output, the same
//! form pgoutput sends, so both go through the same value parsers.

use std::borrow::Cow;

/// One field of a COPY row: `None` for NULL.
pub type Field<'a> = Option<Cow<'a, str>>;

/// Splits one row (without its trailing newline) into fields, appending them to `out`.
/// Invalid UTF-8 is replaced, which cannot happen with `client_encoding=UTF8`.
pub fn split_row<'a>(line: &'a [u8], out: &mut Vec<Field<'a>>) {
    out.clear();
    // The whole row is checked once (tab and backslash are ASCII, so its fields stay
    // valid) and scanned once for both: a raw tab always separates fields (a tab in a
    // value is escaped), a backslash marks a field to unescape.
    if let Ok(text) = std::str::from_utf8(line) {
        let field = |raw: &'a str, escaped: bool| {
            if raw == "\\N" {
                None
            } else if escaped {
                Some(Cow::Owned(unescape(raw.as_bytes())))
            } else {
                Some(Cow::Borrowed(raw))
            }
        };
        let (mut start, mut escaped) = (0, false);
        for at in memchr::memchr2_iter(b'\t', b'\\', line) {
            if line[at] == b'\\' {
                escaped = true;
            } else {
                out.push(field(&text[start..at], escaped));
                (start, escaped) = (at + 1, false);
            }
        }
        out.push(field(&text[start..], escaped));
    } else {
        split_bytes(line, out);
    }
}

/// [`split_row`] a field at a time, replacing invalid UTF-8 in each.
fn split_bytes<'a>(line: &'a [u8], out: &mut Vec<Field<'a>>) {
    for raw in line.split(|&b| b == b'\t') {
        if raw == b"\\N" {
            out.push(None);
        } else if raw.contains(&b'\\') {
            out.push(Some(Cow::Owned(unescape(raw))));
        } else {
            out.push(Some(match std::str::from_utf8(raw) {
                Ok(s) => Cow::Borrowed(s),
                Err(_) => String::from_utf8_lossy(raw),
            }));
        }
    }
}

fn unescape(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b != b'\\' || i + 1 == raw.len() {
            out.push(b);
            i += 1;
            continue;
        }
        let c = raw[i + 1];
        i += 2;
        match c {
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'0'..=b'7' => {
                let mut v = u32::from(c - b'0');
                let mut n = 1;
                while n < 3 && i < raw.len() && (b'0'..=b'7').contains(&raw[i]) {
                    v = v * 8 + u32::from(raw[i] - b'0');
                    i += 1;
                    n += 1;
                }
                out.push(v as u8);
            }
            b'x' if i < raw.len() && raw[i].is_ascii_hexdigit() => {
                let mut v = 0u32;
                let mut n = 0;
                while n < 2 && i < raw.len() && raw[i].is_ascii_hexdigit() {
                    v = v * 16 + (raw[i] as char).to_digit(16).unwrap_or(0);
                    i += 1;
                    n += 1;
                }
                out.push(v as u8);
            }
            other => out.push(other),
        }
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(line: &str) -> Vec<Option<String>> {
        let mut out = Vec::new();
        split_row(line.as_bytes(), &mut out);
        out.into_iter().map(|f| f.map(|c| c.into_owned())).collect()
    }

    #[test]
    fn copy_rows_split_and_unescape() {
        assert_eq!(
            row("1\t\\N\ta\\tb\\nc\\\\d\t\t\\101\\x42"),
            vec![
                Some("1".into()),
                None,
                Some("a\tb\nc\\d".into()),
                Some("".into()),
                Some("AB".into())
            ]
        );
        assert_eq!(row("\\\\x00ff"), vec![Some("\\x00ff".into())]);
    }

    proptest::proptest! {
        #[test]
        fn splitting_never_panics(bytes: Vec<u8>) {
            let mut out = Vec::new();
            split_row(&bytes, &mut out);
        }

        /// The one-pass split of a valid row gives what splitting field by field gives.
        #[test]
        fn one_pass_splits_as_field_by_field(
            fields in proptest::collection::vec("[a-c\\\\\\tN0-7x\u{e9}]{0,6}", 1..6)
        ) {
            let line = fields.join("\t");
            let (mut fast, mut slow) = (Vec::new(), Vec::new());
            split_row(line.as_bytes(), &mut fast);
            split_bytes(line.as_bytes(), &mut slow);
            proptest::prop_assert_eq!(fast, slow);
        }
    }
}
