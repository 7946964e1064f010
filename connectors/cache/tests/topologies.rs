//! Reaching Redis through Sentinel: the job writes to the master the Sentinel names, and
//! after a failover it follows the new master (the old one, now a replica, refuses
//! writes: a transient error, retried on a new connection).

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use tributary_cache::{ConnectParams, Connection, RedisSink};
use tributary_core::SinkError;
use tributary_testkit::redis::Sentinel;

/// The role (`master`, `slave`) a server reports, asked on a new connection; "" when
/// the failover closed it first (it closes clients' connections).
async fn role(server: &RedisServer) -> String {
    // A failover may reset the connection while it is being made, too.
    let Ok(connection) = Connection::connect(&ConnectParams::local(server.port)).await else {
        return String::new();
    };
    let info = Client(connection).try_cmd(&["INFO", "replication"]).await;
    let text = match info {
        Ok(redis::Value::BulkString(b)) => String::from_utf8_lossy(&b).into_owned(),
        Ok(redis::Value::VerbatimString { text, .. }) => text,
        _ => String::new(),
    };
    text.lines()
        .find_map(|l| l.strip_prefix("role:"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[tokio::test]
async fn writes_go_to_the_master_a_sentinel_names_and_follow_a_failover() {
    let master = RedisServer::start();
    let replica_of = master.port.to_string();
    let replica = RedisServer::start_with(&["--replicaof", "127.0.0.1", &replica_of]);
    let sentinel = Sentinel::start(master.port);
    let url = format!("redis+sentinel://127.0.0.1:{}/mymaster/0", sentinel.port);
    let mut sink = RedisSink::new(master.config(json!({"redis.url": url})));
    sink.write_batch(&rows(0, 100, 1)).await.unwrap();
    let mut on_master = master.client().await;
    assert_eq!(
        on_master.get_json("public.items:7").await.unwrap()["v"],
        json!(1)
    );

    // The Sentinel must know the replica before it can promote it.
    let mut to_sentinel = master
        .client_with(ConnectParams::local(sentinel.port))
        .await;
    wait_for("the sentinel to see the replica", async || {
        let r = to_sentinel
            .try_cmd(&["SENTINEL", "REPLICAS", "mymaster"])
            .await;
        matches!(r, Ok(redis::Value::Array(items)) if !items.is_empty())
    })
    .await;
    let mut on_replica = replica.client().await;
    wait_for("the replica to sync", async || {
        on_replica.get("public.items:7").await.is_some()
    })
    .await;
    drop(on_replica);
    to_sentinel.cmd(&["SENTINEL", "FAILOVER", "mymaster"]).await;
    // Until the old master is told to replicate the new one, it still takes writes that
    // the new one never sees (Redis replicates asynchronously; see the README).
    wait_for(
        "the replica to be promoted and the master demoted",
        async || role(&replica).await == "master" && role(&master).await == "slave",
    )
    .await;

    // Writes to the old master are refused; retried, they reach the new one.
    let started = Instant::now();
    let mut refused = Vec::new();
    loop {
        match sink.write_batch(&rows(0, 100, 2)).await {
            Ok(()) => break,
            Err(e @ SinkError::Transient(_)) => refused.push(e.to_string()),
            Err(e) => panic!("a failover must be transient: {e}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the sink did not follow the failover: {refused:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        replica
            .client()
            .await
            .get_json("public.items:7")
            .await
            .unwrap()["v"],
        json!(2),
        "written to the new master (refused first: {refused:?})"
    );
    assert!(
        refused
            .iter()
            .all(|e| e.contains("READONLY") || e.contains("connection")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_batch_counts_as_written_once_the_replicas_asked_for_have_it() {
    let master = RedisServer::start();
    let replica_of = master.port.to_string();
    let mut replica = RedisServer::start_with(&["--replicaof", "127.0.0.1", &replica_of]);
    let config = master.config(json!({"redis.wait.replicas": 1, "redis.timeout.ms": 1000}));
    let mut sink = RedisSink::new(config);
    // The replica may still be syncing: a first batch may be refused, then goes through.
    wait_for("a batch to reach the replica", async || {
        sink.write_batch(&rows(0, 100, 1)).await.is_ok()
    })
    .await;
    // Acknowledged by the replica: it holds the batch as soon as write_batch returns.
    sink.write_batch(&rows(0, 100, 2)).await.unwrap();
    assert_eq!(
        replica
            .client()
            .await
            .get_json("public.items:99")
            .await
            .unwrap()["v"],
        json!(2)
    );

    replica.kill9();
    let started = Instant::now();
    let err = sink.write_batch(&rows(0, 100, 3)).await.unwrap_err();
    assert!(matches!(err, SinkError::Transient(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("only 0 of the 1 replicas (redis.wait.replicas)"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "bounded by redis.timeout.ms"
    );
}
