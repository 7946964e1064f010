//! The registry client and the registry's durability: what errors say about retrying, one
//! request for concurrent registrations, a restart, and a `kill -9` mid-registration.

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use tributary_avro::registry::{
    CompatibilityLevel, EmbeddedRegistry, RegistryAuth, RegistryClient, RegistryError,
};
use tributary_core::Retry as _;

use common::*;

#[tokio::test]
async fn restart_from_the_same_directory_keeps_ids_and_versions() {
    let dir = tempfile::tempdir().unwrap();
    let registry = start(dir.path()).await;
    let c = client(&registry);
    assert_eq!(c.register("a-value", &v1()).await.unwrap(), 1);
    assert_eq!(c.register("a-value", &v2()).await.unwrap(), 2);
    c.set_compatibility("a-value", CompatibilityLevel::Full)
        .await
        .unwrap();
    registry.shutdown().await.unwrap();

    let registry = start(dir.path()).await;
    let c = client(&registry);
    assert_eq!(&*c.schema_by_id(1).await.unwrap(), v1());
    let latest = c.latest("a-value").await.unwrap();
    assert_eq!((latest.id, latest.version), (2, 2));
    assert_eq!(c.register("a-value", &v2()).await.unwrap(), 2);
    let base = registry.url();
    assert_eq!(
        get(&base, "/config/a-value").await,
        (200, json!({"compatibilityLevel": "FULL"}))
    );
    let v3 = value_schema(r#",{"name":"n","type":"long","default":0}"#);
    assert_eq!(c.register("b-value", &v3).await.unwrap(), 3);
    // Lists page the way Confluent's do (Python's client always sends offset and limit).
    assert_eq!(
        get(&base, "/subjects?offset=0&limit=-1").await,
        (200, json!(["a-value", "b-value"]))
    );
    assert_eq!(
        get(&base, "/subjects?offset=1&limit=1").await,
        (200, json!(["b-value"]))
    );
    registry.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_of_one_schema_make_one_request() {
    let dir = tempfile::tempdir().unwrap();
    let registry = start(dir.path()).await;
    let c = client(&registry);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.register("s", &v1()).await.unwrap() })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 1);
    }
    assert_eq!(c.requests_sent(), 1);
    registry.shutdown().await.unwrap();
}

#[tokio::test]
async fn client_errors_say_whether_to_retry() {
    // Nothing listens: transient.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = RegistryClient::new(&format!("http://127.0.0.1:{port}"), RegistryAuth::None).unwrap();
    let err = c.register("s", &v1()).await.unwrap_err();
    assert!(matches!(err, RegistryError::Unreachable { .. }), "{err:?}");
    assert!(err.is_transient());

    // A stand-in registry answering with fixed statuses.
    use axum::http::StatusCode;
    use axum::routing::{get, post};
    let app = axum::Router::new()
        .route(
            "/auth/subjects/{s}/versions",
            post(|| async {
                (
                    StatusCode::UNAUTHORIZED,
                    r#"{"error_code":401,"message":"Unauthorized"}"#,
                )
            }),
        )
        .route(
            "/down/subjects/{s}/versions",
            post(|| async {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "<html>upstream down</html>",
                )
            }),
        )
        .route(
            "/html/schemas/ids/{id}",
            get(|| async { (StatusCode::OK, "<html>hello</html>") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let auth = RegistryAuth::Basic {
        user: "u".into(),
        password: tributary_core::Secret::new("wrong"),
    };
    let c = RegistryClient::new(&format!("http://{addr}/auth"), auth).unwrap();
    let err = c.register("s", &v1()).await.unwrap_err();
    assert!(
        matches!(err, RegistryError::Unauthorized { status: 401, .. }),
        "{err:?}"
    );
    assert!(!err.is_transient());
    assert!(
        err.to_string().contains("schema_registry.basic_auth"),
        "{err}"
    );

    let c = RegistryClient::new(&format!("http://{addr}/down"), RegistryAuth::None).unwrap();
    let err = c.register("s", &v1()).await.unwrap_err();
    assert!(
        matches!(err, RegistryError::Unavailable { status: 503, .. }),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert!(err.to_string().contains("upstream down"), "{err}");

    let c = RegistryClient::new(&format!("http://{addr}/html"), RegistryAuth::None).unwrap();
    let err = c.schema_by_id(1).await.unwrap_err();
    assert!(matches!(err, RegistryError::BadResponse { .. }), "{err:?}");
    assert!(!err.is_transient());

    // A wrong path prefix: a 404 without Confluent's error code.
    let c = RegistryClient::new(&format!("http://{addr}/wrong"), RegistryAuth::None).unwrap();
    let err = c.register("s", &v1()).await.unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::Rejected {
                status: 404,
                error_code: None,
                ..
            }
        ),
        "{err:?}"
    );
    server.abort();
}

const CHILD_DIR_ENV: &str = "TRIBUTARY_TEST_REGISTRY_CHILD_DIR";

/// Not a test on its own: the body of the child process that
/// `registrations_acknowledged_before_kill_9_survive` starts and kills.
#[test]
fn crash_child_serves_a_registry_until_killed() {
    let Some(dir) = std::env::var_os(CHILD_DIR_ENV) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let registry = EmbeddedRegistry::open(std::path::Path::new(&dir)).unwrap();
        let listener = EmbeddedRegistry::bind("127.0.0.1:0").await.unwrap();
        println!("LISTENING {}", listener.local_addr().unwrap());
        registry
            .serve(listener, std::future::pending())
            .await
            .unwrap();
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_acknowledged_before_kill_9_survive() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "crash_child_serves_a_registry_until_killed",
            "--exact",
            "--nocapture",
        ])
        .env(CHILD_DIR_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let addr = tokio::task::spawn_blocking(move || {
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(addr) = line.strip_prefix("LISTENING ") {
                return addr.to_owned();
            }
        }
        panic!("the child registry never said where it listens");
    })
    .await
    .unwrap();

    // Register in several tasks; kill -9 while they are still going.
    let c = RegistryClient::new(&format!("http://{addr}"), RegistryAuth::None).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (c, tx) = (c.clone(), tx.clone());
            tokio::spawn(async move {
                for i in 0.. {
                    let subject = format!("t{w}-{i}-value");
                    let schema = value_schema(&format!(
                        r#",{{"name":"f{w}_{i}","type":"long","default":0}}"#
                    ));
                    match c.register(&subject, &schema).await {
                        Ok(id) => {
                            if tx.send((subject, schema, id)).is_err() {
                                return;
                            }
                        }
                        Err(_) => return, // the registry died under us
                    }
                }
            })
        })
        .collect();
    drop(tx);
    let mut acked = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while acked.len() < 40 && Instant::now() < deadline {
        if let Ok(Some(a)) = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await {
            acked.push(a);
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for w in writers {
        let _ = w.await;
    }
    while let Ok(a) = rx.try_recv() {
        acked.push(a);
    }
    assert!(
        acked.len() >= 40,
        "only {} registrations before the deadline",
        acked.len()
    );

    let registry = start(dir.path()).await;
    let fresh = client(&registry);
    for (subject, schema, id) in &acked {
        assert_eq!(
            &*fresh.schema_by_id(*id).await.unwrap(),
            schema.as_str(),
            "id {id}"
        );
        assert_eq!(fresh.latest(subject).await.unwrap().id, *id, "{subject}");
    }
    // New ids continue above every acknowledged one.
    let max = acked.iter().map(|a| a.2).max().unwrap();
    let next = fresh
        .register(
            "after-crash-value",
            &value_schema(r#",{"name":"z","type":"int","default":0}"#),
        )
        .await
        .unwrap();
    assert!(next > max, "{next} <= {max}");
    registry.shutdown().await.unwrap();
}
