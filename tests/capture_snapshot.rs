//! The snapshot: consistent with the stream under concurrent writes, parallel, resumable.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};
use support::capture::Capture;
use support::pg::PgCluster;
use support::wait_for;

const LONG: Duration = Duration::from_secs(600);

/// Applies events strictly: a create or snapshot read needs the key absent, an update or
/// delete needs it present. Any violation means a change was delivered twice or lost.
fn replay(lines: &[String], topic: &str, state: &mut BTreeMap<i64, Value>) -> (usize, Vec<String>) {
    let mut reads = 0;
    let mut violations = Vec::new();
    for raw in lines {
        let l: Value = serde_json::from_str(raw).unwrap();
        if l["topic"] != topic || l["value"].is_null() {
            continue;
        }
        let v = &l["value"];
        let id = l["key"]["id"].as_i64().unwrap();
        match v["op"].as_str().unwrap() {
            "r" | "c" => {
                if v["op"] == "r" {
                    reads += 1;
                }
                if state.insert(id, v["after"].clone()).is_some() {
                    violations.push(format!("{} for existing id {id}", v["op"]));
                }
            }
            "u" => {
                if state.insert(id, v["after"].clone()).is_none() {
                    violations.push(format!("u for missing id {id}"));
                }
            }
            "d" => {
                if state.remove(&id).is_none() {
                    violations.push(format!("d for missing id {id}"));
                }
            }
            op => violations.push(format!("unexpected op {op}")),
        }
    }
    (reads, violations)
}

async fn table_state(db: &tokio_postgres::Client, table: &str) -> BTreeMap<i64, Value> {
    db.query(&format!("SELECT id, v, pad FROM {table}"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let id: i64 = r.get(0);
            (
                id,
                json!({"id": id, "v": r.get::<_, i32>(1), "pad": r.get::<_, String>(2)}),
            )
        })
        .collect()
}

async fn offset_of(cap: &Capture) -> Option<Value> {
    let bytes = std::fs::read(&cap.offset_file).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_and_stream_boundary_is_exact_under_concurrent_writes() {
    let pg = PgCluster::start();
    let db = pg.create_db("boundary").await;
    db.batch_execute(
        "CREATE TABLE big (id bigint PRIMARY KEY, v int NOT NULL, pad text NOT NULL);
         INSERT INTO big SELECT g, 0, md5(g::text) FROM generate_series(1, 1000000) g;
         CREATE TABLE marker (id bigint PRIMARY KEY, v int NOT NULL, pad text NOT NULL);
         ANALYZE big;",
    )
    .await
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let connector = pg.connector(
        "boundary",
        "boundary",
        json!({"snapshot.max.threads": "4", "snapshot.chunk.pages": "1000"}),
    );
    let mut cap = Capture::start(work.path(), &connector);

    // Write while the snapshot runs: inserts, updates and deletes in small transactions.
    cap.wait_lines(1, LONG).await;
    let writer = pg.client("boundary").await;
    let mut next_id = 1_000_001i64;
    for round in 0..300i64 {
        let k = (round * 3331) % 1_000_000 + 1;
        writer
            .batch_execute(&format!(
                "BEGIN;
                 INSERT INTO big VALUES ({next_id}, 1, 'new'), ({}, 1, 'new');
                 UPDATE big SET v = v + 1 WHERE id IN ({k}, {}, {next_id});
                 DELETE FROM big WHERE id = {};
                 COMMIT;",
                next_id + 1,
                k + 17,
                (k + 500) % 1_000_000 + 1,
            ))
            .await
            .unwrap();
        next_id += 2;
    }
    let snapshot_running = cap.count() < 1_000_000;
    writer
        .batch_execute("INSERT INTO marker VALUES (1, 0, 'done')")
        .await
        .unwrap();
    cap.wait_topic("cdc.public.marker", LONG).await;
    let lines = cap.take_raw();
    let (status, _) = cap.stop();
    assert!(status.success());
    assert!(
        snapshot_running,
        "the writes must overlap the snapshot for this test to mean anything"
    );

    let mut state = BTreeMap::new();
    let (reads, violations) = replay(&lines, "cdc.public.big", &mut state);
    assert!(
        violations.is_empty(),
        "{} violations, first: {:?}",
        violations.len(),
        &violations[..violations.len().min(5)]
    );
    assert!(reads > 990_000, "the snapshot read {reads} rows");
    let expected = table_state(&db, "big").await;
    assert_eq!(state.len(), expected.len(), "row count derived from events");
    assert!(
        state == expected,
        "the state derived from the events equals the table"
    );

    // first / last markers.
    let snap: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("\"snapshot\":\""))
        .collect();
    let markers: Vec<String> = snap
        .iter()
        .filter_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            let m = v["value"]["source"]["snapshot"].as_str()?.to_string();
            (m != "false").then_some(m)
        })
        .collect();
    assert_eq!(markers.first().map(String::as_str), Some("first"));
    assert_eq!(markers.last().map(String::as_str), Some("last"));
    assert_eq!(
        markers
            .iter()
            .filter(|m| *m == "first" || *m == "last")
            .count(),
        2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn restart_in_the_middle_of_a_snapshot_resumes_without_rereading_finished_chunks() {
    let pg = PgCluster::start();
    let db = pg.create_db("resume").await;
    db.batch_execute(
        "CREATE TABLE big (id bigint PRIMARY KEY, v int NOT NULL, pad text NOT NULL);
         INSERT INTO big SELECT g, 0, md5(g::text) FROM generate_series(1, 300000) g;",
    )
    .await
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let connector = pg.connector(
        "resume",
        "resume",
        json!({"snapshot.max.threads": "2", "snapshot.chunk.pages": "100"}),
    );
    let cap = Capture::start(work.path(), &connector);
    wait_for("two finished chunks in the offset file", LONG, async || {
        let o = offset_of(&cap).await?;
        let done = o["snapshot"]["tables"]["public.big"]["done"]
            .as_array()?
            .len();
        (done >= 2).then_some(())
    })
    .await;
    let _ = cap.kill9();

    // What the offset file says was finished before the kill.
    let offset: Value =
        serde_json::from_slice(&std::fs::read(work.path().join("resume.offsets.json")).unwrap())
            .unwrap();
    let progress = &offset["snapshot"]["tables"]["public.big"];
    assert_eq!(offset["snapshot"]["completed"], false);
    let pages = progress["chunk_pages"].as_u64().unwrap();
    let chunks = progress["chunks"].as_u64().unwrap();
    let done: Vec<u64> = progress["done"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect();
    assert!(
        (done.len() as u64) < chunks,
        "the kill must land before the snapshot finished"
    );
    let mut finished_ids = BTreeSet::new();
    for c in &done {
        let end = if c + 1 == chunks {
            u64::MAX / 2
        } else {
            (c + 1) * pages
        };
        let rows = db
            .query(
                &format!(
                    "SELECT id FROM big WHERE ctid >= '({},0)'::tid AND ctid < '({end},0)'::tid",
                    c * pages
                ),
                &[],
            )
            .await
            .unwrap();
        finished_ids.extend(rows.iter().map(|r| r.get::<_, i64>(0)));
    }
    assert_eq!(
        finished_ids.len() as u64,
        progress["rows"].as_u64().unwrap()
    );

    // Changes while the connector is down, to a row of an unfinished chunk and a new row.
    // (An updated row moves to a new tuple; updating a row of a finished chunk would
    // legitimately make the resumed snapshot read its new version.)
    let target = (1..=300_000i64)
        .find(|i| !finished_ids.contains(i))
        .unwrap();
    db.batch_execute(&format!(
        "UPDATE big SET v = 1 WHERE id = {target}; INSERT INTO big VALUES (300001, 5, 'late');"
    ))
    .await
    .unwrap();
    let mut cap = Capture::start(work.path(), &connector);
    wait_for("the resumed snapshot to complete", LONG, async || {
        let o = offset_of(&cap).await?;
        (o["snapshot"]["completed"] == true).then_some(())
    })
    .await;
    db.batch_execute("INSERT INTO big VALUES (300002, 6, 'after')")
        .await
        .unwrap();
    wait_for("the post-snapshot insert", LONG, async || {
        cap.lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("\"after\""))
            .then_some(())
    })
    .await;
    let lines = cap.take_raw();
    let _ = cap.finish_after_stop();

    let mut reread = 0;
    let mut read_ids = BTreeSet::new();
    for raw in &lines {
        let l: Value = serde_json::from_str(raw).unwrap();
        let id = l["key"]["id"].as_i64().unwrap_or_default();
        if id == target {
            // Read once, at its new version; the update itself is not repeated.
            assert_eq!(l["value"]["op"], "r", "{l}");
            assert_eq!(l["value"]["after"]["v"], 1, "{l}");
        }
        if l["value"]["op"] == "r" {
            let id = l["key"]["id"].as_i64().unwrap();
            if finished_ids.contains(&id) {
                reread += 1;
            }
            assert!(read_ids.insert(id), "id {id} read twice after the restart");
        }
    }
    assert_eq!(reread, 0, "rows of finished chunks were read again");
    let all: BTreeSet<i64> = (1..=300_001).collect();
    let expected: BTreeSet<i64> = all.difference(&finished_ids).copied().collect();
    assert_eq!(
        read_ids.len(),
        expected.len(),
        "the resumed snapshot reads exactly the unfinished chunks"
    );
    assert!(read_ids == expected);
}
