//! The REST API in Kafka Connect's dialect. This is the part the daemon needs to be
//! observed while it runs connectors from files: the root, the connector list and each
//! connector's status. Management (create, pause, offsets, …) arrives with the REST issue.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::connector::Connector;

/// What the handlers read.
pub struct ApiState {
    pub connectors: BTreeMap<String, Connector>,
    pub worker_id: String,
}

pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/connectors", get(list))
        .route("/connectors/{name}/status", get(status))
        .with_state(state)
}

async fn root() -> Json<serde_json::Value> {
    Json(json!({
        "version": tributary_core::VERSION,
        "commit": "",
        "kafka_cluster_id": null,
    }))
}

async fn list(State(state): State<Arc<ApiState>>) -> Json<Vec<String>> {
    Json(state.connectors.keys().cloned().collect())
}

async fn status(State(state): State<Arc<ApiState>>, Path(name): Path<String>) -> Response {
    let Some(c) = state.connectors.get(&name) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error_code": 404, "message": format!("Connector {name} not found")})),
        )
            .into_response();
    };
    let s = c.status();
    let mut task = json!({"id": 0, "state": s.state, "worker_id": state.worker_id});
    if let Some(trace) = &s.trace {
        task["trace"] = json!(trace);
    }
    Json(json!({
        "name": name,
        "connector": {"state": s.state, "worker_id": state.worker_id},
        "tasks": [task],
        "type": "source",
    }))
    .into_response()
}
