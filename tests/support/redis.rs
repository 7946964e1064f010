//! A throwaway Redis server on a free port (nothing kept on disk), and a small blocking
//! client that pipelines commands, for reading a whole cache back.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::pg::free_port;

pub struct RedisServer {
    child: Child,
    pub port: u16,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        let port = free_port();
        let bin = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let child = Command::new(&bin)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("could not start {bin} (apt-get install redis-server): {e}")
            });
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        RedisServer { child, port }
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
        let _ = self.child.kill();
        let _ = self.child.wait();
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
