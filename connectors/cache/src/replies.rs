//! Turning the script's replies into per-change results, and a refusal into the error
//! that names the key, the change and what to do.

use redis::{RedisResult, Value};
use tributary_core::{ErrorKind, SinkError, SinkOp, SinkRecord};

use crate::config::RedisSinkConfig;
use crate::error::{RedisError, auth_hint, error_text, reply_kind, tidy};
use crate::keys::cache_key;
use crate::script::Change;
use crate::sink::Failed;

/// What to do about an error reply, for the message.
pub(crate) fn hint(config: &RedisSinkConfig, message: &str) -> String {
    let code = message.split_whitespace().next().unwrap_or_default();
    match code {
        "WRONGTYPE" => format!(
            "a key of key.pattern or versions.prefix ({:?}) holds a value of another type: another program uses those keys, or value.format changed; give this connector keys only it writes",
            config.versions_prefix
        ),
        "CROSSSLOT" => "keys of one call are in different cluster slots, which is a bug in Tributary: please report it with this message".into(),
        "NOAUTH" | "WRONGPASS" => auth_hint(message).into(),
        "NOPERM" => "the Redis user (redis.url) lacks a permission: it needs SCRIPT/EVALSHA (+@scripting) and read/write access to the keys of key.pattern and versions.prefix".into(),
        "OOM" => "Redis is at maxmemory: raise maxmemory, pick an eviction policy, or set ttl.seconds; will retry".into(),
        _ if reply_kind(message) == ErrorKind::Transient => "will retry".into(),
        _ if message.contains("script") => "the apply script failed, which is a bug in Tributary: please report it with this message".into(),
        _ => "check the Redis server's log".into(),
    }
}

/// Records one call's result for each of its changes: the script's per-change result
/// (a number, or an error message), or the call's error for all of them.
pub(crate) fn spread(
    call: &[usize],
    changes: &[Change],
    result: RedisResult<Value>,
    each: &mut [Option<Result<i64, String>>],
    timeout: std::time::Duration,
) -> Result<(), Failed> {
    match result {
        Ok(Value::Array(items)) if items.len() == call.len() => {
            for (&i, item) in call.iter().zip(items) {
                each[changes[i].index] = Some(match item {
                    Value::Int(n) => Ok(n),
                    Value::ServerError(e) => Err(match e.details() {
                        Some(d) => format!("{} {d}", e.code()),
                        None => e.code().to_string(),
                    }),
                    other => {
                        return Err(RedisError::Protocol(format!(
                            "the apply script answered {other:?} for a change"
                        ))
                        .into());
                    }
                });
            }
            Ok(())
        }
        Ok(other) => Err(RedisError::Protocol(format!(
            "the apply script answered {other:?} for {} changes",
            call.len()
        ))
        .into()),
        Err(e) if e.code().is_some() && !e.is_io_error() => {
            let message = error_text(&e);
            for &i in call {
                each[changes[i].index] = Some(Err(message.clone()));
            }
            Ok(())
        }
        Err(e) => Err(RedisError::from_client(e, "EVALSHA", timeout).into()),
    }
}

/// Turns the changes' results into numbers, or the error that stops the batch: the
/// first definite refusal, else the first transient one.
pub(crate) fn check_results(
    config: &RedisSinkConfig,
    records: &[SinkRecord],
    each: Vec<Option<Result<i64, String>>>,
) -> Result<Vec<i64>, Failed> {
    let mut results = Vec::with_capacity(each.len());
    let mut definite = None;
    let mut transient = None;
    let mut refused = 0;
    for (i, result) in each.into_iter().enumerate() {
        match result {
            Some(Ok(n)) => results.push(n),
            Some(Err(message)) => {
                refused += 1;
                let slot = match reply_kind(&message) {
                    ErrorKind::Transient => &mut transient,
                    ErrorKind::Definite => &mut definite,
                };
                slot.get_or_insert((i, message));
                results.push(-1);
            }
            None => {
                return Err(RedisError::Protocol("a change got no result".into()).into());
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
        n => format!(" ({} more changes of the batch were refused)", n - 1),
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
