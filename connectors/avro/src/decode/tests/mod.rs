//! Round trips through our own encoder: events encoded and registered as the publisher
//! does it, then decoded through a second registry client, as a sink job in another
//! process would. Shared setup here; change events in `changes.rs`, errors and edge
//! cases in `errors.rs`.

mod changes;
mod errors;

use std::sync::Arc;

use tributary_core::{
    ChangeEvent, Field, Lsn, Op, Schema, SnapshotMarker, SourceInfo, TableSchemas, Value,
};

use super::{Decoder, RawRecord};
use crate::encode::{TxBlock, write_confluent_header, write_envelope, write_value};
use crate::names::NameAdjustment;
use crate::registry::{EmbeddedRegistry, RegistryAuth, RegistryClient, RegistryHandle};
use crate::schema::fixtures::{
    connect_logical, debezium_time, decimal, int_map, string_map, table, variable_scale_decimal,
};
use crate::schema::table_avro;

const A: NameAdjustment = NameAdjustment::Avro;

/// An embedded registry, the publisher's client (registers) and a decoder with its own
/// client (fetches by id).
struct Env {
    _dir: tempfile::TempDir,
    handle: RegistryHandle,
    producer: RegistryClient,
    reader: Arc<RegistryClient>,
    decoder: Decoder,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let handle = EmbeddedRegistry::open(dir.path())
        .unwrap()
        .start("127.0.0.1:0")
        .await
        .unwrap();
    let producer = RegistryClient::new(&handle.url(), RegistryAuth::None).unwrap();
    let reader = Arc::new(RegistryClient::new(&handle.url(), RegistryAuth::None).unwrap());
    Env {
        _dir: dir,
        decoder: Decoder::new(reader.clone()),
        handle,
        producer,
        reader,
    }
}

/// A Kafka record as the publisher writes it: `(key, value)`.
struct Encoded {
    topic: String,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
}

impl Encoded {
    fn raw(&self, offset: i64) -> RawRecord<'_> {
        RawRecord {
            topic: &self.topic,
            partition: 2,
            offset,
            key: self.key.as_deref(),
            value: self.value.as_deref(),
        }
    }
}

impl Env {
    async fn encode(&self, ev: &ChangeEvent, tx: Option<&TxBlock<'_>>) -> Encoded {
        let (key_id, value_id) = self.register(&ev.schemas).await;
        let key = match (key_id, &ev.key, &ev.schemas.key) {
            (Some(id), Some(k), Some(schema)) => {
                let mut out = Vec::new();
                write_confluent_header(&mut out, id);
                write_value(&mut out, schema, k).unwrap();
                Some(out)
            }
            _ => None,
        };
        let mut value = Vec::new();
        write_confluent_header(&mut value, value_id);
        write_envelope(&mut value, ev, tx).unwrap();
        Encoded {
            topic: ev.schemas.topic.to_string(),
            key,
            value: Some(value),
        }
    }

    async fn register(&self, t: &TableSchemas) -> (Option<u32>, u32) {
        let avro = table_avro(t, A, A).unwrap();
        let key = match &avro.key {
            Some(k) => Some(
                self.producer
                    .register(&format!("{}-key", t.topic), k)
                    .await
                    .unwrap(),
            ),
            None => None,
        };
        let value = self
            .producer
            .register(&format!("{}-value", t.topic), &avro.value)
            .await
            .unwrap();
        (key, value)
    }
}

/// A table with a column of every kind the encoder writes.
fn items() -> Arc<TableSchemas> {
    table(
        "cdc.public.items",
        vec![Field::new("id", Schema::int32())],
        vec![
            Field::new("id", Schema::int32()),
            Field::new("name", Schema::string()),
            Field::new("email", Schema::string().optional()),
            Field::new("balance", decimal(2, Some(10))),
            Field::new("score", Schema::float64().optional()),
            Field::new("active", Schema::boolean()),
            Field::new("small", Schema::int16()),
            Field::new("ratio", Schema::float32()),
            Field::new("created", debezium_time(Schema::int64(), "MicroTimestamp")),
            Field::new(
                "updated",
                debezium_time(Schema::string(), "ZonedTimestamp").optional(),
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
                "uid",
                Schema::string().named("io.debezium.data.Uuid").versioned(1),
            ),
            Field::new("money", decimal(2, None).optional()),
            Field::new("entries", int_map().optional()),
        ],
    )
}

fn row(id: i32, name: &str) -> Value {
    Value::Struct(vec![
        Value::Int32(id),
        Value::String(name.into()),
        Value::Null,
        Value::Bytes(vec![0x30, 0x39]), // 123.45
        Value::Float64(-1.5),
        Value::Boolean(true),
        Value::Int16(-300),
        Value::Float32(0.1),
        Value::Int64(1_700_000_000_123_456),
        Value::String("2024-01-02T03:04:05.123456Z".into()),
        Value::Int32(-1),
        Value::Array(vec![Value::String("a".into()), Value::Null]),
        Value::Map(vec![
            (Value::String("k".into()), Value::String("v".into())),
            (Value::String("n".into()), Value::Null),
        ]),
        Value::Struct(vec![Value::Int32(3), Value::Bytes(vec![0xff, 0x85])]), // -0.123
        Value::Struct(vec![Value::Int32(0), Value::Bytes(vec![0x2a])]),
        Value::Bytes(vec![0xde, 0xad]),
        Value::String("7f1b1d3c-95b5-4e8a-9f3c-1c2d3e4f5a6b".into()),
        Value::Null,
        Value::Map(vec![(Value::Int32(1), Value::String("one".into()))]),
    ])
}

fn row_json(id: i32, name: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "name": name,
        "email": null,
        "balance": "123.45",
        "score": -1.5,
        "active": true,
        "small": -300,
        "ratio": 0.1,
        "created": 1_700_000_000_123_456i64,
        "updated": "2024-01-02T03:04:05.123456Z",
        "born": -1,
        "tags": ["a", null],
        "attrs": {"k": "v", "n": null},
        "amount": "-0.123",
        "exact": "42",
        "payload": "3q0=",
        "uid": "7f1b1d3c-95b5-4e8a-9f3c-1c2d3e4f5a6b",
        "money": null,
        "entries": [{"key": 1, "value": "one"}],
    })
}

fn source(lsn: u64, last_commit: Option<u64>) -> SourceInfo {
    SourceInfo {
        name: "cdc".into(),
        db: "shop".into(),
        schema: "public".into(),
        table: "items".into(),
        ts_us: 1_700_000_000_654_321,
        snapshot: SnapshotMarker::False,
        tx_id: Some(571),
        lsn: Some(Lsn(lsn)),
        sequence: Some((last_commit.map(Lsn), Some(Lsn(lsn)))),
        xmin: None,
    }
}

fn event(
    schemas: &Arc<TableSchemas>,
    op: Op,
    key: Option<Value>,
    before: Option<Value>,
    after: Option<Value>,
) -> ChangeEvent {
    ChangeEvent {
        schemas: schemas.clone(),
        op,
        key,
        before,
        after,
        source: source(53_195_832, Some(53_195_000)),
        ts_us: 1_700_000_001_000_002,
        key_header: None,
    }
}

fn id_key(id: i32) -> Option<Value> {
    Some(Value::Struct(vec![Value::Int32(id)]))
}
