//! Kafka Connect's `/connectors` endpoints.

use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::error::{Body, ErrorBody, Segment, TaskPath};
use super::{ApiError, ApiState, render};
use crate::store::TargetState;

type Api = State<Arc<ApiState>>;
type Result<T> = std::result::Result<T, ApiError>;

/// The query parameters of a request, repeated keys kept (`?expand=status&expand=info`).
pub(super) fn query(raw: &Option<String>) -> Vec<(String, String)> {
    raw.as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let escaped = (b == b'%' && i + 2 < bytes.len())
            .then(|| Some(hex(bytes[i + 1])? * 16 + hex(bytes[i + 2])?))
            .flatten();
        match (b, escaped) {
            (_, Some(decoded)) => {
                out.push(decoded);
                i += 2;
            }
            (b'+', None) => out.push(b' '),
            (b, None) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn flag(q: &[(String, String)], key: &str) -> Result<bool> {
    match q
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
    {
        None => Ok(false),
        Some("true") | Some("") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(ApiError::bad_request(format!(
            "{key}: {other:?} is not a boolean; use true or false"
        ))),
    }
}

/// The daemon's version.
#[utoipa::path(get, path = "/", tag = "connectors",
    responses((status = 200, description = "`{\"version\", \"commit\", \"kafka_cluster_id\"}`")))]
pub async fn root() -> Json<Value> {
    Json(json!({
        "version": tributary_core::VERSION,
        "commit": option_env!("TRIBUTARY_COMMIT").unwrap_or(""),
        "kafka_cluster_id": null,
    }))
}

/// Connector names, or with `expand=status` / `expand=info` a map of name to details.
#[utoipa::path(get, path = "/connectors", tag = "connectors",
    params(("expand" = Option<String>, Query, description = "`status` and/or `info` (repeatable)")),
    responses((status = 200, description = "`[name…]` or `{name: {status?, info?}}`")))]
pub async fn list(State(api): Api, RawQuery(raw): RawQuery) -> Result<Json<Value>> {
    let q = query(&raw);
    let mut expand = Vec::new();
    for (k, v) in &q {
        if k == "expand" {
            match v.as_str() {
                "status" | "info" => expand.push(v.clone()),
                other => {
                    return Err(ApiError::bad_request(format!(
                        "expand: {other:?} is not valid; use status or info"
                    )));
                }
            }
        }
    }
    let names = api.manager.names();
    if expand.is_empty() {
        return Ok(Json(json!(names)));
    }
    let mut out = Map::new();
    for name in names {
        let mut item = Map::new();
        if expand.iter().any(|e| e == "status")
            && let Ok(s) = api.manager.status(&name)
        {
            item.insert("status".into(), render::status(&name, &s, &api.worker_id));
        }
        if expand.iter().any(|e| e == "info")
            && let Ok(i) = api.manager.info(&name)
        {
            item.insert("info".into(), render::info(&i));
        }
        out.insert(name, Value::Object(item));
    }
    Ok(Json(Value::Object(out)))
}

/// `POST /connectors` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateRequest {
    pub name: Option<String>,
    #[schema(value_type = Object)]
    pub config: Option<Map<String, Value>>,
    /// RUNNING (default), PAUSED or STOPPED.
    pub initial_state: Option<String>,
}

/// Creates a connector (its config is checked first, database connection included).
#[utoipa::path(post, path = "/connectors", tag = "connectors", request_body = CreateRequest,
    responses((status = 201, description = "the connector's info"),
        (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(State(api): Api, Body(req): Body<CreateRequest>) -> Result<Response> {
    let name = req.name.or_else(|| {
        req.config
            .as_ref()
            .and_then(|c| c.get("name"))
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let Some(name) = name else {
        return Err(ApiError::bad_request(
            "name: is required: give the connector a name",
        ));
    };
    let Some(config) = req.config else {
        return Err(ApiError::bad_request(
            "config: is required: an object of connector properties",
        ));
    };
    let initial = match req.initial_state.as_deref() {
        None => TargetState::Running,
        Some(s) => TargetState::parse(s).ok_or_else(|| {
            ApiError::bad_request(format!(
                "initial_state: {s:?} is not valid; use RUNNING, PAUSED or STOPPED"
            ))
        })?,
    };
    let info = api.manager.create(&name, config, initial).await?;
    Ok((StatusCode::CREATED, Json(render::info(&info))).into_response())
}

/// A connector's name, config and tasks.
#[utoipa::path(get, path = "/connectors/{name}", tag = "connectors",
    params(("name" = String, Path)),
    responses((status = 200, description = "`{name, config, tasks, type}`"), (status = 404, body = ErrorBody)))]
pub async fn info(State(api): Api, Segment(name): Segment) -> Result<Json<Value>> {
    Ok(Json(render::info(&api.manager.info(&name)?)))
}

/// Stops and removes a connector (its slot and publication go only when configured to).
#[utoipa::path(delete, path = "/connectors/{name}", tag = "connectors",
    params(("name" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(State(api): Api, Segment(name): Segment) -> Result<StatusCode> {
    api.manager.delete(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The connector's config (secrets masked).
#[utoipa::path(get, path = "/connectors/{name}/config", tag = "connectors",
    params(("name" = String, Path)),
    responses((status = 200, description = "the config map"), (status = 404, body = ErrorBody)))]
pub async fn get_config(State(api): Api, Segment(name): Segment) -> Result<Json<Value>> {
    let info = api.manager.info(&name)?;
    Ok(Json(Value::Object(crate::secrets::masked(&info.config))))
}

/// Creates the connector or replaces its config; a running connector restarts with it.
#[utoipa::path(put, path = "/connectors/{name}/config", tag = "connectors",
    params(("name" = String, Path)), request_body(content = Object, description = "the config map"),
    responses((status = 200, description = "updated"), (status = 201, description = "created"),
        (status = 400, body = ErrorBody)))]
pub async fn put_config(
    State(api): Api,
    Segment(name): Segment,
    Body(config): Body<Map<String, Value>>,
) -> Result<Response> {
    let (created, info) = api.manager.put_config(&name, config).await?;
    let code = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((code, Json(render::info(&info))).into_response())
}

/// Changes some properties; a `null` value removes one.
#[utoipa::path(patch, path = "/connectors/{name}/config", tag = "connectors",
    params(("name" = String, Path)), request_body(content = Object, description = "keys to change"),
    responses((status = 200), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn patch_config(
    State(api): Api,
    Segment(name): Segment,
    Body(patch): Body<Map<String, Value>>,
) -> Result<Json<Value>> {
    let info = api.manager.patch_config(&name, patch).await?;
    Ok(Json(render::info(&info)))
}

/// The connector's and its task's state.
#[utoipa::path(get, path = "/connectors/{name}/status", tag = "connectors",
    params(("name" = String, Path)),
    responses((status = 200, description = "`{name, connector, tasks, type}`"), (status = 404, body = ErrorBody)))]
pub async fn status(State(api): Api, Segment(name): Segment) -> Result<Json<Value>> {
    let s = api.manager.status(&name)?;
    Ok(Json(render::status(&name, &s, &api.worker_id)))
}

/// Restarts the connector; with `includeTasks` or `onlyFailed`, answers 202 with the
/// status showing what restarts.
#[utoipa::path(post, path = "/connectors/{name}/restart", tag = "connectors",
    params(("name" = String, Path), ("includeTasks" = Option<bool>, Query), ("onlyFailed" = Option<bool>, Query)),
    responses((status = 202, description = "status, RESTARTING where restarting"), (status = 204),
        (status = 404, body = ErrorBody)))]
pub async fn restart(
    State(api): Api,
    Segment(name): Segment,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    let q = query(&raw);
    let include_tasks = flag(&q, "includeTasks")?;
    let only_failed = flag(&q, "onlyFailed")?;
    let legacy = !q
        .iter()
        .any(|(k, _)| k == "includeTasks" || k == "onlyFailed");
    let before = api.manager.status(&name)?;
    let restarting = if include_tasks || legacy {
        api.manager.restart(&name, only_failed)?
    } else {
        // Only the connector instance, and only if it failed: ours fails only when its
        // stored config is invalid, which a restart cannot fix.
        false
    };
    if legacy {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let mut shown = before;
    if restarting {
        shown.connector = crate::connector::State::Restarting;
        shown.connector_trace = None;
        if let Some(t) = shown.task.as_mut() {
            t.state = crate::connector::State::Restarting;
            t.trace = None;
        }
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(render::status(&name, &shown, &api.worker_id)),
    )
        .into_response())
}

/// Stops reading; the slot keeps its place.
#[utoipa::path(put, path = "/connectors/{name}/pause", tag = "connectors",
    params(("name" = String, Path)), responses((status = 202), (status = 404, body = ErrorBody)))]
pub async fn pause(State(api): Api, Segment(name): Segment) -> Result<StatusCode> {
    api.manager.set_target(&name, TargetState::Paused).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Resumes a paused or stopped connector.
#[utoipa::path(put, path = "/connectors/{name}/resume", tag = "connectors",
    params(("name" = String, Path)), responses((status = 202), (status = 404, body = ErrorBody)))]
pub async fn resume(State(api): Api, Segment(name): Segment) -> Result<StatusCode> {
    api.manager.set_target(&name, TargetState::Running).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Shuts the task down (offsets may then be changed).
#[utoipa::path(put, path = "/connectors/{name}/stop", tag = "connectors",
    params(("name" = String, Path)), responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn stop(State(api): Api, Segment(name): Segment) -> Result<StatusCode> {
    api.manager.set_target(&name, TargetState::Stopped).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The connector's one task and its config.
#[utoipa::path(get, path = "/connectors/{name}/tasks", tag = "connectors",
    params(("name" = String, Path)), responses((status = 200), (status = 404, body = ErrorBody)))]
pub async fn tasks(State(api): Api, Segment(name): Segment) -> Result<Json<Value>> {
    Ok(Json(render::tasks(&api.manager.info(&name)?)))
}

fn task_id(name: &str, id: &str) -> Result<()> {
    if id == "0" {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("Task {name}-{id} not found: a Postgres connector has one task, 0"),
        ))
    }
}

/// One task's state.
#[utoipa::path(get, path = "/connectors/{name}/tasks/{task}/status", tag = "connectors",
    params(("name" = String, Path), ("task" = u32, Path)),
    responses((status = 200), (status = 404, body = ErrorBody)))]
pub async fn task_status(State(api): Api, TaskPath(name, id): TaskPath) -> Result<Json<Value>> {
    let s = api.manager.status(&name)?;
    task_id(&name, &id)?;
    let Some(task) = &s.task else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("No status found for task {name}-{id}: the connector is stopped"),
        ));
    };
    Ok(Json(render::task(task, &api.worker_id)))
}

/// Restarts the task.
#[utoipa::path(post, path = "/connectors/{name}/tasks/{task}/restart", tag = "connectors",
    params(("name" = String, Path), ("task" = u32, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn task_restart(State(api): Api, TaskPath(name, id): TaskPath) -> Result<StatusCode> {
    api.manager.status(&name)?;
    task_id(&name, &id)?;
    api.manager.restart(&name, false)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The last committed source offset, in Kafka Connect's shape.
#[utoipa::path(get, path = "/connectors/{name}/offsets", tag = "connectors",
    params(("name" = String, Path)),
    responses((status = 200, description = "`{offsets: [{partition, offset}]}`"), (status = 404, body = ErrorBody)))]
pub async fn get_offsets(State(api): Api, Segment(name): Segment) -> Result<Json<Value>> {
    let offsets = super::ops::read_offsets(&api, &name).await?;
    Ok(Json(offsets))
}

/// Sets the offset (STOPPED only): the slot moves with it.
#[utoipa::path(patch, path = "/connectors/{name}/offsets", tag = "connectors",
    params(("name" = String, Path)), request_body(content = Object, description = "`{offsets: [{partition, offset}]}`"),
    responses((status = 200), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "a sink job's consumer group still has members after its session timeout", body = ErrorBody)))]
pub async fn alter_offsets(
    State(api): Api,
    Segment(name): Segment,
    Body(body): Body<Value>,
) -> Result<Json<Value>> {
    super::ops::alter_offsets(&api, &name, body).await?;
    Ok(Json(
        json!({"message": "The offsets for this connector have been altered successfully"}),
    ))
}

/// Forgets the offset (STOPPED only) and drops the slot, so the next start snapshots
/// again with a new, consistent slot.
#[utoipa::path(delete, path = "/connectors/{name}/offsets", tag = "connectors",
    params(("name" = String, Path)),
    responses((status = 200), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "a sink job's consumer group still has members after its session timeout", body = ErrorBody)))]
pub async fn reset_offsets(State(api): Api, Segment(name): Segment) -> Result<Json<Value>> {
    super::ops::reset_offsets(&api, &name).await?;
    Ok(Json(
        json!({"message": "The offsets for this connector have been reset successfully"}),
    ))
}

/// Sends a Debezium signal (`{"id", "type", "data"}`, as the signal table's columns) to
/// the connector: `execute-snapshot`, `stop-snapshot`, `pause-snapshot`,
/// `resume-snapshot`, `log`. Accepted signals are durable: a stopped or paused connector
/// acts on them when it runs again.
#[utoipa::path(post, path = "/connectors/{name}/signals", tag = "connectors",
    params(("name" = String, Path)),
    responses((status = 202, description = "`{id, status: accepted}`"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn signal(
    State(api): Api,
    Segment(name): Segment,
    Body(body): Body<Value>,
) -> Result<(StatusCode, Json<Value>)> {
    let spec = api.manager.spec(&name)?;
    let accepted = spec.signal(&body).await?;
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}

/// Topics the connector has written to.
#[utoipa::path(get, path = "/connectors/{name}/topics", tag = "connectors",
    params(("name" = String, Path)),
    responses((status = 200, description = "`{name: {topics: […]}}`"), (status = 404, body = ErrorBody)))]
pub async fn topics(State(api): Api, Segment(name): Segment) -> Result<Json<Value>> {
    let topics = api.manager.topics(&name)?;
    Ok(Json(json!({ name: {"topics": topics} })))
}

/// Forgets the topics the connector has written to.
#[utoipa::path(put, path = "/connectors/{name}/topics/reset", tag = "connectors",
    params(("name" = String, Path)), responses((status = 200), (status = 404, body = ErrorBody)))]
pub async fn reset_topics(State(api): Api, Segment(name): Segment) -> Result<StatusCode> {
    api.manager.reset_topics(&name)?;
    Ok(StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_keep_repeated_keys_and_decode() {
        let q = query(&Some("expand=status&expand=info&x=a%20b+c&flag".into()));
        assert_eq!(q[0], ("expand".into(), "status".into()));
        assert_eq!(q[1], ("expand".into(), "info".into()));
        assert_eq!(q[2], ("x".into(), "a b c".into()));
        assert!(flag(&q, "flag").unwrap());
        assert!(!flag(&q, "missing").unwrap());
        assert!(flag(&[("f".into(), "maybe".into())], "f").is_err());
        assert_eq!(decode("%E2%98%95%zz"), "☕%zz");
    }
}
