//! Kafka Connect's own properties, and those of the connection and the replication slot.

use super::PropertyKind::{Boolean, Int, Long, Password, String as Str};
use super::{COMMON, CONNECTION, PropertyDef, REPLICATION};

pub(super) const CONNECTION_PROPERTIES: &[PropertyDef] = &[
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
        "slot.lag.warn.bytes",
        Long,
        REPLICATION,
        "Tributary extension: bytes of WAL the replication slot may hold back before the connector's status and log warn, saying why it is held (the connector paused, stopped or failed; Kafka not taking records; a long transaction). 0 never warns. Postgres's wal_status and safe_wal_size are shown beside it.",
    )
    .default_value("1073741824")
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
        "guardrail.collections.max",
        Int,
        REPLICATION,
        "The maximum number of collections or tables that can be captured by the connector. When this limit is exceeded, the action specified by 'guardrail.collections.limit.action' will be taken. Set to 0 to disable this guardrail.",
    )
    .default_value("0")
    .low(),
    PropertyDef::new(
        "guardrail.collections.limit.action",
        Str,
        REPLICATION,
        "Specify the action to take when a guardrail collections limit is exceeded: 'warn' (the default) logs a warning message and continues processing; 'fail' stops the connector with an error.",
    )
    .default_value("warn")
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
];
