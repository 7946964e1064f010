//! The Elasticsearch sink against a recording server that answers like Elasticsearch, and,
//! when `TRIBUTARY_TEST_ELASTICSEARCH_URL` is set, against that real server.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;
use tributary_core::{Lsn, Position, RowKey};

use super::*;
use crate::testing::opensearch::OpenSearch;
use crate::testing::{
    RecordingServer, delete, doc, pos, reply, table, truncate, upsert, upsert_doc, with_unchanged,
};

fn config(url: &str, extra: Json) -> SearchSinkConfig {
    let mut props = json!({"search.backend": "elasticsearch", "connection.url": url});
    props
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    SearchSinkConfig::parse("job", props.as_object().unwrap(), &[]).unwrap()
}

fn ok_items(n: usize) -> Json {
    let items: Vec<Json> = (0..n).map(|_| json!({"index": {"status": 201}})).collect();
    json!({"took": 1, "errors": false, "items": items})
}

#[tokio::test]
async fn bulk_requests_carry_external_versions_as_ndjson() {
    let server = RecordingServer::start(|_| reply(200, ok_items(3))).await;
    let config = config(
        &format!("{}/es", server.url),
        json!({"connection.username": "elastic", "connection.password": "hunter2"}),
    );
    let mut sink = ElasticsearchSink::new(&config).unwrap();
    let items = table("Public", "Items");
    let change = Position::new(Lsn(0x1_0000_0000), Lsn(0x1_0000_0010));
    let composite = RowKey(vec![("a".into(), json!("x")), ("b".into(), json!(7))]);
    let batch = [
        upsert(&items, 1, "red apple", change),
        delete(&items, 2, pos(0x1_0000_0020, 0x1_0000_0018)),
        upsert_doc(
            &items,
            composite,
            doc(json!({"a": "x", "b": 7})),
            pos(0x1_0000_0020, 0x1_0000_0019),
        ),
    ];
    sink.write(&batch, &[]).await.unwrap();

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(
        (r.method.as_str(), r.target.as_str()),
        ("POST", "/es/_bulk")
    );
    assert_eq!(r.header("content-type"), Some("application/x-ndjson"));
    // base64("elastic:hunter2")
    assert_eq!(
        r.header("authorization"),
        Some("Basic ZWxhc3RpYzpodW50ZXIy")
    );
    assert!(r.text().ends_with('\n'), "NDJSON ends with a newline");
    assert_eq!(
        r.lines(),
        [
            json!({"index": {"_index": "public.items", "_id": "1", "version": 0x1_0000_0010u64, "version_type": "external"}}),
            json!({"id": 1, "title": "red apple", "price": 9.5, "in_stock": true, "tags": ["a"]}),
            json!({"delete": {"_index": "public.items", "_id": "2", "version": 0x1_0000_0018u64, "version_type": "external"}}),
            json!({"index": {"_index": "public.items", "_id": "x:7", "version": 0x1_0000_0019u64, "version_type": "external"}}),
            json!({"a": "x", "b": 7}),
        ]
    );
    assert_eq!(sink.stored_offsets(), None);
}

#[tokio::test]
async fn a_version_conflict_is_success_and_a_mapping_error_names_index_id_and_reason() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let server = RecordingServer::start(move |_| {
        if counter.fetch_add(1, Ordering::SeqCst) == 0 {
            reply(200, json!({"errors": true, "items": [
                {"index": {"_index": "public.items", "_id": "1", "status": 201, "result": "created"}},
                {"index": {"_index": "public.items", "_id": "2", "status": 409, "error": {
                    "type": "version_conflict_engine_exception",
                    "reason": "[2]: version conflict, current version [30] is higher or equal to the one provided [20]"}}},
                {"delete": {"_index": "public.items", "_id": "3", "status": 404, "result": "not_found"}},
            ]}))
        } else {
            reply(200, json!({"errors": true, "items": [
                {"index": {"_index": "public.items", "_id": "4", "status": 400, "error": {
                    "type": "document_parsing_exception",
                    "reason": "[1:10] failed to parse field [price] of type [float] in document with id '4'"}}},
            ]}))
        }
    })
    .await;
    let mut sink = ElasticsearchSink::new(&config(&server.url, json!({}))).unwrap();
    let t = table("public", "items");
    let batch = [
        upsert(&t, 1, "a", pos(10, 10)),
        upsert(&t, 2, "b", pos(20, 20)),
        delete(&t, 3, pos(21, 21)),
    ];
    sink.write(&batch, &[]).await.unwrap();
    let err = sink
        .write(&[upsert(&t, 4, "d", pos(30, 30))], &[])
        .await
        .unwrap_err();
    assert!(matches!(err, SinkError::Definite(_)), "{err:?}");
    let text = err.to_string();
    for part in [
        "\"public.items\"",
        "\"4\"",
        "document_parsing_exception",
        "failed to parse field [price]",
    ] {
        assert!(text.contains(part), "{part}: {text}");
    }
    assert!(server.requests()[0].header("authorization").is_none());
}

#[tokio::test]
async fn overload_and_server_errors_are_transient_and_the_retry_succeeds() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let server = RecordingServer::start(move |_| match counter.fetch_add(1, Ordering::SeqCst) {
        0 => reply(
            429,
            json!({"error": {"type": "circuit_breaking_exception"}, "status": 429}),
        ),
        1 => reply(503, json!({"error": "unavailable"})),
        2 => reply(
            200,
            json!({"errors": true, "items": [
                {"index": {"_index": "public.items", "_id": "1", "status": 429, "error": {
                    "type": "es_rejected_execution_exception", "reason": "rejected execution"}}},
            ]}),
        ),
        _ => reply(200, ok_items(1)),
    })
    .await;
    let mut sink = ElasticsearchSink::new(&config(&server.url, json!({}))).unwrap();
    let batch = [upsert(&table("public", "items"), 1, "a", pos(1, 1))];
    for expected in ["429", "503", "es_rejected_execution_exception"] {
        let err = sink.write(&batch, &[]).await.unwrap_err();
        assert!(matches!(err, SinkError::Transient(_)), "{err:?}");
        assert!(err.to_string().contains(expected), "{expected}: {err}");
    }
    sink.write(&batch, &[]).await.unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 4);
    assert!(
        requests.iter().all(|r| r.body == requests[0].body),
        "a retry sends the same bulk"
    );

    // Nothing listening: transient, naming connection.url.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let mut sink = ElasticsearchSink::new(&config(&closed, json!({}))).unwrap();
    let err = sink.write(&batch, &[]).await.unwrap_err();
    assert!(matches!(err, SinkError::Transient(_)), "{err:?}");
    assert!(err.to_string().contains("connection.url"), "{err}");
}

#[tokio::test]
async fn rejected_credentials_are_definite_and_name_the_properties() {
    let server =
        RecordingServer::start(|_| reply(401, json!({"error": "missing authentication"}))).await;
    let batch = [upsert(&table("public", "items"), 1, "a", pos(1, 1))];
    let mut sink = ElasticsearchSink::new(&config(
        &server.url,
        json!({"connection.username": "u", "connection.password": "wrong"}),
    ))
    .unwrap();
    let err = sink.write(&batch, &[]).await.unwrap_err();
    assert!(matches!(err, SinkError::Definite(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("connection.username and connection.password"),
        "{err}"
    );
    assert!(!err.to_string().contains("wrong"), "{err}");

    let config = config(&server.url, json!({"api.key": "a2V5OnNlY3JldA=="}));
    let mut sink = ElasticsearchSink::new(&config).unwrap();
    let err = sink.write(&batch, &[]).await.unwrap_err();
    assert!(err.to_string().contains("api.key"), "{err}");
    assert_eq!(
        server.requests().last().unwrap().header("authorization"),
        Some("ApiKey a2V5OnNlY3JldA==")
    );
    let errors = crate::check(&config).await.unwrap_err();
    assert_eq!(errors.0[0].field, "api.key");
}

#[tokio::test]
async fn a_truncate_refreshes_and_deletes_by_query_between_bulks() {
    let server = RecordingServer::start(|r| match r.target.as_str() {
        "/_bulk" => reply(200, ok_items(1)),
        t if t.contains("_refresh") => reply(200, json!({"_shards": {}})),
        _ => reply(404, json!({"error": {"type": "index_not_found_exception"}})),
    })
    .await;
    let mut sink =
        ElasticsearchSink::new(&config(&server.url, json!({"index.name": "cdc-{table}"}))).unwrap();
    let t = table("public", "items");
    let batch = [
        upsert(&t, 1, "a", pos(1, 1)),
        truncate(&t, pos(2, 2)),
        upsert(&t, 2, "b", pos(3, 3)),
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
            ("POST", "/_bulk"),
            ("POST", "/cdc-items/_refresh"),
            (
                "POST",
                "/cdc-items/_delete_by_query?conflicts=proceed&refresh=true"
            ),
            ("POST", "/_bulk"),
        ]
    );
    assert_eq!(requests[2].json(), json!({"query": {"match_all": {}}}));
    assert_eq!(requests[2].header("content-type"), Some("application/json"));
    assert_eq!(requests[3].lines()[0]["index"]["_id"], json!("2"));
}

#[tokio::test]
async fn check_names_the_field_to_fix() {
    let server =
        RecordingServer::start(|_| reply(200, json!({"version": {"number": "8.15.0"}}))).await;
    crate::check(&config(&server.url, json!({}))).await.unwrap();
    assert_eq!(server.requests()[0].target, "/");
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let errors = crate::check(&config(&closed, json!({}))).await.unwrap_err();
    assert_eq!(errors.0[0].field, "connection.url");
}

/// A real OpenSearch node: `TRIBUTARY_TEST_ELASTICSEARCH_URL` (e.g. an Elasticsearch of
/// your own, without security), or a node of the test's own.
fn real_server() -> (String, Option<OpenSearch>) {
    match std::env::var("TRIBUTARY_TEST_ELASTICSEARCH_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let node = OpenSearch::start();
            (node.url.clone(), Some(node))
        }
    }
}

async fn get_json(url: &str) -> Json {
    reqwest::Client::new()
        .get(url)
        .send()
        .await
        .unwrap()
        .json::<Json>()
        .await
        .unwrap()
}

/// Writes, replays and truncates through a real server, reading documents back.
#[tokio::test]
async fn a_real_server_keeps_the_newest_version() {
    let (url, _node) = real_server();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let index = format!("tributary-test-{nanos}.items");
    let mut sink = ElasticsearchSink::new(&config(
        &url,
        json!({"index.name": format!("tributary-test-{nanos}.{{table}}")}),
    ))
    .unwrap();
    let t = table("public", "items");
    sink.write(
        &[
            upsert(&t, 1, "new apple", pos(30, 30)),
            upsert(&t, 2, "pear", pos(31, 31)),
            delete(&t, 2, pos(32, 32)),
        ],
        &[],
    )
    .await
    .unwrap();
    // A replay of an older version is refused (409) and reported as success.
    sink.write(&[upsert(&t, 1, "old apple", pos(10, 10))], &[])
        .await
        .unwrap();
    let get = |id: &str| get_json_owned(format!("{url}/{index}/_doc/{id}"));
    let one = get("1").await;
    assert_eq!(one["_source"]["title"], json!("new apple"), "{one}");
    assert_eq!(one["_version"], json!(30));
    assert_eq!(get("2").await["found"], json!(false));
    sink.write(&[truncate(&t, pos(40, 40))], &[]).await.unwrap();
    let count = get_json(&format!("{url}/{index}/_count")).await;
    assert_eq!(count["count"], json!(0), "{count}");
    let _ = reqwest::Client::new()
        .delete(format!("{url}/{index}"))
        .send()
        .await;
}

async fn get_json_owned(url: String) -> Json {
    get_json(&url).await
}

/// The TOAST scenario on a real node: a title-only update keeps the stored `tags`, in a
/// batch of its own and twice in one batch; a replay of everything changes nothing; a row
/// the index never held gets no `tags` and is counted.
#[tokio::test]
async fn unchanged_columns_keep_the_stored_value_on_a_real_server() {
    let (url, _node) = real_server();
    let mut sink =
        ElasticsearchSink::new(&config(&url, json!({"index.name": "toast.{table}"}))).unwrap();
    let t = table("public", "items");
    let full = |id: i64, title: &str, p| {
        upsert_doc(
            &t,
            RowKey(vec![("id".into(), json!(id))]),
            doc(json!({"id": id, "title": title, "tags": [format!("long text of {id}")]})),
            p,
        )
    };
    let partial = |id: i64, title: &str, p| {
        with_unchanged(
            upsert_doc(
                &t,
                RowKey(vec![("id".into(), json!(id))]),
                doc(json!({"id": id, "title": title, "tags": "placeholder"})),
                p,
            ),
            &["tags"],
        )
    };
    let first = [full(1, "one", pos(10, 10)), full(2, "two", pos(10, 11))];
    let second = [partial(1, "one again", pos(20, 20))];
    let third = [
        partial(2, "two again", pos(30, 30)),
        partial(2, "two thrice", pos(30, 31)),
        partial(3, "never seen", pos(30, 32)),
    ];
    for batch in [&first[..], &second, &third] {
        sink.write(batch, &[]).await.unwrap();
    }
    let source = |id: i64| {
        let url = format!("{url}/toast.items/_doc/{id}");
        async move {
            let mut doc = get_json(&url).await["_source"].clone();
            doc.as_object_mut().unwrap().remove(VERSION_FIELD);
            doc
        }
    };
    let expected = [
        json!({"id": 1, "title": "one again", "tags": ["long text of 1"]}),
        json!({"id": 2, "title": "two thrice", "tags": ["long text of 2"]}),
        json!({"id": 3, "title": "never seen"}),
    ];
    for (id, want) in (1..=3).zip(&expected) {
        assert_eq!(&source(id).await, want, "row {id}");
    }
    assert_eq!(sink.values_left_out(), 1);
    // Replays of each batch, in order and out of order, change nothing.
    for batch in [&third[..], &first, &second, &third] {
        sink.write(batch, &[]).await.unwrap();
    }
    for (id, want) in (1..=3).zip(&expected) {
        assert_eq!(&source(id).await, want, "row {id} after the replays");
    }
    // The next full write replaces the document, bookkeeping field included.
    sink.write(&[full(1, "new", pos(40, 40))], &[])
        .await
        .unwrap();
    let one = get_json(&format!("{url}/toast.items/_doc/1")).await;
    assert_eq!(
        one["_source"],
        json!({"id": 1, "title": "new", "tags": ["long text of 1"]})
    );
}

/// A document the index's mapping refuses fails the write for good, naming the field.
#[tokio::test]
async fn a_mapping_error_on_a_real_server_is_definite_and_names_the_field() {
    let (url, _node) = real_server();
    let mut sink =
        ElasticsearchSink::new(&config(&url, json!({"index.name": "mapping.{table}"}))).unwrap();
    let t = table("public", "items");
    let row = |id: i64, price: Json, p| {
        upsert_doc(
            &t,
            RowKey(vec![("id".into(), json!(id))]),
            doc(json!({"id": id, "price": price})),
            p,
        )
    };
    sink.write(&[row(1, json!(9.5), pos(10, 10))], &[])
        .await
        .unwrap();
    let err = sink
        .write(&[row(2, json!("not a number"), pos(11, 11))], &[])
        .await
        .unwrap_err();
    let SinkError::Definite(message) = &err else {
        panic!("{err:?}");
    };
    assert!(message.contains("[price]"), "{message}");
    assert!(message.contains("mapper_parsing_exception"), "{message}");
    assert!(message.contains("id \"2\""), "{message}");
}

/// A closed index refuses every write until someone opens it: definite, naming the index.
#[tokio::test]
async fn a_closed_index_on_a_real_server_is_definite() {
    let (url, _node) = real_server();
    let mut sink =
        ElasticsearchSink::new(&config(&url, json!({"index.name": "closed.{table}"}))).unwrap();
    let t = table("public", "items");
    sink.write(&[upsert(&t, 1, "apple", pos(10, 10))], &[])
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let closed = http
        .post(format!("{url}/closed.items/_close"))
        .send()
        .await
        .unwrap();
    assert!(closed.status().is_success(), "{closed:?}");
    let err = sink
        .write(&[upsert(&t, 2, "pear", pos(11, 11))], &[])
        .await
        .unwrap_err();
    let SinkError::Definite(message) = &err else {
        panic!("{err:?}");
    };
    assert!(message.contains("closed"), "{message}");
    assert!(message.contains("closed.items"), "{message}");
}

/// A node whose write queue is full rejects bulk requests (429 or per-item
/// `rejected_execution`): the sink reports that as transient, and each batch written again
/// until accepted lands whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_rejections_of_a_full_write_queue_are_transient() {
    use std::sync::atomic::AtomicBool;
    use std::time::{Duration, Instant};

    let node =
        OpenSearch::start_with(&["thread_pool.write.size=1", "thread_pool.write.queue_size=1"]);
    let url = node.url.clone();
    // Built first: it installs the TLS crypto provider the other clients need.
    let mut sink =
        ElasticsearchSink::new(&config(&url, json!({"index.name": "queue.{table}"}))).unwrap();
    // Other writers keep the queue full until the sink has been rejected.
    let stop = Arc::new(AtomicBool::new(false));
    let flood: Vec<_> = (0..8)
        .map(|n| {
            let (url, stop) = (url.clone(), stop.clone());
            tokio::spawn(async move {
                let mut body = String::new();
                for i in 0..500 {
                    body.push_str(&format!(
                        "{{\"index\":{{\"_index\":\"flood\",\"_id\":\"{n}-{i}\"}}}}\n{{\"n\":{i}}}\n"
                    ));
                }
                let http = reqwest::Client::new();
                while !stop.load(Ordering::Relaxed) {
                    let _ = http
                        .post(format!("{url}/_bulk"))
                        .header("content-type", "application/x-ndjson")
                        .body(body.clone())
                        .send()
                        .await;
                }
            })
        })
        .collect();
    let t = table("public", "items");
    let (mut transient, mut batches) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(60);
    while transient == 0 || batches < 5 {
        assert!(Instant::now() < deadline, "the sink was never rejected");
        let batch: Vec<SinkRecord> = (1..=20)
            .map(|i| {
                let id = batches * 20 + i;
                upsert(&t, id, &format!("row {id}"), pos(10, id as u64))
            })
            .collect();
        loop {
            match sink.write(&batch, &[]).await {
                Ok(()) => break,
                Err(SinkError::Transient(m)) => {
                    assert!(m.contains("rejected_execution") || m.contains("429"), "{m}");
                    transient += 1;
                }
                Err(e) => panic!("a full queue is not definite: {e:?}"),
            }
            assert!(Instant::now() < deadline, "batch {batches} never accepted");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        batches += 1;
    }
    stop.store(true, Ordering::Relaxed);
    for f in flood {
        f.await.unwrap();
    }
    let http = reqwest::Client::new();
    let refreshed = http
        .post(format!("{url}/queue.items/_refresh"))
        .send()
        .await
        .unwrap();
    assert!(refreshed.status().is_success());
    let count = get_json(&format!("{url}/queue.items/_count")).await;
    assert_eq!(
        count["count"],
        json!(batches * 20),
        "{count}; rejected {transient} times"
    );
}
