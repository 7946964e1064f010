//! The REST API in Kafka Connect's dialect (docs/rest-api.md): connectors, their tasks,
//! offsets and topics, connector plugins and config validation, plus `/metrics`,
//! `/health` and `/openapi.json`.
//!
//! Routes and the OpenAPI document come from the same `#[utoipa::path]` annotations, so
//! the document cannot drift from what is served. Every error, including a rejected body,
//! an unknown path or a wrong method, is Kafka Connect's `{"error_code", "message"}`.

mod connectors;
mod error;
mod indexes;
mod ops;
mod plugins;
mod render;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::ApiError;

use crate::config::{ApiAuth, ApiConfig};
use crate::connector::Shared;
use crate::manager::Manager;

/// What the handlers share.
pub struct ApiState {
    pub manager: Arc<Manager>,
    pub shared: Arc<Shared>,
    /// Kafka Connect's worker id: the API's address.
    pub worker_id: String,
    pub config: ApiConfig,
    /// Every stored connector is loaded and the daemon is not stopping.
    pub ready: AtomicBool,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tributary REST API",
        description = "Kafka Connect's REST API for Tributary's change-data-capture connectors, plus metrics and health."
    ),
    tags(
        (name = "connectors", description = "Kafka Connect's connector endpoints"),
        (name = "plugins", description = "Connector plugins and config validation"),
        (name = "operations", description = "Metrics, health and this document")
    )
)]
struct ApiDoc;

/// The router with every route, the OpenAPI document, auth, limits and timeouts.
pub fn router(state: Arc<ApiState>) -> Router {
    let (router, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(connectors::root))
        .routes(routes!(connectors::list, connectors::create))
        .routes(routes!(connectors::info, connectors::delete))
        .routes(routes!(
            connectors::get_config,
            connectors::put_config,
            connectors::patch_config
        ))
        .routes(routes!(connectors::status))
        .routes(routes!(connectors::restart))
        .routes(routes!(connectors::pause))
        .routes(routes!(connectors::resume))
        .routes(routes!(connectors::stop))
        .routes(routes!(connectors::tasks))
        .routes(routes!(connectors::task_status))
        .routes(routes!(connectors::task_restart))
        .routes(routes!(
            connectors::get_offsets,
            connectors::alter_offsets,
            connectors::reset_offsets
        ))
        .routes(routes!(connectors::signal))
        .routes(routes!(connectors::topics))
        .routes(routes!(connectors::reset_topics))
        .routes(routes!(plugins::list))
        .routes(routes!(plugins::config))
        .routes(routes!(plugins::validate))
        .routes(routes!(indexes::list))
        .routes(routes!(indexes::search))
        .routes(routes!(indexes::delete_index))
        .routes(routes!(ops::metrics))
        .routes(routes!(ops::health))
        .routes(routes!(ops::live))
        .routes(routes!(ops::ready))
        .routes(routes!(ops::openapi))
        .split_for_parts();
    let doc = Arc::new(doc.to_pretty_json().unwrap_or_else(|_| "{}".into()));
    let limit = state.config.max_body_bytes;
    router
        .layer(axum::Extension(ops::Document(doc)))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "HTTP 404 Not Found") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "HTTP 405 Method Not Allowed",
            )
        })
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Auth (except for health checks) and the request timeout.
async fn guard(State(state): State<Arc<ApiState>>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !path.starts_with("/health") && !authorized(&state.config.auth, &request) {
        let mut r = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "authentication required: send the credentials set in the daemon's [api] config",
        )
        .into_response();
        if let Ok(challenge) = HeaderValue::from_str(&state.config.auth.challenge("tributary")) {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
        }
        return r;
    }
    match tokio::time::timeout(state.config.request_timeout, next.run(request)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the request did not finish within {}s (api.request_timeout_ms); it may still complete: check the connector's status",
                state.config.request_timeout.as_secs()
            ),
        )
        .into_response(),
    }
}

fn authorized(auth: &ApiAuth, request: &Request) -> bool {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    auth.accepts(given)
}
