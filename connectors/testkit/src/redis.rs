//! Throwaway `redis-server`s on free ports, without persistence unless asked (arguments
//! given later win), and Sentinels. `REDIS_SERVER` names the binary (default
//! `redis-server` on `PATH`).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

fn redis_bin() -> String {
    std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into())
}

/// A `redis-server`, killed on drop.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    /// The TLS port, when the server serves TLS too (`--tls-port` among its arguments).
    pub tls_port: Option<u16>,
    args: Vec<String>,
    dir: tempfile::TempDir,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        Self::start_with(&[])
    }

    /// Starts with extra arguments after the defaults (`--save "" --appendonly no`), e.g.
    /// `["--requirepass", "pw"]` or `["--appendonly", "yes"]`.
    pub fn start_with(args: &[&str]) -> RedisServer {
        let tls_port = args
            .iter()
            .position(|a| *a == "--tls-port")
            .and_then(|i| args.get(i + 1))
            .and_then(|p| p.parse().ok());
        let mut server = RedisServer {
            child: None,
            port: 0,
            tls_port,
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

    /// Starts the server on `self.port`; false when it exited (the port was taken).
    fn spawn(&mut self) -> bool {
        // Redis creates its Unix socket after binding the TCP port: the socket in our own
        // directory tells our server from another one that took the port first.
        let socket = self.dir.path().join("redis.sock");
        let _ = std::fs::remove_file(&socket);
        let port = self.port.to_string();
        let mut child = Command::new(redis_bin())
            .args([
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
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("could not start redis-server (apt-get install redis-server): {e}")
            });
        let deadline = Instant::now() + Duration::from_secs(20);
        let listening = |p: u16| std::net::TcpStream::connect(("127.0.0.1", p)).is_ok();
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return false;
            }
            if socket.exists() && listening(self.port) && self.tls_port.is_none_or(listening) {
                self.child = Some(child);
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server did not listen on port {port} within 20 s");
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
        assert!(
            self.spawn(),
            "redis-server did not restart on port {}",
            self.port
        );
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill9();
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
        let child = Command::new(redis_bin())
            .arg(&conf)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run redis-server --sentinel");
        crate::wait_listening("sentinel", port, Duration::from_secs(10));
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
