//! Logical decoding messages through the daemon to Apache Kafka, across kill -9: each
//! standalone (non-transactional) message, whose own position becomes the offset, and each
//! transactional one, published with its transaction, reaches a read_committed consumer of
//! `<prefix>.message` exactly once; messages whose prefix the filter excludes never do.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;
use support::daemon::{Daemon, RegistryChoice};
use support::kafka::{Broker, CdcConsumer};
use support::pg::PgCluster;
use support::slot::wait_active;

const T: Duration = Duration::from_secs(120);
/// Messages of each kind.
const N: i64 = 3_000;

#[tokio::test(flavor = "multi_thread")]
async fn messages_reach_kafka_exactly_once_across_kill_9() {
    let pg = PgCluster::start();
    let db = pg.create_db("msgs").await;
    db.batch_execute("CREATE TABLE t (id bigint PRIMARY KEY)")
        .await
        .unwrap();
    let broker = Broker::start();
    let work = tempfile::tempdir().unwrap();
    let connector = pg.connector(
        "msgs",
        "msgs",
        json!({
            "snapshot.mode": "no_data",
            "message.prefix.exclude.list": "noise",
            "binary.handling.mode": "hex",
            "publish.batch.max.events": "200",
        }),
    );
    let mut daemon = Daemon::start(
        work.path(),
        &broker.bootstrap,
        RegistryChoice::Embedded,
        &connector,
    );
    wait_active(&db, "msgs_slot", T).await;

    let url = pg.url("msgs");
    let writer = tokio::spawn(async move {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        for i in 1..=N {
            client
                .batch_execute(&format!(
                    "SELECT pg_logical_emit_message(false, 'alone', 'a{i}');
                     BEGIN; INSERT INTO t VALUES ({i});
                     SELECT pg_logical_emit_message(true, 'tx', 't{i}');
                     SELECT pg_logical_emit_message(true, 'noise', 'n{i}'); COMMIT;"
                ))
                .await
                .unwrap();
            // Paced, so that the kills land while messages are being written.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
    // Kill the daemon three times while the messages are being written.
    let mut while_writing = 0;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        while_writing += usize::from(!writer.is_finished());
        daemon.kill9();
        daemon.restart();
    }
    writer.await.unwrap();
    assert!(
        while_writing >= 2,
        "only {while_writing} of 3 kills landed while messages were written"
    );
    assert!(daemon.alive(), "{}", daemon.log());

    let mut consumer = CdcConsumer::new(&broker.bootstrap, &daemon.registry, "^cdc\\.message$");
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut counted = 0;
    let done = consumer.poll_until(T, |records| {
        for r in &records[counted..] {
            let content = r.value.as_ref().unwrap()["message"]["content"]
                .as_str()
                .unwrap()
                .to_string();
            *seen.entry(content).or_default() += 1;
        }
        counted = records.len();
        seen.len() as i64 >= 2 * N
    });
    // A moment for anything published twice after the last one.
    consumer.poll_until(Duration::from_secs(2), |_| false);
    for r in &consumer.records[counted..] {
        let content = r.value.as_ref().unwrap()["message"]["content"]
            .as_str()
            .unwrap()
            .to_string();
        *seen.entry(content).or_default() += 1;
    }
    assert!(done, "{} of {} messages arrived", seen.len(), 2 * N);
    // Contents in hex (binary.handling.mode), as Debezium writes them.
    let hex = |s: &str| s.bytes().map(|b| format!("{b:02x}")).collect::<String>();
    for i in 1..=N {
        for content in [format!("a{i}"), format!("t{i}")] {
            assert_eq!(seen.get(&hex(&content)), Some(&1), "{content}");
        }
    }
    assert_eq!(seen.len() as i64, 2 * N, "no excluded prefix is published");
    let dups: usize = seen.values().map(|n| n - 1).sum();
    eprintln!("{} messages across 3 kills; {dups} duplicates", seen.len());
}
