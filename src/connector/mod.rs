//! Running one connector, supervised: a source (Postgres → Kafka) or a sink job (Kafka →
//! search index or cache).
//!
//! The supervisor owns no protocol: it starts the publisher (which claims the connector's
//! transactional id and reads its last committed offset), starts the source from that
//! offset, and when either fails it stops both. Transient failures (a broker or database
//! that went away, a busy connector lock) restart the pair from the last committed offset
//! with exponential backoff (or a source's constant `retriable.restart.connector.wait.ms`,
//! as Debezium waits); definite ones (bad config, authentication, an incompatible
//! schema, a fenced producer) leave the connector FAILED with the reason.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;
use tributary_avro::registry::RegistryClient;
use tributary_core::metrics::SourceMetrics;
use tributary_core::{ErrorKind, Retry};
use tributary_kafka::client::Overrides;
use tributary_kafka::{KafkaConfig, PublishError, PublishSettings, PublishStats};
use tributary_postgres::config::PostgresConnectorConfig;
use tributary_postgres::error::SourceError;

mod sink;
mod source;

pub(crate) use sink::setting_error;
pub use sink::{SinkSpec, SinkTarget};

/// Why one run of a connector ended.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("{0}")]
    Source(#[from] SourceError),
    #[error("{0}")]
    Publish(#[from] PublishError),
    #[error("{0}")]
    Job(#[from] tributary_kafka::job::JobError),
    #[error("{0}")]
    Sink(tributary_core::SinkError),
    #[error("internal error: {0}")]
    Panic(String),
}

impl Retry for ConnectorError {
    fn kind(&self) -> ErrorKind {
        match self {
            ConnectorError::Source(e) => e.kind(),
            ConnectorError::Publish(e) => e.kind(),
            ConnectorError::Job(e) => e.kind(),
            ConnectorError::Sink(e) => e.kind(),
            ConnectorError::Panic(_) => ErrorKind::Definite,
        }
    }
}

/// Kafka Connect's connector and task states.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    #[default]
    Unassigned,
    Running,
    Paused,
    Stopped,
    Failed,
    Restarting,
}

/// What `GET /connectors/{name}/status` reports of the task.
#[derive(Debug, Clone, Default)]
pub struct Status {
    pub state: State,
    /// Why the connector failed, or what it is retrying after.
    pub trace: Option<String>,
    /// Snapshot progress, while a snapshot runs or once one completed in this run.
    pub snapshot: Option<serde_json::Value>,
}

/// How long records may wait for a Kafka commit before status says why.
const STALL_REPORT: Duration = Duration::from_secs(5);

/// The publisher of the current run, for status.
type CurrentStats = Arc<Mutex<Option<Arc<PublishStats>>>>;

/// Topics written by the runs that ended.
type PastTopics = Arc<Mutex<BTreeSet<String>>>;

/// A connector as the daemon runs it.
pub struct Connector {
    pub status: Arc<Mutex<Status>>,
    stats: CurrentStats,
    past_topics: PastTopics,
    metrics: Arc<SourceMetrics>,
    job_metrics: sink::JobMetrics,
    stop: watch::Sender<bool>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// What every connector shares.
pub struct Shared {
    pub kafka: KafkaConfig,
    pub registry: Arc<RegistryClient>,
    /// The embedded search indexes, shared by the search jobs and the API.
    pub indexes: Arc<tributary_search::IndexRegistry>,
    /// The daemon's `[connect]` converters, for connectors that name none.
    pub worker: Arc<BTreeMap<String, String>>,
}

/// A source connector's parsed configuration.
#[derive(Clone)]
pub struct SourceSpec {
    pub source: Arc<PostgresConnectorConfig>,
    pub publish: Arc<PublishSettings>,
    /// `producer.override.*`: the producer, topic admin and offsets reader of this source.
    pub kafka: Arc<Overrides>,
}

/// A connector's parsed configuration: a Postgres source or a sink job.
#[derive(Clone)]
pub enum Spec {
    Source(SourceSpec),
    Sink(Arc<SinkSpec>),
}

impl Spec {
    pub fn source(&self) -> Option<&SourceSpec> {
        match self {
            Spec::Source(s) => Some(s),
            Spec::Sink(_) => None,
        }
    }

    pub fn sink(&self) -> Option<&SinkSpec> {
        match self {
            Spec::Source(_) => None,
            Spec::Sink(s) => Some(s),
        }
    }
}

impl Connector {
    /// Starts the connector. The daemon, not the source, drops the slot when the operator
    /// stops or deletes the connector (`slot.drop.on.stop`): a pause must keep it.
    pub fn spawn(name: &str, shared: Arc<Shared>, mut spec: Spec) -> Connector {
        let status = Arc::new(Mutex::new(Status::default()));
        let (stop, stop_rx) = watch::channel(false);
        let stats = CurrentStats::default();
        let past_topics = PastTopics::default();
        let metrics = Arc::new(SourceMetrics::default());
        let job_metrics = sink::JobMetrics::default();
        if let Spec::Source(spec) = &mut spec
            && spec.source.slot_drop_on_stop
        {
            let mut source = (*spec.source).clone();
            source.slot_drop_on_stop = false;
            spec.source = Arc::new(source);
        }
        let run = Run {
            name: name.to_string(),
            shared,
            spec,
            status: status.clone(),
            stats: stats.clone(),
            past_topics: past_topics.clone(),
            metrics: metrics.clone(),
            job_metrics: job_metrics.clone(),
        };
        let task = tokio::spawn(supervise(run, stop_rx));
        Connector {
            status,
            stats,
            past_topics,
            metrics,
            job_metrics,
            stop,
            task: Mutex::new(Some(task)),
        }
    }

    /// The source's counters (for `/metrics`).
    pub fn source_metrics(&self) -> Arc<SourceMetrics> {
        self.metrics.clone()
    }

    /// A sink job's counters (for `/metrics` and status).
    pub fn job_metrics(&self) -> sink::JobMetrics {
        self.job_metrics.clone()
    }

    /// The current run's publisher counters, if a run is publishing.
    pub fn publish_stats(&self) -> Option<Arc<PublishStats>> {
        self.stats.lock().ok().and_then(|s| s.clone())
    }

    /// Topics written by this connector's runs, sorted.
    pub fn topics(&self) -> Vec<String> {
        let mut all = self
            .past_topics
            .lock()
            .map(|t| t.clone())
            .unwrap_or_default();
        if let Some(s) = self.publish_stats() {
            all.extend(s.topics());
        }
        all.extend(self.job_metrics.topics());
        all.into_iter().collect()
    }

    /// Forgets the topics written so far (`PUT …/topics/reset`).
    pub fn reset_topics(&self) {
        if let Ok(mut t) = self.past_topics.lock() {
            t.clear();
        }
        if let Some(s) = self.publish_stats() {
            s.reset_topics();
        }
    }

    /// The connector's state; a running connector whose records wait for Kafka says why.
    pub fn status(&self) -> Status {
        let mut status = self.status.lock().map(|s| s.clone()).unwrap_or(Status {
            state: State::Failed,
            trace: Some("status lock poisoned".into()),
            snapshot: None,
        });
        status.snapshot = self
            .metrics
            .snapshot_report()
            .and_then(|r| serde_json::to_value(r).ok());
        if status.state == State::Running && status.trace.is_none() {
            status.trace = self
                .stats
                .lock()
                .ok()
                .and_then(|s| s.as_ref().and_then(|s| s.stalled(STALL_REPORT)))
                .or_else(|| self.job_metrics.retry_reason());
        }
        status
    }

    /// Asks the connector to finish the transaction it is in and stop; waits for it.
    pub async fn stop(&self) {
        let _ = self.stop.send(true);
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

fn set(status: &Mutex<Status>, state: State, trace: Option<String>) {
    if let Ok(mut s) = status.lock() {
        s.state = state;
        s.trace = trace;
    }
}

const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What one connector's runs share.
struct Run {
    name: String,
    shared: Arc<Shared>,
    spec: Spec,
    status: Arc<Mutex<Status>>,
    stats: CurrentStats,
    past_topics: PastTopics,
    metrics: Arc<SourceMetrics>,
    job_metrics: sink::JobMetrics,
}

async fn supervise(run: Run, mut stop: watch::Receiver<bool>) {
    let (status, stats) = (&run.status, &run.stats);
    let name = run.name.clone();
    // `errors.max.retries` of a source: restarts after retriable errors since it last
    // emitted change events (Debezium counts them so, and starts again after a poll that
    // returned any).
    let (max_retries, constant_wait) = match &run.spec {
        Spec::Source(spec) => (
            spec.source.errors_max_retries,
            spec.source.retriable_restart_wait,
        ),
        Spec::Sink(_) => (None, None),
    };
    // `retriable.restart.connector.wait.ms`, when set: Debezium's constant wait.
    let mut backoff = match constant_wait {
        Some(wait) => tributary_core::Backoff::new(wait, wait),
        None => tributary_core::Backoff::new(MIN_BACKOFF, MAX_BACKOFF),
    };
    let mut retries = 0u32;
    loop {
        if *stop.borrow() {
            break;
        }
        set(status, State::Running, None);
        let started = Instant::now();
        let events_before = run.metrics.events_seen();
        let result = match &run.spec {
            Spec::Source(spec) => source::run(&run, spec, stop.clone()).await,
            Spec::Sink(spec) => sink::run(&run, spec, stop.clone()).await,
        };
        let ended = stats.lock().ok().and_then(|mut s| s.take());
        if let (Some(ended), Ok(mut past)) = (ended, run.past_topics.lock()) {
            past.extend(ended.topics());
        }
        match result {
            Ok(()) => {
                tracing::info!(connector = name, "connector stopped");
                set(status, State::Unassigned, None);
                break;
            }
            Err(e) if e.is_transient() => {
                if started.elapsed() > Duration::from_secs(60) {
                    backoff.reset();
                }
                if run.metrics.events_seen() > events_before {
                    retries = 0;
                }
                if let Some(max) = max_retries
                    && retries >= max
                {
                    let why = format!(
                        "{e}\n(no more retries: errors.max.retries={max}; set it to -1 to retry without a limit)"
                    );
                    tracing::error!(connector = name, error = %why, "connector failed");
                    set(status, State::Failed, Some(why));
                    break;
                }
                retries += 1;
                let wait = backoff.next_wait();
                tracing::warn!(connector = name, error = %e, retry_in_ms = wait.as_millis() as u64, "connector will restart from its last committed offset");
                set(
                    status,
                    State::Running,
                    Some(format!("retrying in {} ms after: {e}", wait.as_millis())),
                );
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.wait_for(|s| *s) => break,
                }
            }
            Err(e) => {
                tracing::error!(connector = name, error = %e, "connector failed");
                set(status, State::Failed, Some(e.to_string()));
                break;
            }
        }
    }
    if *stop.borrow() && status.lock().is_ok_and(|s| s.state != State::Failed) {
        set(status, State::Unassigned, None);
    }
}
