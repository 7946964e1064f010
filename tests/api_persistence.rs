//! Connectors created over REST survive kill -9: the daemon, started again without any
//! connector file, brings back each connector with its config and in the state it was
//! left (RUNNING, PAUSED, STOPPED), and once resumed every row of every connector reaches
//! Kafka — none lost, none twice.

mod support;

use std::time::Duration;

use serde_json::json;
use support::api::{Tally, connector_path as path, get, post, put, wait_status};
use support::daemon::{Daemon, DaemonOptions};
use support::kafka::Broker;
use support::pg::PgCluster;
use support::slot::{confirmed_flush, lsn, wait_active};
use support::wait_for;

const T: Duration = Duration::from_secs(60);
const BATCH: usize = 500;
const PER_TX: i64 = 50;
/// Rows of `t_run` written up to the kill (from 501, while it streams), and in all.
const RUN_BEFORE_KILL: i64 = 6000;
const RUN_ROWS: i64 = 7000;
/// (connector, table, topic prefix, the state it is left in).
const CONNECTORS: [(&str, &str, &str, &str); 3] = [
    ("run", "t_run", "pr", "RUNNING"),
    ("paused", "t_paused", "pp", "PAUSED"),
    ("stopped", "t_stopped", "ps", "STOPPED"),
];

async fn insert(db: &tokio_postgres::Client, table: &str, from: i64, to: i64) {
    let mut id = from;
    while id <= to {
        let end = (id + PER_TX - 1).min(to);
        db.batch_execute(&format!(
            "INSERT INTO {table} SELECT g, 'row ' || g FROM generate_series({id}, {end}) g"
        ))
        .await
        .unwrap();
        id = end + 1;
    }
}

fn tasks_of(state: &str) -> &'static [&'static str] {
    match state {
        "RUNNING" => &["RUNNING"],
        "PAUSED" => &["PAUSED"],
        _ => &[],
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn after_kill9_connectors_come_back_in_their_state_and_lose_no_row() {
    let pg = PgCluster::start();
    let db = pg.create_db("app").await;
    for (_, table, _, _) in CONNECTORS {
        db.batch_execute(&format!(
            "CREATE TABLE {table} (id bigint PRIMARY KEY, v text)"
        ))
        .await
        .unwrap();
    }
    let broker = Broker::start();
    let work = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::start_with(work.path(), DaemonOptions::new(&broker.bootstrap));
    let api = daemon.api.clone();
    for (name, table, prefix, _) in CONNECTORS {
        let c = pg.connector(
            name,
            "app",
            json!({
                "snapshot.mode": "no_data",
                "table.include.list": format!("public.{table}"),
                "topic.prefix": prefix,
                "publish.batch.max.events": BATCH.to_string(),
            }),
        );
        let r = post(&api, "/connectors", &c);
        assert_eq!(r.status, 201, "{r:?}\n{}", daemon.log());
    }
    for (name, _, _, _) in CONNECTORS {
        wait_status(&api, name, "RUNNING", &["RUNNING"], T).await;
        wait_active(&db, &format!("{name}_slot"), T).await;
    }
    let mut kafka = Tally::new(&broker.bootstrap, &daemon.registry, "^p[rps]\\.public\\..*");
    let topic = |table: &str| {
        let (_, _, prefix, _) = CONNECTORS.iter().find(|c| c.1 == table).unwrap();
        format!("{prefix}.public.{table}")
    };
    for (_, table, _, _) in CONNECTORS {
        insert(&db, table, 1, 500).await;
    }
    let arrived = kafka.until(T, |k| {
        CONNECTORS
            .iter()
            .all(|c| k.missing(&topic(c.1), "c", 1..=500).is_empty())
    });
    assert!(arrived, "{}", daemon.log());

    assert_eq!(put(&api, &path("paused", "/pause"), None).status, 202);
    assert_eq!(put(&api, &path("stopped", "/stop"), None).status, 204);
    wait_status(&api, "paused", "PAUSED", &["PAUSED"], T).await;
    wait_status(&api, "stopped", "STOPPED", &[], T).await;
    let configs: Vec<_> = CONNECTORS
        .iter()
        .map(|c| get(&api, &path(c.0, "/config")).json())
        .collect();

    // Kill -9 while `run` streams a backlog; more rows arrive while the daemon is down.
    let acked = confirmed_flush(&db, "run_slot").await.unwrap_or(0);
    let url = pg.url("app");
    let writer = tokio::spawn(async move {
        let (db, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        // Paced, so that the stream is still going when the kill lands.
        for from in (501..=RUN_BEFORE_KILL).step_by(PER_TX as usize) {
            insert(&db, "t_run", from, from + PER_TX - 1).await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    insert(&db, "t_paused", 501, 1000).await;
    insert(&db, "t_stopped", 501, 1000).await;
    wait_for("run to publish part of the backlog", T, async || {
        confirmed_flush(&db, "run_slot")
            .await
            .filter(|l| *l > acked)
    })
    .await;
    // Mid-stream: Postgres holds changes of `run` that it has not acknowledged.
    let written: String = db
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await
        .unwrap()
        .get(0);
    let unacknowledged = confirmed_flush(&db, "run_slot").await.unwrap_or(0) < lsn(&written);
    let still_writing = !writer.is_finished();
    daemon.kill9();
    assert!(
        unacknowledged && still_writing,
        "the kill landed after run had caught up"
    );
    writer.await.unwrap();
    insert(&db, "t_run", RUN_BEFORE_KILL + 1, RUN_ROWS).await;
    insert(&db, "t_paused", 1001, 1500).await;
    insert(&db, "t_stopped", 1001, 1500).await;

    daemon.restart();
    assert_eq!(
        get(&api, "/connectors").json(),
        json!(["paused", "run", "stopped"]),
        "{}",
        daemon.log()
    );
    for (i, (name, _, _, state)) in CONNECTORS.iter().enumerate() {
        wait_status(&api, name, state, tasks_of(state), T).await;
        assert_eq!(
            get(&api, &path(name, "/config")).json(),
            configs[i],
            "{name}'s config after the restart"
        );
    }
    // Still where they were left, a moment later.
    let leaked = kafka.until(Duration::from_secs(2), |k| {
        k.count(&topic("t_paused"), "c", 501) + k.count(&topic("t_stopped"), "c", 501) > 0
    });
    assert!(
        !leaked,
        "a paused or stopped connector published after the restart"
    );

    for name in ["paused", "stopped"] {
        let r = put(&api, &path(name, "/resume"), None);
        assert_eq!(r.status, 202, "{r:?}");
        wait_status(&api, name, "RUNNING", &["RUNNING"], T).await;
    }
    let rows = |table: &str| if table == "t_run" { RUN_ROWS } else { 1500 };
    let arrived = kafka.until(Duration::from_secs(120), |k| {
        CONNECTORS
            .iter()
            .all(|c| k.missing(&topic(c.1), "c", 1..=rows(c.1)).is_empty())
    });
    assert!(
        arrived,
        "rows lost: {:?}\n{}",
        CONNECTORS
            .iter()
            .map(|c| (c.0, k_missing(&kafka, &topic(c.1), rows(c.1))))
            .collect::<Vec<_>>(),
        daemon.log()
    );
    for (name, table, _, _) in CONNECTORS {
        let dups = kafka.duplicates(&topic(table));
        eprintln!("{name}: {dups} duplicate records");
        assert_eq!(
            dups,
            0,
            "{name}: rows twice: {:?}",
            kafka.not_exactly(&topic(table), "c", 1..=rows(table), 1)
        );
    }
    for (name, _, _, _) in CONNECTORS {
        wait_status(&api, name, "RUNNING", &["RUNNING"], T).await;
    }
}

fn k_missing(kafka: &Tally, topic: &str, rows: i64) -> Vec<i64> {
    kafka.missing(topic, "c", 1..=rows)
}
