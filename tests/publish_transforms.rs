//! Transforms in the publishing path, exactly once: a connector with Debezium's
//! `ExtractNewRecordState` (deletes rewritten, the op and LSN added as fields) and Kafka's
//! `RegexRouter` publishes flat rows to `flat.<table>` through the AvroConverter (the
//! transformed schemas registered under the new topic's subjects, none under the old), while the daemon is
//! killed with SIGKILL three times mid-stream. A read_committed consumer sees every change
//! once — its insert, its update, its delete (`__deleted=true`) — and nothing on the
//! untransformed topic.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};
use support::daemon::{Daemon, DaemonOptions, RegistryChoice};
use support::kafka::{Broker, CdcConsumer};
use support::pg::PgCluster;
use support::slot::{kill9_as_it_moves, wait_active};

const ROWS: i64 = 6_000;
const PER_TX: i64 = 50;
const T: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread")]
async fn unwrapped_and_routed_rows_arrive_exactly_once_through_kill9() {
    let pg = PgCluster::start();
    let broker = Broker::start();
    let work = tempfile::tempdir().unwrap();
    let db = pg.create_db("app").await;
    db.batch_execute(
        "CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty int DEFAULT 1);
         INSERT INTO items SELECT g, 'seed ' || g, g FROM generate_series(-99, 0) g;",
    )
    .await
    .unwrap();
    let connector = pg.connector(
        "flat",
        "app",
        json!({
            "transforms": "unwrap,route",
            "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
            "transforms.unwrap.delete.tombstone.handling.mode": "rewrite",
            "transforms.unwrap.add.fields": "op,source.lsn",
            "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
            "transforms.route.regex": "cdc\\.public\\.(.*)",
            "transforms.route.replacement": "flat.$1",
        }),
    );
    let mut daemon = Daemon::start_with(
        &work.path().join("daemon"),
        DaemonOptions {
            registry: RegistryChoice::Embedded,
            connectors: vec![connector],
            ..DaemonOptions::new(&broker.bootstrap)
        },
    );
    wait_active(&db, "flat_slot", T).await;
    // The snapshot is committed before the kills start: a kill before that snapshots again
    // (rows then arrive as reads, not as the changes counted below).
    let mut consumer = CdcConsumer::new(&broker.bootstrap, &daemon.registry, "^(flat|cdc)\\..*");
    assert!(
        consumer.poll_until(T, |r| r.len() >= 100),
        "the snapshot did not arrive\n{}",
        daemon.log()
    );

    // Each id: inserted, updated, and (every third) deleted, in transactions of PER_TX.
    let url = pg.url("app");
    let writer = tokio::spawn(async move {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let mut id = 1;
        while id <= ROWS {
            let end = id + PER_TX - 1;
            client
                .batch_execute(&format!(
                    "BEGIN;
                     INSERT INTO items SELECT g, 'row ' || g, 1 FROM generate_series({id}, {end}) g;
                     UPDATE items SET qty = 2 WHERE id BETWEEN {id} AND {end};
                     DELETE FROM items WHERE id BETWEEN {id} AND {end} AND id % 3 = 0;
                     COMMIT;"
                ))
                .await
                .unwrap();
            id = end + 1;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    kill9_as_it_moves(&mut daemon, &db, "flat_slot", 3).await;
    writer.await.unwrap();

    let snapshot = 100;
    let inserts = ROWS as usize;
    let deletes = (ROWS / 3) as usize;
    let expected = snapshot + 2 * inserts + deletes;
    let complete = consumer.poll_until(Duration::from_secs(180), |r| r.len() >= expected);
    // Anything extra (a duplicate) arrives with the rest.
    consumer.poll_until(Duration::from_secs(3), |_| false);
    assert!(
        complete,
        "{} of {expected} records arrived\n{}",
        consumer.records.len(),
        daemon.log()
    );
    let mut seen: HashMap<(i64, String), usize> = HashMap::new();
    for r in &consumer.records {
        assert_eq!(r.topic, "flat.items", "{r:?}");
        let v: &Value = r
            .value
            .as_ref()
            .expect("deletes are rewritten, never tombstones");
        let op = v["__op"]
            .as_str()
            .unwrap_or_else(|| panic!("{v}"))
            .to_string();
        let id = v["id"].as_i64().unwrap();
        let deleted = v["__deleted"].as_str().unwrap();
        assert_eq!(deleted == "true", op == "d", "{v}");
        if op != "r" {
            assert!(v["__source_lsn"].as_i64().is_some(), "{v}");
        }
        *seen.entry((id, op)).or_default() += 1;
    }
    let dups: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        dups.is_empty(),
        "changes seen twice: {:?}",
        &dups[..dups.len().min(5)]
    );
    assert_eq!(seen.len(), expected, "distinct changes");
    // The flat rows' schemas are registered under the routed topic.
    let subjects = support::kafka::ureq_get(&format!("{}/subjects", daemon.registry));
    let subjects: Vec<&str> = subjects
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(subjects.contains(&"flat.items-value"), "{subjects:?}");
    assert!(subjects.contains(&"flat.items-key"), "{subjects:?}");
    // Nothing is registered for the topic every record was routed away from.
    assert!(
        !subjects.iter().any(|s| s.starts_with("cdc.")),
        "{subjects:?}"
    );
}
