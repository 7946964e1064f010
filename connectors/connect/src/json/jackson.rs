//! Text as Jackson writes it for Kafka's `JsonSerializer`: strings with Jackson's escapes,
//! floating-point numbers as Java's `Float.toString` / `Double.toString`, decimals as
//! `BigDecimal.toString`, and NaN and the infinities as strings
//! (`JsonWriteFeature.WRITE_NAN_AS_STRINGS`, on by default).

use std::io::Write as _;

use num_bigint::BigInt;

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// A JSON string: `"` and `\` escaped, control characters as `\b \t \n \f \r` or `\u00XX`
/// (upper-case hex, as Jackson), everything else as UTF-8.
pub fn write_str(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            0x0c => b"\\f",
            b'\r' => b"\\r",
            0..=0x1f => {
                buf.extend_from_slice(&bytes[start..i]);
                buf.extend_from_slice(b"\\u00");
                buf.push(HEX[usize::from(b >> 4)]);
                buf.push(HEX[usize::from(b & 0xf)]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        buf.extend_from_slice(&bytes[start..i]);
        buf.extend_from_slice(escape);
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
    buf.push(b'"');
}

/// A `double` as Jackson writes it.
pub fn write_f64(buf: &mut Vec<u8>, v: f64) {
    if !write_non_finite(buf, v) {
        // `{:e}` gives the shortest digits that read back as `v`, as Java 19+'s
        // `Double.toString` does.
        java_format(buf, &format!("{v:e}"), v == 0.0 && v.is_sign_negative());
    }
}

/// A `float` as Jackson writes it.
pub fn write_f32(buf: &mut Vec<u8>, v: f32) {
    if !write_non_finite(buf, f64::from(v)) {
        java_format(buf, &format!("{v:e}"), v == 0.0 && v.is_sign_negative());
    }
}

fn write_non_finite(buf: &mut Vec<u8>, v: f64) -> bool {
    let text: &[u8] = if v.is_nan() {
        b"\"NaN\""
    } else if v == f64::INFINITY {
        b"\"Infinity\""
    } else if v == f64::NEG_INFINITY {
        b"\"-Infinity\""
    } else {
        return false;
    };
    buf.extend_from_slice(text);
    true
}

/// Java's floating-point `toString` from Rust's shortest scientific form (`-1.2345e-7`):
/// plain notation with at least one fractional digit for magnitudes in [10⁻³, 10⁷),
/// `d.dddE±n` otherwise.
fn java_format(buf: &mut Vec<u8>, sci: &str, negative_zero: bool) {
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    if negative || negative_zero {
        buf.push(b'-');
    }
    if digits.iter().all(|d| *d == b'0') {
        buf.extend_from_slice(b"0.0");
        return;
    }
    if (-3..7).contains(&exp) {
        if exp < 0 {
            buf.extend_from_slice(b"0.");
            buf.extend(std::iter::repeat_n(b'0', (-exp - 1) as usize));
            buf.extend_from_slice(&digits);
        } else {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                buf.extend_from_slice(&digits);
                buf.extend(std::iter::repeat_n(b'0', int_len - digits.len()));
                buf.extend_from_slice(b".0");
            } else {
                buf.extend_from_slice(&digits[..int_len]);
                buf.push(b'.');
                buf.extend_from_slice(&digits[int_len..]);
            }
        }
    } else {
        buf.push(digits[0]);
        buf.push(b'.');
        if digits.len() > 1 {
            buf.extend_from_slice(&digits[1..]);
        } else {
            buf.push(b'0');
        }
        let _ = write!(buf, "E{exp}");
    }
}

/// `BigDecimal.toString()` of `unscaled × 10^-scale`, `unscaled` as Java's
/// `BigInteger.toByteArray` (big-endian two's complement): plain notation when the scale
/// is not negative and the adjusted exponent is at least -6, scientific otherwise.
pub fn write_decimal(buf: &mut Vec<u8>, unscaled: &[u8], scale: i32) {
    let n = BigInt::from_signed_bytes_be(unscaled);
    let text = n.magnitude().to_string();
    if n.sign() == num_bigint::Sign::Minus {
        buf.push(b'-');
    }
    let digits = text.as_bytes();
    let adjusted = -i64::from(scale) + (digits.len() as i64 - 1);
    if scale == 0 {
        buf.extend_from_slice(digits);
    } else if scale > 0 && adjusted >= -6 {
        let scale = scale as usize;
        if digits.len() > scale {
            let int_len = digits.len() - scale;
            buf.extend_from_slice(&digits[..int_len]);
            buf.push(b'.');
            buf.extend_from_slice(&digits[int_len..]);
        } else {
            buf.extend_from_slice(b"0.");
            buf.extend(std::iter::repeat_n(b'0', scale - digits.len()));
            buf.extend_from_slice(digits);
        }
    } else {
        buf.push(digits[0]);
        if digits.len() > 1 {
            buf.push(b'.');
            buf.extend_from_slice(&digits[1..]);
        }
        let _ = write!(buf, "E{}{adjusted}", if adjusted >= 0 { "+" } else { "" });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut buf = Vec::new();
        f(&mut buf);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn doubles_read_as_javas_double_to_string() {
        for (v, java) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (-1.5, "-1.5"),
            (100.0, "100.0"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (1234567.0, "1234567.0"),
            (12345678.0, "1.2345678E7"),
            (1e10, "1.0E10"),
            (1.5e-7, "1.5E-7"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::MAX, "1.7976931348623157E308"),
            (f64::MIN_POSITIVE, "2.2250738585072014E-308"),
            (f64::NAN, "\"NaN\""),
            (f64::NEG_INFINITY, "\"-Infinity\""),
        ] {
            assert_eq!(text(|b| write_f64(b, v)), java, "{v}");
        }
    }

    #[test]
    fn floats_read_as_javas_float_to_string() {
        for (v, java) in [
            (1.1f32, "1.1"),
            (3.4028235e38, "3.4028235E38"),
            (1e-5, "1.0E-5"),
            (0.5, "0.5"),
            (f32::INFINITY, "\"Infinity\""),
        ] {
            assert_eq!(text(|b| write_f32(b, v)), java, "{v}");
        }
    }

    #[test]
    fn strings_are_escaped_as_jackson_escapes_them() {
        assert_eq!(
            text(|b| write_str(b, "a\"b\\c\n\t\u{1}\u{1f}\u{7f}é/€")),
            "\"a\\\"b\\\\c\\n\\t\\u0001\\u001F\u{7f}é/€\""
        );
    }

    #[test]
    fn decimals_read_as_big_decimal_to_string() {
        let bytes = |n: i64| BigInt::from(n).to_signed_bytes_be();
        for (unscaled, scale, java) in [
            (12345, 2, "123.45"),
            (-12345, 2, "-123.45"),
            (5, 3, "0.005"),
            (0, 2, "0.00"),
            (1, 7, "1E-7"),
            (123, 9, "1.23E-7"),
            (123, 0, "123"),
            (123, -2, "1.23E+4"),
            (-1, -3, "-1E+3"),
        ] {
            assert_eq!(
                text(|b| write_decimal(b, &bytes(unscaled), scale)),
                java,
                "{unscaled} scale {scale}"
            );
        }
    }
}
