//! Debezium's own records, beside change events: heartbeats and logical decoding
//! messages, each on its topic with fixed schemas.

use std::sync::{Arc, LazyLock};
use std::time::Instant;

use tributary_avro::schema as avro;
use tributary_connect::Record;
use tributary_connect::envelope::{self, TxBlock};
use tributary_core::{MessageEvent, Schema, Value};

use super::{Publisher, convert, non_null};
use crate::error::PublishError;
use crate::stats::unix_ms;

/// The fixed key and value schemas of one kind of Debezium's own records: as Connect
/// schemas, and as the Avro schema text registered for them.
pub(super) struct Fixed {
    key: Arc<Schema>,
    value: Arc<Schema>,
    avro: (String, String),
}

impl Fixed {
    fn new(key: Schema, value: Schema, avro: (String, String)) -> Fixed {
        Fixed {
            key: Arc::new(key),
            value: Arc::new(value),
            avro,
        }
    }
}

pub(super) static TX_SCHEMAS: LazyLock<Fixed> = LazyLock::new(|| {
    Fixed::new(
        avro::tx_metadata_key_schema(),
        avro::tx_metadata_value_schema(),
        avro::transaction_metadata_schemas(),
    )
});

static HEARTBEAT_SCHEMAS: LazyLock<Fixed> = LazyLock::new(|| {
    Fixed::new(
        avro::heartbeat_key_schema(),
        avro::heartbeat_value_schema(),
        avro::heartbeat_schemas(),
    )
});

/// Logical decoding messages, by whether their content is a string.
static MESSAGE_SCHEMAS: LazyLock<[Fixed; 2]> = LazyLock::new(|| {
    [false, true].map(|as_string| {
        Fixed::new(
            avro::message_key_schema(),
            avro::message_value_schema(as_string),
            avro::message_schemas(as_string),
        )
    })
});

impl Publisher {
    /// Adds a heartbeat record to the open transaction when one is due.
    pub(super) async fn heartbeat(&mut self) -> Result<(), PublishError> {
        let Some(hb) = self.heartbeat.as_mut() else {
            return Ok(());
        };
        if hb.last.elapsed() < self.settings.heartbeat_interval {
            return Ok(());
        }
        hb.last = Instant::now();
        if self.open.offset.is_none() {
            // Nothing to commit a heartbeat with before the source reports a position.
            let Some(offset) = self.last_offset.clone() else {
                return Ok(());
            };
            self.open.offset = Some(offset);
        }
        let topic = hb.topic.clone();
        if self.transforms.is_some() {
            self.open.write_offset = true;
            let key = Value::Struct(vec![Value::String(self.settings.topic_prefix.clone())]);
            let value = Value::Struct(vec![Value::Int64(unix_ms() as i64)]);
            return self
                .send_fixed(&topic, &HEARTBEAT_SCHEMAS, key, value)
                .await;
        }
        let ids = match hb.ids {
            Some(ids) => ids,
            None => {
                let ids = self.register_fixed(&topic, &HEARTBEAT_SCHEMAS).await?;
                if let Some(hb) = self.heartbeat.as_mut() {
                    hb.ids = Some(ids);
                }
                ids
            }
        };
        let key = Value::Struct(vec![Value::String(self.settings.topic_prefix.clone())]);
        let value = Value::Struct(vec![Value::Int64(unix_ms() as i64)]);
        self.write_fixed(&topic, ids, &HEARTBEAT_SCHEMAS, &key, &value)?;
        self.open.bytes += self.key_buf.len() + self.value_buf.len();
        self.open.write_offset = true;
        self.producer
            .send(
                &topic,
                None,
                non_null(&self.key_buf),
                non_null(&self.value_buf),
            )
            .await?;
        self.count();
        Ok(())
    }

    /// Registers the fixed schemas of a topic of Debezium's own records (transaction
    /// metadata, heartbeats, messages) for the sides the AvroConverter writes, and makes sure
    /// the topic exists; returns their ids (0 for a side another converter writes).
    pub(super) async fn register_fixed(
        &mut self,
        topic: &str,
        fixed: &Fixed,
    ) -> Result<(u32, u32), PublishError> {
        let mut ids = (0, 0);
        if self.settings.pipeline.key == tributary_connect::Converter::Avro {
            ids.0 = self
                .registry
                .register(&format!("{topic}-key"), &fixed.avro.0)
                .await?;
        }
        if self.settings.pipeline.value == tributary_connect::Converter::Avro {
            ids.1 = self
                .registry
                .register(&format!("{topic}-value"), &fixed.avro.1)
                .await?;
        }
        self.topics.ensure(topic, &self.settings.topics).await?;
        self.stats.add_topic(topic);
        Ok(ids)
    }

    /// One of Debezium's own records through the transforms (without headers, as Debezium
    /// sends them).
    pub(super) async fn send_fixed(
        &mut self,
        topic: &str,
        fixed: &Fixed,
        key: Value,
        value: Value,
    ) -> Result<(), PublishError> {
        let record = Record::new(
            topic,
            (Some(fixed.key.clone()), Some(key)),
            (Some(fixed.value.clone()), Some(value)),
        );
        self.send_record(record).await
    }

    /// Writes the key and value of one of Debezium's own records into the buffers.
    pub(super) fn write_fixed(
        &mut self,
        topic: &str,
        (key_id, value_id): (u32, u32),
        fixed: &Fixed,
        key: &Value,
        value: &Value,
    ) -> Result<(), PublishError> {
        let encode_err = |e: tributary_avro::encode::EncodeError| PublishError::Encode {
            topic: topic.to_string(),
            message: e.to_string(),
        };
        let pipeline = &self.settings.pipeline;
        convert::write_side(
            &mut self.key_buf,
            &pipeline.key,
            Some(key_id),
            Some(&fixed.key),
            &convert::schema_json(&pipeline.key, Some(&fixed.key)),
            Some(key),
        )
        .map_err(encode_err)?;
        convert::write_side(
            &mut self.value_buf,
            &pipeline.value,
            Some(value_id),
            Some(&fixed.value),
            &convert::schema_json(&pipeline.value, Some(&fixed.value)),
            Some(value),
        )
        .map_err(encode_err)?;
        self.open.bytes += self.key_buf.len() + self.value_buf.len();
        Ok(())
    }

    /// A logical decoding message on `<prefix>.message`, keyed by its prefix.
    pub(super) async fn message(&mut self, message: &MessageEvent) -> Result<(), PublishError> {
        let as_string = matches!(message.content, Value::String(_));
        let fixed = &MESSAGE_SCHEMAS[usize::from(as_string)];
        if self.transforms.is_some() {
            let block = self.meta.as_mut().and_then(|m| m.message(message));
            let tx = block.as_ref().map(|(id, total, collection)| TxBlock {
                id,
                total_order: *total,
                data_collection_order: *collection,
            });
            let key = Value::Struct(vec![Value::String(message.prefix.clone())]);
            let value = envelope::message_value(message, tx);
            return self.send_fixed(&message.topic, fixed, key, value).await;
        }
        let ids = match self.message_ids.get(&(message.topic.clone(), as_string)) {
            Some(ids) => *ids,
            None => {
                let ids = self.register_fixed(&message.topic, fixed).await?;
                self.message_ids
                    .insert((message.topic.clone(), as_string), ids);
                ids
            }
        };
        let block = self.meta.as_mut().and_then(|m| m.message(message));
        let tx = block.as_ref().map(|(id, total, collection)| TxBlock {
            id,
            total_order: *total,
            data_collection_order: *collection,
        });
        let key = Value::Struct(vec![Value::String(message.prefix.clone())]);
        let value = envelope::message_value(message, tx);
        self.write_fixed(&message.topic, ids, fixed, &key, &value)?;
        // Debezium sends messages without its context headers.
        self.producer
            .send_with_headers(
                &message.topic,
                non_null(&self.key_buf),
                non_null(&self.value_buf),
                None,
            )
            .await?;
        self.count();
        Ok(())
    }
}
