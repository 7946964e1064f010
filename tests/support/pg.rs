//! The daemon tests' Postgres: the test kit's throwaway cluster (`tributary_testkit::pg`)
//! with the tests' own connections over its Unix socket, databases and connector configs.

use std::ops::Deref;

use tokio_postgres::{Client, NoTls};
#[allow(unused_imports)]
pub use tributary_testkit::free_port;
pub use tributary_testkit::pg::PgConfig;

pub struct PgCluster(tributary_testkit::pg::PgCluster);

impl Deref for PgCluster {
    type Target = tributary_testkit::pg::PgCluster;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// Password (SCRAM) authentication over TCP, for tests of credentials.
pub fn password_auth() -> PgConfig {
    PgConfig {
        hba: "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\nhost replication all 127.0.0.1/32 scram-sha-256\n".into(),
        ..PgConfig::default()
    }
}

/// A cluster that checks passwords over TCP, with a database `app` holding a table
/// `items (id bigint PRIMARY KEY, v text)` and a role `cdc` (this password) that may
/// replicate.
pub async fn password_cluster(password: &str) -> (PgCluster, Client) {
    let pg = PgCluster::start_with(password_auth());
    let db = pg.create_db("app").await;
    db.batch_execute(&format!(
        "CREATE ROLE cdc LOGIN REPLICATION SUPERUSER PASSWORD '{password}';
         CREATE TABLE items (id bigint PRIMARY KEY, v text);"
    ))
    .await
    .unwrap();
    (pg, db)
}

impl PgCluster {
    pub fn start() -> PgCluster {
        Self::start_with(PgConfig::default())
    }

    pub fn start_with(config: PgConfig) -> PgCluster {
        PgCluster(tributary_testkit::pg::PgCluster::start_with(config))
    }

    /// A libpq-style URL over the cluster's Unix socket (trusted whatever pg_hba says
    /// for TCP), for the tests' own connections.
    pub fn url(&self, db: &str) -> String {
        format!(
            "host={} port={} user=postgres dbname={db}",
            self.dir().display(),
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
}
