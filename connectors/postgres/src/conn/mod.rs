//! Connection parameters, TLS and ordinary (query) connections to Postgres.
//!
//! Everything that opens a socket to the database starts here: [`ConnectParams`] says where
//! and as whom, [`SslMode`] how hard to insist on TLS (with libpq's meanings), and
//! [`SESSION_SETTINGS`] the session settings every connection applies so that the text form
//! of values (dates, intervals, floats, bytea) is the same whatever the server's defaults.
//! [`connect_query`] opens a `tokio_postgres` client for catalog queries and snapshots; the
//! replication protocol has its own client in [`crate::replication`], which reuses the
//! transport and TLS setup from here.

mod error;
mod query;
mod tls;
pub(crate) mod transport;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use tributary_core::Secret;

pub use error::ConnError;
pub(crate) use error::startup_hint;
pub use query::connect_query;
pub use tls::{
    ClientIdentity, MakeRustlsConnect, RustlsConnect, RustlsConnectFuture, RustlsStream,
    client_config, client_identity, load_client_identity,
};
pub use tributary_core::sqlstate_kind;

/// Session settings every connection applies so text output of values is stable.
pub const SESSION_SETTINGS: &[(&str, &str)] = &[
    ("DateStyle", "ISO, YMD"),
    ("IntervalStyle", "iso_8601"),
    ("TimeZone", "UTC"),
    ("extra_float_digits", "3"),
    ("bytea_output", "hex"),
    ("client_encoding", "UTF8"),
];

/// How much TLS a connection insists on, with libpq's `sslmode` meanings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum SslMode {
    /// Plain TCP only.
    Disable,
    /// Ask for TLS; fall back to plain TCP if the server refuses. No certificate checks.
    #[default]
    Prefer,
    /// TLS or fail, without certificate verification (encryption, not authentication).
    Require,
    /// TLS with the server certificate chain verified against the trusted roots; the
    /// host name is not checked.
    VerifyCa,
    /// TLS with the chain verified and the certificate matching the host name.
    VerifyFull,
}

impl SslMode {
    /// The libpq spelling, as accepted by [`FromStr`].
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// Whether a server that refuses TLS must make the connection fail.
    pub fn requires_tls(self) -> bool {
        self >= SslMode::Require
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for an unknown `sslmode` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid sslmode {0:?}. Hint: use one of disable, prefer, require, verify-ca, verify-full."
)]
pub struct ParseSslModeError(pub String);

impl FromStr for SslMode {
    type Err = ParseSslModeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "disable" => Ok(SslMode::Disable),
            "prefer" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            "verify-ca" => Ok(SslMode::VerifyCa),
            "verify-full" => Ok(SslMode::VerifyFull),
            other => Err(ParseSslModeError(other.to_string())),
        }
    }
}

/// Where to connect and as whom. The password is a [`Secret`], so the whole struct can be
/// logged with `{:?}` safely.
#[derive(Debug, Clone)]
pub struct ConnectParams {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Secret,
    pub dbname: String,
    pub sslmode: SslMode,
    /// PEM file of trusted root certificates; `None` uses the system store.
    pub sslrootcert: Option<PathBuf>,
    /// The client certificate (PEM chain) and its key (PEM, or pgjdbc's DER PKCS#8
    /// `.pk8`), sent when the server asks for one (`cert` authentication).
    pub sslcert: Option<PathBuf>,
    pub sslkey: Option<PathBuf>,
    /// The passphrase of an encrypted `sslkey` (empty: the key is not encrypted).
    pub sslpassword: Secret,
    pub application_name: String,
    /// Bound on TCP connect, TLS handshake and authentication together; zero means none.
    pub connect_timeout: Duration,
    /// SQL run first on every SQL connection (not replication ones), one statement each:
    /// Debezium's `database.initial.statements`.
    pub initial_statements: Vec<String>,
}

/// `database.initial.statements` split as Debezium's `JdbcConnection` splits it: at each
/// `;`, where `;;` stands for a literal semicolon; blank statements are dropped.
pub fn split_statements(spec: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = spec.chars().peekable();
    while let Some(c) = chars.next() {
        if c != ';' {
            current.push(c);
        } else if chars.peek() == Some(&';') {
            chars.next();
            current.push(';');
        } else {
            let statement = current.trim();
            if !statement.is_empty() {
                out.push(statement.to_string());
            }
            current.clear();
        }
    }
    let statement = current.trim();
    if !statement.is_empty() {
        out.push(statement.to_string());
    }
    out
}

/// The SQL that puts [`SESSION_SETTINGS`] back after the initial statements, which may
/// have changed one of them (the text forms Tributary parses depend on them).
pub(crate) fn reassert_settings() -> String {
    SESSION_SETTINGS
        .iter()
        .map(|(name, value)| format!("SET {name} = '{value}';"))
        .collect()
}

/// The hint of an initial statement's error.
pub(crate) fn initial_statement_hint(statement: &str) -> String {
    format!(
        "the statement {statement:?} comes from database.initial.statements; correct or remove it"
    )
}

impl ConnectParams {
    /// `host:port`, for messages.
    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_parses_and_displays_libpq_spellings() {
        for s in ["disable", "prefer", "require", "verify-ca", "verify-full"] {
            let mode: SslMode = s.parse().unwrap();
            assert_eq!(mode.to_string(), s);
        }
        let err = "verify_full".parse::<SslMode>().unwrap_err();
        assert!(err.to_string().contains("verify-full"), "{err}");
    }

    #[test]
    fn only_require_and_stronger_insist_on_tls() {
        assert!(!SslMode::Disable.requires_tls());
        assert!(!SslMode::Prefer.requires_tls());
        assert!(SslMode::Require.requires_tls());
        assert!(SslMode::VerifyCa.requires_tls());
        assert!(SslMode::VerifyFull.requires_tls());
    }

    #[test]
    fn initial_statements_split_as_debezium_splits_them() {
        assert_eq!(
            split_statements("SET a = 1; SET b = 'x;;y';;"),
            ["SET a = 1", "SET b = 'x;y';"]
        );
        assert_eq!(split_statements(" ; ;"), Vec::<String>::new());
        assert_eq!(split_statements("SELECT 1"), ["SELECT 1"]);
    }

    #[test]
    fn addr_brackets_ipv6_hosts() {
        let mut p = ConnectParams {
            host: "::1".into(),
            port: 5432,
            user: "u".into(),
            password: Secret::new("pw"),
            dbname: "d".into(),
            sslmode: SslMode::Disable,
            sslrootcert: None,
            sslcert: None,
            sslkey: None,
            sslpassword: Secret::default(),
            application_name: "t".into(),
            connect_timeout: Duration::from_secs(1),
            initial_statements: Vec::new(),
        };
        assert_eq!(p.addr(), "[::1]:5432");
        p.host = "db".into();
        assert_eq!(p.addr(), "db:5432");
        assert!(!format!("{p:?}").contains("pw"));
    }
}
