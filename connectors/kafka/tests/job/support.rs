//! The job tests' setup: a broker, an embedded registry, encoded change events, and a
//! collecting test sink with scripted answers.

use std::collections::VecDeque;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::sync::watch;
use tributary_avro::decode::Decoder;
use tributary_avro::encode::{write_confluent_header, write_envelope, write_value};
use tributary_avro::names::NameAdjustment;
use tributary_avro::registry::{EmbeddedRegistry, RegistryAuth, RegistryClient, RegistryHandle};
use tributary_avro::schema::table_avro;
use tributary_core::envelope::envelope_schema;
use tributary_core::sink::BoxFuture;
use tributary_core::{
    ChangeEvent, Field, Lsn, Op, PartitionOffset, Schema, Sink, SinkError, SinkRecord,
    SnapshotMarker, SourceInfo, TableSchemas, Value,
};
use tributary_kafka::admin::Topics;
use tributary_kafka::job::{self, JobError, JobMetrics, JobSettings, Subscription};
use tributary_kafka::settings::{KafkaConfig, TopicSettings};

use crate::common;

pub const T: Duration = Duration::from_secs(30);

/// A broker, a registry, and a producer of encoded change events.
pub struct Env {
    pub _broker: common::Broker,
    pub _dir: tempfile::TempDir,
    pub _registry: RegistryHandle,
    pub registry: RegistryClient,
    pub kafka: KafkaConfig,
    pub producer: FutureProducer,
}

pub async fn env() -> Env {
    let broker = common::broker();
    let dir = tempfile::tempdir().unwrap();
    let handle = EmbeddedRegistry::open(dir.path())
        .unwrap()
        .start("127.0.0.1:0")
        .await
        .unwrap();
    let registry = RegistryClient::new(&handle.url(), RegistryAuth::None).unwrap();
    let kafka = KafkaConfig {
        bootstrap_servers: broker.bootstrap.clone(),
        ..KafkaConfig::default()
    };
    let producer = ClientConfig::new()
        .set("bootstrap.servers", &broker.bootstrap)
        .create()
        .unwrap();
    Env {
        _broker: broker,
        _dir: dir,
        _registry: handle,
        registry,
        kafka,
        producer,
    }
}

pub fn table(topic: &str, keyed: bool) -> Arc<TableSchemas> {
    let value = Schema::structure(
        format!("{topic}.Value"),
        vec![
            Field::new("id", Schema::int32()),
            Field::new("name", Schema::string()),
            Field::new("secret", Schema::string().optional()),
        ],
    );
    let key = keyed.then(|| {
        Schema::structure(
            format!("{topic}.Key"),
            vec![Field::new("id", Schema::int32())],
        )
    });
    Arc::new(TableSchemas {
        topic: topic.into(),
        key,
        envelope: envelope_schema(topic, &value),
        value,
        version: 1,
    })
}

pub fn change(t: &Arc<TableSchemas>, op: Op, id: i32, lsn: u64) -> ChangeEvent {
    let row = Value::Struct(vec![
        Value::Int32(id),
        Value::String(format!("row {id}")),
        Value::String("hidden".into()),
    ]);
    let (before, after) = match op {
        Op::Delete => (Some(row), None),
        Op::Truncate => (None, None),
        _ => (None, Some(row)),
    };
    ChangeEvent {
        schemas: t.clone(),
        op,
        key: (t.key.is_some() && op != Op::Truncate).then(|| Value::Struct(vec![Value::Int32(id)])),
        before,
        after,
        source: SourceInfo {
            name: "cdc".into(),
            db: "shop".into(),
            schema: "public".into(),
            table: "items".into(),
            ts_us: tributary_core::event::now_us(),
            snapshot: SnapshotMarker::False,
            tx_id: Some(1),
            lsn: Some(Lsn(lsn)),
            sequence: Some((Some(Lsn(lsn - 1)), Some(Lsn(lsn)))),
            xmin: None,
        },
        ts_us: tributary_core::event::now_us(),
        key_header: None,
    }
}

impl Env {
    pub async fn topic(&self, name: &str) -> String {
        let how = TopicSettings {
            partitions: 1,
            replication_factor: -1,
            cleanup_policy: "delete".into(),
        };
        Topics::new(&self.kafka)
            .unwrap()
            .ensure(name, &how)
            .await
            .unwrap();
        name.to_string()
    }

    /// Encodes a change event (or its tombstone) as the publisher does: `(key, value)`.
    pub async fn encode(
        &self,
        ev: &ChangeEvent,
        tombstone: bool,
    ) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
        let t = &ev.schemas;
        let avro = table_avro(t, NameAdjustment::Avro, NameAdjustment::Avro).unwrap();
        let key = match (&avro.key, &ev.key) {
            (Some(schema), Some(k)) => {
                let id = self
                    .registry
                    .register(&format!("{}-key", t.topic), schema)
                    .await
                    .unwrap();
                let mut out = Vec::new();
                write_confluent_header(&mut out, id);
                write_value(&mut out, t.key.as_ref().unwrap(), k).unwrap();
                Some(out)
            }
            _ => None,
        };
        if tombstone {
            return (key, None);
        }
        let id = self
            .registry
            .register(&format!("{}-value", t.topic), &avro.value)
            .await
            .unwrap();
        let mut value = Vec::new();
        write_confluent_header(&mut value, id);
        write_envelope(&mut value, ev, None).unwrap();
        (key, Some(value))
    }

    pub async fn send(&self, topic: &str, key: Option<&[u8]>, value: Option<&[u8]>) {
        let mut r: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic);
        r.key = key;
        r.payload = value;
        self.producer.send(r, T).await.unwrap();
    }

    pub async fn produce(&self, events: &[(ChangeEvent, bool)]) {
        for (ev, tombstone) in events {
            let (k, v) = self.encode(ev, *tombstone).await;
            self.send(&ev.schemas.topic, k.as_deref(), v.as_deref())
                .await;
        }
    }

    pub fn settings(&self, topic: &str, group: &str) -> JobSettings {
        let mut s = JobSettings::new(group, group, Subscription::Topics(vec![topic.to_string()]));
        s.batch_size = 100;
        s.batch_max_wait = Duration::from_millis(200);
        s.retry_initial = Duration::from_millis(20);
        s.retry_max = Duration::from_millis(100);
        s
    }

    /// Starts the job in a task; send `true` on the returned sender to stop it.
    pub fn start(&self, settings: JobSettings, sink: TestSink) -> Running {
        let (stop, rx) = watch::channel(false);
        let metrics = Arc::new(JobMetrics::default());
        let kafka = self.kafka.clone();
        let decoder = Decoder::new(Arc::new(
            RegistryClient::new(self.registry.url(), RegistryAuth::None).unwrap(),
        ));
        let m = metrics.clone();
        let task = tokio::spawn(async move {
            job::run(settings, &kafka, decoder, Box::new(sink), rx, m).await
        });
        Running {
            stop,
            metrics,
            task,
        }
    }
}

pub struct Running {
    pub stop: watch::Sender<bool>,
    pub metrics: Arc<JobMetrics>,
    pub task: tokio::task::JoinHandle<Result<(), JobError>>,
}

impl Running {
    pub async fn stop(self) -> Result<(), JobError> {
        self.stop.send(true).unwrap();
        tokio::time::timeout(T, self.task)
            .await
            .expect("the job stops in time")
            .unwrap()
    }
}

pub type Write = (Vec<SinkRecord>, Vec<PartitionOffset>);

/// Collects what it is given; answers with scripted errors first.
#[derive(Clone, Default)]
pub struct TestSink {
    pub written: Arc<Mutex<Vec<Write>>>,
    pub attempts: Arc<Mutex<Vec<Write>>>,
    pub script: Arc<Mutex<VecDeque<SinkError>>>,
    pub always: Option<SinkError>,
    pub stored: Option<Vec<PartitionOffset>>,
    pub calls: Arc<AtomicUsize>,
}

impl TestSink {
    pub fn records(&self) -> Vec<SinkRecord> {
        self.written
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(b, _)| b.clone())
            .collect()
    }
}

impl Sink for TestSink {
    fn stored_offsets(&self) -> Option<Vec<PartitionOffset>> {
        self.stored.clone()
    }

    fn write<'a>(
        &'a mut self,
        batch: &'a [SinkRecord],
        offsets: &'a [PartitionOffset],
    ) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Relaxed);
            let entry = (batch.to_vec(), offsets.to_vec());
            self.attempts.lock().unwrap().push(entry.clone());
            let scripted = self.script.lock().unwrap().pop_front();
            if let Some(e) = scripted.or_else(|| self.always.clone()) {
                return Err(e);
            }
            self.written.lock().unwrap().push(entry);
            Ok(())
        })
    }
}

pub async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + T;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn committed(env: &Env, settings: &JobSettings) -> Vec<i64> {
    job::read_group_offsets(&env.kafka, settings)
        .await
        .unwrap()
        .iter()
        .map(|o| o.next)
        .collect()
}
