//! Offsets of a connector, metrics, health and the OpenAPI document.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{Value, json};

use super::{ApiError, ApiState};

/// `GET …/offsets`, in the connector kind's shape: a source's one partition
/// `{"server": prefix}`, a sink's consumer-group partitions.
pub async fn read_offsets(api: &ApiState, name: &str) -> Result<Value, ApiError> {
    let spec = api.manager.spec(name)?;
    Ok(spec.read_offsets(&api.shared, name).await?)
}

/// `PATCH …/offsets` (STOPPED only). The list is checked first, so a bad body is a 400
/// whatever the connector's state.
pub async fn alter_offsets(api: &ApiState, name: &str, body: Value) -> Result<(), ApiError> {
    let Some(list) = body.get("offsets").and_then(Value::as_array) else {
        return Err(ApiError::bad_request(
            "offsets: is required: {\"offsets\": [{\"partition\": {…}, \"offset\": {…}}]}",
        ));
    };
    api.manager.spec(name)?.check_offsets(list)?;
    let shared = api.shared.clone();
    api.manager
        .with_stopped(name, |spec| async move {
            spec.alter_offsets(&shared, name, list).await
        })
        .await?;
    Ok(())
}

/// `DELETE …/offsets` (STOPPED only): a source forgets its offset and drops its slot, so
/// the next start snapshots anew; a sink's group forgets its offsets.
pub async fn reset_offsets(api: &ApiState, name: &str) -> Result<(), ApiError> {
    let shared = api.shared.clone();
    api.manager
        .with_stopped(name, |spec| async move {
            spec.reset_offsets(&shared, name).await
        })
        .await?;
    Ok(())
}

/// The OpenAPI document, rendered once.
#[derive(Clone)]
pub struct Document(pub Arc<String>);

/// Per-connector metrics in Prometheus' text format, with Debezium's names mirrored.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(api): State<Arc<ApiState>>) -> Response {
    let text = api.manager.metrics().await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// Kafka Connect's health check.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200), (status = 503)))]
pub async fn health(State(api): State<Arc<ApiState>>) -> Response {
    if api.ready.load(Ordering::Relaxed) {
        Json(json!({"status": "healthy", "message": "Worker has completed startup and is ready to handle requests."})).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "starting", "message": "Worker is starting or stopping."})),
        )
            .into_response()
    }
}

/// The process serves requests.
#[utoipa::path(get, path = "/health/live", tag = "operations", responses((status = 200)))]
pub async fn live() -> Json<Value> {
    Json(json!({"status": "UP"}))
}

/// Every stored connector is loaded and the daemon is not stopping.
#[utoipa::path(get, path = "/health/ready", tag = "operations",
    responses((status = 200), (status = 503)))]
pub async fn ready(State(api): State<Arc<ApiState>>) -> Response {
    if api.ready.load(Ordering::Relaxed) {
        Json(json!({"status": "UP"})).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "DOWN"})),
        )
            .into_response()
    }
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1", content_type = "application/json")))]
pub async fn openapi(Extension(doc): Extension<Document>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        doc.0.as_str().to_string(),
    )
        .into_response()
}
