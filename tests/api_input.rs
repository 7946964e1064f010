//! Whatever arrives at the API, the daemon answers with Kafka Connect's error shape and the
//! right status, and carries on: malformed JSON, the wrong media type, a 10 MB body,
//! names that are not allowed, path traversal, unknown paths and methods. A name in any
//! script works end to end.

mod support;

use std::time::Duration;

use serde_json::json;
use support::api::{
    Tally, assert_error, connector_path as path, delete, encode_segment, error_message, get,
    names_field, post, request, wait_status,
};
use support::daemon::{Daemon, DaemonOptions};
use support::kafka::Broker;
use support::pg::PgCluster;
use support::slot::wait_active;

const T: Duration = Duration::from_secs(60);
const JSON: (&str, &str) = ("Content-Type", "application/json");

#[tokio::test(flavor = "multi_thread")]
async fn malformed_requests_get_kafka_connect_errors_and_the_daemon_carries_on() {
    let pg = PgCluster::start();
    let db = pg.create_db("app").await;
    db.batch_execute("CREATE TABLE items (id bigint PRIMARY KEY, v text)")
        .await
        .unwrap();
    let broker = Broker::start();
    let work = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::start_with(work.path(), DaemonOptions::new(&broker.bootstrap));
    let api = daemon.api.clone();
    let api = api.as_str();
    let valid = pg.connector("fine", "app", json!({"snapshot.mode": "no_data"}));

    // Bodies.
    let r = request(
        api,
        "POST",
        "/connectors",
        &[JSON],
        Some(br#"{"name": "x", "config": {"#),
    );
    assert_error(&r, 400);
    let r = request(
        api,
        "PUT",
        &path("x", "/config"),
        &[JSON],
        Some(b"{not json"),
    );
    assert_error(&r, 400);
    let r = request(api, "POST", "/connectors", &[JSON], Some(b"[1, 2]"));
    assert_error(&r, 400);
    let r = request(
        api,
        "POST",
        "/connectors",
        &[JSON],
        Some(br#"{"name": "noconfig"}"#),
    );
    assert!(names_field(&assert_error(&r, 400), "config"), "{r:?}");
    let r = request(
        api,
        "POST",
        "/connectors",
        &[("Content-Type", "text/plain")],
        Some(valid.to_string().as_bytes()),
    );
    assert_error(&r, 415);
    let r = request(
        api,
        "PUT",
        &path("fine", "/config"),
        &[("Content-Type", "text/plain")],
        Some(valid["config"].to_string().as_bytes()),
    );
    assert_error(&r, 415);
    let mut big = valid.clone();
    big["config"]["padding"] = json!("x".repeat(10 << 20));
    let r = request(
        api,
        "POST",
        "/connectors",
        &[JSON],
        Some(big.to_string().as_bytes()),
    );
    assert_error(&r, 413);
    assert_eq!(get(api, "/connectors").json(), json!([]));

    // Names that are not allowed.
    let long = "n".repeat(201);
    for name in [
        "a/b",
        "a\\b",
        "..",
        ".",
        "",
        " lead",
        "trail ",
        "bell\u{7}",
        "tab\tin",
        "nl\nin",
        &long,
    ] {
        let mut c = valid.clone();
        c["name"] = json!(name);
        c["config"]["slot.name"] = json!("refused_slot");
        let r = post(api, "/connectors", &c);
        let m = assert_error(&r, 400);
        assert!(names_field(&m, "name"), "{name:?}: {m}");
    }
    assert_eq!(get(api, "/connectors").json(), json!([]));

    // Path traversal and paths that do not exist.
    for p in [
        "/connectors/..%2F..%2Fetc%2Fpasswd/status",
        "/connectors/%2e%2e/config",
        "/connectors/%2E%2E%2F%2E%2E/status",
        "/connectors/../../etc/passwd",
        "/connectors/%00/status",
        "/connectors/fine/nope",
        "/no/such/path",
        "/connectors/fine/tasks/x/status",
    ] {
        let r = get(api, p);
        assert!(
            r.status == 404 || r.status == 400,
            "GET {p}: 404 or 400, got {r:?}"
        );
        error_message(&r);
    }
    for (method, p) in [
        ("DELETE", "/connectors"),
        ("PATCH", "/"),
        ("POST", "/connectors/fine/status"),
        ("GET", "/connectors/fine/restart"),
        ("DELETE", "/connector-plugins"),
    ] {
        let r = request(api, method, p, &[], None);
        assert_error(&r, 405);
    }

    // A name in any script, end to end.
    let name = "café-☕";
    let mut c = pg.connector(
        "unicode",
        "app",
        json!({"topic.prefix": "uni", "snapshot.mode": "no_data"}),
    );
    c["name"] = json!(name);
    let r = post(api, "/connectors", &c);
    assert_eq!(r.status, 201, "{r:?}\n{}", daemon.log());
    assert_eq!(r.json()["name"], name);
    assert_eq!(encode_segment(name), "caf%C3%A9-%E2%98%95");
    let info = get(api, &path(name, ""));
    assert_eq!(info.status, 200, "{info:?}");
    assert_eq!(info.json()["name"], name);
    assert_eq!(get(api, "/connectors").json(), json!([name]));
    wait_status(api, name, "RUNNING", &["RUNNING"], T).await;
    // No snapshot: only rows written once the slot exists are captured.
    wait_active(&db, "unicode_slot", T).await;
    let mut kafka = Tally::new(
        &broker.bootstrap,
        &daemon.registry,
        "^uni\\.public\\.items$",
    );
    db.batch_execute("INSERT INTO items VALUES (1, 'x')")
        .await
        .unwrap();
    assert!(
        kafka.until(T, |t| t.count("uni.public.items", "c", 1) == 1),
        "{}",
        daemon.log()
    );
    let r = delete(api, &path(name, ""));
    assert_eq!(r.status, 204, "{r:?}");
    assert!(assert_error(&get(api, &path(name, "")), 404).contains(name));

    assert!(daemon.alive(), "{}", daemon.log());
    assert_eq!(get(api, "/health/live").status, 200);
    assert!(!daemon.log().contains("panicked"), "{}", daemon.log());
}
