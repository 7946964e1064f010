//! The kind registry: the connector kinds this daemon runs, and the contract each
//! implements.
//!
//! `connector.class` picks a [`Kind`] here, and only here. A kind parses and validates its
//! config into a [`Spec`]; the spec checks its environment, reads, alters and resets its
//! offsets, and makes the [`Task`] a runner drives (which owns the kind's metrics). The
//! manager, the REST API and the plugin listing use these traits and never ask what kind
//! a connector is.
//!
//! The kinds: the Postgres source ([`postgres`]) and a sink job per target ([`sink`]). A
//! new sink target is a crate implementing `tributary_core::target::SinkTarget` and one line
//! in [`KINDS`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use tokio::sync::watch;
use tributary_core::SourceMetrics;
use tributary_core::config::{ConfigError, PropertyDef};
use tributary_core::sink::BoxFuture;
use tributary_kafka::PublishStats;
use tributary_kafka::check::CheckError;
use tributary_kafka::client::Overrides;

use crate::connector::{ConnectorError, Shared, Status};
use crate::manager::OpError;

mod postgres;
mod retention;
mod sink;

pub use retention::Retention;

/// Every kind, the default (a config without `connector.class`) first.
pub static KINDS: [&dyn Kind; 3] = [
    &postgres::Postgres,
    &sink::SinkKind(&tributary_search::SearchTarget),
    &sink::SinkKind(&tributary_cache::RedisTarget),
];

/// A connector plugin: what `connector.class` names.
pub trait Kind: Sync {
    /// Every name `connector.class` (and the plugin path) may use; the first is listed.
    fn classes(&self) -> &'static [&'static str];

    /// The short alias the plugin API accepts too, in any case (`postgres`, `search`).
    fn alias(&self) -> &'static str;

    /// The class Kafka Connect shows in task configs.
    fn task_class(&self) -> &'static str;

    /// `"source"` or `"sink"`, as `GET /connector-plugins` and status say.
    fn plugin_type(&self) -> &'static str;

    /// The property definitions, in the order `GET /connector-plugins/{class}/config`
    /// shows them.
    fn properties(&self) -> Vec<&'static PropertyDef>;

    /// Checks every property. `worker`: the daemon's `[connect]` converters, used where the
    /// config names none.
    fn parse(
        &self,
        name: &str,
        config: &Map<String, Value>,
        worker: &BTreeMap<String, String>,
    ) -> Result<Arc<dyn Spec>, Vec<ConfigError>>;
}

impl dyn Kind {
    /// The class the plugin is listed under.
    pub fn class(&self) -> &'static str {
        self.classes()[0]
    }
}

/// A connector's parsed configuration, and what can be done with it.
pub trait Spec: Send + Sync {
    /// Checks what the config reaches (the Kafka overrides, the database or the target),
    /// as create, update and `…/config/validate` do.
    fn check<'a>(&'a self, shared: &'a Shared) -> BoxFuture<'a, Result<(), Vec<ConfigError>>>;

    /// What the connector holds that no other connector may hold too.
    fn claims(&self) -> Vec<Claim> {
        Vec::new()
    }

    /// How the supervisor restarts the connector after a retriable error.
    fn restarts(&self) -> Restarts {
        Restarts::default()
    }

    /// The state a runner of this connector drives and reports.
    fn task(&self, shared: Arc<Shared>) -> Arc<dyn Task>;

    /// `GET …/offsets`, in Kafka Connect's shape for the kind.
    fn read_offsets<'a>(
        &'a self,
        shared: &'a Shared,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Value, OpError>>;

    /// Checks a `PATCH …/offsets` list before the connector's lock is taken.
    fn check_offsets(&self, list: &[Value]) -> Result<(), OpError>;

    /// `PATCH …/offsets`; the connector is STOPPED and its lock held.
    fn alter_offsets<'a>(
        &'a self,
        shared: &'a Shared,
        name: &'a str,
        list: &'a [Value],
    ) -> BoxFuture<'a, Result<(), OpError>>;

    /// `DELETE …/offsets`; the connector is STOPPED and its lock held.
    fn reset_offsets<'a>(
        &'a self,
        shared: &'a Shared,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), OpError>>;

    /// What the connector holds back in its source's log (a replication slot's WAL), when
    /// it holds anything and it can be measured.
    fn retention(&self) -> BoxFuture<'_, Option<Retention>> {
        Box::pin(async { None })
    }

    /// `POST …/signals`: hands a Debezium signal to the connector.
    fn signal<'a>(&'a self, _body: &'a Value) -> BoxFuture<'a, Result<Value, OpError>> {
        Box::pin(async {
            Err(OpError::BadRequest(
                "this connector takes no signals: signals are for source connectors".into(),
            ))
        })
    }

    /// After a deliberate stop (or, `deleted`, a delete): what the config says to drop.
    fn cleanup(&self, _deleted: bool) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// A connector's running state: one per runner, across its restarts.
pub trait Task: Send + Sync {
    /// One run, until stopped (`Ok`) or failed.
    fn run<'a>(
        &'a self,
        status: &'a Mutex<Status>,
        stop: watch::Receiver<bool>,
    ) -> BoxFuture<'a, Result<(), ConnectorError>>;

    /// Change events emitted so far: `errors.max.retries` counts restarts since the last.
    fn progress(&self) -> u64 {
        0
    }

    /// Topics written, sorted.
    fn topics(&self) -> Vec<String>;

    /// Forgets the topics written so far (`PUT …/topics/reset`).
    fn reset_topics(&self) {}

    /// Snapshot progress, while a snapshot runs or once one completed.
    fn snapshot(&self) -> Option<Value> {
        None
    }

    /// Why a running connector's records wait, if they do.
    fn waiting(&self) -> Option<String>;

    /// The counters `/metrics` shows.
    fn metrics(&self) -> Metrics;
}

/// What `/metrics` reads of a runner; each kind fills what it has.
#[derive(Default)]
pub struct Metrics {
    pub source: Option<Arc<SourceMetrics>>,
    pub publish: Option<Arc<PublishStats>>,
    pub job: Option<Arc<tributary_kafka::job::JobMetrics>>,
}

/// How the supervisor restarts a connector after a retriable error.
#[derive(Debug, Clone, Copy, Default)]
pub struct Restarts {
    /// Restarts allowed since the last change event (`None`: no limit).
    pub max_retries: Option<u32>,
    /// A constant wait instead of the exponential backoff.
    pub constant_wait: Option<std::time::Duration>,
}

/// Something a connector holds alone, such as a replication slot.
pub struct Claim {
    /// The property that names it.
    pub field: &'static str,
    /// Equal for two connectors that would share it.
    pub resource: String,
    /// The problem, with `{other}` where the other connector's name goes.
    pub message: String,
}

/// The kind a class or alias names.
pub fn named(name: &str) -> Option<&'static dyn Kind> {
    KINDS
        .into_iter()
        .find(|k| k.classes().contains(&name) || name.eq_ignore_ascii_case(k.alias()))
}

/// The kind a config's `connector.class` names; a config without one is a Postgres source
/// (as `capture` and Debezium-style files have always been read).
pub fn of_config(config: &Map<String, Value>) -> Option<&'static dyn Kind> {
    match config.get("connector.class").and_then(Value::as_str) {
        None => Some(KINDS[0]),
        Some(class) => KINDS.into_iter().find(|k| k.classes().contains(&class)),
    }
}

/// The kind a stored config is shown as, even one whose class this daemon no longer runs.
pub fn shown(config: &Map<String, Value>) -> &'static dyn Kind {
    of_config(config).unwrap_or(KINDS[0])
}

/// The listed class of every kind.
pub fn listed() -> Vec<&'static str> {
    KINDS.iter().map(|k| k.class()).collect()
}

/// Parses a connector config as the kind its `connector.class` names.
pub fn parse(
    name: &str,
    config: &Map<String, Value>,
    worker: &BTreeMap<String, String>,
) -> Result<Arc<dyn Spec>, Vec<ConfigError>> {
    match of_config(config) {
        Some(kind) => kind.parse(name, config, worker),
        None => {
            let class = config
                .get("connector.class")
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                .unwrap_or_default();
            Err(vec![ConfigError {
                field: "connector.class".into(),
                message: format!(
                    "{class:?} is not a connector this daemon runs; use one of {}",
                    listed().join(", ")
                ),
            }])
        }
    }
}

/// How long a create or update waits for Kafka to answer with a connector's overrides.
const CREATE_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A connector that overrides Kafka settings must reach the cluster with them: a wrong
/// password, an untrusted CA or the wrong protocol is a 400 naming the override (`prefix`
/// and the property). A cluster that does not answer at all is not held against the config
/// (it may be starting); the status says so once the connector runs.
async fn check_kafka(
    shared: &Shared,
    overrides: &Overrides,
    prefix: &str,
) -> Result<(), Vec<ConfigError>> {
    if overrides.is_empty() {
        return Ok(());
    }
    let kafka = shared.kafka.with(overrides);
    match tributary_kafka::check::reach(&kafka, CREATE_CHECK_TIMEOUT).await {
        Err(e @ CheckError::Misconfigured { property, .. }) => Err(vec![ConfigError {
            field: format!("{prefix}{property}"),
            message: e.to_string(),
        }]),
        Err(CheckError::Setup(message)) => Err(vec![ConfigError {
            field: prefix.trim_end_matches('.').to_string(),
            message,
        }]),
        Err(e @ CheckError::Unreachable { .. }) => {
            tracing::warn!(error = %e, "could not check the connector's Kafka settings; accepting it");
            Ok(())
        }
        Ok(()) => Ok(()),
    }
}

/// A Kafka-side setting problem as a connector config error.
fn setting_error(e: tributary_kafka::SettingError) -> ConfigError {
    ConfigError {
        field: e.field,
        message: e.message,
    }
}

/// A Kafka failure of an offsets request: the broker's, so a 500 that says to retry.
fn kafka_error(action: &str, e: impl std::fmt::Display) -> OpError {
    OpError::Internal(format!(
        "could not {action}: {e}; is Kafka reachable? retry when it is"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_aliases_and_the_default_pick_a_kind() {
        let class_of = |k: Option<&'static dyn Kind>| k.map(|k| k.class());
        assert_eq!(
            class_of(named("search")),
            Some("io.tributary.sink.SearchSinkConnector")
        );
        assert_eq!(
            class_of(named("REDIS")),
            Some("io.tributary.sink.RedisSinkConnector")
        );
        assert_eq!(
            class_of(named("PostgresConnector")),
            Some("io.debezium.connector.postgresql.PostgresConnector")
        );
        assert!(named("mysql").is_none());
        assert_eq!(class_of(of_config(&Map::new())), Some(KINDS[0].class()));
        let mut other = Map::new();
        other.insert("connector.class".into(), "com.example.Mine".into());
        assert!(of_config(&other).is_none());
        let err = parse("x", &other, &BTreeMap::new()).err().unwrap();
        assert_eq!(err[0].field, "connector.class");
        assert!(
            err[0]
                .message
                .contains("io.tributary.sink.RedisSinkConnector")
        );
    }

    #[test]
    fn kinds_list_their_properties_and_types() {
        for kind in KINDS {
            assert!(!kind.properties().is_empty(), "{}", kind.class());
            assert!(["source", "sink"].contains(&kind.plugin_type()));
            assert!(named(kind.alias()).is_some_and(|k| k.class() == kind.class()));
        }
    }

    /// Outside this registry nothing asks whether a connector is a source or a sink: the
    /// manager, the API and the plugin listing go through the traits.
    #[test]
    fn no_kind_match_outside_the_registry() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let kinds = root.join("kinds");
        let patterns = [
            "Spec::Source",
            "Spec::Sink",
            "Plugin::",
            "SinkTarget::",
            "plugin_type() ==",
            "== \"sink\"",
            "== \"source\"",
            ".source()?",
            ".sink()",
        ];
        let mut found = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.starts_with(&kinds) {
                    continue;
                }
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for (i, line) in text.lines().enumerate() {
                        if patterns.iter().any(|p| line.contains(p)) {
                            found.push(format!("{}:{}: {line}", path.display(), i + 1));
                        }
                    }
                }
            }
        }
        assert!(
            found.is_empty(),
            "kind matches outside src/kinds:\n{}",
            found.join("\n")
        );
    }
}
