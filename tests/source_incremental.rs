//! Incremental snapshots by signal, on real Postgres and Apache Kafka.
//!
//! A 1M-row table is snapshotted incrementally with 4 threads while 50,000 random
//! inserts, updates and deletes run, and the daemon is killed with SIGKILL twice
//! mid-snapshot. Every row carries a `version` its updates raise, and ids are never
//! reused, so the topic alone shows:
//! - the state derived from it equals the table's;
//! - no row ever appears older than an event already emitted for it (a version going
//!   back, or any event after the row's delete);
//! - no row is read twice (chunks finished before a kill are not read again, and the
//!   aborted transactions of the kills are invisible to read_committed).
//!
//! The REST channel, `additional-conditions`, pause and resume run on a smaller table.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::api;
use support::incremental::{
    Fold, Reads, T, assert_exact, kill_after_reads, produce, setup, start, table_signal,
    table_state, trickle, writer,
};
use support::kafka::CdcConsumer;

#[tokio::test(flavor = "multi_thread")]
async fn a_million_rows_with_4_threads_under_changes_and_two_kills() {
    const ROWS: i64 = 1_000_000;
    let work = tempfile::tempdir().unwrap();
    let (pg, db, broker) = setup(&format!(
        "CREATE TABLE items (id bigint PRIMARY KEY, version bigint NOT NULL, pad text NOT NULL);
         INSERT INTO items SELECT g, 0, 'row ' || g FROM generate_series(1, {ROWS}) g;"
    ))
    .await;
    let (_, mut daemon) = start(
        work.path(),
        &pg,
        &db,
        &broker,
        "inc",
        json!({"snapshot.max.threads": "4", "incremental.snapshot.chunk.size": "2048"}),
    )
    .await;

    let started = Instant::now();
    let w = writer(pg.url("app"), ROWS, 50_000);
    table_signal(&db, "ad-hoc-1", "public\\.items").await;

    let mut consumer = CdcConsumer::new(
        &broker.bootstrap,
        &daemon.registry,
        "^cdc\\.public\\.items$",
    );
    let mut fold = Fold::default();
    for at in [ROWS / 10, ROWS * 3 / 10] {
        let topic = "cdc.public.items";
        kill_after_reads(&mut consumer, &mut fold, topic, at, &mut daemon);
    }
    w.await.unwrap();
    let expected = table_state(&db, "items").await;
    assert_exact(
        &mut consumer,
        &mut fold,
        "cdc.public.items",
        &expected,
        || daemon.log(),
    );
    let elapsed = started.elapsed();
    // The kills landed mid-snapshot: each restart read on from the stored window.
    let resumed = daemon
        .log()
        .matches("incremental snapshot in progress: reading on")
        .count();
    assert!(
        resumed >= 2,
        "only {resumed} of the 2 kills landed while the snapshot ran\n{}",
        daemon.log()
    );
    eprintln!(
        "incremental snapshot of {ROWS} rows under 50,000 changes and 2 kills ({resumed} mid-snapshot): {} rows read, {:.1} s",
        fold.reads,
        elapsed.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rest_signals_with_conditions_pause_and_resume() {
    let work = tempfile::tempdir().unwrap();
    let (pg, db, broker) = setup(
        "CREATE TABLE items (id bigint PRIMARY KEY, version bigint NOT NULL, pad text NOT NULL);
         INSERT INTO items SELECT g, 0, 'row' FROM generate_series(1, 20000) g;
         CREATE TABLE other (id bigint PRIMARY KEY, version bigint NOT NULL);
         INSERT INTO other SELECT g, 0 FROM generate_series(1, 30000) g;",
    )
    .await;
    // Only the REST channel: inserts into the table are not signals.
    let (_, daemon) = start(
        work.path(),
        &pg,
        &db,
        &broker,
        "rest",
        json!({"signal.enabled.channels": "rest", "incremental.snapshot.chunk.size": "500"}),
    )
    .await;

    // A table signal is ignored when only rest is enabled.
    table_signal(&db, "table-1", "public.other").await;
    // A bad signal is a 400 naming the problem.
    let bad = api::post(
        &daemon.api,
        "/connectors/rest/signals",
        &json!({"id": "x", "type": "execute-snapshot", "data": {"type": "incremental"}}),
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("data-collections"), "{}", bad.body);

    let ok = api::post(
        &daemon.api,
        "/connectors/rest/signals",
        &json!({"id": "even", "type": "execute-snapshot", "data": {
            "data-collections": ["public.items"],
            "additional-conditions": [{"data-collection": "public.items", "filter": "id % 2 = 0"}]}}),
    );
    assert_eq!(ok.status, 202, "{}", ok.body);
    let mut consumer = CdcConsumer::new(
        &broker.bootstrap,
        &daemon.registry,
        "^cdc\\.public\\.(items|other)$",
    );
    let mut reads = Reads::default();
    assert!(
        consumer.poll_until(T, |r| reads.of(r, "cdc.public.items").len() >= 10_000),
        "the even rows were not read\n{}",
        daemon.log()
    );
    let items = reads.of(&consumer.records, "cdc.public.items").to_vec();
    assert!(
        items.iter().all(|id| id % 2 == 0),
        "additional-conditions selects even ids only"
    );
    assert_eq!(items.len(), 10_000);
    assert!(
        reads.of(&consumer.records, "cdc.public.other").is_empty(),
        "the table signal was ignored"
    );

    // Pause right after the start: the snapshot of `other` stops short, then resumes.
    for (id, kind, data) in [
        (
            "o",
            "execute-snapshot",
            json!({"data-collections": ["public\\.oth.*"]}),
        ),
        ("p", "pause-snapshot", json!({})),
    ] {
        let r = api::post(
            &daemon.api,
            "/connectors/rest/signals",
            &json!({"id": id, "type": kind, "data": data}),
        );
        assert_eq!(r.status, 202, "{}", r.body);
    }
    consumer.poll_until(Duration::from_secs(3), |_| false);
    let paused_at = reads.of(&consumer.records, "cdc.public.other").len();
    consumer.poll_until(Duration::from_secs(2), |_| false);
    assert_eq!(
        reads.of(&consumer.records, "cdc.public.other").len(),
        paused_at,
        "a paused snapshot reads nothing"
    );
    assert!(paused_at < 30_000, "paused before the end");
    let status = api::get(&daemon.api, "/connectors/rest/status").json();
    let inc = &status["tasks"][0]["snapshot"]["incremental"];
    assert_eq!(inc["paused"], true, "{status}");
    assert_eq!(inc["table"], "public.other", "{status}");
    let metrics = api::get(&daemon.api, "/metrics").body;
    assert!(
        metrics.contains("tributary_incremental_snapshot_paused{connector=\"rest\"} 1"),
        "{metrics}"
    );
    let r = api::post(
        &daemon.api,
        "/connectors/rest/signals",
        &json!({"id": "r", "type": "resume-snapshot"}),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    assert!(
        consumer.poll_until(T, |r| reads.of(r, "cdc.public.other").len() >= 30_000),
        "the resumed snapshot did not finish\n{}",
        daemon.log()
    );
    let mut other = reads.of(&consumer.records, "cdc.public.other").to_vec();
    other.sort();
    other.dedup();
    assert_eq!(other.len(), 30_000, "every row of other read once");
    assert_eq!(
        reads.of(&consumer.records, "cdc.public.other").len(),
        30_000,
        "no row of other read twice"
    );

    // stop-snapshot ends a running snapshot: far fewer rows than the table's arrive.
    for (id, kind) in [("again", "execute-snapshot"), ("stop", "stop-snapshot")] {
        let data = json!({"data-collections": ["public.other"]});
        let r = api::post(
            &daemon.api,
            "/connectors/rest/signals",
            &json!({"id": id, "type": kind, "data": data}),
        );
        assert_eq!(r.status, 202, "{}", r.body);
    }
    let idle = |api: &str| {
        api::get(api, "/metrics")
            .body
            .contains("tributary_incremental_snapshot_running{connector=\"rest\"} 0")
    };
    let deadline = Instant::now() + T;
    while !idle(&daemon.api) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(idle(&daemon.api), "the stopped snapshot still runs");
    consumer.poll_until(Duration::from_secs(2), |_| false);
    let again = reads.of(&consumer.records, "cdc.public.other").len() - 30_000;
    assert!(again < 30_000, "stop-snapshot let {again} rows through");
    let status = api::get(&daemon.api, "/connectors/rest/status").json();
    assert!(
        status["tasks"][0]["snapshot"]["incremental"].is_null(),
        "{status}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_added_through_put_config_is_snapshotted_while_the_others_stream() {
    let work = tempfile::tempdir().unwrap();
    let (pg, db, broker) = setup(
        "CREATE TABLE items (id bigint PRIMARY KEY, version bigint NOT NULL, pad text NOT NULL);
         CREATE TABLE other (id bigint PRIMARY KEY, version bigint NOT NULL);
         INSERT INTO other SELECT g, 0 FROM generate_series(1, 30000) g;",
    )
    .await;
    let (config, daemon) = start(
        work.path(),
        &pg,
        &db,
        &broker,
        "live",
        json!({
            "table.include.list": "public.items",
            "publication.autocreate.mode": "filtered",
            "snapshot.new.tables": "parallel",
            "incremental.snapshot.chunk.size": "500",
        }),
    )
    .await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = trickle(pg.url("app"), 1, stop.clone());
    let mut consumer = CdcConsumer::new(
        &broker.bootstrap,
        &daemon.registry,
        "^cdc\\.public\\.(items|other)$",
    );
    assert!(
        consumer.poll_until(T, |r| r
            .iter()
            .filter(|r| r.topic == "cdc.public.items")
            .count()
            >= 50),
        "items did not stream\n{}",
        daemon.log()
    );

    let mut changed = config["config"].clone();
    changed["table.include.list"] = json!("public.items,public.other");
    let r = api::put(&daemon.api, "/connectors/live/config", &changed);
    assert!(r.status == 200, "{}", r.body);
    let mut reads = Reads::default();
    assert!(
        consumer.poll_until(T, |r| reads.of(r, "cdc.public.other").len() >= 30_000),
        "the added table was not snapshotted\n{}",
        daemon.log()
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.await.unwrap();
    assert!(
        consumer.poll_until(
            T,
            |r| r.iter().filter(|r| r.topic == "cdc.public.items").count() as i64 >= written
        ),
        "not every items insert arrived"
    );
    let mut other = reads.of(&consumer.records, "cdc.public.other").to_vec();
    let total = other.len();
    other.sort();
    other.dedup();
    assert_eq!(
        (other.len(), total),
        (30_000, 30_000),
        "every row of the added table read once"
    );
    // The other table kept streaming while the new one was read: items events arrived
    // between the added table's first and last rows.
    let positions: Vec<usize> = consumer
        .records
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.topic == "cdc.public.other" && r.value.as_ref().is_some_and(|v| v["op"] == "r")
        })
        .map(|(i, _)| i)
        .collect();
    let (first, last) = (positions[0], positions[positions.len() - 1]);
    let between = consumer.records[first..last]
        .iter()
        .filter(|r| r.topic == "cdc.public.items")
        .count();
    assert!(
        between > 0,
        "no items event arrived while the added table was read"
    );
    // The items table itself was not snapshotted again.
    assert!(reads.of(&consumer.records, "cdc.public.items").is_empty());
    eprintln!("{between} items events arrived while the added table's 30,000 rows were read");
}

#[tokio::test(flavor = "multi_thread")]
async fn kafka_channel_signals_are_read_from_the_signal_topic() {
    let work = tempfile::tempdir().unwrap();
    let (pg, db, broker) = setup(
        "CREATE TABLE items (id bigint PRIMARY KEY, version bigint NOT NULL, pad text NOT NULL);
         INSERT INTO items SELECT g, 0, 'row' FROM generate_series(1, 3000) g;",
    )
    .await;
    let (_, daemon) = start(
        work.path(),
        &pg,
        &db,
        &broker,
        "kch",
        json!({"signal.enabled.channels": "kafka", "incremental.snapshot.chunk.size": "400"}),
    )
    .await;
    let snapshot = json!({"data-collections": ["public.items"]});
    produce(
        &broker.bootstrap,
        "cdc-signal",
        &[
            // Another connector's signal (its key is its topic.prefix) is not for this one.
            (
                "other",
                json!({"id": "not-mine", "type": "execute-snapshot", "data": snapshot}),
            ),
            (
                "cdc",
                json!({"id": "k1", "type": "execute-snapshot", "data": snapshot}),
            ),
        ],
    )
    .await;
    // Only the kafka channel: a table signal is not acted on.
    table_signal(&db, "table-1", "public.items").await;
    let mut consumer = CdcConsumer::new(
        &broker.bootstrap,
        &daemon.registry,
        "^cdc\\.public\\.items$",
    );
    let mut reads = Reads::default();
    assert!(
        consumer.poll_until(T, |r| reads.of(r, "cdc.public.items").len() >= 3000),
        "the Kafka signal's snapshot did not arrive\n{}",
        daemon.log()
    );
    consumer.poll_until(Duration::from_secs(3), |_| false);
    let mut ids = reads.of(&consumer.records, "cdc.public.items").to_vec();
    assert_eq!(
        ids.len(),
        3000,
        "one snapshot: the other key's and the table's signals are not acted on"
    );
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3000);
    let log = daemon.log();
    assert!(
        log.contains("its key is not the connector's topic.prefix"),
        "{log}"
    );
}
