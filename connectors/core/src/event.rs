//! Change events and the items a source emits.

use std::sync::Arc;

use crate::{Lsn, TableSchemas, Value};

/// Debezium's operation codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Create,
    Update,
    Delete,
    Read,
    Truncate,
    Message,
}

impl Op {
    /// The one-letter code in the envelope's `op` field.
    pub fn code(self) -> &'static str {
        match self {
            Op::Create => "c",
            Op::Update => "u",
            Op::Delete => "d",
            Op::Read => "r",
            Op::Truncate => "t",
            Op::Message => "m",
        }
    }

    /// Parses a `skipped.operations` letter.
    pub fn from_code(code: &str) -> Option<Op> {
        Some(match code {
            "c" => Op::Create,
            "u" => Op::Update,
            "d" => Op::Delete,
            "r" => Op::Read,
            "t" => Op::Truncate,
            "m" => Op::Message,
            _ => return None,
        })
    }
}

/// `source.snapshot`: whether an event comes from the snapshot, and where in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SnapshotMarker {
    #[default]
    False,
    True,
    First,
    Last,
    FirstInDataCollection,
    LastInDataCollection,
    Incremental,
}

impl SnapshotMarker {
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotMarker::False => "false",
            SnapshotMarker::True => "true",
            SnapshotMarker::First => "first",
            SnapshotMarker::Last => "last",
            SnapshotMarker::FirstInDataCollection => "first_in_data_collection",
            SnapshotMarker::LastInDataCollection => "last_in_data_collection",
            SnapshotMarker::Incremental => "incremental",
        }
    }
}

/// The `source` block of an event (Debezium's `io.debezium.connector.postgresql.Source`).
#[derive(Debug, Clone, PartialEq)]
pub struct SourceInfo {
    /// `topic.prefix` of the connector (Debezium's logical server name).
    pub name: Arc<str>,
    pub db: Arc<str>,
    pub schema: Arc<str>,
    pub table: Arc<str>,
    /// Commit time of the transaction (snapshot: time the snapshot read the row), µs.
    pub ts_us: i64,
    pub snapshot: SnapshotMarker,
    pub tx_id: Option<i64>,
    pub lsn: Option<Lsn>,
    /// `[last commit LSN, this event's LSN]`, rendered as Debezium's `sequence` string.
    pub sequence: Option<(Option<Lsn>, Option<Lsn>)>,
    pub xmin: Option<i64>,
}

impl SourceInfo {
    /// Debezium's `sequence` field: a JSON array of two stringified LSNs (as decimals).
    pub fn sequence_string(&self) -> Option<String> {
        self.sequence.map(|(last, this)| {
            let f = |l: Option<Lsn>| match l {
                Some(l) => format!("\"{}\"", l.0),
                None => "null".to_string(),
            };
            format!("[{},{}]", f(last), f(this))
        })
    }
}

/// One change event: a row read by the snapshot or changed in a transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeEvent {
    /// Schemas (and topic) of the table this event belongs to.
    pub schemas: Arc<TableSchemas>,
    pub op: Op,
    /// The key struct, `None` for a table without key columns (null Kafka key).
    pub key: Option<Value>,
    /// Row image before the change (`Value::Struct` per `schemas.value`).
    pub before: Option<Value>,
    /// Row image after the change.
    pub after: Option<Value>,
    pub source: SourceInfo,
    /// When Tributary processed the event, µs since the UNIX epoch (envelope `ts_*`).
    pub ts_us: i64,
    /// For the two events of a primary-key change, Debezium's header naming the other key:
    /// `__debezium.newkey` on the delete of the old key, `__debezium.oldkey` on the create
    /// of the new one.
    pub key_header: Option<(&'static str, Value)>,
}

impl ChangeEvent {
    pub fn topic(&self) -> &str {
        &self.schemas.topic
    }
}

/// A logical decoding message (`pg_logical_emit_message`): Debezium's `op: m` event on
/// `<topic.prefix>.message`, keyed by its prefix.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageEvent {
    pub topic: Arc<str>,
    pub prefix: String,
    /// The content as `binary.handling.mode` renders bytes: [`Value::Bytes`], or
    /// [`Value::String`] (base64, base64-url-safe, hex).
    pub content: Value,
    /// Transactional messages carry their transaction's id and time; others neither.
    pub source: SourceInfo,
    /// When Tributary processed the message, µs since the UNIX epoch (`ts_ms`).
    pub ts_us: i64,
}

/// Start of a source transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxBegin {
    pub xid: u32,
    /// LSN of the transaction's commit record.
    pub final_lsn: Lsn,
    /// Where the BEGIN message was sent from: the transaction's first WAL record (the LSN
    /// in Debezium's transaction ids).
    pub first_lsn: Lsn,
    pub commit_ts_us: i64,
}

/// End of a source transaction. Once everything up to and including this item is durable,
/// `end_lsn` may be acknowledged to the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxCommit {
    pub xid: u32,
    pub commit_lsn: Lsn,
    pub end_lsn: Lsn,
    pub commit_ts_us: i64,
    /// Number of change events the transaction produced (after filtering).
    pub events: u64,
}

/// Everything a source emits, in order.
// Nearly every item is a `Change`; boxing it would add an allocation per event.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum CaptureItem {
    Begin(TxBegin),
    Change(ChangeEvent),
    /// A logical decoding message: inside its transaction's Begin and Commit when it is
    /// transactional, else followed by a [`CaptureItem::Checkpoint`] of its position.
    Message(MessageEvent),
    /// A null-valued record that follows a delete so that compacted topics drop the key.
    Tombstone {
        schemas: Arc<TableSchemas>,
        key: Value,
        /// The delete's key-change header (see [`ChangeEvent::key_header`]).
        key_header: Option<(&'static str, Value)>,
    },
    /// End of a transaction, with the source offset that becomes current once it (and
    /// everything before it) is durable.
    Commit {
        tx: TxCommit,
        offset: serde_json::Value,
    },
    /// Snapshot progress the sink should make durable together with what came before it.
    /// `offset` is the source's whole offset as JSON, to be stored as-is.
    Checkpoint {
        offset: serde_json::Value,
    },
    /// Nothing to publish, but the source has seen the log up to here (keepalive or a
    /// transaction whose changes were all filtered out): acknowledging it is safe once
    /// everything before it is durable.
    Progress {
        lsn: Lsn,
        offset: serde_json::Value,
    },
}

impl CaptureItem {
    /// About how many bytes the item occupies in memory, as the queue's byte bound
    /// (`max.queue.size.in.bytes`) counts it: the item and the values it carries.
    pub fn approx_size(&self) -> usize {
        let values =
            |vs: &[Option<&Value>]| -> usize { vs.iter().flatten().map(|v| v.approx_size()).sum() };
        std::mem::size_of::<CaptureItem>()
            + match self {
                CaptureItem::Change(e) => values(&[
                    e.key.as_ref(),
                    e.before.as_ref(),
                    e.after.as_ref(),
                    e.key_header.as_ref().map(|(_, v)| v),
                ]),
                CaptureItem::Message(m) => m.prefix.len() + m.content.approx_size(),
                CaptureItem::Tombstone {
                    key, key_header, ..
                } => values(&[Some(key), key_header.as_ref().map(|(_, v)| v)]),
                CaptureItem::Begin(_)
                | CaptureItem::Commit { .. }
                | CaptureItem::Checkpoint { .. }
                | CaptureItem::Progress { .. } => 0,
            }
    }
}

/// Current time in µs since the UNIX epoch.
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}
