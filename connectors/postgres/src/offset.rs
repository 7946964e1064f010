//! The Postgres source offset: where a restart resumes.
//!
//! `lsn` is the end LSN of the last transaction whose events are durable downstream; on
//! start every transaction ending at or before it is skipped (exactly-once rule 4).
//! `snapshot` records snapshot progress per table and chunk, so a restart resumes a
//! snapshot instead of starting it over. Field names follow Debezium's offset where one
//! exists (`lsn`, `lsn_commit`, `txId`, `ts_usec`).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use tributary_core::Lsn;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PgOffset {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lsn: Option<Lsn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lsn_commit: Option<Lsn>,
    #[serde(default, rename = "txId", skip_serializing_if = "Option::is_none")]
    pub tx_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts_usec: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotProgress>,
    /// An incremental snapshot in progress (started by an `execute-snapshot` signal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental: Option<IncrementalProgress>,
    /// A blocking snapshot (an `execute-snapshot` signal of type `blocking`). It is
    /// pending until the stream reaches the consistent point of a snapshot exported for
    /// it; it is then read as `snapshot`, and cleared with that snapshot's completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocking: Option<BlockingSnapshot>,
}

/// The tables of a blocking snapshot, each with its `additional-conditions` statement.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockingSnapshot {
    /// The `execute-snapshot` signal's id.
    pub id: String,
    /// `schema.table` of each table to read.
    pub tables: Vec<String>,
    /// Per table (`schema.table`): the `SELECT` statement that reads it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub statements: BTreeMap<String, String>,
}

/// Progress of an incremental snapshot: the tables still to read (the first is being
/// read) and, for that one, the last key whose chunk is durable downstream. A restart
/// reads on from the chunk after it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncrementalProgress {
    /// The `execute-snapshot` signal's id.
    pub id: String,
    pub tables: Vec<IncrementalTable>,
    /// The key (each column's text) of the last chunk read of the first table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_key: Option<Vec<String>>,
    /// The first table's largest key when its reading began: the snapshot ends there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_key: Option<Vec<String>>,
    /// Rows emitted of the first table.
    #[serde(default)]
    pub rows: u64,
    /// Chunks (windows) read of the first table.
    #[serde(default)]
    pub chunks: u64,
    /// Paused by a `pause-snapshot` signal.
    #[serde(default)]
    pub paused: bool,
}

/// One table of an incremental snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncrementalTable {
    pub schema: String,
    pub table: String,
    /// The signal's `additional-conditions` filter for this table (SQL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// The signal's `surrogate-key`: the column chunks are ordered by instead of the
    /// primary key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surrogate_key: Option<String>,
}

/// Progress of a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotProgress {
    pub completed: bool,
    /// The slot position the snapshot is consistent with.
    pub point: Lsn,
    /// Per table (`schema.table`): the chunk plan and which chunks are done.
    #[serde(default)]
    pub tables: BTreeMap<String, TableProgress>,
    /// The snapshot's visibility (`txid_current_snapshot()`, `xmin:xmax:xip,…`). A resumed
    /// snapshot reads a partly read table's remaining chunks in a newer snapshot but keeps
    /// only the row versions this one saw: a row changed since (and perhaps moved to a
    /// chunk not yet read) comes from the stream, not read twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visible: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableProgress {
    /// Heap pages per chunk when the plan was made.
    pub chunk_pages: u32,
    /// Number of chunks in the plan (the last one is open-ended).
    pub chunks: u32,
    /// Chunks whose rows are all durable downstream.
    pub done: BTreeSet<u32>,
    /// Rows read by the done chunks.
    pub rows: u64,
    /// A partitioned table's leaf partitions, each read in its own ctid chunks (the root
    /// holds no pages): chunks are numbered across them in this order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<PartPlan>,
}

/// One leaf partition of a partitioned table's snapshot plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartPlan {
    /// The partition as SQL names it (`format('%I.%I')`: quoted where a name needs it).
    pub table: String,
    /// Its chunks (the last one open-ended).
    pub chunks: u32,
}

impl TableProgress {
    pub fn is_complete(&self) -> bool {
        self.done.len() as u32 >= self.chunks
    }
}

impl PgOffset {
    pub fn from_json(v: Option<&serde_json::Value>) -> Result<Self, String> {
        match v {
            None | Some(serde_json::Value::Null) => Ok(PgOffset::default()),
            Some(v) => serde_json::from_value(v.clone()).map_err(|e| {
                format!("stored offset is not a Postgres connector offset: {e}\nHINT: reset the connector's offsets to start over")
            }),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("offset always serializes")
    }

    /// Where `source.sequence` starts: the end of the last commit (Debezium's
    /// `lastCommitLsn`), but never before the snapshot's point, so every streamed change
    /// sorts after the snapshot's rows (a transaction that began before the snapshot and
    /// commits after it has changes logged before the point). Debezium writes `null` until
    /// its first commit after a snapshot; the sinks need the point to order those changes.
    pub fn sequence_start(&self) -> Option<Lsn> {
        let point = self.snapshot.as_ref().map(|s| s.point);
        self.lsn_commit.and(self.lsn).max(point)
    }

    /// A blocking snapshot was requested, and its reading has not begun.
    pub fn blocking_pending(&self) -> bool {
        self.blocking.is_some() && !self.blocking_running()
    }

    /// A blocking snapshot is being read (its progress is `snapshot`).
    pub fn blocking_running(&self) -> bool {
        self.blocking.is_some() && self.snapshot.as_ref().is_some_and(|s| !s.completed)
    }

    pub fn snapshot_completed(&self) -> bool {
        self.snapshot.as_ref().is_some_and(|s| s.completed)
    }

    pub fn is_empty(&self) -> bool {
        *self == PgOffset::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_starts_at_the_snapshot_point_until_a_later_commit() {
        let mut offset = PgOffset::default();
        assert_eq!(offset.sequence_start(), None);
        offset.snapshot = Some(SnapshotProgress {
            completed: true,
            point: Lsn(100),
            tables: BTreeMap::new(),
            ..Default::default()
        });
        assert_eq!(offset.sequence_start(), Some(Lsn(100)));
        offset.lsn_commit = Some(Lsn(90));
        offset.lsn = Some(Lsn(95));
        assert_eq!(offset.sequence_start(), Some(Lsn(100)));
        // The end of the commit record, not its start.
        offset.lsn_commit = Some(Lsn(140));
        offset.lsn = Some(Lsn(188));
        assert_eq!(offset.sequence_start(), Some(Lsn(188)));
    }
}
