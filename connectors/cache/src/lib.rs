//! The Redis cache sink: keeps Redis equal to the captured Postgres tables.
//!
//! The job consumer hands [`RedisSink`] batches of decoded change records; each row lives
//! under `key.pattern` (default `{schema}.{table}:{pk}`) as a JSON string or a hash.
//!
//! **Ordering.** Replays are harmless because every write is a compare-and-set on the
//! record's [`Position`](tributary_core::Position), done atomically in Redis by one Lua
//! script ([`script::APPLY_SCRIPT`]). A hash, `versions.key`, holds per cache key the
//! position (32 hex digits) of the last change applied to it, and per table
//! (`__truncate__:<schema>.<table>`) the position of its last TRUNCATE, the table's floor.
//! A change is applied only if it is not older than either. Deletes keep their version,
//! so a replayed older insert cannot bring a deleted row back; a key expired by
//! `ttl.seconds` keeps its version too.
//!
//! **Truncate.** A TRUNCATE raises the table's floor, then scans the versions hash for the
//! table's keys (`HSCAN … MATCH`, the pattern's text around `{pk}` expanded for the table)
//! and deletes, in chunks, each key older than the floor together with its version. The
//! versions hash is scanned instead of the keyspace because it lists exactly the keys this
//! connector wrote, including expired ones whose versions would otherwise stay forever.
//! Patterns whose text around `{pk}` can also match another table's keys (say
//! `{table}:{pk}` with tables `a` and `a:b`, or no table in the pattern at all) make a
//! truncate delete those keys too when they are older than the truncate: give each table
//! its own prefix, or its own `versions.key`.
//!
//! **Throughput.** A batch is one pipeline (cut at truncates and every 10,000 records) of
//! script calls that apply up to 500 changes each: all calls written while the replies are
//! read, every change's result checked before `write` returns. Durability is
//! Redis's own (its `appendfsync`); offsets stay with the consumer group.
//!
//! Redis Cluster is not supported: the script touches the versions hash and the cache key,
//! which live in different slots. TLS is not supported yet.

pub mod check;
pub mod config;
pub mod conn;
pub mod error;
pub mod resp;
pub mod script;
pub mod sink;

pub use check::check;
pub use config::{ConnectParams, PROPERTIES, RedisSinkConfig, ValueFormat};
pub use conn::Connection;
pub use error::RedisError;
pub use sink::RedisSink;
