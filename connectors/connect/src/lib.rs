//! Kafka Connect's record pipeline, natively: what turns a Connect record (a schema and a
//! value for the key and for the value) into the bytes a Kafka record carries.
//!
//! - [`config`] reads Kafka Connect's own keys (`key.converter`, `value.converter`,
//!   `header.converter`, `*.converter.*`, `transforms`, `predicates`), refusing with an
//!   error naming the property whatever cannot be honoured;
//! - [`json`] is Kafka's `JsonConverter`, byte for byte (a differential test compares it
//!   with the Java one);
//! - [`envelope`] lays a change event out as the Connect value Debezium makes of it.

pub mod cloudevents;
pub mod config;
pub mod envelope;
pub mod json;
pub mod plain;
pub mod record;
pub mod transforms;

pub use config::{Converter, JsonSettings, Pipeline};
pub use record::{Header, Record};
pub use transforms::{Chain, TransformError};
