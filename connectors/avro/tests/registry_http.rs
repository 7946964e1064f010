//! The embedded schema registry over real HTTP: driven by our client, by raw requests for
//! Confluent's exact error shapes, across a restart, and across a `kill -9`.

mod common;

use serde_json::{Value, json};
use tributary_avro::registry::{CompatibilityLevel, EmbeddedRegistry, RegistryError};
use tributary_core::Retry as _;

use common::*;

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
