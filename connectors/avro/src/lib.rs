//! Debezium-compatible Avro: schemas derived from table schemas, a pre-resolved binary
//! encoder with Confluent framing, a schema registry client, and the embedded registry.

pub mod encode;
pub mod names;
pub mod registry;
pub mod schema;
