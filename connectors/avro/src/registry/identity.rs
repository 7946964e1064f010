//! When are two schema texts "the same schema"?
//!
//! The registry deduplicates registrations (one global id per schema) and the client caches
//! ids, and both need a key that ignores formatting but keeps every attribute a reader can
//! observe. Avro's Parsing Canonical Form is *not* that key: it strips `logicalType`,
//! `default`, `doc`, `aliases` and every custom property, so an `int` with logical type
//! `date` and one with `time-millis` share one canonical form, and so do Debezium's
//! `{"type": "int", "connect.name": "io.debezium.time.Date"}` and
//! `{"type": "int", "connect.name": "io.debezium.time.Time"}`. Deduplicating by it would
//! hand out the old schema's id after a column changed from `date` to `time`, and consumers
//! would decode with the old semantic type. Confluent's registry compares the full schema
//! (after parsing) too, so we do the same: the identity is the JSON with whitespace
//! dropped, object keys sorted, and `{"type": "<primitive>"}` reduced to `"<primitive>"`.

use serde_json::Value;

const PRIMITIVES: &[&str] = &[
    "null", "boolean", "int", "long", "float", "double", "bytes", "string",
];

/// The identity key of a schema text, or `None` if the text is not JSON at all.
pub fn schema_identity(text: &str) -> Option<String> {
    let value: Value = serde_json::from_str(text).ok()?;
    let mut out = String::with_capacity(text.len());
    write_normalized(&value, &mut out);
    Some(out)
}

fn write_normalized(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            if map.len() == 1
                && let Some(Value::String(t)) = map.get("type")
                && PRIMITIVES.contains(&t.as_str())
            {
                write_json_string(t, out);
                return;
            }
            // Sort explicitly: serde_json's map keeps insertion order when some crate in the
            // build enables its `preserve_order` feature.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(k, out);
                out.push(':');
                write_normalized(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_normalized(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn write_json_string(s: &str, out: &mut String) {
    out.push_str(&Value::String(s.to_owned()).to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_and_key_order_do_not_change_identity() {
        let a = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#;
        let b = r#"{
            "fields": [ {"type": {"type": "int"}, "name": "a"} ],
            "name": "R", "type": "record"
        }"#;
        assert_eq!(schema_identity(a), schema_identity(b));
        assert_eq!(
            schema_identity(r#""string""#),
            schema_identity(r#"{"type":"string"}"#)
        );
    }

    #[test]
    fn logical_types_defaults_and_custom_properties_change_identity() {
        let field =
            |t: &str| format!(r#"{{"type":"record","name":"R","fields":[{{"name":"a",{t}}}]}}"#);
        let variants = [
            field(r#""type":"int""#),
            field(r#""type":{"type":"int","logicalType":"date"}"#),
            field(r#""type":{"type":"int","logicalType":"time-millis"}"#),
            field(r#""type":{"type":"int","connect.name":"io.debezium.time.Date"}"#),
            field(r#""type":{"type":"int","connect.name":"io.debezium.time.Time"}"#),
            field(r#""type":"int","default":0"#),
            field(r#""type":"int","default":1"#),
        ];
        let ids: Vec<_> = variants
            .iter()
            .map(|s| schema_identity(s).unwrap())
            .collect();
        for i in 0..ids.len() {
            for j in i + 1..ids.len() {
                assert_ne!(ids[i], ids[j], "{} vs {}", variants[i], variants[j]);
            }
        }
        // Parsing Canonical Form merges pairs of them: that is why we do not use it.
        let pcf = |s: &str| apache_avro::Schema::parse_str(s).unwrap().canonical_form();
        assert_eq!(pcf(&variants[1]), pcf(&variants[2]), "date vs time-millis");
        assert_eq!(
            pcf(&variants[3]),
            pcf(&variants[4]),
            "Debezium Date vs Time"
        );
        assert_eq!(pcf(&variants[5]), pcf(&variants[6]), "default 0 vs 1");
    }

    #[test]
    fn non_json_text_has_no_identity() {
        assert_eq!(schema_identity("{not json"), None);
    }
}
