//! Debezium's Kafka signal channel, the Kafka side: records on the signal topic keyed by
//! the connector's `topic.prefix`, valued `{"id", "type", "data"}`, handed on one by one;
//! the consumer group's offset is committed once a record is handed on.

use std::time::Duration;

use rdkafka::Message;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use serde_json::Value;
use tokio::sync::watch;

use crate::KafkaConfig;

/// Reads `topic` until `stop` turns true, handing each record keyed `key` to `hand_on`
/// with its offset; `hand_on` returns false when it gave up (stopping). Problems are
/// logged, never fatal: the connector streams on without its Kafka signals.
pub async fn read_signals<F, Fut>(
    kafka: &KafkaConfig,
    topic: &str,
    group: &str,
    key: &str,
    mut stop: watch::Receiver<bool>,
    mut hand_on: F,
) where
    F: FnMut(i64, Value) -> Fut,
    Fut: Future<Output = bool>,
{
    let consumer: StreamConsumer = match crate::consumer::consumer_config(kafka, group).create() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(topic, error = %e, "the Kafka signal channel cannot start");
            return;
        }
    };
    if let Err(e) = consumer.subscribe(&[topic]) {
        tracing::error!(topic, error = %e, "the Kafka signal channel cannot subscribe");
        return;
    }
    tracing::info!(topic, group, "reading signals from Kafka");
    loop {
        let message = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            m = consumer.recv() => m,
        };
        let message = match message {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(topic, error = %e, "signal topic");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let record_key = message.key().map(String::from_utf8_lossy);
        if record_key.as_deref() != Some(key) {
            tracing::info!(topic, key = ?record_key, "signal record skipped: its key is not the connector's topic.prefix ({key})");
        } else {
            match message
                .payload()
                .and_then(|p| serde_json::from_slice::<Value>(p).ok())
            {
                Some(body) => {
                    if !hand_on(message.offset(), body).await {
                        return;
                    }
                }
                None => {
                    tracing::warn!(
                        topic,
                        offset = message.offset(),
                        "signal record skipped: its value is not JSON"
                    )
                }
            }
        }
        if let Err(e) = consumer.commit_message(&message, CommitMode::Sync) {
            tracing::warn!(topic, error = %e, "could not commit the signal topic's offset");
        }
    }
}
