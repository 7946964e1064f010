//! Ordinary SQL connections (catalog queries, snapshots) through `tokio_postgres`.
//!
//! The connection task is spawned on tokio; the [`SESSION_SETTINGS`] travel in the startup
//! packet's `options` (`-c name=value`), so they hold from the first query on without an
//! extra round trip. Errors are translated into [`ConnError`] so callers see one error type
//! whichever client they used.

use std::error::Error as _;
use std::io;

use tokio_postgres::config::SslMode as PgSslMode;

use super::error::startup_hint;
use super::tls::{MakeRustlsConnect, client_config};
use super::transport::with_connect_timeout;
use super::{
    ConnError, ConnectParams, SESSION_SETTINGS, SslMode, initial_statement_hint, reassert_settings,
};

/// Opens a query connection and spawns its connection task on the current tokio runtime.
pub async fn connect_query(params: &ConnectParams) -> Result<tokio_postgres::Client, ConnError> {
    let mut config = tokio_postgres::Config::new();
    config
        .host(&params.host)
        .port(params.port)
        .user(&params.user)
        .dbname(&params.dbname)
        .application_name(&params.application_name)
        .options(startup_options(SESSION_SETTINGS))
        .ssl_mode(match params.sslmode {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Prefer => PgSslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => PgSslMode::Require,
        });
    if !params.password.is_empty() {
        config.password(params.password.expose());
    }
    let tls = MakeRustlsConnect::new(client_config(params)?);

    let (client, connection) = with_connect_timeout(params, async {
        config
            .connect(tls)
            .await
            .map_err(|e| from_tokio_postgres(e, params))
    })
    .await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(%error, "query connection ended with an error");
        }
    });
    if !params.initial_statements.is_empty() {
        for statement in &params.initial_statements {
            client.batch_execute(statement).await.map_err(|e| {
                from_tokio_postgres(e, params)
                    .or_hint(|_, _| Some(initial_statement_hint(statement)))
            })?;
        }
        client
            .batch_execute(&reassert_settings())
            .await
            .map_err(|e| from_tokio_postgres(e, params))?;
    }
    Ok(client)
}

/// `-c name=value ...`, with spaces and backslashes escaped as the server expects.
pub(crate) fn startup_options(settings: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (name, value) in settings {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str("-c ");
        for c in name
            .chars()
            .chain(std::iter::once('='))
            .chain(value.chars())
        {
            if c == ' ' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

/// Translates a `tokio_postgres` error into a [`ConnError`], with the same hints the
/// replication client gives.
pub(crate) fn from_tokio_postgres(err: tokio_postgres::Error, params: &ConnectParams) -> ConnError {
    if let Some(db) = err.as_db_error() {
        return ConnError::Server {
            severity: db.severity().to_string(),
            code: db.code().code().to_string(),
            message: db.message().to_string(),
            detail: db.detail().map(str::to_string),
            hint: db.hint().map(str::to_string),
        }
        .or_hint(|code, _| startup_hint(code, &params.user, &params.dbname));
    }
    let kind = err.to_string();
    let cause = err.source().map(|s| s.to_string()).unwrap_or_default();
    if kind == "invalid configuration" && cause == "password missing" {
        return ConnError::Auth {
            user: params.user.clone(),
            message: "the server asks for a password and none is configured".into(),
            hint: "set database.password".into(),
        };
    }
    if kind == "timeout waiting for server" {
        return ConnError::Timeout {
            addr: params.addr(),
            after: params.connect_timeout,
        };
    }
    if kind == "error performing TLS handshake" && cause == "server does not support TLS" {
        return ConnError::SslRefused {
            addr: params.addr(),
            sslmode: params.sslmode,
        };
    }
    if kind == "connection closed" {
        return ConnError::Closed;
    }
    let wraps_io = err.source().is_some_and(|s| s.is::<io::Error>());
    let wraps_conn = err.source().is_some_and(|s| s.is::<ConnError>());
    if !(wraps_io || wraps_conn) {
        return ConnError::Query { source: err };
    }
    let Some(source) = err.into_source() else {
        return ConnError::Closed;
    };
    let source = match source.downcast::<ConnError>() {
        Ok(conn) => return *conn,
        Err(other) => match other.downcast::<io::Error>() {
            Ok(io) => *io,
            Err(other) => io::Error::other(other),
        },
    };
    match kind.as_str() {
        "error connecting to server" => ConnError::Connect {
            addr: params.addr(),
            source,
        },
        "error performing TLS handshake" => ConnError::Tls {
            addr: params.addr(),
            source,
        },
        _ => ConnError::Io { source },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn startup_options_escape_spaces() {
        assert_eq!(
            startup_options(&[("DateStyle", "ISO, YMD"), ("TimeZone", "UTC")]),
            "-c DateStyle=ISO,\\ YMD -c TimeZone=UTC"
        );
        assert_eq!(startup_options(&[("a", "b\\c")]), "-c a=b\\\\c");
    }
}
