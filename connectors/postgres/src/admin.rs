//! Operations the REST API runs on a connector's database while the connector is not
//! streaming: checking a config's connection before it is saved (`…/config/validate`),
//! reading and moving the replication slot when an operator alters a stopped connector's
//! offset, and dropping the slot and publication when a connector is deleted.
//!
//! Every operation opens its own short-lived query connection, with the connect timeout
//! bounded by [`ADMIN_TIMEOUT`] so an API request never hangs on an unreachable host.
//! Errors say whether the request was wrong ([`AdminError::Rejected`], an HTTP 400) or the
//! database failed ([`AdminError::Database`], an HTTP 500).

use std::time::Duration;

use tokio_postgres::Client;
use tributary_core::Lsn;

use crate::config::{ConfigError, ConfigErrors, PostgresConnectorConfig, quote_ident};
use crate::conn::{ConnError, ConnectParams, connect_query, startup_hint};
use crate::error::SourceError;

/// Upper bound on connecting for an admin operation (the configured
/// `database.connect.timeout.ms` applies when it is shorter).
pub const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How long [`drop_slot`] waits for an active slot to be released.
const RELEASE_WAIT: Duration = Duration::from_secs(10);

/// Why an admin operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The request cannot be honoured as asked (HTTP 400); the message says why and what
    /// to do instead.
    #[error("{0}")]
    Rejected(String),
    /// The database could not be reached or failed the operation (HTTP 500).
    #[error(transparent)]
    Database(#[from] SourceError),
}

impl From<ConnError> for AdminError {
    fn from(e: ConnError) -> Self {
        AdminError::Database(e.into())
    }
}

/// The connector's replication slot as `pg_replication_slots` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotInfo {
    /// The position up to which the consumer confirmed changes (`None` for a physical slot).
    pub confirmed_flush: Option<Lsn>,
    /// The backend reading the slot, if one is.
    pub active_pid: Option<i32>,
    /// WAL bytes flushed since `confirmed_flush`: what the slot holds back.
    pub lag_bytes: Option<i64>,
    /// `wal_status` (Postgres 13+): `reserved`, `extended`, `unreserved` (the next
    /// checkpoint may remove WAL the slot needs) or `lost` (it did: the slot is useless).
    pub wal_status: Option<String>,
    /// `safe_wal_size` (Postgres 13+): bytes of WAL that can still be written before the
    /// slot is in danger of losing what it needs; `None` without a limit.
    pub safe_wal_size: Option<i64>,
    /// `max_slot_wal_keep_size` in bytes; `None`: no limit (`-1`, or before Postgres 13).
    pub max_keep_bytes: Option<i64>,
    /// WAL bytes flushed since the slot's `restart_lsn`: what Postgres keeps on disk for
    /// it (more than `lag_bytes` while a transaction that began earlier is still open).
    pub retained_bytes: Option<i64>,
    /// The oldest open transaction that wrote (any database's: logical decoding waits for
    /// all of them): its backend's pid and its age in seconds.
    pub oldest_transaction: Option<(i32, i64)>,
}

/// Checks that the connector could connect and replicate: the server is reachable, the
/// credentials and database are right, `wal_level` is `logical`, and the user may
/// replicate. Each problem names the property to fix.
pub async fn check_connection(config: &PostgresConnectorConfig) -> Result<(), ConfigErrors> {
    let params = bounded(&config.connect);
    let problem = |field: &str, message: String| {
        ConfigErrors(vec![ConfigError {
            field: field.into(),
            message,
        }])
    };
    let client = connect_query(&params)
        .await
        .map_err(|e| ConfigErrors(vec![connect_problem(&params, &e)]))?;
    let checks = client.query_one(
        "SELECT current_setting('wal_level'), current_setting('server_version_num')::int, \
                r.rolreplication OR r.rolsuper OR EXISTS ( \
                  SELECT 1 FROM pg_roles b \
                   WHERE b.rolname IN ('rds_replication', 'rds_superuser') \
                     AND pg_has_role(r.oid, b.oid, 'member')) \
           FROM pg_roles r WHERE r.rolname = current_user",
        &[],
    );
    let row = match tokio::time::timeout(ADMIN_TIMEOUT, checks).await {
        Ok(Ok(row)) => row,
        Ok(Err(e)) => {
            let e = SourceError::query("could not read the server's settings")(e);
            return Err(problem("database.hostname", e.to_string()));
        }
        Err(_) => {
            return Err(problem(
                "database.hostname",
                format!(
                    "the server at {} did not answer a query within {}s. Hint: check that it is not overloaded",
                    params.addr(),
                    ADMIN_TIMEOUT.as_secs()
                ),
            ));
        }
    };
    let wal_level: String = row.get(0);
    let version: i32 = row.get(1);
    let may_replicate: bool = row.get(2);
    let mut errors = Vec::new();
    if wal_level != "logical" {
        errors.push(ConfigError {
            field: "database.hostname".into(),
            message: format!(
                "wal_level is {wal_level:?} on the server at {}, but logical replication needs \"logical\". Hint: run ALTER SYSTEM SET wal_level = logical and restart Postgres",
                params.addr()
            ),
        });
    }
    if version < 100_000 {
        errors.push(ConfigError {
            field: "database.hostname".into(),
            message: format!(
                "the server at {} runs Postgres {version}, but pgoutput needs Postgres 10 or later",
                params.addr()
            ),
        });
    }
    if !may_replicate {
        errors.push(ConfigError {
            field: "database.user".into(),
            message: format!(
                "user {:?} may not replicate: it has neither the REPLICATION nor the SUPERUSER attribute. Hint: run ALTER ROLE {} REPLICATION (on Amazon RDS: GRANT rds_replication TO {})",
                params.user,
                quote_ident(&params.user),
                quote_ident(&params.user)
            ),
        });
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ConfigErrors(errors))
    }
}

/// The connector's slot (`slot.name`), or `None` when it does not exist.
pub async fn slot_info(config: &PostgresConnectorConfig) -> Result<Option<SlotInfo>, SourceError> {
    let client = connect(config).await?;
    read_slot(&client, &config.slot_name)
        .await
        .map(|s| s.map(|s| s.info))
}

/// Moves the slot forward to `to`, for altering a stopped connector's offset. The slot can
/// only move forward, to a position the server has written, and only while no one reads it.
///
/// `resumes_from` is the LSN of the connector's stored offset. The slot runs ahead of it when
/// the stream acknowledged WAL with nothing to publish (other tables, empty transactions),
/// so any `to` between the two resumes exactly where the connector itself would: it is
/// accepted and the slot stays where it is.
pub async fn advance_slot(
    config: &PostgresConnectorConfig,
    to: Lsn,
    resumes_from: Option<Lsn>,
) -> Result<(), AdminError> {
    let client = connect(config).await?;
    let slot = &config.slot_name;
    let Some(found) = read_slot(&client, slot).await? else {
        return Err(AdminError::Rejected(format!(
            "replication slot {slot:?} does not exist, so the connector cannot resume from {to}: the changes since its offset are gone. Hint: reset the offsets instead (DELETE /connectors/{}/offsets) to take a new snapshot",
            config.name
        )));
    };
    if let Some(pid) = found.info.active_pid {
        return Err(in_use(slot, pid));
    }
    if let Some(db) = found.database.as_deref()
        && db != config.connect.dbname
    {
        return Err(AdminError::Rejected(format!(
            "replication slot {slot:?} belongs to database {db:?}, not {:?}, so it is not this connector's slot. Hint: check slot.name and database.dbname",
            config.connect.dbname
        )));
    }
    let Some(confirmed) = found.info.confirmed_flush else {
        return Err(AdminError::Rejected(format!(
            "replication slot {slot:?} is a physical slot, not the connector's logical slot. Hint: set another slot.name"
        )));
    };
    if to < confirmed && resumes_from.is_some_and(|from| from <= to) {
        return Ok(());
    }
    if to < confirmed {
        return Err(AdminError::Rejected(format!(
            "replication slot {slot:?} has already confirmed {confirmed}; Postgres cannot replay changes before it, so the offset cannot move back to {to}. Hint: reset the offsets (DELETE /connectors/{}/offsets) to take a new snapshot",
            config.name
        )));
    }
    if to == confirmed {
        return Ok(());
    }
    if to > found.wal_end {
        return Err(AdminError::Rejected(format!(
            "{to} is beyond the server's current WAL position {}: an offset cannot point at changes not yet written. Hint: use an lsn at or before {}",
            found.wal_end, found.wal_end
        )));
    }
    let advanced = client
        .query_one(
            "SELECT end_lsn::text FROM pg_replication_slot_advance($1, $2::text::pg_lsn)",
            &[slot, &to.to_string()],
        )
        .await;
    match advanced {
        Ok(row) => {
            let end: Option<String> = row.get(0);
            tracing::info!(slot, from = %confirmed, to = %end.unwrap_or_default(), "replication slot advanced");
            Ok(())
        }
        Err(e) => Err(refused_in_use(slot, &e).unwrap_or_else(|| {
            SourceError::query("could not advance the replication slot")(e).into()
        })),
    }
}

/// Drops the connector's slot; `false` when it did not exist. A slot in use is waited for
/// (about 10 s) to be released, then the error names the process holding it.
pub async fn drop_slot(config: &PostgresConnectorConfig) -> Result<bool, AdminError> {
    drop_slot_within(config, RELEASE_WAIT).await
}

async fn drop_slot_within(
    config: &PostgresConnectorConfig,
    wait: Duration,
) -> Result<bool, AdminError> {
    let client = connect(config).await?;
    let slot = &config.slot_name;
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let Some(found) = read_slot(&client, slot).await? else {
            return Ok(false);
        };
        match found.info.active_pid {
            None => {}
            Some(pid) if tokio::time::Instant::now() >= deadline => return Err(in_use(slot, pid)),
            Some(_) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        }
        match client
            .execute("SELECT pg_drop_replication_slot($1)", &[slot])
            .await
        {
            Ok(_) => {
                tracing::info!(slot, "replication slot dropped");
                return Ok(true);
            }
            // Dropped meanwhile by someone else.
            Err(e) if e.code().is_some_and(|c| c.code() == "42704") => return Ok(false),
            // Taken meanwhile: wait for it again.
            Err(e) if e.code().is_some_and(|c| c.code() == "55006") => {
                if tokio::time::Instant::now() >= deadline {
                    return Err(refused_in_use(slot, &e).unwrap_or_else(|| {
                        SourceError::query("could not drop the replication slot")(e).into()
                    }));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => {
                return Err(SourceError::query("could not drop the replication slot")(e).into());
            }
        }
    }
}

/// Drops the connector's publication; `false` when it did not exist.
/// `POST /connectors/{name}/signals`: the REST channel. The signal is checked, then
/// written to the signal table (its id marked as REST's), so it reaches the stream in
/// commit order and is durable whether or not the connector is running now. Returns the
/// id written.
pub async fn send_signal(
    config: &PostgresConnectorConfig,
    body: &serde_json::Value,
) -> Result<String, AdminError> {
    use crate::incremental::{Channel, Signal};
    if !config.signals.rest {
        return Err(AdminError::Rejected(
            "the rest signal channel is not enabled: add rest to signal.enabled.channels".into(),
        ));
    }
    if config.signals.read_only {
        return Err(AdminError::Rejected(
            "read.only=true: the rest channel hands signals on by writing them to the signal table, which a read-only connector does not do; insert the signal into the signal table as a user allowed to, or set read.only=false".into(),
        ));
    }
    let signal = Signal::from_json(body).map_err(AdminError::Rejected)?;
    let id = Channel::Rest.mark(&signal.id);
    if id.len() > 42 {
        return Err(AdminError::Rejected(format!(
            "id {:?} is too long: the signal table's id holds 42 characters, some of them for the REST channel's mark",
            signal.id
        )));
    }
    SignalWriter::default().write(config, &id, body).await?;
    tracing::info!(connector = %config.name, signal = %signal.id, "signal written to the signal table");
    Ok(signal.id)
}

/// Writes signals to the signal table, keeping its connection between signals.
#[derive(Default)]
pub struct SignalWriter(Option<Client>);

impl SignalWriter {
    /// [`write_signal`], connecting first when needed; a failure drops the connection.
    pub async fn write(
        &mut self,
        config: &PostgresConnectorConfig,
        id: &str,
        body: &serde_json::Value,
    ) -> Result<(), AdminError> {
        if self.0.is_none() {
            self.0 = Some(connect(config).await?);
        }
        let Some(client) = &self.0 else {
            return Ok(());
        };
        let written = write_signal(client, config, id, body).await;
        if written.is_err() {
            self.0 = None;
        }
        written
    }
}

/// Writes a signal (`{"type", "data"}` of `body`) to the signal table under `id`, unless a
/// row with that id is there already (a channel that hands a signal on twice, after a
/// crash, writes it once).
async fn write_signal(
    client: &Client,
    config: &PostgresConnectorConfig,
    id: &str,
    body: &serde_json::Value,
) -> Result<(), AdminError> {
    let Some(table) = &config.signals.table else {
        return Err(AdminError::Rejected(
            "signals need a signal table: set signal.data.collection (a table with columns id varchar(42), type varchar(32), data varchar(2048))".into(),
        ));
    };
    let kind = body
        .get("type")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    let data = match body.get("data") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    let t = table.quoted();
    client
        .execute(
            &format!(
                "INSERT INTO {t} SELECT $1::text, $2::text, $3::text WHERE NOT EXISTS (SELECT 1 FROM {t} WHERE id = $1::text)"
            ),
            &[&id, &kind, &data],
        )
        .await
        .map_err(SourceError::query("could not write the signal to the signal table"))?;
    Ok(())
}

pub async fn drop_publication(config: &PostgresConnectorConfig) -> Result<bool, AdminError> {
    let client = connect(config).await?;
    let name = &config.publication_name;
    let exists: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)",
            &[name],
        )
        .await
        .map_err(SourceError::query("could not read publications"))?
        .get(0);
    if !exists {
        return Ok(false);
    }
    client
        .batch_execute(&format!("DROP PUBLICATION IF EXISTS {}", quote_ident(name)))
        .await
        .map_err(SourceError::query("could not drop the publication"))?;
    tracing::info!(publication = %name, "publication dropped");
    Ok(true)
}

/// The slot and the server's WAL position, read together.
struct SlotRow {
    info: SlotInfo,
    /// The database of a logical slot.
    database: Option<String>,
    wal_end: Lsn,
}

/// Reads `slot`, and the WAL position up to which a slot can be advanced: what the server
/// has flushed (on a standby, which has logical slots from Postgres 16, what it received).
async fn read_slot(client: &Client, slot: &str) -> Result<Option<SlotRow>, SourceError> {
    let row = client
        .query_opt(
            "WITH w AS (SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() \
                                    ELSE pg_current_wal_flush_lsn() END AS lsn) \
             SELECT s.confirmed_flush_lsn::text, s.active_pid, \
                    pg_wal_lsn_diff(w.lsn, s.confirmed_flush_lsn)::bigint, w.lsn::text, \
                    s.database::text, to_jsonb(s) ->> 'wal_status', \
                    (to_jsonb(s) ->> 'safe_wal_size')::bigint, \
                    (SELECT setting::bigint * 1048576 FROM pg_settings \
                      WHERE name = 'max_slot_wal_keep_size' AND setting <> '-1'), \
                    pg_wal_lsn_diff(w.lsn, s.restart_lsn)::bigint, x.pid, x.age \
               FROM pg_replication_slots s CROSS JOIN w \
               LEFT JOIN LATERAL (SELECT pid, extract(epoch FROM now() - xact_start)::bigint AS age \
                                    FROM pg_stat_activity WHERE backend_xid IS NOT NULL \
                                   ORDER BY xact_start LIMIT 1) x ON true \
              WHERE s.slot_name = $1",
            &[&slot],
        )
        .await
        .map_err(SourceError::query("could not read replication slots"))?;
    let Some(row) = row else {
        return Ok(None);
    };
    let lsn = |i: usize| -> Result<Option<Lsn>, SourceError> {
        match row.get::<_, Option<String>>(i) {
            None => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|e| SourceError::Setup(format!("the server reported {e}"))),
        }
    };
    Ok(Some(SlotRow {
        info: SlotInfo {
            confirmed_flush: lsn(0)?,
            active_pid: row.get(1),
            lag_bytes: row.get(2),
            wal_status: row.get(5),
            safe_wal_size: row.get(6),
            max_keep_bytes: row.get(7),
            retained_bytes: row.get(8),
            oldest_transaction: row
                .get::<_, Option<i32>>(9)
                .zip(row.get::<_, Option<i64>>(10)),
        },
        database: row.get(4),
        wal_end: lsn(3)?.unwrap_or_default(),
    }))
}

fn in_use(slot: &str, pid: i32) -> AdminError {
    AdminError::Rejected(format!(
        "replication slot {slot:?} is in use by another process (pid {pid}). Hint: stop the other consumer of the slot (SELECT pg_terminate_backend({pid}) ends it), then try again"
    ))
}

/// Postgres refusing because the slot is active (55006) names the pid in its message.
fn refused_in_use(slot: &str, e: &tokio_postgres::Error) -> Option<AdminError> {
    let db = e.as_db_error().filter(|db| db.code().code() == "55006")?;
    let pid = db
        .message()
        .rsplit(' ')
        .next()
        .and_then(|p| p.trim_end_matches('.').parse().ok());
    Some(match pid {
        Some(pid) => in_use(slot, pid),
        None => AdminError::Rejected(format!(
            "replication slot {slot:?} is in use: {}. Hint: stop the other consumer of the slot, then try again",
            db.message()
        )),
    })
}

/// The connection parameters with the connect timeout bounded by [`ADMIN_TIMEOUT`].
fn bounded(params: &ConnectParams) -> ConnectParams {
    let mut p = params.clone();
    p.connect_timeout = if p.connect_timeout.is_zero() {
        ADMIN_TIMEOUT
    } else {
        p.connect_timeout.min(ADMIN_TIMEOUT)
    };
    p
}

async fn connect(config: &PostgresConnectorConfig) -> Result<Client, SourceError> {
    Ok(connect_query(&bounded(&config.connect)).await?)
}

/// The property a user must change to fix a failed connection, with a message that names
/// the problem and the fix (and never the password).
fn connect_problem(params: &ConnectParams, e: &ConnError) -> ConfigError {
    let addr = params.addr();
    let (user, dbname) = (&params.user, &params.dbname);
    let (field, message) = match e {
        ConnError::Auth { .. } => ("database.password", e.to_string()),
        ConnError::SslRefused { .. } | ConnError::Tls { .. } => ("database.sslmode", e.to_string()),
        ConnError::TlsConfig { .. } => ("database.sslrootcert", e.to_string()),
        ConnError::Server {
            code,
            message,
            hint,
            ..
        } => match code.as_str() {
            "28P01" => (
                "database.password",
                format!(
                    "password authentication failed for user {user:?} at {addr}. Hint: check database.password (and that database.user is right)"
                ),
            ),
            "28000" if message.contains("does not exist") => (
                "database.user",
                format!(
                    "role {user:?} does not exist on the server at {addr}. Hint: check database.user, or create it: CREATE ROLE {} LOGIN REPLICATION PASSWORD '…'",
                    quote_ident(user)
                ),
            ),
            "28000" if message.contains("password") => (
                "database.password",
                format!(
                    "the server at {addr} refused the password of user {user:?}: {message}. Hint: check database.password"
                ),
            ),
            "28000" => (
                "database.user",
                format!(
                    "the server at {addr} refused user {user:?} for database {dbname:?}: {message}. Hint: check database.user, and that pg_hba.conf lets this user connect to this database from this host"
                ),
            ),
            "3D000" => (
                "database.dbname",
                format!(
                    "database {dbname:?} does not exist on the server at {addr}. Hint: check database.dbname"
                ),
            ),
            "42501" => (
                "database.user",
                format!(
                    "user {user:?} may not connect to database {dbname:?}: {message}. Hint: GRANT CONNECT ON DATABASE {} TO {}",
                    quote_ident(dbname),
                    quote_ident(user)
                ),
            ),
            _ => {
                let mut message = e.to_string();
                if hint.is_none() {
                    let hint = startup_hint(code, user, dbname).unwrap_or_else(|| {
                        "check that the server at database.hostname and database.port accepts the connector's connections".into()
                    });
                    message = format!("{}. Hint: {hint}", message.trim_end_matches('.'));
                }
                ("database.hostname", message)
            }
        },
        ConnError::Connect { .. }
        | ConnError::Timeout { .. }
        | ConnError::Io { .. }
        | ConnError::Closed
        | ConnError::Protocol { .. }
        | ConnError::Query { .. } => ("database.hostname", e.to_string()),
    };
    ConfigError {
        field: field.into(),
        message,
    }
}

#[cfg(test)]
#[path = "admin_tests.rs"]
mod tests;
