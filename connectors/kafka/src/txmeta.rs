//! Debezium's transaction metadata (`provide.transaction.metadata`): BEGIN and END
//! records on `<prefix>.transaction`, and each event's `transaction` block
//! (`id`, `total_order`, `data_collection_order`).

use std::sync::Arc;

use tributary_core::{ChangeEvent, MessageEvent, SourceInfo, TxBegin, Value};

use crate::settings::MessageCollection;

/// The class whose objects name logical decoding messages' data collections in Debezium.
const MESSAGE_COLLECTION: &str =
    "io.debezium.connector.postgresql.LogicalDecodingMessageMonitor$LogicalDecodingMessageId";

/// The source transaction in progress.
struct Current {
    xid: u32,
    /// `<xid>:<LSN>`, as Debezium's Postgres connector writes it (see `begin`).
    id: String,
    ts_ms: i64,
    total: i64,
    /// Events per (schema, table), in first-seen order.
    collections: Vec<(Arc<str>, Arc<str>, i64)>,
}

impl Current {
    /// Debezium's id in an event's block: the transaction's and the source position's at
    /// that event.
    fn event_id(&self, s: &SourceInfo) -> String {
        match s.lsn {
            Some(lsn) => format!("{}:{}", self.xid, lsn.0),
            None => self.id.clone(),
        }
    }
}

/// Transaction metadata state of one connector.
pub struct TxMetadata {
    pub topic: String,
    /// Registered (key, value) schema ids, once registered.
    pub ids: Option<(u32, u32)>,
    current: Option<Current>,
    /// Logical decoding messages seen, for their collections' names.
    messages: u64,
    message_collection: MessageCollection,
}

/// The one data collection of every logical decoding message, under
/// [`MessageCollection::Aggregated`].
const AGGREGATED_MESSAGES: &str = "LOGICAL_DECODING_MESSAGE";

impl TxMetadata {
    /// Metadata published to `topic`.
    pub fn new(topic: String, message_collection: MessageCollection) -> Self {
        TxMetadata {
            topic,
            ids: None,
            current: None,
            messages: 0,
            message_collection,
        }
    }

    pub fn begin(&mut self, begin: &TxBegin) {
        self.current = Some(Current {
            xid: begin.xid,
            // Debezium's id is `<txId>:<LSN of the message>`: BEGIN's (its first record)
            // for BEGIN and the events, the commit's end for END (see `end`).
            id: format!("{}:{}", begin.xid, begin.first_lsn.0),
            ts_ms: begin.commit_ts_us.div_euclid(1000),
            total: 0,
            collections: Vec::new(),
        });
    }

    /// The `transaction` block of an event: (id, total order, order within its table).
    /// Snapshot events are outside any transaction.
    pub fn event(&mut self, event: &ChangeEvent) -> Option<(String, i64, i64)> {
        self.data_event(&event.source)
    }

    /// The `transaction` block of a logical decoding message (none outside a
    /// transaction). Debezium counts each message as a data collection of its own, named
    /// by its `LogicalDecodingMessageId` object's `toString()` (the class name and the
    /// JVM's identity hash): so does this, with a hash of its own. Under
    /// [`MessageCollection::Aggregated`] they are one collection, `LOGICAL_DECODING_MESSAGE`.
    pub fn message(&mut self, message: &MessageEvent) -> Option<(String, i64, i64)> {
        if self.message_collection == MessageCollection::Aggregated {
            return self.counted("", AGGREGATED_MESSAGES, &message.source);
        }
        let cur = self.current.as_mut()?;
        self.messages += 1;
        // Java's identity hashes are 31-bit and printed in hex without padding.
        let hash = (self.messages.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 33) as u32;
        let name = format!("{MESSAGE_COLLECTION}@{hash:x}");
        cur.collections.push(("".into(), name.into(), 1));
        cur.total += 1;
        Some((cur.event_id(&message.source), cur.total, 1))
    }

    fn data_event(&mut self, s: &SourceInfo) -> Option<(String, i64, i64)> {
        self.counted(&s.schema, &s.table, s)
    }

    /// Counts an event of the collection `schema`.`table` (a message's when `schema` is
    /// empty) at `s`.
    fn counted(&mut self, schema: &str, table: &str, s: &SourceInfo) -> Option<(String, i64, i64)> {
        let cur = self.current.as_mut()?;
        cur.total += 1;
        let order = match cur
            .collections
            .iter_mut()
            .find(|(sc, t, _)| **sc == *schema && **t == *table)
        {
            Some((_, _, n)) => {
                *n += 1;
                *n
            }
            None => {
                cur.collections.push((schema.into(), table.into(), 1));
                1
            }
        };
        Some((cur.event_id(s), cur.total, order))
    }

    /// The transaction committed: its END record carries `<txId>:<end LSN>`.
    pub fn end(&mut self, xid: u32, end_lsn: tributary_core::Lsn) {
        if let Some(cur) = self.current.as_mut() {
            cur.id = format!("{xid}:{}", end_lsn.0);
        }
    }

    /// Key and value schemas (Avro JSON) of the metadata topic.
    pub fn schemas(&self) -> (String, String) {
        tributary_avro::schema::transaction_metadata_schemas()
    }

    /// The BEGIN (`begin`) or END record of the current transaction as Connect values
    /// (`tx_metadata_key_schema`, `tx_metadata_value_schema`); END also forgets the
    /// transaction. `None` outside a transaction.
    pub fn record(&mut self, begin: bool) -> Option<(Value, Value)> {
        let cur = self.current.as_ref()?;
        let names: Vec<String> = cur
            .collections
            .iter()
            .map(|(schema, table, _)| {
                if schema.is_empty() {
                    // A logical decoding message's collection (see `message`).
                    table.to_string()
                } else {
                    format!("{schema}.{table}")
                }
            })
            .collect();
        // Debezium counts events per table in a Java `HashMap`, and lists them in its order.
        let keys: Vec<&str> = names.iter().map(String::as_str).collect();
        let collections: Vec<Value> = tributary_core::java::hash_order(&keys)
            .into_iter()
            .map(|i| {
                Value::Struct(vec![
                    Value::String(keys[i].to_string()),
                    Value::Int64(cur.collections[i].2),
                ])
            })
            .collect();
        let key = Value::Struct(vec![Value::String(cur.id.clone())]);
        let value = Value::Struct(vec![
            Value::String(if begin { "BEGIN" } else { "END" }.to_string()),
            Value::String(cur.id.clone()),
            if begin {
                Value::Null
            } else {
                Value::Int64(cur.total)
            },
            if begin {
                Value::Null
            } else {
                Value::Array(collections)
            },
            Value::Int64(cur.ts_ms),
        ]);
        if !begin {
            self.current = None;
        }
        Some((key, value))
    }
}
