//! Throwaway Redis servers for the daemon tests: the test kit's `redis-server`
//! (`tributary_testkit::redis`), one that also serves TLS, and a Redis Cluster of masters
//! that persist every write (so a master killed with SIGKILL and started again loses
//! nothing it acknowledged); and a blocking client (the `redis` crate's, which the cache
//! sink uses too) for reading a whole cache back.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use tributary_testkit::free_port;
pub use tributary_testkit::redis::RedisServer;

use super::tls::Pki;

fn redis_bin() -> String {
    std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into())
}

/// A server on a plain port and a TLS port with the certificate `pki` made for 127.0.0.1
/// and localhost; clients must present a certificate signed by its CA.
pub fn start_tls(pki: &Pki) -> RedisServer {
    let port = free_port().to_string();
    let (cert, key, ca) = (
        pki.path("server.crt"),
        pki.path("server.key"),
        pki.path("ca.pem"),
    );
    RedisServer::start_with(&[
        "--tls-port",
        &port,
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &key,
        "--tls-ca-cert-file",
        &ca,
        "--tls-auth-clients",
        "yes",
    ])
}

/// A blocking client of `server`.
pub fn client(server: &RedisServer) -> Redis {
    Redis::connect(server.port)
}

/// A Redis Cluster of `n` masters without replicas, each persisting every write before
/// it answers (`appendfsync always`).
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    pub fn start(n: usize) -> RedisCluster {
        let args = [
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            "2000",
        ];
        let nodes: Vec<RedisServer> = (0..n).map(|_| RedisServer::start_with(&args)).collect();
        let cli = redis_bin().replace("redis-server", "redis-cli");
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let out = Command::new(&cli)
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli (apt-get install redis-tools)");
        assert!(
            out.status.success(),
            "redis-cli --cluster create: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let cluster = RedisCluster { nodes };
        cluster.wait_ok();
        cluster
    }

    /// Waits until every node reports `cluster_state:ok`.
    pub fn wait_ok(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        for node in &self.nodes {
            loop {
                let info = client(node).cmd(&["CLUSTER", "INFO"]);
                if text(&info).is_some_and(|t| t.contains("cluster_state:ok")) {
                    break;
                }
                assert!(Instant::now() < deadline, "the cluster is not ok: {info:?}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    /// `redis://` seeds of every node, for `redis.url` with `redis.cluster`.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis://{}", hosts.join(","))
    }

    /// Every key matching `glob` on any node, with its string value.
    pub fn dump(&self, glob: &str) -> BTreeMap<String, Option<String>> {
        let mut all = BTreeMap::new();
        for node in &self.nodes {
            let mut c = client(node);
            let keys = c.keys(glob);
            let values = c.get_all(&keys);
            all.extend(keys.into_iter().zip(values));
        }
        all
    }
}

/// A reply, as far as tests need one.
pub type Reply = redis::Value;

/// A reply's text (a simple or bulk string), `None` for anything else.
pub fn text(reply: &Reply) -> Option<String> {
    match reply {
        redis::Value::SimpleString(s) => Some(s.clone()),
        redis::Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        redis::Value::VerbatimString { text, .. } => Some(text.clone()),
        _ => None,
    }
}

pub struct Redis(redis::Connection);

impl Redis {
    pub fn connect(port: u16) -> Redis {
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("url");
        Redis(client.get_connection().expect("redis reachable"))
    }

    /// Sends all commands, then reads all replies.
    pub fn pipeline(&mut self, cmds: &[Vec<String>]) -> Vec<Reply> {
        let mut pipe = redis::pipe();
        for c in cmds {
            let mut cmd = redis::cmd(&c[0]);
            for arg in &c[1..] {
                cmd.arg(arg);
            }
            pipe.add_command(cmd);
        }
        pipe.query(&mut self.0).expect("pipeline")
    }

    pub fn cmd(&mut self, args: &[&str]) -> Reply {
        let mut cmd = redis::cmd(args[0]);
        for arg in &args[1..] {
            cmd.arg(*arg);
        }
        cmd.query(&mut self.0)
            .unwrap_or_else(|e| redis::Value::SimpleString(format!("error: {e}")))
    }

    /// A command's reply as text (`None` for nil or anything else).
    pub fn text_of(&mut self, args: &[&str]) -> Option<String> {
        text(&self.cmd(args))
    }

    /// Every key matching `pattern` (SCAN, so it does not block the server).
    pub fn keys(&mut self, pattern: &str) -> Vec<String> {
        let mut keys: Vec<String> = redis::cmd("SCAN")
            .cursor_arg(0)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .clone()
            .iter(&mut self.0)
            .expect("SCAN")
            .map(|k| k.expect("SCAN"))
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// `GET` of each key, pipelined.
    pub fn get_all(&mut self, keys: &[String]) -> Vec<Option<String>> {
        keys.chunks(1000)
            .flat_map(|chunk| {
                let cmds: Vec<Vec<String>> = chunk
                    .iter()
                    .map(|k| vec!["GET".to_string(), k.clone()])
                    .collect();
                self.pipeline(&cmds)
            })
            .map(|r| text(&r))
            .collect()
    }
}
