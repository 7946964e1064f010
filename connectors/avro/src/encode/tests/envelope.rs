//! Change event envelopes.

use std::collections::HashMap;

use apache_avro::types::Value as Avro;
use tributary_core::json::envelope_json;
use tributary_core::{Field, Lsn, Op, Schema, SnapshotMarker, Value};

use super::*;
use crate::schema::fixtures::{debezium_time, postgres_type_schemas, table};
use crate::schema::table_avro;

#[test]
fn insert_round_trips_through_the_derived_schema() {
    let t = customers();
    let avro = table_avro(&t, A, A).unwrap();
    let ev = event(&t, Op::Create, None, Some(full_row()));
    let decoded = decode(&avro.value, &encode_envelope(&ev, None));
    let expected = rec(vec![
        ("before", null()),
        ("after", some(full_row_avro())),
        ("source", expected_source()),
        ("transaction", null()),
        ("op", s("c")),
        ("ts_ms", some(Avro::Long(1_700_000_001_000))),
        ("ts_us", some(Avro::Long(1_700_000_001_000_002))),
        ("ts_ns", some(Avro::Long(1_700_000_001_000_002_000))),
    ]);
    assert_eq!(decoded, expected);

    let mut key = Vec::new();
    write_value(&mut key, t.key.as_ref().unwrap(), ev.key.as_ref().unwrap()).unwrap();
    assert_eq!(
        decode(avro.key.as_deref().unwrap(), &key),
        rec(vec![("id", Avro::Int(7))])
    );
}

#[test]
fn update_carries_both_images_and_the_transaction_block() {
    let t = customers();
    let avro = table_avro(&t, A, A).unwrap();
    let mut ev = event(&t, Op::Update, Some(full_row()), Some(full_row()));
    ev.source.snapshot = SnapshotMarker::Last;
    let tx = TxBlock {
        id: "571:53195832",
        total_order: 3,
        data_collection_order: 2,
    };
    let decoded = decode(&avro.value, &encode_envelope(&ev, Some(&tx)));
    assert_eq!(field(&decoded, "before"), &some(full_row_avro()));
    assert_eq!(field(&decoded, "after"), &some(full_row_avro()));
    assert_eq!(
        field(&decoded, "transaction"),
        &some(rec(vec![
            ("id", s("571:53195832")),
            ("total_order", Avro::Long(3)),
            ("data_collection_order", Avro::Long(2)),
        ]))
    );
    assert_eq!(field(&decoded, "op"), &s("u"));
    assert_eq!(
        field(field(&decoded, "source"), "snapshot"),
        &Avro::Union(0, Box::new(s("last")))
    );
}

#[test]
fn delete_before_image_with_only_the_key_gets_debeziums_fallback_values() {
    let t = customers();
    let avro = table_avro(&t, A, A).unwrap();
    // REPLICA IDENTITY DEFAULT: pgoutput's old-key tuple, every non-key column NULL.
    let mut before = vec![Value::Null; t.value.fields().len()];
    before[0] = Value::Int32(7);
    let ev = event(&t, Op::Delete, Some(Value::Struct(before)), None);
    let decoded = decode(&avro.value, &encode_envelope(&ev, None));
    let expected_before = rec(vec![
        ("id", Avro::Int(7)),
        ("name", s("")),
        ("email", null()),
        (
            "balance",
            Avro::Decimal(apache_avro::Decimal::from(vec![0])),
        ),
        ("score", null()),
        ("active", Avro::Boolean(false)),
        ("small", Avro::Int(0)),
        ("tiny", null()),
        ("ratio", Avro::Float(0.0)),
        ("created", Avro::Long(0)),
        ("updated", null()),
        ("birthday", null()),
        ("born", null()),
        ("tags", null()),
        ("attrs", null()),
        ("amount", null()),
        (
            "exact",
            rec(vec![
                ("scale", Avro::Int(0)),
                ("value", Avro::Bytes(vec![0])),
            ]),
        ),
        ("payload", null()),
        ("flags", Avro::Bytes(vec![])),
        ("uid", s("")),
        ("money", null()),
        ("ztime", s("00:00:00Z")),
        ("stamp", null()),
        ("clock", null()),
        ("entries", null()),
    ]);
    assert_eq!(field(&decoded, "before"), &some(expected_before));
    assert_eq!(field(&decoded, "after"), &null());
    assert_eq!(field(&decoded, "op"), &s("d"));
    // The zero decimal is one byte, as BigInteger.ZERO.toByteArray().
    let Avro::Union(1, before) = field(&decoded, "before") else {
        panic!()
    };
    let Avro::Decimal(zero) = field(before, "balance") else {
        panic!()
    };
    assert_eq!(Vec::<u8>::try_from(zero).unwrap(), [0]);
}

#[test]
fn zoned_timestamp_fallback_is_the_epoch() {
    let t = table(
        "cdc.public.t",
        vec![],
        vec![
            Field::new("at", debezium_time(Schema::string(), "ZonedTimestamp")),
            Field::new("xs", Schema::array(Schema::int32().optional())),
            Field::new("m", string_map()),
            Field::new("f", Schema::float64()),
        ],
    );
    let avro = table_avro(&t, A, A).unwrap();
    let ev = event(
        &t,
        Op::Delete,
        Some(Value::Struct(vec![Value::Null; 4])),
        None,
    );
    let decoded = decode(&avro.value, &encode_envelope(&ev, None));
    assert_eq!(
        field(&decoded, "before"),
        &some(rec(vec![
            ("at", s("1970-01-01T00:00:00Z")),
            ("xs", Avro::Array(vec![])),
            ("m", Avro::Map(HashMap::new())),
            ("f", Avro::Double(0.0)),
        ]))
    );
}

#[test]
fn every_postgres_type_round_trips_null_and_zero() {
    // One column per type, required and optional, all NULL: the optional ones decode as
    // null and the required ones as their fallback, whatever the type.
    let mut columns = Vec::new();
    for (i, (_, schema)) in postgres_type_schemas().into_iter().enumerate() {
        columns.push(Field::new(format!("c{i}"), schema.clone()));
        columns.push(Field::new(format!("o{i}"), schema.optional()));
    }
    let n = columns.len();
    let t = table("cdc.public.all_types", vec![], columns);
    let avro = table_avro(&t, A, A).unwrap();
    let ev = event(
        &t,
        Op::Delete,
        Some(Value::Struct(vec![Value::Null; n])),
        None,
    );
    let decoded = decode(&avro.value, &encode_envelope(&ev, None));
    let Avro::Union(1, before) = field(&decoded, "before") else {
        panic!("{decoded:?}")
    };
    let Avro::Record(fields) = &**before else {
        panic!()
    };
    assert_eq!(fields.len(), n);
    for (name, v) in fields {
        if name.starts_with('o') {
            assert_eq!(v, &null(), "{name}");
        } else {
            assert!(!matches!(v, Avro::Union(..) | Avro::Null), "{name}: {v:?}");
        }
    }
}

#[test]
fn avro_carries_the_same_values_as_the_json_form() {
    let t = customers();
    let avro = table_avro(&t, A, A).unwrap();
    for ev in [
        event(&t, Op::Create, None, Some(full_row())),
        event(&t, Op::Update, Some(full_row()), Some(full_row())),
    ] {
        let decoded = decode(&avro.value, &encode_envelope(&ev, None));
        let mut json = envelope_json(&ev);
        let mut from_avro = avro_to_json(&decoded);
        // Maps with non-string keys: JSON renders an object, Avro an array of entries.
        for image in ["before", "after"] {
            for v in [&mut json, &mut from_avro] {
                if let Some(row) = v[image].as_object_mut() {
                    row.remove("entries");
                }
            }
        }
        assert_eq!(from_avro, json);
    }
}

#[test]
fn truncate_and_snapshot_events_have_no_images() {
    let t = customers();
    let avro = table_avro(&t, A, A).unwrap();
    let mut ev = event(&t, Op::Truncate, None, None);
    ev.source.sequence = Some((None, Some(Lsn(9))));
    ev.source.tx_id = None;
    ev.source.lsn = None;
    ev.source.xmin = Some(42);
    let decoded = decode(&avro.value, &encode_envelope(&ev, None));
    assert_eq!(field(&decoded, "before"), &null());
    assert_eq!(field(&decoded, "after"), &null());
    assert_eq!(field(&decoded, "op"), &s("t"));
    let src = field(&decoded, "source");
    assert_eq!(field(src, "sequence"), &some(s(r#"[null,"9"]"#)));
    assert_eq!(
        unwrap_union(field(src, "sequence")),
        &s(&ev.source.sequence_string().unwrap())
    );
    assert_eq!(field(src, "txId"), &null());
    assert_eq!(field(src, "lsn"), &null());
    assert_eq!(field(src, "xmin"), &some(Avro::Long(42)));

    ev.source.sequence = None;
    ev.source.snapshot = SnapshotMarker::FirstInDataCollection;
    let decoded = decode(&avro.value, &encode_envelope(&ev, None));
    let src = field(&decoded, "source");
    assert_eq!(field(src, "sequence"), &null());
    assert_eq!(
        field(src, "snapshot"),
        &Avro::Union(0, Box::new(s("first_in_data_collection")))
    );
    // The largest sequence fits the stack buffer.
    ev.source.sequence = Some((Some(Lsn(u64::MAX)), Some(Lsn(u64::MAX))));
    let decoded = decode(&avro.value, &encode_envelope(&ev, None));
    assert_eq!(
        unwrap_union(field(field(&decoded, "source"), "sequence")),
        &s(&ev.source.sequence_string().unwrap())
    );
}

#[test]
fn the_envelope_writer_follows_the_core_envelope_layout() {
    // write_envelope writes the envelope and source by hand; this pins the layout it
    // assumes to the schemas core builds.
    let t = customers();
    let layout: Vec<(String, &str, bool)> = t
        .envelope
        .fields()
        .iter()
        .map(|f| (f.name.clone(), f.schema.type_name(), f.schema.optional))
        .collect();
    let expect = |v: &[(&str, &str, bool)]| -> Vec<(String, &'static str, bool)> {
        v.iter()
            .map(|(n, t, o)| (n.to_string(), type_static(t), *o))
            .collect()
    };
    assert_eq!(
        layout,
        expect(&[
            ("before", "struct", true),
            ("after", "struct", true),
            ("source", "struct", false),
            ("transaction", "struct", true),
            ("op", "string", false),
            ("ts_ms", "int64", true),
            ("ts_us", "int64", true),
            ("ts_ns", "int64", true),
        ])
    );
    let source = &t.envelope.fields()[2].schema;
    let layout: Vec<(String, &str, bool)> = source
        .fields()
        .iter()
        .map(|f| (f.name.clone(), f.schema.type_name(), f.schema.optional))
        .collect();
    assert_eq!(
        layout,
        expect(&[
            ("version", "string", false),
            ("connector", "string", false),
            ("name", "string", false),
            ("ts_ms", "int64", false),
            ("snapshot", "string", true),
            ("db", "string", false),
            ("sequence", "string", true),
            ("ts_us", "int64", true),
            ("ts_ns", "int64", true),
            ("schema", "string", false),
            ("table", "string", false),
            ("txId", "int64", true),
            ("lsn", "int64", true),
            ("xmin", "int64", true),
            ("origin", "string", true),
            ("origin_lsn", "int64", true),
        ])
    );
    let block = &t.envelope.fields()[3].schema;
    let names: Vec<&str> = block.fields().iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["id", "total_order", "data_collection_order"]);
}

fn type_static(t: &str) -> &'static str {
    ["struct", "string", "int64"]
        .into_iter()
        .find(|s| *s == t)
        .unwrap()
}

#[test]
fn the_generic_writer_agrees_with_the_envelope_writer() {
    // The envelope as a Connect value, written by the generic walker, must give the same
    // bytes as the hand-written envelope writer (this covers `snapshot`'s union order).
    let t = customers();
    let ev = event(&t, Op::Create, None, Some(full_row()));
    let src = &ev.source;
    let envelope = Value::Struct(vec![
        Value::Null,
        full_row(),
        Value::Struct(vec![
            Value::String(tributary_core::VERSION.into()),
            Value::String("postgresql".into()),
            Value::String(src.name.to_string()),
            Value::Int64(src.ts_us / 1000),
            Value::String(src.snapshot.as_str().into()),
            Value::String(src.db.to_string()),
            Value::String(src.sequence_string().unwrap()),
            Value::Int64(src.ts_us),
            Value::Int64(src.ts_us * 1000),
            Value::String(src.schema.to_string()),
            Value::String(src.table.to_string()),
            Value::Int64(571),
            Value::Int64(53_195_832),
            Value::Null,
            Value::Null,
            Value::Null,
        ]),
        Value::Null,
        Value::String("c".into()),
        Value::Int64(ev.ts_us / 1000),
        Value::Int64(ev.ts_us),
        Value::Int64(ev.ts_us * 1000),
    ]);
    let mut generic = Vec::new();
    write_value(&mut generic, &t.envelope, &envelope).unwrap();
    assert_eq!(generic, encode_envelope(&ev, None));
    // And a source struct full of nulls falls back consistently too.
    let mut zeroed = Vec::new();
    let source_schema = &t.envelope.fields()[2].schema;
    write_row(
        &mut zeroed,
        source_schema,
        &Value::Struct(vec![Value::Null; 16]),
    )
    .unwrap();
    let avro = crate::schema::connect_to_avro_string(source_schema, A, A).unwrap();
    let decoded = decode(&avro, &zeroed);
    // A null in a field with a default is written as the default, as Connect's
    // `Struct.get` answers it to the AvroConverter.
    assert_eq!(
        field(&decoded, "snapshot"),
        &Avro::Union(0, Box::new(Avro::String("false".into())))
    );
}

#[test]
fn the_connect_envelope_value_is_what_the_envelope_writer_writes() {
    // `tributary_connect::envelope` builds the value other converters write (JSON): written
    // by the generic walker it must give the hand-written writer's bytes, fallback values
    // of a key-only `before` image and the transaction block included.
    let t = customers();
    let mut key_only = vec![Value::Null; t.value.fields().len()];
    key_only[0] = Value::Int32(7);
    let tx = TxBlock {
        id: "571:53195832",
        total_order: 3,
        data_collection_order: 2,
    };
    for (ev, tx) in [
        (event(&t, Op::Create, None, Some(full_row())), None),
        (
            event(&t, Op::Update, Some(full_row()), Some(full_row())),
            Some(tx),
        ),
        (
            event(&t, Op::Delete, Some(Value::Struct(key_only)), None),
            None,
        ),
    ] {
        let connect_tx = tx.map(|t| tributary_connect::envelope::TxBlock {
            id: t.id,
            total_order: t.total_order,
            data_collection_order: t.data_collection_order,
        });
        let value = tributary_connect::envelope::envelope_value(&mut ev.clone(), connect_tx);
        let mut generic = Vec::new();
        write_value(&mut generic, &t.envelope, &value).unwrap();
        assert_eq!(generic, encode_envelope(&ev, tx.as_ref()), "{:?}", ev.op);
    }
}
