//! Debezium's transaction metadata (`provide.transaction.metadata`): BEGIN and END
//! records on `<prefix>.transaction`, and each event's `transaction` block
//! (`id`, `total_order`, `data_collection_order`).

use std::sync::Arc;

use tributary_core::{ChangeEvent, TxBegin};

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

/// Transaction metadata state of one connector.
pub struct TxMetadata {
    pub topic: String,
    /// Registered (key, value) schema ids, once registered.
    pub ids: Option<(u32, u32)>,
    current: Option<Current>,
}

impl TxMetadata {
    pub fn new(prefix: &str, topic: &str) -> Self {
        TxMetadata {
            topic: format!("{prefix}.{topic}"),
            ids: None,
            current: None,
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
        let cur = self.current.as_mut()?;
        let s = &event.source;
        cur.total += 1;
        let order = match cur
            .collections
            .iter_mut()
            .find(|(schema, table, _)| *schema == s.schema && *table == s.table)
        {
            Some((_, _, n)) => {
                *n += 1;
                *n
            }
            None => {
                cur.collections.push((s.schema.clone(), s.table.clone(), 1));
                1
            }
        };
        // Debezium's id is the transaction's and the source position's at that event.
        let id = match s.lsn {
            Some(lsn) => format!("{}:{}", cur.xid, lsn.0),
            None => cur.id.clone(),
        };
        Some((id, cur.total, order))
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

    /// Encodes the BEGIN (`begin`) or END record of the current transaction, with
    /// Confluent framing. END also forgets the transaction.
    pub fn write(
        &mut self,
        begin: bool,
        key: &mut Vec<u8>,
        value: &mut Vec<u8>,
    ) -> Result<(), tributary_avro::encode::EncodeError> {
        let (key_id, value_id) = self.ids.unwrap_or_default();
        let Some(cur) = self.current.as_ref() else {
            return Ok(());
        };
        tributary_avro::encode::write_confluent_header(key, key_id);
        tributary_avro::encode::write_confluent_header(value, value_id);
        let names: Vec<String> = cur
            .collections
            .iter()
            .map(|(schema, table, _)| format!("{schema}.{table}"))
            .collect();
        // Debezium counts events per table in a Java `HashMap`, and lists them in its order.
        let keys: Vec<&str> = names.iter().map(String::as_str).collect();
        let collections: Vec<(&str, i64)> = tributary_core::java::hash_order(&keys)
            .into_iter()
            .map(|i| (keys[i], cur.collections[i].2))
            .collect();
        tributary_avro::encode::write_tx_metadata(
            key,
            value,
            if begin { "BEGIN" } else { "END" },
            &cur.id,
            (!begin).then_some(cur.total),
            (!begin).then_some(collections.as_slice()),
            cur.ts_ms,
        )?;
        if !begin {
            self.current = None;
        }
        Ok(())
    }
}
