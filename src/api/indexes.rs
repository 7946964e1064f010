//! The embedded search indexes the search jobs write (`/indexes`).

use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use serde_json::Value;

use super::connectors::query;
use super::error::{ErrorBody, Segment};
use super::{ApiError, ApiState};

fn query_error(e: tributary_search::QueryError) -> ApiError {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    ApiError::new(status, e.to_string())
}

/// The embedded search indexes: name, live documents, typed fields, writing job.
#[utoipa::path(get, path = "/indexes", tag = "indexes",
    responses((status = 200, description = "`[{name, docs, fields, writer}]`"), (status = 500, body = ErrorBody)))]
pub async fn list(State(api): State<Arc<ApiState>>) -> Result<Json<Value>, ApiError> {
    let indexes = api.shared.indexes.clone();
    let list = tokio::task::spawn_blocking(move || indexes.list())
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(query_error)?;
    Ok(Json(serde_json::to_value(list).unwrap_or_default()))
}

/// Deletes an embedded index and its files. Refused (409) while a job writes it: stop the
/// job first. To fill it again, reset that job's offsets so it replays its topics.
#[utoipa::path(delete, path = "/indexes/{name}", tag = "indexes",
    params(("name" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn delete_index(
    State(api): State<Arc<ApiState>>,
    Segment(name): Segment,
) -> Result<StatusCode, ApiError> {
    let indexes = api.shared.indexes.clone();
    tokio::task::spawn_blocking(move || indexes.delete(&name))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(query_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Searches an embedded index; answers `{total, hits: [{_id, _score, _source}]}`.
#[utoipa::path(get, path = "/indexes/{name}/search", tag = "indexes",
    params(("name" = String, Path),
        ("q" = Option<String>, Query, description = "tantivy query syntax (`red apple`, `name:w42v1`, `\"a phrase\"`, `qty:[10 TO 20]`); empty matches every document"),
        ("limit" = Option<usize>, Query, description = "at most this many documents (default 10, at most 10,000)")),
    responses((status = 200, description = "`{total, hits: [{_id, _score, _source}]}`"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn search(
    State(api): State<Arc<ApiState>>,
    Segment(name): Segment,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let params = query(&raw);
    let param = |k: &str| {
        params
            .iter()
            .rev()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let q = param("q").unwrap_or_default();
    let limit = match param("limit") {
        None => 10,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=tributary_search::MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "limit: {l:?} is not a number from 1 to {}",
                    tributary_search::MAX_LIMIT
                )));
            }
        },
    };
    let indexes = api.shared.indexes.clone();
    let results = tokio::task::spawn_blocking(move || indexes.search(&name, &q, limit))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(query_error)?;
    Ok(Json(serde_json::to_value(results).unwrap_or_default()))
}
