//! The publication the connector manages, as Debezium manages it: with
//! `publication.autocreate.mode=filtered` it follows the table filters across restarts;
//! `publish.via.partition.root` on a publication the connector must not alter is an error
//! naming the `ALTER PUBLICATION` that fixes it; at its default, an existing publication's
//! `publish_via_partition_root` decides.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::capture::Capture;
use support::pg::PgCluster;
use support::slot::wait_active;

const T: Duration = Duration::from_secs(60);

async fn published(db: &tokio_postgres::Client, publication: &str) -> Vec<String> {
    db.query(
        "SELECT tablename::text FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1",
        &[&publication],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

fn ids_on(lines: &[Value], topic: &str) -> Vec<i64> {
    lines
        .iter()
        .filter(|l| l["topic"] == topic)
        .map(|l| l["key"]["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_filtered_publication_follows_the_include_list_across_a_restart() {
    let pg = PgCluster::start();
    let db = pg.create_db("follow").await;
    db.batch_execute(
        "CREATE TABLE a (id bigint PRIMARY KEY); CREATE TABLE b (id bigint PRIMARY KEY);
         INSERT INTO a VALUES (1); INSERT INTO b VALUES (1);",
    )
    .await
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let connector = |include: &str| {
        pg.connector(
            "follow",
            "follow",
            json!({"publication.autocreate.mode": "filtered", "table.include.list": include}),
        )
    };
    let cap = Capture::start(work.path(), &connector("public.a"));
    wait_active(&db, "follow_slot", T).await;
    assert_eq!(published(&db, "follow_pub").await, ["a"]);
    let (status, first) = cap.stop();
    assert!(status.success());
    assert_eq!(ids_on(&first, "cdc.public.a"), [1]);

    // b joins the include list: on restart the publication is set to a and b, and b's
    // changes from then on are captured (its existing rows are not read, as in Debezium).
    let mut cap = Capture::start(work.path(), &connector("public.a,public.b"));
    wait_active(&db, "follow_slot", T).await;
    assert_eq!(published(&db, "follow_pub").await, ["a", "b"]);
    db.batch_execute("INSERT INTO b VALUES (2); INSERT INTO a VALUES (2);")
        .await
        .unwrap();
    cap.wait_topic("cdc.public.a", T).await;
    cap.wait_topic("cdc.public.b", T).await;
    // The log is read once the process is gone: stderr may lag stdout.
    assert!(cap.finish_after_stop().success());
    let log = cap.stderr_text();
    let second = cap.snapshot_lines();
    assert_eq!(ids_on(&second, "cdc.public.b"), [2]);
    assert_eq!(ids_on(&second, "cdc.public.a"), [2]);
    assert!(
        log.contains("publication set to the tables the filters select"),
        "{log}"
    );

    // Narrowed again: b leaves the publication.
    let cap = Capture::start(work.path(), &connector("public.a"));
    wait_active(&db, "follow_slot", T).await;
    let (status, _) = cap.stop();
    assert!(status.success());
    assert_eq!(published(&db, "follow_pub").await, ["a"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn partition_root_publishing_on_an_unmanaged_publication_names_the_alter() {
    let pg = PgCluster::start();
    let db = pg.create_db("unmanaged").await;
    db.batch_execute(
        "CREATE TABLE m (id bigint PRIMARY KEY) PARTITION BY RANGE (id);
         CREATE TABLE m_a PARTITION OF m FOR VALUES FROM (0) TO (10);
         CREATE PUBLICATION unmanaged_pub FOR TABLE m;",
    )
    .await
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let connector = pg.connector(
        "unmanaged",
        "unmanaged",
        json!({"publication.autocreate.mode": "disabled", "publish.via.partition.root": "true"}),
    );
    let mut cap = Capture::start(work.path(), &connector);
    let status = cap.exit_within(T).await.expect("the connector stops");
    assert!(!status.success());
    let log = cap.stderr_text();
    assert!(
        log.contains("publish.via.partition.root is true")
            && log.contains(
                "ALTER PUBLICATION \"unmanaged_pub\" SET (publish_via_partition_root = true)"
            ),
        "{log}"
    );
    let pubviaroot = support::slot::publishes_via_root(&db, "unmanaged_pub").await;
    assert!(
        !pubviaroot,
        "a publication the connector does not manage is left alone"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn at_its_default_the_property_leaves_an_existing_publication_to_decide() {
    let pg = PgCluster::start();
    let db = pg.create_db("follows").await;
    db.batch_execute(
        "CREATE TABLE m (id bigint PRIMARY KEY) PARTITION BY RANGE (id);
         CREATE TABLE m_a PARTITION OF m FOR VALUES FROM (0) TO (10);
         CREATE PUBLICATION follows_pub FOR TABLE m WITH (publish_via_partition_root = true);",
    )
    .await
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    // The default mode (all_tables) and no publish.via.partition.root: the publication is
    // the operator's, and is used as it is.
    let connector = pg.connector("follows", "follows", json!({}));
    let mut cap = Capture::start(work.path(), &connector);
    wait_active(&db, "follows_slot", T).await;
    db.batch_execute("INSERT INTO m VALUES (1)").await.unwrap();
    cap.wait_topic("cdc.public.m", T).await;
    assert!(cap.finish_after_stop().success());
    let log = cap.stderr_text();
    let lines = cap.snapshot_lines();
    assert_eq!(ids_on(&lines, "cdc.public.m"), [1]);
    assert!(ids_on(&lines, "cdc.public.m_a").is_empty());
    assert!(!log.contains("are not captured"), "{log}");
    let pubviaroot = support::slot::publishes_via_root(&db, "follows_pub").await;
    assert!(pubviaroot, "the publication is left as it was");
}
