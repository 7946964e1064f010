//! Sink jobs: a consumer group on `cdc.*` topics feeding a target (a search index, a
//! cache). Everything but the target is the same for every target: the job's properties
//! (tributary-kafka's `JOB_PROPERTIES`), its consumer overrides, its run, its offsets (the
//! group's) and its metrics. The target comes from its crate, through
//! `tributary_core::target`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use tokio::sync::watch;
use tributary_avro::decode::Decoder;
use tributary_core::config::{ConfigError, PropertyDef, property_strings};
use tributary_core::sink::BoxFuture;
use tributary_core::target::{SinkTarget, TargetConfig};
use tributary_kafka::client::Overrides;
use tributary_kafka::job::{JOB_PROPERTIES, JobMetrics, JobSettings};

use super::{Kind, Metrics, Spec, Task, check_kafka, setting_error};
use crate::connector::{ConnectorError, Shared, State, Status, set};
use crate::manager::OpError;

mod offsets;

/// The sink job kind of one target.
pub struct SinkKind(pub &'static dyn SinkTarget);

impl Kind for SinkKind {
    fn classes(&self) -> &'static [&'static str] {
        self.0.plugin().classes
    }

    fn alias(&self) -> &'static str {
        self.0.plugin().alias
    }

    fn task_class(&self) -> &'static str {
        self.0.plugin().task_class
    }

    fn plugin_type(&self) -> &'static str {
        "sink"
    }

    fn properties(&self) -> Vec<&'static PropertyDef> {
        JOB_PROPERTIES
            .iter()
            .chain(self.0.plugin().properties)
            .collect()
    }

    /// Checks every property: the job's here, the target's in its crate.
    fn parse(
        &self,
        name: &str,
        config: &Map<String, Value>,
        worker: &BTreeMap<String, String>,
    ) -> Result<Arc<dyn Spec>, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let job = parse_job(name, config, worker, &mut errors);
        let known: Vec<&str> = JOB_PROPERTIES.iter().map(|p| p.name).collect();
        let target = self
            .0
            .parse(name, config, &known)
            .map_err(|e| errors.extend(e.0))
            .ok();
        let (props, _) = property_strings(config);
        let kafka = Overrides::parse(&props, "consumer.override.", &["group.id"])
            .map_err(|es| errors.extend(es.into_iter().map(setting_error)))
            .ok();
        match (job, target, kafka) {
            (Some(job), Some(target), Some(kafka)) if errors.is_empty() => Ok(Arc::new(SinkSpec {
                job,
                target: target.into(),
                kafka,
            })),
            _ => Err(errors),
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

/// A sink job's parsed configuration.
pub struct SinkSpec {
    job: JobSettings,
    target: Arc<dyn TargetConfig>,
    /// `consumer.override.*` (but `group.id`, which names the job's group).
    kafka: Overrides,
}

impl Spec for SinkSpec {
    /// The consumer overrides reach Kafka, then the target answers (a Redis PING, a
    /// search server's health).
    fn check<'a>(&'a self, shared: &'a Shared) -> BoxFuture<'a, Result<(), Vec<ConfigError>>> {
        Box::pin(async move {
            check_kafka(shared, &self.kafka, "consumer.override.").await?;
            self.target.check().await.map_err(|e| e.0)
        })
    }

    fn task(&self, shared: Arc<Shared>) -> Arc<dyn Task> {
        Arc::new(JobTask {
            job: self.job.clone(),
            target: self.target.clone(),
            kafka: self.kafka.clone(),
            shared,
            metrics: Arc::default(),
        })
    }

    fn read_offsets<'a>(
        &'a self,
        shared: &'a Shared,
        _name: &'a str,
    ) -> BoxFuture<'a, Result<Value, OpError>> {
        Box::pin(offsets::read(self, shared))
    }

    fn check_offsets(&self, list: &[Value]) -> Result<(), OpError> {
        offsets::parse(list).map(|_| ())
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
}

/// A sink job as its runner drives it.
struct JobTask {
    job: JobSettings,
    target: Arc<dyn TargetConfig>,
    kafka: Overrides,
    shared: Arc<Shared>,
    metrics: Arc<JobMetrics>,
}

impl Task for JobTask {
    /// Opens the target, then consumes until stopped or failed.
    fn run<'a>(
        &'a self,
        status: &'a Mutex<Status>,
        stop: watch::Receiver<bool>,
    ) -> BoxFuture<'a, Result<(), ConnectorError>> {
        Box::pin(async move {
            let sink = self
                .target
                .open(&self.shared.resources)
                .await
                .map_err(ConnectorError::Sink)?;
            set(status, State::Running, None);
            for w in &self.job.warnings {
                tracing::warn!(
                    connector = self.job.name,
                    property = w.field,
                    "{}",
                    w.message
                );
            }
            let (key, value) = self.job.formats;
            let decoder = Decoder::with_formats(self.shared.registry.clone(), key, value);
            tributary_kafka::job::run(
                self.job.clone(),
                &self.shared.kafka.with(&self.kafka),
                decoder,
                sink,
                stop,
                self.metrics.clone(),
            )
            .await?;
            Ok(())
        })
    }

    fn topics(&self) -> Vec<String> {
        self.metrics.topics()
    }

    /// What the job is retrying after, if it is.
    fn waiting(&self) -> Option<String> {
        self.metrics.retry_reason()
    }

    fn metrics(&self) -> Metrics {
        Metrics {
            job: Some(self.metrics.clone()),
            ..Metrics::default()
        }
    }
}
