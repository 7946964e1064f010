//! The database password never leaves the daemon: not in any API answer (configs, infos,
//! tasks, statuses, validation results, errors, metrics, the OpenAPI document), not in
//! its debug log. It shows as `********`, and a config sent back with the mask keeps the
//! stored password: the connector still connects.

mod support;

use std::time::Duration;

use serde_json::json;
use support::api::{Tally, connector_path as path, get, patch, post, put, request, wait_status};
use support::daemon::{Daemon, DaemonOptions};
use support::kafka::Broker;
use support::pg::password_cluster;
use support::slot::wait_active;

const T: Duration = Duration::from_secs(60);
const PASSWORD: &str = "Pw-Tributary-5ecr3t-7f3a";
const WRONG: &str = "Pw-Wrong-Distinct-91c2";
const MASK: &str = "********";
const TOPIC: &str = "cdc.public.items";

#[tokio::test(flavor = "multi_thread")]
async fn the_database_password_appears_in_no_answer_and_no_log_line() {
    let (pg, db) = password_cluster(PASSWORD).await;
    let broker = Broker::start();
    let work = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with(
        work.path(),
        DaemonOptions {
            log_toml: "level = \"debug\"".into(),
            ..DaemonOptions::new(&broker.bootstrap)
        },
    );
    let api = daemon.api.as_str();
    let mut answers: Vec<(String, String)> = Vec::new();
    let mut keep = |what: &str, body: &str| answers.push((what.to_string(), body.to_string()));

    let keeper = pg.connector(
        "keeper",
        "app",
        json!({"database.user": "cdc", "database.password": PASSWORD, "snapshot.mode": "no_data"}),
    );
    let r = post(api, "/connectors", &keeper);
    assert_eq!(r.status, 201, "{r:?}\n{}", daemon.log());
    keep("POST /connectors", &r.body);
    wait_status(api, "keeper", "RUNNING", &["RUNNING"], T).await;
    wait_active(&db, "keeper_slot", T).await;

    // A wrong password is refused up front, or the connector fails on it.
    let wrong = pg.connector(
        "wrong",
        "app",
        json!({"database.user": "cdc", "database.password": WRONG}),
    );
    let r = post(api, "/connectors", &wrong);
    keep("POST /connectors (wrong password)", &r.body);
    match r.status {
        400 => {}
        201 => {
            let s = wait_status(api, "wrong", "RUNNING", &["FAILED"], T).await;
            keep("status of the failed connector", &s.to_string());
            keep("its config", &get(api, &path("wrong", "/config")).body);
        }
        other => panic!("a wrong password gives 400 or a FAILED connector, not {other}: {r:?}"),
    }
    let mut bad_update = keeper["config"].clone();
    bad_update["database.password"] = json!(WRONG);
    keep(
        "PUT config (wrong password)",
        &put(api, &path("keeper", "/config"), &bad_update).body,
    );
    keep(
        "PATCH config (wrong password)",
        &patch(
            api,
            &path("keeper", "/config"),
            &json!({"database.password": WRONG}),
        )
        .body,
    );
    for (what, config) in [("right", &keeper["config"]), ("wrong", &wrong["config"])] {
        let mut c = config.clone();
        c["slot.name"] = json!("validate_slot");
        let r = put(
            api,
            "/connector-plugins/io.debezium.connector.postgresql.PostgresConnector/config/validate",
            &c,
        );
        assert_eq!(r.status, 200, "{r:?}");
        keep(&format!("validate ({what} password)"), &r.body);
    }

    // The mask, wherever a config is shown.
    let config = get(api, &path("keeper", "/config")).json();
    assert_eq!(config["database.password"], MASK, "{config}");
    let info = get(api, &path("keeper", "")).json();
    assert_eq!(info["config"]["database.password"], MASK, "{info}");
    let expanded = get(api, "/connectors?expand=info").json();
    assert_eq!(
        expanded["keeper"]["info"]["config"]["database.password"], MASK,
        "{expanded}"
    );

    let mut paths: Vec<String> = [
        "/",
        "/connectors",
        "/connectors?expand=info",
        "/connectors?expand=status",
        "/connectors?expand=status&expand=info",
        "/connector-plugins/postgres/config",
        "/metrics",
        "/openapi.json",
    ]
    .map(String::from)
    .to_vec();
    for rest in [
        "",
        "/config",
        "/status",
        "/tasks",
        "/tasks/0/status",
        "/offsets",
        "/topics",
    ] {
        paths.push(path("keeper", rest));
    }
    for p in &paths {
        let r = request(api, "GET", p, &[], None);
        assert!(r.status < 300, "GET {p}: {r:?}");
        keep(&format!("GET {p}"), &r.body);
    }

    // The config shown, sent back as it is (with the mask), keeps the stored password:
    // after a restart the connector connects and streams.
    let r = put(api, &path("keeper", "/config"), &config);
    assert_eq!(r.status, 200, "{r:?}");
    keep("PUT config (masked)", &r.body);
    let r = patch(
        api,
        &path("keeper", "/config"),
        &json!({"database.password": MASK, "max.queue.size": "4096"}),
    );
    assert_eq!(r.status, 200, "{r:?}");
    keep("PATCH config (masked)", &r.body);
    let r = post(api, &path("keeper", "/restart?includeTasks=true"), None);
    assert_eq!(r.status, 202, "{r:?}");
    keep("restart", &r.body);
    let s = wait_status(api, "keeper", "RUNNING", &["RUNNING"], T).await;
    let mut kafka = Tally::new(
        &broker.bootstrap,
        &daemon.registry,
        "^cdc\\.public\\.items$",
    );
    db.batch_execute("INSERT INTO items SELECT g, 'x' FROM generate_series(1, 5) g")
        .await
        .unwrap();
    let arrived = kafka.until(T, |t| t.missing(TOPIC, "c", 1..=5).is_empty());
    let s_after = get(api, &path("keeper", "/status")).json();
    assert!(
        arrived,
        "after a config sent back with the mask the connector no longer streams: {s} {s_after}\n{}",
        daemon.log()
    );
    keep("status after", &s_after.to_string());

    answers.push(("the daemon log".into(), daemon.log()));
    for (what, body) in &answers {
        for secret in [PASSWORD, WRONG] {
            assert!(!body.contains(secret), "{what} shows a password:\n{body}");
        }
    }
    // The debug log was really on: it says more than the ready line.
    assert!(daemon.log().lines().count() > 5, "{}", daemon.log());
}
