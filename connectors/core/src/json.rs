//! JSON rendering of events, as Kafka Connect's JsonConverter writes them with
//! `schemas.enable=false`: structs as objects, bytes (and decimals) as base64, NaN and
//! infinities as strings (what Jackson writes), the envelope as Debezium lays it out.

use base64::Engine as _;
use serde_json::{Map, Number, Value as Json};

use crate::{CaptureItem, ChangeEvent, MessageEvent, Schema, SchemaType, SourceInfo, Value};

/// Renders a value according to its schema.
pub fn value_to_json(schema: &Schema, value: &Value) -> Json {
    match (value, &schema.ty) {
        (Value::Null, _) => Json::Null,
        (Value::Boolean(b), _) => Json::Bool(*b),
        (Value::Int8(v), _) => Json::from(*v),
        (Value::Int16(v), _) => Json::from(*v),
        (Value::Int32(v), _) => Json::from(*v),
        (Value::Int64(v), _) => Json::from(*v),
        (Value::Float32(v), _) => float_json(f64::from(*v)),
        (Value::Float64(v), _) => float_json(*v),
        (Value::String(s), _) => Json::String(s.clone()),
        (Value::Bytes(b), _) => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
        (Value::Array(items), SchemaType::Array(item)) => {
            Json::Array(items.iter().map(|v| value_to_json(item, v)).collect())
        }
        (Value::Map(entries), SchemaType::Map(k, v)) => {
            let mut m = Map::new();
            for (key, val) in entries {
                let key = match value_to_json(k, key) {
                    Json::String(s) => s,
                    other => other.to_string(),
                };
                m.insert(key, value_to_json(v, val));
            }
            Json::Object(m)
        }
        (Value::Struct(values), SchemaType::Struct(fields)) => {
            let mut m = Map::with_capacity(fields.len());
            for (field, v) in fields.iter().zip(values) {
                m.insert(field.name.clone(), value_to_json(&field.schema, v));
            }
            Json::Object(m)
        }
        // A value that does not match its schema: render it without the schema's help.
        (Value::Array(items), _) => Json::Array(
            items
                .iter()
                .map(|v| value_to_json(&Schema::string(), v))
                .collect(),
        ),
        (Value::Map(_) | Value::Struct(_), _) => Json::Null,
    }
}

fn float_json(v: f64) -> Json {
    match Number::from_f64(v) {
        Some(n) => Json::Number(n),
        None if v.is_nan() => Json::String("NaN".into()),
        None if v > 0.0 => Json::String("Infinity".into()),
        None => Json::String("-Infinity".into()),
    }
}

/// The envelope of a change event as a JSON object.
pub fn envelope_json(ev: &ChangeEvent) -> Json {
    let value_schema = &ev.schemas.value;
    let row = |v: &Option<Value>| match v {
        Some(v) => value_to_json(value_schema, v),
        None => Json::Null,
    };
    serde_json::json!({
        "before": row(&ev.before),
        "after": row(&ev.after),
        "source": source_json(&ev.source),
        "transaction": null,
        "op": ev.op.code(),
        "ts_ms": ev.ts_us.div_euclid(1000),
        "ts_us": ev.ts_us,
        "ts_ns": ev.ts_us.saturating_mul(1000),
    })
}

/// A logical decoding message's value: Debezium's `MessageValue`.
pub fn message_json(m: &MessageEvent) -> Json {
    let content = match &m.content {
        Value::Bytes(b) => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Value::String(s) => Json::String(s.clone()),
        _ => Json::Null,
    };
    serde_json::json!({
        "op": "m",
        "ts_ms": m.ts_us.div_euclid(1000),
        "source": source_json(&m.source),
        "transaction": null,
        "message": {"prefix": &m.prefix, "content": content},
    })
}

fn source_json(s: &SourceInfo) -> Json {
    serde_json::json!({
        "version": crate::VERSION,
        "connector": "postgresql",
        "name": &*s.name,
        "ts_ms": s.ts_us.div_euclid(1000),
        "snapshot": s.snapshot.as_str(),
        "db": &*s.db,
        "sequence": s.sequence_string(),
        "ts_us": s.ts_us,
        "ts_ns": s.ts_us.saturating_mul(1000),
        "schema": &*s.schema,
        "table": &*s.table,
        "txId": s.tx_id,
        "lsn": s.lsn.map(|l| l.0),
        "xmin": s.xmin,
        "origin": null,
        "origin_lsn": null,
    })
}

/// The key of a change event as JSON (`null` for keyless tables).
pub fn key_json(ev: &ChangeEvent) -> Json {
    match (&ev.key, &ev.schemas.key) {
        (Some(k), Some(schema)) => value_to_json(schema, k),
        _ => Json::Null,
    }
}

/// One output line for `tributary capture`: `{"topic", "key", "value"}`, or `None` for
/// items that are not records (transaction boundaries, checkpoints).
pub fn record_json(item: &CaptureItem) -> Option<Json> {
    match item {
        CaptureItem::Change(ev) => Some(serde_json::json!({
            "topic": ev.topic(),
            "key": key_json(ev),
            "value": envelope_json(ev),
        })),
        CaptureItem::Tombstone { schemas, key, .. } => Some(serde_json::json!({
            "topic": &*schemas.topic,
            "key": schemas.key.as_ref().map(|s| value_to_json(s, key)),
            "value": null,
        })),
        CaptureItem::Message(m) => Some(serde_json::json!({
            "topic": &*m.topic,
            "key": {"prefix": &m.prefix},
            "value": message_json(m),
        })),
        _ => None,
    }
}

/// Writes one output line for `tributary capture` (without the newline) straight into
/// `buf`, without building an intermediate JSON tree: the hot path of `capture`.
/// Returns false for items that are not records.
pub fn write_record(buf: &mut Vec<u8>, item: &CaptureItem) -> bool {
    match item {
        CaptureItem::Change(ev) => {
            buf.extend_from_slice(b"{\"topic\":");
            write_str(buf, ev.topic());
            buf.extend_from_slice(b",\"key\":");
            match (&ev.key, &ev.schemas.key) {
                (Some(k), Some(s)) => write_value(buf, s, k),
                _ => buf.extend_from_slice(b"null"),
            }
            buf.extend_from_slice(b",\"value\":");
            write_envelope(buf, ev);
            buf.push(b'}');
            true
        }
        CaptureItem::Tombstone { schemas, key, .. } => {
            buf.extend_from_slice(b"{\"topic\":");
            write_str(buf, &schemas.topic);
            buf.extend_from_slice(b",\"key\":");
            match &schemas.key {
                Some(s) => write_value(buf, s, key),
                None => buf.extend_from_slice(b"null"),
            }
            buf.extend_from_slice(b",\"value\":null}");
            true
        }
        CaptureItem::Message(_) => {
            // Rare: through the JSON tree.
            if let Some(record) = record_json(item) {
                buf.extend_from_slice(record.to_string().as_bytes());
            }
            true
        }
        _ => false,
    }
}

fn write_str(buf: &mut Vec<u8>, s: &str) {
    // serde_json escapes exactly as JSON requires; writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *buf, s);
}

fn write_num<T: serde::Serialize>(buf: &mut Vec<u8>, v: T) {
    let _ = serde_json::to_writer(&mut *buf, &v);
}

fn write_opt_i64(buf: &mut Vec<u8>, v: Option<i64>) {
    match v {
        Some(v) => write_num(buf, v),
        None => buf.extend_from_slice(b"null"),
    }
}

fn write_envelope(buf: &mut Vec<u8>, ev: &ChangeEvent) {
    let schema = &ev.schemas.value;
    buf.extend_from_slice(b"{\"before\":");
    match &ev.before {
        Some(v) => write_value(buf, schema, v),
        None => buf.extend_from_slice(b"null"),
    }
    buf.extend_from_slice(b",\"after\":");
    match &ev.after {
        Some(v) => write_value(buf, schema, v),
        None => buf.extend_from_slice(b"null"),
    }
    let s = &ev.source;
    buf.extend_from_slice(b",\"source\":{\"version\":");
    write_str(buf, crate::VERSION);
    buf.extend_from_slice(b",\"connector\":\"postgresql\",\"name\":");
    write_str(buf, &s.name);
    buf.extend_from_slice(b",\"ts_ms\":");
    write_num(buf, s.ts_us.div_euclid(1000));
    buf.extend_from_slice(b",\"snapshot\":\"");
    buf.extend_from_slice(s.snapshot.as_str().as_bytes());
    buf.extend_from_slice(b"\",\"db\":");
    write_str(buf, &s.db);
    buf.extend_from_slice(b",\"sequence\":");
    match s.sequence_string() {
        Some(seq) => write_str(buf, &seq),
        None => buf.extend_from_slice(b"null"),
    }
    buf.extend_from_slice(b",\"ts_us\":");
    write_num(buf, s.ts_us);
    buf.extend_from_slice(b",\"ts_ns\":");
    write_num(buf, s.ts_us.saturating_mul(1000));
    buf.extend_from_slice(b",\"schema\":");
    write_str(buf, &s.schema);
    buf.extend_from_slice(b",\"table\":");
    write_str(buf, &s.table);
    buf.extend_from_slice(b",\"txId\":");
    write_opt_i64(buf, s.tx_id);
    buf.extend_from_slice(b",\"lsn\":");
    write_opt_i64(buf, s.lsn.map(|l| l.0 as i64));
    buf.extend_from_slice(b",\"xmin\":");
    write_opt_i64(buf, s.xmin);
    buf.extend_from_slice(b",\"origin\":null,\"origin_lsn\":null");
    buf.extend_from_slice(b"},\"transaction\":null,\"op\":\"");
    buf.extend_from_slice(ev.op.code().as_bytes());
    buf.extend_from_slice(b"\",\"ts_ms\":");
    write_num(buf, ev.ts_us.div_euclid(1000));
    buf.extend_from_slice(b",\"ts_us\":");
    write_num(buf, ev.ts_us);
    buf.extend_from_slice(b",\"ts_ns\":");
    write_num(buf, ev.ts_us.saturating_mul(1000));
    buf.push(b'}');
}

/// Writes a value as [`value_to_json`] renders it.
pub fn write_value(buf: &mut Vec<u8>, schema: &Schema, value: &Value) {
    match (value, &schema.ty) {
        (Value::Null, _) => buf.extend_from_slice(b"null"),
        (Value::Boolean(b), _) => buf.extend_from_slice(if *b { b"true" } else { b"false" }),
        (Value::Int8(v), _) => write_num(buf, v),
        (Value::Int16(v), _) => write_num(buf, v),
        (Value::Int32(v), _) => write_num(buf, v),
        (Value::Int64(v), _) => write_num(buf, v),
        (Value::String(s), _) => write_str(buf, s),
        (Value::Struct(values), SchemaType::Struct(fields)) => {
            buf.push(b'{');
            for (i, (field, v)) in fields.iter().zip(values).enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                write_str(buf, &field.name);
                buf.push(b':');
                write_value(buf, &field.schema, v);
            }
            buf.push(b'}');
        }
        (Value::Array(items), SchemaType::Array(item)) => {
            buf.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                write_value(buf, item, v);
            }
            buf.push(b']');
        }
        // Floats, bytes and the rare shapes: through the tree renderer.
        _ => {
            let _ = serde_json::to_writer(&mut *buf, &value_to_json(schema, value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Field;

    #[test]
    fn floats_render_like_jackson_and_bytes_as_base64() {
        assert_eq!(float_json(f64::NAN), Json::String("NaN".into()));
        assert_eq!(
            float_json(f64::NEG_INFINITY),
            Json::String("-Infinity".into())
        );
        assert_eq!(float_json(1.5), serde_json::json!(1.5));
        let schema = Schema::structure(
            "t",
            vec![
                Field::new("b", Schema::bytes()),
                Field::new("a", Schema::array(Schema::int32())),
            ],
        );
        let v = Value::Struct(vec![
            Value::Bytes(vec![0xde, 0xad]),
            Value::Array(vec![Value::Int32(1), Value::Null]),
        ]);
        assert_eq!(
            value_to_json(&schema, &v),
            serde_json::json!({"b": "3q0=", "a": [1, null]})
        );
        let mut buf = Vec::new();
        write_value(&mut buf, &schema, &v);
        assert_eq!(buf, br#"{"b":"3q0=","a":[1,null]}"#);
    }
}
