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
mod json;
mod read;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

use tributary_core::{Lsn, Position, RowKey, RowSchema, SinkOp, SinkRecord, TableRef};

use crate::registry::{RegistryClient, RegistryError};
use envelope::{KeyPlan, ValuePlan, parse_sequence};
pub use error::{At, DecodeError, Part};
pub use json::Format;
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

/// Decodes change events, caching compiled schemas by id. One per consuming task.
pub struct Decoder {
    registry: Arc<RegistryClient>,
    /// Which converters wrote the keys and the values.
    formats: (Format, Format),
    values: HashMap<u32, ValuePlan>,
    keys: HashMap<u32, KeyPlan>,
    json: json::JsonReader,
    /// The table of the last record of each topic (records of one topic nearly always
    /// belong to one table).
    tables: HashMap<String, Arc<TableRef>>,
}

impl Decoder {
    /// A decoder of records the AvroConverter wrote.
    pub fn new(registry: Arc<RegistryClient>) -> Self {
        Self::with_formats(registry, Format::Avro, Format::Avro)
    }

    /// A decoder of keys written in `key` and values written in `value`.
    pub fn with_formats(registry: Arc<RegistryClient>, key: Format, value: Format) -> Self {
        Decoder {
            registry,
            formats: (key, value),
            values: HashMap::new(),
            keys: HashMap::new(),
            json: json::JsonReader::default(),
            tables: HashMap::new(),
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
        let key = self.read_key(rec).await?;
        match self.formats.1 {
            Format::Avro => {
                let (value_id, body) = header(rec, Part::Value, value)?;
                if !self.values.contains_key(&value_id) {
                    self.load_value(rec, value_id).await?;
                }
                let Some(ValuePlan::Envelope(plan)) = self.values.get(&value_id) else {
                    return Ok(None);
                };
                let raw = plan
                    .read(body)
                    .map_err(|e| malformed(rec, Part::Value, value_id, &e))?;
                let row_schema = plan.row_schema.clone();
                self.finish(rec, raw, key, row_schema, &|reason| {
                    malformed(rec, Part::Value, value_id, &ReadError::new(reason))
                })
            }
            format @ (Format::Json {
                schemas,
                replace_null_with_default,
            }
            | Format::CloudEvents {
                schemas,
                replace_null_with_default,
            }) => {
                let change = if matches!(format, Format::CloudEvents { .. }) {
                    self.json
                        .cloud_event(rec.topic, value, schemas, replace_null_with_default)
                } else {
                    self.json
                        .value(rec.topic, value, schemas, replace_null_with_default)
                }
                .map_err(|reason| not_json(rec, Part::Value, reason))?;
                let Some(c) = change else {
                    return Ok(None);
                };
                let raw = envelope::Raw {
                    after: c.after,
                    op: &c.op,
                    db: &c.db,
                    schema: &c.schema,
                    table: &c.table,
                    ts_ms: c.ts_ms,
                    lsn: c.lsn,
                    sequence: c.sequence.as_deref(),
                };
                self.finish(rec, raw, key, c.row_schema, &|reason| {
                    not_json(rec, Part::Value, reason)
                })
            }
        }
    }

    /// The key of a record (`None` for a null key), in the key converter's format.
    async fn read_key(&mut self, rec: &RawRecord<'_>) -> Result<Option<RowKey>, DecodeError> {
        let Some(bytes) = rec.key.filter(|k| !k.is_empty()) else {
            return Ok(None);
        };
        match self.formats.0 {
            Format::Avro => {
                let (id, body) = header(rec, Part::Key, bytes)?;
                if !self.keys.contains_key(&id) {
                    self.load_key(rec, id).await?;
                }
                let Some(plan) = self.keys.get(&id) else {
                    return Err(malformed(
                        rec,
                        Part::Key,
                        id,
                        &ReadError::new("internal error: key schema not loaded"),
                    ));
                };
                plan.read(body)
                    .map(Some)
                    .map_err(|e| malformed(rec, Part::Key, id, &e))
            }
            Format::Json {
                schemas,
                replace_null_with_default,
            } => json::key(bytes, schemas, replace_null_with_default)
                .map_err(|reason| not_json(rec, Part::Key, reason)),
            // Refused as a key converter when the job is configured.
            Format::CloudEvents { .. } => Ok(None),
        }
    }

    /// The sink record of a change event's parts.
    fn finish(
        &mut self,
        rec: &RawRecord<'_>,
        raw: envelope::Raw<'_>,
        key: Option<RowKey>,
        row_schema: Arc<RowSchema>,
        bad: &dyn Fn(String) -> DecodeError,
    ) -> Result<Option<SinkRecord>, DecodeError> {
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
                Some(seq) => parse_sequence(seq).ok_or_else(|| {
                    bad(format!(
                        "source.sequence {seq:?} is not Debezium's [\"<last commit LSN>\",\"<LSN>\"]"
                    ))
                })?,
                None => (None, None),
            };
            Position::new(
                Lsn(commit.unwrap_or(0)),
                lsn.or(change.map(Lsn)).unwrap_or_default(),
            )
        };
        let need_key = |key: Option<RowKey>| {
            key.ok_or_else(|| DecodeError::NoKey {
                at: rec.at(),
                table: format!("{}.{}", raw.schema, raw.table),
            })
        };
        let op = match op_code {
            't' => SinkOp::Truncate,
            'd' => SinkOp::Delete {
                key: need_key(key)?,
            },
            _ => {
                let key = need_key(key)?;
                let Some(doc) = raw.after else {
                    return Err(bad(format!("op {op_code} without an after image")));
                };
                SinkOp::Upsert {
                    key,
                    doc,
                    schema: row_schema,
                    unchanged: Vec::new(),
                }
            }
        };
        let table = self.table(rec.topic, raw.db, raw.schema, raw.table);
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

    /// The shared table of a record, made anew only when it differs from the last one of
    /// the same topic.
    fn table(&mut self, topic: &str, db: &str, schema: &str, table: &str) -> Arc<TableRef> {
        if let Some(t) = self.tables.get(topic)
            && &*t.db == db
            && &*t.schema == schema
            && &*t.table == table
        {
            return t.clone();
        }
        let t = Arc::new(table_ref(topic, db, schema, table));
        self.tables.insert(topic.to_owned(), t.clone());
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
        self.values.insert(id, plan);
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

fn not_json(rec: &RawRecord<'_>, part: Part, reason: String) -> DecodeError {
    DecodeError::NotJson {
        at: rec.at(),
        part,
        reason,
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
