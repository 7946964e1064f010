//! What the daemon reports of its connectors beyond status: topics and metrics.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::{Manager, OpError};
use crate::connector::Connector;

/// How long a measured slot lag is served before Postgres is asked again.
pub(super) const LAG_TTL: Duration = Duration::from_secs(5);

/// The last slot lags measured, per connector, and when.
pub(super) type LagCache = tokio::sync::Mutex<(Option<Instant>, HashMap<String, Option<i64>>)>;

impl Manager {
    pub(super) fn remember_topics(&self, name: &str, runner: &Connector) {
        let topics = runner.topics();
        let known = self.store.get(name).map(|s| s.topics).unwrap_or_default();
        if topics.iter().all(|t| known.contains(t)) {
            return;
        }
        let _ = self.store.update(name, |s| {
            for t in topics {
                if !s.topics.contains(&t) {
                    s.topics.push(t);
                }
            }
            s.topics.sort();
        });
    }

    /// Topics the connector has written to, as stored plus what the runner saw.
    pub fn topics(&self, name: &str) -> Result<Vec<String>, OpError> {
        self.get(name)?;
        let mut topics = self.store.get(name).map(|s| s.topics).unwrap_or_default();
        if let Some(r) = self.runner(name) {
            topics.extend(r.topics());
        }
        topics.sort();
        topics.dedup();
        Ok(topics)
    }

    pub fn reset_topics(&self, name: &str) -> Result<(), OpError> {
        self.get(name)?;
        if let Some(r) = self.runner(name) {
            r.reset_topics();
        }
        self.persist(name, |s| s.topics.clear())
    }

    /// `/metrics`: every connector's counters, and its slot's lag (asked of Postgres at
    /// most every [`LAG_TTL`], at most 2 s per connector, all at once; concurrent scrapes
    /// share one round of queries).
    pub async fn metrics(&self) -> String {
        let names = self.names();
        let mut rows = Vec::new();
        for name in &names {
            let Ok(status) = self.status(name) else {
                continue;
            };
            let state = serde_json::to_value(status.task.map_or(status.connector, |t| t.state))
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let runner = self.runner(name);
            let spec = self.spec(name).ok();
            rows.push((name.clone(), state, runner, spec));
        }
        let lags = {
            let mut cache = self.lags.lock().await;
            let fresh = cache.0.is_some_and(|at| at.elapsed() < LAG_TTL);
            if !fresh {
                let asked = futures_util::future::join_all(rows.iter().map(
                    |(name, _, _, spec)| async move {
                        let lag = match spec {
                            Some(spec) => spec.lag().await,
                            None => None,
                        };
                        (name.clone(), lag)
                    },
                ))
                .await;
                *cache = (Some(Instant::now()), asked.into_iter().collect());
            }
            rows.iter()
                .map(|(name, ..)| cache.1.get(name).copied().flatten())
                .collect::<Vec<_>>()
        };
        let counters: Vec<_> = rows
            .iter()
            .map(|(_, _, runner, _)| runner.as_ref().map(|r| r.metrics()).unwrap_or_default())
            .collect();
        let metrics: Vec<crate::metrics::ConnectorMetrics<'_>> = rows
            .iter()
            .zip(&counters)
            .zip(&lags)
            .map(
                |(((name, state, _, _), counters), lag)| crate::metrics::ConnectorMetrics {
                    name,
                    state,
                    source: counters.source.as_deref(),
                    publish: counters.publish.as_deref(),
                    slot_lag_bytes: *lag,
                    job: counters.job.as_deref(),
                },
            )
            .collect();
        crate::metrics::render(&metrics)
    }
}
