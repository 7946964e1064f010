//! A sink job's consumer-group offsets, read and changed from outside the job (the REST
//! API's `GET/PATCH/DELETE /connectors/{name}/offsets`, on a stopped job).
//!
//! Changes are plain offset commits by a client outside the group, which a broker accepts
//! only while the group has no members: the job must be stopped, as Kafka Connect also
//! requires. A member can outlive its job, though: a daemon killed with -9 never leaves,
//! and the broker drops its member only after `session.timeout.ms`. A change therefore
//! retries while the broker says the group still has members, for that long plus a margin,
//! and then gives up with [`GroupError::Busy`], having changed nothing.
//!
//! A reset commits each partition's log start, which reads the same as deleted offsets
//! with `auto.offset.reset=earliest` and needs no DeleteGroups support.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{Offset, TopicPartitionList};
use tributary_core::PartitionOffset;

use super::JobSettings;
use crate::KafkaConfig;
use crate::client::client_config;
use crate::consumer::session_timeout;
use crate::error::while_coordinator_moves;

const TIMEOUT: Duration = Duration::from_secs(10);
/// How long past the session timeout a change keeps trying while the group has members.
const BUSY_MARGIN: Duration = Duration::from_secs(5);
/// The pause between two tries while the group has members.
const BUSY_PAUSE: Duration = Duration::from_millis(500);

/// Why the group's offsets could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    /// The group kept a member for longer than its session timeout: a task of the job
    /// still runs somewhere (another daemon), or a client outside Tributary uses the group.
    #[error(
        "the consumer group {group} still has members after {waited_s} s, so the broker refuses offset changes from outside it; a task of this job still runs (another daemon sharing the group?), or another client uses the group. Stop it, or wait until the broker drops it (after session.timeout.ms), and retry; nothing was changed"
    )]
    Busy { group: String, waited_s: u64 },
    #[error(transparent)]
    Kafka(#[from] KafkaError),
}

/// Whether a commit failed only because the group still has members (Kafka answers a
/// commit from outside a non-empty group with one of these).
fn group_has_members(e: &KafkaError) -> bool {
    matches!(
        e,
        KafkaError::ConsumerCommit(
            RDKafkaErrorCode::UnknownMemberId
                | RDKafkaErrorCode::IllegalGeneration
                | RDKafkaErrorCode::RebalanceInProgress
                | RDKafkaErrorCode::NonEmptyGroup
        )
    )
}

/// Commits `tpl` for the group once the group has no members (see the module docs).
fn commit_when_empty(
    c: &BaseConsumer,
    kafka: &KafkaConfig,
    job: &JobSettings,
    tpl: &TopicPartitionList,
) -> Result<(), GroupError> {
    if tpl.count() == 0 {
        return Ok(());
    }
    let started = Instant::now();
    let limit = session_timeout(kafka) + BUSY_MARGIN;
    let mut logged = false;
    loop {
        match while_coordinator_moves(TIMEOUT, || c.commit(tpl, CommitMode::Sync)) {
            Ok(()) => return Ok(()),
            Err(e) if group_has_members(&e) && started.elapsed() < limit => {
                if !std::mem::replace(&mut logged, true) {
                    tracing::info!(group = job.group_id, error = %e, wait_s = limit.as_secs(), "the group still has members; waiting for the broker to drop them");
                }
                std::thread::sleep(BUSY_PAUSE);
            }
            Err(e) if group_has_members(&e) => {
                return Err(GroupError::Busy {
                    group: job.group_id.clone(),
                    waited_s: started.elapsed().as_secs(),
                });
            }
            Err(e) => return Err(e.into()),
        }
    }
}

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
    f: impl FnOnce() -> Result<T, GroupError> + Send + 'static,
) -> Result<T, GroupError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "offsets task failed");
        Err(KafkaError::Canceled.into())
    })
}

/// The group's committed offsets of the job's partitions (partitions without one are left
/// out, as Kafka Connect does).
pub async fn read_group_offsets(
    kafka: &KafkaConfig,
    job: &JobSettings,
) -> Result<Vec<PartitionOffset>, GroupError> {
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
        let committed =
            while_coordinator_moves(TIMEOUT, || c.committed_offsets(tpl.clone(), TIMEOUT))?;
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
) -> Result<(), GroupError> {
    let (kafka, job, offsets) = (kafka.clone(), job.clone(), offsets.to_vec());
    blocking(move || {
        let c = group_client(&kafka, &job)?;
        let mut tpl = TopicPartitionList::new();
        for o in &offsets {
            tpl.add_partition_offset(&o.topic, o.partition, Offset::Offset(o.next))?;
        }
        commit_when_empty(&c, &kafka, &job, &tpl)
    })
    .await
}

/// Moves the group back to the start of every partition of the job's topics, so the job
/// reads them from the beginning (the job must be stopped).
pub async fn reset_group_offsets(kafka: &KafkaConfig, job: &JobSettings) -> Result<(), GroupError> {
    let (kafka, job) = (kafka.clone(), job.clone());
    blocking(move || {
        let c = group_client(&kafka, &job)?;
        let mut tpl = TopicPartitionList::new();
        for (t, p) in partitions(&c, &job)? {
            let (low, _) = c.fetch_watermarks(&t, p, TIMEOUT)?;
            tpl.add_partition_offset(&t, p, Offset::Offset(low))?;
        }
        commit_when_empty(&c, &kafka, &job, &tpl)
    })
    .await
}
