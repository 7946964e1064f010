//! Postgres array text: `{1,2,NULL}`, `{"a,b","x\"y",""}`, `{{1,2},{3,4}}`, `[0:1]={1,2}`.
//!
//! `array_out` quotes an element when it is empty, equals `NULL`, or contains braces, the
//! delimiter, quotes, backslashes or white space, and escapes quotes and backslashes inside
//! quotes with a backslash. An unquoted `NULL` is SQL NULL. Multi-dimensional arrays are
//! flattened in row-major order: a Kafka Connect array schema has one element type, and
//! nested arrays would not match it. The explicit-bounds prefix (`[0:1]=`) is skipped.
//! Every type we map uses `,` as its delimiter (only `box` uses `;`, and `box` is not
//! mapped), so the delimiter is fixed.
//!
//! The parser is a loop with a depth counter, not a recursion, so hostile input cannot
//! overflow the stack.

use std::borrow::Cow;

/// Splits an array literal into its elements (`None` for NULL), flattened.
pub(crate) fn split_array(text: &str) -> Result<Vec<Option<Cow<'_, str>>>, &'static str> {
    let bytes = text.as_bytes();
    let mut i = skip_ws(bytes, 0);
    if bytes.get(i) == Some(&b'[') {
        // Dimension decoration such as "[1:2][0:1]=".
        let eq = text[i..].find('=').ok_or("malformed array dimensions")?;
        i = skip_ws(bytes, i + eq + 1);
    }
    if bytes.get(i) != Some(&b'{') {
        return Err("array value must start with \"{\"");
    }
    let mut depth = 0usize;
    let mut out = Vec::new();
    // After '{' or ',' an element (or a nested '{', or '}' for an empty array) is due.
    let mut expect_element = true;
    loop {
        i = skip_ws(bytes, i);
        let Some(&b) = bytes.get(i) else {
            return Err("unexpected end of array");
        };
        match b {
            b'{' if expect_element => {
                depth += 1;
                i += 1;
            }
            b'}' => {
                if depth == 0 {
                    return Err("unbalanced braces");
                }
                if expect_element && last_non_ws(bytes, i) != Some(b'{') {
                    return Err("missing array element");
                }
                depth -= 1;
                i += 1;
                expect_element = false;
                if depth == 0 {
                    if skip_ws(bytes, i) != bytes.len() {
                        return Err("junk after closing brace");
                    }
                    return Ok(out);
                }
            }
            b',' if !expect_element => {
                expect_element = true;
                i += 1;
            }
            _ if expect_element && depth > 0 => {
                let (element, next) = element(text, i)?;
                out.push(element);
                i = next;
                expect_element = false;
            }
            _ => return Err("unexpected character in array"),
        }
    }
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

fn last_non_ws(bytes: &[u8], end: usize) -> Option<u8> {
    bytes[..end]
        .iter()
        .rev()
        .find(|b| !b.is_ascii_whitespace())
        .copied()
}

/// One element starting at `start`; returns it and the index just after it.
fn element(text: &str, start: usize) -> Result<(Option<Cow<'_, str>>, usize), &'static str> {
    let bytes = text.as_bytes();
    if bytes[start] == b'"' {
        let mut i = start + 1;
        let mut owned: Option<String> = None;
        let mut run = i;
        loop {
            match bytes.get(i) {
                None => return Err("unterminated quoted array element"),
                Some(b'"') => {
                    let value = match owned {
                        Some(mut s) => {
                            s.push_str(&text[run..i]);
                            Cow::Owned(s)
                        }
                        None => Cow::Borrowed(&text[run..i]),
                    };
                    return Ok((Some(value), i + 1));
                }
                Some(b'\\') => {
                    let s = owned.get_or_insert_with(String::new);
                    s.push_str(&text[run..i]);
                    let escaped = text[i + 1..]
                        .chars()
                        .next()
                        .ok_or("unterminated quoted array element")?;
                    s.push(escaped);
                    i += 1 + escaped.len_utf8();
                    run = i;
                }
                Some(_) => i += 1,
            }
        }
    }
    // Unquoted: up to the next ',' or '}' (or '{', which is an error), backslash escapes
    // allowed, surrounding white space dropped.
    let mut i = start;
    let mut owned: Option<String> = None;
    let mut run = i;
    loop {
        match bytes.get(i) {
            None => return Err("unexpected end of array"),
            Some(b',' | b'}') => break,
            Some(b'{' | b'"') => return Err("unexpected character in array element"),
            Some(b'\\') => {
                let s = owned.get_or_insert_with(String::new);
                s.push_str(&text[run..i]);
                let escaped = text[i + 1..]
                    .chars()
                    .next()
                    .ok_or("unexpected end of array")?;
                s.push(escaped);
                i += 1 + escaped.len_utf8();
                run = i;
            }
            Some(_) => i += 1,
        }
    }
    let value = match owned {
        Some(mut s) => {
            s.push_str(text[run..i].trim_end_matches(|c: char| c.is_ascii_whitespace()));
            Cow::Owned(s)
        }
        None => {
            let raw = text[run..i].trim_end_matches(|c: char| c.is_ascii_whitespace());
            if raw.eq_ignore_ascii_case("NULL") {
                return Ok((None, i));
            }
            Cow::Borrowed(raw)
        }
    };
    Ok((Some(value), i))
}
