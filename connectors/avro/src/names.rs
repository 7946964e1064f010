//! Avro-safe names: Debezium's `schema.name.adjustment.mode` and `field.name.adjustment.mode`.
//!
//! Avro names (record names, each namespace segment, field names) must match
//! `[A-Za-z_][A-Za-z0-9_]*`, while Postgres identifiers, and so topic names, may hold
//! anything (`my-db.public."order lines"`). Debezium offers three ways out, and so do we:
//!
//! - `none`: names pass unchanged (a schema with an invalid name is then rejected when it
//!   is parsed as Avro);
//! - `avro`: every invalid character becomes `_`; an invalid first character becomes `_`
//!   too, and a leading digit is kept after it (`1st` → `_1st`) so that `1a` and `2a` stay
//!   apart;
//! - `avro_unicode`: every invalid character becomes `_uXXXX`, its UTF-16 code in
//!   hexadecimal. Underscore is the escape character in this mode, so a literal `_` is
//!   invalid too (`order_lines` → `order_u005flines`), and the first character must be a
//!   letter.
//!
//! Two deliberate details:
//! - Debezium checks a schema's *full* name, where `.` is allowed anywhere but first, so a
//!   segment starting with a digit after a dot (`cdc.public.2024_orders.Value`) passes
//!   through and the schema is not valid Avro. We adjust each dot-separated segment on its
//!   own, which gives the same result for every name Debezium leaves valid and a valid name
//!   (`cdc.public._2024_orders.Value`) where Debezium's would be rejected by Avro parsers.
//! - Like Debezium (which works on Java `char`s), `avro_unicode` writes the UTF-16 code
//!   unit, padded to four digits only when it has at most two (`é` → `_u00e9`, `ā` →
//!   `_u101`, `中` → `_u4e2d`, an emoji → two escapes, one per surrogate), and `avro`
//!   replaces a character outside the Basic Multilingual Plane by two `_`.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// How names are made valid for Avro. The Avro path defaults to [`NameAdjustment::Avro`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum NameAdjustment {
    /// Names pass unchanged.
    None,
    /// Invalid characters become `_`.
    #[default]
    Avro,
    /// Invalid characters become `_uXXXX`.
    AvroUnicode,
}

/// An unknown adjustment mode in a connector config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid name adjustment mode {value:?}\nHINT: use one of \"none\", \"avro\", \"avro_unicode\""
)]
pub struct ParseNameAdjustmentError {
    pub value: String,
}

impl FromStr for NameAdjustment {
    type Err = ParseNameAdjustmentError;

    /// Parses a config value as Debezium does: trimmed, case-insensitive.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("none") {
            Ok(NameAdjustment::None)
        } else if t.eq_ignore_ascii_case("avro") {
            Ok(NameAdjustment::Avro)
        } else if t.eq_ignore_ascii_case("avro_unicode") {
            Ok(NameAdjustment::AvroUnicode)
        } else {
            Err(ParseNameAdjustmentError {
                value: s.to_string(),
            })
        }
    }
}

impl fmt::Display for NameAdjustment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl NameAdjustment {
    /// The config value of this mode.
    pub fn as_str(self) -> &'static str {
        match self {
            NameAdjustment::None => "none",
            NameAdjustment::Avro => "avro",
            NameAdjustment::AvroUnicode => "avro_unicode",
        }
    }

    /// Adjusts a full schema name (`namespace.name`), segment by segment.
    pub fn schema_name(self, full: &str) -> Cow<'_, str> {
        if self == NameAdjustment::None || full.split('.').all(|s| self.is_valid(s)) {
            return Cow::Borrowed(full);
        }
        let mut out = String::with_capacity(full.len() + 8);
        for (i, segment) in full.split('.').enumerate() {
            if i > 0 {
                out.push('.');
            }
            self.push_adjusted(&mut out, segment);
        }
        Cow::Owned(out)
    }

    /// Adjusts a field name (a column name).
    pub fn field_name(self, name: &str) -> Cow<'_, str> {
        if self == NameAdjustment::None || self.is_valid(name) {
            return Cow::Borrowed(name);
        }
        let mut out = String::with_capacity(name.len() + 8);
        self.push_adjusted(&mut out, name);
        Cow::Owned(out)
    }

    fn valid_first(self, c: char) -> bool {
        match self {
            NameAdjustment::AvroUnicode => c.is_ascii_alphabetic(),
            _ => c.is_ascii_alphabetic() || c == '_',
        }
    }

    fn valid_rest(self, c: char) -> bool {
        match self {
            NameAdjustment::AvroUnicode => c.is_ascii_alphanumeric(),
            _ => c.is_ascii_alphanumeric() || c == '_',
        }
    }

    /// Whether a segment needs no change (an empty segment is left alone).
    fn is_valid(self, segment: &str) -> bool {
        let mut chars = segment.chars();
        match chars.next() {
            None => true,
            Some(first) => self.valid_first(first) && chars.all(|c| self.valid_rest(c)),
        }
    }

    fn push_adjusted(self, out: &mut String, segment: &str) {
        for (i, c) in segment.chars().enumerate() {
            let valid = if i == 0 {
                self.valid_first(c)
            } else {
                self.valid_rest(c)
            };
            if valid {
                out.push(c);
                continue;
            }
            match self {
                NameAdjustment::None => out.push(c),
                NameAdjustment::Avro => {
                    for _ in 0..c.len_utf16() {
                        out.push('_');
                    }
                    if i == 0 && c.is_ascii_digit() {
                        out.push(c);
                    }
                }
                NameAdjustment::AvroUnicode => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        let hex = format!("{unit:x}");
                        out.push_str("_u");
                        if hex.len() <= 2 {
                            out.push_str("00");
                        }
                        out.push_str(&hex);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_case_insensitively_and_errors_name_the_allowed_values() {
        assert_eq!("none".parse(), Ok(NameAdjustment::None));
        assert_eq!(" AVRO ".parse(), Ok(NameAdjustment::Avro));
        assert_eq!("Avro_Unicode".parse(), Ok(NameAdjustment::AvroUnicode));
        let err = "avro-unicode".parse::<NameAdjustment>().unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("\"avro-unicode\""), "{msg}");
        assert!(
            msg.contains("\"none\", \"avro\", \"avro_unicode\""),
            "{msg}"
        );
        for mode in [
            NameAdjustment::None,
            NameAdjustment::Avro,
            NameAdjustment::AvroUnicode,
        ] {
            assert_eq!(mode.to_string().parse(), Ok(mode));
        }
        assert_eq!(NameAdjustment::default(), NameAdjustment::Avro);
    }

    #[test]
    fn avro_mode_replaces_invalid_characters_per_segment() {
        let a = NameAdjustment::Avro;
        assert_eq!(
            a.schema_name("my-db.public.order lines.Value"),
            "my_db.public.order_lines.Value"
        );
        assert_eq!(
            a.schema_name("cdc.public.2024_orders.Key"),
            "cdc.public._2024_orders.Key"
        );
        assert_eq!(
            a.schema_name("cdc.public.café.Value"),
            "cdc.public.caf_.Value"
        );
        assert_eq!(
            a.schema_name("cdc.public.t😀.Value"),
            "cdc.public.t__.Value"
        );
        assert_eq!(a.field_name("order total"), "order_total");
        assert_eq!(a.field_name("1st"), "_1st");
        assert_eq!(a.field_name("$amount"), "_amount");
        assert_eq!(a.field_name("a.b"), "a_b");
        assert_eq!(a.field_name("_ok_9"), "_ok_9");
    }

    #[test]
    fn valid_names_are_borrowed_unchanged() {
        for mode in [NameAdjustment::Avro, NameAdjustment::None] {
            assert!(matches!(
                mode.schema_name("cdc.public.customers.Value"),
                Cow::Borrowed(_)
            ));
            assert!(matches!(mode.field_name("first_name"), Cow::Borrowed(_)));
        }
        assert!(matches!(
            NameAdjustment::AvroUnicode.schema_name("io.debezium.connector.postgresql.Source"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn avro_unicode_mode_escapes_utf16_code_units_like_debezium() {
        let u = NameAdjustment::AvroUnicode;
        assert_eq!(
            u.schema_name("my-db.public.order lines.Value"),
            "my_u002ddb.public.order_u0020lines.Value"
        );
        // Underscore is the escape character, so it is escaped itself.
        assert_eq!(u.field_name("first_name"), "first_u005fname");
        assert_eq!(u.field_name("_x"), "_u005fx");
        // A leading digit is escaped, not kept.
        assert_eq!(u.field_name("1st"), "_u0031st");
        assert_eq!(u.field_name("café"), "caf_u00e9");
        assert_eq!(u.field_name("aā"), "a_u101");
        assert_eq!(u.field_name("x中"), "x_u4e2d");
        assert_eq!(u.field_name("x😀"), "x_ud83d_ude00");
    }

    #[test]
    fn none_mode_changes_nothing() {
        let n = NameAdjustment::None;
        assert_eq!(
            n.schema_name("my-db.public.order lines"),
            "my-db.public.order lines"
        );
        assert_eq!(n.field_name("1 x"), "1 x");
    }
}
