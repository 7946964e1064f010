//! API authentication: with `[api] auth = "bearer"` only the configured token gets in
//! (401 in Kafka Connect's error shape otherwise), liveness stays open for probes, and a
//! daemon asked to listen beyond loopback without choosing auth refuses to start.

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
