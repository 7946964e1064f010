//! The Redis cache as a sink target of the daemon.

use serde_json::{Map, Value};
use tributary_core::config::ConfigErrors;
use tributary_core::sink::BoxFuture;
use tributary_core::target::{Resources, SinkTarget, TargetConfig, TargetPlugin};
use tributary_core::{Sink, SinkError};

use crate::{PROPERTIES, RedisSink, RedisSinkConfig};

/// `io.tributary.sink.RedisSinkConnector`.
pub struct RedisTarget;

impl SinkTarget for RedisTarget {
    fn plugin(&self) -> &'static TargetPlugin {
        &TargetPlugin {
            classes: &[
                "io.tributary.sink.RedisSinkConnector",
                "RedisSinkConnector",
                "tributary.redis",
            ],
            alias: "redis",
            task_class: "io.tributary.sink.RedisSinkTask",
            properties: PROPERTIES,
        }
    }

    fn parse(
        &self,
        name: &str,
        config: &Map<String, Value>,
        known: &[&str],
    ) -> Result<Box<dyn TargetConfig>, ConfigErrors> {
        Ok(Box::new(RedisSinkConfig::parse(name, config, known)?))
    }
}

impl TargetConfig for RedisSinkConfig {
    fn check(&self) -> BoxFuture<'_, Result<(), ConfigErrors>> {
        Box::pin(crate::check(self))
    }

    fn open<'a>(&'a self, _: &'a Resources) -> BoxFuture<'a, Result<Box<dyn Sink>, SinkError>> {
        Box::pin(async move {
            let sink: Box<dyn Sink> = Box::new(RedisSink::connect(self.clone()).await?);
            Ok(sink)
        })
    }
}
