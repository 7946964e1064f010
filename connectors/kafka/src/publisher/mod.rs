//! The publishing loop: capture items in, Kafka transactions out.
//!
//! Records of whole Postgres transactions are enqueued into one open Kafka transaction
//! without awaiting each send. At a transaction boundary (a Postgres commit, a snapshot
//! checkpoint or source progress) the Kafka transaction is committed when the queue runs
//! dry or a bound (events, bytes, time) is reached, together with the source offset; only
//! then does the durable LSN advance, and with it what Postgres is told it may release.
//! With `poll.interval.ms` set, a queue running dry does not commit: the transaction waits
//! for `max.batch.size` events until that long after its first, as Debezium's poll does.
//!
//! With `heartbeat.interval.ms` set, a heartbeat record (Debezium's `ServerNameKey` /
//! `Heartbeat`) joins a transaction at most once per interval, and an idle stream commits
//! one on its own, carrying the latest source offset with it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use rdkafka::message::OwnedHeaders;

use tributary_avro::encode::{self, TxBlock};
use tributary_avro::registry::RegistryClient;
use tributary_connect::{Converter, envelope};
use tributary_core::batch::TryRecvError;
use tributary_core::{Batch, BatchReceiver, CaptureItem, ChangeEvent, DurableLsn, Lsn};

mod convert;
mod fixed;
mod pipeline;
mod tables;

use fixed::TX_SCHEMAS;
use tables::TableEntry;

use crate::admin::Topics;
use crate::error::PublishError;
use crate::headers::{context_headers, record_headers};
use crate::offsets::{self, OffsetSlot};
use crate::producer::TxProducer;
use crate::settings::{KafkaConfig, PublishSettings};
use crate::stats::PublishStats;
use crate::txmeta::TxMetadata;

/// What the open Kafka transaction holds.
struct Open {
    records: usize,
    bytes: usize,
    started: Option<Instant>,
    /// Everything enqueued so far ends at a source boundary: committing is allowed.
    at_boundary: bool,
    offset: Option<serde_json::Value>,
    /// The offset must be written (a commit or checkpoint), not just acknowledged.
    write_offset: bool,
    lsn: Option<Lsn>,
}

impl Open {
    /// Nothing enqueued: at a boundary.
    fn empty() -> Open {
        Open {
            records: 0,
            bytes: 0,
            started: None,
            at_boundary: true,
            offset: None,
            write_offset: false,
            lsn: None,
        }
    }
}

/// The heartbeat topic's registered schema ids, once registered.
struct Heartbeat {
    topic: String,
    ids: Option<(u32, u32)>,
    last: Instant,
}

/// One connector's publisher.
pub struct Publisher {
    settings: PublishSettings,
    producer: TxProducer,
    topics: Topics,
    registry: Arc<RegistryClient>,
    slot: OffsetSlot,
    tables: HashMap<usize, TableEntry>,
    meta: Option<TxMetadata>,
    heartbeat: Option<Heartbeat>,
    /// Registered (key, value) schema ids of the logical decoding message topic, per
    /// topic and content kind (a string under a textual `binary.handling.mode`).
    message_ids: HashMap<(Arc<str>, bool), (u32, u32)>,
    open: Open,
    /// The latest source offset seen (a heartbeat commits it when nothing else does).
    last_offset: Option<serde_json::Value>,
    key_buf: Vec<u8>,
    value_buf: Vec<u8>,
    stats: Arc<PublishStats>,
    /// The stats' topics epoch this publisher has recorded its topics for.
    topics_epoch: u64,
    /// Debezium's `__debezium.context.*` headers (`extended.headers.enabled`).
    context_headers: Option<OwnedHeaders>,
    /// The same headers, for records that go through the transforms.
    context: Vec<(&'static str, String)>,
    /// The transforms, when any is configured.
    transforms: Option<pipeline::Transforms>,
}

impl Publisher {
    /// Claims the connector's transactional id, makes sure the offsets topic exists and
    /// reads the last committed offset. Returns the publisher and that offset.
    pub async fn start(
        kafka: &KafkaConfig,
        settings: PublishSettings,
        registry: Arc<RegistryClient>,
    ) -> Result<(Publisher, Option<serde_json::Value>), PublishError> {
        let offsets::Claimed {
            producer,
            slot,
            topics,
        } = offsets::claim(kafka, &settings).await?;
        let stored = offsets::read_committed(kafka, &settings.connector, &slot).await?;
        tracing::info!(
            connector = settings.connector,
            offset = %stored.as_ref().map(|o| o.to_string()).unwrap_or_else(|| "none".into()),
            "read the last committed offset"
        );
        let meta = settings.transaction_metadata.then(|| {
            TxMetadata::new(
                settings.transaction_topic.clone(),
                settings.message_collection,
            )
        });
        let heartbeat = (!settings.heartbeat_interval.is_zero()).then(|| Heartbeat {
            topic: settings.heartbeat_topic.clone(),
            ids: None,
            last: Instant::now(),
        });
        let stats = Arc::new(PublishStats {
            client_error: producer.last_error_handle(),
            ..PublishStats::default()
        });
        let context: Vec<(&'static str, String)> = if settings.extended_headers {
            crate::headers::context_pairs(&settings.topic_prefix).into()
        } else {
            Vec::new()
        };
        let context_headers = settings.extended_headers.then(|| context_headers(&context));
        let transforms = pipeline::Transforms::new(settings.pipeline.chain());
        Ok((
            Publisher {
                settings,
                producer,
                topics,
                registry,
                slot,
                tables: HashMap::new(),
                meta,
                heartbeat,
                message_ids: HashMap::new(),
                open: Open::empty(),
                last_offset: stored.clone(),
                key_buf: Vec::with_capacity(256),
                value_buf: Vec::with_capacity(4096),
                stats,
                topics_epoch: 0,
                context_headers,
                context,
                transforms,
            },
            stored,
        ))
    }

    pub fn stats(&self) -> Arc<PublishStats> {
        self.stats.clone()
    }

    /// Publishes until the source closes the channel. A transaction the source did not
    /// finish is aborted, never committed.
    pub async fn run(
        mut self,
        mut rx: BatchReceiver,
        durable: &DurableLsn,
    ) -> Result<(), PublishError> {
        let result = self.run_inner(&mut rx, durable).await;
        if result.is_err() {
            self.producer.abort().await;
        }
        self.stats.pending(false);
        result
    }

    async fn run_inner(
        &mut self,
        rx: &mut BatchReceiver,
        durable: &DurableLsn,
    ) -> Result<(), PublishError> {
        loop {
            let batch = match rx.try_recv() {
                Ok(batch) => batch,
                Err(TryRecvError::Empty) => match self.linger_until() {
                    // `poll.interval.ms`: the transaction waits to fill, as Debezium's poll.
                    Some(deadline) => tokio::select! {
                        batch = rx.recv() => match batch {
                            Some(batch) => batch,
                            None => break,
                        },
                        () = tokio::time::sleep_until(deadline.into()) => {
                            self.commit(durable).await?;
                            continue;
                        }
                    },
                    None => {
                        // The queue ran dry: commit what is whole before waiting.
                        self.commit(durable).await?;
                        match self.wait(rx, durable).await? {
                            Some(batch) => batch,
                            None => break,
                        }
                    }
                },
                Err(TryRecvError::Disconnected) => break,
            };
            for item in batch {
                self.item(item).await?;
                if self.open.at_boundary && self.bound_reached() {
                    self.commit(durable).await?;
                }
            }
        }
        if self.open.at_boundary {
            self.commit(durable).await
        } else {
            tracing::info!(
                "the source stopped inside a transaction; aborting its partial Kafka transaction"
            );
            self.producer.abort().await;
            self.open = Open::empty();
            Ok(())
        }
    }

    /// Waits for the next batch, committing a heartbeat whenever one falls due meanwhile.
    async fn wait(
        &mut self,
        rx: &mut BatchReceiver,
        durable: &DurableLsn,
    ) -> Result<Option<Batch>, PublishError> {
        loop {
            // Inside a source transaction nothing can be committed, heartbeats neither.
            let due = self.heartbeat_due_at().filter(|_| self.open.at_boundary);
            let Some(due) = due else {
                return Ok(rx.recv().await);
            };
            tokio::select! {
                batch = rx.recv() => return Ok(batch),
                _ = tokio::time::sleep_until(due.into()) => self.commit(durable).await?,
            }
        }
    }

    fn heartbeat_due_at(&self) -> Option<Instant> {
        self.heartbeat
            .as_ref()
            .map(|h| h.last + self.settings.heartbeat_interval)
    }

    fn bound_reached(&self) -> bool {
        let o = &self.open;
        o.records >= self.settings.max_events
            || o.bytes >= self.settings.max_bytes
            || (self.settings.linger && o.records >= self.settings.batch_events)
            || o.started
                .is_some_and(|s| s.elapsed() >= self.settings.max_wait)
    }

    /// Until when an open transaction that could commit waits for more events
    /// (`poll.interval.ms`); `None` when it commits now.
    fn linger_until(&self) -> Option<Instant> {
        let started = self.open.started.filter(|_| self.settings.linger)?;
        let deadline = started + self.settings.max_wait;
        (!self.bound_reached() && deadline > Instant::now()).then_some(deadline)
    }

    async fn item(&mut self, item: CaptureItem) -> Result<(), PublishError> {
        self.after_topics_reset();
        if !matches!(item, CaptureItem::Progress { .. }) {
            // From here this item waits for Kafka (topic creation, sends, the commit).
            self.stats.pending(true);
        }
        match item {
            CaptureItem::Change(event) => {
                self.open.at_boundary = false;
                self.change(event).await?;
            }
            CaptureItem::Tombstone {
                schemas,
                key,
                key_header,
            } if self.transforms.is_some() => {
                self.open.at_boundary = false;
                self.tombstone_transformed(&schemas, key, key_header)
                    .await?;
            }
            CaptureItem::Tombstone {
                schemas,
                key,
                key_header,
            } => {
                self.open.at_boundary = false;
                let ptr = self.table(&schemas).await?;
                let entry = &self.tables[&ptr];
                convert::write_side(
                    &mut self.key_buf,
                    &self.settings.pipeline.key,
                    entry.key_id,
                    schemas.key.as_ref(),
                    &entry.key_json,
                    schemas.key.as_ref().map(|_| &key),
                )
                .map_err(|e| PublishError::Encode {
                    topic: schemas.topic.to_string(),
                    message: e.to_string(),
                })?;
                let key = (!self.key_buf.is_empty()).then_some(self.key_buf.as_slice());
                self.open.bytes += self.key_buf.len();
                let headers = record_headers(
                    self.context_headers.as_ref(),
                    schemas.key.as_ref(),
                    key_header.as_ref(),
                );
                self.producer
                    .send_with_headers(&schemas.topic, key, None, headers)
                    .await?;
                self.count();
            }
            CaptureItem::Message(message) => {
                // A transactional message sits inside its transaction, which commits at its
                // Commit; a non-transactional one is followed by a checkpoint.
                self.open.at_boundary = false;
                self.message(&message).await?;
            }
            CaptureItem::Begin(begin) => {
                self.open.at_boundary = false;
                if let Some(meta) = self.meta.as_mut() {
                    meta.begin(&begin);
                    self.tx_record(true).await?;
                }
            }
            CaptureItem::Commit { tx, offset } => {
                if let Some(meta) = self.meta.as_mut() {
                    meta.end(tx.xid, tx.end_lsn);
                    self.tx_record(false).await?;
                }
                self.boundary(offset, Some(tx.end_lsn), true);
            }
            CaptureItem::Checkpoint { offset } => self.boundary(offset, None, true),
            CaptureItem::Progress { lsn, offset } => self.boundary(offset, Some(lsn), false),
        }
        Ok(())
    }

    /// The source reached a boundary: everything so far may be committed with `offset`.
    fn boundary(&mut self, offset: serde_json::Value, lsn: Option<Lsn>, write: bool) {
        self.last_offset = Some(offset.clone());
        self.open.offset = Some(offset);
        if lsn.is_some() {
            self.open.lsn = lsn;
        }
        self.open.write_offset |= write;
        self.open.at_boundary = true;
    }

    fn count(&mut self) {
        self.open.records += 1;
        if self.open.started.is_none() {
            self.open.started = Some(Instant::now());
            self.stats.pending(true);
        }
    }

    async fn change(&mut self, mut event: ChangeEvent) -> Result<(), PublishError> {
        if self.transforms.is_some() {
            return self.change_transformed(event).await;
        }
        let schemas = event.schemas.clone();
        let ptr = self.table(&schemas).await?;
        let entry = &self.tables[&ptr];
        let topic = &schemas.topic;
        let encode_err = |e: encode::EncodeError| PublishError::Encode {
            topic: topic.to_string(),
            message: e.to_string(),
        };
        // Debezium's record has no key schema where it has no key (a truncate).
        convert::write_side(
            &mut self.key_buf,
            &self.settings.pipeline.key,
            entry.key_id,
            event.key.as_ref().and(event.schemas.key.as_ref()),
            &entry.key_json,
            event.key.as_ref(),
        )
        .map_err(encode_err)?;
        self.value_buf.clear();
        let block = self.meta.as_mut().and_then(|m| m.event(&event));
        let tx = block.as_ref().map(|(id, total, collection)| TxBlock {
            id,
            total_order: *total,
            data_collection_order: *collection,
        });
        match (&self.settings.pipeline.value, entry.value_id) {
            (
                converter @ (Converter::Json(_)
                | Converter::CloudEvents(_)
                | Converter::String
                | Converter::ByteArray),
                _,
            ) => {
                let tx = tx.map(|t| envelope::TxBlock {
                    id: t.id,
                    total_order: t.total_order,
                    data_collection_order: t.data_collection_order,
                });
                let value = envelope::envelope_value(&mut event, tx);
                convert::write_side(
                    &mut self.value_buf,
                    converter,
                    None,
                    Some(&schemas.envelope),
                    &entry.value_json,
                    Some(&value),
                )
                .map_err(encode_err)?;
            }
            (Converter::Avro, value_id) => {
                encode::write_confluent_header(&mut self.value_buf, value_id.unwrap_or_default());
                encode::write_envelope(&mut self.value_buf, &event, tx.as_ref())
                    .map_err(encode_err)?;
            }
        }
        let key = (!self.key_buf.is_empty()).then_some(self.key_buf.as_slice());
        self.open.bytes += self.key_buf.len() + self.value_buf.len();
        let headers = record_headers(
            self.context_headers.as_ref(),
            event.schemas.key.as_ref(),
            event.key_header.as_ref(),
        );
        self.producer
            .send_with_headers(topic, key, non_null(&self.value_buf), headers)
            .await?;
        self.count();
        Ok(())
    }

    /// BEGIN (`begin`) or END record of the current source transaction.
    async fn tx_record(&mut self, begin: bool) -> Result<(), PublishError> {
        let Some(meta) = self.meta.as_mut() else {
            return Ok(());
        };
        let topic = meta.topic.clone();
        let ids = match meta.ids {
            Some(ids) => ids,
            // The transforms' output is registered where it goes.
            None if self.transforms.is_some() => (0, 0),
            None => {
                let ids = self.register_fixed(&topic, &TX_SCHEMAS).await?;
                if let Some(meta) = self.meta.as_mut() {
                    meta.ids = Some(ids);
                }
                ids
            }
        };
        let Some((key, value)) = self.meta.as_mut().and_then(|m| m.record(begin)) else {
            return Ok(());
        };
        if self.transforms.is_some() {
            return self.send_fixed(&topic, &TX_SCHEMAS, key, value).await;
        }
        self.write_fixed(&topic, ids, &TX_SCHEMAS, &key, &value)?;
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

    /// Commits the open transaction with its offset, then advances the durable LSN.
    async fn commit(&mut self, durable: &DurableLsn) -> Result<(), PublishError> {
        if !self.open.at_boundary {
            return Ok(());
        }
        self.heartbeat().await?;
        let open = std::mem::replace(&mut self.open, Open::empty());
        if open.records == 0 && !open.write_offset {
            // Only progress: nothing to make durable in Kafka.
            if let Some(lsn) = open.lsn {
                self.advance(durable, lsn);
            }
            return Ok(());
        }
        let Some(offset) = open.offset else {
            return Err(PublishError::Config(
                "internal error: a transaction boundary without an offset".into(),
            ));
        };
        let value = serde_json::to_vec(&offset).unwrap_or_default();
        self.stats.pending(true);
        self.producer
            .commit_with_offset(
                &self.slot.topic,
                self.slot.partition,
                &self.slot.key,
                &value,
            )
            .await?;
        self.stats.pending(false);
        self.stats
            .records
            .fetch_add(open.records as u64, Ordering::Relaxed);
        self.stats.transactions.fetch_add(1, Ordering::Relaxed);
        if let Some(lsn) = open.lsn {
            self.advance(durable, lsn);
        }
        Ok(())
    }

    /// After `PUT …/topics/reset`, every table, transaction and heartbeat topic is looked
    /// up again on its next record (from the registry client's cache), which lists it anew.
    fn after_topics_reset(&mut self) {
        let epoch = self.stats.topics_epoch.load(Ordering::Relaxed);
        if epoch == self.topics_epoch {
            return;
        }
        self.topics_epoch = epoch;
        self.tables.clear();
        if let Some(meta) = self.meta.as_mut() {
            meta.ids = None;
        }
        if let Some(hb) = self.heartbeat.as_mut() {
            hb.ids = None;
        }
    }

    fn advance(&self, durable: &DurableLsn, lsn: Lsn) {
        let now = durable.advance(lsn);
        self.stats.durable_lsn.store(now.0, Ordering::Relaxed);
    }
}

/// A converted key or value: an empty buffer is Kafka's null (what a converter writes for
/// nothing, as the CloudEventsConverter does for what is not a change event).
pub(super) fn non_null(buf: &[u8]) -> Option<&[u8]> {
    (!buf.is_empty()).then_some(buf)
}
