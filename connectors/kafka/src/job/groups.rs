//! A sink job's consumer-group offsets, read and changed from outside the job (the REST
//! API's `GET/PATCH/DELETE /connectors/{name}/offsets`, on a stopped job).
//!
//! Changes are plain offset commits by a client outside the group, which a broker accepts
//! only while the group has no members: the job must be stopped, as Kafka Connect also
//! requires. A reset commits each partition's log start, which reads the same as deleted
//! offsets with `auto.offset.reset=earliest` and needs no DeleteGroups support.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};
use tributary_core::PartitionOffset;

use super::JobSettings;
use crate::KafkaConfig;
use crate::producer::client_config;

const TIMEOUT: Duration = Duration::from_secs(10);

fn group_client(kafka: &KafkaConfig, job: &JobSettings) -> Result<BaseConsumer, KafkaError> {
    client_config(kafka)
        .set("group.id", &job.group_id)
        .set("enable.auto.commit", "false")
        .create()
}

/// The partitions of every existing topic the job subscribes to.
fn partitions(c: &BaseConsumer, job: &JobSettings) -> Result<Vec<(String, i32)>, KafkaError> {
    let md = c.fetch_metadata(None, TIMEOUT)?;
    let matches = job.subscription.matcher();
    let mut out = Vec::new();
    for t in md.topics() {
        if matches(t.name()) {
            out.extend(
                t.partitions()
                    .iter()
                    .map(|p| (t.name().to_string(), p.id())),
            );
        }
    }
    out.sort();
    Ok(out)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, KafkaError> + Send + 'static,
) -> Result<T, KafkaError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(KafkaError::Canceled)
            .inspect_err(|_| tracing::error!(error = %e, "offsets task failed"))
    })
}

/// The group's committed offsets of the job's partitions (partitions without one are left
/// out, as Kafka Connect does).
pub async fn read_group_offsets(
    kafka: &KafkaConfig,
    job: &JobSettings,
) -> Result<Vec<PartitionOffset>, KafkaError> {
    let (kafka, job) = (kafka.clone(), job.clone());
    blocking(move || {
        let c = group_client(&kafka, &job)?;
        let mut tpl = TopicPartitionList::new();
        for (t, p) in partitions(&c, &job)? {
            tpl.add_partition(&t, p);
        }
        if tpl.count() == 0 {
            return Ok(Vec::new());
        }
        let committed = c.committed_offsets(tpl, TIMEOUT)?;
        Ok(committed
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(n) => Some(PartitionOffset {
                    topic: e.topic().to_string(),
                    partition: e.partition(),
                    next: n,
                }),
                _ => None,
            })
            .collect())
    })
    .await
}

/// Commits these offsets for the group (the job must be stopped).
pub async fn write_group_offsets(
    kafka: &KafkaConfig,
    job: &JobSettings,
    offsets: &[PartitionOffset],
) -> Result<(), KafkaError> {
    let (kafka, job, offsets) = (kafka.clone(), job.clone(), offsets.to_vec());
    blocking(move || {
        let c = group_client(&kafka, &job)?;
        let mut tpl = TopicPartitionList::new();
        for o in &offsets {
            tpl.add_partition_offset(&o.topic, o.partition, Offset::Offset(o.next))?;
        }
        if tpl.count() > 0 {
            c.commit(&tpl, CommitMode::Sync)?;
        }
        Ok(())
    })
    .await
}

/// Moves the group back to the start of every partition of the job's topics, so the job
/// reads them from the beginning (the job must be stopped).
pub async fn reset_group_offsets(kafka: &KafkaConfig, job: &JobSettings) -> Result<(), KafkaError> {
    let (kafka, job) = (kafka.clone(), job.clone());
    blocking(move || {
        let c = group_client(&kafka, &job)?;
        let mut tpl = TopicPartitionList::new();
        for (t, p) in partitions(&c, &job)? {
            let (low, _) = c.fetch_watermarks(&t, p, TIMEOUT)?;
            tpl.add_partition_offset(&t, p, Offset::Offset(low))?;
        }
        if tpl.count() > 0 {
            c.commit(&tpl, CommitMode::Sync)?;
        }
        Ok(())
    })
    .await
}
