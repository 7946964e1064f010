//! What is particular to sink jobs: their offsets (a consumer group's, in Kafka Connect's
//! sink shape) and the embedded search indexes (`/indexes`).

use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use tributary_core::PartitionOffset;
use tributary_kafka::job::GroupError;

use super::connectors::query;
use super::error::{ErrorBody, Segment};
use super::ops::kafka_error;
use super::{ApiError, ApiState};
use crate::connector::{SinkSpec, SinkTarget, Spec};
use crate::manager::OpError;

fn render(offsets: &[PartitionOffset]) -> Value {
    let list: Vec<Value> = offsets
        .iter()
        .map(|o| {
            json!({
                "partition": {"kafka_topic": o.topic, "kafka_partition": o.partition},
                "offset": {"kafka_offset": o.next},
            })
        })
        .collect();
    json!({ "offsets": list })
}

/// `GET …/offsets` of a sink: its group's committed offsets.
pub async fn read_offsets(api: &ApiState, sink: &SinkSpec) -> Result<Value, ApiError> {
    let kafka = api.shared.kafka.with(&sink.kafka);
    let offsets = tributary_kafka::job::read_group_offsets(&kafka, &sink.job)
        .await
        .map_err(|e| kafka_error("read the consumer group's offsets", e))?;
    Ok(render(&offsets))
}

fn sink_of(spec: Spec) -> Result<Arc<SinkSpec>, OpError> {
    match spec {
        Spec::Sink(s) => Ok(s),
        Spec::Source(_) => Err(OpError::Conflict(
            "the connector became a source while its offsets changed; retry".into(),
        )),
    }
}

/// The embedded index keeps a job's offsets in its commits: they change with the group's
/// (a commit to disk, so off the async workers).
async fn store_in_index(
    sink: &SinkSpec,
    indexes: Arc<tributary_search::IndexRegistry>,
    job: String,
    offsets: Vec<PartitionOffset>,
) -> Result<(), OpError> {
    let SinkTarget::Search(config) = &sink.target else {
        return Ok(());
    };
    let config = config.clone();
    tokio::task::spawn_blocking(move || {
        tributary_search::set_stored_offsets(&config, &indexes, &job, &offsets)
    })
    .await
    .map_err(|e| OpError::Internal(e.to_string()))?
    .map_err(|e| OpError::Internal(e.to_string()))
}

/// Parses Kafka Connect's sink offsets: `{"partition": {"kafka_topic", "kafka_partition"},
/// "offset": {"kafka_offset"} | null}`.
fn parse_offsets(list: &[Value]) -> Result<Vec<(String, i32, Option<i64>)>, ApiError> {
    let bad = |m: String| Err(ApiError::bad_request(m));
    let mut out = Vec::new();
    for entry in list {
        let p = &entry["partition"];
        let (Some(topic), Some(partition)) = (
            p["kafka_topic"].as_str(),
            p["kafka_partition"]
                .as_i64()
                .and_then(|n| i32::try_from(n).ok()),
        ) else {
            return bad(format!(
                "partition: {p} is not a sink partition; write {{\"kafka_topic\": \"…\", \"kafka_partition\": 0}}"
            ));
        };
        let offset = match &entry["offset"] {
            Value::Null => None,
            o => match o["kafka_offset"].as_i64() {
                Some(n) if n >= 0 => Some(n),
                _ => {
                    return bad(format!(
                        "offset: {o} is not a sink offset; write {{\"kafka_offset\": 42}} or null"
                    ));
                }
            },
        };
        out.push((topic.to_string(), partition, offset));
    }
    Ok(out)
}

/// `PATCH …/offsets` of a sink (STOPPED only): sets the group's offsets of the given
/// partitions (`null` forgets one, so it is read from the beginning).
pub async fn alter_offsets(api: &ApiState, name: &str, list: &[Value]) -> Result<(), ApiError> {
    let wanted = parse_offsets(list)?;
    let kafka = api.shared.kafka.clone();
    let indexes = api.shared.indexes.clone();
    let job = name.to_string();
    api.manager
        .with_stopped(name, |spec| async move {
            let sink = sink_of(spec)?;
            let offsets: Vec<PartitionOffset> = wanted
                .into_iter()
                .map(|(topic, partition, next)| PartitionOffset {
                    topic,
                    partition,
                    next: next.unwrap_or(0),
                })
                .collect();
            let kafka = kafka.with(&sink.kafka);
            tributary_kafka::job::write_group_offsets(&kafka, &sink.job, &offsets)
                .await
                .map_err(|e| group_error("write", e))?;
            store_in_index(&sink, indexes, job, offsets).await
        })
        .await?;
    tracing::info!(connector = name, "sink offsets altered");
    Ok(())
}

/// `DELETE …/offsets` of a sink (STOPPED only): the group forgets its offsets (and the
/// embedded index its stored ones), so the job reads its topics from the beginning again.
/// Writes are ordered by source position, so the replay changes nothing already newer.
pub async fn reset_offsets(api: &ApiState, name: &str) -> Result<(), ApiError> {
    let kafka = api.shared.kafka.clone();
    let indexes = api.shared.indexes.clone();
    let job = name.to_string();
    api.manager
        .with_stopped(name, |spec| async move {
            let sink = sink_of(spec)?;
            let kafka = kafka.with(&sink.kafka);
            tributary_kafka::job::reset_group_offsets(&kafka, &sink.job)
                .await
                .map_err(|e| group_error("reset", e))?;
            store_in_index(&sink, indexes, job, Vec::new()).await
        })
        .await?;
    tracing::info!(
        connector = name,
        "sink offsets reset: the job reads its topics from the beginning"
    );
    Ok(())
}

/// A group that still has members is a conflict the caller can wait out (409); anything
/// else is the broker's failure.
fn group_error(action: &str, e: GroupError) -> OpError {
    match e {
        GroupError::Busy { .. } => {
            OpError::Conflict(format!("could not {action} the offsets: {e}"))
        }
        GroupError::Kafka(e) => OpError::Internal(format!("could not {action} the offsets: {e}")),
    }
}

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
