//! Errors of the Postgres source, each knowing whether it is worth a retry.

use tributary_core::{ErrorKind, Retry};

use crate::config::ConfigErrors;
use crate::pgoutput::DecodeError;
use crate::replication::ReplicationError;
use crate::table::RowError;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Config(#[from] ConfigErrors),
    /// A problem with the database's setup that an operator must fix.
    #[error("{0}")]
    Setup(String),
    #[error("{context}: {source}{}", hint_for(source))]
    Query {
        context: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error(transparent)]
    Replication(#[from] ReplicationError),
    #[error("could not decode a pgoutput message at {lsn}: {source}")]
    Decode {
        lsn: tributary_core::Lsn,
        #[source]
        source: DecodeError,
    },
    /// An event that could not be made, under `event.processing.failure.handling.mode=fail`.
    #[error("error while processing the event at {at}: {source}")]
    Event {
        /// Where the event is: its LSN, or the snapshot and table it was read in.
        at: String,
        #[source]
        source: RowError,
    },
    #[error("{0}")]
    Offset(String),
    #[error("could not spill a streamed transaction to disk: {0}")]
    Spill(#[from] std::io::Error),
    /// The consumer of events went away.
    #[error("the event consumer stopped")]
    Closed,
    /// Another process runs this connector (it holds the connector's lock).
    #[error("{0}")]
    Busy(String),
}

fn hint_for(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = String::new();
            if let Some(d) = db.detail() {
                s.push_str(&format!("\nDETAIL: {d}"));
            }
            if let Some(h) = db.hint() {
                s.push_str(&format!("\nHINT: {h}"));
            } else if db.code().code() == "28P01" {
                s.push_str("\nHINT: check database.user and database.password");
            } else if db.code().code() == "42501" {
                s.push_str("\nHINT: grant the connector's role the privilege named above (it needs REPLICATION, and SELECT on captured tables)");
            }
            s
        }
        None => String::new(),
    }
}

impl SourceError {
    pub fn query(context: &'static str) -> impl FnOnce(tokio_postgres::Error) -> SourceError {
        move |source| SourceError::Query { context, source }
    }
}

impl Retry for SourceError {
    fn kind(&self) -> ErrorKind {
        match self {
            SourceError::Query { source, .. } => match source.as_db_error() {
                Some(db) => tributary_core::sqlstate_kind(db.code().code()),
                None => ErrorKind::Transient,
            },
            SourceError::Replication(e) => e.kind(),
            SourceError::Spill(_) => ErrorKind::Transient,
            SourceError::Closed => ErrorKind::Transient,
            SourceError::Busy(_) => ErrorKind::Transient,
            _ => ErrorKind::Definite,
        }
    }
}
