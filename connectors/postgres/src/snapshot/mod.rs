//! The consistent, parallel, resumable snapshot.
//!
//! Every table is read inside one exported snapshot (from `CREATE_REPLICATION_SLOT …
//! (SNAPSHOT 'export')`, or from a temporary slot when a snapshot is resumed, repeated or
//! blocking), so the rows read are the database's state at the slot's consistent point,
//! and streaming from that point neither misses nor repeats a change.
//!
//! A table is split into chunks of heap pages (`ctid` ranges; Postgres 14+ scans a TID
//! range directly), sized from `pg_relation_size` rather than `COUNT(*)`. Up to
//! `snapshot.max.threads` connections import the same snapshot and take chunks from a
//! queue the merger fills in rounds of one chunk per connection. Rows stream through a
//! bounded channel to that merger task, which marks `source.snapshot` (`first` … `true` …
//! `last`) and, once every chunk of a round is read, emits a checkpoint naming them done,
//! so a restart reads only the chunks not yet done, and no chunk is partly emitted when
//! its checkpoint commits (a restart would emit those rows again; what it keeps is in
//! `visibility`). A partitioned table is read in chunks of each of its leaf partitions.

mod copy_text;
mod markers;
mod plan;
mod progress;
mod statements;
mod visibility;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_postgres::Client;
use tributary_core::event::now_us;
use tributary_core::{
    BatchSender, CaptureItem, ChangeEvent, Lsn, Op, SnapshotMarker, SourceInfo, SourceMetrics,
};

use crate::catalog::TableMeta;
use crate::config::{PostgresConnectorConfig, SnapshotMode};
use crate::error::SourceError;
use crate::offset::{PartPlan, PgOffset, SnapshotProgress, TableProgress};
use crate::replication::ReplicationConnection;
use crate::stream::key_string;
use crate::table::{Cell, TableState};
use crate::types::ProcessingFailure;
use copy_text::Field;
pub use copy_text::split_row;
use markers::Markers;
use plan::{Job, leaf_pages, relation_pages};
use progress::Tracker;
use statements::chunk_sql;
use visibility::inspect;

/// A table to snapshot.
pub struct SnapshotTable {
    pub meta: TableMeta,
    pub state: Arc<TableState>,
    /// Collect the keys read (a resumed, partially read table needs them to filter the
    /// stream's overlap).
    pub collect_keys: bool,
    /// The table's `snapshot.select.statement.overrides` statement, set by [`run`] with
    /// its columns aligned to the table's: read in one chunk instead of ctid ranges.
    pub select: Option<String>,
    /// Set by [`run`] for a resumed, partly read table: the condition that keeps the row
    /// versions the first snapshot saw (see `SnapshotProgress::visible`).
    pub unchanged: Option<String>,
}

/// What a finished snapshot hands to streaming.
#[derive(Debug, Default)]
pub struct SnapshotOutcome {
    /// Keys read per table OID, for tables with `collect_keys`.
    pub keys: HashMap<u32, HashSet<String>>,
    pub offset: PgOffset,
    /// Stopped on request before every chunk was read; the offset says which are done.
    pub interrupted: bool,
}

/// Rows a worker sends per message: a channel hop per row would cost more than the row.
/// (Fewer when `snapshot.fetch.size` is smaller.)
const ROWS_PER_MESSAGE: usize = 256;

enum WorkerMsg {
    Rows {
        table: usize,
        rows: Vec<ChangeEvent>,
    },
    ChunkDone {
        table: usize,
        chunk: u32,
        rows: u64,
    },
}

/// Runs the snapshot of `tables` inside `snapshot_name`, continuing `offset.snapshot`,
/// and reports its progress to `metrics`.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    config: Arc<PostgresConnectorConfig>,
    planner: &Client,
    snapshot_name: &str,
    tables: Vec<SnapshotTable>,
    mut offset: PgOffset,
    out: &mut BatchSender,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    metrics: &SourceMetrics,
) -> Result<SnapshotOutcome, SourceError> {
    if pause("snapshot.delay.ms", config.snapshot_delay, &mut shutdown).await {
        return Ok(SnapshotOutcome {
            offset,
            interrupted: true,
            ..SnapshotOutcome::default()
        });
    }
    let blocking = offset.blocking.is_some();
    let mut tables = tables;
    statements::apply_overrides(&config, &offset, planner, &mut tables).await?;
    let mut tracker = Tracker::start(metrics);
    let progress = offset
        .snapshot
        .get_or_insert_with(SnapshotProgress::default);
    let point = progress.point;
    let mut jobs = plan_chunks(&config, planner, &tables, progress).await?;
    let empty = inspect(&config, blocking, snapshot_name, progress, &mut tables).await?;
    jobs.retain(|j| !empty.contains(&j.table));
    let remaining_tables = tables
        .iter()
        .filter(|t| !progress.tables[&t.meta.id.to_string()].is_complete())
        .count();
    tracker.plan(planner, &tables, progress).await;
    tracing::info!(
        tables = remaining_tables,
        chunks = jobs.len(),
        threads = config.snapshot_max_threads,
        %point,
        "snapshot starting"
    );
    let tables = Arc::new(tables);
    let ctx = Arc::new(RowContext {
        prefix: config.topic_prefix.as_str().into(),
        db: config.connect.dbname.as_str().into(),
        point,
        ts_us: now_us(),
        tx_id: statements::snapshot_xmin(planner).await,
        processing_failure: config.processing_failure,
        rows_per_message: ROWS_PER_MESSAGE.min(config.queue.snapshot_fetch),
    });
    // `snapshot.fetch.size`: the rows read but not yet queued are those in the channel
    // and the one message each reader is filling.
    let (tx, mut rx) =
        mpsc::channel::<WorkerMsg>((config.queue.snapshot_fetch / ctx.rows_per_message).max(1));
    let threads = config.snapshot_max_threads.max(1);
    let (job_tx, mut workers) =
        start_workers(&config, snapshot_name, threads, &tables, &ctx, tx).await?;

    let mut outcome = SnapshotOutcome::default();
    // Debezium's markers: the snapshot's first row `first`, each further table's first row
    // `first_in_data_collection`, each table's last row `last_in_data_collection`, the
    // snapshot's last row `last`. Each table's newest row is held back until the next one
    // arrives or its chunk is done, so a table's last row can be marked; a chunk's
    // checkpoint waits until its rows are out.
    let mut marks = Markers::new(tables.len());
    let mut pending: Vec<(usize, u32, u64)> = Vec::new();
    let mut stopping = false;
    // Chunks are read in rounds of one per thread, and a checkpoint is emitted only
    // between rounds: every row emitted before it belongs to a chunk it counts done, so
    // a Kafka transaction never commits part of a chunk that a restart reads again.
    let mut job_tx = Some(job_tx);
    let mut in_round = dispatch(&mut jobs, &mut job_tx, threads).await;
    loop {
        let msg = tokio::select! {
            biased;
            _ = shutdown.changed(), if !stopping => {
                // Stop at chunk boundaries: no new chunks, the ones being read finish
                // and are checkpointed, and a restart resumes with the rest.
                stopping = true;
                jobs.clear();
                if in_round == 0 {
                    job_tx = None;
                }
                tracing::info!("stop requested: finishing the snapshot chunks being read");
                continue;
            }
            msg = rx.recv() => msg,
        };
        let Some(msg) = msg else { break };
        match msg {
            WorkerMsg::Rows { table, rows } => {
                tracker.rows(rows.len() as u64);
                let t = &tables[table];
                if t.collect_keys {
                    let keys = outcome.keys.entry(t.meta.oid).or_default();
                    for k in rows.iter().filter_map(|ev| ev.key.as_ref()) {
                        keys.insert(key_string(&t.state, k));
                    }
                }
                for ev in rows {
                    if let Some(prev) = marks.row(table, ev) {
                        send(out, CaptureItem::Change(prev)).await?;
                    }
                }
            }
            WorkerMsg::ChunkDone { table, chunk, rows } => {
                pending.push((table, chunk, rows));
                in_round -= 1;
                if in_round == 0 {
                    flush_pending(
                        &mut pending,
                        &mut offset,
                        &tables,
                        out,
                        &mut tracker,
                        &mut marks,
                    )
                    .await?;
                    in_round = dispatch(&mut jobs, &mut job_tx, threads).await;
                }
            }
        }
    }
    // Workers end by dropping their senders; a failed one ends the whole snapshot.
    while let Some(res) = workers.join_next().await {
        res.map_err(|e| SourceError::Setup(format!("snapshot worker failed: {e}")))??;
    }
    // Every round ended with its flush, the last one included.
    debug_assert!(pending.is_empty());
    marks.stopping = stopping;
    for ev in marks.drain() {
        send(out, CaptureItem::Change(ev)).await?;
    }
    let completed = finish(&tables, &mut offset, stopping, out).await?;
    tracker.finish(completed);
    if completed && !blocking && config.snapshot_mode != SnapshotMode::InitialOnly {
        // A stop during the delay leaves the stream to notice it.
        pause("streaming.delay.ms", config.streaming_delay, &mut shutdown).await;
    }
    outcome.interrupted = !completed;
    outcome.offset = offset;
    Ok(outcome)
}

/// Plans the chunks of the tables that have no plan in `progress` yet (heap pages from
/// `pg_relation_size`, a partitioned table's per leaf, an override statement's one chunk)
/// and returns every chunk not yet done.
async fn plan_chunks(
    config: &PostgresConnectorConfig,
    planner: &Client,
    tables: &[SnapshotTable],
    progress: &mut SnapshotProgress,
) -> Result<VecDeque<Job>, SourceError> {
    let mut jobs = VecDeque::new();
    for (i, t) in tables.iter().enumerate() {
        let key = t.meta.id.to_string();
        if !progress.tables.contains_key(&key) {
            let chunk_pages = config.snapshot_chunk_pages;
            let chunks_of = |pages: u64| pages.div_ceil(u64::from(chunk_pages)).max(1) as u32;
            let mut plan = TableProgress {
                chunk_pages,
                chunks: 1,
                ..TableProgress::default()
            };
            if t.select.is_some() {
                // An override statement is read in one chunk.
            } else if t.meta.partitioned {
                for (table, pages) in leaf_pages(planner, t.meta.oid).await? {
                    let chunks = chunks_of(pages);
                    plan.parts.push(PartPlan { table, chunks });
                }
                plan.chunks = plan.parts.iter().map(|p| p.chunks).sum::<u32>().max(1);
            } else {
                plan.chunks = chunks_of(relation_pages(planner, t.meta.oid).await?);
            }
            progress.tables.insert(key.clone(), plan);
        }
        jobs.extend(Job::pending(i, &progress.tables[&key]));
    }
    Ok(jobs)
}

/// Opens `threads` connections inside the exported snapshot, each a worker taking chunks
/// from the returned queue and sending rows to `tx`.
async fn start_workers(
    config: &PostgresConnectorConfig,
    snapshot_name: &str,
    threads: usize,
    tables: &Arc<Vec<SnapshotTable>>,
    ctx: &Arc<RowContext>,
    tx: mpsc::Sender<WorkerMsg>,
) -> Result<
    (
        mpsc::Sender<Job>,
        tokio::task::JoinSet<Result<(), SourceError>>,
    ),
    SourceError,
> {
    let (job_tx, job_rx) = mpsc::channel::<Job>(threads);
    let job_rx = Arc::new(tokio::sync::Mutex::new(job_rx));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..threads {
        let mut client = ReplicationConnection::connect_sql(&config.connect).await?;
        client
            .simple_query(&format!(
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '{}'",
                snapshot_name.replace('\'', "''")
            ))
            .await?;
        workers.spawn(worker(
            client,
            job_rx.clone(),
            tables.clone(),
            ctx.clone(),
            tx.clone(),
        ));
    }
    drop(tx);
    Ok((job_tx, workers))
}

/// After the last round: the final checkpoint, which says whether every table is done (a
/// stop may still have let every chunk finish). Returns whether the snapshot completed.
async fn finish(
    tables: &[SnapshotTable],
    offset: &mut PgOffset,
    stopping: bool,
    out: &mut BatchSender,
) -> Result<bool, SourceError> {
    let completed = !stopping
        || offset.snapshot.as_ref().is_some_and(|s| {
            tables.iter().all(|t| {
                s.tables
                    .get(&t.meta.id.to_string())
                    .is_some_and(TableProgress::is_complete)
            })
        });
    if let Some(p) = &mut offset.snapshot {
        p.completed = completed;
    }
    if completed {
        offset.blocking = None;
    }
    out.push_now(CaptureItem::Checkpoint {
        offset: offset.to_json(),
    })
    .await
    .map_err(|_| SourceError::Closed)?;
    Ok(completed)
}

/// Hands the next round of chunks (one per thread) to the workers; returns how many. With
/// none left, closes the queue so the workers end.
async fn dispatch(
    jobs: &mut VecDeque<Job>,
    queue: &mut Option<mpsc::Sender<Job>>,
    threads: usize,
) -> usize {
    let mut sent = 0;
    if let Some(q) = queue.as_ref() {
        while sent < threads
            && let Some(job) = jobs.pop_front()
        {
            if q.send(job).await.is_err() {
                break;
            }
            sent += 1;
        }
    }
    if sent == 0 {
        *queue = None;
    }
    sent
}

/// Debezium's `snapshot.delay.ms` / `streaming.delay.ms`: waits `delay`, or until a stop
/// is requested (then returns true).
async fn pause(
    property: &str,
    delay: std::time::Duration,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
) -> bool {
    if delay.is_zero() {
        return false;
    }
    tracing::info!(delay_ms = delay.as_millis() as u64, "waiting {property}");
    tokio::select! {
        () = tokio::time::sleep(delay) => false,
        _ = shutdown.wait_for(|stop| *stop) => true,
    }
}

async fn flush_pending(
    pending: &mut Vec<(usize, u32, u64)>,
    offset: &mut PgOffset,
    tables: &[SnapshotTable],
    out: &mut BatchSender,
    tracker: &mut Tracker<'_>,
    marks: &mut Markers,
) -> Result<(), SourceError> {
    if pending.is_empty() {
        return Ok(());
    }
    let Some(progress) = offset.snapshot.as_mut() else {
        return Ok(());
    };
    // Record the round's chunks first: whether a table, or the whole snapshot, is done
    // depends on all of them.
    let mut touched: Vec<usize> = Vec::new();
    for (table, chunk, rows) in pending.drain(..) {
        let id = tables[table].meta.id.to_string();
        if let Some(p) = progress.tables.get_mut(&id) {
            let was_complete = p.is_complete();
            p.done.insert(chunk);
            p.rows += rows;
            if p.is_complete() && !was_complete {
                tracker.table_done(table, &id, p.rows);
            }
            if !touched.contains(&table) {
                touched.push(table);
            }
        }
    }
    let complete = |t: &SnapshotTable| {
        progress
            .tables
            .get(&t.meta.id.to_string())
            .is_some_and(TableProgress::is_complete)
    };
    // The snapshot's last rows stay held until the end, the very last to be marked
    // `last`; the final checkpoint, after them, then records the last chunks.
    let held_back = tables.iter().all(complete) && marks.holds_any();
    if !held_back {
        // The chunks' rows must be out before their checkpoint.
        for table in touched {
            if let Some(ev) = marks.release(table, complete(&tables[table])) {
                send(out, CaptureItem::Change(ev)).await?;
            }
        }
    }
    if held_back {
        return Ok(());
    }
    out.push_now(CaptureItem::Checkpoint {
        offset: offset.to_json(),
    })
    .await
    .map_err(|_| SourceError::Closed)
}

struct RowContext {
    prefix: Arc<str>,
    db: Arc<str>,
    point: Lsn,
    ts_us: i64,
    tx_id: Option<i64>,
    /// `event.processing.failure.handling.mode`.
    processing_failure: ProcessingFailure,
    /// Rows per message to the merger.
    rows_per_message: usize,
}

async fn worker(
    mut client: ReplicationConnection,
    jobs: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>,
    tables: Arc<Vec<SnapshotTable>>,
    ctx: Arc<RowContext>,
    tx: mpsc::Sender<WorkerMsg>,
) -> Result<(), SourceError> {
    loop {
        let job = jobs.lock().await.recv().await;
        let Some(job) = job else { break };
        let rows = read_chunk(&mut client, &tables, &job, &ctx, &tx).await?;
        if tx
            .send(WorkerMsg::ChunkDone {
                table: job.table,
                chunk: job.chunk,
                rows,
            })
            .await
            .is_err()
        {
            break;
        }
    }
    let _ = client.simple_query("COMMIT").await;
    let _ = client.close().await;
    Ok(())
}

async fn read_chunk(
    client: &mut ReplicationConnection,
    tables: &[SnapshotTable],
    job: &Job,
    ctx: &RowContext,
    tx: &mpsc::Sender<WorkerMsg>,
) -> Result<u64, SourceError> {
    let t = &tables[job.table];
    let sql = chunk_sql(t, job);
    let mut stream = client.copy_out(&sql).await?;
    let width = t.state.columns.len();
    let mut partial: Vec<u8> = Vec::new();
    let mut rows = 0u64;
    let per_message = ctx.rows_per_message;
    let mut batch = Vec::with_capacity(per_message);
    // One allocation for the fields of every row: emptied, it is reborrowed per message.
    let mut spare: Vec<Field<'static>> = Vec::with_capacity(width);
    // When the rows of a message were read (envelope `ts_*`): one clock read per message.
    let mut read_us = now_us();
    while let Some(data) = stream.next().await? {
        // Postgres sends one row per CopyData message; a row split across messages is
        // still handled.
        let owned;
        let buf: &[u8] = if partial.is_empty() {
            &data
        } else {
            partial.extend_from_slice(&data);
            owned = std::mem::take(&mut partial);
            &owned
        };
        let mut consumed = 0;
        let mut fields: Vec<Field<'_>> = spare.into_iter().map(|_| None).collect();
        for end in memchr::memchr_iter(b'\n', buf) {
            let line = &buf[consumed..end];
            consumed = end + 1;
            split_row(line, &mut fields);
            let cells = fields.iter().map(|f| match f {
                None => Cell::Null,
                Some(s) => Cell::Text(s.as_ref()),
            });
            let (key, value) = match t.state.convert_snapshot(cells) {
                Ok(converted) => converted,
                Err(e) => {
                    e.handle(
                        ctx.processing_failure,
                        format_args!("the snapshot of {}", t.state.id),
                    )?;
                    continue;
                }
            };
            batch.push(ChangeEvent {
                schemas: t.state.schemas.clone(),
                op: Op::Read,
                key,
                before: None,
                after: Some(value),
                source: SourceInfo {
                    name: ctx.prefix.clone(),
                    db: ctx.db.clone(),
                    schema: t.state.schema_name.clone(),
                    table: t.state.table_name.clone(),
                    ts_us: ctx.ts_us,
                    snapshot: SnapshotMarker::True,
                    tx_id: ctx.tx_id,
                    lsn: Some(ctx.point),
                    sequence: Some((None, Some(ctx.point))),
                    xmin: None,
                },
                ts_us: read_us,
                key_header: None,
            });
            rows += 1;
            if batch.len() >= per_message {
                read_us = now_us();
                let full = std::mem::replace(&mut batch, Vec::with_capacity(per_message));
                if tx
                    .send(WorkerMsg::Rows {
                        table: job.table,
                        rows: full,
                    })
                    .await
                    .is_err()
                {
                    return Ok(rows);
                }
            }
        }
        partial = buf[consumed..].to_vec();
        fields.clear();
        spare = fields.into_iter().map(|_| None).collect();
    }
    if !batch.is_empty() {
        let _ = tx
            .send(WorkerMsg::Rows {
                table: job.table,
                rows: batch,
            })
            .await;
    }
    Ok(rows)
}

async fn send(out: &mut BatchSender, item: CaptureItem) -> Result<(), SourceError> {
    out.push(item).await.map_err(|_| SourceError::Closed)
}
