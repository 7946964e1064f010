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

use PropertyKind::{Boolean, Int, Long, Password, String as Str};

/// Every property of the Redis sink, grouped as the REST API shows them.
pub const PROPERTIES: &[PropertyDef] = &[
    PropertyDef::new(
        "redis.url",
        Str,
        REDIS,
        "The Redis server: redis://[user:password@]host:port/db, or rediss:// for TLS. With redis.cluster=true, a cluster's seed nodes: redis://host:port,host:port. Through Sentinel: redis+sentinel://[user:password@]host:26379,host:26379/<master name>/db (the credentials are the data nodes').",
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
        "redis.cluster",
        Boolean,
        REDIS,
        "Whether redis.url names a Redis Cluster's seed nodes. Keys are routed to their slot's master, and redirections and failovers are followed.",
    )
    .default_value("false"),
    PropertyDef::new(
        "redis.tls.ca.location",
        Str,
        REDIS,
        "PEM file of the CA certificates to trust for rediss:// (instead of the system's).",
    ),
    PropertyDef::new(
        "redis.tls.certificate.location",
        Str,
        REDIS,
        "PEM file of the client certificate for mutual TLS (with redis.tls.key.location).",
    ),
    PropertyDef::new(
        "redis.tls.key.location",
        Str,
        REDIS,
        "PEM file of the client certificate's private key (unencrypted) for mutual TLS.",
    ),
    PropertyDef::new(
        "redis.wait.replicas",
        Int,
        REDIS,
        "Replicas (of each master, in a cluster) that must have a batch's writes before it counts as written (Redis WAIT, within redis.timeout.ms); fewer is a transient error and the batch is retried. 0 relies on the master alone: with asynchronous replication, a failover can lose writes the old master acknowledged and did not pass on.",
    )
    .default_value("0"),
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
        "versions.prefix",
        Str,
        CACHE,
        "Prefix of the keys holding, per cache key, the source position of the last applied change (<prefix>:{<cache key>}, in the cache key's own cluster slot), and per table the position of its last TRUNCATE (<prefix>:truncate:<schema>.<table>), so replayed changes never overwrite newer ones. No braces. Defaults to tributary:v:<connector name>.",
    )
    .low(),
    PropertyDef::new(
        "tombstone.ttl.seconds",
        Long,
        CACHE,
        "How long a deleted row's position is kept, in seconds: within this window a replayed older change cannot bring the row back. Past it the position expires, so bookkeeping stays proportional to the live keys. Replays older than this window (an offset reset to the beginning of a long topic) can bring deleted rows back until their delete is replayed.",
    )
    .default_value("86400"),
];
