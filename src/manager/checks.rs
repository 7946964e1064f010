//! Checking connector names and configs before anything changes.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};
use tributary_kafka::PublishSettings;
use tributary_kafka::check::CheckError;
use tributary_kafka::client::Overrides;
use tributary_postgres::config::{ConfigError, PostgresConnectorConfig};

use super::{Manager, OpError};
use crate::connector::{SinkSpec, SourceSpec, Spec, setting_error};
use crate::plugins::Plugin;

/// How long a create or update waits for Kafka to answer with a connector's overrides.
const CREATE_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Parses a connector config as the plugin its `connector.class` names.
/// `worker`: the daemon's `[connect]` converters, used where the config names none.
pub fn parse_spec(
    name: &str,
    config: &Map<String, Value>,
    worker: &BTreeMap<String, String>,
) -> Result<Spec, Vec<ConfigError>> {
    match Plugin::of_config(config) {
        Some(Plugin::Postgres) => parse_source(name, config, worker).map(Spec::Source),
        Some(plugin) => {
            SinkSpec::parse(plugin, name, config, worker).map(|s| Spec::Sink(Arc::new(s)))
        }
        None => {
            let class = config
                .get("connector.class")
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                .unwrap_or_default();
            Err(vec![ConfigError {
                field: "connector.class".into(),
                message: Plugin::unknown_class(&class),
            }])
        }
    }
}

/// Debezium's properties, then the publishing ones.
fn parse_source(
    name: &str,
    config: &Map<String, Value>,
    worker: &BTreeMap<String, String>,
) -> Result<SourceSpec, Vec<ConfigError>> {
    let source = PostgresConnectorConfig::parse(name, config).map_err(|e| e.0)?;
    let publish = PublishSettings::parse(&source.name, &source.topic_prefix, &source.raw, worker)
        .map_err(|es| es.into_iter().map(setting_error).collect::<Vec<_>>())?;
    let kafka = source_overrides(&source.raw)?;
    Ok(SourceSpec {
        source: Arc::new(source),
        publish: Arc::new(publish),
        kafka: Arc::new(kafka),
    })
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

/// Kafka Connect's rule for names, plus what keeps them safe in paths and logs.
pub fn check_name(name: &str) -> Result<(), OpError> {
    let bad = |why: &str| {
        Err(OpError::BadRequest(format!(
            "name: {name:?} is not a valid connector name: {why}"
        )))
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.chars().count() > 200 {
        return bad("it is longer than 200 characters");
    }
    if name.trim() != name {
        return bad("it starts or ends with whitespace");
    }
    if name.chars().any(char::is_control) {
        return bad("it contains control characters");
    }
    if name.contains('/') || name.contains('\\') {
        return bad("it contains '/' or '\\'");
    }
    if name == "." || name == ".." {
        return bad("'.' and '..' are not names");
    }
    Ok(())
}

/// Kafka Connect keeps the name in the config too; a different one there is an error.
pub(super) fn named(name: &str, config: &mut Map<String, Value>) -> Result<(), OpError> {
    match config.get("name") {
        Some(Value::String(n)) if n != name => Err(OpError::BadRequest(format!(
            "name: the connector name in the config ({n:?}) does not match the name in the request ({name:?})"
        ))),
        _ => {
            config.insert("name".into(), Value::String(name.to_string()));
            Ok(())
        }
    }
}

impl Manager {
    /// Checks a config as POST and PUT do: every property, then the database connection
    /// (a source) or the target (a sink).
    pub async fn check(
        &self,
        name: &str,
        config: &Map<String, Value>,
    ) -> Result<Spec, Vec<ConfigError>> {
        match parse_spec(name, config, &self.shared.worker)? {
            Spec::Source(source) => {
                self.check_kafka(&source.kafka, "producer.override.")
                    .await?;
                self.check_source(name, source).await.map(Spec::Source)
            }
            Spec::Sink(sink) => {
                self.check_kafka(&sink.kafka, "consumer.override.").await?;
                sink.check_target().await?;
                Ok(Spec::Sink(sink))
            }
        }
    }

    /// A connector that overrides Kafka settings must reach the cluster with them: a
    /// wrong password, an untrusted CA or the wrong protocol is a 400 naming the override.
    /// A cluster that does not answer at all is not held against the config (it may be
    /// starting); the status says so once the connector runs.
    async fn check_kafka(
        &self,
        overrides: &Overrides,
        prefix: &str,
    ) -> Result<(), Vec<ConfigError>> {
        if overrides.is_empty() {
            return Ok(());
        }
        let kafka = self.shared.kafka.with(overrides);
        match tributary_kafka::check::reach(&kafka, CREATE_CHECK_TIMEOUT).await {
            Err(e @ CheckError::Misconfigured { property, .. }) => Err(vec![ConfigError {
                field: format!("{prefix}{property}"),
                message: e.to_string(),
            }]),
            Err(CheckError::Setup(message)) => Err(vec![ConfigError {
                field: prefix.trim_end_matches('.').to_string(),
                message,
            }]),
            Err(e @ CheckError::Unreachable { .. }) => {
                tracing::warn!(error = %e, "could not check the connector's Kafka settings; accepting it");
                Ok(())
            }
            Ok(()) => Ok(()),
        }
    }

    async fn check_source(
        &self,
        name: &str,
        spec: SourceSpec,
    ) -> Result<SourceSpec, Vec<ConfigError>> {
        let mut errors = Vec::new();
        if let Some(other) = self.slot_owner(name, &spec) {
            errors.push(ConfigError {
                field: "slot.name".into(),
                message: format!(
                    "{:?} is already the slot of connector {other:?} on this database; give each connector its own slot.name",
                    spec.source.slot_name
                ),
            });
        }
        if let Err(e) = tributary_postgres::admin::check_connection(&spec.source).await {
            errors.extend(e.0);
        }
        if errors.is_empty() {
            Ok(spec)
        } else {
            Err(errors)
        }
    }

    fn slot_owner(&self, name: &str, spec: &SourceSpec) -> Option<String> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let c = &spec.source.connect;
        entries.iter().find_map(|(other, e)| {
            let d = e.desired();
            let s = d.spec.as_ref().ok()?.source()?;
            let o = &s.source.connect;
            (other != name
                && !d.deleted
                && s.source.slot_name == spec.source.slot_name
                && o.host == c.host
                && o.port == c.port
                && o.dbname == c.dbname)
                .then(|| other.clone())
        })
    }
}
