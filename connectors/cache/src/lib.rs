//! The Redis cache sink: keeps Redis equal to the captured Postgres tables.
//!
//! The job consumer hands [`RedisSink`] batches of decoded change records; each row lives
//! under `key.pattern` (default `{schema}.{table}:{pk}`) as a JSON string or a hash.
//!
//! **Ordering.** Replays are harmless because every write is a compare-and-set on the
//! record's [`Position`](tributary_core::Position), done atomically in Redis by one Lua
//! script ([`script::APPLY_SCRIPT`]). Beside each cache key, a position key
//! (`<versions.prefix>:{<cache key>}`, in the cache key's own cluster slot) holds the
//! position (32 hex digits) of the last change applied to it; per table,
//! `<versions.prefix>:truncate:<schema>.<table>` holds the position of its last TRUNCATE,
//! the table's floor, which the job reads once and passes to every call. A change is
//! applied only if it is not older than either.
//!
//! **Bounded bookkeeping.** A position lives as long as its key: without `ttl.seconds`
//! it has no expiry while the row exists; with it, it expires `tombstone.ttl.seconds`
//! after the key. A delete keeps the position for `tombstone.ttl.seconds` (a day by
//! default), so a replayed older insert within that window cannot bring the row back;
//! after it, nothing of the row is left. The keys this job keeps are thus the live rows'
//! positions, the deletes of the last window and one floor per table.
//!
//! **Truncate.** A TRUNCATE raises the table's floor, then scans every master for the
//! table's position keys (`SCAN … MATCH`, the pattern's text around `{pk}` expanded for
//! the table) and deletes, in chunks, each key older than the floor together with its
//! position. Patterns whose text around `{pk}` can also match another table's keys (say
//! `{table}:{pk}` with tables `a` and `a:b`) make a truncate delete those keys too when
//! they are older than the truncate: give each table its own prefix.
//!
//! **Topologies.** One server (`redis://`, `rediss://`), the master a set of Sentinels
//! names (`redis+sentinel://`), or a Redis Cluster (`redis.cluster`), through the
//! `redis` crate. Durability is Redis's own (its `appendfsync`, and with replicas its
//! asynchronous replication); offsets stay with the consumer group.
//!
//! **Throughput.** On one server a batch is one pipeline of script calls that apply up to
//! 500 changes each; in a cluster, calls of one slot each, run concurrently.

pub mod check;
pub mod config;
pub mod conn;
pub mod error;
pub mod keys;
mod replies;
pub mod script;
pub mod sink;
pub mod target;

pub use check::check;
pub use config::{ConnectParams, PROPERTIES, RedisSinkConfig, Topology, ValueFormat};
pub use conn::Connection;
pub use error::RedisError;
pub use sink::RedisSink;
pub use target::RedisTarget;
