//! Record headers Debezium writes: its `__debezium.context.*` headers on every change
//! record (`extended.headers.enabled`), and a primary-key change's other key.

use rdkafka::message::{Header, OwnedHeaders};
use tributary_core::{Schema, Value};

use crate::stats::unix_ms;

/// The headers Debezium 2.6+ puts on every change event: the connector's logical name
/// (`topic.prefix`), its task, the connector type and an id of this run.
pub(crate) fn context_headers(topic_prefix: &str) -> OwnedHeaders {
    let run_id = run_id();
    OwnedHeaders::new_with_capacity(4)
        .insert(Header {
            key: "__debezium.context.connectorLogicalName",
            value: Some(topic_prefix.as_bytes()),
        })
        .insert(Header {
            key: "__debezium.context.taskId",
            value: Some("0".as_bytes()),
        })
        .insert(Header {
            key: "__debezium.context.connectorName",
            value: Some("postgresql".as_bytes()),
        })
        .insert(Header {
            key: "__debezium.context.runId",
            value: Some(run_id.as_bytes()),
        })
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
