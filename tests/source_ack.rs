//! The replication slot only ever moves to what the consumer acknowledged.

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use support::pg::PgCluster;
use support::wait_for;
use tokio::sync::watch;
use tributary_core::{CaptureItem, DurableLsn, Lsn};
use tributary_postgres::config::PostgresConnectorConfig;

const T: Duration = Duration::from_secs(60);

async fn confirmed_flush(db: &tokio_postgres::Client, slot: &str) -> Lsn {
    let row = db
        .query_one(
            "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .unwrap();
    row.get::<_, String>(0).parse().unwrap()
}

/// Waits until the walsender has received a status update sent after now.
async fn wait_for_fresh_reply(db: &tokio_postgres::Client) {
    let start = db
        .query_one("SELECT clock_timestamp()", &[])
        .await
        .unwrap()
        .get::<_, std::time::SystemTime>(0);
    wait_for("a status update from the connector", T, async || {
        let row = db
            .query_opt(
                "SELECT reply_time FROM pg_stat_replication WHERE reply_time IS NOT NULL",
                &[],
            )
            .await
            .ok()??;
        (row.get::<_, std::time::SystemTime>(0) > start).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_slot_never_moves_past_what_the_consumer_acknowledged() {
    let pg = PgCluster::start();
    let db = pg.create_db("ack").await;
    db.batch_execute("CREATE TABLE t (id int PRIMARY KEY)")
        .await
        .unwrap();
    let connector = pg.connector("ack", "ack", json!({"status.update.interval.ms": "100"}));
    let config = Arc::new(PostgresConnectorConfig::from_connector_json(&connector).unwrap());
    let (tx, mut rx) = tributary_core::batch::channel(1024, 64);
    let durable = DurableLsn::default();
    let (stop_tx, stop_rx) = watch::channel(false);
    let task = tokio::spawn(tributary_postgres::source::run(
        config,
        None,
        tx,
        durable.clone(),
        stop_rx,
    ));

    wait_for("the slot to become active", T, async || {
        let row = db
            .query_opt(
                "SELECT active FROM pg_replication_slots WHERE slot_name = 'ack_slot'",
                &[],
            )
            .await
            .ok()??;
        row.get::<_, bool>(0).then_some(())
    })
    .await;
    let created = confirmed_flush(&db, "ack_slot").await;
    for i in 0..3 {
        db.execute("INSERT INTO t VALUES ($1)", &[&i])
            .await
            .unwrap();
    }
    let mut ends = Vec::new();
    while ends.len() < 3 {
        match tokio::time::timeout(T, rx.recv())
            .await
            .expect("events in time")
        {
            Some(batch) => {
                for item in batch {
                    if let CaptureItem::Commit { tx, .. } = item {
                        ends.push(tx.end_lsn);
                    }
                }
            }
            None => panic!("source ended: {:?}", task.await),
        }
    }
    // Nothing acknowledged: after fresh status updates the slot is where it was created.
    wait_for_fresh_reply(&db).await;
    wait_for_fresh_reply(&db).await;
    let flushed = confirmed_flush(&db, "ack_slot").await;
    assert_eq!(
        flushed, created,
        "the slot moved without an acknowledgement"
    );
    assert!(flushed < ends[0]);

    // Acknowledge the first transaction only.
    durable.advance(ends[0]);
    wait_for("the slot to reach the acknowledged LSN", T, async || {
        (confirmed_flush(&db, "ack_slot").await == ends[0]).then_some(())
    })
    .await;
    wait_for_fresh_reply(&db).await;
    wait_for_fresh_reply(&db).await;
    assert_eq!(
        confirmed_flush(&db, "ack_slot").await,
        ends[0],
        "the slot passed the acknowledged LSN"
    );
    // Keep draining so the source is never blocked, then stop cleanly.
    let _ = stop_tx.send(true);
    while rx.recv().await.is_some() {}
    task.await.unwrap().unwrap();
    assert!(ends[0] < ends[1] && ends[1] < ends[2]);
}
