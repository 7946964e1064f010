//! The embedded schema registry over real HTTP: driven by our client, by raw requests for
//! Confluent's exact error shapes, across a restart, and across a `kill -9`.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tributary_avro::registry::{
    CompatibilityLevel, EmbeddedRegistry, RegistryAuth, RegistryClient, RegistryError,
    RegistryHandle,
};
use tributary_core::Retry as _;

const CT: &str = "application/vnd.schemaregistry.v1+json";

fn value_schema(extra_fields: &str) -> String {
    format!(
        r#"{{"type":"record","name":"Value","namespace":"cdc.public.orders","fields":[{{"name":"id","type":"int"}}{extra_fields}]}}"#
    )
}

fn v1() -> String {
    value_schema("")
}

fn v2() -> String {
    value_schema(r#",{"name":"note","type":["null","string"],"default":null}"#)
}

fn breaking() -> String {
    value_schema(r#",{"name":"required","type":"string"}"#)
}

async fn start(dir: &std::path::Path) -> RegistryHandle {
    EmbeddedRegistry::open(dir)
        .unwrap()
        .start("127.0.0.1:0")
        .await
        .unwrap()
}

fn client(handle: &RegistryHandle) -> RegistryClient {
    RegistryClient::new(&handle.url(), RegistryAuth::None).unwrap()
}

/// A plain HTTP client for raw requests (reqwest is built without a bundled provider).
fn raw() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// Sends a request and returns the status, the content type and the JSON body.
async fn call(method: reqwest::Method, url: String, body: Option<Value>) -> (u16, String, Value) {
    let mut req = raw().request(method, url);
    if let Some(body) = body {
        req = req
            .header("Content-Type", CT)
            .body(serde_json::to_vec(&body).unwrap());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = resp.bytes().await.unwrap();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
    (status, ct, value)
}

async fn get(base: &str, path: &str) -> (u16, Value) {
    let (s, _, v) = call(reqwest::Method::GET, format!("{base}{path}"), None).await;
    (s, v)
}

async fn post(base: &str, path: &str, body: Value) -> (u16, Value) {
    let (s, _, v) = call(reqwest::Method::POST, format!("{base}{path}"), Some(body)).await;
    (s, v)
}

async fn put(base: &str, path: &str, body: Value) -> (u16, Value) {
    let (s, _, v) = call(reqwest::Method::PUT, format!("{base}{path}"), Some(body)).await;
    (s, v)
}

async fn delete(base: &str, path: &str) -> (u16, Value) {
    let (s, _, v) = call(reqwest::Method::DELETE, format!("{base}{path}"), None).await;
    (s, v)
}

#[tokio::test]
async fn register_lookup_evolve_and_refuse_an_incompatible_change() {
    let dir = tempfile::tempdir().unwrap();
    let registry = start(dir.path()).await;
    let c = client(&registry);
    let subject = "cdc.public.orders-value";

    let id1 = c.register(subject, &v1()).await.unwrap();
    assert_eq!(id1, 1);
    let sent = c.requests_sent();
    assert_eq!(c.register(subject, &v1()).await.unwrap(), id1);
    assert_eq!(c.requests_sent(), sent, "a known schema costs no HTTP call");
    assert_eq!(&*c.schema_by_id(id1).await.unwrap(), v1());

    let found = c.lookup(subject, &v1()).await.unwrap().unwrap();
    assert_eq!((found.id, found.version), (id1, 1));
    assert!(c.lookup(subject, &v2()).await.unwrap().is_none());
    assert!(c.lookup("no-such-subject", &v1()).await.unwrap().is_none());

    // A compatible evolution: an optional field with a null default.
    let id2 = c.register(subject, &v2()).await.unwrap();
    assert_eq!(id2, 2);
    let latest = c.latest(subject).await.unwrap();
    assert_eq!(
        (latest.id, latest.version, latest.schema.as_str()),
        (2, 2, v2().as_str())
    );

    // An incompatible one: a required field without a default.
    let err = c.register(subject, &breaking()).await.unwrap_err();
    assert!(matches!(err, RegistryError::Incompatible { .. }), "{err:?}");
    assert!(!err.is_transient());
    let text = err.to_string();
    assert!(text.contains(subject), "{text}");
    assert!(
        text.contains("READER_FIELD_MISSING_DEFAULT_VALUE"),
        "{text}"
    );
    assert!(text.contains(&format!("PUT /config/{subject}")), "{text}");

    // The way out the message suggests.
    c.set_compatibility(subject, CompatibilityLevel::None)
        .await
        .unwrap();
    assert_eq!(c.register(subject, &breaking()).await.unwrap(), 3);
    assert_eq!(c.latest(subject).await.unwrap().version, 3);

    // The same schema under another subject reuses the global id.
    assert_eq!(c.register("other-value", &v2()).await.unwrap(), id2);

    let err = c.latest("nope").await.unwrap_err();
    assert!(
        matches!(err, RegistryError::SubjectNotFound { .. }),
        "{err:?}"
    );
    let err = c.schema_by_id(99).await.unwrap_err();
    assert!(
        matches!(err, RegistryError::SchemaIdNotFound { id: 99, .. }),
        "{err:?}"
    );

    registry.shutdown().await.unwrap();
}

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

#[tokio::test]
async fn answers_and_errors_have_confluents_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let registry = start(dir.path()).await;
    let base = registry.url();
    let s = "orders-value";

    let (status, ct, body) = call(
        reqwest::Method::POST,
        format!("{base}/subjects/{s}/versions"),
        Some(json!({"schema": v1(), "schemaType": "AVRO", "references": []})),
    )
    .await;
    assert_eq!((status, ct.as_str(), body), (200, CT, json!({"id": 1})));
    // Plain JSON and no content type at all are accepted too.
    let resp = raw()
        .post(format!("{base}/subjects/{s}/versions"))
        .header("Content-Type", "application/json")
        .body(json!({"schema": v1()}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = raw()
        .post(format!("{base}/subjects/{s}/versions"))
        .body(json!({"schema": v1()}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    assert_eq!(get(&base, "/").await, (200, json!({})));
    assert_eq!(get(&base, "/subjects").await, (200, json!([s])));
    assert_eq!(
        get(&base, &format!("/subjects/{s}/versions")).await,
        (200, json!([1]))
    );
    let expected = json!({"subject": s, "id": 1, "version": 1, "schema": v1()});
    for v in ["1", "latest", "-1"] {
        assert_eq!(
            get(&base, &format!("/subjects/{s}/versions/{v}")).await,
            (200, expected.clone())
        );
    }
    let raw_schema = raw()
        .get(format!("{base}/subjects/{s}/versions/1/schema"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(raw_schema, v1());
    assert_eq!(
        get(
            &base,
            "/schemas/ids/1?subject=orders-value&fetchMaxId=false"
        )
        .await,
        (200, json!({"schema": v1()}))
    );
    assert_eq!(
        get(&base, "/schemas/ids/1/versions").await,
        (200, json!([{"subject": s, "version": 1}]))
    );
    assert_eq!(get(&base, "/schemas/types").await, (200, json!(["AVRO"])));
    assert_eq!(
        get(&base, "/mode").await,
        (200, json!({"mode": "READWRITE"}))
    );
    assert_eq!(
        post(
            &base,
            &format!("/subjects/{s}?normalize=False&deleted=False"),
            json!({"schema": v1()})
        )
        .await,
        (200, expected.clone())
    );

    // Errors.
    assert_eq!(
        get(&base, "/subjects/nope/versions").await,
        (
            404,
            json!({"error_code": 40401, "message": "Subject 'nope' not found."})
        )
    );
    assert_eq!(
        get(&base, &format!("/subjects/{s}/versions/9")).await,
        (
            404,
            json!({"error_code": 40402, "message": "Version 9 not found."})
        )
    );
    let (status, body) = get(&base, &format!("/subjects/{s}/versions/0")).await;
    assert_eq!((status, body["error_code"].as_i64()), (422, Some(42202)));
    let (status, body) = post(&base, &format!("/subjects/{s}"), json!({"schema": v2()})).await;
    assert_eq!(
        (status, body),
        (
            404,
            json!({"error_code": 40403, "message": "Schema not found"})
        )
    );
    assert_eq!(
        get(&base, "/schemas/ids/99").await,
        (
            404,
            json!({"error_code": 40403, "message": "Schema 99 not found"})
        )
    );
    let (status, body) = post(
        &base,
        &format!("/subjects/{s}/versions"),
        json!({"schema": r#"{"type":"record","name":"X","fields":[{"name":"a","type":"integer"}]}"#}),
    )
    .await;
    assert_eq!((status, body["error_code"].as_i64()), (422, Some(42201)));
    assert!(
        body["message"].as_str().unwrap().contains("integer"),
        "{body}"
    );
    let (status, body) = post(
        &base,
        &format!("/subjects/{s}/versions"),
        json!({"schema": "{not json"}),
    )
    .await;
    assert_eq!(
        (status, body["error_code"].as_i64()),
        (422, Some(42201)),
        "{body}"
    );
    let (status, body) = put(&base, "/config", json!({"compatibility": "SOMETIMES"})).await;
    assert_eq!((status, body["error_code"].as_i64()), (422, Some(42203)));
    assert_eq!(
        get(&base, &format!("/config/{s}")).await,
        (
            404,
            json!({"error_code": 40408, "message": format!("Subject '{s}' does not have subject-level compatibility configured")})
        )
    );
    assert_eq!(
        get(&base, "/nothing/here").await,
        (
            404,
            json!({"error_code": 404, "message": "HTTP 404 Not Found"})
        )
    );
    let (status, body) = call(reqwest::Method::PATCH, format!("{base}/subjects"), None)
        .await
        .into_status_body();
    assert_eq!((status, body["error_code"].as_i64()), (405, Some(405)));

    // The 409 of an incompatible registration.
    let (status, body) = post(
        &base,
        &format!("/subjects/{s}/versions"),
        json!({"schema": breaking()}),
    )
    .await;
    assert_eq!((status, body["error_code"].as_i64()), (409, Some(409)));
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "Schema being registered is incompatible with an earlier schema for subject \"{s}\", details: [{{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE'"
        )),
        "{message}"
    );
    assert!(message.contains("{oldSchemaVersion: 1}"), "{message}");
    assert!(
        message.ends_with("{compatibility: 'BACKWARD'}]"),
        "{message}"
    );

    // Compatibility checks, plain and verbose.
    assert_eq!(
        post(
            &base,
            &format!("/compatibility/subjects/{s}/versions/latest"),
            json!({"schema": v2()})
        )
        .await,
        (200, json!({"is_compatible": true}))
    );
    let (status, body) = post(
        &base,
        &format!("/compatibility/subjects/{s}/versions/1?verbose=true"),
        json!({"schema": breaking()}),
    )
    .await;
    assert_eq!((status, &body["is_compatible"]), (200, &json!(false)));
    assert!(
        body["messages"][0].as_str().unwrap().contains("'required'"),
        "{body}"
    );

    // Config: global default, PUT with either key, subject level, defaultToGlobal.
    assert_eq!(
        get(&base, "/config").await,
        (200, json!({"compatibilityLevel": "BACKWARD"}))
    );
    assert_eq!(
        put(&base, "/config", json!({"compatibility": "full"})).await,
        (200, json!({"compatibility": "FULL"}))
    );
    assert_eq!(
        get(&base, &format!("/config/{s}?defaultToGlobal=true")).await,
        (200, json!({"compatibilityLevel": "FULL"}))
    );
    assert_eq!(
        put(
            &base,
            &format!("/config/{s}"),
            json!({"compatibilityLevel": "NONE"})
        )
        .await,
        (200, json!({"compatibility": "NONE"}))
    );
    assert_eq!(
        get(&base, &format!("/config/{s}")).await,
        (200, json!({"compatibilityLevel": "NONE"}))
    );
    assert_eq!(
        delete(&base, &format!("/config/{s}")).await,
        (200, json!({"compatibilityLevel": "NONE"}))
    );
    assert_eq!(
        delete(&base, "/config").await,
        (200, json!({"compatibilityLevel": "FULL"}))
    );
    assert_eq!(
        get(&base, "/config").await,
        (200, json!({"compatibilityLevel": "BACKWARD"}))
    );

    registry.shutdown().await.unwrap();
}

trait StatusBody {
    fn into_status_body(self) -> (u16, Value);
}

impl StatusBody for (u16, String, Value) {
    fn into_status_body(self) -> (u16, Value) {
        (self.0, self.2)
    }
}

#[tokio::test]
async fn deletes_are_soft_first_then_permanent() {
    let dir = tempfile::tempdir().unwrap();
    let registry = start(dir.path()).await;
    let base = registry.url();
    let c = client(&registry);
    c.register("s", &v1()).await.unwrap();
    c.register("s", &v2()).await.unwrap();

    assert_eq!(
        delete(&base, "/subjects/s/versions/2").await,
        (200, json!(2))
    );
    assert_eq!(get(&base, "/subjects/s/versions").await, (200, json!([1])));
    assert_eq!(
        get(&base, "/subjects/s/versions?deleted=True").await,
        (200, json!([1, 2]))
    );
    let (status, body) = delete(&base, "/subjects/s?permanent=true").await;
    assert_eq!((status, body["error_code"].as_i64()), (404, Some(40405)));

    assert_eq!(delete(&base, "/subjects/s").await, (200, json!([1])));
    assert_eq!(get(&base, "/subjects").await, (200, json!([])));
    assert_eq!(
        get(&base, "/subjects?deleted=true").await,
        (200, json!(["s"]))
    );
    let (status, body) = delete(&base, "/subjects/s").await;
    assert_eq!((status, body["error_code"].as_i64()), (404, Some(40404)));

    assert_eq!(
        delete(&base, "/subjects/s?permanent=true").await,
        (200, json!([1, 2]))
    );
    assert_eq!(get(&base, "/subjects?deleted=true").await, (200, json!([])));
    let (status, body) = get(&base, "/schemas/ids/1").await;
    assert_eq!((status, body["error_code"].as_i64()), (404, Some(40403)));

    // Numbers are not reused: the same schema comes back with a new id and version.
    assert_eq!(
        c.register("s", &v1()).await.unwrap(),
        1,
        "client cache still knows it"
    );
    let fresh = client(&registry);
    assert_eq!(fresh.register("s", &v1()).await.unwrap(), 3);
    assert_eq!(fresh.latest("s").await.unwrap().version, 3);
    registry.shutdown().await.unwrap();
}

#[tokio::test]
async fn subjects_with_slashes_and_spaces_survive_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let registry = start(dir.path()).await;
    let c = client(&registry);
    let subject = "team a/orders?v=1#x-value";
    let id = c.register(subject, &v1()).await.unwrap();
    assert_eq!(c.latest(subject).await.unwrap().subject, subject);
    assert_eq!(
        get(&registry.url(), "/subjects").await,
        (200, json!([subject]))
    );
    assert_eq!(c.lookup(subject, &v1()).await.unwrap().unwrap().id, id);
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
async fn a_taken_port_names_the_address_and_the_setting() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let err = EmbeddedRegistry::open(dir.path())
        .unwrap()
        .start(&addr)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains(&addr), "{err}");
    assert!(err.contains("schema_registry.listen"), "{err}");
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
