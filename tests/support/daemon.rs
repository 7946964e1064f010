//! `tributary serve` as a child process with its own data dir, ports and connector file.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::kafka::http;
use super::pg::free_port;

pub struct Daemon {
    pub child: Child,
    pub api: String,
    pub registry: String,
    pub stderr: Arc<Mutex<String>>,
    pub dir: PathBuf,
    config: PathBuf,
    connector: PathBuf,
    registry_port: Option<u16>,
    api_port: u16,
}

/// Where the daemon gets its schema registry.
pub enum RegistryChoice {
    /// The embedded one, on a fresh port.
    Embedded,
    /// An external URL (e.g. another daemon's embedded registry).
    External(String),
}

impl Daemon {
    /// Writes `tributary.toml` and the connector into `dir` and starts the daemon.
    pub fn start(
        dir: &Path,
        bootstrap: &str,
        registry: RegistryChoice,
        connector: &serde_json::Value,
    ) -> Daemon {
        std::fs::create_dir_all(dir).unwrap();
        let api_port = free_port();
        let (registry_port, registry_url) = match registry {
            RegistryChoice::Embedded => {
                let p = free_port();
                (Some(p), format!("http://127.0.0.1:{p}"))
            }
            RegistryChoice::External(u) => (None, u),
        };
        let config = dir.join("tributary.toml");
        let registry_section = match registry_port {
            Some(p) => format!("url = \"\"\nlisten = \"127.0.0.1:{p}\""),
            None => format!("url = \"{registry_url}\""),
        };
        std::fs::write(
            &config,
            format!(
                "data_dir = \"{}\"\n[api]\nlisten = \"127.0.0.1:{api_port}\"\n[kafka]\nbootstrap_servers = \"{bootstrap}\"\noffsets_topic_partitions = 3\n[schema_registry]\n{registry_section}\n",
                dir.join("data").display()
            ),
        )
        .unwrap();
        let name = connector["name"].as_str().unwrap();
        let connector_file = dir.join(format!("{name}.json"));
        std::fs::write(
            &connector_file,
            serde_json::to_vec_pretty(connector).unwrap(),
        )
        .unwrap();
        let mut d = Daemon {
            child: spawn(&config, &connector_file),
            api: format!("http://127.0.0.1:{api_port}"),
            registry: registry_url,
            stderr: Arc::default(),
            dir: dir.to_path_buf(),
            config,
            connector: connector_file,
            registry_port,
            api_port,
        };
        d.collect();
        d.wait_ready();
        d
    }

    fn collect(&mut self) {
        let err = self.child.stderr.take().unwrap();
        let sink = self.stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if std::env::var("TEST_DAEMON_LOG").is_ok() {
                    eprintln!("daemon: {line}");
                }
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.stderr.lock().unwrap().contains("tributary ready") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "daemon did not start:\n{}",
                self.stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts the daemon again with the same config and connector.
    pub fn restart(&mut self) {
        let _ = self.child.wait();
        self.stderr.lock().unwrap().push_str("--- restart ---\n");
        self.child = spawn(&self.config, &self.connector);
        self.collect();
        // Wait for a ready line after the restart marker.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let s = self.stderr.lock().unwrap().clone();
            if s.rsplit("--- restart ---")
                .next()
                .unwrap_or("")
                .contains("tributary ready")
            {
                return;
            }
            assert!(Instant::now() < deadline, "daemon did not restart:\n{s}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a clean exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "daemon did not stop on SIGTERM:\n{}",
                self.stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The connector's task status JSON.
    pub fn status(&self, name: &str) -> serde_json::Value {
        http(
            "GET",
            &format!("{}/connectors/{name}/status", self.api),
            None,
        )
        .1
    }

    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn ports(&self) -> (u16, Option<u16>) {
        (self.api_port, self.registry_port)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(config: &Path, connector: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tributary"))
        .arg("serve")
        .arg("--config")
        .arg(config)
        .arg("--connector")
        .arg(connector)
        .env("RUST_BACKTRACE", "1")
        .env_remove("TRIBUTARY__KAFKA__BOOTSTRAP_SERVERS")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tributary serve")
}
