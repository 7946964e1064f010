//! The outbox pattern through the publishing path, exactly once: one connector routes an
//! outbox table (Debezium's layout: rows inserted and deleted in the same transaction) and
//! an `op: m` outbox (`pg_logical_emit_message` with the event as JSON, decoded by
//! `DecodeLogicalDecodingMessageContent`) with Debezium's `EventRouter` to one topic per
//! aggregate type (`outbox.event.<type>` and `outbox.message.<type>`), through the
//! AvroConverter, while the daemon is killed with SIGKILL three
//! times mid-stream. A read_committed consumer sees every event once, on its aggregate's
//! topic, keyed by its aggregate id, with its payload as the value, in order per aggregate;
//! nothing reaches the outbox table's own topic.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use support::daemon::{Daemon, DaemonOptions, RegistryChoice};
use support::kafka::{Broker, CdcConsumer};
use support::pg::PgCluster;
use support::slot::{kill9_as_it_moves, wait_active};

/// Transactions written; each inserts (and deletes) `ROWS_PER_TX` outbox rows and emits one
/// message.
const TXS: i64 = 600;
const ROWS_PER_TX: i64 = 3;
const AGGREGATES: [&str; 3] = ["order", "customer", "invoice"];
const T: Duration = Duration::from_secs(120);

/// The statements of transaction `tx`: its events are numbered `tx * 10 + n`.
fn transaction(tx: i64) -> String {
    let mut sql = String::from("BEGIN;");
    for n in 0..ROWS_PER_TX {
        let seq = tx * 10 + n;
        let agg = AGGREGATES[(seq % 3) as usize];
        sql.push_str(&format!(
            "INSERT INTO outboxevent VALUES (gen_random_uuid(), '{agg}', '{agg}-{}', 'Changed', '{{\"seq\": {seq}, \"from\": \"table\"}}');",
            seq % 7
        ));
    }
    sql.push_str("DELETE FROM outboxevent;");
    let seq = tx * 10 + 9;
    let agg = AGGREGATES[(seq % 3) as usize];
    sql.push_str(&format!(
        "SELECT pg_logical_emit_message(true, 'outbox', '{{\"id\": \"m-{seq}\", \"aggregatetype\": \"{agg}\", \"aggregateid\": \"{agg}-{}\", \"type\": \"Noted\", \"payload\": {{\"seq\": {seq}, \"from\": \"message\"}}}}');",
        seq % 7
    ));
    sql.push_str("COMMIT;");
    sql
}

/// An event's sequence number and origin, from its value: the jsonb text of a table row,
/// the decoded struct of a message.
fn event(value: &Value) -> (i64, String) {
    let payload = match value {
        Value::String(text) => serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}")),
        other => other.clone(),
    };
    (
        payload["seq"]
            .as_i64()
            .unwrap_or_else(|| panic!("{payload}")),
        payload["from"].as_str().unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn outbox_rows_and_messages_reach_their_aggregates_exactly_once_through_kill9() {
    let pg = PgCluster::start();
    let broker = Broker::start();
    let work = tempfile::tempdir().unwrap();
    let db = pg.create_db("shop").await;
    db.batch_execute(
        "CREATE TABLE outboxevent (id uuid PRIMARY KEY, aggregatetype varchar(255) NOT NULL,
           aggregateid varchar(255) NOT NULL, type varchar(255) NOT NULL, payload jsonb);",
    )
    .await
    .unwrap();
    let connector = pg.connector(
        "outbox",
        "shop",
        json!({
            "table.include.list": "public.outboxevent",
            // The table's rows: payloads are jsonb text.
            "transforms": "outbox,decode,messages",
            "transforms.outbox.type": "io.debezium.transforms.outbox.EventRouter",
            "transforms.outbox.table.fields.additional.placement": "type:header:eventType",
            "transforms.outbox.predicate": "table",
            // The messages: payloads are structs, on topics of their own (one topic's
            // value schema cannot be both).
            "transforms.decode.type":
                "io.debezium.connector.postgresql.transforms.DecodeLogicalDecodingMessageContent",
            "transforms.decode.predicate": "message",
            "transforms.messages.type": "io.debezium.transforms.outbox.EventRouter",
            "transforms.messages.route.topic.replacement": "outbox.message.${routedByValue}",
            "transforms.messages.predicate": "message",
            "predicates": "table,message",
            "predicates.table.type":
                "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
            "predicates.table.pattern": "cdc\\.public\\.outboxevent",
            "predicates.message.type":
                "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
            "predicates.message.pattern": "cdc\\.message",
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
    wait_active(&db, "outbox_slot", T).await;
    let mut consumer = CdcConsumer::new(&broker.bootstrap, &daemon.registry, "^(outbox|cdc)\\..*");

    let url = pg.url("shop");
    let writer = tokio::spawn(async move {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        for tx in 0..TXS {
            client.batch_execute(&transaction(tx)).await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    assert!(
        consumer.poll_until(T, |r| r.len() >= 40),
        "no events arrived\n{}",
        daemon.log()
    );
    kill9_as_it_moves(&mut daemon, &db, "outbox_slot", 3).await;
    writer.await.unwrap();

    let expected = (TXS * (ROWS_PER_TX + 1)) as usize;
    let complete = consumer.poll_until(Duration::from_secs(180), |r| r.len() >= expected);
    // Anything extra (a duplicate) arrives with the rest.
    consumer.poll_until(Duration::from_secs(3), |_| false);
    assert!(
        complete,
        "{} of {expected} events arrived\n{}",
        consumer.records.len(),
        daemon.log()
    );
    // Per event: how often it arrived; per (topic, key): the events in log order.
    let mut seen: BTreeMap<i64, usize> = BTreeMap::new();
    let mut per_aggregate: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
    for r in &consumer.records {
        let value = r
            .value
            .as_ref()
            .unwrap_or_else(|| panic!("a tombstone: {r:?}"));
        let (seq, from) = event(value);
        let agg = AGGREGATES[(seq % 3) as usize];
        let (kind, origin) = if seq % 10 == 9 {
            ("message", "message")
        } else {
            ("event", "table")
        };
        assert_eq!(r.topic, format!("outbox.{kind}.{agg}"), "{r:?}");
        assert_eq!(r.key, Some(json!(format!("{agg}-{}", seq % 7))), "{r:?}");
        assert_eq!(from, origin, "{r:?}");
        *seen.entry(seq).or_default() += 1;
        per_aggregate
            .entry((r.topic.clone(), r.key.as_ref().unwrap().to_string()))
            .or_default()
            .push(seq);
    }
    let dups: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        dups.is_empty(),
        "events seen twice: {:?}",
        &dups[..dups.len().min(5)]
    );
    assert_eq!(seen.len(), expected, "distinct events");
    for ((topic, key), seqs) in &per_aggregate {
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "{topic} key {key}: events out of order {seqs:?}"
        );
    }
    let subjects = support::kafka::ureq_get(&format!("{}/subjects", daemon.registry));
    let subjects: Vec<&str> = subjects
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for agg in AGGREGATES {
        for kind in ["event", "message"] {
            let subject = format!("outbox.{kind}.{agg}-value");
            assert!(subjects.contains(&subject.as_str()), "{subjects:?}");
        }
    }
    assert!(
        !subjects.iter().any(|s| s.starts_with("cdc.")),
        "{subjects:?}"
    );
}
