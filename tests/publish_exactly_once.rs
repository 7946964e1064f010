//! Exactly-once across restarts: a read_committed consumer of `cdc.*` sees every change of
//! a 100k-change stream once, when the daemon is stopped with SIGTERM mid-stream and when
//! it is killed with SIGKILL five times.
//! After a kill -9 the open Kafka transaction is aborted (fenced by the restarted daemon)
//! and its records are published again; a read_committed consumer must see each change
//! exactly once: zero lost, zero duplicated.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;
use support::daemon::{Daemon, RegistryChoice};
use support::kafka::{Broker, CdcConsumer, Record};
use support::pg::PgCluster;
use support::slot::{confirmed_flush, wait_active};
use support::wait_for;
use tokio::sync::mpsc;

const ROWS: i64 = 100_000;
const PER_TX: i64 = 100;
/// Bound of one Kafka transaction, in events (the daemon closes a transaction at the first
/// Postgres commit after reaching it).
const BATCH: i64 = 2_000;
const SLOT: &str = "eo_slot";
const T: Duration = Duration::from_secs(120);

/// Inserts ids 1..=ROWS in transactions of PER_TX rows, in `segments` parts: each part
/// starts when the test sends on `go`. Then the marker id 0.
fn writer(url: String, segments: i64) -> (mpsc::UnboundedSender<()>, tokio::task::JoinHandle<()>) {
    let (go, mut wait) = mpsc::unbounded_channel::<()>();
    let task = tokio::spawn(async move {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let per_segment = ROWS / segments;
        let mut id = 1;
        while id <= ROWS {
            if (id - 1) % per_segment == 0 {
                wait.recv().await.expect("the test releases every segment");
            }
            let end = (id + PER_TX - 1).min(ROWS);
            client
                .batch_execute(&format!(
                    "INSERT INTO events SELECT g, 'row ' || g FROM generate_series({id}, {end}) g"
                ))
                .await
                .unwrap();
            id = end + 1;
            // Paced, so that a segment is still being written when a kill lands.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        client
            .batch_execute("INSERT INTO events VALUES (0, 'marker')")
            .await
            .unwrap();
    });
    (go, task)
}

/// Waits until the daemon has acknowledged more of the stream than `since`: it is
/// publishing, so a stop now lands in the middle of the stream.
async fn wait_progress(db: &tokio_postgres::Client, since: u64) -> u64 {
    wait_for(
        "the daemon to publish and acknowledge more of the stream",
        T,
        async || confirmed_flush(db, SLOT).await.filter(|l| *l > since),
    )
    .await
}

/// A database with the `events` table, a broker and a daemon streaming from it.
async fn setup(work: &std::path::Path) -> (PgCluster, tokio_postgres::Client, Broker, Daemon) {
    let pg = PgCluster::start();
    let db = pg.create_db("app").await;
    db.batch_execute("CREATE TABLE events (id bigint PRIMARY KEY, v text)")
        .await
        .unwrap();
    let broker = Broker::start();
    let connector = pg.connector(
        "eo",
        "app",
        json!({"publish.batch.max.events": BATCH.to_string(), "snapshot.mode": "no_data"}),
    );
    let daemon = Daemon::start(
        work,
        &broker.bootstrap,
        RegistryChoice::Embedded,
        &connector,
    );
    wait_active(&db, SLOT, T).await;
    (pg, db, broker, daemon)
}

/// Counts create events per id once every id and the marker (id 0) have arrived.
fn consume_all(broker: &Broker, registry: &str) -> HashMap<i64, usize> {
    let mut consumer = CdcConsumer::new(&broker.bootstrap, registry, "^cdc\\.public\\.events$");
    let mut seen: HashMap<i64, usize> = HashMap::new();
    let mut counted = 0;
    let done = consumer.poll_until(Duration::from_secs(600), |records: &[Record]| {
        for r in &records[counted..] {
            if let Some(v) = &r.value
                && v["op"] == "c"
            {
                let id = v["after"]["id"].as_i64().unwrap();
                *seen.entry(id).or_default() += 1;
            }
        }
        counted = records.len();
        seen.contains_key(&0) && (1..=ROWS).all(|i| seen.contains_key(&i))
    });
    assert!(
        done,
        "not every change arrived: {} of {} ids",
        seen.len(),
        ROWS + 1
    );
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_mid_stream_then_restart_delivers_every_change_exactly_once() {
    let work = tempfile::tempdir().unwrap();
    let (pg, db, broker, mut daemon) = setup(work.path()).await;
    let start = confirmed_flush(&db, SLOT).await.unwrap_or(0);
    let (go, w) = writer(pg.url("app"), 2);
    go.send(()).unwrap();
    wait_progress(&db, start).await;
    // The second half is written while the daemon stops and restarts.
    go.send(()).unwrap();
    let status = daemon.terminate();
    assert!(status.success(), "SIGTERM exit: {status}\n{}", daemon.log());
    daemon.restart();
    w.await.unwrap();

    let seen = consume_all(&broker, &daemon.registry);
    let dups: Vec<(&i64, &usize)> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        dups.is_empty(),
        "{} ids delivered twice after a graceful stop, e.g. {:?}",
        dups.len(),
        &dups[..dups.len().min(5)]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn kill9_five_times_loses_nothing_and_duplicates_at_most_the_open_batch() {
    let work = tempfile::tempdir().unwrap();
    let (pg, db, broker, mut daemon) = setup(work.path()).await;
    let (go, w) = writer(pg.url("app"), 5);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let mut acked = confirmed_flush(&db, SLOT).await.unwrap_or(0);
    let mut mid_stream = 0;
    for k in 0..5u32 {
        // Release the next fifth of the stream, let the daemon publish part of it, then
        // kill it at a pseudo-random moment while the writer is still going.
        go.send(()).unwrap();
        acked = wait_progress(&db, acked).await;
        let jitter = (seed.wrapping_mul(2_654_435_761).wrapping_add(k * 7919)) % 200;
        tokio::time::sleep(Duration::from_millis(u64::from(jitter))).await;
        // Mid-stream: Postgres holds changes the daemon has not acknowledged yet.
        let written: String = db
            .query_one("SELECT pg_current_wal_lsn()::text", &[])
            .await
            .unwrap()
            .get(0);
        if confirmed_flush(&db, SLOT).await.unwrap_or(0) < support::slot::lsn(&written) {
            mid_stream += 1;
        }
        daemon.kill9();
        daemon.restart();
    }
    w.await.unwrap();
    assert!(
        mid_stream >= 3,
        "only {mid_stream} of 5 kills landed while changes were waiting to be published"
    );

    let seen = consume_all(&broker, &daemon.registry);
    let dup_records: usize = seen.values().map(|n| n - 1).sum();
    eprintln!("{mid_stream} of 5 kills mid-stream; {dup_records} duplicate records");
    assert_eq!(
        dup_records,
        0,
        "read_committed must see every change once\n{}",
        daemon.log()
    );
}
