//! Single message transforms and predicates, configured as Kafka Connect configures them:
//! `transforms` names aliases in order, `transforms.<alias>.type` the class and
//! `transforms.<alias>.*` its properties; `transforms.<alias>.predicate` names an alias of
//! `predicates` (`predicates.<alias>.type`, …), and `transforms.<alias>.negate` inverts it.
//!
//! Each implemented class matches its Java implementation record for record (the
//! differential test `tests/transforms_diff.rs` runs both on the same records). A class
//! that is not implemented is refused, naming it.

mod cast;
mod debezium;
mod decode_message;
mod fields;
mod flatten;
mod header_to_value;
mod headers;
mod iso_time;
mod json_data;
mod logical_table;
mod outbox;
mod partition_routing;
mod predicates;
mod routers;
mod shapes;
mod simple_date;
mod timestamp_converter;
mod timezone;
mod util;

use std::collections::BTreeMap;
use std::sync::Arc;

pub(crate) use util::kind as java_class;

use crate::config::Findings;
use crate::record::Record;

/// A transform could not apply to a record (the record does not have the shape it needs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("transform {alias:?} ({class}): {message}")]
pub struct TransformError {
    pub alias: String,
    pub class: &'static str,
    pub message: String,
}

/// One transform: a record in, the record (changed or not) or nothing (dropped) out.
pub trait Transform: Send {
    fn apply(&mut self, record: Record) -> Result<Option<Record>, String>;
}

/// A condition on a record, deciding whether a transform applies.
pub trait Predicate: Send + Sync {
    fn test(&self, record: &Record) -> bool;
}

struct Stage {
    alias: String,
    class: &'static str,
    transform: Box<dyn Transform>,
    /// The predicate, and whether it is negated.
    predicate: Option<(Arc<dyn Predicate>, bool)>,
}

/// A connector's transforms, in order.
#[derive(Default)]
pub struct Chain {
    stages: Vec<Stage>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.stages.iter().map(|s| (&s.alias, s.class)))
            .finish()
    }
}

impl Chain {
    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// Runs `record` through every transform whose predicate holds; `None` when one dropped
    /// it.
    pub fn apply(&mut self, mut record: Record) -> Result<Option<Record>, TransformError> {
        for stage in &mut self.stages {
            if let Some((p, negate)) = &stage.predicate
                && p.test(&record) == *negate
            {
                continue;
            }
            match stage.transform.apply(record) {
                Ok(Some(r)) => record = r,
                Ok(None) => return Ok(None),
                Err(message) => {
                    return Err(TransformError {
                        alias: stage.alias.clone(),
                        class: stage.class,
                        message,
                    });
                }
            }
        }
        Ok(Some(record))
    }

    /// Reads `transforms` and `predicates`; every problem goes to `found`, naming its
    /// property.
    pub fn parse(props: &BTreeMap<String, String>, found: &mut Findings) -> Chain {
        let mut predicates: BTreeMap<String, Arc<dyn Predicate>> = BTreeMap::new();
        for alias in aliases(props, "predicates") {
            let prefix = format!("predicates.{alias}.");
            let settings = Settings::new(props, &prefix);
            let Some(class) = settings.class(found, "predicate", &alias) else {
                continue;
            };
            match predicates::build(class, &settings, found) {
                Some(Ok(p)) => {
                    predicates.insert(alias, p);
                }
                Some(Err(())) => {}
                None => refuse(found, &format!("{prefix}type"), class, "predicate", &alias),
            }
        }
        let mut stages = Vec::new();
        for alias in aliases(props, "transforms") {
            let prefix = format!("transforms.{alias}.");
            let settings = Settings::new(props, &prefix);
            let Some(class) = settings.class(found, "transform", &alias) else {
                continue;
            };
            let predicate = match settings.get("predicate") {
                None | Some("") => {
                    if settings.get("negate").is_some() {
                        found.error(
                            &format!("{prefix}negate"),
                            "has no effect without a predicate: set predicate too, or remove negate",
                        );
                    }
                    None
                }
                Some(name) => match predicates.get(name) {
                    Some(p) => {
                        let negate = settings.boolean(found, "negate", false);
                        Some((p.clone(), negate))
                    }
                    None => {
                        found.error(
                            &format!("{prefix}predicate"),
                            format!("{name:?} is not a predicate alias listed in predicates"),
                        );
                        None
                    }
                },
            };
            let built = fields::build(class, &settings, found)
                .or_else(|| routers::build(class, &settings, found))
                .or_else(|| debezium::build(class, &settings, found))
                .or_else(|| outbox::build(class, &settings, found))
                .or_else(|| decode_message::build(class, &settings, found))
                .or_else(|| shapes::build(class, &settings, found))
                .or_else(|| headers::build(class, &settings, found))
                .or_else(|| cast::build(class, &settings, found))
                .or_else(|| timestamp_converter::build(class, &settings, found))
                .or_else(|| logical_table::build(class, &settings, found))
                .or_else(|| header_to_value::build(class, &settings, found))
                .or_else(|| partition_routing::build(class, &settings, found))
                .or_else(|| timezone::build(class, &settings, found));
            match built {
                Some(Ok((class, transform))) => stages.push(Stage {
                    alias,
                    class,
                    transform,
                    predicate,
                }),
                Some(Err(())) => {}
                None => refuse(found, &format!("{prefix}type"), class, "transform", &alias),
            }
        }
        Chain { stages }
    }
}

/// The aliases listed in `key` (`transforms` or `predicates`).
fn aliases(props: &BTreeMap<String, String>, key: &str) -> Vec<String> {
    props
        .get(key)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn refuse(found: &mut Findings, field: &str, class: &str, kind: &str, alias: &str) {
    let message = if util::is_scripted(class) {
        format!(
            "{class:?} runs scripts (Groovy, JavaScript) on a JVM, which Tributary does not embed\nHINT: remove the {kind} {alias:?}"
        )
    } else {
        format!(
            "{class:?} is not implemented by Tributary: records would not be transformed as configured\nHINT: remove the {kind} {alias:?}, or apply it in a Kafka Connect or stream-processing step downstream; docs/converters-and-transforms.md lists what is implemented"
        )
    };
    found.error(field, message);
}

/// The properties of one transform or predicate (`transforms.<alias>.` stripped).
pub(crate) struct Settings<'a> {
    prefix: String,
    props: BTreeMap<&'a str, &'a str>,
}

impl<'a> Settings<'a> {
    fn new(all: &'a BTreeMap<String, String>, prefix: &str) -> Settings<'a> {
        Settings {
            prefix: prefix.to_owned(),
            props: all
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix(prefix)?, v.as_str())))
                .collect(),
        }
    }

    /// The full property name of `key`.
    pub fn field(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.props.get(key).map(|v| v.trim())
    }

    fn class(&self, found: &mut Findings, kind: &str, alias: &str) -> Option<&'a str> {
        match self.get("type") {
            Some(c) if !c.is_empty() => Some(c),
            _ => {
                found.error(
                    &self.field("type"),
                    format!("is required: the class of the {kind} {alias:?}"),
                );
                None
            }
        }
    }

    /// A required string property.
    pub fn required(&self, found: &mut Findings, key: &str) -> Option<&'a str> {
        match self.get(key) {
            Some(v) if !v.is_empty() => Some(v),
            _ => {
                found.error(&self.field(key), "is required");
                None
            }
        }
    }

    pub fn boolean(&self, found: &mut Findings, key: &str, default: bool) -> bool {
        match self.get(key).map(str::to_ascii_lowercase).as_deref() {
            None | Some("") => default,
            Some("true") => true,
            Some("false") => false,
            Some(v) => {
                found.error(&self.field(key), format!("{v:?} is not true or false"));
                default
            }
        }
    }

    /// A comma-separated list (Kafka's `ConfigDef.Type.LIST`).
    pub fn list(&self, key: &str) -> Vec<&'a str> {
        self.get(key)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every property not in `known` is refused: it would have no effect.
    pub fn only(&self, found: &mut Findings, known: &[&str]) -> bool {
        let mut ok = true;
        for key in self.props.keys() {
            if !["type", "predicate", "negate"].contains(key) && !known.contains(key) {
                found.error(
                    &self.field(key),
                    format!(
                        "is not a property of this class (it takes {})",
                        known.join(", ")
                    ),
                );
                ok = false;
            }
        }
        ok
    }
}

/// What a `build` function gives for a class it knows: the transform, or `Err` when its
/// settings were refused (the problems are in `found`).
pub(crate) type Built = Result<(&'static str, Box<dyn Transform>), ()>;
