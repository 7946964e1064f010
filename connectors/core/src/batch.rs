//! Batches of items between a source and its sink.
//!
//! Items travel in `Vec`s rather than one by one: a channel hop per event costs a task
//! wake-up and often a context switch, which would dominate a pipeline that otherwise
//! spends about a microsecond per event. The source pushes items into a [`BatchSender`],
//! which sends when the batch is full and whenever the source says a batch must go now
//! (a transaction committed, a checkpoint, progress). The channel is bounded, so a slow
//! sink applies backpressure.

use tokio::sync::mpsc;

use crate::CaptureItem;

/// A batch of items, in order.
pub type Batch = Vec<CaptureItem>;

/// The sink went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the event consumer stopped")]
pub struct Closed;

/// Accumulates items and sends them as batches.
#[derive(Debug)]
pub struct BatchSender {
    tx: mpsc::Sender<Batch>,
    buf: Batch,
    max: usize,
}

/// Creates a batch channel holding at most about `max_items` items in flight, in batches
/// of at most `batch` items.
pub fn channel(max_items: usize, batch: usize) -> (BatchSender, mpsc::Receiver<Batch>) {
    let batch = batch.max(1);
    let (tx, rx) = mpsc::channel((max_items / batch).max(2));
    (
        BatchSender {
            tx,
            buf: Vec::with_capacity(batch),
            max: batch,
        },
        rx,
    )
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
        self.tx.send(batch).await.map_err(|_| Closed)
    }

    /// Adds an item and sends the batch at once.
    pub async fn push_now(&mut self, item: CaptureItem) -> Result<(), Closed> {
        self.buf.push(item);
        self.flush().await
    }

    /// A second sender on the same channel (its own buffer).
    pub fn fork(&self) -> BatchSender {
        BatchSender {
            tx: self.tx.clone(),
            buf: Vec::with_capacity(self.max),
            max: self.max,
        }
    }
}
