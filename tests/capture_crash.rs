//! Crash safety of the offset file and of the acknowledgement, the product's headline
//! promise: a writer commits thousands of small transactions while `tributary capture`
//! streams them and is stopped or killed and restarted on the same offset file.
//!
//! Every change the writer makes is identifiable from its event alone, and every
//! transaction's commit record is looked up in the WAL itself (pg_walinspect), so the
//! checks do not rely on anything the connector reports about itself:
//! - nothing committed is ever missing from the union of all runs;
//! - a graceful stop (SIGINT) repeats nothing;
//! - after kill -9, only transactions that end after the LSN stored in the offset file at
//!   kill time may be printed again, and the slot was never acknowledged past that LSN.

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::capture::Capture;
use support::pg::PgCluster;
use support::slot;
use tokio_postgres::{Client, SimpleQueryMessage};

const T: Duration = Duration::from_secs(60);
const LONG: Duration = Duration::from_secs(600);
/// Transactions the writer commits.
const TXS: i64 = 20_000;
/// Rows in `counters`, read by the initial snapshot.
const COUNTERS: usize = 100;

/// The writer's tables, an end-marker table, pg_walinspect, and a physical slot that keeps
/// the WAL around until the test has read every commit record from it.
async fn setup(pg: &PgCluster, name: &str) -> Client {
    let db = pg.create_db(name).await;
    db.batch_execute(&format!(
        "CREATE EXTENSION pg_walinspect;
         CREATE TABLE items (id bigint PRIMARY KEY, tx bigint NOT NULL, pad text NOT NULL);
         CREATE TABLE counters (id int PRIMARY KEY, tx bigint NOT NULL);
         INSERT INTO counters SELECT g, 0 FROM generate_series(0, {}) g;
         CREATE TABLE marker (id int PRIMARY KEY);
         SELECT pg_create_physical_replication_slot('{name}_pin', true);",
        COUNTERS - 1
    ))
    .await
    .unwrap_or_else(|e| panic!("setup (this test needs pg_walinspect, Postgres 15+): {e}"));
    db
}

/// Commits transactions 1..=TXS, each with changes that name it: insert items row `i`,
/// set counter `i % 100` to `i`, and every tenth deletes items row `i - 5`. Returns each
/// transaction's xid.
async fn write(db: Client) -> Vec<u32> {
    let mut xids = Vec::with_capacity(TXS as usize);
    for i in 1..=TXS {
        let mut sql = format!(
            "BEGIN; INSERT INTO items VALUES ({i}, {i}, 'pad-{i}'); UPDATE counters SET tx = {i} WHERE id = {};",
            i % COUNTERS as i64
        );
        if i % 10 == 0 {
            sql.push_str(&format!("DELETE FROM items WHERE id = {};", i - 5));
        }
        sql.push_str("SELECT (txid_current() % 4294967296)::text; COMMIT;");
        let msgs = db
            .simple_query(&sql)
            .await
            .unwrap_or_else(|e| panic!("transaction {i}: {e}"));
        let xid = msgs
            .iter()
            .find_map(|m| match m {
                SimpleQueryMessage::Row(r) => r.get(0).map(|x| x.parse::<u32>().unwrap()),
                _ => None,
            })
            .expect("the transaction's xid");
        xids.push(xid);
        // Paced a little, so that the kills land while the writer is still writing.
        if i % 50 == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    xids
}

/// The identities of all changes the writer's transaction `i` makes.
fn expected(i: i64) -> Vec<String> {
    let mut out = vec![format!("c {i}"), format!("u {i}")];
    if i % 10 == 0 {
        out.push(format!("d {}", i - 5));
        out.push(format!("tombstone {}", i - 5));
    }
    out
}

enum Line {
    /// A change of writer transaction `tx`.
    Change {
        identity: String,
        tx: i64,
        xid: Option<u32>,
        lsn: Option<u64>,
    },
    SnapshotRead,
    Marker,
}

/// What one printed line is, checking its content against what the writer wrote.
fn classify(raw: &str) -> Line {
    let l: Value = serde_json::from_str(raw).unwrap_or_else(|e| panic!("not JSON ({e}): {raw}"));
    let topic = l["topic"].as_str().unwrap_or_default();
    let v = &l["value"];
    let key_id = l["key"]["id"].as_i64();
    if v.is_null() {
        assert_eq!(
            topic, "cdc.public.items",
            "only items rows are deleted: {raw}"
        );
        let id = key_id.expect("a tombstone's key");
        return Line::Change {
            identity: format!("tombstone {id}"),
            tx: id + 5,
            xid: None,
            lsn: None,
        };
    }
    let xid = v["source"]["txId"].as_i64().map(|x| x as u32);
    let lsn = v["source"]["lsn"].as_u64();
    let op = v["op"].as_str().unwrap_or_default();
    match (topic, op) {
        ("cdc.public.counters", "r") => Line::SnapshotRead,
        ("cdc.public.marker", "c") => Line::Marker,
        ("cdc.public.items", "c") => {
            let id = key_id.expect("an items key");
            assert_eq!(
                v["after"],
                json!({"id": id, "tx": id, "pad": format!("pad-{id}")}),
                "{raw}"
            );
            Line::Change {
                identity: format!("c {id}"),
                tx: id,
                xid,
                lsn,
            }
        }
        ("cdc.public.counters", "u") => {
            let tx = v["after"]["tx"].as_i64().expect("counters.tx");
            assert_eq!(v["after"]["id"], json!(tx % COUNTERS as i64), "{raw}");
            Line::Change {
                identity: format!("u {tx}"),
                tx,
                xid,
                lsn,
            }
        }
        ("cdc.public.items", "d") => {
            let id = key_id.expect("an items key");
            assert_eq!(v["before"]["id"], json!(id), "{raw}");
            Line::Change {
                identity: format!("d {id}"),
                tx: id + 5,
                xid,
                lsn,
            }
        }
        _ => panic!("a line the writer cannot have caused: {raw}"),
    }
}

/// One run of capture: what it printed, and the offset LSN it started from.
struct Run {
    lines: Vec<String>,
    started_from: Option<u64>,
}

/// Where each transaction's commit record starts and ends, from the WAL itself.
async fn commits(db: &Client, since: &str) -> HashMap<u32, (u64, u64)> {
    db.query(
        "SELECT xid::text, start_lsn::text, end_lsn::text
         FROM pg_get_wal_records_info($1::text::pg_lsn, pg_current_wal_flush_lsn())
         WHERE resource_manager = 'Transaction' AND record_type = 'COMMIT'",
        &[&since],
    )
    .await
    .expect("read commit records with pg_walinspect")
    .iter()
    .map(|r| {
        let xid: String = r.get(0);
        (
            xid.parse().unwrap(),
            (
                slot::lsn(&r.get::<_, String>(1)),
                slot::lsn(&r.get::<_, String>(2)),
            ),
        )
    })
    .collect()
}

/// The offset file's `lsn`, if it has one.
fn stored_lsn(cap: &Capture) -> Option<u64> {
    cap.offset().and_then(|o| o["lsn"].as_str().map(slot::lsn))
}

/// Checks the runs against the writer's transactions: nothing missing, nothing foreign,
/// nothing twice within a run. With `repeats_allowed`, a change may be printed again in a
/// later run only if its transaction ends after the stored offset that run started from;
/// without, never. Returns the number of repeated changes.
fn check(
    runs: &[Run],
    xids: &[u32],
    commits: &HashMap<u32, (u64, u64)>,
    repeats_allowed: bool,
) -> usize {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut violations = Vec::new();
    let mut reads = 0;
    let mut markers = 0;
    let mut repeats = 0;
    let mut repeats_per_run = BTreeMap::new();
    for (run_no, run) in runs.iter().enumerate() {
        let mut in_run: HashSet<String> = HashSet::new();
        for raw in &run.lines {
            let (identity, tx, xid, lsn) = match classify(raw) {
                Line::SnapshotRead => {
                    reads += 1;
                    continue;
                }
                Line::Marker => {
                    markers += 1;
                    continue;
                }
                Line::Change {
                    identity,
                    tx,
                    xid,
                    lsn,
                } => (identity, tx, xid, lsn),
            };
            assert!((1..=TXS).contains(&tx), "{raw}");
            let tx_xid = xids[(tx - 1) as usize];
            let &(commit_lsn, end_lsn) = commits
                .get(&tx_xid)
                .unwrap_or_else(|| panic!("no commit record for transaction {tx} (xid {tx_xid})"));
            if let Some(x) = xid {
                assert_eq!(x, tx_xid, "source.txId of {identity}: {raw}");
            }
            if let Some(l) = lsn {
                assert!(
                    l > 0 && l < commit_lsn,
                    "source.lsn {l} of {identity} is not before its commit at {commit_lsn}"
                );
            }
            if !in_run.insert(identity.clone()) {
                violations.push(format!("{identity} printed twice in run {run_no}"));
            }
            let earlier = seen.entry(identity.clone()).or_default();
            if *earlier > 0 {
                repeats += 1;
                *repeats_per_run.entry(run_no).or_insert(0) += 1;
                let allowed = repeats_allowed && run.started_from.is_none_or(|s| end_lsn > s);
                if !allowed {
                    violations.push(format!(
                        "{identity} (transaction {tx}, commit {commit_lsn}..{end_lsn}) printed again in run {run_no}, which started from stored offset {:?}",
                        run.started_from
                    ));
                }
            }
            *earlier += 1;
        }
    }
    eprintln!(
        "{} runs, {} distinct changes, {repeats} repeated (per run: {repeats_per_run:?}), {reads} snapshot reads",
        runs.len(),
        seen.len()
    );
    let missing: Vec<String> = (1..=TXS)
        .flat_map(expected)
        .filter(|e| !seen.contains_key(e))
        .collect();
    let expected_count: usize = (1..=TXS).map(|i| expected(i).len()).sum();
    assert!(
        violations.is_empty(),
        "{} violations, first: {:#?}",
        violations.len(),
        &violations[..violations.len().min(10)]
    );
    assert!(
        missing.is_empty(),
        "{} committed changes were never printed, first: {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    assert_eq!(seen.len(), expected_count, "exactly the writer's changes");
    assert_eq!(reads, COUNTERS, "the snapshot is read once and never again");
    assert_eq!(markers, 1, "the end marker");
    repeats
}

/// Starts capture, waits until the initial snapshot is durable and the stream is live,
/// then starts the writer.
async fn start(
    pg: &PgCluster,
    db: &Client,
    dir: &std::path::Path,
    connector: &Value,
    name: &str,
) -> (Capture, String, tokio::task::JoinHandle<Vec<u32>>) {
    let cap = Capture::start_with(dir, connector, true);
    support::wait_for("the snapshot to be durable", T, async || {
        (cap.offset()?["snapshot"]["completed"] == true).then_some(())
    })
    .await;
    slot::wait_active(db, &format!("{name}_slot"), T).await;
    let since: String = db
        .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])
        .await
        .unwrap()
        .get(0);
    let writer = tokio::spawn(write(pg.client(name).await));
    (cap, since, writer)
}

/// After the writer: a marker committed with a synchronous commit (so every commit record
/// before it is flushed, for pg_walinspect), and waits for it to be printed.
async fn finish(db: &Client, cap: &Capture) {
    db.batch_execute(
        "BEGIN; SET LOCAL synchronous_commit = on; INSERT INTO marker VALUES (1); COMMIT;",
    )
    .await
    .unwrap();
    cap.wait_topic("cdc.public.marker", LONG).await;
}

/// A small xorshift generator: the stop points vary, but the same way on every run.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Stop {
    /// SIGINT: the connector shuts down cleanly.
    Graceful,
    /// SIGKILL: nothing is cleaned up.
    Kill,
}

/// Runs capture while the writer writes, stopping it `stops` times at seeded points (some
/// right after a restart, while it catches up on a backlog; some later) and restarting it
/// on the same offset file; then checks every run. Returns the number of repeated changes.
async fn stop_and_restart_while_writing(name: &str, how: Stop, stops: usize, seed: u64) -> usize {
    let began = Instant::now();
    let pg = PgCluster::start();
    let db = setup(&pg, name).await;
    let work = tempfile::tempdir().unwrap();
    let connector = pg.connector(name, name, json!({}));
    let (mut cap, since, writer) = start(&pg, &db, work.path(), &connector, name).await;
    let slot_name = format!("{name}_slot");
    let mut rng = Seeded(seed);
    let mut runs = Vec::new();
    let mut started_from = None;
    let mut stops_while_writing = 0;
    let mut torn = 0;
    for stop in 0..stops {
        // Some lines of this run (unless the writer is done and nothing is left to print).
        let want = if stop == 0 { COUNTERS + 1 } else { 1 };
        support::wait_for("lines from this run", LONG, async || {
            if let Ok(Some(status)) = cap.child.try_wait() {
                panic!("capture exited ({status}); stderr:\n{}", cap.stderr_text());
            }
            (cap.count() >= want || writer.is_finished()).then_some(())
        })
        .await;
        // Let it run for a while, checking all along that the slot is never acknowledged
        // past what the offset file holds (the slot is read first: the file only grows).
        let delay = Duration::from_millis(rng.next() % 1_500);
        let until = Instant::now() + delay;
        loop {
            let confirmed = slot::confirmed_flush(&db, &slot_name).await.unwrap();
            if let Some(stored) = stored_lsn(&cap) {
                assert!(
                    confirmed <= stored,
                    "slot confirmed {confirmed} past the stored offset {stored}"
                );
            }
            if Instant::now() >= until {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stops_while_writing += usize::from(!writer.is_finished());
        match how {
            Stop::Graceful => {
                let status = cap.finish_after_stop();
                assert!(
                    status.success(),
                    "capture exits 0 on SIGINT: {status}\n{}",
                    cap.stderr_text()
                );
            }
            Stop::Kill => {
                cap.kill9_and_wait();
            }
        }
        // The offset file right after the stop: what the next run starts from.
        let stored = stored_lsn(&cap);
        assert!(
            stored >= started_from,
            "stored offset moved backward: {started_from:?} -> {stored:?}"
        );
        slot::wait_inactive(&db, &slot_name, T).await;
        let confirmed = slot::confirmed_flush(&db, &slot_name).await.unwrap();
        if let Some(stored) = stored {
            assert!(
                confirmed <= stored,
                "slot confirmed {confirmed} past the stored offset {stored} after stop {stop}"
            );
        }
        torn += usize::from(cap.truncated.lock().unwrap().is_some());
        let lines = cap.take_raw();
        eprintln!(
            "{how:?} stop {stop} after {delay:?}: {} lines, stored offset {stored:?}",
            lines.len()
        );
        runs.push(Run {
            lines,
            started_from,
        });
        started_from = stored;
        cap = Capture::start_with(work.path(), &connector, true);
    }
    let xids = writer.await.unwrap();
    finish(&db, &cap).await;
    let status = cap.finish_after_stop();
    assert!(status.success(), "{status}\n{}", cap.stderr_text());
    runs.push(Run {
        lines: cap.take_raw(),
        started_from,
    });
    assert!(
        stops_while_writing * 2 > stops,
        "only {stops_while_writing} of {stops} stops landed while the writer was writing"
    );
    let commits = commits(&db, &since).await;
    let repeats = check(&runs, &xids, &commits, how == Stop::Kill);
    eprintln!(
        "{how:?}: {stops} stops ({stops_while_writing} while writing) in {:?}, {repeats} repeated changes, {torn} runs ended in a torn line",
        began.elapsed()
    );
    repeats
}

#[tokio::test(flavor = "multi_thread")]
async fn graceful_restart_mid_stream_delivers_every_change_exactly_once() {
    let repeats =
        stop_and_restart_while_writing("graceful", Stop::Graceful, 5, 0x2545_F491_4F6C_DD1D).await;
    assert_eq!(repeats, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_stream_loses_nothing_and_repeats_only_what_was_not_yet_acknowledged() {
    stop_and_restart_while_writing("crash", Stop::Kill, 5, 0x9E37_79B9_7F4A_7C15).await;
}
