//! What an embedded index commits along with its documents.
//!
//! tantivy stores one opaque string per commit (`meta.json`'s `payload`); ours is this JSON:
//! the index's truncate floor and, per job writing the index, the next offset of every
//! topic partition the job had consumed when the commit was made. Documents, floor and
//! offsets therefore become durable together or not at all: after a crash the index is
//! exactly as of its last commit, and the job resumes from the offsets of that commit.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tributary_core::{PartitionOffset, Position};

/// The version written into new payloads.
const VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Payload {
    #[serde(default)]
    pub version: u32,
    /// A truncate at this position removed every older document: records older than it
    /// are refused. Hex, as [`Position::to_hex`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncate_floor: Option<String>,
    /// Job name → the next offset of each partition, as of this commit.
    #[serde(default)]
    pub jobs: BTreeMap<String, Vec<PartitionOffset>>,
}

impl Payload {
    /// Reads a committed payload; one that is missing or not ours reads as empty.
    pub fn parse(text: Option<&str>) -> Payload {
        let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
            return Payload::default();
        };
        match serde_json::from_str::<Payload>(text) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "index commit payload is not tributary's; ignoring it");
                Payload::default()
            }
        }
    }

    pub fn to_json(&self) -> String {
        let mut p = self.clone();
        p.version = VERSION;
        serde_json::to_string(&p).unwrap_or_default()
    }

    pub fn floor(&self) -> Option<Position> {
        self.truncate_floor.as_deref().and_then(Position::from_hex)
    }

    pub fn set_floor(&mut self, pos: Position) {
        self.truncate_floor = Some(pos.to_hex());
    }

    /// The job's offsets by partition.
    pub fn offsets(&self, job: &str) -> Option<BTreeMap<(String, i32), i64>> {
        self.jobs.get(job).map(|list| {
            list.iter()
                .map(|o| ((o.topic.clone(), o.partition), o.next))
                .collect()
        })
    }

    /// Records `current` as the job's offsets; a partition never moves back (an offset this
    /// index already holds stays true), and partitions it had and `current` lacks stay.
    pub fn advance(&mut self, job: &str, current: &BTreeMap<(String, i32), i64>) {
        let mut merged = self.offsets(job).unwrap_or_default();
        for (k, &next) in current {
            let e = merged.entry(k.clone()).or_insert(next);
            *e = (*e).max(next);
        }
        self.jobs.insert(job.to_string(), to_list(&merged));
    }
}

pub(crate) fn to_list(map: &BTreeMap<(String, i32), i64>) -> Vec<PartitionOffset> {
    map.iter()
        .map(|((topic, partition), &next)| PartitionOffset {
            topic: topic.clone(),
            partition: *partition,
            next,
        })
        .collect()
}

/// Per partition, the smallest offset over the indexes: every record before it is durable
/// in every index it could have gone to. A partition that one index lacks had not been
/// consumed when that index last committed; records of it may have been meant for that
/// index since, so the partition is read again from its start (offset 0; Kafka moves an
/// offset before the log start to the earliest record). Indexes are committed at least once
/// per refresh interval with every partition, so this lasts only until then.
pub(crate) fn min_offsets<'a>(
    all: impl IntoIterator<Item = &'a BTreeMap<(String, i32), i64>>,
) -> BTreeMap<(String, i32), i64> {
    let all: Vec<_> = all.into_iter().collect();
    let mut out: BTreeMap<(String, i32), i64> = BTreeMap::new();
    for offsets in &all {
        for (k, &next) in *offsets {
            let e = out.entry(k.clone()).or_insert(next);
            *e = (*e).min(next);
        }
    }
    for (k, next) in &mut out {
        if all.iter().any(|offsets| !offsets.contains_key(k)) {
            *next = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_core::Lsn;

    fn offsets(list: &[(&str, i32, i64)]) -> BTreeMap<(String, i32), i64> {
        list.iter()
            .map(|(t, p, n)| ((t.to_string(), *p), *n))
            .collect()
    }

    #[test]
    fn payload_round_trips_and_foreign_payloads_read_as_empty() {
        let mut p = Payload::default();
        p.set_floor(Position::new(Lsn(5), Lsn(7)));
        p.advance("job", &offsets(&[("cdc.public.a", 0, 10)]));
        let back = Payload::parse(Some(&p.to_json()));
        assert_eq!(back.floor(), Some(Position::new(Lsn(5), Lsn(7))));
        assert_eq!(
            back.offsets("job"),
            Some(offsets(&[("cdc.public.a", 0, 10)]))
        );
        assert_eq!(back.version, 1);
        assert_eq!(Payload::parse(Some("not json")), Payload::default());
        assert_eq!(Payload::parse(None), Payload::default());
    }

    #[test]
    fn advancing_never_moves_a_partition_back_and_keeps_other_jobs() {
        let mut p = Payload::default();
        p.advance("other", &offsets(&[("t", 0, 3)]));
        p.advance("job", &offsets(&[("t", 0, 10), ("t", 1, 4)]));
        p.advance("job", &offsets(&[("t", 0, 8), ("u", 0, 1)]));
        assert_eq!(
            p.offsets("job"),
            Some(offsets(&[("t", 0, 10), ("t", 1, 4), ("u", 0, 1)]))
        );
        assert_eq!(p.offsets("other"), Some(offsets(&[("t", 0, 3)])));
    }

    #[test]
    fn stored_offsets_are_the_minimum_and_a_partition_an_index_lacks_starts_over() {
        let a = offsets(&[("t", 0, 10), ("t", 1, 7)]);
        let b = offsets(&[("t", 0, 6), ("u", 0, 2)]);
        assert_eq!(
            min_offsets([&a, &b]),
            offsets(&[("t", 0, 6), ("t", 1, 0), ("u", 0, 0)])
        );
        assert_eq!(min_offsets([&a]), a);
    }
}
