//! Round trips: events encoded here, decoded by `apache_avro` with the schema
//! `crate::schema` derives for them. Shared fixtures here; the envelope in `envelope.rs`,
//! keys, errors, transaction metadata and heartbeats in `records.rs`.

mod envelope;
mod records;

use std::collections::HashMap;
use std::sync::Arc;

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value as Avro;
use base64::Engine as _;
use tributary_core::{
    ChangeEvent, Field, Lsn, Op, Schema, SchemaType, SnapshotMarker, SourceInfo, TableSchemas,
    Value,
};

use super::*;
use crate::names::NameAdjustment;
use crate::schema::fixtures::{
    connect_logical, debezium_time, decimal, int_map, string_map, table, variable_scale_decimal,
};

const A: NameAdjustment = NameAdjustment::Avro;

fn decode(schema: &str, bytes: &[u8]) -> Avro {
    let schema = apache_avro::Schema::parse_str(schema).unwrap();
    let mut rest = bytes;
    let value = GenericDatumReader::builder(&schema)
        .build()
        .unwrap()
        .read_value(&mut rest)
        .unwrap_or_else(|e| panic!("{e}: {bytes:02x?}"));
    assert!(rest.is_empty(), "{} bytes left over", rest.len());
    value
}

fn rec(fields: Vec<(&str, Avro)>) -> Avro {
    Avro::Record(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

fn some(v: Avro) -> Avro {
    Avro::Union(1, Box::new(v))
}

fn null() -> Avro {
    Avro::Union(0, Box::new(Avro::Null))
}

fn s(v: &str) -> Avro {
    Avro::String(v.to_string())
}

fn field<'a>(record: &'a Avro, name: &str) -> &'a Avro {
    match record {
        Avro::Record(fields) => &fields.iter().find(|(n, _)| n == name).unwrap().1,
        other => panic!("not a record: {other:?}"),
    }
}

fn unwrap_union(v: &Avro) -> &Avro {
    match v {
        Avro::Union(_, inner) => inner,
        other => other,
    }
}

/// A table with a column of every kind the encoder handles.
fn customers() -> Arc<TableSchemas> {
    table(
        "cdc.public.customers",
        vec![Field::new("id", Schema::int32())],
        vec![
            Field::new("id", Schema::int32()),
            Field::new("name", Schema::string()),
            Field::new("email", Schema::string().optional()),
            Field::new("balance", decimal(2, Some(10))),
            Field::new("score", Schema::float64().optional()),
            Field::new("active", Schema::boolean()),
            Field::new("small", Schema::int16()),
            Field::new("tiny", Schema::new(SchemaType::Int8).optional()),
            Field::new("ratio", Schema::float32()),
            Field::new("created", debezium_time(Schema::int64(), "MicroTimestamp")),
            Field::new(
                "updated",
                debezium_time(Schema::string(), "ZonedTimestamp").optional(),
            ),
            Field::new(
                "birthday",
                debezium_time(Schema::int32(), "Date").optional(),
            ),
            Field::new("born", connect_logical(Schema::int32(), "Date").optional()),
            Field::new(
                "tags",
                Schema::array(Schema::string().optional()).optional(),
            ),
            Field::new("attrs", string_map().optional()),
            Field::new("amount", variable_scale_decimal().optional()),
            Field::new("exact", variable_scale_decimal()),
            Field::new("payload", Schema::bytes().optional()),
            Field::new(
                "flags",
                Schema::bytes()
                    .named("io.debezium.data.Bits")
                    .versioned(1)
                    .param("length", "8"),
            ),
            Field::new(
                "uid",
                Schema::string().named("io.debezium.data.Uuid").versioned(1),
            ),
            Field::new("money", decimal(2, None).optional()),
            Field::new("ztime", debezium_time(Schema::string(), "ZonedTime")),
            Field::new(
                "stamp",
                connect_logical(Schema::int64(), "Timestamp").optional(),
            ),
            Field::new("clock", connect_logical(Schema::int32(), "Time").optional()),
            Field::new("entries", int_map().optional()),
        ],
    )
}

fn full_row() -> Value {
    Value::Struct(vec![
        Value::Int32(7),
        Value::String("Zoë".into()),
        Value::Null,
        Value::Bytes(vec![0x30, 0x39]), // 123.45
        Value::Float64(-1.5),
        Value::Boolean(true),
        Value::Int16(-300),
        Value::Int8(-8),
        Value::Float32(0.25),
        Value::Int64(1_700_000_000_123_456),
        Value::String("2024-01-02T03:04:05.123456Z".into()),
        Value::Int32(19_000),
        Value::Int32(-1),
        Value::Array(vec![Value::String("a".into()), Value::Null]),
        Value::Map(vec![
            (Value::String("k".into()), Value::String("v".into())),
            (Value::String("n".into()), Value::Null),
        ]),
        Value::Struct(vec![Value::Int32(3), Value::Bytes(vec![0xff, 0x85])]), // -0.123
        Value::Struct(vec![Value::Int32(0), Value::Bytes(vec![0x2a])]),
        Value::Bytes(vec![]),
        Value::Bytes(vec![0b1010_0101]),
        Value::String("7f1b1d3c-95b5-4e8a-9f3c-1c2d3e4f5a6b".into()),
        Value::Null,
        Value::String("12:00:00Z".into()),
        Value::Int64(86_400_000),
        Value::Int32(3_600_000),
        Value::Map(vec![(Value::Int32(1), Value::String("one".into()))]),
    ])
}

fn full_row_avro() -> Avro {
    rec(vec![
        ("id", Avro::Int(7)),
        ("name", s("Zoë")),
        ("email", null()),
        (
            "balance",
            Avro::Decimal(apache_avro::Decimal::from(vec![0x30, 0x39])),
        ),
        ("score", some(Avro::Double(-1.5))),
        ("active", Avro::Boolean(true)),
        ("small", Avro::Int(-300)),
        ("tiny", some(Avro::Int(-8))),
        ("ratio", Avro::Float(0.25)),
        ("created", Avro::Long(1_700_000_000_123_456)),
        ("updated", some(s("2024-01-02T03:04:05.123456Z"))),
        ("birthday", some(Avro::Int(19_000))),
        ("born", some(Avro::Date(-1))),
        ("tags", some(Avro::Array(vec![some(s("a")), null()]))),
        (
            "attrs",
            some(Avro::Map(HashMap::from([
                ("k".to_string(), some(s("v"))),
                ("n".to_string(), null()),
            ]))),
        ),
        (
            "amount",
            some(rec(vec![
                ("scale", Avro::Int(3)),
                ("value", Avro::Bytes(vec![0xff, 0x85])),
            ])),
        ),
        (
            "exact",
            rec(vec![
                ("scale", Avro::Int(0)),
                ("value", Avro::Bytes(vec![0x2a])),
            ]),
        ),
        ("payload", some(Avro::Bytes(vec![]))),
        ("flags", Avro::Bytes(vec![0b1010_0101])),
        ("uid", s("7f1b1d3c-95b5-4e8a-9f3c-1c2d3e4f5a6b")),
        ("money", null()),
        ("ztime", s("12:00:00Z")),
        ("stamp", some(Avro::TimestampMillis(86_400_000))),
        ("clock", some(Avro::TimeMillis(3_600_000))),
        (
            "entries",
            some(Avro::Array(vec![rec(vec![
                ("key", Avro::Int(1)),
                ("value", s("one")),
            ])])),
        ),
    ])
}

fn source() -> SourceInfo {
    SourceInfo {
        name: "cdc".into(),
        db: "shop".into(),
        schema: "public".into(),
        table: "customers".into(),
        ts_us: 1_700_000_000_654_321,
        snapshot: SnapshotMarker::False,
        tx_id: Some(571),
        lsn: Some(Lsn(53_195_832)),
        sequence: Some((Some(Lsn(53_195_000)), Some(Lsn(53_195_832)))),
        xmin: None,
    }
}

fn event(
    schemas: &Arc<TableSchemas>,
    op: Op,
    before: Option<Value>,
    after: Option<Value>,
) -> ChangeEvent {
    ChangeEvent {
        schemas: schemas.clone(),
        op,
        key: Some(Value::Struct(vec![Value::Int32(7)])),
        before,
        after,
        source: source(),
        ts_us: 1_700_000_001_000_002,
        key_header: None,
    }
}

fn encode_envelope(ev: &ChangeEvent, tx: Option<&TxBlock<'_>>) -> Vec<u8> {
    let mut out = Vec::new();
    write_envelope(&mut out, ev, tx).unwrap();
    out
}

fn expected_source() -> Avro {
    rec(vec![
        ("version", s(tributary_core::VERSION)),
        ("connector", s("postgresql")),
        ("name", s("cdc")),
        ("ts_ms", Avro::Long(1_700_000_000_654)),
        // `[T, "null"]`: the value is branch 0.
        ("snapshot", Avro::Union(0, Box::new(s("false")))),
        ("db", s("shop")),
        ("sequence", some(s(r#"["53195000","53195832"]"#))),
        ("ts_us", some(Avro::Long(1_700_000_000_654_321))),
        ("ts_ns", some(Avro::Long(1_700_000_000_654_321_000))),
        ("schema", s("public")),
        ("table", s("customers")),
        ("txId", some(Avro::Long(571))),
        ("lsn", some(Avro::Long(53_195_832))),
        ("xmin", null()),
        ("origin", null()),
        ("origin_lsn", null()),
    ])
}

/// Renders a decoded Avro value as `tributary_core::json` renders the Connect value.
fn avro_to_json(v: &Avro) -> serde_json::Value {
    use serde_json::Value as J;
    let b64 = |b: &[u8]| J::String(base64::engine::general_purpose::STANDARD.encode(b));
    match v {
        Avro::Null => J::Null,
        Avro::Boolean(b) => J::Bool(*b),
        Avro::Int(i) | Avro::Date(i) | Avro::TimeMillis(i) => J::from(*i),
        Avro::Long(i) | Avro::TimestampMillis(i) => J::from(*i),
        Avro::Float(f) => J::from(f64::from(*f)),
        Avro::Double(f) => J::from(*f),
        Avro::String(s) => J::String(s.clone()),
        Avro::Bytes(b) => b64(b),
        Avro::Decimal(d) => b64(&Vec::<u8>::try_from(d).unwrap()),
        Avro::Union(_, inner) => avro_to_json(inner),
        Avro::Array(items) => J::Array(items.iter().map(avro_to_json).collect()),
        Avro::Map(m) => J::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), avro_to_json(v)))
                .collect(),
        ),
        Avro::Record(fields) => J::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), avro_to_json(v)))
                .collect(),
        ),
        other => panic!("unexpected {other:?}"),
    }
}
