//! Sink jobs' families: what they consumed, wrote and retried, and how far behind the
//! source their last write was.

use std::sync::atomic::Ordering::Relaxed;

use tributary_kafka::job::JobMetrics;

use super::{ConnectorMetrics, Exposition, Kind, connector};

fn per_job<V: std::fmt::Display>(
    out: &mut Exposition,
    name: &str,
    kind: Kind,
    help: &str,
    connectors: &[ConnectorMetrics<'_>],
    value: impl Fn(&JobMetrics) -> Option<V>,
) {
    out.per_connector(name, kind, help, connectors, |c| c.job.and_then(&value));
}

pub(super) fn render_sink(out: &mut Exposition, connectors: &[ConnectorMetrics<'_>]) {
    per_job(
        out,
        "sink_records_consumed_total",
        Kind::Counter,
        "Records the sink job read from Kafka and committed (tombstones and skipped records included; Kafka Connect sink-task-metrics: sink-record-read-total).",
        connectors,
        |j| Some(j.records_consumed.load(Relaxed)),
    );
    let mut samples = Vec::new();
    for c in connectors {
        let Some(j) = c.job else { continue };
        for (op, counter) in [
            ("create", &j.written_c),
            ("update", &j.written_u),
            ("delete", &j.written_d),
            ("read", &j.written_r),
            ("truncate", &j.written_t),
        ] {
            let labels = format!("{},op=\"{op}\"", connector(c));
            samples.push((labels, counter.load(Relaxed)));
        }
    }
    out.family(
        "sink_records_written_total",
        Kind::Counter,
        "Changes the sink job applied to its target, by operation (Kafka Connect sink-task-metrics: sink-record-send-total).",
        samples,
    );
    per_job(
        out,
        "sink_records_skipped_total",
        Kind::Counter,
        "Records skipped because their table has no primary key.",
        connectors,
        |j| Some(j.records_skipped.load(Relaxed)),
    );
    per_job(
        out,
        "sink_unavailable_values_total",
        Kind::Counter,
        "Unchanged large (TOASTed) column values left out of a document because the target held no earlier copy of the row; set REPLICA IDENTITY FULL on the table or re-snapshot it.",
        connectors,
        |j| Some(j.unavailable_values.load(Relaxed)),
    );
    per_job(
        out,
        "sink_batches_total",
        Kind::Counter,
        "Batches written to the target and committed.",
        connectors,
        |j| Some(j.batches.load(Relaxed)),
    );
    per_job(
        out,
        "sink_last_batch_size",
        Kind::Gauge,
        "Changes in the last batch written.",
        connectors,
        |j| Some(j.last_batch_size.load(Relaxed)),
    );
    per_job(
        out,
        "sink_write_seconds_total",
        Kind::Counter,
        "Time spent in the target's writes (Kafka Connect sink-task-metrics: put-batch-time).",
        connectors,
        |j| Some(j.write_us_total.load(Relaxed) as f64 / 1e6),
    );
    per_job(
        out,
        "sink_retries_total",
        Kind::Counter,
        "Writes retried after a transient failure of the target.",
        connectors,
        |j| Some(j.retries.load(Relaxed)),
    );
    per_job(
        out,
        "sink_assigned_partitions",
        Kind::Gauge,
        "Partitions the consumer group assigned to this daemon's task of the job (daemons running the same job share its partitions).",
        connectors,
        |j| Some(j.assigned().len()),
    );
    per_job(
        out,
        "sink_lag_records",
        Kind::Gauge,
        "Records in the assigned partitions past the group's committed offsets (from the Kafka client's statistics, every 5 s; absent until known).",
        connectors,
        |j| Some(j.lag.load(Relaxed)).filter(|l| *l >= 0),
    );
    per_job(
        out,
        "sink_milliseconds_behind_source",
        Kind::Gauge,
        "Milliseconds from the Postgres commit of the last change written to when its batch was committed to the target.",
        connectors,
        JobMetrics::ms_behind_source,
    );
}
