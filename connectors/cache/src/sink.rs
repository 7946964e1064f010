//! The Redis sink: applies batches of change records as one pipeline of compare-and-set
//! script calls, and confirms every reply before a batch counts as written.
//!
//! A batch is cut at TRUNCATEs: the records up to a truncate go out as one pipeline, then
//! the truncate's cleanup runs (it must see the floor the truncate set), then the rest;
//! a very large batch is also sent in pipelines of at most 10,000 records, one after the
//! other. Records of one key keep their batch order, and Redis runs a connection's
//! commands in order. Because every command is a compare-and-set on the
//! source position, resending a batch (after a lost connection, or the consumer
//! replaying from its committed offsets) changes nothing that is already newer.

use tracing::{debug, info, warn};
use tributary_core::{
    ErrorKind, LeftOut, PartitionOffset, Position, Retry, Sink, SinkError, SinkOp, SinkRecord,
    TableRef, sink::BoxFuture,
};

use crate::config::RedisSinkConfig;
use crate::conn::Connection;
use crate::error::{RedisError, auth_hint, reply_kind, tidy};
use crate::resp::{ProtocolError, Reply};
use crate::script::{APPLY_SCRIPT, Encoder, FLOOR_PREFIX, Scratch, cache_key, table_keys_glob};

/// Versions-hash fields fetched per `HSCAN` and keys checked per cleanup call.
const CLEAN_CHUNK: usize = 1000;
/// Records sent as one pipeline at most (one round trip each).
const PIPELINE_CHUNK: usize = 10_000;
/// Changes applied by one script call at most: bounds how long one call holds the server
/// (a few milliseconds).
const SCRIPT_CHUNK: usize = 500;
/// A command buffer larger than this is freed after the batch instead of kept.
const MAX_KEPT_BUFFER: usize = 8 * 1024 * 1024;

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

/// Loads the apply script and returns its SHA1.
pub(crate) async fn load_script(conn: &mut Connection) -> Result<String, RedisError> {
    match conn.command(&["SCRIPT", "LOAD", APPLY_SCRIPT]).await? {
        Reply::Bulk(Some(sha)) => String::from_utf8(sha)
            .map_err(|_| ProtocolError("SCRIPT LOAD answered a non-UTF-8 SHA".into()).into()),
        Reply::Error(message) => Err(RedisError::reply("SCRIPT LOAD", message)),
        other => Err(ProtocolError(format!("SCRIPT LOAD answered {other}")).into()),
    }
}

impl Live {
    async fn connect(config: &RedisSinkConfig) -> Result<Live, RedisError> {
        let mut conn = Connection::connect(&config.connect).await?;
        let sha = load_script(&mut conn).await?;
        info!(connector = %config.name, redis = %config.connect, "connected to redis");
        Ok(Live { conn, sha })
    }
}

/// Why a batch failed.
enum Failed {
    /// Connecting or talking to Redis failed.
    Redis(RedisError),
    /// Redis refused a record's command.
    Refused(SinkError),
}

impl From<RedisError> for Failed {
    fn from(e: RedisError) -> Self {
        Failed::Redis(e)
    }
}

impl From<ProtocolError> for Failed {
    fn from(e: ProtocolError) -> Self {
        Failed::Redis(e.into())
    }
}

/// Keeps a Redis cache equal to the captured tables. See the crate docs for the model.
pub struct RedisSink {
    config: RedisSinkConfig,
    live: Option<Live>,
    buf: Vec<u8>,
    scratch: Scratch,
    /// Unchanged TOASTed values the cache held no earlier copy of.
    left_out: LeftOut,
}

impl RedisSink {
    /// A sink that connects on its first write.
    pub fn new(config: RedisSinkConfig) -> Self {
        RedisSink {
            config,
            live: None,
            buf: Vec::new(),
            scratch: Scratch::default(),
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

    /// Applies `batch` and returns once Redis has acknowledged every command.
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
        if reused && let Err(Failed::Redis(e @ RedisError::Io(_))) = &result {
            // A connection that sat idle may have been closed by a server restart or an
            // idle timeout: reconnect and send the batch again (resending is harmless).
            warn!(connector = %self.config.name, error = %e, "redis connection lost, reconnecting");
            self.live = None;
            result = self.apply(batch).await;
        }
        if self.buf.capacity() > MAX_KEPT_BUFFER {
            self.buf = Vec::new();
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

    /// Sends the batch in pipelines cut at truncates (each truncate goes alone, after the
    /// changes before it, and its cleanup follows it) and every [`PIPELINE_CHUNK`] records
    /// (to bound the encoded bytes held at once).
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
                && self.run_truncate(rec).await? == 1
            {
                applied += 1;
                self.clean(&rec.table, rec.pos).await?;
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
    #[allow(clippy::type_complexity)]
    async fn live(
        &mut self,
    ) -> Result<(&RedisSinkConfig, &mut Live, &mut Vec<u8>, &mut Scratch), RedisError> {
        let Self {
            config,
            live,
            buf,
            scratch,
            ..
        } = self;
        let live = match live {
            Some(live) => live,
            None => live.insert(Live::connect(config).await?),
        };
        Ok((config, live, buf, scratch))
    }

    /// Sends `records` (no truncate) as one pipeline of script calls of at most
    /// [`SCRIPT_CHUNK`] changes each; returns each change's result (0 older, 1 applied,
    /// 1 + n with n unchanged columns left out).
    async fn run(&mut self, records: &[SinkRecord]) -> Result<Vec<i64>, Failed> {
        let (config, live, buf, scratch) = self.live().await?;
        let calls: Vec<&[SinkRecord]> = records.chunks(SCRIPT_CHUNK).collect();
        buf.clear();
        let enc = Encoder::new(config, &live.sha);
        for call in &calls {
            enc.push_batch(buf, call, scratch);
        }
        let mut replies = live.conn.pipeline(buf, calls.len()).await?;
        // NOSCRIPT: the server's script cache was flushed (SCRIPT FLUSH, a restart behind
        // a proxy, a failover). Load the script again and resend the calls that did not
        // run; that these now run after the others does not matter, as each change is a
        // compare-and-set on its position.
        let missing: Vec<usize> = (0..replies.len())
            .filter(|&i| replies[i].error_code() == Some("NOSCRIPT"))
            .collect();
        if !missing.is_empty() {
            warn!(connector = %config.name, calls = missing.len(), "redis lost the apply script, loading it again");
            live.sha = load_script(&mut live.conn).await?;
            buf.clear();
            let enc = Encoder::new(config, &live.sha);
            for &i in &missing {
                enc.push_batch(buf, calls[i], scratch);
            }
            let again = live.conn.pipeline(buf, missing.len()).await?;
            for (i, reply) in missing.into_iter().zip(again) {
                replies[i] = reply;
            }
        }
        // One reply per change: a call's array, or its one error for each of its changes.
        let mut each = Vec::with_capacity(records.len());
        for (call, reply) in calls.iter().zip(replies) {
            match reply {
                Reply::Array(Some(items)) if items.len() == call.len() => each.extend(items),
                Reply::Error(message) => {
                    each.extend(std::iter::repeat_n(Reply::Error(message), call.len()))
                }
                other => {
                    return Err(ProtocolError(format!(
                        "the apply script answered {other} for {} changes",
                        call.len()
                    ))
                    .into());
                }
            }
        }
        check_replies(config, records, each)
    }

    /// Applies a truncate (raises the table's floor); 1 applied, 0 older than the floor.
    async fn run_truncate(&mut self, rec: &SinkRecord) -> Result<i64, Failed> {
        let (config, live, buf, _) = self.live().await?;
        for attempt in 0..2 {
            buf.clear();
            Encoder::new(config, &live.sha).push_record(buf, rec);
            let reply = live.conn.pipeline(buf, 1).await?.pop();
            match reply {
                Some(reply) if reply.error_code() == Some("NOSCRIPT") && attempt == 0 => {
                    live.sha = load_script(&mut live.conn).await?;
                }
                Some(reply) => {
                    return check_replies(config, std::slice::from_ref(rec), vec![reply])
                        .map(|r| r[0]);
                }
                None => break,
            }
        }
        Err(ProtocolError("the truncate got no reply".into()).into())
    }

    /// Deletes `table`'s keys older than its truncate floor, and their versions (the floor
    /// keeps refusing older changes, so their versions are no longer needed). The keys are
    /// found by scanning the versions hash, not the keyspace: it holds exactly the keys
    /// this connector wrote (also those expired by TTL) and nothing else.
    async fn clean(&mut self, table: &TableRef, pos: Position) -> Result<(), Failed> {
        let glob = table_keys_glob(&self.config.key_pattern, table);
        let below = pos.to_hex();
        let (config, live, buf, _) = self.live().await?;
        let versions = config.versions_key.as_bytes();
        let count = CLEAN_CHUNK.to_string();
        let mut cursor = b"0".to_vec();
        let mut removed = 0;
        loop {
            let args: [&[u8]; 7] = [
                b"HSCAN",
                versions,
                &cursor,
                b"MATCH",
                glob.as_bytes(),
                b"COUNT",
                count.as_bytes(),
            ];
            let (next, fields) = match live.conn.command(&args).await? {
                Reply::Error(message) => return Err(RedisError::reply("HSCAN", message).into()),
                reply => scan_page(reply)?,
            };
            let stale: Vec<Vec<u8>> = fields
                .chunks_exact(2)
                .filter(|kv| !kv[0].starts_with(FLOOR_PREFIX.as_bytes()))
                .filter(|kv| kv[1].len() != below.len() || kv[1].as_slice() < below.as_bytes())
                .map(|kv| kv[0].clone())
                .collect();
            for keys in stale.chunks(CLEAN_CHUNK) {
                for attempt in 0..2 {
                    buf.clear();
                    Encoder::new(config, &live.sha).push_clean(buf, table, keys);
                    match live.conn.pipeline(buf, 1).await?.pop() {
                        Some(Reply::Integer(n)) => {
                            removed += n;
                            break;
                        }
                        Some(reply) if reply.error_code() == Some("NOSCRIPT") && attempt == 0 => {
                            live.sha = load_script(&mut live.conn).await?;
                        }
                        Some(Reply::Error(message)) => {
                            return Err(
                                RedisError::reply("EVALSHA (truncate cleanup)", message).into()
                            );
                        }
                        other => {
                            let got = other.map_or_else(|| "nothing".into(), |r| r.to_string());
                            return Err(ProtocolError(format!(
                                "the cleanup script answered {got}"
                            ))
                            .into());
                        }
                    }
                }
            }
            if next == b"0" {
                break;
            }
            cursor = next;
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
            _ => format!("will retry (redis.url = {})", self.config.connect),
        };
        let message = format!("{e}; {hint}");
        match e.kind() {
            ErrorKind::Transient => SinkError::Transient(message),
            ErrorKind::Definite => SinkError::Definite(message),
        }
    }
}

/// Splits an `HSCAN` reply into the next cursor and the field/value list.
fn scan_page(reply: Reply) -> Result<(Vec<u8>, Vec<Vec<u8>>), RedisError> {
    let malformed = || RedisError::from(ProtocolError(format!("HSCAN answered {reply}")));
    let Reply::Array(Some(parts)) = &reply else {
        return Err(malformed());
    };
    let [Reply::Bulk(Some(cursor)), Reply::Array(Some(items))] = parts.as_slice() else {
        return Err(malformed());
    };
    let mut fields = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Reply::Bulk(Some(b)) => fields.push(b.clone()),
            _ => return Err(malformed()),
        }
    }
    Ok((cursor.clone(), fields))
}

/// What to do about an error reply, for the message.
fn hint(config: &RedisSinkConfig, message: &str) -> String {
    let code = message.split_whitespace().next().unwrap_or_default();
    match code {
        "WRONGTYPE" => format!(
            "versions.key {:?} holds a value that is not a hash (another program uses that key); set versions.key to a key only this connector writes",
            config.versions_key
        ),
        "NOAUTH" | "WRONGPASS" => auth_hint(message).into(),
        "NOPERM" => "the Redis user (redis.url) lacks a permission: it needs SCRIPT/EVALSHA (+@scripting) and read/write access to the keys of key.pattern and versions.key".into(),
        "OOM" => "Redis is at maxmemory: raise maxmemory, pick an eviction policy, or set ttl.seconds; will retry".into(),
        _ if reply_kind(message) == ErrorKind::Transient => "will retry".into(),
        _ if message.contains("script") => "the apply script failed, which is a bug in Tributary: please report it with this message".into(),
        _ => "check the Redis server's log".into(),
    }
}

/// Turns a pipeline's replies into script results, or the error that stops the batch:
/// the first definite refusal, else the first transient one.
fn check_replies(
    config: &RedisSinkConfig,
    records: &[SinkRecord],
    replies: Vec<Reply>,
) -> Result<Vec<i64>, Failed> {
    let mut results = Vec::with_capacity(replies.len());
    let mut definite = None;
    let mut transient = None;
    let mut refused = 0;
    for (i, reply) in replies.into_iter().enumerate() {
        match reply {
            Reply::Integer(n) => results.push(n),
            Reply::Error(message) => {
                refused += 1;
                let slot = match reply_kind(&message) {
                    ErrorKind::Transient => &mut transient,
                    ErrorKind::Definite => &mut definite,
                };
                slot.get_or_insert((i, message));
                results.push(-1);
            }
            other => {
                return Err(ProtocolError(format!("the apply script answered {other}")).into());
            }
        }
    }
    let Some((i, message)) = definite.or(transient) else {
        return Ok(results);
    };
    let message = tidy(message);
    let rec = &records[i];
    let target = match &rec.op {
        SinkOp::Upsert { key, .. } | SinkOp::Delete { key } => {
            format!("key {:?}", cache_key(&config.key_pattern, &rec.table, key))
        }
        SinkOp::Truncate => "the truncate".into(),
    };
    let others = match refused {
        1 => String::new(),
        n => format!(" ({} more commands of the batch were refused)", n - 1),
    };
    let text = format!(
        "Redis refused the write of {target} (op {} on {}.{} at {}): {message}{others}; {}",
        rec.op_code,
        rec.table.schema,
        rec.table.table,
        rec.pos,
        hint(config, &message)
    );
    Err(Failed::Refused(match reply_kind(&message) {
        ErrorKind::Transient => SinkError::Transient(text),
        ErrorKind::Definite => SinkError::Definite(text),
    }))
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
