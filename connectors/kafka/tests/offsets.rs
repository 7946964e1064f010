//! Reading and writing a stopped connector's offset against Apache Kafka (the test's own
//! broker, or the Kafka named by `KAFKA_BOOTSTRAP`), as the REST API's `GET`, `PATCH` and
//! `DELETE …/offsets` do.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;
use tributary_avro::registry::{RegistryAuth, RegistryClient};
use tributary_core::Retry;
use tributary_kafka::offsets::{OffsetSlot, group_id, read_offset, write_offset};
use tributary_kafka::producer::TxProducer;
use tributary_kafka::settings::{KafkaConfig, PublishSettings};
use tributary_kafka::{PublishError, Publisher};

fn setup(bootstrap: &str, test: &str) -> (KafkaConfig, PublishSettings) {
    let unique = format!("{test}-{}", std::process::id());
    let cfg = KafkaConfig {
        bootstrap_servers: bootstrap.to_string(),
        offsets_topic: format!("offsets-{unique}"),
        offsets_topic_partitions: 3,
        ..KafkaConfig::default()
    };
    let settings = PublishSettings::parse(
        &format!("c-{unique}"),
        "cdc",
        &BTreeMap::new(),
        &BTreeMap::new(),
    )
    .expect("default publish settings");
    (cfg, settings)
}

/// A registry client that is never called: starting a publisher registers nothing.
fn registry() -> Arc<RegistryClient> {
    Arc::new(RegistryClient::new("http://127.0.0.1:9", RegistryAuth::None).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn written_offsets_are_read_back_and_seen_by_the_next_publisher() {
    let b = common::broker();
    let (cfg, settings) = setup(&b.bootstrap, "rw");
    let connector = settings.connector.clone();
    assert_eq!(
        read_offset(&cfg, &connector, "cdc").await.unwrap(),
        None,
        "no offsets topic yet"
    );

    let altered = json!({"lsn": "0/16B3748", "txId": 771, "ts_usec": 1_700_000_000_000_000i64});
    write_offset(&cfg, &settings, Some(&altered)).await.unwrap();
    assert_eq!(
        read_offset(&cfg, &connector, "cdc").await.unwrap(),
        Some(altered.clone())
    );
    assert_eq!(
        read_offset(&cfg, "another-connector", "cdc").await.unwrap(),
        None,
        "another connector has no offset"
    );
    let (publisher, stored) = Publisher::start(&cfg, settings.clone(), registry())
        .await
        .unwrap();
    assert_eq!(stored, Some(altered));
    drop(publisher);

    // A Debezium-style offset, with the lsn as a number, is stored as it is.
    let debezium = json!({"lsn": 23_937_864, "lsn_commit": 23_937_864, "txId": 772});
    write_offset(&cfg, &settings, Some(&debezium))
        .await
        .unwrap();
    assert_eq!(
        read_offset(&cfg, &connector, "cdc").await.unwrap(),
        Some(debezium)
    );

    // A reset is a tombstone: no offset, for readers and for the next publisher.
    write_offset(&cfg, &settings, None).await.unwrap();
    assert_eq!(read_offset(&cfg, &connector, "cdc").await.unwrap(), None);
    let (_publisher, stored) = Publisher::start(&cfg, settings.clone(), registry())
        .await
        .unwrap();
    assert_eq!(stored, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn writing_an_offset_fences_an_instance_still_holding_the_transactional_id() {
    let b = common::broker();
    let (cfg, settings) = setup(&b.bootstrap, "fence");
    let connector = settings.connector.clone();
    write_offset(&cfg, &settings, Some(&json!({"lsn": "0/100"})))
        .await
        .unwrap();
    let tid = settings.transactional_id();
    let mut zombie = TxProducer::start(&cfg, &tid, &group_id(&connector))
        .await
        .unwrap();
    let slot = OffsetSlot::new(
        &cfg.offsets_topic,
        zombie.partitions(&cfg.offsets_topic).await.unwrap(),
        &connector,
        "cdc",
    );

    let altered = json!({"lsn": "0/200"});
    write_offset(&cfg, &settings, Some(&altered)).await.unwrap();
    let err = zombie
        .commit_with_offset(
            &slot.topic,
            slot.partition,
            &slot.key,
            json!({"lsn": "0/300"}).to_string().as_bytes(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, PublishError::Fenced { .. }), "{err:?}");
    assert!(!err.is_transient());
    assert_eq!(
        read_offset(&cfg, &connector, "cdc").await.unwrap(),
        Some(altered),
        "the fenced instance's commit does not count"
    );
}
