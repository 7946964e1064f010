//! The compare-and-set apply script and the commands that call it.
//!
//! Every change becomes one `EVALSHA` of [`APPLY_SCRIPT`]; the script compares the
//! change's [`Position`](tributary_core::Position) (as [`to_hex`](tributary_core::Position::to_hex))
//! with the key's stored version and the table's truncate floor in the versions hash, and
//! writes only when the change is not older. Nothing here does I/O: these functions
//! append RESP2 commands to a buffer the sink sends as one pipeline.

use serde_json::{Map, Value as Json};
use tributary_core::sink::expand_template;
use tributary_core::{RowKey, SinkOp, SinkRecord, TableRef};

use crate::config::{RedisSinkConfig, ValueFormat};
use crate::resp::{push_array_header, push_bulk};

/// The Lua source of the apply script (see the file for its arguments).
pub const APPLY_SCRIPT: &str = include_str!("apply.lua");

/// Field of the versions hash holding a table's truncate floor.
pub const FLOOR_PREFIX: &str = "__truncate__:";

/// A value no primary key renders to, used to find where `{pk}` lands in a key.
const PK_SENTINEL: &str = "\u{0}pk\u{0}";

/// The versions-hash field holding `table`'s truncate floor.
pub fn floor_field(table: &TableRef) -> String {
    format!("{FLOOR_PREFIX}{}.{}", table.schema, table.table)
}

/// The cache key of a row.
pub fn cache_key(pattern: &str, table: &TableRef, key: &RowKey) -> String {
    expand_template(pattern, table, Some(key))
}

/// Whether the key pattern's expansion depends on the primary key at all.
pub fn pattern_has_pk(pattern: &str) -> bool {
    let table = TableRef {
        topic: "t".into(),
        db: "d".into(),
        schema: "s".into(),
        table: "t".into(),
    };
    let key = RowKey(vec![("pk".into(), Json::String(PK_SENTINEL.into()))]);
    expand_template(pattern, &table, Some(&key)).contains(PK_SENTINEL)
}

/// A `MATCH` glob for every cache key of `table`: the pattern's text before its first
/// `{pk}` and after its last, expanded for the table and glob-escaped, around `*`.
pub fn table_keys_glob(pattern: &str, table: &TableRef) -> String {
    let key = RowKey(vec![("pk".into(), Json::String(PK_SENTINEL.into()))]);
    let full = expand_template(pattern, table, Some(&key));
    let (prefix, suffix) = match (full.find(PK_SENTINEL), full.rfind(PK_SENTINEL)) {
        (Some(first), Some(last)) => (&full[..first], &full[last + PK_SENTINEL.len()..]),
        _ => (full.as_str(), ""),
    };
    let mut glob = glob_escape(prefix);
    glob.push('*');
    glob.push_str(&glob_escape(suffix));
    glob
}

fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Encodes records as `EVALSHA` calls of the apply script.
pub(crate) struct Encoder<'a> {
    config: &'a RedisSinkConfig,
    sha: &'a str,
    ttl: String,
}

impl<'a> Encoder<'a> {
    pub fn new(config: &'a RedisSinkConfig, sha: &'a str) -> Self {
        Encoder {
            config,
            sha,
            ttl: config.ttl_seconds.to_string(),
        }
    }

    /// The common head: `EVALSHA sha numkeys versions [key]`, then the four fixed ARGVs.
    fn head(
        &self,
        buf: &mut Vec<u8>,
        args: usize,
        key: Option<&str>,
        op: &str,
        pos: &str,
        floor: &str,
    ) {
        push_array_header(buf, args);
        push_bulk(buf, b"EVALSHA");
        push_bulk(buf, self.sha.as_bytes());
        push_bulk(buf, if key.is_some() { b"2" } else { b"1" });
        push_bulk(buf, self.config.versions_key.as_bytes());
        if let Some(key) = key {
            push_bulk(buf, key.as_bytes());
        }
        push_bulk(buf, op.as_bytes());
        push_bulk(buf, pos.as_bytes());
        push_bulk(buf, floor.as_bytes());
        push_bulk(buf, self.ttl.as_bytes());
    }

    /// Appends the command applying `rec` on its own.
    pub fn push_record(&self, buf: &mut Vec<u8>, rec: &SinkRecord) {
        let pos = rec.pos.to_hex();
        let floor = floor_field(&rec.table);
        if let SinkOp::Truncate = rec.op {
            return self.head(buf, 8, None, "trunc", &pos, &floor);
        }
        let mut args = Vec::new();
        let (key, op, n) = self.change(rec, &mut args);
        self.head(buf, 9 + n, Some(&key), op, &pos, &floor);
        buf.extend_from_slice(&args);
    }

    /// Appends one call applying every record of `records` (upserts and deletes, no
    /// truncate), whose reply is an array of their results. `scratch` is reused.
    pub fn push_batch(&self, buf: &mut Vec<u8>, records: &[SinkRecord], scratch: &mut Scratch) {
        let Scratch { keys, args, one } = scratch;
        keys.clear();
        args.clear();
        let mut count = 0;
        for rec in records {
            debug_assert!(!matches!(rec.op, SinkOp::Truncate), "truncates go alone");
            one.clear();
            let (key, op, n) = self.change(rec, one);
            push_bulk(keys, key.as_bytes());
            push_bulk(args, op.as_bytes());
            push_bulk(args, rec.pos.to_hex().as_bytes());
            push_bulk(args, floor_field(&rec.table).as_bytes());
            push_bulk(args, n.to_string().as_bytes());
            args.extend_from_slice(one);
            count += 4 + n;
        }
        push_array_header(buf, 4 + records.len() + 2 + count);
        push_bulk(buf, b"EVALSHA");
        push_bulk(buf, self.sha.as_bytes());
        push_bulk(buf, (1 + records.len()).to_string().as_bytes());
        push_bulk(buf, self.config.versions_key.as_bytes());
        buf.extend_from_slice(keys);
        push_bulk(buf, b"batch");
        push_bulk(buf, self.ttl.as_bytes());
        buf.extend_from_slice(args);
    }

    /// The cache key, op and op-specific arguments (appended to `args`, counted) of an
    /// upsert or delete.
    fn change(&self, rec: &SinkRecord, args: &mut Vec<u8>) -> (String, &'static str, usize) {
        match &rec.op {
            SinkOp::Upsert {
                key,
                doc,
                unchanged,
                ..
            } => {
                let key = cache_key(&self.config.key_pattern, &rec.table, key);
                // Unchanged columns: "keep" ops, with their count and names first.
                let keep = if unchanged.is_empty() {
                    0
                } else {
                    push_bulk(args, unchanged.len().to_string().as_bytes());
                    1 + unchanged.len()
                };
                match self.config.value_format {
                    ValueFormat::Json => {
                        for name in unchanged {
                            push_bulk(args, Json::String(name.clone()).to_string().as_bytes());
                        }
                        let value = serde_json::to_string(doc).unwrap_or_default();
                        push_bulk(args, value.as_bytes());
                        (key, if keep > 0 { "jsonk" } else { "json" }, keep + 1)
                    }
                    ValueFormat::Hash => {
                        for name in unchanged {
                            push_bulk(args, name.as_bytes());
                        }
                        let fields = push_hash_fields(args, doc);
                        (
                            key,
                            if keep > 0 { "hashk" } else { "hash" },
                            keep + 2 * fields,
                        )
                    }
                }
            }
            SinkOp::Delete { key } => (
                cache_key(&self.config.key_pattern, &rec.table, key),
                "del",
                0,
            ),
            SinkOp::Truncate => unreachable!("a truncate has no cache key"),
        }
    }

    /// Appends the command deleting those of `keys` older than `table`'s truncate floor.
    pub fn push_clean(&self, buf: &mut Vec<u8>, table: &TableRef, keys: &[Vec<u8>]) {
        push_array_header(buf, 8 + keys.len());
        push_bulk(buf, b"EVALSHA");
        push_bulk(buf, self.sha.as_bytes());
        push_bulk(buf, (1 + keys.len()).to_string().as_bytes());
        push_bulk(buf, self.config.versions_key.as_bytes());
        for k in keys {
            push_bulk(buf, k);
        }
        push_bulk(buf, b"clean");
        push_bulk(buf, b"");
        push_bulk(buf, floor_field(table).as_bytes());
        push_bulk(buf, b"0");
    }
}

/// Hash fields: strings as they are, other values as JSON text, nulls left out. Returns
/// how many fields it wrote.
fn push_hash_fields(buf: &mut Vec<u8>, doc: &Map<String, Json>) -> usize {
    let mut n = 0;
    for (name, value) in doc {
        match value {
            Json::Null => continue,
            Json::String(s) => {
                push_bulk(buf, name.as_bytes());
                push_bulk(buf, s.as_bytes());
            }
            other => {
                push_bulk(buf, name.as_bytes());
                push_bulk(buf, other.to_string().as_bytes());
            }
        }
        n += 1;
    }
    n
}

/// Buffers [`Encoder::push_batch`] reuses from call to call.
#[derive(Default)]
pub(crate) struct Scratch {
    keys: Vec<u8>,
    args: Vec<u8>,
    one: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::parse;
    use serde_json::json;

    fn table(schema: &str, name: &str) -> TableRef {
        TableRef {
            topic: format!("cdc.{schema}.{name}").into(),
            db: "shop".into(),
            schema: schema.into(),
            table: name.into(),
        }
    }

    #[test]
    fn table_globs_cover_the_text_around_pk_escaped() {
        let t = table("public", "items");
        assert_eq!(
            table_keys_glob("{schema}.{table}:{pk}", &t),
            "public.items:*"
        );
        assert_eq!(table_keys_glob("c:{table}:{pk}:v1", &t), "c:items:*:v1");
        assert_eq!(
            table_keys_glob("x[1]*?:{table}:{pk}", &t),
            "x\\[1\\]\\*\\?:items:*"
        );
        assert_eq!(table_keys_glob("{pk}@{db}", &t), "*@shop");
        assert!(pattern_has_pk("{schema}.{table}:{pk}"));
        assert!(!pattern_has_pk("a{b{pk}"));
        assert_eq!(floor_field(&t), "__truncate__:public.items");
    }

    #[test]
    fn hash_rows_leave_out_nulls_and_write_non_strings_as_json() {
        let mut buf = Vec::new();
        let doc = json!({"a": "text", "b": 7, "c": null, "d": {"x": [1]}});
        push_hash_fields(&mut buf, doc.as_object().unwrap());
        let mut fields = Vec::new();
        let mut at = 0;
        while let Some((reply, used)) = parse(&buf[at..]).unwrap() {
            fields.push(reply.as_text().unwrap().to_string());
            at += used;
        }
        assert_eq!(fields, ["a", "text", "b", "7", "d", "{\"x\":[1]}"]);
    }
}
