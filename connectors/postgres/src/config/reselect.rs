//! `post.processors`: Debezium's column reselector (`ReselectColumnsPostProcessor`), the one
//! post processor Debezium ships for relational connectors.
//!
//! Each name `post.processors` lists is configured under `post.processors.<name>.` (or,
//! Debezium's older convention, under `<name>.`): its `type` must be the reselector's class,
//! and its options are the reselector's. Any other class is a Java class Tributary cannot
//! load, an option the reselector does not have is refused naming it, and options of a
//! post processor that is not listed are refused as unused, so nothing configured is
//! silently ignored.

use std::collections::BTreeMap;

use tributary_core::config::PropertyReader;

use super::Selection;

/// Debezium's class of the column reselector.
pub const RESELECTOR_CLASS: &str = "io.debezium.processors.reselect.ReselectColumnsPostProcessor";

const PREFIX: &str = "post.processors.";

/// The options of a reselector, after its prefix.
const OPTIONS: &[&str] = &[
    "type",
    "reselect.columns.include.list",
    "reselect.columns.exclude.list",
    "reselect.unavailable.values",
    "reselect.null.values",
    "reselect.use.event.key",
    "reselect.error.handling.mode",
];

/// One configured column reselector: a created or updated row's value columns that hold the
/// unavailable-value placeholder (an unchanged TOASTed value) or NULL are read again from
/// the table by key, as Debezium's `ReselectColumnsPostProcessor` reads them.
#[derive(Debug, Clone)]
pub struct Reselector {
    /// Its name in `post.processors`.
    pub name: String,
    /// `reselect.columns.include.list` / `.exclude.list`, matched regardless of case against
    /// `schema.table:column`.
    pub columns: Selection,
    /// `reselect.unavailable.values` (default true): re-read placeholders.
    pub unavailable_values: bool,
    /// `reselect.null.values` (default true): re-read NULLs.
    pub null_values: bool,
    /// `reselect.use.event.key` (default false): look the row up by the event's key
    /// columns (`message.key.columns`) rather than the table's primary key.
    pub use_event_key: bool,
    /// `reselect.error.handling.mode=fail` (default warn): a failed lookup, or a row no
    /// longer there, is an error of the event rather than a warning.
    pub fail_on_error: bool,
}

/// The names `post.processors` lists.
pub fn listed(raw: &BTreeMap<String, String>) -> Vec<String> {
    raw.get("post.processors")
        .map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `key` configures a post processor (listed or not: an unlisted one is refused by
/// [`parse`]).
pub fn is_post_processor_key(key: &str, listed: &[String]) -> bool {
    key.starts_with(PREFIX)
        || listed.iter().any(|n| {
            key.strip_prefix(n.as_str())
                .is_some_and(|k| k.starts_with('.'))
        })
}

/// Reads every listed post processor, reporting problems through `r`.
pub fn parse(raw: &BTreeMap<String, String>, r: &mut PropertyReader<'_>) -> Vec<Reselector> {
    let listed = listed(raw);
    let mut out = Vec::new();
    for name in &listed {
        let new = format!("{PREFIX}{name}.");
        let old = format!("{name}.");
        let prefix = if raw.keys().any(|k| k.starts_with(&new)) {
            // Debezium then reads nothing under the older convention's prefix.
            for key in raw.keys() {
                if key.starts_with(&old) && super::property(key).is_none() {
                    r.error(
                        key,
                        format!(
                            "is not used: {new}* is set, so only options under that prefix are read"
                        ),
                    );
                }
            }
            new
        } else {
            old
        };
        for key in raw.keys() {
            if let Some(option) = key.strip_prefix(&prefix)
                && !OPTIONS.contains(&option)
                && super::property(key).is_none()
            {
                r.error(
                    key,
                    format!(
                        "is not an option of the column reselector; its options are {}",
                        OPTIONS.join(", ")
                    ),
                );
            }
        }
        let key = |option: &str| format!("{prefix}{option}");
        match r.get(&key("type")) {
            Some(RESELECTOR_CLASS) => {}
            Some(other) => {
                let msg = format!(
                    "{other:?} is a Java class, and Tributary runs no Java code; the one post processor it runs is {RESELECTOR_CLASS}"
                );
                r.error(&key("type"), msg);
                continue;
            }
            None => {
                r.error(
                    "post.processors",
                    format!(
                        "lists {name:?} but {PREFIX}{name}.type is not set; set it to {RESELECTOR_CLASS}"
                    ),
                );
                continue;
            }
        }
        let mut selection_errors = Vec::new();
        let columns = Selection::parse(
            &key("reselect.columns"),
            &mut |k| r.get(k).map(str::to_string),
            &mut |f, m| selection_errors.push((f.to_string(), m)),
        );
        for (field, message) in selection_errors {
            r.error(&field, message);
        }
        let fail_on_error = match r.get(&key("reselect.error.handling.mode")) {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("warn") => false,
            Some(v) if v.eq_ignore_ascii_case("fail") => true,
            Some(v) => {
                let msg = format!("invalid value {v:?}; allowed values are: warn, fail");
                r.error(&key("reselect.error.handling.mode"), msg);
                false
            }
        };
        out.push(Reselector {
            name: name.clone(),
            columns,
            unavailable_values: r.parse(&key("reselect.unavailable.values"), true, "true or false"),
            null_values: r.parse(&key("reselect.null.values"), true, "true or false"),
            use_event_key: r.parse(&key("reselect.use.event.key"), false, "true or false"),
            fail_on_error,
        });
    }
    for key in raw.keys() {
        if let Some(rest) = key.strip_prefix(PREFIX)
            && !listed.iter().any(|n| rest.starts_with(&format!("{n}.")))
        {
            let name = rest.split('.').next().unwrap_or(rest);
            r.error(
                key,
                format!("is not used: add {name} to post.processors, or remove it"),
            );
        }
    }
    out
}
