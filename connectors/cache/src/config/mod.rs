//! The Redis sink's connector properties.
//!
//! A sink connector arrives as Kafka Connect's `{"name": …, "config": {…}}`. The Redis
//! properties are declared once, in [`PROPERTIES`]; [`RedisSinkConfig::parse`] accepts
//! exactly those, Kafka Connect's framework properties (`topics`, converters, transforms,
//! `errors.*`, …) and the names the caller handles itself (the daemon's shared job keys
//! such as `batch.size`), and returns every problem at once, each naming its property.

mod properties;
mod url;

use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value as Json};
use tributary_core::Secret;
use tributary_core::config::{ConfigError, ConfigErrors};

pub use properties::{PROPERTIES, property};

use tributary_core::config::{
    SINK_FRAMEWORK_NAMES as FRAMEWORK_NAMES, SINK_FRAMEWORK_PREFIXES as FRAMEWORK_PREFIXES,
    property_strings,
};

/// How a row is stored under its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueFormat {
    /// The row as one JSON object string (`SET`).
    Json,
    /// A Redis hash with a field per non-null column (`HSET`): strings as they are, other
    /// values as JSON text.
    Hash,
}

/// Where and how to reach Redis. `Debug`/`Display` never show the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectParams {
    pub host: String,
    pub port: u16,
    /// Database index (`SELECT`), the URL's path.
    pub db: u32,
    /// ACL user (Redis 6+); `None` authenticates as the default user.
    pub username: Option<String>,
    /// `None`: send no `AUTH`.
    pub password: Option<Secret>,
    /// Bound on connecting and on waiting for each reply.
    pub timeout: Duration,
}

impl ConnectParams {
    /// Plain TCP to `127.0.0.1:port`, database 0, no credentials, 10 s timeout.
    pub fn local(port: u16) -> Self {
        ConnectParams {
            host: "127.0.0.1".into(),
            port,
            db: 0,
            username: None,
            password: None,
            timeout: Duration::from_secs(10),
        }
    }
}

impl fmt::Display for ConnectParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("redis://")?;
        if let Some(user) = &self.username {
            write!(f, "{user}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}/{}", self.host, self.port, self.db)
        } else {
            write!(f, "{}:{}/{}", self.host, self.port, self.db)
        }
    }
}

/// A parsed, validated Redis sink config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisSinkConfig {
    /// The connector's name.
    pub name: String,
    pub connect: ConnectParams,
    /// `key.pattern`: always contains `{pk}`.
    pub key_pattern: String,
    pub value_format: ValueFormat,
    /// `ttl.seconds`; 0 keeps keys without expiry.
    pub ttl_seconds: u64,
    /// `versions.key`: the hash of applied positions per cache key and truncate floors.
    pub versions_key: String,
}

fn error(errors: &mut Vec<ConfigError>, field: &str, message: impl Into<String>) {
    errors.push(ConfigError {
        field: field.into(),
        message: message.into(),
    });
}

impl RedisSinkConfig {
    /// Parses and validates a connector's properties. `known_elsewhere` names further
    /// properties to accept without reading them (the job keys the daemon handles, such
    /// as `batch.size` or `fields.include`); any other unknown property is an error.
    pub fn parse(
        name: &str,
        config: &Map<String, Json>,
        known_elsewhere: &[&str],
    ) -> Result<Self, ConfigErrors> {
        let (props, mut errors) = property_strings(config);
        if name.trim().is_empty() {
            error(&mut errors, "name", "must not be empty");
        }
        for key in config.keys() {
            let known = property(key).is_some()
                || FRAMEWORK_NAMES.contains(&key.as_str())
                || FRAMEWORK_PREFIXES.iter().any(|p| key.starts_with(p))
                || known_elsewhere.contains(&key.as_str());
            if !known {
                error(
                    &mut errors,
                    key,
                    "is not a property of the Redis sink; check its spelling or remove it",
                );
            }
        }
        let get = |key: &str| -> String {
            props
                .get(key)
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .or_else(|| property(key).and_then(|p| p.default))
                .unwrap_or_default()
                .to_string()
        };

        let url_text = get("redis.url");
        let url = url::parse(&url_text)
            .map_err(|m| error(&mut errors, "redis.url", m))
            .ok();
        let timeout_ms = match get("redis.timeout.ms").parse::<u64>() {
            Ok(n) if n > 0 => n,
            _ => {
                error(
                    &mut errors,
                    "redis.timeout.ms",
                    "must be a positive number of milliseconds",
                );
                10_000
            }
        };
        // The password property wins over the URL's; an empty one means "not set".
        let password = props
            .get("redis.password")
            .filter(|p| !p.is_empty())
            .cloned()
            .or_else(|| url.as_ref().and_then(|u| u.password.clone()))
            .map(Secret::new);

        let key_pattern = get("key.pattern");
        if !crate::script::pattern_has_pk(&key_pattern) {
            error(
                &mut errors,
                "key.pattern",
                format!(
                    "{key_pattern:?} has no {{pk}} placeholder, so every row of a table would share one key; write e.g. {{schema}}.{{table}}:{{pk}}"
                ),
            );
        }
        let value_format = match get("value.format").to_ascii_lowercase().as_str() {
            "json" => ValueFormat::Json,
            "hash" => ValueFormat::Hash,
            other => {
                error(
                    &mut errors,
                    "value.format",
                    format!("{other:?} is not valid; use one of: json, hash"),
                );
                ValueFormat::Json
            }
        };
        let ttl_text = get("ttl.seconds");
        let ttl_seconds = ttl_text.parse::<u64>().unwrap_or_else(|_| {
            error(
                &mut errors,
                "ttl.seconds",
                format!("{ttl_text:?} is not a number of seconds (0 keeps keys forever)"),
            );
            0
        });
        let versions_key = props
            .get("versions.key")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| format!("tributary:versions:{name}"));
        if versions_key.is_empty() {
            error(
                &mut errors,
                "versions.key",
                "must not be empty: the sink keeps the position of every key it wrote there",
            );
        }

        let Some(url) = url.filter(|_| errors.is_empty()) else {
            return Err(ConfigErrors(errors));
        };
        Ok(RedisSinkConfig {
            name: name.to_string(),
            connect: ConnectParams {
                host: url.host,
                port: url.port,
                db: url.db,
                username: url.username,
                password,
                timeout: Duration::from_millis(timeout_ms),
            },
            key_pattern,
            value_format,
            ttl_seconds,
            versions_key,
        })
    }
}

#[cfg(test)]
mod tests;
