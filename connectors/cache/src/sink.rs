//! The Redis sink: applies batches of change records as compare-and-set script calls,
//! and confirms every result before a batch counts as written.
//!
//! A batch is cut at TRUNCATEs: the records up to a truncate go out first, then the
//! truncate raises the table's floor and its cleanup runs, then the rest; a very large
//! batch is also sent in pieces of at most 10,000 records, one after the other. On one
//! server the calls of a piece go as one pipeline, in order. In a cluster a call holds
//! the changes of one slot only, and calls of one slot go in rounds, one after the
//! other, so a key's changes keep their batch order. Because every change is a
//! compare-and-set on the source position, resending a batch (after a lost connection,
//! or the consumer replaying from its committed offsets) changes nothing that is already
//! newer.

use std::collections::HashMap;
use std::sync::Arc;

use redis::cluster_routing::Slot;
use redis::{Cmd, RedisResult, Value};
use tracing::{debug, info, warn};
use tributary_core::{
    ErrorKind, LeftOut, PartitionOffset, Position, Retry, Sink, SinkError, SinkOp, SinkRecord,
    TableRef, sink::BoxFuture,
};

use crate::config::{RedisSinkConfig, Topology};
use crate::conn::Connection;
use crate::error::{RedisError, auth_hint};
use crate::keys::{floor_key, key_of_version, same_slot, slot, table_versions_globs};
use crate::replies::{check_results, hint, spread};
use crate::script::{Args, Change, batch_call, clean_call, plan_calls, truncate_call};

/// Keys fetched per `SCAN` step and checked per cleanup call.
const CLEAN_CHUNK: usize = 1000;
/// Records sent at once at most.
const PIPELINE_CHUNK: usize = 10_000;

/// An upsert or delete without key columns (a table without a primary key).
fn is_keyless(rec: &SinkRecord) -> bool {
    match &rec.op {
        SinkOp::Upsert { key, .. } | SinkOp::Delete { key } => key.0.is_empty(),
        SinkOp::Truncate => false,
    }
}

/// A connection with the apply script loaded.
struct Live {
    conn: Connection,
    sha: String,
}

impl Live {
    async fn connect(config: &RedisSinkConfig) -> Result<Live, RedisError> {
        let mut conn = Connection::connect(&config.connect).await?;
        let sha = conn.load_script().await?;
        info!(connector = %config.name, redis = %config.connect, "connected to redis");
        Ok(Live { conn, sha })
    }

    /// Runs the calls `make(sha)` builds; calls answered `NOSCRIPT` (the server's script
    /// cache was flushed: `SCRIPT FLUSH`, a restart, a failover) run again once the
    /// script is loaded again. That they then run after the others does not matter: each
    /// change is a compare-and-set on its position, and a key's changes are in one call
    /// or in calls of later rounds.
    async fn calls(
        &mut self,
        config: &RedisSinkConfig,
        make: impl Fn(&str) -> Vec<Cmd>,
    ) -> Result<Vec<RedisResult<Value>>, RedisError> {
        let mut results = self.conn.calls(make(&self.sha)).await?;
        let missing: Vec<usize> = (0..results.len())
            .filter(|&i| {
                matches!(&results[i], Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript))
            })
            .collect();
        if !missing.is_empty() {
            warn!(connector = %config.name, calls = missing.len(), "redis lost the apply script, loading it again");
            self.sha = self.conn.load_script().await?;
            let mut all = make(&self.sha);
            let again: Vec<Cmd> = missing
                .iter()
                .map(|&i| std::mem::replace(&mut all[i], Cmd::new()))
                .collect();
            for (i, result) in missing.into_iter().zip(self.conn.calls(again).await?) {
                results[i] = result;
            }
        }
        Ok(results)
    }
}

/// Why a batch failed.
pub(crate) enum Failed {
    /// Connecting or talking to Redis failed.
    Redis(RedisError),
    /// Redis refused a record's change.
    Refused(SinkError),
}

impl From<RedisError> for Failed {
    fn from(e: RedisError) -> Self {
        Failed::Redis(e)
    }
}

/// Keeps a Redis cache equal to the captured tables. See the crate docs for the model.
pub struct RedisSink {
    config: RedisSinkConfig,
    live: Option<Live>,
    args: Args,
    /// Truncate floors by floor key ("" for none), read once per table: this job is the
    /// only writer of its tables' floors.
    floors: HashMap<String, String>,
    /// Unchanged TOASTed values the cache held no earlier copy of.
    left_out: LeftOut,
}

impl RedisSink {
    /// A sink that connects on its first write.
    pub fn new(config: RedisSinkConfig) -> Self {
        RedisSink {
            config,
            live: None,
            args: Args::default(),
            floors: HashMap::new(),
            left_out: LeftOut::default(),
        }
    }

    /// A sink connected now (authenticated, database selected, script loaded).
    pub async fn connect(config: RedisSinkConfig) -> Result<Self, SinkError> {
        let mut sink = RedisSink::new(config);
        match Live::connect(&sink.config).await {
            Ok(live) => sink.live = Some(live),
            Err(e) => return Err(sink.sink_error(Failed::Redis(e))),
        }
        Ok(sink)
    }

    pub fn config(&self) -> &RedisSinkConfig {
        &self.config
    }

    /// Applies `batch` and returns once Redis has acknowledged every change.
    pub async fn write_batch(&mut self, batch: &[SinkRecord]) -> Result<(), SinkError> {
        if batch.is_empty() {
            return Ok(());
        }
        if let Some(rec) = batch.iter().find(|r| is_keyless(r)) {
            return Err(SinkError::Definite(format!(
                "table {}.{} (topic {}) has no primary key, so its rows have no cache key; set message.key.columns for it on the source connector, or leave its topic out of topics/topics.regex",
                rec.table.schema, rec.table.table, rec.table.topic
            )));
        }
        let reused = self.live.is_some();
        let mut result = self.apply(batch).await;
        if reused && let Err(Failed::Redis(e @ RedisError::Lost(_))) = &result {
            // A connection that sat idle may have been closed by a server restart or an
            // idle timeout: reconnect and send the batch again (resending is harmless).
            warn!(connector = %self.config.name, error = %e, "redis connection lost, reconnecting");
            self.live = None;
            result = self.apply(batch).await;
        }
        match result {
            Ok(()) => Ok(()),
            Err(err) => {
                if let Failed::Redis(e) = &err
                    && e.breaks_connection()
                {
                    self.live = None;
                }
                Err(self.sink_error(err))
            }
        }
    }

    /// Sends the batch in pieces cut at truncates (each truncate goes alone, after the
    /// changes before it, and its cleanup follows it) and every [`PIPELINE_CHUNK`] records.
    async fn apply(&mut self, batch: &[SinkRecord]) -> Result<(), Failed> {
        let mut applied = 0;
        for segment in batch.split_inclusive(|r| matches!(r.op, SinkOp::Truncate)) {
            let (changes, truncate) = match segment.split_last() {
                Some((last, rest)) if matches!(last.op, SinkOp::Truncate) => (rest, Some(last)),
                _ => (segment, None),
            };
            for chunk in changes.chunks(PIPELINE_CHUNK) {
                let results = self.run(chunk).await?;
                applied += results.iter().filter(|&&n| n >= 1).count();
                for (rec, &n) in chunk.iter().zip(&results) {
                    if let (SinkOp::Upsert { unchanged, .. }, 2..) = (&rec.op, n) {
                        let missing = (n - 1) as usize;
                        let names = &unchanged[..missing.min(unchanged.len())];
                        self.left_out.record(&self.config.name, &rec.table, names);
                    }
                }
            }
            if let Some(rec) = truncate
                && self.run_truncate(rec).await?
            {
                applied += 1;
                self.clean(&rec.table, rec.pos).await?;
            }
        }
        let wanted = self.config.wait_replicas;
        if wanted > 0 {
            let (config, live) = self.live().await?;
            let got = live.conn.wait_replicas(wanted).await?;
            if got < wanted {
                let timeout = config.connect.timeout * 3 / 4;
                return Err(RedisError::Replicas {
                    wanted,
                    got,
                    timeout,
                }
                .into());
            }
        }
        debug!(
            connector = %self.config.name,
            records = batch.len(),
            applied,
            skipped = batch.len() - applied,
            "batch written to redis"
        );
        Ok(())
    }

    /// The live connection, connecting first when there is none.
    async fn live(&mut self) -> Result<(&RedisSinkConfig, &mut Live), RedisError> {
        let Self { config, live, .. } = self;
        let live = match live {
            Some(live) => live,
            None => live.insert(Live::connect(config).await?),
        };
        Ok((config, live))
    }

    /// The truncate floor of `table` ("" for none), read from Redis the first time.
    async fn floor(&mut self, table: &TableRef) -> Result<String, RedisError> {
        let key = floor_key(&self.config.versions_prefix, table);
        if let Some(floor) = self.floors.get(&key) {
            return Ok(floor.clone());
        }
        let mut get = redis::cmd("GET");
        get.arg(&key);
        let floor = match self.live().await?.1.conn.query("GET", &get).await? {
            Value::Nil => String::new(),
            Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
            other => {
                return Err(RedisError::Protocol(format!(
                    "GET {key} answered {other:?}"
                )));
            }
        };
        self.floors.insert(key, floor.clone());
        Ok(floor)
    }

    /// Applies `records` (no truncate) in script calls of at most [`SCRIPT_CHUNK`](crate::script::SCRIPT_CHUNK)
    /// changes; returns each change's result (0 older, 1 applied, 1 + n with n unchanged
    /// columns left out).
    async fn run(&mut self, records: &[SinkRecord]) -> Result<Vec<i64>, Failed> {
        // Each record's table floor; records of one table mostly come together.
        let mut floors: Vec<Arc<str>> = Vec::with_capacity(records.len());
        let mut last: Option<(&Arc<TableRef>, Arc<str>)> = None;
        for rec in records {
            let floor = match &last {
                Some((table, floor))
                    if Arc::ptr_eq(table, &rec.table) || ***table == *rec.table =>
                {
                    floor.clone()
                }
                _ => Arc::from(self.floor(&rec.table).await?),
            };
            last = Some((&rec.table, floor.clone()));
            floors.push(floor);
        }
        let cluster = self.config.connect.topology == Topology::Cluster;
        let mut args = std::mem::take(&mut self.args);
        args.clear();
        let changes: Vec<Change> = records
            .iter()
            .zip(floors)
            .enumerate()
            .map(|(i, (rec, floor))| crate::script::change(&self.config, i, rec, floor, &mut args))
            .collect();
        if cluster && let Some(c) = changes.iter().find(|c| !same_slot(&c.key, &c.vkey)) {
            self.args = args;
            return Err(Failed::Refused(SinkError::Definite(format!(
                "the cache key {:?} has a '}}' that ends the hash tag of its position key {:?} early, so Redis Cluster would place the two in different slots; change key.pattern so that no key holds a '}}' without a '{{' before it",
                c.key, c.vkey
            ))));
        }
        let rounds = plan_calls(&changes, cluster);
        let mut each: Vec<Option<Result<i64, String>>> = (0..records.len()).map(|_| None).collect();
        for round in &rounds {
            let (config, live) = self.live().await?;
            let results = live
                .calls(config, |sha| {
                    round
                        .iter()
                        .map(|call| {
                            batch_call(config, sha, call.iter().map(|&i| &changes[i]), &args)
                        })
                        .collect()
                })
                .await?;
            let timeout = config.connect.timeout;
            for (call, result) in round.iter().zip(results) {
                spread(call, &changes, result, &mut each, timeout)?;
            }
        }
        self.args = args;
        check_results(&self.config, records, each)
    }

    /// Applies a truncate (raises the table's floor); false when older than the floor.
    async fn run_truncate(&mut self, rec: &SinkRecord) -> Result<bool, Failed> {
        let key = floor_key(&self.config.versions_prefix, &rec.table);
        let pos = rec.pos.to_hex();
        let (config, live) = self.live().await?;
        let result = live
            .calls(config, |sha| vec![truncate_call(sha, &key, &pos)])
            .await?
            .pop();
        let applied = match result {
            Some(Ok(Value::Int(n))) => n == 1,
            Some(Err(e)) => {
                let timeout = config.connect.timeout;
                return Err(RedisError::from_client(e, "EVALSHA (truncate)", timeout).into());
            }
            other => {
                return Err(
                    RedisError::Protocol(format!("the truncate answered {other:?}")).into(),
                );
            }
        };
        if applied {
            self.floors.insert(key, pos);
        }
        Ok(applied)
    }

    /// Deletes `table`'s keys older than its truncate floor, and their positions (the
    /// floor keeps refusing older changes, so they are no longer needed). The keys are
    /// found by scanning each master for the table's position keys: they name exactly the
    /// keys this connector wrote (also those expired by TTL).
    async fn clean(&mut self, table: &TableRef, pos: Position) -> Result<(), Failed> {
        let globs = table_versions_globs(
            &self.config.versions_prefix,
            &self.config.key_pattern,
            table,
        );
        let floor = pos.to_hex();
        let cluster = self.config.connect.topology == Topology::Cluster;
        let (config, live) = self.live().await?;
        let prefix = &config.versions_prefix;
        let mut removed = 0;
        for target in live.conn.scan_targets().await? {
            for glob in &globs {
                let mut cursor = 0;
                loop {
                    let (next, found) = live.conn.scan(&target, cursor, glob, CLEAN_CHUNK).await?;
                    let pairs: Vec<(String, String)> = found
                        .into_iter()
                        .filter_map(|v| key_of_version(prefix, &v).map(|k| (k, v)))
                        .collect();
                    // One call per slot in a cluster; on one server, one call.
                    let mut groups: Vec<Vec<(String, String)>> = Vec::new();
                    if cluster {
                        let mut by_slot: HashMap<Slot, usize> = HashMap::new();
                        for pair in pairs {
                            let at = *by_slot.entry(slot(&pair.0)).or_insert_with(|| {
                                groups.push(Vec::new());
                                groups.len() - 1
                            });
                            groups[at].push(pair);
                        }
                    } else if !pairs.is_empty() {
                        groups.push(pairs);
                    }
                    let results = live
                        .calls(config, |sha| {
                            groups.iter().map(|g| clean_call(sha, g, &floor)).collect()
                        })
                        .await?;
                    for result in results {
                        match result {
                            Ok(Value::Int(n)) => removed += n,
                            Err(e) => {
                                let timeout = config.connect.timeout;
                                return Err(RedisError::from_client(
                                    e,
                                    "EVALSHA (truncate cleanup)",
                                    timeout,
                                )
                                .into());
                            }
                            Ok(other) => {
                                return Err(RedisError::Protocol(format!(
                                    "the cleanup answered {other:?}"
                                ))
                                .into());
                            }
                        }
                    }
                    if next == 0 {
                        break;
                    }
                    cursor = next;
                }
            }
        }
        info!(
            connector = %config.name,
            table = %format_args!("{}.{}", table.schema, table.table),
            position = %pos,
            removed,
            "truncate applied to redis"
        );
        Ok(())
    }

    fn sink_error(&self, failed: Failed) -> SinkError {
        let e = match failed {
            Failed::Refused(e) => return e,
            Failed::Redis(e) => e,
        };
        let hint = match &e {
            RedisError::Auth(message) => auth_hint(message).into(),
            RedisError::Select { .. } => "check the database index in redis.url".into(),
            RedisError::Reply { message, .. } => hint(&self.config, message),
            RedisError::Protocol(_) => "check redis.url".into(),
            RedisError::Tls(_) => "check redis.tls.ca.location (the CA that signed the server's certificate) and that the URL's host is the one the certificate names".into(),
            RedisError::Config(_) => "check the redis.tls.* files".into(),
            RedisError::Replicas { .. } => "will retry; check the replicas' links to their master, or lower redis.wait.replicas".into(),
            _ => format!("will retry (redis.url = {})", self.config.connect),
        };
        let message = format!("{e}; {hint}");
        match e.kind() {
            ErrorKind::Transient => SinkError::Transient(message),
            ErrorKind::Definite => SinkError::Definite(message),
        }
    }
}

impl Sink for RedisSink {
    fn values_left_out(&self) -> u64 {
        self.left_out.total()
    }

    fn write<'a>(
        &'a mut self,
        batch: &'a [SinkRecord],
        _offsets: &'a [PartitionOffset],
    ) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(self.write_batch(batch))
    }
}
