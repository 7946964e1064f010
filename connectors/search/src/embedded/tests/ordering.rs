//! Replays, duplicates and shuffles never move a document back or bring a deleted row back.
//!
//! Whatever order a set of records arrives in, the index must hold, per id, the newest
//! record of the set — if that is an upsert newer than the newest truncate. The tests check
//! exactly that after every batch, through search (each live row found by its own words,
//! no replaced or deleted version found by its words).

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};
use tributary_core::{Position, SinkOp, SinkRecord};

use super::{config, live, offsets};
use crate::embedded::{IndexRegistry, TantivySink};
use crate::testing::{delete, pos, table, truncate, upsert};
use tributary_core::Sink;

const INDEX: &str = "public.items";
const IDS: i64 = 6;

/// A tiny deterministic generator (no test dependency needed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

/// The unique word of the row version written at step `i`.
fn word(id: i64, i: u64) -> String {
    format!("w{id}x{i}")
}

/// A table's history: upserts and deletes of a few ids, and two truncates.
fn history(seed: u64) -> Vec<SinkRecord> {
    let t = table("public", "items");
    let mut rng = Lcg(seed);
    (0..60u64)
        .map(|i| {
            let at = pos(1000 + i * 10, 1000 + i * 10 + 3);
            let id = rng.next(IDS as u64) as i64 + 1;
            if i == 25 || i == 47 {
                truncate(&t, at)
            } else if rng.next(10) < 3 {
                delete(&t, id, at)
            } else {
                upsert(&t, id, &format!("version {}", word(id, i)), at)
            }
        })
        .collect()
}

fn id_of(r: &SinkRecord) -> Option<String> {
    match &r.op {
        SinkOp::Upsert { key, .. } | SinkOp::Delete { key } => Some(key.id()),
        SinkOp::Truncate => None,
    }
}

/// What the index must hold after `seen`, in any order.
fn expected(seen: &[SinkRecord]) -> BTreeMap<String, Map<String, Json>> {
    let floor: Option<Position> = seen
        .iter()
        .filter(|r| matches!(r.op, SinkOp::Truncate))
        .map(|r| r.pos)
        .max();
    let mut newest: BTreeMap<String, &SinkRecord> = BTreeMap::new();
    for r in seen {
        if let Some(id) = id_of(r) {
            let e = newest.entry(id).or_insert(r);
            if r.pos > e.pos {
                *e = r;
            }
        }
    }
    newest
        .into_iter()
        .filter(|(_, r)| floor.is_none_or(|f| r.pos > f))
        .filter_map(|(id, r)| match &r.op {
            SinkOp::Upsert { doc, .. } => Some((id, doc.clone())),
            _ => None,
        })
        .collect()
}

fn check(registry: &std::sync::Arc<IndexRegistry>, seen: &[SinkRecord], step: &str) {
    let want = expected(seen);
    let have = if registry.names().is_empty() {
        BTreeMap::new()
    } else {
        live(registry, INDEX)
    };
    assert_eq!(have, want, "after {step}");
    // Every version's words find that row exactly while it is the live version.
    for r in seen {
        let (Some(id), SinkOp::Upsert { doc, .. }) = (id_of(r), &r.op) else {
            continue;
        };
        let Some(title) = doc.get("title").and_then(Json::as_str) else {
            continue;
        };
        let w = title.split(' ').nth(1).unwrap_or_default();
        let found: Vec<String> = registry
            .search(INDEX, w, 10)
            .unwrap()
            .hits
            .into_iter()
            .map(|h| h.id)
            .collect();
        let is_live = want.get(&id) == Some(doc);
        assert_eq!(
            found == [id.clone()],
            is_live,
            "after {step}: {w} found {found:?}"
        );
        assert!(found.len() <= 1, "after {step}: {w} found {found:?}");
    }
}

async fn feed(
    sink: &mut TantivySink,
    registry: &std::sync::Arc<IndexRegistry>,
    records: &[SinkRecord],
    size: usize,
    seen: &mut Vec<SinkRecord>,
    label: &str,
) {
    for (n, batch) in records.chunks(size).enumerate() {
        let next = (seen.len() + batch.len()) as i64;
        sink.write(batch, &offsets(&[("cdc.public.items", 0, next)]))
            .await
            .unwrap();
        seen.extend_from_slice(batch);
        check(registry, seen, &format!("{label} batch {n}"));
    }
}

#[tokio::test]
async fn replaying_from_the_beginning_never_regresses_a_document() {
    let dir = tempfile::tempdir().unwrap();
    let registry = IndexRegistry::open(dir.path()).unwrap();
    let mut sink = TantivySink::open(&config("job"), registry.clone()).unwrap();
    let records = history(7);
    let mut seen = Vec::new();
    feed(&mut sink, &registry, &records, 5, &mut seen, "first pass").await;
    // The daemon restarts: what the reopened index holds decides, not what it remembered.
    drop(sink);
    drop(registry);
    let registry = IndexRegistry::open(dir.path()).unwrap();
    let mut sink = TantivySink::open(&config("job"), registry.clone()).unwrap();
    check(&registry, &seen, "reopened");
    // A replay from offset 0 (and again with other batch boundaries).
    feed(&mut sink, &registry, &records, 7, &mut seen, "replay").await;
    feed(
        &mut sink,
        &registry,
        &records[10..40],
        3,
        &mut seen,
        "partial replay",
    )
    .await;
    assert!(
        !expected(&seen).is_empty(),
        "the history should leave live rows"
    );
}

#[tokio::test]
async fn shuffled_and_duplicated_batches_never_regress_or_resurrect() {
    for seed in [1u64, 2, 3] {
        let dir = tempfile::tempdir().unwrap();
        let registry = IndexRegistry::open(dir.path()).unwrap();
        let mut sink = TantivySink::open(&config("job"), registry.clone()).unwrap();
        let records = history(seed * 31);
        let mut rng = Lcg(seed);
        let mut mixed = records.clone();
        for _ in 0..25 {
            mixed.push(records[rng.next(records.len() as u64) as usize].clone());
        }
        for i in (1..mixed.len()).rev() {
            mixed.swap(i, rng.next(i as u64 + 1) as usize);
        }
        let mut seen = Vec::new();
        feed(
            &mut sink,
            &registry,
            &mixed,
            4,
            &mut seen,
            &format!("seed {seed}"),
        )
        .await;
        // Having seen everything, the index is the history's end state.
        assert_eq!(live(&registry, INDEX), expected(&records), "seed {seed}");
    }
}
