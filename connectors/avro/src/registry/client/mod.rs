//! A client for Confluent-compatible schema registries.
//!
//! Registration happens when a table's shape changes, reads when a consumer meets an id it
//! has not seen: both are rare next to the events themselves, so the client keeps what it
//! learns — `(subject, schema) → id` and `id → schema` — and a repeated call costs a map
//! lookup, not a round trip. Registrations go one at a time through an async mutex, so
//! callers racing to register the same new schema make one HTTP call, not one each.
//!
//! The cache key for a schema is its [`schema_identity`], not Avro's Parsing Canonical
//! Form: PCF drops logical types, defaults and custom properties, and a changed
//! `logicalType` must get a new id.
//!
//! The client does not retry: errors say whether they are transient ([`Retry`]), and the
//! connector's supervisor decides.
//!
//! [`Retry`]: tributary_core::Retry

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde_json::{Value, json};
use tributary_core::Secret;

use super::RegisteredSchema;
use super::compat::CompatibilityLevel;
use super::error::RegistryError;
use super::identity::schema_identity;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const ACCEPT: &str =
    "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, application/json";
const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// How the client authenticates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RegistryAuth {
    #[default]
    None,
    Basic {
        user: String,
        password: Secret,
    },
    Bearer(Secret),
}

/// A cheaply clonable handle; clones share the connection pool and the caches.
#[derive(Clone)]
pub struct RegistryClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// The base URL without credentials, path prefix kept (`…/apis/ccompat/v7`).
    base: Url,
    auth: RegistryAuth,
    /// `(subject, schema identity) → id`.
    registered: Mutex<HashMap<(String, String), u32>>,
    registering: tokio::sync::Mutex<()>,
    schemas: Mutex<HashMap<u32, Arc<str>>>,
    requests: AtomicU64,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("url", &self.inner.base.as_str())
            .field("auth", &self.inner.auth)
            .finish_non_exhaustive()
    }
}

/// A failed request, before it is given a meaning by the operation.
enum Failure {
    Transport(RegistryError),
    Status {
        status: StatusCode,
        code: Option<i64>,
        message: String,
    },
}

impl RegistryClient {
    /// A client for the registry at `url` (`http` or `https`, path prefix allowed). Basic
    /// credentials may also come as `https://user:password@host`, as Confluent's clients
    /// accept them; explicit `auth` wins.
    pub fn new(url: &str, auth: RegistryAuth) -> Result<Self, RegistryError> {
        let invalid = |reason: &str| RegistryError::InvalidUrl {
            url: redact_userinfo(url),
            reason: reason.to_owned(),
        };
        let mut base = Url::parse(url.trim()).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be http or https"));
        }
        if base.host_str().is_none_or(str::is_empty) {
            return Err(invalid("it has no host"));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(invalid("drop the ?query or #fragment part"));
        }
        let mut auth = auth;
        if !base.username().is_empty() {
            if auth == RegistryAuth::None {
                auth = RegistryAuth::Basic {
                    user: percent_decode(base.username()),
                    password: Secret::new(percent_decode(base.password().unwrap_or(""))),
                };
            }
            let _ = base.set_username("");
            let _ = base.set_password(None);
        }
        if base.path_segments_mut().is_err() {
            return Err(invalid("it cannot have paths appended"));
        }

        // reqwest is built without a bundled crypto provider; ours is ring. Installing twice
        // is harmless (the second attempt reports the first and is ignored).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("tributary/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RegistryError::HttpClient(error_chain(&e)))?;
        Ok(RegistryClient {
            inner: Arc::new(Inner {
                http,
                base,
                auth,
                registered: Mutex::new(HashMap::new()),
                registering: tokio::sync::Mutex::new(()),
                schemas: Mutex::new(HashMap::new()),
                requests: AtomicU64::new(0),
            }),
        })
    }

    /// The registry's base URL, without credentials.
    pub fn url(&self) -> &str {
        self.inner.base.as_str()
    }

    /// HTTP requests sent so far (cache hits send none).
    pub fn requests_sent(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// Registers `schema` under `subject` (or finds it already registered) and returns its
    /// global id.
    pub async fn register(&self, subject: &str, schema: &str) -> Result<u32, RegistryError> {
        let key = (subject.to_owned(), cache_key(schema));
        if let Some(id) = self.cached_id(&key) {
            return Ok(id);
        }
        let _one_at_a_time = self.inner.registering.lock().await;
        if let Some(id) = self.cached_id(&key) {
            return Ok(id);
        }
        let url = self.url_for(&["subjects", subject, "versions"]);
        let body = json!({ "schema": schema });
        let answer = match self.send(Method::POST, url, Some(body)).await {
            Ok(v) => v,
            Err(Failure::Status {
                status: StatusCode::CONFLICT,
                message,
                ..
            }) => {
                return Err(RegistryError::Incompatible {
                    subject: subject.to_owned(),
                    message,
                });
            }
            Err(Failure::Status {
                code: Some(42201),
                message,
                ..
            }) => {
                return Err(RegistryError::InvalidSchema {
                    subject: subject.to_owned(),
                    message,
                });
            }
            Err(f) => return Err(self.general(f)),
        };
        let id = self.id_field(&answer)?;
        lock(&self.inner.registered).insert(key, id);
        lock(&self.inner.schemas)
            .entry(id)
            .or_insert_with(|| Arc::from(schema));
        tracing::debug!(subject, id, "schema registered");
        Ok(id)
    }

    /// The schema text with global id `id`.
    pub async fn schema_by_id(&self, id: u32) -> Result<Arc<str>, RegistryError> {
        if let Some(s) = lock(&self.inner.schemas).get(&id) {
            return Ok(s.clone());
        }
        let url = self.url_for(&["schemas", "ids", &id.to_string()]);
        let answer = match self.send(Method::GET, url, None).await {
            Ok(v) => v,
            Err(Failure::Status {
                status: StatusCode::NOT_FOUND,
                code: Some(40403),
                ..
            }) => {
                return Err(RegistryError::SchemaIdNotFound {
                    url: self.url().to_owned(),
                    id,
                });
            }
            Err(f) => return Err(self.general(f)),
        };
        let text: Arc<str> = match answer.get("schema").and_then(Value::as_str) {
            Some(s) => Arc::from(s),
            None => return Err(self.bad_response("no \"schema\" string in the answer", &answer)),
        };
        lock(&self.inner.schemas).insert(id, text.clone());
        Ok(text)
    }

    /// The latest live version of `subject`.
    pub async fn latest(&self, subject: &str) -> Result<RegisteredSchema, RegistryError> {
        let url = self.url_for(&["subjects", subject, "versions", "latest"]);
        let answer = match self.send(Method::GET, url, None).await {
            Ok(v) => v,
            Err(f) => return Err(self.subject_error(subject, "latest", f)),
        };
        let found = self.registered_schema(subject, answer)?;
        self.remember(&found);
        Ok(found)
    }

    /// The version of `subject` holding `schema`, or `None` if it is not registered there.
    pub async fn lookup(
        &self,
        subject: &str,
        schema: &str,
    ) -> Result<Option<RegisteredSchema>, RegistryError> {
        let url = self.url_for(&["subjects", subject]);
        let answer = match self
            .send(Method::POST, url, Some(json!({ "schema": schema })))
            .await
        {
            Ok(v) => v,
            Err(Failure::Status {
                code: Some(40401 | 40403),
                ..
            }) => return Ok(None),
            Err(f) => return Err(self.subject_error(subject, "", f)),
        };
        let found = self.registered_schema(subject, answer)?;
        self.remember(&found);
        Ok(Some(found))
    }

    /// Sets `subject`'s compatibility level (`PUT /config/{subject}`).
    pub async fn set_compatibility(
        &self,
        subject: &str,
        level: CompatibilityLevel,
    ) -> Result<(), RegistryError> {
        let url = self.url_for(&["config", subject]);
        self.send(Method::PUT, url, Some(json!({ "compatibility": level })))
            .await
            .map_err(|f| self.general(f))?;
        Ok(())
    }

    fn cached_id(&self, key: &(String, String)) -> Option<u32> {
        lock(&self.inner.registered).get(key).copied()
    }

    fn remember(&self, found: &RegisteredSchema) {
        lock(&self.inner.registered)
            .insert((found.subject.clone(), cache_key(&found.schema)), found.id);
        lock(&self.inner.schemas)
            .entry(found.id)
            .or_insert_with(|| Arc::from(found.schema.as_str()));
    }

    /// The base URL with `segments` appended, each percent-encoded (a subject may hold
    /// `/`, `?`, spaces…).
    fn url_for(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.base.clone();
        url.path_segments_mut()
            .expect("checked in new: the base URL takes path segments")
            .pop_if_empty()
            .extend(segments);
        url
    }

    async fn send(&self, method: Method, url: Url, body: Option<Value>) -> Result<Value, Failure> {
        let mut request = self
            .inner
            .http
            .request(method, url.clone())
            .header(reqwest::header::ACCEPT, ACCEPT);
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
                .body(serde_json::to_vec(&body).expect("a JSON value always serializes"));
        }
        request = match &self.inner.auth {
            RegistryAuth::None => request,
            RegistryAuth::Basic { user, password } => {
                request.basic_auth(user, Some(password.expose()))
            }
            RegistryAuth::Bearer(token) => request.bearer_auth(token.expose()),
        };
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        let unreachable = |e: reqwest::Error| {
            let reason = if e.is_timeout() {
                format!(
                    "no answer within {} s ({})",
                    REQUEST_TIMEOUT.as_secs(),
                    error_chain(&e)
                )
            } else {
                error_chain(&e)
            };
            Failure::Transport(RegistryError::Unreachable {
                url: self.url().to_owned(),
                reason,
            })
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(unreachable)?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| {
                Failure::Transport(RegistryError::BadResponse {
                    url: self.url().to_owned(),
                    reason: format!(
                        "{method_url} answered HTTP {status} with a body that is not JSON ({e}): {}",
                        excerpt(&bytes),
                        method_url = redact_url(&url),
                    ),
                })
            });
        }
        let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
        let code = parsed
            .as_ref()
            .and_then(|v| v.get("error_code"))
            .and_then(Value::as_i64);
        let message = parsed
            .as_ref()
            .and_then(|v| v.get("message"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| {
                let body = excerpt(&bytes);
                if body.is_empty() {
                    status.canonical_reason().unwrap_or("no message").to_owned()
                } else {
                    body
                }
            });
        Err(Failure::Status {
            status,
            code,
            message,
        })
    }

    /// The meaning of a failure that no operation gives a special one.
    fn general(&self, failure: Failure) -> RegistryError {
        let (status, code, message) = match failure {
            Failure::Transport(e) => return e,
            Failure::Status {
                status,
                code,
                message,
            } => (status, code, message),
        };
        let url = self.url().to_owned();
        let status_code = status.as_u16();
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => RegistryError::Unauthorized {
                url,
                status: status_code,
                message,
            },
            StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => {
                RegistryError::Unavailable {
                    url,
                    status: status_code,
                    message,
                }
            }
            s if s.is_server_error() => RegistryError::Unavailable {
                url,
                status: status_code,
                message,
            },
            _ => RegistryError::Rejected {
                url,
                status: status_code,
                error_code: code,
                message,
            },
        }
    }

    fn subject_error(&self, subject: &str, version: &str, failure: Failure) -> RegistryError {
        match failure {
            Failure::Status {
                code: Some(40401), ..
            } => RegistryError::SubjectNotFound {
                subject: subject.to_owned(),
            },
            Failure::Status {
                code: Some(40402), ..
            } => RegistryError::VersionNotFound {
                subject: subject.to_owned(),
                version: version.to_owned(),
            },
            other => self.general(other),
        }
    }

    fn id_field(&self, answer: &Value) -> Result<u32, RegistryError> {
        answer
            .get("id")
            .and_then(Value::as_u64)
            .and_then(|id| u32::try_from(id).ok())
            .ok_or_else(|| self.bad_response("no numeric \"id\" in the answer", answer))
    }

    fn registered_schema(
        &self,
        subject: &str,
        answer: Value,
    ) -> Result<RegisteredSchema, RegistryError> {
        let id = self.id_field(&answer)?;
        let version = answer
            .get("version")
            .and_then(Value::as_u64)
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| self.bad_response("no numeric \"version\" in the answer", &answer))?;
        let schema = answer
            .get("schema")
            .and_then(Value::as_str)
            .ok_or_else(|| self.bad_response("no \"schema\" string in the answer", &answer))?
            .to_owned();
        let subject = answer
            .get("subject")
            .and_then(Value::as_str)
            .unwrap_or(subject)
            .to_owned();
        Ok(RegisteredSchema {
            subject,
            id,
            version,
            schema,
        })
    }

    fn bad_response(&self, reason: &str, answer: &Value) -> RegistryError {
        RegistryError::BadResponse {
            url: self.url().to_owned(),
            reason: format!("{reason}: {}", excerpt(answer.to_string().as_bytes())),
        }
    }
}

fn cache_key(schema: &str) -> String {
    schema_identity(schema).unwrap_or_else(|| schema.to_owned())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The maps stay consistent whatever panicked while holding them: one insert at a time.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An error with its causes: reqwest's own message is often just "error sending request".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

fn excerpt(bytes: &[u8]) -> String {
    const MAX: usize = 300;
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

fn redact_url(url: &Url) -> String {
    let mut url = url.clone();
    let _ = url.set_password(None);
    url.to_string()
}

/// `https://user:secret@host` → `https://user:********@host`, for error messages about a
/// URL that did not parse.
fn redact_userinfo(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let authority_end = url[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| scheme_end + i);
    match url[scheme_end..authority_end].rfind('@') {
        Some(at) => {
            let userinfo = &url[scheme_end..scheme_end + at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!(
                "{}{}:{}{}",
                &url[..scheme_end],
                user,
                Secret::MASK,
                &url[scheme_end + at..]
            )
        }
        None => url.to_owned(),
    }
}

fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests;
