//! One batch's write, run as a task of its own so the job gathers (consumes and decodes)
//! the next batch while the target takes this one.
//!
//! The task owns the sink while it writes and hands it back with its [`Outcome`]. Transient
//! errors are retried with doubling waits until the batch is written, a definite error
//! ends it, or a stop comes: a write under way then gets `stop_grace` to finish; a batch
//! waiting for its next try is abandoned (to be read again from the committed offsets).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tributary_core::{PartitionOffset, Sink, SinkError, SinkRecord};

use super::{JobMetrics, JobSettings, stop_requested};

/// How a write ended.
pub(crate) enum Outcome {
    /// Durable in the target, after this long.
    Written { write_us: u64 },
    /// A stop came first: nothing of it may be committed.
    Abandoned,
    /// A definite error: the job ends with it.
    Failed(String),
}

/// The sink and the batch's buffer back from the task, with the outcome.
pub(crate) struct Done {
    pub sink: Box<dyn Sink>,
    pub records: Vec<SinkRecord>,
    pub outcome: Outcome,
}

/// The running task; aborted if dropped (a job that is itself dropped leaves no write
/// behind it).
pub(crate) struct Task(JoinHandle<Done>);

impl Task {
    pub fn handle(&mut self) -> &mut JoinHandle<Done> {
        &mut self.0
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The job's retries: the shared doubling policy, from `retry.backoff.ms` up to
/// `retry.backoff.max.ms`, waited for unless a stop comes first.
pub(crate) struct Backoff(tributary_core::Backoff);

impl Backoff {
    pub fn new(s: &JobSettings) -> Self {
        Backoff(tributary_core::Backoff::new(s.retry_initial, s.retry_max))
    }

    /// The wait the next retry takes.
    pub fn next(&self) -> Duration {
        self.0.peek()
    }

    /// Waits for the next retry; false when a stop came first.
    pub async fn wait(&mut self, stop: &mut watch::Receiver<bool>) -> bool {
        let wait = self.0.next_wait();
        tokio::select! {
            _ = tokio::time::sleep(wait) => true,
            _ = stop_requested(stop) => false,
        }
    }
}

/// Starts writing `records` with `offsets` (the positions after them).
pub(crate) fn spawn(
    sink: Box<dyn Sink>,
    records: Vec<SinkRecord>,
    offsets: Vec<PartitionOffset>,
    settings: Arc<JobSettings>,
    metrics: Arc<JobMetrics>,
    stop: watch::Receiver<bool>,
) -> Task {
    Task(tokio::spawn(async move {
        let mut done = Done {
            sink,
            records,
            outcome: Outcome::Abandoned,
        };
        done.outcome = write(&mut done, &offsets, &settings, &metrics, stop).await;
        done
    }))
}

async fn write(
    done: &mut Done,
    offsets: &[PartitionOffset],
    settings: &JobSettings,
    metrics: &JobMetrics,
    mut stop: watch::Receiver<bool>,
) -> Outcome {
    let mut backoff = Backoff::new(settings);
    let mut retried = false;
    loop {
        let started = Instant::now();
        let mut stopping = false;
        let result = {
            let mut write = done.sink.write(&done.records, offsets);
            tokio::select! {
                r = &mut write => r,
                _ = stop_requested(&mut stop) => {
                    stopping = true;
                    match tokio::time::timeout(settings.stop_grace, &mut write).await {
                        Ok(r) => r,
                        Err(_) => {
                            tracing::warn!(job = settings.name, "stopping: the write under way did not finish in time; it will be read again");
                            return Outcome::Abandoned;
                        }
                    }
                }
            }
        };
        match result {
            Ok(()) => {
                if retried {
                    metrics.clear_retrying();
                }
                return Outcome::Written {
                    write_us: started.elapsed().as_micros() as u64,
                };
            }
            Err(SinkError::Transient(reason)) => {
                if stopping {
                    return Outcome::Abandoned;
                }
                tracing::warn!(
                    job = settings.name,
                    reason,
                    retry_in_ms = backoff.next().as_millis() as u64,
                    records = done.records.len(),
                    "the target could not take a batch; retrying it"
                );
                metrics.set_retrying(&reason);
                retried = true;
                if !backoff.wait(&mut stop).await {
                    return Outcome::Abandoned;
                }
            }
            Err(SinkError::Definite(reason)) => return Outcome::Failed(reason),
        }
    }
}
