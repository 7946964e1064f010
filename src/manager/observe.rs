//! What the daemon reports of its connectors beyond status: topics and metrics.

use super::{Manager, OpError};
use crate::connector::Connector;

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

    /// `/metrics`: every connector's counters, and its slot (measured again unless that
    /// was done in the last seconds).
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
        self.measure_retention().await;
        let slots: Vec<_> = rows
            .iter()
            .map(|(name, ..)| self.retention_of(name))
            .collect();
        let counters: Vec<_> = rows
            .iter()
            .map(|(_, _, runner, _)| runner.as_ref().map(|r| r.metrics()).unwrap_or_default())
            .collect();
        let metrics: Vec<crate::metrics::ConnectorMetrics<'_>> = rows
            .iter()
            .zip(&counters)
            .zip(&slots)
            .map(
                |(((name, state, _, _), counters), slot)| crate::metrics::ConnectorMetrics {
                    name,
                    state,
                    source: counters.source.as_deref(),
                    publish: counters.publish.as_deref(),
                    slot: slot.as_ref(),
                    job: counters.job.as_deref(),
                },
            )
            .collect();
        crate::metrics::render(&metrics)
    }
}
