//! `GET /metrics`: the connectors' metrics in Prometheus' text exposition format 0.0.4.
//!
//! Debezium publishes its per-connector figures as JMX MBeans, which people scrape with
//! the JMX exporter; here the same figures come out directly, one family per attribute,
//! named in snake case with a `tributary_` prefix and labelled `connector="<name>"`. Each
//! family's HELP names the MBean attribute it mirrors, so dashboards built for Debezium
//! can be mapped over. A family with nothing to report (no source running, a value not
//! known yet) is left out rather than reported as 0.
//!
//! The format: for each family a `# HELP` and a `# TYPE` line, then its samples
//! `name{label="value",…} number`, all samples of a family together. Label values escape
//! `\`, `"` and line feeds; connector names may hold any other character as it is.

use std::fmt::{Display, Write};

use tributary_core::metrics::OPS;
use tributary_core::{Op, SourceMetrics};
use tributary_kafka::PublishStats;

use crate::kinds::Retention;

/// What `/metrics` shows of one connector.
pub struct ConnectorMetrics<'a> {
    pub name: &'a str,
    /// RUNNING, PAUSED, STOPPED, FAILED, UNASSIGNED (or RESTARTING).
    pub state: &'a str,
    /// The source of the current run, when one runs.
    pub source: Option<&'a SourceMetrics>,
    /// The publisher of the current run, when one runs.
    pub publish: Option<&'a PublishStats>,
    /// The connector's replication slot as last measured, when it has one.
    pub slot: Option<&'a Retention>,
    /// A sink job's counters.
    pub job: Option<&'a tributary_kafka::job::JobMetrics>,
}

/// Kafka Connect's states, each a sample of `tributary_connector_state`.
const STATES: [&str; 6] = [
    "RUNNING",
    "PAUSED",
    "STOPPED",
    "FAILED",
    "UNASSIGNED",
    "RESTARTING",
];

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
}

/// Renders every connector's metrics, plus `tributary_build_info`.
pub fn render(connectors: &[ConnectorMetrics<'_>]) -> String {
    let mut out = Exposition::default();
    out.family(
        "build_info",
        Kind::Gauge,
        "Tributary's version, as a label; the value is always 1.",
        [(
            format!("version=\"{}\"", escape(tributary_core::VERSION)),
            1,
        )],
    );
    render_state(&mut out, connectors);
    render_source(&mut out, connectors);
    render_snapshot(&mut out, connectors);
    render_publish(&mut out, connectors);
    sink::render_sink(&mut out, connectors);
    render_slot(&mut out, connectors);
    out.text
}

/// The replication slots: what they hold and how close Postgres is to invalidating them
/// (no Debezium MBean; Debezium users watch `pg_replication_slots` for these). Measured for
/// stopped and paused connectors too.
fn render_slot(out: &mut Exposition, connectors: &[ConnectorMetrics<'_>]) {
    out.per_connector(
        "slot_lag_bytes",
        Kind::Gauge,
        "Bytes of WAL the connector's replication slot holds back: the server's current WAL position minus the slot's confirmed_flush_lsn.",
        connectors,
        |c| c.slot?.held_bytes,
    );
    out.per_connector(
        "slot_retained_wal_bytes",
        Kind::Gauge,
        "Bytes of WAL Postgres keeps for the connector's replication slot: the server's current WAL position minus the slot's restart_lsn (more than slot_lag_bytes while a transaction that began earlier is open).",
        connectors,
        |c| c.slot?.retained_bytes,
    );
    out.per_connector(
        "slot_safe_wal_size_bytes",
        Kind::Gauge,
        "Bytes of WAL that may still be written before the slot is in danger of being invalidated by max_slot_wal_keep_size (pg_replication_slots.safe_wal_size; absent without a limit).",
        connectors,
        |c| c.slot?.safe_bytes,
    );
    out.per_connector(
        "slot_max_wal_keep_size_bytes",
        Kind::Gauge,
        "The server's max_slot_wal_keep_size in bytes (absent when unlimited).",
        connectors,
        |c| c.slot?.limit_bytes,
    );
    let mut samples = Vec::new();
    for c in connectors {
        let Some(status) = c.slot.and_then(|s| s.wal_status.as_deref()) else {
            continue;
        };
        let known = WAL_STATUSES.contains(&status);
        for s in WAL_STATUSES
            .iter()
            .copied()
            .chain((!known).then_some(status))
        {
            let labels = format!("{},wal_status=\"{}\"", connector(c), escape(s));
            samples.push((labels, u8::from(s == status)));
        }
    }
    out.family(
        "slot_wal_status",
        Kind::Gauge,
        "1 for the slot's current pg_replication_slots.wal_status, 0 for the others: reserved and extended are safe, unreserved means the next checkpoint may invalidate it, lost that it was.",
        samples,
    );
}

/// `pg_replication_slots.wal_status` values.
const WAL_STATUSES: [&str; 4] = ["reserved", "extended", "unreserved", "lost"];

fn render_state(out: &mut Exposition, connectors: &[ConnectorMetrics<'_>]) {
    out.per_connector(
        "connector_up",
        Kind::Gauge,
        "1 while the connector is RUNNING, else 0 (Kafka Connect connector-metrics MBean: status).",
        connectors,
        |c| Some(u8::from(c.state == "RUNNING")),
    );
    let mut samples = Vec::new();
    for c in connectors {
        let known = STATES.contains(&c.state);
        let states = STATES.iter().copied().chain((!known).then_some(c.state));
        for state in states {
            let labels = format!("{},state=\"{}\"", connector(c), escape(state));
            samples.push((labels, u8::from(state == c.state)));
        }
    }
    out.family(
        "connector_state",
        Kind::Gauge,
        "1 for the connector's current state, 0 for the others (Kafka Connect connector-metrics MBean: status).",
        samples,
    );
}

fn render_source(out: &mut Exposition, connectors: &[ConnectorMetrics<'_>]) {
    let now_us = tributary_core::event::now_us();
    out.per_source(
        "milliseconds_behind_source",
        Kind::Gauge,
        "Milliseconds between the commit of the last streamed event in Postgres and when the connector saw it (Debezium streaming MBean: MilliSecondsBehindSource).",
        connectors,
        SourceMetrics::milliseconds_behind_source,
    );
    out.per_source(
        "milliseconds_since_last_event",
        Kind::Gauge,
        "Milliseconds since the connector saw the last streamed event (Debezium streaming MBean: MilliSecondsSinceLastEvent).",
        connectors,
        |s| {
            s.last_event_seen_us()
                .map(|seen| (now_us.saturating_sub(seen) / 1000).max(0))
        },
    );
    out.per_source(
        "total_number_of_events_seen",
        Kind::Counter,
        "Change events the source has emitted, snapshot reads included (Debezium snapshot and streaming MBeans: TotalNumberOfEventsSeen).",
        connectors,
        |s| Some(s.events_seen()),
    );
    let mut samples = Vec::new();
    for c in connectors {
        let Some(s) = c.source else { continue };
        for op in OPS {
            let labels = format!("{},op=\"{}\"", connector(c), op_name(op));
            samples.push((labels, s.events_seen_of(op)));
        }
    }
    out.family(
        "number_of_events_seen",
        Kind::Counter,
        "Change events the source has emitted, by operation (Debezium streaming MBean: NumberOfCreateEventsSeen, NumberOfUpdateEventsSeen, NumberOfDeleteEventsSeen).",
        samples,
    );
    out.per_source(
        "number_of_source_transactions_seen",
        Kind::Counter,
        "Postgres transactions the source has seen commit (Debezium streaming MBean: NumberOfCommittedTransactions counts these; see tributary_number_of_committed_transactions for Kafka's).",
        connectors,
        |s| Some(s.transactions_seen()),
    );
    out.per_source(
        "queue_total_capacity",
        Kind::Gauge,
        "Change events the queue between the source and the publisher holds at most (Debezium streaming MBean: QueueTotalCapacity).",
        connectors,
        |s| s.queue().map(|q| q.capacity()),
    );
    out.per_source(
        "queue_remaining_capacity",
        Kind::Gauge,
        "Change events that still fit in the queue between the source and the publisher (Debezium streaming MBean: QueueRemainingCapacity).",
        connectors,
        |s| s.queue().map(|q| q.remaining()),
    );
    out.per_source(
        "max_queue_size_in_bytes",
        Kind::Gauge,
        "Bytes the queue between the source and the publisher holds at most, 0 without a bound (max.queue.size.in.bytes; Debezium streaming MBean: MaxQueueSizeInBytes).",
        connectors,
        |s| s.queue().map(|q| q.max_bytes()),
    );
    out.per_source(
        "current_queue_size_in_bytes",
        Kind::Gauge,
        "Bytes of the change events in the queue between the source and the publisher, as estimated in memory; 0 without a byte bound (Debezium streaming MBean: CurrentQueueSizeInBytes).",
        connectors,
        |s| s.queue().map(|q| q.current_bytes()),
    );
}

fn render_snapshot(out: &mut Exposition, connectors: &[ConnectorMetrics<'_>]) {
    out.per_source(
        "snapshot_running",
        Kind::Gauge,
        "1 while the connector's snapshot runs (Debezium snapshot MBean: SnapshotRunning).",
        connectors,
        |s| Some(u8::from(s.snapshot_running())),
    );
    out.per_source(
        "snapshot_completed",
        Kind::Gauge,
        "1 once this run's snapshot completed (Debezium snapshot MBean: SnapshotCompleted).",
        connectors,
        |s| Some(u8::from(s.snapshot_completed())),
    );
    out.per_source(
        "snapshot_aborted",
        Kind::Gauge,
        "1 when this run's snapshot stopped before it completed (Debezium snapshot MBean: SnapshotAborted).",
        connectors,
        |s| Some(u8::from(s.snapshot_aborted())),
    );
    out.per_source(
        "snapshot_rows_scanned",
        Kind::Gauge,
        "Rows the snapshot has read, over all tables, including those an interrupted earlier run read (Debezium snapshot MBean: RowsScanned, per table there).",
        connectors,
        |s| s.snapshot_report().map(|r| r.rows_scanned),
    );
    out.per_source(
        "snapshot_rows_estimated_remaining",
        Kind::Gauge,
        "Rows the snapshot has still to read, estimated from pg_class.reltuples (no Debezium MBean).",
        connectors,
        |s| s.snapshot_report().map(|r| r.rows_estimated_remaining),
    );
    out.per_source(
        "snapshot_tables_total",
        Kind::Gauge,
        "Tables in the snapshot (Debezium snapshot MBean: TotalTableCount).",
        connectors,
        |s| s.snapshot_report().map(|r| r.tables_total),
    );
    out.per_source(
        "snapshot_tables_remaining",
        Kind::Gauge,
        "Tables the snapshot has still to read completely (Debezium snapshot MBean: RemainingTableCount).",
        connectors,
        |s| {
            s.snapshot_report()
                .map(|r| r.tables_total.saturating_sub(r.tables_done))
        },
    );
    out.per_source(
        "incremental_snapshot_running",
        Kind::Gauge,
        "1 while an incremental snapshot is in progress, paused or not (Debezium snapshot MBean: SnapshotRunning, for incremental snapshots).",
        connectors,
        |s| Some(u8::from(s.incremental_report().is_some())),
    );
    out.per_source(
        "incremental_snapshot_paused",
        Kind::Gauge,
        "1 while the incremental snapshot is paused by a pause-snapshot signal (Debezium snapshot MBean: SnapshotPaused).",
        connectors,
        |s| Some(u8::from(s.incremental_report().is_some_and(|r| r.paused))),
    );
    out.per_source(
        "incremental_snapshot_tables_remaining",
        Kind::Gauge,
        "Tables the incremental snapshot has still to read, the one being read included.",
        connectors,
        |s| Some(s.incremental_report().map_or(0, |r| r.tables_remaining)),
    );
    out.per_source(
        "incremental_snapshot_rows_total",
        Kind::Counter,
        "Rows incremental snapshots have emitted (op r, source.snapshot incremental) since the daemon started.",
        connectors,
        |s| Some(s.incremental_rows_total()),
    );
}

fn render_publish(out: &mut Exposition, connectors: &[ConnectorMetrics<'_>]) {
    out.per_publisher(
        "number_of_committed_transactions",
        Kind::Counter,
        "Kafka transactions the connector committed, each holding one or more whole Postgres transactions and the source offset (Debezium streaming MBean: NumberOfCommittedTransactions, which counts source transactions; see tributary_number_of_source_transactions_seen).",
        connectors,
        |p| p.transactions.load(std::sync::atomic::Ordering::Relaxed),
    );
    out.per_publisher(
        "records_published_total",
        Kind::Counter,
        "Records committed to Kafka: change events, tombstones, transaction and heartbeat records (Kafka Connect source-task-metrics MBean: source-record-write-total).",
        connectors,
        |p| p.records.load(std::sync::atomic::Ordering::Relaxed),
    );
    out.per_publisher(
        "durable_lsn",
        Kind::Gauge,
        "The last Postgres LSN committed to Kafka and reported to Postgres as flushed, as a number; 0 before the first (Debezium streaming MBean: the lsn of SourceEventPosition).",
        connectors,
        |p| p.durable_lsn.load(std::sync::atomic::Ordering::Relaxed),
    );
}

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Create => "create",
        Op::Update => "update",
        Op::Delete => "delete",
        Op::Read => "read",
        Op::Truncate => "truncate",
        Op::Message => "message",
    }
}

/// The `connector="…"` label.
fn connector(c: &ConnectorMetrics<'_>) -> String {
    format!("connector=\"{}\"", escape(c.name))
}

/// A label value as the text format wants it: `\`, `"` and line feed escaped.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for ch in value.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            ch => out.push(ch),
        }
    }
    out
}

#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    /// A family with its samples (labels without braces, value); nothing without samples.
    fn family<V: Display>(
        &mut self,
        name: &str,
        kind: Kind,
        help: &str,
        samples: impl IntoIterator<Item = (String, V)>,
    ) {
        let mut samples = samples.into_iter().peekable();
        if samples.peek().is_none() {
            return;
        }
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        // Writing to a String cannot fail.
        let _ = writeln!(self.text, "# HELP tributary_{name} {help}");
        let _ = writeln!(self.text, "# TYPE tributary_{name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(self.text, "tributary_{name}{{{labels}}} {value}");
        }
    }

    /// A family with one sample per connector that has a value.
    fn per_connector<V: Display>(
        &mut self,
        name: &str,
        kind: Kind,
        help: &str,
        connectors: &[ConnectorMetrics<'_>],
        value: impl Fn(&ConnectorMetrics<'_>) -> Option<V>,
    ) {
        let samples = connectors
            .iter()
            .filter_map(|c| value(c).map(|v| (connector(c), v)));
        self.family(name, kind, help, samples);
    }

    /// A family with one sample per connector whose source runs and has a value.
    fn per_source<V: Display>(
        &mut self,
        name: &str,
        kind: Kind,
        help: &str,
        connectors: &[ConnectorMetrics<'_>],
        value: impl Fn(&SourceMetrics) -> Option<V>,
    ) {
        self.per_connector(name, kind, help, connectors, |c| c.source.and_then(&value));
    }

    /// A family with one sample per connector whose publisher runs.
    fn per_publisher<V: Display>(
        &mut self,
        name: &str,
        kind: Kind,
        help: &str,
        connectors: &[ConnectorMetrics<'_>],
        value: impl Fn(&PublishStats) -> V,
    ) {
        self.per_connector(name, kind, help, connectors, |c| c.publish.map(&value));
    }
}

#[cfg(test)]
mod tests;

mod sink;
