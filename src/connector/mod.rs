//! Running one connector, supervised, whatever its kind.
//!
//! The supervisor owns no protocol: it drives the connector's [`Task`] (the kind's run: a
//! source's publisher and source, a sink job's consumer and target) and, when a run fails,
//! decides what comes next. Transient failures (a broker or database that went away, a
//! busy connector lock) start a new run from the last committed offset with exponential
//! backoff (or the constant wait the kind asks for, as Debezium's
//! `retriable.restart.connector.wait.ms`); definite ones (bad config, authentication, an
//! incompatible schema, a fenced producer) leave the connector FAILED with the reason.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;
use tributary_avro::registry::RegistryClient;
use tributary_core::target::Resources;
use tributary_core::{ErrorKind, Retry};
use tributary_kafka::{KafkaConfig, PublishError};
use tributary_postgres::error::SourceError;

use crate::kinds::{Metrics, Spec, Task};

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

/// A connector as the daemon runs it: its kind's task, supervised.
pub struct Connector {
    pub status: Arc<Mutex<Status>>,
    task: Arc<dyn Task>,
    stop: watch::Sender<bool>,
    handle: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// What every connector shares.
pub struct Shared {
    pub kafka: KafkaConfig,
    pub registry: Arc<RegistryClient>,
    /// The embedded search indexes, for the API's `/indexes` (the search jobs reach the
    /// same registry through `resources`).
    pub indexes: Arc<tributary_search::IndexRegistry>,
    /// What the daemon opened once for its sinks (the embedded search indexes), by type.
    pub resources: Resources,
    /// The daemon's `[connect]` converters, for connectors that name none.
    pub worker: Arc<BTreeMap<String, String>>,
}

impl Connector {
    /// Starts the connector.
    pub fn spawn(name: &str, shared: Arc<Shared>, spec: &dyn Spec) -> Connector {
        let status = Arc::new(Mutex::new(Status::default()));
        let (stop, stop_rx) = watch::channel(false);
        let task = spec.task(shared);
        let run = Run {
            name: name.to_string(),
            restarts: spec.restarts(),
            status: status.clone(),
            task: task.clone(),
        };
        let handle = tokio::spawn(supervise(run, stop_rx));
        Connector {
            status,
            task,
            stop,
            handle: Mutex::new(Some(handle)),
        }
    }

    /// The counters `/metrics` shows.
    pub fn metrics(&self) -> Metrics {
        self.task.metrics()
    }

    /// Topics written by this connector's runs, sorted.
    pub fn topics(&self) -> Vec<String> {
        self.task.topics()
    }

    /// Forgets the topics written so far (`PUT …/topics/reset`).
    pub fn reset_topics(&self) {
        self.task.reset_topics();
    }

    /// The connector's state; a running connector whose records wait says why.
    pub fn status(&self) -> Status {
        let mut status = self.status.lock().map(|s| s.clone()).unwrap_or(Status {
            state: State::Failed,
            trace: Some("status lock poisoned".into()),
            snapshot: None,
        });
        status.snapshot = self.task.snapshot();
        if status.state == State::Running && status.trace.is_none() {
            status.trace = self.task.waiting();
        }
        status
    }

    /// Asks the connector to finish the transaction it is in and stop; waits for it.
    pub async fn stop(&self) {
        let _ = self.stop.send(true);
        let handle = self.handle.lock().ok().and_then(|mut t| t.take());
        if let Some(handle) = handle {
            let _ = handle.await;
        }
    }
}

pub(crate) fn set(status: &Mutex<Status>, state: State, trace: Option<String>) {
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
    restarts: crate::kinds::Restarts,
    status: Arc<Mutex<Status>>,
    task: Arc<dyn Task>,
}

async fn supervise(run: Run, mut stop: watch::Receiver<bool>) {
    let status = &run.status;
    let name = run.name.clone();
    let max_retries = run.restarts.max_retries;
    // `retriable.restart.connector.wait.ms`, when set: Debezium's constant wait.
    let mut backoff = match run.restarts.constant_wait {
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
        let progress_before = run.task.progress();
        let result = run.task.run(status, stop.clone()).await;
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
                if run.task.progress() > progress_before {
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
