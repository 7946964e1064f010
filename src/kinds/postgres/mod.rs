//! The Postgres source: Debezium's `PostgresConnector`, publishing to Kafka.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use tributary_core::config::{ConfigError, PropertyDef};
use tributary_core::sink::BoxFuture;
use tributary_kafka::PublishSettings;
use tributary_kafka::client::Overrides;
use tributary_postgres::admin;
use tributary_postgres::config::PostgresConnectorConfig;

use super::{Claim, Kind, Restarts, Retention, Spec, Task, check_kafka, setting_error};
use crate::connector::Shared;
use crate::manager::OpError;

mod offsets;
mod signals;
mod task;

/// `io.debezium.connector.postgresql.PostgresConnector`.
pub struct Postgres;

impl Kind for Postgres {
    fn classes(&self) -> &'static [&'static str] {
        tributary_postgres::config::CONNECTOR_CLASSES
    }

    fn alias(&self) -> &'static str {
        "postgres"
    }

    fn task_class(&self) -> &'static str {
        "io.debezium.connector.postgresql.PostgresConnectorTask"
    }

    fn plugin_type(&self) -> &'static str {
        "source"
    }

    fn properties(&self) -> Vec<&'static PropertyDef> {
        tributary_postgres::config::PROPERTIES.iter().collect()
    }

    /// Debezium's properties, then the publishing ones.
    fn parse(
        &self,
        name: &str,
        config: &Map<String, Value>,
        worker: &BTreeMap<String, String>,
    ) -> Result<Arc<dyn Spec>, Vec<ConfigError>> {
        let source = PostgresConnectorConfig::parse(name, config).map_err(|e| e.0)?;
        let publish =
            PublishSettings::parse(&source.name, &source.topic_prefix, &source.raw, worker)
                .map_err(|es| es.into_iter().map(setting_error).collect::<Vec<_>>())?;
        let kafka = source_overrides(&source.raw)?;
        let signal_consumer = Overrides::parse(&source.raw, "signal.consumer.", &[])
            .map_err(|es| es.into_iter().map(setting_error).collect::<Vec<_>>())?;
        Ok(Arc::new(SourceSpec {
            source: Arc::new(source),
            publish: Arc::new(publish),
            kafka,
            signal_consumer,
        }))
    }
}

/// A source connector's parsed configuration.
pub struct SourceSpec {
    pub source: Arc<PostgresConnectorConfig>,
    pub publish: Arc<PublishSettings>,
    /// `producer.override.*`: the producer, topic admin and offsets reader of this source.
    pub kafka: Overrides,
    /// `signal.consumer.*`: the Kafka signal channel's consumer.
    pub signal_consumer: Overrides,
}

/// A source's `producer.override.*` (its producer, topic admin and offsets reader share one
/// Kafka configuration). `admin.override.*` is accepted where it repeats the producer's
/// setting, as configs for Kafka Connect on a secured cluster do; a different value cannot
/// be honoured and is refused.
fn source_overrides(raw: &BTreeMap<String, String>) -> Result<Overrides, Vec<ConfigError>> {
    let mut errors: Vec<ConfigError> = Vec::new();
    for (key, value) in raw {
        if key.starts_with("consumer.override.") {
            errors.push(ConfigError {
                field: key.clone(),
                message: "applies to a consumer, and a source connector has none (its offsets are read with its producer's settings)\nHINT: use producer.override.* for the source's Kafka settings".into(),
            });
            continue;
        }
        let Some(k) = key.strip_prefix("admin.override.") else {
            continue;
        };
        if raw.get(&format!("producer.override.{k}")) != Some(value) {
            errors.push(ConfigError {
                field: key.clone(),
                message: format!(
                    "differs from producer.override.{k}: a source's producer, topic admin and offsets reader share one Kafka configuration\nHINT: set producer.override.{k} to this value and remove {key}"
                ),
            });
        }
    }
    let overrides = Overrides::parse(raw, "producer.override.", &[])
        .map_err(|es| errors.extend(es.into_iter().map(setting_error)))
        .ok();
    match overrides {
        Some(o) if errors.is_empty() => Ok(o),
        _ => Err(errors),
    }
}

impl Spec for SourceSpec {
    /// The Kafka overrides reach the cluster, then the database answers with the
    /// connector's credentials and settings.
    fn check<'a>(&'a self, shared: &'a Shared) -> BoxFuture<'a, Result<(), Vec<ConfigError>>> {
        Box::pin(async move {
            check_kafka(shared, &self.kafka, "producer.override.").await?;
            admin::check_connection(&self.source).await.map_err(|e| e.0)
        })
    }

    /// One slot per database: two connectors on one slot would take each other's changes.
    fn claims(&self) -> Vec<Claim> {
        let c = &self.source.connect;
        vec![Claim {
            field: "slot.name",
            resource: format!(
                "slot {:?} of {}:{}/{}",
                self.source.slot_name, c.host, c.port, c.dbname
            ),
            message: format!(
                "{:?} is already the slot of connector {{other}} on this database; give each connector its own slot.name",
                self.source.slot_name
            ),
        }]
    }

    /// `errors.max.retries`: restarts after retriable errors since the source last emitted
    /// change events (Debezium counts them so, and starts again after a poll that returned
    /// any); `retriable.restart.connector.wait.ms`, when set, Debezium's constant wait.
    fn restarts(&self) -> Restarts {
        Restarts {
            max_retries: self.source.errors_max_retries,
            constant_wait: self.source.retriable_restart_wait,
        }
    }

    fn task(&self, shared: Arc<Shared>) -> Arc<dyn Task> {
        Arc::new(task::SourceTask::new(self, shared))
    }

    fn read_offsets<'a>(
        &'a self,
        shared: &'a Shared,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Value, OpError>> {
        Box::pin(offsets::read(self, shared, name))
    }

    fn check_offsets(&self, list: &[Value]) -> Result<(), OpError> {
        offsets::parse(self, list).map(|_| ())
    }

    fn alter_offsets<'a>(
        &'a self,
        shared: &'a Shared,
        name: &'a str,
        list: &'a [Value],
    ) -> BoxFuture<'a, Result<(), OpError>> {
        Box::pin(offsets::alter(self, shared, name, list))
    }

    fn reset_offsets<'a>(
        &'a self,
        shared: &'a Shared,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), OpError>> {
        Box::pin(offsets::reset(self, shared, name))
    }

    /// The slot, asked of Postgres within 2 s.
    fn retention(&self) -> BoxFuture<'_, Option<Retention>> {
        Box::pin(async move {
            let slot = tokio::time::timeout(Duration::from_secs(2), admin::slot_info(&self.source))
                .await
                .ok()?
                .ok()??;
            Some(Retention {
                held_bytes: slot.lag_bytes,
                retained_bytes: slot.retained_bytes,
                oldest_transaction: slot.oldest_transaction,
                wal_status: slot.wal_status,
                safe_bytes: slot.safe_wal_size,
                limit_bytes: slot.max_keep_bytes,
                warn_bytes: self.source.slot_lag_warn_bytes,
            })
        })
    }

    /// Written to the signal table, which the stream reads (`admin::send_signal`).
    fn signal<'a>(&'a self, body: &'a Value) -> BoxFuture<'a, Result<Value, OpError>> {
        Box::pin(async move {
            let id = admin::send_signal(&self.source, body)
                .await
                .map_err(offsets::admin_error)?;
            Ok(serde_json::json!({"id": id, "status": "accepted"}))
        })
    }

    /// The slot goes when `slot.drop.on.stop` is set, the publication (on delete) when
    /// `publication.drop.on.delete` is.
    fn cleanup(&self, deleted: bool) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let name = &self.source.name;
            if self.source.slot_drop_on_stop {
                match admin::drop_slot(&self.source).await {
                    Ok(true) => {
                        tracing::info!(connector = name, slot = %self.source.slot_name, "replication slot dropped (slot.drop.on.stop)")
                    }
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(connector = name, error = %e, "could not drop the replication slot")
                    }
                }
            }
            if deleted && self.source.publication_drop_on_delete {
                match admin::drop_publication(&self.source).await {
                    Ok(true) => {
                        tracing::info!(connector = name, publication = %self.source.publication_name, "publication dropped (publication.drop.on.delete)")
                    }
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(connector = name, error = %e, "could not drop the publication")
                    }
                }
            }
        })
    }
}
