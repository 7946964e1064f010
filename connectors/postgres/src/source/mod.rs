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
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::watch;
use tokio_postgres::Client;
use tributary_core::{BatchSender, DurableLsn, Lsn, SourceMetrics};

use crate::catalog::{self, TableMeta};
use crate::config::{AutocreateMode, PostgresConnectorConfig, SnapshotMode, quote_ident};
use crate::conn::connect_query;
use crate::error::SourceError;
use crate::offset::{PgOffset, SnapshotProgress};
use crate::replication::{
    ReplicationConnection, ReplicationEvent, ReplicationStream, StatusConfig,
};
use crate::snapshot::{self, SnapshotTable};
use crate::stream::{ChangeStream, OverlapFilter, OverlapScope};
use crate::table::{TableState, WireColumn};
use crate::types::{ShapeSource, TypeRegistry};

mod slot;

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
    let mut tables = catalog::load_tables(&client, &config)
        .await
        .map_err(SourceError::query("could not list tables"))?;
    if let Some(exceeded) = config.guardrail.exceeded(tables.len()) {
        if config.guardrail.fail {
            return Err(SourceError::Setup(format!(
                "{exceeded}\nHINT: raise guardrail.collections.max, narrow table.include.list, or set guardrail.collections.limit.action=warn"
            )));
        }
        tracing::warn!("{exceeded}");
    }
    let publication = catalog::publication(&client, &config.publication_name)
        .await
        .map_err(SourceError::query("could not read the publication"))?;
    match &publication {
        Some(published) => {
            let filtered = config.publication_autocreate == AutocreateMode::Filtered
                && !published.all_tables
                && !tables.is_empty();
            let differs = filtered
                && (tables.iter().any(|t| !published.tables.contains(&t.oid)) || {
                    let oids: Vec<u32> = tables.iter().map(|t| t.oid).collect();
                    catalog::publishes_others(&client, &config.publication_name, &oids)
                        .await
                        .map_err(SourceError::query("could not read the publication"))?
                });
            if differs {
                // As Debezium does: the publication follows the filters.
                set_publication_tables(&client, &config, &tables).await?;
            } else {
                tables.retain(|t| published.tables.contains(&t.oid));
            }
            if published.via_root != config.publish_via_partition_root {
                config = align_via_root(&client, config, published.via_root).await?;
            }
        }
        None if config.publication_autocreate == AutocreateMode::Disabled => {
            return Err(SourceError::Setup(format!(
                "publication {:?} does not exist and publication.autocreate.mode is disabled\nHINT: run CREATE PUBLICATION {} FOR TABLE …, or set publication.autocreate.mode to filtered or all_tables",
                config.publication_name,
                quote_ident(&config.publication_name)
            )));
        }
        None => {}
    }
    crate::replica_identity::apply(&client, &config.replica_identities, &mut tables).await?;
    for t in &tables {
        if let Some(problem) = TableState::identity_problem(t, &config) {
            return Err(SourceError::Setup(problem));
        }
    }
    let slot = match slot::free_slot(&client, &config, &mut shutdown).await? {
        slot::SlotState::Free(slot) => slot,
        slot::SlotState::Stopped => return Ok(()),
    };

    // Create what is missing.
    let mut repl = ReplicationConnection::connect(&config.connect).await?;
    let created_publication = publication.is_none();
    if created_publication {
        create_publication(&client, &config, &tables).await?;
    }
    let need_snapshot = match config.snapshot_mode {
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
                });
                let name = created.snapshot_name.clone().unwrap_or_default();
                let plan = plan(&tables, &config, &registry, &offset, false)?;
                let outcome = snapshot::run(
                    config.clone(),
                    &client,
                    &name,
                    plan,
                    offset,
                    &mut out,
                    shutdown.clone(),
                    &metrics,
                )
                .await?;
                if outcome.interrupted {
                    // Stopped mid-snapshot: its progress is checkpointed, nothing to stream.
                    return Ok(());
                }
                offset = outcome.offset;
            }
        }
        Some(row) => {
            if let Some(l) = row.confirmed_flush {
                durable.advance(l);
            }
            if need_snapshot {
                // The slot exists, so its own snapshot is gone: export a new one from a
                // temporary slot and skip, in the stream, what the new snapshot holds.
                let resuming = offset.snapshot.as_ref().is_some_and(|s| !s.completed)
                    && config.snapshot_mode != SnapshotMode::Always;
                let mut temp = ReplicationConnection::connect(&config.connect).await?;
                let temp_slot = format!("{}_snap_{}", config.slot_name, std::process::id());
                let created = temp.create_logical_slot(&temp_slot, true, true).await?;
                let point = created.consistent_point;
                if !resuming {
                    offset.snapshot = Some(SnapshotProgress {
                        completed: false,
                        point,
                        tables: Default::default(),
                    });
                }
                let plan = plan(&tables, &config, &registry, &offset, resuming)?;
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
                let name = created.snapshot_name.clone().unwrap_or_default();
                tracing::info!(resuming, %point, "snapshot with a temporary slot");
                let outcome = snapshot::run(
                    config.clone(),
                    &client,
                    &name,
                    plan,
                    offset,
                    &mut out,
                    shutdown.clone(),
                    &metrics,
                )
                .await?;
                if outcome.interrupted {
                    // Stopped mid-snapshot: its progress is checkpointed, nothing to stream.
                    return Ok(());
                }
                offset = outcome.offset;
                for (oid, keys) in outcome.keys {
                    overlap
                        .tables
                        .entry(oid)
                        .or_insert(OverlapScope::Keys(keys));
                }
                drop(temp);
            }
        }
    }
    if config.snapshot_mode == SnapshotMode::InitialOnly {
        tracing::info!("snapshot.mode is initial_only: not streaming");
        return Ok(());
    }

    // Stream.
    let streaming = config.streaming && repl.server_version_num() >= 140000;
    let mut options = vec![
        (
            "proto_version",
            if streaming { "2" } else { "1" }.to_string(),
        ),
        ("publication_names", quote_ident(&config.publication_name)),
    ];
    if streaming {
        options.push(("streaming", "on".to_string()));
    }
    if repl.server_version_num() >= 140000 {
        // Logical decoding messages (Postgres 14+), emitted as Debezium's `op: m` events.
        options.push(("messages", "true".to_string()));
    }
    let start = offset.lsn.unwrap_or(Lsn::ZERO);
    let status = StatusConfig {
        durable: durable.clone(),
        interval: status_interval,
    };
    let started = slot::start_replication(
        &client,
        repl,
        &config,
        start,
        &options,
        status,
        &mut shutdown,
    );
    let Some(mut stream) = started.await? else {
        return Ok(());
    };
    tracing::info!(slot = %config.slot_name, %start, proto = if streaming { 2 } else { 1 }, "streaming started");
    let mut changes =
        ChangeStream::new(config.clone(), client, registry, offset, overlap).with_metrics(metrics);
    // On shutdown, the transaction being delivered is finished first: its first events
    // may already be downstream, and a restart (from the last commit) would repeat them.
    let mut stopping = false;
    loop {
        tokio::select! {
            biased;
            _ = shutdown.changed(), if !stopping => {
                if !changes.in_transaction() {
                    break;
                }
                stopping = true;
            }
            ev = stream.next() => match ev? {
                Some(ReplicationEvent::XLogData { wal_start, data, .. }) => {
                    let handled = changes.handle(wal_start, data, &mut out);
                    keeping_alive(&mut stream, status_interval, handled).await?;
                    if stopping && !changes.in_transaction() {
                        break;
                    }
                }
                Some(ReplicationEvent::Keepalive { wal_end }) => {
                    if let Some(item) = changes.progress(wal_end) {
                        let pushed = async {
                            out.push_now(item).await.map_err(|_| SourceError::Closed)
                        };
                        keeping_alive(&mut stream, status_interval, pushed).await?;
                    }
                }
                None => {
                    return Err(SourceError::Setup("the server ended replication".into()));
                }
            },
        }
    }
    tracing::info!("stopping replication");
    let _ = stream.send_status(false).await;
    stream.stop().await?;
    if config.slot_drop_on_stop {
        let mut repl = ReplicationConnection::connect(&config.connect).await?;
        repl.simple_query(&format!(
            "DROP_REPLICATION_SLOT {} WAIT",
            quote_ident(&config.slot_name)
        ))
        .await?;
        tracing::info!(slot = %config.slot_name, "replication slot dropped (slot.drop.on.stop)");
    }
    Ok(())
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
    for meta in tables {
        // `snapshot.include.collection.list`: other tables are only streamed.
        if !config.snapshots(&meta.id) {
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
            collect_keys: resuming && progress.is_some_and(|p| !p.done.is_empty()),
        });
    }
    Ok(out)
}

/// Runs `work`, which may wait for room downstream (a sink stalled on its broker), while
/// sending status updates every `every`: the server hears from us and does not drop the
/// connection after `wal_sender_timeout`. The updates report only what is durable.
async fn keeping_alive<T>(
    stream: &mut ReplicationStream,
    every: Duration,
    work: impl Future<Output = Result<T, SourceError>>,
) -> Result<T, SourceError> {
    if every.is_zero() {
        return work.await;
    }
    let mut work = std::pin::pin!(work);
    // Most calls finish at once: no timer for those.
    if let Some(done) = work.as_mut().now_or_never() {
        return done;
    }
    loop {
        tokio::select! {
            done = &mut work => return done,
            () = tokio::time::sleep(every) => stream.send_status(false).await?,
        }
    }
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

async fn create_publication(
    client: &Client,
    config: &PostgresConnectorConfig,
    tables: &[TableMeta],
) -> Result<(), SourceError> {
    let name = quote_ident(&config.publication_name);
    // Debezium's WITH clause: only `publish_via_partition_root`, when set.
    let with = if config.publish_via_partition_root {
        " WITH (publish_via_partition_root = true)"
    } else {
        ""
    };
    let sql = match config.publication_autocreate {
        AutocreateMode::AllTables => format!("CREATE PUBLICATION {name} FOR ALL TABLES{with}"),
        _ if tables.is_empty() => format!("CREATE PUBLICATION {name}{with}"),
        _ => {
            let list: Vec<String> = tables.iter().map(|t| t.id.quoted()).collect();
            format!(
                "CREATE PUBLICATION {name} FOR TABLE {}{with}",
                list.join(", ")
            )
        }
    };
    client
        .batch_execute(&sql)
        .await
        .map_err(SourceError::query("could not create the publication"))?;
    tracing::info!(publication = %config.publication_name, "publication created");
    Ok(())
}

/// With `publication.autocreate.mode=filtered`, an existing publication that does not
/// publish every table the filters select is set to exactly those tables (Debezium's
/// `ALTER PUBLICATION … SET TABLE` on start). Rows the added tables held before are not
/// read (as in Debezium): only their changes from now on are captured.
async fn set_publication_tables(
    client: &Client,
    config: &PostgresConnectorConfig,
    tables: &[TableMeta],
) -> Result<(), SourceError> {
    let list: Vec<String> = tables.iter().map(|t| t.id.quoted()).collect();
    let sql = format!(
        "ALTER PUBLICATION {} SET TABLE {}",
        quote_ident(&config.publication_name),
        list.join(", ")
    );
    client
        .batch_execute(&sql)
        .await
        .map_err(SourceError::query(
            "could not set the publication's tables to those the filters select (publication.autocreate.mode=filtered)",
        ))?;
    let names: Vec<String> = tables.iter().map(|t| t.id.to_string()).collect();
    tracing::info!(publication = %config.publication_name, tables = %names.join(","), "publication set to the tables the filters select");
    Ok(())
}

/// An existing publication whose `publish_via_partition_root` differs from the connector's
/// `publish.via.partition.root`: with `publication.autocreate.mode=filtered` (the connector
/// manages the publication) it is altered to match; otherwise `true` is an error naming
/// the fix, and `false` (the default, as if unset) follows the publication. Returns the
/// config the stream runs with (its `publish_via_partition_root` is the publication's).
async fn align_via_root(
    client: &Client,
    config: Arc<PostgresConnectorConfig>,
    published: bool,
) -> Result<Arc<PostgresConnectorConfig>, SourceError> {
    let name = quote_ident(&config.publication_name);
    let value = config.publish_via_partition_root;
    let alter = format!("ALTER PUBLICATION {name} SET (publish_via_partition_root = {value})");
    if config.publication_autocreate == AutocreateMode::Filtered {
        client
            .batch_execute(&alter)
            .await
            .map_err(SourceError::query(
                "could not set publish_via_partition_root on the publication (publish.via.partition.root)",
            ))?;
        tracing::info!(publication = %config.publication_name, value, "publication altered: publish_via_partition_root");
        return Ok(config);
    }
    if value {
        return Err(SourceError::Setup(format!(
            "publish.via.partition.root is {value}, but publication {:?} has publish_via_partition_root = {published}, and the connector alters an existing publication only with publication.autocreate.mode=filtered\nHINT: run {alter}, or set publish.via.partition.root to {published}",
            config.publication_name
        )));
    }
    tracing::info!(publication = %config.publication_name, published, "following the publication's publish_via_partition_root (publish.via.partition.root is false)");
    let mut followed = (*config).clone();
    followed.publish_via_partition_root = published;
    Ok(Arc::new(followed))
}

async fn drop_publication(client: &Client, config: &PostgresConnectorConfig) {
    let sql = format!(
        "DROP PUBLICATION IF EXISTS {}",
        quote_ident(&config.publication_name)
    );
    if let Err(e) = client.batch_execute(&sql).await {
        tracing::warn!(error = %e, "could not drop the publication created by this run");
    }
}
