//! The definitions of every property the search sink reads.
//!
//! [`PROPERTIES`] is the one list of the sink's own properties: the parser accepts exactly
//! these (plus Kafka Connect's framework keys and the keys the daemon shares between jobs),
//! and the REST API serves them as Kafka Connect's `ConfigDef`. A default is written as the
//! text the parser accepts.

pub use tributary_core::config::{Importance, PropertyDef, PropertyKind};

use PropertyKind::{Int, Long, Password, String as Str};

/// The definition of `name`, if the search sink has such a property.
pub fn property(name: &str) -> Option<&'static PropertyDef> {
    PROPERTIES.iter().find(|p| p.name == name)
}

const SEARCH: &str = "Search";
const CONNECTION: &str = "Connection";
const EMBEDDED: &str = "Embedded index";

/// Every property of the search sink, grouped as the REST API shows them.
pub const PROPERTIES: &[PropertyDef] = &[
    PropertyDef::new(
        "search.backend",
        Str,
        SEARCH,
        "Where documents go: tantivy (an index embedded in the daemon, queryable through its REST API), elasticsearch, opensearch or meilisearch.",
    )
    .default_value("tantivy")
    .high(),
    PropertyDef::new(
        "index.name",
        Str,
        SEARCH,
        "Name of the index a table's rows go to, with {schema}, {table}, {db} and {topic} replaced by the record's source. Elasticsearch and OpenSearch names are lower-cased. For meilisearch the default is {schema}_{table}, and characters other than ASCII letters, digits, '_' and '-' in the expanded values become '_'.",
    )
    .default_value("{schema}.{table}")
    .high(),
    PropertyDef::new(
        "request.timeout.ms",
        Long,
        SEARCH,
        "Maximum time in milliseconds to wait for one HTTP request, and for a Meilisearch task to finish, before the write is retried.",
    )
    .default_value("30000")
    .low(),
    PropertyDef::new(
        "connection.url",
        Str,
        CONNECTION,
        "Base URL of the Elasticsearch, OpenSearch or Meilisearch server (http or https; a path prefix is kept). Required for those backends.",
    )
    .high(),
    PropertyDef::new(
        "connection.username",
        Str,
        CONNECTION,
        "User for HTTP basic authentication to Elasticsearch or OpenSearch.",
    ),
    PropertyDef::new(
        "connection.password",
        Password,
        CONNECTION,
        "Password for HTTP basic authentication to Elasticsearch or OpenSearch.",
    ),
    PropertyDef::new(
        "api.key",
        Password,
        CONNECTION,
        "API key: sent as 'Authorization: Bearer' to Meilisearch and as 'Authorization: ApiKey' to Elasticsearch or OpenSearch (the base64 id:key form Elasticsearch returns as 'encoded').",
    ),
    PropertyDef::new(
        "index.dir",
        Str,
        EMBEDDED,
        "Directory of the embedded tantivy indexes, one subdirectory per index. Defaults to <data_dir>/indexes of the daemon.",
    )
    .low(),
    PropertyDef::new(
        "index.writer.memory.mb",
        Int,
        EMBEDDED,
        "Memory budget in MB of each embedded index's writer (at least 15); a writer flushes a segment when it is reached.",
    )
    .default_value("50")
    .low(),
];
