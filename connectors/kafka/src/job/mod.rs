//! The job consumer: a sink job's side of Kafka.
//!
//! [`run`] subscribes a consumer group (`read_committed`, no auto-commit) to the job's
//! topics and loops: gather a batch (until `batch.size` records, until no more records
//! are fetched and waiting, or `batch.max.wait.ms` after its first record, whichever comes
//! first; an idle job just waits), decoding each record as it arrives and applying the
//! field map; hand the batch to the [`Sink`] in a write task of its own and gather the next
//! one meanwhile; once the sink returned (its writes durable in the target), commit the
//! batch's offsets to the group. One batch is written at a time, and its successor starts
//! only after it is committed, so offsets are committed in order; memory is bounded by two
//! batches plus librdkafka's prefetch (`queued.max.messages.kbytes`, 16 MiB by default).
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
mod write;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::BorrowedMessage;
use rdkafka::{Message, TopicPartitionList};
use tokio::sync::watch;
use tributary_avro::decode::{DecodeError, Decoder, RawRecord};
use tributary_core::{FieldMap, Retry, RowSchema, Sink, SinkOp, SinkRecord};

use crate::consumer::{self, JobConsumer};
use crate::error::needs_a_person;
use crate::settings::KafkaConfig;
pub use error::JobError;
pub use groups::{GroupError, read_group_offsets, reset_group_offsets, write_group_offsets};
pub use metrics::JobMetrics;
use metrics::Tally;
use positions::Positions;
pub use settings::{
    DEFAULT_BATCH_MAX_WAIT, DEFAULT_BATCH_SIZE, JOB_PROPERTIES, JobSettings, Subscription,
};
use write::Backoff;

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
        spare: Vec::new(),
        positions: Positions::new(stored),
        tally: Tally::default(),
        mapped: HashMap::new(),
        warned: HashSet::new(),
        last_consume_error: None,
        consumer: consumer.clone(),
        settings: Arc::new(settings),
        decoder,
        sink: Some(sink),
        writing: None,
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
    settings: Arc<JobSettings>,
    decoder: Decoder,
    /// `None` while a write task holds it.
    sink: Option<Box<dyn Sink>>,
    /// The batch being written, if any: at most one, while the next is gathered.
    writing: Option<Writing>,
    metrics: Arc<JobMetrics>,
    consumer: Arc<JobConsumer>,
    /// The batch being gathered.
    records: Vec<SinkRecord>,
    /// A written batch's buffer, kept for the next batch.
    spare: Vec<SinkRecord>,
    positions: Positions,
    tally: Tally,
    /// Row schemas after the field map, by the address of the decoder's (shared) schema.
    mapped: HashMap<usize, (Arc<RowSchema>, Arc<RowSchema>)>,
    /// Topics already warned about for records without a key.
    warned: HashSet<String>,
    last_consume_error: Option<String>,
}

/// A batch under way in its write task, and what to do once it is written.
struct Writing {
    task: write::Task,
    /// The group offsets after the batch, committed once it is written.
    commit: TopicPartitionList,
    tally: Tally,
    behind_ms: Option<i64>,
}

impl Job {
    /// Gathers a batch while the one before it is written; once that one is written (and
    /// its offsets committed), starts writing the new one.
    async fn run(&mut self, stop: &mut watch::Receiver<bool>) -> Result<(), JobError> {
        loop {
            let more = match self.gather(stop).await {
                Ok(more) => more,
                Err(e) => {
                    // The batch before the one that failed still counts if it is written.
                    if let Some(writing) = self.writing.take() {
                        let _ = self.settle(writing).await;
                    }
                    return Err(e);
                }
            };
            // One write at a time, and offsets committed in order.
            let written = match self.writing.take() {
                Some(writing) => self.settle(writing).await?,
                None => true,
            };
            if !more || !written {
                return Ok(());
            }
            self.start(stop);
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
                done = async { self.writing.as_mut().map(|w| w.task.handle()).unwrap().await },
                    if self.writing.is_some() => {
                    let writing = self.writing.take().expect("checked by the branch");
                    if !self.finish(writing, done)? {
                        return Ok(false);
                    }
                    continue;
                }
                // Nothing more fetched yet and the target idle: the batch goes now rather
                // than wait for records that may be a while. While a write runs, the batch
                // takes what arrives until it ends, so batches grow with the load.
                () = std::future::ready(()), if armed && self.writing.is_none() => return Ok(true),
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

    /// Starts writing the gathered batch; a batch with nothing to write (every record
    /// skipped or applied before) only commits its offsets.
    fn start(&mut self, stop: &watch::Receiver<bool>) {
        let mut tally = std::mem::take(&mut self.tally);
        for r in &self.records {
            tally.wrote(r.op_code);
        }
        if self.records.is_empty() {
            if self.positions.pending() {
                let commit = self.positions.take_commit();
                consumer::commit_async(&self.consumer, &commit);
                self.positions.mark_written(&commit);
                self.metrics.batch_done(&tally, 0, None);
            }
            return;
        }
        let offsets = self.positions.offsets();
        let commit = self.positions.take_commit();
        let behind_ms = self
            .records
            .last()
            .map(|r| tributary_core::event::now_us() / 1000 - r.source_ts_ms);
        let records = std::mem::replace(&mut self.records, std::mem::take(&mut self.spare));
        let sink = self.sink.take().expect("one write at a time");
        let task = write::spawn(
            sink,
            records,
            offsets,
            self.settings.clone(),
            self.metrics.clone(),
            stop.clone(),
        );
        self.writing = Some(Writing {
            task,
            commit,
            tally,
            behind_ms,
        });
    }

    /// Waits for the write under way to end; see [`Job::finish`].
    async fn settle(&mut self, mut writing: Writing) -> Result<bool, JobError> {
        let done = writing.task.handle().await;
        self.finish(writing, done)
    }

    /// Takes the sink back from an ended write and, if it was written, commits its
    /// offsets. False: abandoned on a stop.
    fn finish(
        &mut self,
        writing: Writing,
        done: Result<write::Done, tokio::task::JoinError>,
    ) -> Result<bool, JobError> {
        let done = done.map_err(|e| JobError::Sink {
            reason: format!("the sink's write task ended abnormally: {e}"),
        })?;
        self.sink = Some(done.sink);
        self.spare = done.records;
        self.spare.clear();
        match done.outcome {
            write::Outcome::Written { write_us } => {
                consumer::commit_async(&self.consumer, &writing.commit);
                self.positions.mark_written(&writing.commit);
                if let Some(sink) = &self.sink {
                    self.metrics
                        .unavailable_values
                        .store(sink.values_left_out(), Ordering::Relaxed);
                }
                self.metrics
                    .batch_done(&writing.tally, write_us, writing.behind_ms);
                Ok(true)
            }
            write::Outcome::Abandoned => Ok(false),
            write::Outcome::Failed(reason) => Err(JobError::Sink { reason }),
        }
    }
}
