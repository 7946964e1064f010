//! `heartbeat.action.query`: SQL run on the captured database at every heartbeat.
//!
//! Debezium's answer to a captured database that stays idle while others on the same
//! server write WAL: the query writes a little (typically an upsert into a heartbeat
//! table), so the stream carries a change and the slot can advance. A failing query is
//! logged and tried again at the next heartbeat; it never stops the connector.

use std::time::Duration;

use tokio::sync::watch;

use crate::conn::{ConnectParams, connect_query};

/// Runs `query` every `interval` until `stop` turns true.
pub async fn run_action_query(
    connect: ConnectParams,
    query: String,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut client: Option<tokio_postgres::Client> = None;
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if client.as_ref().is_none_or(|c| c.is_closed()) {
            match connect_query(&connect).await {
                Ok(c) => client = Some(c),
                Err(e) => {
                    tracing::warn!(error = %e, "heartbeat.action.query: could not connect; will try again at the next heartbeat");
                    continue;
                }
            }
        }
        if let Some(c) = client.as_ref()
            && let Err(e) = c.batch_execute(&query).await
        {
            tracing::warn!(error = %e, query, "heartbeat.action.query failed; will run it again at the next heartbeat");
        }
    }
}
