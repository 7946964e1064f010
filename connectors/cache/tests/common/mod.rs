//! Test support: a throwaway `redis-server` per test, a small inspecting client, and
//! builders for change records.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::Value;
use serde_json::{Map, Value as Json, json};
use tributary_cache::keys::key_of_version;
use tributary_cache::{ConnectParams, Connection, RedisSinkConfig};
use tributary_core::{Lsn, Position, RowKey, RowSchema, SinkOp, SinkRecord, TableRef};

const REDIS_SERVER: &str = "/usr/bin/redis-server";

/// A `redis-server` on its own port, without persistence; killed on drop.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    args: Vec<String>,
    dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    listener.local_addr().expect("local addr").port()
}

impl RedisServer {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts with extra `redis-server` arguments (e.g. `["--requirepass", "pw"]`).
    pub fn start_with(args: &[&str]) -> Self {
        let mut server = RedisServer {
            child: None,
            port: 0,
            args: args.iter().map(|s| s.to_string()).collect(),
            dir: tempfile::tempdir().expect("temp dir"),
        };
        for _ in 0..5 {
            server.port = free_port();
            if server.spawn() {
                return server;
            }
        }
        panic!("could not start redis-server");
    }

    /// Starts the server on `self.port`; false when it exited (port taken).
    fn spawn(&mut self) -> bool {
        // Redis creates its Unix socket after binding the TCP port: the socket in our own
        // directory tells our server from another one that took the port first.
        let socket = self.dir.path().join("redis.sock");
        let _ = std::fs::remove_file(&socket);
        let port = self.port.to_string();
        let mut cmd = Command::new(REDIS_SERVER);
        cmd.args([
            "--port",
            &port,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(self.dir.path())
        .arg("--unixsocket")
        .arg(&socket)
        .args(&self.args)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        let mut child = cmd.spawn().expect("run /usr/bin/redis-server");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return false;
            }
            if socket.exists() && TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                self.child = Some(child);
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server did not listen on port {port} within 10 s");
    }

    /// SIGKILL: connections drop, nothing is saved.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts again on the same port (empty: nothing was persisted).
    pub fn restart(&mut self) {
        self.kill();
        assert!(
            self.spawn(),
            "redis-server did not restart on port {}",
            self.port
        );
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// A sink config for this server: `props` on top of `redis.url`.
    pub fn config(&self, props: Json) -> RedisSinkConfig {
        let mut map = Map::new();
        map.insert("redis.url".into(), json!(self.url()));
        map.extend(props.as_object().cloned().unwrap_or_default());
        RedisSinkConfig::parse("test-cache", &map, &[]).expect("valid test config")
    }

    pub async fn client(&self) -> Client {
        self.client_with(ConnectParams::local(self.port)).await
    }

    pub async fn client_with(&self, params: ConnectParams) -> Client {
        Client(
            Connection::connect(&params)
                .await
                .expect("connect test client"),
        )
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A Redis Sentinel monitoring the master at `master_port` as `mymaster` (quorum 1);
/// killed on drop.
pub struct Sentinel {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Sentinel {
    pub fn start(master_port: u16) -> Sentinel {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let conf = dir.path().join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\nsentinel monitor mymaster 127.0.0.1 {master_port} 1\nsentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 5000\n"
            ),
        )
        .expect("write sentinel.conf");
        let child = Command::new(REDIS_SERVER)
            .arg(&conf)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run redis-server --sentinel");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "sentinel did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Sentinel {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

/// Waits for `cond` with a deadline.
pub async fn wait_for<F: AsyncFnMut() -> bool>(what: &str, mut cond: F) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
