//! The definitions of every property the Postgres connector reads.
//!
//! [`PROPERTIES`] is the one list of the connector's properties: the config parser accepts
//! exactly these (plus Kafka Connect's framework prefixes), and the REST API serves them as
//! Kafka Connect's `ConfigDef` (`GET /connector-plugins/{plugin}/config`, the `definition`
//! of each entry in `…/config/validate`). Names, types, defaults and wording follow
//! Debezium's Postgres connector where it has the property; Tributary's own extensions say
//! so in their documentation. A default is written as the text the parser accepts.
//!
//! The publishing side (tributary-kafka's `PUBLISH_PROPERTIES`: transaction metadata,
//! heartbeats, name adjustment, batch bounds) reads some of these properties; the daemon's
//! tests check that every one of them is listed here.

pub use tributary_core::config::{Importance, PropertyDef, PropertyKind};

/// The definition of `name`, if the connector has such a property.
pub fn property(name: &str) -> Option<&'static PropertyDef> {
    PROPERTIES.iter().find(|p| p.name == name)
}

const COMMON: &str = "Common";
const CONNECTION: &str = "Connection";
const REPLICATION: &str = "Replication";
const FILTERS: &str = "Filters";
const SNAPSHOT: &str = "Snapshot";
const TYPES: &str = "Types";
const EVENTS: &str = "Events";
const PUBLISHING: &str = "Publishing";

use PropertyKind::{Boolean, Int, List, Long, Password, String as Str};

/// Every property of the Postgres connector, grouped as the REST API shows them.
pub const PROPERTIES: &[PropertyDef] = &[
    // Kafka Connect's own properties of every connector.
    PropertyDef::new(
        "name",
        Str,
        COMMON,
        "Globally unique name to use for this connector.",
    )
    .high(),
    PropertyDef::new(
        "connector.class",
        Str,
        COMMON,
        "Name or alias of the class for this connector: io.debezium.connector.postgresql.PostgresConnector.",
    )
    .high(),
    PropertyDef::new(
        "tasks.max",
        Int,
        COMMON,
        "Maximum number of tasks to use for this connector. A replication slot is read by one task, so the connector always runs one.",
    )
    .default_value("1")
    .high(),
    // Connection.
    PropertyDef::new(
        "database.hostname",
        Str,
        CONNECTION,
        "Resolvable hostname or IP address of the database server.",
    )
    .is_required(),
    PropertyDef::new(
        "database.port",
        Int,
        CONNECTION,
        "Port of the database server.",
    )
    .default_value("5432")
    .high(),
    PropertyDef::new(
        "database.user",
        Str,
        CONNECTION,
        "Name of the database user to be used when connecting to the database; it needs the REPLICATION attribute and SELECT on the captured tables.",
    )
    .is_required(),
    PropertyDef::new(
        "database.password",
        Password,
        CONNECTION,
        "Password of the database user to be used when connecting to the database.",
    )
    .high(),
    PropertyDef::new(
        "database.sslpassword",
        Password,
        CONNECTION,
        "Password to access the client private key from the file specified by 'database.sslkey': an encrypted PKCS#8 key (DER, as pgjdbc reads it, or PEM) or a traditional encrypted PEM key. An unencrypted key needs none.",
    ),
    PropertyDef::new(
        "database.dbname",
        Str,
        CONNECTION,
        "The name of the database from which the connector should capture changes.",
    )
    .is_required(),
    PropertyDef::new(
        "database.sslmode",
        Str,
        CONNECTION,
        "Whether to use an encrypted connection to Postgres: disable, prefer (TLS when the server offers it), require, verify-ca or verify-full.",
    )
    .default_value("prefer"),
    PropertyDef::new(
        "database.sslrootcert",
        Str,
        CONNECTION,
        "File containing the root certificate(s) against which the server is validated; the system store when not set.",
    ),
    PropertyDef::new(
        "database.sslcert",
        Str,
        CONNECTION,
        "File containing the SSL certificate (PEM) of the client, sent when the server asks for one (cert authentication).",
    ),
    PropertyDef::new(
        "database.sslkey",
        Str,
        CONNECTION,
        "File containing the private key of the client certificate: PEM, or DER PKCS#8 (.pk8, pgjdbc's format), unencrypted.",
    ),
    PropertyDef::new(
        "database.connect.timeout.ms",
        Long,
        CONNECTION,
        "Maximum time in milliseconds to wait after trying to connect to the database before timing out (TCP, TLS and authentication together).",
    )
    .default_value("30000")
    .low(),
    PropertyDef::new(
        "database.initial.statements",
        Str,
        CONNECTION,
        "A semicolon separated list of SQL statements to be executed when a connection (not the replication connection) to the database is established; use ';;' for a semicolon inside a statement.",
    )
    .low(),
    // Replication.
    PropertyDef::new(
        "plugin.name",
        Str,
        REPLICATION,
        "The name of the Postgres logical decoding plug-in installed on the server. Only pgoutput, built into Postgres 10 and later, is supported.",
    )
    .default_value("pgoutput"),
    PropertyDef::new(
        "slot.name",
        Str,
        REPLICATION,
        "The name of the Postgres logical decoding slot created for streaming changes from a plug-in. Defaults to 'debezium'.",
    )
    .default_value("debezium"),
    PropertyDef::new(
        "slot.drop.on.stop",
        Boolean,
        REPLICATION,
        "Whether or not to drop the logical replication slot when the connector finishes orderly. By default the replication slot is kept so that on restart progress can resume from the last recorded location.",
    )
    .default_value("false")
    .low(),
    PropertyDef::new(
        "publication.name",
        Str,
        REPLICATION,
        "The name of the Postgres 10+ publication used for streaming changes from a plug-in. Defaults to 'dbz_publication'.",
    )
    .default_value("dbz_publication"),
    PropertyDef::new(
        "publication.autocreate.mode",
        Str,
        REPLICATION,
        "Applies only when streaming changes using pgoutput. all_tables creates a publication for all tables when none exists; filtered creates one for the tables the filters select; disabled requires the publication to exist.",
    )
    .default_value("all_tables")
    .low(),
    PropertyDef::new(
        "publish.via.partition.root",
        Boolean,
        REPLICATION,
        "A boolean that determines whether the connector should publish changes via the partition root. When true, changes are published through partition root. When false, changes are published directly. Set on the publication the connector creates (publish_via_partition_root); an existing publication that differs is altered to match with publication.autocreate.mode=filtered; in the other modes true is an error naming the ALTER, and false follows the publication's own setting.",
    )
    .default_value("false")
    .low(),
    PropertyDef::new(
        "publication.drop.on.delete",
        Boolean,
        REPLICATION,
        "Tributary extension: whether to drop the publication when the connector is deleted through the REST API (the slot is dropped then when slot.drop.on.stop is true).",
    )
    .default_value("false")
    .low(),
    PropertyDef::new(
        "replication.streaming",
        Boolean,
        REPLICATION,
        "Tributary extension: on Postgres 14 and later, receive large in-progress transactions as they are written (pgoutput protocol v2, streaming 'on') instead of at commit.",
    )
    .default_value("true")
    .low(),
    PropertyDef::new(
        "status.update.interval.ms",
        Int,
        REPLICATION,
        "Frequency for sending replication connection status updates to the server, given in milliseconds. Defaults to 10 seconds (10,000 ms).",
    )
    .default_value("10000")
    .low(),
    PropertyDef::new(
        "max.queue.size",
        Int,
        REPLICATION,
        "Maximum size of the queue for change events read from the database log but not yet recorded or forwarded. Defaults to 8192.",
    )
    .default_value("8192")
    .low(),
    PropertyDef::new(
        "max.batch.size",
        Int,
        REPLICATION,
        "Maximum size of each batch of source records. Defaults to 2048. max.queue.size must be larger. With poll.interval.ms set, a batch this full is committed without waiting for the interval.",
    )
    .default_value("2048")
    .low(),
    PropertyDef::new(
        "max.queue.size.in.bytes",
        Long,
        REPLICATION,
        "Maximum size of the queue in bytes for change events read from the database log but not yet recorded or forwarded, as Tributary estimates an event's size in memory. Defaults to 0, which means the feature is not enabled.",
    )
    .default_value("0")
    .low(),
    PropertyDef::new(
        "poll.interval.ms",
        Long,
        REPLICATION,
        "Time to wait for new change events to appear after receiving no events, given in milliseconds: when set, a Kafka transaction waits this long after its first event for max.batch.size events before it commits, as Debezium's poll waits to fill a batch. Unset (Tributary's default), a transaction commits as soon as no more events are waiting.",
    )
    .low(),
    // Filters.
    PropertyDef::new(
        "schema.include.list",
        List,
        FILTERS,
        "The schemas for which events should be captured (regular expressions matched against the whole schema name).",
    ),
    PropertyDef::new(
        "schema.exclude.list",
        List,
        FILTERS,
        "The schemas for which events must not be captured (regular expressions matched against the whole schema name).",
    ),
    PropertyDef::new(
        "table.include.list",
        List,
        FILTERS,
        "The tables for which changes are to be captured (regular expressions matched against schema.table).",
    ),
    PropertyDef::new(
        "table.exclude.list",
        List,
        FILTERS,
        "A comma-separated list of regular expressions that match the fully-qualified names of tables to be excluded from monitoring.",
    ),
    PropertyDef::new(
        "column.include.list",
        List,
        FILTERS,
        "Regular expressions matching columns to include in change events (schema.table.column).",
    ),
    PropertyDef::new(
        "column.exclude.list",
        List,
        FILTERS,
        "Regular expressions matching columns to exclude from change events (schema.table.column).",
    ),
    PropertyDef::new(
        "column.propagate.source.type",
        List,
        FILTERS,
        "Regular expressions matching columns (schema.table.column) whose schemas get the source type, length, scale and name as __debezium.source.column.* parameters. The column.truncate.to.N.chars, column.mask.with.N.chars and column.mask.hash[.v2].ALGORITHM.with.salt.SALT properties also take such lists.",
    ),
    PropertyDef::new(
        "datatype.propagate.source.type",
        List,
        FILTERS,
        "Regular expressions matching column types (schema.table.type) whose columns' schemas get the source type parameters, as column.propagate.source.type does.",
    ),
    PropertyDef::new(
        "message.key.columns",
        Str,
        FILTERS,
        "A semicolon-separated list of expressions that match fully-qualified tables and column(s) to be used as message key. Each expression must match the pattern '<fully-qualified table name>:<key columns>'.",
    )
    .low(),
    PropertyDef::new(
        "message.prefix.include.list",
        List,
        FILTERS,
        "A comma-separated list of regular expressions that match the logical decoding message prefixes to be monitored. All prefixes are monitored by default.",
    ),
    PropertyDef::new(
        "message.prefix.exclude.list",
        List,
        FILTERS,
        "A comma-separated list of regular expressions that match the logical decoding message prefixes to be excluded from monitoring.",
    ),
    PropertyDef::new(
        "skipped.operations",
        List,
        FILTERS,
        "The comma-separated list of operations to skip during streaming, defined as: 'c' for inserts/create; 'u' for updates; 'd' for deletes, 't' for truncates, and 'none' to indicate nothing skipped. By default, only truncate operations will be skipped.",
    )
    .default_value("t")
    .low(),
    // Snapshot.
    PropertyDef::new(
        "snapshot.mode",
        Str,
        SNAPSHOT,
        "The criteria for running a snapshot upon startup of the connector: initial, always, no_data (or never), initial_only or when_needed.",
    )
    .default_value("initial"),
    PropertyDef::new(
        "snapshot.max.threads",
        Int,
        SNAPSHOT,
        "The maximum number of threads used to perform the snapshot. Defaults to 1.",
    )
    .default_value("1")
    .low(),
    PropertyDef::new(
        "snapshot.fetch.size",
        Int,
        SNAPSHOT,
        "The maximum number of records that should be loaded into memory while performing a snapshot: rows the snapshot's readers hold, read but not yet queued. 0 means the default, 10240.",
    )
    .default_value("10240")
    .low(),
    PropertyDef::new(
        "replica.identity.autoset.values",
        Str,
        REPLICATION,
        "Comma-separated <schema>.<table regex>:<DEFAULT|FULL|NOTHING|INDEX index_name> entries: the REPLICA IDENTITY the connector sets on each matching captured table when it starts (the connector's user must own them).",
    ),
    PropertyDef::new(
        "snapshot.delay.ms",
        Long,
        SNAPSHOT,
        "A delay period before a snapshot will begin, given in milliseconds. Defaults to 0 ms.",
    )
    .default_value("0")
    .low(),
    PropertyDef::new(
        "streaming.delay.ms",
        Long,
        SNAPSHOT,
        "A delay period after the snapshot is completed and the streaming begins, given in milliseconds. Defaults to 0 ms.",
    )
    .default_value("0")
    .low(),
    PropertyDef::new(
        "snapshot.include.collection.list",
        List,
        SNAPSHOT,
        "Regular expressions matching the tables (schema.table) whose rows the snapshot reads; the others are only streamed. Empty: every captured table.",
    ),
    PropertyDef::new(
        "snapshot.select.statement.overrides",
        List,
        SNAPSHOT,
        "Tables (schema.table) whose snapshot reads the SELECT given in snapshot.select.statement.overrides.<schema>.<table> instead of the whole table; columns the SELECT does not return are NULL.",
    ),
    PropertyDef::new(
        "snapshot.chunk.pages",
        Int,
        SNAPSHOT,
        "Tributary extension: heap pages of a table read per snapshot chunk; progress is checkpointed after each chunk.",
    )
    .default_value("4096")
    .low(),
    // Types.
    PropertyDef::new(
        "decimal.handling.mode",
        Str,
        TYPES,
        "Specify how DECIMAL and NUMERIC columns should be represented in change events: 'precise' (the default) uses java.math.BigDecimal, 'string' uses string, 'double' uses double.",
    )
    .default_value("precise"),
    PropertyDef::new(
        "time.precision.mode",
        Str,
        TYPES,
        "Time, date, and timestamps can be represented with different kinds of precisions: 'adaptive' (the default), 'adaptive_time_microseconds', 'connect', 'microseconds', 'nanoseconds' or 'isostring'.",
    )
    .default_value("adaptive"),
    PropertyDef::new(
        "interval.handling.mode",
        Str,
        TYPES,
        "Specify how INTERVAL columns should be represented in change events: 'numeric' (the default) as approximate microseconds, 'string' as ISO 8601 text.",
    )
    .default_value("numeric"),
    PropertyDef::new(
        "binary.handling.mode",
        Str,
        TYPES,
        "Specify how binary (bytea) columns should be represented in change events: 'bytes' (the default), 'base64', 'base64-url-safe' or 'hex'.",
    )
    .default_value("bytes")
    .low(),
    PropertyDef::new(
        "hstore.handling.mode",
        Str,
        TYPES,
        "Specify how HSTORE columns should be represented in change events: 'json' (the default) represents values as a JSON string such as {\"key\":\"val\"}; 'map' represents values as a map of strings.",
    )
    .default_value("json")
    .low(),
    PropertyDef::new(
        "post.processors",
        List,
        EVENTS,
        "Optional list of post processors, applied in order to created and updated rows before they are emitted. Each is configured under post.processors.<name>. (or <name>.): its type must be io.debezium.processors.reselect.ReselectColumnsPostProcessor, which re-reads from the table, by key, value columns that hold the unavailable-value placeholder or null (options reselect.columns.include.list / .exclude.list against schema.table:column, reselect.unavailable.values, reselect.null.values, reselect.use.event.key, reselect.error.handling.mode).",
    )
    .low(),
    PropertyDef::new(
        "errors.max.retries",
        Int,
        EVENTS,
        "The maximum number of retries on connection errors before failing (-1 = no limit, 0 = disabled, > 0 = num of retries). The count starts again once a run has emitted change events.",
    )
    .default_value("-1")
    .low(),
    PropertyDef::new(
        "retriable.restart.connector.wait.ms",
        Long,
        EVENTS,
        "Time to wait before restarting connector after retriable exception occurs, given in milliseconds. Debezium's default is 10000; unset, Tributary restarts after 1 s, doubling to 30 s.",
    )
    .low(),
    PropertyDef::new(
        "slot.max.retries",
        Int,
        REPLICATION,
        "How many times to retry connecting to a replication slot when another process holds it.",
    )
    .default_value("6")
    .low(),
    PropertyDef::new(
        "slot.retry.delay.ms",
        Long,
        REPLICATION,
        "Time to wait between retry attempts when the connector fails to connect to a replication slot, given in milliseconds. Defaults to 10 seconds (10,000 ms).",
    )
    .default_value("10000")
    .low(),
    PropertyDef::new(
        "event.converting.failure.handling.mode",
        Str,
        EVENTS,
        "Specify how failures during converting of event should be handled, including: 'fail' the event cannot be made, and event.processing.failure.handling.mode decides; 'warn' (the default) the value of the column that failed to convert is null and logged at warn level; 'skip' the value is null and logged at debug level.",
    )
    .default_value("warn"),
    PropertyDef::new(
        "event.processing.failure.handling.mode",
        Str,
        EVENTS,
        "Specify how failures during processing of events (a key that does not convert, a null in a required field) should be handled, including: 'fail' (the default) an error naming the problematic event and its position stops the connector; 'warn' the problematic event and its position are logged and the event is skipped; 'skip' and 'ignore' the problematic event is skipped.",
    )
    .default_value("fail"),
    PropertyDef::new(
        "include.unknown.datatypes",
        Boolean,
        TYPES,
        "Specify whether the fields of data types not supported by Debezium should be processed: 'false' (the default) omits them; 'true' converts them to a binary representation (as binary.handling.mode says) of their text.",
    )
    .default_value("false")
    .low(),
    PropertyDef::new(
        "money.fraction.digits",
        Int,
        TYPES,
        "Number of fractional digits when money type is converted to 'precise' decimal number.",
    )
    .default_value("2")
    .low(),
    PropertyDef::new(
        "unavailable.value.placeholder",
        Str,
        TYPES,
        "Specify the constant that will be provided by Debezium to indicate that the original value is a toasted value not provided by the database.",
    )
    .default_value("__debezium_unavailable_value")
    .low(),
    PropertyDef::new(
        "schema.name.adjustment.mode",
        Str,
        TYPES,
        "Specify how schema names should be adjusted for compatibility with the message converter: 'avro' replaces invalid characters with '_', 'avro_unicode' with _uxxxx, 'none' does not adjust.",
    )
    .default_value("avro")
    .low(),
    PropertyDef::new(
        "field.name.adjustment.mode",
        Str,
        TYPES,
        "Specify how field names should be adjusted for compatibility with the message converter: 'avro' replaces invalid characters with '_', 'avro_unicode' with _uxxxx, 'none' does not adjust.",
    )
    .default_value("avro")
    .low(),
    // Events.
    PropertyDef::new(
        "topic.prefix",
        Str,
        EVENTS,
        "Topic prefix that identifies and provides a namespace for the particular database server/cluster that is capturing changes. The topic prefix should be unique across all other connectors.",
    )
    .is_required(),
    PropertyDef::new(
        "topic.naming.strategy",
        Str,
        EVENTS,
        "The name of the TopicNamingStrategy class that should be used to determine the topic name for data change, schema change, transaction, heartbeat event etc. Tributary names topics as the strategies Debezium ships do: io.debezium.schema.SchemaTopicNamingStrategy (the default) and DefaultTopicNamingStrategy, their Unicode variants (invalid characters become _uXXXX) and their Regex variants (topic.regex, topic.replacement, topic.key.*).",
    )
    .default_value("io.debezium.schema.SchemaTopicNamingStrategy")
    .low(),
    PropertyDef::new(
        "topic.delimiter",
        Str,
        EVENTS,
        "Specify the delimiter for topic name.",
    )
    .default_value(".")
    .low(),
    PropertyDef::new(
        "topic.heartbeat.name",
        Str,
        EVENTS,
        "Specify the full heartbeat topic name. When set, this overrides the default heartbeat topic naming of ${topic.heartbeat.prefix}.${topic.prefix}, allowing multiple connectors to share the same heartbeat topic.",
    )
    .low(),
    PropertyDef::new(
        "topic.regex",
        Str,
        EVENTS,
        "The regex used for extracting the name of the logical table from the original topic name (the regex topic naming strategies).",
    )
    .low(),
    PropertyDef::new(
        "topic.replacement",
        Str,
        EVENTS,
        "The replacement string used in conjunction with topic.regex. This will be used to create the new topic name.",
    )
    .low(),
    PropertyDef::new(
        "topic.key.enforce.uniqueness",
        Boolean,
        EVENTS,
        "Augment each record's key with a field denoting the source topic (the regex topic naming strategies).",
    )
    .default_value("true")
    .low(),
    PropertyDef::new(
        "topic.key.field.name",
        Str,
        EVENTS,
        "The field added to each record's key by the regex topic naming strategies.",
    )
    .default_value("__dbz__physicalTableIdentifier")
    .low(),
    PropertyDef::new(
        "topic.key.field.regex",
        Str,
        EVENTS,
        "The regex used for extracting the physical table identifier from the original topic name.",
    )
    .low(),
    PropertyDef::new(
        "topic.key.field.replacement",
        Str,
        EVENTS,
        "The replacement string used in conjunction with topic.key.field.regex.",
    )
    .low(),
    PropertyDef::new(
        "tombstones.on.delete",
        Boolean,
        EVENTS,
        "Whether delete operations should be represented by a delete event and a subsequent tombstone event (true) or only by a delete event (false).",
    )
    .default_value("true"),
    PropertyDef::new(
        "provide.transaction.metadata",
        Boolean,
        EVENTS,
        "Enables transaction metadata extraction together with event counting.",
    )
    .default_value("false")
    .low(),
    PropertyDef::new(
        "transaction.message.data.collection",
        Str,
        EVENTS,
        "Tributary extension: how the END record of provide.transaction.metadata counts logical decoding messages. 'debezium' (the default) as Debezium 3.6 does: each message is a data collection of its own, named by the toString() of a Java object (io.debezium.connector.postgresql.LogicalDecodingMessageMonitor$LogicalDecodingMessageId@<hash>), unlike in any other transaction; 'aggregated': one data collection, LOGICAL_DECODING_MESSAGE, counting every message of the transaction.",
    )
    .default_value("debezium")
    .low(),
    PropertyDef::new(
        "topic.transaction",
        Str,
        EVENTS,
        "The name of the transaction metadata topic; the full name is <topic.prefix>.<topic.transaction>.",
    )
    .default_value("transaction")
    .low(),
    PropertyDef::new(
        "heartbeat.interval.ms",
        Int,
        EVENTS,
        "Length of an interval in milli-seconds in which the connector periodically sends heartbeat messages to a heartbeat topic. Use 0 to disable heartbeat messages. Disabled by default.",
    )
    .default_value("0")
    .low(),
    PropertyDef::new(
        "topic.heartbeat.prefix",
        Str,
        EVENTS,
        "The prefix that is used to name heartbeat topics.",
    )
    .default_value("__debezium-heartbeat")
    .low(),
    PropertyDef::new(
        "heartbeat.topics.prefix",
        Str,
        PUBLISHING,
        "The prefix of the heartbeat topic, as Debezium's field list names it; topic.heartbeat.prefix wins when both are set.",
    )
    .default_value("__debezium-heartbeat")
    .low(),
    PropertyDef::new(
        "extended.headers.enabled",
        Boolean,
        PUBLISHING,
        "Enable/Disable the __debezium.context.* headers (connectorLogicalName, taskId, connectorName, runId) on every change event.",
    )
    .default_value("true")
    .low(),
    PropertyDef::new(
        "heartbeat.action.query",
        Str,
        EVENTS,
        "The query executed with every heartbeat.",
    )
    .low(),
    // Publishing.
    PropertyDef::new(
        "publish.batch.max.events",
        Long,
        PUBLISHING,
        "Tributary extension: a Kafka transaction is committed at the first Postgres commit after it holds this many events.",
    )
    .default_value("50000")
    .low(),
    PropertyDef::new(
        "publish.batch.max.bytes",
        Long,
        PUBLISHING,
        "Tributary extension: a Kafka transaction is committed at the first Postgres commit after it holds this many bytes.",
    )
    .default_value("33554432")
    .low(),
    PropertyDef::new(
        "publish.batch.max.ms",
        Long,
        PUBLISHING,
        "Tributary extension: a Kafka transaction is committed at the first Postgres commit after it has been open this many milliseconds.",
    )
    .default_value("50")
    .low(),
];
