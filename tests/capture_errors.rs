//! Bad setups fail with a clear error that names the fix, and leave nothing behind.

mod support;

use std::time::Duration;

use serde_json::json;
use support::capture::Capture;
use support::pg::{PgCluster, PgConfig, password_auth};
use support::wait_for;

const T: Duration = Duration::from_secs(60);

/// Runs capture to its exit and returns (exit code, stderr).
fn run_to_exit(dir: &std::path::Path, connector: &serde_json::Value) -> (i32, String) {
    let mut cap = Capture::start(dir, connector);
    let (status, lines) = cap.finish();
    assert!(lines.is_empty(), "nothing is captured: {lines:?}");
    let stderr = cap.stderr_text();
    assert!(!stderr.contains("panicked"), "no panic: {stderr}");
    (status.code().unwrap_or(-1), stderr)
}

async fn leftovers(db: &tokio_postgres::Client) -> (i64, i64) {
    let row = db
        .query_one(
            "SELECT (SELECT count(*) FROM pg_publication), (SELECT count(*) FROM pg_replication_slots)",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_is_a_clear_error() {
    let pg = PgCluster::start_with(password_auth());
    let db = pg.create_db("pw").await;
    db.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY); CREATE ROLE cdc LOGIN REPLICATION PASSWORD 'right'",
    )
    .await
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let mut connector = pg.connector(
        "pw",
        "pw",
        json!({"database.user": "cdc", "database.password": "wrong"}),
    );
    let (code, err) = run_to_exit(work.path(), &connector);
    assert_ne!(code, 0);
    assert!(err.contains("password"), "{err}");
    assert!(
        err.contains("database.password"),
        "names the property: {err}"
    );
    assert!(!err.contains("wrong"), "the password never appears: {err}");
    assert_eq!(leftovers(&db).await, (0, 0));

    // The right password works (the role also needs rights to create what it uses).
    db.batch_execute("ALTER ROLE cdc SUPERUSER").await.unwrap();
    connector["config"]["database.password"] = json!("right");
    let mut cap = Capture::start(work.path(), &connector);
    db.batch_execute("INSERT INTO t VALUES (1)").await.unwrap();
    let lines = cap.wait_lines(1, T).await;
    assert_eq!(lines[0]["value"]["after"]["id"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn wal_level_replica_is_a_clear_error() {
    let pg = PgCluster::start_with(PgConfig {
        conf: vec!["wal_level = replica".into()],
        ..PgConfig::default()
    });
    let db = pg.create_db("wal").await;
    db.batch_execute("CREATE TABLE t (id int PRIMARY KEY)")
        .await
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let (code, err) = run_to_exit(work.path(), &pg.connector("wal", "wal", json!({})));
    assert_ne!(code, 0);
    assert!(err.contains("wal_level"), "{err}");
    assert!(
        err.contains("ALTER SYSTEM SET wal_level = logical"),
        "{err}"
    );
    assert_eq!(leftovers(&db).await, (0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_errors_name_the_fix_and_create_nothing() {
    let pg = PgCluster::start();
    let db = pg.create_db("setup").await;
    db.batch_execute(
        "CREATE TABLE keyed (id int PRIMARY KEY, v text); CREATE TABLE loose (v text);",
    )
    .await
    .unwrap();
    let work = tempfile::tempdir().unwrap();

    // Missing publication with autocreate disabled.
    let (code, err) = run_to_exit(
        work.path(),
        &pg.connector(
            "nopub",
            "setup",
            json!({"publication.autocreate.mode": "disabled"}),
        ),
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("publication \"nopub_pub\" does not exist"),
        "{err}"
    );
    assert!(err.contains("CREATE PUBLICATION"), "{err}");
    assert_eq!(leftovers(&db).await, (0, 0));

    // A table without primary key and without REPLICA IDENTITY FULL.
    let (code, err) = run_to_exit(work.path(), &pg.connector("nokey", "setup", json!({})));
    assert_ne!(code, 0);
    assert!(err.contains("public.loose has no primary key"), "{err}");
    assert!(err.contains("REPLICA IDENTITY FULL"), "{err}");
    assert_eq!(leftovers(&db).await, (0, 0));

    // More tables than guardrail.collections.max: under action fail, Debezium's error
    // before anything is created; under warn (the default), its warning, and the start
    // goes on (here to the table without a key).
    let guarded = |action: &str| {
        pg.connector(
            "guard",
            "setup",
            json!({"guardrail.collections.max": "1", "guardrail.collections.limit.action": action}),
        )
    };
    let exceeded = "Guardrail limit exceeded: 2 tables/collections configured for capture, but maximum allowed is 1";
    let (code, err) = run_to_exit(work.path(), &guarded("fail"));
    assert_ne!(code, 0);
    assert!(err.contains(exceeded), "{err}");
    assert!(err.contains("raise guardrail.collections.max"), "{err}");
    assert!(!err.contains("public.loose"), "it stops first: {err}");
    assert_eq!(leftovers(&db).await, (0, 0));
    let (code, err) = run_to_exit(work.path(), &guarded("warn"));
    assert_ne!(code, 0);
    assert!(err.contains(exceeded), "{err}");
    assert!(err.contains("public.loose has no primary key"), "{err}");

    // Unknown property: exit code 2, names the property, touches nothing.
    let (code, err) = run_to_exit(
        work.path(),
        &pg.connector(
            "typo",
            "setup",
            json!({"table.include.lsit": "public.keyed"}),
        ),
    );
    assert_eq!(code, 2);
    assert!(err.contains("table.include.lsit"), "{err}");
    assert_eq!(leftovers(&db).await, (0, 0));

    // A bad regex names its property.
    let (code, err) = run_to_exit(
        work.path(),
        &pg.connector(
            "regex",
            "setup",
            json!({"table.include.list": "public.(keyed"}),
        ),
    );
    assert_eq!(code, 2);
    assert!(err.contains("table.include.list"), "{err}");

    // The slot in use by another process.
    let ok = pg.connector(
        "busy",
        "setup",
        json!({"table.include.list": "public.keyed"}),
    );
    let _first = Capture::start(work.path(), &ok);
    wait_for("the first connector to stream", T, async || {
        let row = db
            .query_opt(
                "SELECT active FROM pg_replication_slots WHERE slot_name = 'busy_slot'",
                &[],
            )
            .await
            .ok()??;
        row.get::<_, bool>(0).then_some(())
    })
    .await;
    // Looked at again slot.max.retries times, slot.retry.delay.ms apart, then an error
    // naming the holder and both properties.
    let mut retried = ok.clone();
    retried["config"]["slot.max.retries"] = json!("2");
    retried["config"]["slot.retry.delay.ms"] = json!("300");
    let second_dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let (code, err) = run_to_exit(second_dir.path(), &retried);
    assert_ne!(code, 0);
    assert!(started.elapsed() >= Duration::from_millis(600), "{err}");
    assert!(
        err.contains("replication slot \"busy_slot\" is in use"),
        "{err}"
    );
    assert!(err.contains("after 2 retries 300ms apart"), "{err}");
    assert!(err.contains("slot.name"), "{err}");

    // A slot freed while the connector waits for it is taken.
    retried["config"]["slot.max.retries"] = json!("100");
    let mut waiting = Capture::start(second_dir.path(), &retried);
    wait_for("the connector to wait for the slot", T, async || {
        waiting
            .stderr_text()
            .contains("looking again")
            .then_some(())
    })
    .await;
    drop(_first);
    db.batch_execute("INSERT INTO keyed VALUES (1, 'after')")
        .await
        .unwrap();
    let lines = waiting.wait_lines(1, T).await;
    assert_eq!(lines[0]["value"]["after"]["id"], 1);
    assert!(waiting.finish_after_stop().success());

    // A slot taken after the connector looked at it (here while it waits out
    // streaming.delay.ms after its snapshot) refuses START_REPLICATION (55006): that is
    // waited for the same way, on a new connection.
    let mut late = pg.connector(
        "late",
        "setup",
        json!({
            "table.include.list": "public.keyed",
            "streaming.delay.ms": "3000",
            "slot.max.retries": "100",
            "slot.retry.delay.ms": "300",
        }),
    );
    let late_dir = tempfile::tempdir().unwrap();
    let mut delayed = Capture::start(late_dir.path(), &late);
    wait_for("the snapshot to end", T, async || {
        delayed
            .stderr_text()
            .contains("waiting streaming.delay.ms")
            .then_some(())
    })
    .await;
    late["config"]["snapshot.mode"] = json!("no_data");
    let holder_dir = tempfile::tempdir().unwrap();
    let holder = Capture::start(holder_dir.path(), &late);
    wait_for("the connector to find the slot taken", T, async || {
        delayed
            .stderr_text()
            .contains("looking again")
            .then_some(())
    })
    .await;
    drop(holder);
    db.batch_execute("INSERT INTO keyed VALUES (2, 'late')")
        .await
        .unwrap();
    let lines = delayed.wait_lines(2, T).await;
    assert_eq!(lines[0]["value"]["op"], "r", "the snapshot read row 1");
    assert_eq!(lines[1]["value"]["after"]["id"], 2);
    assert!(delayed.finish_after_stop().success());
    let err = delayed.stderr_text();
    assert!(!err.contains("panicked"), "{err}");
}

/// An event that cannot be made (here a NOT NULL `vector` whose text Debezium's reader turns
/// into NULL) stops the connector by default, naming the event's position, the column and
/// the property that skips it; with `event.processing.failure.handling.mode=warn` the same
/// event is skipped with a warning and the stream moves on from it.
#[tokio::test(flavor = "multi_thread")]
async fn an_event_that_cannot_be_made_fails_or_is_skipped_as_configured() {
    let pg = PgCluster::start();
    let db = pg.create_db("fail").await;
    db.batch_execute(&format!(
        "{}\nCREATE TABLE t (id int PRIMARY KEY, r vector NOT NULL, v vector);",
        support::diff_scenarios::VECTOR_TYPES_DDL
    ))
    .await
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    db.batch_execute("INSERT INTO t VALUES (1, '[1]', '[1,x]')")
        .await
        .unwrap();
    let mut connector = pg.connector("fail", "fail", json!({}));
    let mut cap = Capture::start(work.path(), &connector);
    let lines = cap.wait_lines(1, T).await;
    // A column that does not convert is NULL, with a warning (Debezium's default).
    assert_eq!(lines[0]["value"]["after"]["id"], 1);
    assert_eq!(lines[0]["value"]["after"]["r"], json!([1.0]));
    assert_eq!(lines[0]["value"]["after"]["v"], json!(null));
    db.batch_execute("INSERT INTO t VALUES (2, 'oops', '[2]')")
        .await
        .unwrap();
    let status = cap.exit_within(T).await.expect("the connector stops");
    assert!(!status.success());
    let err = cap.stderr_text();
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("failed to convert a column value"), "{err}");
    assert!(err.contains("error while processing the event at"), "{err}");
    assert!(err.contains("table public.t: column r"), "{err}");
    assert!(
        err.contains("event.processing.failure.handling.mode=warn"),
        "{err}"
    );
    assert_eq!(cap.count(), 1, "the event is not emitted");

    // Under warn, the restart skips the event it stopped at and carries on.
    connector["config"]["event.processing.failure.handling.mode"] = json!("warn");
    let mut cap = Capture::start(work.path(), &connector);
    db.batch_execute("INSERT INTO t VALUES (3, '[3]', NULL)")
        .await
        .unwrap();
    let lines = cap.wait_lines(1, T).await;
    assert_eq!(lines[0]["value"]["after"]["id"], 3);
    assert!(cap.finish_after_stop().success());
    assert_eq!(cap.count(), 1, "{:?}", cap.snapshot_lines());
    let err = cap.stderr_text();
    assert!(err.contains("it is skipped"), "{err}");
}
