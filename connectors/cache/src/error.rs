//! Redis errors and the one place that decides whether they are worth retrying.
//!
//! Connection loss, timeouts and the server's "not now" replies (`LOADING`, `BUSY`,
//! `TRYAGAIN`, `READONLY` during a failover, `OOM` until keys expire) are transient: the
//! batch is retried after a backoff, which is safe because every write is a
//! compare-and-set on the source position. Rejected credentials, missing permissions,
//! a versions key of the wrong type and script failures are definite: retrying cannot fix
//! them, so the connector stops with the reason and the property to change.

use std::io;
use std::time::Duration;

use tributary_core::{ErrorKind, Retry};

use crate::resp::ProtocolError;

/// Error codes of replies that go away by themselves.
const TRANSIENT_CODES: &[&str] = &[
    "LOADING",
    "BUSY",
    "TRYAGAIN",
    "CLUSTERDOWN",
    "MASTERDOWN",
    "READONLY",
    "NOREPLICAS",
    "OOM",
];

/// Error codes of replies that mean the credentials are wrong or missing.
const AUTH_CODES: &[&str] = &["NOAUTH", "WRONGPASS"];

/// A server message without its closing full stop, to be followed by a hint.
pub fn tidy(message: String) -> String {
    match message.strip_suffix('.') {
        Some(m) => m.to_string(),
        None => message,
    }
}

/// Whether an error reply (`CODE message`) can go away by itself.
pub fn reply_kind(message: &str) -> ErrorKind {
    let code = message.split_whitespace().next().unwrap_or_default();
    if TRANSIENT_CODES.contains(&code) {
        ErrorKind::Transient
    } else {
        ErrorKind::Definite
    }
}

/// Whether an error reply rejects the credentials.
pub fn is_auth_reply(message: &str) -> bool {
    let code = message.split_whitespace().next().unwrap_or_default();
    AUTH_CODES.contains(&code)
}

/// What to do about refused credentials.
pub fn auth_hint(message: &str) -> &'static str {
    if message.starts_with("NOAUTH") {
        "Redis requires a password: set redis.password (and, for an ACL user, the user in redis.url)"
    } else {
        "check redis.password (and the user in redis.url)"
    }
}

/// Talking to Redis failed.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    #[error("could not connect to Redis at {addr}: {source}")]
    Connect { addr: String, source: io::Error },
    #[error("the connection to Redis was lost: {0}")]
    Io(#[from] io::Error),
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("Redis sent a reply that is not RESP2 ({0}); does redis.url name a Redis server?")]
    Protocol(#[from] ProtocolError),
    /// `AUTH` was refused, or a command needs authentication.
    #[error("Redis refused the credentials: {0}")]
    Auth(String),
    /// `SELECT` was refused (no such database).
    #[error("Redis refused to select database {db}: {message}")]
    Select { db: u32, message: String },
    /// The server answered a command with an error reply.
    #[error("Redis refused {command}: {message}")]
    Reply {
        command: &'static str,
        message: String,
    },
}

impl RedisError {
    /// A reply error for `command`; authentication errors become [`RedisError::Auth`].
    pub fn reply(command: &'static str, message: String) -> Self {
        let message = tidy(message);
        if is_auth_reply(&message) {
            RedisError::Auth(message)
        } else {
            RedisError::Reply { command, message }
        }
    }

    /// The connection is unusable after this error (replies may be out of step).
    pub fn breaks_connection(&self) -> bool {
        matches!(
            self,
            RedisError::Connect { .. }
                | RedisError::Io(_)
                | RedisError::Timeout(_)
                | RedisError::Protocol(_)
        )
    }

    /// The property a user should look at.
    pub fn field(&self) -> &'static str {
        match self {
            RedisError::Auth(_) => "redis.password",
            _ => "redis.url",
        }
    }
}

impl Retry for RedisError {
    fn kind(&self) -> ErrorKind {
        match self {
            RedisError::Connect { .. } | RedisError::Io(_) | RedisError::Timeout(_) => {
                ErrorKind::Transient
            }
            RedisError::Protocol(_) | RedisError::Auth(_) | RedisError::Select { .. } => {
                ErrorKind::Definite
            }
            RedisError::Reply { message, .. } => reply_kind(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_classified_by_their_code() {
        assert_eq!(
            reply_kind("LOADING Redis is loading the dataset in memory"),
            ErrorKind::Transient
        );
        assert_eq!(
            reply_kind("BUSY Redis is busy running a script"),
            ErrorKind::Transient
        );
        assert_eq!(reply_kind("OOM command not allowed"), ErrorKind::Transient);
        assert_eq!(
            reply_kind("WRONGTYPE Operation against a key"),
            ErrorKind::Definite
        );
        assert_eq!(
            reply_kind("NOPERM this user has no permissions"),
            ErrorKind::Definite
        );
        assert_eq!(reply_kind("ERR user_script:1: boom"), ErrorKind::Definite);
        assert!(matches!(
            RedisError::reply("PING", "NOAUTH Authentication required.".into()),
            RedisError::Auth(_)
        ));
        let lost = RedisError::Io(io::ErrorKind::ConnectionReset.into());
        assert!(lost.is_transient() && lost.breaks_connection());
        assert_eq!(
            RedisError::Auth("WRONGPASS".into()).field(),
            "redis.password"
        );
    }
}
