//! One running instance per connector: a session-level advisory lock in the captured
//! database, keyed by the replication slot's name.
//!
//! A second daemon started with the same connector finds the lock taken and waits instead
//! of fencing the running one; the lock goes away with the holder's session, so after a
//! crash (kill -9 closes the socket) the next start takes it within moments.

use crate::config::PostgresConnectorConfig;
use crate::conn::connect_query;
use crate::error::SourceError;

/// Holds the connector's lock for as long as it lives.
/// (Dropping the client closes its session, which releases the lock.)
pub struct ConnectorLock {
    _client: tokio_postgres::Client,
}

/// The lock key: a stable hash of the slot name in a namespace of our own.
fn key(slot: &str) -> i64 {
    // FNV-1a: stable across builds and platforms.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in b"tributary-connector:".iter().chain(slot.as_bytes()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

impl ConnectorLock {
    /// Takes the lock, or fails with [`SourceError::Busy`] naming the holder.
    pub async fn acquire(config: &PostgresConnectorConfig) -> Result<Self, SourceError> {
        let client = connect_query(&config.connect).await?;
        let k = key(&config.slot_name);
        let got: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&k])
            .await
            .map_err(SourceError::query("could not take the connector lock"))?
            .get(0);
        if !got {
            let holder: Option<i32> = client
                .query_opt(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted \
                     AND ((classid::bigint << 32) | objid::bigint) = $1 LIMIT 1",
                    &[&k],
                )
                .await
                .ok()
                .flatten()
                .map(|r| r.get(0));
            return Err(SourceError::Busy(format!(
                "connector {} (slot {}) is running in another process (Postgres backend pid {}); waiting for it to stop",
                config.name,
                config.slot_name,
                holder.map_or_else(|| "unknown".to_string(), |p| p.to_string())
            )));
        }
        Ok(ConnectorLock { _client: client })
    }
}
