//! Incremental snapshots, Debezium's watermark algorithm (DBLog) with parallel chunks.
//!
//! A table is read in windows while the stream goes on. Each window writes an open
//! watermark row to the signal table, reads the next chunk of keys (split into
//! `snapshot.max.threads` consecutive key ranges, read in parallel), and writes a close
//! watermark. The stream sees both rows in commit order: between them, every change to
//! the table removes its key from the window (the change is newer than, or as new as,
//! what was read); at the close row the rest of the window is emitted as `op: r` events
//! with `source.snapshot: incremental`, inside the close row's transaction, together with
//! the offset that records the window's end. A row is thus never emitted older than a
//! change already emitted for it, and a restart reads on from the last window whose
//! transaction is durable downstream.

pub mod reader;
pub mod readonly;
pub mod signal;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use regex::Regex;
use tokio::task::JoinHandle;
use tokio_postgres::Client;

use crate::catalog;
use crate::config::{PostgresConnectorConfig, TableId};
use crate::error::SourceError;
use crate::offset::IncrementalTable;
use crate::table::{TableState, WireColumn};
use crate::types::{ShapeSource, TypeRegistry};
pub use reader::{KeyColumn, Readers, WindowPlan, WindowRead};
pub use signal::{Action, Signal, SnapshotRequest};

/// The channels that hand signals on through the signal table: their rows' ids are
/// marked, so the stream knows where a signal came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Source,
    Rest,
    Kafka,
}

impl Channel {
    const MARKS: [(Channel, &'static str); 2] =
        [(Channel::Rest, "rest:"), (Channel::Kafka, "kafka:")];

    /// `id` as the signal table holds it.
    pub fn mark(self, id: &str) -> String {
        match Self::MARKS.iter().find(|(c, _)| *c == self) {
            Some((_, mark)) => format!("{mark}{id}"),
            None => id.to_string(),
        }
    }

    /// A signal table row's channel and its signal's own id.
    pub fn of(id: &str) -> (Channel, &str) {
        Self::MARKS
            .iter()
            .find_map(|(c, mark)| id.strip_prefix(mark).map(|rest| (*c, rest)))
            .unwrap_or((Channel::Source, id))
    }
}

/// The table being read.
pub struct Current {
    pub id: TableId,
    pub state: Arc<TableState>,
    pub keys: Vec<KeyColumn>,
}

type ReadTask = JoinHandle<(Option<Readers>, Result<WindowRead, SourceError>)>;

/// A window: from its reader's start until the stream sees its close watermark.
pub struct Window {
    pub chunk: String,
    /// The stream has seen the open watermark.
    pub open: bool,
    /// Keys changed in the stream since the window opened.
    pub seen: HashSet<String>,
    /// The table was truncated since the window opened: nothing read is current.
    pub truncated: bool,
    /// A read-only window's changes, each with its transaction: which made a row stale is
    /// known once the read says what its snapshot saw.
    pub changes: Vec<(u32, Option<String>)>,
    pub read_only: bool,
    task: Option<ReadTask>,
    pub read: Option<Result<WindowRead, SourceError>>,
}

/// The incremental snapshot's working state (its progress is in the offset).
#[derive(Default)]
pub struct Engine {
    pub readers: Option<Readers>,
    pub current: Option<Current>,
    pub window: Option<Window>,
}

static CHUNKS: AtomicU64 = AtomicU64::new(0);

impl Engine {
    /// Starts reading a window.
    pub fn start(&mut self, readers: Readers, plan: WindowPlan) {
        let chunk = plan.chunk_id.clone();
        self.window = Some(Window {
            chunk,
            // A read-only window has no open watermark: it is open from the start.
            open: plan.read_only,
            seen: HashSet::new(),
            truncated: false,
            changes: Vec::new(),
            read_only: plan.read_only,
            task: Some(tokio::spawn(reader::read_window(readers, plan))),
            read: None,
        });
    }

    /// Whether a window's reader is still running.
    pub fn reading(&self) -> bool {
        self.window.as_ref().is_some_and(|w| w.task.is_some())
    }

    /// Waits for the window's reader to finish and keeps what it read (or its error).
    pub async fn reader_done(&mut self) {
        let Some(w) = self.window.as_mut() else {
            return std::future::pending().await;
        };
        let Some(task) = w.task.as_mut() else {
            return std::future::pending().await;
        };
        let (readers, read) = match task.await {
            Ok(done) => done,
            Err(e) => (
                None,
                Err(SourceError::Setup(format!(
                    "incremental snapshot reader failed: {e}"
                ))),
            ),
        };
        w.task = None;
        w.read = Some(read);
        self.readers = readers;
    }

    /// The window's read, once its reader is done.
    pub async fn take_read(&mut self) -> Option<Result<WindowRead, SourceError>> {
        if self.reading() {
            self.reader_done().await;
        }
        self.window.as_mut().and_then(|w| w.read.take())
    }

    /// Forgets the window (its reader is stopped; its connections go with it).
    pub fn abort(&mut self) {
        if let Some(w) = self.window.take()
            && let Some(task) = w.task
        {
            task.abort();
        }
    }

    /// A change to `table`'s row `key`, by transaction `xid`, was streamed.
    pub fn saw(&mut self, table: &TableId, xid: u32, key: impl FnOnce() -> String) {
        if let (Some(w), Some(c)) = (self.window.as_mut(), self.current.as_ref())
            && w.open
            && c.id == *table
        {
            if w.read_only {
                w.changes.push((xid, Some(key())));
            } else {
                w.seen.insert(key());
            }
        }
    }

    /// `table` was truncated by transaction `xid`.
    pub fn saw_truncate(&mut self, table: &TableId, xid: u32) {
        if let (Some(w), Some(c)) = (self.window.as_mut(), self.current.as_ref())
            && w.open
            && c.id == *table
        {
            if w.read_only {
                w.changes.push((xid, None));
            } else {
                w.truncated = true;
            }
        }
    }

    /// A read-only window whose read is done: what bounds it.
    pub fn read_only_bound(&self) -> Option<&readonly::Bound> {
        let w = self.window.as_ref().filter(|w| w.read_only)?;
        w.read.as_ref()?.as_ref().ok()?.bound.as_ref()
    }

    /// A read-only window's changes by transactions its snapshot did not see make their
    /// rows stale (a truncate, every row).
    pub fn settle(&mut self) {
        let Some(bound) = self.read_only_bound().cloned() else {
            return;
        };
        let Some(w) = self.window.as_mut() else {
            return;
        };
        for (xid, key) in w.changes.drain(..) {
            if bound.visible.saw(xid) {
                continue;
            }
            match key {
                Some(k) => {
                    w.seen.insert(k);
                }
                None => w.truncated = true,
            }
        }
    }
}

/// A chunk id as Debezium's (36 characters at most, so `-close` fits `varchar(42)`).
pub fn chunk_id() -> String {
    let n = CHUNKS.fetch_add(1, Ordering::Relaxed);
    format!(
        "{:016x}-{:08x}-{:08x}",
        tributary_core::event::now_us(),
        std::process::id(),
        n
    )
}

/// The captured tables a request names (each pattern matched against the whole
/// `schema.table`, as Debezium does), with their filter and surrogate key.
pub async fn expand(
    client: &Client,
    config: &PostgresConnectorConfig,
    request: &SnapshotRequest,
) -> Result<Vec<IncrementalTable>, SourceError> {
    let tables = catalog::load_tables(client, config)
        .await
        .map_err(SourceError::query("could not list the captured tables"))?;
    let mut out = Vec::new();
    for pattern in &request.collections {
        let re = Regex::new(&format!("^(?:{pattern})$"))
            .map_err(|e| SourceError::Setup(format!("{pattern:?}: {e}")))?;
        let matched: Vec<_> = tables
            .iter()
            .filter(|t| re.is_match(&t.id.to_string()))
            .collect();
        if matched.is_empty() {
            tracing::warn!(
                pattern,
                "execute-snapshot: no captured table matches {pattern:?}; it is skipped"
            );
        }
        for t in matched {
            let name = t.id.to_string();
            if out
                .iter()
                .any(|o: &IncrementalTable| o.schema == t.id.schema && o.table == t.id.name)
            {
                continue;
            }
            out.push(IncrementalTable {
                schema: t.id.schema.clone(),
                table: t.id.name.clone(),
                filter: request
                    .conditions
                    .iter()
                    .find(|(re, _)| re.is_match(&name))
                    .map(|(_, f)| f.clone()),
                surrogate_key: request.surrogate_key.clone(),
            });
        }
    }
    Ok(out)
}

/// Loads `t`'s shape and key for reading; `Err(reason)` when it cannot be read (gone, or
/// no key to chunk by), to be skipped with a warning.
pub async fn prepare(
    client: &Client,
    registry: &mut TypeRegistry,
    config: &PostgresConnectorConfig,
    t: &IncrementalTable,
) -> Result<Result<Current, String>, SourceError> {
    let id = TableId::new(t.schema.clone(), t.table.clone());
    let oid: Option<u32> = client
        .query_opt(
            "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname = $2",
            &[&t.schema, &t.table],
        )
        .await
        .map_err(SourceError::query("could not look up a table"))?
        .map(|r| r.get(0));
    let Some(oid) = oid else {
        return Ok(Err(format!("table {id} does not exist")));
    };
    let Some(meta) = catalog::load_table(client, oid)
        .await
        .map_err(SourceError::query(
            "could not read the table's catalog entry",
        ))?
    else {
        return Ok(Err(format!("table {id} does not exist")));
    };
    let key_names: Vec<String> = match &t.surrogate_key {
        Some(k) => vec![k.clone()],
        None => meta.primary_key().into_iter().map(str::to_string).collect(),
    };
    if key_names.is_empty() {
        return Ok(Err(format!(
            "table {id} has no primary key; name a column to chunk by with the signal's surrogate-key"
        )));
    }
    let oids: Vec<u32> = meta.columns.iter().map(|c| c.type_oid).collect();
    registry
        .load(client, &oids)
        .await
        .map_err(SourceError::query("could not load column types"))?;
    let wire: Vec<WireColumn> = meta.columns.iter().map(WireColumn::from).collect();
    let state = TableState::build(&meta, &wire, ShapeSource::Jdbc, config, registry, 0)
        .map_err(SourceError::Setup)?;
    // A window's rows are matched to the stream's changes by the events' key.
    if state.schemas.key.is_none() {
        return Ok(Err(format!(
            "table {id} has no primary key (nor message.key.columns): its rows read could not be matched to the changes streamed meanwhile"
        )));
    }
    let types = client
        .query(
            "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute \
             WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped",
            &[&oid],
        )
        .await
        .map_err(SourceError::query("could not read the key's types"))?;
    let mut keys = Vec::new();
    for name in key_names {
        let sql_type = types
            .iter()
            .find(|r| r.get::<_, String>(0) == name)
            .map(|r| r.get::<_, String>(1));
        let read = state.columns.contains(&name);
        let (Some(sql_type), true) = (sql_type, read) else {
            return Ok(Err(format!(
                "table {id} has no column {name:?} to chunk by (surrogate-key)"
            )));
        };
        keys.push(KeyColumn { name, sql_type });
    }
    Ok(Ok(Current {
        id,
        state: Arc::new(state),
        keys,
    }))
}
