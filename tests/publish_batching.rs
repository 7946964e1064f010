//! Debezium's batching and queue properties on the way to Apache Kafka, as a read_committed
//! consumer sees them: with `poll.interval.ms` a Kafka transaction waits for
//! `max.batch.size` events (or the interval) before it commits, and a kill -9 while it waits
//! loses and repeats nothing; `max.queue.size.in.bytes` bounds the queue in bytes, shown by
//! Debezium's queue metrics, and rows larger than the bound still pass, as do snapshot
//! reads under a tiny `snapshot.fetch.size`.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::json;
use support::api::get;
use support::daemon::{Daemon, RegistryChoice};
use support::kafka::{Broker, CdcConsumer, Record};
use support::pg::PgCluster;
use support::slot::wait_active;

const T: Duration = Duration::from_secs(120);

/// How often each id arrived.
fn ids(records: &[Record]) -> BTreeMap<i64, usize> {
    let mut seen = BTreeMap::new();
    for r in records {
        let id = r.value.as_ref().unwrap()["after"]["id"].as_i64().unwrap();
        *seen.entry(id).or_default() += 1;
    }
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transaction_waits_for_a_full_batch_or_the_poll_interval() {
    let pg = PgCluster::start();
    let db = pg.create_db("batching").await;
    db.batch_execute("CREATE TABLE t (id int PRIMARY KEY)")
        .await
        .unwrap();
    let broker = Broker::start();
    let work = tempfile::tempdir().unwrap();
    let interval = Duration::from_secs(20);
    let connector = pg.connector(
        "batching",
        "batching",
        json!({
            "snapshot.mode": "no_data",
            "poll.interval.ms": interval.as_millis().to_string(),
            "max.batch.size": "4",
        }),
    );
    let mut daemon = Daemon::start(
        work.path(),
        &broker.bootstrap,
        RegistryChoice::Embedded,
        &connector,
    );
    wait_active(&db, "batching_slot", T).await;
    let mut consumer = CdcConsumer::new(&broker.bootstrap, &daemon.registry, "^cdc\\.public\\.t$");
    let insert = async |id: i32| {
        db.batch_execute(&format!("INSERT INTO t VALUES ({id})"))
            .await
            .unwrap();
    };

    // Three one-row transactions, fewer than a batch: nothing is committed to Kafka yet.
    let first = Instant::now();
    for id in 1..=3 {
        insert(id).await;
    }
    assert!(
        !consumer.poll_until(Duration::from_secs(3), |r| !r.is_empty()),
        "a transaction shorter than max.batch.size committed before poll.interval.ms"
    );
    // The fourth fills the batch: it commits at the next Postgres commit, long before the
    // interval is out.
    insert(4).await;
    let full = consumer.poll_until(Duration::from_secs(12), |r| r.len() >= 4);
    assert!(
        full && first.elapsed() < interval,
        "a full batch waited for poll.interval.ms ({} records after {:?})\n{}",
        consumer.records.len(),
        first.elapsed(),
        daemon.log()
    );

    // A fifth row waits in an open Kafka transaction; a kill -9 now loses nothing, and the
    // restarted connector waits the interval out with it, then commits it once.
    insert(5).await;
    assert!(!consumer.poll_until(Duration::from_secs(2), |r| r.len() > 4));
    daemon.kill9();
    let restarted = Instant::now();
    daemon.restart();
    assert!(
        consumer.poll_until(T, |r| r.len() >= 5),
        "{:?}\n{}",
        ids(&consumer.records),
        daemon.log()
    );
    assert!(
        restarted.elapsed() >= interval,
        "a lone row committed after {:?}, before poll.interval.ms",
        restarted.elapsed()
    );
    consumer.poll_until(Duration::from_secs(2), |_| false);
    let seen = ids(&consumer.records);
    assert_eq!(
        seen,
        (1..=5).map(|id| (id, 1)).collect(),
        "each row exactly once"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queue_bounded_in_bytes_still_passes_rows_larger_than_the_bound() {
    let pg = PgCluster::start();
    let db = pg.create_db("bytes").await;
    // Rows of about 20 KB, ten times the bound; STORAGE EXTERNAL keeps them uncompressed.
    db.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, v text);
         ALTER TABLE t ALTER COLUMN v SET STORAGE EXTERNAL;
         INSERT INTO t SELECT i, repeat(md5(i::text), 640) FROM generate_series(1, 300) i;",
    )
    .await
    .unwrap();
    let broker = Broker::start();
    let work = tempfile::tempdir().unwrap();
    let connector = pg.connector(
        "bytes",
        "bytes",
        json!({
            "max.queue.size.in.bytes": "2000",
            "snapshot.fetch.size": "3",
            "snapshot.max.threads": "2",
            "snapshot.chunk.pages": "8",
        }),
    );
    let daemon = Daemon::start(
        work.path(),
        &broker.bootstrap,
        RegistryChoice::Embedded,
        &connector,
    );
    wait_active(&db, "bytes_slot", T).await;
    db.batch_execute(
        "INSERT INTO t SELECT i, repeat(md5(i::text), 640) FROM generate_series(301, 600) i",
    )
    .await
    .unwrap();
    let mut consumer = CdcConsumer::new(&broker.bootstrap, &daemon.registry, "^cdc\\.public\\.t$");
    assert!(
        consumer.poll_until(T, |r| r.len() >= 600),
        "{} of 600 rows\n{}",
        consumer.records.len(),
        daemon.log()
    );
    consumer.poll_until(Duration::from_secs(2), |_| false);
    assert_eq!(
        ids(&consumer.records),
        (1..=600).map(|id| (id, 1)).collect()
    );
    let v = &consumer.records[599].value.as_ref().unwrap()["after"]["v"];
    assert_eq!(v.as_str().map(str::len), Some(32 * 640));

    let metrics = get(&daemon.api, "/metrics").body;
    assert!(
        metrics.contains("tributary_max_queue_size_in_bytes{connector=\"bytes\"} 2000"),
        "{metrics}"
    );
    let current = metrics
        .lines()
        .find_map(|l| l.strip_prefix("tributary_current_queue_size_in_bytes{connector=\"bytes\"} "))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no current_queue_size_in_bytes: {metrics}"));
    assert!(current <= 2000, "{current}");
}
