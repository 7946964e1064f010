//! Debezium's envelope and source schemas.

use crate::{Field, Schema};

/// Schema name of the Postgres source block.
pub const SOURCE_SCHEMA_NAME: &str = "io.debezium.connector.postgresql.Source";

/// The `source` struct schema of Debezium's Postgres connector (field order as Debezium).
pub fn source_schema() -> Schema {
    let mut snapshot = Schema::string()
        .optional()
        .named("io.debezium.data.Enum")
        .versioned(1)
        .param(
            "allowed",
            "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental",
        );
    snapshot.default = Some(crate::Value::String("false".into()));
    Schema::structure(
        SOURCE_SCHEMA_NAME,
        vec![
            Field::new("version", Schema::string()),
            Field::new("connector", Schema::string()),
            Field::new("name", Schema::string()),
            Field::new("ts_ms", Schema::int64()),
            Field::new("snapshot", snapshot),
            Field::new("db", Schema::string()),
            Field::new("sequence", Schema::string().optional()),
            Field::new("ts_us", Schema::int64().optional()),
            Field::new("ts_ns", Schema::int64().optional()),
            Field::new("schema", Schema::string()),
            Field::new("table", Schema::string()),
            Field::new("txId", Schema::int64().optional()),
            Field::new("lsn", Schema::int64().optional()),
            Field::new("xmin", Schema::int64().optional()),
            Field::new("origin", Schema::string().optional()),
            Field::new("origin_lsn", Schema::int64().optional()),
        ],
    )
    .versioned(1)
}

/// The `transaction` block schema (present when transaction metadata is enabled).
pub fn transaction_block_schema() -> Schema {
    Schema::structure(
        "event.block",
        vec![
            Field::new("id", Schema::string()),
            Field::new("total_order", Schema::int64()),
            Field::new("data_collection_order", Schema::int64()),
        ],
    )
    .versioned(1)
    .optional()
}

/// The envelope schema `<topic>.Envelope` around a row value schema `<topic>.Value`.
pub fn envelope_schema(topic: &str, value: &Schema) -> Schema {
    let row = value.clone().optional();
    Schema::structure(
        format!("{topic}.Envelope"),
        vec![
            Field::new("before", row.clone()),
            Field::new("after", row),
            Field::new("source", source_schema()),
            Field::new("transaction", transaction_block_schema()),
            Field::new("op", Schema::string()),
            Field::new("ts_ms", Schema::int64().optional()),
            Field::new("ts_us", Schema::int64().optional()),
            Field::new("ts_ns", Schema::int64().optional()),
        ],
    )
    .versioned(2)
}
