//! The connector's source offset in Kafka.
//!
//! Each Kafka transaction ends with one record in the offsets topic, in Kafka Connect's
//! format (key `["<connector>",{"server":"<topic.prefix>"}]`, value the source's offset
//! JSON), so Kafka Connect tooling reads it as it reads Debezium's. The position of that
//! record is also committed, inside the same transaction, for the consumer group
//! `tributary-<connector>`: the broker applies a transactional offset commit only when the
//! transaction commits. Recovery reads that committed position and then the record just
//! before it, which is therefore the last committed offset, whatever the broker shows of
//! aborted transactions.
//!
//! Resetting a connector's offset (`DELETE …/offsets`) commits a tombstone (null value) in
//! the same way, so "no offset" is also an offset record: [`read_committed`] reads it as
//! `None`, and so it does when compaction later removes that tombstone.
//! [`read_offset`] and [`write_offset`] serve the REST API's offset requests.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::admin::Topics;
use crate::client::client_config;
use crate::error::{PublishError, while_coordinator_moves};
use crate::murmur2::partition_for;
use crate::producer::TxProducer;
use crate::settings::{KafkaConfig, PublishSettings, TopicSettings};

/// Where a connector's offset records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetSlot {
    pub topic: String,
    pub partition: i32,
    pub key: Vec<u8>,
}

impl OffsetSlot {
    /// Kafka Connect's key for a Debezium Postgres connector, on the partition Kafka
    /// Connect's producer would pick for it.
    pub fn new(topic: &str, partitions: i32, connector: &str, server: &str) -> Self {
        let key = serde_json::to_vec(&serde_json::json!([connector, {"server": server}]))
            .unwrap_or_default();
        OffsetSlot {
            topic: topic.to_string(),
            partition: partition_for(&key, partitions),
            key,
        }
    }
}

/// The consumer group whose committed position marks the connector's last committed offset.
pub fn group_id(connector: &str) -> String {
    format!("tributary-{connector}")
}

/// Reads the last committed offset of a connector, or `None` if it never committed one or
/// its offsets were reset. Call it after the connector's producer has claimed its
/// transactional id, so that an earlier instance's transaction is settled.
pub async fn read_committed(
    cfg: &KafkaConfig,
    connector: &str,
    slot: &OffsetSlot,
) -> Result<Option<serde_json::Value>, PublishError> {
    let mut c = client_config(cfg);
    c.set("group.id", group_id(connector));
    c.set("enable.auto.commit", "false");
    c.set("isolation.level", "read_committed");
    c.set("enable.partition.eof", "false");
    let slot = slot.clone();
    let connector = connector.to_string();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = c
            .create()
            .map_err(|e| PublishError::kafka("offset consumer setup", e, &connector))?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&slot.topic, slot.partition);
        let timeout = Duration::from_secs(30);
        let committed = while_coordinator_moves(timeout, || {
            consumer.committed_offsets(tpl.clone(), timeout)
        })
            .map_err(|e| PublishError::Unavailable {
                action: "OffsetFetch",
                message: e.to_string(),
            })?;
        let position = committed
            .find_partition(&slot.topic, slot.partition)
            .map(|e| e.offset());
        let Some(Offset::Offset(next)) = position else {
            return Ok(None);
        };
        if next < 1 {
            return Ok(None);
        }
        let at = next - 1;
        let mut assign = TopicPartitionList::new();
        assign
            .add_partition_offset(&slot.topic, slot.partition, Offset::Offset(at))
            .map_err(|e| PublishError::kafka("offset consumer", e, &connector))?;
        consumer
            .assign(&assign)
            .map_err(|e| PublishError::kafka("offset consumer", e, &connector))?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let Some(msg) = consumer.poll(Duration::from_millis(500)) else {
                continue;
            };
            let msg = msg.map_err(|e| PublishError::Unavailable {
                action: "reading the offsets topic",
                message: e.to_string(),
            })?;
            if msg.offset() < at {
                continue;
            }
            if msg.offset() > at {
                // The committed record is gone. Compaction removes only records a later one
                // of the same key replaced (then the group would point at that one) and
                // tombstones past delete.retention.ms: this was a reset.
                tracing::info!(
                    connector,
                    topic = slot.topic,
                    partition = slot.partition,
                    offset = at,
                    "the committed offset record was compacted away (a reset's tombstone): no offset"
                );
                return Ok(None);
            }
            if msg.key() != Some(slot.key.as_slice()) {
                return Err(PublishError::Offset {
                    connector,
                    message: format!(
                        "the group's committed position {next} in {}[{}] does not follow this connector's offset record (found {} at {}); was the group or the topic changed by hand?\nHINT: delete the consumer group tributary-<connector> to start over from the slot",
                        slot.topic,
                        slot.partition,
                        String::from_utf8_lossy(msg.key().unwrap_or_default()),
                        msg.offset()
                    ),
                });
            }
            let Some(value) = msg.payload().filter(|v| !v.is_empty()) else {
                // A tombstone: the offsets were reset.
                return Ok(None);
            };
            return serde_json::from_slice(value)
                .map(Some)
                .map_err(|e| PublishError::Offset {
                    connector,
                    message: format!("the offset record is not JSON: {e}"),
                });
        }
        Err(PublishError::Unavailable {
            action: "reading the offsets topic",
            message: format!(
                "record {at} of {}[{}] did not arrive within 60s",
                slot.topic, slot.partition
            ),
        })
    })
    .await
    .map_err(|e| PublishError::Config(format!("offset recovery panicked: {e}")))?
}

/// How the offsets topic is created when it does not exist: compacted, as Kafka Connect's
/// `offset.storage.topic`.
pub fn offsets_topic_settings(kafka: &KafkaConfig) -> TopicSettings {
    TopicSettings {
        partitions: kafka.offsets_topic_partitions,
        replication_factor: kafka.offsets_topic_replication_factor,
        cleanup_policy: "compact".into(),
    }
}

/// Reads a connector's last committed offset without claiming its transactional id, for
/// `GET …/offsets` in any state of the connector. `None` when the offsets topic does not
/// exist yet, the connector never committed, or its offsets were reset. While the connector
/// runs, the answer is its offset as of its last Kafka commit.
pub async fn read_offset(
    kafka: &KafkaConfig,
    connector: &str,
    topic_prefix: &str,
) -> Result<Option<serde_json::Value>, PublishError> {
    let Some(partitions) = offsets_topic_partitions(kafka, connector).await? else {
        return Ok(None);
    };
    let slot = OffsetSlot::new(&kafka.offsets_topic, partitions, connector, topic_prefix);
    read_committed(kafka, connector, &slot).await
}

/// The partition count of the offsets topic, or `None` when it does not exist.
async fn offsets_topic_partitions(
    kafka: &KafkaConfig,
    connector: &str,
) -> Result<Option<i32>, PublishError> {
    let mut c = client_config(kafka);
    // A metadata request must not create the topic.
    c.set("allow.auto.create.topics", "false");
    let topic = kafka.offsets_topic.clone();
    let connector = connector.to_string();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = c
            .create()
            .map_err(|e| PublishError::kafka("metadata client setup", e, &connector))?;
        let md = consumer
            .fetch_metadata(Some(&topic), Duration::from_secs(30))
            .map_err(|e| PublishError::Unavailable {
                action: "metadata request",
                message: format!("offsets topic {topic}: {e}"),
            })?;
        let Some(t) = md.topics().iter().find(|t| t.name() == topic) else {
            return Ok(None);
        };
        match t.error() {
            None => {}
            Some(e) if RDKafkaErrorCode::from(e) == RDKafkaErrorCode::UnknownTopicOrPartition => {
                return Ok(None);
            }
            Some(e) => {
                return Err(PublishError::Unavailable {
                    action: "metadata request",
                    message: format!("offsets topic {topic}: {}", RDKafkaErrorCode::from(e)),
                });
            }
        }
        Ok(match t.partitions().len() {
            0 => None,
            n => Some(n as i32),
        })
    })
    .await
    .map_err(|e| PublishError::Config(format!("the metadata request panicked: {e}")))?
}

/// What claiming a connector's transactional id gives: its producer, where its offset
/// records go, and the topic admin client (which knows the offsets topic exists).
pub(crate) struct Claimed {
    pub producer: TxProducer,
    pub slot: OffsetSlot,
    pub topics: Topics,
}

/// Makes sure the offsets topic exists, claims the connector's transactional id (fencing
/// any older instance and settling its open transaction) and finds the offset slot.
pub(crate) async fn claim(
    kafka: &KafkaConfig,
    settings: &PublishSettings,
) -> Result<Claimed, PublishError> {
    crate::check::reach(kafka, crate::check::TIMEOUT).await?;
    let mut topics = Topics::new(kafka)?;
    topics
        .ensure(&kafka.offsets_topic, &offsets_topic_settings(kafka))
        .await?;
    let producer = TxProducer::start(
        kafka,
        &settings.transactional_id(),
        &group_id(&settings.connector),
    )
    .await?;
    let partitions = producer.partitions(&kafka.offsets_topic).await?;
    let slot = OffsetSlot::new(
        &kafka.offsets_topic,
        partitions,
        &settings.connector,
        &settings.topic_prefix,
    );
    Ok(Claimed {
        producer,
        slot,
        topics,
    })
}

/// Replaces a connector's committed offset with `value`, or resets it with a tombstone when
/// `value` is `None`, for `PATCH`/`DELETE …/offsets` while the connector is STOPPED. The
/// record and the consumer group's position are committed in one transaction of the
/// connector's own transactional id, exactly as the publisher commits them; claiming that
/// id first fences any instance of the connector still running somewhere and settles its
/// open transaction, so the write cannot interleave with a stale commit.
pub async fn write_offset(
    kafka: &KafkaConfig,
    settings: &PublishSettings,
    value: Option<&serde_json::Value>,
) -> Result<(), PublishError> {
    let Claimed {
        mut producer, slot, ..
    } = claim(kafka, settings).await?;
    let bytes = match value {
        Some(v) => Some(serde_json::to_vec(v).map_err(|e| PublishError::Offset {
            connector: settings.connector.clone(),
            message: format!("the new offset cannot be written as JSON: {e}"),
        })?),
        None => None,
    };
    producer.begin()?;
    producer
        .commit_with_offset_value(&slot.topic, slot.partition, &slot.key, bytes.as_deref())
        .await?;
    tracing::info!(
        connector = settings.connector,
        offset = %value.map(|v| v.to_string()).unwrap_or_else(|| "none (reset)".into()),
        "connector offset written"
    );
    Ok(())
}
