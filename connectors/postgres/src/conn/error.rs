//! The one error type of Postgres connections, query and replication alike.
//!
//! Messages follow Postgres style: what happened, then a hint naming the setting to check.
//! Errors the server reports keep its `ErrorResponse` fields (severity, SQLSTATE, message,
//! detail, hint) in [`ConnError::Server`]; whether an error is worth retrying is decided
//! here, once, by [`Retry::kind`] — mostly from the SQLSTATE class.

use std::io;
use std::time::Duration;

use tributary_core::{ErrorKind, Retry, sqlstate_kind};

use super::SslMode;

/// Why a connection to Postgres could not be opened or used.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error(
        "could not connect to server at {addr}: {source}. Hint: is the server running there and \
         accepting TCP/IP connections? Check database.hostname and database.port."
    )]
    Connect {
        addr: String,
        #[source]
        source: io::Error,
    },

    #[error(
        "timed out after {after:?} connecting to server at {addr}. Hint: check that the server \
         is reachable from here (database.hostname, database.port) and not overloaded."
    )]
    Timeout { addr: String, after: Duration },

    #[error(
        "connection to server lost: {source}. Hint: the server may have restarted or the \
         network dropped; the connection will be retried."
    )]
    Io {
        #[from]
        source: io::Error,
    },

    #[error(
        "server closed the connection unexpectedly. Hint: the server may have shut down or \
         ended the session (its log says why); the connection will be retried."
    )]
    Closed,

    #[error(
        "server at {addr} does not support SSL, but sslmode is {sslmode}. Hint: enable ssl on \
         the server, or set database.sslmode to prefer or disable."
    )]
    SslRefused { addr: String, sslmode: SslMode },

    #[error(
        "TLS handshake with server at {addr} failed: {source}. Hint: check database.sslmode and \
         database.sslrootcert; with verify-full, database.hostname must be a name in the server \
         certificate."
    )]
    Tls {
        addr: String,
        #[source]
        source: io::Error,
    },

    #[error("invalid TLS configuration: {message}. Hint: {hint}")]
    TlsConfig { message: String, hint: String },

    #[error("{severity}: {message} (SQLSTATE {code}){}", tail(.detail, .hint))]
    Server {
        severity: String,
        code: String,
        message: String,
        detail: Option<String>,
        hint: Option<String>,
    },

    #[error("cannot authenticate as user {user:?}: {message}. Hint: {hint}")]
    Auth {
        user: String,
        message: String,
        hint: String,
    },

    #[error(
        "protocol violation: {message}. Hint: the server, or a proxy in between, sent something \
         Tributary does not expect; this is a bug or an incompatible server."
    )]
    Protocol { message: String },

    #[error("{source}")]
    Query {
        #[source]
        source: tokio_postgres::Error,
    },
}

fn tail(detail: &Option<String>, hint: &Option<String>) -> String {
    let mut out = String::new();
    for (label, part) in [("Detail", detail), ("Hint", hint)] {
        if let Some(part) = part {
            out.push_str(". ");
            out.push_str(label);
            out.push_str(": ");
            out.push_str(part.strip_suffix('.').unwrap_or(part));
        }
    }
    if !out.is_empty() {
        out.push('.');
    }
    out
}

impl ConnError {
    /// The server's SQLSTATE, when the server reported the error.
    pub fn code(&self) -> Option<&str> {
        match self {
            ConnError::Server { code, .. } => Some(code),
            ConnError::Query { source } => source.code().map(|c| c.code()),
            _ => None,
        }
    }

    pub(crate) fn protocol(message: impl Into<String>) -> Self {
        ConnError::Protocol {
            message: message.into(),
        }
    }

    /// Builds [`ConnError::Server`] from the body of an `ErrorResponse` message.
    pub(crate) fn from_error_fields(body: &[u8]) -> Self {
        let mut severity = None;
        let mut localized_severity = None;
        let mut code = None;
        let mut message = None;
        let mut detail = None;
        let mut hint = None;
        let mut rest = body;
        while let Some((&kind, after)) = rest.split_first() {
            if kind == 0 {
                break;
            }
            let end = after.iter().position(|&b| b == 0).unwrap_or(after.len());
            let value = String::from_utf8_lossy(&after[..end]).into_owned();
            rest = after.get(end + 1..).unwrap_or(&[]);
            match kind {
                b'V' => severity = Some(value),
                b'S' => localized_severity = Some(value),
                b'C' => code = Some(value),
                b'M' => message = Some(value),
                b'D' => detail = Some(value),
                b'H' => hint = Some(value),
                _ => {}
            }
        }
        ConnError::Server {
            severity: severity
                .or(localized_severity)
                .unwrap_or_else(|| "ERROR".into()),
            code: code.unwrap_or_else(|| "XX000".into()),
            message: message.unwrap_or_else(|| "unknown server error".into()),
            detail,
            hint,
        }
    }

    /// Adds our own hint to a server error that came without one.
    pub(crate) fn or_hint(mut self, make: impl FnOnce(&str, &str) -> Option<String>) -> Self {
        if let ConnError::Server {
            code,
            message,
            hint,
            ..
        } = &mut self
            && hint.is_none()
        {
            *hint = make(code, message);
        }
        self
    }
}

/// Hints for errors seen while opening a session, keyed by SQLSTATE.
pub(crate) fn startup_hint(code: &str, user: &str, dbname: &str) -> Option<String> {
    let hint = match code {
        "28P01" => format!(
            "check database.password for user \"{user}\"; the server's log says why it was refused"
        ),
        "28000" => format!(
            "check database.user, and that pg_hba.conf lets user \"{user}\" connect to database \
             \"{dbname}\" from this host"
        ),
        "3D000" => format!("check database.dbname; database \"{dbname}\" does not exist"),
        "42501" => {
            format!("the user needs the REPLICATION attribute: ALTER ROLE \"{user}\" REPLICATION")
        }
        "53300" => "the server has no free connection or WAL sender slots; raise \
                    max_connections or max_wal_senders, or close idle sessions"
            .to_string(),
        "57P03" => "the server is starting up, shutting down or in recovery; it will be retried"
            .to_string(),
        _ => return None,
    };
    Some(hint)
}

impl Retry for ConnError {
    fn kind(&self) -> ErrorKind {
        match self {
            ConnError::Connect { .. }
            | ConnError::Timeout { .. }
            | ConnError::Io { .. }
            | ConnError::Closed => ErrorKind::Transient,
            ConnError::SslRefused { .. }
            | ConnError::TlsConfig { .. }
            | ConnError::Auth { .. }
            | ConnError::Protocol { .. } => ErrorKind::Definite,
            // rustls refusing the certificate or the handshake is definite; a dropped
            // socket during the handshake is not
            ConnError::Tls { source, .. } => {
                if source
                    .get_ref()
                    .is_some_and(|inner| inner.is::<rustls::Error>())
                {
                    ErrorKind::Definite
                } else {
                    ErrorKind::Transient
                }
            }
            ConnError::Server { code, .. } => sqlstate_kind(code),
            ConnError::Query { source } => match source.code() {
                Some(code) => sqlstate_kind(code.code()),
                None if source.is_closed() => ErrorKind::Transient,
                None => {
                    if std::error::Error::source(source).is_some_and(|s| s.is::<io::Error>()) {
                        ErrorKind::Transient
                    } else {
                        ErrorKind::Definite
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(u8, &str)]) -> Vec<u8> {
        let mut body = Vec::new();
        for (k, v) in pairs {
            body.push(*k);
            body.extend_from_slice(v.as_bytes());
            body.push(0);
        }
        body.push(0);
        body
    }

    #[test]
    fn error_response_fields_become_a_server_error() {
        let body = fields(&[
            (b'S', "FATAL"),
            (b'V', "FATAL"),
            (b'C', "28P01"),
            (b'M', "password authentication failed for user \"alice\""),
            (b'R', "auth_failed"),
        ]);
        let err = ConnError::from_error_fields(&body)
            .or_hint(|code, _| startup_hint(code, "alice", "shop"));
        assert_eq!(err.code(), Some("28P01"));
        assert_eq!(err.kind(), ErrorKind::Definite);
        let text = err.to_string();
        assert!(text.starts_with("FATAL: password authentication failed for user \"alice\""));
        assert!(
            text.contains("(SQLSTATE 28P01). Hint: check database.password"),
            "{text}"
        );
    }

    #[test]
    fn server_hints_are_kept_and_details_shown() {
        let body = fields(&[
            (b'V', "ERROR"),
            (b'C', "55000"),
            (b'M', "logical decoding requires wal_level >= logical"),
            (b'D', "Some detail."),
            (b'H', "Set wal_level."),
        ]);
        let err = ConnError::from_error_fields(&body).or_hint(|_, _| Some("ours".into()));
        assert_eq!(
            err.to_string(),
            "ERROR: logical decoding requires wal_level >= logical (SQLSTATE 55000). \
             Detail: Some detail. Hint: Set wal_level."
        );
    }

    #[test]
    fn truncated_error_response_still_yields_an_error() {
        let err = ConnError::from_error_fields(b"Mhalf a mess");
        assert!(err.to_string().contains("half a mess"));
        assert_eq!(err.code(), Some("XX000"));
    }

    #[test]
    fn network_errors_are_transient_and_configuration_errors_definite() {
        let refused = ConnError::Connect {
            addr: "127.0.0.1:1".into(),
            source: io::Error::from(io::ErrorKind::ConnectionRefused),
        };
        assert!(refused.is_transient());
        assert!(ConnError::Closed.is_transient());
        assert!(!ConnError::protocol("x").is_transient());
        let refused_tls = ConnError::SslRefused {
            addr: "db:5432".into(),
            sslmode: SslMode::Require,
        };
        assert!(!refused_tls.is_transient());
        assert!(refused_tls.to_string().contains("sslmode is require"));
        let cert = ConnError::Tls {
            addr: "db:5432".into(),
            source: io::Error::new(
                io::ErrorKind::InvalidData,
                rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
            ),
        };
        assert!(!cert.is_transient());
        let reset = ConnError::Tls {
            addr: "db:5432".into(),
            source: io::Error::from(io::ErrorKind::ConnectionReset),
        };
        assert!(reset.is_transient());
    }
}
