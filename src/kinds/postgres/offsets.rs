//! A source's offsets in Kafka Connect's shape: one partition `{"server": <topic.prefix>}`,
//! whose offset is the position the source resumes from.

use serde_json::{Value, json};
use tributary_postgres::admin::{self, AdminError};
use tributary_postgres::offset::PgOffset;

use super::SourceSpec;
use crate::connector::Shared;
use crate::kinds::kafka_error;
use crate::manager::OpError;

pub(super) fn admin_error(e: AdminError) -> OpError {
    match e {
        AdminError::Rejected(m) => OpError::BadRequest(m),
        other => OpError::Internal(other.to_string()),
    }
}

/// `{"offsets": [{"partition": {"server": prefix}, "offset": {…}}]}`.
pub(super) async fn read(spec: &SourceSpec, shared: &Shared, name: &str) -> Result<Value, OpError> {
    let prefix = &spec.source.topic_prefix;
    let kafka = shared.kafka.with(&spec.kafka);
    let offset = tributary_kafka::offsets::read_offset(&kafka, name, prefix)
        .await
        .map_err(|e| kafka_error("read the offset", e))?;
    let offsets: Vec<Value> = offset
        .into_iter()
        .map(|o| json!({"partition": {"server": prefix}, "offset": o}))
        .collect();
    Ok(json!({ "offsets": offsets }))
}

/// The new offset a `PATCH` list gives; `None`: `null`, which resets.
pub(super) fn parse(spec: &SourceSpec, list: &[Value]) -> Result<Option<PgOffset>, OpError> {
    let bad = |m: String| OpError::BadRequest(m);
    let prefix = &spec.source.topic_prefix;
    let [entry] = list else {
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
    let offset = entry.get("offset").unwrap_or(&Value::Null);
    if offset.is_null() {
        return Ok(None);
    }
    match PgOffset::from_json(Some(offset)) {
        Ok(o) => Ok(Some(o)),
        Err(e) => debezium_offset(offset)
            .map(Some)
            .ok_or_else(|| bad(format!("offset: {e}"))),
    }
}

/// `PATCH`: a new offset for the one partition; the slot is advanced to its LSN (it cannot
/// go back: Postgres has released what is before its confirmed position).
pub(super) async fn alter(
    spec: &SourceSpec,
    shared: &Shared,
    name: &str,
    list: &[Value],
) -> Result<(), OpError> {
    let Some(parsed) = parse(spec, list)? else {
        return reset(spec, shared, name).await;
    };
    let kafka = shared.kafka.with(&spec.kafka);
    if let Some(lsn) = parsed.lsn {
        let stored = tributary_kafka::offsets::read_offset(&kafka, name, &spec.source.topic_prefix)
            .await
            .map_err(|e| OpError::Internal(format!("could not read the offset: {e}")))?;
        let resumes_from = PgOffset::from_json(stored.as_ref())
            .ok()
            .and_then(|o| o.lsn);
        admin::advance_slot(&spec.source, lsn, resumes_from)
            .await
            .map_err(admin_error)?;
    }
    let offset = parsed.to_json();
    tributary_kafka::offsets::write_offset(&kafka, &spec.publish, Some(&offset))
        .await
        .map_err(|e| OpError::Internal(format!("could not write the offset: {e}")))?;
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
            ..Default::default()
        }),
        ..PgOffset::default()
    })
}

/// `DELETE`: forget the offset, then drop the slot, so the next start takes a new snapshot
/// from a new slot, consistent with it.
pub(super) async fn reset(spec: &SourceSpec, shared: &Shared, name: &str) -> Result<(), OpError> {
    let kafka = shared.kafka.with(&spec.kafka);
    tributary_kafka::offsets::write_offset(&kafka, &spec.publish, None)
        .await
        .map_err(|e| OpError::Internal(format!("could not reset the offset: {e}")))?;
    admin::drop_slot(&spec.source).await.map_err(admin_error)?;
    tracing::info!(
        connector = name,
        "offsets reset; the replication slot was dropped"
    );
    Ok(())
}
