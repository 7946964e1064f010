//! Settings of the publishing side: the daemon's Kafka connection, and the properties of a
//! connector that shape its topics and transactions.

use std::collections::BTreeMap;
use std::time::Duration;

use tributary_avro::names::NameAdjustment;
use tributary_connect::Pipeline;
use tributary_connect::config::Findings;
use tributary_core::config::ConfigError;

/// The daemon's `[kafka]` section (or a connector's view of it, overrides applied).
/// `Debug` masks secret properties (`sasl.password`, `ssl.key.password`, …).
#[derive(Clone, PartialEq)]
pub struct KafkaConfig {
    pub bootstrap_servers: String,
    /// librdkafka properties passed through as they are (security, timeouts, …).
    pub properties: BTreeMap<String, String>,
    /// Where connectors' source offsets live (Kafka Connect's `offset.storage.topic`).
    pub offsets_topic: String,
    pub offsets_topic_partitions: i32,
    /// `-1` leaves it to the broker's `default.replication.factor`.
    pub offsets_topic_replication_factor: i16,
}

/// Client properties as `Debug` shows them: secret values masked.
pub(crate) fn shown(properties: &BTreeMap<String, String>) -> BTreeMap<&str, &str> {
    properties
        .iter()
        .map(|(k, v)| {
            let v = if tributary_core::is_secret_key(k) {
                tributary_core::Secret::MASK
            } else {
                v.as_str()
            };
            (k.as_str(), v)
        })
        .collect()
}

impl std::fmt::Debug for KafkaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaConfig")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("properties", &shown(&self.properties))
            .field("offsets_topic", &self.offsets_topic)
            .field("offsets_topic_partitions", &self.offsets_topic_partitions)
            .field(
                "offsets_topic_replication_factor",
                &self.offsets_topic_replication_factor,
            )
            .finish()
    }
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            bootstrap_servers: "127.0.0.1:9092".into(),
            properties: BTreeMap::new(),
            offsets_topic: "tributary-offsets".into(),
            offsets_topic_partitions: 25,
            offsets_topic_replication_factor: -1,
        }
    }
}

/// Properties Tributary sets itself; a pass-through property may not override them.
pub const RESERVED_PROPERTIES: &[&str] = &[
    "transactional.id",
    "enable.idempotence",
    "isolation.level",
    "group.id",
    "enable.auto.commit",
];

impl KafkaConfig {
    /// Problems with the section, each naming its key.
    pub fn check(&self) -> Vec<SettingError> {
        let mut errors = Vec::new();
        if self.bootstrap_servers.trim().is_empty() {
            errors.push(SettingError::new(
                "kafka.bootstrap_servers",
                "is required: host:port of one or more brokers, comma separated",
            ));
        }
        for key in self.properties.keys() {
            if RESERVED_PROPERTIES.contains(&key.as_str()) {
                errors.push(SettingError::new(
                    &format!("kafka.{key}"),
                    "is set by Tributary for exactly-once delivery and cannot be overridden; remove it",
                ));
            }
        }
        if self.offsets_topic.trim().is_empty() {
            errors.push(SettingError::new(
                "kafka.offsets_topic",
                "must not be empty",
            ));
        }
        if self.offsets_topic_partitions < 1 {
            errors.push(SettingError::new(
                "kafka.offsets_topic_partitions",
                "must be at least 1",
            ));
        }
        errors
    }
}

/// A problem with one setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError {
    pub field: String,
    pub message: String,
}

impl SettingError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        SettingError {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

/// A whole-number property: `default` when unset; below `min` or not a number is an
/// error naming `key` (and reads as `default`, so every problem is still collected).
pub(crate) fn whole_number(
    value: Option<&str>,
    key: &str,
    default: u64,
    min: u64,
    errors: &mut Vec<SettingError>,
) -> u64 {
    match value.map(|v| (v, v.parse::<u64>())) {
        None => default,
        Some((_, Ok(n))) if n >= min => n,
        Some((v, _)) => {
            errors.push(SettingError::new(
                key,
                format!("{v:?} is not a whole number of at least {min}"),
            ));
            default
        }
    }
}

impl std::fmt::Display for SettingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.field, self.message)
    }
}

/// How new topics are created (Kafka Connect's `topic.creation.default.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSettings {
    pub partitions: i32,
    /// `-1`: the broker's default.
    pub replication_factor: i16,
    pub cleanup_policy: String,
}

/// How the END record of a transaction counts its logical decoding messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageCollection {
    /// As Debezium 3.6: each message is a data collection of its own, named by the
    /// `toString()` of a Java object (`…LogicalDecodingMessageId@<hash>`), so no two
    /// transactions name it alike.
    Debezium,
    /// One data collection, `LOGICAL_DECODING_MESSAGE`, counting every message of the
    /// transaction (and numbering them in its `data_collection_order`).
    Aggregated,
}

/// Connector properties of the publishing side.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishSettings {
    pub connector: String,
    pub topic_prefix: String,
    pub topics: TopicSettings,
    /// `provide.transaction.metadata`: BEGIN/END records and the `transaction` block.
    pub transaction_metadata: bool,
    /// Where BEGIN/END records go: `<prefix><topic.delimiter><topic.transaction>` (default
    /// `<prefix>.transaction`).
    pub transaction_topic: String,
    /// `transaction.message.data.collection` (Tributary extension): how END records count
    /// logical decoding messages.
    pub message_collection: MessageCollection,
    pub schema_names: NameAdjustment,
    pub field_names: NameAdjustment,
    /// A Kafka transaction closes at the first Postgres commit after any bound is reached.
    pub max_events: usize,
    pub max_bytes: usize,
    pub max_wait: Duration,
    /// `poll.interval.ms` when set: as Debezium's poll waits to fill a batch, a Kafka
    /// transaction waits for `max.batch.size` events (`batch_events`) until `max_wait` after
    /// its first event, instead of committing as soon as the queue runs dry.
    pub linger: bool,
    pub batch_events: usize,
    /// `heartbeat.interval.ms`; zero is off.
    pub heartbeat_interval: Duration,
    /// Where heartbeats go: `topic.heartbeat.name`, or
    /// `<topic.heartbeat.prefix><topic.delimiter><prefix>` (default
    /// `__debezium-heartbeat.<prefix>`).
    pub heartbeat_topic: String,
    /// `extended.headers.enabled` (default true): Debezium's `__debezium.context.*` headers
    /// on every change event.
    pub extended_headers: bool,
    /// Kafka Connect's `key.converter` / `value.converter` and their settings.
    pub pipeline: Pipeline,
    /// Pipeline properties accepted without effect, each with why (logged at start).
    pub warnings: Vec<SettingError>,
}

/// Connector properties read here. The Postgres connector must accept each of them as
/// known; the daemon's tests check that it does.
pub const PUBLISH_PROPERTIES: &[&str] = &[
    "provide.transaction.metadata",
    "topic.transaction",
    "topic.delimiter",
    "topic.heartbeat.name",
    "transaction.message.data.collection",
    "schema.name.adjustment.mode",
    "field.name.adjustment.mode",
    "publish.batch.max.events",
    "publish.batch.max.bytes",
    "publish.batch.max.ms",
    "poll.interval.ms",
    "max.batch.size",
    "heartbeat.interval.ms",
    "topic.heartbeat.prefix",
    "heartbeat.topics.prefix",
    "heartbeat.action.query",
    "extended.headers.enabled",
    "topic.creation.default.partitions",
    "topic.creation.default.replication.factor",
    "topic.creation.default.cleanup.policy",
];

impl PublishSettings {
    /// Reads the publishing properties of a connector (as strings, like Kafka Connect).
    pub fn parse(
        connector: &str,
        topic_prefix: &str,
        props: &BTreeMap<String, String>,
        worker: &BTreeMap<String, String>,
    ) -> Result<Self, Vec<SettingError>> {
        let mut errors = Vec::new();
        let get = |k: &str| {
            debug_assert!(
                PUBLISH_PROPERTIES.contains(&k),
                "{k} is not in PUBLISH_PROPERTIES"
            );
            props.get(k).map(|s| s.trim()).filter(|s| !s.is_empty())
        };
        let mut number =
            |k: &str, default: u64, min: u64| whole_number(get(k), k, default, min, &mut errors);
        let partitions = number("topic.creation.default.partitions", 1, 1);
        let max_events = number("publish.batch.max.events", 50_000, 1);
        let max_bytes = number("publish.batch.max.bytes", 32 << 20, 1);
        let max_ms = number("publish.batch.max.ms", 50, 0);
        let batch_events = number("max.batch.size", 2048, 1);
        let poll_ms = get("poll.interval.ms").map(|_| number("poll.interval.ms", 500, 1));
        let heartbeat_ms = number("heartbeat.interval.ms", 0, 0);
        if poll_ms.is_some() && get("publish.batch.max.ms").is_some() {
            errors.push(SettingError::new(
                "poll.interval.ms",
                "and publish.batch.max.ms both bound how long a Kafka transaction waits for more events; set only one",
            ));
        }
        if heartbeat_ms == 0 && get("heartbeat.action.query").is_some_and(|q| !q.trim().is_empty())
        {
            errors.push(SettingError::new(
                "heartbeat.action.query",
                "runs at each heartbeat, but heartbeat.interval.ms is 0 (heartbeats off); set heartbeat.interval.ms, e.g. 10000",
            ));
        }
        let replication_factor = match get("topic.creation.default.replication.factor") {
            None => -1,
            Some(v) => match v.parse::<i16>() {
                Ok(n) if n == -1 || n >= 1 => n,
                _ => {
                    errors.push(SettingError::new(
                        "topic.creation.default.replication.factor",
                        format!("{v:?} is not -1 (the broker's default) or a positive number"),
                    ));
                    -1
                }
            },
        };
        let cleanup_policy = get("topic.creation.default.cleanup.policy")
            .unwrap_or("delete")
            .to_string();
        if !["delete", "compact", "compact,delete", "delete,compact"]
            .contains(&cleanup_policy.as_str())
        {
            errors.push(SettingError::new(
                "topic.creation.default.cleanup.policy",
                format!("{cleanup_policy:?} is not valid; use delete, compact or compact,delete"),
            ));
        }
        let mut boolean = |k: &str, default: bool| match get(k) {
            None => default,
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => {
                    errors.push(SettingError::new(k, format!("{v:?} is not true or false")));
                    default
                }
            },
        };
        let transaction_metadata = boolean("provide.transaction.metadata", false);
        let extended_headers = boolean("extended.headers.enabled", true);
        let message_collection = match get("transaction.message.data.collection") {
            None => MessageCollection::Debezium,
            Some(v) if v.eq_ignore_ascii_case("debezium") => MessageCollection::Debezium,
            Some(v) if v.eq_ignore_ascii_case("aggregated") => MessageCollection::Aggregated,
            Some(v) => {
                errors.push(SettingError::new(
                    "transaction.message.data.collection",
                    format!("{v:?} is not debezium or aggregated"),
                ));
                MessageCollection::Debezium
            }
        };
        let delimiter = get("topic.delimiter").unwrap_or(".");
        let mut adjustment = |k: &str| match get(k) {
            None => NameAdjustment::Avro,
            Some(v) => {
                v.parse()
                    .unwrap_or_else(|e: tributary_avro::names::ParseNameAdjustmentError| {
                        errors.push(SettingError::new(k, e.to_string()));
                        NameAdjustment::Avro
                    })
            }
        };
        let schema_names = adjustment("schema.name.adjustment.mode");
        let field_names = adjustment("field.name.adjustment.mode");
        let mut found = Findings::default();
        let pipeline = Pipeline::parse(props, worker, &mut found);
        let as_setting = |e: ConfigError| SettingError {
            field: e.field,
            message: e.message,
        };
        errors.extend(found.errors.into_iter().map(as_setting));
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(PublishSettings {
            connector: connector.to_string(),
            topic_prefix: topic_prefix.to_string(),
            topics: TopicSettings {
                partitions: partitions.min(i32::MAX as u64) as i32,
                replication_factor,
                cleanup_policy,
            },
            transaction_metadata,
            transaction_topic: [
                topic_prefix,
                get("topic.transaction").unwrap_or("transaction"),
            ]
            .join(delimiter),
            message_collection,
            schema_names,
            field_names,
            max_events: max_events as usize,
            max_bytes: max_bytes as usize,
            max_wait: Duration::from_millis(poll_ms.unwrap_or(max_ms)),
            linger: poll_ms.is_some(),
            batch_events: batch_events as usize,
            heartbeat_interval: Duration::from_millis(heartbeat_ms),
            heartbeat_topic: get("topic.heartbeat.name")
                .map(str::to_string)
                .unwrap_or_else(|| {
                    // Debezium's field list names it `heartbeat.topics.prefix`, its
                    // documentation `topic.heartbeat.prefix`: either is read, the latter first.
                    let prefix = get("topic.heartbeat.prefix")
                        .or_else(|| get("heartbeat.topics.prefix"))
                        .unwrap_or("__debezium-heartbeat");
                    [prefix, topic_prefix].join(delimiter)
                }),
            extended_headers,
            pipeline,
            warnings: found.warnings.into_iter().map(as_setting).collect(),
        })
    }

    /// The stable transactional.id of this connector.
    pub fn transactional_id(&self) -> String {
        format!("tributary-{}", self.connector)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<PublishSettings, Vec<SettingError>> {
        let props = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        PublishSettings::parse("inventory", "cdc", &props, &BTreeMap::new())
    }

    #[test]
    fn defaults_are_debeziums_and_ours() {
        let s = parse(&[]).unwrap();
        assert_eq!(s.transactional_id(), "tributary-inventory");
        assert!(!s.transaction_metadata);
        assert_eq!(s.transaction_topic, "cdc.transaction");
        assert_eq!(s.heartbeat_interval, Duration::ZERO);
        assert_eq!(s.heartbeat_topic, "__debezium-heartbeat.cdc");
        let s = parse(&[("topic.delimiter", "_"), ("topic.heartbeat.prefix", "hb")]).unwrap();
        assert_eq!(s.transaction_topic, "cdc_transaction");
        assert_eq!(s.heartbeat_topic, "hb_cdc");
        let s = parse(&[("topic.heartbeat.name", "all-heartbeats")]).unwrap();
        assert_eq!(s.heartbeat_topic, "all-heartbeats");
        assert_eq!(s.max_events, 50_000);
        assert_eq!(s.max_wait, Duration::from_millis(50));
        assert!(!s.linger, "a transaction commits when the queue runs dry");
        assert_eq!(s.batch_events, 2048);
        let s = parse(&[("poll.interval.ms", "700"), ("max.batch.size", "100")]).unwrap();
        assert!(s.linger);
        assert_eq!(
            (s.max_wait, s.batch_events),
            (Duration::from_millis(700), 100)
        );
        let errors =
            parse(&[("poll.interval.ms", "700"), ("publish.batch.max.ms", "10")]).unwrap_err();
        assert_eq!(errors[0].field, "poll.interval.ms");
        assert!(errors[0].message.contains("publish.batch.max.ms"));
        assert_eq!(
            s.topics,
            TopicSettings {
                partitions: 1,
                replication_factor: -1,
                cleanup_policy: "delete".into()
            }
        );
    }

    #[test]
    fn every_bad_value_is_reported_with_its_field() {
        let errors = parse(&[
            ("publish.batch.max.events", "0"),
            ("provide.transaction.metadata", "yes"),
            ("topic.creation.default.cleanup.policy", "forever"),
            ("topic.creation.default.replication.factor", "0"),
            ("schema.name.adjustment.mode", "ascii"),
        ])
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "publish.batch.max.events",
                "topic.creation.default.replication.factor",
                "topic.creation.default.cleanup.policy",
                "provide.transaction.metadata",
                "schema.name.adjustment.mode",
            ]
        );
    }

    #[test]
    fn an_action_query_needs_heartbeats_on() {
        let errors = parse(&[("heartbeat.action.query", "SELECT 1")]).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "heartbeat.action.query");
        assert!(errors[0].message.contains("heartbeat.interval.ms"));
        let s = parse(&[
            ("heartbeat.action.query", "SELECT 1"),
            ("heartbeat.interval.ms", "1000"),
        ])
        .unwrap();
        assert_eq!(s.heartbeat_interval, Duration::from_secs(1));
    }
}
