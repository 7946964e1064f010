//! The sink side: Debezium change events in Confluent-framed Avro → [`SinkRecord`]s, the
//! envelope flattened like Debezium's `ExtractNewRecordState`.
//!
//! Each schema id is fetched from the registry and compiled once ([`compile`]); a record
//! is then one pass over its bytes straight into JSON ([`read`]), skipping what a sink does
//! not need (the `before` image, the transaction block), with the table's [`RowSchema`] and
//! [`TableRef`] shared by every record of the same shape. Field kinds and decimal scales
//! come from Connect's attributes (`connect.name`, `scale`), read from the schema JSON
//! itself.
//!
//! Positions follow [`Position`]: a snapshot read (`r`) is `(source.lsn, 0)`, anything
//! else `(sequence[0], source.lsn)`, `sequence` being Debezium's `["<last commit LSN>",
//! "<LSN>"]` string. Tombstones, `m` (logical messages), transaction metadata and
//! heartbeat records carry nothing to apply: they decode to `None`.

mod compile;
mod decimal;
mod envelope;
mod error;
mod read;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

use tributary_core::{Lsn, Position, RowKey, SinkOp, SinkRecord, TableRef};

use crate::registry::{RegistryClient, RegistryError};
use envelope::{KeyPlan, ValuePlan, parse_sequence};
pub use error::{At, DecodeError, Part};
use read::ReadError;

/// One Kafka record as the consumer hands it over.
#[derive(Debug, Clone, Copy)]
pub struct RawRecord<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
}

impl RawRecord<'_> {
    fn at(&self) -> At {
        At {
            topic: self.topic.to_owned(),
            partition: self.partition,
            offset: self.offset,
        }
    }
}

struct ValueEntry {
    plan: ValuePlan,
    /// The table of the last record of this schema id (records of one id nearly always
    /// belong to one table).
    table: Option<Arc<TableRef>>,
}

/// Decodes change events, caching compiled schemas by id. One per consuming task.
pub struct Decoder {
    registry: Arc<RegistryClient>,
    values: HashMap<u32, ValueEntry>,
    keys: HashMap<u32, KeyPlan>,
}

impl Decoder {
    pub fn new(registry: Arc<RegistryClient>) -> Self {
        Decoder {
            registry,
            values: HashMap::new(),
            keys: HashMap::new(),
        }
    }

    /// Schema ids compiled so far (keys and values).
    pub fn schemas_compiled(&self) -> usize {
        self.values.len() + self.keys.len()
    }

    /// Decodes one record. `Ok(None)`: nothing to apply (a tombstone, a logical message,
    /// transaction metadata or a heartbeat). A change without a key (a table without a
    /// primary key) is [`DecodeError::NoKey`], which a job skips.
    ///
    /// Awaits only when a schema id is new (a registry round trip).
    pub async fn decode(&mut self, rec: &RawRecord<'_>) -> Result<Option<SinkRecord>, DecodeError> {
        let Some(value) = rec.value else {
            return Ok(None);
        };
        let (value_id, body) = header(rec, Part::Value, value)?;
        let key = match rec.key.filter(|k| !k.is_empty()) {
            Some(k) => Some(header(rec, Part::Key, k)?),
            None => None,
        };
        if !self.values.contains_key(&value_id) {
            self.load_value(rec, value_id).await?;
        }
        if let Some((key_id, _)) = key
            && !self.keys.contains_key(&key_id)
        {
            self.load_key(rec, key_id).await?;
        }
        self.decode_loaded(rec, value_id, body, key)
    }

    fn decode_loaded(
        &mut self,
        rec: &RawRecord<'_>,
        value_id: u32,
        body: &[u8],
        key: Option<(u32, &[u8])>,
    ) -> Result<Option<SinkRecord>, DecodeError> {
        let Some(entry) = self.values.get(&value_id) else {
            return Ok(None);
        };
        let ValuePlan::Envelope(plan) = &entry.plan else {
            return Ok(None);
        };
        let raw = plan
            .read(body)
            .map_err(|e| malformed(rec, Part::Value, value_id, &e))?;
        let op_code = match raw.op {
            "c" => 'c',
            "u" => 'u',
            "d" => 'd',
            "r" => 'r',
            "t" => 't',
            "m" => return Ok(None),
            other => {
                return Err(DecodeError::UnknownOp {
                    at: rec.at(),
                    op: other.to_owned(),
                });
            }
        };
        let lsn = raw.lsn.map(|l| Lsn(l as u64));
        let pos = if op_code == 'r' {
            Position::new(lsn.unwrap_or_default(), Lsn::ZERO)
        } else {
            let (commit, change) = match raw.sequence {
                Some(seq) => parse_sequence(seq).ok_or_else(|| DecodeError::Malformed {
                    at: rec.at(),
                    part: Part::Value,
                    id: value_id,
                    reason: format!(
                        "source.sequence {seq:?} is not Debezium's [\"<last commit LSN>\",\"<LSN>\"]"
                    ),
                })?,
                None => (None, None),
            };
            Position::new(
                Lsn(commit.unwrap_or(0)),
                lsn.or(change.map(Lsn)).unwrap_or_default(),
            )
        };
        let op = match op_code {
            't' => SinkOp::Truncate,
            'd' => SinkOp::Delete {
                key: self.key(rec, key, &raw)?,
            },
            _ => {
                let key = self.key(rec, key, &raw)?;
                let Some(doc) = raw.after else {
                    return Err(malformed(
                        rec,
                        Part::Value,
                        value_id,
                        &ReadError::new(format!("op {op_code} without an after image")),
                    ));
                };
                SinkOp::Upsert {
                    key,
                    doc,
                    schema: plan.row_schema.clone(),
                    unchanged: Vec::new(),
                }
            }
        };
        let table = self.table(rec.topic, value_id, raw.db, raw.schema, raw.table);
        Ok(Some(SinkRecord {
            table,
            pos,
            op,
            op_code,
            source_ts_ms: raw.ts_ms,
            partition: rec.partition,
            offset: rec.offset,
        }))
    }

    fn key(
        &self,
        rec: &RawRecord<'_>,
        key: Option<(u32, &[u8])>,
        raw: &envelope::Raw<'_>,
    ) -> Result<RowKey, DecodeError> {
        let Some((id, body)) = key else {
            return Err(DecodeError::NoKey {
                at: rec.at(),
                table: format!("{}.{}", raw.schema, raw.table),
            });
        };
        let Some(plan) = self.keys.get(&id) else {
            return Err(malformed(
                rec,
                Part::Key,
                id,
                &ReadError::new("internal error: key schema not loaded"),
            ));
        };
        plan.read(body)
            .map_err(|e| malformed(rec, Part::Key, id, &e))
    }

    /// The shared table of a record, made anew only when it differs from the last one of
    /// the same schema id.
    fn table(
        &mut self,
        topic: &str,
        value_id: u32,
        db: &str,
        schema: &str,
        table: &str,
    ) -> Arc<TableRef> {
        let Some(entry) = self.values.get_mut(&value_id) else {
            return Arc::new(table_ref(topic, db, schema, table));
        };
        if let Some(t) = &entry.table
            && &*t.topic == topic
            && &*t.db == db
            && &*t.schema == schema
            && &*t.table == table
        {
            return t.clone();
        }
        let t = Arc::new(table_ref(topic, db, schema, table));
        entry.table = Some(t.clone());
        t
    }

    async fn load_value(&mut self, rec: &RawRecord<'_>, id: u32) -> Result<(), DecodeError> {
        let text = self.fetch(rec, Part::Value, id).await?;
        let plan = compile::compile(&text)
            .and_then(ValuePlan::new)
            .map_err(|reason| DecodeError::BadSchema {
                at: rec.at(),
                part: Part::Value,
                id,
                reason,
            })?;
        tracing::debug!(id, topic = rec.topic, "value schema compiled");
        self.values.insert(id, ValueEntry { plan, table: None });
        Ok(())
    }

    async fn load_key(&mut self, rec: &RawRecord<'_>, id: u32) -> Result<(), DecodeError> {
        let text = self.fetch(rec, Part::Key, id).await?;
        let plan = compile::compile(&text).map_err(|reason| DecodeError::BadSchema {
            at: rec.at(),
            part: Part::Key,
            id,
            reason,
        })?;
        tracing::debug!(id, topic = rec.topic, "key schema compiled");
        self.keys.insert(id, KeyPlan::new(plan));
        Ok(())
    }

    async fn fetch(
        &self,
        rec: &RawRecord<'_>,
        part: Part,
        id: u32,
    ) -> Result<Arc<str>, DecodeError> {
        self.registry
            .schema_by_id(id)
            .await
            .map_err(|source| match source {
                RegistryError::SchemaIdNotFound { url, .. } => DecodeError::UnknownSchema {
                    at: rec.at(),
                    part,
                    id,
                    url,
                },
                source => DecodeError::Registry {
                    at: rec.at(),
                    part,
                    id,
                    source,
                },
            })
    }
}

fn table_ref(topic: &str, db: &str, schema: &str, table: &str) -> TableRef {
    TableRef {
        topic: topic.into(),
        db: db.into(),
        schema: schema.into(),
        table: table.into(),
    }
}

/// Splits Confluent's framing: magic byte 0, the schema id (4 bytes, big-endian), the datum.
fn header<'a>(
    rec: &RawRecord<'_>,
    part: Part,
    bytes: &'a [u8],
) -> Result<(u32, &'a [u8]), DecodeError> {
    match bytes {
        [0, a, b, c, d, body @ ..] => Ok((u32::from_be_bytes([*a, *b, *c, *d]), body)),
        _ => {
            let found = match bytes.first() {
                _ if bytes.len() < 5 => {
                    format!("{} bytes, shorter than the 5-byte header", bytes.len())
                }
                Some(b'{' | b'[' | b'"') => "it looks like JSON".to_owned(),
                Some(b) => format!("it starts with byte 0x{b:02x}, not the magic byte 0"),
                None => "it is empty".to_owned(),
            };
            Err(DecodeError::NotConfluent {
                at: rec.at(),
                part,
                found,
            })
        }
    }
}

fn malformed(rec: &RawRecord<'_>, part: Part, id: u32, e: &ReadError) -> DecodeError {
    DecodeError::Malformed {
        at: rec.at(),
        part,
        id,
        reason: e.describe(),
    }
}
