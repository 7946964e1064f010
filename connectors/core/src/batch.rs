//! Batches of items between a source and its sink.
//!
//! Items travel in `Vec`s rather than one by one: a channel hop per event costs a task
//! wake-up and often a context switch, which would dominate a pipeline that otherwise
//! spends about a microsecond per event. The source pushes items into a [`BatchSender`],
//! which sends when the batch is full and whenever the source says a batch must go now
//! (a transaction committed, a checkpoint, progress). The channel is bounded in items,
//! not batches, so a slow sink applies backpressure at the same depth whether batches are
//! full or hold one small transaction each. It can be bounded in bytes too (Debezium's
//! `max.queue.size.in.bytes`), by each item's [`CaptureItem::approx_size`].

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

pub use tokio::sync::mpsc::error::TryRecvError;

use crate::CaptureItem;

/// A batch of items, in order.
pub type Batch = Vec<CaptureItem>;

/// The sink went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the event consumer stopped")]
pub struct Closed;

/// A batch in the channel, holding its share of the item and byte budgets until received.
type InFlight = (Batch, OwnedSemaphorePermit, Option<OwnedSemaphorePermit>);

/// The bounds of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Items in flight at most (`max.queue.size`).
    pub max_items: usize,
    /// Items per batch at most (`max.batch.size`).
    pub batch: usize,
    /// Bytes in flight at most, by [`CaptureItem::approx_size`] (`max.queue.size.in.bytes`);
    /// zero: no bound.
    pub max_bytes: u64,
}

/// The byte budget of a channel bounded in bytes.
#[derive(Debug, Clone)]
struct Bytes {
    max: usize,
    budget: Arc<Semaphore>,
}

/// Accumulates items and sends them as batches.
#[derive(Debug)]
pub struct BatchSender {
    tx: mpsc::UnboundedSender<InFlight>,
    budget: Arc<Semaphore>,
    max_items: usize,
    bytes: Option<Bytes>,
    buf: Batch,
    buf_bytes: usize,
    max: usize,
}

/// How full the channel is: Debezium's `QueueTotalCapacity` and `QueueRemainingCapacity`,
/// in items. Items a sender has buffered but not yet sent are not counted.
#[derive(Debug, Clone)]
pub struct QueueGauge {
    capacity: usize,
    budget: Arc<Semaphore>,
    bytes: Option<Bytes>,
}

impl QueueGauge {
    /// Items the channel holds at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Items that still fit before a sender has to wait.
    pub fn remaining(&self) -> usize {
        self.budget.available_permits().min(self.capacity)
    }

    /// Debezium's `MaxQueueSizeInBytes`: the byte bound, zero when there is none.
    pub fn max_bytes(&self) -> usize {
        self.bytes.as_ref().map_or(0, |b| b.max)
    }

    /// Debezium's `CurrentQueueSizeInBytes`: bytes of the items in the channel, as
    /// [`CaptureItem::approx_size`] counts them; zero when the channel has no byte bound.
    pub fn current_bytes(&self) -> usize {
        self.bytes
            .as_ref()
            .map_or(0, |b| b.max.saturating_sub(b.budget.available_permits()))
    }
}

/// The receiving end: batches in order.
#[derive(Debug)]
pub struct BatchReceiver {
    rx: mpsc::UnboundedReceiver<InFlight>,
    budget: Arc<Semaphore>,
    bytes: Option<Arc<Semaphore>>,
}

/// Creates a batch channel holding at most `max_items` items in flight (a batch larger
/// than that still passes, alone), in batches of at most `batch` items.
pub fn channel(max_items: usize, batch: usize) -> (BatchSender, BatchReceiver) {
    bounded(Limits {
        max_items,
        batch,
        max_bytes: 0,
    })
}

/// Creates a batch channel with `limits`. A batch larger than a bound still passes, alone.
pub fn bounded(limits: Limits) -> (BatchSender, BatchReceiver) {
    let batch = limits.batch.max(1);
    let permits = |n: usize| n.clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    let max_items = permits(limits.max_items);
    let budget = Arc::new(Semaphore::new(max_items));
    let bytes = (limits.max_bytes > 0).then(|| {
        let max = permits(usize::try_from(limits.max_bytes).unwrap_or(usize::MAX));
        Bytes {
            max,
            budget: Arc::new(Semaphore::new(max)),
        }
    });
    let (tx, rx) = mpsc::unbounded_channel();
    (
        BatchSender {
            tx,
            budget: budget.clone(),
            max_items,
            bytes: bytes.clone(),
            buf: Vec::with_capacity(batch),
            buf_bytes: 0,
            max: batch,
        },
        BatchReceiver {
            rx,
            budget,
            bytes: bytes.map(|b| b.budget),
        },
    )
}

impl BatchReceiver {
    /// The next batch; `None` once every sender is gone and the channel is empty.
    pub async fn recv(&mut self) -> Option<Batch> {
        self.rx.recv().await.map(|(batch, _items, _bytes)| batch)
    }

    /// The next batch if one is waiting.
    pub fn try_recv(&mut self) -> Result<Batch, TryRecvError> {
        self.rx.try_recv().map(|(batch, _items, _bytes)| batch)
    }
}

impl Drop for BatchReceiver {
    fn drop(&mut self) {
        // Senders waiting for room learn that nobody will make any.
        self.budget.close();
        if let Some(bytes) = &self.bytes {
            bytes.close();
        }
    }
}

impl BatchSender {
    /// Adds an item; sends the batch when it is full.
    pub async fn push(&mut self, item: CaptureItem) -> Result<(), Closed> {
        self.add(item);
        if self.buf.len() >= self.max || self.bytes_full() {
            self.flush().await?;
        }
        Ok(())
    }

    /// Sends what has accumulated, if anything.
    pub async fn flush(&mut self) -> Result<(), Closed> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.buf, Vec::with_capacity(self.max));
        let size = std::mem::take(&mut self.buf_bytes);
        let n = batch.len().min(self.max_items) as u32;
        let items = self
            .budget
            .clone()
            .acquire_many_owned(n)
            .await
            .map_err(|_| Closed)?;
        let bytes = match &self.bytes {
            Some(b) => Some(
                b.budget
                    .clone()
                    .acquire_many_owned(size.clamp(1, b.max) as u32)
                    .await
                    .map_err(|_| Closed)?,
            ),
            None => None,
        };
        self.tx.send((batch, items, bytes)).map_err(|_| Closed)
    }

    /// Adds an item and sends the batch at once.
    pub async fn push_now(&mut self, item: CaptureItem) -> Result<(), Closed> {
        self.add(item);
        self.flush().await
    }

    fn add(&mut self, item: CaptureItem) {
        if self.bytes.is_some() {
            self.buf_bytes = self.buf_bytes.saturating_add(item.approx_size());
        }
        self.buf.push(item);
    }

    /// The buffered batch alone fills the byte bound: it goes now, so that the bound
    /// holds (a batch is never held back waiting for more).
    fn bytes_full(&self) -> bool {
        self.bytes.as_ref().is_some_and(|b| self.buf_bytes >= b.max)
    }

    /// A read-only view of the channel's fill level, for metrics.
    pub fn gauge(&self) -> QueueGauge {
        QueueGauge {
            capacity: self.max_items,
            budget: self.budget.clone(),
            bytes: self.bytes.clone(),
        }
    }

    /// A second sender on the same channel (its own buffer).
    pub fn fork(&self) -> BatchSender {
        BatchSender {
            tx: self.tx.clone(),
            budget: self.budget.clone(),
            max_items: self.max_items,
            bytes: self.bytes.clone(),
            buf: Vec::with_capacity(self.max),
            buf_bytes: 0,
            max: self.max,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn item(n: u64) -> CaptureItem {
        CaptureItem::Checkpoint {
            offset: serde_json::json!(n),
        }
    }

    #[tokio::test]
    async fn the_bound_counts_items_not_batches() {
        let (mut tx, mut rx) = channel(10, 4);
        // Ten one-item batches fit: a batch per small transaction does not shrink the queue.
        for n in 0..10 {
            tx.push_now(item(n)).await.unwrap();
        }
        let blocked = tokio::time::timeout(Duration::from_millis(50), tx.push_now(item(10)));
        assert!(blocked.await.is_err(), "the eleventh item waits for room");
        assert_eq!(rx.recv().await.unwrap().len(), 1);
        tx.push_now(item(11)).await.unwrap();
        let mut seen = Vec::new();
        while let Ok(batch) = rx.try_recv() {
            seen.extend(batch);
        }
        assert_eq!(seen.len(), 10, "items 1..=9 and 11 (10 was never sent)");
    }

    #[tokio::test]
    async fn the_gauge_shows_the_items_in_flight() {
        let (mut tx, mut rx) = channel(10, 4);
        let gauge = tx.gauge();
        assert_eq!((gauge.capacity(), gauge.remaining()), (10, 10));
        tx.push(item(0)).await.unwrap();
        assert_eq!(
            gauge.remaining(),
            10,
            "buffered in the sender, not yet sent"
        );
        tx.push_now(item(1)).await.unwrap();
        tx.push_now(item(2)).await.unwrap();
        assert_eq!(gauge.remaining(), 7);
        assert_eq!(rx.recv().await.unwrap().len(), 2);
        assert_eq!(gauge.remaining(), 9, "a received batch gives its room back");
        let fork = tx.fork().gauge();
        assert_eq!(
            (fork.capacity(), fork.remaining()),
            (10, 9),
            "one channel, one gauge"
        );
    }

    fn row(bytes: usize) -> CaptureItem {
        CaptureItem::Message(crate::MessageEvent {
            topic: "t".into(),
            prefix: String::new(),
            content: crate::Value::Bytes(vec![0; bytes]),
            source: crate::SourceInfo {
                name: "n".into(),
                db: "d".into(),
                schema: "s".into(),
                table: "t".into(),
                ts_us: 0,
                snapshot: crate::SnapshotMarker::False,
                tx_id: None,
                lsn: None,
                sequence: None,
                xmin: None,
            },
            ts_us: 0,
        })
    }

    #[tokio::test]
    async fn the_byte_bound_holds_items_back_until_the_receiver_takes_some() {
        let size = row(1000).approx_size();
        let (mut tx, mut rx) = bounded(Limits {
            max_items: 100,
            batch: 100,
            max_bytes: (3 * size) as u64,
        });
        let gauge = tx.gauge();
        assert_eq!(gauge.max_bytes(), 3 * size);
        for _ in 0..3 {
            tx.push_now(row(1000)).await.unwrap();
        }
        assert_eq!(gauge.current_bytes(), 3 * size);
        let blocked = tokio::time::timeout(Duration::from_millis(50), tx.push_now(row(1000)));
        assert!(blocked.await.is_err(), "a fourth row waits for room");
        assert_eq!(rx.recv().await.unwrap().len(), 1);
        assert_eq!(
            gauge.current_bytes(),
            2 * size,
            "a received batch gives its bytes back"
        );
        tx.push_now(row(1000)).await.unwrap();
        assert_eq!(gauge.current_bytes(), 3 * size);
    }

    #[tokio::test]
    async fn a_batch_bigger_than_the_byte_bound_passes_alone() {
        let (mut tx, mut rx) = bounded(Limits {
            max_items: 100,
            batch: 100,
            max_bytes: 500,
        });
        // Buffered rows go as soon as they fill the bound, not at the batch size.
        tx.push(row(1000)).await.unwrap();
        assert_eq!(rx.try_recv().unwrap().len(), 1);
        tx.push(row(10)).await.unwrap();
        assert!(rx.try_recv().is_err(), "a small row waits in its batch");
        tx.push(row(2000)).await.unwrap();
        assert_eq!(rx.try_recv().unwrap().len(), 2);
        // Without a byte bound, sizes do not count.
        let (mut tx, mut rx) = channel(10, 4);
        assert_eq!(tx.gauge().max_bytes(), 0);
        tx.push_now(row(1 << 20)).await.unwrap();
        assert_eq!(tx.gauge().current_bytes(), 0);
        assert_eq!(rx.recv().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_waiting_sender_learns_that_the_receiver_is_gone() {
        let (mut tx, rx) = channel(2, 2);
        tx.push(item(0)).await.unwrap();
        tx.push(item(1)).await.unwrap();
        let waiting = tokio::spawn(async move { tx.push_now(item(2)).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(rx);
        let result = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the sender does not hang")
            .unwrap();
        assert_eq!(result, Err(Closed));
    }
}
