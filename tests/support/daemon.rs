//! `tributary serve` as a child process with its own data dir, ports and (optionally)
//! connector files. Connectors created over the REST API live in the data dir, so a
//! restart brings them back without files.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::api;
use tributary_testkit::free_port;

/// The line the daemon logs once its API serves.
const READY: &str = "tributary ready";
/// Written into the collected log before each restart.
const RESTART_MARK: &str = "--- restart ---";

pub struct Daemon {
    pub child: Child,
    /// `http://127.0.0.1:<port>`, whatever address the API listens on.
    pub api: String,
    pub registry: String,
    pub stderr: Arc<Mutex<String>>,
    pub dir: PathBuf,
    config: PathBuf,
    connectors: Vec<PathBuf>,
    registry_port: Option<u16>,
    api_port: u16,
}

/// Where the daemon gets its schema registry.
#[derive(Clone, Default)]
pub enum RegistryChoice {
    /// The embedded one, on a fresh port.
    #[default]
    Embedded,
    /// An external URL (e.g. another daemon's embedded registry).
    External(String),
}

/// Everything `Daemon::start_with` writes into `tributary.toml` and passes on the command line.
#[derive(Clone, Default)]
pub struct DaemonOptions {
    pub bootstrap: String,
    pub registry: RegistryChoice,
    /// Written as `--connector` files; may be empty (connectors then come over REST).
    pub connectors: Vec<serde_json::Value>,
    /// `[api] listen`; default `127.0.0.1:<free port>`. The port is what tests connect to.
    pub listen: Option<String>,
    /// Lines added to the `[api]` table, e.g. `auth = "bearer"\ntoken = "…"`.
    pub api_toml: String,
    /// Lines of a `[log]` table, e.g. `level = "debug"`.
    pub log_toml: String,
    /// Lines added to the `[kafka]` table, e.g. `"security.protocol" = "SASL_SSL"`.
    pub kafka_toml: String,
    /// Lines added to the `[schema_registry]` table, e.g. `auth = "basic"`.
    pub registry_toml: String,
    /// The embedded registry's listen host; default `127.0.0.1`.
    pub registry_host: Option<String>,
    /// Appended after every table (top-level keys are not allowed here: use new tables).
    pub extra_toml: String,
}

impl DaemonOptions {
    pub fn new(bootstrap: &str) -> DaemonOptions {
        DaemonOptions {
            bootstrap: bootstrap.to_string(),
            ..DaemonOptions::default()
        }
    }
}

impl Daemon {
    /// Writes `tributary.toml` and the connector into `dir` and starts the daemon.
    pub fn start(
        dir: &Path,
        bootstrap: &str,
        registry: RegistryChoice,
        connector: &serde_json::Value,
    ) -> Daemon {
        Daemon::start_with(
            dir,
            DaemonOptions {
                registry,
                connectors: vec![connector.clone()],
                ..DaemonOptions::new(bootstrap)
            },
        )
    }

    /// Starts the daemon and waits until its API serves; panics with the log otherwise.
    pub fn start_with(dir: &Path, opts: DaemonOptions) -> Daemon {
        match Daemon::try_start(dir, opts) {
            Ok(d) => d,
            Err((status, log)) => panic!("daemon did not start ({status}):\n{log}"),
        }
    }

    /// Starts the daemon; `Err((exit status, log))` when it exits before it is ready.
    pub fn try_start(
        dir: &Path,
        opts: DaemonOptions,
    ) -> Result<Daemon, (std::process::ExitStatus, String)> {
        std::fs::create_dir_all(dir).unwrap();
        let listen = opts
            .listen
            .clone()
            .unwrap_or_else(|| format!("127.0.0.1:{}", free_port()));
        let api_port: u16 = listen
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("listen is host:port");
        let (registry_port, registry_url) = match opts.registry {
            RegistryChoice::Embedded => {
                let p = free_port();
                (Some(p), format!("http://127.0.0.1:{p}"))
            }
            RegistryChoice::External(u) => (None, u),
        };
        let registry_section = match registry_port {
            Some(p) => format!(
                "url = \"\"\nlisten = \"{}:{p}\"",
                opts.registry_host.as_deref().unwrap_or("127.0.0.1")
            ),
            None => format!("url = \"{registry_url}\""),
        };
        let mut toml = format!(
            "data_dir = \"{}\"\n[api]\nlisten = \"{listen}\"\n{}\n[kafka]\nbootstrap_servers = \"{}\"\noffsets_topic_partitions = 3\n{}\n[schema_registry]\n{registry_section}\n{}\n",
            dir.join("data").display(),
            opts.api_toml,
            opts.bootstrap,
            opts.kafka_toml,
            opts.registry_toml,
        );
        if !opts.log_toml.is_empty() {
            toml.push_str(&format!("[log]\n{}\n", opts.log_toml));
        }
        toml.push_str(&opts.extra_toml);
        toml.push('\n');
        let config = dir.join("tributary.toml");
        std::fs::write(&config, toml).unwrap();
        let connectors: Vec<PathBuf> = opts
            .connectors
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let file = dir.join(format!("connector-{i}.json"));
                std::fs::write(&file, serde_json::to_vec_pretty(c).unwrap()).unwrap();
                file
            })
            .collect();
        let mut d = Daemon {
            child: spawn(&config, &connectors),
            api: format!("http://127.0.0.1:{api_port}"),
            registry: registry_url,
            stderr: Arc::default(),
            dir: dir.to_path_buf(),
            config,
            connectors,
            registry_port,
            api_port,
        };
        d.collect();
        d.wait_ready()?;
        Ok(d)
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

    /// Waits for the ready line of the current run (after the last restart marker).
    fn wait_ready(&mut self) -> Result<(), (std::process::ExitStatus, String)> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let log = self.log();
            if log
                .rsplit(RESTART_MARK)
                .next()
                .unwrap_or("")
                .contains(READY)
            {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader thread take the last lines.
                std::thread::sleep(Duration::from_millis(200));
                return Err((status, self.log()));
            }
            assert!(
                Instant::now() < deadline,
                "daemon was not ready within 60 s:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts the daemon again with the same config (and connector files, if any). It
    /// must have exited (kill9, terminate).
    pub fn restart(&mut self) {
        let _ = self.child.wait();
        self.stderr.lock().unwrap().push_str(RESTART_MARK);
        self.stderr.lock().unwrap().push('\n');
        self.child = spawn(&self.config, &self.connectors);
        self.collect();
        if let Err((status, log)) = self.wait_ready() {
            panic!("daemon did not restart ({status}):\n{log}");
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

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The connector's status JSON.
    pub fn status(&self, name: &str) -> serde_json::Value {
        api::get(
            &self.api,
            &format!("/connectors/{}/status", api::encode_segment(name)),
        )
        .json()
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

fn spawn(config: &Path, connectors: &[PathBuf]) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tributary"));
    cmd.arg("serve").arg("--config").arg(config);
    for c in connectors {
        cmd.arg("--connector").arg(c);
    }
    cmd.env("RUST_BACKTRACE", "1")
        .env_remove("TRIBUTARY__KAFKA__BOOTSTRAP_SERVERS")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tributary serve")
}
