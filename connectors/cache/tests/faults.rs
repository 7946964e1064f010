//! Pipelining, lost connections, timeouts, busy servers and rejected credentials.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use tributary_cache::{ConnectParams, RedisSink, check};
use tributary_core::{Secret, SinkError};

#[tokio::test]
async fn fifty_thousand_records_in_batches_of_a_thousand_are_pipelined() {
    let redis = RedisServer::start();
    let mut sink = RedisSink::new(redis.config(json!({})));
    let records = rows(0, 50_000, 100);
    let started = Instant::now();
    for batch in records.chunks(1000) {
        sink.write_batch(batch).await.unwrap();
    }
    let took = started.elapsed();
    eprintln!(
        "50000 records in {took:?} ({:.0}/s)",
        50_000.0 / took.as_secs_f64()
    );
    let mut c = redis.client().await;
    assert_eq!(c.position_keys().await as i64, 50_000);
    assert_eq!(c.int(&["DBSIZE"]).await, 100_000);
    assert_eq!(
        c.get_json("public.items:49999").await.unwrap()["stock"],
        json!(49_999 % 17)
    );
}

#[tokio::test]
async fn a_server_killed_mid_batch_is_a_transient_error_and_the_retried_batch_succeeds() {
    let mut redis = RedisServer::start();
    let mut sink = RedisSink::new(redis.config(json!({})));
    sink.write_batch(&rows(0, 1, 1)).await.unwrap();
    let batch = rows(0, 300_000, 2);
    let writer = tokio::spawn(async move {
        let result = sink.write_batch(&batch).await;
        (sink, batch, result)
    });
    let mut c = redis.client().await;
    wait_for("the batch to be half-applied", async || {
        c.position_keys().await as i64 > 1000
    })
    .await;
    redis.kill9();
    let (mut sink, batch, result) = writer.await.unwrap();
    let err = result.unwrap_err();
    assert!(matches!(err, SinkError::Transient(_)), "{err:?}");
    assert!(err.to_string().contains("redis.url"), "{err}");

    redis.restart();
    sink.write_batch(&batch).await.unwrap();
    let mut c = redis.client().await;
    assert_eq!(c.position_keys().await as i64, 300_000);
    assert_eq!(c.int(&["DBSIZE"]).await, 600_000);
}

#[tokio::test]
async fn a_server_restarted_between_batches_is_reconnected_without_an_error() {
    let mut redis = RedisServer::start();
    let mut sink = RedisSink::new(redis.config(json!({})));
    sink.write_batch(&rows(0, 10, 1)).await.unwrap();
    redis.restart();
    sink.write_batch(&rows(10, 20, 2)).await.unwrap();
    let mut c = redis.client().await;
    assert_eq!(c.position_keys().await as i64, 10);
}

#[tokio::test]
async fn an_unreachable_server_is_transient_and_names_redis_url() {
    let redis = RedisServer::start();
    let config = redis.config(json!({}));
    drop(redis);
    let err = RedisSink::new(config.clone())
        .write_batch(&rows(0, 1, 1))
        .await
        .unwrap_err();
    assert!(matches!(err, SinkError::Transient(_)), "{err:?}");
    let errors = check(&config).await.unwrap_err();
    assert_eq!(errors.0[0].field, "redis.url", "{errors}");
}

#[tokio::test]
async fn a_paused_server_times_out_as_transient_and_the_next_batch_goes_through() {
    let redis = RedisServer::start();
    let mut sink = RedisSink::new(redis.config(json!({"redis.timeout.ms": 200})));
    sink.write_batch(&rows(0, 1, 1)).await.unwrap();
    let mut c = redis.client().await;
    c.cmd(&["CLIENT", "PAUSE", "1500", "ALL"]).await;
    let err = sink.write_batch(&rows(1, 100, 2)).await.unwrap_err();
    assert!(matches!(err, SinkError::Transient(_)), "{err:?}");
    assert!(err.to_string().contains("did not answer within"), "{err}");
    c.cmd(&["CLIENT", "UNPAUSE"]).await;
    sink.write_batch(&rows(1, 100, 2)).await.unwrap();
    assert_eq!(c.position_keys().await as i64, 100);
}

#[tokio::test]
async fn a_server_busy_with_a_script_is_a_transient_error() {
    let redis = RedisServer::start_with(&["--busy-reply-threshold", "50"]);
    let mut sink = RedisSink::new(redis.config(json!({})));
    sink.write_batch(&rows(0, 1, 1)).await.unwrap();
    let mut looping = redis.client().await;
    let stuck =
        tokio::spawn(async move { looping.try_cmd(&["EVAL", "while true do end", "0"]).await });
    let mut c = redis.client().await;
    wait_for(
        "redis to be busy",
        async || matches!(c.try_cmd(&["PING"]).await, Err(e) if e.contains("BUSY")),
    )
    .await;
    let err = sink.write_batch(&rows(1, 10, 2)).await.unwrap_err();
    assert!(matches!(err, SinkError::Transient(_)), "{err:?}");
    assert!(err.to_string().contains("BUSY"), "{err}");
    c.cmd(&["SCRIPT", "KILL"]).await;
    let _ = stuck.await;
    sink.write_batch(&rows(1, 10, 2)).await.unwrap();
    assert_eq!(c.position_keys().await as i64, 10);
}

#[tokio::test]
async fn wrong_or_missing_passwords_are_definite_errors_naming_redis_password() {
    let redis = RedisServer::start_with(&["--requirepass", "s3cret"]);
    for props in [json!({"redis.password": "wrong"}), json!({})] {
        let config = redis.config(props);
        let err = RedisSink::new(config.clone())
            .write_batch(&rows(0, 1, 1))
            .await
            .unwrap_err();
        assert!(matches!(err, SinkError::Definite(_)), "{err:?}");
        assert!(err.to_string().contains("redis.password"), "{err}");
        assert!(
            !err.to_string().contains("wrong"),
            "no password in messages: {err}"
        );
        let errors = check(&config).await.unwrap_err();
        assert_eq!(errors.0[0].field, "redis.password", "{errors}");
    }
    let good = redis.config(json!({"redis.password": "s3cret"}));
    check(&good).await.unwrap();
    let mut sink = RedisSink::connect(good).await.unwrap();
    sink.write_batch(&rows(0, 5, 1)).await.unwrap();
    let mut params = ConnectParams::local(redis.port);
    params.password = Some(Secret::new("s3cret"));
    let mut c = redis.client_with(params).await;
    assert_eq!(c.position_keys().await as i64, 5);
}

#[tokio::test]
async fn an_acl_user_in_the_url_authenticates_and_its_missing_rights_are_named() {
    let redis = RedisServer::start_with(&[
        "--user", "cache", "on", ">pw", "~*", "&*", "+@all", //
        "--user", "reader", "on", ">pw", "~*", "&*", "+@read", "+ping", "+auth",
    ]);
    let url = format!("redis://cache:pw@127.0.0.1:{}/0", redis.port);
    let config = redis.config(json!({"redis.url": url}));
    check(&config).await.unwrap();
    RedisSink::new(config)
        .write_batch(&rows(0, 3, 1))
        .await
        .unwrap();

    // The ACL user with a wrong password: definite, naming redis.password, never the
    // password itself.
    let url = format!("redis://cache:not-it@127.0.0.1:{}/0", redis.port);
    let config = redis.config(json!({"redis.url": url}));
    let errors = check(&config).await.unwrap_err();
    assert_eq!(errors.0[0].field, "redis.password", "{errors}");
    let err = RedisSink::new(config)
        .write_batch(&rows(0, 1, 1))
        .await
        .unwrap_err();
    assert!(matches!(err, SinkError::Definite(_)), "{err:?}");
    assert!(err.to_string().contains("redis.password"), "{err}");
    assert!(!err.to_string().contains("not-it"), "{err}");

    let url = format!("redis://reader:pw@127.0.0.1:{}/0", redis.port);
    let config = redis.config(json!({"redis.url": url}));
    let errors = check(&config).await.unwrap_err();
    assert_eq!(errors.0[0].field, "redis.url", "{errors}");
    assert!(errors.to_string().contains("NOPERM"), "{errors}");
    let err = RedisSink::new(config)
        .write_batch(&rows(0, 1, 1))
        .await
        .unwrap_err();
    assert!(matches!(err, SinkError::Definite(_)), "{err:?}");
}

#[tokio::test]
async fn an_acl_user_without_a_password_authenticates_as_that_user() {
    // The default user is off: only an AUTH as `np` can write anything.
    let redis = RedisServer::start_with(&[
        "--user", "default", "off", //
        "--user", "np", "on", "nopass", "~*", "&*", "+@all",
    ]);
    let url = format!("redis://np@127.0.0.1:{}/0", redis.port);
    let config = redis.config(json!({"redis.url": url}));
    check(&config).await.unwrap();
    RedisSink::new(config)
        .write_batch(&rows(0, 3, 1))
        .await
        .unwrap();
    let mut params = ConnectParams::local(redis.port);
    params.username = Some("np".into());
    assert_eq!(redis.client_with(params).await.position_keys().await, 3);
}

#[tokio::test]
async fn check_names_a_bad_database_index() {
    let redis = RedisServer::start();
    check(&redis.config(json!({}))).await.unwrap();
    let url = format!("redis://127.0.0.1:{}/999", redis.port);
    let errors = check(&redis.config(json!({"redis.url": url})))
        .await
        .unwrap_err();
    assert_eq!(errors.0[0].field, "redis.url", "{errors}");
    assert!(errors.to_string().contains("database 999"), "{errors}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_as_transient() {
    // Accepts connections (the kernel does) and never answers the AUTH.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut params = ConnectParams::local(silent.local_addr().unwrap().port());
    params.password = Some(Secret::new("pw"));
    params.timeout = Duration::from_millis(200);
    let started = Instant::now();
    let err = tributary_cache::Connection::connect(&params)
        .await
        .err()
        .unwrap();
    assert!(
        matches!(err, tributary_cache::RedisError::Timeout(_)),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(5), "{err}");
}
