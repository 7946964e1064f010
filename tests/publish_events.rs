//! `tributary serve` publishing to a real Kafka-API broker: events on `cdc.<schema>.<table>`
//! decode, through the schema registry over HTTP, into the values `tributary capture`
//! prints for the same changes; keys are primary keys; names match Debezium's.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::capture::{Capture, on_topic};
use support::daemon::{Daemon, RegistryChoice};
use support::kafka::{Broker, CdcConsumer, Record, ureq_get};
use support::pg::PgCluster;
use support::slot::wait_active;

const T: Duration = Duration::from_secs(90);

/// (op, key, before, after) of an event, the parts both outputs must agree on.
/// The two connectors snapshot at different points, so snapshot reads differ in `lsn` and
/// `txId`. A delete's `before` under the default replica identity carries only the key:
/// Avro writes Debezium's fallback for the other NOT NULL columns while the JSON output
/// writes null (a known difference, see issue 3's notes), so only the key part is compared.
fn essence(key: &Value, value: &Value) -> Value {
    let snapshot = value["op"] == "r";
    let before = match value["op"].as_str() {
        Some("d") => json!({"id": value["before"]["id"]}),
        _ => value["before"].clone(),
    };
    json!({
        "op": value["op"],
        "key": key,
        "before": before,
        "after": value["after"],
        "lsn": if snapshot { Value::Null } else { value["source"]["lsn"].clone() },
        "txId": if snapshot { Value::Null } else { value["source"]["txId"].clone() },
        "table": value["source"]["table"],
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn kafka_events_decode_to_the_captured_values_with_debezium_names() {
    let pg = PgCluster::start();
    let db = pg.create_db("shop").await;
    db.batch_execute(
        "CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, balance numeric(10,2),
             tags text[], seen timestamptz, doc jsonb, small smallint, ok boolean, raw bytea,
             score double precision, born date);
         CREATE TABLE notes (body text);
         ALTER TABLE notes REPLICA IDENTITY FULL;
         INSERT INTO customers VALUES
             (1, 'ada', 10.50, '{a,b}', '2024-01-02 03:04:05.123456+00', '{\"k\": 1}', 7, true, '\\x0102', 1.5, '1990-05-06'),
             (2, 'bob', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
         INSERT INTO notes VALUES ('snapshot note');",
    )
    .await
    .unwrap();
    let broker = Broker::start();
    let work = tempfile::tempdir().unwrap();
    let extra = json!({"skipped.operations": "none"});

    // The same changes, once through capture and once through Kafka.
    let mut cap = Capture::start(work.path(), &pg.connector("printed", "shop", extra.clone()));
    wait_active(&db, "printed_slot", T).await;
    let published = pg.connector("published", "shop", extra);
    let daemon = Daemon::start(
        &work.path().join("d"),
        &broker.bootstrap,
        RegistryChoice::Embedded,
        &published,
    );
    wait_active(&db, "published_slot", T).await;

    db.batch_execute(
        "INSERT INTO customers VALUES (3, 'cy', 99999999.99, '{}', 'infinity', '[1,2]', -32768, false, '\\x', 'NaN', '0001-01-01');
         UPDATE customers SET name = 'ada lovelace', balance = balance + 1 WHERE id = 1;
         DELETE FROM customers WHERE id = 2;
         INSERT INTO notes VALUES ('streamed note');
         UPDATE customers SET id = 10 WHERE id = 3;",
    )
    .await
    .unwrap();

    // Capture: 3 snapshot rows, then c, u, d + tombstone, c, and the key change (d, tombstone, c).
    let lines = cap.wait_lines(11, T).await;
    let mut consumer = CdcConsumer::new(&broker.bootstrap, &daemon.registry, "^cdc\\..*");
    let got = consumer.poll_until(T, |r: &[Record]| r.len() >= 11);
    assert!(
        got,
        "expected 11 records on cdc.*, got {}: {:#?}\ndaemon log:\n{}",
        consumer.records.len(),
        consumer.records,
        daemon.log()
    );

    // Same events, same values, same order per topic.
    for topic in ["cdc.public.customers", "cdc.public.notes"] {
        let printed: Vec<Value> = on_topic(&lines, topic)
            .iter()
            .map(|l| match l["value"].is_null() {
                true => json!({"tombstone": l["key"]}),
                false => essence(&l["key"], &l["value"]),
            })
            .collect();
        let from_kafka: Vec<Value> = consumer
            .records
            .iter()
            .filter(|r| r.topic == topic)
            .map(|r| match &r.value {
                None => json!({"tombstone": r.key.clone().unwrap_or(Value::Null)}),
                Some(v) => essence(r.key.as_ref().unwrap_or(&Value::Null), v),
            })
            .collect();
        assert_eq!(printed, from_kafka, "{topic}: capture vs Kafka");
    }

    // Keys are primary keys; keyless tables have null keys.
    for r in &consumer.records {
        match r.topic.as_str() {
            "cdc.public.customers" => {
                let key = r.key.as_ref().expect("customers records are keyed");
                assert_eq!(key.as_object().unwrap().keys().collect::<Vec<_>>(), ["id"]);
            }
            _ => assert!(r.key.is_none(), "notes has no key: {r:?}"),
        }
    }

    // Subjects by TopicNameStrategy; Debezium's record names.
    let subjects = ureq_get(&format!("{}/subjects", daemon.registry));
    for s in [
        "cdc.public.customers-key",
        "cdc.public.customers-value",
        "cdc.public.notes-value",
    ] {
        assert!(
            subjects.as_array().unwrap().iter().any(|x| x == s),
            "{s} in {subjects}"
        );
    }
    let value: Value = serde_json::from_str(
        ureq_get(&format!(
            "{}/subjects/cdc.public.customers-value/versions/latest",
            daemon.registry
        ))["schema"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(value["type"], "record");
    assert_eq!(value["name"], "Envelope");
    assert_eq!(value["namespace"], "cdc.public.customers");
    let fields: Vec<&str> = value["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "before",
            "after",
            "source",
            "transaction",
            "op",
            "ts_ms",
            "ts_us",
            "ts_ns"
        ]
    );
    let source = &value["fields"][2]["type"];
    assert_eq!(source["name"], "Source");
    assert_eq!(source["namespace"], "io.debezium.connector.postgresql");
    let key: Value = serde_json::from_str(
        ureq_get(&format!(
            "{}/subjects/cdc.public.customers-key/versions/latest",
            daemon.registry
        ))["schema"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (key["name"].as_str(), key["namespace"].as_str()),
        (Some("Key"), Some("cdc.public.customers"))
    );
    drop(cap);
}
