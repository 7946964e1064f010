//! Avro schemas of Tributary's topics, derived from the Connect-style schemas of
//! `tributary-core` exactly as Debezium running under Confluent's `AvroConverter` gets them:
//! `AvroData.fromConnectSchema` with its defaults (`connect.meta.data=true`,
//! `enhanced.avro.schema.support=false`), so that downstream engines and the schema
//! registry cannot tell our subjects from Debezium's.
//!
//! A table topic gets a key schema (`<topic>.Key`) and a value schema (`<topic>.Envelope`,
//! with `before`/`after` as `["null", <topic>.Value]`, the second a reference to the first).
//! The transaction metadata topic and heartbeats have fixed schemas, taken from Debezium's
//! `SchemaFactory`.
//!
//! Names pass through [`NameAdjustment`] twice, as in Debezium: the schema-name mode
//! (`schema.name.adjustment.mode`) applies to every schema name, the field-name mode
//! (`field.name.adjustment.mode`) only to the column fields of the key and row structs —
//! the envelope's, `source`'s and `transaction`'s own fields keep Debezium's names.
//!
//! Every schema handed out has been parsed with `apache_avro`, so a name the adjustment
//! mode left invalid is reported here, once per table shape, and not by a consumer later.

mod convert;
#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod tests;

use tributary_core::{Field, Schema, TableSchemas};

use crate::names::NameAdjustment;
use convert::Converter;
pub(crate) use convert::{is_avro_map, is_decimal};

/// Schema names of the transaction metadata topic (Debezium's `SchemaFactory`).
pub const TX_METADATA_KEY_NAME: &str = "io.debezium.connector.common.TransactionMetadataKey";
pub const TX_METADATA_VALUE_NAME: &str = "io.debezium.connector.common.TransactionMetadataValue";
/// The per-table event counts of an END record.
pub const TX_COLLECTION_NAME: &str = "event.collection";
/// Schema names of heartbeat records.
pub const HEARTBEAT_KEY_NAME: &str = "io.debezium.connector.common.ServerNameKey";
pub const HEARTBEAT_VALUE_NAME: &str = "io.debezium.connector.common.Heartbeat";
/// Schema names of logical decoding messages (Debezium's `PostgresSchemaFactory`).
pub const MESSAGE_KEY_NAME: &str = "io.debezium.connector.postgresql.MessageKey";
pub const MESSAGE_VALUE_NAME: &str = "io.debezium.connector.postgresql.MessageValue";
pub const MESSAGE_BLOCK_NAME: &str = "io.debezium.connector.postgresql.Message";

/// The Avro schemas of one table topic, as compact JSON text ready for the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableAvro {
    /// `<topic>.Key`; `None` for a table without key columns (null Kafka keys).
    pub key: Option<String>,
    /// `<topic>.Envelope`.
    pub value: String,
}

/// Why a Connect schema has no Avro form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AvroSchemaError {
    #[error(
        "two different schemas are both named {name} in one Avro schema\nHINT: an Avro named type is defined once; if the name comes from name adjustment, two original names map to it (check schema.name.adjustment.mode)"
    )]
    Conflict { name: String },
    #[error(
        "record {record} has two fields named {field}\nHINT: field name adjustment mapped two column names to one; rename a column or change field.name.adjustment.mode"
    )]
    DuplicateField { record: String, field: String },
    #[error("decimal schema {name}: {}", match value {
        Some(v) => format!("parameter {param} is {v:?}, not an integer"),
        None => format!("parameter {param} is missing"),
    })]
    Decimal {
        name: String,
        param: &'static str,
        value: Option<String>,
    },
    #[error(
        "schema {name} is not valid Avro: {reason}\nHINT: names must match [A-Za-z_][A-Za-z0-9_]*; set schema.name.adjustment.mode and field.name.adjustment.mode to avro or avro_unicode"
    )]
    Invalid { name: String, reason: String },
}

/// The key and value schemas of a table topic.
pub fn table_avro(
    schemas: &TableSchemas,
    schema_names: NameAdjustment,
    field_names: NameAdjustment,
) -> Result<TableAvro, AvroSchemaError> {
    let rows: Vec<&str> = [
        schemas.key.as_ref().and_then(|k| k.name.as_deref()),
        schemas.value.name.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let key = match &schemas.key {
        Some(key) => Some(avro_text(key, schema_names, field_names, &rows)?),
        None => None,
    };
    let value = avro_text(&schemas.envelope, schema_names, field_names, &rows)?;
    Ok(TableAvro { key, value })
}

/// The Avro schema of a key or row schema (the field-name mode applies to its fields),
/// as compact JSON text in Java Avro's layout.
pub fn connect_to_avro_string(
    schema: &Schema,
    schema_names: NameAdjustment,
    field_names: NameAdjustment,
) -> Result<String, AvroSchemaError> {
    let rows: Vec<&str> = schema.name.as_deref().into_iter().collect();
    avro_text(schema, schema_names, field_names, &rows)
}

/// [`connect_to_avro_string`] as a JSON value (whose objects do not keep key order).
pub fn connect_to_avro(
    schema: &Schema,
    schema_names: NameAdjustment,
    field_names: NameAdjustment,
) -> Result<serde_json::Value, AvroSchemaError> {
    let text = connect_to_avro_string(schema, schema_names, field_names)?;
    serde_json::from_str(&text).map_err(|e| AvroSchemaError::Invalid {
        name: schema.name.clone().unwrap_or_default(),
        reason: e.to_string(),
    })
}

fn avro_text(
    schema: &Schema,
    schema_names: NameAdjustment,
    field_names: NameAdjustment,
    rows: &[&str],
) -> Result<String, AvroSchemaError> {
    let text = Converter::new(schema_names, field_names, rows).convert(schema)?;
    if let Err(e) = apache_avro::Schema::parse_str(&text) {
        return Err(AvroSchemaError::Invalid {
            name: schema.name.clone().unwrap_or_default(),
            reason: e.to_string(),
        });
    }
    Ok(text)
}

/// Key of the transaction metadata topic: `{id}`.
pub fn tx_metadata_key_schema() -> Schema {
    Schema::structure(
        TX_METADATA_KEY_NAME,
        vec![Field::new("id", Schema::string())],
    )
    .versioned(1)
}

/// Value of the transaction metadata topic. BEGIN records carry `status`, `id` and `ts_ms`;
/// END records also `event_count` and `data_collections` (events per `schema.table`).
///
/// Debezium 2.x names the collection entries `event.collection` (optional structs);
/// Debezium 1.x left them unnamed, which AvroData called `ConnectDefault`.
pub fn tx_metadata_value_schema() -> Schema {
    let collection = Schema::structure(
        TX_COLLECTION_NAME,
        vec![
            Field::new("data_collection", Schema::string()),
            Field::new("event_count", Schema::int64()),
        ],
    )
    .versioned(1)
    .optional();
    Schema::structure(
        TX_METADATA_VALUE_NAME,
        vec![
            Field::new("status", Schema::string()),
            Field::new("id", Schema::string()),
            Field::new("event_count", Schema::int64().optional()),
            Field::new("data_collections", Schema::array(collection).optional()),
            Field::new("ts_ms", Schema::int64()),
        ],
    )
    .versioned(1)
}

/// Key of heartbeat records: `{serverName}` (the `topic.prefix`).
pub fn heartbeat_key_schema() -> Schema {
    Schema::structure(
        HEARTBEAT_KEY_NAME,
        vec![Field::new("serverName", Schema::string())],
    )
    .versioned(1)
}

/// Value of heartbeat records: `{ts_ms}`.
pub fn heartbeat_value_schema() -> Schema {
    Schema::structure(
        HEARTBEAT_VALUE_NAME,
        vec![Field::new("ts_ms", Schema::int64())],
    )
    .versioned(1)
}

/// Key and value Avro schemas of the transaction metadata topic. Their names are valid in
/// every adjustment mode and Debezium adjusts none of their fields, so they are fixed.
pub fn transaction_metadata_schemas() -> (String, String) {
    (
        fixed_text(&tx_metadata_key_schema()),
        fixed_text(&tx_metadata_value_schema()),
    )
}

/// Key and value Avro schemas of heartbeat records (fixed, like
/// [`transaction_metadata_schemas`]).
pub fn heartbeat_schemas() -> (String, String) {
    (
        fixed_text(&heartbeat_key_schema()),
        fixed_text(&heartbeat_value_schema()),
    )
}

/// Key of logical decoding messages: `{prefix}`.
pub fn message_key_schema() -> Schema {
    Schema::structure(
        MESSAGE_KEY_NAME,
        vec![Field::new("prefix", Schema::string().optional())],
    )
    .versioned(1)
}

/// Value of logical decoding messages: `op`, `ts_ms`, `source`, `transaction` and the
/// `message` block, its `content` bytes, or a string under `binary.handling.mode` base64,
/// base64-url-safe or hex.
pub fn message_value_schema(content_as_string: bool) -> Schema {
    let content = if content_as_string {
        Schema::string()
    } else {
        Schema::bytes()
    };
    let block = Schema::structure(
        MESSAGE_BLOCK_NAME,
        vec![
            Field::new("prefix", Schema::string().optional()),
            Field::new("content", content.optional()),
        ],
    )
    .versioned(1);
    Schema::structure(
        MESSAGE_VALUE_NAME,
        vec![
            Field::new("op", Schema::string()),
            Field::new("ts_ms", Schema::int64().optional()),
            Field::new("source", tributary_core::envelope::source_schema()),
            Field::new(
                "transaction",
                tributary_core::envelope::transaction_block_schema(),
            ),
            Field::new("message", block),
        ],
    )
    .versioned(1)
}

/// Key and value Avro schemas of the logical decoding message topic (fixed, like
/// [`transaction_metadata_schemas`]).
pub fn message_schemas(content_as_string: bool) -> (String, String) {
    (
        fixed_text(&message_key_schema()),
        fixed_text(&message_value_schema(content_as_string)),
    )
}

fn fixed_text(schema: &Schema) -> String {
    Converter::new(NameAdjustment::None, NameAdjustment::None, &[])
        .convert(schema)
        .expect("the fixed Debezium schemas convert (covered by tests)")
}
