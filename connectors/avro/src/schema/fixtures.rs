//! Connect schemas as the Postgres connector builds them, shared by the schema and
//! encoder tests.

use std::sync::Arc;

use tributary_core::envelope::envelope_schema;
use tributary_core::{Field, Schema, SchemaType, TableSchemas};

pub(crate) fn debezium_time(base: Schema, name: &str) -> Schema {
    base.named(format!("io.debezium.time.{name}")).versioned(1)
}

pub(crate) fn named_string(name: &str) -> Schema {
    Schema::string().named(name).versioned(1)
}

pub(crate) fn string_map() -> Schema {
    Schema::new(SchemaType::Map(
        Box::new(Schema::string()),
        Box::new(Schema::string().optional()),
    ))
}

pub(crate) fn int_map() -> Schema {
    Schema::new(SchemaType::Map(
        Box::new(Schema::int32()),
        Box::new(Schema::string()),
    ))
}

pub(crate) fn decimal(scale: i32, precision: Option<i32>) -> Schema {
    let s = Schema::bytes()
        .named("org.apache.kafka.connect.data.Decimal")
        .versioned(1)
        .param("scale", scale.to_string());
    match precision {
        Some(p) => s.param("connect.decimal.precision", p.to_string()),
        None => s,
    }
}

pub(crate) fn variable_scale_decimal() -> Schema {
    let mut s = Schema::structure(
        "io.debezium.data.VariableScaleDecimal",
        vec![
            Field::new("scale", Schema::int32()),
            Field::new("value", Schema::bytes()),
        ],
    )
    .versioned(1);
    s.doc = Some("Variable scaled decimal".to_string());
    s
}

pub(crate) fn connect_logical(base: Schema, name: &str) -> Schema {
    base.named(format!("org.apache.kafka.connect.data.{name}"))
        .versioned(1)
}

/// Every schema the Postgres type mapper produces (`connectors/postgres/src/types/
/// mapping.rs`), under all its modes, by the column type it stands for.
pub(crate) fn postgres_type_schemas() -> Vec<(&'static str, Schema)> {
    vec![
        ("bool", Schema::boolean()),
        ("int2", Schema::int16()),
        ("int4", Schema::int32()),
        ("int8/oid", Schema::int64()),
        ("float4", Schema::float32()),
        ("float8", Schema::float64()),
        ("text/varchar/inet/ranges/citext", Schema::string()),
        ("uuid", named_string("io.debezium.data.Uuid")),
        ("json/jsonb", named_string("io.debezium.data.Json")),
        ("xml", named_string("io.debezium.data.Xml")),
        ("ltree", named_string("io.debezium.data.Ltree")),
        (
            "enum",
            named_string("io.debezium.data.Enum").param("allowed", "sad,ok,happy"),
        ),
        ("bytea", Schema::bytes()),
        ("numeric(10,2)", decimal(2, Some(10))),
        ("numeric(5,-2)", decimal(-2, Some(5))),
        ("numeric(2,5)", decimal(5, Some(2))),
        ("numeric", variable_scale_decimal()),
        ("money", decimal(2, None)),
        ("date", debezium_time(Schema::int32(), "Date")),
        ("date connect", connect_logical(Schema::int32(), "Date")),
        ("time(3)", debezium_time(Schema::int32(), "Time")),
        ("time", debezium_time(Schema::int64(), "MicroTime")),
        ("time connect", connect_logical(Schema::int32(), "Time")),
        ("timestamp(3)", debezium_time(Schema::int64(), "Timestamp")),
        (
            "timestamp",
            debezium_time(Schema::int64(), "MicroTimestamp"),
        ),
        (
            "timestamp connect",
            connect_logical(Schema::int64(), "Timestamp"),
        ),
        (
            "timestamptz",
            debezium_time(Schema::string(), "ZonedTimestamp"),
        ),
        ("timetz", debezium_time(Schema::string(), "ZonedTime")),
        ("interval", debezium_time(Schema::int64(), "MicroDuration")),
        (
            "interval string",
            debezium_time(Schema::string(), "Interval"),
        ),
        (
            "bit(8)",
            Schema::bytes()
                .named("io.debezium.data.Bits")
                .versioned(1)
                .param("length", "8"),
        ),
        (
            "varbit",
            Schema::bytes()
                .named("io.debezium.data.Bits")
                .versioned(1)
                .param("length", i32::MAX.to_string()),
        ),
    ]
}

/// A table as `connectors/postgres/src/table.rs` builds it: key struct of the primary key
/// columns (required), value struct of all columns, the envelope around it.
pub(crate) fn table(topic: &str, key: Vec<Field>, columns: Vec<Field>) -> Arc<TableSchemas> {
    let value = Schema::structure(format!("{topic}.Value"), columns);
    let key = (!key.is_empty()).then(|| Schema::structure(format!("{topic}.Key"), key));
    let envelope = envelope_schema(topic, &value);
    Arc::new(TableSchemas {
        topic: topic.into(),
        key,
        value,
        envelope,
        version: 1,
    })
}
