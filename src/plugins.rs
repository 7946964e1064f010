//! The connector plugins this daemon runs: their classes, aliases and properties.
//!
//! `connector.class` decides what a connector is. The Postgres source answers to Debezium's
//! class, so a Debezium config works as it is; the sink jobs have Tributary's own classes.

use tributary_core::config::PropertyDef;

/// One connector plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plugin {
    Postgres,
    Search,
    Redis,
}

impl Plugin {
    pub const ALL: [Plugin; 3] = [Plugin::Postgres, Plugin::Search, Plugin::Redis];

    /// The class the plugin is listed under (`GET /connector-plugins`).
    pub fn class(self) -> &'static str {
        self.classes()[0]
    }

    /// Every name `connector.class` (and the plugin path) may use.
    pub fn classes(self) -> &'static [&'static str] {
        match self {
            Plugin::Postgres => tributary_postgres::config::CONNECTOR_CLASSES,
            Plugin::Search => &[
                "io.tributary.sink.SearchSinkConnector",
                "SearchSinkConnector",
                "tributary.search",
            ],
            Plugin::Redis => &[
                "io.tributary.sink.RedisSinkConnector",
                "RedisSinkConnector",
                "tributary.redis",
            ],
        }
    }

    /// The class Kafka Connect shows in task configs.
    pub fn task_class(self) -> &'static str {
        match self {
            Plugin::Postgres => "io.debezium.connector.postgresql.PostgresConnectorTask",
            Plugin::Search => "io.tributary.sink.SearchSinkTask",
            Plugin::Redis => "io.tributary.sink.RedisSinkTask",
        }
    }

    /// `"source"` or `"sink"`.
    pub fn kind(self) -> &'static str {
        match self {
            Plugin::Postgres => "source",
            Plugin::Search | Plugin::Redis => "sink",
        }
    }

    /// The plugin a class or alias names (`postgres`, `search`, `redis` too, any case).
    pub fn named(name: &str) -> Option<Plugin> {
        Plugin::ALL.into_iter().find(|p| {
            p.classes().contains(&name)
                || name.eq_ignore_ascii_case(match p {
                    Plugin::Postgres => "postgres",
                    Plugin::Search => "search",
                    Plugin::Redis => "redis",
                })
        })
    }

    /// The plugin a config's `connector.class` names; a config without one is a Postgres
    /// source (as `capture` and Debezium-style files have always been read).
    pub fn of_config(config: &serde_json::Map<String, serde_json::Value>) -> Option<Plugin> {
        match config.get("connector.class").and_then(|v| v.as_str()) {
            None => Some(Plugin::Postgres),
            Some(class) => Plugin::ALL
                .into_iter()
                .find(|p| p.classes().contains(&class)),
        }
    }

    /// The plugin's property definitions, in the order the API shows them.
    pub fn properties(self) -> Vec<&'static PropertyDef> {
        match self {
            Plugin::Postgres => tributary_postgres::config::PROPERTIES.iter().collect(),
            Plugin::Search => tributary_kafka::job::JOB_PROPERTIES
                .iter()
                .chain(tributary_search::PROPERTIES)
                .collect(),
            Plugin::Redis => tributary_kafka::job::JOB_PROPERTIES
                .iter()
                .chain(tributary_cache::PROPERTIES)
                .collect(),
        }
    }

    /// What to tell a user whose `connector.class` names no plugin.
    pub fn unknown_class(class: &str) -> String {
        let all: Vec<&str> = Plugin::ALL.iter().map(|p| p.class()).collect();
        format!(
            "{class:?} is not a connector this daemon runs; use one of {}",
            all.join(", ")
        )
    }
}
