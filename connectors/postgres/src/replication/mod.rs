//! Our own client for the Postgres streaming-replication protocol (logical, pgoutput).
//!
//! `tokio_postgres` cannot open a `replication=database` session or speak COPY BOTH, so
//! this module does, on top of `postgres_protocol`'s message encoders and SCRAM/md5 helpers.
//! [`ReplicationConnection`] opens the session (TLS, authentication) and runs replication
//! commands; [`ReplicationConnection::start_replication`] turns it into a
//! [`ReplicationStream`], which yields raw `XLogData` payloads (pgoutput bytes, not decoded
//! here) and keepalives, and reports progress to the server. It only ever reports the
//! [`DurableLsn`] the sink side has made durable — never what it merely received — so the
//! server keeps every change that is not yet safely downstream.
//!
//! Layering: `wire` frames messages out of a buffered socket, `startup` authenticates,
//! `connection` runs commands, `stream` runs the COPY BOTH sub-protocol.

mod connection;
mod startup;
mod stream;
mod wire;

#[cfg(test)]
mod session_tests;
#[cfg(test)]
pub(crate) mod test_cluster;
#[cfg(test)]
mod tests;

use std::time::Duration;

use tributary_core::{DurableLsn, Lsn};

pub use connection::{CopyOut, ReplicationConnection};
pub use stream::{ReplicationEvent, ReplicationStream};

/// Errors of replication connections: the same type as query connections use, so a server
/// error looks the same whichever client met it. See [`crate::conn::ConnError`].
pub type ReplicationError = crate::conn::ConnError;

/// The answer to `IDENTIFY_SYSTEM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentifySystem {
    /// The cluster's unique system identifier (a decimal u64, kept as text).
    pub systemid: String,
    pub timeline: u32,
    /// The current WAL flush position.
    pub xlogpos: Lsn,
    /// The database this session is connected to (`replication=database`).
    pub dbname: Option<String>,
}

/// The answer to `CREATE_REPLICATION_SLOT ... LOGICAL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedSlot {
    pub slot_name: String,
    /// The first position the slot decodes from: stream from here after the snapshot.
    pub consistent_point: Lsn,
    /// The exported snapshot (for `SET TRANSACTION SNAPSHOT`), when one was asked for. It
    /// stays valid only until the creating connection runs its next command or closes.
    pub snapshot_name: Option<String>,
    pub output_plugin: String,
}

/// How a [`ReplicationStream`] reports progress.
#[derive(Debug, Clone)]
pub struct StatusConfig {
    /// The position downstream has made durable; it is the only position ever reported
    /// as written, flushed and applied.
    pub durable: DurableLsn,
    /// How often to send a standby status update even when the server asks for none.
    /// Keep it well below the server's `wal_sender_timeout`. Zero turns periodic updates
    /// off (replies to keepalives that request one are still sent).
    pub interval: Duration,
}
