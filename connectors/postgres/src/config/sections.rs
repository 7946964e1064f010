//! The groups of properties [`PostgresConnectorConfig::parse`](super::PostgresConnectorConfig::parse)
//! reads, one function each, in the order it reads them.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use tributary_core::config::{ConfigError, PropertyReader};
use tributary_core::{Op, Secret};

use super::{
    AutocreateMode, CONNECTOR_CLASSES, KeyColumns, PatternList, Selection, SnapshotMode,
    TableFilters, debezium, property, reselect, suggest,
};
use crate::conn::{ConnectParams, SslMode};
use crate::types::{
    BinaryHandling, DecimalHandling, HstoreHandling, IntervalHandling, TimePrecision, TypeModes,
};

/// Prefixes of Kafka Connect framework properties that a connector accepts and ignores.
const FRAMEWORK_PREFIXES: &[&str] = &[
    "key.converter",
    "value.converter",
    "header.converter",
    "transforms",
    "predicates",
    "errors.",
    "config.action.reload",
    "offsets.storage.topic",
    "exactly.once.support",
    "transaction.boundary",
    "producer.override.",
    "consumer.override.",
    "admin.override.",
    "topic.creation.",
];

/// Every property is known: the connector's own, Kafka Connect's framework ones, or a
/// Debezium property this connector accepts (with a warning when it has no effect here).
/// Returns the warnings.
pub(super) fn check_keys(
    raw: &BTreeMap<String, String>,
    r: &mut PropertyReader<'_>,
) -> Vec<ConfigError> {
    let mut warnings = Vec::new();
    let post_processors = reselect::listed(raw);
    for (key, value) in raw {
        let known = property(key).is_some()
            || reselect::is_post_processor_key(key, &post_processors)
            || FRAMEWORK_PREFIXES.iter().any(|p| key.starts_with(p))
            || crate::mappers::PREFIXES.iter().any(|p| key.starts_with(p))
            || key.starts_with(OVERRIDE_PREFIX)
            // Debezium's Kafka signal channel's consumer properties.
            || key.starts_with("signal.consumer.");
        if known {
            continue;
        }
        match debezium::check(key, value) {
            Some(Ok(None)) => {}
            Some(Ok(Some(warning))) => warnings.push(ConfigError {
                field: key.clone(),
                message: warning,
            }),
            Some(Err(why)) => r.error(key, why),
            None => r.error(key, suggest::unknown_property(key)),
        }
    }
    if let Some(class) = r.get("connector.class")
        && !CONNECTOR_CLASSES.contains(&class)
    {
        r.error(
            "connector.class",
            format!(
                "{class:?} is not a connector this daemon runs; use io.debezium.connector.postgresql.PostgresConnector"
            ),
        );
    }
    if let Some(plugin) = r.get("plugin.name")
        && plugin != "pgoutput"
    {
        r.error(
            "plugin.name",
            format!(
                "{plugin:?} is not supported; only pgoutput is (built into Postgres 10+, no server extension needed)"
            ),
        );
    }
    if let Some(tasks) = r.get("tasks.max")
        && tasks != "1"
    {
        match tasks.parse::<u32>() {
            Ok(n) if n >= 1 => {} // one replication slot is read by one task, as Debezium
            _ => r.error("tasks.max", format!("{tasks:?} is not a positive integer")),
        }
    }

    warnings
}

/// `database.*`: where and how to connect.
pub(super) fn parse_connect(name: &str, r: &mut PropertyReader<'_>) -> ConnectParams {
    let host = r.required("database.hostname", "the Postgres host to connect to");
    let port = r.parse::<u16>("database.port", 5432, "a TCP port number");
    let user = r.required("database.user", "a role with REPLICATION and SELECT rights");
    let password = Secret::new(r.string("database.password", ""));
    let dbname = r.required("database.dbname", "the database to capture");
    let sslmode = r.mode::<SslMode>("database.sslmode");
    let sslrootcert = r.get("database.sslrootcert").map(Into::into);
    let sslcert: Option<std::path::PathBuf> = r.get("database.sslcert").map(Into::into);
    let sslkey: Option<std::path::PathBuf> = r.get("database.sslkey").map(Into::into);
    let sslpassword = Secret::new(r.string("database.sslpassword", ""));
    let connect_timeout_ms = r.parse::<u64>("database.connect.timeout.ms", 30_000, "milliseconds");
    ConnectParams {
        host,
        port,
        user,
        password,
        dbname,
        sslmode,
        sslrootcert,
        sslcert,
        sslkey,
        sslpassword,
        application_name: format!("tributary-{name}"),
        connect_timeout: Duration::from_millis(connect_timeout_ms),
        initial_statements: crate::conn::split_statements(
            r.get("database.initial.statements").unwrap_or_default(),
        ),
    }
}

/// `topic.prefix` and `slot.name`, checked for the characters Kafka and Postgres allow.
pub(super) fn parse_names(r: &mut PropertyReader<'_>) -> (String, String) {
    let topic_prefix = r.required(
        "topic.prefix",
        "the prefix of every topic name, e.g. \"cdc\" (Debezium's logical server name)",
    );
    if !topic_prefix.is_empty()
        && !topic_prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        r.error(
            "topic.prefix",
            format!("{topic_prefix:?} may only contain ASCII letters, digits, '.', '_' and '-'"),
        );
    }
    let slot_name = r.string("slot.name", "debezium");
    if !slot_name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        || slot_name.len() > 63
    {
        r.error(
            "slot.name",
            format!(
                "{slot_name:?} is not a valid slot name: use at most 63 lower-case letters, digits and underscores"
            ),
        );
    }
    (topic_prefix, slot_name)
}

/// `publication.autocreate.mode` and `snapshot.mode`.
pub(super) fn parse_modes(r: &mut PropertyReader<'_>) -> (AutocreateMode, SnapshotMode) {
    let publication_autocreate = r.choice(
        "publication.autocreate.mode",
        AutocreateMode::AllTables,
        &[
            ("all_tables", AutocreateMode::AllTables),
            ("filtered", AutocreateMode::Filtered),
            ("disabled", AutocreateMode::Disabled),
        ],
    );
    let snapshot_mode = r.choice(
        "snapshot.mode",
        SnapshotMode::Initial,
        &[
            ("initial", SnapshotMode::Initial),
            ("always", SnapshotMode::Always),
            ("no_data", SnapshotMode::NoData),
            ("never", SnapshotMode::NoData),
            ("initial_only", SnapshotMode::InitialOnly),
            ("when_needed", SnapshotMode::WhenNeeded),
        ],
    );
    (publication_autocreate, snapshot_mode)
}

/// `errors.max.retries` (`None`: no limit) and `retriable.restart.connector.wait.ms`.
pub(super) fn parse_restarts(r: &mut PropertyReader<'_>) -> (Option<u32>, Option<Duration>) {
    let restart_wait = "retriable.restart.connector.wait.ms";
    let retriable_restart_wait = r.get(restart_wait).is_some().then(|| {
        let ms = r.parse::<u64>(restart_wait, 1, "milliseconds");
        if ms == 0 {
            r.error(restart_wait, "must be at least 1");
        }
        Duration::from_millis(ms)
    });
    let errors_max_retries = match r.parse::<i64>("errors.max.retries", -1, "an integer") {
        -1 => None,
        n => u32::try_from(n).map(Some).unwrap_or_else(|_| {
            r.error(
                "errors.max.retries",
                format!("{n} is not -1 (no limit), 0 (no retries) or a number of retries"),
            );
            None
        }),
    };
    (errors_max_retries, retriable_restart_wait)
}

/// How column types map: the `*.handling.mode` properties and their kin.
pub(super) fn parse_type_modes(r: &mut PropertyReader<'_>) -> TypeModes {
    TypeModes {
        decimal: r.mode::<DecimalHandling>("decimal.handling.mode"),
        time: r.mode::<TimePrecision>("time.precision.mode"),
        interval: r.mode::<IntervalHandling>("interval.handling.mode"),
        binary: r.mode::<BinaryHandling>("binary.handling.mode"),
        hstore: r.mode::<HstoreHandling>("hstore.handling.mode"),
        include_unknown: r.parse::<bool>("include.unknown.datatypes", false, "true or false"),
        money_fraction_digits: r.parse::<u32>("money.fraction.digits", 2, "a non-negative integer"),
    }
}

/// What is captured: the table filters, the message prefixes and `message.key.columns`.
pub(super) fn parse_selections(
    r: &mut PropertyReader<'_>,
) -> (TableFilters, Selection, KeyColumns) {
    let mut filter_errors = Vec::new();
    let filters = TableFilters::parse(&mut |key| r.get(key).map(str::to_string), &mut |f, m| {
        filter_errors.push(ConfigError {
            field: f.into(),
            message: m,
        })
    });
    let message_prefixes = Selection::parse(
        "message.prefix",
        &mut |key| r.get(key).map(str::to_string),
        &mut |f, m| {
            filter_errors.push(ConfigError {
                field: f.into(),
                message: m,
            })
        },
    );
    r.errors.extend(filter_errors);
    let key_columns = match r.get("message.key.columns") {
        None => KeyColumns::default(),
        Some(spec) => match KeyColumns::parse(spec) {
            Ok(k) => k,
            Err(m) => {
                r.error("message.key.columns", m);
                KeyColumns::default()
            }
        },
    };

    (filters, message_prefixes, key_columns)
}

/// `snapshot.include.collection.list` (`None`: every captured table).
pub(super) fn parse_snapshot_include(r: &mut PropertyReader<'_>) -> Option<PatternList> {
    match r.get("snapshot.include.collection.list") {
        Some(spec) if !spec.trim().is_empty() => match PatternList::parse_case_insensitive(spec) {
            Ok(p) => Some(p),
            Err(m) => {
                r.error("snapshot.include.collection.list", m);
                None
            }
        },
        _ => None,
    }
}

/// The prefix of the per-table properties of `snapshot.select.statement.overrides`.
const OVERRIDE_PREFIX: &str = "snapshot.select.statement.overrides.";

/// `snapshot.select.statement.overrides` and its per-table statements: every listed table
/// needs a statement, and every statement a listed table (none is silently ignored).
pub(super) fn parse_overrides(
    raw: &BTreeMap<String, String>,
    r: &mut PropertyReader<'_>,
) -> BTreeMap<String, String> {
    let listed: Vec<String> = r
        .get("snapshot.select.statement.overrides")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    let mut out = BTreeMap::new();
    for table in &listed {
        let key = format!("{OVERRIDE_PREFIX}{table}");
        match raw.get(&key).map(|s| s.trim().trim_end_matches(';')) {
            Some(select) if !select.is_empty() => {
                out.insert(table.clone(), select.to_string());
            }
            _ => r.error(
                "snapshot.select.statement.overrides",
                format!(
                    "lists {table} but {key} is not set; give it the SELECT to read {table} with"
                ),
            ),
        }
    }
    for key in raw.keys() {
        if let Some(table) = key.strip_prefix(OVERRIDE_PREFIX)
            && !listed.iter().any(|t| t == table)
        {
            r.error(
                key,
                format!(
                    "is not used: add {table} to snapshot.select.statement.overrides, or remove it"
                ),
            );
        }
    }
    out
}

/// `skipped.operations`: comma-separated op letters, or `none`. Debezium's default is `t`.
pub(super) fn parse_skipped(r: &mut PropertyReader<'_>) -> HashSet<Op> {
    let spec = r.string("skipped.operations", "t");
    let mut out = HashSet::new();
    if spec.eq_ignore_ascii_case("none") {
        return out;
    }
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match Op::from_code(part) {
            Some(op) if op != Op::Read => {
                out.insert(op);
            }
            _ => r.error(
                "skipped.operations",
                format!("{part:?} is not an operation; use a comma-separated list of c, u, d, t, or none"),
            ),
        }
    }
    out
}
