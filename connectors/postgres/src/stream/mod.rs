//! Turns decoded pgoutput messages into change events.
//!
//! This is the behaviour layer between the replication connection (bytes in) and the
//! sink (events out). It keeps the relation cache (a Relation message precedes the first
//! change of a table and is sent again when its shape changes; a new shape means a new
//! [`TableState`] and so new schemas for later events), frames transactions, applies
//! `skipped.operations`, and skips what a restart must not repeat: transactions at or
//! below the stored offset, and changes a resumed snapshot already read.
//!
//! Protocol v2 streams large in-progress transactions in blocks before they commit. Their
//! messages are spilled to an anonymous temporary file per transaction and replayed on
//! Stream Commit, so nothing uncommitted reaches the sink and memory stays bounded
//! however large the transaction.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;
use tokio_postgres::Client;
use tributary_core::event::now_us;
use tributary_core::{
    BatchSender, CaptureItem, ChangeEvent, Lsn, Op, OpCounts, SnapshotMarker, SourceInfo,
    SourceMetrics, TxBegin, TxCommit, Value,
};

mod blocking;
mod incremental;
mod messages;
mod overlap;
mod relations;
mod reselect;
mod spill;

pub use overlap::{OverlapFilter, OverlapScope, key_string};
use spill::Spill;

use crate::config::PostgresConnectorConfig;
use crate::error::SourceError;
use crate::offset::PgOffset;
use crate::pgoutput::{self, Message, OldTuple, TupleData, TupleValue};
use crate::table::{Cell, TableState, WireColumn};
use crate::types::TypeRegistry;

struct Rel {
    wire: Vec<WireColumn>,
    /// `None` when the table is not captured.
    state: Option<Arc<TableState>>,
}

struct OpenTx {
    begin: TxBegin,
    skip: bool,
    events: u64,
}

/// Inside a large transaction, events are added to the metrics every this many events
/// (otherwise once, at its commit).
/// One row change to emit.
struct Change {
    op: Op,
    key: Option<Value>,
    before: Option<Value>,
    after: Option<Value>,
    key_header: Option<(&'static str, Value)>,
}

const METRICS_EVERY: u64 = 4096;

/// Decodes replication messages into [`CaptureItem`]s.
pub struct ChangeStream {
    config: Arc<PostgresConnectorConfig>,
    client: Client,
    registry: TypeRegistry,
    db: Arc<str>,
    prefix: Arc<str>,
    /// `<topic.prefix>.message`, the topic of logical decoding messages.
    message_topic: Arc<str>,
    relations: HashMap<u32, Rel>,
    tx: Option<OpenTx>,
    in_stream: Option<u32>,
    spills: HashMap<u32, Spill>,
    /// Transactions ending at or before this were delivered before a restart.
    resume_after: Option<Lsn>,
    overlap: OverlapFilter,
    last_commit: Option<Lsn>,
    /// Where each streamed (in-progress) transaction's first segment started.
    stream_first: HashMap<u32, Lsn>,
    offset: PgOffset,
    version: u64,
    warned: HashSet<(u32, String)>,
    metrics: Arc<SourceMetrics>,
    /// Events emitted but not yet added to `metrics`.
    counts: OpCounts,
    /// The incremental snapshot's windows (its progress is in `offset`).
    incremental: crate::incremental::Engine,
    /// Where the stream stops for a blocking snapshot.
    reach: blocking::Reach,
}

impl ChangeStream {
    pub fn new(
        config: Arc<PostgresConnectorConfig>,
        client: Client,
        registry: TypeRegistry,
        offset: PgOffset,
        overlap: OverlapFilter,
    ) -> Self {
        ChangeStream {
            db: config.connect.dbname.as_str().into(),
            prefix: config.topic_prefix.as_str().into(),
            message_topic: format!("{}.message", config.topic_prefix).into(),
            config,
            client,
            registry,
            relations: HashMap::new(),
            tx: None,
            in_stream: None,
            spills: HashMap::new(),
            stream_first: HashMap::new(),
            resume_after: offset.lsn,
            overlap,
            last_commit: offset.sequence_start(),
            offset,
            version: 0,
            warned: HashSet::new(),
            metrics: Arc::default(),
            counts: OpCounts::default(),
            incremental: Default::default(),
            reach: Default::default(),
        }
    }

    /// Reports events and transactions to `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<SourceMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Adds the events emitted since the last call to the metrics, with the commit time
    /// of their transaction as the last event's source time.
    fn report_events(&mut self, commit_ts_us: i64) {
        if self.counts.is_empty() {
            return;
        }
        self.metrics.add_events(&self.counts);
        self.metrics.event_time(commit_ts_us, now_us());
        self.counts = OpCounts::default();
    }

    /// Whether a transaction is open or a streamed one is pending: then a keepalive's
    /// `wal_end` must not be acknowledged.
    pub fn is_idle(&self) -> bool {
        self.tx.is_none() && self.in_stream.is_none() && self.spills.is_empty()
    }

    /// Whether a transaction's events are being delivered (between its Begin and Commit).
    pub fn in_transaction(&self) -> bool {
        self.tx.is_some()
    }

    /// The offset as of the last transaction handed downstream.
    pub fn offset(&self) -> &PgOffset {
        &self.offset
    }

    /// Records that the log has been seen up to `lsn` with nothing to deliver, and returns
    /// the item that lets the sink acknowledge it.
    pub fn progress(&mut self, lsn: Lsn) -> Option<CaptureItem> {
        if self.keepalive_reaches(lsn)
            || !self.is_idle()
            || self.offset.lsn.is_some_and(|l| l >= lsn)
        {
            return None;
        }
        self.offset.lsn = Some(lsn);
        Some(CaptureItem::Progress {
            lsn,
            offset: self.offset.to_json(),
        })
    }

    /// Handles one XLogData payload.
    pub async fn handle(
        &mut self,
        wal_start: Lsn,
        data: Bytes,
        out: &mut BatchSender,
    ) -> Result<(), SourceError> {
        let msg = pgoutput::decode(&data, self.in_stream.is_some()).map_err(|source| {
            SourceError::Decode {
                lsn: wal_start,
                source,
            }
        })?;
        match msg {
            Message::StreamStart(s) => {
                self.in_stream = Some(s.xid);
                if s.first_segment {
                    self.stream_first.insert(s.xid, wal_start);
                }
                Ok(())
            }
            Message::StreamStop => {
                self.in_stream = None;
                Ok(())
            }
            Message::StreamAbort(a) => {
                if a.xid == a.subxid {
                    self.spills.remove(&a.xid);
                    self.stream_first.remove(&a.xid);
                } else {
                    self.spills
                        .entry(a.xid)
                        .or_default()
                        .abort_subxact(a.subxid);
                }
                Ok(())
            }
            Message::StreamCommit(c) => {
                let spill = self.spills.remove(&c.xid).unwrap_or_default();
                let begin = TxBegin {
                    xid: c.xid,
                    final_lsn: c.commit_lsn,
                    first_lsn: self.stream_first.remove(&c.xid).unwrap_or(c.commit_lsn),
                    commit_ts_us: c.commit_ts_us,
                };
                self.begin(begin, out).await?;
                self.replay(spill, out).await?;
                self.commit(c.xid, c.commit_lsn, c.end_lsn, c.commit_ts_us, out)
                    .await
            }
            _ if self.in_stream.is_some() => {
                let xid = self.in_stream.unwrap_or_default();
                self.spills
                    .entry(xid)
                    .or_default()
                    .append(wal_start, &data)?;
                Ok(())
            }
            msg => self.apply(wal_start, msg, out).await,
        }
    }

    async fn replay(&mut self, mut spill: Spill, out: &mut BatchSender) -> Result<(), SourceError> {
        let Some(mut reader) = spill.reader()? else {
            return Ok(());
        };
        while let Some((lsn, data)) = reader.next_message()? {
            let msg = pgoutput::decode(&data, true)
                .map_err(|source| SourceError::Decode { lsn, source })?;
            if message_xid(&msg).is_some_and(|x| spill.is_aborted(x)) {
                continue;
            }
            self.apply(lsn, msg, out).await?;
        }
        Ok(())
    }

    async fn apply(
        &mut self,
        lsn: Lsn,
        msg: Message,
        out: &mut BatchSender,
    ) -> Result<(), SourceError> {
        match msg {
            Message::Begin(b) => {
                let begin = TxBegin {
                    xid: b.xid,
                    final_lsn: b.final_lsn,
                    first_lsn: lsn,
                    commit_ts_us: b.commit_ts_us,
                };
                self.begin(begin, out).await
            }
            Message::Commit(c) => {
                let xid = self.tx.as_ref().map(|t| t.begin.xid).unwrap_or_default();
                self.commit(xid, c.commit_lsn, c.end_lsn, c.commit_ts_us, out)
                    .await
            }
            Message::Relation(r) => self.relation(r).await,
            Message::Insert(i) => {
                self.row_change(lsn, i.rel_id, Op::Create, None, Some(&i.new), out)
                    .await
            }
            Message::Update(u) => {
                let old = u.old.as_ref().map(|o| match o {
                    OldTuple::Key(t) | OldTuple::Full(t) => t,
                });
                self.row_change(lsn, u.rel_id, Op::Update, old, Some(&u.new), out)
                    .await
            }
            Message::Delete(d) => {
                let (OldTuple::Key(t) | OldTuple::Full(t)) = &d.old;
                self.row_change(lsn, d.rel_id, Op::Delete, Some(t), None, out)
                    .await
            }
            Message::Truncate(t) => {
                for rel_id in t.rel_ids {
                    self.truncate(lsn, rel_id, out).await?;
                }
                Ok(())
            }
            Message::LogicalMessage(m) => self.logical_message(m, out).await,
            // Origins and types (loaded from the catalog) are not events.
            Message::Origin(_) | Message::Type(_) => Ok(()),
            Message::StreamStart(_)
            | Message::StreamStop
            | Message::StreamCommit(_)
            | Message::StreamAbort(_) => Err(SourceError::Setup(format!(
                "unexpected streaming control message at {lsn} inside a streamed transaction"
            ))),
        }
    }

    /// Opens a transaction. It is skipped when its commit record starts before the resume
    /// point: the resume point is the end of a delivered commit (or a keepalive position
    /// with nothing open), and pgoutput sends transactions in commit order, so any commit
    /// that starts before it was delivered already.
    async fn begin(&mut self, begin: TxBegin, out: &mut BatchSender) -> Result<(), SourceError> {
        self.read_only_close(Some(begin.final_lsn), out).await?;
        let skip = self.resume_after.is_some_and(|r| begin.final_lsn < r)
            || self.stops_before(begin.final_lsn);
        self.tx = Some(OpenTx {
            begin,
            skip,
            events: 0,
        });
        if !skip {
            send(out, CaptureItem::Begin(begin)).await?;
        }
        Ok(())
    }

    async fn commit(
        &mut self,
        xid: u32,
        commit_lsn: Lsn,
        end_lsn: Lsn,
        commit_ts_us: i64,
        out: &mut BatchSender,
    ) -> Result<(), SourceError> {
        let tx = self.tx.take();
        self.report_events(commit_ts_us);
        let skipped =
            tx.as_ref().is_some_and(|t| t.skip) || self.resume_after.is_some_and(|r| end_lsn <= r);
        if skipped {
            return Ok(());
        }
        self.metrics.add_transaction();
        self.offset.lsn = Some(end_lsn);
        self.offset.lsn_commit = Some(commit_lsn);
        self.offset.tx_id = Some(i64::from(xid));
        self.offset.ts_usec = Some(commit_ts_us);
        // Debezium's `lastCommitLsn` is where the commit message was sent from: the end of
        // the commit record.
        self.last_commit = Some(end_lsn);
        let item = CaptureItem::Commit {
            tx: TxCommit {
                xid,
                commit_lsn,
                end_lsn,
                commit_ts_us,
                events: tx.map(|t| t.events).unwrap_or(0),
            },
            offset: self.offset.to_json(),
        };
        out.push_now(item).await.map_err(|_| SourceError::Closed)
    }

    fn source(&self, state: &TableState, lsn: Lsn) -> SourceInfo {
        let (xid, ts) = self
            .tx
            .as_ref()
            .map(|t| (t.begin.xid, t.begin.commit_ts_us))
            .unwrap_or((0, now_us()));
        SourceInfo {
            name: self.prefix.clone(),
            db: self.db.clone(),
            schema: state.schema_name.clone(),
            table: state.table_name.clone(),
            ts_us: ts,
            snapshot: SnapshotMarker::False,
            tx_id: Some(i64::from(xid)),
            lsn: Some(lsn),
            sequence: Some((self.last_commit, Some(lsn))),
            xmin: None,
        }
    }

    fn skipping(&self) -> bool {
        self.tx.as_ref().is_some_and(|t| t.skip)
    }

    /// Whether a resumed snapshot already holds this change.
    fn overlapped(&self, rel_id: u32, key: Option<&Value>, state: &TableState) -> bool {
        self.tx
            .as_ref()
            .is_some_and(|tx| self.overlap.holds(tx.begin.final_lsn, rel_id, key, state))
    }

    async fn row_change(
        &mut self,
        lsn: Lsn,
        rel_id: u32,
        op: Op,
        old: Option<&TupleData>,
        new: Option<&TupleData>,
        out: &mut BatchSender,
    ) -> Result<(), SourceError> {
        let Some(state) = self.state_of(rel_id)? else {
            return Ok(());
        };
        if self.skipping() {
            return Ok(());
        }
        let convert = |tuple: Option<&TupleData>| match tuple {
            Some(t) => state.convert(cells(t)).map(|(k, v)| (k, Some(v))),
            None => Ok((None, None)),
        };
        let ((old_key, before), (new_key, mut after)) =
            match convert(old).and_then(|o| Ok((o, convert(new)?))) {
                Ok(converted) => converted,
                Err(e) => return e.handle(self.config.processing_failure, lsn),
            };
        let key = new_key.clone().or_else(|| old_key.clone());
        self.window_saw(&state, old_key.as_ref());
        self.window_saw(&state, new_key.as_ref());
        if op == Op::Create
            && self.is_signal_table(&state)
            && let Some(tuple) = new
        {
            self.signal_row(lsn, tuple, out).await?;
        }
        if self.overlapped(rel_id, key.as_ref(), &state) {
            return Ok(());
        }
        // Debezium's reselector, on the created or updated row (of a table with a key)
        // about to be emitted.
        let after_op = if op == Op::Update && old_key.is_some() && old_key != new_key {
            Op::Create
        } else {
            op
        };
        if let (Some(after), Some(tuple), Some(_)) = (&mut after, new, &new_key)
            && !self.config.reselectors.is_empty()
            && !self.config.skipped_operations.contains(&after_op)
            && let Err(e) = self.reselect(&state, tuple, after).await
        {
            return e.handle(self.config.processing_failure, lsn);
        }
        let source = self.source(&state, lsn);
        // A key change is a delete of the old key (with its tombstone) and a create of the
        // new one, as Debezium emits it, so compacted topics stay right.
        if op == Op::Update
            && let (Some(old_k), Some(new_k)) = (&old_key, &new_key)
            && old_k != new_k
        {
            let (old_h, new_h) = (
                ("__debezium.oldkey", old_k.clone()),
                ("__debezium.newkey", new_k.clone()),
            );
            let change = Change {
                op: Op::Delete,
                key: old_key,
                before,
                after: None,
                key_header: Some(new_h),
            };
            self.emit(&state, change, source.clone(), out).await?;
            let change = Change {
                op: Op::Create,
                key: new_key,
                before: None,
                after,
                key_header: Some(old_h),
            };
            return self.emit(&state, change, source, out).await;
        }
        let change = Change {
            op,
            key,
            before,
            after,
            key_header: None,
        };
        self.emit(&state, change, source, out).await
    }

    async fn emit(
        &mut self,
        state: &Arc<TableState>,
        change: Change,
        source: SourceInfo,
        out: &mut BatchSender,
    ) -> Result<(), SourceError> {
        let Change {
            op,
            key,
            before,
            after,
            key_header,
        } = change;
        if self.config.skipped_operations.contains(&op) {
            return Ok(());
        }
        // Debezium follows a delete with a tombstone even when the table has no key (a
        // record with a null key and a null value).
        let tombstone_key = (op == Op::Delete && self.config.tombstones_on_delete)
            .then(|| key.clone().unwrap_or(Value::Null));
        let tombstone_header = tombstone_key.as_ref().and(key_header.clone());
        let ev = ChangeEvent {
            schemas: state.schemas.clone(),
            op,
            key,
            before,
            after,
            source,
            ts_us: now_us(),
            key_header,
        };
        self.counts.add(op);
        if let Some(tx) = &mut self.tx {
            tx.events += 1;
            if tx.events % METRICS_EVERY == 0 {
                let ts = tx.begin.commit_ts_us;
                self.report_events(ts);
            }
        }
        send(out, CaptureItem::Change(ev)).await?;
        if let Some(key) = tombstone_key {
            send(
                out,
                CaptureItem::Tombstone {
                    schemas: state.schemas.clone(),
                    key,
                    key_header: tombstone_header,
                },
            )
            .await?;
        }
        Ok(())
    }

    async fn truncate(
        &mut self,
        lsn: Lsn,
        rel_id: u32,
        out: &mut BatchSender,
    ) -> Result<(), SourceError> {
        let Some(state) = self.state_of(rel_id)? else {
            return Ok(());
        };
        if self.skipping() || self.overlapped(rel_id, None, &state) {
            return Ok(());
        }
        self.window_saw_truncate(&state);
        let source = self.source(&state, lsn);
        let change = Change {
            op: Op::Truncate,
            key: None,
            before: None,
            after: None,
            key_header: None,
        };
        self.emit(&state, change, source, out).await
    }
}

/// The cells of a pgoutput tuple. Binary values never arrive: binary mode is not requested.
fn cells(t: &TupleData) -> impl ExactSizeIterator<Item = Cell<'_>> {
    t.0.iter().map(|v| match v {
        TupleValue::Null => Cell::Null,
        TupleValue::UnchangedToast => Cell::Unchanged,
        TupleValue::Text(b) | TupleValue::Binary(b) => match std::str::from_utf8(b) {
            Ok(s) => Cell::Text(s),
            Err(_) => Cell::Null,
        },
    })
}

/// The xid a streamed message belongs to (its subtransaction, for changes).
fn message_xid(msg: &Message) -> Option<u32> {
    match msg {
        Message::Insert(m) => m.xid,
        Message::Update(m) => m.xid,
        Message::Delete(m) => m.xid,
        Message::Truncate(m) => m.xid,
        Message::LogicalMessage(m) => m.xid,
        _ => None,
    }
}

async fn send(out: &mut BatchSender, item: CaptureItem) -> Result<(), SourceError> {
    out.push(item).await.map_err(|_| SourceError::Closed)
}
