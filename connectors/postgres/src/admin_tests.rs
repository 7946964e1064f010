//! Admin operations against a real Postgres (one throwaway cluster per test), and the
//! mapping of connection failures to the property to fix.

use std::time::Duration;

use serde_json::json;
use tributary_core::{DurableLsn, Lsn};

use super::*;
use crate::conn::SslMode;
use crate::replication::test_cluster::{Cluster, SUPERUSER, SUPERUSER_PASSWORD, free_port};
use crate::replication::{ReplicationConnection, StatusConfig};

/// A connector config for `user` on the cluster's `postgres` database.
fn config(
    port: u16,
    user: &str,
    password: &str,
    extra: serde_json::Value,
) -> PostgresConnectorConfig {
    let mut props = json!({
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "database.hostname": "127.0.0.1",
        "database.port": port,
        "database.user": user,
        "database.password": password,
        "database.dbname": "postgres",
        "database.sslmode": "disable",
        "topic.prefix": "cdc",
        "slot.name": "admin_slot",
        "publication.name": "admin_pub",
    });
    for (k, v) in extra.as_object().into_iter().flatten() {
        props[k] = v.clone();
    }
    PostgresConnectorConfig::from_connector_json(&json!({"name": "inventory", "config": props}))
        .expect("a valid config")
}

fn superuser(cluster: &Cluster) -> PostgresConnectorConfig {
    config(cluster.port, SUPERUSER, SUPERUSER_PASSWORD, json!({}))
}

async fn lsn(cluster: &Cluster, sql: &str) -> Lsn {
    cluster.query_value(sql).await.unwrap().parse().unwrap()
}

fn only_error(result: Result<(), ConfigErrors>) -> ConfigError {
    let errors = result.expect_err("check_connection fails").0;
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.into_iter().next().unwrap()
}

#[tokio::test]
async fn check_connection_names_the_field_to_fix_for_each_mistake() {
    let Some(cluster) = Cluster::start(false) else {
        return;
    };
    cluster.create_roles().await;
    cluster
        .execute("CREATE ROLE plain_user LOGIN PASSWORD 'plain-pw'")
        .await;
    check_connection(&superuser(&cluster)).await.unwrap();
    check_connection(&config(cluster.port, "scram_user", "scram-pw", json!({})))
        .await
        .unwrap();

    let wrong = "Wr0ng-Secret-Passw0rd";
    let e =
        only_error(check_connection(&config(cluster.port, "scram_user", wrong, json!({}))).await);
    assert_eq!(e.field, "database.password", "{e}");
    assert!(e.message.contains("scram_user"), "{e}");
    assert!(!e.to_string().contains(wrong), "the password leaked: {e}");

    let e = only_error(
        check_connection(&config(
            cluster.port,
            "scram_user",
            "scram-pw",
            json!({"database.dbname": "no_such_db"}),
        ))
        .await,
    );
    assert_eq!(e.field, "database.dbname", "{e}");
    assert!(e.message.contains("no_such_db"), "{e}");

    let e = only_error(
        check_connection(&config(cluster.port, "plain_user", "plain-pw", json!({}))).await,
    );
    assert_eq!(e.field, "database.user", "{e}");
    assert!(
        e.message.contains("ALTER ROLE \"plain_user\" REPLICATION"),
        "{e}"
    );
}

#[tokio::test]
async fn check_connection_names_the_host_when_nothing_listens() {
    let port = free_port();
    let e = only_error(check_connection(&config(port, "u", "pw", json!({}))).await);
    assert_eq!(e.field, "database.hostname", "{e}");
    assert!(e.message.contains(&format!("127.0.0.1:{port}")), "{e}");

    let unresolvable = config(port, "u", "pw", json!({"database.hostname": "db.invalid"}));
    let e = only_error(check_connection(&unresolvable).await);
    assert_eq!(e.field, "database.hostname", "{e}");
    assert!(e.message.contains("db.invalid"), "{e}");
}

#[test]
fn connection_failures_name_the_field_to_fix() {
    let params = ConnectParams {
        host: "db".into(),
        port: 5432,
        user: "alice".into(),
        password: tributary_core::Secret::new("hunter2"),
        dbname: "shop".into(),
        sslmode: SslMode::Require,
        sslrootcert: None,
        sslcert: None,
        sslkey: None,
        sslpassword: tributary_core::Secret::default(),
        application_name: "t".into(),
        connect_timeout: Duration::from_secs(1),
        initial_statements: Vec::new(),
    };
    let server = |code: &str, message: &str| ConnError::Server {
        severity: "FATAL".into(),
        code: code.into(),
        message: message.into(),
        detail: None,
        hint: None,
    };
    let cases = [
        (
            server("28P01", "password authentication failed for user \"alice\""),
            "database.password",
        ),
        (
            server("28000", "role \"alice\" does not exist"),
            "database.user",
        ),
        (
            server(
                "28000",
                "no pg_hba.conf entry for host \"10.0.0.1\", user \"alice\"",
            ),
            "database.user",
        ),
        (
            server("3D000", "database \"shop\" does not exist"),
            "database.dbname",
        ),
        (
            server("42501", "permission denied for database \"shop\""),
            "database.user",
        ),
        (
            server("53300", "sorry, too many clients already"),
            "database.hostname",
        ),
        (
            ConnError::Auth {
                user: "alice".into(),
                message: "the server asks for a password and none is configured".into(),
                hint: "set database.password".into(),
            },
            "database.password",
        ),
        (
            ConnError::SslRefused {
                addr: "db:5432".into(),
                sslmode: SslMode::Require,
            },
            "database.sslmode",
        ),
        (
            ConnError::Timeout {
                addr: "db:5432".into(),
                after: Duration::from_secs(1),
            },
            "database.hostname",
        ),
    ];
    for (err, field) in cases {
        let problem = connect_problem(&params, &err);
        assert_eq!(problem.field, field, "{err}");
        assert!(!problem.message.contains("hunter2"), "{problem}");
        assert!(problem.message.to_lowercase().contains("hint"), "{problem}");
    }
}

#[test]
fn the_connect_timeout_is_bounded_for_admin_requests() {
    let mut c = config(
        5432,
        "u",
        "pw",
        json!({"database.connect.timeout.ms": 60_000}),
    );
    assert_eq!(bounded(&c.connect).connect_timeout, ADMIN_TIMEOUT);
    c.connect.connect_timeout = Duration::from_secs(2);
    assert_eq!(bounded(&c.connect).connect_timeout, Duration::from_secs(2));
    c.connect.connect_timeout = Duration::ZERO;
    assert_eq!(bounded(&c.connect).connect_timeout, ADMIN_TIMEOUT);
}

#[tokio::test]
async fn advance_slot_moves_the_slot_forward_only() {
    let Some(cluster) = Cluster::start(false) else {
        return;
    };
    let c = superuser(&cluster);
    assert_eq!(slot_info(&c).await.unwrap(), None);
    let err = advance_slot(&c, Lsn(1), None).await.unwrap_err();
    assert!(matches!(err, AdminError::Rejected(_)), "{err:?}");
    assert!(err.to_string().contains("does not exist"), "{err}");
    assert!(
        err.to_string()
            .contains("DELETE /connectors/inventory/offsets"),
        "{err}"
    );

    cluster
        .execute("SELECT pg_create_logical_replication_slot('admin_slot', 'pgoutput')")
        .await;
    let created = slot_info(&c).await.unwrap().expect("the slot exists");
    let start = created
        .confirmed_flush
        .expect("a logical slot has a position");
    assert_eq!(created.active_pid, None);
    cluster
        .execute("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'x' FROM generate_series(1, 1000) g")
        .await;
    let target = lsn(&cluster, "SELECT pg_current_wal_flush_lsn()").await;
    let before = slot_info(&c).await.unwrap().unwrap();
    assert_eq!(before.confirmed_flush, Some(start));
    assert!(
        before.lag_bytes.unwrap() >= (target.0 - start.0) as i64,
        "{before:?}"
    );

    advance_slot(&c, start, None)
        .await
        .expect("advancing to where it is does nothing");
    advance_slot(&c, target, None).await.expect("forward");
    let after = slot_info(&c).await.unwrap().unwrap();
    assert_eq!(after.confirmed_flush, Some(target));
    assert!(
        after.lag_bytes.unwrap() < before.lag_bytes.unwrap(),
        "{after:?}"
    );

    let err = advance_slot(&c, start, None).await.unwrap_err();
    assert!(matches!(err, AdminError::Rejected(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("has already confirmed {target}")),
        "{text}"
    );
    assert!(text.contains("cannot replay"), "{text}");
    assert!(
        text.contains("DELETE /connectors/inventory/offsets"),
        "{text}"
    );
    // A connector whose stored offset is behind the slot (it acknowledged WAL it had nothing
    // to publish for) may be altered to any point between the two, its own offset included;
    // the slot does not move. Before its own offset is still refused.
    advance_slot(&c, start, Some(start))
        .await
        .expect("the connector's own offset, behind the slot");
    let middle = Lsn(start.0 + (target.0 - start.0) / 2);
    advance_slot(&c, middle, Some(start))
        .await
        .expect("between the connector's offset and the slot");
    let before_own = advance_slot(&c, start, Some(middle)).await.unwrap_err();
    assert!(
        before_own.to_string().contains("cannot replay"),
        "{before_own}"
    );
    assert_eq!(
        slot_info(&c).await.unwrap().unwrap().confirmed_flush,
        Some(target)
    );

    let elsewhere = config(
        cluster.port,
        SUPERUSER,
        SUPERUSER_PASSWORD,
        json!({"database.dbname": "template1"}),
    );
    let err = advance_slot(&elsewhere, target, None).await.unwrap_err();
    assert!(matches!(err, AdminError::Rejected(_)), "{err:?}");
    assert!(
        err.to_string().contains("belongs to database \"postgres\""),
        "{err}"
    );

    let future = Lsn(target.0 + (1 << 32));
    let err = advance_slot(&c, future, None).await.unwrap_err();
    assert!(matches!(err, AdminError::Rejected(_)), "{err:?}");
    assert!(err.to_string().contains("beyond"), "{err}");
    assert_eq!(
        slot_info(&c).await.unwrap().unwrap().confirmed_flush,
        Some(target)
    );
}

#[tokio::test]
async fn an_active_slot_is_named_by_its_pid_and_dropped_once_released() {
    let Some(cluster) = Cluster::start(false) else {
        return;
    };
    let c = superuser(&cluster);
    cluster
        .execute("CREATE TABLE t (id int PRIMARY KEY); CREATE PUBLICATION admin_pub FOR TABLE t")
        .await;
    cluster
        .execute("SELECT pg_create_logical_replication_slot('admin_slot', 'pgoutput')")
        .await;
    let conn = ReplicationConnection::connect(&cluster.superuser())
        .await
        .unwrap();
    let pid = conn.backend_pid();
    let options = [
        ("proto_version", "1".to_string()),
        ("publication_names", "\"admin_pub\"".to_string()),
    ];
    let status = StatusConfig {
        durable: DurableLsn::default(),
        interval: Duration::from_secs(1),
    };
    let stream = conn
        .start_replication("admin_slot", Lsn::ZERO, &options, status)
        .await
        .unwrap();
    assert_eq!(slot_info(&c).await.unwrap().unwrap().active_pid, Some(pid));

    let target = lsn(&cluster, "SELECT pg_current_wal_flush_lsn()").await;
    let err = advance_slot(&c, target, None).await.unwrap_err();
    assert!(matches!(err, AdminError::Rejected(_)), "{err:?}");
    assert!(err.to_string().contains(&format!("pid {pid}")), "{err}");
    let err = drop_slot_within(&c, Duration::from_millis(500))
        .await
        .unwrap_err();
    assert!(matches!(err, AdminError::Rejected(_)), "{err:?}");
    assert!(err.to_string().contains(&format!("pid {pid}")), "{err}");

    // Released while drop_slot waits: it is dropped then.
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        stream.stop().await.unwrap();
    });
    assert!(drop_slot(&c).await.unwrap(), "dropped after release");
    release.await.unwrap();
    assert_eq!(slot_info(&c).await.unwrap(), None);
    assert!(
        !drop_slot(&c).await.unwrap(),
        "a missing slot is not an error"
    );
}

#[tokio::test]
async fn drop_publication_drops_it_once() {
    let Some(cluster) = Cluster::start(false) else {
        return;
    };
    let c = superuser(&cluster);
    assert!(!drop_publication(&c).await.unwrap());
    cluster
        .execute("CREATE PUBLICATION admin_pub FOR ALL TABLES")
        .await;
    assert!(drop_publication(&c).await.unwrap());
    let left = cluster
        .query_value("SELECT count(*) FROM pg_publication WHERE pubname = 'admin_pub'")
        .await;
    assert_eq!(left.as_deref(), Some("0"));
    assert!(!drop_publication(&c).await.unwrap());
}
