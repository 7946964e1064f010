//! The sink side of Kafka's JsonConverter: change events written with `schemas.enable`
//! true (`{"schema":…,"payload":…}`) or false (the payload alone) → the same parts the Avro
//! path reads, rendered alike (decimals as exact strings, bytes base64, non-finite floats
//! as strings).
//!
//! With schemas, a field's schema says what its JSON holds: a `Decimal` (base64 of the
//! unscaled value, or a number under `decimal.format=NUMERIC`) or a `VariableScaleDecimal`
//! becomes its decimal string, and the row's field kinds come from the `after` schema.
//! Without schemas, values are what the JSON holds (a decimal stays base64: capture with
//! `decimal.handling.mode=string` or `double` to read it) and a field's kind is its first
//! value's JSON type.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value as Json};
use tributary_core::{FieldInfo, FieldKind, RowKey, RowSchema};

use super::decimal::decimal_string;

/// Which converter wrote a record's key or value, as the sink's `key.converter` /
/// `value.converter` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Confluent's AvroConverter (the default).
    Avro,
    /// Kafka's JsonConverter, with or without schemas; under `replace_null_with_default` a
    /// null whose schema has a default reads as the default, as Kafka's converter reads it.
    Json {
        schemas: bool,
        replace_null_with_default: bool,
    },
    /// Debezium's CloudEventsConverter (values only), its `data` written with schemas when
    /// `schemas` (`json.schemas.enable`).
    CloudEvents {
        schemas: bool,
        replace_null_with_default: bool,
    },
}

/// A row as JSON: its fields by name.
type Row = Map<String, Json>;

/// The parts of a change event a sink needs, owned.
#[derive(Debug)]
pub(crate) struct Change {
    pub op: String,
    pub after: Option<Map<String, Json>>,
    pub db: String,
    pub schema: String,
    pub table: String,
    pub ts_ms: i64,
    pub lsn: Option<i64>,
    pub sequence: Option<String>,
    pub row_schema: Arc<RowSchema>,
}

/// Reads JSON change events, sharing a row schema per topic while it stays the same.
#[derive(Debug, Default)]
pub(crate) struct JsonReader {
    row_schemas: HashMap<String, Arc<RowSchema>>,
}

impl JsonReader {
    /// A record's value: `None` for what carries nothing to apply (a null payload, and
    /// Debezium's records without an `op`: heartbeats, transaction metadata).
    pub fn value(
        &mut self,
        topic: &str,
        bytes: &[u8],
        schemas: bool,
        replace: bool,
    ) -> Result<Option<Change>, String> {
        let (schema, payload) = split(bytes, schemas)?;
        let Json::Object(mut payload) = payload else {
            return match payload {
                Json::Null => Ok(None),
                other => Err(format!("the payload is {}, not an object", kind_of(&other))),
            };
        };
        let Some(op) = payload.get("op").and_then(Json::as_str).map(str::to_owned) else {
            return Ok(None);
        };
        let (after, row_schema) = self.after(topic, schema.as_ref(), &mut payload, replace)?;
        let source = match payload.get("source") {
            Some(Json::Object(s)) => s,
            _ => return Err("the change event has no source block".to_owned()),
        };
        let text = |k: &str| {
            source
                .get(k)
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Ok(Some(Change {
            op,
            after,
            db: text("db"),
            schema: text("schema"),
            table: text("table"),
            ts_ms: source.get("ts_ms").and_then(Json::as_i64).unwrap_or(0),
            lsn: source.get("lsn").and_then(Json::as_i64),
            sequence: source
                .get("sequence")
                .and_then(Json::as_str)
                .map(str::to_owned),
            row_schema,
        }))
    }

    /// A CloudEvent's value (Debezium's CloudEventsConverter, JSON data, with schemas when
    /// `schemas`): the operation and table from its extension attributes, the row from its
    /// `data`.
    pub fn cloud_event(
        &mut self,
        topic: &str,
        bytes: &[u8],
        schemas: bool,
        replace: bool,
    ) -> Result<Option<Change>, String> {
        let doc: Json = serde_json::from_slice(bytes).map_err(|e| not_json(&e, false))?;
        let Json::Object(mut event) = doc else {
            return Err(format!(
                "the CloudEvent is {}, not an object",
                kind_of(&doc)
            ));
        };
        let attr = |k: &str| event.get(k).and_then(Json::as_str).map(str::to_owned);
        let Some(op) = attr("iodebeziumop") else {
            return Err("the CloudEvent has no iodebeziumop attribute\nHINT: the source's CloudEventsConverter must write its extension attributes (extension.attributes.enable=true, the default)".to_owned());
        };
        let (db, schema_name, table) = (
            attr("iodebeziumdb"),
            attr("iodebeziumschema"),
            attr("iodebeziumtable"),
        );
        let ts_ms = attr("iodebeziumtsms")
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let lsn = attr("iodebeziumlsn").and_then(|t| t.parse().ok());
        let sequence = attr("iodebeziumsequence");
        let data = event.remove("data").ok_or("the CloudEvent has no data")?;
        let (schema, payload) = if schemas {
            split_doc(data)?
        } else {
            (None, data)
        };
        let Json::Object(mut payload) = payload else {
            return Err(format!("its data is {}, not an object", kind_of(&payload)));
        };
        let (after, row_schema) = self.after(topic, schema.as_ref(), &mut payload, replace)?;
        Ok(Some(Change {
            op,
            after,
            db: db.unwrap_or_default(),
            schema: schema_name.unwrap_or_default(),
            table: table.unwrap_or_default(),
            ts_ms,
            lsn,
            sequence,
            row_schema,
        }))
    }

    /// The `after` row of a payload (normalized by its schema when there is one) and the
    /// row schema of `topic`.
    fn after(
        &mut self,
        topic: &str,
        schema: Option<&Json>,
        payload: &mut Map<String, Json>,
        replace: bool,
    ) -> Result<(Option<Row>, Arc<RowSchema>), String> {
        let after_schema = schema.and_then(|s| field_schema(s, "after"));
        let after = match payload.remove("after") {
            Some(Json::Object(mut after)) => {
                if let Some(s) = after_schema {
                    normalize_struct(s, &mut after, replace).map_err(|e| format!("after.{e}"))?;
                }
                Some(after)
            }
            Some(Json::Null) | None => None,
            Some(other) => return Err(format!("after is {}, not an object", kind_of(&other))),
        };
        let row_schema = match (after_schema, &after) {
            (Some(s), _) => row_schema_of(s),
            (None, Some(after)) => inferred_row_schema(after),
            (None, None) => RowSchema::default(),
        };
        Ok((after, self.shared(topic, row_schema)))
    }

    /// The row schema of `topic`, the one already shared when it is the same.
    fn shared(&mut self, topic: &str, row_schema: RowSchema) -> Arc<RowSchema> {
        match self.row_schemas.get(topic) {
            Some(s) if **s == row_schema => s.clone(),
            _ => {
                let s = Arc::new(row_schema);
                self.row_schemas.insert(topic.to_owned(), s.clone());
                s
            }
        }
    }
}

/// A record's key, its fields in the key's order; `None` for a null key.
pub(crate) fn key(bytes: &[u8], schemas: bool, replace: bool) -> Result<Option<RowKey>, String> {
    if schemas {
        let (schema, payload) = split(bytes, true)?;
        let Json::Object(mut payload) = payload else {
            return match payload {
                Json::Null => Ok(None),
                other => Err(format!("the key is {}, not an object", kind_of(&other))),
            };
        };
        let schema = schema.ok_or("the key has no schema")?;
        let mut out = Vec::new();
        for f in fields(&schema) {
            let Some(name) = f.get("field").and_then(Json::as_str) else {
                continue;
            };
            let mut v = payload.remove(name).unwrap_or(Json::Null);
            normalize(f, &mut v, replace)?;
            out.push((name.to_owned(), v));
        }
        return Ok(Some(RowKey(out)));
    }
    // Without schemas, the order of the key's fields is the order of the JSON object.
    match serde_json::from_slice::<Option<Ordered>>(bytes) {
        Ok(Some(Ordered(fields))) => Ok(Some(RowKey(fields))),
        Ok(None) => Ok(None),
        Err(e) => Err(not_json(&e, false)),
    }
}

/// The schema (when `schemas`) and the payload of a JsonConverter record.
fn split(bytes: &[u8], schemas: bool) -> Result<(Option<Json>, Json), String> {
    let doc: Json = serde_json::from_slice(bytes).map_err(|e| not_json(&e, schemas))?;
    if !schemas {
        return Ok((None, doc));
    }
    split_doc(doc)
}

/// The schema and the payload of a `{"schema": …, "payload": …}` document.
fn split_doc(doc: Json) -> Result<(Option<Json>, Json), String> {
    match doc {
        Json::Object(mut o) if o.len() == 2 && o.contains_key("schema") => {
            let payload = o.remove("payload").ok_or_else(no_envelope)?;
            let schema = o.remove("schema").filter(|s| !s.is_null());
            Ok((schema, payload))
        }
        _ => Err(no_envelope()),
    }
}

fn no_envelope() -> String {
    "it is not {\"schema\": …, \"payload\": …}, as the JsonConverter writes with schemas.enable=true\nHINT: set the sink's converter's schemas.enable=false if the source wrote without schemas".to_owned()
}

fn not_json(e: &serde_json::Error, schemas: bool) -> String {
    format!(
        "it is not JSON ({e})\nHINT: the sink's converter is the JsonConverter (schemas.enable={schemas}); is the topic written with it? Avro records need io.confluent.connect.avro.AvroConverter"
    )
}

fn kind_of(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// The `fields` of a struct schema.
fn fields(schema: &Json) -> &[Json] {
    schema
        .get("fields")
        .and_then(Json::as_array)
        .map_or(&[], Vec::as_slice)
}

fn field_schema<'a>(schema: &'a Json, name: &str) -> Option<&'a Json> {
    fields(schema)
        .iter()
        .find(|f| f.get("field").and_then(Json::as_str) == Some(name))
}

fn normalize_struct(
    schema: &Json,
    value: &mut Map<String, Json>,
    replace: bool,
) -> Result<(), String> {
    for f in fields(schema) {
        let Some(name) = f.get("field").and_then(Json::as_str) else {
            continue;
        };
        if let Some(v) = value.get_mut(name) {
            normalize(f, v, replace).map_err(|e| format!("{name}: {e}"))?;
        }
    }
    Ok(())
}

/// Renders a value as the Avro path does, by its schema: decimals as exact strings; a null
/// as its schema's default under `replace`.
fn normalize(schema: &Json, value: &mut Json, replace: bool) -> Result<(), String> {
    if value.is_null() {
        match schema.get("default") {
            Some(default) if replace && !default.is_null() => *value = default.clone(),
            _ => return Ok(()),
        }
    }
    match schema.get("name").and_then(Json::as_str) {
        Some("org.apache.kafka.connect.data.Decimal") => {
            let scale = schema
                .pointer("/parameters/scale")
                .and_then(Json::as_str)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let text = match &*value {
                Json::String(b64) => decimal_string(&unbase64(b64)?, scale),
                // `decimal.format=NUMERIC`: the number as written.
                other => other.to_string(),
            };
            *value = Json::String(text);
            return Ok(());
        }
        Some("io.debezium.data.VariableScaleDecimal") => {
            let scale = value.get("scale").and_then(Json::as_i64).unwrap_or(0);
            let bytes = value.get("value").and_then(Json::as_str).unwrap_or("");
            *value = Json::String(decimal_string(&unbase64(bytes)?, scale as i32));
            return Ok(());
        }
        _ => {}
    }
    match (schema.get("type").and_then(Json::as_str), value) {
        (Some("array"), Json::Array(items)) => {
            if let Some(item) = schema.get("items") {
                for v in items {
                    normalize(item, v, replace)?;
                }
            }
        }
        (Some("map"), Json::Object(entries)) => {
            if let Some(item) = schema.get("values") {
                for v in entries.values_mut() {
                    normalize(item, v, replace)?;
                }
            }
        }
        (Some("struct"), Json::Object(o)) => normalize_struct(schema, o, replace)?,
        _ => {}
    }
    Ok(())
}

fn unbase64(text: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("{text:?} is not base64 ({e})"))
}

/// The row's fields and kinds from the `after` schema, as the Avro path derives them.
fn row_schema_of(after: &Json) -> RowSchema {
    RowSchema {
        fields: fields(after)
            .iter()
            .filter_map(|f| {
                let name = f.get("field")?.as_str()?.to_owned();
                let kind = match f.get("type").and_then(Json::as_str) {
                    Some("string") if f.get("name").is_none() => FieldKind::Text,
                    Some("int8" | "int16" | "int32" | "int64") => FieldKind::I64,
                    Some("float" | "double") => FieldKind::F64,
                    Some("boolean") => FieldKind::Bool,
                    _ => FieldKind::Other,
                };
                Some(FieldInfo { name, kind })
            })
            .collect(),
    }
}

/// Kinds from the values themselves, without schemas.
fn inferred_row_schema(after: &Map<String, Json>) -> RowSchema {
    RowSchema {
        fields: after
            .iter()
            .map(|(name, v)| FieldInfo {
                name: name.clone(),
                kind: match v {
                    Json::String(_) => FieldKind::Text,
                    Json::Number(n) if n.is_i64() || n.is_u64() => FieldKind::I64,
                    Json::Number(_) => FieldKind::F64,
                    Json::Bool(_) => FieldKind::Bool,
                    _ => FieldKind::Other,
                },
            })
            .collect(),
    }
}

/// A JSON object with its fields in their written order.
struct Ordered(Vec<(String, Json)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Ordered, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, Json>()? {
                    out.push((k, v));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_null_with_a_default_reads_as_the_default_when_asked() {
        let schema: Json = serde_json::json!({
            "type": "bytes", "optional": true,
            "name": "org.apache.kafka.connect.data.Decimal",
            "parameters": {"scale": "2"}, "default": "MDk=",
        });
        let mut v = Json::Null;
        normalize(&schema, &mut v, false).unwrap();
        assert_eq!(v, Json::Null);
        normalize(&schema, &mut v, true).unwrap();
        assert_eq!(v, Json::String("123.45".into()));
    }
}
