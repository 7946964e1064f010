//! Upserts, deletes and truncates land in Redis as configured.

mod common;

use common::*;
use serde_json::json;
use tributary_cache::RedisSink;
use tributary_cache::keys::version_key;
use tributary_core::{RowKey, SinkError};

#[tokio::test]
async fn upserts_and_deletes_land_as_json_strings_with_their_versions() {
    let redis = RedisServer::start();
    let mut sink = RedisSink::new(redis.config(json!({})));
    let items = table("public", "items");
    sink.write_batch(&[
        upsert(
            &items,
            pos(10, 1),
            1,
            json!({"id": 1, "name": "pen", "price": 1.5}),
        ),
        upsert(
            &items,
            pos(10, 2),
            2,
            json!({"id": 2, "name": "ink", "tags": ["a"]}),
        ),
    ])
    .await
    .unwrap();
    sink.write_batch(&[
        upsert(
            &items,
            pos(20, 1),
            1,
            json!({"id": 1, "name": "pen", "price": 2.0}),
        ),
        delete(&items, pos(20, 2), 2),
    ])
    .await
    .unwrap();

    let mut c = redis.client().await;
    assert_eq!(
        c.get_json("public.items:1").await,
        Some(json!({"id": 1, "name": "pen", "price": 2.0}))
    );
    assert_eq!(c.get("public.items:2").await, None);
    let versions = c.versions().await;
    assert_eq!(versions["public.items:1"], pos(20, 1).to_hex());
    assert_eq!(
        versions["public.items:2"],
        pos(20, 2).to_hex(),
        "a delete keeps its version"
    );
    assert_eq!(c.ttl("public.items:1").await, -1, "no expiry by default");
    let live = version_key(PREFIX, "public.items:1");
    assert_eq!(c.ttl(&live).await, -1, "a live row's position stays");
    let gone = version_key(PREFIX, "public.items:2");
    let window = c.ttl(&gone).await;
    assert!(
        (86_000..=86_400).contains(&window),
        "a deleted row's position expires after tombstone.ttl.seconds: {window}"
    );
}

#[tokio::test]
async fn hash_rows_get_a_field_per_column_and_lose_columns_that_became_null() {
    let redis = RedisServer::start();
    let mut json_sink = RedisSink::new(redis.config(json!({})));
    let items = table("public", "items");
    // A row first written as JSON is replaced by its hash form: the format can change.
    json_sink
        .write_batch(&[upsert(&items, pos(5, 1), 1, json!({"id": 1}))])
        .await
        .unwrap();
    let mut sink = RedisSink::new(redis.config(json!({"value.format": "hash"})));
    sink.write_batch(&[upsert(
        &items,
        pos(10, 1),
        1,
        json!({"id": 1, "name": "pen", "note": "x", "meta": {"k": [1, 2]}, "ok": true, "gone": null}),
    )])
    .await
    .unwrap();
    let mut c = redis.client().await;
    let row = c.hgetall("public.items:1").await;
    let expected = [
        ("id", "1"),
        ("meta", "{\"k\":[1,2]}"),
        ("name", "pen"),
        ("note", "x"),
        ("ok", "true"),
    ];
    assert_eq!(
        row,
        expected
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    );

    sink.write_batch(&[upsert(
        &items,
        pos(11, 1),
        1,
        json!({"id": 1, "name": "pen", "note": null}),
    )])
    .await
    .unwrap();
    let row = c.hgetall("public.items:1").await;
    assert_eq!(
        row.keys().collect::<Vec<_>>(),
        ["id", "name"],
        "stale fields are removed"
    );

    sink.write_batch(&[delete(&items, pos(12, 1), 1)])
        .await
        .unwrap();
    assert!(c.hgetall("public.items:1").await.is_empty());
}

#[tokio::test]
async fn ttl_is_set_on_json_and_hash_keys_and_renewed_by_each_change() {
    let redis = RedisServer::start();
    let items = table("public", "items");
    let mut c = redis.client().await;
    for (format, id) in [("json", 1), ("hash", 2)] {
        let mut sink =
            RedisSink::new(redis.config(json!({"value.format": format, "ttl.seconds": 300})));
        sink.write_batch(&[upsert(&items, pos(1, id as u64), id, json!({"id": id}))])
            .await
            .unwrap();
        let key = format!("public.items:{id}");
        let ttl = c.ttl(&key).await;
        assert!((1..=300).contains(&ttl), "{format}: ttl {ttl}");
        c.cmd(&["PERSIST", &key]).await;
        sink.write_batch(&[upsert(
            &items,
            pos(2, id as u64),
            id,
            json!({"id": id, "n": 1}),
        )])
        .await
        .unwrap();
        assert!((1..=300).contains(&c.ttl(&key).await), "{format}: renewed");
        let kept = c.ttl(&version_key(PREFIX, &key)).await;
        assert!(
            (86_401..=86_700).contains(&kept),
            "{format}: the position outlives the key by the deletion window: {kept}"
        );
    }
}

#[tokio::test]
async fn composite_keys_join_their_columns_in_the_key() {
    let redis = RedisServer::start();
    let mut sink = RedisSink::new(redis.config(json!({})));
    let pairs = table("public", "pairs");
    let key = RowKey(vec![("a".into(), json!("x")), ("b".into(), json!(7))]);
    sink.write_batch(&[upsert_key(
        &pairs,
        pos(1, 1),
        key,
        json!({"a": "x", "b": 7, "v": 1}),
    )])
    .await
    .unwrap();
    let mut c = redis.client().await;
    assert_eq!(
        c.get_json("public.pairs:x:7").await,
        Some(json!({"a": "x", "b": 7, "v": 1}))
    );
}

#[tokio::test]
async fn truncate_removes_its_tables_older_keys_and_their_versions_only() {
    let redis = RedisServer::start();
    let mut sink = RedisSink::new(redis.config(json!({})));
    let items = table("public", "items");
    let others = table("public", "items_archive");
    let mut first = Vec::new();
    for id in 1..=1500 {
        first.push(upsert(&items, pos(10, id as u64), id, json!({"id": id})));
    }
    first.push(upsert(&others, pos(10, 5000), 1, json!({"id": 1})));
    sink.write_batch(&first).await.unwrap();
    // One batch: a row, the truncate, a row after it, a row of another table.
    sink.write_batch(&[
        upsert(&items, pos(20, 1), 1, json!({"id": 1, "late": true})),
        truncate(&items, pos(21, 1)),
        upsert(&items, pos(22, 1), 7, json!({"id": 7, "after": true})),
        upsert(&others, pos(22, 2), 2, json!({"id": 2})),
    ])
    .await
    .unwrap();

    let mut c = redis.client().await;
    assert_eq!(
        c.keys(PREFIX).await,
        [
            "public.items:7",
            "public.items_archive:1",
            "public.items_archive:2"
        ]
    );
    let versions = c.versions().await;
    assert_eq!(versions.len(), 4, "{versions:?}");
    assert_eq!(versions["__truncate__:public.items"], pos(21, 1).to_hex());
    // An older change of the table cannot come back after the truncate.
    sink.write_batch(&[upsert(&items, pos(20, 2), 2, json!({"id": 2}))])
        .await
        .unwrap();
    assert_eq!(c.get("public.items:2").await, None);
}

#[tokio::test]
async fn a_custom_key_pattern_names_keys_and_truncate_finds_them_by_its_fixed_text() {
    let redis = RedisServer::start();
    let mut sink = RedisSink::new(redis.config(json!({
        "key.pattern": "c[1]*:{db}/{table}:{pk}:v1",
        "versions.prefix": "my:versions",
    })));
    let items = table("public", "items");
    let other = table("public", "other");
    sink.write_batch(&[
        upsert(&items, pos(1, 1), 1, json!({"id": 1})),
        upsert(&items, pos(1, 2), 2, json!({"id": 2})),
        upsert(&other, pos(1, 3), 1, json!({"id": 1})),
    ])
    .await
    .unwrap();
    let mut c = redis.client().await;
    assert_eq!(
        c.keys("my:versions").await,
        [
            "c[1]*:shop/items:1:v1",
            "c[1]*:shop/items:2:v1",
            "c[1]*:shop/other:1:v1"
        ]
    );
    sink.write_batch(&[truncate(&items, pos(2, 1))])
        .await
        .unwrap();
    assert_eq!(c.keys("my:versions").await, ["c[1]*:shop/other:1:v1"]);
}

#[tokio::test]
async fn several_changes_of_one_key_in_a_batch_apply_in_order() {
    let redis = RedisServer::start();
    let mut sink = RedisSink::new(redis.config(json!({})));
    let items = table("public", "items");
    sink.write_batch(&[
        upsert(&items, pos(1, 1), 1, json!({"id": 1, "v": 1})),
        upsert(&items, pos(1, 2), 1, json!({"id": 1, "v": 2})),
        delete(&items, pos(2, 1), 1),
        upsert(&items, pos(3, 1), 1, json!({"id": 1, "v": 3})),
        upsert(&items, pos(3, 2), 2, json!({"id": 2, "v": 1})),
        delete(&items, pos(3, 3), 2),
    ])
    .await
    .unwrap();
    let mut c = redis.client().await;
    assert_eq!(
        c.get_json("public.items:1").await,
        Some(json!({"id": 1, "v": 3}))
    );
    assert_eq!(c.get("public.items:2").await, None);
}

#[tokio::test]
async fn a_flushed_script_cache_is_loaded_again_and_the_batch_applied() {
    let redis = RedisServer::start();
    let mut sink = RedisSink::new(redis.config(json!({})));
    let items = table("public", "items");
    sink.write_batch(&[upsert(&items, pos(1, 1), 1, json!({"v": 1}))])
        .await
        .unwrap();
    let mut c = redis.client().await;
    c.cmd(&["SCRIPT", "FLUSH"]).await;
    sink.write_batch(&[
        upsert(&items, pos(2, 1), 1, json!({"v": 2})),
        truncate(&items, pos(3, 1)),
        upsert(&items, pos(4, 1), 2, json!({"v": 1})),
    ])
    .await
    .unwrap();
    assert_eq!(c.keys(PREFIX).await, ["public.items:2"]);
    c.cmd(&["SCRIPT", "FLUSH"]).await;
    sink.write_batch(&[truncate(&items, pos(5, 1))])
        .await
        .unwrap();
    assert!(c.keys(PREFIX).await.is_empty());
}

#[tokio::test]
async fn a_position_key_of_another_type_is_a_definite_error_naming_the_key_and_the_fix() {
    let redis = RedisServer::start();
    let mut c = redis.client().await;
    c.cmd(&["HSET", &version_key(PREFIX, "public.items:1"), "f", "v"])
        .await;
    let mut sink = RedisSink::new(redis.config(json!({})));
    let items = table("public", "items");
    let err = sink
        .write_batch(&[upsert(&items, pos(1, 1), 1, json!({"v": 1}))])
        .await
        .unwrap_err();
    let SinkError::Definite(message) = err else {
        panic!("expected a definite error, got {err:?}");
    };
    assert!(message.contains("\"public.items:1\""), "{message}");
    assert!(message.contains("WRONGTYPE"), "{message}");
    assert!(message.contains("versions.prefix"), "{message}");
}

#[tokio::test]
async fn inserts_then_deletes_leave_no_bookkeeping_once_the_deletion_window_passes() {
    let redis = RedisServer::start();
    let mut sink = RedisSink::new(redis.config(json!({"tombstone.ttl.seconds": 2})));
    let items = table("public", "items");
    const ROWS: i64 = 100_000;
    let inserts: Vec<_> = (0..ROWS)
        .map(|id| upsert(&items, pos(1, id as u64), id, json!({"id": id, "v": 1})))
        .collect();
    for batch in inserts.chunks(5000) {
        sink.write_batch(batch).await.unwrap();
    }
    let mut c = redis.client().await;
    assert_eq!(
        c.int(&["DBSIZE"]).await,
        2 * ROWS,
        "a row and its position each"
    );
    // Every row but the last thousand is deleted.
    let deletes: Vec<_> = (0..ROWS - 1000)
        .map(|id| delete(&items, pos(2, id as u64), id))
        .collect();
    for batch in deletes.chunks(5000) {
        sink.write_batch(batch).await.unwrap();
    }
    // Within the window, a replayed older insert cannot bring a deleted row back.
    sink.write_batch(&inserts[..10]).await.unwrap();
    assert_eq!(c.get("public.items:0").await, None);
    // After it, what is left is the live rows and their positions: O(live keys).
    let started = std::time::Instant::now();
    loop {
        let size = c.int(&["DBSIZE"]).await;
        if size == 2 * 1000 {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "{size} keys remain, 2000 expected"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    eprintln!(
        "deleted rows' positions gone {:?} after the deletes",
        started.elapsed()
    );
    assert_eq!(c.keys(PREFIX).await.len(), 1000);
}

#[tokio::test]
async fn the_database_index_in_the_url_is_selected() {
    let redis = RedisServer::start();
    let url = format!("redis://127.0.0.1:{}/3", redis.port);
    let mut sink = RedisSink::connect(redis.config(json!({"redis.url": url})))
        .await
        .unwrap();
    let items = table("public", "items");
    sink.write_batch(&[upsert(&items, pos(1, 1), 1, json!({"v": 1}))])
        .await
        .unwrap();
    let mut c = redis.client().await;
    assert_eq!(c.get("public.items:1").await, None);
    c.cmd(&["SELECT", "3"]).await;
    assert_eq!(c.get_json("public.items:1").await, Some(json!({"v": 1})));
}

#[tokio::test]
async fn a_table_without_a_primary_key_is_a_definite_error_naming_it() {
    let redis = RedisServer::start();
    let mut sink = RedisSink::new(redis.config(json!({})));
    let logs = table("public", "logs");
    let err = sink
        .write_batch(&[upsert_key(
            &logs,
            pos(1, 1),
            RowKey(vec![]),
            json!({"line": "x"}),
        )])
        .await
        .unwrap_err();
    let SinkError::Definite(message) = err else {
        panic!("expected a definite error, got {err:?}");
    };
    assert!(
        message.contains("public.logs") && message.contains("message.key.columns"),
        "{message}"
    );
    let mut c = redis.client().await;
    assert!(c.keys("").await.is_empty(), "nothing was written");
}
