//! What a running source reports: Debezium's per-connector snapshot and streaming metrics.
//!
//! A source holds an `Arc<SourceMetrics>` and updates it as it goes; the daemon reads it
//! for `/metrics` and for the snapshot block of a task's status. Everything is a relaxed
//! atomic: readers want a recent value, not a consistent cut, and the source must not pay
//! for ordering it does not need. The hot path is cheaper still: a source counts events in
//! a local [`OpCounts`] and adds them here once per transaction (or per few thousand
//! events), so the shared cache line is touched rarely even at a million events a second.
//!
//! Debezium keeps the same figures in two MBeans per connector (`…,context=snapshot` and
//! `…,context=streaming`); here they are one struct, with the MBean attribute each one
//! mirrors named on its accessor.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};

use serde::Serialize;

use crate::Op;
use crate::batch::QueueGauge;

/// Every operation, in the order [`OpCounts`] and [`SourceMetrics`] index them.
pub const OPS: [Op; 6] = [
    Op::Create,
    Op::Update,
    Op::Delete,
    Op::Read,
    Op::Truncate,
    Op::Message,
];

fn index(op: Op) -> usize {
    match op {
        Op::Create => 0,
        Op::Update => 1,
        Op::Delete => 2,
        Op::Read => 3,
        Op::Truncate => 4,
        Op::Message => 5,
    }
}

/// Events counted per operation by one task, without atomics, to be added to
/// [`SourceMetrics`] in bulk.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct OpCounts([u64; 6]);

impl OpCounts {
    #[inline]
    pub fn add(&mut self, op: Op) {
        self.0[index(op)] += 1;
    }

    pub fn get(&self, op: Op) -> u64 {
        self.0[index(op)]
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&n| n == 0)
    }
}

/// An incremental snapshot's progress as the source last reported it (the task status's
/// `"snapshot": {"incremental": {…}}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IncrementalReport {
    /// The `execute-snapshot` signal's id.
    pub id: String,
    /// The table being read (`schema.table`).
    pub table: Option<String>,
    /// Tables still to read, the one being read included.
    pub tables_remaining: u64,
    /// Rows emitted, and windows read, of the table being read.
    pub table_rows: u64,
    pub table_chunks: u64,
    pub paused: bool,
}

/// Snapshot progress as a task's status shows it (`"snapshot": {…}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SnapshotReport {
    pub running: bool,
    pub completed: bool,
    pub tables_total: u64,
    pub tables_done: u64,
    pub rows_scanned: u64,
    /// Rows still to read by the planner's estimate (`pg_class.reltuples`); 0 once the
    /// snapshot completed.
    pub rows_estimated_remaining: u64,
}

/// One source's counters and gauges. See the module documentation.
#[derive(Debug, Default)]
pub struct SourceMetrics {
    events: [AtomicU64; 6],
    /// Commit time (µs since the epoch) of the last streamed event; 0 before the first.
    last_source_us: AtomicI64,
    /// When that event was seen (µs since the epoch); 0 before the first.
    last_seen_us: AtomicI64,
    transactions: AtomicU64,
    snapshot_ran: AtomicBool,
    snapshot_running: AtomicBool,
    snapshot_completed: AtomicBool,
    snapshot_aborted: AtomicBool,
    snapshot_tables_total: AtomicU64,
    snapshot_tables_done: AtomicU64,
    snapshot_rows_scanned: AtomicU64,
    snapshot_rows_estimated: AtomicU64,
    incremental: Mutex<Option<IncrementalReport>>,
    incremental_rows: AtomicU64,
    queue: Mutex<Option<QueueGauge>>,
}

impl SourceMetrics {
    /// A run of the source starts with `queue` as its output: the snapshot state of an
    /// earlier run is forgotten (counters keep counting).
    pub fn start_run(&self, queue: QueueGauge) {
        *self.queue.lock().unwrap_or_else(|e| e.into_inner()) = Some(queue);
        for flag in [
            &self.snapshot_ran,
            &self.snapshot_running,
            &self.snapshot_completed,
            &self.snapshot_aborted,
        ] {
            flag.store(false, Relaxed);
        }
        for n in [
            &self.snapshot_tables_total,
            &self.snapshot_tables_done,
            &self.snapshot_rows_scanned,
            &self.snapshot_rows_estimated,
        ] {
            n.store(0, Relaxed);
        }
    }

    /// The output queue of the current run (`QueueTotalCapacity`,
    /// `QueueRemainingCapacity`); `None` before a run started.
    pub fn queue(&self) -> Option<QueueGauge> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    // --- events and transactions ---------------------------------------------------

    /// Adds events counted locally.
    pub fn add_events(&self, counts: &OpCounts) {
        for (i, &n) in counts.0.iter().enumerate() {
            if n > 0 {
                self.events[i].fetch_add(n, Relaxed);
            }
        }
    }

    /// Adds `n` events of one operation.
    pub fn add_events_of(&self, op: Op, n: u64) {
        self.events[index(op)].fetch_add(n, Relaxed);
    }

    /// The last event came from a transaction committed at `source_us` and was seen at
    /// `seen_us` (both µs since the epoch).
    pub fn event_time(&self, source_us: i64, seen_us: i64) {
        self.last_source_us.store(source_us, Relaxed);
        self.last_seen_us.store(seen_us, Relaxed);
    }

    /// One more source transaction seen (committed in Postgres, not skipped as already
    /// delivered).
    pub fn add_transaction(&self) {
        self.transactions.fetch_add(1, Relaxed);
    }

    /// `TotalNumberOfEventsSeen`.
    pub fn events_seen(&self) -> u64 {
        self.events.iter().map(|n| n.load(Relaxed)).sum()
    }

    /// `NumberOfCreateEventsSeen`, `NumberOfUpdateEventsSeen`, … by operation.
    pub fn events_seen_of(&self, op: Op) -> u64 {
        self.events[index(op)].load(Relaxed)
    }

    /// Source transactions seen.
    pub fn transactions_seen(&self) -> u64 {
        self.transactions.load(Relaxed)
    }

    /// Commit time (µs since the epoch) of the last streamed event.
    pub fn last_event_source_us(&self) -> Option<i64> {
        Some(self.last_source_us.load(Relaxed)).filter(|&t| t != 0)
    }

    /// When (µs since the epoch) the last streamed event was seen.
    pub fn last_event_seen_us(&self) -> Option<i64> {
        Some(self.last_seen_us.load(Relaxed)).filter(|&t| t != 0)
    }

    /// `MilliSecondsBehindSource`: when the last streamed event was seen minus when its
    /// transaction committed (never negative: clocks may differ a little). It holds still
    /// while nothing happens, as Debezium's does. `None` before the first streamed event.
    pub fn milliseconds_behind_source(&self) -> Option<i64> {
        let seen = self.last_seen_us.load(Relaxed);
        let source = self.last_source_us.load(Relaxed);
        (seen != 0 && source != 0).then(|| (seen.saturating_sub(source) / 1000).max(0))
    }

    // --- snapshot -----------------------------------------------------------------

    /// A snapshot starts (its plan comes later, with [`SourceMetrics::snapshot_plan`]).
    pub fn snapshot_started(&self) {
        self.snapshot_ran.store(true, Relaxed);
        self.snapshot_completed.store(false, Relaxed);
        self.snapshot_aborted.store(false, Relaxed);
        self.snapshot_running.store(true, Relaxed);
    }

    /// The snapshot's plan: `tables_total` tables of which `tables_done` and
    /// `rows_scanned` rows were read already (by an earlier, interrupted run), and about
    /// `rows_estimated` rows in all.
    pub fn snapshot_plan(
        &self,
        tables_total: u64,
        tables_done: u64,
        rows_scanned: u64,
        rows_estimated: u64,
    ) {
        self.snapshot_tables_total.store(tables_total, Relaxed);
        self.snapshot_tables_done.store(tables_done, Relaxed);
        self.snapshot_rows_scanned.store(rows_scanned, Relaxed);
        self.snapshot_rows_estimated.store(rows_estimated, Relaxed);
    }

    /// `n` more rows read.
    pub fn snapshot_rows(&self, n: u64) {
        self.snapshot_rows_scanned.fetch_add(n, Relaxed);
    }

    /// A table is read completely; `rows_estimated` is the new estimate of all rows (the
    /// table's estimate replaced by its count).
    pub fn snapshot_table_done(&self, rows_estimated: u64) {
        self.snapshot_tables_done.fetch_add(1, Relaxed);
        self.snapshot_rows_estimated.store(rows_estimated, Relaxed);
    }

    /// The snapshot ended: completed, or stopped early (`SnapshotAborted`).
    pub fn snapshot_finished(&self, completed: bool) {
        self.snapshot_completed.store(completed, Relaxed);
        self.snapshot_aborted.store(!completed, Relaxed);
        self.snapshot_running.store(false, Relaxed);
    }

    /// `SnapshotRunning`.
    pub fn snapshot_running(&self) -> bool {
        self.snapshot_running.load(Relaxed)
    }

    /// `SnapshotCompleted`.
    pub fn snapshot_completed(&self) -> bool {
        self.snapshot_completed.load(Relaxed)
    }

    /// `SnapshotAborted`.
    pub fn snapshot_aborted(&self) -> bool {
        self.snapshot_aborted.load(Relaxed)
    }

    /// The incremental snapshot's progress now (`None`: none is running).
    pub fn incremental_progress(&self, report: Option<IncrementalReport>) {
        *self.incremental.lock().unwrap_or_else(|e| e.into_inner()) = report;
    }

    /// `n` more rows emitted by an incremental snapshot.
    pub fn incremental_rows(&self, n: u64) {
        self.incremental_rows.fetch_add(n, Relaxed);
    }

    /// The incremental snapshot in progress, if any.
    pub fn incremental_report(&self) -> Option<IncrementalReport> {
        self.incremental
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Rows incremental snapshots have emitted since the daemon started.
    pub fn incremental_rows_total(&self) -> u64 {
        self.incremental_rows.load(Relaxed)
    }

    /// The snapshot of this run, `None` when this run took none. `TotalTableCount`,
    /// `RemainingTableCount` (= total − done), `RowsScanned` (summed over tables).
    pub fn snapshot_report(&self) -> Option<SnapshotReport> {
        if !self.snapshot_ran.load(Relaxed) {
            return None;
        }
        let completed = self.snapshot_completed();
        let rows_scanned = self.snapshot_rows_scanned.load(Relaxed);
        let estimated = self.snapshot_rows_estimated.load(Relaxed);
        Some(SnapshotReport {
            running: self.snapshot_running(),
            completed,
            tables_total: self.snapshot_tables_total.load(Relaxed),
            tables_done: self.snapshot_tables_done.load(Relaxed),
            rows_scanned,
            rows_estimated_remaining: if completed {
                0
            } else {
                estimated.saturating_sub(rows_scanned)
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_counted_per_operation_and_in_total() {
        let m = SourceMetrics::default();
        let mut local = OpCounts::default();
        local.add(Op::Create);
        local.add(Op::Create);
        local.add(Op::Delete);
        assert_eq!((local.get(Op::Create), local.total()), (2, 3));
        m.add_events(&local);
        m.add_events_of(Op::Read, 10);
        assert_eq!(m.events_seen(), 13);
        assert_eq!(m.events_seen_of(Op::Create), 2);
        assert_eq!(m.events_seen_of(Op::Delete), 1);
        assert_eq!(m.events_seen_of(Op::Read), 10);
        assert_eq!(m.events_seen_of(Op::Message), 0);
        assert!(OpCounts::default().is_empty() && !local.is_empty());
    }

    #[test]
    fn lag_is_seen_time_minus_commit_time_of_the_last_event() {
        let m = SourceMetrics::default();
        assert_eq!(m.milliseconds_behind_source(), None, "nothing seen yet");
        m.event_time(1_000_000_000, 1_000_250_000);
        assert_eq!(m.milliseconds_behind_source(), Some(250));
        assert_eq!(m.last_event_source_us(), Some(1_000_000_000));
        m.event_time(2_000_000_000, 1_999_000_000);
        assert_eq!(
            m.milliseconds_behind_source(),
            Some(0),
            "clock skew is clamped"
        );
    }

    #[test]
    fn no_snapshot_report_unless_this_run_took_a_snapshot() {
        let m = SourceMetrics::default();
        assert_eq!(m.snapshot_report(), None);
        m.snapshot_started();
        m.snapshot_plan(3, 1, 100, 1000);
        m.snapshot_rows(400);
        let r = m.snapshot_report().unwrap();
        assert!(r.running && !r.completed);
        assert_eq!((r.tables_total, r.tables_done), (3, 1));
        assert_eq!((r.rows_scanned, r.rows_estimated_remaining), (500, 500));
        m.snapshot_rows(900);
        let r = m.snapshot_report().unwrap();
        assert_eq!(
            r.rows_estimated_remaining, 0,
            "an estimate too low is no debt"
        );
        m.snapshot_table_done(1400);
        m.snapshot_table_done(1400);
        m.snapshot_finished(true);
        let r = m.snapshot_report().unwrap();
        assert!(!r.running && r.completed && !m.snapshot_aborted());
        assert_eq!(r.tables_done, 3);

        m.add_events_of(Op::Read, 1);
        let (tx, _rx) = crate::batch::channel(8, 2);
        m.start_run(tx.gauge());
        assert_eq!(
            m.snapshot_report(),
            None,
            "a new run forgets the old snapshot"
        );
        assert_eq!(m.queue().map(|q| q.capacity()), Some(8));
        assert_eq!(m.events_seen(), 1, "counters keep counting");
    }

    #[test]
    fn the_report_serializes_with_the_status_field_names() {
        let m = SourceMetrics::default();
        m.snapshot_started();
        m.snapshot_plan(2, 0, 0, 10);
        let json = serde_json::to_value(m.snapshot_report()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"running": true, "completed": false, "tables_total": 2,
                "tables_done": 0, "rows_scanned": 0, "rows_estimated_remaining": 10})
        );
    }
}
