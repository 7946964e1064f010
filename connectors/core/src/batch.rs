//! Batches of items between a source and its sink.
//!
//! Items travel in `Vec`s rather than one by one: a channel hop per event costs a task
//! wake-up and often a context switch, which would dominate a pipeline that otherwise
//! spends about a microsecond per event. The source pushes items into a [`BatchSender`],
//! which sends when the batch is full and whenever the source says a batch must go now
//! (a transaction committed, a checkpoint, progress). The channel is bounded in items,
//! not batches, so a slow sink applies backpressure at the same depth whether batches are
//! full or hold one small transaction each.

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

/// A batch in the channel, holding its share of the item budget until received.
type InFlight = (Batch, OwnedSemaphorePermit);

/// Accumulates items and sends them as batches.
#[derive(Debug)]
pub struct BatchSender {
    tx: mpsc::UnboundedSender<InFlight>,
    budget: Arc<Semaphore>,
    max_items: usize,
    buf: Batch,
    max: usize,
}

/// How full the channel is: Debezium's `QueueTotalCapacity` and `QueueRemainingCapacity`,
/// in items. Items a sender has buffered but not yet sent are not counted.
#[derive(Debug, Clone)]
pub struct QueueGauge {
    capacity: usize,
    budget: Arc<Semaphore>,
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
}

/// The receiving end: batches in order.
#[derive(Debug)]
pub struct BatchReceiver {
    rx: mpsc::UnboundedReceiver<InFlight>,
    budget: Arc<Semaphore>,
}

/// Creates a batch channel holding at most `max_items` items in flight (a batch larger
/// than that still passes, alone), in batches of at most `batch` items.
pub fn channel(max_items: usize, batch: usize) -> (BatchSender, BatchReceiver) {
    let batch = batch.max(1);
    let max_items = max_items.clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    let budget = Arc::new(Semaphore::new(max_items));
    let (tx, rx) = mpsc::unbounded_channel();
    (
        BatchSender {
            tx,
            budget: budget.clone(),
            max_items,
            buf: Vec::with_capacity(batch),
            max: batch,
        },
        BatchReceiver { rx, budget },
    )
}

impl BatchReceiver {
    /// The next batch; `None` once every sender is gone and the channel is empty.
    pub async fn recv(&mut self) -> Option<Batch> {
        self.rx.recv().await.map(|(batch, _permit)| batch)
    }

    /// The next batch if one is waiting.
    pub fn try_recv(&mut self) -> Result<Batch, TryRecvError> {
        self.rx.try_recv().map(|(batch, _permit)| batch)
    }
}

impl Drop for BatchReceiver {
    fn drop(&mut self) {
        // Senders waiting for room learn that nobody will make any.
        self.budget.close();
    }
}

impl BatchSender {
    /// Adds an item; sends the batch when it is full.
    pub async fn push(&mut self, item: CaptureItem) -> Result<(), Closed> {
        self.buf.push(item);
        if self.buf.len() >= self.max {
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
        let n = batch.len().min(self.max_items) as u32;
        let permit = self
            .budget
            .clone()
            .acquire_many_owned(n)
            .await
            .map_err(|_| Closed)?;
        self.tx.send((batch, permit)).map_err(|_| Closed)
    }

    /// Adds an item and sends the batch at once.
    pub async fn push_now(&mut self, item: CaptureItem) -> Result<(), Closed> {
        self.buf.push(item);
        self.flush().await
    }

    /// A read-only view of the channel's fill level, for metrics.
    pub fn gauge(&self) -> QueueGauge {
        QueueGauge {
            capacity: self.max_items,
            budget: self.budget.clone(),
        }
    }

    /// A second sender on the same channel (its own buffer).
    pub fn fork(&self) -> BatchSender {
        BatchSender {
            tx: self.tx.clone(),
            budget: self.budget.clone(),
            max_items: self.max_items,
            buf: Vec::with_capacity(self.max),
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
