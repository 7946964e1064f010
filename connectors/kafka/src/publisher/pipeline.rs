//! The transform step of the pipeline. With `transforms` configured, every record (change
//! events, tombstones, messages, heartbeats, transaction metadata) is built as a Connect
//! record, runs through the chain, and what comes out is converted by the connector's
//! converters and sent: to the topic the transforms chose, with the headers they left.
//!
//! Schemas that come out of the chain are registered (AvroConverter) or rendered
//! (JsonConverter) once per topic and schema; the transforms keep their derived schemas
//! shared, so this is once per shape.

use std::collections::HashMap;
use std::sync::Arc;

use tributary_avro::names::NameAdjustment;
use tributary_avro::schema::{connect_to_avro_string, table_avro};
use tributary_connect::{Chain, Converter, Header, Record};
use tributary_core::{ChangeEvent, Schema, TableSchemas, Value};

use super::{Publisher, convert};
use crate::error::PublishError;
use crate::headers::connect_headers;
use crate::producer::Outgoing;

/// A registered (or rendered) schema of one side of a topic's records.
struct SideSchema {
    /// Keeps the pointer used as the map key alive.
    _schema: Arc<Schema>,
    avro_id: Option<u32>,
    json: Vec<u8>,
}

/// A table shape's key and envelope schemas as the transforms take them, shared by every
/// event of the shape.
struct Shape {
    schemas: Arc<TableSchemas>,
    key: Option<Arc<Schema>>,
    envelope: Arc<Schema>,
}

/// The chain, the table shapes it is given, and the schemas of what it gave, per topic and
/// (side, schema pointer).
pub(super) struct Transforms {
    chain: Chain,
    shapes: HashMap<usize, Shape>,
    sides: HashMap<String, HashMap<(bool, usize), Arc<SideSchema>>>,
}

impl Transforms {
    pub fn new(chain: Chain) -> Option<Transforms> {
        (!chain.is_empty()).then(|| Transforms {
            chain,
            shapes: HashMap::new(),
            sides: HashMap::new(),
        })
    }

    /// The key and envelope schemas of a table shape.
    fn shape(&mut self, schemas: &Arc<TableSchemas>) -> (Option<Arc<Schema>>, Arc<Schema>) {
        let ptr = Arc::as_ptr(schemas) as usize;
        if !self.shapes.contains_key(&ptr) {
            // Forget shapes no source holds any more.
            self.shapes.retain(|_, s| Arc::strong_count(&s.schemas) > 1);
            self.shapes.insert(
                ptr,
                Shape {
                    schemas: schemas.clone(),
                    key: schemas.key.clone().map(Arc::new),
                    envelope: Arc::new(schemas.envelope.clone()),
                },
            );
        }
        let s = &self.shapes[&ptr];
        (s.key.clone(), s.envelope.clone())
    }

    /// The Avro schema of `schema`: a table's own key or envelope as the table's Avro
    /// (field names adjusted in its rows, as without transforms), anything else as itself.
    fn avro_text(
        &self,
        schema: &Arc<Schema>,
        names: (NameAdjustment, NameAdjustment),
    ) -> Result<String, tributary_avro::schema::AvroSchemaError> {
        for s in self.shapes.values() {
            if Arc::ptr_eq(&s.envelope, schema) {
                return Ok(table_avro(&s.schemas, names.0, names.1)?.value);
            }
            if s.key.as_ref().is_some_and(|k| Arc::ptr_eq(k, schema))
                && let Some(key) = table_avro(&s.schemas, names.0, names.1)?.key
            {
                return Ok(key);
            }
        }
        connect_to_avro_string(schema, names.0, names.1)
    }
}

impl Publisher {
    /// Runs `record` through the transforms and sends what comes out.
    pub(super) async fn send_record(&mut self, record: Record) -> Result<(), PublishError> {
        let Some(t) = self.transforms.as_mut() else {
            return Err(PublishError::Config(
                "internal error: a record for the transforms without transforms".into(),
            ));
        };
        let Some(r) = t.chain.apply(record)? else {
            return Ok(());
        };
        let pipeline = &self.settings.pipeline;
        for (side, converter, schema, value) in [
            ("key", &pipeline.key, &r.key_schema, &r.key),
            ("value", &pipeline.value, &r.value_schema, &r.value),
        ] {
            if *converter == Converter::Avro && schema.is_none() && value.is_some() {
                return Err(PublishError::Encode {
                    topic: r.topic.clone(),
                    message: format!(
                        "the transforms left a {side} without a schema, which the AvroConverter cannot write; use the JsonConverter with schemas.enable=false for schemaless records"
                    ),
                });
            }
        }
        self.topics.ensure(&r.topic, &self.settings.topics).await?;
        self.stats.add_topic(&r.topic);
        let ks = self
            .side_schema(&r.topic, true, r.key_schema.as_ref())
            .await?;
        let vs = self
            .side_schema(&r.topic, false, r.value_schema.as_ref())
            .await?;
        let encode_err = |e: tributary_avro::encode::EncodeError| PublishError::Encode {
            topic: r.topic.clone(),
            message: e.to_string(),
        };
        let (ks, vs) = (ks.as_deref(), vs.as_deref());
        convert::write_side(
            &mut self.key_buf,
            &self.settings.pipeline.key,
            ks.and_then(|s| s.avro_id),
            r.key_schema.as_deref(),
            ks.map_or(&[][..], |s| &s.json),
            r.key.as_ref(),
        )
        .map_err(encode_err)?;
        convert::write_side(
            &mut self.value_buf,
            &self.settings.pipeline.value,
            vs.and_then(|s| s.avro_id),
            r.value_schema.as_deref(),
            vs.map_or(&[][..], |s| &s.json),
            r.value.as_ref(),
        )
        .map_err(encode_err)?;
        self.open.bytes += self.key_buf.len() + self.value_buf.len();
        let key = (!self.key_buf.is_empty()).then_some(self.key_buf.as_slice());
        let value = (!self.value_buf.is_empty()).then_some(self.value_buf.as_slice());
        self.producer
            .send_to(Outgoing {
                partition: r.partition,
                timestamp: r.timestamp,
                headers: connect_headers(&r.headers),
                ..Outgoing::new(&r.topic, key, value)
            })
            .await?;
        self.count();
        Ok(())
    }

    /// Registers (AvroConverter) or renders (JsonConverter) a side's schema for `topic`,
    /// once.
    async fn side_schema(
        &mut self,
        topic: &str,
        key: bool,
        schema: Option<&Arc<Schema>>,
    ) -> Result<Option<Arc<SideSchema>>, PublishError> {
        let Some(schema) = schema else {
            return Ok(None);
        };
        let slot = (key, Arc::as_ptr(schema) as usize);
        let known = self
            .transforms
            .as_ref()
            .and_then(|t| t.sides.get(topic))
            .and_then(|s| s.get(&slot));
        if let Some(known) = known {
            return Ok(Some(known.clone()));
        }
        let converter = if key {
            &self.settings.pipeline.key
        } else {
            &self.settings.pipeline.value
        };
        let avro_id = match converter {
            Converter::Avro => {
                let names = (self.settings.schema_names, self.settings.field_names);
                let text = self
                    .transforms
                    .as_ref()
                    .map_or_else(
                        || connect_to_avro_string(schema, names.0, names.1),
                        |t| t.avro_text(schema, names),
                    )
                    .map_err(|e| PublishError::Schema {
                        topic: topic.to_owned(),
                        message: e.to_string(),
                    })?;
                let subject = format!("{topic}-{}", if key { "key" } else { "value" });
                Some(self.registry.register(&subject, &text).await?)
            }
            _ => None,
        };
        let json = convert::schema_json(converter, Some(schema));
        let side = Arc::new(SideSchema {
            _schema: schema.clone(),
            avro_id,
            json,
        });
        if let Some(t) = self.transforms.as_mut() {
            let sides = t.sides.entry(topic.to_owned()).or_default();
            // Derived schemas are shared by the transforms; a map this large means they
            // are not, so it starts over rather than grow.
            if sides.len() >= 256 {
                sides.clear();
            }
            sides.insert(slot, side.clone());
        }
        Ok(Some(side))
    }
}

impl Publisher {
    /// A change event through the transforms: its key, its envelope (Debezium's Connect
    /// value) and its headers (Debezium's context headers, a key change's other key).
    pub(super) async fn change_transformed(
        &mut self,
        mut event: ChangeEvent,
    ) -> Result<(), PublishError> {
        let schemas = event.schemas.clone();
        let (key_schema, envelope) = self.shape(&schemas)?;
        let block = self.meta.as_mut().and_then(|m| m.event(&event));
        let tx =
            block.as_ref().map(
                |(id, total, collection)| tributary_connect::envelope::TxBlock {
                    id,
                    total_order: *total,
                    data_collection_order: *collection,
                },
            );
        let value = tributary_connect::envelope::envelope_value(&mut event, tx);
        let key = event.key.take();
        let mut record = Record::new(
            schemas.topic.to_string(),
            (key.as_ref().and(key_schema.clone()), key),
            (Some(envelope), Some(value)),
        );
        record.headers = self.change_headers(key_schema.as_ref(), event.key_header.take());
        self.send_record(record).await
    }

    /// A delete's tombstone through the transforms.
    pub(super) async fn tombstone_transformed(
        &mut self,
        schemas: &Arc<TableSchemas>,
        key: Value,
        key_header: Option<(&'static str, Value)>,
    ) -> Result<(), PublishError> {
        let (key_schema, _) = self.shape(schemas)?;
        let key = key_schema.as_ref().map(|_| key);
        let mut record = Record::new(
            schemas.topic.to_string(),
            (key_schema.clone(), key),
            (None, None),
        );
        record.headers = self.change_headers(key_schema.as_ref(), key_header);
        self.send_record(record).await
    }

    /// The key and envelope schemas of a table shape, as the transforms take them.
    fn shape(
        &mut self,
        schemas: &Arc<TableSchemas>,
    ) -> Result<(Option<Arc<Schema>>, Arc<Schema>), PublishError> {
        match self.transforms.as_mut() {
            Some(t) => Ok(t.shape(schemas)),
            None => Err(PublishError::Config(
                "internal error: a table shape for the transforms without transforms".into(),
            )),
        }
    }

    /// Debezium's headers of a change record, as Connect headers.
    fn change_headers(
        &self,
        key_schema: Option<&Arc<Schema>>,
        key_header: Option<(&'static str, Value)>,
    ) -> Vec<Header> {
        let mut headers: Vec<Header> = self
            .context
            .iter()
            .map(|(k, v)| Header {
                key: (*k).to_owned(),
                schema: Some(Arc::new(Schema::string())),
                value: Some(Value::String(v.clone())),
            })
            .collect();
        if let (Some((name, other)), Some(schema)) = (key_header, key_schema) {
            headers.push(Header {
                key: name.to_owned(),
                schema: Some(schema.clone()),
                value: Some(other),
            });
        }
        headers
    }
}
