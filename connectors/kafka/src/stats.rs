//! What a running publisher reports: counters, the topics it wrote to, and why records
//! are waiting for Kafka.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::producer::LastError;

/// Counters a status page or metrics endpoint can read while the publisher runs.
#[derive(Debug, Default)]
pub struct PublishStats {
    pub records: AtomicU64,
    pub transactions: AtomicU64,
    /// The last LSN made durable (0 before the first).
    pub durable_lsn: AtomicU64,
    /// Since when (Unix ms) source items wait to be committed to Kafka; 0 when none wait.
    pub(crate) pending_since_ms: AtomicU64,
    /// The Kafka client's last error.
    pub(crate) client_error: Arc<LastError>,
    /// Topics the connector has written to (change, transaction and heartbeat topics).
    pub(crate) topics: Mutex<BTreeSet<String>>,
    /// Bumped by [`PublishStats::reset_topics`]: the publisher then records its topics anew.
    pub(crate) topics_epoch: AtomicU64,
}

pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl PublishStats {
    /// The topics the connector has written to, sorted (Kafka Connect's
    /// `GET /connectors/{name}/topics`).
    pub fn topics(&self) -> Vec<String> {
        self.topics
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// The connector writes to `topic` (called once per table shape, not per record).
    /// Forgets the topics written so far (`PUT …/topics/reset`); each is listed again
    /// once the connector writes to it again.
    pub fn reset_topics(&self) {
        self.topics
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.topics_epoch.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_topic(&self, topic: &str) {
        let mut topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        if !topics.contains(topic) {
            topics.insert(topic.to_string());
        }
    }

    /// Why publishing is stuck, when records have waited longer than `after` for Kafka to
    /// commit them (the broker is unreachable, say); `None` while all is well.
    pub fn stalled(&self, after: Duration) -> Option<String> {
        let since = self.pending_since_ms.load(Ordering::Relaxed);
        let waited = Duration::from_millis(unix_ms().saturating_sub(since));
        if since == 0 || waited < after {
            return None;
        }
        Some(format!(
            "changes have waited {}s to be committed to Kafka; retrying. Last Kafka client error: {}",
            waited.as_secs(),
            self.client_error
                .get()
                .unwrap_or_else(|| "none reported".into())
        ))
    }

    /// Records start (or stop) waiting for a commit; the first start counts.
    pub(crate) fn pending(&self, waiting: bool) {
        if waiting {
            let _ = self.pending_since_ms.compare_exchange(
                0,
                unix_ms().max(1),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        } else {
            self.pending_since_ms.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_are_listed_once_and_sorted() {
        let stats = PublishStats::default();
        assert!(stats.topics().is_empty());
        stats.add_topic("cdc.public.b");
        stats.add_topic("cdc.transaction");
        stats.add_topic("cdc.public.a");
        stats.add_topic("cdc.public.b");
        assert_eq!(
            stats.topics(),
            ["cdc.public.a", "cdc.public.b", "cdc.transaction"]
        );
    }

    #[test]
    fn stalled_only_after_records_wait_longer_than_the_threshold() {
        let stats = PublishStats::default();
        assert_eq!(stats.stalled(Duration::from_secs(5)), None, "nothing waits");
        stats.pending(true);
        assert_eq!(stats.stalled(Duration::from_secs(5)), None, "just started");
        stats
            .pending_since_ms
            .store(unix_ms() - 12_000, Ordering::Relaxed);
        stats.pending(true);
        let why = stats.stalled(Duration::from_secs(5)).unwrap();
        assert!(why.contains("waited 12s"), "the first start counts: {why}");
        assert!(why.contains("none reported"), "{why}");
        stats.client_error.set("AllBrokersDown".into());
        assert!(
            stats
                .stalled(Duration::from_secs(5))
                .unwrap()
                .contains("AllBrokersDown")
        );
        stats.pending(false);
        assert_eq!(stats.stalled(Duration::from_secs(5)), None, "committed");
    }
}
