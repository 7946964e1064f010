//! Decimals as exact strings: Connect's `Decimal` and Debezium's `VariableScaleDecimal`
//! carry the unscaled value as a big-endian two's-complement integer (Java's
//! `BigInteger.toByteArray`); the string is what Java's `BigDecimal.toPlainString` prints
//! (`123.45`, `-0.123`, `0.00`, `1200` for a negative scale).

/// The decimal `unscaled × 10^-scale` in plain notation.
pub(crate) fn decimal_string(unscaled: &[u8], scale: i32) -> String {
    let negative = unscaled.first().is_some_and(|b| b & 0x80 != 0);
    let digits = if unscaled.len() <= 16 {
        let mut v: i128 = if negative { -1 } else { 0 };
        for &b in unscaled {
            v = (v << 8) | i128::from(b);
        }
        v.unsigned_abs().to_string()
    } else {
        big_digits(&magnitude(unscaled, negative))
    };
    place_point(negative, &digits, scale)
}

/// The absolute value of a two's-complement number, big-endian.
fn magnitude(bytes: &[u8], negative: bool) -> Vec<u8> {
    if !negative {
        return bytes.to_vec();
    }
    // -x = !x + 1
    let mut out: Vec<u8> = bytes.iter().map(|b| !b).collect();
    for b in out.iter_mut().rev() {
        let (sum, carry) = b.overflowing_add(1);
        *b = sum;
        if !carry {
            break;
        }
    }
    out
}

/// Decimal digits of a big-endian unsigned integer of any length.
fn big_digits(mag: &[u8]) -> String {
    // Base 10^9 limbs, least significant first, built by Horner's rule over the bytes.
    const BASE: u64 = 1_000_000_000;
    let mut limbs: Vec<u64> = Vec::with_capacity(mag.len() / 3 + 1);
    for &byte in mag {
        let mut carry = u64::from(byte);
        for limb in limbs.iter_mut() {
            let v = *limb * 256 + carry;
            *limb = v % BASE;
            carry = v / BASE;
        }
        while carry > 0 {
            limbs.push(carry % BASE);
            carry /= BASE;
        }
    }
    let Some((last, rest)) = limbs.split_last() else {
        return "0".to_owned();
    };
    let mut out = last.to_string();
    for limb in rest.iter().rev() {
        out.push_str(&format!("{limb:09}"));
    }
    out
}

fn place_point(negative: bool, digits: &str, scale: i32) -> String {
    let zero = digits == "0";
    let mut out = String::with_capacity(digits.len() + 4);
    if negative && !zero {
        out.push('-');
    }
    if scale <= 0 {
        out.push_str(digits);
        if !zero {
            out.extend(std::iter::repeat_n('0', scale.unsigned_abs() as usize));
        }
        return out;
    }
    let scale = scale as usize;
    if digits.len() > scale {
        let (int, frac) = digits.split_at(digits.len() - scale);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', scale - digits.len()));
        out.push_str(digits);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::decimal_string;

    #[test]
    fn decimals_print_exactly_like_plain_big_decimals() {
        assert_eq!(decimal_string(&[0x30, 0x39], 2), "123.45");
        assert_eq!(decimal_string(&[0xff, 0x85], 3), "-0.123");
        assert_eq!(decimal_string(&[0x00], 2), "0.00");
        assert_eq!(decimal_string(&[], 0), "0");
        assert_eq!(decimal_string(&[0x0c], -2), "1200");
        assert_eq!(decimal_string(&[0x0c], 5), "0.00012");
        assert_eq!(decimal_string(&[0x80], 0), "-128");
        assert_eq!(decimal_string(&[0x2a], 0), "42");
    }

    #[test]
    fn long_decimals_are_exact() {
        // 10^40 and -10^40, as Java's BigInteger.toByteArray writes them.
        let ten40: Vec<u8> = {
            let mut v = vec![0u8; 17];
            // 10^40 = 0x1D6329F1C35CA4BFABB9F5610000000000
            let hex = "1d6329f1c35ca4bfabb9f5610000000000";
            for (i, b) in v.iter_mut().enumerate() {
                *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
            }
            v
        };
        let one_then_40_zeros = format!("1{}", "0".repeat(40));
        assert_eq!(decimal_string(&ten40, 0), one_then_40_zeros);
        assert_eq!(
            decimal_string(&ten40, 38),
            format!("100.{}", "0".repeat(38))
        );
        let neg: Vec<u8> = {
            let mut v: Vec<u8> = ten40.iter().map(|b| !b).collect();
            for b in v.iter_mut().rev() {
                let (s, c) = b.overflowing_add(1);
                *b = s;
                if !c {
                    break;
                }
            }
            v
        };
        assert_eq!(decimal_string(&neg, 0), format!("-{one_then_40_zeros}"));
    }
}
