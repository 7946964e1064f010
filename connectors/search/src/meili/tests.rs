//! The Meilisearch sink against a recording server that answers like Meilisearch (tasks
//! going enqueued → processing → succeeded or failed), and, when
//! `TRIBUTARY_TEST_MEILISEARCH_URL` is set, against that real server.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::json;
use tributary_core::RowKey;

use super::*;
use crate::testing::{
    RecordingServer, Reply, Request, delete, doc, pos, reply, table, truncate, upsert, upsert_doc,
    with_unchanged,
};

fn config(url: &str, extra: Json) -> SearchSinkConfig {
    let mut props = json!({"search.backend": "meilisearch", "connection.url": url});
    props
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    SearchSinkConfig::parse("job", props.as_object().unwrap(), &[]).unwrap()
}

/// A fake Meilisearch: each enqueue gets the next task uid; polling a task walks it through
/// `states` (the last one sticks).
fn meili(states: Vec<Json>) -> impl Fn(&Request) -> Reply + Send + Sync + 'static {
    let next_uid = Mutex::new(0u64);
    let polls: Mutex<HashMap<u64, usize>> = Mutex::new(HashMap::new());
    move |r: &Request| {
        if let Some(uid) = r.target.strip_prefix("/tasks/") {
            let uid: u64 = uid.parse().unwrap();
            let mut polls = polls.lock().unwrap();
            let n = polls.entry(uid).or_insert(0);
            let mut state = states[(*n).min(states.len() - 1)].clone();
            *n += 1;
            state["uid"] = json!(uid);
            return reply(200, state);
        }
        let mut next = next_uid.lock().unwrap();
        *next += 1;
        reply(
            202,
            json!({"taskUid": *next, "indexUid": "x", "status": "enqueued", "type": "documentAdditionOrUpdate"}),
        )
    }
}

fn status(s: &str) -> Json {
    json!({"status": s})
}

#[test]
fn ids_outside_meilisearchs_alphabet_are_encoded_one_to_one() {
    assert_eq!(meili_id("42"), "42");
    assert_eq!(meili_id("a-b_C"), "a-b_C");
    assert_eq!(meili_id("x:7"), "b64_eDo3");
    assert_eq!(meili_id("a@b.c"), "b64_YUBiLmM");
    assert_eq!(
        meili_id("b64_eDo3"),
        "b64_YjY0X2VEbzM",
        "the prefix itself is encoded"
    );
    assert_eq!(meili_id(""), "b64_");
}

#[tokio::test]
async fn changes_become_tasks_awaited_before_write_returns() {
    let states = vec![
        status("enqueued"),
        status("processing"),
        status("succeeded"),
    ];
    let server = RecordingServer::start(meili(states)).await;
    let mut sink =
        MeilisearchSink::new(&config(&server.url, json!({"api.key": "masterKey"}))).unwrap();
    let t = table("public", "items");
    let composite = RowKey(vec![("a".into(), json!("x")), ("b".into(), json!(7))]);
    let batch = [
        upsert(&t, 1, "old", pos(10, 10)),
        upsert_doc(&t, composite, doc(json!({"a": "x", "b": 7})), pos(11, 11)),
        upsert(&t, 1, "new", pos(12, 12)),
        delete(&t, 2, pos(13, 13)),
        delete(&t, 3, pos(14, 14)),
    ];
    sink.write(&batch, &[]).await.unwrap();

    let requests = server.requests();
    let shape: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.target.as_str()))
        .collect();
    assert_eq!(
        shape,
        [
            ("POST", "/indexes/public_items/documents?primaryKey=_id"),
            ("POST", "/indexes/public_items/documents/delete-batch"),
            ("GET", "/tasks/1"),
            ("GET", "/tasks/1"),
            ("GET", "/tasks/1"),
            ("GET", "/tasks/2"),
            ("GET", "/tasks/2"),
            ("GET", "/tasks/2"),
        ]
    );
    for r in &requests {
        assert_eq!(r.header("authorization"), Some("Bearer masterKey"));
    }
    assert_eq!(requests[0].header("content-type"), Some("application/json"));
    assert_eq!(
        requests[0].json(),
        json!([
            {"id": 1, "title": "new", "price": 9.5, "in_stock": true, "tags": ["a"],
             "_id": "1", "__pos": pos(12, 12).to_hex()},
            {"a": "x", "b": 7, "_id": "b64_eDo3", "__id": "x:7", "__pos": pos(11, 11).to_hex()},
        ])
    );
    assert_eq!(requests[1].json(), json!(["2", "3"]));
    assert_eq!(sink.stored_offsets(), None);
}

/// Upserts with unchanged TOASTed columns are partial updates (`PUT`), which keep the
/// stored fields they lack; two of one row in a payload merge.
#[tokio::test]
async fn unchanged_columns_go_as_partial_updates() {
    let server = RecordingServer::start(meili(vec![status("succeeded")])).await;
    let mut sink = MeilisearchSink::new(&config(&server.url, json!({}))).unwrap();
    let t = table("public", "items");
    let batch = [
        upsert(&t, 1, "full", pos(10, 10)),
        with_unchanged(upsert(&t, 1, "partial", pos(11, 11)), &["tags"]),
        with_unchanged(upsert(&t, 1, "again", pos(12, 12)), &["tags", "price"]),
    ];
    sink.write(&batch, &[]).await.unwrap();
    let requests = server.requests();
    let shape: Vec<(&str, &str)> = requests
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| (r.method.as_str(), r.target.as_str()))
        .collect();
    assert_eq!(
        shape,
        [
            ("POST", "/indexes/public_items/documents?primaryKey=_id"),
            ("PUT", "/indexes/public_items/documents?primaryKey=_id"),
        ]
    );
    let partial = requests.iter().find(|r| r.method == "PUT").unwrap();
    assert_eq!(
        partial.json(),
        json!([{"id": 1, "title": "again", "price": 9.5, "in_stock": true,
                "_id": "1", "__pos": pos(12, 12).to_hex()}])
    );
}

#[tokio::test]
async fn a_truncate_clears_the_index_in_order() {
    let server = RecordingServer::start(meili(vec![status("succeeded")])).await;
    let mut sink =
        MeilisearchSink::new(&config(&server.url, json!({"index.name": "cdc_{table}"}))).unwrap();
    let t = table("public", "order-lines");
    sink.write(
        &[
            upsert(&t, 1, "a", pos(1, 1)),
            truncate(&t, pos(2, 2)),
            upsert(&t, 2, "b", pos(3, 3)),
        ],
        &[],
    )
    .await
    .unwrap();
    let shape: Vec<(String, String)> = server
        .requests()
        .iter()
        .map(|r| (r.method.clone(), r.target.clone()))
        .collect();
    let docs = "/indexes/cdc_order-lines/documents";
    assert_eq!(
        shape[..3],
        [
            ("POST".into(), format!("{docs}?primaryKey=_id")),
            ("DELETE".into(), docs.to_string()),
            ("POST".into(), format!("{docs}?primaryKey=_id")),
        ]
    );
    assert!(server.requests()[0].header("authorization").is_none());
}

#[tokio::test]
async fn a_failed_task_is_definite_with_meilisearchs_message() {
    let failed = json!({"status": "failed", "error": {
        "message": "Document identifier `…` is invalid.",
        "code": "invalid_document_id", "type": "invalid_request"}});
    let server = RecordingServer::start(meili(vec![status("processing"), failed])).await;
    let mut sink = MeilisearchSink::new(&config(&server.url, json!({}))).unwrap();
    let err = sink
        .write(&[upsert(&table("public", "items"), 1, "a", pos(1, 1))], &[])
        .await
        .unwrap_err();
    assert!(matches!(err, SinkError::Definite(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("invalid_document_id: Document identifier"),
        "{err}"
    );

    let internal = json!({"status": "failed", "error": {"message": "disk", "code": "internal", "type": "internal"}});
    let server = RecordingServer::start(meili(vec![internal])).await;
    let mut sink = MeilisearchSink::new(&config(&server.url, json!({}))).unwrap();
    let err = sink
        .write(&[upsert(&table("public", "items"), 1, "a", pos(1, 1))], &[])
        .await
        .unwrap_err();
    assert!(matches!(err, SinkError::Transient(_)), "{err:?}");

    // Deleting from an index that does not exist yet is done.
    let missing = json!({"status": "failed", "error": {"message": "Index `x` not found.", "code": "index_not_found", "type": "invalid_request"}});
    let server = RecordingServer::start(meili(vec![missing])).await;
    let mut sink = MeilisearchSink::new(&config(&server.url, json!({}))).unwrap();
    let t = table("public", "items");
    sink.write(&[delete(&t, 1, pos(1, 1)), truncate(&t, pos(2, 2))], &[])
        .await
        .unwrap();
}

#[tokio::test]
async fn a_task_still_running_at_the_timeout_is_transient() {
    let server = RecordingServer::start(meili(vec![status("processing")])).await;
    let mut sink =
        MeilisearchSink::new(&config(&server.url, json!({"request.timeout.ms": 150}))).unwrap();
    let started = std::time::Instant::now();
    let err = sink
        .write(&[upsert(&table("public", "items"), 1, "a", pos(1, 1))], &[])
        .await
        .unwrap_err();
    assert!(matches!(err, SinkError::Transient(_)), "{err:?}");
    assert!(
        err.to_string().contains("did not finish within 150 ms"),
        "{err}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[tokio::test]
async fn check_asks_for_health_then_the_key() {
    let server = RecordingServer::start(|r| match r.target.as_str() {
        "/health" => reply(200, json!({"status": "available"})),
        _ => reply(
            403,
            json!({"message": "The provided API key is invalid.", "code": "invalid_api_key"}),
        ),
    })
    .await;
    let errors = crate::check(&config(&server.url, json!({"api.key": "nope"})))
        .await
        .unwrap_err();
    assert_eq!(errors.0[0].field, "api.key");
    assert!(
        errors.0[0].message.contains("invalid"),
        "{}",
        errors.0[0].message
    );
    let targets: Vec<String> = server.requests().iter().map(|r| r.target.clone()).collect();
    assert_eq!(targets, ["/health", "/indexes?limit=1"]);
}

/// Writes through a real Meilisearch at `TRIBUTARY_TEST_MEILISEARCH_URL` (master key in
/// `TRIBUTARY_TEST_MEILISEARCH_KEY`, if any) and reads the documents back. No Meilisearch
/// runs here, so it is ignored (and reported as skipped): run it with
/// `cargo nextest run --run-ignored all -E 'test(a_real_server_holds)'`.
#[tokio::test]
#[ignore = "needs a Meilisearch at TRIBUTARY_TEST_MEILISEARCH_URL"]
async fn a_real_server_holds_the_documents_after_write_returns() {
    let url = std::env::var("TRIBUTARY_TEST_MEILISEARCH_URL")
        .expect("set TRIBUTARY_TEST_MEILISEARCH_URL to a Meilisearch to run this test");
    let key = std::env::var("TRIBUTARY_TEST_MEILISEARCH_KEY").unwrap_or_default();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let uid = format!("tributary_test_{nanos}_items");
    let mut extra = json!({"index.name": format!("tributary_test_{nanos}_{{table}}")});
    if !key.is_empty() {
        extra["api.key"] = json!(key);
    }
    let mut sink = MeilisearchSink::new(&config(&url, extra)).unwrap();
    let t = table("public", "items");
    let composite = RowKey(vec![("a".into(), json!("x")), ("b".into(), json!(7))]);
    sink.write(
        &[
            upsert(&t, 1, "apple", pos(1, 1)),
            upsert(&t, 2, "pear", pos(2, 2)),
            upsert_doc(&t, composite, doc(json!({"a": "x", "b": 7})), pos(3, 3)),
            delete(&t, 2, pos(4, 4)),
        ],
        &[],
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let get = |id: &str| {
        let mut request = http.get(format!("{url}/indexes/{uid}/documents/{id}"));
        if !key.is_empty() {
            request = request.bearer_auth(&key);
        }
        async move { request.send().await.unwrap() }
    };
    let one: Json = get("1").await.json().await.unwrap();
    assert_eq!(one["title"], json!("apple"), "{one}");
    assert_eq!(get("2").await.status().as_u16(), 404);
    let composite: Json = get("b64_eDo3").await.json().await.unwrap();
    assert_eq!(composite["__id"], json!("x:7"), "{composite}");
    sink.write(&[truncate(&t, pos(5, 5))], &[]).await.unwrap();
    assert_eq!(get("1").await.status().as_u16(), 404);
    let mut cleanup = http.delete(format!("{url}/indexes/{uid}"));
    if !key.is_empty() {
        cleanup = cleanup.bearer_auth(&key);
    }
    let _ = cleanup.send().await;
}
