//! Stopping `tributary capture` at awkward moments: in the middle of a large transaction
//! and during a snapshot. A stop must never leave half a transaction printed, and a
//! stopped snapshot resumes where it stopped.

mod support;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::{Value, json};
use support::capture::Capture;
use support::pg::PgCluster;
use support::slot;

const T: Duration = Duration::from_secs(60);
const LONG: Duration = Duration::from_secs(600);

#[tokio::test(flavor = "multi_thread")]
async fn graceful_stop_in_the_middle_of_a_large_transaction_repeats_none_of_it() {
    const ROWS: i64 = 100_000;
    let pg = PgCluster::start();
    let db = pg.create_db("bigtx").await;
    db.batch_execute(
        "CREATE TABLE big (id bigint PRIMARY KEY, pad text NOT NULL);
         CREATE TABLE marker (id int PRIMARY KEY);",
    )
    .await
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let connector = pg.connector("bigtx", "bigtx", json!({}));
    let mut cap = Capture::start_with(work.path(), &connector, true);
    slot::wait_active(&db, "bigtx_slot", T).await;
    // One transaction, small enough to be decoded whole rather than streamed in blocks:
    // its changes reach the connector one message at a time.
    db.batch_execute(&format!(
        "INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, {ROWS}) g"
    ))
    .await
    .unwrap();
    cap.wait_lines(1_000, LONG).await;
    let status = cap.finish_after_stop();
    assert!(
        status.success(),
        "capture exits 0 on SIGINT: {status}\n{}",
        cap.stderr_text()
    );
    let first = cap.take_raw();
    slot::wait_inactive(&db, "bigtx_slot", T).await;
    eprintln!(
        "first run printed {} of the transaction's {ROWS} rows",
        first.len()
    );

    let mut cap = Capture::start_with(work.path(), &connector, true);
    slot::wait_active(&db, "bigtx_slot", T).await;
    db.batch_execute("INSERT INTO marker VALUES (1)")
        .await
        .unwrap();
    cap.wait_topic("cdc.public.marker", LONG).await;
    let status = cap.finish_after_stop();
    assert!(status.success());
    let second = cap.take_raw();

    let mut seen: HashMap<i64, usize> = HashMap::new();
    for raw in first.iter().chain(&second) {
        let l: Value = serde_json::from_str(raw).unwrap();
        if l["topic"] == "cdc.public.big" {
            *seen.entry(l["key"]["id"].as_i64().unwrap()).or_default() += 1;
        }
    }
    let repeated = seen.values().filter(|n| **n > 1).count();
    assert_eq!(
        seen.len() as i64,
        ROWS,
        "every row of the transaction is printed"
    );
    assert_eq!(
        repeated,
        0,
        "{repeated} rows printed twice: the first run printed {} rows of the transaction before its \
         graceful stop without storing an offset past it, and the restart printed the whole transaction again",
        first.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_during_a_snapshot_stops_without_finishing_it_and_the_restart_resumes_it() {
    const ROWS: i64 = 500_000;
    let pg = PgCluster::start();
    let db = pg.create_db("snapstop").await;
    db.batch_execute(&format!(
        "CREATE TABLE big (id bigint PRIMARY KEY, pad text NOT NULL);
         INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, {ROWS}) g;
         CREATE TABLE marker (id int PRIMARY KEY);"
    ))
    .await
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let connector = pg.connector(
        "snapstop",
        "snapstop",
        json!({"snapshot.max.threads": "2", "snapshot.chunk.pages": "200"}),
    );
    let mut cap = Capture::start_with(work.path(), &connector, true);
    cap.wait_lines(1_000, LONG).await;
    cap.signal(libc::SIGINT);
    // A stop request is not a request to first copy the rest of the table: the snapshot is
    // checkpointed per chunk precisely so that it can stop and resume.
    let status = cap
        .exit_within(LONG)
        .await
        .expect("capture exits after SIGINT");
    assert!(
        status.success(),
        "capture exits 0 on SIGINT: {status}\n{}",
        cap.stderr_text()
    );
    let first = cap.take_raw();
    let offset = cap.offset().expect("an offset file");
    eprintln!(
        "SIGINT after 1000 rows: {} rows printed, snapshot completed: {}",
        first.len(),
        offset["snapshot"]["completed"]
    );
    assert_eq!(
        offset["snapshot"]["completed"],
        false,
        "SIGINT was ignored until the whole snapshot of {ROWS} rows was printed ({} rows)",
        first.len()
    );
    slot::wait_inactive(&db, "snapstop_slot", T).await;

    let mut cap = Capture::start_with(work.path(), &connector, true);
    support::wait_for("the resumed snapshot to complete", LONG, async || {
        (cap.offset()?["snapshot"]["completed"] == true).then_some(())
    })
    .await;
    slot::wait_active(&db, "snapstop_slot", LONG).await;
    db.batch_execute("INSERT INTO marker VALUES (1)")
        .await
        .unwrap();
    cap.wait_topic("cdc.public.marker", LONG).await;
    let status = cap.finish_after_stop();
    assert!(status.success());
    let second = cap.take_raw();
    let mut read = HashSet::new();
    for raw in first.iter().chain(&second) {
        let l: Value = serde_json::from_str(raw).unwrap();
        if l["topic"] == "cdc.public.big" {
            assert_eq!(l["value"]["op"], "r", "{raw}");
            read.insert(l["key"]["id"].as_i64().unwrap());
        }
    }
    assert_eq!(
        read.len() as i64,
        ROWS,
        "every row is read, before or after the restart"
    );
    assert!(
        (second.len() as i64) < ROWS,
        "the restart resumes the snapshot rather than reading all {ROWS} rows again"
    );
}
