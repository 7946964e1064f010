//! Blocking snapshots (`execute-snapshot` of type `blocking`), read between two streaming
//! sessions.
//!
//! When one is requested, the stream stops at a transaction boundary and a snapshot is
//! exported from a temporary slot; the stream then goes on up to that slot's consistent
//! point and stops before the first transaction at or after it ([`ChangeStream::reach`]).
//! So the stream has emitted exactly the transactions the snapshot holds, and the
//! snapshot's rows are read as an initial snapshot reads them (parallel chunks, Debezium's
//! markers), checkpointed chunk by chunk with the offset at that point. Streaming resumes
//! there. A restart mid-snapshot resumes it as a restart resumes an initial snapshot,
//! because the stream stands at the snapshot's point: Debezium warns that a blocking
//! snapshot may be followed by duplicates; this one is not.
//!
//! [`ChangeStream::reach`]: crate::stream::ChangeStream::reach

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use tokio::sync::watch;
use tokio_postgres::Client;
use tributary_core::{BatchSender, Lsn, SourceMetrics};

use super::streaming::Streaming;
use super::{plan, take_snapshot};
use crate::catalog;
use crate::config::PostgresConnectorConfig;
use crate::error::SourceError;
use crate::offset::SnapshotProgress;
use crate::replication::ReplicationConnection;

/// A snapshot exported from a temporary slot. It stays valid while `conn` is open and
/// idle; the slot goes with the connection.
pub(super) struct Export {
    _conn: ReplicationConnection,
    /// The slot's consistent point: the snapshot holds exactly the transactions committing
    /// before it.
    pub point: Lsn,
    /// For `SET TRANSACTION SNAPSHOT`.
    pub name: String,
}

impl Export {
    /// Creates a temporary slot with an exported snapshot. Postgres first waits for the
    /// transactions running now to end.
    pub async fn create(config: &PostgresConnectorConfig) -> Result<Export, SourceError> {
        let mut conn = ReplicationConnection::connect(&config.connect).await?;
        // Unique per export: a dropped connection's temporary slot goes with its backend,
        // which may not have exited when the next export comes.
        static EXPORTS: AtomicU32 = AtomicU32::new(0);
        let n = EXPORTS.fetch_add(1, Ordering::Relaxed);
        let slot = format!("{}_snap_{}_{n}", config.slot_name, std::process::id());
        let created = conn.create_logical_slot(&slot, true, true).await?;
        Ok(Export {
            _conn: conn,
            point: created.consistent_point,
            name: created.snapshot_name.unwrap_or_default(),
        })
    }
}

/// Where the stream stopped for a blocking snapshot: what the next session needs.
pub(super) struct Stopped {
    pub export: Export,
    pub client: Client,
    pub repl: ReplicationConnection,
    pub from: Streaming,
}

/// Reads the blocking snapshot the stream stopped for; returns what streaming resumes
/// with, or `None` when stopped mid-snapshot (its progress is checkpointed).
pub(super) async fn read(
    config: &Arc<PostgresConnectorConfig>,
    stopped: Stopped,
    out: &mut BatchSender,
    shutdown: &watch::Receiver<bool>,
    metrics: &SourceMetrics,
) -> Result<Option<(Client, ReplicationConnection, Streaming)>, SourceError> {
    let Stopped {
        export,
        client,
        repl,
        mut from,
    } = stopped;
    let offset = &mut from.offset;
    offset.lsn = offset.lsn.max(Some(export.point));
    offset.snapshot = Some(SnapshotProgress {
        completed: false,
        point: export.point,
        tables: Default::default(),
        ..Default::default()
    });
    // The tables' shapes now, which may have changed since streaming began.
    let tables = catalog::load_tables(&client, config)
        .await
        .map_err(SourceError::query("could not list the captured tables"))?;
    let oids: Vec<u32> = tables
        .iter()
        .flat_map(|t| t.columns.iter().map(|c| c.type_oid))
        .collect();
    from.registry
        .load(&client, &oids)
        .await
        .map_err(SourceError::query("could not load column types"))?;
    let plan = plan(&tables, config, &from.registry, offset, false)?;
    tracing::info!(point = %export.point, tables = plan.len(), "blocking snapshot: streaming stopped, reading");
    let taken = take_snapshot(
        config,
        &client,
        &export.name,
        plan,
        std::mem::take(offset),
        out,
        shutdown,
        metrics,
    )
    .await?;
    drop(export);
    let Some(outcome) = taken else {
        return Ok(None);
    };
    from.offset = outcome.offset;
    tracing::info!(point = %from.offset.lsn.unwrap_or_default(), "blocking snapshot done: streaming resumes");
    Ok(Some((client, repl, from)))
}
