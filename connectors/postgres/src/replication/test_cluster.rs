//! The replication and admin tests' Postgres: the test kit's throwaway cluster
//! (`tributary_testkit::pg`), `initdb`'d with SCRAM for the superuser and a `pg_hba.conf`
//! that gives each test role its own authentication method, with TLS certificates when
//! asked.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tributary_testkit::pg::{PgCluster, PgConfig};

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
    pg: PgCluster,
}

impl std::ops::Deref for Cluster {
    type Target = PgCluster;

    fn deref(&self) -> &PgCluster {
        &self.pg
    }
}

impl Cluster {
    /// Starts a cluster, or `None` (with a note) when Postgres or, for `ssl`, openssl is
    /// not installed.
    pub fn start(ssl: bool) -> Option<Cluster> {
        if ssl && !on_path("openssl") {
            eprintln!("note: skipping TLS test: openssl is not on PATH");
            return None;
        }
        let mut hba = String::from("local all all trust\n");
        if ssl {
            // Client-certificate authentication, with certificates from `make_certificate`.
            hba.push_str("hostssl all cert_user 127.0.0.1/32 cert\n");
        }
        for (role, _, method) in ROLES {
            hba.push_str(&format!("host all {role} 127.0.0.1/32 {method}\n"));
        }
        hba.push_str("host all all 127.0.0.1/32 scram-sha-256\n");
        let Some(pg) = PgCluster::init(PgConfig {
            hba,
            superuser_password: Some(SUPERUSER_PASSWORD.into()),
            prefix: "tributary-repl-",
            ..PgConfig::default()
        }) else {
            eprintln!("note: skipping: Postgres (initdb, pg_ctl) is not installed");
            return None;
        };
        let mut cluster = Cluster { pg };
        if ssl {
            cluster.make_certificate();
            let dir = cluster.dir().display().to_string();
            cluster.pg.append_conf(&format!(
                "ssl = on\nssl_cert_file = '{dir}/server.crt'\nssl_key_file = '{dir}/server.key'\nssl_ca_file = '{dir}/ca.crt'"
            ));
        }
        cluster.pg.start_server();
        Some(cluster)
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

    /// A self-signed certificate for `localhost` (a DNS name only: connecting to
    /// 127.0.0.1 with verify-full must fail), and a CA that signs a client certificate for
    /// the role `cert_user`, its key in PEM (`client.key`) and in DER PKCS#8 (`client.pk8`),
    /// and encrypted with `s3cret` (`client-enc.pk8`, `client-enc.key`, `client-legacy.key`).
    fn make_certificate(&self) {
        let dir = self.dir();
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
}

pub(crate) use tributary_testkit::{free_port, wait_for};

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
