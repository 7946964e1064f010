//! The connector's replication slot before streaming: whether it exists, is this
//! connector's (pgoutput, the right database), and is free. A slot another process holds
//! is looked at again `slot.max.retries` times, `slot.retry.delay.ms` apart, as Debezium
//! retries it, before the connector fails naming the process. A slot taken between that
//! look and `START_REPLICATION` (during a snapshot, say) is waited for the same way.
//!
//! A slot Postgres invalidated (`wal_status` `lost`: it held more WAL than
//! `max_slot_wal_keep_size` allows) cannot be streamed from: the changes since the offset
//! are gone. With `snapshot.mode=when_needed` it is dropped and the connector starts as
//! without a slot (a new slot, a new snapshot); otherwise the connector fails, naming the
//! consequence and both ways forward.

use tokio::sync::watch;
use tokio_postgres::Client;
use tributary_core::Lsn;

use crate::config::{PostgresConnectorConfig, SnapshotMode};
use crate::error::SourceError;
use crate::replication::{ReplicationConnection, ReplicationStream, StatusConfig};

/// The slot once no other process holds it (`None`: it does not exist yet), or `Stopped`
/// when a stop came while waiting.
pub(super) enum SlotState {
    Free(Option<SlotRow>),
    Stopped,
}

/// Reads the connector's slot, waiting while another process holds it.
pub(super) async fn free_slot(
    client: &Client,
    config: &PostgresConnectorConfig,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<SlotState, SourceError> {
    let mut retries = 0;
    loop {
        let mut slot = slot_row(client, &config.slot_name).await?;
        if slot
            .as_ref()
            .is_some_and(|s| s.wal_status.as_deref() == Some("lost"))
        {
            lost_slot(client, config, slot.as_ref()).await?;
            slot = None;
        }
        let Some(pid) = slot.as_ref().and_then(|s| s.active_pid) else {
            if let Some(s) = &slot {
                check_slot(config, s)?;
            }
            return Ok(SlotState::Free(slot));
        };
        if !wait_for_slot(config, Some(pid), &mut retries, shutdown).await? {
            return Ok(SlotState::Stopped);
        }
    }
}

/// A lost slot: dropped under `when_needed`, else the connector fails.
async fn lost_slot(
    client: &Client,
    config: &PostgresConnectorConfig,
    slot: Option<&SlotRow>,
) -> Result<(), SourceError> {
    let name = &config.slot_name;
    if config.snapshot_mode != SnapshotMode::WhenNeeded {
        let since = slot
            .and_then(|s| s.confirmed_flush)
            .map_or_else(String::new, |lsn| format!(" after {lsn}"));
        return Err(SourceError::Setup(format!(
            "replication slot {name:?} was invalidated by Postgres (wal_status lost): it held more WAL than max_slot_wal_keep_size allows, so the changes{since} are gone and the connector cannot resume without missing them\nHINT: set snapshot.mode=when_needed (PUT /connectors/{0}/config) to drop the lost slot, create a new one and snapshot every table again; or stop the connector, reset its offsets (DELETE /connectors/{0}/offsets) and resume it, which does the same. Rows deleted in the gap stay in the topics until deleted again. To keep it from happening again, raise max_slot_wal_keep_size or watch tributary_slot_safe_wal_size_bytes",
            config.name
        )));
    }
    tracing::warn!(slot = %name, "replication slot was invalidated by Postgres (wal_status lost); snapshot.mode=when_needed: dropping it and taking a new snapshot");
    client
        .execute("SELECT pg_drop_replication_slot($1)", &[name])
        .await
        .map_err(SourceError::query(
            "could not drop the lost replication slot",
        ))?;
    Ok(())
}

/// `START_REPLICATION` on the slot; when another process took it since [`free_slot`]
/// looked (55006), a new connection tries again as `free_slot` does. `None`: a stop came.
pub(super) async fn start_replication(
    client: &Client,
    repl: ReplicationConnection,
    config: &PostgresConnectorConfig,
    start: Lsn,
    options: &[(&str, String)],
    status: StatusConfig,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<Option<ReplicationStream>, SourceError> {
    let mut retries = 0;
    let mut repl = repl;
    loop {
        match repl
            .start_replication(&config.slot_name, start, options, status.clone())
            .await
        {
            Err(e) if e.code() == Some("55006") => {
                let holder = slot_row(client, &config.slot_name).await?;
                let pid = holder.and_then(|s| s.active_pid);
                if !wait_for_slot(config, pid, &mut retries, shutdown).await? {
                    return Ok(None);
                }
                repl = ReplicationConnection::connect(&config.connect).await?;
            }
            other => return Ok(Some(other?)),
        }
    }
}

/// One more look at a slot another process (`pid`, when known) holds, after
/// `slot.retry.delay.ms`; an error once `slot.max.retries` looks are spent. `false`: a
/// stop came while waiting.
async fn wait_for_slot(
    config: &PostgresConnectorConfig,
    pid: Option<i32>,
    retries: &mut u32,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<bool, SourceError> {
    let delay = config.slot_retry_delay.as_millis();
    let slot = &config.slot_name;
    if *retries >= config.slot_max_retries {
        let (holder, terminate) = match pid {
            Some(pid) => (
                format!(" (pid {pid})"),
                format!("SELECT pg_terminate_backend({pid})"),
            ),
            None => (
                String::new(),
                format!(
                    "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '{}'",
                    slot.replace('\'', "''")
                ),
            ),
        };
        return Err(SourceError::Setup(format!(
            "replication slot {slot:?} is in use by another process{holder}, still after {retries} retries {delay}ms apart (slot.max.retries, slot.retry.delay.ms)\nHINT: stop the other consumer of the slot ({terminate} ends it), or give this connector its own slot.name"
        )));
    }
    *retries += 1;
    tracing::warn!(%slot, ?pid, retry = *retries, of = config.slot_max_retries, "replication slot in use by another process; looking again in {delay}ms");
    tokio::select! {
        () = tokio::time::sleep(config.slot_retry_delay) => Ok(true),
        _ = shutdown.wait_for(|s| *s) => Ok(false),
    }
}

/// The slot as `pg_replication_slots` shows it.
#[derive(Debug)]
pub(super) struct SlotRow {
    plugin: Option<String>,
    database: Option<String>,
    active_pid: Option<i32>,
    pub(super) confirmed_flush: Option<Lsn>,
    /// `wal_status` (Postgres 13+).
    wal_status: Option<String>,
}

async fn slot_row(client: &Client, slot: &str) -> Result<Option<SlotRow>, SourceError> {
    let row = client
        .query_opt(
            "SELECT plugin::text, database::text, active_pid, confirmed_flush_lsn::text, \
                    to_jsonb(s) ->> 'wal_status' \
             FROM pg_replication_slots s WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .map_err(SourceError::query("could not read replication slots"))?;
    Ok(row.map(|r| SlotRow {
        plugin: r.get(0),
        database: r.get(1),
        active_pid: r.get(2),
        confirmed_flush: r.get::<_, Option<String>>(3).and_then(|s| s.parse().ok()),
        wal_status: r.get(4),
    }))
}

fn check_slot(config: &PostgresConnectorConfig, s: &SlotRow) -> Result<(), SourceError> {
    if s.plugin.as_deref() != Some("pgoutput") {
        return Err(SourceError::Setup(format!(
            "replication slot {:?} uses plugin {:?}, not pgoutput\nHINT: drop the slot or set another slot.name",
            config.slot_name,
            s.plugin.as_deref().unwrap_or("none (a physical slot)")
        )));
    }
    if s.database.as_deref() != Some(config.connect.dbname.as_str()) {
        return Err(SourceError::Setup(format!(
            "replication slot {:?} belongs to database {:?}, not {:?}\nHINT: set another slot.name",
            config.slot_name,
            s.database.as_deref().unwrap_or(""),
            config.connect.dbname
        )));
    }
    Ok(())
}
