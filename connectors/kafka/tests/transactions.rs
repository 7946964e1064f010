//! The transactional producer against a real Kafka-API broker (nisshi, or the Kafka named
//! by `KAFKA_BOOTSTRAP`): the committed offset survives a crashed transaction even on a
//! broker that shows aborted records, and a second producer with the same
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
    let mut topics = Topics::new(&cfg).unwrap();
    let how = TopicSettings {
        partitions: 3,
        replication_factor: -1,
        cleanup_policy: "compact".into(),
    };
    topics.ensure(&cfg.offsets_topic, &how).await.unwrap();
    topics
        .ensure(
            "data",
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
    a.send("data", None, Some(b"k1"), Some(b"v1"))
        .await
        .unwrap();
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
    a.send("data", None, Some(b"k2"), Some(b"v2"))
        .await
        .unwrap();
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
    b2.send("data", None, Some(b"k3"), Some(b"v3"))
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
}
