//! The daemon's connectors: what the operator asked for, and making it so.
//!
//! Each connector has a desired state (its config, target state RUNNING, PAUSED or STOPPED,
//! and a generation that a restart or a config change bumps), kept in the [`Store`] before
//! any request returns, and at most one runner ([`Connector`]). Every operation changes the
//! desired state and then *reconciles*: under the connector's own lock it stops a runner
//! that should not run (or runs an older generation) and starts one that should. Reads
//! (status, config, lists) never wait for that lock, so a connector busy finishing its
//! last transaction never slows down the API.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde_json::{Map, Value};
use tributary_postgres::config::ConfigError;

mod checks;
mod observe;
mod retention;

use crate::connector::{Connector, Shared, State, Status};
use crate::kinds::{Kind, Spec};
use crate::store::{Store, Stored, TargetState};
pub use checks::check_name;
use checks::named;

/// How long pause, stop and delete wait for the runner to finish its open transaction
/// before answering; past that it finishes in the background.
const SETTLE: Duration = Duration::from_secs(20);

/// Why an operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("connector configuration is invalid")]
    Invalid(Vec<ConfigError>),
    #[error("{0}")]
    Internal(String),
}

fn not_found(name: &str) -> OpError {
    OpError::NotFound(format!("Connector {name} not found"))
}

/// A connector's state as Kafka Connect reports it.
#[derive(Debug, Clone)]
pub struct StatusView {
    /// `"source"` or `"sink"`.
    pub kind: &'static str,
    pub connector: State,
    pub connector_trace: Option<String>,
    /// `None` while STOPPED (Kafka Connect shows no tasks then).
    pub task: Option<Status>,
    /// What the connector's replication slot holds, as last measured, and any warning.
    pub slot: Option<Value>,
}

/// One connector as the API shows it.
#[derive(Clone)]
pub struct InfoView {
    pub name: String,
    /// The connector's kind, as its `connector.class` names it.
    pub kind: &'static dyn Kind,
    pub config: Map<String, Value>,
    pub stopped: bool,
}

struct Desired {
    config: Map<String, Value>,
    /// `Err`: the stored config no longer parses (after an upgrade, say).
    spec: Result<Arc<dyn Spec>, String>,
    target: TargetState,
    generation: u64,
    deleted: bool,
    restarting: bool,
    runner: Option<(u64, Arc<Connector>)>,
}

struct Entry {
    name: String,
    desired: Mutex<Desired>,
    /// Held while reconciling: one runner change at a time per connector.
    op: tokio::sync::Mutex<()>,
}

impl Entry {
    fn desired(&self) -> std::sync::MutexGuard<'_, Desired> {
        self.desired.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Every connector of the daemon.
pub struct Manager {
    shared: Arc<Shared>,
    store: Store,
    entries: RwLock<BTreeMap<String, Arc<Entry>>>,
    retention: retention::RetentionCache,
}

impl Manager {
    /// Loads the stored connectors and starts those whose target is RUNNING.
    pub fn start(shared: Arc<Shared>, store: Store) -> Arc<Manager> {
        let manager = Arc::new(Manager {
            shared,
            store,
            entries: RwLock::default(),
            retention: Default::default(),
        });
        for (name, stored) in manager.store.all() {
            let spec = crate::kinds::parse(&name, &stored.config, &manager.shared.worker).map_err(|es| {
                let list: Vec<String> = es.iter().map(ToString::to_string).collect();
                format!(
                    "the stored config is not valid: {}\nHINT: fix it with PUT /connectors/{name}/config",
                    list.join("; ")
                )
            });
            if let Err(e) = &spec {
                tracing::error!(connector = name, error = %e, "connector cannot start");
            }
            manager.insert(&name, stored.config, spec, stored.target);
        }
        let names: Vec<String> = manager.names();
        for name in names {
            if let Some(e) = manager.entry(&name) {
                manager.reconcile_later(e);
            }
        }
        retention::watch(&manager);
        manager
    }

    fn insert(
        &self,
        name: &str,
        config: Map<String, Value>,
        spec: Result<Arc<dyn Spec>, String>,
        target: TargetState,
    ) -> Option<Arc<Entry>> {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.contains_key(name) {
            return None;
        }
        let entry = Arc::new(Entry {
            name: name.to_string(),
            desired: Mutex::new(Desired {
                config,
                spec,
                target,
                generation: 0,
                deleted: false,
                restarting: false,
                runner: None,
            }),
            op: tokio::sync::Mutex::new(()),
        });
        entries.insert(name.to_string(), entry.clone());
        Some(entry)
    }

    fn entry(&self, name: &str) -> Option<Arc<Entry>> {
        self.entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    fn get(&self, name: &str) -> Result<Arc<Entry>, OpError> {
        self.entry(name)
            .filter(|e| !e.desired().deleted)
            .ok_or_else(|| not_found(name))
    }

    pub fn names(&self) -> Vec<String> {
        self.entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(_, e)| !e.desired().deleted)
            .map(|(n, _)| n.clone())
            .collect()
    }

    pub fn info(&self, name: &str) -> Result<InfoView, OpError> {
        let e = self.get(name)?;
        let d = e.desired();
        Ok(InfoView {
            name: name.to_string(),
            kind: crate::kinds::shown(&d.config),
            config: d.config.clone(),
            stopped: d.target == TargetState::Stopped,
        })
    }

    pub fn status(&self, name: &str) -> Result<StatusView, OpError> {
        let e = self.get(name)?;
        let d = e.desired();
        let runner = d.runner.as_ref().map(|(_, r)| r.status());
        let kind = crate::kinds::shown(&d.config).plugin_type();
        let mut view = match (&d.spec, d.target) {
            (Err(trace), _) => StatusView {
                kind,
                slot: None,
                connector: State::Failed,
                connector_trace: Some(trace.clone()),
                task: None,
            },
            (Ok(_), TargetState::Stopped) => StatusView {
                kind,
                slot: None,
                connector: State::Stopped,
                connector_trace: None,
                task: None,
            },
            (Ok(_), TargetState::Paused) => StatusView {
                kind,
                slot: None,
                connector: State::Paused,
                connector_trace: None,
                task: Some(Status {
                    state: State::Paused,
                    ..Status::default()
                }),
            },
            (Ok(_), TargetState::Running) if d.restarting => StatusView {
                kind,
                slot: None,
                connector: State::Restarting,
                connector_trace: None,
                task: Some(Status {
                    state: State::Restarting,
                    ..Status::default()
                }),
            },
            (Ok(_), TargetState::Running) => {
                let task = runner.unwrap_or_default();
                let connector = match task.state {
                    State::Unassigned => State::Unassigned,
                    _ => State::Running,
                };
                StatusView {
                    kind,
                    slot: None,
                    connector,
                    connector_trace: None,
                    task: Some(task),
                }
            }
        };
        drop(d);
        view.slot = self.slot_status(name, &view);
        Ok(view)
    }

    /// The running connector, for metrics and topics.
    pub fn runner(&self, name: &str) -> Option<Arc<Connector>> {
        let e = self.entry(name)?;
        let d = e.desired();
        d.runner.as_ref().map(|(_, r)| r.clone())
    }

    pub fn spec(&self, name: &str) -> Result<Arc<dyn Spec>, OpError> {
        let e = self.get(name)?;
        let d = e.desired();
        d.spec.clone().map_err(OpError::BadRequest)
    }

    /// `POST /connectors`.
    pub async fn create(
        self: &Arc<Self>,
        name: &str,
        mut config: Map<String, Value>,
        initial: TargetState,
    ) -> Result<InfoView, OpError> {
        check_name(name)?;
        named(name, &mut config)?;
        if self.entry(name).is_some() {
            return Err(OpError::Conflict(format!(
                "Connector {name} already exists"
            )));
        }
        let spec = self.check(name, &config).await.map_err(OpError::Invalid)?;
        let entry = self
            .insert(name, config.clone(), Ok(spec), initial)
            .ok_or_else(|| OpError::Conflict(format!("Connector {name} already exists")))?;
        let stored = Stored {
            config,
            target: initial,
            topics: vec![],
        };
        if let Err(e) = self.store.put(name, Some(stored)) {
            self.entries
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .remove(name);
            return Err(OpError::Internal(e.to_string()));
        }
        tracing::info!(connector = name, state = ?initial, "connector created");
        self.reconcile_later(entry);
        self.info(name)
    }

    /// `PUT /connectors/{name}/config`: creates or replaces; returns whether it created.
    pub async fn put_config(
        self: &Arc<Self>,
        name: &str,
        mut config: Map<String, Value>,
    ) -> Result<(bool, InfoView), OpError> {
        check_name(name)?;
        named(name, &mut config)?;
        let Some(entry) = self.entry(name) else {
            return self
                .create(name, config, TargetState::Running)
                .await
                .map(|i| (true, i));
        };
        let stored = entry.desired().config.clone();
        crate::secrets::restore(&mut config, &stored);
        let spec = self.check(name, &config).await.map_err(OpError::Invalid)?;
        let target = {
            let mut d = entry.desired();
            if d.deleted {
                return Err(not_found(name));
            }
            d.config = config.clone();
            d.spec = Ok(spec);
            d.generation += 1;
            d.target
        };
        self.persist(name, |s| s.config = config)?;
        tracing::info!(connector = name, "connector config updated");
        if target == TargetState::Running {
            self.reconcile_later(entry);
        }
        Ok((false, self.info(name)?))
    }

    /// `PATCH /connectors/{name}/config`: changes the given keys; `null` removes one.
    pub async fn patch_config(
        self: &Arc<Self>,
        name: &str,
        patch: Map<String, Value>,
    ) -> Result<InfoView, OpError> {
        let mut config = self.get(name)?.desired().config.clone();
        for (k, v) in patch {
            if v.is_null() {
                config.remove(&k);
            } else {
                config.insert(k, v);
            }
        }
        self.put_config(name, config).await.map(|(_, i)| i)
    }

    fn persist(&self, name: &str, f: impl FnOnce(&mut Stored)) -> Result<(), OpError> {
        self.store
            .update(name, f)
            .map_err(|e| OpError::Internal(e.to_string()))
    }

    /// `PUT …/pause`, `…/resume`, `…/stop`: sets the target state and waits (a while) for
    /// the runner to follow.
    pub async fn set_target(
        self: &Arc<Self>,
        name: &str,
        target: TargetState,
    ) -> Result<(), OpError> {
        let entry = self.get(name)?;
        let changed = {
            let mut d = entry.desired();
            let changed = d.target != target;
            d.target = target;
            changed
        };
        if changed {
            self.persist(name, |s| s.target = target)?;
            tracing::info!(connector = name, state = ?target, "connector target state changed");
        }
        self.settle(entry).await;
        Ok(())
    }

    /// `POST …/restart`: restarts the runner if the connector should run (and, with
    /// `only_failed`, only if it failed). Returns whether it restarts.
    pub fn restart(self: &Arc<Self>, name: &str, only_failed: bool) -> Result<bool, OpError> {
        let entry = self.get(name)?;
        let failed = self
            .status(name)?
            .task
            .is_some_and(|t| t.state == State::Failed);
        let restart = {
            let mut d = entry.desired();
            let restart = d.target == TargetState::Running && (!only_failed || failed);
            if restart {
                d.generation += 1;
                d.restarting = true;
            }
            restart
        };
        if restart {
            tracing::info!(connector = name, "connector restarting");
            self.reconcile_later(entry);
        }
        Ok(restart)
    }

    /// `DELETE /connectors/{name}`: stops the connector, drops its slot and publication
    /// when its config says so, and forgets it.
    pub async fn delete(self: &Arc<Self>, name: &str) -> Result<(), OpError> {
        let entry = self.get(name)?;
        entry.desired().deleted = true;
        self.store
            .put(name, None)
            .map_err(|e| OpError::Internal(e.to_string()))?;
        tracing::info!(connector = name, "connector deleted");
        self.settle(entry).await;
        Ok(())
    }

    /// Reconciles now, waiting up to [`SETTLE`]; the rest goes on in the background.
    async fn settle(self: &Arc<Self>, entry: Arc<Entry>) {
        let this = self.clone();
        let task = tokio::spawn(async move { this.reconcile(entry).await });
        let _ = tokio::time::timeout(SETTLE, task).await;
    }

    fn reconcile_later(self: &Arc<Self>, entry: Arc<Entry>) {
        let this = self.clone();
        tokio::spawn(async move { this.reconcile(entry).await });
    }

    /// Makes the runner match the desired state.
    async fn reconcile(self: &Arc<Self>, entry: Arc<Entry>) {
        let _op = entry.op.lock().await;
        let (stale, want, drop) = {
            let d = entry.desired();
            let want = !d.deleted && d.target == TargetState::Running && d.spec.is_ok();
            let stale = match &d.runner {
                Some((generation, _)) => !want || *generation != d.generation,
                None => false,
            };
            // A deliberate stop or delete honours slot.drop.on.stop; a pause never does.
            let drop = d.deleted || d.target == TargetState::Stopped;
            (stale, want, drop)
        };
        if stale {
            let runner = entry.desired().runner.take();
            if let Some((_, runner)) = runner {
                runner.stop().await;
                self.remember_topics(&entry.name, &runner);
            }
        }
        let (spec, deleted) = {
            let d = entry.desired();
            (d.spec.clone().ok(), d.deleted)
        };
        // A delete cleans up even when nothing ran (a stopped or paused connector).
        if (deleted || (stale && drop))
            && let Some(spec) = &spec
        {
            spec.cleanup(deleted).await;
        }
        let mut d = entry.desired();
        if d.deleted {
            drop_entry(&self.entries, &entry);
            return;
        }
        // Whatever changed while the old runner stopped counts.
        let want = want && d.target == TargetState::Running && d.spec.is_ok();
        if want
            && d.runner.is_none()
            && let Ok(spec) = d.spec.clone()
        {
            let runner = Arc::new(Connector::spawn(&entry.name, self.shared.clone(), &*spec));
            d.runner = Some((d.generation, runner));
        }
        d.restarting = false;
    }

    /// Holds the connector's lock for an offsets change: only while STOPPED and with no
    /// runner left.
    pub async fn with_stopped<T, F: Future<Output = Result<T, OpError>>>(
        &self,
        name: &str,
        f: impl FnOnce(Arc<dyn Spec>) -> F,
    ) -> Result<T, OpError> {
        let entry = self.get(name)?;
        let _op = entry.op.lock().await;
        let spec = {
            let d = entry.desired();
            if d.target != TargetState::Stopped || d.runner.is_some() {
                return Err(OpError::BadRequest(format!(
                    "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint"
                )));
            }
            d.spec.clone().map_err(OpError::BadRequest)?
        };
        f(spec).await
    }

    /// SIGTERM: every runner finishes its open transaction, all at once, within `limit`.
    pub async fn shutdown(&self, limit: Duration) {
        let runners: Vec<Arc<Connector>> = {
            let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
            entries
                .values()
                .filter_map(|e| e.desired().runner.as_ref().map(|(_, r)| r.clone()))
                .collect()
        };
        let all = futures_util::future::join_all(runners.iter().map(|r| r.stop()));
        if tokio::time::timeout(limit, all).await.is_err() {
            tracing::warn!(
                timeout_ms = limit.as_millis() as u64,
                "connectors did not finish within the shutdown timeout; their open Kafka transactions are abandoned (they abort, nothing is acknowledged to Postgres)"
            );
        }
        for (name, r) in self
            .names()
            .iter()
            .filter_map(|n| Some((n, self.runner(n)?)))
        {
            self.remember_topics(name, &r);
        }
    }
}

fn drop_entry(entries: &RwLock<BTreeMap<String, Arc<Entry>>>, entry: &Arc<Entry>) {
    let mut map = entries.write().unwrap_or_else(|p| p.into_inner());
    if map.get(&entry.name).is_some_and(|e| Arc::ptr_eq(e, entry)) {
        map.remove(&entry.name);
    }
}
