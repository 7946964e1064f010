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

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::error::PublishError;
use crate::murmur2::partition_for;
use crate::producer::client_config;
use crate::settings::KafkaConfig;

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

/// Reads the last committed offset of a connector, or `None` if it never committed one.
/// Call it after the connector's producer has claimed its transactional id, so that an
/// earlier instance's transaction is settled.
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
        let committed = consumer
            .committed_offsets(tpl, Duration::from_secs(30))
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
            if msg.offset() > at || msg.key() != Some(slot.key.as_slice()) {
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
            let value = msg.payload().unwrap_or_default();
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
