//! Keys and plain values, refusals, transaction metadata, heartbeats.

use std::sync::Arc;

use apache_avro::types::Value as Avro;
use tributary_core::{ChangeEvent, Field, Op, Schema, TableSchemas, Value};

use super::*;
use crate::schema::fixtures::{debezium_time, decimal, table};
use crate::schema::{heartbeat_schemas, table_avro, transaction_metadata_schemas};

#[test]
fn values_that_do_not_fit_their_schema_are_refused_with_their_path() {
    let t = customers();
    let mut row = match full_row() {
        Value::Struct(v) => v,
        _ => unreachable!(),
    };
    row[1] = Value::Null;
    let mut out = Vec::new();
    let err = write_value(&mut out, &t.value, &Value::Struct(row.clone())).unwrap_err();
    assert_eq!(err.path(), "name");
    assert!(
        err.to_string()
            .starts_with("cannot encode name: null for required string"),
        "{err}"
    );

    row[1] = Value::String("x".into());
    row[13] = Value::Array(vec![Value::Int32(1)]);
    let err = write_row(&mut out, &t.value, &Value::Struct(row.clone())).unwrap_err();
    assert_eq!(err.path(), "tags[0]");
    assert!(
        err.to_string().contains("expected string, got int32"),
        "{err}"
    );

    row[13] = Value::Null;
    row[6] = Value::Int32(70_000);
    let ev = event(&t, Op::Create, None, Some(Value::Struct(row.clone())));
    let err = write_envelope(&mut out, &ev, None).unwrap_err();
    assert_eq!(err.path(), "after.small");
    assert!(
        err.to_string().contains("70000 does not fit int16"),
        "{err}"
    );
    assert!(err.to_string().contains("HINT"), "{err}");

    row[6] = Value::Int16(1);
    row[3] = Value::String("1.5".into());
    let err = write_value(&mut out, &t.value, &Value::Struct(row.clone())).unwrap_err();
    assert!(
        err.to_string().contains(
            "balance: expected bytes (org.apache.kafka.connect.data.Decimal), got string"
        ),
        "{err}"
    );

    let err = write_value(&mut out, &t.value, &Value::Struct(row[..3].to_vec())).unwrap_err();
    assert!(
        err.to_string().contains("25 fields but the value has 3"),
        "{err}"
    );

    row[3] = Value::Bytes(vec![1]);
    row[14] = Value::Map(vec![(Value::Int32(1), Value::Null)]);
    let err = write_value(&mut out, &t.value, &Value::Struct(row)).unwrap_err();
    assert_eq!(err.path(), "attrs[Int32(1)]");
}

#[test]
fn integers_widen_but_never_narrow_lossily() {
    let mut out = Vec::new();
    write_value(&mut out, &Schema::int64(), &Value::Int16(-2)).unwrap();
    write_value(&mut out, &Schema::int32(), &Value::Int64(5)).unwrap();
    write_value(&mut out, &Schema::float64(), &Value::Float32(0.5)).unwrap();
    assert!(write_value(&mut out, &Schema::int32(), &Value::Int64(1 << 40)).is_err());
    assert!(write_value(&mut out, &Schema::float32(), &Value::Float64(0.5)).is_err());
    let v = decode(r#""long""#, &out[..1]);
    assert_eq!(v, Avro::Long(-2));
}

#[test]
fn confluent_framing_is_magic_byte_and_big_endian_id() {
    let mut out = Vec::new();
    write_confluent_header(&mut out, 0x0102_0304);
    assert_eq!(out, [0, 1, 2, 3, 4]);
}

#[test]
fn transaction_metadata_round_trips() {
    let (key_schema, value_schema) = transaction_metadata_schemas();
    let (mut key, mut value) = (Vec::new(), Vec::new());
    write_tx_metadata(
        &mut key,
        &mut value,
        "BEGIN",
        "571:53195832",
        None,
        None,
        1_700_000_000_654,
    )
    .unwrap();
    assert_eq!(
        decode(&key_schema, &key),
        rec(vec![("id", s("571:53195832"))])
    );
    assert_eq!(
        decode(&value_schema, &value),
        rec(vec![
            ("status", s("BEGIN")),
            ("id", s("571:53195832")),
            ("event_count", null()),
            ("data_collections", null()),
            ("ts_ms", Avro::Long(1_700_000_000_654)),
        ])
    );

    let (mut key, mut value) = (Vec::new(), Vec::new());
    let collections = [("public.customers", 2), ("public.orders", 1)];
    write_tx_metadata(
        &mut key,
        &mut value,
        "END",
        "571:53195832",
        Some(3),
        Some(&collections),
        1_700_000_000_654,
    )
    .unwrap();
    let entry = |name: &str, n: i64| {
        some(rec(vec![
            ("data_collection", s(name)),
            ("event_count", Avro::Long(n)),
        ]))
    };
    assert_eq!(
        decode(&value_schema, &value),
        rec(vec![
            ("status", s("END")),
            ("id", s("571:53195832")),
            ("event_count", some(Avro::Long(3))),
            (
                "data_collections",
                some(Avro::Array(vec![
                    entry("public.customers", 2),
                    entry("public.orders", 1)
                ]))
            ),
            ("ts_ms", Avro::Long(1_700_000_000_654)),
        ])
    );

    let (mut key, mut value) = (Vec::new(), Vec::new());
    write_tx_metadata(&mut key, &mut value, "END", "1:2", Some(0), Some(&[]), 5).unwrap();
    assert_eq!(
        field(&decode(&value_schema, &value), "data_collections"),
        &some(Avro::Array(vec![]))
    );
    let err = write_tx_metadata(&mut key, &mut value, "COMMIT", "1:2", None, None, 5).unwrap_err();
    assert!(
        err.to_string()
            .contains("\"COMMIT\" is neither BEGIN nor END"),
        "{err}"
    );
}

#[test]
fn heartbeats_round_trip() {
    let (key_schema, value_schema) = heartbeat_schemas();
    let (mut key, mut value) = (Vec::new(), Vec::new());
    write_heartbeat(&mut key, &mut value, "cdc", 1_700_000_000_654);
    assert_eq!(
        decode(&key_schema, &key),
        rec(vec![("serverName", s("cdc"))])
    );
    assert_eq!(
        decode(&value_schema, &value),
        rec(vec![("ts_ms", Avro::Long(1_700_000_000_654))])
    );
}

/// A typical 10-column row, for the speed check below.
fn ten_columns() -> (Arc<TableSchemas>, ChangeEvent) {
    let t = table(
        "cdc.public.orders",
        vec![Field::new("id", Schema::int64())],
        vec![
            Field::new("id", Schema::int64()),
            Field::new("customer_id", Schema::int64()),
            Field::new("status", Schema::string()),
            Field::new("note", Schema::string().optional()),
            Field::new("total", decimal(2, Some(12))),
            Field::new("quantity", Schema::int32()),
            Field::new("paid", Schema::boolean()),
            Field::new(
                "created_at",
                debezium_time(Schema::int64(), "MicroTimestamp"),
            ),
            Field::new(
                "updated_at",
                debezium_time(Schema::string(), "ZonedTimestamp").optional(),
            ),
            Field::new("weight", Schema::float64().optional()),
        ],
    );
    let row = Value::Struct(vec![
        Value::Int64(1_234_567),
        Value::Int64(42),
        Value::String("shipped".into()),
        Value::Null,
        Value::Bytes(vec![0x01, 0xe2, 0x40]),
        Value::Int32(3),
        Value::Boolean(true),
        Value::Int64(1_700_000_000_123_456),
        Value::String("2024-01-02T03:04:05.123456Z".into()),
        Value::Float64(1.25),
    ]);
    let mut ev = event(&t, Op::Update, Some(row.clone()), Some(row));
    ev.source.table = "orders".into();
    (t, ev)
}

#[test]
fn a_ten_column_event_round_trips() {
    let (t, ev) = ten_columns();
    let avro = table_avro(&t, A, A).unwrap();
    let decoded = decode(&avro.value, &encode_envelope(&ev, None));
    assert_eq!(field(&decoded, "before"), field(&decoded, "after"));
}

/// Not a test of speed, a way to see it: `cargo test --release -p tributary-avro --lib
/// encode_speed -- --ignored --nocapture`. The target is well under 1 µs per event.
#[test]
#[ignore]
fn encode_speed() {
    let (_, ev) = ten_columns();
    let tx = TxBlock {
        id: "571:53195832",
        total_order: 1,
        data_collection_order: 1,
    };
    let mut out = Vec::with_capacity(1024);
    let n = 1_000_000;
    let start = std::time::Instant::now();
    for _ in 0..n {
        out.clear();
        write_confluent_header(&mut out, 7);
        write_envelope(&mut out, &ev, Some(&tx)).unwrap();
        std::hint::black_box(&out);
    }
    let per = start.elapsed() / n;
    println!("{} bytes per event, {per:?} per event", out.len());
}
