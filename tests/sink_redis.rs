//! The Redis job on the topologies production runs: a Redis Cluster of three masters and
//! a Redis over mutual TLS. Each is fed a snapshot and then 20,000 random inserts,
//! updates and deletes while the daemon is killed (-9) and started again; in the cluster
//! one master is killed (-9) as well, mid-stream, and started again on its own data. At
//! the end the cache equals the table key by key, and the job never failed: what could not
//! be written was retried. In the cluster, a TRUNCATE then clears the table's keys on
//! every master.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::api::{connector_path as path, get, post, wait_status};
use support::daemon::{Daemon, DaemonOptions};
use support::kafka::Broker;
use support::pg::PgCluster;
use support::redis::RedisCluster;
use support::sync::{
    TABLE_DDL, Workload, cache_converges_with, cache_diff, cache_diff_of, job_metric, sql_writer,
    table_rows,
};
use support::tls::Pki;

const T: Duration = Duration::from_secs(60);
const CHANGES: usize = 20_000;
const PER_TX: usize = 50;

/// Postgres with the items table and a snapshot's worth of rows, a broker and a daemon
/// with the source connector running.
struct Rig {
    pg: PgCluster,
    db: tokio_postgres::Client,
    work: Workload,
    daemon: Daemon,
    api: String,
    _dir: tempfile::TempDir,
    _broker: Broker,
}

impl Rig {
    async fn start(seed: u64) -> Rig {
        let pg = PgCluster::start();
        let db = pg.create_db("app").await;
        db.batch_execute(TABLE_DDL).await.unwrap();
        let mut work = Workload::new(seed);
        for _ in 0..10 {
            db.batch_execute(&work.transaction(PER_TX)).await.unwrap();
        }
        let broker = Broker::start();
        let dir = tempfile::tempdir().unwrap();
        let daemon = Daemon::start_with(dir.path(), DaemonOptions::new(&broker.bootstrap));
        let api = daemon.api.clone();
        let source = pg.connector(
            "pg",
            "app",
            json!({"table.include.list": "public.items", "skipped.operations": "none"}),
        );
        let r = post(&api, "/connectors", &source);
        assert_eq!(r.status, 201, "{r:?}\n{}", daemon.log());
        Rig {
            pg,
            db,
            work,
            daemon,
            api,
            _dir: dir,
            _broker: broker,
        }
    }

    fn add_cache(&self, config: Value) {
        let mut config = config;
        let fixed = json!({
            "connector.class": "io.tributary.sink.RedisSinkConnector",
            "topics": "cdc.public.items",
            "batch.max.wait.ms": "50",
        });
        config
            .as_object_mut()
            .unwrap()
            .extend(fixed.as_object().unwrap().clone());
        let r = post(
            &self.api,
            "/connectors",
            &json!({"name": "cache", "config": config}),
        );
        assert_eq!(r.status, 201, "{r:?}\n{}", self.daemon.log());
    }

    /// Streams [`CHANGES`] changes; `at_third(i)` runs after the first and second third.
    async fn stream(&mut self, mut at_third: impl AsyncFnMut(&mut Daemon, usize)) {
        for name in ["pg", "cache"] {
            wait_status(&self.api, name, "RUNNING", &["RUNNING"], T).await;
        }
        let (tx, writer) = sql_writer(self.pg.url("app"));
        let txs = CHANGES / PER_TX;
        for i in 0..txs {
            tx.send(self.work.transaction(PER_TX)).await.unwrap();
            tokio::time::sleep(Duration::from_millis(8)).await;
            if i == txs / 3 || i == 2 * txs / 3 {
                at_third(&mut self.daemon, i / (txs / 3)).await;
            }
        }
        drop(tx);
        writer.await.unwrap();
    }

    /// The job runs: it was never FAILED for good.
    fn assert_running(&self) {
        let r = get(&self.api, &path("cache", "/status"));
        assert_eq!(
            r.json()["connector"]["state"],
            "RUNNING",
            "{r:?}\n{}",
            self.daemon.log()
        );
    }
}

/// Kills the daemon (-9) and starts it again.
async fn kill9_daemon(daemon: &mut Daemon) {
    daemon.kill9();
    tokio::time::sleep(Duration::from_millis(300)).await;
    daemon.restart();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cluster_cache_equals_the_table_through_a_daemon_and_a_master_killed() {
    let mut rig = Rig::start(21).await;
    let mut cluster = RedisCluster::start(3);
    rig.add_cache(json!({"redis.url": cluster.url(), "redis.cluster": "true"}));
    let started = Instant::now();
    let nodes = &mut cluster.nodes;
    let api = rig.api.clone();
    rig.stream(async |daemon, third| {
        if third == 1 {
            kill9_daemon(daemon).await;
            return;
        }
        // A master dies mid-stream: writes to its slots fail, and are retried, until it
        // is back (with what it had acknowledged, from its append-only file).
        let before = job_metric(&api, "cache", "sink_retries_total").unwrap_or(0);
        nodes[1].kill9();
        support::wait_for("the job to retry a batch", T, async || {
            (job_metric(&api, "cache", "sink_retries_total").unwrap_or(0) > before).then_some(())
        })
        .await;
        nodes[1].restart();
    })
    .await;
    eprintln!("{CHANGES} changes streamed in {:?}", started.elapsed());
    cluster.wait_ok();
    let rows = table_rows(&rig.db).await;
    assert_eq!(rows.len(), rig.work.live.len());
    let waited = Instant::now();
    cache_converges_with(
        || cache_diff_of(cluster.dump("public.items:*"), &rows, 5),
        || rig.daemon.log(),
    )
    .await;
    eprintln!(
        "the cache equals the table {:?} after the stream",
        waited.elapsed()
    );
    // Every master holds part of the cache: the keys were spread by slot.
    for node in &cluster.nodes {
        assert!(
            !support::redis::client(node)
                .keys("public.items:*")
                .is_empty()
        );
    }
    // A truncate clears the table's keys on every master; rows inserted after it stay.
    rig.db
        .batch_execute(
            "TRUNCATE items; INSERT INTO items VALUES (1, 'a', NULL, 1.00, 1), (2, 'b', NULL, 2.00, 2)",
        )
        .await
        .unwrap();
    let rows = table_rows(&rig.db).await;
    assert_eq!(rows.len(), 2);
    cache_converges_with(
        || cache_diff_of(cluster.dump("public.items:*"), &rows, 5),
        || rig.daemon.log(),
    )
    .await;
    rig.assert_running();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cache_over_mutual_tls_equals_the_table_through_a_kill9() {
    let mut rig = Rig::start(22).await;
    let certs = tempfile::tempdir().unwrap();
    let pki = Pki::create(certs.path());
    let redis = support::redis::start_tls(&pki);
    let tls_url = format!("rediss://localhost:{}/0", redis.tls_port.unwrap());

    // A CA that did not sign the server's certificate is refused, naming the property.
    let untrusted = json!({"name": "bad", "config": {
        "connector.class": "io.tributary.sink.RedisSinkConnector",
        "topics": "cdc.public.items",
        "redis.url": tls_url,
        "redis.tls.ca.location": pki.path("other-ca.pem"),
        "redis.tls.certificate.location": pki.path("client.crt"),
        "redis.tls.key.location": pki.path("client.key"),
    }});
    let r = post(&rig.api, "/connectors", &untrusted);
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.body.contains("redis.tls.ca.location"), "{r:?}");

    rig.add_cache(json!({
        "redis.url": tls_url,
        "redis.tls.ca.location": pki.path("ca.pem"),
        "redis.tls.certificate.location": pki.path("client.crt"),
        "redis.tls.key.location": pki.path("client.key"),
    }));
    let mut reader = support::redis::client(&redis);
    rig.stream(async |daemon, _| {
        let mut c = support::redis::client(&redis);
        support::wait_for("the cache job to write", T, async || {
            (!c.keys("public.items:*").is_empty()).then_some(())
        })
        .await;
        kill9_daemon(daemon).await;
    })
    .await;
    let rows = table_rows(&rig.db).await;
    cache_converges_with(|| cache_diff(&mut reader, &rows, 5), || rig.daemon.log()).await;
    rig.assert_running();
}
