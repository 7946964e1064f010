//! Redis errors and the one place that decides whether they are worth retrying.
//!
//! Connection loss, timeouts and the server's "not now" replies (`LOADING`, `BUSY`,
//! `TRYAGAIN`, `READONLY` during a failover, `OOM` until keys expire) are transient: the
//! batch is retried after a backoff, which is safe because every write is a
//! compare-and-set on the source position. Rejected credentials, missing permissions,
//! a versions key of the wrong type and script failures are definite: retrying cannot fix
//! them, so the connector stops with the reason and the property to change.

use std::time::Duration;

use tributary_core::{ErrorKind, Retry};

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
    "MOVED",
    "ASK",
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
    #[error("could not connect to Redis at {addr}: {message}")]
    Connect { addr: String, message: String },
    #[error("the connection to Redis was lost: {0}")]
    Lost(String),
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    /// The server's certificate was not trusted, or the TLS files are unusable.
    #[error("TLS with Redis failed: {0}")]
    Tls(String),
    /// The client could not be set up from the config (a bad PEM file, say).
    #[error("the Redis client cannot be set up: {0}")]
    Config(String),
    #[error("Redis sent a reply that is not RESP ({0}); does redis.url name a Redis server?")]
    Protocol(String),
    /// `AUTH` was refused, or a command needs authentication.
    #[error("Redis refused the credentials: {0}")]
    Auth(String),
    /// `SELECT` was refused (no such database).
    #[error("Redis refused to select database {db}: {message}")]
    Select { db: u32, message: String },
    /// Fewer replicas than `redis.wait.replicas` took a batch in time.
    #[error(
        "only {got} of the {wanted} replicas (redis.wait.replicas) acknowledged the batch within {timeout:?}"
    )]
    Replicas {
        wanted: u32,
        got: u32,
        timeout: Duration,
    },
    /// The server answered a command with an error reply.
    #[error("Redis refused {command}: {message}")]
    Reply {
        command: &'static str,
        message: String,
    },
}

/// The text of a client error: `CODE detail` for a server's error reply.
pub fn error_text(e: &redis::RedisError) -> String {
    match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        (Some(code), None) => code.to_string(),
        _ => e.to_string(),
    }
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

    /// Classifies an error of the `redis` client met while running `command` (waiting at
    /// most `timeout`).
    pub fn from_client(e: redis::RedisError, command: &'static str, timeout: Duration) -> Self {
        use redis::ErrorKind as K;
        let text = error_text(&e);
        let lower = text.to_ascii_lowercase();
        if e.is_timeout() {
            RedisError::Timeout(timeout)
        } else if e.kind() == K::AuthenticationFailed || is_auth_reply(&text) {
            RedisError::Auth(tidy(text))
        } else if lower.contains("certificate") || lower.contains("tls") {
            RedisError::Tls(text)
        } else if e.kind() == K::InvalidClientConfig {
            RedisError::Config(text)
        } else if e.kind() == K::Parse {
            RedisError::Protocol(text)
        } else if e.code().is_some() {
            RedisError::reply(command, text)
        } else {
            // I/O, a dropped connection, a cluster node not reachable now.
            RedisError::Lost(text)
        }
    }

    /// Like [`RedisError::from_client`], for an error met while connecting to `addr`.
    pub fn connecting(e: redis::RedisError, addr: &str, db: u32, timeout: Duration) -> Self {
        match RedisError::from_client(e, "the connection setup", timeout) {
            RedisError::Lost(message) => RedisError::Connect {
                addr: addr.to_string(),
                message,
            },
            RedisError::Reply { message, .. } if message.contains("DB index") => {
                RedisError::Select { db, message }
            }
            other => other,
        }
    }

    /// The connection is unusable after this error (it may be out of step with the server).
    pub fn breaks_connection(&self) -> bool {
        matches!(
            self,
            RedisError::Connect { .. }
                | RedisError::Lost(_)
                | RedisError::Timeout(_)
                | RedisError::Protocol(_)
        )
    }

    /// The property a user should look at.
    pub fn field(&self) -> &'static str {
        match self {
            RedisError::Auth(_) => "redis.password",
            RedisError::Tls(_) => "redis.tls.ca.location",
            RedisError::Replicas { .. } => "redis.wait.replicas",
            _ => "redis.url",
        }
    }
}

impl Retry for RedisError {
    fn kind(&self) -> ErrorKind {
        match self {
            RedisError::Connect { .. }
            | RedisError::Lost(_)
            | RedisError::Timeout(_)
            | RedisError::Replicas { .. } => ErrorKind::Transient,
            RedisError::Protocol(_)
            | RedisError::Auth(_)
            | RedisError::Select { .. }
            | RedisError::Tls(_)
            | RedisError::Config(_) => ErrorKind::Definite,
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
        let lost = RedisError::Lost("connection reset".into());
        assert!(lost.is_transient() && lost.breaks_connection());
        assert_eq!(
            RedisError::Auth("WRONGPASS".into()).field(),
            "redis.password"
        );
    }
}
