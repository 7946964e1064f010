//! Byte-valued types: `bytea` text, `bit`/`varbit` strings, and the hex and base64 forms of
//! `binary.handling.mode`.
//!
//! `bytea` arrives as `\x0102…` under `bytea_output='hex'`; the older escape format is
//! accepted too, in case a session was not set up as expected. Bit strings become
//! `io.debezium.data.Bits` bytes the way Debezium builds them: the string read right to
//! left as a little-endian `java.util.BitSet`, and `BitSet.toByteArray()` sized by the
//! highest set bit, not by the declared length (so `B'00000000'` is an empty array).

/// Decodes the text form of a `bytea` value.
pub(crate) fn decode_bytea(text: &str) -> Result<Vec<u8>, &'static str> {
    match text.strip_prefix("\\x") {
        Some(hex) => decode_hex(hex),
        None => decode_bytea_escape(text),
    }
}

/// Decodes hexadecimal digits (either case), two per byte.
pub(crate) fn decode_hex(hex: &str) -> Result<Vec<u8>, &'static str> {
    let bytes = hex.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return Err("odd number of hexadecimal digits");
    }
    bytes
        .chunks_exact(2)
        .map(|pair| match (hex_value(pair[0]), hex_value(pair[1])) {
            (Some(high), Some(low)) => Ok(high << 4 | low),
            _ => Err("invalid hexadecimal digit"),
        })
        .collect()
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The `bytea_output='escape'` form: `\\` for a backslash, `\ooo` octal for other bytes.
fn decode_bytea_escape(text: &str) -> Result<Vec<u8>, &'static str> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
        } else if bytes.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else {
            let octal = bytes.get(i + 1..i + 4).ok_or("truncated escape sequence")?;
            if !octal.iter().all(|b| (b'0'..=b'7').contains(b)) || octal[0] > b'3' {
                return Err("invalid escape sequence");
            }
            out.push(octal.iter().fold(0u8, |acc, d| acc << 3 | (d - b'0')));
            i += 4;
        }
    }
    Ok(out)
}

/// Lower-case hexadecimal, as Debezium's `HexConverter`.
pub(crate) fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0xf) as usize] as char);
    }
    out
}

/// Padded base64 with the standard or the URL-safe alphabet (Java's `Base64.getEncoder()`
/// and `Base64.getUrlEncoder()`).
pub(crate) fn encode_base64(bytes: &[u8], url_safe: bool) -> String {
    let alphabet: &[u8; 64] = if url_safe {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    };
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(alphabet[(n >> shift & 0x3f) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A `bit`/`varbit` string as `io.debezium.data.Bits` bytes: little-endian, as many bytes
/// as the highest set bit needs.
pub(crate) fn bits_to_bytes(text: &str) -> Result<Vec<u8>, &'static str> {
    let bits = text.as_bytes();
    if !bits.iter().all(|b| matches!(b, b'0' | b'1')) {
        return Err("expected a string of 0 and 1");
    }
    // Bit i of the BitSet is the i-th character from the right.
    let highest = bits.iter().position(|b| *b == b'1').map(|p| bits.len() - p);
    let Some(length) = highest else {
        return Ok(Vec::new());
    };
    let mut out = vec![0u8; length.div_ceil(8)];
    for (i, b) in bits.iter().rev().enumerate().take(length) {
        if *b == b'1' {
            out[i / 8] |= 1 << (i % 8);
        }
    }
    Ok(out)
}

/// A one-bit string as a boolean (`bit(1)`, `varbit(1)`).
pub(crate) fn bit_to_bool(text: &str) -> Result<bool, &'static str> {
    match text {
        "1" => Ok(true),
        "0" => Ok(false),
        _ => Err("expected 0 or 1"),
    }
}
