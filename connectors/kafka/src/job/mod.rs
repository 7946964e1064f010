//! The job consumer: a sink job's side of Kafka.
//!
//! [`run`] subscribes a consumer group (`read_committed`, no auto-commit) to the job's
//! topics and loops: gather a batch (until `batch.size` records, until no more records
//! are fetched and waiting, or `batch.max.wait.ms` after its first record, whichever comes
//! first; an idle job just waits), decoding each record as it arrives
//! and applying the field map; hand the batch to the [`Sink`]; once the sink returned (its
//! writes durable in the target), commit the consumed offsets to the group. One batch is
//! in flight at a time, so memory is bounded by the batch plus librdkafka's prefetch
//! (`queued.max.messages.kbytes`, 16 MiB by default).
//!
//! Records can arrive twice (a crash between a write and its commit, a rebalance, or an
//! offset reset that replays a topic): sinks order their writes by [`tributary_core::Position`], so a repeat
//! changes nothing. A sink that stores offsets itself (the tantivy index) is not handed
//! records below them; the group's offsets are still committed, so lag stays visible.
//!
//! Errors: a transient sink or registry error retries the same batch (or record) with
//! exponential backoff for as long as the job runs, shown as `retrying: <reason>` in
//! [`JobMetrics::retry_reason`]; a definite one ends the job with [`JobError`]. Changes of
//! tables without a key are skipped, counted, and warned about once per topic. On stop, a
//! write already under way gets `stop_grace` to finish (and is committed); anything not
//! written is abandoned, to be read again from the committed offsets next time.

mod error;
mod groups;
mod metrics;
mod positions;
mod settings;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rdkafka::Message;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::BorrowedMessage;
use tokio::sync::watch;
use tributary_avro::decode::{DecodeError, Decoder, RawRecord};
use tributary_core::{FieldMap, Retry, RowSchema, Sink, SinkError, SinkOp, SinkRecord};

use crate::consumer::{self, JobConsumer};
use crate::settings::KafkaConfig;
pub use error::JobError;
use error::needs_a_person;
pub use groups::{GroupError, read_group_offsets, reset_group_offsets, write_group_offsets};
pub use metrics::JobMetrics;
use metrics::Tally;
use positions::Positions;
pub use settings::{
    DEFAULT_BATCH_MAX_WAIT, DEFAULT_BATCH_SIZE, JOB_PROPERTIES, JobSettings, Subscription,
};

/// Runs the job until `stop` turns true (then `Ok`) or a definite error.
pub async fn run(
    settings: JobSettings,
    kafka: &KafkaConfig,
    decoder: Decoder,
    sink: Box<dyn Sink>,
    mut stop: watch::Receiver<bool>,
    metrics: Arc<JobMetrics>,
) -> Result<(), JobError> {
    crate::check::reach(kafka, crate::check::TIMEOUT).await?;
    let consumer = consumer::subscribe(kafka, &settings, metrics.clone())?;
    let stored = sink.stored_offsets();
    if let Some(s) = &stored {
        tracing::info!(job = settings.name, offsets = ?s, "the sink stores offsets; records before them are skipped");
    }
    let mut job = Job {
        records: Vec::with_capacity(settings.batch_size.min(8192)),
        positions: Positions::new(stored),
        tally: Tally::default(),
        mapped: HashMap::new(),
        warned: HashSet::new(),
        last_consume_error: None,
        consumer: consumer.clone(),
        settings,
        decoder,
        sink,
        metrics,
    };
    let result = job.run(&mut stop).await;
    if let Err(e) = &result {
        job.metrics.set_error(e.to_string());
    }
    consumer::commit_sync(&consumer, job.positions.written()).await;
    drop(job);
    consumer::close(consumer).await;
    result
}

/// Resolves when a stop is requested (or whoever could request one is gone).
async fn stop_requested(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

struct Job {
    settings: JobSettings,
    decoder: Decoder,
    sink: Box<dyn Sink>,
    metrics: Arc<JobMetrics>,
    consumer: Arc<JobConsumer>,
    /// The batch being gathered.
    records: Vec<SinkRecord>,
    positions: Positions,
    tally: Tally,
    /// Row schemas after the field map, by the address of the decoder's (shared) schema.
    mapped: HashMap<usize, (Arc<RowSchema>, Arc<RowSchema>)>,
    /// Topics already warned about for records without a key.
    warned: HashSet<String>,
    last_consume_error: Option<String>,
}

/// Doubling waits between retries, up to a maximum.
struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    fn new(s: &JobSettings) -> Self {
        Backoff {
            next: s.retry_initial.max(Duration::from_millis(1)),
            max: s.retry_max.max(s.retry_initial),
        }
    }

    /// Waits for the next retry; false when a stop came first.
    async fn wait(&mut self, stop: &mut watch::Receiver<bool>) -> bool {
        let wait = self.next;
        self.next = (self.next * 2).min(self.max);
        tokio::select! {
            _ = tokio::time::sleep(wait) => true,
            _ = stop_requested(stop) => false,
        }
    }
}

impl Job {
    async fn run(&mut self, stop: &mut watch::Receiver<bool>) -> Result<(), JobError> {
        loop {
            if !self.gather(stop).await? {
                return Ok(());
            }
            if !self.flush(stop).await? {
                return Ok(());
            }
        }
    }

    /// Gathers one batch. False: stop requested (the batch is abandoned unwritten).
    ///
    /// This runs once per record, so the stop signal, the batch deadline and the message
    /// stream are each set up once per batch, not per record.
    async fn gather(&mut self, stop: &mut watch::Receiver<bool>) -> Result<bool, JobError> {
        use futures_util::StreamExt as _;

        let consumer = self.consumer.clone();
        let mut messages = consumer.stream();
        let mut watch_stop = stop.clone();
        let stopped = stop_requested(&mut watch_stop);
        tokio::pin!(stopped);
        // Armed at the first record; until then the wait is unbounded.
        let deadline = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(deadline);
        let mut armed = false;
        while self.records.len() < self.settings.batch_size {
            let received = tokio::select! {
                biased;
                _ = &mut stopped => return Ok(false),
                m = messages.next() => m,
                _ = &mut deadline, if armed => return Ok(true),
                // Nothing more fetched yet: the batch goes now rather than wait for records
                // that may be a while. Under load more records are always waiting, and
                // they pile up while a write runs, so batches grow with the load.
                () = std::future::ready(()), if armed => return Ok(true),
            };
            match received {
                Some(Ok(m)) => {
                    if !self.take(&m, stop).await? {
                        return Ok(false);
                    }
                    if !armed {
                        armed = true;
                        deadline
                            .as_mut()
                            .reset(tokio::time::Instant::now() + self.settings.batch_max_wait);
                    }
                }
                Some(Err(e)) => self.consume_error(e).await?,
                None => return Ok(true),
            }
        }
        Ok(true)
    }

    /// Decodes one record into the batch. False: stop requested while retrying.
    async fn take(
        &mut self,
        m: &BorrowedMessage<'_>,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<bool, JobError> {
        let (topic, partition, offset) = (m.topic(), m.partition(), m.offset());
        self.tally.consumed += 1;
        if self.positions.advance(topic, partition, offset) {
            self.metrics.add_topic(topic);
        }
        if self.positions.applied(topic, partition, offset) {
            self.tally.ignored += 1;
            return Ok(true);
        }
        let raw = RawRecord {
            topic,
            partition,
            offset,
            key: m.key(),
            value: m.payload(),
        };
        let mut backoff = Backoff::new(&self.settings);
        let mut retried = false;
        let decoded = loop {
            match self.decoder.decode(&raw).await {
                Err(e) if e.is_transient() => {
                    retried = true;
                    tracing::warn!(job = self.settings.name, error = %e, "could not decode a record; retrying");
                    self.metrics.set_retrying(&e.to_string());
                    if !backoff.wait(stop).await {
                        return Ok(false);
                    }
                }
                other => break other,
            }
        };
        if retried {
            self.metrics.clear_retrying();
        }
        match decoded {
            Ok(Some(mut rec)) => {
                self.map_fields(&mut rec);
                self.records.push(rec);
            }
            Ok(None) => self.tally.ignored += 1,
            Err(DecodeError::NoKey { table, .. }) => {
                self.tally.skipped += 1;
                if self.warned.insert(topic.to_string()) {
                    tracing::warn!(
                        job = self.settings.name,
                        topic,
                        table,
                        "skipping changes without a key: the table has no primary key (give it one, or set message.key.columns on the source connector)"
                    );
                }
            }
            Err(e) => return Err(e.into()),
        }
        Ok(true)
    }

    /// Turns placeholders of unchanged TOASTed columns into `unchanged` names, then
    /// applies `fields.*` to the document, those names and the schema.
    fn map_fields(&mut self, rec: &mut SinkRecord) {
        let SinkOp::Upsert {
            doc,
            schema,
            unchanged,
            ..
        } = &mut rec.op
        else {
            return;
        };
        *unchanged = self.settings.unavailable.split(doc);
        let fields: &FieldMap = &self.settings.fields;
        if !fields.is_identity() {
            fields.apply(doc);
            fields.apply_names(unchanged);
            let (_, mapped) = self
                .mapped
                .entry(Arc::as_ptr(schema) as usize)
                .or_insert_with(|| (schema.clone(), Arc::new(fields.apply_schema(schema))));
            *schema = mapped.clone();
        }
    }

    /// A consumer error: a person must fix it (ends the job), or it passes (logged).
    async fn consume_error(&mut self, e: KafkaError) -> Result<(), JobError> {
        let code = e.rdkafka_error_code();
        if code.is_some_and(needs_a_person) {
            return Err(JobError::kafka("consume", e));
        }
        let text = e.to_string();
        if self.last_consume_error.as_deref() != Some(text.as_str()) {
            if code == Some(RDKafkaErrorCode::UnknownTopicOrPartition) {
                tracing::warn!(job = self.settings.name, error = %text, "a subscribed topic does not exist (yet); waiting for it");
            } else {
                tracing::warn!(job = self.settings.name, error = %text, "Kafka consumer error; the client retries");
            }
            self.last_consume_error = Some(text.clone());
        }
        self.metrics.set_error(text);
        // Errors come as events; do not spin if they come back to back.
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(())
    }

    /// Writes the batch (retrying transient errors) and commits its offsets. False: stop
    /// requested (after committing a write that finished within the grace period).
    async fn flush(&mut self, stop: &mut watch::Receiver<bool>) -> Result<bool, JobError> {
        let mut write_us = 0;
        let mut stopping = false;
        if !self.records.is_empty() {
            let offsets = self.positions.offsets();
            let mut backoff = Backoff::new(&self.settings);
            loop {
                let started = Instant::now();
                let result = {
                    let mut write = self.sink.write(&self.records, &offsets);
                    tokio::select! {
                        r = &mut write => r,
                        _ = stop_requested(stop) => {
                            stopping = true;
                            match tokio::time::timeout(self.settings.stop_grace, &mut write).await {
                                Ok(r) => r,
                                Err(_) => {
                                    tracing::warn!(job = self.settings.name, "stopping: the write under way did not finish in time; it will be read again");
                                    return Ok(false);
                                }
                            }
                        }
                    }
                };
                match result {
                    Ok(()) => {
                        write_us = started.elapsed().as_micros() as u64;
                        self.metrics
                            .unavailable_values
                            .store(self.sink.values_left_out(), Ordering::Relaxed);
                        break;
                    }
                    Err(SinkError::Transient(reason)) => {
                        if stopping {
                            return Ok(false);
                        }
                        tracing::warn!(
                            job = self.settings.name,
                            reason,
                            retry_in_ms = backoff.next.as_millis() as u64,
                            records = self.records.len(),
                            "the target could not take a batch; retrying it"
                        );
                        self.metrics.set_retrying(&reason);
                        if !backoff.wait(stop).await {
                            return Ok(false);
                        }
                    }
                    Err(SinkError::Definite(reason)) => return Err(JobError::Sink { reason }),
                }
            }
            self.metrics.clear_retrying();
        } else if !self.positions.pending() {
            return Ok(!stopping);
        }
        consumer::commit_async(&self.consumer, &self.positions.take_commit());
        for r in &self.records {
            self.tally.wrote(r.op_code);
        }
        let behind = self
            .records
            .last()
            .map(|r| tributary_core::event::now_us() / 1000 - r.source_ts_ms);
        self.metrics.batch_done(&self.tally, write_us, behind);
        self.records.clear();
        self.tally = Tally::default();
        Ok(!stopping)
    }
}
