//! API authentication: with `[api] auth = "bearer"` only the configured token gets in
//! (401 in Kafka Connect's error shape otherwise), liveness stays open for probes, and a
//! daemon asked to listen beyond loopback without choosing auth refuses to start. The
//! embedded schema registry follows the same rule, and in read-only mode only the daemon
//! writes to it.

mod support;

use support::api::{assert_error, request};
use support::daemon::{Daemon, DaemonOptions};
use support::kafka::Broker;
use support::pg::free_port;

const TOKEN: &str = "tok-3b9f-only-for-this-test";

#[test]
fn bearer_auth_lets_in_only_the_token_and_leaves_liveness_open() {
    let broker = Broker::start();
    let work = tempfile::tempdir().unwrap();
    // Beyond loopback is allowed once auth is on.
    let daemon = Daemon::start_with(
        work.path(),
        DaemonOptions {
            listen: Some(format!("0.0.0.0:{}", free_port())),
            api_toml: format!("auth = \"bearer\"\ntoken = \"{TOKEN}\""),
            ..DaemonOptions::new(&broker.bootstrap)
        },
    );
    let api = daemon.api.as_str();
    let right = format!("Bearer {TOKEN}");
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("user:{TOKEN}")
        )
    );
    for path in ["/connectors", "/", "/connectors/x/status", "/metrics"] {
        for headers in [
            vec![],
            vec![("Authorization", "Bearer wrong-token")],
            vec![("Authorization", "Bearer ")],
            vec![("Authorization", basic.as_str())],
            vec![("Authorization", TOKEN)],
        ] {
            let r = request(api, "GET", path, &headers, None);
            assert_error(&r, 401);
            assert!(!r.body.contains(TOKEN), "{r:?}");
        }
    }
    let r = request(
        api,
        "GET",
        "/connectors",
        &[("Authorization", &right)],
        None,
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json(), serde_json::json!([]));
    let r = request(
        api,
        "POST",
        "/connectors",
        &[("Content-Type", "application/json")],
        Some(br#"{"name": "x", "config": {}}"#),
    );
    assert_error(&r, 401);
    let r = request(api, "GET", "/health/live", &[], None);
    assert_eq!(r.status, 200, "{r:?}");
    assert!(!daemon.log().contains(TOKEN), "{}", daemon.log());
}

#[test]
fn listening_beyond_loopback_without_auth_is_refused_naming_api_auth() {
    let work = tempfile::tempdir().unwrap();
    let port = free_port();
    let started = Daemon::try_start(
        work.path(),
        DaemonOptions {
            listen: Some(format!("0.0.0.0:{port}")),
            ..DaemonOptions::new("127.0.0.1:1")
        },
    );
    let (status, log) = match started {
        Ok(d) => panic!("the daemon started on 0.0.0.0 without auth:\n{}", d.log()),
        Err(e) => e,
    };
    assert!(!status.success(), "{status}\n{log}");
    assert!(log.contains("api.auth"), "the error names api.auth:\n{log}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens on {port}"
    );
}

#[test]
fn a_registry_beyond_loopback_without_auth_is_refused_naming_schema_registry_auth() {
    let work = tempfile::tempdir().unwrap();
    let started = Daemon::try_start(
        work.path(),
        DaemonOptions {
            registry_host: Some("0.0.0.0".into()),
            ..DaemonOptions::new("127.0.0.1:1")
        },
    );
    let (status, log) = match started {
        Ok(d) => panic!(
            "the registry listened on 0.0.0.0 without auth:\n{}",
            d.log()
        ),
        Err(e) => e,
    };
    assert!(!status.success(), "{status}\n{log}");
    assert!(
        log.contains("schema_registry.auth"),
        "the error names schema_registry.auth:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_registry_with_basic_auth_lets_the_daemon_write_and_others_only_read() {
    let (user, password) = ("reader", "reg-Pa55-77d0");
    let pg = support::pg::PgCluster::start();
    let db = pg.create_db("app").await;
    db.batch_execute(
        "CREATE TABLE items (id bigint PRIMARY KEY, v text);
         INSERT INTO items SELECT g, 'row ' || g FROM generate_series(1, 100) g",
    )
    .await
    .unwrap();
    let broker = Broker::start();
    let work = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with(
        work.path(),
        DaemonOptions {
            registry_host: Some("0.0.0.0".into()),
            registry_toml: format!(
                "auth = \"basic\"\nusername = \"{user}\"\npassword = \"{password}\"\nmode = \"readonly\""
            ),
            connectors: vec![pg.connector("ro", "app", serde_json::json!({}))],
            ..DaemonOptions::new(&broker.bootstrap)
        },
    );
    // The daemon registered its schemas: every event decodes through the registry.
    let authed = daemon
        .registry
        .replacen("http://", &format!("http://{user}:{password}@"), 1);
    let mut consumer =
        support::kafka::CdcConsumer::new(&broker.bootstrap, &authed, "^cdc\\.public\\.items$");
    let all = consumer.poll_until(std::time::Duration::from_secs(60), |r| r.len() >= 100);
    assert!(
        all,
        "{} of 100 events\n{}",
        consumer.records.len(),
        daemon.log()
    );

    let (status, body) =
        support::kafka::http("GET", &format!("{}/subjects", daemon.registry), None);
    assert_eq!(status, 401, "{body}");
    let (status, subjects) = support::kafka::http("GET", &format!("{authed}/subjects"), None);
    assert_eq!(status, 200, "{subjects}");
    assert!(
        subjects
            .as_array()
            .is_some_and(|s| s.contains(&serde_json::json!("cdc.public.items-value"))),
        "{subjects}"
    );
    let schema = serde_json::json!({"schema": "{\"type\": \"string\"}"});
    let (status, body) = support::kafka::http(
        "POST",
        &format!("{authed}/subjects/mine-value/versions"),
        Some(&schema),
    );
    assert_eq!(
        (status, body["error_code"].as_i64()),
        (422, Some(42205)),
        "{body}"
    );
    let (status, body) = support::kafka::http(
        "DELETE",
        &format!("{authed}/subjects/cdc.public.items-value"),
        None,
    );
    assert_eq!(status, 422, "{body}");
    assert!(!daemon.log().contains(password), "{}", daemon.log());
}
