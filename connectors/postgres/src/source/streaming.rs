//! Streaming the slot: pgoutput from the offset, with status updates that report only
//! what is durable, until shutdown (finishing the transaction being delivered).

use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::watch;
use tokio_postgres::Client;
use tributary_core::{BatchSender, DurableLsn, Lsn, SourceMetrics};

use crate::config::{PostgresConnectorConfig, quote_ident};
use crate::error::SourceError;
use crate::offset::PgOffset;
use crate::replication::{
    ReplicationConnection, ReplicationEvent, ReplicationStream, StatusConfig,
};
use crate::stream::{ChangeStream, OverlapFilter};
use crate::types::TypeRegistry;

use super::blocking::{Export, Stopped};
use super::slot;

/// What streaming starts from: the tables' types, the offset after any snapshot, the rows
/// the stream skips because the snapshot held them, and how progress is reported.
pub(super) struct Streaming {
    pub registry: TypeRegistry,
    pub offset: PgOffset,
    pub overlap: OverlapFilter,
    pub durable: DurableLsn,
    pub status_interval: Duration,
}

/// How often the server is asked for a keepalive while the stream goes on to a blocking
/// snapshot's point: an idle stream learns from one that it has passed the point.
const REACH_POLL: Duration = Duration::from_millis(100);

/// How a streaming session ended.
pub(super) enum StreamEnd {
    /// Shutdown.
    Stopped,
    /// At the point of a blocking snapshot's export, to read it.
    Blocking(Box<Stopped>),
}

/// Streams the slot from the offset until shutdown (finishing the transaction being
/// delivered), the consumer going away, an error, or a blocking snapshot; drops the slot
/// after a shutdown when `slot.drop.on.stop` says so.
pub(super) async fn stream_changes(
    config: Arc<PostgresConnectorConfig>,
    client: Client,
    repl: ReplicationConnection,
    from: Streaming,
    out: &mut BatchSender,
    mut shutdown: watch::Receiver<bool>,
    metrics: Arc<SourceMetrics>,
) -> Result<StreamEnd, SourceError> {
    let Streaming {
        registry,
        offset,
        overlap,
        durable,
        status_interval,
    } = from;
    let streaming = config.streaming && repl.server_version_num() >= 140000;
    let mut options = vec![
        (
            "proto_version",
            if streaming { "2" } else { "1" }.to_string(),
        ),
        ("publication_names", quote_ident(&config.publication_name)),
    ];
    if streaming {
        options.push(("streaming", "on".to_string()));
    }
    if repl.server_version_num() >= 140000 {
        // Logical decoding messages (Postgres 14+), emitted as Debezium's `op: m` events.
        options.push(("messages", "true".to_string()));
    }
    let start = offset.lsn.unwrap_or(Lsn::ZERO);
    let status = StatusConfig {
        durable: durable.clone(),
        interval: status_interval,
    };
    let started = slot::start_replication(
        &client,
        repl,
        &config,
        start,
        &options,
        status,
        &mut shutdown,
    );
    let Some(mut stream) = started.await? else {
        return Ok(StreamEnd::Stopped);
    };
    tracing::info!(slot = %config.slot_name, %start, proto = if streaming { 2 } else { 1 }, "streaming started");
    let mut changes =
        ChangeStream::new(config.clone(), client, registry, offset, overlap).with_metrics(metrics);
    changes.resume_incremental().await?;
    // On shutdown, the transaction being delivered is finished first: its first events
    // may already be downstream, and a restart (from the last commit) would repeat them.
    let mut stopping = false;
    let mut export = None;
    let mut ask = tokio::time::interval(REACH_POLL);
    ask.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if changes.blocking_pending() && !stopping {
            let exported = keeping_alive(&mut stream, status_interval, Export::create(&config));
            let exported = exported.await?;
            changes.reach(exported.point);
            export = Some(exported);
        }
        if changes.reached() {
            break;
        }
        tokio::select! {
            biased;
            _ = shutdown.changed(), if !stopping => {
                if !changes.in_transaction() {
                    break;
                }
                stopping = true;
            }
            () = changes.reader_finished(), if changes.incremental_reading() => {
                keeping_alive(&mut stream, status_interval, changes.incremental_read(out)).await?;
            }
            _ = ask.tick(), if changes.reaching() || changes.read_only_waiting() => {
                stream.send_status(true).await?;
            }
            ev = stream.next() => match ev? {
                Some(ReplicationEvent::XLogData { wal_start, data, .. }) => {
                    let handled = changes.handle(wal_start, data, out);
                    keeping_alive(&mut stream, status_interval, handled).await?;
                    if stopping && !changes.in_transaction() {
                        break;
                    }
                }
                Some(ReplicationEvent::Keepalive { wal_end }) => {
                    let item = changes.progress(wal_end);
                    let pushed = async {
                        if let Some(item) = item {
                            out.push_now(item).await.map_err(|_| SourceError::Closed)?;
                        }
                        changes.read_only_close(None, out).await
                    };
                    keeping_alive(&mut stream, status_interval, pushed).await?;
                }
                None => {
                    return Err(SourceError::Setup("the server ended replication".into()));
                }
            },
        }
    }
    if let Some(export) = export.filter(|_| changes.reached()) {
        stream.stop().await?;
        let repl = ReplicationConnection::connect(&config.connect).await?;
        let (client, registry, offset) = changes.into_parts();
        let from = Streaming {
            registry,
            offset,
            overlap: OverlapFilter::default(),
            durable,
            status_interval,
        };
        return Ok(StreamEnd::Blocking(Box::new(Stopped {
            export,
            client,
            repl,
            from,
        })));
    }
    tracing::info!("stopping replication");
    let _ = stream.send_status(false).await;
    stream.stop().await?;
    if config.slot_drop_on_stop {
        let mut repl = ReplicationConnection::connect(&config.connect).await?;
        repl.simple_query(&format!(
            "DROP_REPLICATION_SLOT {} WAIT",
            quote_ident(&config.slot_name)
        ))
        .await?;
        tracing::info!(slot = %config.slot_name, "replication slot dropped (slot.drop.on.stop)");
    }
    Ok(StreamEnd::Stopped)
}

/// Runs `work`, which may wait for room downstream (a sink stalled on its broker), while
/// sending status updates every `every`: the server hears from us and does not drop the
/// connection after `wal_sender_timeout`. The updates report only what is durable.
async fn keeping_alive<T>(
    stream: &mut ReplicationStream,
    every: Duration,
    work: impl Future<Output = Result<T, SourceError>>,
) -> Result<T, SourceError> {
    if every.is_zero() {
        return work.await;
    }
    let mut work = std::pin::pin!(work);
    // Most calls finish at once: no timer for those.
    if let Some(done) = work.as_mut().now_or_never() {
        return done;
    }
    loop {
        tokio::select! {
            done = &mut work => return done,
            () = tokio::time::sleep(every) => stream.send_status(false).await?,
        }
    }
}
