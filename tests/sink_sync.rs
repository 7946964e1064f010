//! The sink jobs keep a Redis cache, the embedded search index and an OpenSearch index
//! equal to the table: a snapshot, then a stream of 50,000 inserts, updates and deletes,
//! with the daemon killed (-9) twice while it streams and started again. Afterwards the
//! cache equals the table key by key, every live row is found by a search for its text and
//! no deleted row is, and OpenSearch holds every row as it is and no deleted one.
//! Then, right after a third kill -9, the jobs replay their topic from the beginning
//! (offsets reset), and while they do, no cache entry and no document ever goes back to an
//! older value. (OpenSearch forgets a delete's version after `index.gc_deletes`, 60 s, so
//! a replayed insert of a deleted row may show until the replay reaches its delete: its
//! deleted rows are checked once the replay is done.)

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::api::{connector_path as path, delete, get, put, wait_status};
use support::pg::PgCluster;
use support::sync::{
    CATCH_UP, SyncRig, TABLE_DDL, Workload, cache_converges, cache_diff, committed, index_diff,
    opensearch_diff, sql_writer, table_rows,
};
use support::wait_for;

const T: Duration = Duration::from_secs(60);
const CHANGES: usize = 50_000;
const PER_TX: usize = 50;
const SNAPSHOT_TXS: usize = 20;
const SINKS: [&str; 3] = ["cache", "search", "opensearch"];

fn sinks(redis_url: &str, opensearch_url: &str) -> [serde_json::Value; 3] {
    [
        json!({"name": "cache", "config": {
            "connector.class": "io.tributary.sink.RedisSinkConnector",
            "topics.regex": "cdc\\.public\\..*",
            "redis.url": redis_url,
            "batch.max.wait.ms": "50",
        }}),
        json!({"name": "search", "config": {
            "connector.class": "io.tributary.sink.SearchSinkConnector",
            "topics": "cdc.public.items",
            "batch.max.wait.ms": "50",
        }}),
        json!({"name": "opensearch", "config": {
            "connector.class": "io.tributary.sink.SearchSinkConnector",
            "topics": "cdc.public.items",
            "search.backend": "opensearch",
            "connection.url": opensearch_url,
            "index.name": "items",
            "batch.max.wait.ms": "50",
        }}),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn cache_and_index_equal_the_table_through_kill9_and_replay() {
    let pg = PgCluster::start();
    let db = pg.create_db("app").await;
    db.batch_execute(TABLE_DDL).await.unwrap();
    let mut work = Workload::new(7);
    for _ in 0..SNAPSHOT_TXS {
        db.batch_execute(&work.transaction(PER_TX)).await.unwrap();
    }
    let source = pg.connector("pg", "app", json!({"table.include.list": "public.items"}));
    let names: Vec<&str> = ["pg"].into_iter().chain(SINKS).collect();
    let rig = SyncRig::start(&source, |r, o| sinks(r, o).to_vec(), &names).await;
    let SyncRig {
        mut daemon,
        api,
        node,
        redis,
        ..
    } = rig;

    // The stream, paced so that the kills land in the middle of it.
    let (tx, writer) = sql_writer(pg.url("app"));
    let started = Instant::now();
    let mut kills = 0;
    let txs = CHANGES / PER_TX;
    for i in 0..txs {
        tx.send(work.transaction(PER_TX)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(8)).await;
        if i == txs / 3 || i == 2 * txs / 3 {
            // Mid-stream: the cache holds part of the table, and changes keep coming.
            let mut client = support::redis::client(&redis);
            wait_for("the cache job to write", T, async || {
                (!client.keys("public.items:*").is_empty()).then_some(())
            })
            .await;
            daemon.kill9();
            kills += 1;
            tokio::time::sleep(Duration::from_millis(300)).await;
            daemon.restart();
        }
    }
    drop(tx);
    writer.await.unwrap();
    assert_eq!(kills, 2);
    eprintln!(
        "{} changes written in {:?}; {} live rows, {} deleted",
        work.changes + SNAPSHOT_TXS * PER_TX,
        started.elapsed(),
        work.live.len(),
        work.deleted.len()
    );

    let rows = table_rows(&db).await;
    assert_eq!(rows.len(), work.live.len());
    let mut client = support::redis::client(&redis);
    cache_converges(&mut client, &rows, || daemon.log()).await;
    let deadline = Instant::now() + CATCH_UP;
    loop {
        let indexes = get(&api, "/indexes").json();
        let count = indexes
            .as_array()
            .and_then(|l| l.iter().find(|i| i["name"] == "public.items"))
            .and_then(|i| i["docs"].as_u64());
        if count == Some(rows.len() as u64) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the index holds {count:?} documents, the table {} rows: {indexes}\n{}",
            rows.len(),
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let diffs = index_diff(&api, "public.items", &rows, &work.deleted, 5);
    assert!(
        diffs.is_empty(),
        "the index does not equal the table: {diffs:#?}"
    );
    opensearch_converges(&node.url, &rows, &work.deleted, || daemon.log()).await;

    // Replay both topics from the beginning: nothing may go back in time meanwhile. The
    // reset comes right after another kill -9, while the broker still counts the killed
    // daemon's consumers as members of the groups: it waits until they are dropped.
    let ends: Vec<i64> = SINKS.iter().map(|n| committed(&api, n)).collect();
    daemon.kill9();
    daemon.restart();
    for name in SINKS {
        wait_status(&api, name, "RUNNING", &["RUNNING"], T).await;
        assert_eq!(put(&api, &path(name, "/stop"), None).status, 204);
        wait_status(&api, name, "STOPPED", &[], T).await;
        let reset = Instant::now();
        let r = delete(&api, &path(name, "/offsets"));
        assert_eq!(r.status, 200, "{r:?}\n{}", daemon.log());
        eprintln!("{name}: offsets reset in {:?}", reset.elapsed());
        assert_eq!(committed(&api, name), 0, "{name}: offsets after a reset");
        assert_eq!(put(&api, &path(name, "/resume"), None).status, 202);
    }
    let sample: std::collections::BTreeMap<i64, serde_json::Value> = rows
        .iter()
        .step_by(rows.len() / 300 + 1)
        .map(|(k, v)| (*k, v.clone()))
        .collect();
    let gone: std::collections::BTreeMap<i64, u32> = work
        .deleted
        .iter()
        .step_by(work.deleted.len() / 100 + 1)
        .map(|(k, v)| (*k, *v))
        .collect();
    let deadline = Instant::now() + CATCH_UP;
    let mut rounds = 0;
    loop {
        let diffs = cache_diff(&mut client, &rows, 5);
        assert!(diffs.is_empty(), "a replay regressed the cache: {diffs:#?}");
        let diffs = index_diff(&api, "public.items", &sample, &gone, 5);
        assert!(diffs.is_empty(), "a replay regressed the index: {diffs:#?}");
        let diffs = opensearch_diff(&node.url, "items", &sample, None, 5);
        assert!(
            diffs.is_empty(),
            "a replay regressed OpenSearch: {diffs:#?}"
        );
        rounds += 1;
        let done: Vec<bool> = SINKS
            .iter()
            .zip(&ends)
            .map(|(n, end)| committed(&api, n) >= *end)
            .collect();
        if done.iter().all(|d| *d) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the replay did not finish: {done:?}"
        );
    }
    eprintln!("replay checked {rounds} times while it ran");
    let diffs = index_diff(&api, "public.items", &rows, &work.deleted, 5);
    assert!(diffs.is_empty(), "after the replay: {diffs:#?}");
    opensearch_converges(&node.url, &rows, &work.deleted, || daemon.log()).await;
}

/// Waits (up to [`CATCH_UP`]) until the OpenSearch index equals the table.
async fn opensearch_converges(
    url: &str,
    rows: &std::collections::BTreeMap<i64, serde_json::Value>,
    deleted: &std::collections::BTreeMap<i64, u32>,
    log: impl Fn() -> String,
) {
    let deadline = Instant::now() + CATCH_UP;
    loop {
        let diffs = opensearch_diff(url, "items", rows, Some(deleted), 5);
        if diffs.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "OpenSearch does not equal the table: {diffs:#?}\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
