//! What the daemon reports of its connectors beyond status: topics and metrics; and the
//! cleanup after a deliberate stop.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::{Manager, OpError};
use crate::connector::{Connector, Spec};

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
                        let lag = async {
                            let spec = spec.as_ref()?.source()?;
                            tokio::time::timeout(
                                Duration::from_secs(2),
                                tributary_postgres::admin::slot_info(&spec.source),
                            )
                            .await
                            .ok()?
                            .ok()??
                            .lag_bytes
                        };
                        (name.clone(), lag.await)
                    },
                ))
                .await;
                *cache = (Some(Instant::now()), asked.into_iter().collect());
            }
            rows.iter()
                .map(|(name, ..)| cache.1.get(name).copied().flatten())
                .collect::<Vec<_>>()
        };
        let is_sink = |spec: &Option<Spec>| spec.as_ref().is_some_and(|s| s.sink().is_some());
        let sources: Vec<_> = rows
            .iter()
            .map(|(_, _, r, spec)| {
                r.as_ref()
                    .filter(|_| !is_sink(spec))
                    .map(|r| (r.source_metrics(), r.publish_stats()))
            })
            .collect();
        let jobs: Vec<_> = rows
            .iter()
            .map(|(_, _, r, spec)| {
                r.as_ref()
                    .filter(|_| is_sink(spec))
                    .map(|r| r.job_metrics())
            })
            .collect();
        let metrics: Vec<crate::metrics::ConnectorMetrics<'_>> = rows
            .iter()
            .zip(&sources)
            .zip(&lags)
            .zip(&jobs)
            .map(
                |((((name, state, _, _), source), lag), job)| crate::metrics::ConnectorMetrics {
                    name,
                    state,
                    source: source.as_ref().map(|(m, _)| m.as_ref()),
                    publish: source.as_ref().and_then(|(_, p)| p.as_deref()),
                    slot_lag_bytes: *lag,
                    job: job.as_deref(),
                },
            )
            .collect();
        crate::metrics::render(&metrics)
    }
}

/// After a stop or delete: the slot goes when `slot.drop.on.stop` is set, the publication
/// (on delete) when `publication.drop.on.delete` is.
pub(super) async fn cleanup(spec: &Spec, deleted: bool) {
    use tributary_postgres::admin;
    let Some(spec) = spec.source() else {
        return;
    };
    let name = &spec.source.name;
    if spec.source.slot_drop_on_stop {
        match admin::drop_slot(&spec.source).await {
            Ok(true) => {
                tracing::info!(connector = name, slot = %spec.source.slot_name, "replication slot dropped (slot.drop.on.stop)")
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(connector = name, error = %e, "could not drop the replication slot")
            }
        }
    }
    if deleted && spec.source.publication_drop_on_delete {
        match admin::drop_publication(&spec.source).await {
            Ok(true) => {
                tracing::info!(connector = name, publication = %spec.source.publication_name, "publication dropped (publication.drop.on.delete)")
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(connector = name, error = %e, "could not drop the publication")
            }
        }
    }
}
