//! Two daemons run the same Redis job. The consumer group splits the topic's partitions
//! between them and each writes its share. When one is killed (-9), the other takes over
//! its partitions once the broker drops the dead member. Restarted, the killed one gets a
//! share back. Afterwards the cache equals the table key by key.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::api::{post, wait_status};
use support::daemon::{Daemon, DaemonOptions, RegistryChoice};
use support::kafka::Broker;
use support::pg::PgCluster;
use support::redis::RedisServer;
use support::sync::{TABLE_DDL, Workload, cache_converges, job_metric, sql_writer, table_rows};
use support::wait_for;

const T: Duration = Duration::from_secs(60);
const PARTITIONS: u64 = 4;
const CHANGES: usize = 12_000;
const PER_TX: usize = 40;

fn assigned(api: &str) -> u64 {
    job_metric(api, "cache", "sink_assigned_partitions").unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_daemons_share_a_job_and_take_over_from_a_killed_one() {
    let pg = PgCluster::start();
    let db = pg.create_db("app").await;
    db.batch_execute(TABLE_DDL).await.unwrap();
    let mut work = Workload::new(11);
    for _ in 0..10 {
        db.batch_execute(&work.transaction(PER_TX)).await.unwrap();
    }
    let broker = Broker::start();
    let redis = RedisServer::start();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Daemon::start_with(dir_a.path(), DaemonOptions::new(&broker.bootstrap));
    let b_options = DaemonOptions {
        registry: RegistryChoice::External(a.registry.clone()),
        ..DaemonOptions::new(&broker.bootstrap)
    };
    let mut b = Daemon::start_with(dir_b.path(), b_options);
    let (api_a, api_b) = (a.api.clone(), b.api.clone());

    // The source (on A only) keys its topic by primary key over four partitions.
    let source = pg.connector(
        "pg",
        "app",
        json!({"table.include.list": "public.items", "topic.creation.default.partitions": PARTITIONS.to_string()}),
    );
    let r = post(&api_a, "/connectors", &source);
    assert_eq!(r.status, 201, "{r:?}\n{}", a.log());
    wait_status(&api_a, "pg", "RUNNING", &["RUNNING"], T).await;
    let job = json!({"name": "cache", "config": {
        "connector.class": "io.tributary.sink.RedisSinkConnector",
        "topics": "cdc.public.items",
        "redis.url": redis.url(),
        "batch.max.wait.ms": "50",
    }});
    for api in [&api_a, &api_b] {
        let r = post(api, "/connectors", &job);
        assert_eq!(r.status, 201, "{r:?}");
        wait_status(api, "cache", "RUNNING", &["RUNNING"], T).await;
    }
    wait_for(
        "both daemons to hold a share of the partitions",
        T,
        async || {
            let (pa, pb) = (assigned(&api_a), assigned(&api_b));
            (pa >= 1 && pb >= 1 && pa + pb == PARTITIONS).then_some(())
        },
    )
    .await;

    let (tx, writer) = sql_writer(pg.url("app"));
    let txs = CHANGES / PER_TX;
    let mut b_consumed_before_kill = 0;
    for i in 0..txs {
        tx.send(work.transaction(PER_TX)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(8)).await;
        if i == txs / 3 {
            b_consumed_before_kill =
                job_metric(&api_b, "cache", "sink_records_consumed_total").unwrap_or(0);
            let killed = Instant::now();
            b.kill9();
            wait_for("A to take over every partition", T, async || {
                (assigned(&api_a) == PARTITIONS).then_some(())
            })
            .await;
            eprintln!(
                "A took over all partitions {:?} after the kill",
                killed.elapsed()
            );
        }
        if i == 2 * txs / 3 {
            b.restart();
            wait_for("the restarted B to get a share back", T, async || {
                let (pa, pb) = (assigned(&api_a), assigned(&api_b));
                (pb >= 1 && pa + pb == PARTITIONS).then_some(())
            })
            .await;
        }
    }
    drop(tx);
    writer.await.unwrap();
    assert!(b_consumed_before_kill > 0, "B read nothing before the kill");

    let rows = table_rows(&db).await;
    assert_eq!(rows.len(), work.live.len());
    let mut client = support::redis::client(&redis);
    cache_converges(&mut client, &rows, || {
        format!("A:\n{}\nB:\n{}", a.log(), b.log())
    })
    .await;
    let b_consumed = job_metric(&api_b, "cache", "sink_records_consumed_total").unwrap_or(0);
    assert!(b_consumed > 0, "the restarted B read nothing");
    eprintln!(
        "{} changes; B read {b_consumed_before_kill} records before the kill and {b_consumed} after its restart",
        work.changes
    );
}
