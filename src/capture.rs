//! `tributary capture`: one source connector in the foreground, events to stdout.
//!
//! The printer is the sink: it writes each record as a JSON line, and when it has written
//! a transaction's commit (or a snapshot checkpoint) it flushes stdout, saves the offset
//! file and only then advances the durable LSN that the source reports to Postgres. It
//! flushes in batches — when the queue runs dry, or after a bounded number of records or
//! time — so a backlog is not written one fsync per transaction.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tributary_core::batch::TryRecvError;
use tributary_core::offsets::FileOffsetStore;
use tributary_core::{BatchReceiver, CaptureItem, DurableLsn, Lsn, Retry};
use tributary_postgres::config::PostgresConnectorConfig;
use tributary_postgres::error::SourceError;

/// Why `capture` stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("could not read connector file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("connector file {path} is not valid JSON: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{0}")]
    Offset(#[from] tributary_core::offsets::OffsetError),
    #[error("{0}")]
    Source(#[from] SourceError),
    #[error("could not write to standard output: {0}")]
    Stdout(std::io::Error),
}

impl CaptureError {
    /// 2 for configuration problems, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            CaptureError::Read { .. } | CaptureError::Json { .. } => 2,
            CaptureError::Source(SourceError::Config(_)) => 2,
            _ => 1,
        }
    }
}

/// At most this many records or this much time between flushes of a busy stream.
const FLUSH_RECORDS: usize = 20_000;
const FLUSH_INTERVAL: Duration = Duration::from_millis(200);

/// What `capture` does with records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Json,
    None,
}

pub async fn run(
    connector: &Path,
    offset_file: Option<PathBuf>,
    stop_at: Option<Lsn>,
    output: Output,
) -> Result<(), CaptureError> {
    let text = std::fs::read(connector).map_err(|source| CaptureError::Read {
        path: connector.to_path_buf(),
        source,
    })?;
    let doc: serde_json::Value =
        serde_json::from_slice(&text).map_err(|source| CaptureError::Json {
            path: connector.to_path_buf(),
            source,
        })?;
    let config =
        Arc::new(PostgresConnectorConfig::from_connector_json(&doc).map_err(SourceError::from)?);
    let store = FileOffsetStore::new(offset_file.unwrap_or_else(|| {
        Path::new("data/capture").join(format!("{}.offsets.json", config.name))
    }));
    let stored = store.load()?;
    let durable = DurableLsn::default();
    let (tx, rx) = tributary_core::batch::bounded(config.queue.limits());
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    let on_signal = stop_tx.clone();
    tokio::spawn(async move {
        crate::signal::wait().await;
        tracing::info!("stop requested");
        let _ = on_signal.send(true);
    });
    let source = tokio::spawn(tributary_postgres::source::run(
        config.clone(),
        stored,
        tx,
        durable.clone(),
        stop_rx,
    ));
    let stop = move |lsn: Lsn| {
        if stop_at.is_some_and(|s| lsn >= s) {
            let _ = stop_tx.send(true);
        }
    };
    let printed = print(rx, &store, &durable, stop, output).await;
    let result = match source.await {
        Ok(r) => r,
        Err(e) => Err(SourceError::Setup(format!("the source task failed: {e}"))),
    };
    printed?;
    match result {
        Ok(()) => Ok(()),
        Err(e) => {
            if e.is_transient() {
                tracing::error!(error = %e, "connector stopped on a transient error; run again to resume");
            }
            Err(e.into())
        }
    }
}

/// What the printer has written but not yet made durable.
#[derive(Default)]
struct Pending {
    offset: Option<serde_json::Value>,
    lsn: Option<Lsn>,
    records: usize,
}

async fn print(
    mut rx: BatchReceiver,
    store: &FileOffsetStore,
    durable: &DurableLsn,
    on_durable: impl Fn(Lsn),
    format: Output,
) -> Result<(), CaptureError> {
    let mut out = Stdout {
        stdout: std::io::stdout(),
        buf: Vec::with_capacity(OUTPUT_BUFFER + 4096),
    };
    let mut pending = Pending::default();
    let mut last_flush = Instant::now();
    loop {
        let batch = match rx.try_recv() {
            Ok(batch) => batch,
            Err(TryRecvError::Empty) => {
                // The queue ran dry: make what was written durable before waiting.
                flush(&mut out, &mut pending, store, durable, &on_durable)?;
                last_flush = Instant::now();
                match rx.recv().await {
                    Some(batch) => batch,
                    None => break,
                }
            }
            Err(TryRecvError::Disconnected) => break,
        };
        for item in &batch {
            match item {
                CaptureItem::Change(_)
                | CaptureItem::Tombstone { .. }
                | CaptureItem::Message(_)
                    if format == Output::None =>
                {
                    pending.records += 1;
                }
                CaptureItem::Change(_)
                | CaptureItem::Tombstone { .. }
                | CaptureItem::Message(_) => {
                    tributary_core::json::write_record(&mut out.buf, item);
                    out.buf.push(b'\n');
                    pending.records += 1;
                    if out.buf.len() >= OUTPUT_BUFFER {
                        out.write()?;
                    }
                }
                CaptureItem::Commit { tx, offset } => {
                    pending.offset = Some(offset.clone());
                    pending.lsn = Some(tx.end_lsn);
                }
                CaptureItem::Progress { lsn, offset } => {
                    pending.offset = Some(offset.clone());
                    pending.lsn = Some(*lsn);
                }
                CaptureItem::Checkpoint { offset } => {
                    pending.offset = Some(offset.clone());
                }
                CaptureItem::Begin(_) => {}
            }
        }
        if pending.records >= FLUSH_RECORDS || last_flush.elapsed() >= FLUSH_INTERVAL {
            flush(&mut out, &mut pending, store, durable, &on_durable)?;
            last_flush = Instant::now();
        }
    }
    flush(&mut out, &mut pending, store, durable, &on_durable)
}

/// Bytes of JSON lines gathered before one write to stdout.
const OUTPUT_BUFFER: usize = 1 << 18;

/// Standard output with our own buffer: records are rendered straight into it.
struct Stdout {
    stdout: std::io::Stdout,
    buf: Vec<u8>,
}

impl Stdout {
    fn write(&mut self) -> Result<(), CaptureError> {
        let mut lock = self.stdout.lock();
        lock.write_all(&self.buf).map_err(CaptureError::Stdout)?;
        self.buf.clear();
        Ok(())
    }

    fn flush(&mut self) -> Result<(), CaptureError> {
        self.write()?;
        self.stdout.lock().flush().map_err(CaptureError::Stdout)
    }
}

/// Flushes stdout, then saves the offset, then acknowledges: in that order, so an LSN is
/// only ever acknowledged for events already written.
fn flush(
    out: &mut Stdout,
    pending: &mut Pending,
    store: &FileOffsetStore,
    durable: &DurableLsn,
    on_durable: &impl Fn(Lsn),
) -> Result<(), CaptureError> {
    out.flush()?;
    pending.records = 0;
    if let Some(offset) = pending.offset.take() {
        store.store(&offset)?;
    }
    if let Some(lsn) = pending.lsn.take() {
        on_durable(durable.advance(lsn));
    }
    Ok(())
}
