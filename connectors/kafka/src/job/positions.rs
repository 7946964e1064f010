//! Where a job is in each partition: the next offset consumed, which of those the group
//! has not been told yet, and the sink's own stored offsets below which records are
//! applied already.
//!
//! A job reads a handful of partitions, so the table is a small vector searched by
//! `(topic, partition)` without allocating: this runs once per record.

use rdkafka::TopicPartitionList;
use tributary_core::PartitionOffset;

use crate::consumer::commit_list;

#[derive(Debug)]
struct Entry {
    topic: String,
    partition: i32,
    /// The next offset to consume.
    next: i64,
    /// `next` has moved since the last commit.
    dirty: bool,
    /// The next offset as of the last batch the sink made durable (committed, or to be).
    written: Option<i64>,
}

#[derive(Debug, Default)]
pub(crate) struct Positions {
    entries: Vec<Entry>,
    /// The sink's stored offsets: `(topic, partition, next)`.
    stored: Vec<(String, i32, i64)>,
}

impl Positions {
    /// Starts from the sink's stored offsets, if it keeps any: they are passed back to it
    /// with every batch, so a partition not read in this run keeps its position.
    pub fn new(stored: Option<Vec<PartitionOffset>>) -> Self {
        let stored = stored.unwrap_or_default();
        Positions {
            entries: stored
                .iter()
                .map(|o| Entry {
                    topic: o.topic.clone(),
                    partition: o.partition,
                    next: o.next,
                    dirty: false,
                    written: None,
                })
                .collect(),
            stored: stored
                .into_iter()
                .map(|o| (o.topic, o.partition, o.next))
                .collect(),
        }
    }

    /// The sink holds this record already (its stored offset is past it).
    #[inline]
    pub fn applied(&self, topic: &str, partition: i32, offset: i64) -> bool {
        !self.stored.is_empty()
            && self
                .stored
                .iter()
                .any(|(t, p, next)| *p == partition && offset < *next && t == topic)
    }

    /// The record at `offset` is consumed. Returns true for a partition seen for the
    /// first time.
    #[inline]
    pub fn advance(&mut self, topic: &str, partition: i32, offset: i64) -> bool {
        let next = offset + 1;
        if let Some(e) = self
            .entries
            .iter_mut()
            .find(|e| e.partition == partition && e.topic == topic)
        {
            // Records of a partition arrive in order; after a rebalance the group may hand
            // it back from an older commit, and the position follows.
            e.next = next;
            e.dirty = true;
            return false;
        }
        self.entries.push(Entry {
            topic: topic.to_string(),
            partition,
            next,
            dirty: true,
            written: None,
        });
        true
    }

    /// Something was consumed since the last commit.
    pub fn pending(&self) -> bool {
        self.entries.iter().any(|e| e.dirty)
    }

    /// The position after everything consumed so far, of every partition known.
    pub fn offsets(&self) -> Vec<PartitionOffset> {
        self.entries
            .iter()
            .map(|e| PartitionOffset {
                topic: e.topic.clone(),
                partition: e.partition,
                next: e.next,
            })
            .collect()
    }

    /// What to commit once the batch gathered so far is written ([`Positions::mark_written`]).
    pub fn take_commit(&mut self) -> TopicPartitionList {
        let tpl = commit_list(
            self.entries
                .iter()
                .filter(|e| e.dirty)
                .map(|e| (e.topic.as_str(), e.partition, e.next)),
        );
        for e in self.entries.iter_mut().filter(|e| e.dirty) {
            e.dirty = false;
        }
        tpl
    }

    /// `commit` (from [`Positions::take_commit`]) is written: offsets to commit again at
    /// shutdown.
    pub fn mark_written(&mut self, commit: &TopicPartitionList) {
        for el in commit.elements() {
            let rdkafka::Offset::Offset(next) = el.offset() else {
                continue;
            };
            if let Some(e) = self
                .entries
                .iter_mut()
                .find(|e| e.partition == el.partition() && e.topic == el.topic())
            {
                e.written = Some(next);
            }
        }
    }

    /// Everything written in this run, to commit once more (and wait) at shutdown.
    pub fn written(&self) -> TopicPartitionList {
        commit_list(
            self.entries
                .iter()
                .filter_map(|e| e.written.map(|w| (e.topic.as_str(), e.partition, w))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_offsets_mark_applied_records_and_stay_in_the_offsets() {
        let mut p = Positions::new(Some(vec![PartitionOffset {
            topic: "a".into(),
            partition: 0,
            next: 10,
        }]));
        assert!(p.applied("a", 0, 9));
        assert!(!p.applied("a", 0, 10));
        assert!(!p.applied("a", 1, 0));
        assert!(!p.pending());
        assert!(p.advance("b", 1, 4));
        assert!(!p.advance("b", 1, 5));
        assert!(p.pending());
        let mut offsets = p.offsets();
        offsets.sort();
        assert_eq!(
            offsets,
            [
                PartitionOffset {
                    topic: "a".into(),
                    partition: 0,
                    next: 10
                },
                PartitionOffset {
                    topic: "b".into(),
                    partition: 1,
                    next: 6
                },
            ]
        );
        let tpl = p.take_commit();
        assert_eq!(tpl.count(), 1);
        assert!(!p.pending());
        // Nothing counts as written until the write says so.
        assert_eq!(p.written().count(), 0);
        p.advance("b", 1, 6);
        p.mark_written(&tpl);
        let written = p.written();
        assert_eq!(written.count(), 1);
        assert_eq!(
            written.elements()[0].offset(),
            rdkafka::Offset::Offset(6),
            "the batch's offset, not the position gathered since"
        );
    }

    #[test]
    fn a_rewind_after_a_rebalance_moves_the_position_back() {
        let mut p = Positions::new(None);
        p.advance("a", 0, 100);
        p.take_commit();
        p.advance("a", 0, 50);
        assert_eq!(p.offsets()[0].next, 51);
        assert!(p.pending());
    }
}
