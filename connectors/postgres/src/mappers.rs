//! Debezium's column mappers (`io.debezium.relational.mapping`): properties that rewrite
//! chosen columns of the value (never the key) and mark their schemas.
//!
//! - `column.truncate.to.<N>.chars`: strings cut to N UTF-16 units, `bytes` to N bytes;
//!   schema parameter `truncateLength` where the column's length can exceed N.
//! - `column.mask.with.<N>.chars`: character columns become N `*`s (a NULL too); schema
//!   parameter `masked`.
//! - `column.mask.hash.<algorithm>.with.salt.<salt>` and `column.mask.hash.v2.…`: character
//!   columns become the hex digest of salt and value (v1 hashes the value's Java
//!   serialization, v2 its UTF-8 bytes), cut to the column's length; `masked`.
//! - `column.propagate.source.type`, `datatype.propagate.source.type`: the schema gets the
//!   column's source type, length, scale and name as `__debezium.source.column.*`.
//!
//! Each property's value is a comma-separated list of regular expressions, matched
//! case-insensitively against `<schema>.<table>.<column>` (or, for `datatype.…`,
//! `<schema>.<table>.<type>`). As in Debezium, a column takes the first rule that matches,
//! in this order: truncations, masks, propagations by column, by type, hashes, v2 hashes.

use std::collections::BTreeMap;

use md5::Md5;
use regex::Regex;
use sha1::Sha1;
use sha2::digest::{Digest, DynDigest};
use tributary_core::{Schema, Value};

use crate::config::TableId;
use crate::types::JdbcColumn;

/// The parsed mappers of a connector config.
#[derive(Debug, Clone, Default)]
pub struct ColumnMappers {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
struct Rule {
    patterns: Vec<Regex>,
    /// Matched against `<schema>.<table>.<type>` instead of the column's name.
    by_type: bool,
    action: Action,
}

#[derive(Debug, Clone)]
enum Action {
    Truncate(usize),
    Mask(String),
    Propagate,
    Hash {
        algorithm: Algorithm,
        salt: Vec<u8>,
        v2: bool,
    },
}

/// The digests of Java's `MessageDigest` that Tributary computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
    Sha512_224,
    Sha512_256,
    Sha3_224,
    Sha3_256,
    Sha3_384,
    Sha3_512,
}

const ALGORITHMS: &[(&str, Algorithm)] = &[
    ("MD5", Algorithm::Md5),
    ("SHA-1", Algorithm::Sha1),
    ("SHA1", Algorithm::Sha1),
    ("SHA", Algorithm::Sha1),
    ("SHA-224", Algorithm::Sha224),
    ("SHA-256", Algorithm::Sha256),
    ("SHA-384", Algorithm::Sha384),
    ("SHA-512", Algorithm::Sha512),
    ("SHA-512/224", Algorithm::Sha512_224),
    ("SHA-512/256", Algorithm::Sha512_256),
    ("SHA3-224", Algorithm::Sha3_224),
    ("SHA3-256", Algorithm::Sha3_256),
    ("SHA3-384", Algorithm::Sha3_384),
    ("SHA3-512", Algorithm::Sha3_512),
];

impl Algorithm {
    fn parse(name: &str) -> Option<Algorithm> {
        ALGORITHMS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, a)| *a)
    }

    fn hasher(self) -> Box<dyn DynDigest> {
        match self {
            Algorithm::Md5 => Box::new(Md5::new()),
            Algorithm::Sha1 => Box::new(Sha1::new()),
            Algorithm::Sha224 => Box::new(sha2::Sha224::new()),
            Algorithm::Sha256 => Box::new(sha2::Sha256::new()),
            Algorithm::Sha384 => Box::new(sha2::Sha384::new()),
            Algorithm::Sha512 => Box::new(sha2::Sha512::new()),
            Algorithm::Sha512_224 => Box::new(sha2::Sha512_224::new()),
            Algorithm::Sha512_256 => Box::new(sha2::Sha512_256::new()),
            Algorithm::Sha3_224 => Box::new(sha3::Sha3_224::new()),
            Algorithm::Sha3_256 => Box::new(sha3::Sha3_256::new()),
            Algorithm::Sha3_384 => Box::new(sha3::Sha3_384::new()),
            Algorithm::Sha3_512 => Box::new(sha3::Sha3_512::new()),
        }
    }
}

/// What a mapper does to one column's values.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueMapper {
    Truncate(usize),
    Mask(String),
    Hash {
        algorithm: Algorithm,
        salt: Vec<u8>,
        v2: bool,
        /// The column's length, when positive: the hex digest is cut to it.
        cut: Option<usize>,
    },
}

/// What a mapper does to one column: schema parameters to add, and a value rewrite
/// (none where it only marks the schema).
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    pub params: Vec<(&'static str, String)>,
    pub values: Option<ValueMapper>,
}

/// A column as the mappers see it.
pub struct MappedColumn<'a> {
    pub table: &'a TableId,
    pub name: &'a str,
    /// `Column.typeName()`: `pg_type.typname` (JDBC's `serial` for a snapshot's
    /// `int4` column defaulting to `nextval`).
    pub type_name: &'a str,
    pub jdbc: &'a JdbcColumn,
}

/// The prefixes of the mapper properties, for the config parser.
pub const PREFIXES: &[&str] = &[
    "column.truncate.to.",
    "column.mask.with.",
    "column.mask.hash.",
    "column.propagate.source.type",
    "datatype.propagate.source.type",
];

/// The rule kinds in the order Debezium's `ColumnMappers.create` registers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Truncate,
    Mask,
    PropagateColumn,
    PropagateType,
    Hash,
    HashV2,
}

impl ColumnMappers {
    /// Reads every mapper property of `raw`. Each error names its property.
    pub fn parse(raw: &BTreeMap<String, String>) -> Result<Self, Vec<(String, String)>> {
        let mut rules: Vec<(Kind, Rule)> = Vec::new();
        let mut errors = Vec::new();
        for (key, value) in raw {
            match parse_rule(key, value) {
                Ok(Some(rule)) => rules.push(rule),
                Ok(None) => {}
                Err(message) => errors.push((key.clone(), message)),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        // Stable: within a kind, properties keep their (sorted) order.
        rules.sort_by_key(|(kind, _)| *kind);
        Ok(ColumnMappers {
            rules: rules.into_iter().map(|(_, r)| r).collect(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The mapper of `column`: the schema parameters it adds and how it rewrites values.
    pub fn for_column(&self, column: &MappedColumn<'_>) -> Option<Mapped> {
        let by_name = format!(
            "{}.{}.{}",
            column.table.schema, column.table.name, column.name
        );
        let by_type = format!(
            "{}.{}.{}",
            column.table.schema, column.table.name, column.type_name
        );
        let rule = self.rules.iter().find(|r| {
            let subject = if r.by_type { &by_type } else { &by_name };
            r.patterns.iter().any(|p| p.is_match(subject))
        })?;
        let jdbc = column.jdbc;
        let (params, values) = match &rule.action {
            Action::Truncate(n) => {
                if jdbc.length < 0 || jdbc.length as usize > *n {
                    (
                        vec![("truncateLength", n.to_string())],
                        Some(ValueMapper::Truncate(*n)),
                    )
                } else {
                    (Vec::new(), None)
                }
            }
            Action::Mask(mask) => (
                vec![("masked", "true".into())],
                jdbc.char_like.then(|| ValueMapper::Mask(mask.clone())),
            ),
            Action::Hash {
                algorithm,
                salt,
                v2,
            } => (
                vec![("masked", "true".into())],
                jdbc.char_like.then(|| ValueMapper::Hash {
                    algorithm: *algorithm,
                    salt: salt.clone(),
                    v2: *v2,
                    cut: (jdbc.length > 0).then_some(jdbc.length as usize),
                }),
            ),
            Action::Propagate => {
                let mut params = vec![(
                    "__debezium.source.column.type",
                    column.type_name.to_uppercase(),
                )];
                if jdbc.length != -1 {
                    params.push(("__debezium.source.column.length", jdbc.length.to_string()));
                }
                if let Some(scale) = jdbc.scale {
                    params.push(("__debezium.source.column.scale", scale.to_string()));
                }
                params.push(("__debezium.source.column.name", column.name.to_string()));
                (params, None)
            }
        };
        Some(Mapped { params, values })
    }
}

/// Adds a mapper's schema parameters to a column's schema.
pub fn mark(mut schema: Schema, params: Vec<(&'static str, String)>) -> Schema {
    for (k, v) in params {
        schema.parameters.insert(k.to_string(), v);
    }
    schema
}

fn patterns(key: &str, value: &str) -> Result<Vec<Regex>, String> {
    let mut out = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        out.push(
            Regex::new(&format!("(?i)^(?:{part})$"))
                .map_err(|e| format!("{part:?} is not a valid regular expression: {e}"))?,
        );
    }
    if out.is_empty() {
        return Err(format!(
            "lists no columns; give {key} a comma-separated list of <schema>.<table>.<column> regular expressions, or remove it"
        ));
    }
    Ok(out)
}

fn parse_rule(key: &str, value: &str) -> Result<Option<(Kind, Rule)>, String> {
    let number = |rest: &str, suffix: &str| -> Option<Result<usize, String>> {
        let n = rest.strip_suffix(suffix)?;
        Some(n.parse::<usize>().map_err(|_| {
            format!("{n:?} is not a number of characters; the property is {key:?} with N a non-negative integer")
        }))
    };
    let (kind, by_type, action) = if let Some(rest) = key.strip_prefix("column.truncate.to.") {
        let Some(n) = number(rest, ".chars") else {
            return Err("is not a property; did you mean column.truncate.to.<N>.chars?".into());
        };
        (Kind::Truncate, false, Action::Truncate(n?))
    } else if let Some(rest) = key.strip_prefix("column.mask.with.") {
        let Some(n) = number(rest, ".chars") else {
            return Err("is not a property; did you mean column.mask.with.<N>.chars?".into());
        };
        (Kind::Mask, false, Action::Mask("*".repeat(n?)))
    } else if let Some(rest) = key.strip_prefix("column.mask.hash.") {
        let (rest, v2) = match rest.strip_prefix("v2.") {
            Some(rest) => (rest, true),
            None => (rest, false),
        };
        let Some((name, salt)) = rest.split_once(".with.salt.") else {
            return Err(
                "is not a property; the hashing property is column.mask.hash[.v2].<algorithm>.with.salt.<salt>"
                    .into(),
            );
        };
        let Some(algorithm) = Algorithm::parse(name).filter(|_| !name.contains('.')) else {
            let known: Vec<&str> = ALGORITHMS.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "{name:?} is not a hash algorithm Tributary computes; use one of {}",
                known.join(", ")
            ));
        };
        let kind = if v2 { Kind::HashV2 } else { Kind::Hash };
        (
            kind,
            false,
            Action::Hash {
                algorithm,
                salt: salt.as_bytes().to_vec(),
                v2,
            },
        )
    } else if key == "column.propagate.source.type" {
        (Kind::PropagateColumn, false, Action::Propagate)
    } else if key == "datatype.propagate.source.type" {
        (Kind::PropagateType, true, Action::Propagate)
    } else {
        return Ok(None);
    };
    if value.trim().is_empty() {
        // Debezium's default for the propagation properties: no columns.
        return Ok(None);
    }
    Ok(Some((
        kind,
        Rule {
            patterns: patterns(key, value)?,
            by_type,
            action,
        },
    )))
}

impl ValueMapper {
    /// The value written for a column whose converted value is `value`.
    pub fn apply(&self, value: Value) -> Value {
        match self {
            ValueMapper::Truncate(n) => match value {
                Value::String(s) => Value::String(truncate_utf16(s, *n)),
                Value::Bytes(mut b) => {
                    b.truncate(*n);
                    Value::Bytes(b)
                }
                other => other,
            },
            // Debezium's mask replaces a NULL too.
            ValueMapper::Mask(mask) => Value::String(mask.clone()),
            ValueMapper::Hash {
                algorithm,
                salt,
                v2,
                cut,
            } => match value {
                Value::String(s) => {
                    let mut hasher = algorithm.hasher();
                    hasher.update(salt);
                    if *v2 {
                        hasher.update(s.as_bytes());
                    } else {
                        hasher.update(&java_serialized_string(&s));
                    }
                    let digest = hasher.finalize();
                    let mut hex = String::with_capacity(digest.len() * 2);
                    for b in digest.iter() {
                        hex.push_str(&format!("{b:02x}"));
                    }
                    if let Some(cut) = cut {
                        hex.truncate(*cut);
                    }
                    Value::String(hex)
                }
                // A NULL is not `Serializable`: Debezium writes NULL.
                _ => Value::Null,
            },
        }
    }
}

/// Java's `s.substring(0, n)` when `s.length() > n`, counted in UTF-16 units. A cut through
/// a surrogate pair leaves half a character, which Java's UTF-8 encoder writes as `?`.
fn truncate_utf16(s: String, n: usize) -> String {
    let mut units = 0;
    for (i, c) in s.char_indices() {
        let width = c.len_utf16();
        if units + width > n {
            let mut out = s[..i].to_string();
            if units < n {
                out.push('?');
            }
            return out;
        }
        units += width;
    }
    s
}

/// A `String` as `ObjectOutputStream.writeObject` writes it: the stream header, then
/// `TC_STRING` and a 2-byte length, or `TC_LONGSTRING` and an 8-byte length, and the
/// text in Java's modified UTF-8.
fn java_serialized_string(s: &str) -> Vec<u8> {
    let mut utf = Vec::with_capacity(s.len() + 8);
    for unit in s.encode_utf16() {
        match unit {
            0x0001..=0x007F => utf.push(unit as u8),
            0x0000 | 0x0080..=0x07FF => {
                utf.push(0xC0 | (unit >> 6) as u8);
                utf.push(0x80 | (unit & 0x3F) as u8);
            }
            _ => {
                utf.push(0xE0 | (unit >> 12) as u8);
                utf.push(0x80 | ((unit >> 6) & 0x3F) as u8);
                utf.push(0x80 | (unit & 0x3F) as u8);
            }
        }
    }
    let mut out = vec![0xAC, 0xED, 0x00, 0x05];
    if utf.len() <= 0xFFFF {
        out.push(0x74);
        out.extend_from_slice(&(utf.len() as u16).to_be_bytes());
    } else {
        out.push(0x7C);
        out.extend_from_slice(&(utf.len() as u64).to_be_bytes());
    }
    out.extend_from_slice(&utf);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(name: &str, salt: &str, v2: bool, value: &str) -> Value {
        ValueMapper::Hash {
            algorithm: Algorithm::parse(name).unwrap(),
            salt: salt.as_bytes().to_vec(),
            v2,
            cut: None,
        }
        .apply(Value::String(value.into()))
    }

    #[test]
    fn hashes_are_debeziums() {
        // Debezium's MaskStringsTest: SHA-256, salt "salt", v1 of "hello world"… is what
        // its Java serialization hashes to; the v2 value is the digest of "salt" + text.
        let v2 = hash("SHA-256", "salt", true, "abc");
        let mut h = sha2::Sha256::new();
        Digest::update(&mut h, b"saltabc");
        let expected: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(v2, Value::String(expected));
        // v1 hashes the serialized string: AC ED 00 05 74 00 03 'a' 'b' 'c'.
        assert_eq!(
            java_serialized_string("abc"),
            vec![0xAC, 0xED, 0, 5, 0x74, 0, 3, b'a', b'b', b'c']
        );
        // Modified UTF-8: U+0000 is two bytes, a supplementary character two 3-byte halves.
        assert_eq!(&java_serialized_string("\0")[7..], &[0xC0, 0x80]);
        assert_eq!(java_serialized_string("😀").len(), 7 + 6);
        assert_eq!(
            hash("MD5", "", true, ""),
            Value::String("d41d8cd98f00b204e9800998ecf8427e".into())
        );
    }

    #[test]
    fn truncation_counts_utf16_units() {
        assert_eq!(truncate_utf16("héllo".into(), 2), "hé");
        assert_eq!(truncate_utf16("a😀b".into(), 2), "a?");
        assert_eq!(truncate_utf16("a😀b".into(), 3), "a😀");
        assert_eq!(truncate_utf16("ab".into(), 5), "ab");
    }

    #[test]
    fn rules_take_debeziums_order_and_refuse_bad_properties() {
        let raw: BTreeMap<String, String> = [
            ("column.mask.hash.SHA-256.with.salt.pepper", "public.t.a"),
            ("column.truncate.to.3.chars", "PUBLIC.T.A"),
            ("column.propagate.source.type", ".*"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mappers = ColumnMappers::parse(&raw).unwrap();
        let table = TableId::new("public", "t");
        let text = JdbcColumn {
            length: i32::MAX,
            scale: Some(0),
            char_like: true,
        };
        let column = |name| MappedColumn {
            table: &table,
            name,
            type_name: "text",
            jdbc: &text,
        };
        let a = mappers.for_column(&column("a")).unwrap();
        assert_eq!(a.params, vec![("truncateLength", "3".to_string())]);
        assert_eq!(a.values, Some(ValueMapper::Truncate(3)));
        let b = mappers.for_column(&column("b")).unwrap();
        assert_eq!(
            b.params[0],
            ("__debezium.source.column.type", "TEXT".into())
        );
        assert_eq!(b.values, None);

        let bad = |k: &str, v: &str| {
            let raw = BTreeMap::from([(k.to_string(), v.to_string())]);
            ColumnMappers::parse(&raw).unwrap_err()[0].1.clone()
        };
        assert!(bad("column.mask.hash.MD2.with.salt.x", "a.b.c").contains("MD5"));
        assert!(bad("column.truncate.to.x.chars", "a.b.c").contains("not a number"));
        assert!(bad("column.mask.with.3.chars", "(").contains("regular expression"));
    }
}
