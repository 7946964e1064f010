//! A throwaway Postgres cluster: `initdb` into a temp dir, `wal_level=logical`, a free port
//! (chosen again when another process takes it first), stopped `-m immediate` when dropped
//! (the tail of its log printed when the test panicked). As root, the server runs as the
//! `postgres` user through `runuser`. `PG_BIN` names the binaries' folder; otherwise the
//! newest `/usr/lib/postgresql/*/bin`, else `PATH`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::{free_port, is_root};

/// How a cluster is made.
#[derive(Clone, Debug)]
pub struct PgConfig {
    /// `pg_hba.conf`, whole.
    pub hba: String,
    /// Lines added to `postgresql.conf`.
    pub conf: Vec<String>,
    /// The superuser `postgres`'s password (SCRAM); `None`: initdb with trust.
    pub superuser_password: Option<String>,
    /// The temp dir's name prefix.
    pub prefix: &'static str,
}

/// Trust for every local and loopback connection, replication included.
pub const TRUST_HBA: &str = "local all all trust\nhost all all 127.0.0.1/32 trust\nlocal replication all trust\nhost replication all 127.0.0.1/32 trust\n";

impl Default for PgConfig {
    fn default() -> Self {
        PgConfig {
            hba: TRUST_HBA.into(),
            conf: Vec::new(),
            superuser_password: None,
            prefix: "tributary-pg-",
        }
    }
}

pub struct PgCluster {
    dir: tempfile::TempDir,
    pub port: u16,
    bin: PathBuf,
}

/// The folder of `initdb` and `pg_ctl`, or `None` when Postgres is not installed.
pub fn bin_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("PG_BIN") {
        return Some(dir.into());
    }
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dirs| {
            dirs.filter_map(|d| d.ok())
                .filter_map(|d| {
                    let v = d.file_name().to_str()?.parse().ok()?;
                    Some((v, d.path().join("bin")))
                })
                .collect()
        })
        .unwrap_or_default();
    debian.sort();
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    debian
        .into_iter()
        .rev()
        .map(|(_, p)| p)
        .chain(on_path)
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
}

impl PgCluster {
    /// A cluster with the defaults, started.
    pub fn start() -> PgCluster {
        Self::start_with(PgConfig::default())
    }

    /// A cluster made as `config` says, started.
    pub fn start_with(config: PgConfig) -> PgCluster {
        let mut cluster = Self::init(config).expect("Postgres is not installed (initdb, pg_ctl)");
        cluster.start_server();
        cluster
    }

    /// `initdb` and the configuration, not started (files may be added to [`Self::dir`],
    /// then [`Self::start_server`]); `None` when Postgres is not installed.
    pub fn init(config: PgConfig) -> Option<PgCluster> {
        let bin = bin_dir()?;
        let dir = tempfile::Builder::new()
            .prefix(config.prefix)
            .tempdir()
            .expect("temp dir");
        let cluster = PgCluster { dir, port: 0, bin };
        let data = cluster.path("data");
        let mut args: Vec<String> = [
            "-D",
            &data.to_string_lossy(),
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        match &config.superuser_password {
            None => args.extend(["-A".into(), "trust".into()]),
            Some(password) => {
                let pwfile = cluster.path("pwfile");
                std::fs::write(&pwfile, format!("{password}\n")).expect("write pwfile");
                args.extend([
                    "-A".into(),
                    "scram-sha-256".into(),
                    format!("--pwfile={}", pwfile.display()),
                ]);
            }
        }
        cluster.give_to_postgres();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = cluster.run("initdb", &args);
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut conf = format!(
            "listen_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             wal_level = logical\nmax_replication_slots = 64\nmax_wal_senders = 64\nwal_sender_timeout = '10s'\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nshared_buffers = '128MB'\n\
             max_connections = 200\nlog_min_messages = warning\n",
            cluster.dir.path().display()
        );
        for line in &config.conf {
            conf.push_str(line);
            conf.push('\n');
        }
        cluster.append_conf(&conf);
        std::fs::write(data.join("pg_hba.conf"), &config.hba).expect("pg_hba.conf");
        Some(cluster)
    }

    /// Adds lines to `postgresql.conf` (later settings win; read at the next start).
    pub fn append_conf(&self, text: &str) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.path("data/postgresql.conf"))
            .expect("postgresql.conf");
        writeln!(f, "{text}").expect("write postgresql.conf");
    }

    /// Hands the cluster's folder (and what was written in it) to the `postgres` user
    /// when the tests run as root.
    pub fn give_to_postgres(&self) {
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(self.dir.path())
                .status()
                .expect("run chown");
            assert!(status.success(), "chown failed");
        }
    }

    /// Starts the server for the first time, on a free port (another one when a process
    /// takes it first).
    pub fn start_server(&mut self) {
        for _ in 0..3 {
            self.port = free_port();
            if self.pg_ctl_start() {
                return;
            }
        }
        panic!("postgres did not start; log:\n{}", self.log());
    }

    fn pg_ctl_start(&self) -> bool {
        let data = self.path("data");
        let log = self.path("postgres.log");
        self.give_to_postgres();
        let out = self.run(
            "pg_ctl",
            &[
                "-D",
                &data.to_string_lossy(),
                "-l",
                &log.to_string_lossy(),
                "-o",
                &format!("-p {}", self.port),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        out.status.success()
    }

    /// Stops the server immediately (like a crash) and starts it again, on the same port.
    pub fn restart(&self) {
        self.stop();
        assert!(
            self.pg_ctl_start(),
            "postgres did not start again; log:\n{}",
            self.log()
        );
    }

    /// `pg_ctl stop -m immediate`.
    pub fn stop(&self) {
        let _ = self.run(
            "pg_ctl",
            &[
                "-D",
                &self.path("data").to_string_lossy(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }

    /// The cluster's folder (`data/`, `postgres.log`, files tests put there).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The server's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("postgres.log")).unwrap_or_default()
    }

    /// Runs a Postgres program of this installation, as `postgres` when we are root.
    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        let exe = self.bin.join(program);
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        command
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("could not run {}: {e}", exe.display()))
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!(
                "--- postgres log (last lines, newest first) ---\n{}",
                tail.join("\n")
            );
        }
        self.stop();
    }
}
