//! The transactional producer: idempotent, `acks=all`, one `transactional.id` per
//! connector. Records are enqueued without awaiting each one; a transaction ends by writing
//! the connector's offset record, committing the offset record's position for the
//! connector's consumer group inside the same transaction (so the broker applies it only
//! if the transaction commits), and committing.
//!
//! Every blocking librdkafka transaction call runs on `spawn_blocking`.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerGroupMetadata};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio::sync::watch;

use crate::client::client_config;
use crate::error::PublishError;
use crate::settings::KafkaConfig;

/// How long one transactional call may take before it is retried or given up.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a commit keeps being retried while the broker is unreachable.
const COMMIT_DEADLINE: Duration = Duration::from_secs(120);

/// Why a marked record was not delivered: librdkafka's code (if any) and message.
type DeliveryFailure = (Option<RDKafkaErrorCode>, String);

/// Where a marked record landed (or why it did not).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Delivered {
    token: u64,
    result: Option<Result<(i32, i64), DeliveryFailure>>,
}

/// The most recent error the Kafka client reported, shared with whoever reports status.
#[derive(Debug, Default)]
pub struct LastError(Mutex<Option<String>>);

impl LastError {
    pub(crate) fn set(&self, message: String) {
        if let Ok(mut last) = self.0.lock() {
            *last = Some(crate::check::explained(message));
        }
    }

    pub fn get(&self) -> Option<String> {
        self.0.lock().ok().and_then(|l| l.clone())
    }
}

/// Callbacks from librdkafka's polling thread.
pub struct ProducerCtx {
    delivered: watch::Sender<Delivered>,
    failed: AtomicU64,
    last_error: Arc<LastError>,
}

impl ClientContext for ProducerCtx {
    /// librdkafka's own log lines (`debug` property) go to the daemon's log.
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => tracing::error!(target: "librdkafka", fac, "{message}"),
            RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", fac, "{message}"),
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", fac, "{message}")
            }
            RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", fac, "{message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!(%error, reason, "Kafka client error");
        self.last_error.set(format!("{error}: {reason}"));
    }
}

impl ProducerContext for ProducerCtx {
    /// 0 for ordinary records; the commit marks its offset record with a token.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, token: usize) {
        let outcome = match result {
            Ok(m) => Ok((m.partition(), m.offset())),
            Err((e, _)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                self.last_error.set(e.to_string());
                Err((e.rdkafka_error_code(), e.to_string()))
            }
        };
        if token != 0 {
            self.delivered.send_replace(Delivered {
                token: token as u64,
                result: Some(outcome),
            });
        }
    }
}

/// One record to produce: where it goes, its timestamp (`None`: the producer's clock) and
/// its headers.
pub struct Outgoing<'a> {
    pub topic: &'a str,
    pub partition: Option<i32>,
    pub timestamp: Option<i64>,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: Option<OwnedHeaders>,
}

impl<'a> Outgoing<'a> {
    pub fn new(topic: &'a str, key: Option<&'a [u8]>, value: Option<&'a [u8]>) -> Self {
        Outgoing {
            topic,
            partition: None,
            timestamp: None,
            key,
            value,
            headers: None,
        }
    }
}

/// One connector's transactional producer.
pub struct TxProducer {
    producer: Arc<ThreadedProducer<ProducerCtx>>,
    delivered: watch::Receiver<Delivered>,
    group: Arc<ConsumerGroupMetadata>,
    transactional_id: String,
    in_transaction: bool,
    token: u64,
}

impl TxProducer {
    /// Creates the producer and claims the transactional id: any earlier instance's open
    /// transaction is aborted (or its commit completed) and that instance is fenced.
    pub async fn start(
        cfg: &KafkaConfig,
        transactional_id: &str,
        group_id: &str,
    ) -> Result<Self, PublishError> {
        let (tx, rx) = watch::channel(Delivered::default());
        let ctx = ProducerCtx {
            delivered: tx,
            failed: AtomicU64::new(0),
            last_error: Arc::default(),
        };
        let mut c = client_config(cfg);
        // rust-rdkafka derives librdkafka's log level from the `log` crate, which the
        // daemon does not use: take it from tracing instead.
        c.set_log_level(
            if tracing::enabled!(target: "librdkafka", tracing::Level::DEBUG) {
                RDKafkaLogLevel::Debug
            } else {
                RDKafkaLogLevel::Info
            },
        );
        // Defaults that favour throughput and bounded memory; pass-through may change them.
        for (k, v) in [
            ("linger.ms", "5"),
            ("batch.size", "1000000"),
            ("queue.buffering.max.kbytes", "65536"),
            ("queue.buffering.max.messages", "100000"),
            ("transaction.timeout.ms", "120000"),
            ("message.timeout.ms", "120000"),
            ("partitioner", "murmur2_random"),
        ] {
            if !cfg.properties.contains_key(k) {
                c.set(k, v);
            }
        }
        c.set("transactional.id", transactional_id);
        c.set("enable.idempotence", "true");
        c.set("acks", "all");
        let producer: ThreadedProducer<ProducerCtx> = c
            .create_with_context(ctx)
            .map_err(|e| PublishError::kafka("producer setup", e, transactional_id))?;
        let producer = Arc::new(producer);

        let mut gc = client_config(cfg);
        gc.set("group.id", group_id);
        gc.set("enable.auto.commit", "false");
        let consumer: BaseConsumer = gc
            .create()
            .map_err(|e| PublishError::kafka("consumer setup", e, transactional_id))?;
        let group = consumer.group_metadata().ok_or_else(|| {
            PublishError::Config(format!("no consumer group metadata for group {group_id}"))
        })?;

        let p = producer.clone();
        let id = transactional_id.to_string();
        blocking(move || {
            p.init_transactions(Duration::from_secs(30))
                .map_err(|e| classify("InitProducerId (claiming the transactional.id)", e, &id))
        })
        .await?;
        tracing::info!(transactional_id, "transactional producer ready");
        Ok(TxProducer {
            producer,
            delivered: rx,
            group: Arc::new(group),
            transactional_id: transactional_id.to_string(),
            in_transaction: false,
            token: 0,
        })
    }

    pub fn transactional_id(&self) -> &str {
        &self.transactional_id
    }

    /// The last error the client reported (for status), if any.
    pub fn last_error(&self) -> Option<String> {
        self.producer.context().last_error.get()
    }

    /// A handle on the client's last error that stays readable while the producer works.
    pub fn last_error_handle(&self) -> Arc<LastError> {
        self.producer.context().last_error.clone()
    }

    /// The producer's fatal error, if it has one: fenced (definite), or a broken
    /// idempotence guarantee, which a restart with a new producer resolves (transient).
    fn fatal(&self) -> Option<PublishError> {
        let (code, reason) = self.producer.client().fatal_error()?;
        Some(match code {
            RDKafkaErrorCode::ProducerFenced | RDKafkaErrorCode::Fenced => PublishError::Fenced {
                transactional_id: self.transactional_id.clone(),
            },
            _ => PublishError::Unavailable {
                action: "produce (fatal producer error)",
                message: format!("{code}: {reason}"),
            },
        })
    }

    pub fn in_transaction(&self) -> bool {
        self.in_transaction
    }

    /// Metadata of `topic` (partition count), waiting for the broker.
    pub async fn partitions(&self, topic: &str) -> Result<i32, PublishError> {
        let p = self.producer.clone();
        let t = topic.to_string();
        let id = self.transactional_id.clone();
        blocking(move || {
            let md = p
                .client()
                .fetch_metadata(Some(&t), Duration::from_secs(30))
                .map_err(|e| classify("metadata request", e, &id))?;
            let n = md
                .topics()
                .iter()
                .find(|m| m.name() == t)
                .map(|m| m.partitions().len())
                .unwrap_or(0);
            if n == 0 {
                return Err(PublishError::Unavailable {
                    action: "metadata request",
                    message: format!("topic {t} has no partitions yet"),
                });
            }
            Ok(n as i32)
        })
        .await
    }

    /// Opens a transaction if none is open.
    pub fn begin(&mut self) -> Result<(), PublishError> {
        if !self.in_transaction {
            self.producer
                .begin_transaction()
                .map_err(|e| classify("BeginTransaction", e, &self.transactional_id))?;
            self.in_transaction = true;
        }
        Ok(())
    }

    /// Enqueues a record in the open transaction (opening one if needed). Waits only when
    /// librdkafka's queue is full.
    pub async fn send(
        &mut self,
        topic: &str,
        partition: Option<i32>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<(), PublishError> {
        self.send_out(
            Outgoing {
                partition,
                ..Outgoing::new(topic, key, value)
            },
            0,
        )
        .await
    }

    /// Like [`Producer::send`], with record headers.
    pub async fn send_with_headers(
        &mut self,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: Option<OwnedHeaders>,
    ) -> Result<(), PublishError> {
        self.send_out(
            Outgoing {
                headers,
                ..Outgoing::new(topic, key, value)
            },
            0,
        )
        .await
    }

    /// A record as the transforms left it: its partition, timestamp and headers.
    pub async fn send_to(&mut self, out: Outgoing<'_>) -> Result<(), PublishError> {
        self.send_out(out, 0).await
    }

    async fn send_out(&mut self, out: Outgoing<'_>, token: usize) -> Result<(), PublishError> {
        self.begin()?;
        let mut record: BaseRecord<'_, [u8], [u8], usize> =
            BaseRecord::with_opaque_to(out.topic, token);
        record.key = out.key;
        record.payload = out.value;
        record.partition = out.partition;
        record.timestamp = out.timestamp;
        record.headers = out.headers;
        let mut waited = Duration::ZERO;
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    if waited >= COMMIT_DEADLINE {
                        return Err(PublishError::Unavailable {
                            action: "produce",
                            message: format!(
                                "the producer queue stayed full for {}s; last client error: {}",
                                waited.as_secs(),
                                self.last_error().unwrap_or_else(|| "none".into())
                            ),
                        });
                    }
                    let pause = Duration::from_millis(2);
                    tokio::time::sleep(pause).await;
                    waited += pause;
                }
                Err((e, _)) => {
                    return Err(self
                        .fatal()
                        .unwrap_or_else(|| classify("produce", e, &self.transactional_id)));
                }
            }
        }
    }

    /// Writes the offset record, commits its position for the connector's group in the
    /// transaction, and commits the transaction.
    pub async fn commit_with_offset(
        &mut self,
        offsets_topic: &str,
        partition: i32,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), PublishError> {
        self.commit_with_offset_value(offsets_topic, partition, key, Some(value))
            .await
    }

    /// [`TxProducer::commit_with_offset`] with an optional value: `None` writes a
    /// tombstone, which resets the connector's offset.
    pub async fn commit_with_offset_value(
        &mut self,
        offsets_topic: &str,
        partition: i32,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> Result<(), PublishError> {
        self.token += 1;
        let token = self.token;
        self.send_out(
            Outgoing {
                partition: Some(partition),
                ..Outgoing::new(offsets_topic, Some(key), value)
            },
            token as usize,
        )
        .await?;
        let started = Instant::now();
        self.drain(started).await?;
        let drained = started.elapsed();
        let mut delivered = self.delivered.clone();
        let waited = tokio::time::timeout(
            COMMIT_DEADLINE,
            delivered.wait_for(|d| d.token == token && d.result.is_some()),
        )
        .await
        .map(|r| r.map(|d| d.result.clone()));
        let delivered = match waited {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => {
                return Err(PublishError::Config("producer callbacks stopped".into()));
            }
            Err(_) => {
                return Err(PublishError::Unavailable {
                    action: "produce",
                    message: format!(
                        "the offset record was not acknowledged within {}s; last client error: {}",
                        started.elapsed().as_secs(),
                        self.last_error().unwrap_or_else(|| "none".into())
                    ),
                });
            }
        };
        let (p, offset) = match delivered {
            Some(Ok(at)) => at,
            Some(Err((code, message))) => {
                if matches!(
                    code,
                    Some(RDKafkaErrorCode::ProducerFenced | RDKafkaErrorCode::Fenced)
                ) {
                    self.in_transaction = false;
                    return Err(PublishError::Fenced {
                        transactional_id: self.transactional_id.clone(),
                    });
                }
                if let Some(fatal) = self.fatal() {
                    self.in_transaction = false;
                    return Err(fatal);
                }
                self.abort().await;
                return Err(PublishError::Unavailable {
                    action: "produce",
                    message,
                });
            }
            None => unreachable!("waited for a result"),
        };
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(offsets_topic, p, Offset::Offset(offset + 1))
            .map_err(|e| classify("offset list", e, &self.transactional_id))?;
        let producer = self.producer.clone();
        let group = self.group.clone();
        let id = self.transactional_id.clone();
        let delivered_at = started.elapsed();
        let result = tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + COMMIT_DEADLINE;
            let calls = Instant::now();
            retry_call(deadline, || {
                producer.send_offsets_to_transaction(&tpl, &group, CALL_TIMEOUT)
            })
            .map_err(|e| ("AddOffsetsToTxn/TxnOffsetCommit", e))?;
            let offsets = calls.elapsed();
            retry_call(deadline, || producer.commit_transaction(CALL_TIMEOUT))
                .map_err(|e| ("EndTxn (commit)", e))?;
            tracing::debug!(
                drain_us = drained.as_micros() as u64,
                delivered_us = delivered_at.as_micros() as u64,
                offsets_us = offsets.as_micros() as u64,
                end_us = (calls.elapsed() - offsets).as_micros() as u64,
                "Kafka transaction committed"
            );
            Ok(())
        })
        .await
        .unwrap_or(Err((
            "commit (the blocking call panicked)",
            KafkaError::Canceled,
        )));
        match result {
            Ok(()) => {
                self.in_transaction = false;
                Ok(())
            }
            Err((action, e)) => {
                let err = self.fatal().unwrap_or_else(|| classify(action, e, &id));
                if !matches!(err, PublishError::Fenced { .. }) {
                    self.abort().await;
                }
                self.in_transaction = false;
                Err(err)
            }
        }
    }

    /// Waits until every record enqueued so far has been delivered (or failed) and its
    /// report handled, nudging librdkafka to send lingering batches now. Afterwards the
    /// flush inside rust-rdkafka's `commit_transaction` has nothing to wait for; with
    /// anything outstanding it would poll in fixed 100 ms steps.
    async fn drain(&self, started: Instant) -> Result<(), PublishError> {
        let mut pause = Duration::from_micros(250);
        // A zero-timeout flush only checks (and wakes the brokers up); it never polls.
        while self.producer.flush(Duration::ZERO).is_err() {
            if started.elapsed() >= COMMIT_DEADLINE {
                return Err(PublishError::Unavailable {
                    action: "produce",
                    message: format!(
                        "{} records were not acknowledged within {}s; last client error: {}",
                        self.producer.in_flight_count(),
                        started.elapsed().as_secs(),
                        self.last_error().unwrap_or_else(|| "none".into())
                    ),
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Aborts the open transaction, if any (best effort: a fenced or dead producer is
    /// replaced on restart, which aborts for us).
    pub async fn abort(&mut self) {
        if !self.in_transaction {
            return;
        }
        self.in_transaction = false;
        let producer = self.producer.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if let Err(e) = producer.abort_transaction(CALL_TIMEOUT) {
                tracing::warn!(error = %e, "could not abort the Kafka transaction; the broker aborts it when it times out or the next instance starts");
            }
        })
        .await;
    }
}

/// Retries a transactional call while librdkafka says it may be retried.
fn retry_call(
    deadline: Instant,
    mut call: impl FnMut() -> Result<(), KafkaError>,
) -> Result<(), KafkaError> {
    loop {
        match call() {
            Ok(()) => return Ok(()),
            Err(KafkaError::Transaction(e)) if e.is_retriable() && Instant::now() < deadline => {
                tracing::warn!(error = %e, "transactional call will be retried");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Classifies an error of a transactional call: fenced and fatal errors are definite,
/// errors that need an abort or that time out are transient (the connector restarts from
/// its last committed offset).
fn classify(action: &'static str, e: KafkaError, transactional_id: &str) -> PublishError {
    if let KafkaError::Transaction(t) = &e
        && crate::error::kafka_kind(&e) == tributary_core::ErrorKind::Transient
    {
        return PublishError::Unavailable {
            action,
            message: t.to_string(),
        };
    }
    PublishError::kafka(action, e, transactional_id)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, PublishError> + Send + 'static,
) -> Result<T, PublishError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| PublishError::Config(format!("a Kafka call panicked: {e}")))?
}
