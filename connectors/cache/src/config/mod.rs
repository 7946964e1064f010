//! The Redis sink's connector properties.
//!
//! A sink connector arrives as Kafka Connect's `{"name": …, "config": {…}}`. The Redis
//! properties are declared once, in [`PROPERTIES`]; [`RedisSinkConfig::parse`] accepts
//! exactly those, Kafka Connect's framework properties (`topics`, converters, transforms,
//! `errors.*`, …) and the names the caller handles itself (the daemon's shared job keys
//! such as `batch.size`), and returns every problem at once, each naming its property.

mod properties;
mod url;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
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

/// How the servers named in `redis.url` are used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topology {
    /// One server.
    Standalone,
    /// A Redis Cluster, reached through its seed nodes (`redis.cluster`).
    Cluster,
    /// The master the Sentinels name `master` (`redis+sentinel://`), asked again after a
    /// lost connection, so a failover is followed.
    Sentinel { master: String },
}

/// TLS settings (`rediss://`): PEM files, read when connecting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// CA certificates to trust instead of the system's (`redis.tls.ca.location`).
    pub ca: Option<PathBuf>,
    /// Client certificate and key for mutual TLS.
    pub certificate: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// Where and how to reach Redis. `Debug`/`Display` never show the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectParams {
    /// The server, the cluster's seed nodes, or the Sentinels.
    pub hosts: Vec<(String, u16)>,
    pub topology: Topology,
    /// `Some` for `rediss://`.
    pub tls: Option<TlsFiles>,
    /// Database index (`SELECT`), the URL's path; always 0 in a cluster.
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
            hosts: vec![("127.0.0.1".into(), port)],
            topology: Topology::Standalone,
            tls: None,
            db: 0,
            username: None,
            password: None,
            timeout: Duration::from_secs(10),
        }
    }
}

impl fmt::Display for ConnectParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match (&self.topology, &self.tls) {
            (Topology::Sentinel { .. }, _) => "redis+sentinel",
            (_, Some(_)) => "rediss",
            (_, None) => "redis",
        };
        write!(f, "{scheme}://")?;
        if let Some(user) = &self.username {
            write!(f, "{user}@")?;
        }
        for (i, (host, port)) in self.hosts.iter().enumerate() {
            let sep = if i > 0 { "," } else { "" };
            if host.contains(':') {
                write!(f, "{sep}[{host}]:{port}")?;
            } else {
                write!(f, "{sep}{host}:{port}")?;
            }
        }
        if let Topology::Sentinel { master } = &self.topology {
            write!(f, "/{master}")?;
        }
        write!(f, "/{}", self.db)?;
        if self.topology == Topology::Cluster {
            f.write_str(" (cluster)")?;
        }
        Ok(())
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
    /// `versions.prefix`: each cache key's position lives at `<prefix>:{<key>}`, each
    /// table's truncate floor at `<prefix>:truncate:<schema>.<table>`.
    pub versions_prefix: String,
    /// `tombstone.ttl.seconds`: how long a deleted row's position is kept.
    pub tombstone_ttl_seconds: u64,
    /// `redis.wait.replicas`: replicas that must have each batch (0: none).
    pub wait_replicas: u32,
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
        check_keys(config, known_elsewhere, &mut errors);
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
        let topology = topology(url.as_ref(), &get("redis.cluster"), &mut errors);
        let tls = tls_files(&props, url.as_ref().is_some_and(|u| u.tls), &mut errors);

        let key_pattern = get("key.pattern");
        if !crate::keys::pattern_has_pk(&key_pattern) {
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
        let versions_prefix = versions_prefix(&props, name, &mut errors);
        let wait_text = get("redis.wait.replicas");
        let wait_replicas = wait_text.parse::<u32>().unwrap_or_else(|_| {
            error(
                &mut errors,
                "redis.wait.replicas",
                format!("{wait_text:?} is not a number of replicas (0 waits for none)"),
            );
            0
        });
        let tomb_text = get("tombstone.ttl.seconds");
        let tombstone_ttl_seconds = match tomb_text.parse::<u64>() {
            Ok(n) if n > 0 => n,
            _ => {
                error(
                    &mut errors,
                    "tombstone.ttl.seconds",
                    format!(
                        "{tomb_text:?} is not a positive number of seconds (how long a deleted row's position is kept)"
                    ),
                );
                86_400
            }
        };

        let Some(url) = url.filter(|_| errors.is_empty()) else {
            return Err(ConfigErrors(errors));
        };
        Ok(RedisSinkConfig {
            name: name.to_string(),
            connect: ConnectParams {
                hosts: url.hosts,
                topology,
                tls,
                db: url.db,
                username: url.username,
                password,
                timeout: Duration::from_millis(timeout_ms),
            },
            key_pattern,
            value_format,
            ttl_seconds,
            versions_prefix,
            tombstone_ttl_seconds,
            wait_replicas,
        })
    }
}

/// Every key is the sink's, Kafka Connect's, or one the daemon reads (`known_elsewhere`).
fn check_keys(config: &Map<String, Json>, known_elsewhere: &[&str], errors: &mut Vec<ConfigError>) {
    for key in config.keys() {
        let known = property(key).is_some()
            || FRAMEWORK_NAMES.contains(&key.as_str())
            || FRAMEWORK_PREFIXES.iter().any(|p| key.starts_with(p))
            || known_elsewhere.contains(&key.as_str())
            || key == "versions.key";
        if !known {
            error(
                errors,
                key,
                "is not a property of the Redis sink; check its spelling or remove it",
            );
        }
    }
}

/// One server, a Sentinel-managed master or a cluster, from `redis.url` and
/// `redis.cluster`, and what the URL may name for it.
fn topology(url: Option<&url::RedisUrl>, cluster: &str, errors: &mut Vec<ConfigError>) -> Topology {
    let cluster = match cluster.to_ascii_lowercase().as_str() {
        "true" => true,
        "false" => false,
        other => {
            error(
                errors,
                "redis.cluster",
                format!("{other:?} is not a boolean; write true or false"),
            );
            false
        }
    };
    let topology = match url {
        Some(u) if u.sentinel_master.is_some() && cluster => {
            error(
                errors,
                "redis.cluster",
                "a Sentinel-managed master (redis+sentinel://) is not a cluster; set redis.cluster=false",
            );
            Topology::Standalone
        }
        Some(u) => match &u.sentinel_master {
            Some(master) => Topology::Sentinel {
                master: master.clone(),
            },
            None if cluster => Topology::Cluster,
            None => Topology::Standalone,
        },
        None => Topology::Standalone,
    };
    if let Some(u) = url {
        if topology == Topology::Standalone && u.hosts.len() > 1 {
            error(
                errors,
                "redis.url",
                "names several hosts: set redis.cluster=true for a cluster's seed nodes, or use redis+sentinel:// for Sentinels",
            );
        }
        if topology == Topology::Cluster && u.db != 0 {
            error(
                errors,
                "redis.url",
                format!(
                    "selects database {}, but a Redis Cluster has only database 0; remove the path",
                    u.db
                ),
            );
        }
    }
    topology
}

/// `versions.prefix` (the retired `versions.key` named with its replacement).
fn versions_prefix(
    props: &BTreeMap<String, String>,
    name: &str,
    errors: &mut Vec<ConfigError>,
) -> String {
    if props.contains_key("versions.key") {
        error(
            errors,
            "versions.key",
            "was replaced by versions.prefix: each key's position now lives beside the key (so a Redis Cluster works and deleted keys' positions expire); set versions.prefix instead, and delete the old versions hash",
        );
    }
    let versions_prefix = props
        .get("versions.prefix")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| format!("tributary:v:{name}"));
    if versions_prefix.is_empty() || versions_prefix.contains(['{', '}']) {
        error(
            errors,
            "versions.prefix",
            "must be non-empty and without { or }: braces would make Redis Cluster place the position keys in another slot than the keys they guard",
        );
    }
    versions_prefix
}

/// The TLS files, each checked to be a readable file; an error names the property for
/// a file set without `rediss://`.
fn tls_files(
    props: &BTreeMap<String, String>,
    tls: bool,
    errors: &mut Vec<ConfigError>,
) -> Option<TlsFiles> {
    let mut file = |key: &str| -> Option<PathBuf> {
        let path = props.get(key).map(|s| s.trim()).filter(|s| !s.is_empty())?;
        if !tls {
            error(
                errors,
                key,
                "is set but redis.url is not rediss://; use rediss:// to connect with TLS, or remove it",
            );
            return None;
        }
        if let Err(e) = std::fs::File::open(path) {
            error(errors, key, format!("cannot read {path:?}: {e}"));
        }
        Some(PathBuf::from(path))
    };
    let files = TlsFiles {
        ca: file("redis.tls.ca.location"),
        certificate: file("redis.tls.certificate.location"),
        key: file("redis.tls.key.location"),
    };
    if tls && files.certificate.is_some() != files.key.is_some() {
        let missing = if files.key.is_none() {
            "redis.tls.key.location"
        } else {
            "redis.tls.certificate.location"
        };
        error(
            errors,
            missing,
            "must be set too: mutual TLS needs both the client certificate and its key",
        );
    }
    tls.then_some(files)
}

#[cfg(test)]
mod tests;
