//! Debezium-compatible Avro: schemas derived from table schemas, a pre-resolved binary
//! encoder with Confluent framing, a schema registry client, the embedded registry, and
//! the decoder that turns change events back into sink records.

pub mod decode;
pub mod encode;
pub mod names;
pub mod registry;
pub mod schema;
