//! What a connector publishes besides change events: Debezium's transaction metadata
//! (`provide.transaction.metadata`) and heartbeats (`heartbeat.interval.ms`,
//! `heartbeat.action.query`), which also keep an idle captured database from holding WAL.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use support::daemon::{Daemon, RegistryChoice};
use support::kafka::{Broker, CdcConsumer, Record};
use support::pg::PgCluster;
use support::slot::{confirmed_flush, lsn, wait_active};
use support::wait_for;

const T: Duration = Duration::from_secs(90);

fn values<'a>(records: &'a [Record], topic: &str) -> Vec<&'a Value> {
    records
        .iter()
        .filter(|r| r.topic == topic)
        .filter_map(|r| r.value.as_ref())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn transaction_metadata_frames_each_transaction_and_numbers_its_events() {
    let pg = PgCluster::start();
    let db = pg.create_db("shop").await;
    db.batch_execute(
        "CREATE TABLE orders (id int PRIMARY KEY); CREATE TABLE lines (id int PRIMARY KEY);",
    )
    .await
    .unwrap();
    let broker = Broker::start();
    let work = tempfile::tempdir().unwrap();
    let connector = pg.connector(
        "meta",
        "shop",
        json!({
            "snapshot.mode": "no_data",
            "provide.transaction.metadata": "true",
            "transaction.message.data.collection": "aggregated",
        }),
    );
    let daemon = Daemon::start(
        work.path(),
        &broker.bootstrap,
        RegistryChoice::Embedded,
        &connector,
    );
    wait_active(&db, "meta_slot", T).await;
    db.batch_execute(
        "BEGIN;
         INSERT INTO orders VALUES (1);
         INSERT INTO lines VALUES (10);
         INSERT INTO orders VALUES (2);
         COMMIT;",
    )
    .await
    .unwrap();

    let mut consumer = CdcConsumer::new(
        &broker.bootstrap,
        &daemon.registry,
        "^cdc\\.(transaction|message|public\\..*)$",
    );
    assert!(
        consumer.poll_until(T, |r| {
            values(r, "cdc.transaction").len() == 2
                && values(r, "cdc.public.orders").len() == 2
                && values(r, "cdc.public.lines").len() == 1
        }),
        "BEGIN, END and three events: {:?}",
        consumer.records
    );
    let records = &consumer.records;
    let tx: Vec<&Record> = records
        .iter()
        .filter(|r| r.topic == "cdc.transaction")
        .collect();
    let (begin, end) = (tx[0].value.as_ref().unwrap(), tx[1].value.as_ref().unwrap());
    assert_eq!(begin["status"], "BEGIN");
    assert_eq!(end["status"], "END");
    // Debezium's Postgres ids are `<txId>:<LSN of the message>`: BEGIN's is where the
    // transaction starts, END's where its commit ends, each event's its own position.
    let id = begin["id"].as_str().unwrap();
    let end_id = end["id"].as_str().unwrap();
    let (xid, at) = id.split_once(':').unwrap();
    let (end_xid, end_at) = end_id.split_once(':').unwrap();
    assert_eq!(xid, end_xid);
    assert!(end_at.parse::<u64>().unwrap() > at.parse::<u64>().unwrap());
    assert_eq!(
        tx[0].key,
        Some(json!({"id": id})),
        "keyed by transaction id"
    );
    assert_eq!(tx[1].key, Some(json!({"id": end_id})));
    assert!(begin["event_count"].is_null() && begin["data_collections"].is_null());
    assert_eq!(end["event_count"], 3);
    // In the order of Debezium's Java HashMap of the tables.
    assert_eq!(
        end["data_collections"],
        json!([
            {"data_collection": "public.orders", "event_count": 2},
            {"data_collection": "public.lines", "event_count": 1},
        ])
    );
    let change = values(records, "cdc.public.orders")[0];
    assert_eq!(xid, change["source"]["txId"].to_string());
    assert!(end_at.parse::<u64>().unwrap() >= change["source"]["lsn"].as_u64().unwrap());

    let event = |topic: &str, i: usize| values(records, topic)[i].clone();
    let block_of = |e: &Value, total: i64, order: i64| {
        json!({
            "id": format!("{xid}:{}", e["source"]["lsn"]),
            "total_order": total,
            "data_collection_order": order,
        })
    };
    let o0 = event("cdc.public.orders", 0);
    let l0 = event("cdc.public.lines", 0);
    let o1 = event("cdc.public.orders", 1);
    assert_eq!(o0["transaction"], block_of(&o0, 1, 1));
    assert_eq!(l0["transaction"], block_of(&l0, 2, 1));
    assert_eq!(o1["transaction"], block_of(&o1, 3, 2));

    // With transaction.message.data.collection=aggregated, a transaction's logical
    // decoding messages are one data collection (Debezium names each message's its own).
    db.batch_execute(
        "BEGIN;
         SELECT pg_logical_emit_message(true, 'outbox', 'a');
         INSERT INTO orders VALUES (3);
         SELECT pg_logical_emit_message(true, 'outbox', 'b');
         COMMIT;",
    )
    .await
    .unwrap();
    assert!(
        consumer.poll_until(T, |r| values(r, "cdc.transaction").len() == 4
            && values(r, "cdc.message").len() == 2),
        "a second BEGIN and END, and two messages: {:?}",
        consumer.records
    );
    let end = values(&consumer.records, "cdc.transaction")[3].clone();
    assert_eq!(end["event_count"], 3);
    let mut collections = end["data_collections"].as_array().unwrap().clone();
    collections.sort_by_key(|c| c["data_collection"].to_string());
    assert_eq!(
        collections,
        [
            json!({"data_collection": "LOGICAL_DECODING_MESSAGE", "event_count": 2}),
            json!({"data_collection": "public.orders", "event_count": 1}),
        ]
    );
    let orders: Vec<i64> = values(&consumer.records, "cdc.message")
        .iter()
        .map(|m| m["transaction"]["data_collection_order"].as_i64().unwrap())
        .collect();
    assert_eq!(orders, [1, 2]);
}

#[tokio::test(flavor = "multi_thread")]
async fn heartbeats_are_published_run_the_action_query_and_release_wal_of_an_idle_database() {
    let pg = PgCluster::start();
    let db = pg.create_db("app").await;
    db.batch_execute(
        "CREATE TABLE quiet (id int PRIMARY KEY);
         CREATE TABLE heartbeat (id int PRIMARY KEY, beats bigint NOT NULL);",
    )
    .await
    .unwrap();
    // Another database on the same server, busy while the captured one is idle.
    let busy = pg.create_db("busy").await;
    busy.batch_execute("CREATE TABLE load (id bigint, pad text)")
        .await
        .unwrap();
    let broker = Broker::start();
    let work = tempfile::tempdir().unwrap();
    let connector = pg.connector(
        "beat",
        "app",
        json!({
            "snapshot.mode": "no_data",
            "heartbeat.interval.ms": "300",
            "heartbeat.action.query":
                "INSERT INTO heartbeat VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET beats = heartbeat.beats + 1",
        }),
    );
    let daemon = Daemon::start(
        work.path(),
        &broker.bootstrap,
        RegistryChoice::Embedded,
        &connector,
    );
    wait_active(&db, "beat_slot", T).await;

    let mut consumer = CdcConsumer::new(
        &broker.bootstrap,
        &daemon.registry,
        "^__debezium-heartbeat\\.cdc$",
    );
    assert!(
        consumer.poll_until(T, |r| r.len() >= 3),
        "heartbeat records arrive every heartbeat.interval.ms"
    );
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    for r in &consumer.records {
        assert_eq!(r.key, Some(json!({"serverName": "cdc"})));
        let ts = r.value.as_ref().unwrap()["ts_ms"].as_i64().unwrap();
        assert!((now_ms - 120_000..=now_ms + 1_000).contains(&ts), "{ts}");
    }
    let beats: i64 = wait_for("the action query to run", T, async || {
        db.query_opt("SELECT beats FROM heartbeat WHERE id = 1", &[])
            .await
            .unwrap()
            .map(|r| r.get::<_, i64>(0))
            .filter(|b| *b >= 2)
    })
    .await;
    assert!(beats >= 2);

    // WAL written elsewhere is released: the slot follows the server's WAL position.
    busy.batch_execute(
        "INSERT INTO load SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g",
    )
    .await
    .unwrap();
    let target = lsn(&busy
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await
        .unwrap()
        .get::<_, String>(0));
    wait_for(
        "the slot to confirm past the other database's WAL",
        T,
        async || {
            confirmed_flush(&db, "beat_slot")
                .await
                .filter(|l| *l >= target)
        },
    )
    .await;
    let status = daemon.status("beat");
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
}
