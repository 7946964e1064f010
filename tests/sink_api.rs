//! Sink connectors in the REST API: listed as plugins, bad configs refused with the field
//! named (and nothing created), a job that runs, and the embedded index's search errors.

mod support;

use std::time::Duration;

use serde_json::json;
use support::api::{
    assert_error, connector_path as path, get, names_field, post, put, wait_status,
};
use support::daemon::{Daemon, DaemonOptions};
use support::kafka::Broker;
use support::pg::free_port;
use support::redis::RedisServer;

const T: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn sink_configs_are_checked_and_jobs_run_and_report() {
    let broker = Broker::start();
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with(dir.path(), DaemonOptions::new(&broker.bootstrap));
    let api = daemon.api.clone();

    let plugins = get(&api, "/connector-plugins").json();
    let kinds: Vec<(String, String)> = plugins
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["class"].as_str().unwrap().into(),
                p["type"].as_str().unwrap().into(),
            )
        })
        .collect();
    for (class, kind) in [
        ("io.tributary.sink.SearchSinkConnector", "sink"),
        ("io.tributary.sink.RedisSinkConnector", "sink"),
        (
            "io.debezium.connector.postgresql.PostgresConnector",
            "source",
        ),
    ] {
        assert!(kinds.contains(&(class.into(), kind.into())), "{plugins}");
    }
    let defs = get(&api, "/connector-plugins/redis/config").json();
    let names: Vec<&str> = defs
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    for key in [
        "topics",
        "topics.regex",
        "batch.size",
        "redis.url",
        "key.pattern",
        "value.format",
    ] {
        assert!(names.contains(&key), "{key} is not defined: {names:?}");
    }

    // Bad configs: 400 naming the field, nothing created.
    let cases = [
        (json!({"connector.class": "RedisSinkConnector"}), "topics"),
        (
            json!({"connector.class": "RedisSinkConnector", "topics": "a", "topics.regex": "b"}),
            "topics",
        ),
        (
            json!({"connector.class": "RedisSinkConnector", "topics.regex": "cdc\\.(", "redis.url": redis.url()}),
            "topics.regex",
        ),
        (
            json!({"connector.class": "RedisSinkConnector", "topics": "t", "redis.url": format!("redis://127.0.0.1:{}/0", free_port())}),
            "redis.url",
        ),
        (
            json!({"connector.class": "RedisSinkConnector", "topics": "t", "redis.url": redis.url(), "key.pattern": "{table}"}),
            "key.pattern",
        ),
        (
            json!({"connector.class": "RedisSinkConnector", "topics": "t", "redis.url": redis.url(), "batch.size": "0"}),
            "batch.size",
        ),
        (
            json!({"connector.class": "SearchSinkConnector", "topics": "t", "search.backend": "elasticsearch"}),
            "connection.url",
        ),
        (
            json!({"connector.class": "SearchSinkConnector", "topics": "t", "search.backend": "solr"}),
            "search.backend",
        ),
        (
            json!({"connector.class": "SearchSinkConnector", "topics": "t", "no.such.key": "1"}),
            "no.such.key",
        ),
        (
            json!({"connector.class": "io.example.Nope", "topics": "t"}),
            "connector.class",
        ),
    ];
    for (config, field) in cases {
        let r = post(
            &api,
            "/connectors",
            &json!({"name": "bad", "config": config}),
        );
        let message = assert_error(&r, 400);
        assert!(
            names_field(&message, field),
            "{field} not named in {message:?} for {config}"
        );
    }
    assert_eq!(get(&api, "/connectors").json(), json!([]));

    // A job that runs: RUNNING, type sink, in /metrics; the empty index answers searches.
    let job = json!({"name": "cache", "config": {
        "connector.class": "io.tributary.sink.RedisSinkConnector",
        "topics.regex": "cdc\\..*", "redis.url": redis.url()}});
    let r = post(&api, "/connectors", &job);
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.json()["type"], "sink");
    let status = wait_status(&api, "cache", "RUNNING", &["RUNNING"], T).await;
    assert_eq!(status["type"], "sink");
    let metrics = get(&api, "/metrics").body;
    assert!(
        metrics.contains("tributary_sink_records_consumed_total{connector=\"cache\"}"),
        "{metrics}"
    );
    assert_eq!(
        get(&api, &path("cache", "/offsets")).json(),
        json!({"offsets": []})
    );
    assert_eq!(put(&api, &path("cache", "/stop"), None).status, 204);
    wait_status(&api, "cache", "STOPPED", &[], T).await;

    assert_eq!(get(&api, "/indexes").json(), json!([]));
    assert_error(&get(&api, "/indexes/nope/search?q=x"), 404);
    assert_error(&get(&api, "/indexes/nope/search?q=x&limit=0"), 400);
}
