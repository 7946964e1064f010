//! One source connector's runs: Postgres source → Kafka publisher, and what they report.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;
use tributary_core::sink::BoxFuture;
use tributary_core::{DurableLsn, SourceMetrics};
use tributary_kafka::{PublishStats, Publisher};
use tributary_postgres::lock::ConnectorLock;

use super::SourceSpec;
use crate::connector::{ConnectorError, Shared, State, Status, set};
use crate::kinds::{Metrics, Task};

/// How long records may wait for a Kafka commit before status says why.
const STALL_REPORT: Duration = Duration::from_secs(5);

/// A source as its runner drives it.
pub(super) struct SourceTask {
    spec: SourceSpec,
    shared: Arc<Shared>,
    /// The publisher of the current run.
    stats: Mutex<Option<Arc<PublishStats>>>,
    /// Topics written by the runs that ended.
    past_topics: Mutex<BTreeSet<String>>,
    metrics: Arc<SourceMetrics>,
}

impl SourceTask {
    /// The daemon, not the source, drops the slot when the operator stops or deletes the
    /// connector (`slot.drop.on.stop`): a pause or a restart must keep it.
    pub(super) fn new(spec: &SourceSpec, shared: Arc<Shared>) -> SourceTask {
        let mut source = (*spec.source).clone();
        source.slot_drop_on_stop = false;
        SourceTask {
            spec: SourceSpec {
                source: Arc::new(source),
                publish: spec.publish.clone(),
                kafka: spec.kafka.clone(),
                signal_consumer: spec.signal_consumer.clone(),
            },
            shared,
            stats: Mutex::default(),
            past_topics: Mutex::default(),
            metrics: Arc::default(),
        }
    }

    fn publish_stats(&self) -> Option<Arc<PublishStats>> {
        self.stats.lock().ok().and_then(|s| s.clone())
    }

    async fn run_once(
        &self,
        status: &Mutex<Status>,
        mut stop: watch::Receiver<bool>,
    ) -> Result<(), ConnectorError> {
        let spec = &self.spec;
        let warnings = spec.source.warnings.iter().map(|w| (&w.field, &w.message));
        let pipeline = spec.publish.warnings.iter().map(|w| (&w.field, &w.message));
        for (field, message) in warnings.chain(pipeline) {
            tracing::warn!(connector = spec.source.name, property = field, "{message}");
        }
        let _lock = ConnectorLock::acquire(&spec.source).await?;
        let kafka = self.shared.kafka.with(&spec.kafka);
        let (publisher, stored) = Publisher::start(
            &kafka,
            (*spec.publish).clone(),
            self.shared.registry.clone(),
        )
        .await?;
        if let Ok(mut s) = self.stats.lock() {
            *s = Some(publisher.stats());
        }
        set(status, State::Running, None);
        let durable = DurableLsn::default();
        let (tx, rx) = tributary_core::batch::bounded(spec.source.queue.limits());
        let (source_stop, source_stop_rx) = watch::channel(false);
        let source_stop = Arc::new(source_stop);
        let forward = {
            let source_stop = source_stop.clone();
            tokio::spawn(async move {
                let _ = stop.wait_for(|s| *s).await;
                let _ = source_stop.send(true);
            })
        };
        let heartbeat = match &spec.source.heartbeat_action_query {
            Some(query) if !spec.publish.heartbeat_interval.is_zero() => Some(tokio::spawn(
                tributary_postgres::heartbeat::run_action_query(
                    spec.source.connect.clone(),
                    query.clone(),
                    spec.publish.heartbeat_interval,
                    source_stop.subscribe(),
                ),
            )),
            _ => None,
        };
        let kafka_signals = spec.source.signals.kafka.clone().map(|channel| {
            tokio::spawn(super::signals::kafka_channel(
                self.shared.kafka.with(&spec.signal_consumer),
                channel,
                spec.source.clone(),
                source_stop.subscribe(),
            ))
        });
        let source = tokio::spawn(tributary_postgres::source::run_with_metrics(
            spec.source.clone(),
            stored,
            tx,
            durable.clone(),
            source_stop_rx,
            self.metrics.clone(),
        ));
        let published = publisher.run(rx, &durable).await;
        let _ = source_stop.send(true);
        let sourced = source.await;
        forward.abort();
        if let Some(h) = heartbeat {
            let _ = h.await;
        }
        if let Some(h) = kafka_signals {
            let _ = h.await;
        }
        published?;
        match sourced {
            Ok(r) => Ok(r?),
            Err(e) => Err(ConnectorError::Panic(format!(
                "the source task failed: {e}"
            ))),
        }
    }
}

impl Task for SourceTask {
    /// One run; the topics its publisher wrote are kept when it ends.
    fn run<'a>(
        &'a self,
        status: &'a Mutex<Status>,
        stop: watch::Receiver<bool>,
    ) -> BoxFuture<'a, Result<(), ConnectorError>> {
        Box::pin(async move {
            let result = self.run_once(status, stop).await;
            let ended = self.stats.lock().ok().and_then(|mut s| s.take());
            if let (Some(ended), Ok(mut past)) = (ended, self.past_topics.lock()) {
                past.extend(ended.topics());
            }
            result
        })
    }

    fn progress(&self) -> u64 {
        self.metrics.events_seen()
    }

    fn topics(&self) -> Vec<String> {
        let mut all = self
            .past_topics
            .lock()
            .map(|t| t.clone())
            .unwrap_or_default();
        if let Some(s) = self.publish_stats() {
            all.extend(s.topics());
        }
        all.into_iter().collect()
    }

    fn reset_topics(&self) {
        if let Ok(mut t) = self.past_topics.lock() {
            t.clear();
        }
        if let Some(s) = self.publish_stats() {
            s.reset_topics();
        }
    }

    /// This run's initial snapshot, and the incremental snapshot in progress under
    /// `incremental`.
    fn snapshot(&self) -> Option<Value> {
        let mut out = self
            .metrics
            .snapshot_report()
            .and_then(|r| serde_json::to_value(r).ok());
        if let Some(inc) = self.metrics.incremental_report() {
            let inc = serde_json::to_value(inc).ok()?;
            match &mut out {
                Some(Value::Object(o)) => {
                    o.insert("incremental".into(), inc);
                }
                _ => out = Some(serde_json::json!({ "incremental": inc })),
            }
        }
        out
    }

    /// Records waiting for a Kafka commit longer than [`STALL_REPORT`].
    fn waiting(&self) -> Option<String> {
        self.publish_stats()?.stalled(STALL_REPORT)
    }

    fn metrics(&self) -> Metrics {
        Metrics {
            source: Some(self.metrics.clone()),
            publish: self.publish_stats(),
            job: None,
        }
    }
}
