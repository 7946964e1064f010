//! Records a sink cannot apply, and records it has nothing to apply from.

use tributary_core::{ErrorKind, Position, Retry, SinkOp};

use super::*;
use crate::decode::{DecodeError, Part};
use crate::encode::{write_heartbeat, write_message, write_tx_metadata};
use crate::schema::{heartbeat_schemas, message_schemas, transaction_metadata_schemas};

fn keyless() -> Arc<TableSchemas> {
    table(
        "cdc.public.logs",
        vec![],
        vec![
            Field::new("at", Schema::int64()),
            Field::new("line", Schema::string()),
        ],
    )
}

#[tokio::test]
async fn changes_of_a_table_without_key_are_a_distinct_error_but_truncates_decode() {
    let mut env = env().await;
    let t = keyless();
    let after = Value::Struct(vec![Value::Int64(1), Value::String("x".into())]);
    let mut ev = event(&t, Op::Create, None, None, Some(after));
    ev.source.table = "logs".into();
    let rec = env.encode(&ev, None).await;
    let err = env.decoder.decode(&rec.raw(12)).await.unwrap_err();
    assert!(
        matches!(&err, DecodeError::NoKey { table, .. } if table == "public.logs"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("offset 12 of cdc.public.logs[2]"), "{text}");
    assert!(text.contains("primary key"), "{text}");

    let ev = event(&t, Op::Truncate, None, None, None);
    let rec = env.encode(&ev, None).await;
    let out = env.decoder.decode(&rec.raw(13)).await.unwrap().unwrap();
    assert_eq!(out.op, SinkOp::Truncate);
}

#[tokio::test]
async fn a_missing_last_commit_in_the_sequence_orders_as_zero() {
    let mut env = env().await;
    let t = items();
    let mut ev = event(&t, Op::Create, id_key(1), None, Some(row(1, "a")));
    ev.source = source(777, None);
    let rec = env.encode(&ev, None).await;
    let out = env.decoder.decode(&rec.raw(0)).await.unwrap().unwrap();
    assert_eq!(out.pos, Position::new(Lsn::ZERO, Lsn(777)));
}

#[tokio::test]
async fn records_not_in_confluent_framing_point_at_the_converter() {
    let mut env = env().await;
    let json = br#"{"before":null,"after":{"id":1}}"#;
    let raw = RawRecord {
        topic: "cdc.public.items",
        partition: 0,
        offset: 3,
        key: None,
        value: Some(json),
    };
    let err = env.decoder.decode(&raw).await.unwrap_err();
    assert!(matches!(
        err,
        DecodeError::NotConfluent {
            part: Part::Value,
            ..
        }
    ));
    assert_eq!(err.kind(), ErrorKind::Definite);
    let text = err.to_string();
    assert!(text.contains("looks like JSON"), "{text}");
    assert!(text.contains("Avro converter"), "{text}");
    assert!(text.contains("offset 3 of cdc.public.items[0]"), "{text}");

    // A framed value with a key that is a plain string.
    let t = items();
    let ev = event(&t, Op::Create, id_key(1), None, Some(row(1, "a")));
    let mut rec = env.encode(&ev, None).await;
    rec.key = Some(b"1".to_vec());
    let err = env.decoder.decode(&rec.raw(4)).await.unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::NotConfluent {
                part: Part::Key,
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn an_unknown_schema_id_is_definite_and_an_unreachable_registry_transient() {
    let mut env = env().await;
    let value = [0, 0, 0, 0x30, 0x39, 2, 0];
    let raw = RawRecord {
        topic: "t",
        partition: 0,
        offset: 0,
        key: None,
        value: Some(&value),
    };
    let err = env.decoder.decode(&raw).await.unwrap_err();
    assert!(
        matches!(err, DecodeError::UnknownSchema { id: 12345, .. }),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Definite);
    assert!(err.to_string().contains("schema_registry.url"), "{err}");

    let nowhere = Arc::new(RegistryClient::new("http://127.0.0.1:9", RegistryAuth::None).unwrap());
    let err = Decoder::new(nowhere).decode(&raw).await.unwrap_err();
    assert!(matches!(err, DecodeError::Registry { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Transient);
}

#[tokio::test]
async fn truncated_or_trailing_bytes_are_malformed_and_named() {
    let mut env = env().await;
    let t = items();
    let ev = event(&t, Op::Create, id_key(1), None, Some(row(1, "a")));
    let mut rec = env.encode(&ev, None).await;
    let full = rec.value.clone().unwrap();
    rec.value = Some(full[..full.len() / 2].to_vec());
    let err = env.decoder.decode(&rec.raw(8)).await.unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::Malformed {
                part: Part::Value,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Definite);
    assert!(err.to_string().contains("offset 8"), "{err}");

    let mut longer = full.clone();
    longer.push(0);
    rec.value = Some(longer);
    let err = env.decoder.decode(&rec.raw(9)).await.unwrap_err();
    assert!(err.to_string().contains("left over"), "{err}");
}

#[tokio::test]
async fn transaction_metadata_heartbeats_and_messages_carry_nothing_to_apply() {
    let mut env = env().await;
    let (_, tx_value) = transaction_metadata_schemas();
    let tx_id = env
        .producer
        .register("cdc.transaction-value", &tx_value)
        .await
        .unwrap();
    let (mut key, mut value) = (Vec::new(), Vec::new());
    write_confluent_header(&mut value, tx_id);
    write_tx_metadata(&mut key, &mut value, "BEGIN", "1:2", None, None, 5).unwrap();
    let raw = RawRecord {
        topic: "cdc.transaction",
        partition: 0,
        offset: 0,
        key: None,
        value: Some(&value),
    };
    assert_eq!(env.decoder.decode(&raw).await.unwrap(), None);

    let (_, hb_value) = heartbeat_schemas();
    let hb_id = env
        .producer
        .register("__debezium-heartbeat.cdc-value", &hb_value)
        .await
        .unwrap();
    let (mut key, mut value) = (Vec::new(), Vec::new());
    write_confluent_header(&mut value, hb_id);
    write_heartbeat(&mut key, &mut value, "cdc", 5);
    let hb_raw = RawRecord {
        value: Some(&value),
        ..raw
    };
    assert_eq!(env.decoder.decode(&hb_raw).await.unwrap(), None);

    // A logical decoding message (`op: m`) is no row change either.
    let (_, message_value) = message_schemas(false);
    let message_id = env
        .producer
        .register("cdc.message-value", &message_value)
        .await
        .unwrap();
    let message = tributary_core::MessageEvent {
        topic: "cdc.message".into(),
        prefix: "outbox".into(),
        content: tributary_core::Value::Bytes(vec![0, 255]),
        source: tributary_core::SourceInfo {
            name: "cdc".into(),
            db: "db".into(),
            schema: "".into(),
            table: "".into(),
            ts_us: 5,
            snapshot: tributary_core::SnapshotMarker::False,
            tx_id: None,
            lsn: Some(tributary_core::Lsn(9)),
            sequence: None,
            xmin: None,
        },
        ts_us: 5,
    };
    let mut value = Vec::new();
    write_confluent_header(&mut value, message_id);
    write_message(&mut value, &message, None).unwrap();
    let raw = RawRecord {
        topic: "cdc.message",
        value: Some(&value),
        ..raw
    };
    assert_eq!(env.decoder.decode(&raw).await.unwrap(), None);
}

#[tokio::test]
async fn a_value_schema_that_is_no_envelope_is_refused_by_name() {
    let mut env = env().await;
    let schema =
        r#"{"type":"record","name":"Plain","namespace":"x","fields":[{"name":"id","type":"int"}]}"#;
    let id = env.producer.register("plain-value", schema).await.unwrap();
    let mut value = Vec::new();
    write_confluent_header(&mut value, id);
    value.push(2);
    let raw = RawRecord {
        topic: "plain",
        partition: 0,
        offset: 0,
        key: None,
        value: Some(&value),
    };
    let err = env.decoder.decode(&raw).await.unwrap_err();
    assert!(matches!(err, DecodeError::BadSchema { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("x.Plain is not a Debezium change event envelope"),
        "{err}"
    );
}
