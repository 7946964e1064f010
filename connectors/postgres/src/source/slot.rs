//! The connector's replication slot before streaming: whether it exists, is this
//! connector's (pgoutput, the right database), and is free. A slot another process holds
//! is looked at again `slot.max.retries` times, `slot.retry.delay.ms` apart, as Debezium
//! retries it, before the connector fails naming the process. A slot taken between that
//! look and `START_REPLICATION` (during a snapshot, say) is waited for the same way.

use tokio::sync::watch;
use tokio_postgres::Client;
use tributary_core::Lsn;

use crate::config::PostgresConnectorConfig;
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
        let slot = slot_row(client, &config.slot_name).await?;
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
}

async fn slot_row(client: &Client, slot: &str) -> Result<Option<SlotRow>, SourceError> {
    let row = client
        .query_opt(
            "SELECT plugin::text, database::text, active_pid, confirmed_flush_lsn::text \
             FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .map_err(SourceError::query("could not read replication slots"))?;
    Ok(row.map(|r| SlotRow {
        plugin: r.get(0),
        database: r.get(1),
        active_pid: r.get(2),
        confirmed_flush: r.get::<_, Option<String>>(3).and_then(|s| s.parse().ok()),
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
