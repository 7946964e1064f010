//! What a sink target gives the daemon: the contract one target crate implements.
//!
//! A sink job is a consumer group on `cdc.*` topics; what differs from target to target
//! (a search index, a cache) is only where the rows go. A target crate implements
//! [`SinkTarget`] (its classes, its properties, its config parser) and [`TargetConfig`]
//! (checking that the target answers, opening the [`Sink`], and keeping any offsets it
//! stores with its data in step with the job's). The daemon registers the target with one
//! line in its kind registry and runs the job, its offsets and its metrics the same way
//! for every target.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::config::{ConfigErrors, PropertyDef};
use crate::sink::{BoxFuture, PartitionOffset, Sink, SinkError};

/// How a sink target is named and described to the plugin API.
pub struct TargetPlugin {
    /// Every name `connector.class` may use; the first is the one `GET /connector-plugins`
    /// lists.
    pub classes: &'static [&'static str],
    /// The short alias the plugin API accepts too (any case): `search`, `redis`.
    pub alias: &'static str,
    /// The class Kafka Connect shows in task configs.
    pub task_class: &'static str,
    /// The target's own properties (the job's, shared by every target, come first).
    pub properties: &'static [PropertyDef],
}

/// A kind of sink target: what `connector.class` names and how its config is read.
pub trait SinkTarget: Sync {
    /// Its names and properties.
    fn plugin(&self) -> &'static TargetPlugin;

    /// Checks every property of the target; `known` are the job's, checked elsewhere.
    fn parse(
        &self,
        name: &str,
        config: &Map<String, Value>,
        known: &[&str],
    ) -> Result<Box<dyn TargetConfig>, ConfigErrors>;
}

/// A target's parsed configuration.
pub trait TargetConfig: Send + Sync {
    /// Checks that the target answers with these settings (for create, update and
    /// `…/config/validate`); each problem names the property to fix.
    fn check(&self) -> BoxFuture<'_, Result<(), ConfigErrors>>;

    /// Opens the sink a job writes through.
    fn open<'a>(
        &'a self,
        resources: &'a Resources,
    ) -> BoxFuture<'a, Result<Box<dyn Sink>, SinkError>>;

    /// The job's offsets were set (`PATCH …/offsets`) or, empty, forgotten (`DELETE`)
    /// while it was stopped: a target that keeps offsets with its data keeps them in step.
    fn offsets_changed<'a>(
        &'a self,
        _resources: &'a Resources,
        _job: &'a str,
        _offsets: &'a [PartitionOffset],
    ) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async { Ok(()) })
    }
}

/// What the daemon opened once and shares with every sink (the embedded search indexes),
/// found by type.
#[derive(Default)]
pub struct Resources(HashMap<TypeId, Arc<dyn Any + Send + Sync>>);

impl Resources {
    pub fn insert<T: Any + Send + Sync>(&mut self, value: Arc<T>) {
        self.0.insert(TypeId::of::<T>(), value);
    }

    pub fn get<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.0.get(&TypeId::of::<T>())?.clone().downcast().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_are_found_by_type() {
        let mut resources = Resources::default();
        assert!(resources.get::<String>().is_none());
        resources.insert(Arc::new(String::from("indexes")));
        resources.insert(Arc::new(7u32));
        assert_eq!(
            resources.get::<String>().as_deref(),
            Some(&"indexes".to_string())
        );
        assert_eq!(resources.get::<u32>().as_deref(), Some(&7));
        assert!(resources.get::<u64>().is_none());
    }
}
