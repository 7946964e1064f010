//! The API under load while a connector streams: 200 requests in flight at once (status,
//! lists with expands, configs, tasks, topics, offsets, metrics, and config updates of a
//! second connector) all get their answer, and the stream they observe loses and repeats
//! nothing.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use serde_json::json;
use support::api::{Tally, connector_path as path, get, post, try_request, wait_status};
use support::daemon::{Daemon, DaemonOptions};
use support::kafka::Broker;
use support::pg::PgCluster;
use support::slot::wait_active;

const T: Duration = Duration::from_secs(60);
const REQUESTS: usize = 200;
const MIN_ROWS: i64 = 20_000;
const PER_TX: i64 = 100;
const TOPIC: &str = "cdc.public.items";

/// Inserts rows in transactions of PER_TX until at least MIN_ROWS are written and `stop`
/// is set; returns the last id.
fn writer(url: String, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<i64> {
    tokio::spawn(async move {
        let (db, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let mut id = 1;
        while id <= MIN_ROWS || !stop.load(Ordering::SeqCst) {
            db.batch_execute(&format!(
                "INSERT INTO items SELECT g, 'row ' || g FROM generate_series({id}, {}) g",
                id + PER_TX - 1
            ))
            .await
            .unwrap();
            id += PER_TX;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        id - 1
    })
}

/// The request thread `i` sends: (label, method, path, JSON body).
fn call(i: usize, other: &serde_json::Value) -> (String, &'static str, String, Option<String>) {
    let busy = |rest: &str| path("busy", rest);
    let (method, p, body) = match i % 10 {
        0 => ("GET", busy("/status"), None),
        1 => ("GET", "/connectors?expand=status&expand=info".into(), None),
        2 => ("GET", busy("/config"), None),
        3 => ("GET", busy("/tasks"), None),
        4 => ("GET", busy("/topics"), None),
        5 => ("GET", busy("/offsets"), None),
        6 => ("GET", "/metrics".into(), None),
        7 => ("GET", "/connectors?expand=status".into(), None),
        8 => ("GET", busy(""), None),
        _ if i % 40 == 9 => {
            let mut c = other.clone();
            c["max.queue.size"] = json!((3000 + i).to_string());
            ("PUT", path("bystander", "/config"), Some(c.to_string()))
        }
        _ => ("GET", busy("/tasks/0/status"), None),
    };
    (format!("#{i} {method} {p}"), method, p, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_concurrent_requests_while_streaming_all_succeed_and_lose_nothing() {
    let pg = PgCluster::start();
    let db = pg.create_db("app").await;
    db.batch_execute(
        "CREATE TABLE items (id bigint PRIMARY KEY, v text);
         CREATE TABLE other (id bigint PRIMARY KEY);",
    )
    .await
    .unwrap();
    let broker = Broker::start();
    let work = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with(work.path(), DaemonOptions::new(&broker.bootstrap));
    let api = daemon.api.clone();
    let busy = pg.connector(
        "busy",
        "app",
        json!({"snapshot.mode": "no_data", "table.include.list": "public.items"}),
    );
    let other = pg.connector(
        "bystander",
        "app",
        json!({"snapshot.mode": "no_data", "table.include.list": "public.other", "topic.prefix": "by"}),
    );
    for c in [&busy, &other] {
        let r = post(&api, "/connectors", c);
        assert_eq!(r.status, 201, "{r:?}\n{}", daemon.log());
    }
    wait_status(&api, "busy", "RUNNING", &["RUNNING"], T).await;
    wait_active(&db, "busy_slot", T).await;

    let stop = Arc::new(AtomicBool::new(false));
    let writing = writer(pg.url("app"), stop.clone());
    let mut kafka = Tally::new(
        &broker.bootstrap,
        &daemon.registry,
        "^cdc\\.public\\.items$",
    );
    assert!(
        kafka.until(T, |t| !t.counts.is_empty()),
        "the stream started\n{}",
        daemon.log()
    );

    // All at once, while the writer goes on.
    let other_config = other["config"].clone();
    let base = api.clone();
    let results = tokio::task::spawn_blocking(move || {
        let gate = Arc::new(Barrier::new(REQUESTS));
        let threads: Vec<_> = (0..REQUESTS)
            .map(|i| {
                let (gate, base) = (gate.clone(), base.clone());
                let (label, method, p, body) = call(i, &other_config);
                std::thread::spawn(move || {
                    let headers: &[(&str, &str)] = match body {
                        Some(_) => &[("Content-Type", "application/json")],
                        None => &[],
                    };
                    gate.wait();
                    let r = try_request(
                        &base,
                        method,
                        &p,
                        headers,
                        body.as_deref().map(str::as_bytes),
                    );
                    (label, r.map(|r| (r.status, r.body)))
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let still_writing = !writing.is_finished();
    stop.store(true, Ordering::SeqCst);
    let last = writing.await.unwrap();
    eprintln!("{REQUESTS} requests answered; writer still running then: {still_writing}");

    let failed: Vec<String> = results
        .iter()
        .filter(|(_, r)| !matches!(r, Ok((200, _))))
        .map(|(label, r)| match r {
            Ok((status, body)) => format!("{label}: {status} {body}"),
            Err(e) => format!("{label}: connection error {e}"),
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {REQUESTS} requests failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
    assert!(daemon.log().find("panicked").is_none(), "{}", daemon.log());

    // Every row exactly once.
    let arrived = kafka.until(Duration::from_secs(120), |t| {
        t.missing(TOPIC, "c", 1..=last).is_empty()
    });
    assert!(
        arrived,
        "rows missing from Kafka, e.g. {:?}\n{}",
        kafka.missing(TOPIC, "c", 1..=last),
        daemon.log()
    );
    assert_eq!(
        kafka.not_exactly(TOPIC, "c", 1..=last, 1),
        [],
        "rows delivered more than once"
    );
    assert_eq!(kafka.duplicates(TOPIC), 0);
    wait_status(&api, "busy", "RUNNING", &["RUNNING"], T).await;
    wait_status(&api, "bystander", "RUNNING", &["RUNNING"], T).await;
    let shown = get(&api, &path("bystander", "/config")).json();
    let size: usize = shown["max.queue.size"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("one of the updates stuck: {shown}"));
    assert!(size >= 3000, "{shown}");
}
