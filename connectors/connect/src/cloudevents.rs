//! Debezium's `CloudEventsConverter` (`io.debezium.converters.CloudEventsConverter`, 3.6)
//! with JSON events and JSON data: a change event becomes a CloudEvent whose attributes come
//! from its `source` block and whose `data` is its `before` and `after`, written by a
//! JsonConverter (with schemas unless `json.schemas.enable=false`). Records that are not
//! change events (transaction metadata, heartbeats, messages) and tombstones are written as
//! Kafka's null, as Debezium's converter writes them.

use tributary_core::{Field, Schema, SchemaType, Value};

use crate::config::JsonSettings;
use crate::json::{self, jackson};

/// The class Kafka Connect knows the converter by.
pub const CLOUDEVENTS_CONVERTER: &str = "io.debezium.converters.CloudEventsConverter";

/// What the converter's settings change in what is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloudEventsSettings {
    /// `extension.attributes.enable` (default true): the operation, every `source` field and
    /// the transaction block as `iodebezium…` attributes.
    pub extension_attributes: bool,
    /// The `json.*` settings: of the event (written without schemas) and of its `data`
    /// (`json.schemas.enable`, default true).
    pub json: JsonSettings,
}

impl Default for CloudEventsSettings {
    fn default() -> Self {
        CloudEventsSettings {
            extension_attributes: true,
            json: JsonSettings::default(),
        }
    }
}

/// Whether `schema` is a change event's envelope: what the converter writes.
pub fn is_envelope(schema: &Schema) -> bool {
    schema
        .name
        .as_deref()
        .is_some_and(|n| n.ends_with(".Envelope"))
}

/// The schema of a CloudEvent's `data`: the envelope's `before` and `after`, named
/// `io.debezium.connector.postgresql.Data`.
pub fn data_schema(envelope: &Schema) -> Schema {
    let fields = ["before", "after"]
        .iter()
        .filter_map(|name| envelope.fields().iter().find(|f| f.name == *name).cloned())
        .collect();
    Schema::new(SchemaType::Struct(fields)).named("io.debezium.connector.postgresql.Data")
}

/// Writes the CloudEvent of a change event into `buf` (cleared first); `false`, with `buf`
/// empty, for anything else (Kafka's null). `data_schema_json` is [`data_schema`] as the
/// JsonConverter writes it (used when `json.schemas.enable`).
pub fn write(
    buf: &mut Vec<u8>,
    settings: &CloudEventsSettings,
    schema: Option<&Schema>,
    data_schema_json: &[u8],
    value: Option<&Value>,
) -> Result<bool, String> {
    buf.clear();
    let (Some(schema), Some(value)) = (schema, value) else {
        return Ok(false);
    };
    if !is_envelope(schema) {
        return Ok(false);
    }
    let Value::Struct(values) = value else {
        return Err("Only Struct objects supported for [CloudEvents converter]".into());
    };
    let field = |name: &str| -> Option<(&Field, &Value)> {
        let i = schema.fields().iter().position(|f| f.name == name)?;
        Some((&schema.fields()[i], values.get(i).unwrap_or(&Value::Null)))
    };
    let (source_field, Value::Struct(source)) = field("source").ok_or("the event has no source")?
    else {
        return Err("the event's source is null".into());
    };
    let source_schema = &source_field.schema;
    let src = |name: &str| -> Value {
        source_schema
            .fields()
            .iter()
            .position(|f| f.name == name)
            .map(|i| {
                let f = &source_schema.fields()[i];
                with_default(f, source.get(i).unwrap_or(&Value::Null))
            })
            .unwrap_or(Value::Null)
    };
    let connector = java_text(&src("connector"));
    if connector != "postgresql" {
        return Err(format!(
            "No usable CloudEvents converters for connector type \"{connector}\""
        ));
    }
    let text = |buf: &mut Vec<u8>, key: &str, v: &str| {
        jackson::write_str(buf, key);
        buf.push(b':');
        jackson::write_str(buf, v);
        buf.push(b',');
    };
    buf.push(b'{');
    let id = format!(
        "name:{};lsn:{};txId:{};sequence:{}",
        java_text(&src("name")),
        java_text(&src("lsn")),
        java_text(&src("txId")),
        java_text(&src("sequence"))
    );
    text(buf, "id", &id);
    text(
        buf,
        "source",
        &format!("/debezium/postgresql/{}", java_text(&src("name"))),
    );
    text(buf, "specversion", "1.0");
    text(
        buf,
        "type",
        "io.debezium.connector.postgresql.DataChangeEvent",
    );
    let Value::Int64(ts_ms) = src("ts_ms") else {
        return Err("the event's source has no ts_ms".into());
    };
    text(
        buf,
        "time",
        &tributary_core::calendar::iso_millis_utc(ts_ms),
    );
    text(buf, "datacontenttype", "application/json");
    if settings.extension_attributes {
        jackson::write_str(buf, "iodebeziumop");
        buf.push(b':');
        write_attribute(buf, &field("op").map_or(Value::Null, |(_, v)| v.clone()));
        buf.push(b',');
        for (i, f) in source_schema.fields().iter().enumerate() {
            extension(buf, &f.name, "", &f.schema, || {
                with_default(f, source.get(i).unwrap_or(&Value::Null))
            })?;
        }
        let tx = field("transaction").map(|(_, v)| v);
        for (i, name) in ["id", "total_order", "data_collection_order"]
            .iter()
            .enumerate()
        {
            let value = match tx {
                Some(Value::Struct(t)) => t.get(i).cloned().unwrap_or(Value::Null),
                _ => Value::Null,
            };
            let kind = if i == 0 {
                Schema::string()
            } else {
                Schema::int64()
            };
            extension(buf, name, "tx", &kind, || value)?;
        }
    }
    jackson::write_str(buf, "data");
    buf.push(b':');
    let data = &settings.json;
    if data.schemas {
        buf.extend_from_slice(b"{\"schema\":");
        buf.extend_from_slice(data_schema_json);
        buf.extend_from_slice(b",\"payload\":");
    }
    buf.push(b'{');
    let mut first = true;
    for name in ["before", "after"] {
        if let Some((f, v)) = field(name) {
            if !first {
                buf.push(b',');
            }
            first = false;
            jackson::write_str(buf, name);
            buf.push(b':');
            json::write_payload(buf, data, &f.schema, v);
        }
    }
    buf.push(b'}');
    if data.schemas {
        buf.push(b'}');
    }
    buf.push(b'}');
    Ok(true)
}

/// One extension attribute, `iodebezium` + `prefix` + the name's letters and digits: an
/// int64 as its decimal text (the CloudEvents spec has no 64-bit integers), int8 to int32 as
/// a number, a boolean or a string as it is.
fn extension(
    buf: &mut Vec<u8>,
    name: &str,
    prefix: &str,
    schema: &Schema,
    value: impl FnOnce() -> Value,
) -> Result<(), String> {
    let supported = matches!(
        schema.ty,
        SchemaType::Boolean
            | SchemaType::Int8
            | SchemaType::Int16
            | SchemaType::Int32
            | SchemaType::Int64
            | SchemaType::String
    );
    if !supported {
        return Err(format!(
            "Source field of type {} cannot be converted into CloudEvents extension attribute.",
            schema.type_name().to_uppercase()
        ));
    }
    let adjusted: String = format!("{prefix}{name}")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    jackson::write_str(buf, &format!("iodebezium{adjusted}"));
    buf.push(b':');
    match value() {
        Value::Int64(n) => jackson::write_str(buf, &n.to_string()),
        other => write_attribute(buf, &other),
    }
    buf.push(b',');
    Ok(())
}

fn write_attribute(buf: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => buf.extend_from_slice(b"null"),
        Value::Boolean(b) => buf.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int8(n) => buf.extend_from_slice(n.to_string().as_bytes()),
        Value::Int16(n) => buf.extend_from_slice(n.to_string().as_bytes()),
        Value::Int32(n) => buf.extend_from_slice(n.to_string().as_bytes()),
        Value::Int64(n) => buf.extend_from_slice(n.to_string().as_bytes()),
        Value::String(s) => jackson::write_str(buf, s),
        other => jackson::write_str(buf, &java_text(other)),
    }
}

/// `Struct.get`: a null reads as the field's default.
fn with_default(f: &Field, v: &Value) -> Value {
    match (v, &f.schema.default) {
        (Value::Null, Some(default)) => default.clone(),
        _ => v.clone(),
    }
}

/// A value as Java's string concatenation prints it (`null` for a null).
fn java_text(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::String(s) => s.clone(),
        Value::Boolean(b) => b.to_string(),
        Value::Int8(n) => n.to_string(),
        Value::Int16(n) => n.to_string(),
        Value::Int32(n) => n.to_string(),
        Value::Int64(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}
