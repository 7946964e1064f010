//! A read-only incremental snapshot (`read.only=true`) on real Postgres and Apache Kafka,
//! by a connector whose database user may replicate and SELECT but INSERT nowhere.
//!
//! No watermark row is written: each window is read in one exported snapshot, and the
//! stream drops a row from the window when a transaction that snapshot did not see
//! changes it. Under random inserts, updates and deletes and a SIGKILL mid-snapshot, the
//! topic alone shows the state equal to the table's, no row older than an event already
//! emitted for it, no row read twice and no streamed change repeated.

mod support;

use serde_json::json;
use support::api;
use support::incremental::{
    Fold, assert_exact, kill_after_reads, setup, start, table_signal, table_state, writer,
};
use support::kafka::CdcConsumer;

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_snapshot_by_a_user_lacking_insert_is_exact_through_a_kill() {
    const ROWS: i64 = 300_000;
    let work = tempfile::tempdir().unwrap();
    let (pg, db, broker) = setup(&format!(
        "CREATE TABLE items (id bigint PRIMARY KEY, version bigint NOT NULL, pad text NOT NULL);
         INSERT INTO items SELECT g, 0, 'row ' || g FROM generate_series(1, {ROWS}) g;
         CREATE PUBLICATION ro_pub FOR TABLE items, debezium_signal;
         CREATE ROLE reader LOGIN REPLICATION;
         GRANT USAGE ON SCHEMA public TO reader;
         GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader;"
    ))
    .await;
    // The connector's user cannot write to any table, the signal table included.
    let reader_url = pg.url("app").replace("user=postgres", "user=reader");
    let (reader, conn) = tokio_postgres::connect(&reader_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    for table in ["items", "debezium_signal"] {
        let denied = reader
            .batch_execute(&format!(
                "INSERT INTO {table} SELECT * FROM {table} LIMIT 0"
            ))
            .await
            .unwrap_err();
        assert_eq!(
            denied.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{denied:?}"
        );
    }

    let (_, mut daemon) = start(
        work.path(),
        &pg,
        &db,
        &broker,
        "ro",
        json!({
            "database.user": "reader",
            "read.only": "true",
            "publication.name": "ro_pub",
            "publication.autocreate.mode": "disabled",
            "table.include.list": "public.items",
            "snapshot.max.threads": "2",
            "incremental.snapshot.chunk.size": "2000",
        }),
    )
    .await;
    // REST signals would be written to the signal table: refused, naming why.
    let rest = api::post(
        &daemon.api,
        "/connectors/ro/signals",
        &json!({"id": "r", "type": "execute-snapshot", "data": {"data-collections": ["public.items"]}}),
    );
    assert_eq!(rest.status, 400, "{}", rest.body);
    assert!(rest.body.contains("read.only"), "{}", rest.body);

    let w = writer(pg.url("app"), ROWS, 20_000);
    // The signal is inserted by a user allowed to (here the superuser).
    table_signal(&db, "ro-1", "public\\.items").await;
    let mut consumer = CdcConsumer::new(
        &broker.bootstrap,
        &daemon.registry,
        "^cdc\\.public\\.items$",
    );
    let mut fold = Fold::default();
    let topic = "cdc.public.items";
    kill_after_reads(&mut consumer, &mut fold, topic, ROWS * 3 / 10, &mut daemon);
    w.await.unwrap();
    let expected = table_state(&db, "items").await;
    assert_exact(
        &mut consumer,
        &mut fold,
        "cdc.public.items",
        &expected,
        || daemon.log(),
    );
    assert!(
        daemon
            .log()
            .contains("incremental snapshot in progress: reading on"),
        "the kill did not land while the snapshot ran\n{}",
        daemon.log()
    );
    // Nothing was written: the signal table holds the one signal.
    let rows: i64 = db
        .query_one("SELECT count(*) FROM debezium_signal", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 1, "watermark rows were written");
    assert!(fold.reads as i64 > ROWS / 2, "{} rows read", fold.reads);
}
