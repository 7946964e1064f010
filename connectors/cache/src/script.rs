//! The compare-and-set apply script and the calls that run it.
//!
//! A change becomes a [`Change`]: its cache key, position key, cluster slot and the script
//! arguments that apply it. [`batch_call`] makes one `EVALSHA` of many changes;
//! the sink groups changes so that one call never spans two slots in a cluster. Nothing
//! here does I/O.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use redis::Cmd;
use redis::cluster_routing::Slot;
use serde_json::{Map, Value as Json};
use tributary_core::{SinkOp, SinkRecord};

use crate::config::{RedisSinkConfig, ValueFormat};
use crate::keys::{cache_key, slot, version_key};

/// The Lua source of the apply script (see the file for its arguments).
pub const APPLY_SCRIPT: &str = include_str!("apply.lua");

/// One upsert or delete, encoded.
pub(crate) struct Change {
    /// The record's index in the batch it came from.
    pub index: usize,
    pub key: String,
    pub vkey: String,
    pub slot: Slot,
    op: &'static str,
    pos: String,
    /// The table's truncate floor ("" for none).
    floor: Arc<str>,
    /// The op's own arguments: a range of [`Args::ends`].
    args: Range<usize>,
}

/// The op arguments of a batch's changes, in one buffer.
#[derive(Default)]
pub(crate) struct Args {
    bytes: Vec<u8>,
    /// Where each argument ends in `bytes`.
    ends: Vec<usize>,
}

impl Args {
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
    }

    fn push(&mut self, arg: &[u8]) {
        self.bytes.extend_from_slice(arg);
        self.ends.push(self.bytes.len());
    }

    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }
}

/// Encodes a record (an upsert or delete) as a [`Change`], its arguments appended to
/// `args`. `floor` is its table's truncate floor.
pub(crate) fn change(
    config: &RedisSinkConfig,
    index: usize,
    rec: &SinkRecord,
    floor: Arc<str>,
    args: &mut Args,
) -> Change {
    let start = args.ends.len();
    let (key, op) = match &rec.op {
        SinkOp::Upsert {
            key,
            doc,
            unchanged,
            ..
        } => {
            let key = cache_key(&config.key_pattern, &rec.table, key);
            // Unchanged columns: "keep" ops, with their count and names first.
            if !unchanged.is_empty() {
                args.push(unchanged.len().to_string().as_bytes());
            }
            let keep = !unchanged.is_empty();
            match config.value_format {
                ValueFormat::Json => {
                    for name in unchanged {
                        args.push(Json::String(name.clone()).to_string().as_bytes());
                    }
                    args.push(serde_json::to_string(doc).unwrap_or_default().as_bytes());
                    (key, if keep { "jsonk" } else { "json" })
                }
                ValueFormat::Hash => {
                    for name in unchanged {
                        args.push(name.as_bytes());
                    }
                    push_hash_fields(args, doc);
                    (key, if keep { "hashk" } else { "hash" })
                }
            }
        }
        SinkOp::Delete { key } => (cache_key(&config.key_pattern, &rec.table, key), "del"),
        SinkOp::Truncate => unreachable!("a truncate has no cache key"),
    };
    let vkey = version_key(&config.versions_prefix, &key);
    Change {
        index,
        slot: slot(&key),
        key,
        vkey,
        op,
        pos: rec.pos.to_hex(),
        floor,
        args: start..args.ends.len(),
    }
}

/// One `EVALSHA` applying `changes` (their arguments in `args`); its reply is an array
/// of their results.
pub(crate) fn batch_call<'c>(
    config: &RedisSinkConfig,
    sha: &str,
    changes: impl Iterator<Item = &'c Change> + Clone,
    args: &Args,
) -> Cmd {
    let mut cmd = redis::cmd("EVALSHA");
    cmd.arg(sha).arg(2 * changes.clone().count());
    for c in changes.clone() {
        cmd.arg(&c.key).arg(&c.vkey);
    }
    cmd.arg("batch")
        .arg(config.ttl_seconds)
        .arg(config.tombstone_ttl_seconds);
    for c in changes {
        cmd.arg(c.op).arg(&c.pos).arg(&*c.floor).arg(c.args.len());
        for i in c.args.clone() {
            cmd.arg(args.get(i));
        }
    }
    cmd
}

/// The call raising a table's truncate floor (at `floor_key`) to `pos`.
pub(crate) fn truncate_call(sha: &str, floor_key: &str, pos: &str) -> Cmd {
    let mut cmd = redis::cmd("EVALSHA");
    cmd.arg(sha).arg(1).arg(floor_key).arg("trunc").arg(pos);
    cmd
}

/// The call deleting those of `keys` (cache key, position key) older than `floor`.
pub(crate) fn clean_call(sha: &str, keys: &[(String, String)], floor: &str) -> Cmd {
    let mut cmd = redis::cmd("EVALSHA");
    cmd.arg(sha).arg(2 * keys.len());
    for (key, vkey) in keys {
        cmd.arg(key).arg(vkey);
    }
    cmd.arg("clean").arg(floor);
    cmd
}

/// The calls of a piece, in rounds run one after the other, each call a list of
/// indexes into `changes`. On one server: one round of calls of [`SCRIPT_CHUNK`]
/// consecutive changes (a pipeline keeps their order). In a cluster: one call per slot
/// per round, a slot's changes in order across rounds.
pub(crate) fn plan_calls(changes: &[Change], cluster: bool) -> Vec<Vec<Vec<usize>>> {
    if !cluster {
        let all: Vec<usize> = (0..changes.len()).collect();
        return vec![all.chunks(SCRIPT_CHUNK).map(<[usize]>::to_vec).collect()];
    }
    let mut by_slot: HashMap<Slot, Vec<usize>> = HashMap::new();
    let mut order = Vec::new();
    for (i, c) in changes.iter().enumerate() {
        by_slot
            .entry(c.slot)
            .or_insert_with(|| {
                order.push(c.slot);
                Vec::new()
            })
            .push(i);
    }
    let mut rounds: Vec<Vec<Vec<usize>>> = Vec::new();
    for s in order {
        for (r, piece) in by_slot[&s].chunks(SCRIPT_CHUNK).enumerate() {
            if rounds.len() == r {
                rounds.push(Vec::new());
            }
            rounds[r].push(piece.to_vec());
        }
    }
    rounds
}

/// Changes applied by one script call at most: bounds how long one call holds the server
/// (a few milliseconds).
pub(crate) const SCRIPT_CHUNK: usize = 500;

/// Hash fields: strings as they are, other values as JSON text, nulls left out.
fn push_hash_fields(args: &mut Args, doc: &Map<String, Json>) {
    for (name, value) in doc {
        match value {
            Json::Null => continue,
            Json::String(s) => {
                args.push(name.as_bytes());
                args.push(s.as_bytes());
            }
            other => {
                args.push(name.as_bytes());
                args.push(other.to_string().as_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hash_rows_leave_out_nulls_and_write_non_strings_as_json() {
        let mut args = Args::default();
        let doc = json!({"a": "text", "b": 7, "c": null, "d": {"x": [1]}});
        push_hash_fields(&mut args, doc.as_object().unwrap());
        let fields: Vec<String> = (0..args.ends.len())
            .map(|i| String::from_utf8(args.get(i).to_vec()).unwrap())
            .collect();
        assert_eq!(fields, ["a", "text", "b", "7", "d", "{\"x\":[1]}"]);
    }
}
