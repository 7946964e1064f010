//! The consumer of sink jobs: a consumer-group member (`read_committed`, offsets committed
//! by the job only after its sink made a batch durable), its callbacks, and its shutdown.
//!
//! Shutdown needs care: librdkafka's consumer close blocks until the group has taken the
//! partitions back, which takes as long as the broker takes to answer (or forever while it
//! is unreachable). [`close`] therefore unsubscribes first, lets the revocation through,
//! and drops the consumer off the async runtime with a time limit.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::statistics::Statistics;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use crate::client::client_config;
use crate::job::{JobError, JobMetrics, JobSettings};
use crate::settings::KafkaConfig;

/// librdkafka's prefetch bound for the whole consumer (KiB): with one batch in the job,
/// this is what a job holds in memory.
const PREFETCH_KB: &str = "16384";
/// How often the client reports statistics (the lag metric).
const STATS_MS: &str = "5000";
/// How long closing may take before the consumer is left to finish on its own.
const CLOSE_LIMIT: Duration = Duration::from_secs(10);
/// `session.timeout.ms` unless the `[kafka]` section sets it: how long a crashed daemon's
/// member keeps its partitions (and blocks offset changes) before the broker drops it.
/// librdkafka's default is 45 s; Kafka's was 10 s before 3.0, and a restarted daemon then
/// resumes its jobs a little after that instead of most of a minute later.
const SESSION_TIMEOUT_MS: u64 = 10_000;

/// The session timeout the job consumers use.
pub fn session_timeout(kafka: &KafkaConfig) -> Duration {
    let ms = kafka
        .properties
        .get("session.timeout.ms")
        .and_then(|v| v.parse().ok())
        .unwrap_or(SESSION_TIMEOUT_MS);
    Duration::from_millis(ms)
}

/// Callbacks from the consumer: logs, errors, rebalances, commits, statistics.
pub struct JobContext {
    job: String,
    metrics: Arc<JobMetrics>,
}

impl ClientContext for JobContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        let job = &self.job;
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => {
                tracing::error!(target: "librdkafka", job, fac, "{message}")
            }
            RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", job, fac, "{message}"),
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", job, fac, "{message}")
            }
            RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", job, fac, "{message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!(job = self.job, %error, reason, "Kafka consumer error");
        self.metrics
            .set_error(crate::check::explained(format!("{error}: {reason}")));
    }

    fn stats(&self, statistics: Statistics) {
        let lag: i64 = statistics
            .topics
            .values()
            .flat_map(|t| t.partitions.values())
            .filter(|p| p.partition >= 0 && p.consumer_lag >= 0)
            .map(|p| p.consumer_lag)
            .sum();
        self.metrics
            .lag
            .store(lag, std::sync::atomic::Ordering::Relaxed);
    }
}

impl ConsumerContext for JobContext {
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                let parts = partitions(tpl);
                tracing::info!(job = self.job, partitions = ?parts, "partitions assigned");
                self.metrics.set_assigned(parts);
            }
            Rebalance::Revoke(tpl) => {
                tracing::info!(job = self.job, partitions = ?partitions(tpl), "partitions revoked");
                self.metrics.set_assigned(Vec::new());
            }
            Rebalance::Error(e) => {
                tracing::warn!(job = self.job, error = %e, "rebalance failed");
                self.metrics.set_error(format!("rebalance failed: {e}"));
            }
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        if let Err(e) = result {
            tracing::warn!(
                job = self.job,
                error = %e,
                "could not commit offsets; records after the last commit may be applied again (harmlessly)"
            );
            self.metrics.set_error(format!("offset commit failed: {e}"));
        }
    }
}

fn partitions(tpl: &TopicPartitionList) -> Vec<(String, i32)> {
    tpl.elements()
        .iter()
        .map(|e| (e.topic().to_string(), e.partition()))
        .collect()
}

pub type JobConsumer = StreamConsumer<JobContext>;

/// The consumer's configuration: the daemon's `[kafka]` properties, then what exact
/// delivery needs (not overridable), then defaults a property may override.
pub fn consumer_config(kafka: &KafkaConfig, group_id: &str) -> rdkafka::ClientConfig {
    let mut c = client_config(kafka);
    c.set("group.id", group_id)
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false");
    let defaults = [
        ("auto.offset.reset", "earliest"),
        ("queued.max.messages.kbytes", PREFETCH_KB),
        // Topics created later that match topics.regex are found this quickly.
        ("topic.metadata.refresh.interval.ms", "5000"),
        ("statistics.interval.ms", STATS_MS),
        // A batch is retried for as long as the target is down; the job must not lose
        // its partitions meanwhile (librdkafka's maximum: one day).
        ("max.poll.interval.ms", "86400000"),
        // Once the prefetch queue is full, librdkafka waits this long before fetching
        // again (1 s by default): a job that drains the queue in a few ms would then sit
        // idle for most of every second.
        ("fetch.queue.backoff.ms", "20"),
    ];
    for (k, v) in defaults {
        if !kafka.properties.contains_key(k) {
            c.set(k, v);
        }
    }
    if !kafka.properties.contains_key("session.timeout.ms") {
        c.set("session.timeout.ms", SESSION_TIMEOUT_MS.to_string());
    }
    c
}

/// Creates the job's consumer and subscribes it.
pub fn subscribe(
    kafka: &KafkaConfig,
    settings: &JobSettings,
    metrics: Arc<JobMetrics>,
) -> Result<Arc<JobConsumer>, JobError> {
    let context = JobContext {
        job: settings.name.clone(),
        metrics,
    };
    let consumer: JobConsumer = consumer_config(kafka, &settings.group_id)
        .create_with_context(context)
        .map_err(|e| JobError::kafka("consumer setup", e))?;
    let patterns = settings.subscription.patterns();
    let refs: Vec<&str> = patterns.iter().map(String::as_str).collect();
    consumer
        .subscribe(&refs)
        .map_err(|e| JobError::kafka("subscribe", e))?;
    tracing::info!(
        job = settings.name,
        group = settings.group_id,
        topics = ?patterns,
        "sink job subscribed"
    );
    Ok(Arc::new(consumer))
}

/// The commit list for `(topic, partition, next offset)` entries.
pub fn commit_list<'a>(
    entries: impl IntoIterator<Item = (&'a str, i32, i64)>,
) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::new();
    for (topic, partition, next) in entries {
        // Only fails for a logical offset, and `next` is a real one.
        let _ = tpl.add_partition_offset(topic, partition, Offset::Offset(next));
    }
    tpl
}

/// Commits without waiting; the result arrives in [`JobContext::commit_callback`]. A lost
/// commit is superseded by the next one.
pub fn commit_async(consumer: &JobConsumer, tpl: &TopicPartitionList) {
    if tpl.count() == 0 {
        return;
    }
    if let Err(e) = consumer.commit(tpl, CommitMode::Async) {
        tracing::warn!(error = %e, "could not send an offset commit");
    }
}

/// Commits and waits for the broker's answer (at shutdown).
pub async fn commit_sync(consumer: &Arc<JobConsumer>, tpl: TopicPartitionList) {
    if tpl.count() == 0 {
        return;
    }
    let c = consumer.clone();
    let done = tokio::task::spawn_blocking(move || c.commit(&tpl, CommitMode::Sync));
    match tokio::time::timeout(CLOSE_LIMIT, done).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::warn!(error = %e, "the final offset commit failed"),
        _ => tracing::warn!("the final offset commit did not finish in time"),
    }
}

/// Leaves the group and closes the consumer: unsubscribe, serve the revocation, then
/// drop it on a blocking thread, giving up waiting after [`CLOSE_LIMIT`].
pub async fn close(consumer: Arc<JobConsumer>) {
    let started = Instant::now();
    consumer.unsubscribe();
    while consumer.assignment().is_ok_and(|a| a.count() > 0) && started.elapsed() < CLOSE_LIMIT {
        // Serves the rebalance event; no record arrives once unsubscribed.
        let _ = tokio::time::timeout(Duration::from_millis(100), consumer.recv()).await;
    }
    let dropped = tokio::task::spawn_blocking(move || drop(consumer));
    if tokio::time::timeout(CLOSE_LIMIT, dropped).await.is_err() {
        tracing::warn!("the Kafka consumer did not close in time; leaving it to finish on its own");
    }
}
