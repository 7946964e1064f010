//! Search sink configuration.
//!
//! A search job arrives as Kafka Connect's `{"name": …, "config": {…}}`. Every property is
//! a string (numbers and booleans are read as their text, as Kafka Connect does).
//! [`SearchSinkConfig::parse`] checks every property and returns all problems at once, each
//! naming the property. The sink's own properties are defined once, in [`PROPERTIES`]; Kafka
//! Connect's framework keys and the keys the daemon reads for every job (`known_elsewhere`)
//! are accepted and left to their owners; any other key is an error naming it.

mod properties;

use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;
use serde_json::Value as Json;
use tributary_core::Secret;

pub use properties::{Importance, PROPERTIES, PropertyDef, PropertyKind, property};
pub use tributary_core::config::{ConfigError, ConfigErrors};

/// Where the documents go (`search.backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// The embedded tantivy index (the default).
    Tantivy,
    Elasticsearch,
    OpenSearch,
    Meilisearch,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Tantivy => "tantivy",
            Backend::Elasticsearch => "elasticsearch",
            Backend::OpenSearch => "opensearch",
            Backend::Meilisearch => "meilisearch",
        }
    }

    /// The backend is a server reached over HTTP (needs `connection.url`).
    pub fn is_remote(self) -> bool {
        self != Backend::Tantivy
    }

    /// The default `index.name` template.
    pub fn default_index_name(self) -> &'static str {
        match self {
            Backend::Meilisearch => "{schema}_{table}",
            _ => "{schema}.{table}",
        }
    }
}

/// How to reach an Elasticsearch, OpenSearch or Meilisearch server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// `connection.url`, without credentials, query or fragment.
    pub url: Url,
    pub username: Option<String>,
    pub password: Secret,
    pub api_key: Secret,
}

/// A parsed, validated search sink config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchSinkConfig {
    /// The job's name: the embedded index keeps the job's offsets under it.
    pub name: String,
    pub backend: Backend,
    /// The `index.name` template (see [`tributary_core::sink::expand_template`]).
    pub index_name: String,
    /// `index.dir`; `None`: the daemon's `<data_dir>/indexes`.
    pub index_dir: Option<PathBuf>,
    /// `index.writer.memory.mb` in bytes.
    pub writer_memory_bytes: usize,
    /// Set exactly for the remote backends.
    pub connection: Option<Connection>,
    pub request_timeout: Duration,
}

use tributary_core::config::{
    PropertyReader, SINK_FRAMEWORK_NAMES as FRAMEWORK_KEYS,
    SINK_FRAMEWORK_PREFIXES as FRAMEWORK_PREFIXES, property_strings,
};

/// The placeholders `index.name` may use.
const PLACEHOLDERS: &[&str] = &["{schema}", "{table}", "{db}", "{topic}"];

/// Flags a property that only some backends read, so a typo'd backend is not silent.
fn only_for(
    r: &mut PropertyReader<'_>,
    key: &str,
    backend: Backend,
    allowed: &[Backend],
    what: &str,
) {
    if r.get(key).is_some() && !allowed.contains(&backend) {
        r.error(
            key,
            format!(
                "is only read by {what}, not by search.backend={}; remove it",
                backend.as_str()
            ),
        );
    }
}

fn known_key(key: &str, known_elsewhere: &[&str]) -> bool {
    property(key).is_some()
        || FRAMEWORK_KEYS.contains(&key)
        || FRAMEWORK_PREFIXES.iter().any(|p| key.starts_with(p))
        || known_elsewhere.iter().any(|k| match k.strip_suffix('*') {
            Some(prefix) => key.starts_with(prefix),
            None => *k == key,
        })
}

impl SearchSinkConfig {
    /// Parses and validates a search job's properties. `known_elsewhere` are keys the
    /// daemon reads for every job (exact names, or prefixes ending in `*`); they are
    /// accepted and ignored here.
    pub fn parse(
        name: &str,
        config: &serde_json::Map<String, Json>,
        known_elsewhere: &[&str],
    ) -> Result<Self, ConfigErrors> {
        let (props, errors) = property_strings(config);
        let mut r = PropertyReader::new(&props, errors);
        if name.trim().is_empty() {
            r.error("name", "must not be empty");
        }
        let unknown: Vec<String> = props
            .keys()
            .filter(|k| !known_key(k, known_elsewhere))
            .cloned()
            .collect();
        for key in unknown {
            r.error(
                &key,
                "is not a property of the search sink; check its spelling or remove it",
            );
        }

        let backend = match r.get("search.backend").map(str::to_ascii_lowercase) {
            None => Backend::Tantivy,
            Some(v) => match v.as_str() {
                "tantivy" => Backend::Tantivy,
                "elasticsearch" => Backend::Elasticsearch,
                "opensearch" => Backend::OpenSearch,
                "meilisearch" => Backend::Meilisearch,
                _ => {
                    r.error(
                        "search.backend",
                        format!(
                            "{v:?} is not a backend; use one of: tantivy, elasticsearch, opensearch, meilisearch"
                        ),
                    );
                    Backend::Tantivy
                }
            },
        };
        let index_name = r
            .get("index.name")
            .unwrap_or(backend.default_index_name())
            .to_string();
        if let Err(m) = check_index_template(&index_name, backend) {
            r.error("index.name", m);
        }

        let remote = [
            Backend::Elasticsearch,
            Backend::OpenSearch,
            Backend::Meilisearch,
        ];
        let basic_auth = [Backend::Elasticsearch, Backend::OpenSearch];
        let servers = "elasticsearch, opensearch and meilisearch";
        only_for(&mut r, "connection.url", backend, &remote, servers);
        only_for(&mut r, "api.key", backend, &remote, servers);
        only_for(&mut r, "request.timeout.ms", backend, &remote, servers);
        let es = "elasticsearch and opensearch";
        only_for(&mut r, "connection.username", backend, &basic_auth, es);
        only_for(&mut r, "connection.password", backend, &basic_auth, es);
        let tantivy = [Backend::Tantivy];
        only_for(&mut r, "index.dir", backend, &tantivy, "tantivy");
        only_for(
            &mut r,
            "index.writer.memory.mb",
            backend,
            &tantivy,
            "tantivy",
        );

        let timeout_ms = r.number("request.timeout.ms", 30_000, 1);
        let memory_mb = r.number("index.writer.memory.mb", 50, 15);
        let index_dir = r.get("index.dir").map(PathBuf::from);
        let connection = if backend.is_remote() {
            read_connection(&mut r, backend)
        } else {
            None
        };

        if !r.errors.is_empty() {
            return Err(ConfigErrors(r.errors));
        }
        Ok(SearchSinkConfig {
            name: name.to_string(),
            backend,
            index_name,
            index_dir,
            writer_memory_bytes: usize::try_from(memory_mb.saturating_mul(1_000_000))
                .unwrap_or(usize::MAX),
            connection,
            request_timeout: Duration::from_millis(timeout_ms),
        })
    }
}

fn read_connection(r: &mut PropertyReader<'_>, backend: Backend) -> Option<Connection> {
    let Some(raw) = r.get("connection.url").map(str::to_string) else {
        r.error(
            "connection.url",
            format!(
                "is required for search.backend={}: the server's base URL, e.g. {}",
                backend.as_str(),
                if backend == Backend::Meilisearch {
                    "http://127.0.0.1:7700"
                } else {
                    "http://127.0.0.1:9200"
                }
            ),
        );
        return None;
    };
    let url = match parse_url(&raw) {
        Ok(url) => url,
        Err(m) => {
            r.error("connection.url", m);
            return None;
        }
    };
    let username = r.get("connection.username").map(str::to_string);
    let password = Secret::new(r.get("connection.password").unwrap_or_default());
    let api_key = Secret::new(r.get("api.key").unwrap_or_default());
    if username.is_none() && !password.is_empty() {
        r.error(
            "connection.username",
            "is required when connection.password is set",
        );
    }
    if username.is_some() && !api_key.is_empty() {
        r.error(
            "api.key",
            "cannot be combined with connection.username: use one way to authenticate",
        );
    }
    Some(Connection {
        url,
        username,
        password,
        api_key,
    })
}

/// Parses `connection.url`; the message never repeats a password.
fn parse_url(raw: &str) -> Result<Url, String> {
    let url =
        Url::parse(raw).map_err(|e| format!("is not a URL ({e}); write e.g. http://host:9200"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must start with http:// or https://".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "must not contain credentials: set connection.username and connection.password, or api.key"
                .into(),
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a ?query or #fragment part".into());
    }
    if url.cannot_be_a_base() {
        return Err("cannot have paths appended".into());
    }
    Ok(url)
}

/// Checks an `index.name` template: known placeholders only, no `{pk}` (one index per
/// table), and literal characters the backend accepts in index names.
fn check_index_template(template: &str, backend: Backend) -> Result<(), String> {
    if template.trim().is_empty() {
        return Err("must not be empty".into());
    }
    let mut literal = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        literal.push_str(&rest[..start]);
        let after = &rest[start..];
        let Some(end) = after.find('}') else {
            return Err(format!("has an unclosed '{{' in {template:?}"));
        };
        let placeholder = &after[..=end];
        if !PLACEHOLDERS.contains(&placeholder) {
            return Err(format!(
                "{placeholder} is not a placeholder of index names; use {}",
                PLACEHOLDERS.join(", ")
            ));
        }
        rest = &after[end + 1..];
    }
    literal.push_str(rest);
    match backend {
        Backend::Tantivy => Ok(()),
        Backend::Elasticsearch | Backend::OpenSearch => {
            if let Some(c) = literal.chars().find(|c| {
                matches!(
                    c,
                    '\\' | '/' | '*' | '?' | '"' | '<' | '>' | '|' | ' ' | ',' | '#' | ':'
                )
            }) {
                return Err(format!(
                    "{c:?} is not allowed in {} index names",
                    backend.as_str()
                ));
            }
            if template.starts_with(['-', '_', '+']) {
                return Err("must not start with '-', '_' or '+'".into());
            }
            Ok(())
        }
        Backend::Meilisearch => match literal
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-')))
        {
            Some(c) => Err(format!(
                "{c:?} is not allowed in Meilisearch index uids: use ASCII letters, digits, '_' and '-' (the default is {{schema}}_{{table}})"
            )),
            None => Ok(()),
        },
    }
}

#[cfg(test)]
mod tests;
