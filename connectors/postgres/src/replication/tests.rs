//! Replication client tests against a real Postgres (one throwaway cluster per test).

use std::time::Duration;

use tributary_core::{DurableLsn, ErrorKind, Lsn, Retry};

use super::test_cluster::{Cluster, ROLES, wait_for};
use super::*;
use crate::conn::{ConnError, ConnectParams, SslMode, connect_query};

const TIMEOUT: Duration = Duration::from_secs(30);

fn role(name: &str) -> (&'static str, &'static str) {
    let (user, password, _) = ROLES.iter().find(|(r, _, _)| *r == name).unwrap();
    (user, password)
}

async fn connect_and_identify(params: &ConnectParams) {
    let mut conn = ReplicationConnection::connect(params)
        .await
        .unwrap_or_else(|e| panic!("{} connects: {e}", params.user));
    assert!(
        conn.server_version_num() >= 100_000,
        "{}",
        conn.server_version()
    );
    let system = conn.identify_system().await.expect("IDENTIFY_SYSTEM");
    assert!(!system.systemid.is_empty());
    assert!(system.timeline >= 1);
    assert!(!system.xlogpos.is_zero());
    assert_eq!(system.dbname.as_deref(), Some("postgres"));
    let rows = conn.simple_query("SHOW TimeZone").await.unwrap();
    assert_eq!(rows, vec![vec![Some("UTC".to_string())]]);
    conn.close().await.unwrap();
}

/// Connects as `user` with its password, then proves the method really checks passwords.
async fn password_user_connects(user: &str) {
    let Some(cluster) = Cluster::start(false) else {
        return;
    };
    cluster.create_roles().await;
    let (user, password) = role(user);
    if user == "md5_user" {
        // stored as md5, so the md5 method really runs md5 (not SCRAM in disguise)
        let stored = cluster
            .query_value("SELECT rolpassword FROM pg_authid WHERE rolname = 'md5_user'")
            .await
            .unwrap();
        assert!(stored.starts_with("md5"), "{stored}");
    }
    connect_and_identify(&cluster.params(user, password)).await;
    let err = ReplicationConnection::connect(&cluster.params(user, "not-the-password"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("28P01"), "{err}");
}

#[tokio::test]
async fn trust_user_connects_and_identifies_the_system() {
    let Some(cluster) = Cluster::start(false) else {
        return;
    };
    cluster.create_roles().await;
    // trust ignores the password entirely
    connect_and_identify(&cluster.params("trust_user", "anything")).await;
    connect_and_identify(&cluster.params("trust_user", "")).await;
}

#[tokio::test]
async fn cleartext_password_user_connects_and_identifies_the_system() {
    password_user_connects("clear_user").await;
}

#[tokio::test]
async fn md5_user_connects_and_identifies_the_system() {
    password_user_connects("md5_user").await;
}

#[tokio::test]
async fn scram_user_connects_and_identifies_the_system() {
    password_user_connects("scram_user").await;
}

#[tokio::test]
async fn wrong_password_is_a_definite_error_naming_the_user() {
    let Some(cluster) = Cluster::start(false) else {
        return;
    };
    cluster.create_roles().await;
    let params = cluster.params("scram_user", "wrong");
    let err = ReplicationConnection::connect(&params).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Definite);
    assert_eq!(err.code(), Some("28P01"));
    let text = err.to_string();
    assert!(text.contains("\"scram_user\""), "{text}");
    assert!(text.contains("database.password"), "{text}");

    // the query client reports it the same way
    let err = connect_query(&params).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Definite);
    assert_eq!(err.code(), Some("28P01"));
    assert!(err.to_string().contains("database.password"), "{err}");

    // no password at all is a definite error too, before the server rejects anything
    let err = ReplicationConnection::connect(&cluster.params("scram_user", ""))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnError::Auth { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::Definite);
}

#[tokio::test]
async fn unreachable_server_is_a_transient_error() {
    let params = ConnectParams {
        host: "127.0.0.1".into(),
        port: super::test_cluster::free_port(),
        user: "u".into(),
        password: tributary_core::Secret::new("p"),
        dbname: "d".into(),
        sslmode: SslMode::Prefer,
        sslrootcert: None,
        sslcert: None,
        sslkey: None,
        sslpassword: tributary_core::Secret::default(),
        application_name: "t".into(),
        connect_timeout: Duration::from_secs(5),
        initial_statements: Vec::new(),
    };
    let err = ReplicationConnection::connect(&params).await.unwrap_err();
    assert!(matches!(err, ConnError::Connect { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::Transient);
    let err = connect_query(&params).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient, "{err:?}");
}

#[tokio::test]
async fn created_slot_exports_a_snapshot_at_its_consistent_point() {
    let Some(cluster) = Cluster::start(false) else {
        return;
    };
    let mut conn = ReplicationConnection::connect(&cluster.superuser())
        .await
        .unwrap();
    let slot = conn
        .create_logical_slot("export_slot", false, true)
        .await
        .unwrap();
    assert_eq!(slot.slot_name, "export_slot");
    assert_eq!(slot.output_plugin, "pgoutput");
    assert!(!slot.consistent_point.is_zero());
    let snapshot = slot.snapshot_name.clone().expect("snapshot name");
    assert!(!snapshot.is_empty());

    // the snapshot can be imported while the creating connection stays idle
    let client = connect_query(&cluster.superuser()).await.unwrap();
    client
        .batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION SNAPSHOT '{snapshot}'; COMMIT"
        ))
        .await
        .expect("import exported snapshot");

    let confirmed = cluster
        .query_value(
            "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'export_slot'",
        )
        .await
        .expect("slot row");
    assert_eq!(confirmed.parse::<Lsn>().unwrap(), slot.consistent_point);

    // a failed command leaves the session usable; temporary slots need no snapshot
    let err = conn.simple_query("SHOW no_such_setting").await.unwrap_err();
    assert_eq!(err.code(), Some("42704"));
    let temp = conn
        .create_logical_slot("temp_slot", true, false)
        .await
        .unwrap();
    assert_eq!(temp.snapshot_name, None);
    let err = conn
        .create_logical_slot("export_slot", false, false)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("42710"), "{err}");
    conn.simple_query("DROP_REPLICATION_SLOT \"export_slot\"")
        .await
        .unwrap();
}

/// A table, a publication and a slot for streaming tests.
async fn prepare_stream(cluster: &Cluster, slot: &str) -> CreatedSlot {
    cluster
        .execute(
            "CREATE TABLE items (id int PRIMARY KEY, name text); \
             CREATE PUBLICATION pub_items FOR TABLE items;",
        )
        .await;
    let mut conn = ReplicationConnection::connect(&cluster.superuser())
        .await
        .unwrap();
    let created = conn.create_logical_slot(slot, false, false).await.unwrap();
    conn.close().await.unwrap();
    created
}

fn pgoutput_options() -> Vec<(&'static str, String)> {
    vec![
        ("proto_version", "1".to_string()),
        ("publication_names", "\"pub_items\"".to_string()),
    ]
}

async fn start(
    cluster: &Cluster,
    slot: &str,
    from: Lsn,
    durable: &DurableLsn,
    interval: Duration,
) -> Result<ReplicationStream, ReplicationError> {
    let conn = ReplicationConnection::connect(&cluster.superuser()).await?;
    let status = StatusConfig {
        durable: durable.clone(),
        interval,
    };
    conn.start_replication(slot, from, &pgoutput_options(), status)
        .await
}

/// Reads pgoutput messages up to and including the next commit; returns their tags and
/// the commit's end LSN.
async fn read_transaction(stream: &mut ReplicationStream) -> (Vec<u8>, Lsn) {
    let mut tags = Vec::new();
    loop {
        let event = tokio::time::timeout(TIMEOUT, stream.next())
            .await
            .expect("event within the timeout")
            .expect("stream ok")
            .expect("stream still open");
        if let ReplicationEvent::XLogData { data, .. } = event {
            tags.push(data[0]);
            if data[0] == b'C' {
                // Commit: tag, flags, commit LSN, end LSN, timestamp
                let end = u64::from_be_bytes(data[10..18].try_into().unwrap());
                return (tags, Lsn(end));
            }
        }
    }
}

#[tokio::test]
async fn started_replication_streams_xlogdata_for_an_insert() {
    let Some(cluster) = Cluster::start(false) else {
        return;
    };
    let created = prepare_stream(&cluster, "stream_slot").await;
    let durable = DurableLsn::new(created.consistent_point);
    let mut stream = start(
        &cluster,
        "stream_slot",
        created.consistent_point,
        &durable,
        TIMEOUT,
    )
    .await
    .unwrap();
    cluster.execute("INSERT INTO items VALUES (1, 'one')").await;
    let (tags, end) = read_transaction(&mut stream).await;
    assert_eq!(
        tags,
        b"BRIC".to_vec(),
        "{:?}",
        String::from_utf8_lossy(&tags)
    );
    assert!(end > created.consistent_point);

    // finishing returns a usable session
    let mut conn = stream.finish().await.unwrap();
    let rows = conn.simple_query("SHOW wal_level").await.unwrap();
    assert_eq!(rows, vec![vec![Some("logical".to_string())]]);
    conn.simple_query("DROP_REPLICATION_SLOT \"stream_slot\"")
        .await
        .unwrap();
}

#[tokio::test]
async fn confirmed_flush_never_moves_past_the_durable_lsn() {
    let Some(cluster) = Cluster::start(false) else {
        return;
    };
    let created = prepare_stream(&cluster, "durable_slot").await;
    let durable = DurableLsn::new(created.consistent_point);
    let interval = Duration::from_millis(100);
    let mut stream = start(
        &cluster,
        "durable_slot",
        created.consistent_point,
        &durable,
        interval,
    )
    .await
    .unwrap();
    let mut ends = Vec::new();
    for i in 0..3 {
        cluster
            .execute(&format!("INSERT INTO items VALUES ({i}, 'row')"))
            .await;
        ends.push(read_transaction(&mut stream).await.1);
    }
    let mid = ends[0];
    assert!(mid < ends[2]);
    durable.advance(mid);

    let confirmed = || async {
        cluster
            .query_value(
                "SELECT confirmed_flush_lsn FROM pg_replication_slots \
                 WHERE slot_name = 'durable_slot'",
            )
            .await
            .map(|v| v.parse::<Lsn>().unwrap())
    };
    // Keep the stream polled (status updates are sent from next()), cancelling each poll
    // after a while: this also exercises next()'s cancel safety.
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    let mut polls = 0;
    let mut seen_mid = false;
    while polls < 30 || !seen_mid {
        if let Ok(event) = tokio::time::timeout(Duration::from_millis(100), stream.next()).await {
            event.unwrap().expect("stream still open");
        }
        let now = confirmed().await.expect("slot row");
        assert!(
            now <= mid,
            "confirmed_flush_lsn {now} moved past durable {mid}"
        );
        seen_mid |= now == mid;
        polls += 1;
        assert!(
            tokio::time::Instant::now() < deadline,
            "confirmed_flush_lsn never reached {mid}"
        );
    }

    // now let everything through
    durable.advance(ends[2]);
    stream.send_status(false).await.unwrap();
    wait_for(
        "confirmed_flush_lsn to reach the last commit",
        TIMEOUT,
        || async { confirmed().await.filter(|&lsn| lsn == ends[2]) },
    )
    .await;
    stream.stop().await.unwrap();
}

#[tokio::test]
async fn slot_active_elsewhere_is_a_transient_55006_error_naming_the_holder() {
    let Some(cluster) = Cluster::start(false) else {
        return;
    };
    let created = prepare_stream(&cluster, "busy_slot").await;
    let durable = DurableLsn::new(created.consistent_point);
    let first = start(
        &cluster,
        "busy_slot",
        created.consistent_point,
        &durable,
        TIMEOUT,
    )
    .await
    .unwrap();
    let err = start(
        &cluster,
        "busy_slot",
        created.consistent_point,
        &durable,
        TIMEOUT,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Some("55006"), "{err}");
    // Retried: the holder is usually a crashed instance's walsender Postgres has not
    // reaped yet.
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert!(err.to_string().contains("active_pid"), "{err}");
    first.stop().await.unwrap();

    let err = start(&cluster, "no_such_slot", Lsn::ZERO, &durable, TIMEOUT)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("42704"), "{err}");
    assert_eq!(err.kind(), ErrorKind::Definite);
}

/// Throughput of the stream on a backlog: `cargo test -p tributary-postgres --release --lib
/// replication::tests::stream_drains_a_large_backlog -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn stream_drains_a_large_backlog() {
    let Some(cluster) = Cluster::start(false) else {
        return;
    };
    let created = prepare_stream(&cluster, "bench_slot").await;
    let rows = 300_000;
    cluster
        .execute(&format!(
            "INSERT INTO items SELECT g, repeat('x', 180) FROM generate_series(1, {rows}) g"
        ))
        .await;
    let durable = DurableLsn::new(created.consistent_point);
    let mut stream = start(
        &cluster,
        "bench_slot",
        created.consistent_point,
        &durable,
        TIMEOUT,
    )
    .await
    .unwrap();
    let started = std::time::Instant::now();
    let cpu_before = process_cpu_seconds();
    let (mut messages, mut bytes) = (0u64, 0u64);
    loop {
        match stream.next().await.unwrap().unwrap() {
            ReplicationEvent::XLogData { data, .. } => {
                messages += 1;
                bytes += data.len() as u64;
                if data[0] == b'C' {
                    break;
                }
            }
            ReplicationEvent::Keepalive { .. } => {}
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu = process_cpu_seconds() - cpu_before;
    eprintln!(
        "{messages} messages, {bytes} bytes in {secs:.2}s: {:.0} msg/s, client cpu {cpu:.2}s",
        messages as f64 / secs
    );
    stream.stop().await.unwrap();
}

/// User + system CPU time of this process so far (Linux), in seconds at 100 ticks/s.
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name
    (ticks(11) + ticks(12)) / 100.0
}
