//! Faults around a running connector: the broker goes away for 30 s mid-stream, and a
//! second daemon is started with the same connector. In both cases a read_committed
//! consumer of `cdc.*` must see every change, and (with no crash involved) exactly once.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::daemon::{Daemon, RegistryChoice};
use support::kafka::{Broker, CdcConsumer, Proxy, Record, broker_behind_proxy};
use support::pg::{PgCluster, free_port, password_auth};
use support::slot::{confirmed_flush, wait_active};
use support::wait_for;

const T: Duration = Duration::from_secs(120);

/// Inserts ids `from..=to` in transactions of 100 rows.
async fn write(db: &tokio_postgres::Client, from: i64, to: i64) {
    let mut id = from;
    while id <= to {
        let end = (id + 99).min(to);
        db.batch_execute(&format!(
            "INSERT INTO events SELECT g, 'row ' || g FROM generate_series({id}, {end}) g"
        ))
        .await
        .unwrap();
        id = end + 1;
    }
}

/// Reads `cdc.public.events` until ids 1..=rows have all arrived; counts each id's creates.
/// On a timeout the failure shows which ids are missing and the daemon's log.
fn consume(
    bootstrap: &str,
    registry: &str,
    rows: i64,
    log: impl Fn() -> String,
) -> HashMap<i64, usize> {
    let mut consumer = CdcConsumer::new(bootstrap, registry, "^cdc\\.public\\.events$");
    let mut seen: HashMap<i64, usize> = HashMap::new();
    let mut counted = 0;
    let done = consumer.poll_until(Duration::from_secs(300), |records: &[Record]| {
        for r in &records[counted..] {
            if let Some(v) = &r.value
                && v["op"] == "c"
            {
                *seen.entry(v["after"]["id"].as_i64().unwrap()).or_default() += 1;
            }
        }
        counted = records.len();
        (1..=rows).all(|i| seen.contains_key(&i))
    });
    if !done {
        let missing: Vec<i64> = (1..=rows).filter(|i| !seen.contains_key(i)).collect();
        panic!(
            "not every change arrived: {} of {rows} ids; missing {} from {} to {}\n{}",
            seen.len(),
            missing.len(),
            missing[0],
            missing[missing.len() - 1],
            log()
        );
    }
    seen
}

fn duplicates(seen: &HashMap<i64, usize>) -> Vec<(i64, usize)> {
    let mut d: Vec<(i64, usize)> = seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(i, n)| (*i, *n))
        .collect();
    d.sort_unstable();
    d
}

/// The connector's task trace, once it mentions `needle`.
async fn wait_trace(daemon: &Daemon, name: &str, needle: &str, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let s = daemon.status(name);
        let trace = s["tasks"][0]["trace"].as_str().unwrap_or_default();
        if trace.contains(needle) {
            return trace.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "the status trace of {name} did not mention {needle:?} within {timeout:?}; last status: {s}\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn events_db(pg: &PgCluster) -> tokio_postgres::Client {
    let db = pg.create_db("app").await;
    db.batch_execute("CREATE TABLE events (id bigint PRIMARY KEY, v text)")
        .await
        .unwrap();
    db
}

#[tokio::test(flavor = "multi_thread")]
async fn broker_gone_for_30s_mid_stream_loses_and_duplicates_nothing() {
    let pg = PgCluster::start();
    let db = events_db(&pg).await;
    // The daemon reaches the broker only through the proxy, which the broker advertises
    // (a broker of this test's own, even when KAFKA_BOOTSTRAP names another).
    let proxy_port = free_port();
    let broker = broker_behind_proxy(proxy_port);
    let broker_port: u16 = broker
        .bootstrap
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let proxy = Proxy::start(proxy_port, ([127, 0, 0, 1], broker_port).into());
    let work = tempfile::tempdir().unwrap();
    let connector = pg.connector(
        "outage",
        "app",
        json!({"snapshot.mode": "no_data", "publish.batch.max.events": "2000"}),
    );
    let daemon = Daemon::start(
        work.path(),
        &broker.bootstrap,
        RegistryChoice::Embedded,
        &connector,
    );
    wait_active(&db, "outage_slot", T).await;
    let created = confirmed_flush(&db, "outage_slot").await.unwrap_or(0);

    // The first part is published (topic created, schemas registered) before the outage.
    // The slot's position alone can move on a keepalive before any row is published: the
    // log says when the topic is ready.
    write(&db, 1, 10_000).await;
    let before = wait_for("the first part to be published", T, async || {
        let published = daemon.log().contains("schemas registered");
        let flushed = confirmed_flush(&db, "outage_slot").await;
        flushed.filter(|l| published && *l > created)
    })
    .await;

    proxy.down();
    let down = Instant::now();
    // Postgres keeps committing while the broker is away.
    write(&db, 10_001, 20_000).await;
    let trace = wait_trace(&daemon, "outage", "Kafka", Duration::from_secs(25)).await;
    assert!(trace.contains("waited"), "{trace}");
    eprintln!("status while the broker is away: {trace}");
    let status = daemon.status("outage");
    assert_eq!(
        status["tasks"][0]["state"], "RUNNING",
        "a lost broker is retried, not a failure: {status}"
    );
    let flushed = confirmed_flush(&db, "outage_slot").await.unwrap();
    tokio::time::sleep(Duration::from_secs(30).saturating_sub(down.elapsed())).await;
    assert_eq!(
        confirmed_flush(&db, "outage_slot").await.unwrap(),
        flushed,
        "nothing may be acknowledged to Postgres while Kafka cannot commit it"
    );
    assert!(flushed >= before);

    proxy.up();
    write(&db, 20_001, 30_000).await;
    let seen = consume(&broker.bootstrap, &daemon.registry, 30_000, || daemon.log());
    let dups = duplicates(&seen);
    assert!(
        dups.is_empty(),
        "{} ids delivered more than once across the outage, e.g. {:?}\n{}",
        dups.len(),
        &dups[..dups.len().min(5)],
        daemon.log()
    );
    let status = daemon.status("outage");
    assert!(
        status["tasks"][0]["trace"].is_null(),
        "the trace clears once Kafka commits again: {status}"
    );
    // The source kept its replication connection alive while it waited (the test clusters'
    // wal_sender_timeout is 10 s): the stream went on without a restart.
    assert!(
        !daemon
            .log()
            .contains("will restart from its last committed offset"),
        "{}",
        daemon.log()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_daemon_with_the_same_connector_is_refused_and_takes_over_after_a_crash() {
    let pg = PgCluster::start();
    let db = events_db(&pg).await;
    let broker = Broker::start();
    let work = tempfile::tempdir().unwrap();
    // One registry for both daemons, outliving either of them.
    let registry = tributary_avro::registry::EmbeddedRegistry::open(&work.path().join("sr"))
        .unwrap()
        .start("127.0.0.1:0")
        .await
        .unwrap();
    let connector = pg.connector(
        "twice",
        "app",
        json!({"snapshot.mode": "no_data", "publish.batch.max.events": "1000"}),
    );
    let mut first = Daemon::start(
        &work.path().join("first"),
        &broker.bootstrap,
        RegistryChoice::External(registry.url()),
        &connector,
    );
    wait_active(&db, "twice_slot", T).await;
    write(&db, 1, 5_000).await;

    // The same connector in another daemon (its own data dir and ports).
    let second = Daemon::start(
        &work.path().join("second"),
        &broker.bootstrap,
        RegistryChoice::External(registry.url()),
        &connector,
    );
    let trace = wait_trace(&second, "twice", "another process", T).await;
    assert!(
        trace.contains("twice_slot"),
        "the trace names the slot: {trace}"
    );
    assert_eq!(second.status("twice")["tasks"][0]["state"], "RUNNING");

    // The first keeps publishing while the second waits.
    let acked = confirmed_flush(&db, "twice_slot").await.unwrap_or(0);
    write(&db, 5_001, 10_000).await;
    wait_for("the first daemon to go on publishing", T, async || {
        confirmed_flush(&db, "twice_slot")
            .await
            .filter(|l| *l > acked)
    })
    .await;
    let first_status = first.status("twice");
    assert!(
        first_status["tasks"][0]["trace"].is_null(),
        "the first daemon is unaffected: {first_status}"
    );
    let seen = consume(&broker.bootstrap, &registry.url(), 10_000, || {
        format!("first:\n{}\nsecond:\n{}", first.log(), second.log())
    });
    assert_eq!(
        duplicates(&seen),
        [],
        "two daemons must not both publish the stream"
    );
    assert!(
        !second.log().contains("read the last committed offset"),
        "the second daemon never started publishing:\n{}",
        second.log()
    );

    // When the first dies, the waiting one takes over from the last committed offset.
    first.kill9();
    write(&db, 10_001, 15_000).await;
    let seen = consume(&broker.bootstrap, &registry.url(), 15_000, || second.log());
    let extra: usize = seen.values().map(|n| n - 1).sum();
    assert_eq!(
        extra, 0,
        "the killed daemon's open transaction is aborted: read_committed sees none of it"
    );
    let status: Value = second.status("twice");
    assert!(status["tasks"][0]["trace"].is_null(), "{status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_crash_mid_stream_is_retried_and_resumes_from_the_slot() {
    let pg = PgCluster::start();
    let db = events_db(&pg).await;
    let broker = Broker::start();
    let work = tempfile::tempdir().unwrap();
    let connector = pg.connector(
        "pgdown",
        "app",
        json!({"snapshot.mode": "no_data", "publish.batch.max.events": "1000"}),
    );
    let daemon = Daemon::start(
        work.path(),
        &broker.bootstrap,
        RegistryChoice::Embedded,
        &connector,
    );
    wait_active(&db, "pgdown_slot", T).await;
    // The test clusters run with synchronous_commit off, which may lose the last commits
    // in a crash; these must survive it.
    db.batch_execute("SET synchronous_commit = on")
        .await
        .unwrap();
    write(&db, 1, 10_000).await;
    wait_for("part of the stream to be published", T, async || {
        confirmed_flush(&db, "pgdown_slot").await.filter(|l| *l > 0)
    })
    .await;

    pg.stop();
    let trace = wait_trace(&daemon, "pgdown", "retrying", T).await;
    eprintln!("status while Postgres is down: {trace}");
    assert_eq!(daemon.status("pgdown")["tasks"][0]["state"], "RUNNING");
    tokio::time::sleep(Duration::from_secs(2)).await;
    pg.restart();

    let db = pg.client("app").await;
    wait_active(&db, "pgdown_slot", T).await;
    write(&db, 10_001, 20_000).await;
    let seen = consume(&broker.bootstrap, &daemon.registry, 20_000, || daemon.log());
    let extra: usize = seen.values().map(|n| n - 1).sum();
    // The transaction open when Postgres went away is aborted and published again; a
    // read_committed consumer sees only the committed copy.
    assert_eq!(extra, 0, "{extra} duplicates after the Postgres crash");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_database_password_fails_the_connector_naming_the_property() {
    let pg = PgCluster::start_with(password_auth());
    let db = pg.create_db("app").await;
    db.batch_execute("CREATE ROLE cdc LOGIN REPLICATION PASSWORD 'right'")
        .await
        .unwrap();
    let broker = Broker::start();
    let work = tempfile::tempdir().unwrap();
    let connector = pg.connector(
        "pw",
        "app",
        json!({"database.user": "cdc", "database.password": "s3cret-but-wrong"}),
    );
    let daemon = Daemon::start(
        work.path(),
        &broker.bootstrap,
        RegistryChoice::Embedded,
        &connector,
    );
    let task = wait_for("the connector to fail", T, async || {
        let s = daemon.status("pw");
        (s["tasks"][0]["state"] == "FAILED").then(|| s["tasks"][0].clone())
    })
    .await;
    let trace = task["trace"].as_str().unwrap();
    assert!(
        trace.contains("database.password"),
        "names the property: {trace}"
    );
    assert!(
        !trace.contains("s3cret"),
        "the password never appears: {trace}"
    );
    assert!(!daemon.log().contains("s3cret"), "nor in the log");
}

/// `errors.max.retries`: Postgres gone, the connector restarts that many times (each a
/// retriable error), then is FAILED with a trace naming the property. The restarts are
/// `retriable.restart.connector.wait.ms` apart, a constant wait as in Debezium.
#[tokio::test(flavor = "multi_thread")]
async fn errors_max_retries_bounds_the_restarts_after_retriable_errors() {
    let pg = PgCluster::start();
    let db = events_db(&pg).await;
    let broker = Broker::start();
    let work = tempfile::tempdir().unwrap();
    let connector = pg.connector(
        "bounded",
        "app",
        json!({
            "snapshot.mode": "no_data",
            "errors.max.retries": "2",
            "retriable.restart.connector.wait.ms": "2500",
        }),
    );
    let daemon = Daemon::start(
        work.path(),
        &broker.bootstrap,
        RegistryChoice::Embedded,
        &connector,
    );
    wait_active(&db, "bounded_slot", T).await;
    // The clock starts before the stop: the connector may see the server go (and start
    // its first wait) before `pg_ctl stop` returns.
    let stopped = Instant::now();
    pg.stop();
    let task = wait_for("the connector to fail", T, async || {
        let s = daemon.status("bounded");
        (s["tasks"][0]["state"] == "FAILED").then(|| s["tasks"][0].clone())
    })
    .await;
    let trace = task["trace"].as_str().unwrap();
    assert!(trace.contains("errors.max.retries=2"), "{trace}");
    assert!(
        stopped.elapsed() >= Duration::from_millis(5000),
        "two restarts 2.5 s apart took {:?}",
        stopped.elapsed()
    );
    let log = daemon.log();
    let restarts: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("connector will restart from its last committed offset"))
        .collect();
    assert_eq!(restarts.len(), 2, "{log}");
    assert!(
        restarts.iter().all(|l| l.contains("retry_in_ms=2500")),
        "not a constant wait: {restarts:?}"
    );
}
