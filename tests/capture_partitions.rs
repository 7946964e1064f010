//! Partitioned tables with `publish.via.partition.root=true`, through the daemon to Apache
//! Kafka: the snapshot reads every partition under the root's topic and schema, in ctid
//! chunks of each partition; a kill -9 in the middle of it loses and repeats nothing
//! (read_committed); partitions attached or created while the connector runs are captured
//! without a restart. (Without the property, partitions are captured as Debezium captures
//! them: the differential test's `partitions` scenario.)

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use support::daemon::{Daemon, RegistryChoice};
use support::kafka::{Broker, CdcConsumer, Record, http};
use support::pg::PgCluster;
use support::wait_for;

const T: Duration = Duration::from_secs(300);
const ROWS: i64 = 300_000;
const TOPIC: &str = "cdc.public.meas";

/// The connector's committed offset, as `GET /connectors/parts/offsets` shows it.
fn offset(daemon: &Daemon) -> Option<Value> {
    let (status, body) = http(
        "GET",
        &format!("{}/connectors/parts/offsets", daemon.api),
        None,
    );
    (status == 200).then(|| body["offsets"][0]["offset"].clone())
}

/// Applies the records strictly: a read or create needs its key absent, an update or delete
/// needs it present; any violation is a change delivered twice or lost.
fn replay(records: &[Record]) -> (BTreeMap<i64, Value>, Vec<String>) {
    let mut state = BTreeMap::new();
    let mut violations = Vec::new();
    for r in records {
        let Some(v) = &r.value else { continue };
        let id = r.key.as_ref().unwrap()["id"].as_i64().unwrap();
        let after = || {
            let a = &v["after"];
            json!([a["v"], a["pad"]])
        };
        match v["op"].as_str().unwrap() {
            "r" | "c" => {
                if state.insert(id, after()).is_some() {
                    violations.push(format!("{} of existing id {id}", v["op"]));
                }
            }
            "u" => {
                if state.insert(id, after()).is_none() {
                    violations.push(format!("u of missing id {id}"));
                }
            }
            "d" => {
                if state.remove(&id).is_none() {
                    violations.push(format!("d of missing id {id}"));
                }
            }
            op => violations.push(format!("unexpected op {op}")),
        }
    }
    (state, violations)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partitioned_table_is_captured_under_its_root_across_a_kill_9_mid_snapshot() {
    let pg = PgCluster::start();
    let db = pg.create_db("parts").await;
    db.batch_execute(&format!(
        "CREATE TABLE meas (id bigint PRIMARY KEY, v int NOT NULL, pad text NOT NULL) PARTITION BY RANGE (id);
         -- Half-full pages: an update keeps its row on its page, so in its chunk.
         CREATE TABLE meas_a PARTITION OF meas FOR VALUES FROM (1) TO (100001) WITH (fillfactor = 50);
         CREATE TABLE meas_b PARTITION OF meas FOR VALUES FROM (100001) TO (200001) WITH (fillfactor = 50);
         CREATE TABLE meas_c PARTITION OF meas FOR VALUES FROM (200001) TO (400001) WITH (fillfactor = 50);
         INSERT INTO meas SELECT g, 0, md5(g::text) FROM generate_series(1, {ROWS}) g;
         ANALYZE meas;
         -- A publication made before, without publish_via_partition_root: the connector
         -- manages it (filtered), so it sets the option the config asks for.
         CREATE PUBLICATION parts_pub FOR TABLE meas;"
    ))
    .await
    .unwrap();
    let broker = Broker::start();
    let work = tempfile::tempdir().unwrap();
    let connector = pg.connector(
        "parts",
        "parts",
        json!({
            "table.include.list": "public.meas",
            "publish.via.partition.root": "true",
            "publication.autocreate.mode": "filtered",
            "snapshot.max.threads": "2",
            "snapshot.chunk.pages": "200",
        }),
    );
    let mut daemon = Daemon::start(
        work.path(),
        &broker.bootstrap,
        RegistryChoice::Embedded,
        &connector,
    );

    // Kill the daemon once some chunks of the partitioned table are committed.
    let before_kill = wait_for("two committed snapshot chunks", T, async || {
        let o = offset(&daemon)?;
        let done = o["snapshot"]["tables"]["public.meas"]["done"]
            .as_array()?
            .len();
        (done >= 2).then_some(o)
    })
    .await;
    daemon.kill9();
    let plan = &before_kill["snapshot"]["tables"]["public.meas"];
    let parts: Vec<&str> = plan["parts"]
        .as_array()
        .expect("a partitioned table's plan lists its partitions")
        .iter()
        .map(|p| p["table"].as_str().unwrap())
        .collect();
    assert_eq!(
        parts,
        ["public.meas_a", "public.meas_b", "public.meas_c"],
        "{before_kill}"
    );
    assert!(
        plan["chunks"].as_u64().unwrap() > 3,
        "each partition is read in ctid chunks: {before_kill}"
    );
    let pubviaroot = support::slot::publishes_via_root(&db, "parts_pub").await;
    assert!(
        pubviaroot,
        "the managed publication is set to publish via the root"
    );

    // Changes while the daemon is down, in every partition: whether their rows' chunks
    // were finished or not, each reaches the topic once (streamed, or read at its new
    // version by the resumed snapshot).
    db.batch_execute(
        "UPDATE meas SET v = 1 WHERE id IN (7, 150000, 299999);
         INSERT INTO meas VALUES (300001, 2, 'while down');",
    )
    .await
    .unwrap();
    daemon.restart();
    let after = wait_for("the resumed snapshot to complete", T, async || {
        let o = offset(&daemon)?;
        (o["snapshot"]["completed"] == true).then_some(o)
    })
    .await;
    let done: usize = after["snapshot"]["tables"]["public.meas"]["done"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(
        done as u64,
        plan["chunks"].as_u64().unwrap(),
        "the resumed snapshot follows the plan made before the kill"
    );
    assert!(
        daemon.log().contains("resuming=true"),
        "the kill landed before the snapshot finished:\n{}",
        daemon.log()
    );

    // Partitions added while the connector streams: one attached, one created in place.
    db.batch_execute(
        "CREATE TABLE meas_d (id bigint PRIMARY KEY, v int NOT NULL, pad text NOT NULL);
         ALTER TABLE meas ATTACH PARTITION meas_d FOR VALUES FROM (400001) TO (1000001);
         INSERT INTO meas VALUES (400001, 3, 'attached');
         UPDATE meas SET v = 4 WHERE id = 400001;
         CREATE TABLE meas_e PARTITION OF meas FOR VALUES FROM (1000001) TO (2000001);
         INSERT INTO meas VALUES (1000001, 5, 'created');
         DELETE FROM meas WHERE id IN (9, 150001);
         INSERT INTO meas VALUES (1999999, 6, 'marker');",
    )
    .await
    .unwrap();

    let mut consumer = CdcConsumer::new(&broker.bootstrap, &daemon.registry, "^cdc\\..*");
    let mut checked = 0;
    let arrived = consumer.poll_until(T, |records| {
        let found = records[checked..].iter().any(|r| {
            r.value
                .as_ref()
                .is_some_and(|v| v["after"]["pad"] == "marker")
        });
        checked = records.len();
        found
    });
    assert!(
        arrived,
        "the marker did not arrive ({} records read)\n{}",
        consumer.records.len(),
        daemon.log()
    );
    // A moment for anything (wrongly) published after the marker.
    consumer.poll_until(Duration::from_secs(2), |_| false);
    let records = &consumer.records;
    let topics: std::collections::BTreeSet<&str> =
        records.iter().map(|r| r.topic.as_str()).collect();
    assert_eq!(
        topics,
        [TOPIC].into(),
        "every partition's rows go to the root's topic"
    );
    for r in records.iter().filter_map(|r| r.value.as_ref()) {
        assert_eq!(r["source"]["table"], "meas", "{r}");
    }
    let (state, violations) = replay(records);
    assert!(
        violations.is_empty(),
        "{} violations (a change lost or repeated), first: {:?}",
        violations.len(),
        &violations[..violations.len().min(5)]
    );
    let expected: BTreeMap<i64, Value> = db
        .query("SELECT id, v, pad FROM meas", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.get::<_, i64>(0),
                json!([r.get::<_, i32>(1), r.get::<_, String>(2)]),
            )
        })
        .collect();
    assert_eq!(state.len(), expected.len(), "rows derived from the topic");
    assert!(state == expected, "the topic's state equals the table's");
    let reads = records
        .iter()
        .filter(|r| r.value.as_ref().is_some_and(|v| v["op"] == "r"))
        .count();
    eprintln!(
        "{} records; {reads} snapshot reads of {ROWS} rows across a kill -9",
        records.len()
    );
}

/// Without `publish.via.partition.root`, Postgres publishes a partition's changes under the
/// partition's name: a filter that selects only the root captures its snapshot but none of
/// its streamed changes (as in Debezium), and the log says so once, with both fixes.
#[tokio::test(flavor = "multi_thread")]
async fn a_root_selected_without_its_partitions_streams_nothing_of_them_and_says_why() {
    let pg = PgCluster::start();
    let db = pg.create_db("rootonly").await;
    db.batch_execute(
        "CREATE TABLE meas (id bigint PRIMARY KEY, v int NOT NULL) PARTITION BY RANGE (id);
         CREATE TABLE meas_a PARTITION OF meas FOR VALUES FROM (1) TO (100);
         CREATE TABLE meas_b PARTITION OF meas FOR VALUES FROM (100) TO (200);
         CREATE TABLE plain (id bigint PRIMARY KEY, v int NOT NULL);
         INSERT INTO meas VALUES (1, 0), (150, 0);",
    )
    .await
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let connector = pg.connector(
        "rootonly",
        "rootonly",
        json!({"table.include.list": "public.meas,public.plain"}),
    );
    let mut cap = support::capture::Capture::start(work.path(), &connector);
    let snapshot = cap.wait_lines(2, T).await;
    let topics: Vec<&str> = snapshot
        .iter()
        .map(|l| l["topic"].as_str().unwrap())
        .collect();
    assert_eq!(
        topics,
        [TOPIC, TOPIC],
        "the root's snapshot reads both partitions"
    );
    support::slot::wait_active(&db, "rootonly_slot", T).await;
    db.batch_execute("INSERT INTO meas VALUES (2, 1), (151, 1); INSERT INTO plain VALUES (1, 1);")
        .await
        .unwrap();
    cap.wait_topic("cdc.public.plain", T).await;
    // The log is read once the process is gone: its stderr is a pipe of its own, which
    // may lag the line just seen on stdout.
    assert!(cap.finish_after_stop().success());
    let log = cap.stderr_text();
    let lines = cap.snapshot_lines();
    let streamed: Vec<&Value> = lines
        .iter()
        .filter(|l| l["topic"] == TOPIC)
        .skip(2)
        .collect();
    assert!(streamed.is_empty(), "{streamed:?}");
    for partition in ["public.meas_a", "public.meas_b"] {
        let warning = format!("changes to partition {partition} are not captured");
        assert_eq!(log.matches(&warning).count(), 1, "{log}");
    }
    assert!(log.contains("publish.via.partition.root=true"), "{log}");
}
