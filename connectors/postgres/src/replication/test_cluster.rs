//! A throwaway Postgres cluster per test, for the replication and admin tests.
//!
//! Each [`Cluster`] gets its own temporary directory and free port, so tests run in
//! parallel. It is `initdb`'d with SCRAM for the superuser and a `pg_hba.conf` that gives
//! each test role its own authentication method, started with `wal_level=logical` and a
//! short `wal_sender_timeout`, and stopped (`-m immediate`) and deleted on drop, also when
//! the test panics (the server log is printed then). As root, server commands run as the
//! `postgres` user through `runuser`.

use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tributary_core::Secret;

use crate::conn::{ConnectParams, SslMode, connect_query};

pub(crate) const SUPERUSER: &str = "postgres";
pub(crate) const SUPERUSER_PASSWORD: &str = "super-secret";

/// Test roles: (name, password, pg_hba method).
pub(crate) const ROLES: &[(&str, &str, &str)] = &[
    ("trust_user", "trust-pw", "trust"),
    ("clear_user", "clear-pw", "password"),
    ("md5_user", "md5-pw", "md5"),
    ("scram_user", "scram-pw", "scram-sha-256"),
];

pub(crate) struct Cluster {
    dir: tempfile::TempDir,
    pub port: u16,
    ssl: bool,
}

impl Cluster {
    /// Starts a cluster, or `None` (with a note) when Postgres or, for `ssl`, openssl is
    /// not installed.
    pub fn start(ssl: bool) -> Option<Cluster> {
        for tool in ["initdb", "pg_ctl"] {
            if !on_path(tool) {
                eprintln!("note: skipping: {tool} is not on PATH");
                return None;
            }
        }
        if ssl && !on_path("openssl") {
            eprintln!("note: skipping TLS test: openssl is not on PATH");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("tributary-repl-")
            .tempdir()
            .expect("create temp dir");
        let mut cluster = Cluster { dir, port: 0, ssl };
        if ssl {
            cluster.make_certificate();
        }
        std::fs::write(cluster.path("pwfile"), format!("{SUPERUSER_PASSWORD}\n")).unwrap();
        cluster.give_to_postgres();
        cluster.run_as_postgres(
            "initdb",
            &[
                "-D",
                &cluster.path("data").to_string_lossy(),
                "-U",
                SUPERUSER,
                "-A",
                "scram-sha-256",
                &format!("--pwfile={}", cluster.path("pwfile").display()),
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
        );
        let mut hba = String::from("local all all trust\n");
        if ssl {
            // Client-certificate authentication, with certificates from `make_certificate`.
            hba.push_str("hostssl all cert_user 127.0.0.1/32 cert\n");
        }
        for (role, _, method) in ROLES {
            hba.push_str(&format!("host all {role} 127.0.0.1/32 {method}\n"));
        }
        hba.push_str("host all all 127.0.0.1/32 scram-sha-256\n");
        std::fs::write(cluster.path("data/pg_hba.conf"), hba).unwrap();
        cluster.give_to_postgres();

        for attempt in 1..=3 {
            cluster.port = free_port();
            if cluster.try_start() {
                return Some(cluster);
            }
            eprintln!(
                "postgres did not start on port {} (attempt {attempt})",
                cluster.port
            );
        }
        panic!("postgres did not start; log:\n{}", cluster.log());
    }

    /// Creates the test roles (see [`ROLES`]), all with REPLICATION.
    pub async fn create_roles(&self) {
        let mut sql = String::new();
        for (role, password, method) in ROLES {
            let encryption = if *method == "md5" {
                "md5"
            } else {
                "scram-sha-256"
            };
            sql.push_str(&format!(
                "SET password_encryption = '{encryption}'; \
                 CREATE ROLE {role} LOGIN REPLICATION PASSWORD '{password}';"
            ));
        }
        self.execute(&sql).await;
    }

    /// Connection parameters over TCP to 127.0.0.1, without TLS.
    pub fn params(&self, user: &str, password: &str) -> ConnectParams {
        ConnectParams {
            host: "127.0.0.1".into(),
            port: self.port,
            user: user.into(),
            password: Secret::new(password),
            dbname: "postgres".into(),
            sslmode: SslMode::Disable,
            sslrootcert: None,
            sslcert: None,
            sslkey: None,
            sslpassword: tributary_core::Secret::default(),
            application_name: "tributary-test".into(),
            connect_timeout: Duration::from_secs(10),
            initial_statements: Vec::new(),
        }
    }

    pub fn superuser(&self) -> ConnectParams {
        self.params(SUPERUSER, SUPERUSER_PASSWORD)
    }

    /// The server certificate, which is also the root to trust (self-signed).
    pub fn certificate(&self) -> PathBuf {
        self.path("server.crt")
    }

    /// Runs SQL as the superuser through a query connection.
    pub async fn execute(&self, sql: &str) {
        let client = connect_query(&self.superuser())
            .await
            .expect("superuser connects");
        client.batch_execute(sql).await.expect(sql);
    }

    /// One text value from a query run as the superuser (`None` for no row or NULL).
    pub async fn query_value(&self, sql: &str) -> Option<String> {
        let client = connect_query(&self.superuser())
            .await
            .expect("superuser connects");
        let messages = client.simple_query(sql).await.expect(sql);
        messages.into_iter().find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("log")).unwrap_or_default()
    }

    fn try_start(&self) -> bool {
        let dir = self.dir.path().to_string_lossy().into_owned();
        let mut options = format!(
            "-p {} -c wal_level=logical -c max_replication_slots=20 -c max_wal_senders=20 \
             -c wal_sender_timeout=10s -c listen_addresses=127.0.0.1 \
             -c unix_socket_directories={dir} -c fsync=off -c shared_buffers=16MB \
             -c max_connections=50",
            self.port
        );
        if self.ssl {
            options.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={dir}/server.crt -c ssl_key_file={dir}/server.key \
                 -c ssl_ca_file={dir}/ca.crt"
            ));
        }
        let data = self.path("data").to_string_lossy().into_owned();
        let log = self.path("log").to_string_lossy().into_owned();
        let args = [
            "-D", &data, "-l", &log, "-w", "-t", "60", "-o", &options, "start",
        ];
        self.command_as_postgres("pg_ctl", &args)
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    /// A self-signed certificate for `localhost` (a DNS name only: connecting to
    /// 127.0.0.1 with verify-full must fail), and a CA that signs a client certificate for
    /// the role `cert_user`, its key in PEM (`client.key`) and in DER PKCS#8 (`client.pk8`),
    /// and encrypted with `s3cret` (`client-enc.pk8`, `client-enc.key`, `client-legacy.key`).
    fn make_certificate(&self) {
        let dir = self.dir.path();
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .output()
                .expect("run openssl");
            assert!(
                out.status.success(),
                "openssl {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let self_signed = |key: &str, cert: &str, subject: &str, extensions: &[&str]| {
            let mut args = vec![
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", subject,
                "-keyout", key, "-out", cert,
            ];
            for e in extensions {
                args.extend(["-addext", e]);
            }
            openssl(&args);
        };
        self_signed(
            "server.key",
            "server.crt",
            "/CN=localhost",
            &[
                "subjectAltName=DNS:localhost",
                "basicConstraints=critical,CA:FALSE",
            ],
        );
        self_signed(
            "ca.key",
            "ca.crt",
            "/CN=tributary test CA",
            &["basicConstraints=critical,CA:TRUE"],
        );
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=cert_user",
            "-keyout",
            "client.key",
            "-out",
            "client.csr",
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            "client.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            "client.crt",
        ]);
        openssl(&[
            "pkcs8",
            "-topk8",
            "-nocrypt",
            "-in",
            "client.key",
            "-outform",
            "DER",
            "-out",
            "client.pk8",
        ]);
        // The same key encrypted with the passphrase `s3cret`: DER PKCS#8 (pgjdbc's
        // sslpassword), PEM PKCS#8, and OpenSSL's traditional encrypted PEM (libpq's).
        let pass = "pass:s3cret";
        openssl(&[
            "pkcs8",
            "-topk8",
            "-in",
            "client.key",
            "-outform",
            "DER",
            "-out",
            "client-enc.pk8",
            "-passout",
            pass,
        ]);
        openssl(&[
            "pkcs8",
            "-topk8",
            "-in",
            "client.key",
            "-out",
            "client-enc.key",
            "-passout",
            pass,
        ]);
        openssl(&[
            "rsa",
            "-in",
            "client.key",
            "-aes256",
            "-traditional",
            "-out",
            "client-legacy.key",
            "-passout",
            pass,
        ]);
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            self.path("server.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }

    fn give_to_postgres(&self) {
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(self.dir.path())
                .status()
                .expect("run chown");
            assert!(status.success(), "chown failed");
        }
    }

    fn run_as_postgres(&self, program: &str, args: &[&str]) {
        let out = self
            .command_as_postgres(program, args)
            .output()
            .unwrap_or_else(|e| panic!("run {program}: {e}"));
        assert!(
            out.status.success(),
            "{program} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn command_as_postgres(&self, program: &str, args: &[&str]) -> Command {
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", program]);
            c
        } else {
            Command::new(program)
        };
        command.args(args).current_dir(self.dir.path());
        command.stdout(std::process::Stdio::null());
        command
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!(
                "--- postgres log (last lines, newest first) ---\n{}",
                tail.join("\n")
            );
        }
        let data = self.path("data").to_string_lossy().into_owned();
        let _ = self
            .command_as_postgres("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// Polls `check` until it yields a value, failing the test after `timeout`.
pub(crate) async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    listener.local_addr().expect("local addr").port()
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| is_executable(&dir.join(tool)))
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}
