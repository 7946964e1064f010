//! Sink jobs read what each converter wrote: four sources capture one table, with
//! Confluent's AvroConverter, Kafka's JsonConverter with schemas and without them (the
//! latter with `decimal.handling.mode=string`, as a schemaless decimal is otherwise
//! base64), and Debezium's CloudEventsConverter (values; keys in JSON), and four Redis cache
//! jobs, each with its source's converters, keep one cache each. After a snapshot and a stream of inserts, updates and deletes, each cache equals
//! the table key by key.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use support::daemon::{Daemon, DaemonOptions};
use support::kafka::Broker;
use support::pg::PgCluster;
use support::redis::RedisServer;
use support::sync::{TABLE_DDL, Workload, cache_converges_with, cache_diff_of, table_rows};

const T: Duration = Duration::from_secs(60);
const JSON: &str = "org.apache.kafka.connect.json.JsonConverter";
const CLOUDEVENTS: &str = "io.debezium.converters.CloudEventsConverter";

#[tokio::test(flavor = "multi_thread")]
async fn caches_equal_the_table_from_avro_both_json_forms_and_cloudevents() {
    let pg = PgCluster::start();
    let broker = Broker::start();
    let redis = RedisServer::start();
    let work = tempfile::tempdir().unwrap();
    let db = pg.create_db("formats").await;
    db.batch_execute(TABLE_DDL).await.unwrap();
    let mut load = Workload::new(7);
    for _ in 0..4 {
        db.batch_execute(&load.transaction(50)).await.unwrap();
    }

    // (name, the converter properties of both the source and its sink)
    let forms = [
        ("avro", json!({})),
        (
            "json_schemas",
            json!({"key.converter": JSON, "value.converter": JSON}),
        ),
        (
            "json_plain",
            json!({
                "key.converter": JSON, "key.converter.schemas.enable": "false",
                "value.converter": JSON, "value.converter.schemas.enable": "false",
            }),
        ),
        (
            "cloudevents",
            json!({"key.converter": JSON, "value.converter": CLOUDEVENTS}),
        ),
    ];
    let mut connectors = Vec::new();
    for (name, converters) in &forms {
        let mut source = json!({"topic.prefix": name});
        let mut sink = json!({
            "connector.class": "io.tributary.sink.RedisSinkConnector",
            "topics": format!("{name}.public.items"),
            "redis.url": redis.url(),
            "key.pattern": format!("{name}:{{schema}}.{{table}}:{{pk}}"),
            "batch.max.wait.ms": "50",
        });
        for (k, v) in converters.as_object().unwrap() {
            source[k] = v.clone();
            sink[k] = v.clone();
        }
        if *name == "json_plain" {
            source["decimal.handling.mode"] = json!("string");
        }
        connectors.push(pg.connector(&format!("src_{name}"), "formats", source));
        connectors.push(json!({"name": format!("cache_{name}"), "config": sink}));
    }
    let daemon = Daemon::start_with(
        &work.path().join("daemon"),
        DaemonOptions {
            connectors,
            ..DaemonOptions::new(&broker.bootstrap)
        },
    );
    for (name, _) in &forms {
        support::api::wait_status(
            &daemon.api,
            &format!("cache_{name}"),
            "RUNNING",
            &["RUNNING"],
            T,
        )
        .await;
        support::slot::wait_active(&db, &format!("src_{name}_slot"), T).await;
    }
    for _ in 0..10 {
        db.batch_execute(&load.transaction(50)).await.unwrap();
    }
    let rows = table_rows(&db).await;
    let mut client = support::redis::client(&redis);
    for (name, _) in &forms {
        let prefix = format!("{name}:");
        cache_converges_with(
            || {
                let keys = client.keys(&format!("{prefix}public.items:*"));
                let values = client.get_all(&keys);
                let cache: BTreeMap<String, Option<String>> = keys
                    .iter()
                    .map(|k| k.trim_start_matches(&prefix).to_string())
                    .zip(values)
                    .collect();
                cache_diff_of(cache, &rows, 5)
                    .into_iter()
                    .map(|d| format!("{name}: {d}"))
                    .collect()
            },
            || daemon.log(),
        )
        .await;
    }
    assert!(
        load.deleted.len() > 10 && rows.len() > 200,
        "{}",
        rows.len()
    );
}
