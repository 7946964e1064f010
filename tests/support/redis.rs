//! Throwaway Redis servers on free ports: a plain one (nothing kept on disk), one that
//! also serves TLS, and a Redis Cluster of masters that persist every write (so a master
//! killed with SIGKILL and started again loses nothing it acknowledged); and a small
//! blocking client that pipelines commands, for reading a whole cache back.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::pg::free_port;
use super::tls::Pki;

fn redis_bin() -> String {
    std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into())
}

pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    /// The TLS port, when the server serves TLS too.
    pub tls_port: Option<u16>,
    args: Vec<String>,
    dir: tempfile::TempDir,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        Self::start_with(&["--save", "", "--appendonly", "no"], None)
    }

    /// A server on a plain port and a TLS port with the certificate `pki` made for
    /// 127.0.0.1 and localhost; clients must present a certificate signed by its CA.
    pub fn start_tls(pki: &Pki) -> RedisServer {
        let tls_port = free_port();
        let (cert, key, ca) = (
            pki.path("server.crt"),
            pki.path("server.key"),
            pki.path("ca.pem"),
        );
        let port = tls_port.to_string();
        let args = [
            "--save",
            "",
            "--appendonly",
            "no",
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
        ];
        Self::start_with(&args, Some(tls_port))
    }

    fn start_with(args: &[&str], tls_port: Option<u16>) -> RedisServer {
        let mut server = RedisServer {
            child: None,
            port: free_port(),
            tls_port,
            args: args.iter().map(|s| s.to_string()).collect(),
            dir: tempfile::tempdir().unwrap(),
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let child = Command::new(redis_bin())
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("could not start redis-server (apt-get install redis-server): {e}")
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        let ports = [Some(self.port), self.tls_port];
        for port in ports.into_iter().flatten() {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "redis-server did not listen on {port}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// SIGKILL: connections drop; what is not on disk is gone.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts again on the same ports, with the same directory.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub fn client(&self) -> Redis {
        Redis::connect(self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A Redis Cluster of `n` masters without replicas, each persisting every write before
/// it answers (`appendfsync always`).
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    pub fn start(n: usize) -> RedisCluster {
        let args = [
            "--save",
            "",
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
        let nodes: Vec<RedisServer> = (0..n)
            .map(|_| RedisServer::start_with(&args, None))
            .collect();
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
                let info = node.client().cmd(&["CLUSTER", "INFO"]);
                if info.text().is_some_and(|t| t.contains("cluster_state:ok")) {
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
            let mut c = node.client();
            let keys = c.keys(glob);
            let values = c.get_all(&keys);
            all.extend(keys.into_iter().zip(values));
        }
        all
    }
}

/// A reply, as far as tests need one.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Nil,
    Int(i64),
    Text(String),
    Error(String),
    Array(Vec<Reply>),
}

impl Reply {
    pub fn text(&self) -> Option<&str> {
        match self {
            Reply::Text(s) => Some(s),
            _ => None,
        }
    }
}

pub struct Redis {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Redis {
    pub fn connect(port: u16) -> Redis {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("redis reachable");
        Redis {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
        }
    }

    /// Sends all commands, then reads all replies.
    pub fn pipeline(&mut self, cmds: &[Vec<String>]) -> Vec<Reply> {
        let mut out = Vec::new();
        for cmd in cmds {
            out.extend_from_slice(format!("*{}\r\n", cmd.len()).as_bytes());
            for arg in cmd {
                out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
                out.extend_from_slice(arg.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
        self.writer.write_all(&out).unwrap();
        cmds.iter().map(|_| self.read()).collect()
    }

    pub fn cmd(&mut self, args: &[&str]) -> Reply {
        let cmd: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        self.pipeline(&[cmd]).remove(0)
    }

    fn read(&mut self) -> Reply {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let line = line.trim_end_matches("\r\n");
        let (kind, rest) = line.split_at(1);
        match kind {
            "+" => Reply::Text(rest.to_string()),
            "-" => Reply::Error(rest.to_string()),
            ":" => Reply::Int(rest.parse().unwrap()),
            "$" => {
                let n: i64 = rest.parse().unwrap();
                if n < 0 {
                    return Reply::Nil;
                }
                let mut buf = vec![0; n as usize + 2];
                self.reader.read_exact(&mut buf).unwrap();
                buf.truncate(n as usize);
                Reply::Text(String::from_utf8(buf).unwrap())
            }
            "*" => {
                let n: i64 = rest.parse().unwrap();
                if n < 0 {
                    return Reply::Nil;
                }
                Reply::Array((0..n).map(|_| self.read()).collect())
            }
            other => panic!("unexpected reply type {other:?}"),
        }
    }

    /// Every key matching `pattern` (SCAN, so it does not block the server).
    pub fn keys(&mut self, pattern: &str) -> Vec<String> {
        let mut cursor = "0".to_string();
        let mut keys = Vec::new();
        loop {
            let Reply::Array(parts) =
                self.cmd(&["SCAN", &cursor, "MATCH", pattern, "COUNT", "1000"])
            else {
                panic!("SCAN failed");
            };
            cursor = parts[0].text().unwrap().to_string();
            if let Reply::Array(found) = &parts[1] {
                keys.extend(found.iter().filter_map(|k| k.text().map(str::to_string)));
            }
            if cursor == "0" {
                break;
            }
        }
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
            .map(|r| r.text().map(str::to_string))
            .collect()
    }
}
