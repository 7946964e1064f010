//! The search indexes as a sink target of the daemon. The embedded indexes live in the
//! daemon's [`IndexRegistry`], which it shares through [`Resources`].

use std::sync::Arc;

use serde_json::{Map, Value};
use tributary_core::config::ConfigErrors;
use tributary_core::sink::BoxFuture;
use tributary_core::target::{Resources, SinkTarget, TargetConfig, TargetPlugin};
use tributary_core::{PartitionOffset, Sink, SinkError};

use crate::{IndexRegistry, PROPERTIES, SearchSinkConfig};

/// `io.tributary.sink.SearchSinkConnector`.
pub struct SearchTarget;

impl SinkTarget for SearchTarget {
    fn plugin(&self) -> &'static TargetPlugin {
        &TargetPlugin {
            classes: &[
                "io.tributary.sink.SearchSinkConnector",
                "SearchSinkConnector",
                "tributary.search",
            ],
            alias: "search",
            task_class: "io.tributary.sink.SearchSinkTask",
            properties: PROPERTIES,
        }
    }

    fn parse(
        &self,
        name: &str,
        config: &Map<String, Value>,
        known: &[&str],
    ) -> Result<Box<dyn TargetConfig>, ConfigErrors> {
        Ok(Box::new(SearchSinkConfig::parse(name, config, known)?))
    }
}

/// The daemon's registry of `<data_dir>/indexes`.
fn indexes(resources: &Resources) -> Result<Arc<IndexRegistry>, SinkError> {
    resources.get::<IndexRegistry>().ok_or_else(|| {
        SinkError::Definite("the daemon opened no search index registry (a bug)".into())
    })
}

impl TargetConfig for SearchSinkConfig {
    fn check(&self) -> BoxFuture<'_, Result<(), ConfigErrors>> {
        Box::pin(crate::check(self))
    }

    fn open<'a>(
        &'a self,
        resources: &'a Resources,
    ) -> BoxFuture<'a, Result<Box<dyn Sink>, SinkError>> {
        Box::pin(async move { crate::open(self, &indexes(resources)?).await })
    }

    fn offsets_changed<'a>(
        &'a self,
        resources: &'a Resources,
        job: &'a str,
        offsets: &'a [PartitionOffset],
    ) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            let (config, indexes, job) = (self.clone(), indexes(resources)?, job.to_string());
            let offsets = offsets.to_vec();
            // A commit to disk: off the async workers.
            tokio::task::spawn_blocking(move || {
                crate::set_stored_offsets(&config, &indexes, &job, &offsets)
            })
            .await
            .map_err(|e| SinkError::Definite(e.to_string()))??;
            Ok(())
        })
    }
}
