//! The TOAST scenario of a new user: a table with a large text column (stored out of line),
//! a Redis cache in both value formats, the embedded index and an OpenSearch index on its
//! topic; then an update that changes only the title. Postgres does not log the unchanged
//! body, the source sends Debezium's placeholder for it, and every target must keep the
//! body it holds: after the update, after a kill -9, and after a full replay of the topic.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::api::{connector_path as path, delete, get, post, put, wait_status};
use support::daemon::{Daemon, DaemonOptions};
use support::kafka::Broker;
use support::opensearch::OpenSearch;
use support::pg::PgCluster;
use support::redis::Redis;
use support::sync::{SyncRig, committed};

const T: Duration = Duration::from_secs(60);
const ROWS: i32 = 5;
const SINKS: [&str; 4] = ["cache", "hashcache", "search", "opensearch"];

fn sinks(redis_url: &str, opensearch_url: &str) -> [Value; 4] {
    [
        json!({"name": "cache", "config": {
            "connector.class": "io.tributary.sink.RedisSinkConnector",
            "topics": "cdc.public.doc",
            "redis.url": redis_url,
            "batch.max.wait.ms": "20",
        }}),
        json!({"name": "hashcache", "config": {
            "connector.class": "io.tributary.sink.RedisSinkConnector",
            "topics": "cdc.public.doc",
            "redis.url": redis_url,
            "value.format": "hash",
            "key.pattern": "h:{table}:{pk}",
            "versions.prefix": "tributary:v:hashcache",
            "batch.max.wait.ms": "20",
        }}),
        json!({"name": "search", "config": {
            "connector.class": "io.tributary.sink.SearchSinkConnector",
            "topics": "cdc.public.doc",
            "batch.max.wait.ms": "20",
        }}),
        json!({"name": "opensearch", "config": {
            "connector.class": "io.tributary.sink.SearchSinkConnector",
            "topics": "cdc.public.doc",
            "search.backend": "opensearch",
            "connection.url": opensearch_url,
            "index.name": "doc",
            "batch.max.wait.ms": "20",
        }}),
    ]
}

/// The rows as `id -> (title, body)`.
async fn table(db: &tokio_postgres::Client) -> BTreeMap<i64, (String, String)> {
    db.query("SELECT id::bigint, title, body FROM doc", &[])
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect()
}

/// Where each target differs from the table, by target and id.
fn differences(
    api: &str,
    redis: &mut Redis,
    opensearch: &str,
    rows: &BTreeMap<i64, (String, String)>,
) -> Vec<String> {
    let mut diffs = Vec::new();
    let mut compare = |target: &str, id: i64, got: (Value, Value), want: &(String, String)| {
        if got != (json!(want.0), json!(want.1)) {
            let body = got
                .1
                .as_str()
                .map(|b| b.chars().take(40).collect::<String>());
            diffs.push(format!(
                "{target} {id}: title {} body {body:?}…, table: title {:?}",
                got.0, want.0
            ));
        }
    };
    for (id, want) in rows {
        let cached: Value = redis
            .text_of(&["GET", &format!("public.doc:{id}")])
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        compare(
            "redis json",
            *id,
            (cached["title"].clone(), cached["body"].clone()),
            want,
        );
        let field = |redis: &mut Redis, f: &str| {
            redis
                .text_of(&["HGET", &format!("h:doc:{id}"), f])
                .map_or(Value::Null, |t| json!(t))
        };
        let hashed = (field(redis, "title"), field(redis, "body"));
        compare("redis hash", *id, hashed, want);
        // The embedded index (none before its first commit).
        let found = get(api, &format!("/indexes/public.doc/search?q=needle{id}")).json();
        let hit = found["hits"]
            .as_array()
            .and_then(|hits| hits.iter().find(|h| h["_source"]["id"] == json!(id)))
            .map_or(Value::Null, |h| h["_source"].clone());
        compare(
            "tantivy",
            *id,
            (hit["title"].clone(), hit["body"].clone()),
            want,
        );
        let doc = get(opensearch, &format!("/doc/_doc/{id}")).json();
        let source = &doc["_source"];
        compare(
            "opensearch",
            *id,
            (source["title"].clone(), source["body"].clone()),
            want,
        );
    }
    diffs
}

async fn converge(
    what: &str,
    api: &str,
    redis: &mut Redis,
    opensearch: &str,
    rows: &BTreeMap<i64, (String, String)>,
    log: impl Fn() -> String,
) {
    let deadline = Instant::now() + T;
    loop {
        let diffs = differences(api, redis, opensearch, rows);
        if diffs.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: the targets do not equal the table: {diffs:#?}\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_title_only_update_keeps_every_body_through_kill9_and_replay() {
    let pg = PgCluster::start();
    let db = pg.create_db("app").await;
    // Bodies of ~6 kB that do not compress, stored out of line.
    db.batch_execute(&format!(
        "CREATE TABLE doc (id int PRIMARY KEY, title text, body text);
         ALTER TABLE doc ALTER body SET STORAGE EXTERNAL;
         INSERT INTO doc SELECT g, 'first title', 'needle' || g || ' ' ||
           (SELECT string_agg(md5(g::text || '-' || i::text), ' ') FROM generate_series(1, 200) i)
         FROM generate_series(1, {ROWS}) g;"
    ))
    .await
    .unwrap();
    let toasted: i64 = db
        .query_one(
            "SELECT count(*) FROM doc WHERE pg_column_size(body) > 4000",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(toasted, ROWS as i64, "the bodies are stored uncompressed");
    let source = pg.connector("pg", "app", json!({"table.include.list": "public.doc"}));
    let names: Vec<&str> = ["pg"].into_iter().chain(SINKS).collect();
    let rig = SyncRig::start(&source, |r, o| sinks(r, o).to_vec(), &names).await;
    let SyncRig {
        mut daemon,
        api,
        node,
        redis,
        ..
    } = rig;
    let mut client = support::redis::client(&redis);
    let rows = table(&db).await;
    converge("the snapshot", &api, &mut client, &node.url, &rows, || {
        daemon.log()
    })
    .await;

    db.batch_execute("UPDATE doc SET title = 'second title' WHERE id <= 3")
        .await
        .unwrap();
    let rows = table(&db).await;
    assert_eq!(rows[&1].0, "second title");
    converge(
        "the title-only update",
        &api,
        &mut client,
        &node.url,
        &rows,
        || daemon.log(),
    )
    .await;
    let metrics = get(&api, "/metrics").body;
    let left_out: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("tributary_sink_unavailable_values_total{"))
        .collect();
    assert_eq!(left_out.len(), SINKS.len(), "{metrics}");
    assert!(left_out.iter().all(|l| l.ends_with(" 0")), "{left_out:?}");

    // A kill -9, then every sink replays the whole topic.
    let ends: Vec<i64> = SINKS.iter().map(|n| committed(&api, n)).collect();
    daemon.kill9();
    daemon.restart();
    for name in SINKS {
        wait_status(&api, name, "RUNNING", &["RUNNING"], T).await;
        assert_eq!(put(&api, &path(name, "/stop"), None).status, 204);
        wait_status(&api, name, "STOPPED", &[], T).await;
        let r = delete(&api, &path(name, "/offsets"));
        assert_eq!(r.status, 200, "{r:?}\n{}", daemon.log());
        assert_eq!(put(&api, &path(name, "/resume"), None).status, 202);
    }
    let deadline = Instant::now() + T;
    loop {
        let diffs = differences(&api, &mut client, &node.url, &rows);
        assert!(diffs.is_empty(), "a replay changed a target: {diffs:#?}");
        if SINKS
            .iter()
            .zip(&ends)
            .all(|(n, end)| committed(&api, n) >= *end)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the replay did not finish\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    converge(
        "after the replay",
        &api,
        &mut client,
        &node.url,
        &rows,
        || daemon.log(),
    )
    .await;
}

/// A row the index's mapping refuses fails the OpenSearch job, and its status names the
/// field, the document and OpenSearch's reason; the rows before it are indexed.
#[tokio::test(flavor = "multi_thread")]
async fn a_mapping_error_fails_the_opensearch_job_naming_the_field() {
    let pg = PgCluster::start();
    let db = pg.create_db("app").await;
    db.batch_execute(
        "CREATE TABLE doc (id int PRIMARY KEY, title text, body text);
         INSERT INTO doc VALUES (1, 'fine', '12');",
    )
    .await
    .unwrap();
    let broker = Broker::start();
    let node = OpenSearch::start();
    // The team's own mapping says body is a number.
    let mapping = json!({"mappings": {"properties": {"body": {"type": "integer"}}}});
    let r = support::api::request(
        &node.url,
        "PUT",
        "/doc",
        &[("content-type", "application/json")],
        Some(mapping.to_string().as_bytes()),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with(dir.path(), DaemonOptions::new(&broker.bootstrap));
    let api = daemon.api.clone();
    let source = pg.connector("pg", "app", json!({"table.include.list": "public.doc"}));
    assert_eq!(post(&api, "/connectors", &source).status, 201);
    let [.., opensearch] = sinks("redis://127.0.0.1:1", &node.url);
    assert_eq!(post(&api, "/connectors", &opensearch).status, 201);
    wait_status(&api, "opensearch", "RUNNING", &["RUNNING"], T).await;
    support::wait_for("row 1 in OpenSearch", T, async || {
        (get(&node.url, "/doc/_doc/1").json()["found"] == json!(true)).then_some(())
    })
    .await;

    db.batch_execute("INSERT INTO doc VALUES (2, 'bad', 'not a number')")
        .await
        .unwrap();
    let status = wait_status(&api, "opensearch", "RUNNING", &["FAILED"], T).await;
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default();
    assert!(trace.contains("[body]"), "{status}");
    assert!(trace.contains("mapper_parsing_exception"), "{status}");
    assert!(trace.contains("id \"2\""), "{status}");
}
