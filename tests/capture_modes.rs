//! `snapshot.mode` as Debezium documents it: when the connector reads the existing rows,
//! whether it streams afterwards, and what a restart does with its stored offset.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};
use support::capture::Capture;
use support::pg::PgCluster;
use support::{slot, wait_for};

const T: Duration = Duration::from_secs(60);
const LONG: Duration = Duration::from_secs(600);

/// One line as `op id v` (`tombstone id` for a tombstone), to compare whole runs at once.
fn summary(line: &Value) -> String {
    let id = &line["key"]["id"];
    let value = &line["value"];
    if value.is_null() {
        return format!("tombstone {id}");
    }
    match value["op"].as_str().unwrap_or("?") {
        "d" => format!("d {id}"),
        op => format!("{op} {id} {}", value["after"]["v"].as_str().unwrap_or("?")),
    }
}

fn summaries(lines: &[Value]) -> Vec<String> {
    lines.iter().map(summary).collect()
}

fn sorted(lines: &[Value]) -> Vec<String> {
    let mut s = summaries(lines);
    s.sort();
    s
}

fn markers(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            l["value"]["source"]["snapshot"]
                .as_str()
                .unwrap_or("?")
                .to_string()
        })
        .collect()
}

/// A database `db` with table `t (id, v)` holding rows 1..=3 (`a`, `b`, `c`).
async fn three_rows(pg: &PgCluster, db: &str) -> tokio_postgres::Client {
    let client = pg.create_db(db).await;
    client
        .batch_execute(
            "CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL);
             INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c');",
        )
        .await
        .unwrap();
    client
}

/// SIGINT, a clean exit, and the slot released.
async fn stop(cap: Capture, db: &tokio_postgres::Client, slot_name: &str) -> Vec<Value> {
    let (status, lines) = cap.stop();
    assert!(status.success(), "capture exits 0 on SIGINT: {status}");
    slot::wait_inactive(db, slot_name, T).await;
    lines
}

#[tokio::test(flavor = "multi_thread")]
async fn initial_only_reads_the_existing_rows_and_exits_without_streaming() {
    let pg = PgCluster::start();
    let db = three_rows(&pg, "only").await;
    db.batch_execute("INSERT INTO t VALUES (4, 'd'), (5, 'e')")
        .await
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let connector = pg.connector("only", "only", json!({"snapshot.mode": "initial_only"}));
    let mut cap = Capture::start(work.path(), &connector);
    cap.wait_lines(5, T).await;
    // Committed after the snapshot was read: never captured, the connector does not stream.
    db.batch_execute("INSERT INTO t VALUES (6, 'f')")
        .await
        .unwrap();
    let status = cap.exit_within(T).await.unwrap_or_else(|| {
        panic!(
            "capture must exit by itself after the snapshot; stderr:\n{}",
            cap.stderr_text()
        )
    });
    assert!(
        status.success(),
        "exit status {status}; stderr:\n{}",
        cap.stderr_text()
    );
    let lines = cap.snapshot_lines();
    assert_eq!(
        sorted(&lines),
        ["r 1 a", "r 2 b", "r 3 c", "r 4 d", "r 5 e"],
        "{lines:#?}"
    );
    assert_eq!(markers(&lines), ["first", "true", "true", "true", "last"]);
    for l in &lines {
        assert_eq!(l["value"]["before"], Value::Null);
        assert_eq!(l["value"]["source"]["table"], "t");
    }
    let offset = cap.offset().expect("an offset file");
    assert_eq!(offset["snapshot"]["completed"], true, "{offset}");
    slot::wait_inactive(&db, "only_slot", T).await;

    // A second start has nothing left to do: no events, and it exits by itself again.
    let mut again = Capture::start(work.path(), &connector);
    let status = again
        .exit_within(T)
        .await
        .expect("the second run exits by itself");
    assert!(status.success(), "{}", again.stderr_text());
    assert!(
        again.snapshot_lines().is_empty(),
        "{:#?}",
        again.snapshot_lines()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_data_and_its_alias_never_stream_changes_without_reading_existing_rows() {
    let pg = PgCluster::start();
    let db = three_rows(&pg, "nodata").await;
    let work = tempfile::tempdir().unwrap();
    for (i, mode) in ["no_data", "never"].into_iter().enumerate() {
        let name = format!("nd_{mode}");
        let connector = pg.connector(&name, "nodata", json!({"snapshot.mode": mode}));
        let mut cap = Capture::start(work.path(), &connector);
        slot::wait_active(&db, &format!("{name}_slot"), T).await;
        let id = 10 + i as i32;
        db.execute("INSERT INTO t VALUES ($1, 'new')", &[&id])
            .await
            .unwrap();
        cap.wait_lines(1, T).await;
        let lines = stop(cap, &db, &format!("{name}_slot")).await;
        assert_eq!(
            summaries(&lines),
            [format!("c {id} new")],
            "snapshot.mode={mode}: {lines:#?}"
        );
        assert_eq!(lines[0]["value"]["source"]["snapshot"], "false");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn initial_restart_streams_what_changed_while_down_exactly_once_without_a_new_snapshot() {
    let pg = PgCluster::start();
    let db = three_rows(&pg, "init").await;
    let work = tempfile::tempdir().unwrap();
    let connector = pg.connector("init", "init", json!({"snapshot.mode": "initial"}));

    let mut cap = Capture::start(work.path(), &connector);
    cap.wait_lines(3, T).await;
    slot::wait_active(&db, "init_slot", T).await;
    db.batch_execute("INSERT INTO t VALUES (4, 'd'); UPDATE t SET v = 'a2' WHERE id = 1;")
        .await
        .unwrap();
    cap.wait_lines(5, T).await;
    let first = stop(cap, &db, "init_slot").await;
    assert_eq!(
        summaries(&first),
        ["r 1 a", "r 2 b", "r 3 c", "c 4 d", "u 1 a2"],
        "{first:#?}"
    );
    assert_eq!(markers(&first), ["first", "true", "last", "false", "false"]);

    // While the connector is down.
    db.batch_execute(
        "INSERT INTO t VALUES (5, 'e');
         UPDATE t SET v = 'b2' WHERE id = 2;
         DELETE FROM t WHERE id = 3;",
    )
    .await
    .unwrap();

    let mut cap = Capture::start(work.path(), &connector);
    slot::wait_active(&db, "init_slot", T).await;
    // Committed last, so streamed last: once it is there, everything before it is too.
    db.batch_execute("INSERT INTO t VALUES (6, 'f')")
        .await
        .unwrap();
    cap.wait_lines(5, T).await;
    let second = stop(cap, &db, "init_slot").await;
    assert_eq!(
        summaries(&second),
        ["c 5 e", "u 2 b2", "d 3", "tombstone 3", "c 6 f"],
        "no new snapshot, nothing repeated, nothing lost: {second:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn always_snapshots_on_every_start_and_does_not_repeat_what_the_new_snapshot_holds() {
    let pg = PgCluster::start();
    let db = three_rows(&pg, "always").await;
    let work = tempfile::tempdir().unwrap();
    let connector = pg.connector("always", "always", json!({"snapshot.mode": "always"}));

    let mut cap = Capture::start(work.path(), &connector);
    cap.wait_lines(3, T).await;
    slot::wait_active(&db, "always_slot", T).await;
    db.batch_execute("INSERT INTO t VALUES (4, 'd')")
        .await
        .unwrap();
    cap.wait_lines(4, T).await;
    let first = stop(cap, &db, "always_slot").await;
    assert_eq!(
        summaries(&first),
        ["r 1 a", "r 2 b", "r 3 c", "c 4 d"],
        "{first:#?}"
    );

    // While the connector is down: the next snapshot holds the result of these changes,
    // so they must not also arrive as stream events.
    db.batch_execute(
        "INSERT INTO t VALUES (5, 'e');
         UPDATE t SET v = 'a2' WHERE id = 1;
         DELETE FROM t WHERE id = 2;",
    )
    .await
    .unwrap();

    let mut cap = Capture::start(work.path(), &connector);
    cap.wait_lines(4, T).await;
    slot::wait_active(&db, "always_slot", T).await;
    db.batch_execute("INSERT INTO t VALUES (6, 'f')")
        .await
        .unwrap();
    cap.wait_lines(5, T).await;
    let second = stop(cap, &db, "always_slot").await;
    assert_eq!(
        sorted(&second[..4]),
        ["r 1 a2", "r 3 c", "r 4 d", "r 5 e"],
        "a new snapshot of the current rows: {second:#?}"
    );
    assert_eq!(markers(&second[..4]), ["first", "true", "true", "last"]);
    assert_eq!(
        summaries(&second[4..]),
        ["c 6 f"],
        "after the snapshot only what came after it: {second:#?}"
    );

    // And once more: the change streamed last time is now in the snapshot, not repeated.
    db.batch_execute("UPDATE t SET v = 'e2' WHERE id = 5")
        .await
        .unwrap();
    let mut cap = Capture::start(work.path(), &connector);
    cap.wait_lines(5, T).await;
    slot::wait_active(&db, "always_slot", T).await;
    db.batch_execute("INSERT INTO t VALUES (7, 'g')")
        .await
        .unwrap();
    cap.wait_lines(6, T).await;
    let third = stop(cap, &db, "always_slot").await;
    assert_eq!(
        sorted(&third[..5]),
        ["r 1 a2", "r 3 c", "r 4 d", "r 5 e2", "r 6 f"],
        "{third:#?}"
    );
    assert_eq!(summaries(&third[5..]), ["c 7 g"], "{third:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn when_needed_snapshots_on_first_start_not_on_restart_and_again_once_the_slot_is_gone() {
    let pg = PgCluster::start();
    let db = three_rows(&pg, "needed").await;
    let work = tempfile::tempdir().unwrap();
    let connector = pg.connector("needed", "needed", json!({"snapshot.mode": "when_needed"}));

    // No offset: snapshot.
    let mut cap = Capture::start(work.path(), &connector);
    cap.wait_lines(3, T).await;
    slot::wait_active(&db, "needed_slot", T).await;
    db.batch_execute("INSERT INTO t VALUES (4, 'd')")
        .await
        .unwrap();
    cap.wait_lines(4, T).await;
    let first = stop(cap, &db, "needed_slot").await;
    assert_eq!(
        summaries(&first),
        ["r 1 a", "r 2 b", "r 3 c", "c 4 d"],
        "{first:#?}"
    );

    // An offset the slot can resume: no snapshot.
    db.batch_execute("INSERT INTO t VALUES (5, 'e')")
        .await
        .unwrap();
    let mut cap = Capture::start(work.path(), &connector);
    slot::wait_active(&db, "needed_slot", T).await;
    db.batch_execute("INSERT INTO t VALUES (6, 'f')")
        .await
        .unwrap();
    cap.wait_lines(2, T).await;
    let second = stop(cap, &db, "needed_slot").await;
    assert_eq!(summaries(&second), ["c 5 e", "c 6 f"], "{second:#?}");

    // The slot is dropped while the connector is down: the changes since the offset are
    // gone from the log, so a new snapshot instead of a failure.
    slot::drop(&db, "needed_slot").await;
    db.batch_execute("INSERT INTO t VALUES (7, 'g'); UPDATE t SET v = 'a2' WHERE id = 1;")
        .await
        .unwrap();
    let mut cap = Capture::start(work.path(), &connector);
    cap.wait_lines(7, T).await;
    slot::wait_active(&db, "needed_slot", T).await;
    db.batch_execute("INSERT INTO t VALUES (8, 'h')")
        .await
        .unwrap();
    cap.wait_lines(8, T).await;
    let third = stop(cap, &db, "needed_slot").await;
    assert_eq!(
        sorted(&third[..7]),
        [
            "r 1 a2", "r 2 b", "r 3 c", "r 4 d", "r 5 e", "r 6 f", "r 7 g"
        ],
        "{third:#?}"
    );
    assert_eq!(summaries(&third[7..]), ["c 8 h"], "{third:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn initial_with_a_stored_offset_fails_when_the_slot_is_gone_and_names_when_needed() {
    let pg = PgCluster::start();
    let db = three_rows(&pg, "gone").await;
    let work = tempfile::tempdir().unwrap();
    let connector = pg.connector("gone", "gone", json!({"snapshot.mode": "initial"}));
    let mut cap = Capture::start(work.path(), &connector);
    cap.wait_lines(3, T).await;
    slot::wait_active(&db, "gone_slot", T).await;
    db.batch_execute("INSERT INTO t VALUES (4, 'd')")
        .await
        .unwrap();
    cap.wait_lines(4, T).await;
    wait_for("a stored streaming position", T, async || {
        cap.offset().filter(|o| o["lsn"].is_string()).map(|_| ())
    })
    .await;
    stop(cap, &db, "gone_slot").await;

    slot::drop(&db, "gone_slot").await;
    db.batch_execute("INSERT INTO t VALUES (5, 'e')")
        .await
        .unwrap();
    let mut cap = Capture::start(work.path(), &connector);
    let status = cap.exit_within(T).await.expect("capture fails by itself");
    let err = cap.stderr_text();
    assert!(
        !status.success(),
        "must not silently skip the lost changes: {err}"
    );
    assert!(
        err.contains("when_needed"),
        "the error names the fix: {err}"
    );
    assert!(err.contains("gone_slot"), "the error names the slot: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        cap.snapshot_lines().is_empty(),
        "{:#?}",
        cap.snapshot_lines()
    );
    assert_eq!(
        slot::active(&db, "gone_slot").await,
        None,
        "no new slot was created"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn when_needed_finishes_a_snapshot_that_a_crash_interrupted() {
    let pg = PgCluster::start();
    let db = pg.create_db("interrupted").await;
    db.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL);
         INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 300000) g;",
    )
    .await
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let connector = pg.connector(
        "interrupted",
        "interrupted",
        json!({"snapshot.mode": "when_needed", "snapshot.max.threads": "1", "snapshot.chunk.pages": "100"}),
    );
    let mut cap = Capture::start(work.path(), &connector);
    wait_for(
        "a finished snapshot chunk in the offset file",
        LONG,
        async || {
            let o = cap.offset()?;
            (!o["snapshot"]["tables"]["public.t"]["done"]
                .as_array()?
                .is_empty())
            .then_some(())
        },
    )
    .await;
    cap.kill9_and_wait();
    let offset = cap.offset().expect("an offset file");
    assert_eq!(
        offset["snapshot"]["completed"], false,
        "the kill must land before the snapshot finished for this test to mean anything"
    );
    let mut read: BTreeSet<i64> = cap
        .snapshot_lines()
        .iter()
        .filter(|l| l["value"]["op"] == "r")
        .map(|l| l["key"]["id"].as_i64().unwrap())
        .collect();
    slot::wait_inactive(&db, "interrupted_slot", T).await;

    let cap = Capture::start_with(work.path(), &connector, true);
    slot::wait_active(&db, "interrupted_slot", LONG).await;
    db.batch_execute("INSERT INTO t VALUES (0, 'marker')")
        .await
        .unwrap();
    wait_for("the marker insert", LONG, async || {
        cap.lines
            .lock()
            .unwrap()
            .iter()
            .rev()
            .any(|l| l.contains("\"marker\""))
            .then_some(())
    })
    .await;
    let second = stop(cap, &db, "interrupted_slot").await;
    read.extend(
        second
            .iter()
            .filter(|l| l["value"]["op"] == "r")
            .map(|l| l["key"]["id"].as_i64().unwrap()),
    );
    let missing: Vec<i64> = (1..=300_000).filter(|i| !read.contains(i)).collect();
    assert!(
        missing.is_empty(),
        "{} existing rows were never read (first {:?}); the restart must finish the snapshot",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn initial_after_initial_only_streams_everything_committed_since_the_snapshot() {
    let pg = PgCluster::start();
    let db = three_rows(&pg, "later").await;
    let work = tempfile::tempdir().unwrap();
    let only = pg.connector("later", "later", json!({"snapshot.mode": "initial_only"}));
    let mut cap = Capture::start(work.path(), &only);
    let status = cap
        .exit_within(T)
        .await
        .expect("initial_only exits by itself");
    assert!(status.success(), "{}", cap.stderr_text());
    assert_eq!(sorted(&cap.snapshot_lines()), ["r 1 a", "r 2 b", "r 3 c"]);
    slot::wait_inactive(&db, "later_slot", T).await;

    // Later, the same connector switched to streaming: what changed since the snapshot
    // arrives, once, and the snapshot is not taken again.
    db.batch_execute("INSERT INTO t VALUES (4, 'd'); UPDATE t SET v = 'a2' WHERE id = 1;")
        .await
        .unwrap();
    let streaming = pg.connector("later", "later", json!({"snapshot.mode": "initial"}));
    let mut cap = Capture::start(work.path(), &streaming);
    slot::wait_active(&db, "later_slot", T).await;
    db.batch_execute("INSERT INTO t VALUES (5, 'e')")
        .await
        .unwrap();
    cap.wait_lines(3, T).await;
    let lines = stop(cap, &db, "later_slot").await;
    assert_eq!(
        summaries(&lines),
        ["c 4 d", "u 1 a2", "c 5 e"],
        "{lines:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn initial_after_initial_only_fails_when_the_slot_is_gone_instead_of_losing_changes() {
    let pg = PgCluster::start();
    let db = three_rows(&pg, "lost").await;
    let work = tempfile::tempdir().unwrap();
    let only = pg.connector("lost", "lost", json!({"snapshot.mode": "initial_only"}));
    let mut cap = Capture::start(work.path(), &only);
    let status = cap
        .exit_within(T)
        .await
        .expect("initial_only exits by itself");
    assert!(status.success(), "{}", cap.stderr_text());
    slot::wait_inactive(&db, "lost_slot", T).await;

    // Committed after the snapshot, then the slot (the only record of it) is dropped: a
    // restart can neither stream it nor, in `initial` mode, take a new snapshot.
    db.batch_execute("INSERT INTO t VALUES (4, 'd')")
        .await
        .unwrap();
    slot::drop(&db, "lost_slot").await;
    let streaming = pg.connector("lost", "lost", json!({"snapshot.mode": "initial"}));
    let mut cap = Capture::start(work.path(), &streaming);
    let exited = cap.exit_within(Duration::from_secs(10)).await;
    let err = cap.stderr_text();
    assert!(
        exited.is_some_and(|s| !s.success()),
        "the change to row 4 is gone from the log; capture must fail rather than stream on without it ({exited:?}): {err}"
    );
    assert!(
        err.contains("when_needed"),
        "the error names the fix: {err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_and_streaming_delays_hold_back_the_snapshot_and_then_the_stream() {
    let pg = PgCluster::start();
    let db = three_rows(&pg, "delays").await;
    let work = tempfile::tempdir().unwrap();
    let connector = pg.connector(
        "delays",
        "delays",
        json!({"snapshot.delay.ms": "3000", "streaming.delay.ms": "3000"}),
    );
    let started = std::time::Instant::now();
    let mut cap = Capture::start(work.path(), &connector);
    let lines = cap.wait_lines(3, T).await;
    // The snapshot waited snapshot.delay.ms (lower bounds only: the waits are sleeps).
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "the snapshot came {:?} after the start",
        started.elapsed()
    );
    assert_eq!(sorted(&lines), ["r 1 a", "r 2 b", "r 3 c"]);
    let snapshot_seen = std::time::Instant::now();
    db.batch_execute("INSERT INTO t VALUES (4, 'd')")
        .await
        .unwrap();
    let lines = cap.wait_lines(4, T).await;
    assert_eq!(summary(&lines[3]), "c 4 d");
    // The stream opened streaming.delay.ms after the snapshot finished, which was just
    // before its rows were printed.
    assert!(
        snapshot_seen.elapsed() >= Duration::from_secs(2),
        "the change came {:?} after the snapshot",
        snapshot_seen.elapsed()
    );
    stop(cap, &db, "delays_slot").await;
}
