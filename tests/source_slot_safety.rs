//! A replication slot never silently eats the disk. With `max_slot_wal_keep_size` small and
//! the connector stopped, the status and `/metrics` show the slot's WAL growing and warn
//! past `slot.lag.warn.bytes`, saying the connector is stopped; once Postgres invalidates
//! the slot, resuming fails naming the consequence and both ways forward, and
//! `snapshot.mode=when_needed` recovers: the topic ends up holding the table's exact state,
//! the changes made while the slot was lost included.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::api::{Tally, connector_path as path, get, post, put, wait_status};
use support::daemon::{Daemon, DaemonOptions};
use support::kafka::Broker;
use support::pg::{PgCluster, PgConfig};

const T: Duration = Duration::from_secs(60);
const TOPIC: &str = "cdc.public.items";
const WARN_BYTES: i64 = 8 << 20;

/// A sample of `/metrics` for connector `guard`, with more labels if given.
fn metric(api: &str, family: &str, labels: &str) -> Option<f64> {
    let text = support::api::get(api, "/metrics").body;
    let prefix = format!("tributary_{family}{{connector=\"guard\"{labels}}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
}

/// The connector status's `slot` object, once `done` holds of it.
async fn wait_slot(api: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + T;
    loop {
        let status = get(api, &path("guard", "/status")).json();
        let slot = &status["connector"]["slot"];
        if done(slot) {
            return slot.clone();
        }
        assert!(Instant::now() < deadline, "{what}: last status {status}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// About `mb` MiB of WAL in a table the connector does not capture.
async fn write_wal(db: &tokio_postgres::Client, mb: i64) {
    db.batch_execute(&format!(
        "INSERT INTO filler SELECT g, repeat(md5(g::text), 30) FROM generate_series(1, {}) g;
         TRUNCATE filler;",
        mb * 1000
    ))
    .await
    .unwrap();
}

/// The rows the topic's events leave, by id: the last event of each key wins.
fn topic_state(tally: &Tally) -> BTreeMap<i64, String> {
    let mut state = BTreeMap::new();
    for r in tally.consumer.records.iter().filter(|r| r.topic == TOPIC) {
        let Some(v) = &r.value else { continue };
        match v["op"].as_str() {
            Some("d") => {
                state.remove(&v["before"]["id"].as_i64().unwrap());
            }
            Some(_) => {
                let after = &v["after"];
                let id = after["id"].as_i64().unwrap();
                state.insert(id, after["v"].as_str().unwrap_or_default().to_string());
            }
            None => {}
        }
    }
    state
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slot_near_and_past_max_slot_wal_keep_size_is_named_and_recovered() {
    let pg = PgCluster::start_with(PgConfig {
        conf: [
            "max_slot_wal_keep_size = 64MB",
            "max_wal_size = 32MB",
            "min_wal_size = 32MB",
            "wal_keep_size = 0",
        ]
        .map(String::from)
        .to_vec(),
        ..PgConfig::default()
    });
    let db = pg.create_db("app").await;
    db.batch_execute(
        "CREATE TABLE items (id bigint PRIMARY KEY, v text);
         CREATE TABLE filler (id bigint, pad text);
         INSERT INTO items SELECT g, 'first' FROM generate_series(1, 100) g;",
    )
    .await
    .unwrap();
    let broker = Broker::start();
    let work = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with(work.path(), DaemonOptions::new(&broker.bootstrap));
    let api = daemon.api.as_str();
    let connector = pg.connector(
        "guard",
        "app",
        json!({
            "table.include.list": "public.items",
            "publication.autocreate.mode": "filtered",
            "slot.lag.warn.bytes": WARN_BYTES.to_string(),
        }),
    );
    let r = post(api, "/connectors", &connector);
    assert_eq!(r.status, 201, "{r:?}");
    wait_status(api, "guard", "RUNNING", &["RUNNING"], T).await;
    let mut tally = Tally::new(
        &broker.bootstrap,
        &daemon.registry,
        "^cdc\\.public\\.items$",
    );
    assert!(tally.until(T, |t| t.missing(TOPIC, "r", 1..=100).is_empty()));

    // Stopped: the slot's WAL grows, and status and metrics say so, and why.
    assert_eq!(put(api, &path("guard", "/stop"), None).status, 204);
    wait_status(api, "guard", "STOPPED", &[], T).await;
    db.batch_execute(
        "UPDATE items SET v = 'second' WHERE id <= 50;
         INSERT INTO items SELECT g, 'new' FROM generate_series(101, 150) g;",
    )
    .await
    .unwrap();
    write_wal(&db, 12).await;
    let slot = wait_slot(api, "a warning past slot.lag.warn.bytes", |s| {
        s["retained_wal_bytes"].as_i64() > Some(WARN_BYTES)
            && s["warning"].as_str().is_some_and(|w| w.contains("stopped"))
    })
    .await;
    assert!(
        ["reserved", "extended"].contains(&slot["wal_status"].as_str().unwrap_or_default()),
        "{slot}"
    );
    assert_eq!(
        slot["max_slot_wal_keep_size_bytes"],
        json!(64 << 20),
        "{slot}"
    );
    let warning = slot["warning"].as_str().unwrap();
    assert!(
        warning.contains("slot.lag.warn.bytes") && warning.contains("max_slot_wal_keep_size"),
        "{warning}"
    );
    let lag = metric(api, "slot_lag_bytes", "").expect("slot_lag_bytes");
    assert!(lag > WARN_BYTES as f64, "{lag}");
    assert!(metric(api, "slot_safe_wal_size_bytes", "").is_some());
    assert_eq!(
        metric(api, "slot_max_wal_keep_size_bytes", ""),
        Some((64 << 20) as f64)
    );

    // Postgres invalidates the slot at a checkpoint once it holds more than the limit.
    let deadline = Instant::now() + T;
    loop {
        write_wal(&db, 40).await;
        db.batch_execute("SELECT pg_switch_wal(); CHECKPOINT;")
            .await
            .unwrap();
        let status: Option<String> = db
            .query_one(
                "SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'guard_slot'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if status.as_deref() == Some("lost") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the slot was not lost: {status:?}"
        );
    }
    let slot = wait_slot(api, "the lost slot in the status", |s| {
        s["wal_status"] == "lost"
    })
    .await;
    assert!(
        slot["warning"]
            .as_str()
            .is_some_and(|w| w.contains("when_needed")),
        "{slot}"
    );
    assert_eq!(
        metric(api, "slot_wal_status", ",wal_status=\"lost\""),
        Some(1.0)
    );

    // Resumed, it fails naming what was lost and the two ways forward.
    assert_eq!(put(api, &path("guard", "/resume"), None).status, 202);
    let status = wait_status(api, "guard", "RUNNING", &["FAILED"], T).await;
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default();
    for words in [
        "wal_status lost",
        "max_slot_wal_keep_size",
        "snapshot.mode=when_needed",
        "DELETE /connectors/guard/offsets",
    ] {
        assert!(trace.contains(words), "{words:?} in {trace}");
    }

    // when_needed drops the lost slot, makes a new one and snapshots: the topic ends up
    // with the table's state, the changes made while the slot was lost included.
    let mut config = connector["config"].clone();
    config["snapshot.mode"] = json!("when_needed");
    let r = put(api, &path("guard", "/config"), &config);
    assert!(r.status == 200 || r.status == 201, "{r:?}");
    wait_status(api, "guard", "RUNNING", &["RUNNING"], T).await;
    let rows = db.query("SELECT id, v FROM items", &[]).await.unwrap();
    let table: BTreeMap<i64, String> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert!(
        tally.until(T, |t| topic_state(t) == table),
        "the topic's state is the table's: {:?}",
        topic_state(&tally)
            .into_iter()
            .filter(|(id, v)| table.get(id) != Some(v))
            .take(10)
            .collect::<Vec<_>>()
    );
    let slot = wait_slot(api, "the new slot", |s| {
        s["wal_status"] != "lost" && s["warning"].is_null()
    })
    .await;
    assert!(
        slot["retained_wal_bytes"].as_i64() < Some(WARN_BYTES),
        "{slot}"
    );
}
