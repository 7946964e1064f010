//! Debezium's column reselector (`post.processors`) beyond what the differential test
//! compares: a lookup by the event's key (`reselect.use.event.key`), and a lookup that
//! finds no row under `reselect.error.handling.mode=fail`, which fails the event and so
//! leaves it to `event.processing.failure.handling.mode`.

mod support;

use std::time::Duration;

use serde_json::json;
use support::capture::Capture;
use support::pg::PgCluster;

const T: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn reselects_by_the_event_key_and_a_missing_row_fails_only_its_event() {
    let pg = PgCluster::start();
    let db = pg.create_db("resel").await;
    db.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, code text UNIQUE NOT NULL, big text, note text);
         ALTER TABLE t ALTER big SET STORAGE EXTERNAL;
         INSERT INTO t VALUES (1, 'a', repeat('x', 5000), NULL), (2, 'b', repeat('y', 5000), NULL);",
    )
    .await
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let connector = pg.connector(
        "resel",
        "resel",
        json!({
            "message.key.columns": "public.t:code",
            "post.processors": "reselector",
            "post.processors.reselector.type":
                "io.debezium.processors.reselect.ReselectColumnsPostProcessor",
            "post.processors.reselector.reselect.use.event.key": "true",
            "post.processors.reselector.reselect.error.handling.mode": "fail",
            "event.processing.failure.handling.mode": "warn",
        }),
    );
    let mut cap = Capture::start(work.path(), &connector);
    cap.wait_lines(2, T).await;

    // The unchanged TOASTed `big` comes back whole, looked up by `code`, the event's key.
    db.batch_execute("UPDATE t SET note = 'n' WHERE id = 1")
        .await
        .unwrap();
    let lines = cap.wait_lines(3, T).await;
    assert_eq!(lines[2]["key"], json!({"code": "a"}));
    assert_eq!(lines[2]["value"]["after"]["big"], json!("x".repeat(5000)));

    // The row is gone by the time its update is read: the update is left out (with a
    // warning naming why), the delete after it is emitted, and so is what follows.
    db.batch_execute(
        "BEGIN; UPDATE t SET note = 'gone' WHERE id = 2; DELETE FROM t WHERE id = 2; COMMIT;
         INSERT INTO t VALUES (3, 'c', 'small', NULL);",
    )
    .await
    .unwrap();
    let lines = cap.wait_lines(6, T).await;
    let ops: Vec<String> = lines[3..]
        .iter()
        .map(|l| l["value"]["op"].to_string())
        .collect();
    assert_eq!(ops, ["\"d\"", "null", "\"c\""], "{lines:?}");
    assert_eq!(lines[3]["value"]["before"]["id"], 2);
    assert_eq!(lines[5]["key"], json!({"code": "c"}));
    assert!(cap.finish_after_stop().success());
    assert_eq!(cap.count(), 6, "{:?}", cap.snapshot_lines());
    let err = cap.stderr_text();
    assert!(err.contains("failed to find the row"), "{err}");
    assert!(err.contains("it is skipped"), "{err}");
}
