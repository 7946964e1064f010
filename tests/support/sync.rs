//! Sink-job tests: a table of items changed by a random stream of inserts, updates and
//! deletes, and comparisons of a Redis cache and a search index with the table.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use tokio_postgres::Client;

use super::api::{encode_segment, get};
use super::redis::Redis;

pub const TABLE_DDL: &str = "CREATE TABLE items (
    id bigint PRIMARY KEY,
    name text NOT NULL,
    body text,
    price numeric(10,2),
    qty integer
)";

/// The text a row has at version `v`: one unique token (`w<id>v<v>`) and some words.
pub fn name_of(id: i64, v: u32) -> String {
    format!("w{id}v{v}")
}

/// A deterministic random stream of changes to `items`.
pub struct Workload {
    seed: u64,
    next_id: i64,
    /// Live ids and their current version.
    pub live: BTreeMap<i64, u32>,
    /// Deleted ids and the version they had.
    pub deleted: BTreeMap<i64, u32>,
    pub changes: usize,
}

impl Workload {
    pub fn new(seed: u64) -> Workload {
        Workload {
            seed,
            next_id: 1,
            live: BTreeMap::new(),
            deleted: BTreeMap::new(),
            changes: 0,
        }
    }

    fn rand(&mut self) -> u64 {
        self.seed = self
            .seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.seed >> 33
    }

    fn pick_live(&mut self) -> i64 {
        let n = self.live.len() as u64;
        let skip = (self.rand() % n) as usize;
        *self.live.keys().nth(skip).unwrap()
    }

    /// The SQL of one transaction of `size` changes (about 50% inserts, 30% updates,
    /// 20% deletes).
    pub fn transaction(&mut self, size: usize) -> String {
        let mut sql = String::from("BEGIN;");
        for _ in 0..size {
            let r = self.rand() % 10;
            if self.live.len() < 200 || r < 5 {
                let id = self.next_id;
                self.next_id += 1;
                self.live.insert(id, 0);
                let price = (self.rand() % 100_000) as f64 / 100.0;
                sql.push_str(&format!(
                    "INSERT INTO items VALUES ({id}, '{}', 'fresh item {id} for sale', {price:.2}, {});",
                    name_of(id, 0),
                    self.rand() % 1000
                ));
            } else if r < 8 {
                let id = self.pick_live();
                let v = self.live[&id] + 1;
                self.live.insert(id, v);
                let body = if v.is_multiple_of(3) {
                    "NULL".to_string()
                } else {
                    format!("'edited {v} times'")
                };
                sql.push_str(&format!(
                    "UPDATE items SET name = '{}', body = {body}, qty = qty + 1 WHERE id = {id};",
                    name_of(id, v)
                ));
            } else {
                let id = self.pick_live();
                let v = self.live.remove(&id).unwrap();
                self.deleted.insert(id, v);
                sql.push_str(&format!("DELETE FROM items WHERE id = {id};"));
            }
            self.changes += 1;
        }
        sql.push_str("COMMIT;");
        sql
    }
}

/// The table as JSON rows keyed by id, in the shape the sinks store them (numerics as
/// exact decimal strings, as Debezium's `decimal.handling.mode=precise` decodes them).
pub async fn table_rows(db: &Client) -> BTreeMap<i64, Value> {
    db.query("SELECT id, name, body, price::text, qty FROM items", &[])
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            let id: i64 = r.get(0);
            let row = json!({
                "id": id,
                "name": r.get::<_, String>(1),
                "body": r.get::<_, Option<String>>(2),
                "price": r.get::<_, Option<String>>(3),
                "qty": r.get::<_, Option<i32>>(4),
            });
            (id, row)
        })
        .collect()
}

/// Differences between the cache (`public.items:<id>` JSON strings) and the table, at
/// most `limit` of them; empty when equal key by key.
pub fn cache_diff(redis: &mut Redis, rows: &BTreeMap<i64, Value>, limit: usize) -> Vec<String> {
    let keys = redis.keys("public.items:*");
    let values = redis.get_all(&keys);
    cache_diff_of(keys.into_iter().zip(values).collect(), rows, limit)
}

/// Differences between cached `public.items:<id>` keys and their values, and the table.
pub fn cache_diff_of(
    cache: BTreeMap<String, Option<String>>,
    rows: &BTreeMap<i64, Value>,
    limit: usize,
) -> Vec<String> {
    let mut cached = BTreeMap::new();
    let mut diffs = Vec::new();
    for (k, v) in cache {
        let id: i64 = k.trim_start_matches("public.items:").parse().unwrap_or(-1);
        let parsed: Value = v.as_deref().map_or(Value::Null, |s| {
            serde_json::from_str(s).unwrap_or(Value::Null)
        });
        cached.insert(id, parsed);
    }
    for (id, row) in rows {
        match cached.get(id) {
            None => diffs.push(format!("{id}: missing from the cache")),
            Some(c) if c != row => diffs.push(format!("{id}: cache has {c}, table has {row}")),
            _ => {}
        }
    }
    for id in cached.keys().filter(|id| !rows.contains_key(id)) {
        diffs.push(format!("{id}: in the cache but not in the table"));
    }
    diffs.truncate(limit);
    diffs
}

/// Searches the embedded index; returns the documents found (each hit's `_source`).
pub fn search(api: &str, index: &str, q: &str) -> Vec<Value> {
    let path = format!(
        "/indexes/{}/search?q={}&limit=10",
        encode_segment(index),
        encode_segment(q)
    );
    let r = get(api, &path);
    assert_eq!(r.status, 200, "{path}: {r:?}");
    r.json()["hits"]
        .as_array()
        .map(|hits| hits.iter().map(|h| h["_source"].clone()).collect())
        .unwrap_or_default()
}

/// Differences between the index and the table: each live row must be found by its unique
/// token with the table's values, and each deleted row's last token must find nothing.
/// Searches run on `threads` threads.
pub fn index_diff(
    api: &str,
    index: &str,
    rows: &BTreeMap<i64, Value>,
    deleted: &BTreeMap<i64, u32>,
    limit: usize,
) -> Vec<String> {
    let live: Vec<(i64, Value)> = rows.iter().map(|(k, v)| (*k, v.clone())).collect();
    let gone: Vec<(i64, u32)> = deleted.iter().map(|(k, v)| (*k, *v)).collect();
    let threads = 4;
    let per = live.len().div_ceil(threads).max(1);
    let per_gone = gone.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let live = live.chunks(per).nth(t).unwrap_or(&[]);
                let gone = gone.chunks(per_gone).nth(t).unwrap_or(&[]);
                s.spawn(move || {
                    let mut diffs = Vec::new();
                    for (id, row) in live {
                        let name = row["name"].as_str().unwrap();
                        let hits = search(api, index, name);
                        let found = hits.iter().find(|h| h["id"] == json!(id));
                        match found {
                            None => diffs.push(format!("{id}: `{name}` finds {hits:?}")),
                            Some(h) => {
                                for f in ["name", "body", "price", "qty"] {
                                    if h[f] != row[f] {
                                        diffs.push(format!("{id}: index has {h}, table has {row}"));
                                        break;
                                    }
                                }
                            }
                        }
                        if diffs.len() >= limit {
                            break;
                        }
                    }
                    for (id, v) in gone {
                        let hits = search(api, index, &name_of(*id, *v));
                        if hits.iter().any(|h| h["id"] == json!(id)) {
                            diffs.push(format!("{id}: deleted, but its last text still finds it"));
                        }
                        if diffs.len() >= limit {
                            break;
                        }
                    }
                    diffs
                })
            })
            .collect();
        let mut all: Vec<String> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        all.truncate(limit);
        all
    })
}

/// A sample of connector `name` from `/metrics` (`tributary_<family>{connector="<name>"}`),
/// if present.
pub fn job_metric(api: &str, name: &str, family: &str) -> Option<u64> {
    let body = super::api::get(api, "/metrics").body;
    let prefix = format!("tributary_{family}{{connector=\"{name}\"}} ");
    body.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
}

/// The sum of a sink's committed offsets (`GET …/offsets`).
pub fn committed(api: &str, name: &str) -> i64 {
    let r = get(api, &super::api::connector_path(name, "/offsets"));
    assert_eq!(r.status, 200, "{r:?}");
    r.json()["offsets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["offset"]["kafka_offset"].as_i64().unwrap_or(0))
        .sum()
}

/// Differences between an Elasticsearch/OpenSearch index (`base` is `http://host:port`)
/// and the table: every live row's `_source` must equal the row; with `deleted`, each
/// deleted row must be gone. At most `limit` of them.
pub fn opensearch_diff(
    base: &str,
    index: &str,
    rows: &BTreeMap<i64, Value>,
    deleted: Option<&BTreeMap<i64, u32>>,
    limit: usize,
) -> Vec<String> {
    let mut diffs = Vec::new();
    let mut ids: Vec<i64> = rows.keys().copied().collect();
    if let Some(deleted) = deleted {
        ids.extend(deleted.keys());
    }
    for chunk in ids.chunks(500) {
        let body = json!({"ids": chunk.iter().map(|id| id.to_string()).collect::<Vec<_>>()});
        let r = super::api::post(base, &format!("/{index}/_mget"), &body);
        let docs = r.json()["docs"].as_array().cloned().unwrap_or_default();
        if docs.len() != chunk.len() {
            diffs.push(format!(
                "_mget answered {} of {} docs: {r:?}",
                docs.len(),
                chunk.len()
            ));
            break;
        }
        for (id, doc) in chunk.iter().zip(docs) {
            match rows.get(id) {
                Some(row) if doc["_source"] != *row => diffs.push(format!(
                    "{id}: index has {}, table has {row}",
                    doc["_source"]
                )),
                None if doc["found"] == json!(true) => diffs.push(format!(
                    "{id}: deleted, but the index has {}",
                    doc["_source"]
                )),
                _ => {}
            }
        }
        if diffs.len() >= limit {
            break;
        }
    }
    diffs.truncate(limit);
    diffs
}

/// How long sinks get to catch up after the stream ends.
pub const CATCH_UP: Duration = Duration::from_secs(180);

/// Waits (up to [`CATCH_UP`]) until the cache equals the table; panics with the first
/// differences and `log()` otherwise.
pub async fn cache_converges(
    redis: &mut Redis,
    rows: &BTreeMap<i64, Value>,
    log: impl Fn() -> String,
) {
    cache_converges_with(|| cache_diff(redis, rows, 5), log).await
}

/// Waits (up to [`CATCH_UP`]) until `diff()` finds no difference; panics with the last
/// differences and `log()` otherwise.
pub async fn cache_converges_with(mut diff: impl FnMut() -> Vec<String>, log: impl Fn() -> String) {
    let deadline = std::time::Instant::now() + CATCH_UP;
    loop {
        let diffs = diff();
        if diffs.is_empty() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the cache does not equal the table: {diffs:#?}\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A connection that runs the SQL sent to it, one transaction after the other, so that a
/// test can pace a stream of changes while it kills and restarts daemons.
pub fn sql_writer(
    url: String,
) -> (
    tokio::sync::mpsc::Sender<String>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(4);
    let writer = tokio::spawn(async move {
        let (db, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        while let Some(sql) = rx.recv().await {
            db.batch_execute(&sql).await.unwrap();
        }
    });
    (tx, writer)
}

/// A daemon with a Postgres source and sink jobs on its topics, and the targets they
/// write: a broker, a Redis server and an OpenSearch node of the test's own. Dropped in
/// field order: the daemon first, the services it talks to after it.
pub struct SyncRig {
    pub daemon: super::daemon::Daemon,
    pub api: String,
    pub node: super::opensearch::OpenSearch,
    pub redis: super::redis::RedisServer,
    _dir: tempfile::TempDir,
    _broker: super::kafka::Broker,
}

impl SyncRig {
    /// Starts the services and the daemon, creates `source` and the sinks that
    /// `sinks(redis_url, opensearch_url)` returns, and waits until every one named in
    /// `names` runs.
    pub async fn start(
        source: &Value,
        sinks: impl FnOnce(&str, &str) -> Vec<Value>,
        names: &[&str],
    ) -> SyncRig {
        let broker = super::kafka::Broker::start();
        let redis = super::redis::RedisServer::start();
        let node = super::opensearch::OpenSearch::start();
        let dir = tempfile::tempdir().unwrap();
        let daemon = super::daemon::Daemon::start_with(
            dir.path(),
            super::daemon::DaemonOptions::new(&broker.bootstrap),
        );
        let api = daemon.api.clone();
        let r = super::api::post(&api, "/connectors", source);
        assert_eq!(r.status, 201, "{r:?}\n{}", daemon.log());
        for sink in sinks(&redis.url(), &node.url) {
            let r = super::api::post(&api, "/connectors", &sink);
            assert_eq!(r.status, 201, "{r:?}\n{}", daemon.log());
        }
        for name in names {
            super::api::wait_status(&api, name, "RUNNING", &["RUNNING"], Duration::from_secs(60))
                .await;
        }
        SyncRig {
            daemon,
            api,
            node,
            redis,
            _dir: dir,
            _broker: broker,
        }
    }
}
