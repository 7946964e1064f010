//! Plans for reading Debezium records: the value envelope (what to read, what to skip,
//! decided once per schema id from its field names) and the key struct.
//!
//! A change event is read in one pass over its fields in schema order: `after` becomes a
//! JSON object, `source` yields the table and position fields (borrowed from the record's
//! bytes), `op` its letter; `before`, `transaction` and the envelope's timestamps are
//! skipped. Field names rather than positions drive the plan, so an envelope written by
//! another Debezium version (fields added or reordered) reads the same.

use std::sync::Arc;

use serde_json::{Map, Value as Json};
use tributary_core::{FieldInfo, FieldKind, RowKey, RowSchema};

use super::compile::{Compiled, Node, NodeId};
use super::read::{ReadError, Reader};
use crate::schema::{HEARTBEAT_VALUE_NAME, MESSAGE_VALUE_NAME, TX_METADATA_VALUE_NAME};

/// How to read the values of one schema id.
#[derive(Debug)]
pub(crate) enum ValuePlan {
    Envelope(EnvelopePlan),
    /// Debezium records that are no change events (transaction metadata, heartbeats,
    /// logical decoding messages): a sink has nothing to apply.
    Ignore,
}

#[derive(Debug)]
pub(crate) struct EnvelopePlan {
    schema: Compiled,
    steps: Vec<Step>,
    source: Vec<SourceStep>,
    /// The fields of `after`, shared by every record of this schema id.
    pub row_schema: Arc<RowSchema>,
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Skip(NodeId),
    After(NodeId),
    Source,
    Op(NodeId),
}

#[derive(Debug, Clone, Copy)]
enum SourceStep {
    Skip(NodeId),
    Db(NodeId),
    Schema(NodeId),
    Table(NodeId),
    TsMs(NodeId),
    Lsn(NodeId),
    Sequence(NodeId),
}

/// The parts of a change event a sink needs, borrowing strings from the record's bytes.
#[derive(Debug, Default)]
pub(crate) struct Raw<'a> {
    pub after: Option<Map<String, Json>>,
    pub op: &'a str,
    pub db: &'a str,
    pub schema: &'a str,
    pub table: &'a str,
    pub ts_ms: i64,
    pub lsn: Option<i64>,
    pub sequence: Option<&'a str>,
}

impl ValuePlan {
    pub fn new(schema: Compiled) -> Result<ValuePlan, String> {
        let Node::Record(root) = schema.node(schema.root) else {
            return Err("the value schema is not a record".into());
        };
        if [
            TX_METADATA_VALUE_NAME,
            HEARTBEAT_VALUE_NAME,
            MESSAGE_VALUE_NAME,
        ]
        .contains(&root.name.as_str())
        {
            return Ok(ValuePlan::Ignore);
        }
        let mut steps = Vec::with_capacity(root.fields.len());
        let mut source = None;
        let mut row = None;
        let mut has_op = false;
        for f in &root.fields {
            steps.push(match f.name.as_str() {
                "after" => {
                    let r = schema.record(f.node).ok_or_else(|| {
                        format!("field after of {} is not a (nullable) record", root.name)
                    })?;
                    row = Some(r);
                    Step::After(f.node)
                }
                "source" => {
                    let r = schema
                        .record(f.node)
                        .ok_or_else(|| format!("field source of {} is not a record", root.name))?;
                    source = Some(
                        r.fields
                            .iter()
                            .map(|sf| match sf.name.as_str() {
                                "db" => SourceStep::Db(sf.node),
                                "schema" => SourceStep::Schema(sf.node),
                                "table" => SourceStep::Table(sf.node),
                                "ts_ms" => SourceStep::TsMs(sf.node),
                                "lsn" => SourceStep::Lsn(sf.node),
                                "sequence" => SourceStep::Sequence(sf.node),
                                _ => SourceStep::Skip(sf.node),
                            })
                            .collect(),
                    );
                    if schema.non_null(f.node) != f.node {
                        return Err(format!("field source of {} is optional", root.name));
                    }
                    Step::Source
                }
                "op" => {
                    has_op = true;
                    Step::Op(f.node)
                }
                _ => Step::Skip(f.node),
            });
        }
        let Some(source) = source.filter(|_| has_op) else {
            return Err(format!(
                "{} is not a Debezium change event envelope (it has no op or no source field)",
                root.name
            ));
        };
        let row_schema = Arc::new(RowSchema {
            fields: row
                .map(|r| {
                    r.fields
                        .iter()
                        .map(|f| FieldInfo {
                            name: f.name.clone(),
                            kind: kind(&schema, f.node),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        });
        Ok(ValuePlan::Envelope(EnvelopePlan {
            schema,
            steps,
            source,
            row_schema,
        }))
    }
}

impl EnvelopePlan {
    /// Reads one envelope (the bytes after the Confluent header).
    pub fn read<'a>(&self, body: &'a [u8]) -> Result<Raw<'a>, ReadError> {
        let s = &self.schema;
        let mut r = Reader::new(body);
        let mut raw = Raw::default();
        for step in &self.steps {
            match *step {
                Step::Skip(id) => r.skip(s, id, 0)?,
                Step::After(id) => {
                    let id = r.resolve_union(s, id).map_err(|e| e.within("after"))?;
                    if let Node::Record(rec) = s.node(id) {
                        let row = r.record(s, rec, 1).map_err(|e| e.within("after"))?;
                        raw.after = Some(row);
                    }
                }
                Step::Source => self.read_source(&mut r, &mut raw)?,
                Step::Op(id) => {
                    raw.op = r
                        .opt_str(s, id)
                        .map_err(|e| e.within("op"))?
                        .unwrap_or_default();
                }
            }
        }
        if r.remaining() > 0 {
            return Err(ReadError::new(format!(
                "{} bytes are left over after the envelope",
                r.remaining()
            )));
        }
        Ok(raw)
    }

    fn read_source<'a>(&self, r: &mut Reader<'a>, raw: &mut Raw<'a>) -> Result<(), ReadError> {
        let s = &self.schema;
        fn at(name: &'static str) -> impl Fn(ReadError) -> ReadError {
            move |e| e.within(name).within("source")
        }
        for step in &self.source {
            match *step {
                SourceStep::Skip(id) => r.skip(s, id, 0).map_err(|e| e.within("source"))?,
                SourceStep::Db(id) => {
                    raw.db = r.opt_str(s, id).map_err(at("db"))?.unwrap_or_default();
                }
                SourceStep::Schema(id) => {
                    raw.schema = r.opt_str(s, id).map_err(at("schema"))?.unwrap_or_default();
                }
                SourceStep::Table(id) => {
                    raw.table = r.opt_str(s, id).map_err(at("table"))?.unwrap_or_default();
                }
                SourceStep::TsMs(id) => {
                    raw.ts_ms = r.opt_long(s, id).map_err(at("ts_ms"))?.unwrap_or(0);
                }
                SourceStep::Lsn(id) => raw.lsn = r.opt_long(s, id).map_err(at("lsn"))?,
                SourceStep::Sequence(id) => {
                    raw.sequence = r.opt_str(s, id).map_err(at("sequence"))?;
                }
            }
        }
        Ok(())
    }
}

/// How to read the keys of one schema id.
#[derive(Debug)]
pub(crate) struct KeyPlan {
    schema: Compiled,
}

impl KeyPlan {
    pub fn new(schema: Compiled) -> KeyPlan {
        KeyPlan { schema }
    }

    /// The key's fields in order; a key that is no record (not written by Debezium) is one
    /// field named `key`.
    pub fn read(&self, body: &[u8]) -> Result<RowKey, ReadError> {
        let s = &self.schema;
        let mut r = Reader::new(body);
        let key = match s.node(s.root) {
            Node::Record(rec) => {
                let mut fields = Vec::with_capacity(rec.fields.len());
                for f in &rec.fields {
                    let v = r.json(s, f.node, 1).map_err(|e| e.within(&f.name))?;
                    fields.push((f.name.clone(), v));
                }
                RowKey(fields)
            }
            _ => RowKey(vec![("key".to_owned(), r.json(s, s.root, 0)?)]),
        };
        if r.remaining() > 0 {
            return Err(ReadError::new(format!(
                "{} bytes are left over after the key",
                r.remaining()
            )));
        }
        Ok(key)
    }
}

/// The kind of a row field: plain strings are text; strings with a semantic name (JSON,
/// UUID, timestamps) and every other type but numbers and booleans are `Other`.
fn kind(s: &Compiled, id: NodeId) -> FieldKind {
    match s.node(s.non_null(id)) {
        Node::String { semantic: false } => FieldKind::Text,
        Node::Int | Node::Long => FieldKind::I64,
        Node::Float | Node::Double => FieldKind::F64,
        Node::Boolean => FieldKind::Bool,
        _ => FieldKind::Other,
    }
}

/// Debezium's `source.sequence`: `["<last commit LSN>","<LSN>"]`, decimals as strings,
/// either may be `null`.
pub(crate) fn parse_sequence(s: &str) -> Option<(Option<u64>, Option<u64>)> {
    let inner = s.trim().strip_prefix('[')?.strip_suffix(']')?;
    let (a, b) = inner.split_once(',')?;
    let part = |p: &str| -> Option<Option<u64>> {
        let p = p.trim();
        if p == "null" {
            return Some(None);
        }
        let digits = p
            .strip_prefix('"')
            .and_then(|p| p.strip_suffix('"'))
            .unwrap_or(p);
        digits.parse().ok().map(Some)
    };
    Some((part(a)?, part(b)?))
}
