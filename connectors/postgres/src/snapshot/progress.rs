//! Snapshot progress for people: the metrics a task's status shows, and log lines.
//!
//! Rows are estimated from `pg_class.reltuples` (what the planner believes, as of the
//! last `VACUUM` or `ANALYZE`; `-1` for a table never analysed, counted as 0), never from
//! `COUNT(*)`, which would read every table twice. When a table finishes, its estimate
//! gives way to the rows really read, so the remaining estimate ends at 0.

use std::time::{Duration, Instant};

use tokio_postgres::Client;
use tributary_core::{Op, SourceMetrics};

use super::SnapshotTable;
use crate::offset::SnapshotProgress;

/// Longest silence in the log while a big table is read.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Tracks one snapshot run; dropped before [`Tracker::finish`] (an error), it reports the
/// snapshot aborted.
pub(super) struct Tracker<'a> {
    metrics: &'a SourceMetrics,
    /// Estimated rows per planned table, replaced by the count once the table is done.
    estimates: Vec<u64>,
    /// Estimated rows of all tables of the snapshot (the planned ones and those an
    /// earlier run completed).
    estimated_total: u64,
    tables_total: u64,
    tables_done: u64,
    started: Instant,
    last_log: Instant,
    finished: bool,
}

impl<'a> Tracker<'a> {
    pub(super) fn start(metrics: &'a SourceMetrics) -> Self {
        metrics.snapshot_started();
        let now = Instant::now();
        Tracker {
            metrics,
            estimates: Vec::new(),
            estimated_total: 0,
            tables_total: 0,
            tables_done: 0,
            started: now,
            last_log: now,
            finished: false,
        }
    }

    /// Records the plan: `tables` to read, and what `progress` says is read already.
    pub(super) async fn plan(
        &mut self,
        planner: &Client,
        tables: &[SnapshotTable],
        progress: &SnapshotProgress,
    ) {
        let oids: Vec<u32> = tables.iter().map(|t| t.meta.oid).collect();
        let estimates = estimated_rows(planner, &oids).await;
        let planned: Vec<String> = tables.iter().map(|t| t.meta.id.to_string()).collect();
        // Tables an earlier run completed are part of this snapshot too: their rows are
        // known exactly.
        let earlier = progress
            .tables
            .iter()
            .filter(|(k, p)| p.is_complete() && !planned.contains(k))
            .map(|(_, p)| p.rows);
        let (earlier_tables, earlier_rows) = earlier.fold((0, 0), |(n, r), rows| (n + 1, r + rows));
        let scanned_before: u64 = planned
            .iter()
            .filter_map(|k| progress.tables.get(k))
            .map(|p| p.rows)
            .sum::<u64>()
            + earlier_rows;
        self.tables_total = tables.len() as u64 + earlier_tables;
        self.tables_done = earlier_tables;
        self.estimated_total = estimates.iter().sum::<u64>() + earlier_rows;
        self.estimates = estimates;
        self.metrics.snapshot_plan(
            self.tables_total,
            self.tables_done,
            scanned_before,
            self.estimated_total,
        );
    }

    /// `n` rows read; logs progress now and then while a big table is read.
    pub(super) fn rows(&mut self, n: u64) {
        self.metrics.snapshot_rows(n);
        self.metrics.add_events_of(Op::Read, n);
        if self.last_log.elapsed() >= LOG_EVERY {
            self.log(None);
        }
    }

    /// Planned table `table` is read completely: `rows` rows.
    pub(super) fn table_done(&mut self, table: usize, id: &str, rows: u64) {
        if let Some(estimate) = self.estimates.get_mut(table) {
            self.estimated_total = self.estimated_total.saturating_sub(*estimate) + rows;
            *estimate = rows;
        }
        self.tables_done += 1;
        self.metrics.snapshot_table_done(self.estimated_total);
        self.log(Some((id, rows)));
    }

    fn log(&mut self, table: Option<(&str, u64)>) {
        self.last_log = Instant::now();
        let Some(report) = self.metrics.snapshot_report() else {
            return;
        };
        let (table, table_rows) = table.unzip();
        tracing::info!(
            table,
            table_rows,
            tables_done = report.tables_done,
            tables_total = report.tables_total,
            rows_scanned = report.rows_scanned,
            rows_estimated_remaining = report.rows_estimated_remaining,
            "snapshot progress"
        );
    }

    /// The snapshot ended, completed or stopped on request.
    pub(super) fn finish(mut self, completed: bool) {
        self.finished = true;
        self.metrics.snapshot_finished(completed);
        let Some(report) = self.metrics.snapshot_report() else {
            return;
        };
        let duration_ms = self.started.elapsed().as_millis() as u64;
        if completed {
            tracing::info!(
                tables = report.tables_total,
                rows = report.rows_scanned,
                duration_ms,
                "snapshot completed"
            );
        } else {
            tracing::info!(
                tables_done = report.tables_done,
                tables_total = report.tables_total,
                rows_scanned = report.rows_scanned,
                duration_ms,
                "snapshot stopped; a restart resumes it"
            );
        }
    }
}

impl Drop for Tracker<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.metrics.snapshot_finished(false);
        }
    }
}

/// `pg_class.reltuples` of each table, in the order given; 0 where unknown. An error only
/// costs the estimate: the snapshot does not depend on it.
async fn estimated_rows(client: &Client, oids: &[u32]) -> Vec<u64> {
    let rows = client
        .query(
            // A partitioned table's rows are its leaf partitions'.
            "SELECT c.oid, GREATEST(CASE c.relkind WHEN 'p' THEN \
                 (SELECT sum(GREATEST(l.reltuples, 0)) FROM pg_partition_tree(c.oid) t \
                    JOIN pg_class l ON l.oid = t.relid WHERE t.isleaf) \
                 ELSE c.reltuples END, 0)::bigint \
               FROM pg_class c WHERE c.oid = ANY($1::oid[])",
            &[&oids],
        )
        .await;
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) => {
            tracing::debug!(error = %e, "could not estimate the snapshot's rows");
            return vec![0; oids.len()];
        }
    };
    let by_oid: std::collections::HashMap<u32, i64> = rows
        .iter()
        .filter_map(|r| Some((r.try_get(0).ok()?, r.try_get(1).ok()?)))
        .collect();
    oids.iter()
        .map(|oid| by_oid.get(oid).copied().unwrap_or(0).max(0) as u64)
        .collect()
}
