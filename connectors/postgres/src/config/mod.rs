//! Connector configuration in Debezium's property names.
//!
//! A connector arrives as Kafka Connect's `{"name": …, "config": {…}}`. Every property is
//! a string (numbers and booleans are accepted and read as their text, as Kafka Connect
//! does). [`PostgresConnectorConfig::parse`] checks every property and returns all problems
//! at once, each naming the property, so the REST API can answer with per-field errors.
//! Kafka Connect's own properties (`connector.class`, `tasks.max`, converters,
//! transforms, …) are accepted and left to the host. The connector's own properties are
//! defined once, in [`PROPERTIES`] (type, default, documentation); any other property is an
//! error naming it.

pub mod debezium;
mod filters;
mod guardrail;
mod properties;
mod queue;
mod reselect;
mod sections;
mod signals;
mod suggest;
mod topics;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde_json::Value as Json;
use tributary_core::Op;

use crate::conn::ConnectParams;
use crate::mappers::ColumnMappers;
use crate::replica_identity::AutosetIdentities;
use crate::types::{ConvertingFailure, ProcessingFailure, TypeModes};

pub use filters::{KeyColumns, PatternList, Selection, TableFilters, TableId, quote_ident};
pub use guardrail::Guardrail;
pub use properties::{Importance, PROPERTIES, PropertyDef, PropertyKind, property};
pub use queue::QueueSettings;
pub use reselect::{RESELECTOR_CLASS, Reselector};
use sections::{
    check_keys, parse_connect, parse_modes, parse_names, parse_overrides, parse_restarts,
    parse_selections, parse_skipped, parse_snapshot_include, parse_type_modes,
};
pub use signals::{KafkaSignals, SignalSettings};
pub use topics::TopicNaming;
pub use tributary_core::config::{ConfigError, ConfigErrors};
use tributary_core::config::{PropertyReader, property_strings};

/// Connector classes that name this connector.
pub const CONNECTOR_CLASSES: &[&str] = &[
    "io.debezium.connector.postgresql.PostgresConnector",
    "tributary.postgres",
    "PostgresConnector",
];

/// `snapshot.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotMode {
    /// Snapshot when there is no completed snapshot in the offset, then stream.
    Initial,
    /// Snapshot on every start, then stream.
    Always,
    /// Never snapshot; stream only (`never` is an alias).
    NoData,
    /// Snapshot, then stop without streaming.
    InitialOnly,
    /// Snapshot when there is no offset or the offset can no longer be resumed.
    WhenNeeded,
}

/// `publication.autocreate.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutocreateMode {
    AllTables,
    Filtered,
    Disabled,
}

/// A parsed, validated Postgres connector config.
#[derive(Debug, Clone)]
pub struct PostgresConnectorConfig {
    pub name: String,
    pub connect: ConnectParams,
    pub slot_name: String,
    pub publication_name: String,
    pub publication_autocreate: AutocreateMode,
    pub filters: TableFilters,
    pub key_columns: KeyColumns,
    /// Debezium's column mappers: truncation, masking, hashing, source-type propagation.
    pub column_mappers: ColumnMappers,
    /// `snapshot.include.collection.list`: the tables the snapshot reads (`None`: all).
    pub snapshot_include: Option<PatternList>,
    /// `snapshot.select.statement.overrides`: a table's snapshot SELECT, by `schema.table`.
    pub snapshot_overrides: BTreeMap<String, String>,
    /// `snapshot.delay.ms`: a wait before a snapshot starts.
    pub snapshot_delay: Duration,
    /// `streaming.delay.ms`: a wait between a completed snapshot and the stream.
    pub streaming_delay: Duration,
    /// `replica.identity.autoset.values`: identities set on captured tables at start.
    pub replica_identities: AutosetIdentities,
    pub skipped_operations: HashSet<Op>,
    pub tombstones_on_delete: bool,
    pub slot_drop_on_stop: bool,
    /// `slot.lag.warn.bytes`: retained WAL past which status and log warn (0: never).
    pub slot_lag_warn_bytes: u64,
    /// `slot.max.retries` / `slot.retry.delay.ms`: how often, and how far apart, a slot
    /// another process holds is looked at again before the connector fails.
    pub slot_max_retries: u32,
    pub slot_retry_delay: Duration,
    /// `errors.max.retries`: restarts after retriable errors before the connector fails
    /// (`None`: no limit, Debezium's -1).
    pub errors_max_retries: Option<u32>,
    /// `retriable.restart.connector.wait.ms` when set: the constant wait before a restart
    /// after a retriable error, as Debezium waits; unset, restarts back off from 1 s to 30 s.
    pub retriable_restart_wait: Option<Duration>,
    /// `guardrail.collections.max` / `.limit.action`: how many tables may be captured.
    pub guardrail: Guardrail,
    /// Signals and incremental snapshots (`signal.*`, `incremental.snapshot.chunk.size`).
    pub signals: SignalSettings,
    /// `message.prefix.include.list` / `.exclude.list`: the logical decoding messages
    /// emitted, by prefix.
    pub message_prefixes: Selection,
    /// `post.processors`: the column reselectors, applied in order to created and updated
    /// rows.
    pub reselectors: Vec<Reselector>,
    /// `publish.via.partition.root`: partitions' changes are published as their root's.
    pub publish_via_partition_root: bool,
    /// Drop the publication when the connector is deleted (Tributary extension
    /// `publication.drop.on.delete`, default false).
    pub publication_drop_on_delete: bool,
    pub snapshot_mode: SnapshotMode,
    pub snapshot_max_threads: usize,
    /// Heap pages per snapshot chunk (Tributary extension `snapshot.chunk.pages`).
    pub snapshot_chunk_pages: u32,
    pub type_modes: TypeModes,
    /// `event.converting.failure.handling.mode`: a column value that does not convert.
    pub converting_failure: ConvertingFailure,
    /// `event.processing.failure.handling.mode`: an event that cannot be made.
    pub processing_failure: ProcessingFailure,
    pub unavailable_value_placeholder: String,
    pub topic_prefix: String,
    /// `topic.naming.strategy` and its properties.
    pub topics: TopicNaming,
    pub status_update_interval: Duration,
    /// Use protocol v2 with `streaming 'on'` on Postgres 14+ (Tributary extension
    /// `replication.streaming`, default true).
    pub streaming: bool,
    /// Bounds of the queue between the source and the sink, and of the snapshot's reads.
    pub queue: QueueSettings,
    /// SQL run on the captured database at every heartbeat (`heartbeat.action.query`).
    pub heartbeat_action_query: Option<String>,
    /// The properties as given (for `GET …/config`; secrets stay wrapped).
    pub raw: BTreeMap<String, String>,
    /// Debezium properties accepted without effect, each with why (logged at start).
    pub warnings: Vec<ConfigError>,
}

impl PostgresConnectorConfig {
    /// Parses Kafka Connect's `{"name": …, "config": {…}}` shape.
    pub fn from_connector_json(doc: &Json) -> Result<Self, ConfigErrors> {
        let err = |field: &str, message: &str| {
            ConfigErrors(vec![ConfigError {
                field: field.into(),
                message: message.into(),
            }])
        };
        let name = doc
            .get("name")
            .and_then(Json::as_str)
            .ok_or_else(|| err("name", "is required: give the connector a name"))?;
        let config = doc
            .get("config")
            .and_then(Json::as_object)
            .ok_or_else(|| err("config", "is required: an object of connector properties"))?;
        Self::parse(name, config)
    }

    /// Parses and validates a connector's properties.
    pub fn parse(name: &str, config: &serde_json::Map<String, Json>) -> Result<Self, ConfigErrors> {
        let (raw, errors) = property_strings(config);
        let mut r = PropertyReader::new(&raw, errors);
        if name.trim().is_empty() {
            r.error("name", "must not be empty");
        }
        let warnings = check_keys(&raw, &mut r);

        let connect = parse_connect(name, &mut r);
        let (topic_prefix, slot_name) = parse_names(&mut r);
        let publication_name = r.string("publication.name", "dbz_publication");
        let (publication_autocreate, snapshot_mode) = parse_modes(&mut r);
        let snapshot_max_threads =
            r.parse::<usize>("snapshot.max.threads", 1, "a positive integer");
        if snapshot_max_threads == 0 {
            r.error("snapshot.max.threads", "must be at least 1");
        }
        let snapshot_chunk_pages =
            r.parse::<u32>("snapshot.chunk.pages", 4096, "a positive integer");
        if snapshot_chunk_pages == 0 {
            r.error("snapshot.chunk.pages", "must be at least 1");
        }
        let skipped_operations = parse_skipped(&mut r);
        let tombstones_on_delete = r.parse::<bool>("tombstones.on.delete", true, "true or false");
        let slot_drop_on_stop = r.parse::<bool>("slot.drop.on.stop", false, "true or false");
        let slot_lag_warn_bytes = r.parse::<u64>(
            "slot.lag.warn.bytes",
            1 << 30,
            "a number of bytes (0 never warns)",
        );
        let slot_max_retries = r.parse::<u32>("slot.max.retries", 6, "a non-negative integer");
        let slot_retry_ms = r.parse::<u64>("slot.retry.delay.ms", 10_000, "milliseconds");
        let (errors_max_retries, retriable_restart_wait) = parse_restarts(&mut r);
        let publish_via_partition_root =
            r.parse::<bool>("publish.via.partition.root", false, "true or false");
        let publication_drop_on_delete =
            r.parse::<bool>("publication.drop.on.delete", false, "true or false");
        let streaming = r.parse::<bool>("replication.streaming", true, "true or false");
        let status_ms = r.parse::<u64>("status.update.interval.ms", 10_000, "milliseconds");
        if status_ms == 0 {
            r.error("status.update.interval.ms", "must be at least 1");
        }
        let queue = QueueSettings::parse(&mut r);
        let guardrail = Guardrail::parse(&mut r);
        let signals = SignalSettings::parse(&mut r, &topic_prefix);
        if signals.new_tables && publication_autocreate != AutocreateMode::Filtered {
            r.error(
                "snapshot.new.tables",
                "parallel needs publication.autocreate.mode=filtered: new tables are those a config change adds to the publication the connector manages",
            );
        }
        let type_modes = parse_type_modes(&mut r);
        let reselectors = reselect::parse(&raw, &mut r);
        let converting_failure = r.mode::<ConvertingFailure>(ConvertingFailure::PROPERTY);
        let processing_failure = r.mode::<ProcessingFailure>(ProcessingFailure::PROPERTY);
        let unavailable_value_placeholder = r.string(
            "unavailable.value.placeholder",
            "__debezium_unavailable_value",
        );
        let heartbeat_action_query = r
            .get("heartbeat.action.query")
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(str::to_string);
        let (mut filters, message_prefixes, key_columns) = parse_selections(&mut r);
        // Debezium captures the signal table whatever the filters say.
        filters.signal_table = signals.table.clone();

        if let Err((field, message)) = crate::conn::load_client_identity(
            connect.sslcert.as_deref(),
            connect.sslkey.as_deref(),
            connect.sslpassword.expose(),
        ) {
            r.error(field, message);
        }
        let snapshot_include = parse_snapshot_include(&mut r);
        let snapshot_overrides = parse_overrides(&raw, &mut r);
        let snapshot_delay_ms = r.parse::<u64>("snapshot.delay.ms", 0, "milliseconds");
        let streaming_delay_ms = r.parse::<u64>("streaming.delay.ms", 0, "milliseconds");
        let replica_identities =
            AutosetIdentities::parse(r.get("replica.identity.autoset.values").unwrap_or_default())
                .unwrap_or_else(|m| {
                    r.error("replica.identity.autoset.values", m);
                    AutosetIdentities::default()
                });
        let column_mappers = ColumnMappers::parse(&raw).unwrap_or_else(|errors| {
            for (field, message) in errors {
                r.error(&field, message);
            }
            ColumnMappers::default()
        });
        let topics = TopicNaming::parse(&topic_prefix, &mut r);

        if !r.errors.is_empty() {
            return Err(ConfigErrors(r.errors));
        }
        Ok(PostgresConnectorConfig {
            name: name.to_string(),
            connect,
            slot_name,
            publication_name,
            publication_autocreate,
            filters,
            key_columns,
            column_mappers,
            snapshot_include,
            snapshot_overrides,
            snapshot_delay: Duration::from_millis(snapshot_delay_ms),
            streaming_delay: Duration::from_millis(streaming_delay_ms),
            replica_identities,
            skipped_operations,
            tombstones_on_delete,
            slot_drop_on_stop,
            slot_lag_warn_bytes,
            slot_max_retries,
            slot_retry_delay: Duration::from_millis(slot_retry_ms),
            errors_max_retries,
            retriable_restart_wait,
            guardrail,
            signals,
            message_prefixes,
            reselectors,
            publish_via_partition_root,
            publication_drop_on_delete,
            snapshot_mode,
            snapshot_max_threads,
            snapshot_chunk_pages,
            type_modes,
            converting_failure,
            processing_failure,
            unavailable_value_placeholder,
            topics,
            topic_prefix,
            status_update_interval: Duration::from_millis(status_ms),
            streaming,
            queue,
            heartbeat_action_query,
            raw,
            warnings,
        })
    }

    /// Whether the snapshot reads `table`'s rows (`snapshot.include.collection.list`).
    pub fn snapshots(&self, table: &TableId) -> bool {
        self.snapshot_include
            .as_ref()
            .is_none_or(|p| p.matches(&table.to_string()))
    }

    /// The topic of a table's change events: `<topic.prefix>.<schema>.<table>`, as
    /// `topic.naming.strategy` makes it.
    pub fn topic_for(&self, table: &TableId) -> String {
        self.topics.data_change_topic(table)
    }
}

#[cfg(test)]
mod tests;
