//! One run of a source connector: Postgres source → Kafka publisher.

use std::sync::Arc;

use tokio::sync::watch;
use tributary_core::DurableLsn;
use tributary_kafka::Publisher;
use tributary_postgres::lock::ConnectorLock;

use super::{ConnectorError, Run, SourceSpec, State, set};

pub(super) async fn run(
    run: &Run,
    spec: &SourceSpec,
    mut stop: watch::Receiver<bool>,
) -> Result<(), ConnectorError> {
    let (shared, status, stats) = (&run.shared, &run.status, &run.stats);
    let warnings = spec.source.warnings.iter().map(|w| (&w.field, &w.message));
    let pipeline = spec.publish.warnings.iter().map(|w| (&w.field, &w.message));
    for (field, message) in warnings.chain(pipeline) {
        tracing::warn!(connector = spec.source.name, property = field, "{message}");
    }
    let _lock = ConnectorLock::acquire(&spec.source).await?;
    let kafka = shared.kafka.with(&spec.kafka);
    let (publisher, stored) =
        Publisher::start(&kafka, (*spec.publish).clone(), shared.registry.clone()).await?;
    if let Ok(mut s) = stats.lock() {
        *s = Some(publisher.stats());
    }
    set(status, State::Running, None);
    let durable = DurableLsn::default();
    let (tx, rx) = tributary_core::batch::bounded(spec.source.queue.limits());
    let (source_stop, source_stop_rx) = watch::channel(false);
    let source_stop = Arc::new(source_stop);
    let forward = {
        let source_stop = source_stop.clone();
        tokio::spawn(async move {
            let _ = stop.wait_for(|s| *s).await;
            let _ = source_stop.send(true);
        })
    };
    let heartbeat = match &spec.source.heartbeat_action_query {
        Some(query) if !spec.publish.heartbeat_interval.is_zero() => Some(tokio::spawn(
            tributary_postgres::heartbeat::run_action_query(
                spec.source.connect.clone(),
                query.clone(),
                spec.publish.heartbeat_interval,
                source_stop.subscribe(),
            ),
        )),
        _ => None,
    };
    let source = tokio::spawn(tributary_postgres::source::run_with_metrics(
        spec.source.clone(),
        stored,
        tx,
        durable.clone(),
        source_stop_rx,
        run.metrics.clone(),
    ));
    let published = publisher.run(rx, &durable).await;
    let _ = source_stop.send(true);
    let sourced = source.await;
    forward.abort();
    if let Some(h) = heartbeat {
        let _ = h.await;
    }
    published?;
    match sourced {
        Ok(r) => Ok(r?),
        Err(e) => Err(ConnectorError::Panic(format!(
            "the source task failed: {e}"
        ))),
    }
}
