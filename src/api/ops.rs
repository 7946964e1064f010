//! Offsets of a connector, metrics, health and the OpenAPI document.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{Value, json};
use tributary_postgres::admin::{self, AdminError};
use tributary_postgres::offset::PgOffset;

use super::{ApiError, ApiState};
use crate::connector::{SourceSpec, Spec};
use crate::manager::OpError;

/// The source a connector runs; its kind cannot change while its lock is held, but say so
/// rather than panic.
fn source_of(spec: Spec) -> Result<SourceSpec, OpError> {
    match spec {
        Spec::Source(s) => Ok(s),
        Spec::Sink(_) => Err(OpError::Conflict(
            "the connector became a sink while its offsets changed; retry".into(),
        )),
    }
}

pub(super) fn kafka_error(action: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("could not {action}: {e}; is Kafka reachable? retry when it is"),
    )
}

fn admin_error(e: AdminError) -> OpError {
    match e {
        AdminError::Rejected(m) => OpError::BadRequest(m),
        other => OpError::Internal(other.to_string()),
    }
}

/// `{"offsets": [{"partition": {"server": prefix}, "offset": {…}}]}` of a source, or
/// `{"offsets": [{"partition": {"kafka_topic", "kafka_partition"}, "offset": {"kafka_offset"}}]}`
/// of a sink (its consumer group's committed offsets).
pub async fn read_offsets(api: &ApiState, name: &str) -> Result<Value, ApiError> {
    let spec = match api.manager.spec(name)? {
        Spec::Source(s) => s,
        Spec::Sink(sink) => return super::sinks::read_offsets(api, &sink).await,
    };
    let prefix = &spec.source.topic_prefix;
    let kafka = api.shared.kafka.with(&spec.kafka);
    let offset = tributary_kafka::offsets::read_offset(&kafka, name, prefix)
        .await
        .map_err(|e| kafka_error("read the offset", e))?;
    let offsets: Vec<Value> = offset
        .into_iter()
        .map(|o| json!({"partition": {"server": prefix}, "offset": o}))
        .collect();
    Ok(json!({ "offsets": offsets }))
}

/// PATCH: a new offset for the one partition; the slot is advanced to its LSN (it cannot
/// go back: Postgres has released what is before its confirmed position).
pub async fn alter_offsets(api: &ApiState, name: &str, body: Value) -> Result<(), ApiError> {
    let bad = |m: String| ApiError::bad_request(m);
    let Some(list) = body.get("offsets").and_then(Value::as_array) else {
        return Err(bad(
            "offsets: is required: {\"offsets\": [{\"partition\": {\"server\": …}, \"offset\": {…}}]}"
                .into(),
        ));
    };
    let spec = match api.manager.spec(name)? {
        Spec::Source(s) => s,
        Spec::Sink(_) => return super::sinks::alter_offsets(api, name, list).await,
    };
    let prefix = spec.source.topic_prefix.clone();
    let [entry] = list.as_slice() else {
        return Err(bad(format!(
            "offsets: give exactly one entry, for the connector's one partition {{\"server\": {prefix:?}}}"
        )));
    };
    let partition = entry.get("partition");
    if partition != Some(&json!({ "server": prefix })) {
        return Err(bad(format!(
            "partition: {} is not this connector's; its one partition is {{\"server\": {prefix:?}}}",
            partition.map_or("missing".into(), Value::to_string)
        )));
    }
    let offset = entry.get("offset").cloned().unwrap_or(Value::Null);
    if offset.is_null() {
        return reset_offsets(api, name).await;
    }
    let parsed = match PgOffset::from_json(Some(&offset)) {
        Ok(o) => o,
        Err(e) => debezium_offset(&offset).ok_or_else(|| bad(format!("offset: {e}")))?,
    };
    let kafka = api.shared.kafka.clone();
    let connector = name.to_string();
    api.manager
        .with_stopped(name, |spec| async move {
            let spec = source_of(spec)?;
            let kafka = kafka.with(&spec.kafka);
            if let Some(lsn) = parsed.lsn {
                let stored = tributary_kafka::offsets::read_offset(
                    &kafka,
                    &connector,
                    &spec.source.topic_prefix,
                )
                .await
                .map_err(|e| OpError::Internal(format!("could not read the offset: {e}")))?;
                let resumes_from = PgOffset::from_json(stored.as_ref())
                    .ok()
                    .and_then(|o| o.lsn);
                admin::advance_slot(&spec.source, lsn, resumes_from)
                    .await
                    .map_err(admin_error)?;
            }
            tributary_kafka::offsets::write_offset(&kafka, &spec.publish, Some(&parsed.to_json()))
                .await
                .map_err(|e| OpError::Internal(format!("could not write the offset: {e}")))
        })
        .await?;
    tracing::info!(connector = name, offset = %offset, "offsets altered");
    Ok(())
}

/// An offset as Debezium's Postgres connector writes it (`lsn` as a number, `snapshot` a
/// boolean, `last_snapshot_record`, `xmin`, …): the position is kept, and a snapshot counts
/// as done unless the offset says one is still running.
fn debezium_offset(v: &Value) -> Option<PgOffset> {
    let o = v.as_object()?;
    let lsn_of =
        |k: &str| -> Option<tributary_core::Lsn> { serde_json::from_value(o.get(k)?.clone()).ok() };
    let lsn = lsn_of("lsn")?;
    let snapshot_running = o.get("snapshot").and_then(Value::as_bool) == Some(true)
        && o.get("last_snapshot_record").and_then(Value::as_bool) != Some(true);
    if snapshot_running {
        return None;
    }
    Some(PgOffset {
        lsn: Some(lsn),
        lsn_commit: lsn_of("lsn_commit"),
        tx_id: o.get("txId").and_then(Value::as_i64),
        ts_usec: o.get("ts_usec").and_then(Value::as_i64),
        snapshot: Some(tributary_postgres::offset::SnapshotProgress {
            completed: true,
            point: lsn,
            tables: Default::default(),
        }),
    })
}

/// DELETE: forget the offset, then drop the slot, so the next start takes a new snapshot
/// from a new slot, consistent with it.
pub async fn reset_offsets(api: &ApiState, name: &str) -> Result<(), ApiError> {
    if let Spec::Sink(_) = api.manager.spec(name)? {
        return super::sinks::reset_offsets(api, name).await;
    }
    let kafka = api.shared.kafka.clone();
    api.manager
        .with_stopped(name, |spec| async move {
            let spec = source_of(spec)?;
            let kafka = kafka.with(&spec.kafka);
            tributary_kafka::offsets::write_offset(&kafka, &spec.publish, None)
                .await
                .map_err(|e| OpError::Internal(format!("could not reset the offset: {e}")))?;
            admin::drop_slot(&spec.source)
                .await
                .map_err(admin_error)
                .map(|_| ())
        })
        .await?;
    tracing::info!(
        connector = name,
        "offsets reset; the replication slot was dropped"
    );
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
