//! Properties of Debezium's `PostgresConnectorConfig` that Tributary does not define in
//! [`PROPERTIES`](super::PROPERTIES): each is either accepted with a warning as not
//! applicable (a knob of Debezium's JVM implementation, or one whose effect Tributary
//! always has), accepted only at values Tributary's behaviour matches, or refused. A
//! Debezium config is thereby read as it is, and nothing in it is silently ignored: the
//! config parser turns each entry into a warning or a field error naming the property.
//!
//! The differential test lists `PostgresConnectorConfig.ALL_FIELDS` from Debezium's jar
//! and checks that every field is here or in `PROPERTIES`.

/// How one of Debezium's properties is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Treatment {
    /// Accepted whatever its value, with one warning: `why` it has no effect here.
    NotApplicable(&'static str),
    /// Accepted (silently) at one of `values` (the first is Debezium's default, with which
    /// Tributary behaves as Debezium does); any other value is refused with `why`.
    OnlyValues(&'static [&'static str], &'static str),
}

use Treatment::{NotApplicable, OnlyValues};

const JVM: &str = "a setting of Debezium's Java implementation, which Tributary does not have";
const JAVA_CLASS: &str = "it names a Java class, and Tributary runs no Java code";
const NOTIFICATIONS: &str = "notifications are not supported yet; incremental snapshot progress is in the connector's status and /metrics";

/// Debezium's properties that are not Tributary properties, and how each is treated.
pub const DEBEZIUM_ONLY: &[(&str, Treatment)] = &[
    (
        "topic.cache.size",
        NotApplicable(
            "it sizes the Java strategy's cache of topic names; Tributary names a table's topic once per shape",
        ),
    ),
    (
        "connection.validation.timeout.ms",
        NotApplicable("Tributary checks the connection within database.connect.timeout.ms"),
    ),
    ("converters", OnlyValues(&[""], JAVA_CLASS)),
    (
        "custom.metric.tags",
        NotApplicable(
            "it tags JMX metrics; Tributary's metrics are served at /metrics with the connector's name as a label",
        ),
    ),
    (
        "custom.sanitize.pattern",
        NotApplicable(
            "Tributary hides the values of password properties; other values are shown as given",
        ),
    ),
    (
        "database.query.timeout.ms",
        NotApplicable(
            "Tributary's queries are bounded by database.connect.timeout.ms and the replication protocol's own timeouts",
        ),
    ),
    ("database.sslfactory", OnlyValues(&[""], JAVA_CLASS)),
    (
        "database.tcpKeepAlive",
        OnlyValues(
            &["true"],
            "Tributary always enables TCP keep-alive on its connections",
        ),
    ),
    ("executor.shutdown.timeout.ms", NotApplicable(JVM)),
    (
        "flush.lsn.source",
        OnlyValues(
            &["true"],
            "Tributary always acknowledges to Postgres the LSNs whose events Kafka committed; that acknowledgement is its exactly-once protocol",
        ),
    ),
    (
        "include.schema.comments",
        OnlyValues(&["false"], "column comments are not carried in schemas"),
    ),
    (
        "incremental.snapshot.watermarking.strategy",
        OnlyValues(
            &["insert_insert"],
            "Tributary writes an open and a close row to the signal table per chunk (insert_insert)",
        ),
    ),
    ("internal.advanced.metrics.enable", NotApplicable(JVM)),
    ("internal.log.position.check.enable", NotApplicable(JVM)),
    (
        "internal.snapshot.scan.all.columns.force",
        NotApplicable(JVM),
    ),
    (
        "legacy.snapshot.max.threads",
        NotApplicable(
            "Tributary's snapshot threads read chunks of tables (snapshot.max.threads); there is no legacy mode",
        ),
    ),
    (
        "lsn.flush.mode",
        OnlyValues(
            &["", "connector"],
            "Tributary always acknowledges LSNs itself, after the Kafka commit",
        ),
    ),
    (
        "lsn.flush.timeout.action",
        NotApplicable("an acknowledgement that cannot be sent is retried on the next one"),
    ),
    (
        "lsn.flush.timeout.ms",
        NotApplicable("an acknowledgement that cannot be sent is retried on the next one"),
    ),
    ("memory.management.schemas.class", NotApplicable(JVM)),
    ("memory.management.tables.class", NotApplicable(JVM)),
    (
        "notification.enabled.channels",
        OnlyValues(&[""], NOTIFICATIONS),
    ),
    ("notification.sink.topic.name", NotApplicable(NOTIFICATIONS)),
    (
        "openlineage.integration.config.file.path",
        NotApplicable("OpenLineage is not supported"),
    ),
    (
        "openlineage.integration.dataset.kafka.bootstrap.servers",
        NotApplicable("OpenLineage is not supported"),
    ),
    (
        "openlineage.integration.enabled",
        OnlyValues(&["false"], "OpenLineage is not supported"),
    ),
    (
        "openlineage.integration.job.description",
        NotApplicable("OpenLineage is not supported"),
    ),
    (
        "openlineage.integration.job.namespace",
        NotApplicable("OpenLineage is not supported"),
    ),
    (
        "openlineage.integration.job.owners",
        NotApplicable("OpenLineage is not supported"),
    ),
    (
        "openlineage.integration.job.tags",
        NotApplicable("OpenLineage is not supported"),
    ),
    (
        "query.fetch.size",
        NotApplicable("Tributary reads tables with COPY, which streams rows without a fetch size"),
    ),
    (
        "schema.refresh.mode",
        OnlyValues(
            &["columns_diff"],
            "Tributary refreshes a table's schema from each Relation message, as columns_diff does",
        ),
    ),
    (
        "signal.kafka.poll.timeout.ms",
        NotApplicable(
            "the signal topic's consumer hands each record on as it arrives: nothing polls with a timeout",
        ),
    ),
    (
        "signal.poll.interval.ms",
        NotApplicable(
            "signals from the table are read from the stream and REST signals are handled at once: nothing polls",
        ),
    ),
    (
        "slot.failover",
        OnlyValues(&["false"], "failover slots (Postgres 17) are not supported"),
    ),
    (
        "slot.stream.params",
        OnlyValues(&[""], "Tributary sets pgoutput's options itself"),
    ),
    (
        "snapshot.isolation.mode",
        OnlyValues(
            &["serializable", "repeatable_read"],
            "Tributary reads every table in the slot's exported snapshot, which is consistent like serializable and repeatable_read",
        ),
    ),
    (
        "snapshot.lock.timeout.ms",
        NotApplicable(
            "Tributary takes no table locks during a snapshot (snapshot.locking.mode none)",
        ),
    ),
    (
        "snapshot.locking.mode",
        OnlyValues(
            &["none"],
            "Tributary reads in the slot's exported snapshot and takes no table locks",
        ),
    ),
    (
        "snapshot.locking.mode.custom.name",
        OnlyValues(&[""], JAVA_CLASS),
    ),
    (
        "snapshot.max.threads.multiplier",
        NotApplicable("Tributary splits every table into chunks of snapshot.chunk.pages pages"),
    ),
    (
        "snapshot.mode.configuration.based.snapshot.data",
        NotApplicable("snapshot.mode configuration_based is not supported"),
    ),
    (
        "snapshot.mode.configuration.based.snapshot.on.data.error",
        NotApplicable("snapshot.mode configuration_based is not supported"),
    ),
    (
        "snapshot.mode.configuration.based.snapshot.on.schema.error",
        NotApplicable("snapshot.mode configuration_based is not supported"),
    ),
    (
        "snapshot.mode.configuration.based.snapshot.schema",
        NotApplicable("snapshot.mode configuration_based is not supported"),
    ),
    (
        "snapshot.mode.configuration.based.start.stream",
        NotApplicable("snapshot.mode configuration_based is not supported"),
    ),
    ("snapshot.mode.custom.name", OnlyValues(&[""], JAVA_CLASS)),
    (
        "snapshot.query.mode",
        OnlyValues(&["select_all"], "Tributary reads every column of every row"),
    ),
    (
        "snapshot.query.mode.custom.name",
        OnlyValues(&[""], JAVA_CLASS),
    ),
    (
        "snapshot.tables.order.by.row.count",
        OnlyValues(
            &["disabled"],
            "tables are snapshotted in parallel chunks, in no row-count order",
        ),
    ),
    (
        "sourceinfo.struct.maker",
        OnlyValues(
            &["io.debezium.connector.postgresql.PostgresSourceInfoStructMaker"],
            JAVA_CLASS,
        ),
    ),
    (
        "statistics.metrics.enabled",
        NotApplicable("Tributary's metrics are always served at /metrics"),
    ),
    (
        "table.ignore.builtin",
        OnlyValues(
            &["true"],
            "Tributary never captures Postgres' built-in tables",
        ),
    ),
    (
        "transaction.metadata.factory",
        OnlyValues(
            &["io.debezium.pipeline.txmetadata.DefaultTransactionMetadataFactory"],
            JAVA_CLASS,
        ),
    ),
    (
        "xmin.fetch.interval.ms",
        OnlyValues(&["0"], "source.xmin is not read"),
    ),
];

/// Debezium's properties whose names carry a parameter, as its field list spells them:
/// `column.mask.with.<n>.chars`, `column.truncate.to.<n>.chars`,
/// `column.mask.hash.<algorithm>.with.salt.<salt>`. They are implemented by
/// [`crate::mappers`], which parses them.
pub const PATTERNED: &[(&str, &str)] = &[
    ("column.mask.with.(d+).chars", "column.mask.with."),
    ("column.truncate.to.(d+).chars", "column.truncate.to."),
    (
        "column.mask.hash.([^.]+).with.salt.(.+)",
        "column.mask.hash.",
    ),
];

/// The treatment of `name`, if it is one of Debezium's properties not in `PROPERTIES`.
pub fn treatment(name: &str) -> Option<Treatment> {
    DEBEZIUM_ONLY
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
}

/// What a config does with a Debezium-only property set to `value`: `Ok(Some(warning))`,
/// `Ok(None)` (accepted), or `Err(reason)`.
pub fn check(name: &str, value: &str) -> Option<Result<Option<String>, String>> {
    let t = treatment(name)?;
    Some(match t {
        NotApplicable(why) => Ok(Some(format!(
            "is accepted but has no effect in Tributary: {why}"
        ))),
        OnlyValues(values, why) => {
            let v = value.trim();
            if values.iter().any(|a| a.eq_ignore_ascii_case(v)) {
                Ok(None)
            } else {
                let allowed = values
                    .iter()
                    .map(|a| {
                        if a.is_empty() {
                            "empty".to_string()
                        } else {
                            format!("{a:?}")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" or ");
                Err(format!(
                    "{v:?} cannot be honoured: {why} (accepted: {allowed})"
                ))
            }
        }
    })
}
