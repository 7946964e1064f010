//! Test support: a throwaway `redis-server` per test, a small inspecting client, and
//! builders for change records.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value as Json, json};
use tributary_cache::resp::Reply;
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

/// A connection for looking at what the sink wrote.
pub struct Client(pub Connection);

fn text(reply: Reply) -> Option<String> {
    match reply {
        Reply::Bulk(Some(b)) => Some(String::from_utf8(b).expect("utf-8")),
        Reply::Status(s) => Some(s),
        Reply::Bulk(None) => None,
        other => panic!("expected a string, got {other:?}"),
    }
}

fn strings(reply: Reply) -> Vec<String> {
    match reply {
        Reply::Array(Some(items)) => items.into_iter().filter_map(text).collect(),
        other => panic!("expected an array, got {other:?}"),
    }
}

impl Client {
    pub async fn cmd(&mut self, args: &[&str]) -> Reply {
        self.0.command(args).await.expect("test command")
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
        let flat = strings(self.cmd(&["HGETALL", key]).await);
        flat.chunks(2)
            .map(|kv| (kv[0].clone(), kv[1].clone()))
            .collect()
    }

    pub async fn ttl(&mut self, key: &str) -> i64 {
        match self.cmd(&["TTL", key]).await {
            Reply::Integer(n) => n,
            other => panic!("TTL answered {other:?}"),
        }
    }

    pub async fn int(&mut self, args: &[&str]) -> i64 {
        match self.cmd(args).await {
            Reply::Integer(n) => n,
            other => panic!("{args:?} answered {other:?}"),
        }
    }

    /// Every key except `except`, sorted.
    pub async fn keys(&mut self, except: &str) -> Vec<String> {
        let mut keys: Vec<String> = strings(self.cmd(&["KEYS", "*"]).await)
            .into_iter()
            .filter(|k| k != except)
            .collect();
        keys.sort();
        keys
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
