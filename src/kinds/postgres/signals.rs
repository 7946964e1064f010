//! Debezium's Kafka signal channel, the Postgres side: each signal read from the topic is
//! written to the signal table, its id marked with the channel and the record's offset (a
//! record handed on twice, after a crash, is written once). The stream reads it from
//! there, in commit order, like any signal.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;
use tributary_kafka::KafkaConfig;
use tributary_postgres::admin::SignalWriter;
use tributary_postgres::config::{KafkaSignals, PostgresConnectorConfig};
use tributary_postgres::incremental::{Channel, Signal};

/// Reads the signal topic until `stop` turns true.
pub(super) async fn kafka_channel(
    mut kafka: KafkaConfig,
    channel: KafkaSignals,
    source: Arc<PostgresConnectorConfig>,
    stop: watch::Receiver<bool>,
) {
    if let Some(b) = &channel.bootstrap_servers {
        kafka.bootstrap_servers = b.clone();
    }
    let writer = tokio::sync::Mutex::new(SignalWriter::default());
    let hand_on = |offset: i64, body: Value| {
        let (source, writer, mut stop) = (&source, &writer, stop.clone());
        async move {
            let signal = match Signal::from_json(&body) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(connector = %source.name, offset, "Kafka signal skipped: {e}");
                    return true;
                }
            };
            let id = Channel::Kafka.mark(&format!("{offset}:{}", signal.id));
            let id: String = id.chars().take(42).collect();
            // Retried until written: the topic's offset is committed only after.
            loop {
                match writer.lock().await.write(source, &id, &body).await {
                    Ok(()) => break,
                    Err(e) => {
                        tracing::warn!(connector = %source.name, error = %e, "could not write a Kafka signal to the signal table; retrying");
                    }
                }
                tokio::select! {
                    _ = stop.wait_for(|s| *s) => return false,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
            tracing::info!(connector = %source.name, signal = %signal.id, offset, "Kafka signal written to the signal table");
            true
        }
    };
    tributary_kafka::signals::read_signals(
        &kafka,
        &channel.topic,
        &channel.group_id,
        &source.topic_prefix,
        stop.clone(),
        hand_on,
    )
    .await;
}
