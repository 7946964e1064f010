//! Unchanged TOASTed values: the source's `unavailable.value.placeholder`, recognised on
//! the sink side so that a column an update left alone keeps the value the target holds.
//!
//! Postgres does not log a large (TOASTed) column that an update did not change unless the
//! table has `REPLICA IDENTITY FULL`, so Debezium, and Tributary's source, send a
//! placeholder in its place: the placeholder text for text-like columns, its bytes for
//! `bytea`, `[placeholder]` for arrays of text or `bytea`, and one element per placeholder
//! byte for arrays of integers. A sink job turns those back into "unchanged" with
//! [`Unavailable::split`] before the target sees the document.

use std::collections::HashSet;
use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Map, Value as Json};

use crate::TableRef;

/// Debezium's default `unavailable.value.placeholder`.
pub const DEFAULT_PLACEHOLDER: &str = "__debezium_unavailable_value";

/// The placeholder's bytes: a `hex:` prefix means the rest is hexadecimal for them (as
/// Debezium reads it); otherwise the text's UTF-8 bytes.
pub fn placeholder_bytes(placeholder: &str) -> Vec<u8> {
    placeholder
        .strip_prefix("hex:")
        .and_then(decode_hex)
        .unwrap_or_else(|| placeholder.as_bytes().to_vec())
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) || !hex.is_ascii() {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

/// Every JSON form the placeholder takes in a decoded document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable {
    /// Text columns (and the text of JSON-like columns).
    text: String,
    /// `bytea` columns, decoded as base64 text.
    base64: String,
    /// Arrays of integers: one element per byte, as a signed byte.
    ints: Vec<i64>,
}

impl Default for Unavailable {
    fn default() -> Self {
        Unavailable::new(DEFAULT_PLACEHOLDER)
    }
}

impl Unavailable {
    pub fn new(placeholder: &str) -> Self {
        let bytes = placeholder_bytes(placeholder);
        Unavailable {
            text: String::from_utf8_lossy(&bytes).into_owned(),
            base64: base64::engine::general_purpose::STANDARD.encode(&bytes),
            ints: bytes.iter().map(|&b| i64::from(b as i8)).collect(),
        }
    }

    /// Whether `value` is the placeholder in one of its forms.
    pub fn is_placeholder(&self, value: &Json) -> bool {
        let text = |v: &Json| {
            v.as_str()
                .is_some_and(|s| s == self.text || s == self.base64)
        };
        match value {
            Json::String(_) => text(value),
            Json::Array(items) => match items.as_slice() {
                [one] if one.is_string() => text(one),
                _ => {
                    items.len() == self.ints.len()
                        && items
                            .iter()
                            .zip(&self.ints)
                            .all(|(v, b)| v.as_i64() == Some(*b))
                }
            },
            _ => false,
        }
    }

    /// Removes the placeholder fields from `doc` and returns their names (no allocation
    /// when there are none, as for nearly every change).
    pub fn split(&self, doc: &mut Map<String, Json>) -> Vec<String> {
        if !doc.values().any(|v| self.is_placeholder(v)) {
            return Vec::new();
        }
        let mut unchanged = Vec::new();
        doc.retain(|name, v| {
            let keep = !self.is_placeholder(v);
            if !keep {
                unchanged.push(name.clone());
            }
            keep
        });
        unchanged
    }
}

/// Completes `doc` with the `unchanged` fields of `earlier`, the target's copy of the row,
/// and returns the names it could not complete (no copy, or a copy without them).
pub fn keep(
    doc: &mut Map<String, Json>,
    unchanged: &[String],
    mut earlier: Option<Map<String, Json>>,
) -> Vec<String> {
    let mut missing = Vec::new();
    for name in unchanged {
        match earlier.as_mut().and_then(|e| e.remove(name)) {
            Some(value) => {
                doc.insert(name.clone(), value);
            }
            None => missing.push(name.clone()),
        }
    }
    missing
}

/// Unchanged values a sink could not keep because its target held no earlier copy of the
/// row (it never saw the row's insert or snapshot read): counted, and warned about once
/// per table with the fix.
#[derive(Debug, Default)]
pub struct LeftOut {
    total: u64,
    warned: HashSet<(Arc<str>, Arc<str>)>,
}

impl LeftOut {
    /// Records that `fields` of a row of `table` were left out of the target's document.
    pub fn record(&mut self, sink: &str, table: &TableRef, fields: &[String]) {
        if fields.is_empty() {
            return;
        }
        self.total += fields.len() as u64;
        if self
            .warned
            .insert((table.schema.clone(), table.table.clone()))
        {
            warn_left_out(sink, table, fields);
        }
    }

    /// Values left out since the sink started.
    pub fn total(&self) -> u64 {
        self.total
    }
}

fn warn_left_out(sink: &str, table: &TableRef, fields: &[String]) {
    tracing::warn!(
        job = sink,
        table = %format_args!("{}.{}", table.schema, table.table),
        fields = %fields.join(", "),
        "an update left large (TOASTed) columns unchanged, but the target holds no earlier copy of the row, so they are left out of its document; set REPLICA IDENTITY FULL on the table (the source then sends their values), or re-snapshot the table so the target holds every row"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_form_of_the_default_placeholder_is_recognised() {
        let u = Unavailable::default();
        let p = DEFAULT_PLACEHOLDER;
        let b64 = base64::engine::general_purpose::STANDARD.encode(p);
        let ints: Vec<i64> = p.bytes().map(|b| b as i64).collect();
        for v in [json!(p), json!(b64), json!([p]), json!([b64]), json!(ints)] {
            assert!(u.is_placeholder(&v), "{v}");
        }
        for v in [
            json!("__debezium_unavailable"),
            json!([p, p]),
            json!([1, 2]),
            json!(null),
            json!(7),
            json!({"x": p}),
        ] {
            assert!(!u.is_placeholder(&v), "{v}");
        }
    }

    #[test]
    fn hex_placeholders_are_bytes_and_negative_bytes_are_signed() {
        let u = Unavailable::new("hex:ff00");
        assert!(u.is_placeholder(&json!([-1, 0])));
        assert!(u.is_placeholder(&json!("/wA=")));
        assert!(!u.is_placeholder(&json!([255, 0])));
        assert_eq!(placeholder_bytes("hex:zz"), b"hex:zz");
    }

    #[test]
    fn split_removes_and_names_the_unchanged_fields() {
        let u = Unavailable::new("??");
        let mut doc = json!({"id": 1, "title": "t", "body": "??", "tags": ["??"]})
            .as_object()
            .cloned()
            .unwrap();
        assert_eq!(u.split(&mut doc), ["body", "tags"]);
        assert_eq!(json!(doc), json!({"id": 1, "title": "t"}));
        assert!(u.split(&mut doc).is_empty());
    }

    #[test]
    fn keep_takes_unchanged_values_from_the_earlier_copy_and_names_the_rest() {
        let mut doc = json!({"id": 1, "title": "new"})
            .as_object()
            .cloned()
            .unwrap();
        let earlier = json!({"id": 1, "title": "old", "body": "long"});
        let unchanged = ["body".to_string(), "tags".to_string()];
        let missing = keep(&mut doc, &unchanged, earlier.as_object().cloned());
        assert_eq!(json!(doc), json!({"id": 1, "title": "new", "body": "long"}));
        assert_eq!(missing, ["tags"]);
        assert_eq!(keep(&mut doc, &unchanged, None), unchanged);
    }
}
