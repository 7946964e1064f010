//! The queue between the source and the publisher, as Debezium sizes its own: events in
//! it (`max.queue.size`), events per batch taken from it (`max.batch.size`), bytes in it
//! (`max.queue.size.in.bytes`), and the rows the snapshot's readers hold ahead of it
//! (`snapshot.fetch.size`). How long a batch waits to fill (`poll.interval.ms`) is the
//! publisher's: tributary-kafka reads it with `max.batch.size`.

use tributary_core::batch::Limits;
use tributary_core::config::PropertyReader;

/// Debezium's defaults (`CommonConnectorConfig`, `PostgresConnectorConfig`).
const DEFAULT_MAX_QUEUE_SIZE: usize = 8192;
const DEFAULT_MAX_BATCH_SIZE: usize = 2048;
const DEFAULT_SNAPSHOT_FETCH_SIZE: usize = 10_240;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSettings {
    /// `max.queue.size`: events in the queue at most.
    pub max_events: usize,
    /// `max.batch.size`: events per batch handed from the source to the publisher.
    pub max_batch: usize,
    /// `max.queue.size.in.bytes`: bytes in the queue at most; zero, no bound.
    pub max_bytes: u64,
    /// `snapshot.fetch.size`: rows the snapshot's readers hold, read but not yet queued.
    pub snapshot_fetch: usize,
}

impl QueueSettings {
    pub(super) fn parse(r: &mut PropertyReader<'_>) -> QueueSettings {
        let max_events = r.parse::<usize>(
            "max.queue.size",
            DEFAULT_MAX_QUEUE_SIZE,
            "a positive integer",
        );
        let max_batch = r.parse::<usize>(
            "max.batch.size",
            DEFAULT_MAX_BATCH_SIZE,
            "a positive integer",
        );
        if max_batch == 0 {
            r.error("max.batch.size", "must be at least 1");
        }
        if max_events == 0 {
            r.error("max.queue.size", "must be at least 1");
        } else if max_events <= max_batch {
            // Debezium's `validateMaxQueueSize`: a full batch must fit in the queue.
            r.error(
                "max.queue.size",
                format!(
                    "must be larger than max.batch.size ({max_batch}), as Debezium requires; raise max.queue.size or lower max.batch.size"
                ),
            );
        }
        let max_bytes = r.parse::<u64>(
            "max.queue.size.in.bytes",
            0,
            "a non-negative integer (0: no bound)",
        );
        let fetch = r.parse::<usize>(
            "snapshot.fetch.size",
            DEFAULT_SNAPSHOT_FETCH_SIZE,
            "a non-negative integer",
        );
        QueueSettings {
            max_events,
            max_batch,
            max_bytes,
            // Debezium hands 0 to JDBC, whose 0 is "the driver's default": ours.
            snapshot_fetch: if fetch == 0 {
                DEFAULT_SNAPSHOT_FETCH_SIZE
            } else {
                fetch
            },
        }
    }

    /// The bounds of the source's output channel.
    pub fn limits(&self) -> Limits {
        Limits {
            max_items: self.max_events,
            batch: self.max_batch,
            max_bytes: self.max_bytes,
        }
    }
}
