//! Who may use the embedded registry, and for what: the same credential choices as the
//! REST API (none, HTTP basic as Confluent's clients send `basic.auth.user.info`, bearer),
//! and an optional read-only mode for everyone but the daemon itself, so a registry shared
//! with consumers (Flink, RisingWave, other daemons' sink jobs) cannot be written or
//! emptied by them.
//!
//! The daemon's own client carries a token made when the daemon starts, which the registry
//! always lets write; nobody else ever sees it.

use std::io::Read;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tributary_core::{HttpAuth, Secret};

use super::error::ApiError;

/// The registry's access rules.
#[derive(Debug, Clone)]
pub struct Access {
    /// What callers other than the daemon must send.
    pub auth: HttpAuth,
    /// Everyone but the daemon may only read.
    pub read_only: bool,
    daemon: Secret,
}

impl Default for Access {
    /// Open to everyone, read-write: what a registry on loopback has always been.
    fn default() -> Self {
        Access::new(HttpAuth::None, false)
    }
}

impl Access {
    pub fn new(auth: HttpAuth, read_only: bool) -> Access {
        Access {
            auth,
            read_only,
            daemon: Secret::new(random_token()),
        }
    }

    /// The bearer token of the daemon's own client.
    pub fn daemon_token(&self) -> &Secret {
        &self.daemon
    }

    fn is_daemon(&self, authorization: &str) -> bool {
        HttpAuth::Bearer(self.daemon.clone()).accepts(authorization)
    }
}

/// Whether a request changes the registry: deletes, config and mode changes, and
/// registering a schema (looking one up or testing compatibility is a POST that reads).
fn writes(method: &Method, path: &str) -> bool {
    match *method {
        Method::DELETE | Method::PUT => true,
        Method::POST => path.starts_with("/subjects/") && path.ends_with("/versions"),
        _ => false,
    }
}

/// The middleware that applies [`Access`] to every request.
pub(super) async fn guard(
    State(access): State<Arc<Access>>,
    request: Request,
    next: Next,
) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if access.is_daemon(given) {
        return next.run(request).await;
    }
    if !access.auth.accepts(given) {
        let mut r = ApiError::new(
            401,
            401,
            "Unauthorized: send the credentials of the daemon's [schema_registry] auth",
        )
        .into_response();
        if let Ok(challenge) =
            HeaderValue::from_str(&access.auth.challenge("tributary schema registry"))
        {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
        }
        return r;
    }
    if access.read_only && writes(request.method(), request.uri().path()) {
        return ApiError::new(
            422,
            42205,
            "the registry is in read-only mode (schema_registry.mode = \"readonly\"): only the daemon registers or deletes schemas",
        )
        .into_response();
    }
    next.run(request).await
}

/// 32 random bytes from the kernel, hex: the daemon's token. Falls back to the time and
/// process id only where /dev/urandom cannot be read (it always can on Linux).
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
        for (i, b) in seed.bytes().enumerate() {
            bytes[i % 32] ^= b;
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registering_and_deleting_write_and_lookups_read() {
        assert!(writes(
            &Method::POST,
            "/subjects/cdc.public.t-value/versions"
        ));
        assert!(writes(&Method::DELETE, "/subjects/cdc.public.t-value"));
        assert!(writes(&Method::PUT, "/config"));
        assert!(!writes(&Method::POST, "/subjects/cdc.public.t-value"));
        assert!(!writes(
            &Method::POST,
            "/compatibility/subjects/cdc.public.t-value/versions/latest"
        ));
        assert!(!writes(&Method::GET, "/schemas/ids/1"));
    }

    #[test]
    fn each_daemon_gets_its_own_token() {
        let (a, b) = (Access::default(), Access::default());
        assert_ne!(a.daemon_token().expose(), b.daemon_token().expose());
        assert_eq!(a.daemon_token().expose().len(), 64);
        assert!(a.is_daemon(&format!("Bearer {}", a.daemon_token().expose())));
        assert!(!a.is_daemon(&format!("Bearer {}", b.daemon_token().expose())));
    }
}
