//! Properties that shape the events: types, event handling and publishing.

use super::PropertyKind::{Boolean, Int, List, Long, String as Str};
use super::{EVENTS, PUBLISHING, PropertyDef, REPLICATION, TYPES};

pub(super) const EVENT_PROPERTIES: &[PropertyDef] = &[
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
