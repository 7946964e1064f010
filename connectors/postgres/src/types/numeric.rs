//! Exact decimals: `numeric` and `money` text, and the forms Debezium writes them in.
//!
//! A value is kept as sign, significant digits and scale, like Java's `BigDecimal`, because
//! every output Debezium produces is defined in `BigDecimal` terms: the unscaled value's
//! `BigInteger.toByteArray()` (big-endian two's complement, minimal length) for
//! `org.apache.kafka.connect.data.Decimal`, `stripTrailingZeros()` for
//! `io.debezium.data.VariableScaleDecimal`, and `BigDecimal.toString()` (which switches to
//! scientific notation for small numbers, e.g. `1E-7`) for `decimal.handling.mode=string`.

use num_bigint::BigInt;

/// The largest scale change we perform. Postgres allows 16383 fraction digits and 131072
/// integer digits; anything far beyond that is garbage and must not allocate gigabytes.
const MAX_SCALE_SHIFT: i64 = 1_000_000;

/// A finite decimal: `(-1)^negative × digits × 10^-scale`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decimal {
    negative: bool,
    /// Significant digits without leading zeros; empty for zero.
    digits: String,
    scale: i64,
}

/// A `numeric` value, which may be one of Postgres's special values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Numeric {
    Finite(Decimal),
    NaN,
    PosInfinity,
    NegInfinity,
}

/// Parses `numeric` text: `[+-]digits[.digits][e[+-]digits]`, `NaN`, `[+-]Infinity`.
pub(crate) fn parse_numeric(text: &str) -> Result<Numeric, &'static str> {
    let t = text.trim_matches(|c: char| c.is_ascii_whitespace());
    let special = |names: &[&str]| names.iter().any(|n| t.eq_ignore_ascii_case(n));
    if special(&["nan"]) {
        return Ok(Numeric::NaN);
    }
    if special(&["infinity", "+infinity", "inf", "+inf"]) {
        return Ok(Numeric::PosInfinity);
    }
    if special(&["-infinity", "-inf"]) {
        return Ok(Numeric::NegInfinity);
    }
    parse_decimal(t, true).map(Numeric::Finite)
}

/// Parses `money` text as printed under `lc_monetary='C'`: `$1,234.56`, `-$1.00`, or the
/// accounting form `($1.00)`.
pub(crate) fn parse_money(text: &str) -> Result<Decimal, &'static str> {
    let t = text.trim();
    let (mut negative, body) =
        if let Some(inner) = t.strip_prefix('(').and_then(|s| s.strip_suffix(')')) {
            (true, inner)
        } else if let Some(rest) = t.strip_prefix('-') {
            (true, rest)
        } else {
            (false, t)
        };
    let mut cleaned: String = body.chars().filter(|c| *c != '$' && *c != ',').collect();
    if let Some(rest) = cleaned.strip_prefix('-') {
        negative = !negative;
        cleaned = rest.to_string();
    }
    if cleaned.starts_with('+') || cleaned.starts_with('-') {
        return Err("expected an amount like $1,234.56");
    }
    let mut value = parse_decimal(&cleaned, false)?;
    value.negative = negative && !value.digits.is_empty();
    Ok(value)
}

/// Parses `[+-]digits[.digits]` without an exponent.
pub(crate) fn parse_plain_decimal(text: &str) -> Result<Decimal, &'static str> {
    parse_decimal(text, false)
}

fn parse_decimal(t: &str, allow_exponent: bool) -> Result<Decimal, &'static str> {
    let bytes = t.as_bytes();
    let mut i = 0;
    let mut negative = false;
    if let Some(sign @ (b'+' | b'-')) = bytes.first() {
        negative = *sign == b'-';
        i = 1;
    }
    let digits_from = |mut i: usize| {
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let int_end = digits_from(i);
    let int_part = &t[i..int_end];
    i = int_end;
    let mut frac_part = "";
    if bytes.get(i) == Some(&b'.') {
        let frac_end = digits_from(i + 1);
        frac_part = &t[i + 1..frac_end];
        i = frac_end;
    }
    if int_part.is_empty() && frac_part.is_empty() {
        return Err("expected a decimal number");
    }
    let mut exponent: i64 = 0;
    if allow_exponent && matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        let mut exp_negative = false;
        if let Some(sign @ (b'+' | b'-')) = bytes.get(i) {
            exp_negative = *sign == b'-';
            i += 1;
        }
        let exp_end = digits_from(i);
        if exp_end == i || exp_end - i > 9 {
            return Err("malformed exponent");
        }
        exponent = t[i..exp_end].parse().map_err(|_| "malformed exponent")?;
        if exp_negative {
            exponent = -exponent;
        }
        i = exp_end;
    }
    if i != bytes.len() {
        return Err("unexpected character in a decimal number");
    }
    let mut digits = String::with_capacity(int_part.len() + frac_part.len());
    digits.push_str(int_part.trim_start_matches('0'));
    if digits.is_empty() {
        digits.push_str(frac_part.trim_start_matches('0'));
    } else {
        digits.push_str(frac_part);
    }
    let scale = frac_part.len() as i64 - exponent;
    if scale.abs() > MAX_SCALE_SHIFT {
        return Err("exponent out of range");
    }
    Ok(Decimal {
        negative: negative && !digits.is_empty(),
        digits,
        scale,
    })
}

impl Decimal {
    #[cfg(test)]
    pub(crate) fn scale(&self) -> i64 {
        self.scale
    }

    /// The value rescaled like `BigDecimal.setScale(scale, RoundingMode.HALF_UP)`.
    pub(crate) fn with_scale(&self, scale: i64) -> Result<Decimal, &'static str> {
        if (scale - self.scale).abs() > MAX_SCALE_SHIFT {
            return Err("scale out of range");
        }
        if scale >= self.scale {
            let mut digits = self.digits.clone();
            if !digits.is_empty() {
                digits.extend(std::iter::repeat_n('0', (scale - self.scale) as usize));
            }
            return Ok(Decimal {
                negative: self.negative,
                digits,
                scale,
            });
        }
        let drop = (self.scale - scale) as usize;
        let len = self.digits.len();
        let (kept, first_dropped) = if drop > len {
            ("", b'0')
        } else {
            (
                &self.digits[..len - drop],
                self.digits
                    .as_bytes()
                    .get(len - drop)
                    .copied()
                    .unwrap_or(b'0'),
            )
        };
        let mut digits = kept.to_string();
        if first_dropped >= b'5' {
            increment(&mut digits);
        }
        let digits = digits.trim_start_matches('0').to_string();
        Ok(Decimal {
            negative: self.negative && !digits.is_empty(),
            digits,
            scale,
        })
    }

    /// The value cut to at most `scale` fraction digits without rounding
    /// (`RoundingMode.DOWN`); a value with fewer digits is returned as it is.
    pub(crate) fn truncated(&self, scale: i64) -> Decimal {
        if scale >= self.scale {
            return self.clone();
        }
        let drop = (self.scale - scale) as usize;
        let kept = self
            .digits
            .get(..self.digits.len().saturating_sub(drop))
            .unwrap_or("");
        let digits = kept.trim_start_matches('0').to_string();
        Decimal {
            negative: self.negative && !digits.is_empty(),
            digits,
            scale,
        }
    }

    /// `BigDecimal.stripTrailingZeros()`, then a negative scale raised to 0 as Debezium does
    /// for `VariableScaleDecimal`. Zero becomes scale 0.
    pub(crate) fn normalized(&self) -> Decimal {
        if self.digits.is_empty() {
            return Decimal {
                negative: false,
                digits: String::new(),
                scale: 0,
            };
        }
        let trimmed = self.digits.trim_end_matches('0');
        let removed = (self.digits.len() - trimmed.len()) as i64;
        let scale = self.scale - removed;
        if scale >= 0 {
            Decimal {
                negative: self.negative,
                digits: trimmed.to_string(),
                scale,
            }
        } else {
            // Raising the scale to 0 puts back exactly the zeros removed beyond it.
            let mut digits = trimmed.to_string();
            digits.extend(std::iter::repeat_n('0', (-scale) as usize));
            Decimal {
                negative: self.negative,
                digits,
                scale: 0,
            }
        }
    }

    /// The scale as Kafka Connect stores it (an `int32`).
    pub(crate) fn scale_i32(&self) -> Result<i32, &'static str> {
        i32::try_from(self.scale).map_err(|_| "scale out of range")
    }

    /// The unscaled value as `BigInteger.toByteArray()`: big-endian two's complement, as
    /// short as possible, at least one byte.
    pub(crate) fn unscaled_bytes(&self) -> Vec<u8> {
        if self.digits.len() <= 38 {
            let magnitude: i128 = self.digits.parse().unwrap_or(0);
            return minimal_i128_bytes(if self.negative { -magnitude } else { magnitude });
        }
        let magnitude = BigInt::parse_bytes(self.digits.as_bytes(), 10).unwrap_or_default();
        let value = if self.negative { -magnitude } else { magnitude };
        value.to_signed_bytes_be()
    }

    /// `BigDecimal.doubleValue()`: the nearest `f64`.
    pub(crate) fn to_f64(&self) -> f64 {
        if self.digits.is_empty() {
            return 0.0;
        }
        let sign = if self.negative { "-" } else { "" };
        format!("{sign}{}e{}", self.digits, -self.scale)
            .parse()
            .unwrap_or(f64::NAN)
    }

    /// `BigDecimal.toString()`: plain notation unless the scale is negative or the
    /// adjusted exponent is below -6, then scientific (`1.23E-7`, `0E-10`, `1E+3`).
    pub(crate) fn to_java_string(&self) -> String {
        let coefficient = if self.digits.is_empty() {
            "0"
        } else {
            &self.digits
        };
        let adjusted = -self.scale + (coefficient.len() as i64 - 1);
        if self.scale >= 0 && adjusted >= -6 {
            return self.to_plain_string();
        }
        let mut out = String::with_capacity(coefficient.len() + 8);
        if self.negative {
            out.push('-');
        }
        out.push_str(&coefficient[..1]);
        if coefficient.len() > 1 {
            out.push('.');
            out.push_str(&coefficient[1..]);
        }
        out.push('E');
        if adjusted >= 0 {
            out.push('+');
        }
        out.push_str(&adjusted.to_string());
        out
    }

    /// `BigDecimal.toPlainString()`.
    pub(crate) fn to_plain_string(&self) -> String {
        let coefficient = if self.digits.is_empty() {
            "0"
        } else {
            &self.digits
        };
        let mut out = String::with_capacity(coefficient.len() + 3);
        if self.negative {
            out.push('-');
        }
        if self.scale <= 0 {
            out.push_str(coefficient);
            if coefficient != "0" {
                out.extend(std::iter::repeat_n('0', (-self.scale) as usize));
            }
            return out;
        }
        let scale = self.scale as usize;
        if coefficient.len() > scale {
            let (int, frac) = coefficient.split_at(coefficient.len() - scale);
            out.push_str(int);
            out.push('.');
            out.push_str(frac);
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', scale - coefficient.len()));
            out.push_str(coefficient);
        }
        out
    }
}

/// Adds one to a string of decimal digits (empty counts as zero).
fn increment(digits: &mut String) {
    let mut bytes = std::mem::take(digits).into_bytes();
    let mut carry = true;
    for b in bytes.iter_mut().rev() {
        if *b == b'9' {
            *b = b'0';
        } else {
            *b += 1;
            carry = false;
            break;
        }
    }
    if carry {
        bytes.insert(0, b'1');
    }
    *digits = String::from_utf8(bytes).unwrap_or_default();
}

/// Minimal big-endian two's complement bytes of an `i128`.
pub(crate) fn minimal_i128_bytes(value: i128) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let mut start = 0;
    while start < bytes.len() - 1 {
        let (current, next) = (bytes[start], bytes[start + 1]);
        let redundant =
            (current == 0x00 && next & 0x80 == 0) || (current == 0xff && next & 0x80 != 0);
        if !redundant {
            break;
        }
        start += 1;
    }
    bytes[start..].to_vec()
}
