//! Blocking snapshots (`execute-snapshot` of type `blocking`) on real Postgres and Apache
//! Kafka: streaming stops, the tables are read as an initial snapshot reads them, and
//! streaming resumes where the snapshot's rows leave off.
//!
//! Debezium warns that events after a blocking snapshot may repeat what it read. Here the
//! stream stops exactly at the snapshot's consistent point, so the topic alone shows:
//! - the state derived from it equals the table's, after changes all through the snapshot
//!   and a SIGKILL in the middle of it;
//! - no row appears older than an event already emitted for it;
//! - no row is read twice, and no streamed change is repeated.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use support::api;
use support::incremental::{
    Fold, Reads, T, assert_exact, setup, start, table_state, trickle, writer,
};
use support::kafka::CdcConsumer;

#[tokio::test(flavor = "multi_thread")]
async fn a_blocking_snapshot_under_changes_and_a_kill_reads_each_row_once() {
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
        "blk",
        // Chunks of 200 pages (about 27,000 rows), checkpointed two at a time.
        json!({"snapshot.max.threads": "2", "snapshot.chunk.pages": "200"}),
    )
    .await;

    let started = Instant::now();
    let w = writer(pg.url("app"), ROWS, 50_000);
    // Some changes stream before the signal.
    tokio::time::sleep(Duration::from_millis(500)).await;
    db.execute(
        "INSERT INTO debezium_signal VALUES ('blk-1', 'execute-snapshot', $1)",
        &[&json!({"data-collections": ["public\\.items"], "type": "blocking"}).to_string()],
    )
    .await
    .unwrap();

    let mut consumer = CdcConsumer::new(
        &broker.bootstrap,
        &daemon.registry,
        "^cdc\\.public\\.items$",
    );
    let mut fold = Fold {
        blocking: true,
        ..Fold::default()
    };
    // The kill comes once the daemon has read 30% of the rows (the consumer, decoding
    // every record, would see that only after the snapshot ended).
    support::wait_for("30% of the rows read", T, async || {
        let status = api::get(&daemon.api, "/connectors/blk/status").json();
        let scanned = status["tasks"][0]["snapshot"]["rows_scanned"].as_i64();
        scanned.filter(|n| *n >= ROWS * 3 / 10).map(|_| ())
    })
    .await;
    daemon.kill9();
    daemon.restart();
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
    // The kill landed mid-snapshot: the restart resumed it from its checkpointed chunks.
    assert!(
        daemon.log().contains("resuming=true"),
        "the kill did not land while the blocking snapshot ran\n{}",
        daemon.log()
    );
    // Every row the table held when the snapshot began was read (bar those the writer
    // deleted before it): far more than the kill's 30%.
    assert!(fold.reads as i64 > ROWS / 2, "{} rows read", fold.reads);
    eprintln!(
        "blocking snapshot of {ROWS} rows under 50,000 changes and a kill: {} rows read, {:.1} s",
        fold.reads,
        elapsed.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rest_blocking_snapshot_reads_its_statement_and_streaming_resumes() {
    let work = tempfile::tempdir().unwrap();
    let (pg, db, broker) = setup(
        "CREATE TABLE items (id bigint PRIMARY KEY, version bigint NOT NULL, pad text NOT NULL);
         CREATE TABLE other (id bigint PRIMARY KEY, version bigint NOT NULL);
         INSERT INTO other SELECT g, 0 FROM generate_series(1, 30000) g;",
    )
    .await;
    let (_, daemon) = start(
        work.path(),
        &pg,
        &db,
        &broker,
        "rest",
        json!({"signal.enabled.channels": "rest"}),
    )
    .await;
    // Inserts into `items` run all through the snapshot of `other`.
    let stop = Arc::new(AtomicBool::new(false));
    let live = trickle(pg.url("app"), 1, stop.clone());

    let bad = api::post(
        &daemon.api,
        "/connectors/rest/signals",
        &json!({"id": "b", "type": "execute-snapshot", "data": {
            "type": "blocking", "data-collections": ["public.other"], "surrogate-key": "version"}}),
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("surrogate-key"), "{}", bad.body);
    let ok = api::post(
        &daemon.api,
        "/connectors/rest/signals",
        &json!({"id": "third", "type": "execute-snapshot", "data": {
            "type": "blocking",
            "data-collections": ["public\\.oth.*"],
            "additional-conditions": [{"data-collection": "public.other",
                "filter": "SELECT * FROM public.other WHERE id % 3 = 0"}]}}),
    );
    assert_eq!(ok.status, 202, "{}", ok.body);

    let mut consumer = CdcConsumer::new(
        &broker.bootstrap,
        &daemon.registry,
        "^cdc\\.public\\.(items|other)$",
    );
    let mut reads = Reads::default();
    assert!(
        consumer.poll_until(T, |r| reads.of(r, "cdc.public.other").len() >= 10_000),
        "the snapshot's rows did not arrive\n{}",
        daemon.log()
    );
    let other = reads.of(&consumer.records, "cdc.public.other").to_vec();
    assert_eq!(other.len(), 10_000, "each row of the statement once");
    assert!(
        other.iter().all(|id| id % 3 == 0),
        "the statement selects every third row"
    );
    let markers: Vec<String> = consumer
        .records
        .iter()
        .filter(|r| r.topic == "cdc.public.other")
        .filter_map(|r| r.value.as_ref())
        .map(|v| v["source"]["snapshot"].as_str().unwrap_or_default().into())
        .collect();
    let count = |m: &str| markers.iter().filter(|x| *x == m).count();
    assert_eq!(
        (count("first"), count("true"), count("last")),
        (1, 9_998, 1),
        "Debezium's markers, as an initial snapshot has them"
    );
    assert_eq!(markers[0], "first");
    assert_eq!(markers[9_999], "last");

    // Streaming resumed: every live insert arrives, each once.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let inserted = live.await.unwrap();
    let mut seen = std::collections::HashMap::<i64, usize>::new();
    let mut counted = 0;
    let all = consumer.poll_until(T, |records| {
        for r in &records[counted..] {
            if r.topic == "cdc.public.items" {
                let id = r.key.as_ref().unwrap()["id"].as_i64().unwrap();
                *seen.entry(id).or_default() += 1;
            }
        }
        counted = records.len();
        seen.len() as i64 >= inserted
    });
    assert!(
        all,
        "{} of {inserted} live inserts arrived\n{}",
        seen.len(),
        daemon.log()
    );
    assert!(
        seen.values().all(|n| *n == 1),
        "a live insert arrived twice"
    );
    let status = api::get(&daemon.api, "/connectors/rest/status").json();
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
}
