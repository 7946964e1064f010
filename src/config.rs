//! The daemon's configuration: a TOML file, every key overridable by an environment
//! variable `TRIBUTARY__SECTION__KEY` (e.g. `TRIBUTARY__KAFKA__BOOTSTRAP_SERVERS`).
//!
//! ```toml
//! data_dir = "./data"
//! [api]
//! listen = "127.0.0.1:8083"
//! [kafka]
//! bootstrap_servers = "127.0.0.1:9092"
//! "security.protocol" = "plaintext"   # any other key: a librdkafka property
//! [schema_registry]
//! url = ""                            # empty: the embedded registry
//! listen = "127.0.0.1:8081"
//! [log]
//! format = "text"
//! level = "info"
//! [connect]                           # the worker's converters, as Kafka Connect's worker config
//! "value.converter" = "org.apache.kafka.connect.json.JsonConverter"
//! "value.converter.schemas.enable" = false
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use std::time::Duration;

use serde::Deserialize;
use tributary_core::Secret;
use tributary_kafka::KafkaConfig;

/// The daemon configuration, validated.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    pub data_dir: PathBuf,
    pub api_listen: SocketAddr,
    pub api: ApiConfig,
    /// How long SIGTERM waits for connectors to finish their open batch.
    pub shutdown_timeout: Duration,
    pub kafka: KafkaConfig,
    pub registry: RegistryConfig,
    pub log_format: Option<String>,
    pub log_level: Option<String>,
    /// `[connect]`: the worker-level converters (`key.converter`, `value.converter`,
    /// `header.converter` and their settings) a connector that names none uses.
    pub connect: BTreeMap<String, String>,
}

/// `[api]` beyond the listen address.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub auth: ApiAuth,
    /// Larger request bodies get 413.
    pub max_body_bytes: usize,
    /// A request that takes longer gets 503.
    pub request_timeout: Duration,
}

/// Who may call the API (or the embedded registry).
pub use tributary_core::HttpAuth as ApiAuth;

/// `[schema_registry]`.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// External registry; `None`: serve the embedded one on `listen`.
    pub url: Option<String>,
    pub listen: SocketAddr,
    /// `user:password` for HTTP basic auth to the external registry.
    pub basic_auth: Option<String>,
    pub bearer_token: Option<String>,
    /// Who may call the embedded registry (`auth`, `username`, `password`, `token`).
    pub serve_auth: ApiAuth,
    /// `mode = "readonly"`: only the daemon writes to the embedded registry.
    pub read_only: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    data_dir: Option<PathBuf>,
    shutdown_timeout_ms: Option<u64>,
    #[serde(default)]
    api: Api,
    #[serde(default)]
    kafka: Kafka,
    #[serde(default)]
    schema_registry: Registry,
    #[serde(default)]
    log: Log,
    #[serde(default)]
    connect: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Api {
    listen: Option<String>,
    /// "none", "basic" or "bearer"; unset: none on loopback, required elsewhere.
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
    token: Option<String>,
    max_body_bytes: Option<usize>,
    request_timeout_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
struct Kafka {
    bootstrap_servers: Option<String>,
    offsets_topic: Option<String>,
    offsets_topic_partitions: Option<i32>,
    offsets_topic_replication_factor: Option<i16>,
    #[serde(flatten)]
    properties: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Registry {
    url: Option<String>,
    listen: Option<String>,
    basic_auth: Option<String>,
    bearer_token: Option<String>,
    /// The embedded registry's own credentials: "none", "basic" or "bearer".
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
    token: Option<String>,
    /// "readwrite" (default) or "readonly".
    mode: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Log {
    format: Option<String>,
    level: Option<String>,
}

/// A configuration problem, naming the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("could not read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("invalid configuration:\n{}", .0.join("\n"))]
    Invalid(Vec<String>),
}

impl DaemonConfig {
    /// Reads the file (if given) and applies `TRIBUTARY__*` environment overrides.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let text = match path {
            Some(p) => std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                path: p.to_path_buf(),
                source,
            })?,
            None => String::new(),
        };
        let shown = path.unwrap_or(Path::new("(none)")).to_path_buf();
        Self::parse(&text, &shown, std::env::vars())
    }

    /// Parses TOML text with environment overrides.
    pub fn parse(
        text: &str,
        path: &Path,
        env: impl Iterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let syntax = |message: String| ConfigError::Syntax {
            path: path.to_path_buf(),
            message,
        };
        let mut table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| syntax(e.to_string()))?;
        apply_env(&mut table, env);
        let file: File = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| syntax(e.to_string()))?;
        file.validate()
    }
}

/// `TRIBUTARY__SECTION__KEY=value` sets `[section] key = value` (and `TRIBUTARY__KEY` a
/// top-level key). Values that parse as TOML numbers or booleans keep that type.
fn apply_env(table: &mut toml::Table, env: impl Iterator<Item = (String, String)>) {
    for (name, value) in env {
        let Some(rest) = name.strip_prefix("TRIBUTARY__") else {
            continue;
        };
        let path: Vec<String> = rest.split("__").map(|s| s.to_ascii_lowercase()).collect();
        let parsed = value
            .parse::<i64>()
            .map(toml::Value::Integer)
            .or_else(|_| value.parse::<bool>().map(toml::Value::Boolean))
            .unwrap_or_else(|_| toml::Value::String(value.clone()));
        match path.as_slice() {
            [key] => {
                table.insert(key.clone(), parsed);
            }
            [section, key] => {
                let entry = table
                    .entry(section.clone())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                if let toml::Value::Table(t) = entry {
                    t.insert(key.clone(), parsed);
                }
            }
            _ => {}
        }
    }
}

fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl File {
    fn validate(self) -> Result<DaemonConfig, ConfigError> {
        let mut errors = Vec::new();
        let mut addr = |key: &str, value: Option<String>, default: &str| -> SocketAddr {
            let text = value.unwrap_or_else(|| default.to_string());
            text.parse().unwrap_or_else(|_| {
                errors.push(format!(
                    "{key}: {text:?} is not a socket address; use host:port such as {default}"
                ));
                default.parse().expect("valid default")
            })
        };
        let api_listen = addr("api.listen", self.api.listen.clone(), "127.0.0.1:8083");
        let registry_listen = addr(
            "schema_registry.listen",
            self.schema_registry.listen,
            "127.0.0.1:8081",
        );
        let url = self
            .schema_registry
            .url
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty());
        if let Some(u) = &url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            errors.push(format!(
                "schema_registry.url: {u:?} is not an http:// or https:// URL; leave it empty for the embedded registry"
            ));
        }
        if let Some(b) = &self.schema_registry.basic_auth
            && !b.contains(':')
        {
            errors.push("schema_registry.basic_auth: use the form user:password".to_string());
        }
        let defaults = KafkaConfig::default();
        let kafka = KafkaConfig {
            bootstrap_servers: self
                .kafka
                .bootstrap_servers
                .unwrap_or(defaults.bootstrap_servers),
            // Environment keys arrive with underscores; librdkafka names use dots.
            properties: self
                .kafka
                .properties
                .iter()
                .map(|(k, v)| (k.replace('_', "."), value_text(v)))
                .collect(),
            offsets_topic: self.kafka.offsets_topic.unwrap_or(defaults.offsets_topic),
            offsets_topic_partitions: self
                .kafka
                .offsets_topic_partitions
                .unwrap_or(defaults.offsets_topic_partitions),
            offsets_topic_replication_factor: self
                .kafka
                .offsets_topic_replication_factor
                .unwrap_or(defaults.offsets_topic_replication_factor),
        };
        errors.extend(kafka.check().into_iter().map(|e| e.to_string()));
        // Java's sasl.jaas.config becomes librdkafka's properties; unknown ones are named.
        let kafka = kafka.clone().normalized("kafka.").unwrap_or_else(|es| {
            errors.extend(es.into_iter().map(|e| e.to_string()));
            kafka
        });
        if let Some(f) = &self.log.format
            && f != "text"
            && f != "json"
        {
            errors.push(format!("log.format: {f:?} is not valid; use text or json"));
        }
        let auth = http_auth(
            AuthKeys {
                section: "api",
                what: "REST API",
                auth: &self.api.auth,
                username: &self.api.username,
                password: &self.api.password,
                token: &self.api.token,
            },
            api_listen,
            &mut errors,
        );
        // Who may call the embedded registry; an external one has its own rules.
        let serve_auth = if url.is_none() {
            http_auth(
                AuthKeys {
                    section: "schema_registry",
                    what: "embedded schema registry",
                    auth: &self.schema_registry.auth,
                    username: &self.schema_registry.username,
                    password: &self.schema_registry.password,
                    token: &self.schema_registry.token,
                },
                registry_listen,
                &mut errors,
            )
        } else {
            ApiAuth::None
        };
        let read_only = match self.schema_registry.mode.as_deref().map(str::trim) {
            None | Some("") => false,
            Some(m) if m.eq_ignore_ascii_case("readwrite") => false,
            Some(m) if m.eq_ignore_ascii_case("readonly") => true,
            Some(other) => {
                errors.push(format!(
                    "schema_registry.mode: {other:?} is not valid; use readwrite or readonly"
                ));
                false
            }
        };
        let api = ApiConfig {
            auth,
            max_body_bytes: self.api.max_body_bytes.unwrap_or(1 << 20),
            request_timeout: Duration::from_millis(self.api.request_timeout_ms.unwrap_or(90_000)),
        };
        let connect = worker_converters(&self.connect, &mut errors);
        if !errors.is_empty() {
            return Err(ConfigError::Invalid(errors));
        }
        Ok(DaemonConfig {
            data_dir: self.data_dir.unwrap_or_else(|| PathBuf::from("./data")),
            api_listen,
            api,
            shutdown_timeout: Duration::from_millis(self.shutdown_timeout_ms.unwrap_or(30_000)),
            kafka,
            registry: RegistryConfig {
                url,
                listen: registry_listen,
                basic_auth: self.schema_registry.basic_auth,
                bearer_token: self.schema_registry.bearer_token,
                serve_auth,
                read_only,
            },
            log_format: self.log.format,
            log_level: self.log.level,
            connect,
        })
    }
}

/// `[connect]`: Kafka Connect's worker-level converter keys (environment keys arrive with
/// underscores for dots), checked as a connector's would be.
fn worker_converters(
    table: &BTreeMap<String, toml::Value>,
    errors: &mut Vec<String>,
) -> BTreeMap<String, String> {
    let connect: BTreeMap<String, String> = table
        .iter()
        .map(|(k, v)| (k.replace('_', "."), value_text(v)))
        .collect();
    for key in connect.keys() {
        let converter = ["key.converter", "value.converter", "header.converter"]
            .iter()
            .any(|c| key == c || key.starts_with(&format!("{c}.")));
        if !converter {
            errors.push(format!(
                "connect.{key}: is not read here: [connect] holds the worker's converters (key.converter, value.converter, header.converter and their settings); set other properties on each connector"
            ));
        }
    }
    let mut found = tributary_connect::config::Findings::default();
    tributary_connect::Pipeline::parse(&BTreeMap::new(), &connect, &mut found);
    errors.extend(
        found
            .errors
            .iter()
            .map(|e| format!("connect.{}: {}", e.field, e.message)),
    );
    connect
}

/// The credential keys of an HTTP face (`[api]`, `[schema_registry]`).
struct AuthKeys<'a> {
    section: &'a str,
    what: &'a str,
    auth: &'a Option<String>,
    username: &'a Option<String>,
    password: &'a Option<String>,
    token: &'a Option<String>,
}

/// `<section>.auth`: off by default on loopback; anywhere else it must be chosen, even if
/// the choice is "none".
fn http_auth(keys: AuthKeys<'_>, listen: SocketAddr, errors: &mut Vec<String>) -> ApiAuth {
    let section = keys.section;
    let given = |key: &str, v: &Option<String>, errors: &mut Vec<String>| -> String {
        match v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            Some(v) => v.to_string(),
            None => {
                errors.push(format!(
                    "{section}.{key}: is required with this {section}.auth"
                ));
                String::new()
            }
        }
    };
    match keys.auth.as_deref().map(str::trim) {
        None | Some("") if listen.ip().is_loopback() => ApiAuth::None,
        None | Some("") => {
            errors.push(format!(
                "{section}.auth: the {} listens on {listen}, beyond loopback, so it needs auth\nHINT: set {section}.auth = \"bearer\" with {section}.token, or \"basic\" with {section}.username and {section}.password; or {section}.auth = \"none\" if something in front of it does the checking",
                keys.what
            ));
            ApiAuth::None
        }
        Some("none") => ApiAuth::None,
        Some("basic") => ApiAuth::Basic {
            username: given("username", keys.username, errors),
            password: Secret::new(given("password", keys.password, errors)),
        },
        Some("bearer") => ApiAuth::Bearer(Secret::new(given("token", keys.token, errors))),
        Some(other) => {
            errors.push(format!(
                "{section}.auth: {other:?} is not valid; use none, basic or bearer"
            ));
            ApiAuth::None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_holds_the_worker_converters_only() {
        let c = parse(
            "[connect]\n\"value.converter\" = \"org.apache.kafka.connect.json.JsonConverter\"\n\"value.converter.schemas.enable\" = false",
            &[("TRIBUTARY__CONNECT__KEY_CONVERTER", "org.apache.kafka.connect.storage.StringConverter")],
        )
        .unwrap();
        assert_eq!(
            c.connect
                .get("value.converter.schemas.enable")
                .map(String::as_str),
            Some("false")
        );
        assert!(c.connect.contains_key("key.converter"));
        let Err(ConfigError::Invalid(errors)) = parse(
            "[connect]\n\"value.converter\" = \"io.confluent.connect.protobuf.ProtobufConverter\"\n\"tasks.max\" = 1",
            &[],
        ) else {
            panic!("accepted");
        };
        assert!(
            errors[0].starts_with("connect.tasks.max: is not read here"),
            "{errors:?}"
        );
        assert!(
            errors[1].starts_with("connect.value.converter:"),
            "{errors:?}"
        );
    }

    fn parse(text: &str, env: &[(&str, &str)]) -> Result<DaemonConfig, ConfigError> {
        DaemonConfig::parse(
            text,
            Path::new("t.toml"),
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn defaults_follow_the_design() {
        let c = parse("", &[]).unwrap();
        assert_eq!(c.api_listen.to_string(), "127.0.0.1:8083");
        assert_eq!(c.registry.listen.to_string(), "127.0.0.1:8081");
        assert_eq!(c.registry.url, None);
        assert_eq!(c.kafka.bootstrap_servers, "127.0.0.1:9092");
        assert_eq!(c.data_dir, PathBuf::from("./data"));
    }

    #[test]
    fn environment_overrides_the_file_and_passes_librdkafka_properties() {
        let c = parse(
            "[kafka]\nbootstrap_servers = \"a:1\"\n\"socket.timeout.ms\" = 5000\n",
            &[
                ("TRIBUTARY__KAFKA__BOOTSTRAP_SERVERS", "b:2"),
                ("TRIBUTARY__KAFKA__SECURITY_PROTOCOL", "plaintext"),
                ("TRIBUTARY__DATA_DIR", "/tmp/x"),
            ],
        )
        .unwrap();
        assert_eq!(c.kafka.bootstrap_servers, "b:2");
        assert_eq!(c.kafka.properties["security.protocol"], "plaintext");
        assert_eq!(c.kafka.properties["socket.timeout.ms"], "5000");
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn errors_name_the_key() {
        let e = parse(
            "[api]\nlisten = \"nowhere\"\n[kafka]\n\"transactional.id\" = \"x\"\n[log]\nformat = \"xml\"\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("api.listen"), "{e}");
        assert!(e.contains("kafka.transactional.id"), "{e}");
        assert!(e.contains("log.format"), "{e}");
        let e = parse("[api]\nlisen = 1\n", &[]).unwrap_err().to_string();
        assert!(e.contains("lisen"), "{e}");
    }

    #[test]
    fn auth_is_required_beyond_loopback_unless_turned_off() {
        let c = parse("", &[]).unwrap();
        assert_eq!(c.api.auth, ApiAuth::None);
        let e = parse("[api]\nlisten = \"0.0.0.0:8083\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("api.auth"), "{e}");
        let c = parse("[api]\nlisten = \"0.0.0.0:8083\"\nauth = \"none\"\n", &[]).unwrap();
        assert_eq!(c.api.auth, ApiAuth::None);
        let e = parse("[api]\nauth = \"bearer\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("api.token"), "{e}");
        let c = parse(
            "[api]\nauth = \"basic\"\nusername = \"ops\"\npassword = \"pw\"\n",
            &[],
        )
        .unwrap();
        assert!(matches!(c.api.auth, ApiAuth::Basic { ref username, .. } if username == "ops"));
        assert!(!format!("{:?}", c.api.auth).contains("pw"));
    }

    #[test]
    fn the_embedded_registry_follows_the_same_rule_and_may_be_read_only() {
        let c = parse("", &[]).unwrap();
        assert_eq!(c.registry.serve_auth, ApiAuth::None);
        assert!(!c.registry.read_only);
        let e = parse("[schema_registry]\nlisten = \"0.0.0.0:8081\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("schema_registry.auth"), "{e}");
        let c = parse(
            "[schema_registry]\nlisten = \"0.0.0.0:8081\"\nauth = \"bearer\"\ntoken = \"t\"\nmode = \"READONLY\"\n",
            &[],
        )
        .unwrap();
        assert!(matches!(c.registry.serve_auth, ApiAuth::Bearer(_)));
        assert!(c.registry.read_only);
        let e = parse("[schema_registry]\nmode = \"sometimes\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("schema_registry.mode"), "{e}");
        // An external registry has its own rules: nothing to serve, nothing to check.
        let c = parse(
            "[schema_registry]\nurl = \"http://registry:8081\"\nlisten = \"0.0.0.0:8081\"\n",
            &[],
        )
        .unwrap();
        assert_eq!(c.registry.serve_auth, ApiAuth::None);
    }

    #[test]
    fn kafka_properties_librdkafka_lacks_are_refused_and_jaas_is_translated() {
        let e = parse("[kafka]\n\"ssl.truststore.location\" = \"/x.jks\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("kafka.ssl.truststore.location"), "{e}");
        assert!(e.contains("ssl.ca.location"), "{e}");
        let c = parse(
            "[kafka]\n\"sasl.jaas.config\" = 'org.apache.kafka.common.security.plain.PlainLoginModule required username=\"k\" password=\"s\";'\n",
            &[],
        )
        .unwrap();
        assert_eq!(c.kafka.properties["sasl.username"], "k");
        assert!(!format!("{:?}", c.kafka).contains("\"s\""), "{:?}", c.kafka);
        let c = parse("", &[("TRIBUTARY__KAFKA__SASL_PASSWORD", "hunter2")]).unwrap();
        assert_eq!(c.kafka.properties["sasl.password"], "hunter2");
        assert!(!format!("{:?}", c.kafka).contains("hunter2"));
    }
}
