//! The keys the sink writes: a row's cache key (`key.pattern`), the key holding its
//! position (`<versions.prefix>:{<cache key>}`), a table's truncate floor, and the globs a
//! truncate scans for.
//!
//! A position key is built so that Redis Cluster places it in the cache key's own slot:
//! wrapped in a hash tag (`{…}`) when the cache key has none, so the slot is computed
//! from the cache key's whole text, or after the prefix as it is when the cache key has a
//! hash tag of its own (`{user}:42`), which then decides both slots. One script call can
//! then read and write both. [`same_slot`] verifies it, since a cache key with a stray `}`
//! could still end the tag early.

use redis::cluster_routing::Slot;
use serde_json::Value as Json;
use tributary_core::sink::expand_template;
use tributary_core::{RowKey, TableRef};

/// A value no primary key renders to, used to find where `{pk}` lands in a key.
const PK_SENTINEL: &str = "\u{0}pk\u{0}";

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

/// Redis Cluster's hash tag of `key`: the text between its first `{` and the first `}`
/// after it, when not empty.
fn hash_tag(key: &[u8]) -> Option<&[u8]> {
    let open = key.iter().position(|&b| b == b'{')?;
    let len = key[open + 1..].iter().position(|&b| b == b'}')?;
    (len > 0).then(|| &key[open + 1..open + 1 + len])
}

/// The key holding the position of the last change applied to `key`.
pub fn version_key(prefix: &str, key: &str) -> String {
    if hash_tag(key.as_bytes()).is_some() {
        format!("{prefix}:{key}")
    } else {
        format!("{prefix}:{{{key}}}")
    }
}

/// The cache key whose position `vkey` holds, if it is one of [`version_key`]'s.
pub fn key_of_version(prefix: &str, vkey: &str) -> Option<String> {
    let rest = vkey.strip_prefix(prefix)?.strip_prefix(':')?;
    if let Some(inner) = rest.strip_prefix('{').and_then(|r| r.strip_suffix('}'))
        && version_key(prefix, inner) == vkey
    {
        return Some(inner.to_string());
    }
    (version_key(prefix, rest) == vkey).then(|| rest.to_string())
}

/// The cluster slot of `key`.
pub fn slot(key: &str) -> Slot {
    Slot::for_key(key)
}

/// Whether Redis Cluster places both keys in one slot.
pub fn same_slot(a: &str, b: &str) -> bool {
    slot(a) == slot(b)
}

/// The key holding `table`'s truncate floor.
pub fn floor_key(prefix: &str, table: &TableRef) -> String {
    format!("{prefix}:truncate:{}.{}", table.schema, table.table)
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

/// `MATCH` globs for the position keys of `table`'s cache keys, in both of
/// [`version_key`]'s forms (a primary key with braces can give a key a hash tag).
pub fn table_versions_globs(prefix: &str, pattern: &str, table: &TableRef) -> [String; 2] {
    let keys = table_keys_glob(pattern, table);
    let prefix = glob_escape(prefix);
    [format!("{prefix}:{{{keys}}}"), format!("{prefix}:{keys}")]
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(
            table_versions_globs("tv:c", "{schema}.{table}:{pk}", &t),
            ["tv:c:{public.items:*}", "tv:c:public.items:*"]
        );
        assert!(pattern_has_pk("{schema}.{table}:{pk}"));
        assert!(!pattern_has_pk("a{b{pk}"));
        assert_eq!(floor_key("tv:c", &t), "tv:c:truncate:public.items");
    }

    #[test]
    fn position_keys_share_the_cache_keys_slot_and_map_back() {
        for key in [
            "public.items:42",
            "{user}:42",
            "x{y}z{w}",
            "plain",
            "with:colon{",
        ] {
            let v = version_key("tv:c", key);
            assert!(same_slot(key, &v), "{key} -> {v}");
            assert_eq!(key_of_version("tv:c", &v).as_deref(), Some(key), "{v}");
        }
        assert_eq!(version_key("p", "public.items:42"), "p:{public.items:42}");
        assert_eq!(version_key("p", "{user}:42"), "p:{user}:42");
        // A stray `}` ends the tag early: another slot, which the sink refuses in a cluster.
        for key in ["a}b", "a{}b:1"] {
            let v = version_key("p", key);
            assert!(!same_slot(key, &v), "{key}");
            assert_eq!(key_of_version("p", &v).as_deref(), Some(key));
        }
        assert_eq!(key_of_version("p", "q:{x}"), None);
        // Redis's own slot of a known key (CLUSTER KEYSLOT foo = 12182).
        assert_eq!(Some(slot("foo")), Slot::new(12182));
        assert_eq!(Some(slot("{foo}bar")), Slot::new(12182));
    }
}
