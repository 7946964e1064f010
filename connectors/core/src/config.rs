//! Connector properties as Kafka Connect describes them, and config errors naming them.
//!
//! Every connector crate lists its properties once as [`PropertyDef`]s: its parser accepts
//! exactly those, and the REST API serves them as Kafka Connect's `ConfigDef`. A parser
//! returns all problems at once as [`ConfigErrors`], each naming the property to fix.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value as Json};

/// Kafka Connect's `ConfigDef.Type` of a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PropertyKind {
    String,
    Int,
    Long,
    Boolean,
    Password,
    List,
    Class,
}

impl PropertyKind {
    /// Kafka Connect's spelling (`"STRING"`, `"INT"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            PropertyKind::String => "STRING",
            PropertyKind::Int => "INT",
            PropertyKind::Long => "LONG",
            PropertyKind::Boolean => "BOOLEAN",
            PropertyKind::Password => "PASSWORD",
            PropertyKind::List => "LIST",
            PropertyKind::Class => "CLASS",
        }
    }
}

/// Kafka Connect's `ConfigDef.Importance` of a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Importance {
    High,
    Medium,
    Low,
}

impl Importance {
    /// Kafka Connect's spelling (`"HIGH"`, `"MEDIUM"`, `"LOW"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Importance::High => "HIGH",
            Importance::Medium => "MEDIUM",
            Importance::Low => "LOW",
        }
    }
}

/// One property of the connector, as Kafka Connect describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PropertyDef {
    pub name: &'static str,
    pub kind: PropertyKind,
    /// The value used when the property is not set, as text; `None` when there is none.
    pub default: Option<&'static str>,
    /// The parser refuses a config without it.
    pub required: bool,
    pub importance: Importance,
    pub group: &'static str,
    pub documentation: &'static str,
}

impl PropertyDef {
    pub const fn new(
        name: &'static str,
        kind: PropertyKind,
        group: &'static str,
        documentation: &'static str,
    ) -> Self {
        PropertyDef {
            name,
            kind,
            default: None,
            required: false,
            importance: Importance::Medium,
            group,
            documentation,
        }
    }

    pub const fn default_value(mut self, value: &'static str) -> Self {
        self.default = Some(value);
        self
    }

    pub const fn is_required(mut self) -> Self {
        self.required = true;
        self.importance = Importance::High;
        self
    }

    pub const fn high(mut self) -> Self {
        self.importance = Importance::High;
        self
    }

    pub const fn low(mut self) -> Self {
        self.importance = Importance::Low;
        self
    }
}

/// One problem with a connector config, naming the property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Every problem found in a connector config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid connector configuration: ")?;
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Kafka Connect keys every sink connector accepts and leaves to the framework: exact names.
pub const SINK_FRAMEWORK_NAMES: &[&str] = &[
    "name",
    "connector.class",
    "tasks.max",
    "topics",
    "topics.regex",
];

/// Kafka Connect keys every sink connector accepts and leaves to the framework: prefixes.
pub const SINK_FRAMEWORK_PREFIXES: &[&str] = &[
    "key.converter",
    "value.converter",
    "header.converter",
    "transforms",
    "predicates",
    "errors.",
    "consumer.override.",
    "config.action.reload",
];

/// A connector config's properties as Kafka Connect reads them: strings, with numbers and
/// booleans taken as their text and nulls left out. Any other value is an error naming it.
pub fn property_strings(
    config: &Map<String, Json>,
) -> (BTreeMap<String, String>, Vec<ConfigError>) {
    let mut props = BTreeMap::new();
    let mut errors = Vec::new();
    for (k, v) in config {
        let text = match v {
            Json::String(s) => s.clone(),
            Json::Number(n) => n.to_string(),
            Json::Bool(b) => b.to_string(),
            Json::Null => continue,
            _ => {
                errors.push(ConfigError {
                    field: k.clone(),
                    message: "must be a string, number or boolean".into(),
                });
                continue;
            }
        };
        props.insert(k.clone(), text);
    }
    (props, errors)
}

/// Reads properties, collecting every problem (each naming its property).
pub struct PropertyReader<'a> {
    props: &'a BTreeMap<String, String>,
    pub errors: Vec<ConfigError>,
}

impl<'a> PropertyReader<'a> {
    pub fn new(props: &'a BTreeMap<String, String>, errors: Vec<ConfigError>) -> Self {
        PropertyReader { props, errors }
    }

    pub fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(ConfigError {
            field: field.to_string(),
            message: message.into(),
        });
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.props
            .get(key)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }

    pub fn string(&self, key: &str, default: &str) -> String {
        self.get(key).unwrap_or(default).to_string()
    }

    pub fn required(&mut self, key: &str, hint: &str) -> String {
        match self.get(key) {
            Some(v) => v.to_string(),
            None => {
                self.error(key, format!("is required: {hint}"));
                String::new()
            }
        }
    }

    pub fn parse<T: std::str::FromStr>(&mut self, key: &str, default: T, what: &str) -> T {
        match self.get(key) {
            None => default,
            Some(v) => match v.parse() {
                Ok(t) => t,
                Err(_) => {
                    self.error(key, format!("{v:?} is not {what}"));
                    default
                }
            },
        }
    }

    pub fn choice<T: Copy>(&mut self, key: &str, default: T, options: &[(&str, T)]) -> T {
        let Some(v) = self.get(key) else {
            return default;
        };
        let lower = v.to_ascii_lowercase();
        match options.iter().find(|(name, _)| *name == lower) {
            Some((_, t)) => *t,
            None => {
                let allowed: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
                self.error(
                    key,
                    format!("{v:?} is not valid; use one of: {}", allowed.join(", ")),
                );
                default
            }
        }
    }

    /// A whole number of at least `min`.
    pub fn number(&mut self, key: &str, default: u64, min: u64) -> u64 {
        let Some(v) = self.get(key) else {
            return default;
        };
        match v.parse::<u64>() {
            Ok(n) if n >= min => n,
            _ => {
                let v = v.to_string();
                self.error(key, format!("{v:?} is not an integer of at least {min}"));
                default
            }
        }
    }

    pub fn mode<T: std::str::FromStr + Default>(&mut self, key: &str) -> T
    where
        T::Err: fmt::Display,
    {
        match self.get(key) {
            None => T::default(),
            Some(v) => match v.parse() {
                Ok(t) => t,
                Err(e) => {
                    self.error(key, e.to_string());
                    T::default()
                }
            },
        }
    }
}
