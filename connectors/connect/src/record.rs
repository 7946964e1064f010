//! A Kafka Connect record: what transforms take and give, and converters write.

use std::sync::Arc;

use tributary_core::{Schema, Value};

/// One record on its way to Kafka. `None` is Kafka's null (a tombstone's value, a record
/// without key); a present value is never `Value::Null`.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub topic: String,
    /// Kafka's partition, when a transform chose one.
    pub partition: Option<i32>,
    pub key_schema: Option<Arc<Schema>>,
    pub key: Option<Value>,
    pub value_schema: Option<Arc<Schema>>,
    pub value: Option<Value>,
    /// The record's timestamp, ms since the epoch (`None`: the producer's clock).
    pub timestamp: Option<i64>,
    pub headers: Vec<Header>,
}

/// A Connect header: a key, and a value with its schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub key: String,
    pub schema: Option<Arc<Schema>>,
    pub value: Option<Value>,
}

impl Record {
    /// A record of `topic` with a key and a value, no headers.
    pub fn new(
        topic: impl Into<String>,
        key: (Option<Arc<Schema>>, Option<Value>),
        value: (Option<Arc<Schema>>, Option<Value>),
    ) -> Record {
        Record {
            topic: topic.into(),
            partition: None,
            key_schema: key.0,
            key: key.1.filter(|v| !v.is_null()),
            value_schema: value.0,
            value: value.1.filter(|v| !v.is_null()),
            timestamp: None,
            headers: Vec::new(),
        }
    }
}

/// A header's value as Kafka Connect's `SimpleHeaderConverter` writes it
/// (`Values.convertToString`): strings as they are, numbers and booleans as Java prints
/// them, bytes base64, structs, maps and arrays as JSON; `None` for a null.
pub fn header_text(h: &Header) -> Option<String> {
    let value = h.value.as_ref()?;
    let mut buf = Vec::new();
    match value {
        Value::String(s) => return Some(s.clone()),
        Value::Boolean(b) => return Some(b.to_string()),
        Value::Int8(n) => return Some(n.to_string()),
        Value::Int16(n) => return Some(n.to_string()),
        Value::Int32(n) => return Some(n.to_string()),
        Value::Int64(n) => return Some(n.to_string()),
        Value::Float32(f) => crate::json::jackson::write_f32(&mut buf, *f),
        Value::Float64(f) => crate::json::jackson::write_f64(&mut buf, *f),
        Value::Bytes(b) => {
            use base64::Engine as _;
            return Some(base64::engine::general_purpose::STANDARD.encode(b));
        }
        other => {
            let schema = h.schema.as_deref().cloned().unwrap_or_else(Schema::string);
            return Some(tributary_core::json::value_to_json(&schema, other).to_string());
        }
    }
    // Java prints NaN and the infinities bare, Jackson quoted.
    Some(String::from_utf8_lossy(&buf).trim_matches('"').to_owned())
}
