//! Test support: the test kit's `redis-server` per test (`tributary_testkit::redis`), a
//! small inspecting client over the sink's own connection, and builders for change
//! records.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use redis::Value;
use serde_json::{Map, Value as Json, json};
use tributary_cache::keys::key_of_version;
use tributary_cache::{ConnectParams, Connection, RedisSinkConfig};
use tributary_core::{Lsn, Position, RowKey, RowSchema, SinkOp, SinkRecord, TableRef};

pub use tributary_testkit::redis::RedisServer;

/// What the cache tests do with a server: a sink config and an inspecting client.
#[allow(async_fn_in_trait)]
pub trait ServerExt {
    /// A sink config for this server: `props` on top of `redis.url`.
    fn config(&self, props: Json) -> RedisSinkConfig;
    async fn client(&self) -> Client;
    async fn client_with(&self, params: ConnectParams) -> Client;
}

impl ServerExt for RedisServer {
    fn config(&self, props: Json) -> RedisSinkConfig {
        let mut map = Map::new();
        map.insert("redis.url".into(), json!(self.url()));
        map.extend(props.as_object().cloned().unwrap_or_default());
        RedisSinkConfig::parse("test-cache", &map, &[]).expect("valid test config")
    }

    async fn client(&self) -> Client {
        self.client_with(ConnectParams::local(self.port)).await
    }

    async fn client_with(&self, params: ConnectParams) -> Client {
        Client(
            Connection::connect(&params)
                .await
                .expect("connect test client"),
        )
    }
}

/// The default `versions.prefix` of the tests' sink (named `test-cache`).
pub const PREFIX: &str = "tributary:v:test-cache";

/// A connection for looking at what the sink wrote.
pub struct Client(pub Connection);

fn text(reply: Value) -> Option<String> {
    match reply {
        Value::BulkString(b) => Some(String::from_utf8(b).expect("utf-8")),
        Value::SimpleString(s) => Some(s),
        Value::Okay => Some("OK".into()),
        Value::Nil => None,
        other => panic!("expected a string, got {other:?}"),
    }
}

fn strings(reply: Value) -> Vec<String> {
    match reply {
        Value::Array(items) => items.into_iter().filter_map(text).collect(),
        other => panic!("expected an array, got {other:?}"),
    }
}

impl Client {
    /// Runs a command; an error reply is an `Err` with its text.
    pub async fn try_cmd(&mut self, args: &[&str]) -> Result<Value, String> {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        self.0
            .query("test command", &cmd)
            .await
            .map_err(|e| e.to_string())
    }

    pub async fn cmd(&mut self, args: &[&str]) -> Value {
        self.try_cmd(args).await.expect("test command")
    }

    pub async fn get(&mut self, key: &str) -> Option<String> {
        text(self.cmd(&["GET", key]).await)
    }

    pub async fn get_json(&mut self, key: &str) -> Option<Json> {
        self.get(key)
            .await
            .map(|s| serde_json::from_str(&s).expect("a JSON value"))
    }

    pub async fn hgetall(&mut self, key: &str) -> BTreeMap<String, String> {
        let flat = match self.cmd(&["HGETALL", key]).await {
            Value::Map(pairs) => pairs
                .into_iter()
                .flat_map(|(k, v)| [text(k), text(v)])
                .flatten()
                .collect(),
            other => strings(other),
        };
        flat.chunks(2)
            .map(|kv| (kv[0].clone(), kv[1].clone()))
            .collect()
    }

    pub async fn ttl(&mut self, key: &str) -> i64 {
        self.int(&["TTL", key]).await
    }

    pub async fn int(&mut self, args: &[&str]) -> i64 {
        match self.cmd(args).await {
            Value::Int(n) => n,
            other => panic!("{args:?} answered {other:?}"),
        }
    }

    /// Every key, sorted.
    pub async fn all_keys(&mut self) -> Vec<String> {
        let mut keys = strings(self.cmd(&["KEYS", "*"]).await);
        keys.sort();
        keys
    }

    /// Every key not under `prefix` (the sink's own bookkeeping), sorted.
    pub async fn keys(&mut self, prefix: &str) -> Vec<String> {
        let mut keys = self.all_keys().await;
        keys.retain(|k| prefix.is_empty() || !k.starts_with(prefix));
        keys
    }

    /// The positions the sink keeps under `prefix`: cache key → position hex, and
    /// `__truncate__:<schema>.<table>` → the table's floor.
    pub async fn versions_under(&mut self, prefix: &str) -> BTreeMap<String, String> {
        let glob = format!("{prefix}:*");
        let vkeys = strings(self.cmd(&["KEYS", &glob]).await);
        let mut out = BTreeMap::new();
        let floors = format!("{prefix}:truncate:");
        for v in vkeys {
            let value = self.get(&v).await.expect("a position");
            let name = match v.strip_prefix(&floors) {
                Some(table) => format!("__truncate__:{table}"),
                None => key_of_version(prefix, &v).expect("a position key"),
            };
            out.insert(name, value);
        }
        out
    }

    /// [`Client::versions_under`] the tests' default prefix.
    pub async fn versions(&mut self) -> BTreeMap<String, String> {
        self.versions_under(PREFIX).await
    }

    /// How many position keys (floors included) there are under the default prefix.
    pub async fn position_keys(&mut self) -> usize {
        let glob = format!("{PREFIX}:*");
        strings(self.cmd(&["KEYS", &glob]).await).len()
    }
}

pub fn table(schema: &str, name: &str) -> Arc<TableRef> {
    Arc::new(TableRef {
        topic: format!("cdc.{schema}.{name}").into(),
        db: "shop".into(),
        schema: schema.into(),
        table: name.into(),
    })
}

pub fn pos(commit: u64, change: u64) -> Position {
    Position::new(Lsn(commit), Lsn(change))
}

pub fn id_key(id: i64) -> RowKey {
    RowKey(vec![("id".into(), json!(id))])
}

fn record(table: &Arc<TableRef>, at: Position, op: SinkOp, op_code: char) -> SinkRecord {
    SinkRecord {
        table: table.clone(),
        pos: at,
        op,
        op_code,
        source_ts_ms: 0,
        partition: 0,
        offset: 0,
    }
}

pub fn upsert_key(table: &Arc<TableRef>, at: Position, key: RowKey, doc: Json) -> SinkRecord {
    let doc = doc.as_object().cloned().expect("a JSON object row");
    let op = SinkOp::Upsert {
        key,
        doc,
        schema: Arc::new(RowSchema::default()),
        unchanged: Vec::new(),
    };
    record(table, at, op, 'u')
}

pub fn upsert(table: &Arc<TableRef>, at: Position, id: i64, doc: Json) -> SinkRecord {
    upsert_key(table, at, id_key(id), doc)
}

/// `rec` (an upsert) with `names` marked as unchanged TOASTed columns (left out of its doc).
pub fn with_unchanged(mut rec: SinkRecord, names: &[&str]) -> SinkRecord {
    if let SinkOp::Upsert { doc, unchanged, .. } = &mut rec.op {
        for n in names {
            doc.remove(*n);
            unchanged.push(n.to_string());
        }
    }
    rec
}

/// Upserts of `public.items` rows `from..to` at commit `commit` (`v` is the commit).
pub fn rows(from: i64, to: i64, commit: u64) -> Vec<SinkRecord> {
    let items = table("public", "items");
    (from..to)
        .map(|id| {
            upsert(
                &items,
                pos(commit, id as u64),
                id,
                json!({"id": id, "name": format!("item number {id}"), "price": id as f64 / 100.0, "stock": id % 17, "v": commit}),
            )
        })
        .collect()
}

pub fn delete(table: &Arc<TableRef>, at: Position, id: i64) -> SinkRecord {
    record(table, at, SinkOp::Delete { key: id_key(id) }, 'd')
}

pub fn truncate(table: &Arc<TableRef>, at: Position) -> SinkRecord {
    record(table, at, SinkOp::Truncate, 't')
}

/// Waits for `cond` with a deadline (the test kit's wait).
pub async fn wait_for<F: AsyncFnMut() -> bool>(what: &str, mut cond: F) {
    let timeout = std::time::Duration::from_secs(30);
    tributary_testkit::wait_for(what, timeout, async || cond().await.then_some(())).await
}
