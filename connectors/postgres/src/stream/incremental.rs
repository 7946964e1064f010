//! The stream's side of incremental snapshots: signals read from the signal table,
//! watermarks that open and close a window, the changes that make a window's rows stale,
//! and the window's rows emitted at its close. The engine is in [`crate::incremental`].

use tributary_core::metrics::IncrementalReport;
use tributary_core::{BatchSender, Lsn, Op, SnapshotMarker, Value};

use super::{Change, ChangeStream, cells, key_string};
use crate::error::SourceError;
use crate::incremental::{
    self, Action, Channel, Readers, Signal, WindowPlan, reader::is_table_error,
};
use crate::offset::{BlockingSnapshot, IncrementalProgress};
use crate::pgoutput::TupleData;
use crate::table::{Cell, TableState};

impl ChangeStream {
    /// Whether `state` is the signal table.
    pub(super) fn is_signal_table(&self, state: &TableState) -> bool {
        self.config.signals.table.as_ref() == Some(&state.id)
    }

    /// Continues an incremental snapshot the offset says is in progress.
    pub async fn resume_incremental(&mut self) -> Result<(), SourceError> {
        if let Some(p) = &self.offset.incremental {
            tracing::info!(id = %p.id, tables = p.tables.len(), "incremental snapshot in progress: reading on");
            self.next_window().await?;
        }
        self.report_incremental();
        Ok(())
    }

    /// Shows the incremental snapshot's progress in the task status and `/metrics`.
    fn report_incremental(&self) {
        let report = self.offset.incremental.as_ref().map(|p| IncrementalReport {
            id: p.id.clone(),
            table: p
                .tables
                .first()
                .map(|t| format!("{}.{}", t.schema, t.table)),
            tables_remaining: p.tables.len() as u64,
            table_rows: p.rows,
            table_chunks: p.chunks,
            paused: p.paused,
        });
        self.metrics.incremental_progress(report);
    }

    /// Whether a window's reader is running (see [`ChangeStream::reader_finished`]).
    pub fn incremental_reading(&self) -> bool {
        self.incremental.reading()
    }

    /// Waits for the running window reader and keeps what it read. Safe to cancel (the
    /// stream's `select!` does): nothing is emitted here, see
    /// [`ChangeStream::incremental_read`].
    pub async fn reader_finished(&mut self) {
        self.incremental.reader_done().await;
    }

    /// After [`ChangeStream::reader_finished`]: a failed read (a lost connection) ends the
    /// stream, to be resumed after a restart; a read-only window may close.
    pub async fn incremental_read(&mut self, out: &mut BatchSender) -> Result<(), SourceError> {
        let result = self.after_read().await;
        self.report_incremental();
        result?;
        self.read_only_close(None, out).await
    }

    async fn after_read(&mut self) -> Result<(), SourceError> {
        let failed = self
            .incremental
            .window
            .as_mut()
            .and_then(|w| w.read.take_if(|r| r.is_err()));
        let Some(Err(e)) = failed else {
            return Ok(());
        };
        // No close watermark follows a failed read.
        self.incremental.window = None;
        if !is_table_error(&e) {
            return Err(e);
        }
        tracing::warn!("incremental snapshot skips a table that cannot be read: {e}");
        self.table_done();
        self.next_window().await
    }

    /// A streamed change to `state`'s row `key`: a window's row read before it is stale.
    pub(super) fn window_saw(&mut self, state: &TableState, key: Option<&Value>) {
        if let Some(key) = key {
            let xid = self.xid();
            self.incremental
                .saw(&state.id, xid, || key_string(state, key));
        }
    }

    pub(super) fn window_saw_truncate(&mut self, state: &TableState) {
        let xid = self.xid();
        self.incremental.saw_truncate(&state.id, xid);
    }

    fn xid(&self) -> u32 {
        self.tx.as_ref().map_or(0, |t| t.begin.xid)
    }

    /// A read-only window waiting for the stream to pass its bound (the stream asks the
    /// server for keepalives meanwhile, so an idle stream learns it has).
    pub fn read_only_waiting(&self) -> bool {
        self.incremental.read_only_bound().is_some()
    }

    /// Closes a read-only window once its read is done and the stream has passed its
    /// bound: every transaction its snapshot saw has been emitted, and the changes of the
    /// others are known. `next_commit` is where the transaction about to be delivered
    /// commits (the window closes before it). Its rows are emitted, then a checkpoint
    /// with the window's end, and the next window starts.
    pub async fn read_only_close(
        &mut self,
        next_commit: Option<Lsn>,
        out: &mut BatchSender,
    ) -> Result<(), SourceError> {
        let Some(bound) = self.incremental.read_only_bound() else {
            return Ok(());
        };
        let lsn = bound.lsn;
        let passed = next_commit.is_some_and(|c| c >= lsn) || self.offset.lsn >= Some(lsn);
        if !passed || self.tx.is_some() {
            return Ok(());
        }
        self.incremental.settle();
        let at = self.offset.lsn.unwrap_or(lsn);
        self.close_window(at, out).await?;
        self.next_window().await?;
        self.report_incremental();
        out.push_now(tributary_core::CaptureItem::Checkpoint {
            offset: self.offset.to_json(),
        })
        .await
        .map_err(|_| SourceError::Closed)
    }

    /// An insert into the signal table.
    pub(super) async fn signal_row(
        &mut self,
        lsn: Lsn,
        tuple: &TupleData,
        out: &mut BatchSender,
    ) -> Result<(), SourceError> {
        let text: Vec<Option<&str>> = cells(tuple)
            .map(|c| match c {
                Cell::Text(s) => Some(s),
                _ => None,
            })
            .collect();
        let (Some(Some(id)), Some(Some(kind))) = (text.first(), text.get(1)) else {
            tracing::warn!(%lsn, "a signal table row without id or type is not a signal");
            return Ok(());
        };
        let data = text.get(2).copied().flatten();
        let window = matches!(*kind, "snapshot-window-open" | "snapshot-window-close");
        let signals = &self.config.signals;
        let (id, allowed) = match Channel::of(id) {
            (Channel::Rest, id) => (id, signals.rest),
            (Channel::Kafka, id) => (id, signals.kafka.is_some()),
            (Channel::Source, id) => (id, signals.source || window),
        };
        if !allowed {
            tracing::warn!(
                id,
                kind,
                "signal ignored: its channel is not in signal.enabled.channels"
            );
            return Ok(());
        }
        match Signal::parse(id, kind, data) {
            Ok(signal) => self.apply_signal(signal, lsn, out).await,
            Err(e) => {
                tracing::warn!("signal ignored: {e}");
                Ok(())
            }
        }
    }

    async fn apply_signal(
        &mut self,
        signal: Signal,
        lsn: Lsn,
        out: &mut BatchSender,
    ) -> Result<(), SourceError> {
        let result = self.act(signal, lsn, out).await;
        self.report_incremental();
        result
    }

    async fn act(
        &mut self,
        signal: Signal,
        lsn: Lsn,
        out: &mut BatchSender,
    ) -> Result<(), SourceError> {
        let Signal { id, action } = signal;
        match action {
            Action::WindowOpen(chunk) => {
                if let Some(w) = &mut self.incremental.window
                    && w.chunk == chunk
                {
                    w.open = true;
                }
            }
            Action::WindowClose(chunk) => {
                if self
                    .incremental
                    .window
                    .as_ref()
                    .is_some_and(|w| w.chunk == chunk && w.open)
                {
                    self.close_window(lsn, out).await?;
                    self.next_window().await?;
                }
            }
            Action::Snapshot(request) if request.blocking => {
                self.request_blocking(id, &request).await?;
            }
            Action::Snapshot(request) => {
                let tables = incremental::expand(&self.client, &self.config, &request).await?;
                let names: Vec<String> = tables
                    .iter()
                    .map(|t| format!("{}.{}", t.schema, t.table))
                    .collect();
                tracing::info!(%id, tables = ?names, "incremental snapshot requested");
                match &mut self.offset.incremental {
                    Some(p) => {
                        for t in tables {
                            if !p.tables.contains(&t) {
                                p.tables.push(t);
                            }
                        }
                    }
                    None => {
                        self.offset.incremental = Some(IncrementalProgress {
                            id,
                            tables,
                            ..IncrementalProgress::default()
                        });
                        self.next_window().await?;
                    }
                }
            }
            Action::Stop(patterns) => self.stop_snapshot(&id, &patterns).await?,
            Action::Pause => {
                if let Some(p) = &mut self.offset.incremental {
                    tracing::info!(%id, "incremental snapshot paused");
                    p.paused = true;
                }
            }
            Action::Resume => {
                if let Some(p) = &mut self.offset.incremental
                    && p.paused
                {
                    tracing::info!(%id, "incremental snapshot resumed");
                    p.paused = false;
                    if self.incremental.window.is_none() {
                        self.next_window().await?;
                    }
                }
            }
            Action::Log(message) => tracing::info!(signal = %id, "{message}"),
        }
        Ok(())
    }

    /// `execute-snapshot` of type `blocking`: recorded in the offset, so it commits with
    /// the signal's transaction. The stream then stops at the next transaction boundary
    /// for it (see [`ChangeStream::blocking_pending`]).
    async fn request_blocking(
        &mut self,
        id: String,
        request: &incremental::SnapshotRequest,
    ) -> Result<(), SourceError> {
        let tables = incremental::expand(&self.client, &self.config, request).await?;
        if tables.is_empty() {
            tracing::warn!(%id, "blocking snapshot: no captured table matches; nothing to read");
            return Ok(());
        }
        let blocking = self
            .offset
            .blocking
            .get_or_insert_with(|| BlockingSnapshot {
                id: id.clone(),
                ..BlockingSnapshot::default()
            });
        for t in tables {
            let name = format!("{}.{}", t.schema, t.table);
            if let Some(statement) = t.filter {
                blocking.statements.insert(name.clone(), statement);
            }
            if !blocking.tables.contains(&name) {
                blocking.tables.push(name);
            }
        }
        tracing::info!(%id, tables = ?blocking.tables, "blocking snapshot requested: streaming stops while the tables are read");
        Ok(())
    }

    async fn stop_snapshot(&mut self, id: &str, patterns: &[String]) -> Result<(), SourceError> {
        let Some(p) = &mut self.offset.incremental else {
            return Ok(());
        };
        if patterns.is_empty() {
            tracing::info!(%id, "incremental snapshot stopped");
            self.offset.incremental = None;
            self.incremental.abort();
            self.incremental.current = None;
            self.incremental.readers = None;
            return Ok(());
        }
        let res: Vec<regex::Regex> = patterns
            .iter()
            .filter_map(|p| regex::Regex::new(&format!("^(?:{p})$")).ok())
            .collect();
        let first = p.tables.first().cloned();
        p.tables.retain(|t| {
            !res.iter()
                .any(|re| re.is_match(&format!("{}.{}", t.schema, t.table)))
        });
        tracing::info!(%id, tables = ?patterns, "incremental snapshot of these tables stopped");
        if p.tables.first() != first.as_ref() {
            p.last_key = None;
            p.max_key = None;
            p.rows = 0;
            p.chunks = 0;
            self.incremental.abort();
            self.incremental.current = None;
            self.next_window().await?;
        }
        Ok(())
    }

    /// Starts the next window, moving past tables that are done or cannot be read; at the
    /// end of the last table, the snapshot is complete.
    async fn next_window(&mut self) -> Result<(), SourceError> {
        loop {
            let Some(p) = &self.offset.incremental else {
                return Ok(());
            };
            if p.paused || self.incremental.window.is_some() {
                return Ok(());
            }
            let Some(table) = p.tables.first().cloned() else {
                tracing::info!(id = %p.id, "incremental snapshot completed");
                self.offset.incremental = None;
                self.incremental.current = None;
                // Its connections are not needed until the next one.
                self.incremental.readers = None;
                return Ok(());
            };
            if self.incremental.current.is_none() {
                let prepared =
                    incremental::prepare(&self.client, &mut self.registry, &self.config, &table)
                        .await?;
                match prepared {
                    Ok(current) => self.incremental.current = Some(current),
                    Err(why) => {
                        tracing::warn!("incremental snapshot skips a table: {why}");
                        self.table_done();
                        continue;
                    }
                }
            }
            let Some(signal_table) = self.config.signals.table.clone() else {
                return Err(SourceError::Setup(
                    "an incremental snapshot needs a signal table for its watermarks\nHINT: set signal.data.collection".into(),
                ));
            };
            let readers = match self.incremental.readers.take() {
                Some(r) => r,
                None => {
                    Readers::open(&self.config.connect, self.config.snapshot_max_threads).await?
                }
            };
            let (Some(p), Some(current)) = (&self.offset.incremental, &self.incremental.current)
            else {
                return Ok(());
            };
            let plan = WindowPlan {
                chunk_id: incremental::chunk_id(),
                signal_table,
                table: current.id.clone(),
                state: current.state.clone(),
                keys: current.keys.clone(),
                filter: table.filter.clone(),
                after: p.last_key.clone(),
                max: p.max_key.clone(),
                chunk_size: self.config.signals.chunk_size,
                threads: self.config.snapshot_max_threads,
                processing_failure: self.config.processing_failure,
                read_only: self.config.signals.read_only,
            };
            self.incremental.start(readers, plan);
            return Ok(());
        }
    }

    /// The first table is done: on to the next.
    fn table_done(&mut self) {
        if let Some(p) = &mut self.offset.incremental {
            if !p.tables.is_empty() {
                let t = p.tables.remove(0);
                tracing::info!(table = %format!("{}.{}", t.schema, t.table), rows = p.rows, chunks = p.chunks, "incremental snapshot of a table completed");
            }
            p.last_key = None;
            p.max_key = None;
            p.rows = 0;
            p.chunks = 0;
        }
        self.incremental.current = None;
    }

    /// The close watermark: emits what the window read and no change has made stale,
    /// and records the window's end in the offset (durable with this transaction).
    async fn close_window(&mut self, lsn: Lsn, out: &mut BatchSender) -> Result<(), SourceError> {
        let read = self.incremental.take_read().await;
        let Some(window) = self.incremental.window.take() else {
            return Ok(());
        };
        let read = match read {
            Some(Ok(read)) => read,
            Some(Err(e)) if is_table_error(&e) => {
                tracing::warn!("incremental snapshot skips a table that cannot be read: {e}");
                self.table_done();
                return Ok(());
            }
            Some(Err(e)) => return Err(e),
            None => return Ok(()),
        };
        let Some(current) = &self.incremental.current else {
            return Ok(());
        };
        let state = current.state.clone();
        let mut emitted = 0u64;
        if !window.truncated {
            for (key, after) in read.rows {
                if let Some(k) = &key
                    && window.seen.contains(&key_string(&state, k))
                {
                    continue;
                }
                let mut source = self.source(&state, lsn);
                source.snapshot = SnapshotMarker::Incremental;
                let change = Change {
                    op: Op::Read,
                    key,
                    before: None,
                    after: Some(after),
                    key_header: None,
                };
                self.emit(&state, change, source, out).await?;
                emitted += 1;
            }
        }
        let done = read.last.is_none();
        self.metrics.incremental_rows(emitted);
        if let Some(p) = &mut self.offset.incremental {
            p.rows += emitted;
            p.chunks += 1;
            p.max_key = read.max;
            p.last_key = read.last;
        }
        if done {
            self.table_done();
        }
        Ok(())
    }
}
