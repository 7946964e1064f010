//! The contract between the job consumer and the sinks (search indexes, caches).
//!
//! The job consumer reads `cdc.*` topics, decodes each record into a [`SinkRecord`] (the
//! envelope flattened like Debezium's `ExtractNewRecordState`) and hands batches to a
//! [`Sink`]. A sink applies a batch idempotently, ordering its writes on [`Position`], so a
//! replayed, duplicated or reordered record never overwrites newer data.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Map, Value as Json};

use crate::{ErrorKind, Lsn, Retry};

/// A boxed future, so [`Sink`] stays object safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where a change sits in the source's commit order.
///
/// Streamed changes are ordered by `(last commit LSN before the change, the change's own
/// LSN)` — Debezium's `source.sequence` — which follows commit order across transactions
/// and log order within one. A snapshot read is `(snapshot point, 0)`: after every change
/// committed before the snapshot, before every change streamed after it (the source starts
/// `sequence` at the snapshot point).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Position {
    pub commit: Lsn,
    pub change: Lsn,
}

impl Position {
    pub fn new(commit: Lsn, change: Lsn) -> Self {
        Position { commit, change }
    }

    /// 32 lower-case hex digits that sort like the position (for scripts and stores that
    /// compare strings, such as Redis Lua, whose numbers are doubles).
    pub fn to_hex(self) -> String {
        format!("{:016x}{:016x}", self.commit.0, self.change.0)
    }

    /// Parses [`Position::to_hex`].
    pub fn from_hex(s: &str) -> Option<Position> {
        if s.len() != 32 || !s.is_ascii() {
            return None;
        }
        let commit = u64::from_str_radix(&s[..16], 16).ok()?;
        let change = u64::from_str_radix(&s[16..], 16).ok()?;
        Some(Position::new(Lsn(commit), Lsn(change)))
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.change, self.commit)
    }
}

/// The table a record belongs to, from the envelope's `source` block.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableRef {
    pub topic: Arc<str>,
    pub db: Arc<str>,
    pub schema: Arc<str>,
    pub table: Arc<str>,
}

/// Kind of a row field, from its Avro schema (used to derive index schemas).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Free text: tokenized in search indexes.
    Text,
    I64,
    F64,
    Bool,
    /// Anything else (decimals as strings, JSON, arrays, bytes as base64, …): stored.
    Other,
}

/// One field of a row's value schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldInfo {
    pub name: String,
    pub kind: FieldKind,
}

/// The fields of a table's row, in column order (shared by every record of one schema).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RowSchema {
    pub fields: Vec<FieldInfo>,
}

/// A record's primary key: the key struct's fields in order.
#[derive(Debug, Clone, PartialEq)]
pub struct RowKey(pub Vec<(String, Json)>);

impl RowKey {
    /// The key as one string: a single column's value, or the columns' values joined by
    /// `:` (strings unquoted). Used as a document id and in cache keys.
    pub fn id(&self) -> String {
        let mut out = String::new();
        for (i, (_, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(':');
            }
            match v {
                Json::String(s) => out.push_str(s),
                Json::Null => out.push_str("null"),
                other => out.push_str(&other.to_string()),
            }
        }
        out
    }
}

/// What a record asks a sink to do.
#[derive(Debug, Clone, PartialEq)]
pub enum SinkOp {
    /// Insert, update or snapshot read: the row after the change.
    Upsert {
        key: RowKey,
        doc: Map<String, Json>,
        schema: Arc<RowSchema>,
        /// Columns the change left unchanged without carrying their values (TOASTed
        /// columns an update did not touch, see [`crate::Unavailable`]): the target keeps
        /// the values it holds. Not in `doc`. Nearly always empty.
        unchanged: Vec<String>,
    },
    /// The row with this key is gone.
    Delete { key: RowKey },
    /// Every row of the table is gone.
    Truncate,
}

/// One decoded change, with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkRecord {
    pub table: Arc<TableRef>,
    pub pos: Position,
    pub op: SinkOp,
    /// Debezium's op letter (`c`, `u`, `d`, `r`, `t`).
    pub op_code: char,
    /// Source commit time, ms since the epoch (for end-to-end latency).
    pub source_ts_ms: i64,
    pub partition: i32,
    pub offset: i64,
}

/// The next offset to read of one topic partition.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct PartitionOffset {
    pub topic: String,
    pub partition: i32,
    /// The offset of the next record to consume (Kafka's committed-offset convention).
    pub next: i64,
}

/// Why a sink could not apply a batch.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SinkError {
    /// The target is unreachable, overloaded or restarting: retry with backoff.
    #[error("{0}")]
    Transient(String),
    /// Bad configuration, rejected credentials, a document the target refuses: stop.
    #[error("{0}")]
    Definite(String),
}

impl Retry for SinkError {
    fn kind(&self) -> ErrorKind {
        match self {
            SinkError::Transient(_) => ErrorKind::Transient,
            SinkError::Definite(_) => ErrorKind::Definite,
        }
    }
}

/// A target kept in sync with `cdc.*` topics.
pub trait Sink: Send {
    /// Offsets the sink stores atomically with its own data (the tantivy commit payload).
    /// `None` (the default): the sink keeps none, and the consumer group's committed
    /// offsets are used.
    fn stored_offsets(&self) -> Option<Vec<PartitionOffset>> {
        None
    }

    /// Unchanged TOASTed values ([`SinkOp::Upsert::unchanged`]) this sink left out of a
    /// document because its target held no earlier copy of the row, since it started.
    fn values_left_out(&self) -> u64 {
        0
    }

    /// Applies `batch` (in consumption order) and makes it durable in the target before
    /// returning `Ok`; `offsets` are the positions after the batch, for sinks that store
    /// them. Applying a record whose [`Position`] is older than the target's copy of that
    /// row (or table, after a truncate) must change nothing.
    fn write<'a>(
        &'a mut self,
        batch: &'a [SinkRecord],
        offsets: &'a [PartitionOffset],
    ) -> BoxFuture<'a, Result<(), SinkError>>;
}

/// Field include/exclude/rename applied to documents (Kafka Connect's `ReplaceField`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldMap {
    /// When not empty, only these fields are kept.
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// `(from, to)` pairs, applied after include/exclude.
    pub rename: Vec<(String, String)>,
}

impl FieldMap {
    /// Parses `old:new,old2:new2` (Kafka Connect's `renames`).
    pub fn parse_renames(s: &str) -> Result<Vec<(String, String)>, String> {
        split_list(s)
            .map(|pair| match pair.split_once(':') {
                Some((from, to)) if !from.trim().is_empty() && !to.trim().is_empty() => {
                    Ok((from.trim().to_string(), to.trim().to_string()))
                }
                _ => Err(format!(
                    "`{pair}` is not a rename: write old:new pairs separated by commas"
                )),
            })
            .collect()
    }

    /// Parses a comma-separated field list.
    pub fn parse_list(s: &str) -> Vec<String> {
        split_list(s).map(str::to_string).collect()
    }

    pub fn is_identity(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty() && self.rename.is_empty()
    }

    /// Applies the map to a document.
    pub fn apply(&self, doc: &mut Map<String, Json>) {
        if self.is_identity() {
            return;
        }
        if !self.include.is_empty() {
            doc.retain(|k, _| self.include.iter().any(|f| f == k));
        }
        for f in &self.exclude {
            doc.remove(f);
        }
        for (from, to) in &self.rename {
            if let Some(v) = doc.remove(from) {
                doc.insert(to.clone(), v);
            }
        }
    }

    /// Applies the map to field names (those of [`SinkOp::Upsert::unchanged`]).
    pub fn apply_names(&self, names: &mut Vec<String>) {
        if self.is_identity() || names.is_empty() {
            return;
        }
        names.retain(|n| {
            (self.include.is_empty() || self.include.contains(n)) && !self.exclude.contains(n)
        });
        for name in names.iter_mut() {
            if let Some((_, to)) = self.rename.iter().find(|(from, _)| from == name) {
                *name = to.clone();
            }
        }
    }

    /// Applies the map to a row schema (same rules as [`FieldMap::apply`]).
    pub fn apply_schema(&self, schema: &RowSchema) -> RowSchema {
        let fields = schema
            .fields
            .iter()
            .filter(|f| self.include.is_empty() || self.include.contains(&f.name))
            .filter(|f| !self.exclude.contains(&f.name))
            .map(|f| FieldInfo {
                name: self
                    .rename
                    .iter()
                    .find(|(from, _)| *from == f.name)
                    .map_or_else(|| f.name.clone(), |(_, to)| to.clone()),
                kind: f.kind,
            })
            .collect();
        RowSchema { fields }
    }
}

fn split_list(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|p| !p.is_empty())
}

/// Expands `{schema}`, `{table}`, `{db}`, `{topic}` and `{pk}` in a name template.
pub fn expand_template(template: &str, table: &TableRef, key: Option<&RowKey>) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let Some(end) = after.find('}') else {
            out.push_str(after);
            return out;
        };
        match &after[1..end] {
            "schema" => out.push_str(&table.schema),
            "table" => out.push_str(&table.table),
            "db" => out.push_str(&table.db),
            "topic" => out.push_str(&table.topic),
            "pk" => out.push_str(&key.map(RowKey::id).unwrap_or_default()),
            _ => out.push_str(&after[..=end]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn table() -> TableRef {
        TableRef {
            topic: "cdc.public.items".into(),
            db: "shop".into(),
            schema: "public".into(),
            table: "items".into(),
        }
    }

    #[test]
    fn positions_order_by_commit_then_change_and_hex_sorts_the_same() {
        let a = Position::new(Lsn(100), Lsn(90));
        let b = Position::new(Lsn(100), Lsn(120));
        let c = Position::new(Lsn(0x1_0000_0000), Lsn(1));
        assert!(a < b && b < c);
        assert!(a.to_hex() < b.to_hex() && b.to_hex() < c.to_hex());
        assert_eq!(Position::from_hex(&c.to_hex()), Some(c));
        assert_eq!(Position::from_hex("xyz"), None);
    }

    #[test]
    fn key_ids_join_columns() {
        let one = RowKey(vec![("id".into(), json!(42))]);
        assert_eq!(one.id(), "42");
        let two = RowKey(vec![("a".into(), json!("x")), ("b".into(), json!(7))]);
        assert_eq!(two.id(), "x:7");
    }

    #[test]
    fn templates_expand_known_names_and_keep_others() {
        let key = RowKey(vec![("id".into(), json!(5))]);
        let t = table();
        assert_eq!(
            expand_template("{schema}.{table}:{pk}", &t, Some(&key)),
            "public.items:5"
        );
        assert_eq!(
            expand_template("{topic}/{nope}/{", &t, None),
            "cdc.public.items/{nope}/{"
        );
        assert_eq!(expand_template("{db}", &t, None), "shop");
    }

    #[test]
    fn field_map_includes_excludes_and_renames() {
        let mut doc = json!({"id": 1, "name": "a", "secret": "s", "price": 2})
            .as_object()
            .cloned()
            .unwrap();
        let map = FieldMap {
            include: vec![],
            exclude: vec!["secret".into()],
            rename: FieldMap::parse_renames("name:title").unwrap(),
        };
        map.apply(&mut doc);
        assert_eq!(json!(doc), json!({"id": 1, "title": "a", "price": 2}));
        let only = FieldMap {
            include: FieldMap::parse_list("id, price"),
            ..Default::default()
        };
        let mut doc2 = json!({"id": 1, "name": "a", "price": 2})
            .as_object()
            .cloned()
            .unwrap();
        only.apply(&mut doc2);
        assert_eq!(json!(doc2), json!({"id": 1, "price": 2}));
        let mut names = vec!["name".to_string(), "secret".into(), "price".into()];
        map.apply_names(&mut names);
        assert_eq!(names, ["title", "price"]);
        only.apply_names(&mut names);
        assert_eq!(names, ["price"]);
        assert!(FieldMap::parse_renames("broken").is_err());
    }

    #[test]
    fn field_map_applies_to_schemas_like_documents() {
        let schema = RowSchema {
            fields: vec![
                FieldInfo {
                    name: "id".into(),
                    kind: FieldKind::I64,
                },
                FieldInfo {
                    name: "name".into(),
                    kind: FieldKind::Text,
                },
                FieldInfo {
                    name: "secret".into(),
                    kind: FieldKind::Text,
                },
            ],
        };
        let map = FieldMap {
            include: vec![],
            exclude: vec!["secret".into()],
            rename: vec![("name".into(), "title".into())],
        };
        let out = map.apply_schema(&schema);
        let names: Vec<_> = out.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["id", "title"]);
    }
}
