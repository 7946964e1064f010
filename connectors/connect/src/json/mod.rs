//! Kafka's `JsonConverter` (`org.apache.kafka.connect.json.JsonConverter`), byte for byte.
//!
//! With `schemas.enable` a record is `{"schema":…,"payload":…}`; without, the payload alone.
//! The schema is laid out as `JsonConverter.asJsonSchema` builds it (`type`, then `items` /
//! `keys` and `values` / `fields`, then `optional`, `name`, `version`, `doc`, `parameters`
//! in insertion order, `default`; a struct field's schema ends with `field`). The payload
//! follows `convertToJson`: decimals as base64 of the unscaled value (or numbers under
//! `decimal.format=NUMERIC`), bytes as base64, maps with string keys as objects and other
//! maps as arrays of `[key, value]` pairs, and a null whose schema has a default written as
//! that default under `replace.null.with.default`. Text follows Jackson ([`jackson`]).

pub mod jackson;
pub mod read;
pub mod tree;

use base64::Engine as _;
use tributary_core::{Schema, SchemaType, Value};

use crate::config::JsonSettings;

/// Connect's logical decimal: bytes of the unscaled value, `scale` in the parameters.
const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";

/// Writes one record's key or value: `None` (no schema and no value) writes nothing and
/// returns false, as the converter returns a null (a tombstone's value). `schema_json` is
/// [`write_schema`]'s output for `schema`, which callers cache per schema.
pub fn write_record(
    buf: &mut Vec<u8>,
    settings: &JsonSettings,
    schema: Option<&Schema>,
    schema_json: &[u8],
    value: Option<&Value>,
) -> bool {
    if schema.is_none() && value.is_none() {
        return false;
    }
    if settings.schemas {
        buf.extend_from_slice(b"{\"schema\":");
        if schema.is_some() {
            buf.extend_from_slice(schema_json);
        } else {
            buf.extend_from_slice(b"null");
        }
        buf.extend_from_slice(b",\"payload\":");
    }
    match schema {
        Some(s) => write_payload(buf, settings, s, value.unwrap_or(&Value::Null)),
        None => write_schemaless(buf, value.unwrap_or(&Value::Null)),
    }
    if settings.schemas {
        buf.push(b'}');
    }
    true
}

/// The schema as `JsonConverter.asJsonSchema` lays it out.
pub fn write_schema(buf: &mut Vec<u8>, settings: &JsonSettings, schema: &Schema) {
    write_schema_inner(buf, settings, schema, None);
}

fn write_schema_inner(
    buf: &mut Vec<u8>,
    settings: &JsonSettings,
    schema: &Schema,
    field: Option<&str>,
) {
    buf.extend_from_slice(b"{\"type\":\"");
    buf.extend_from_slice(schema.type_name().as_bytes());
    buf.push(b'"');
    match &schema.ty {
        SchemaType::Array(item) => {
            buf.extend_from_slice(b",\"items\":");
            write_schema_inner(buf, settings, item, None);
        }
        SchemaType::Map(k, v) => {
            buf.extend_from_slice(b",\"keys\":");
            write_schema_inner(buf, settings, k, None);
            buf.extend_from_slice(b",\"values\":");
            write_schema_inner(buf, settings, v, None);
        }
        SchemaType::Struct(fields) => {
            buf.extend_from_slice(b",\"fields\":[");
            for (i, f) in fields.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                write_schema_inner(buf, settings, &f.schema, Some(&f.name));
            }
            buf.push(b']');
        }
        _ => {}
    }
    buf.extend_from_slice(if schema.optional {
        b",\"optional\":true"
    } else {
        b",\"optional\":false"
    });
    if let Some(name) = &schema.name {
        buf.extend_from_slice(b",\"name\":");
        jackson::write_str(buf, name);
    }
    if let Some(version) = schema.version {
        buf.extend_from_slice(b",\"version\":");
        buf.extend_from_slice(version.to_string().as_bytes());
    }
    if let Some(doc) = &schema.doc {
        buf.extend_from_slice(b",\"doc\":");
        jackson::write_str(buf, doc);
    }
    if !schema.parameters.is_empty() {
        buf.extend_from_slice(b",\"parameters\":{");
        for (i, (k, v)) in schema.parameters.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            jackson::write_str(buf, k);
            buf.push(b':');
            jackson::write_str(buf, v);
        }
        buf.push(b'}');
    }
    if let Some(default) = &schema.default {
        buf.extend_from_slice(b",\"default\":");
        write_payload(buf, settings, schema, default);
    }
    if let Some(name) = field {
        buf.extend_from_slice(b",\"field\":");
        jackson::write_str(buf, name);
    }
    buf.push(b'}');
}

/// A value as `JsonConverter.convertToJson` writes it under its schema.
pub fn write_payload(buf: &mut Vec<u8>, settings: &JsonSettings, schema: &Schema, value: &Value) {
    if value.is_null() {
        match &schema.default {
            Some(default) if settings.replace_null_with_default && !default.is_null() => {
                write_payload(buf, settings, schema, default)
            }
            _ => buf.extend_from_slice(b"null"),
        }
        return;
    }
    if schema.name.as_deref() == Some(DECIMAL)
        && let Value::Bytes(unscaled) = value
    {
        if settings.decimal_numeric {
            let scale = schema
                .parameters
                .get("scale")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            jackson::write_decimal(buf, unscaled, scale);
        } else {
            write_base64(buf, unscaled);
        }
        return;
    }
    match (value, &schema.ty) {
        (Value::Array(items), SchemaType::Array(item)) => {
            buf.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                write_payload(buf, settings, item, v);
            }
            buf.push(b']');
        }
        (Value::Map(entries), SchemaType::Map(k, v)) => {
            if matches!(k.ty, SchemaType::String) {
                buf.push(b'{');
                for (i, (key, val)) in entries.iter().enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    // `mapKey.asText()`: a null key reads "null".
                    match key {
                        Value::String(s) => jackson::write_str(buf, s),
                        _ => jackson::write_str(buf, "null"),
                    }
                    buf.push(b':');
                    write_payload(buf, settings, v, val);
                }
                buf.push(b'}');
            } else {
                buf.push(b'[');
                for (i, (key, val)) in entries.iter().enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    buf.push(b'[');
                    write_payload(buf, settings, k, key);
                    buf.push(b',');
                    write_payload(buf, settings, v, val);
                    buf.push(b']');
                }
                buf.push(b']');
            }
        }
        (Value::Struct(values), SchemaType::Struct(fields)) => {
            buf.push(b'{');
            for (i, f) in fields.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                jackson::write_str(buf, &f.name);
                buf.push(b':');
                write_payload(
                    buf,
                    settings,
                    &f.schema,
                    values.get(i).unwrap_or(&Value::Null),
                );
            }
            buf.push(b'}');
        }
        _ => write_schemaless(buf, value),
    }
}

/// A primitive, or a value whose shape its schema does not describe, by its own type (as
/// `convertToJson` does without a schema).
fn write_schemaless(buf: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => buf.extend_from_slice(b"null"),
        Value::Boolean(b) => buf.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int8(v) => buf.extend_from_slice(v.to_string().as_bytes()),
        Value::Int16(v) => buf.extend_from_slice(v.to_string().as_bytes()),
        Value::Int32(v) => buf.extend_from_slice(v.to_string().as_bytes()),
        Value::Int64(v) => buf.extend_from_slice(v.to_string().as_bytes()),
        Value::Float32(v) => jackson::write_f32(buf, *v),
        Value::Float64(v) => jackson::write_f64(buf, *v),
        Value::String(s) => jackson::write_str(buf, s),
        Value::Bytes(b) => write_base64(buf, b),
        Value::Array(items) => {
            buf.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                write_schemaless(buf, v);
            }
            buf.push(b']');
        }
        Value::Map(entries) => {
            let strings = entries.iter().all(|(k, _)| matches!(k, Value::String(_)));
            buf.push(if strings { b'{' } else { b'[' });
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                if strings {
                    write_schemaless(buf, k);
                    buf.push(b':');
                    write_schemaless(buf, v);
                } else {
                    buf.push(b'[');
                    write_schemaless(buf, k);
                    buf.push(b',');
                    write_schemaless(buf, v);
                    buf.push(b']');
                }
            }
            buf.push(if strings { b'}' } else { b']' });
        }
        // A struct always has a schema; without one it has no field names to write.
        Value::Struct(_) => buf.extend_from_slice(b"null"),
    }
}

fn write_base64(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.push(b'"');
    let start = buf.len();
    let len = base64::encoded_len(bytes.len(), true).unwrap_or(0);
    buf.resize(start + len, 0);
    let n = base64::engine::general_purpose::STANDARD
        .encode_slice(bytes, &mut buf[start..])
        .unwrap_or(0);
    buf.truncate(start + n);
    buf.push(b'"');
}

#[cfg(test)]
mod tests;
