//! Change events: documents, keys, positions, tables, deletes, truncates, tombstones.

use serde_json::json;
use tributary_core::{FieldKind, Position, RowKey, SinkOp};

use super::*;

fn upsert(op: &SinkOp) -> (&RowKey, serde_json::Value, &tributary_core::RowSchema) {
    match op {
        SinkOp::Upsert {
            key, doc, schema, ..
        } => (key, json!(doc), schema),
        other => panic!("not an upsert: {other:?}"),
    }
}

#[tokio::test]
async fn an_insert_is_an_upsert_of_the_after_image_with_key_position_and_table() {
    let mut env = env().await;
    let t = items();
    let ev = event(&t, Op::Create, id_key(7), None, Some(row(7, "Zoë")));
    let rec = env.encode(&ev, None).await;
    let out = env.decoder.decode(&rec.raw(41)).await.unwrap().unwrap();

    let (key, doc, schema) = upsert(&out.op);
    assert_eq!(key, &RowKey(vec![("id".into(), json!(7))]));
    assert_eq!(doc, row_json(7, "Zoë"));
    let kinds: Vec<(&str, FieldKind)> = schema
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.kind))
        .collect();
    use FieldKind::*;
    assert_eq!(
        kinds,
        [
            ("id", I64),
            ("name", Text),
            ("email", Text),
            ("balance", Other),
            ("score", F64),
            ("active", Bool),
            ("small", I64),
            ("ratio", F64),
            ("created", I64),
            ("updated", Other),
            ("born", I64),
            ("tags", Other),
            ("attrs", Other),
            ("amount", Other),
            ("exact", Other),
            ("payload", Other),
            ("uid", Other),
            ("money", Other),
            ("entries", Other),
        ]
    );
    assert_eq!(out.op_code, 'c');
    assert_eq!(out.pos, Position::new(Lsn(53_195_000), Lsn(53_195_832)));
    assert_eq!(out.source_ts_ms, 1_700_000_000_654);
    assert_eq!((out.partition, out.offset), (2, 41));
    assert_eq!(&*out.table.topic, "cdc.public.items");
    assert_eq!(
        (&*out.table.db, &*out.table.schema, &*out.table.table),
        ("shop", "public", "items")
    );
}

#[tokio::test]
async fn an_update_applies_the_after_image_even_with_a_transaction_block() {
    let mut env = env().await;
    let t = items();
    let ev = event(
        &t,
        Op::Update,
        id_key(7),
        Some(row(7, "old")),
        Some(row(7, "new")),
    );
    let tx = TxBlock {
        id: "571:53195832",
        total_order: 3,
        data_collection_order: 2,
    };
    let rec = env.encode(&ev, Some(&tx)).await;
    let out = env.decoder.decode(&rec.raw(1)).await.unwrap().unwrap();
    assert_eq!(out.op_code, 'u');
    assert_eq!(upsert(&out.op).1, row_json(7, "new"));
}

#[tokio::test]
async fn a_snapshot_read_sits_at_the_snapshot_point() {
    let mut env = env().await;
    let t = items();
    let mut ev = event(&t, Op::Read, id_key(1), None, Some(row(1, "a")));
    ev.source.snapshot = SnapshotMarker::True;
    ev.source.sequence = Some((None, Some(Lsn(9_000))));
    ev.source.lsn = Some(Lsn(9_000));
    let rec = env.encode(&ev, None).await;
    let out = env.decoder.decode(&rec.raw(0)).await.unwrap().unwrap();
    assert_eq!(out.op_code, 'r');
    assert_eq!(out.pos, Position::new(Lsn(9_000), Lsn::ZERO));
    // The stream starts `sequence` at the snapshot point: its first change sorts after.
    let mut next = event(&t, Op::Update, id_key(1), None, Some(row(1, "b")));
    next.source = source(9_100, Some(9_000));
    let rec = env.encode(&next, None).await;
    let later = env.decoder.decode(&rec.raw(1)).await.unwrap().unwrap();
    assert_eq!(later.pos, Position::new(Lsn(9_000), Lsn(9_100)));
    assert!(later.pos > out.pos);
}

#[tokio::test]
async fn a_delete_carries_the_key_and_its_tombstone_decodes_to_nothing() {
    let mut env = env().await;
    let t = items();
    let ev = event(&t, Op::Delete, id_key(7), Some(row(7, "gone")), None);
    let rec = env.encode(&ev, None).await;
    let out = env.decoder.decode(&rec.raw(5)).await.unwrap().unwrap();
    assert_eq!(out.op_code, 'd');
    assert_eq!(
        out.op,
        SinkOp::Delete {
            key: RowKey(vec![("id".into(), json!(7))])
        }
    );
    let tombstone = Encoded {
        topic: rec.topic.clone(),
        key: rec.key.clone(),
        value: None,
    };
    assert_eq!(env.decoder.decode(&tombstone.raw(6)).await.unwrap(), None);
}

#[tokio::test]
async fn a_truncate_needs_no_key() {
    let mut env = env().await;
    let t = items();
    let ev = event(&t, Op::Truncate, None, None, None);
    let rec = env.encode(&ev, None).await;
    assert!(rec.key.is_none());
    let out = env.decoder.decode(&rec.raw(9)).await.unwrap().unwrap();
    assert_eq!(out.op, SinkOp::Truncate);
    assert_eq!(out.op_code, 't');
    assert_eq!(&*out.table.table, "items");
}

#[tokio::test]
async fn composite_keys_keep_their_column_order() {
    let mut env = env().await;
    let t = table(
        "cdc.public.lines",
        vec![
            Field::new("order_no", Schema::string()),
            Field::new("line", Schema::int64()),
        ],
        vec![
            Field::new("line", Schema::int64()),
            Field::new("order_no", Schema::string()),
            Field::new("qty", Schema::int32()),
        ],
    );
    let key = Value::Struct(vec![Value::String("A-1".into()), Value::Int64(3)]);
    let after = Value::Struct(vec![
        Value::Int64(3),
        Value::String("A-1".into()),
        Value::Int32(2),
    ]);
    let ev = event(&t, Op::Create, Some(key), None, Some(after));
    let rec = env.encode(&ev, None).await;
    let out = env.decoder.decode(&rec.raw(0)).await.unwrap().unwrap();
    let (key, doc, _) = upsert(&out.op);
    assert_eq!(
        key,
        &RowKey(vec![
            ("order_no".into(), json!("A-1")),
            ("line".into(), json!(3))
        ])
    );
    assert_eq!(key.id(), "A-1:3");
    assert_eq!(doc, json!({"line": 3, "order_no": "A-1", "qty": 2}));
}

#[tokio::test]
async fn special_floats_become_strings_and_floats_print_short() {
    let mut env = env().await;
    let t = table(
        "cdc.public.floats",
        vec![Field::new("id", Schema::int32())],
        vec![
            Field::new("id", Schema::int32()),
            Field::new("a", Schema::float64()),
            Field::new("b", Schema::float64()),
            Field::new("c", Schema::float32()),
            Field::new("d", Schema::float32()),
        ],
    );
    let after = Value::Struct(vec![
        Value::Int32(1),
        Value::Float64(f64::NAN),
        Value::Float64(f64::NEG_INFINITY),
        Value::Float32(f32::INFINITY),
        Value::Float32(2.7),
    ]);
    let ev = event(&t, Op::Create, id_key(1), None, Some(after));
    let rec = env.encode(&ev, None).await;
    let out = env.decoder.decode(&rec.raw(0)).await.unwrap().unwrap();
    assert_eq!(
        upsert(&out.op).1,
        json!({"id": 1, "a": "NaN", "b": "-Infinity", "c": "Infinity", "d": 2.7})
    );
}

#[tokio::test]
async fn schemas_are_fetched_and_compiled_once_and_shared_by_records() {
    let mut env = env().await;
    let t = items();
    let mut records = Vec::new();
    for i in 0..50 {
        let ev = event(&t, Op::Create, id_key(i), None, Some(row(i, "x")));
        records.push(env.encode(&ev, None).await);
    }
    let mut out = Vec::new();
    for (i, rec) in records.iter().enumerate() {
        out.push(
            env.decoder
                .decode(&rec.raw(i as i64))
                .await
                .unwrap()
                .unwrap(),
        );
    }
    assert_eq!(env.reader.requests_sent(), 2, "one fetch per schema id");
    assert_eq!(env.decoder.schemas_compiled(), 2);
    let schema = |r: &tributary_core::SinkRecord| match &r.op {
        SinkOp::Upsert { schema, .. } => schema.clone(),
        _ => unreachable!(),
    };
    assert!(Arc::ptr_eq(&schema(&out[0]), &schema(&out[49])));
    assert!(Arc::ptr_eq(&out[0].table, &out[49].table));
    drop(env.handle);
}

/// Not a test of speed, a way to see it: `cargo test --release -p tributary-avro --lib
/// decode_speed -- --ignored --nocapture`. The target is well over 100k records/s.
#[tokio::test]
#[ignore]
async fn decode_speed() {
    let mut env = env().await;
    let t = table(
        "cdc.public.orders",
        vec![Field::new("id", Schema::int64())],
        vec![
            Field::new("id", Schema::int64()),
            Field::new("customer", Schema::string()),
            Field::new("email", Schema::string().optional()),
            Field::new("status", Schema::string()),
            Field::new("qty", Schema::int32()),
            Field::new("price", decimal(2, Some(10))),
            Field::new("note", Schema::string().optional()),
            Field::new("created", debezium_time(Schema::int64(), "MicroTimestamp")),
            Field::new("paid", Schema::boolean()),
            Field::new("weight", Schema::float64().optional()),
        ],
    );
    let after = Value::Struct(vec![
        Value::Int64(123_456),
        Value::String("Jane Q. Customer".into()),
        Value::String("jane@example.com".into()),
        Value::String("shipped".into()),
        Value::Int32(3),
        Value::Bytes(vec![0x30, 0x39]),
        Value::String("leave at the door, please".into()),
        Value::Int64(1_700_000_000_123_456),
        Value::Boolean(true),
        Value::Float64(1.25),
    ]);
    let ev = event(
        &t,
        Op::Update,
        Some(Value::Struct(vec![Value::Int64(123_456)])),
        Some(after.clone()),
        Some(after),
    );
    let rec = env.encode(&ev, None).await;
    env.decoder.decode(&rec.raw(0)).await.unwrap();
    let n = 300_000u32;
    let start = std::time::Instant::now();
    for i in 0..n {
        let out = env.decoder.decode(&rec.raw(i64::from(i))).await.unwrap();
        std::hint::black_box(out);
    }
    let per = start.elapsed() / n;
    println!(
        "{} value bytes per record, {per:?} per record, {:.0} records/s",
        rec.value.as_ref().unwrap().len(),
        1.0 / per.as_secs_f64()
    );
}
