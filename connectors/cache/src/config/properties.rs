//! The definitions of every property the Redis sink reads.
//!
//! [`PROPERTIES`] is the one list of the sink's own properties: the parser accepts exactly
//! these (plus framework properties and the caller's job keys), takes their defaults from
//! here, and the REST API serves them as Kafka Connect's `ConfigDef`.

use tributary_core::config::{PropertyDef, PropertyKind};

/// The definition of `name`, if the sink has such a property.
pub fn property(name: &str) -> Option<&'static PropertyDef> {
    PROPERTIES.iter().find(|p| p.name == name)
}

const REDIS: &str = "Redis";
const CACHE: &str = "Cache";

use PropertyKind::{Long, Password, String as Str};

/// Every property of the Redis sink, grouped as the REST API shows them.
pub const PROPERTIES: &[PropertyDef] = &[
    PropertyDef::new(
        "redis.url",
        Str,
        REDIS,
        "The Redis server: redis://[user:password@]host:port/db. TLS (rediss://) is not supported yet.",
    )
    .default_value("redis://127.0.0.1:6379/0")
    .high(),
    PropertyDef::new(
        "redis.password",
        Password,
        REDIS,
        "Password for AUTH (with the URL's user, if any); overrides a password in redis.url.",
    )
    .high(),
    PropertyDef::new(
        "redis.timeout.ms",
        Long,
        REDIS,
        "Maximum time in milliseconds to wait for a connection or for Redis to answer; a slower answer is a transient error and the batch is retried.",
    )
    .default_value("10000")
    .low(),
    PropertyDef::new(
        "key.pattern",
        Str,
        CACHE,
        "The cache key of a row, with placeholders {schema}, {table}, {db}, {topic} and {pk} (the key columns' values joined by ':'). Must contain {pk}. A TRUNCATE deletes the table's keys: those matching the pattern's text around {pk}.",
    )
    .default_value("{schema}.{table}:{pk}")
    .high(),
    PropertyDef::new(
        "value.format",
        Str,
        CACHE,
        "How a row is stored: json (a string holding the row as a JSON object) or hash (a Redis hash with a field per column; strings as they are, other values as JSON text, nulls omitted).",
    )
    .default_value("json")
    .high(),
    PropertyDef::new(
        "ttl.seconds",
        Long,
        CACHE,
        "Expiry of every written key in seconds, renewed on each change of the row; 0 keeps keys without expiry.",
    )
    .default_value("0"),
    PropertyDef::new(
        "versions.key",
        Str,
        CACHE,
        "The Redis hash holding, per cache key, the source position of the last applied change (and per table the position of its last TRUNCATE), so replayed changes never overwrite newer ones. Defaults to tributary:versions:<connector name>.",
    )
    .low(),
];
