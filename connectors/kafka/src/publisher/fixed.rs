//! Debezium's own records, beside change events: heartbeats and logical decoding
//! messages, each on its topic with fixed schemas.

use std::time::Instant;

use tributary_avro::encode::{self, TxBlock};
use tributary_core::{MessageEvent, Value};

use super::Publisher;
use crate::error::PublishError;
use crate::stats::unix_ms;

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
        let (key_id, value_id) = match hb.ids {
            Some(ids) => ids,
            None => {
                let ids = self
                    .register_fixed(&topic, tributary_avro::schema::heartbeat_schemas())
                    .await?;
                if let Some(hb) = self.heartbeat.as_mut() {
                    hb.ids = Some(ids);
                }
                ids
            }
        };
        self.key_buf.clear();
        self.value_buf.clear();
        encode::write_confluent_header(&mut self.key_buf, key_id);
        encode::write_confluent_header(&mut self.value_buf, value_id);
        encode::write_heartbeat(
            &mut self.key_buf,
            &mut self.value_buf,
            &self.settings.topic_prefix,
            unix_ms() as i64,
        );
        self.open.bytes += self.key_buf.len() + self.value_buf.len();
        self.open.write_offset = true;
        self.producer
            .send(&topic, None, Some(&self.key_buf), Some(&self.value_buf))
            .await?;
        self.count();
        Ok(())
    }

    /// Registers the fixed `(key, value)` schemas of a topic of Debezium's own records
    /// (heartbeats, messages) and makes sure the topic exists; returns their ids.
    async fn register_fixed(
        &mut self,
        topic: &str,
        (key, value): (String, String),
    ) -> Result<(u32, u32), PublishError> {
        let ids = (
            self.registry
                .register(&format!("{topic}-key"), &key)
                .await?,
            self.registry
                .register(&format!("{topic}-value"), &value)
                .await?,
        );
        self.topics.ensure(topic, &self.settings.topics).await?;
        self.stats.add_topic(topic);
        Ok(ids)
    }

    /// A logical decoding message on `<prefix>.message`, keyed by its prefix.
    pub(super) async fn message(&mut self, message: &MessageEvent) -> Result<(), PublishError> {
        let as_string = matches!(message.content, Value::String(_));
        let ids = match self.message_ids.get(&(message.topic.clone(), as_string)) {
            Some(ids) => *ids,
            None => {
                let schemas = tributary_avro::schema::message_schemas(as_string);
                let ids = self.register_fixed(&message.topic, schemas).await?;
                self.message_ids
                    .insert((message.topic.clone(), as_string), ids);
                ids
            }
        };
        let encode_err = |e: encode::EncodeError| PublishError::Encode {
            topic: message.topic.to_string(),
            message: e.to_string(),
        };
        self.key_buf.clear();
        encode::write_confluent_header(&mut self.key_buf, ids.0);
        encode::write_value(
            &mut self.key_buf,
            &tributary_avro::schema::message_key_schema(),
            &Value::Struct(vec![Value::String(message.prefix.clone())]),
        )
        .map_err(encode_err)?;
        self.value_buf.clear();
        encode::write_confluent_header(&mut self.value_buf, ids.1);
        let block = self.meta.as_mut().and_then(|m| m.message(message));
        let tx = block.as_ref().map(|(id, total, collection)| TxBlock {
            id,
            total_order: *total,
            data_collection_order: *collection,
        });
        encode::write_message(&mut self.value_buf, message, tx.as_ref()).map_err(encode_err)?;
        self.open.bytes += self.key_buf.len() + self.value_buf.len();
        // Debezium sends messages without its context headers.
        self.producer
            .send_with_headers(
                &message.topic,
                Some(&self.key_buf),
                Some(&self.value_buf),
                None,
            )
            .await?;
        self.count();
        Ok(())
    }
}
