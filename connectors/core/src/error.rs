//! Error classification shared by all connectors: is an error worth retrying?
//!
//! Every crate has its own `thiserror` enum; each implements [`Retry`] so the supervisor
//! decides in one place whether to back off and retry (transient) or to stop the connector
//! with the reason in its status (definite).

/// Whether an error can go away by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A network drop, a restarting server, a full queue: retry with backoff.
    Transient,
    /// Bad configuration, authentication failure, an impossible state: stop and report.
    Definite,
}

/// Implemented by every error type that can stop a connector.
pub trait Retry {
    fn kind(&self) -> ErrorKind;

    fn is_transient(&self) -> bool {
        self.kind() == ErrorKind::Transient
    }
}
