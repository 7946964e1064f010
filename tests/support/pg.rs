//! A throwaway Postgres cluster: initdb into a temp dir, `wal_level=logical`, a free port.
//! When the tests run as root, the cluster runs as the `postgres` user.

use std::path::{Path, PathBuf};
use std::process::Command;

use tokio_postgres::{Client, NoTls};

pub struct PgCluster {
    pub dir: tempfile::TempDir,
    pub port: u16,
    bin: PathBuf,
}

/// Extra `postgresql.conf` lines and `pg_hba.conf` contents for a cluster.
#[derive(Clone)]
pub struct PgOptions {
    pub wal_level: &'static str,
    pub hba: &'static str,
    pub extra: Vec<String>,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            wal_level: "logical",
            hba: "local all all trust\nhost all all 127.0.0.1/32 trust\nlocal replication all trust\nhost replication all 127.0.0.1/32 trust\n",
            extra: Vec::new(),
        }
    }
}

impl PgOptions {
    /// Password (SCRAM) authentication over TCP, for tests of credentials.
    pub fn password_auth() -> Self {
        PgOptions {
            hba: "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\nhost replication all 127.0.0.1/32 scram-sha-256\n",
            ..PgOptions::default()
        }
    }
}

/// A cluster that checks passwords over TCP, with a database `app` holding a table
/// `items (id bigint PRIMARY KEY, v text)` and a role `cdc` (this password) that may
/// replicate.
pub async fn password_cluster(password: &str) -> (PgCluster, Client) {
    let pg = PgCluster::start_with(PgOptions::password_auth());
    let db = pg.create_db("app").await;
    db.batch_execute(&format!(
        "CREATE ROLE cdc LOGIN REPLICATION SUPERUSER PASSWORD '{password}';
         CREATE TABLE items (id bigint PRIMARY KEY, v text);"
    ))
    .await
    .unwrap();
    (pg, db)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn pg_bin() -> PathBuf {
    if let Ok(dir) = std::env::var("PG_BIN") {
        return dir.into();
    }
    for v in ["17", "16", "15", "14"] {
        let p = PathBuf::from(format!("/usr/lib/postgresql/{v}/bin"));
        if p.join("initdb").exists() {
            return p;
        }
    }
    PathBuf::from("/usr/local/bin")
}

/// Runs a Postgres tool, as the postgres user when we are root.
fn run(bin: &Path, tool: &str, args: &[&str]) -> std::process::Output {
    let exe = bin.join(tool);
    let out = if is_root() {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(&exe)
            .args(args)
            .output()
    } else {
        Command::new(&exe).args(args).output()
    };
    out.unwrap_or_else(|e| panic!("could not run {}: {e}", exe.display()))
}

pub use super::broker::free_port;

impl PgCluster {
    pub fn start() -> PgCluster {
        Self::start_with(PgOptions::default())
    }

    pub fn start_with(opts: PgOptions) -> PgCluster {
        let dir = tempfile::Builder::new()
            .prefix("tributary-pg-")
            .tempdir()
            .expect("temp dir");
        if is_root() {
            let _ = Command::new("chown")
                .arg("postgres")
                .arg(dir.path())
                .status();
        }
        let bin = pg_bin();
        let data = dir.path().join("data");
        let out = run(
            &bin,
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
        );
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let mut conf = format!(
            "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             wal_level = {}\nmax_replication_slots = 64\nmax_wal_senders = 64\nwal_sender_timeout = '10s'\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nshared_buffers = '128MB'\n\
             max_connections = 200\nlog_min_messages = warning\n",
            dir.path().display(),
            opts.wal_level
        );
        for line in &opts.extra {
            conf.push_str(line);
            conf.push('\n');
        }
        append(&data.join("postgresql.conf"), &conf);
        std::fs::write(data.join("pg_hba.conf"), opts.hba).expect("pg_hba.conf");
        let cluster = PgCluster { dir, port, bin };
        cluster.pg_ctl_start();
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn pg_ctl_start(&self) {
        let log = self.dir.path().join("postgres.log");
        let out = run(
            &self.bin,
            "pg_ctl",
            &[
                "-D",
                self.data().to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Stops the server immediately (like a crash) and starts it again.
    pub fn restart(&self) {
        self.stop();
        self.pg_ctl_start();
    }

    pub fn stop(&self) {
        let _ = run(
            &self.bin,
            "pg_ctl",
            &[
                "-D",
                self.data().to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }

    /// A libpq-style URL over the cluster's Unix socket (trusted whatever pg_hba says
    /// for TCP), for the tests' own connections.
    pub fn url(&self, db: &str) -> String {
        format!(
            "host={} port={} user=postgres dbname={db}",
            self.dir.path().display(),
            self.port
        )
    }

    pub async fn client(&self, db: &str) -> Client {
        let (client, conn) = tokio_postgres::connect(&self.url(db), NoTls)
            .await
            .unwrap_or_else(|e| panic!("connect to {db}: {e}"));
        tokio::spawn(async move {
            let _ = conn.await;
        });
        client
    }

    /// Creates a database and returns a client connected to it.
    pub async fn create_db(&self, db: &str) -> Client {
        let admin = self.client("postgres").await;
        admin
            .batch_execute(&format!("CREATE DATABASE \"{db}\""))
            .await
            .expect("create database");
        self.client(db).await
    }

    /// A connector config for database `db` with per-test slot and publication names.
    pub fn connector(&self, name: &str, db: &str, extra: serde_json::Value) -> serde_json::Value {
        let mut config = serde_json::json!({
            "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
            "database.hostname": "127.0.0.1",
            "database.port": self.port.to_string(),
            "database.user": "postgres",
            "database.password": "",
            "database.dbname": db,
            "database.sslmode": "disable",
            "plugin.name": "pgoutput",
            "slot.name": format!("{name}_slot"),
            "publication.name": format!("{name}_pub"),
            "topic.prefix": "cdc",
            "status.update.interval.ms": "200",
        });
        if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                c.insert(k.clone(), v.clone());
            }
        }
        serde_json::json!({"name": name, "config": config})
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open conf");
    f.write_all(text.as_bytes()).expect("write conf");
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.stop();
    }
}
