//! Watching what connectors hold back in their databases (replication slots): measured
//! every [`WATCH_EVERY`] for every connector, running or not, so a stopped connector's
//! slot shows its WAL growing in the status and `/metrics` before Postgres invalidates
//! it, and the log warns once when a slot crosses `slot.lag.warn.bytes` or is endangered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Manager, StatusView};
use crate::connector::State;
use crate::kinds::Retention;

/// How often every slot is measured.
const WATCH_EVERY: Duration = Duration::from_secs(10);

/// How long a measurement is served before Postgres is asked again.
const FRESH_FOR: Duration = Duration::from_secs(5);

#[derive(Default)]
pub(super) struct RetentionCache {
    /// The last measurement, per connector.
    last: Mutex<HashMap<String, Retention>>,
    /// When the last round of queries ran; held during a round, so concurrent callers
    /// (a scrape and the watcher) share one.
    round: tokio::sync::Mutex<Option<Instant>>,
    /// The warning last logged, per connector, so each is logged once.
    logged: Mutex<HashMap<String, String>>,
}

/// Measures every slot every [`WATCH_EVERY`] while the manager lives.
pub(super) fn watch(manager: &Arc<Manager>) {
    let manager: Weak<Manager> = Arc::downgrade(manager);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(WATCH_EVERY).await;
            let Some(m) = manager.upgrade() else { return };
            m.measure_retention().await;
            m.log_retention();
        }
    });
}

/// The state a connector's slot warning is about, and why its records wait, if they do.
fn state_of(view: &StatusView) -> (State, Option<&str>) {
    match &view.task {
        Some(t) if t.state == State::Running => (State::Running, t.trace.as_deref()),
        Some(t) => (t.state, None),
        None => (view.connector, None),
    }
}

impl Manager {
    /// Asks every connector's database what its slot holds (each within 2 s, all at once),
    /// unless that was done less than [`FRESH_FOR`] ago.
    pub(super) async fn measure_retention(&self) {
        let mut round = self.retention.round.lock().await;
        if round.is_some_and(|at| at.elapsed() < FRESH_FOR) {
            return;
        }
        let specs: Vec<_> = self
            .names()
            .into_iter()
            .filter_map(|n| Some((self.spec(&n).ok()?, n)))
            .collect();
        let measured = futures_util::future::join_all(
            specs
                .iter()
                .map(|(spec, name)| async move { (name.clone(), spec.retention().await) }),
        )
        .await;
        let measured: HashMap<String, Retention> = measured
            .into_iter()
            .filter_map(|(name, r)| Some((name, r?)))
            .collect();
        *self
            .retention
            .last
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = measured;
        *round = Some(Instant::now());
    }

    /// The last measurement of a connector's slot.
    pub(super) fn retention_of(&self, name: &str) -> Option<Retention> {
        let last = self
            .retention
            .last
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        last.get(name).cloned()
    }

    /// The status's `slot` object.
    pub(super) fn slot_status(&self, name: &str, view: &StatusView) -> Option<Value> {
        let (state, waiting) = state_of(view);
        Some(self.retention_of(name)?.to_json(state, waiting))
    }

    /// Logs each connector's slot warning once, when it appears or changes kind.
    fn log_retention(&self) {
        let mut logged = self
            .retention
            .logged
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for name in self.names() {
            let warning = self.status(&name).ok().and_then(|view| {
                let (state, waiting) = state_of(&view);
                let retention = self.retention_of(&name)?;
                Some((retention.level()?, retention.warning(state, waiting)?))
            });
            let Some((level, warning)) = warning else {
                logged.remove(&name);
                continue;
            };
            if logged.get(&name).map(String::as_str) != Some(level) {
                tracing::warn!(connector = name, "{warning}");
                logged.insert(name, level.to_string());
            }
        }
    }
}
