//! A connector's life through the REST API, as Kafka Connect documents it: create, list,
//! inspect, pause, resume, stop, alter and reset offsets, restart, update, validate and
//! delete — each with Kafka Connect's status codes and JSON shapes — while a read_committed
//! consumer checks what the user would: rows reach Kafka, not while paused, exactly once.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::api::{
    Tally, assert_config, assert_error, assert_info, connector_path as path, delete, get, patch,
    post, put, wait_status,
};
use support::daemon::{Daemon, DaemonOptions};
use support::kafka::Broker;
use support::pg::PgCluster;
use support::slot::lsn;
use support::wait_for;

const T: Duration = Duration::from_secs(60);
const TOPIC: &str = "cdc.public.items";
const CLASS: &str = "io.debezium.connector.postgresql.PostgresConnector";

/// A daemon without connectors, a broker, and a database `app` with `items` rows 1..=rows.
struct Env {
    daemon: Daemon,
    broker: Broker,
    db: tokio_postgres::Client,
    pg: PgCluster,
    _work: tempfile::TempDir,
}

impl Env {
    async fn start(rows: i64) -> Env {
        let pg = PgCluster::start();
        let db = pg.create_db("app").await;
        db.batch_execute("CREATE TABLE items (id bigint PRIMARY KEY, v text)")
            .await
            .unwrap();
        insert(&db, 1, rows).await;
        let broker = Broker::start();
        let work = tempfile::tempdir().unwrap();
        let daemon = Daemon::start_with(work.path(), DaemonOptions::new(&broker.bootstrap));
        Env {
            daemon,
            broker,
            db,
            pg,
            _work: work,
        }
    }

    fn tally(&self, pattern: &str) -> Tally {
        Tally::new(&self.broker.bootstrap, &self.daemon.registry, pattern)
    }
}

async fn insert(db: &tokio_postgres::Client, from: i64, to: i64) {
    if from <= to {
        db.batch_execute(&format!(
            "INSERT INTO items SELECT g, 'row ' || g FROM generate_series({from}, {to}) g"
        ))
        .await
        .unwrap();
    }
}

/// Asserts Kafka Connect's `<status>` shape for a running connector.
#[track_caller]
fn assert_running_status(s: &Value, name: &str) {
    assert_eq!(s["name"], name, "{s}");
    assert_eq!(s["type"], "source", "{s}");
    assert_eq!(s["connector"]["state"], "RUNNING", "{s}");
    assert!(s["connector"]["worker_id"].is_string(), "{s}");
    let tasks = s["tasks"].as_array().expect("tasks");
    assert_eq!(tasks.len(), 1, "{s}");
    assert_eq!(tasks[0]["id"], 0, "{s}");
    assert_eq!(tasks[0]["state"], "RUNNING", "{s}");
    assert!(tasks[0]["worker_id"].is_string(), "{s}");
}

/// `{"offsets": [{"partition": {"server": prefix}, "offset": {"lsn": "X/Y", …}}]}`.
#[track_caller]
fn assert_offsets_shape(v: &Value, prefix: &str) {
    let offsets = v["offsets"].as_array().expect("offsets array");
    assert_eq!(offsets.len(), 1, "{v}");
    assert_eq!(offsets[0]["partition"], json!({"server": prefix}), "{v}");
    let text = offsets[0]["offset"]["lsn"].as_str().expect("lsn text");
    assert!(lsn(text) > 0, "{v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connector_is_created_paused_resumed_stopped_and_reset_like_in_kafka_connect() {
    let env = Env::start(10).await;
    let api = env.daemon.api.as_str();
    let log = || env.daemon.log();

    let root = get(api, "/");
    assert_eq!(root.status, 200, "{root:?}");
    let root = root.json();
    assert!(root["version"].is_string(), "{root}");
    assert!(
        root.get("commit").is_some() && root.get("kafka_cluster_id").is_some(),
        "{root}"
    );

    let body = env.pg.connector("life", "app", json!({}));
    let created = post(api, "/connectors", &body);
    assert_eq!(created.status, 201, "{created:?}\n{}", log());
    assert_info(&created.json(), "life", &body["config"], false);
    let again = post(api, "/connectors", &body);
    assert!(assert_error(&again, 409).contains("life"), "{again:?}");

    assert_eq!(get(api, "/connectors").json(), json!(["life"]));
    let by_status = get(api, "/connectors?expand=status").json();
    assert_eq!(by_status["life"]["status"]["name"], "life", "{by_status}");
    assert_eq!(by_status["life"].as_object().map(|o| o.len()), Some(1));
    let by_info = get(api, "/connectors?expand=info").json();
    assert_info(&by_info["life"]["info"], "life", &body["config"], false);
    assert_eq!(by_info["life"].as_object().map(|o| o.len()), Some(1));
    let both = get(api, "/connectors?expand=status&expand=info").json();
    assert!(
        both["life"]["status"].is_object() && both["life"]["info"].is_object(),
        "{both}"
    );
    let info = get(api, &path("life", ""));
    assert_eq!(info.status, 200);
    assert_info(&info.json(), "life", &body["config"], false);
    let config = get(api, &path("life", "/config"));
    assert_eq!(config.status, 200);
    assert_config(&config.json(), &body["config"]);

    let status = wait_status(api, "life", "RUNNING", &["RUNNING"], T).await;
    assert_running_status(&status, "life");

    // Snapshot and stream reach Kafka. (RUNNING comes before the snapshot is taken: rows
    // written now could be read by it, so the stream's rows wait for its last row.)
    let mut kafka = env.tally("^cdc\\.public\\.items$");
    let snapshot = kafka.until(T, |t| t.missing(TOPIC, "r", 1..=10).is_empty());
    assert!(snapshot, "the snapshot did not reach Kafka\n{}", log());
    insert(&env.db, 11, 20).await;
    let arrived = kafka.until(T, |t| {
        t.missing(TOPIC, "r", 1..=10).is_empty() && t.missing(TOPIC, "c", 11..=20).is_empty()
    });
    assert!(arrived, "rows did not reach Kafka\n{}", log());

    // Offsets may only change while STOPPED.
    let offsets = wait_for("a committed offset", T, async || {
        let v = get(api, &path("life", "/offsets")).json();
        v["offsets"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
            .then_some(v)
    })
    .await;
    assert_offsets_shape(&offsets, "cdc");
    let refused = patch(api, &path("life", "/offsets"), &offsets);
    assert_error(&refused, 400);

    // Paused: rows wait in Postgres.
    let paused = put(api, &path("life", "/pause"), None);
    assert_eq!(paused.status, 202, "{paused:?}");
    wait_status(api, "life", "PAUSED", &["PAUSED"], T).await;
    insert(&env.db, 21, 30).await;
    let leaked = kafka.until(Duration::from_secs(3), |t| {
        t.missing(TOPIC, "c", 21..=30).len() < 10
    });
    assert!(!leaked, "rows written while PAUSED reached Kafka");

    let resumed = put(api, &path("life", "/resume"), None);
    assert_eq!(resumed.status, 202, "{resumed:?}");
    wait_status(api, "life", "RUNNING", &["RUNNING"], T).await;
    let arrived = kafka.until(T, |t| t.missing(TOPIC, "c", 21..=30).is_empty());
    assert!(
        arrived,
        "rows written while paused never arrived\n{}",
        log()
    );
    assert_eq!(kafka.not_exactly(TOPIC, "r", 1..=10, 1), []);
    assert_eq!(kafka.not_exactly(TOPIC, "c", 11..=30, 1), []);

    // Stopped: no task.
    let stopped = put(api, &path("life", "/stop"), None);
    assert_eq!(stopped.status, 204, "{stopped:?}");
    let status = wait_status(api, "life", "STOPPED", &[], T).await;
    assert_eq!(status["tasks"], json!([]), "{status}");
    assert_eq!(get(api, &path("life", "/tasks")).json(), json!([]));
    // The topics it wrote to outlive its task.
    assert_eq!(
        get(api, &path("life", "/topics")).json(),
        json!({"life": {"topics": [TOPIC]}})
    );
    assert_info(
        &get(api, &path("life", "")).json(),
        "life",
        &body["config"],
        true,
    );

    // Alter (to the same place) and reset the offsets.
    let offsets = get(api, &path("life", "/offsets"));
    assert_eq!(offsets.status, 200);
    let offsets = offsets.json();
    assert_offsets_shape(&offsets, "cdc");
    let altered = patch(api, &path("life", "/offsets"), &offsets);
    assert_eq!(altered.status, 200, "{altered:?}");
    assert_eq!(
        altered.json(),
        json!({"message": "The offsets for this connector have been altered successfully"})
    );
    assert_eq!(get(api, &path("life", "/offsets")).json(), offsets);
    let reset = delete(api, &path("life", "/offsets"));
    assert_eq!(reset.status, 200, "{reset:?}");
    assert_eq!(
        reset.json(),
        json!({"message": "The offsets for this connector have been reset successfully"})
    );
    assert_eq!(
        get(api, &path("life", "/offsets")).json(),
        json!({"offsets": []})
    );

    // With no offset, the connector starts over: a new snapshot, then the stream.
    let resumed = put(api, &path("life", "/resume"), None);
    assert_eq!(resumed.status, 202, "{resumed:?}");
    wait_status(api, "life", "RUNNING", &["RUNNING"], T).await;
    let resnapshot = kafka.until(T, |t| {
        t.not_exactly(TOPIC, "r", 1..=10, 2).is_empty() && t.missing(TOPIC, "r", 11..=30).is_empty()
    });
    assert!(
        resnapshot,
        "no second snapshot after the offsets were reset: r counts {:?}\n{}",
        kafka.not_exactly(TOPIC, "r", 1..=30, 2),
        log()
    );
    insert(&env.db, 31, 31).await;
    assert!(kafka.until(T, |t| t.count(TOPIC, "c", 31) >= 1));
    assert_eq!(kafka.not_exactly(TOPIC, "c", 11..=31, 1), []);
    assert_eq!(kafka.not_exactly(TOPIC, "r", 11..=30, 1), []);

    let deleted = delete(api, &path("life", ""));
    assert_eq!(deleted.status, 204, "{deleted:?}");
    assert!(assert_error(&get(api, &path("life", "")), 404).contains("life"));
    assert_eq!(get(api, "/connectors").json(), json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn restarts_tasks_topics_config_updates_and_plugins_answer_like_kafka_connect() {
    let env = Env::start(5).await;
    let api = env.daemon.api.as_str();
    let log = || env.daemon.log();
    let body = env.pg.connector("ops", "app", json!({}));
    assert_eq!(post(api, "/connectors", &body).status, 201);
    wait_status(api, "ops", "RUNNING", &["RUNNING"], T).await;
    let mut kafka = env.tally("^cdc\\.public\\.items$");
    assert!(kafka.until(T, |t| t.missing(TOPIC, "r", 1..=5).is_empty()));

    // Restarts.
    let r = post(api, &path("ops", "/restart"), None);
    assert_eq!(r.status, 204, "{r:?}");
    wait_status(api, "ops", "RUNNING", &["RUNNING"], T).await;
    let r = post(api, &path("ops", "/restart?includeTasks=true"), None);
    assert_eq!(r.status, 202, "{r:?}");
    let s = r.json();
    assert_eq!(s["name"], "ops", "{s}");
    assert_eq!(s["connector"]["state"], "RESTARTING", "{s}");
    assert_eq!(s["tasks"][0]["state"], "RESTARTING", "{s}");
    wait_status(api, "ops", "RUNNING", &["RUNNING"], T).await;
    let r = post(
        api,
        &path("ops", "/restart?includeTasks=true&onlyFailed=true"),
        None,
    );
    assert_eq!(r.status, 202, "{r:?}");
    assert!(
        !r.body.contains("RESTARTING"),
        "nothing failed, so nothing restarts: {}",
        r.body
    );
    assert_running_status(&r.json(), "ops");
    let r = post(api, &path("ops", "/tasks/0/restart"), None);
    assert_eq!(r.status, 204, "{r:?}");
    assert_error(&get(api, &path("ops", "/tasks/1/status")), 404);
    wait_status(api, "ops", "RUNNING", &["RUNNING"], T).await;
    let task = get(api, &path("ops", "/tasks/0/status"));
    assert_eq!(task.status, 200);
    let task = task.json();
    assert_eq!(
        (task["id"].clone(), task["state"].clone()),
        (json!(0), json!("RUNNING"))
    );
    assert!(task["worker_id"].is_string(), "{task}");

    // Restarting resumed from the committed offset: nothing twice, the stream goes on.
    insert(&env.db, 6, 10).await;
    assert!(kafka.until(T, |t| t.missing(TOPIC, "c", 6..=10).is_empty()));
    assert_eq!(kafka.not_exactly(TOPIC, "r", 1..=5, 1), []);
    assert_eq!(kafka.not_exactly(TOPIC, "c", 6..=10, 1), []);

    // Tasks and topics.
    let tasks = get(api, &path("ops", "/tasks")).json();
    assert_eq!(tasks.as_array().map(Vec::len), Some(1), "{tasks}");
    assert_eq!(tasks[0]["id"], json!({"connector": "ops", "task": 0}));
    assert!(tasks[0]["config"].is_object(), "{tasks}");
    let topics = get(api, &path("ops", "/topics")).json();
    let names = topics["ops"]["topics"].as_array().expect("topics").clone();
    assert!(names.contains(&json!(TOPIC)), "{topics}");
    let r = put(api, &path("ops", "/topics/reset"), None);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        get(api, &path("ops", "/topics")).json(),
        json!({"ops": {"topics": []}})
    );

    // PUT config: update (200), create (201); PATCH config: set and remove keys.
    let mut config = body["config"].clone();
    config["max.queue.size"] = json!("4096");
    let r = put(api, &path("ops", "/config"), &config);
    assert_eq!(r.status, 200, "{r:?}\n{}", log());
    assert_info(&r.json(), "ops", &config, false);
    assert_eq!(
        get(api, &path("ops", "/config")).json()["max.queue.size"],
        "4096"
    );
    wait_status(api, "ops", "RUNNING", &["RUNNING"], T).await;

    let other = env.pg.connector(
        "ops2",
        "app",
        json!({"snapshot.mode": "no_data", "topic.prefix": "cdc2"}),
    )["config"]
        .clone();
    let r = put(api, &path("ops2", "/config"), &other);
    assert_eq!(r.status, 201, "{r:?}\n{}", log());
    assert_info(&r.json(), "ops2", &other, false);
    assert_eq!(get(api, "/connectors").json(), json!(["ops", "ops2"]));
    let change = json!({"max.queue.size": "3072", "status.update.interval.ms": null});
    let r = patch(api, &path("ops2", "/config"), &change);
    assert_eq!(r.status, 200, "{r:?}");
    let shown = get(api, &path("ops2", "/config")).json();
    assert_eq!(shown["max.queue.size"], "3072", "{shown}");
    assert!(shown.get("status.update.interval.ms").is_none(), "{shown}");
    assert_eq!(shown["topic.prefix"], "cdc2", "{shown}");
    wait_status(api, "ops2", "RUNNING", &["RUNNING"], T).await;

    // Plugins and validation.
    let plugins = get(api, "/connector-plugins").json();
    let pg_plugin = plugins
        .as_array()
        .and_then(|a| a.iter().find(|p| p["class"] == CLASS))
        .unwrap_or_else(|| panic!("{CLASS} in {plugins}"));
    assert_eq!(pg_plugin["type"], "source");
    assert!(pg_plugin["version"].is_string(), "{pg_plugin}");
    let defs = get(api, "/connector-plugins/PostgresConnector/config");
    assert_eq!(defs.status, 200, "{defs:?}");
    assert!(
        defs.json()
            .as_array()
            .is_some_and(|a| a.iter().any(|d| d["name"] == "topic.prefix")),
        "{}",
        defs.body
    );
    assert_error(&get(api, "/connector-plugins/NoSuchConnector/config"), 404);

    let mut valid = body["config"].clone();
    valid["slot.name"] = json!("validate_slot");
    valid["publication.name"] = json!("validate_pub");
    for plugin in [CLASS, "postgres"] {
        let r = put(
            api,
            &format!("/connector-plugins/{plugin}/config/validate"),
            &valid,
        );
        assert_eq!(r.status, 200, "{r:?}");
        let v = r.json();
        assert_eq!(v["error_count"], 0, "{plugin}: {v}");
        assert!(
            v["configs"].as_array().is_some_and(|c| !c.is_empty()),
            "{v}"
        );
    }
    let mut invalid = valid.clone();
    invalid.as_object_mut().unwrap().remove("topic.prefix");
    invalid["table.include.list"] = json!("public.(unclosed");
    let r = put(
        api,
        &format!("/connector-plugins/{CLASS}/config/validate"),
        &invalid,
    );
    assert_eq!(r.status, 200, "{r:?}");
    let v = r.json();
    assert!(v["error_count"].as_u64() >= Some(2), "{v}");
    let errors = |field: &str| {
        v["configs"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["value"]["name"] == field))
            .map(|c| c["value"]["errors"].clone())
            .unwrap_or_else(|| panic!("no entry for {field}: {v}"))
    };
    for field in ["topic.prefix", "table.include.list"] {
        assert!(
            errors(field).as_array().is_some_and(|e| !e.is_empty()),
            "{field} has its error: {v}"
        );
    }
    assert_eq!(errors("database.hostname"), json!([]), "{v}");

    let r = delete(api, &path("ops", ""));
    assert_eq!(r.status, 204, "{r:?}");
    assert_error(&get(api, &path("ops", "")), 404);
    assert_error(&get(api, &path("ops", "/status")), 404);
    assert_eq!(get(api, "/connectors").json(), json!(["ops2"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn initial_state_starts_a_connector_stopped_or_paused_and_unknown_names_get_404() {
    let env = Env::start(3).await;
    let api = env.daemon.api.as_str();
    for (name, state) in [("st", "STOPPED"), ("pa", "PAUSED")] {
        let mut body = env.pg.connector(name, "app", json!({"topic.prefix": name}));
        body["initial_state"] = json!(state);
        let r = post(api, "/connectors", &body);
        assert_eq!(r.status, 201, "{r:?}\n{}", env.daemon.log());
        assert_info(&r.json(), name, &body["config"], state == "STOPPED");
    }
    wait_status(api, "st", "STOPPED", &[], T).await;
    wait_status(api, "pa", "PAUSED", &["PAUSED"], T).await;
    let mut kafka = env.tally("^(st|pa)\\.public\\.items$");
    let leaked = kafka.until(Duration::from_secs(3), |t| !t.counts.is_empty());
    assert!(
        !leaked,
        "a connector created STOPPED or PAUSED published: {:?}",
        kafka.counts
    );

    for name in ["st", "pa"] {
        let r = put(api, &path(name, "/resume"), None);
        assert_eq!(r.status, 202, "{r:?}");
        wait_status(api, name, "RUNNING", &["RUNNING"], T).await;
    }
    let arrived = kafka.until(T, |t| {
        t.missing("st.public.items", "r", 1..=3).is_empty()
            && t.missing("pa.public.items", "r", 1..=3).is_empty()
    });
    assert!(arrived, "{:?}\n{}", kafka.counts, env.daemon.log());

    let offsets = json!({"offsets": [{"partition": {"server": "x"}, "offset": {"lsn": "0/1"}}]});
    let calls: [(&str, &str, Option<&Value>); 18] = [
        ("GET", "", None),
        ("DELETE", "", None),
        ("GET", "/config", None),
        ("PATCH", "/config", Some(&json!({"max.queue.size": "1"}))),
        ("GET", "/status", None),
        ("POST", "/restart", None),
        ("POST", "/restart?includeTasks=true", None),
        ("PUT", "/pause", None),
        ("PUT", "/resume", None),
        ("PUT", "/stop", None),
        ("GET", "/tasks", None),
        ("GET", "/tasks/0/status", None),
        ("POST", "/tasks/0/restart", None),
        ("GET", "/offsets", None),
        ("PATCH", "/offsets", Some(&offsets)),
        ("DELETE", "/offsets", None),
        ("GET", "/topics", None),
        ("PUT", "/topics/reset", None),
    ];
    for (method, rest, body) in calls {
        let p = path("ghost", rest);
        let r = match (method, body) {
            ("GET", _) => get(api, &p),
            ("DELETE", _) => delete(api, &p),
            ("POST", b) => post(api, &p, b),
            ("PUT", b) => put(api, &p, b),
            (_, b) => patch(api, &p, b),
        };
        assert_eq!(r.status, 404, "{method} {p}: {r:?}");
        assert!(
            assert_error(&r, 404).contains("ghost"),
            "{method} {p} names the connector: {r:?}"
        );
    }
    assert_eq!(get(api, "/connectors").json(), json!(["pa", "st"]));

    // DELETE drops the slot and the publication only when configured to; pause never does.
    let r = patch(
        api,
        &path("st", "/config"),
        Some(&json!({"slot.drop.on.stop": "true", "publication.drop.on.delete": "true"})),
    );
    assert_eq!(r.status, 200, "{r:?}");
    wait_status(api, "st", "RUNNING", &["RUNNING"], T).await;
    assert_eq!(put(api, &path("st", "/pause"), None).status, 202);
    let exists = async |sql: &str, name: &str| -> bool {
        env.db.query_one(sql, &[&name]).await.unwrap().get(0)
    };
    let slot = "SELECT count(*) = 1 FROM pg_replication_slots WHERE slot_name = $1";
    let publication = "SELECT count(*) = 1 FROM pg_publication WHERE pubname = $1";
    assert!(exists(slot, "st_slot").await, "a pause keeps the slot");
    for name in ["st", "pa"] {
        assert_eq!(delete(api, &path(name, "")).status, 204);
    }
    assert!(
        !exists(slot, "st_slot").await,
        "slot.drop.on.stop drops it on delete"
    );
    assert!(
        !exists(publication, "st_pub").await,
        "publication.drop.on.delete"
    );
    assert!(
        exists(slot, "pa_slot").await,
        "without the flag the slot stays"
    );
    assert!(
        exists(publication, "pa_pub").await,
        "without the flag the publication stays"
    );
}
