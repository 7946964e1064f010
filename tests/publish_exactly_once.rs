//! Exactly-once across restarts: a read_committed consumer of `cdc.*` sees every change of
//! a 100k-change stream once, when the daemon is stopped with SIGTERM mid-stream and when
//! it is killed with SIGKILL five times.
//!
//! nisshi (the broker these tests run on) shows records of aborted transactions to
//! read_committed consumers. After a kill -9 the open Kafka transaction is aborted and
//! its records are published again, so on nisshi a kill may leave duplicates — at most the
//! records of that one open transaction (one batch). Real Kafka hides them: with
//! `KAFKA_BOOTSTRAP` set the same test demands zero duplicates.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;
use support::daemon::{Daemon, RegistryChoice};
use support::kafka::{Broker, CdcConsumer, Record};
use support::pg::PgCluster;
use support::wait_for;

const ROWS: i64 = 100_000;
const PER_TX: i64 = 100;
/// Bound of one Kafka transaction, in events (the daemon closes a transaction at the first
/// Postgres commit after reaching it).
const BATCH: i64 = 2_000;

async fn wait_streaming(client: &tokio_postgres::Client, slot: &str) {
    wait_for(
        "the slot to become active",
        Duration::from_secs(120),
        async || {
            let row = client
                .query_opt(
                    "SELECT active FROM pg_replication_slots WHERE slot_name = $1",
                    &[&slot],
                )
                .await
                .ok()??;
            row.get::<_, bool>(0).then_some(())
        },
    )
    .await;
}

/// Inserts ids 1..=ROWS in transactions of PER_TX rows, then the marker id 0.
fn writer(url: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let mut id = 1;
        while id <= ROWS {
            let end = (id + PER_TX - 1).min(ROWS);
            client
                .batch_execute(&format!(
                    "INSERT INTO events SELECT g, 'row ' || g FROM generate_series({id}, {end}) g"
                ))
                .await
                .unwrap();
            id = end + 1;
            if id % 5_000 == 1 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        client
            .batch_execute("INSERT INTO events VALUES (0, 'marker')")
            .await
            .unwrap();
    })
}

/// Counts create events per id once the marker (id 0) has arrived.
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

fn connector(pg: &PgCluster) -> serde_json::Value {
    pg.connector(
        "eo",
        "app",
        json!({"publish.batch.max.events": BATCH.to_string(), "snapshot.mode": "no_data"}),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_mid_stream_then_restart_delivers_every_change_exactly_once() {
    let pg = PgCluster::start();
    let db = pg.create_db("app").await;
    db.batch_execute("CREATE TABLE events (id bigint PRIMARY KEY, v text)")
        .await
        .unwrap();
    let broker = Broker::start();
    let work = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::start(
        work.path(),
        &broker.bootstrap,
        RegistryChoice::Embedded,
        &connector(&pg),
    );
    wait_streaming(&db, "eo_slot").await;

    let w = writer(pg.url("app"));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let status = daemon.terminate();
    assert!(status.success(), "SIGTERM exit: {status}\n{}", daemon.log());
    tokio::time::sleep(Duration::from_millis(500)).await;
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
    let pg = PgCluster::start();
    let db = pg.create_db("app").await;
    db.batch_execute("CREATE TABLE events (id bigint PRIMARY KEY, v text)")
        .await
        .unwrap();
    let broker = Broker::start();
    let work = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::start(
        work.path(),
        &broker.bootstrap,
        RegistryChoice::Embedded,
        &connector(&pg),
    );
    wait_streaming(&db, "eo_slot").await;

    let w = writer(pg.url("app"));
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    for k in 0..5u32 {
        // A pseudo-random point in the stream: 300..1500 ms after (re)start.
        let ms = 300 + (seed.wrapping_mul(2_654_435_761).wrapping_add(k * 7919)) % 1200;
        tokio::time::sleep(Duration::from_millis(u64::from(ms))).await;
        daemon.kill9();
        daemon.restart();
    }
    w.await.unwrap();

    let seen = consume_all(&broker, &daemon.registry);
    let dup_records: usize = seen.values().map(|n| n - 1).sum();
    if broker.real_kafka {
        assert_eq!(dup_records, 0, "real Kafka must show no duplicates");
    } else {
        // Each kill can leave the aborted open transaction visible on nisshi: at most one
        // batch (BATCH events plus the rest of the Postgres transaction that crossed it).
        let bound = 5 * (BATCH + PER_TX) as usize;
        assert!(
            dup_records <= bound,
            "{dup_records} duplicate records > {bound}\n{}",
            daemon.log()
        );
    }
}
