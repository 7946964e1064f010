//! Table changes while the connector streams: ADD COLUMN registers a new BACKWARD-compatible
//! version of the value subject and later events use it; an incompatible change stops the
//! connector FAILED with the subject named, and the handling the README documents (relax
//! the subject's compatibility, restart) publishes the held-back change without loss.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::daemon::{Daemon, RegistryChoice};
use support::kafka::{Broker, CdcConsumer, Record, http};
use support::pg::PgCluster;
use support::slot::{confirmed_flush, wait_active};
use support::wait_for;

const T: Duration = Duration::from_secs(90);
const SUBJECT: &str = "cdc.public.items-value";

/// The record whose `after.id` is `id`, once it has arrived.
fn record(consumer: &mut CdcConsumer, id: i64) -> Record {
    let find = |records: &[Record]| {
        records
            .iter()
            .find(|r| r.value.as_ref().is_some_and(|v| v["after"]["id"] == id))
            .cloned()
    };
    assert!(
        consumer.poll_until(T, |records| find(records).is_some()),
        "the event of id {id} did not arrive"
    );
    find(&consumer.records).unwrap()
}

fn versions(registry: &str, subject: &str) -> Value {
    http(
        "GET",
        &format!("{registry}/subjects/{subject}/versions"),
        None,
    )
    .1
}

#[tokio::test(flavor = "multi_thread")]
async fn add_column_registers_a_new_version_and_an_incompatible_change_fails_naming_the_subject() {
    let pg = PgCluster::start();
    let db = pg.create_db("shop").await;
    db.batch_execute("CREATE TABLE items (id int PRIMARY KEY, name text)")
        .await
        .unwrap();
    let broker = Broker::start();
    let work = tempfile::tempdir().unwrap();
    let connector = pg.connector("evolve", "shop", json!({"snapshot.mode": "no_data"}));
    let mut daemon = Daemon::start(
        work.path(),
        &broker.bootstrap,
        RegistryChoice::Embedded,
        &connector,
    );
    wait_active(&db, "evolve_slot", T).await;
    let registry = daemon.registry.clone();
    let mut consumer = CdcConsumer::new(&broker.bootstrap, &registry, "^cdc\\.public\\.items$");

    db.batch_execute("INSERT INTO items VALUES (1, 'lamp')")
        .await
        .unwrap();
    let v1 = record(&mut consumer, 1);

    // A nullable column: the new value schema gains an optional field, which BACKWARD allows.
    db.batch_execute(
        "ALTER TABLE items ADD COLUMN price numeric(10,2);
         INSERT INTO items VALUES (2, 'desk', 120.50);",
    )
    .await
    .unwrap();
    let v2 = record(&mut consumer, 2);
    assert_ne!(
        v1.value_schema, v2.value_schema,
        "the event after ADD COLUMN is written with a new schema"
    );
    assert!(v2.value.as_ref().unwrap()["after"]["price"].is_string());
    assert!(v1.value.as_ref().unwrap()["after"].get("price").is_none());
    assert_eq!(versions(&registry, SUBJECT), json!([1, 2]));
    assert_eq!(versions(&registry, "cdc.public.items-key"), json!([1]));
    let latest = http(
        "GET",
        &format!("{registry}/subjects/{SUBJECT}/versions/latest"),
        None,
    )
    .1;
    assert_eq!(latest["id"].as_u64(), v2.value_schema.map(u64::from));

    // text → int: the new schema cannot read earlier events, so BACKWARD refuses it.
    db.batch_execute(
        "ALTER TABLE items ALTER COLUMN name TYPE int USING length(name);
         INSERT INTO items VALUES (3, 42, 9.99);",
    )
    .await
    .unwrap();
    let trace = wait_for("the connector to fail", T, async || {
        let s = daemon.status("evolve");
        (s["tasks"][0]["state"] == "FAILED").then(|| s["tasks"][0]["trace"].to_string())
    })
    .await;
    assert!(
        trace.contains(SUBJECT) && trace.contains("incompatible"),
        "the trace names the subject and the reason: {trace}"
    );
    assert!(
        trace.contains("compatibility"),
        "and says how to go on: {trace}"
    );
    let held = db
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await
        .unwrap()
        .get::<_, String>(0);
    assert!(
        confirmed_flush(&db, "evolve_slot").await.unwrap() < support::slot::lsn(&held),
        "Postgres keeps the refused change for the restart"
    );
    assert!(
        !consumer.poll_until(Duration::from_secs(2), |records| records
            .iter()
            .any(|r| r.value.as_ref().is_some_and(|v| v["after"]["id"] == 3))),
        "the change with the refused schema is not published"
    );

    // The README's way out: let the subject accept the change, then restart.
    let (code, body) = http(
        "PUT",
        &format!("{registry}/config/{SUBJECT}"),
        Some(&json!({"compatibility": "NONE"})),
    );
    assert_eq!(code, 200, "{body}");
    assert!(daemon.terminate().success());
    daemon.restart();
    let v3 = record(&mut consumer, 3);
    assert_eq!(v3.value.as_ref().unwrap()["after"]["name"], 42);
    assert_eq!(versions(&registry, SUBJECT), json!([1, 2, 3]));
    let ids: Vec<i64> = consumer
        .records
        .iter()
        .filter_map(|r| r.value.as_ref()?["after"]["id"].as_i64())
        .collect();
    assert_eq!(ids, [1, 2, 3], "every change once, in order");
}
