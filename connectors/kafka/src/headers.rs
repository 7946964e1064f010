//! Record headers Debezium writes: its `__debezium.context.*` headers on every change
//! record (`extended.headers.enabled`), and a primary-key change's other key.

use rdkafka::message::{Header, OwnedHeaders};
use tributary_core::{Schema, Value};

use crate::stats::unix_ms;

/// The headers Debezium 2.6+ puts on every change event: the connector's logical name
/// (`topic.prefix`), its task, the connector type and an id of this run.
pub(crate) fn context_pairs(topic_prefix: &str) -> [(&'static str, String); 4] {
    [
        (
            "__debezium.context.connectorLogicalName",
            topic_prefix.to_owned(),
        ),
        ("__debezium.context.taskId", "0".to_owned()),
        ("__debezium.context.connectorName", "postgresql".to_owned()),
        ("__debezium.context.runId", run_id()),
    ]
}

/// [`context_pairs`] as Kafka headers.
pub(crate) fn context_headers(pairs: &[(&'static str, String)]) -> OwnedHeaders {
    pairs
        .iter()
        .fold(OwnedHeaders::new_with_capacity(4), |h, (key, value)| {
            h.insert(Header {
                key,
                value: Some(value.as_bytes()),
            })
        })
}

/// Connect headers as Kafka headers, each value as Kafka Connect's `SimpleHeaderConverter`
/// writes it ([`tributary_connect::record::header_text`]).
pub(crate) fn connect_headers(headers: &[tributary_connect::Header]) -> Option<OwnedHeaders> {
    if headers.is_empty() {
        return None;
    }
    let texts: Vec<Option<String>> = headers
        .iter()
        .map(tributary_connect::record::header_text)
        .collect();
    let mut out = OwnedHeaders::new_with_capacity(headers.len());
    for (h, text) in headers.iter().zip(&texts) {
        out = out.insert(Header {
            key: &h.key,
            value: text.as_deref().map(str::as_bytes),
        });
    }
    Some(out)
}

/// A key struct as Kafka Connect's `SimpleHeaderConverter` writes a struct header:
/// `{"id":10}` (`Values.convertToString`).
fn header_struct(schema: &Schema, value: &Value) -> String {
    tributary_core::json::value_to_json(schema, value).to_string()
}

/// A version-7 UUID (time-ordered, as Debezium's run ids) for this run.
fn run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let ms = unix_ms();
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(ms);
    h.write_u32(std::process::id());
    let r = h.finish();
    let a = (ms >> 16) as u32;
    let b = (ms & 0xffff) as u16;
    let c = 0x7000 | ((r >> 52) as u16 & 0x0fff);
    let d = 0x8000 | ((r >> 36) as u16 & 0x3fff);
    let e = r & 0xffff_ffff_ffff;
    format!("{a:08x}-{b:04x}-{c:04x}-{d:04x}-{e:012x}")
}

/// A change record's headers: the context headers, and a key change's other key.
pub(crate) fn record_headers(
    context: Option<&OwnedHeaders>,
    key_schema: Option<&Schema>,
    key_header: Option<&(&'static str, Value)>,
) -> Option<OwnedHeaders> {
    let mut headers = context.cloned();
    if let (Some((name, other)), Some(key_schema)) = (key_header, key_schema) {
        let text = header_struct(key_schema, other);
        headers = Some(headers.unwrap_or_default().insert(Header {
            key: name,
            value: Some(text.as_bytes()),
        }));
    }
    headers
}
