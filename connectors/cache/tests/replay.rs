//! Replays, duplicates and reordering never show an older row, and end where the source is.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use common::*;
use serde_json::{Value as Json, json};
use tributary_cache::RedisSink;
use tributary_core::{SinkOp, SinkRecord, TableRef};

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A change history of two tables: transactions of 1–4 changes, updates, deletes and
/// re-inserts of 30 keys per table, and a few truncates. Every row carries `seq`, its
/// index in the history.
fn history(rng: &mut Rng, len: usize) -> Vec<SinkRecord> {
    let tables = [table("public", "items"), table("sales", "orders")];
    let mut out = Vec::with_capacity(len);
    let mut commit = 0x1_0000_0000u64;
    while out.len() < len {
        commit += 1 + rng.below(1000);
        let changes = 1 + rng.below(4);
        for c in 0..changes {
            let t = &tables[rng.below(2) as usize];
            let at = pos(commit, commit - 500 + c);
            let seq = out.len();
            let id = rng.below(30) as i64;
            out.push(match rng.below(100) {
                0 => truncate(t, at),
                1..=20 => delete(t, at, id),
                _ => upsert(
                    t,
                    at,
                    id,
                    json!({"id": id, "seq": seq, "name": format!("row {seq}")}),
                ),
            });
        }
    }
    out
}

fn key_of(rec: &SinkRecord) -> Option<String> {
    match &rec.op {
        SinkOp::Upsert { key, .. } | SinkOp::Delete { key } => Some(format!(
            "{}.{}:{}",
            rec.table.schema,
            rec.table.table,
            key.id()
        )),
        SinkOp::Truncate => None,
    }
}

/// The source's final state: cache key → seq of the row.
fn model(history: &[SinkRecord]) -> BTreeMap<String, u64> {
    let mut rows = BTreeMap::new();
    for (seq, rec) in history.iter().enumerate() {
        match &rec.op {
            SinkOp::Upsert { .. } => {
                rows.insert(key_of(rec).unwrap(), seq as u64);
            }
            SinkOp::Delete { .. } => {
                rows.remove(&key_of(rec).unwrap());
            }
            SinkOp::Truncate => {
                let prefix = format!("{}.{}:", rec.table.schema, rec.table.table);
                rows.retain(|k, _| !k.starts_with(&prefix));
            }
        }
    }
    rows
}

/// What the cache shows: cache key → seq of the row, and the positions kept.
async fn snapshot(c: &mut Client, hash: bool) -> (BTreeMap<String, u64>, BTreeMap<String, String>) {
    let mut rows = BTreeMap::new();
    for key in c.keys(PREFIX).await {
        let seq = if hash {
            c.hgetall(&key).await["seq"].parse().unwrap()
        } else {
            c.get_json(&key).await.unwrap()["seq"].as_u64().unwrap()
        };
        rows.insert(key, seq);
    }
    (rows, c.versions().await)
}

/// Checks one observation of the cache against the history and the previous observation:
/// every row shown is the one its version names, and no key's version or row goes back.
fn check_progress(
    history: &[SinkRecord],
    by_hex: &HashMap<String, usize>,
    seen: &mut HashMap<String, String>,
    rows: &BTreeMap<String, u64>,
    versions: &BTreeMap<String, String>,
) {
    for (key, &seq) in rows {
        let version = versions
            .get(key)
            .unwrap_or_else(|| panic!("{key} has no version"));
        assert_eq!(
            &history[seq as usize].pos.to_hex(),
            version,
            "{key} shows a row that is not its version"
        );
    }
    for (key, version) in versions {
        if key.starts_with("__truncate__:") {
            continue;
        }
        let rec = &history[by_hex[version]];
        if !rows.contains_key(key) {
            assert!(
                matches!(rec.op, SinkOp::Delete { .. }),
                "{key} is missing but its version is an upsert"
            );
        }
    }
    for (key, before) in seen.iter() {
        match versions.get(key) {
            Some(now) => assert!(now >= before, "{key} went back from {before} to {now}"),
            None => {
                // Removed by a truncate cleanup: only when older than the table's floor.
                let table = &history[by_hex[before]].table;
                let floor = versions
                    .get(&format!("__truncate__:{}.{}", table.schema, table.table))
                    .unwrap_or_else(|| panic!("{key} vanished without a truncate"));
                assert!(
                    floor > before,
                    "{key} removed though newer than the truncate"
                );
            }
        }
    }
    seen.retain(|k, _| versions.contains_key(k));
    for (key, version) in versions {
        seen.insert(key.clone(), version.clone());
    }
}

async fn replay_in_order_then_again(format: &str) {
    let redis = RedisServer::start();
    let mut sink = RedisSink::new(redis.config(json!({"value.format": format})));
    let hash = format == "hash";
    let history = history(&mut Rng(0x5eed), 3000);
    let want = model(&history);
    for batch in history.chunks(100) {
        sink.write_batch(batch).await.unwrap();
    }
    let mut c = redis.client().await;
    let (rows, versions) = snapshot(&mut c, hash).await;
    assert_eq!(rows, want);
    // The consumer restarts from the beginning: every batch of the replay is harmless.
    for (i, batch) in history.chunks(77).enumerate() {
        sink.write_batch(batch).await.unwrap();
        let (rows_now, versions_now) = snapshot(&mut c, hash).await;
        assert_eq!(rows_now, want, "after replayed batch {i}");
        assert_eq!(versions_now, versions, "after replayed batch {i}");
    }
}

#[tokio::test]
async fn replaying_json_rows_from_the_beginning_changes_nothing() {
    replay_in_order_then_again("json").await;
}

#[tokio::test]
async fn replaying_hash_rows_from_the_beginning_changes_nothing() {
    replay_in_order_then_again("hash").await;
}

async fn shuffled_with_duplicates(format: &str, seed: u64) {
    let redis = RedisServer::start();
    let mut sink = RedisSink::new(redis.config(json!({"value.format": format})));
    let mut rng = Rng(seed);
    let history = history(&mut rng, 2000);
    let want = model(&history);
    let by_hex: HashMap<String, usize> = history
        .iter()
        .enumerate()
        .map(|(i, r)| (r.pos.to_hex(), i))
        .collect();
    // Every record once or twice, in random order.
    let mut shuffled: Vec<SinkRecord> = history.clone();
    for rec in &history {
        if rng.below(3) == 0 {
            shuffled.push(rec.clone());
        }
    }
    for i in (1..shuffled.len()).rev() {
        shuffled.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut c = redis.client().await;
    let mut seen = HashMap::new();
    for batch in shuffled.chunks(97) {
        sink.write_batch(batch).await.unwrap();
        let (rows, versions) = snapshot(&mut c, format == "hash").await;
        check_progress(&history, &by_hex, &mut seen, &rows, &versions);
    }
    let (rows, _) = snapshot(&mut c, format == "hash").await;
    assert_eq!(rows, want);
}

#[tokio::test]
async fn shuffled_and_duplicated_json_changes_never_go_back_and_end_equal() {
    shuffled_with_duplicates("json", 42).await;
}

#[tokio::test]
async fn shuffled_and_duplicated_hash_changes_never_go_back_and_end_equal() {
    shuffled_with_duplicates("hash", 7).await;
}

#[tokio::test]
async fn a_replayed_older_insert_does_not_bring_back_a_deleted_row() {
    let redis = RedisServer::start();
    let mut sink = RedisSink::new(redis.config(json!({})));
    let items: Arc<TableRef> = table("public", "items");
    let insert = upsert(&items, pos(10, 1), 1, json!({"id": 1}));
    let update = upsert(&items, pos(11, 1), 1, json!({"id": 1, "v": 2}));
    sink.write_batch(&[
        insert.clone(),
        update.clone(),
        delete(&items, pos(12, 1), 1),
    ])
    .await
    .unwrap();
    sink.write_batch(&[insert, update]).await.unwrap();
    let mut c = redis.client().await;
    assert_eq!(c.get("public.items:1").await, None);
    // A newer insert does come through.
    sink.write_batch(&[upsert(&items, pos(13, 1), 1, json!({"id": 1, "v": 3}))])
        .await
        .unwrap();
    assert_eq!(
        c.get_json("public.items:1").await,
        Some(json!({"id": 1, "v": 3}))
    );
}

#[tokio::test]
async fn a_replayed_truncate_removes_nothing_newer_and_an_older_one_nothing_at_all() {
    let redis = RedisServer::start();
    let mut sink = RedisSink::new(redis.config(json!({})));
    let items = table("public", "items");
    let t1 = truncate(&items, pos(20, 1));
    let t2 = truncate(&items, pos(30, 1));
    sink.write_batch(&[
        upsert(&items, pos(10, 1), 1, json!({"id": 1})),
        t1.clone(),
        upsert(&items, pos(21, 1), 2, json!({"id": 2})),
        t2.clone(),
        upsert(&items, pos(31, 1), 3, json!({"id": 3})),
    ])
    .await
    .unwrap();
    let mut c = redis.client().await;
    assert_eq!(c.keys(PREFIX).await, ["public.items:3"]);
    sink.write_batch(&[t2, t1, upsert(&items, pos(21, 1), 2, json!({"id": 2}))])
        .await
        .unwrap();
    assert_eq!(c.keys(PREFIX).await, ["public.items:3"]);
    let _: Json = c.get_json("public.items:3").await.unwrap();
}
