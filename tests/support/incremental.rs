//! Helpers of the incremental snapshot tests (`tests/source_incremental.rs`): a database
//! with the signal table, a daemon per connector, signals by table and Kafka, writers,
//! and what the topic says about each row.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::daemon::{Daemon, RegistryChoice};
use super::kafka::{Broker, CdcConsumer, Record};
use super::pg::PgCluster;
use super::slot::wait_active;

pub const T: Duration = Duration::from_secs(120);
pub const SIGNAL_TABLE: &str = "CREATE TABLE debezium_signal (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048));";
/// What the topic says about one row.
#[derive(Debug, Default)]
pub struct KeyHistory {
    /// The newest version seen, `None` once deleted.
    pub version: Option<i64>,
    pub deleted: bool,
    pub reads: usize,
    /// A problem seen in the row's history.
    pub stale: Option<String>,
}

/// Folds `items` events into per-key histories.
#[derive(Default)]
pub struct Fold {
    pub keys: HashMap<i64, KeyHistory>,
    pub counted: usize,
    /// Streamed change identities (key, op, lsn) seen more than once.
    pub dup_changes: usize,
    pub changes: std::collections::HashSet<(i64, String, i64)>,
    pub reads: usize,
    /// The reads are a blocking snapshot's (marked as an initial snapshot's rows are),
    /// not an incremental one's.
    pub blocking: bool,
}

impl Fold {
    pub fn add(&mut self, records: &[Record], topic: &str) {
        for r in &records[self.counted..] {
            if r.topic != topic {
                continue;
            }
            let Some(v) = &r.value else { continue };
            let op = v["op"].as_str().unwrap_or_default().to_string();
            let id = r
                .key
                .as_ref()
                .and_then(|k| k["id"].as_i64())
                .expect("a key");
            let h = self.keys.entry(id).or_default();
            if h.deleted && h.stale.is_none() {
                h.stale = Some(format!("{op} after the delete: {v}"));
            }
            match op.as_str() {
                "d" => {
                    h.deleted = true;
                    h.version = None;
                }
                _ => {
                    let version = v["after"]["version"].as_i64().expect("a version");
                    if let Some(seen) = h.version
                        && version < seen
                        && h.stale.is_none()
                    {
                        h.stale = Some(format!("version {version} after {seen}: {v}"));
                    }
                    h.version = Some(version);
                }
            }
            if op == "r" {
                h.reads += 1;
                self.reads += 1;
                let marker = v["source"]["snapshot"].as_str().unwrap_or_default();
                if self.blocking {
                    assert!(
                        [
                            "first",
                            "first_in_data_collection",
                            "true",
                            "last_in_data_collection",
                            "last"
                        ]
                        .contains(&marker),
                        "{v}"
                    );
                } else {
                    assert_eq!(marker, "incremental", "{v}");
                }
            } else {
                let lsn = v["source"]["lsn"].as_i64().unwrap_or_default();
                if !self.changes.insert((id, op, lsn)) {
                    self.dup_changes += 1;
                }
            }
        }
        self.counted = records.len();
    }

    /// The live rows: id → version.
    pub fn state(&self) -> HashMap<i64, i64> {
        self.keys
            .iter()
            .filter_map(|(id, h)| h.version.map(|v| (*id, v)))
            .collect()
    }
}

/// Reads `topic` until the state derived from it equals `expected`, then asserts what an
/// exact snapshot under changes shows: no row appeared older than an event already
/// emitted for it, none was read twice, no streamed change came twice. The state is
/// compared only once the topic has gone quiet (a poll brought nothing new): comparing a
/// million rows per record would take hours. `log` is the daemon's, for failures.
pub fn assert_exact(
    consumer: &mut CdcConsumer,
    fold: &mut Fold,
    topic: &str,
    expected: &HashMap<i64, i64>,
    log: impl Fn() -> String,
) {
    // Gives up once nothing has arrived for a minute.
    let (mut quiet_at, mut moved) = (0, std::time::Instant::now());
    consumer.poll_until(Duration::from_secs(600), |records| {
        fold.add(records, topic);
        if records.len() != quiet_at {
            (quiet_at, moved) = (records.len(), std::time::Instant::now());
            return false;
        }
        moved.elapsed() > Duration::from_secs(60) || fold.state() == *expected
    });
    let state = fold.state();
    let differing: Vec<_> = expected
        .iter()
        .filter(|(id, v)| state.get(id) != Some(v))
        .collect();
    assert!(
        differing.is_empty(),
        "the topic's state differs from the table: {} of {} rows missing or different ({:?}), {} extra\n{}",
        differing.len(),
        expected.len(),
        differing
            .iter()
            .take(5)
            .map(|(id, v)| (id, v, fold.keys.get(id)))
            .collect::<Vec<_>>(),
        state.keys().filter(|id| !expected.contains_key(id)).count(),
        log()
    );
    let stale: Vec<_> = fold
        .keys
        .iter()
        .filter_map(|(id, h)| h.stale.as_ref().map(|s| (id, s)))
        .take(5)
        .collect();
    assert!(
        stale.is_empty(),
        "rows appeared older than an event already emitted: {stale:?}"
    );
    let reread: Vec<_> = fold
        .keys
        .iter()
        .filter(|(_, h)| h.reads > 1)
        .map(|(id, _)| *id)
        .take(5)
        .collect();
    assert!(
        reread.is_empty(),
        "rows read twice (a chunk read again, or a duplicate): {reread:?}"
    );
    assert_eq!(fold.dup_changes, 0, "streamed changes seen twice");
}

/// Reads `topic` until `at` rows were read (within ten minutes), then kills the daemon
/// with SIGKILL and starts it again.
pub fn kill_after_reads(
    consumer: &mut CdcConsumer,
    fold: &mut Fold,
    topic: &str,
    at: i64,
    daemon: &mut Daemon,
) {
    let reached = consumer.poll_until(Duration::from_secs(600), |records| {
        fold.add(records, topic);
        fold.reads as i64 >= at
    });
    assert!(
        reached,
        "only {} rows read before the kill at {at}\n{}",
        fold.reads,
        daemon.log()
    );
    daemon.kill9();
    daemon.restart();
}

pub async fn table_state(db: &tokio_postgres::Client, table: &str) -> HashMap<i64, i64> {
    db.query(&format!("SELECT id, version FROM {table}"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1)))
        .collect()
}

/// 50,000 random inserts, updates and deletes in transactions of 10, paced over the
/// snapshot. New rows get ids above `rows`; no id is used twice.
pub fn writer(url: String, rows: i64, ops: usize) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next_id = rows + 1;
        let mut done = 0;
        while done < ops {
            let mut sql = String::from("BEGIN;");
            for _ in 0..10 {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let id = (seed >> 33) as i64 % rows + 1;
                match (seed >> 20) % 10 {
                    0..=5 => sql.push_str(&format!(
                        "UPDATE items SET version = version + 1 WHERE id = {id};"
                    )),
                    6 | 7 => sql.push_str(&format!("DELETE FROM items WHERE id = {id};")),
                    _ => {
                        sql.push_str(&format!("INSERT INTO items VALUES ({next_id}, 0, 'new');"));
                        next_id += 1;
                    }
                }
                done += 1;
            }
            sql.push_str("COMMIT;");
            client.batch_execute(&sql).await.unwrap();
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
    })
}

/// The ids of `op: r` events per topic, gathered as records arrive.
#[derive(Default)]
pub struct Reads {
    pub counted: usize,
    pub ids: HashMap<String, Vec<i64>>,
}

impl Reads {
    pub fn of(&mut self, records: &[Record], topic: &str) -> &[i64] {
        for r in &records[self.counted..] {
            if r.value.as_ref().is_some_and(|v| v["op"] == "r") {
                let id = r.key.as_ref().unwrap()["id"].as_i64().unwrap();
                self.ids.entry(r.topic.clone()).or_default().push(id);
            }
        }
        self.counted = records.len();
        self.ids.get(topic).map(Vec::as_slice).unwrap_or_default()
    }
}

/// A cluster whose `app` database has the signal table and runs `sql`, and a broker.
pub async fn setup(sql: &str) -> (PgCluster, tokio_postgres::Client, Broker) {
    let pg = PgCluster::start();
    let db = pg.create_db("app").await;
    db.batch_execute(&format!("{SIGNAL_TABLE}\n{sql}"))
        .await
        .unwrap();
    (pg, db, Broker::start())
}

/// Inserts an `execute-snapshot` signal of `pattern` into the signal table.
pub async fn table_signal(db: &tokio_postgres::Client, id: &str, pattern: &str) {
    let data = json!({"data-collections": [pattern], "type": "incremental"});
    db.execute(
        "INSERT INTO debezium_signal VALUES ($1, 'execute-snapshot', $2)",
        &[&id, &data.to_string()],
    )
    .await
    .unwrap();
}

/// The connector `name` (see [`connector`]) in a daemon of its own, streaming.
pub async fn start(
    work: &std::path::Path,
    pg: &PgCluster,
    db: &tokio_postgres::Client,
    broker: &Broker,
    name: &str,
    extra: Value,
) -> (Value, Daemon) {
    let config = connector(pg, name, extra);
    let daemon = Daemon::start(work, &broker.bootstrap, RegistryChoice::Embedded, &config);
    wait_active(db, &format!("{name}_slot"), T).await;
    (config, daemon)
}

pub fn connector(pg: &PgCluster, name: &str, extra: Value) -> Value {
    let mut base = json!({
        "snapshot.mode": "no_data",
        "signal.data.collection": "public.debezium_signal",
        "table.include.list": "public.items,public.other",
    });
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    pg.connector(name, "app", base)
}

/// Inserts rows into `items` from id `from` every few milliseconds until `stop` is set.
pub fn trickle(
    url: String,
    from: i64,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<i64> {
    tokio::spawn(async move {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let mut id = from;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            client
                .batch_execute(&format!("INSERT INTO items VALUES ({id}, 0, 'live')"))
                .await
                .unwrap();
            id += 1;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        id - from
    })
}

/// Sends `(key, value)` records to `topic`.
pub async fn produce(bootstrap: &str, topic: &str, records: &[(&str, Value)]) {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let producer: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    for (key, value) in records {
        let payload = value.to_string();
        producer
            .send(
                FutureRecord::to(topic).key(*key).payload(&payload),
                Duration::from_secs(30),
            )
            .await
            .unwrap_or_else(|(e, _)| panic!("producing a signal: {e}"));
    }
}
