//! Unchanged TOASTed columns (sent as the unavailable-value placeholder, turned into
//! `unchanged` names by the job) keep the value the cache holds, in both value formats.

mod common;

use common::*;
use serde_json::json;
use tributary_cache::RedisSink;
use tributary_core::Sink;

/// A value that exercises the script's JSON scanner: quotes, escapes, brackets and braces
/// inside strings, unicode, and nested arrays.
fn tricky() -> serde_json::Value {
    json!("a \"quoted\" \\ back}slash], {brace} [x] — ünïcødé \u{1F600}\n".repeat(200))
}

#[tokio::test]
async fn json_rows_keep_unchanged_columns_from_the_cached_value() {
    let redis = RedisServer::start();
    let mut sink = RedisSink::new(redis.config(json!({})));
    let docs = table("public", "doc");
    let body = tricky();
    let tags = json!([["x", "y]"], {"k": "}"}]);
    sink.write_batch(&[upsert(
        &docs,
        pos(10, 1),
        1,
        json!({"id": 1, "title": "first", "body": body, "odd \"name\"": tags, "n": 12345678901234567_i64}),
    )])
    .await
    .unwrap();

    // The title-only update, then another one in the same batch.
    let update = |at, title: &str| {
        with_unchanged(
            upsert(&docs, at, 1, json!({"id": 1, "title": title, "n": 7})),
            &["body", "odd \"name\""],
        )
    };
    sink.write_batch(&[update(pos(20, 1), "second"), update(pos(20, 2), "third")])
        .await
        .unwrap();
    let mut c = redis.client().await;
    let expected = json!({"id": 1, "title": "third", "body": body, "odd \"name\"": tags, "n": 7});
    assert_eq!(c.get_json("public.doc:1").await, Some(expected.clone()));
    assert_eq!(sink.values_left_out(), 0);

    // A replay of both changes and of the insert changes nothing.
    sink.write_batch(&[
        upsert(&docs, pos(10, 1), 1, json!({"id": 1, "title": "first"})),
        update(pos(20, 1), "second"),
        update(pos(20, 2), "third"),
    ])
    .await
    .unwrap();
    assert_eq!(c.get_json("public.doc:1").await, Some(expected));

    // A row the cache never held: the unchanged column is left out and counted.
    sink.write_batch(&[with_unchanged(
        upsert(
            &docs,
            pos(30, 1),
            2,
            json!({"id": 2, "title": "t", "body": "x"}),
        ),
        &["body"],
    )])
    .await
    .unwrap();
    assert_eq!(
        c.get_json("public.doc:2").await,
        Some(json!({"id": 2, "title": "t"}))
    );
    assert_eq!(sink.values_left_out(), 1);

    // Every column unchanged but the key: the value sent is `{}` before the merge.
    sink.write_batch(&[upsert(&docs, pos(40, 1), 3, json!({"x": 1}))])
        .await
        .unwrap();
    sink.write_batch(&[with_unchanged(
        upsert(&docs, pos(41, 1), 3, json!({"x": 1})),
        &["x"],
    )])
    .await
    .unwrap();
    assert_eq!(c.get_json("public.doc:3").await, Some(json!({"x": 1})));
}

#[tokio::test]
async fn hash_rows_keep_unchanged_fields_from_the_cached_hash() {
    let redis = RedisServer::start();
    let mut sink =
        RedisSink::new(redis.config(json!({"value.format": "hash", "ttl.seconds": 600})));
    let docs = table("public", "doc");
    let body = "long body ".repeat(1000);
    sink.write_batch(&[upsert(
        &docs,
        pos(10, 1),
        1,
        json!({"id": 1, "title": "first", "body": body, "note": "n"}),
    )])
    .await
    .unwrap();
    sink.write_batch(&[with_unchanged(
        upsert(
            &docs,
            pos(20, 1),
            1,
            json!({"id": 1, "title": "second", "note": null}),
        ),
        &["body", "never"],
    )])
    .await
    .unwrap();
    let mut c = redis.client().await;
    let held = c.hgetall("public.doc:1").await;
    assert_eq!(held["title"], "second");
    assert_eq!(held["body"], body);
    assert!(
        !held.contains_key("note"),
        "a column that became null is gone"
    );
    assert_eq!(held.len(), 3, "{held:?}");
    assert!(
        c.ttl("public.doc:1").await > 0,
        "the merged hash keeps its expiry"
    );
    assert_eq!(sink.values_left_out(), 1, "`never` was not in the hash");

    // A row cached as JSON before value.format changed to hash has nothing to keep: the
    // hash replaces it without the column, which is counted.
    let mut json_sink = RedisSink::new(redis.config(json!({})));
    json_sink
        .write_batch(&[upsert(&docs, pos(30, 1), 2, json!({"id": 2, "body": "b"}))])
        .await
        .unwrap();
    sink.write_batch(&[with_unchanged(
        upsert(&docs, pos(40, 1), 2, json!({"id": 2, "title": "t"})),
        &["body"],
    )])
    .await
    .unwrap();
    let held = c.hgetall("public.doc:2").await;
    assert_eq!(held.get("title").map(String::as_str), Some("t"));
    assert!(!held.contains_key("body"), "{held:?}");
    assert_eq!(sink.values_left_out(), 2);
}
