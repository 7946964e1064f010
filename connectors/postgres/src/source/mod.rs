//! The Postgres source connector: checks, setup, snapshot, then streaming.
//!
//! [`run`] (or [`run_with_metrics`]) is the whole life of one connector run. It checks everything it can before it
//! creates anything (credentials, `wal_level`, publication, the tables' replica identity,
//! whether the slot is free), so a bad setup fails with a clear error and leaves nothing
//! half-created. It then creates what is missing, takes or resumes the snapshot inside an
//! exported snapshot, and streams from the slot. Events go to a bounded channel; the
//! consumer makes them durable and advances the [`DurableLsn`], which is the only LSN
//! ever reported to Postgres as flushed.

use std::sync::Arc;

use tokio::sync::watch;
use tokio_postgres::Client;
use tributary_core::{BatchSender, DurableLsn, SourceMetrics};

use crate::catalog::TableMeta;
use crate::config::{PostgresConnectorConfig, SnapshotMode};
use crate::conn::connect_query;
use crate::error::SourceError;
use crate::offset::{PgOffset, SnapshotProgress};
use crate::replication::ReplicationConnection;
use crate::snapshot::{self, SnapshotTable};
use crate::stream::{OverlapFilter, OverlapScope};
use crate::table::{TableState, WireColumn};
use crate::types::{ShapeSource, TypeRegistry};

mod blocking;
mod slot;
mod streaming;
mod tables;

use streaming::{StreamEnd, Streaming, stream_changes};
use tables::{check_signal_table, create_publication, drop_publication, resolve_tables};

/// Runs the connector until `shutdown` turns true, the consumer goes away, or an error.
/// `stored` is the offset the consumer last made durable.
pub async fn run(
    config: Arc<PostgresConnectorConfig>,
    stored: Option<serde_json::Value>,
    out: BatchSender,
    durable: DurableLsn,
    shutdown: watch::Receiver<bool>,
) -> Result<(), SourceError> {
    run_with_metrics(config, stored, out, durable, shutdown, Arc::default()).await
}

/// [`run`], reporting events, transactions, snapshot progress and the output queue's
/// fill level to `metrics` as it goes.
pub async fn run_with_metrics(
    mut config: Arc<PostgresConnectorConfig>,
    stored: Option<serde_json::Value>,
    mut out: BatchSender,
    durable: DurableLsn,
    mut shutdown: watch::Receiver<bool>,
    metrics: Arc<SourceMetrics>,
) -> Result<(), SourceError> {
    metrics.start_run(out.gauge());
    let mut offset = PgOffset::from_json(stored.as_ref()).map_err(SourceError::Offset)?;
    let client = connect_query(&config.connect).await?;
    let sender_timeout = preflight(&client).await?;
    // Status updates must come well inside wal_sender_timeout, or the server drops us.
    let status_interval = match sender_timeout {
        Some(t) if !t.is_zero() => config.status_update_interval.min(t / 3),
        _ => config.status_update_interval,
    };

    // What will be captured, and can it be?
    let resolved = resolve_tables(&client, &mut config).await?;
    let (tables, publication_exists) = (resolved.tables, resolved.publication_exists);
    let slot = match slot::free_slot(&client, &config, &mut shutdown).await? {
        slot::SlotState::Free(slot) => slot,
        slot::SlotState::Stopped => return Ok(()),
    };

    // Create what is missing.
    let mut repl = ReplicationConnection::connect(&config.connect).await?;
    let created_publication = !publication_exists;
    if created_publication {
        create_publication(&client, &config, &tables).await?;
    }
    check_signal_table(&client, &config).await?;
    // A blocking snapshot stopped midway is finished whatever the mode.
    let need_snapshot = offset.blocking_running()
        || match config.snapshot_mode {
            SnapshotMode::Initial | SnapshotMode::InitialOnly => !offset.snapshot_completed(),
            SnapshotMode::Always => true,
            SnapshotMode::NoData => false,
            // An interrupted snapshot is needed too: finish it.
            SnapshotMode::WhenNeeded => {
                offset.is_empty()
                    || slot.is_none()
                    || offset.snapshot.as_ref().is_some_and(|s| !s.completed)
            }
        };
    let registry = {
        let mut r = TypeRegistry::new();
        let oids: Vec<u32> = tables
            .iter()
            .flat_map(|t| t.columns.iter().map(|c| c.type_oid))
            .collect();
        r.load(&client, &oids)
            .await
            .map_err(SourceError::query("could not load column types"))?;
        r
    };

    let mut overlap = OverlapFilter::default();
    match &slot {
        None => {
            // A completed snapshot is a position too: the slot held every change since.
            let resumable = offset.lsn.is_some() || offset.snapshot_completed();
            if resumable && config.snapshot_mode != SnapshotMode::WhenNeeded {
                return Err(SourceError::Setup(format!(
                    "replication slot {:?} does not exist, but the connector has a stored offset at {}: the changes since then are gone\nHINT: set snapshot.mode=when_needed to take a new snapshot, or reset the connector's offsets",
                    config.slot_name,
                    offset
                        .lsn
                        .or(offset.snapshot.as_ref().map(|s| s.point))
                        .unwrap_or_default()
                )));
            }
            let created = match repl
                .create_logical_slot(&config.slot_name, false, need_snapshot)
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    if created_publication {
                        drop_publication(&client, &config).await;
                    }
                    return Err(e.into());
                }
            };
            tracing::info!(slot = %config.slot_name, point = %created.consistent_point, "replication slot created");
            durable.advance(created.consistent_point);
            // A new slot starts a new history: forget any progress of an older one.
            offset = PgOffset::default();
            if need_snapshot {
                offset.snapshot = Some(SnapshotProgress {
                    completed: false,
                    point: created.consistent_point,
                    tables: Default::default(),
                    ..Default::default()
                });
                let name = created.snapshot_name.clone().unwrap_or_default();
                let plan = plan(&tables, &config, &registry, &offset, false)?;
                let Some(outcome) = take_snapshot(
                    &config, &client, &name, plan, offset, &mut out, &shutdown, &metrics,
                )
                .await?
                else {
                    // Stopped mid-snapshot: its progress is checkpointed, nothing to stream.
                    return Ok(());
                };
                offset = outcome.offset;
            }
        }
        Some(row) => {
            if let Some(l) = row.confirmed_flush {
                durable.advance(l);
            }
            if need_snapshot {
                let Some(after) = snapshot_beside_slot(
                    &config,
                    &client,
                    &tables,
                    &registry,
                    offset,
                    &mut overlap,
                    &mut out,
                    &shutdown,
                    &metrics,
                )
                .await?
                else {
                    // Stopped mid-snapshot: its progress is checkpointed, nothing to stream.
                    return Ok(());
                };
                offset = after;
            }
        }
    }
    if config.snapshot_mode == SnapshotMode::InitialOnly {
        tracing::info!("snapshot.mode is initial_only: not streaming");
        return Ok(());
    }
    if config.signals.new_tables && !resolved.added.is_empty() && slot.is_some() {
        queue_new_tables(&mut offset, &resolved.added, &mut out).await?;
    }

    let mut session = (
        client,
        repl,
        Streaming {
            registry,
            offset,
            overlap,
            durable,
            status_interval,
        },
    );
    loop {
        let (client, repl, from) = session;
        let end = stream_changes(
            config.clone(),
            client,
            repl,
            from,
            &mut out,
            shutdown.clone(),
            metrics.clone(),
        )
        .await?;
        let StreamEnd::Blocking(stopped) = end else {
            return Ok(());
        };
        match blocking::read(&config, *stopped, &mut out, &shutdown, &metrics).await? {
            Some(next) => session = next,
            // Stopped mid-snapshot: its progress is checkpointed.
            None => return Ok(()),
        }
    }
}

/// `snapshot.new.tables=parallel`: the tables a config change added to the publication
/// join the incremental snapshot (one is started when none runs). The offset that says so
/// is made durable before streaming, so a crash cannot forget them (the publication,
/// already altered, would not show them as new again).
async fn queue_new_tables(
    offset: &mut PgOffset,
    added: &[crate::config::TableId],
    out: &mut BatchSender,
) -> Result<(), SourceError> {
    let progress = offset
        .incremental
        .get_or_insert_with(|| crate::offset::IncrementalProgress {
            id: format!("new-tables-{}", tributary_core::event::now_us()),
            ..Default::default()
        });
    for t in added {
        let table = crate::offset::IncrementalTable {
            schema: t.schema.clone(),
            table: t.name.clone(),
            ..Default::default()
        };
        if !progress.tables.contains(&table) {
            progress.tables.push(table);
        }
    }
    let names: Vec<String> = added.iter().map(ToString::to_string).collect();
    tracing::info!(tables = %names.join(","), "tables added to the publication: snapshotting them incrementally (snapshot.new.tables=parallel)");
    out.push_now(tributary_core::CaptureItem::Checkpoint {
        offset: offset.to_json(),
    })
    .await
    .map_err(|_| SourceError::Closed)
}

/// Snapshot plan: tables with their states; on resume, only those not complete.
fn plan(
    tables: &[TableMeta],
    config: &Arc<PostgresConnectorConfig>,
    registry: &TypeRegistry,
    offset: &PgOffset,
    resuming: bool,
) -> Result<Vec<SnapshotTable>, SourceError> {
    let mut out = Vec::new();
    let blocking = offset.blocking.as_ref().map(|b| &b.tables);
    for meta in tables {
        // A blocking snapshot reads its signal's tables; an initial one those of
        // `snapshot.include.collection.list` (the others are only streamed).
        let wanted = match blocking {
            Some(only) => only.contains(&meta.id.to_string()),
            None => config.snapshots(&meta.id),
        };
        if !wanted {
            continue;
        }
        let progress = offset
            .snapshot
            .as_ref()
            .and_then(|s| s.tables.get(&meta.id.to_string()));
        if progress.is_some_and(|p| p.is_complete()) {
            continue;
        }
        let wire: Vec<WireColumn> = meta.columns.iter().map(WireColumn::from).collect();
        let state = TableState::build(meta, &wire, ShapeSource::Jdbc, config, registry, 0)
            .map_err(SourceError::Setup)?;
        out.push(SnapshotTable {
            meta: meta.clone(),
            state: Arc::new(state),
            select: None,
            unchanged: None,
            collect_keys: resuming && progress.is_some_and(|p| !p.done.is_empty()),
        });
    }
    Ok(out)
}

/// Checks the server can do logical replication at all; returns `wal_sender_timeout`.
async fn preflight(client: &Client) -> Result<Option<std::time::Duration>, SourceError> {
    let row = client
        .query_one(
            "SELECT current_setting('wal_level'), current_setting('server_version_num')::int, \
                    (SELECT setting::bigint * CASE unit WHEN 's' THEN 1000 ELSE 1 END \
                       FROM pg_settings WHERE name = 'wal_sender_timeout')",
            &[],
        )
        .await
        .map_err(SourceError::query("could not read server settings"))?;
    let wal_level: String = row.get(0);
    let version: i32 = row.get(1);
    let sender_timeout_ms: Option<i64> = row.get(2);
    if wal_level != "logical" {
        return Err(SourceError::Setup(format!(
            "wal_level is {wal_level:?}, but logical replication needs \"logical\"\nHINT: run ALTER SYSTEM SET wal_level = logical and restart Postgres"
        )));
    }
    if version < 100000 {
        return Err(SourceError::Setup(format!(
            "Postgres {version} is too old: pgoutput needs Postgres 10 or later"
        )));
    }
    Ok(sender_timeout_ms.map(|ms| std::time::Duration::from_millis(ms.max(0) as u64)))
}

/// Reads `plan` inside the exported snapshot `name`; `None` when stopped before every
/// chunk was read (its progress is checkpointed in the offset, and nothing is streamed).
#[allow(clippy::too_many_arguments)]
async fn take_snapshot(
    config: &Arc<PostgresConnectorConfig>,
    client: &Client,
    name: &str,
    plan: Vec<SnapshotTable>,
    offset: PgOffset,
    out: &mut BatchSender,
    shutdown: &watch::Receiver<bool>,
    metrics: &SourceMetrics,
) -> Result<Option<snapshot::SnapshotOutcome>, SourceError> {
    let outcome = snapshot::run(
        config.clone(),
        client,
        name,
        plan,
        offset,
        out,
        shutdown.clone(),
        metrics,
    )
    .await?;
    Ok((!outcome.interrupted).then_some(outcome))
}

/// The slot exists, so its own snapshot is gone: exports a new one from a temporary slot,
/// reads it, and tells `overlap` what the stream must skip because the new snapshot holds
/// it. The offset after the snapshot, or `None` when stopped mid-snapshot.
#[allow(clippy::too_many_arguments)]
async fn snapshot_beside_slot(
    config: &Arc<PostgresConnectorConfig>,
    client: &Client,
    tables: &[TableMeta],
    registry: &TypeRegistry,
    mut offset: PgOffset,
    overlap: &mut OverlapFilter,
    out: &mut BatchSender,
    shutdown: &watch::Receiver<bool>,
    metrics: &SourceMetrics,
) -> Result<Option<PgOffset>, SourceError> {
    let resuming = offset.snapshot.as_ref().is_some_and(|s| !s.completed)
        && config.snapshot_mode != SnapshotMode::Always;
    let export = blocking::Export::create(config).await?;
    let point = export.point;
    if !resuming {
        // A new snapshot of every table supersedes a blocking one.
        offset.blocking = None;
        offset.snapshot = Some(SnapshotProgress {
            completed: false,
            point,
            ..Default::default()
        });
    }
    let plan = plan(tables, config, registry, &offset, resuming)?;
    overlap.until = point;
    for t in &plan {
        let started = offset
            .snapshot
            .as_ref()
            .and_then(|s| s.tables.get(&t.meta.id.to_string()))
            .is_some_and(|p| !p.done.is_empty());
        if !started {
            overlap.tables.insert(t.meta.oid, OverlapScope::All);
        }
    }
    tracing::info!(resuming, %point, "snapshot with a temporary slot");
    let Some(outcome) = take_snapshot(
        config,
        client,
        &export.name,
        plan,
        offset,
        out,
        shutdown,
        metrics,
    )
    .await?
    else {
        return Ok(None);
    };
    offset = outcome.offset;
    for (oid, keys) in outcome.keys {
        overlap
            .tables
            .entry(oid)
            .or_insert(OverlapScope::Keys(keys));
    }
    drop(export);
    Ok(Some(offset))
}
