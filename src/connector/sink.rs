//! Sink jobs: a consumer group on `cdc.*` topics feeding a search index or a cache.
//!
//! The properties every sink job shares (what to consume, batching, field mapping, retry
//! backoff) are tributary-kafka's `JOB_PROPERTIES`; each target crate defines its own and
//! accepts those as known.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};
use tokio::sync::watch;
use tributary_avro::decode::Decoder;
use tributary_core::Sink;
use tributary_core::config::{ConfigError, property_strings};
use tributary_kafka::client::Overrides;
use tributary_kafka::job::{JOB_PROPERTIES, JobSettings};

use super::{ConnectorError, Run, State, set};
use crate::plugins::Plugin;

/// A sink job's parsed configuration.
pub struct SinkSpec {
    pub job: JobSettings,
    pub target: SinkTarget,
    /// `consumer.override.*` (but `group.id`, which names the job's group).
    pub kafka: Overrides,
}

/// Where a sink job writes.
pub enum SinkTarget {
    Search(tributary_search::SearchSinkConfig),
    Redis(tributary_cache::RedisSinkConfig),
}

impl SinkSpec {
    /// Checks every property: the job's here, the target's in its crate.
    pub fn parse(
        plugin: Plugin,
        name: &str,
        config: &Map<String, Value>,
        worker: &BTreeMap<String, String>,
    ) -> Result<SinkSpec, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let job = parse_job(name, config, worker, &mut errors);
        let known: Vec<&str> = JOB_PROPERTIES.iter().map(|p| p.name).collect();
        let target = match plugin {
            Plugin::Redis => {
                tributary_cache::RedisSinkConfig::parse(name, config, &known).map(SinkTarget::Redis)
            }
            _ => tributary_search::SearchSinkConfig::parse(name, config, &known)
                .map(SinkTarget::Search),
        };
        let target = target.map_err(|e| errors.extend(e.0)).ok();
        let (props, _) = property_strings(config);
        let kafka = Overrides::parse(&props, "consumer.override.", &["group.id"])
            .map_err(|es| errors.extend(es.into_iter().map(setting_error)))
            .ok();
        match (job, target, kafka) {
            (Some(job), Some(target), Some(kafka)) if errors.is_empty() => {
                Ok(SinkSpec { job, target, kafka })
            }
            _ => Err(errors),
        }
    }

    /// Checks that the target answers (a Redis PING, a search server's health).
    pub async fn check_target(&self) -> Result<(), Vec<ConfigError>> {
        match &self.target {
            SinkTarget::Redis(c) => tributary_cache::check(c).await.map_err(|e| e.0),
            SinkTarget::Search(c) => tributary_search::check(c).await.map_err(|e| e.0),
        }
    }
}

/// The job's properties (Kafka Connect's strings), read by `JobSettings::parse`; the
/// group may be overridden as Kafka Connect allows (`consumer.override.group.id`).
fn parse_job(
    name: &str,
    config: &Map<String, Value>,
    worker: &BTreeMap<String, String>,
    errors: &mut Vec<ConfigError>,
) -> Option<JobSettings> {
    // Values that are not strings, numbers or booleans are reported by the target's parser.
    let (props, _) = property_strings(config);
    match JobSettings::parse(name, &props, worker) {
        Ok(mut job) => {
            if let Some(group) = props
                .get("consumer.override.group.id")
                .filter(|g| !g.trim().is_empty())
            {
                job.group_id = group.trim().to_string();
            }
            Some(job)
        }
        Err(es) => {
            errors.extend(es.into_iter().map(setting_error));
            None
        }
    }
}

/// A Kafka-side setting problem as a connector config error.
pub(crate) fn setting_error(e: tributary_kafka::SettingError) -> ConfigError {
    ConfigError {
        field: e.field,
        message: e.message,
    }
}

/// One run of a sink job: opens the target, then consumes until stopped or failed.
pub(super) async fn run(
    run: &Run,
    spec: &SinkSpec,
    stop: watch::Receiver<bool>,
) -> Result<(), ConnectorError> {
    let sink: Box<dyn Sink> = match &spec.target {
        SinkTarget::Redis(c) => Box::new(
            tributary_cache::RedisSink::connect(c.clone())
                .await
                .map_err(ConnectorError::Sink)?,
        ),
        SinkTarget::Search(c) => tributary_search::open(c, &run.shared.indexes)
            .await
            .map_err(ConnectorError::Sink)?,
    };
    set(&run.status, State::Running, None);
    for w in &spec.job.warnings {
        tracing::warn!(
            connector = spec.job.name,
            property = w.field,
            "{}",
            w.message
        );
    }
    let (key, value) = spec.job.formats;
    let decoder = Decoder::with_formats(run.shared.registry.clone(), key, value);
    tributary_kafka::job::run(
        spec.job.clone(),
        &run.shared.kafka.with(&spec.kafka),
        decoder,
        sink,
        stop,
        run.job_metrics.clone(),
    )
    .await?;
    Ok(())
}

/// The sink job's metrics handle, shared with `/metrics` and status.
pub type JobMetrics = Arc<tributary_kafka::job::JobMetrics>;
