//! The transactional producer against Apache Kafka (the test's own broker, or the Kafka
//! named by `KAFKA_BOOTSTRAP`): the committed offset survives a crashed transaction, its
//! records stay invisible to read_committed consumers, and a second producer with the same
//! transactional.id fences the first.

mod common;

use std::time::Duration;

use serde_json::json;
use tributary_core::Retry;
use tributary_kafka::PublishError;
use tributary_kafka::admin::Topics;
use tributary_kafka::offsets::{OffsetSlot, group_id, read_committed};
use tributary_kafka::producer::TxProducer;
use tributary_kafka::settings::{KafkaConfig, TopicSettings};

#[tokio::test(flavor = "multi_thread")]
async fn committed_offset_survives_a_crashed_transaction_and_fencing_stops_the_old_producer() {
    let b = common::broker();
    let unique = format!("{}", std::process::id());
    let cfg = KafkaConfig {
        bootstrap_servers: b.bootstrap.clone(),
        offsets_topic: format!("offsets-{unique}"),
        offsets_topic_partitions: 3,
        ..KafkaConfig::default()
    };
    let connector = format!("c{unique}");
    let data = format!("data-{unique}");
    let mut topics = Topics::new(&cfg).unwrap();
    let how = TopicSettings {
        partitions: 3,
        replication_factor: -1,
        cleanup_policy: "compact".into(),
    };
    topics.ensure(&cfg.offsets_topic, &how).await.unwrap();
    topics
        .ensure(
            &data,
            &TopicSettings {
                cleanup_policy: "delete".into(),
                ..how.clone()
            },
        )
        .await
        .unwrap();
    let tid = format!("tributary-{connector}");
    let group = group_id(&connector);

    let mut a = TxProducer::start(&cfg, &tid, &group).await.unwrap();
    let slot = OffsetSlot::new(
        &cfg.offsets_topic,
        a.partitions(&cfg.offsets_topic).await.unwrap(),
        &connector,
        "cdc",
    );
    assert_eq!(
        read_committed(&cfg, &connector, &slot).await.unwrap(),
        None,
        "nothing committed yet"
    );

    let first = json!({"lsn": 100});
    a.send(&data, None, Some(b"k1"), Some(b"v1")).await.unwrap();
    a.commit_with_offset(
        &slot.topic,
        slot.partition,
        &slot.key,
        first.to_string().as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(
        read_committed(&cfg, &connector, &slot).await.unwrap(),
        Some(first.clone())
    );

    // A transaction that never commits: its offset record reaches the log, then the
    // producer "crashes" and a new instance claims the id.
    a.send(&data, None, Some(b"k2"), Some(b"v2")).await.unwrap();
    a.send(
        &slot.topic,
        Some(slot.partition),
        Some(&slot.key),
        Some(json!({"lsn": 200}).to_string().as_bytes()),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut b2 = TxProducer::start(&cfg, &tid, &group).await.unwrap();
    assert_eq!(
        read_committed(&cfg, &connector, &slot).await.unwrap(),
        Some(first),
        "the aborted transaction's offset must not count"
    );

    // The old instance is fenced: a definite error that names the transactional id.
    let err = a
        .commit_with_offset(
            &slot.topic,
            slot.partition,
            &slot.key,
            json!({"lsn": 300}).to_string().as_bytes(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, PublishError::Fenced { .. }), "{err:?}");
    assert!(!err.is_transient());
    assert!(err.to_string().contains(&tid), "{err}");

    let third = json!({"lsn": 400});
    b2.send(&data, None, Some(b"k3"), Some(b"v3"))
        .await
        .unwrap();
    b2.commit_with_offset(
        &slot.topic,
        slot.partition,
        &slot.key,
        third.to_string().as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(
        read_committed(&cfg, &connector, &slot).await.unwrap(),
        Some(third)
    );

    // A read_committed consumer sees the committed records, never the crashed one's.
    assert_eq!(committed_keys(&b.bootstrap, &data, 2), ["k1", "k3"]);
}

/// The keys a read_committed consumer reads from `topic` until it has `n` (or 30 s pass),
/// then for one more second, so a record that should not be there has time to show.
fn committed_keys(bootstrap: &str, topic: &str, n: usize) -> Vec<String> {
    use rdkafka::Message;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("read-{topic}"))
        .set("isolation.level", "read_committed")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut keys = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut settle: Option<std::time::Instant> = None;
    while std::time::Instant::now() < deadline
        && settle.is_none_or(|t| t.elapsed() < Duration::from_secs(1))
    {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            keys.push(String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned());
        }
        if keys.len() >= n && settle.is_none() {
            settle = Some(std::time::Instant::now());
        }
    }
    keys.sort();
    keys
}
