//! Properties that choose what is captured: filters and the snapshot.

use super::PropertyKind::{Boolean, Int, List, Long, String as Str};
use super::{FILTERS, PropertyDef, REPLICATION, SNAPSHOT};

pub(super) const SELECTION_PROPERTIES: &[PropertyDef] = &[
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
    PropertyDef::new(
        "signal.data.collection",
        Str,
        SNAPSHOT,
        "Fully-qualified name of the data collection that needs to be used to send signals to the connector (<schema>.<table>). Its inserts are read from the stream as signals, the incremental snapshot writes its watermarks to it, and it is captured whatever the filters say. It needs columns id varchar(42), type varchar(32) and data varchar(2048), in that order.",
    ),
    PropertyDef::new(
        "signal.enabled.channels",
        List,
        SNAPSHOT,
        "List of channels names that are enabled: source (the signal table), kafka (signal.kafka.topic) and rest (Tributary's POST /connectors/{name}/signals); kafka and rest write what they receive to the signal table, so they need signal.data.collection. Debezium's jmx, file and in-process channels are refused.",
    )
    .default_value("source,rest"),
    PropertyDef::new(
        "read.only",
        Boolean,
        SNAPSHOT,
        "Switched connector to use alternative methods to deliver signals to Debezium instead of writing to signaling table. An incremental snapshot writes no watermark rows: each window is read in one exported snapshot, bounded by its visibility (txid_current_snapshot()) and the WAL position taken in it. Signals come from the signal table, inserted by a user allowed to; the rest and kafka channels, which write to it, are refused.",
    )
    .default_value("false")
    .low(),
    PropertyDef::new(
        "incremental.snapshot.chunk.size",
        Int,
        SNAPSHOT,
        "The maximum size of chunk (number of documents/rows) for incremental snapshotting. With snapshot.max.threads above 1, each thread reads a chunk of this size inside the same window.",
    )
    .default_value("1024"),
    PropertyDef::new(
        "snapshot.new.tables",
        Str,
        SNAPSHOT,
        "off or parallel (the name Debezium's MySQL connector gave it): with parallel, tables a configuration change adds (publication.autocreate.mode=filtered adds them to the publication) are snapshotted incrementally, while the other tables keep streaming. Needs signal.data.collection.",
    )
    .default_value("off"),
    PropertyDef::new(
        "signal.kafka.topic",
        Str,
        SNAPSHOT,
        "The name of the topic for the signals to the connector (records keyed by topic.prefix, valued {\"id\", \"type\", \"data\"}). Default: <topic.prefix>-signal.",
    ),
    PropertyDef::new(
        "signal.kafka.bootstrap.servers",
        Str,
        SNAPSHOT,
        "The Kafka brokers of the signal topic. Default: the daemon's; signal.consumer.* properties configure its consumer.",
    ),
    PropertyDef::new(
        "signal.kafka.groupId",
        Str,
        SNAPSHOT,
        "The consumer group id of the signal topic's consumer; its committed offset is where signals are read on from.",
    )
    .default_value("kafka-signal"),
];
