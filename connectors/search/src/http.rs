//! The HTTP side shared by the Elasticsearch/OpenSearch and Meilisearch sinks: one client,
//! the server's base URL, authentication, and the one place that decides which failures are
//! worth retrying.
//!
//! - no answer (connection refused, reset, timeout): transient, naming `connection.url`;
//! - 401/403: definite, naming the credential properties to fix;
//! - 408, 429 and 5xx: transient (the server is busy or restarting);
//! - any other status: definite, with the server's reason.

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use tributary_core::config::ConfigError;
use tributary_core::{Secret, SinkError};

use crate::config::{Backend, Connection};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How requests authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Auth {
    None,
    Basic {
        user: String,
        password: Secret,
    },
    /// Elasticsearch's `Authorization: ApiKey …`.
    ApiKey(Secret),
    /// Meilisearch's `Authorization: Bearer …`.
    Bearer(Secret),
}

/// One search server.
#[derive(Debug, Clone)]
pub(crate) struct Server {
    http: reqwest::Client,
    base: Url,
    auth: Auth,
    backend: Backend,
    pub timeout: Duration,
}

/// A server's answer, read whole.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The body for a message: at most 500 characters.
    pub fn excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let text = text.trim();
        match text.char_indices().nth(500) {
            Some((i, _)) => format!("{}…", &text[..i]),
            None => text.to_string(),
        }
    }
}

impl Server {
    pub fn new(
        backend: Backend,
        conn: &Connection,
        timeout: Duration,
    ) -> Result<Server, SinkError> {
        let auth = match (&conn.username, conn.api_key.is_empty()) {
            (Some(user), _) => Auth::Basic {
                user: user.clone(),
                password: conn.password.clone(),
            },
            (None, false) if backend == Backend::Meilisearch => Auth::Bearer(conn.api_key.clone()),
            (None, false) => Auth::ApiKey(conn.api_key.clone()),
            (None, true) => Auth::None,
        };
        // reqwest is built without a bundled crypto provider; ours is ring. Installing twice
        // is harmless (the second attempt reports the first and is ignored).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT.min(timeout))
            .timeout(timeout)
            .user_agent(concat!("tributary/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SinkError::Definite(format!("cannot build an HTTP client: {e}")))?;
        Ok(Server {
            http,
            base: conn.url.clone(),
            auth,
            backend,
            timeout,
        })
    }

    /// The base URL with `segments` appended (each percent-encoded) and `query` set.
    pub fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Sends a request and reads the whole answer. Only a missing answer is an error here;
    /// statuses are for the caller (see [`Server::status_error`]).
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<(&'static str, Vec<u8>)>,
    ) -> Result<Answer, SinkError> {
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some((content_type, body)) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body);
        }
        request = match &self.auth {
            Auth::None => request,
            Auth::Basic { user, password } => request.basic_auth(user, Some(password.expose())),
            Auth::ApiKey(key) => request.header(
                reqwest::header::AUTHORIZATION,
                format!("ApiKey {}", key.expose()),
            ),
            Auth::Bearer(token) => request.bearer_auth(token.expose()),
        };
        let unreachable = |e: reqwest::Error| {
            let reason = if e.is_timeout() {
                format!("no answer within {} ms", self.timeout.as_millis())
            } else {
                error_chain(&e)
            };
            SinkError::Transient(format!(
                "{} at {} did not answer {method} {}: {reason}; check connection.url and that the server is up",
                self.name(),
                self.base,
                url.path(),
            ))
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let body = response.bytes().await.map_err(unreachable)?.to_vec();
        Ok(Answer { status, body })
    }

    pub fn name(&self) -> &'static str {
        match self.backend {
            Backend::Elasticsearch => "Elasticsearch",
            Backend::OpenSearch => "OpenSearch",
            Backend::Meilisearch => "Meilisearch",
            Backend::Tantivy => "tantivy",
        }
    }

    /// The properties that hold the credentials in use.
    fn credential_fields(&self) -> &'static str {
        match self.auth {
            Auth::Basic { .. } => "connection.username and connection.password",
            Auth::ApiKey(_) | Auth::Bearer(_) => "api.key",
            Auth::None if self.backend == Backend::Meilisearch => {
                "api.key (none is set, and the server wants one)"
            }
            Auth::None => {
                "connection.username and connection.password, or api.key (none is set, and the server wants credentials)"
            }
        }
    }

    /// The meaning of a status that is not success, for `what` (e.g. `bulk request`).
    pub fn status_error(&self, what: &str, answer: &Answer) -> SinkError {
        let status = answer.status;
        let message = format!(
            "{} answered {what} with HTTP {}: {}",
            self.name(),
            status.as_u16(),
            answer.excerpt()
        );
        match status.as_u16() {
            401 | 403 => {
                SinkError::Definite(format!("{message}; check {}", self.credential_fields()))
            }
            408 | 429 => SinkError::Transient(message),
            s if s >= 500 => SinkError::Transient(message),
            _ => SinkError::Definite(message),
        }
    }
}

impl Server {
    /// `GET` a path for `check`: a problem names the property to fix.
    pub async fn check_get(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<(), ConfigError> {
        let what = format!("GET /{}", segments.join("/"));
        let answer = self
            .send(Method::GET, self.url(segments, query), None)
            .await
            .map_err(|e| ConfigError {
                field: "connection.url".into(),
                message: e.to_string(),
            })?;
        if answer.status.is_success() {
            return Ok(());
        }
        let field = match (&self.auth, answer.status.as_u16()) {
            (Auth::Basic { .. }, 401 | 403) => "connection.username",
            (_, 401 | 403) => "api.key",
            _ => "connection.url",
        };
        Err(ConfigError {
            field: field.into(),
            message: self.status_error(&what, &answer).to_string(),
        })
    }
}

/// An error with its causes, `a: b: c`.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
