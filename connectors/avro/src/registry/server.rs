//! The embedded registry's HTTP face: Confluent's REST API over the [`Store`].
//!
//! Routes, JSON shapes, error codes and the `application/vnd.schemaregistry.v1+json`
//! content type are Confluent's, so its clients (Java, librdkafka's, Python's, Go's) work
//! unchanged. Requests are read leniently the way Confluent's own server reads them: any
//! `Content-Type` and `Accept`, unknown body fields ignored, boolean query parameters in
//! any case (Python's client sends `?normalize=False`).
//!
//! Store calls run on the blocking pool: a write syncs the log to disk before it returns,
//! and that must not stall the runtime's workers.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::access::{Access, guard};
use super::compat::CompatibilityLevel;
use super::error::{ApiError, RegistryError};
use super::store::{Store, VersionSpec};

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";
/// Debezium value schemas of wide tables run to hundreds of KB; leave ample room.
const MAX_BODY: usize = 16 * 1024 * 1024;

type Shared = Arc<Mutex<Store>>;
type Params = Query<HashMap<String, String>>;
type ApiResult = Result<Response, ApiError>;

/// A Confluent-compatible schema registry kept in a local directory.
pub struct EmbeddedRegistry {
    store: Shared,
    dir: PathBuf,
    access: Arc<Access>,
}

impl EmbeddedRegistry {
    /// Opens (creating) the registry kept in `dir` — give it a directory of its own, e.g.
    /// `<data_dir>/schema-registry` — and replays its log. Blocking file I/O.
    pub fn open(dir: &Path) -> Result<Self, RegistryError> {
        let store = Store::open(dir)?;
        Ok(EmbeddedRegistry {
            store: Arc::new(Mutex::new(store)),
            dir: dir.to_path_buf(),
            access: Arc::new(Access::default()),
        })
    }

    /// Serves under these access rules (open and read-write unless given).
    pub fn with_access(mut self, access: Access) -> Self {
        self.access = Arc::new(access);
        self
    }

    /// The directory the registry lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The API as an axum router, for callers that serve it themselves.
    pub fn router(&self) -> Router {
        router(self.store.clone(), self.access.clone())
    }

    /// Binds `listen` (the value of `schema_registry.listen`), with an error that names
    /// the address and the setting.
    pub async fn bind(listen: &str) -> Result<TcpListener, RegistryError> {
        TcpListener::bind(listen)
            .await
            .map_err(|source| RegistryError::Bind {
                addr: listen.to_owned(),
                source,
            })
    }

    /// Serves the API on `listener` until `shutdown` completes, then lets in-flight
    /// requests finish.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), RegistryError> {
        let addr = listener
            .local_addr()
            .map_err(|source| RegistryError::Bind {
                addr: "the given listener".into(),
                source,
            })?;
        tracing::info!(%addr, dir = %self.dir.display(), "embedded schema registry listening");
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|source| RegistryError::Serve { addr, source })
    }

    /// Binds `listen` and serves in a background task; the handle tells the bound address
    /// (useful with port 0) and stops the server. Dropping the handle stops it too.
    pub async fn start(self, listen: &str) -> Result<RegistryHandle, RegistryError> {
        let listener = Self::bind(listen).await?;
        let addr = listener
            .local_addr()
            .map_err(|source| RegistryError::Bind {
                addr: listen.to_owned(),
                source,
            })?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(self.serve(listener, async move {
            let _ = stopped.await;
        }));
        Ok(RegistryHandle {
            addr,
            stop: Some(stop),
            task,
        })
    }
}

/// A running embedded registry.
pub struct RegistryHandle {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), RegistryError>>,
}

impl RegistryHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`, the value for a client's registry URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections, waits for in-flight requests, and returns how the
    /// server ended.
    pub async fn shutdown(mut self) -> Result<(), RegistryError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result,
            Err(e) => Err(RegistryError::Serve {
                addr: self.addr,
                source: std::io::Error::other(e.to_string()),
            }),
        }
    }
}

fn router(store: Shared, access: Arc<Access>) -> Router {
    let read_only = access.read_only;
    Router::new()
        .route("/", get(root))
        .route("/subjects", get(list_subjects))
        .route("/subjects/{subject}", post(lookup).delete(delete_subject))
        .route(
            "/subjects/{subject}/versions",
            get(list_versions).post(register),
        )
        .route(
            "/subjects/{subject}/versions/{version}",
            get(get_version).delete(delete_version),
        )
        .route(
            "/subjects/{subject}/versions/{version}/schema",
            get(get_version_schema),
        )
        .route(
            "/subjects/{subject}/versions/{version}/referencedby",
            get(referenced_by),
        )
        .route("/schemas/types", get(schema_types))
        .route("/schemas/ids/{id}", get(schema_by_id))
        .route("/schemas/ids/{id}/schema", get(raw_schema_by_id))
        .route("/schemas/ids/{id}/versions", get(schema_versions))
        .route("/schemas/ids/{id}/subjects", get(schema_subjects))
        .route(
            "/config",
            get(get_global_config)
                .put(put_global_config)
                .delete(delete_global_config),
        )
        .route(
            "/config/{subject}",
            get(get_subject_config)
                .put(put_subject_config)
                .delete(delete_subject_config),
        )
        .route(
            "/compatibility/subjects/{subject}/versions",
            post(check_all_versions),
        )
        .route(
            "/compatibility/subjects/{subject}/versions/{version}",
            post(check_version),
        )
        .route("/mode", get(move || mode(read_only)))
        .route("/mode/{subject}", get(move || mode(read_only)))
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(access, guard))
        .with_state(store)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        reply(
            status,
            &json!({"error_code": self.code, "message": self.message}),
        )
    }
}

fn reply(status: StatusCode, body: &impl serde::Serialize) -> Response {
    let bytes = serde_json::to_vec(body).expect("a JSON value always serializes");
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        bytes,
    )
        .into_response()
}

fn ok(body: &impl serde::Serialize) -> ApiResult {
    Ok(reply(StatusCode::OK, body))
}

/// Runs `f` on the store on the blocking pool.
async fn with_store<T: Send + 'static>(
    store: &Shared,
    f: impl FnOnce(&mut Store) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let mut guard = store.lock().map_err(|_| {
            ApiError::storage(
                "Registry state was poisoned by an earlier failure; restart the daemon",
            )
        })?;
        f(&mut guard)
    })
    .await
    .map_err(|e| ApiError::storage(format!("Registry task failed: {e}")))?
}

/// `?deleted=true`, `?deleted=True`: Confluent's server parses booleans case-insensitively.
fn flag(params: &HashMap<String, String>, key: &str) -> bool {
    params
        .get(key)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

#[derive(Deserialize)]
struct SchemaBody {
    schema: Option<String>,
    #[serde(rename = "schemaType")]
    schema_type: Option<String>,
    references: Option<Vec<Value>>,
}

/// The schema text of a register / lookup / compatibility request.
fn schema_text(body: &[u8]) -> Result<String, ApiError> {
    let body: SchemaBody = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("Invalid request body: {e}")))?;
    if let Some(t) = &body.schema_type
        && !t.eq_ignore_ascii_case("AVRO")
    {
        return Err(ApiError::invalid_schema(format!(
            "Invalid schema type {t}: the embedded schema registry supports AVRO only"
        )));
    }
    if body.references.as_ref().is_some_and(|r| !r.is_empty()) {
        return Err(ApiError::invalid_schema(
            "Schema references are not supported by the embedded schema registry",
        ));
    }
    match body.schema {
        Some(s) if !s.trim().is_empty() => Ok(s),
        _ => Err(ApiError::invalid_schema("Empty schema")),
    }
}

/// `?offset=&limit=` as Confluent pages lists (Python's client always sends
/// `offset=0&limit=-1`); a negative or missing limit means all.
fn page<T>(items: Vec<T>, params: &HashMap<String, String>) -> Vec<T> {
    let offset = params
        .get("offset")
        .and_then(|o| o.parse::<usize>().ok())
        .unwrap_or(0);
    let limit = params
        .get("limit")
        .and_then(|l| l.parse::<i64>().ok())
        .and_then(|l| usize::try_from(l).ok())
        .unwrap_or(usize::MAX);
    items.into_iter().skip(offset).take(limit).collect()
}

fn parse_id(id: &str) -> Result<u32, ApiError> {
    // Confluent's router does not match a non-numeric id at all.
    id.parse().map_err(|_| ApiError::not_found())
}

async fn root() -> ApiResult {
    ok(&json!({}))
}

async fn mode(read_only: bool) -> ApiResult {
    ok(&json!({"mode": if read_only { "READONLY" } else { "READWRITE" }}))
}

async fn schema_types() -> ApiResult {
    ok(&["AVRO"])
}

async fn list_subjects(State(st): State<Shared>, Query(q): Params) -> ApiResult {
    let deleted = flag(&q, "deleted");
    let deleted_only = flag(&q, "deleted_only") || flag(&q, "deletedOnly");
    let prefix = q.get("subjectPrefix").cloned().unwrap_or_default();
    let list = with_store(&st, move |s| Ok(s.subjects(deleted, deleted_only, &prefix))).await?;
    ok(&page(list, &q))
}

async fn list_versions(
    State(st): State<Shared>,
    UrlPath(subject): UrlPath<String>,
    Query(q): Params,
) -> ApiResult {
    let deleted = flag(&q, "deleted");
    let list = with_store(&st, move |s| s.versions(&subject, deleted)).await?;
    ok(&page(list, &q))
}

async fn register(
    State(st): State<Shared>,
    UrlPath(subject): UrlPath<String>,
    body: Bytes,
) -> ApiResult {
    let text = schema_text(&body)?;
    let id = with_store(&st, move |s| s.register(&subject, &text)).await?;
    ok(&json!({"id": id}))
}

async fn lookup(
    State(st): State<Shared>,
    UrlPath(subject): UrlPath<String>,
    Query(q): Params,
    body: Bytes,
) -> ApiResult {
    let text = schema_text(&body)?;
    let deleted = flag(&q, "deleted");
    ok(&with_store(&st, move |s| s.lookup(&subject, &text, deleted)).await?)
}

async fn get_version(
    State(st): State<Shared>,
    UrlPath((subject, version)): UrlPath<(String, String)>,
    Query(q): Params,
) -> ApiResult {
    let spec = VersionSpec::parse(&version)?;
    let deleted = flag(&q, "deleted");
    ok(&with_store(&st, move |s| s.version(&subject, spec, deleted)).await?)
}

async fn get_version_schema(
    State(st): State<Shared>,
    UrlPath((subject, version)): UrlPath<(String, String)>,
    Query(q): Params,
) -> ApiResult {
    let spec = VersionSpec::parse(&version)?;
    let deleted = flag(&q, "deleted");
    let found = with_store(&st, move |s| s.version(&subject, spec, deleted)).await?;
    Ok(raw(found.schema))
}

async fn referenced_by(
    State(st): State<Shared>,
    UrlPath((subject, version)): UrlPath<(String, String)>,
) -> ApiResult {
    let spec = VersionSpec::parse(&version)?;
    with_store(&st, move |s| s.version(&subject, spec, false)).await?;
    ok(&Vec::<u32>::new())
}

/// A schema text as the body, as Confluent's `…/schema` endpoints answer.
fn raw(text: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        text,
    )
        .into_response()
}

async fn delete_subject(
    State(st): State<Shared>,
    UrlPath(subject): UrlPath<String>,
    Query(q): Params,
) -> ApiResult {
    let permanent = flag(&q, "permanent");
    ok(&with_store(&st, move |s| s.delete_subject(&subject, permanent)).await?)
}

async fn delete_version(
    State(st): State<Shared>,
    UrlPath((subject, version)): UrlPath<(String, String)>,
    Query(q): Params,
) -> ApiResult {
    let spec = VersionSpec::parse(&version)?;
    let permanent = flag(&q, "permanent");
    ok(&with_store(&st, move |s| s.delete_version(&subject, spec, permanent)).await?)
}

/// `?subject=`, `?fetchMaxId=`, `?format=` are accepted and ignored: ids are global here.
async fn schema_by_id(State(st): State<Shared>, UrlPath(id): UrlPath<String>) -> ApiResult {
    let id = parse_id(&id)?;
    let text = with_store(&st, move |s| s.schema(id)).await?;
    ok(&json!({"schema": text}))
}

async fn raw_schema_by_id(State(st): State<Shared>, UrlPath(id): UrlPath<String>) -> ApiResult {
    let id = parse_id(&id)?;
    Ok(raw(with_store(&st, move |s| s.schema(id)).await?))
}

async fn schema_versions(
    State(st): State<Shared>,
    UrlPath(id): UrlPath<String>,
    Query(q): Params,
) -> ApiResult {
    let id = parse_id(&id)?;
    let deleted = flag(&q, "deleted");
    let pairs = with_store(&st, move |s| s.schema_versions(id, deleted)).await?;
    let list: Vec<Value> = pairs
        .into_iter()
        .map(|(subject, version)| json!({"subject": subject, "version": version}))
        .collect();
    ok(&page(list, &q))
}

async fn schema_subjects(
    State(st): State<Shared>,
    UrlPath(id): UrlPath<String>,
    Query(q): Params,
) -> ApiResult {
    let id = parse_id(&id)?;
    let deleted = flag(&q, "deleted");
    let pairs = with_store(&st, move |s| s.schema_versions(id, deleted)).await?;
    let mut subjects: Vec<String> = pairs.into_iter().map(|(s, _)| s).collect();
    subjects.dedup();
    ok(&page(subjects, &q))
}

/// A `PUT /config` body: Confluent documents `compatibility` and answers with it, and
/// reads `compatibilityLevel` (the GET shape) too.
#[derive(Deserialize)]
struct ConfigBody {
    compatibility: Option<String>,
    #[serde(rename = "compatibilityLevel")]
    compatibility_level: Option<String>,
}

fn level_from(body: &[u8]) -> Result<CompatibilityLevel, ApiError> {
    let body: ConfigBody = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("Invalid request body: {e}")))?;
    body.compatibility
        .or(body.compatibility_level)
        .ok_or_else(ApiError::invalid_level)?
        .parse()
        .map_err(|_| ApiError::invalid_level())
}

async fn get_global_config(State(st): State<Shared>) -> ApiResult {
    let level = with_store(&st, |s| Ok(s.global_level())).await?;
    ok(&json!({"compatibilityLevel": level}))
}

async fn put_global_config(State(st): State<Shared>, body: Bytes) -> ApiResult {
    let level = level_from(&body)?;
    with_store(&st, move |s| s.set_level(None, Some(level))).await?;
    ok(&json!({"compatibility": level}))
}

async fn delete_global_config(State(st): State<Shared>) -> ApiResult {
    let previous = with_store(&st, |s| {
        let previous = s.global_level();
        s.set_level(None, None)?;
        Ok(previous)
    })
    .await?;
    ok(&json!({"compatibilityLevel": previous}))
}

async fn get_subject_config(
    State(st): State<Shared>,
    UrlPath(subject): UrlPath<String>,
    Query(q): Params,
) -> ApiResult {
    let default_to_global = flag(&q, "defaultToGlobal");
    let level = with_store(&st, move |s| match s.subject_level(&subject) {
        Some(l) => Ok(l),
        None if default_to_global => Ok(s.global_level()),
        None => Err(ApiError::subject_level_not_configured(&subject)),
    })
    .await?;
    ok(&json!({"compatibilityLevel": level}))
}

async fn put_subject_config(
    State(st): State<Shared>,
    UrlPath(subject): UrlPath<String>,
    body: Bytes,
) -> ApiResult {
    let level = level_from(&body)?;
    with_store(&st, move |s| s.set_level(Some(&subject), Some(level))).await?;
    ok(&json!({"compatibility": level}))
}

async fn delete_subject_config(
    State(st): State<Shared>,
    UrlPath(subject): UrlPath<String>,
) -> ApiResult {
    let removed = with_store(&st, move |s| s.delete_subject_level(&subject)).await?;
    ok(&json!({"compatibilityLevel": removed}))
}

async fn check_version(
    State(st): State<Shared>,
    UrlPath((subject, version)): UrlPath<(String, String)>,
    Query(q): Params,
    body: Bytes,
) -> ApiResult {
    let spec = VersionSpec::parse(&version)?;
    compatibility(st, subject, Some(spec), &q, &body).await
}

async fn check_all_versions(
    State(st): State<Shared>,
    UrlPath(subject): UrlPath<String>,
    Query(q): Params,
    body: Bytes,
) -> ApiResult {
    compatibility(st, subject, None, &q, &body).await
}

async fn compatibility(
    st: Shared,
    subject: String,
    spec: Option<VersionSpec>,
    q: &HashMap<String, String>,
    body: &[u8],
) -> ApiResult {
    let text = schema_text(body)?;
    let messages = with_store(&st, move |s| s.test_compatibility(&subject, &text, spec)).await?;
    if flag(q, "verbose") {
        ok(&json!({"is_compatible": messages.is_empty(), "messages": messages}))
    } else {
        ok(&json!({"is_compatible": messages.is_empty()}))
    }
}
