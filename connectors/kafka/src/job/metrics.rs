//! What a running sink job reports. Counters are relaxed atomics updated once per batch,
//! not per record; the daemon renders them for `/metrics` and a connector's status.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

/// A sink job's counters and state, shared with the daemon.
#[derive(Debug)]
pub struct JobMetrics {
    /// Records read from Kafka and committed, whatever became of them (Kafka Connect's
    /// `sink-record-read-total`).
    pub records_consumed: AtomicU64,
    /// Changes applied to the target, by op (`sink-record-send-total`).
    pub written_c: AtomicU64,
    pub written_u: AtomicU64,
    pub written_d: AtomicU64,
    pub written_r: AtomicU64,
    pub written_t: AtomicU64,
    /// Changes of tables without a key: they cannot be applied by primary key.
    pub records_skipped: AtomicU64,
    /// Records with nothing to apply: tombstones, logical messages, transaction metadata,
    /// heartbeats, and records the sink's stored offsets show as applied already.
    pub records_ignored: AtomicU64,
    /// Batches written to the target and committed.
    pub batches: AtomicU64,
    /// Changes in the last batch written.
    pub last_batch_size: AtomicU64,
    /// How long the last write took, and all of them together, µs (`put-batch-time`).
    pub write_us_last: AtomicU64,
    pub write_us_total: AtomicU64,
    /// Writes retried after a transient failure (of the target or the schema registry).
    pub retries: AtomicU64,
    /// Unchanged TOASTed values left out of a document because the target held no
    /// earlier copy of the row (the sink's own count, see `Sink::values_left_out`).
    pub unavailable_values: AtomicU64,
    /// Records in the assigned partitions past the group's committed offsets, from the
    /// Kafka client's statistics every few seconds; -1 while unknown.
    pub lag: AtomicI64,
    /// Milliseconds from the source commit of the last change written to the end of its
    /// write; `i64::MIN` before the first.
    behind_source_ms: AtomicI64,
    topics: Mutex<BTreeSet<String>>,
    assigned: Mutex<Vec<(String, i32)>>,
    last_error: Mutex<Option<String>>,
    retrying: Mutex<Option<String>>,
}

impl Default for JobMetrics {
    fn default() -> Self {
        JobMetrics {
            records_consumed: AtomicU64::new(0),
            written_c: AtomicU64::new(0),
            written_u: AtomicU64::new(0),
            written_d: AtomicU64::new(0),
            written_r: AtomicU64::new(0),
            written_t: AtomicU64::new(0),
            records_skipped: AtomicU64::new(0),
            records_ignored: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            last_batch_size: AtomicU64::new(0),
            write_us_last: AtomicU64::new(0),
            write_us_total: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            unavailable_values: AtomicU64::new(0),
            lag: AtomicI64::new(-1),
            behind_source_ms: AtomicI64::new(i64::MIN),
            topics: Mutex::new(BTreeSet::new()),
            assigned: Mutex::new(Vec::new()),
            last_error: Mutex::new(None),
            retrying: Mutex::new(None),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl JobMetrics {
    /// Changes of op `op` (`c`, `u`, `d`, `r`, `t`) applied to the target.
    pub fn written(&self, op: char) -> u64 {
        self.counter(op).map_or(0, |c| c.load(Relaxed))
    }

    pub fn written_total(&self) -> u64 {
        ['c', 'u', 'd', 'r', 't']
            .iter()
            .map(|op| self.written(*op))
            .sum()
    }

    fn counter(&self, op: char) -> Option<&AtomicU64> {
        Some(match op {
            'c' => &self.written_c,
            'u' => &self.written_u,
            'd' => &self.written_d,
            'r' => &self.written_r,
            't' => &self.written_t,
            _ => return None,
        })
    }

    /// How far the target was behind the source at the last write, ms.
    pub fn ms_behind_source(&self) -> Option<i64> {
        Some(self.behind_source_ms.load(Relaxed)).filter(|v| *v != i64::MIN)
    }

    /// The topics the job has read records from, sorted (Kafka Connect's
    /// `GET /connectors/{name}/topics` of a sink).
    pub fn topics(&self) -> Vec<String> {
        lock(&self.topics).iter().cloned().collect()
    }

    /// The partitions the group assigned to this job, sorted.
    pub fn assigned(&self) -> Vec<(String, i32)> {
        lock(&self.assigned).clone()
    }

    /// The last error the job or its Kafka client met (kept after recovery).
    pub fn last_error(&self) -> Option<String> {
        lock(&self.last_error).clone()
    }

    /// `Some("retrying: <reason>")` while the job retries a batch (or a schema fetch)
    /// after a transient error; the daemon shows it as the running task's trace.
    pub fn retry_reason(&self) -> Option<String> {
        lock(&self.retrying).clone()
    }

    pub(crate) fn add_topic(&self, topic: &str) {
        let mut t = lock(&self.topics);
        if !t.contains(topic) {
            t.insert(topic.to_string());
        }
    }

    pub(crate) fn set_assigned(&self, mut partitions: Vec<(String, i32)>) {
        partitions.sort();
        *lock(&self.assigned) = partitions;
    }

    pub(crate) fn set_error(&self, message: String) {
        *lock(&self.last_error) = Some(message);
    }

    pub(crate) fn set_retrying(&self, reason: &str) {
        self.retries.fetch_add(1, Relaxed);
        *lock(&self.retrying) = Some(format!("retrying: {reason}"));
        self.set_error(reason.to_string());
    }

    pub(crate) fn clear_retrying(&self) {
        let mut r = lock(&self.retrying);
        if r.is_some() {
            *r = None;
        }
    }

    /// A batch is written and committed.
    pub(crate) fn batch_done(&self, tally: &Tally, write_us: u64, behind_ms: Option<i64>) {
        for (op, n) in ['c', 'u', 'd', 'r', 't'].iter().zip(tally.written) {
            if n > 0
                && let Some(c) = self.counter(*op)
            {
                c.fetch_add(n, Relaxed);
            }
        }
        self.records_consumed.fetch_add(tally.consumed, Relaxed);
        self.records_skipped.fetch_add(tally.skipped, Relaxed);
        self.records_ignored.fetch_add(tally.ignored, Relaxed);
        let written: u64 = tally.written.iter().sum();
        if written > 0 {
            self.batches.fetch_add(1, Relaxed);
            self.last_batch_size.store(written, Relaxed);
            self.write_us_last.store(write_us, Relaxed);
            self.write_us_total.fetch_add(write_us, Relaxed);
        }
        if let Some(ms) = behind_ms {
            self.behind_source_ms.store(ms, Relaxed);
        }
    }
}

/// Counts of one batch, added to [`JobMetrics`] when it is committed.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Tally {
    pub consumed: u64,
    pub skipped: u64,
    pub ignored: u64,
    /// By op: c, u, d, r, t.
    pub written: [u64; 5],
}

impl Tally {
    pub fn wrote(&mut self, op: char) {
        if let Some(i) = ['c', 'u', 'd', 'r', 't'].iter().position(|o| *o == op) {
            self.written[i] += 1;
        }
    }
}
