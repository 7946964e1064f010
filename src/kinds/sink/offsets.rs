//! A sink job's offsets: its consumer group's committed offsets, in Kafka Connect's sink
//! shape `{"partition": {"kafka_topic", "kafka_partition"}, "offset": {"kafka_offset"}}`.

use serde_json::{Value, json};
use tributary_core::PartitionOffset;
use tributary_kafka::job::GroupError;

use super::SinkSpec;
use crate::connector::Shared;
use crate::kinds::kafka_error;
use crate::manager::OpError;

/// `GET …/offsets`: the group's committed offsets.
pub(super) async fn read(sink: &SinkSpec, shared: &Shared) -> Result<Value, OpError> {
    let kafka = shared.kafka.with(&sink.kafka);
    let offsets = tributary_kafka::job::read_group_offsets(&kafka, &sink.job)
        .await
        .map_err(|e| kafka_error("read the consumer group's offsets", e))?;
    let list: Vec<Value> = offsets
        .iter()
        .map(|o| {
            json!({
                "partition": {"kafka_topic": o.topic, "kafka_partition": o.partition},
                "offset": {"kafka_offset": o.next},
            })
        })
        .collect();
    Ok(json!({ "offsets": list }))
}

/// Parses Kafka Connect's sink offsets (`"offset": null` forgets a partition).
pub(super) fn parse(list: &[Value]) -> Result<Vec<(String, i32, Option<i64>)>, OpError> {
    let bad = |m: String| Err(OpError::BadRequest(m));
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

/// The target keeps its stored offsets (the embedded index's commits) in step with the
/// group's.
async fn tell_target(
    sink: &SinkSpec,
    shared: &Shared,
    name: &str,
    offsets: &[PartitionOffset],
) -> Result<(), OpError> {
    sink.target
        .offsets_changed(&shared.resources, name, offsets)
        .await
        .map_err(|e| OpError::Internal(e.to_string()))
}

/// `PATCH …/offsets`: sets the group's offsets of the given partitions (`null` forgets
/// one, so it is read from the beginning).
pub(super) async fn alter(
    sink: &SinkSpec,
    shared: &Shared,
    name: &str,
    list: &[Value],
) -> Result<(), OpError> {
    let offsets: Vec<PartitionOffset> = parse(list)?
        .into_iter()
        .map(|(topic, partition, next)| PartitionOffset {
            topic,
            partition,
            next: next.unwrap_or(0),
        })
        .collect();
    let kafka = shared.kafka.with(&sink.kafka);
    tributary_kafka::job::write_group_offsets(&kafka, &sink.job, &offsets)
        .await
        .map_err(|e| group_error("write", e))?;
    tell_target(sink, shared, name, &offsets).await?;
    tracing::info!(connector = name, "sink offsets altered");
    Ok(())
}

/// `DELETE …/offsets`: the group forgets its offsets (and the target its stored ones), so
/// the job reads its topics from the beginning again. Writes are ordered by source
/// position, so the replay changes nothing already newer.
pub(super) async fn reset(sink: &SinkSpec, shared: &Shared, name: &str) -> Result<(), OpError> {
    let kafka = shared.kafka.with(&sink.kafka);
    tributary_kafka::job::reset_group_offsets(&kafka, &sink.job)
        .await
        .map_err(|e| group_error("reset", e))?;
    tell_target(sink, shared, name, &[]).await?;
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
