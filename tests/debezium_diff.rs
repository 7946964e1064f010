//! The differential test: the real Debezium 3.6 Postgres connector (embedded engine, Java)
//! and Tributary (the daemon, publishing Avro to Apache Kafka) capture the same database
//! through their own slots; every record, rendered alike by the harness (Avro schemas as
//! Confluent's AvroData makes Debezium's Connect schemas, values in Avro's JSON encoding),
//! must be identical field by field except values that legitimately differ
//! (`support::eventdiff`). Each scenario is one database, one Debezium engine and one
//! Tributary connector with the same properties and topic prefix.

#![recursion_limit = "256"]

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::daemon::{Daemon, DaemonOptions, RegistryChoice};
use support::debezium::{Debezium, kafka_records};
use support::diff_scenarios::{Scenario, scenarios};
use support::eventdiff::compare;
use support::kafka::Broker;
use support::pg::PgCluster;
use support::slot::{self, wait_active};

const T: Duration = Duration::from_secs(180);

/// How many of `records` (per scenario) are not heartbeats.
fn non_heartbeats(records: &[Vec<Value>]) -> usize {
    records
        .iter()
        .flatten()
        .filter(|r| {
            !r["topic"]
                .as_str()
                .unwrap()
                .starts_with("__debezium-heartbeat")
        })
        .count()
}

/// Differences the test knows and explains, with why they remain: a difference matching
/// one of these substrings is reported but does not fail the test.
const KNOWN: &[(&str, &str)] = &[];

#[tokio::test(flavor = "multi_thread")]
async fn tributary_emits_what_debezium_emits() {
    let pg = PgCluster::start();
    let broker = Broker::start();
    let work = tempfile::tempdir().unwrap();
    let scenarios = scenarios();

    let mut connectors = Vec::new();
    let mut engines = Vec::new();
    for s in &scenarios {
        let db = pg.create_db(s.name).await;
        db.batch_execute(&s.setup).await.unwrap();
        let mut extra = json!({"topic.prefix": s.name, "snapshot.mode": "initial"});
        for (k, v) in s.config {
            extra[*k] = json!(v);
        }
        connectors.push(pg.connector(&format!("trib_{}", s.name), s.name, extra.clone()));
        let mut props: Vec<(String, String)> = [
            ("database.hostname", "127.0.0.1".to_string()),
            ("database.port", pg.port.to_string()),
            ("database.user", "postgres".into()),
            ("database.password", "".into()),
            ("database.dbname", s.name.into()),
            ("database.sslmode", "disable".into()),
            ("plugin.name", "pgoutput".into()),
            ("slot.name", format!("dbz_{}_slot", s.name)),
            ("publication.name", format!("dbz_{}_pub", s.name)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for (k, v) in extra.as_object().unwrap() {
            props.push((k.clone(), v.as_str().unwrap().to_string()));
        }
        engines.push((format!("dbz_{}", s.name), props));
    }
    let daemon = Daemon::start_with(
        &work.path().join("daemon"),
        DaemonOptions {
            registry: RegistryChoice::Embedded,
            connectors,
            ..DaemonOptions::new(&broker.bootstrap)
        },
    );
    let debezium = Debezium::start(&work.path().join("debezium"), &engines);

    for s in &scenarios {
        let db = pg.client(s.name).await;
        // Each connector streams once its snapshot is done: Tributary opens its stream
        // after the snapshot, Debezium may open it before, so its `last` row is awaited.
        wait_active(&db, &format!("trib_{}_slot", s.name), T).await;
        let engine = format!("dbz_{}", s.name);
        let dbz_slot = format!("dbz_{}_slot", s.name);
        support::wait_for("Debezium's slot", T, async || {
            // Panics with the engine's failure, should it have failed.
            debezium.records(&engine);
            (slot::active(&db, &dbz_slot).await == Some(true)).then_some(())
        })
        .await;
        support::wait_for("Debezium's snapshot", T, async || {
            debezium
                .records(&engine)
                .iter()
                .any(|r| r["value"]["source"]["snapshot"]["string"] == "last")
                .then_some(())
        })
        .await;
        for sql in &s.changes {
            db.batch_execute(&format!("BEGIN; {sql}; COMMIT;"))
                .await
                .unwrap();
        }
    }

    // Debezium's output is complete once it stops growing.
    let mut last = (0, std::time::Instant::now());
    let dbz: Vec<Vec<Value>> = loop {
        let all: Vec<Vec<Value>> = scenarios
            .iter()
            .map(|s| debezium.records(&format!("dbz_{}", s.name)))
            .collect();
        // Heartbeats never stop: only the other records count.
        let n = non_heartbeats(&all);
        if n != last.0 {
            last = (n, std::time::Instant::now());
        } else if n > 0 && last.1.elapsed() > Duration::from_secs(5) {
            break all;
        }
        assert!(
            last.1.elapsed() < T,
            "Debezium emitted nothing:\n{}",
            debezium.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let expected = non_heartbeats(&dbz);
    let prefixes: Vec<&str> = scenarios.iter().map(|s| s.name).collect();
    let regex = format!(
        "^(__debezium-heartbeat\\.({0})|({0})\\..*)$",
        prefixes.join("|")
    );
    // Tributary's last Kafka transaction may commit a moment after the others on a busy
    // machine: a comparison that finds differences reads the topics again, up to 3 times.
    let mut attempt = 0;
    let (failures, identical, known, lines) = loop {
        attempt += 1;
        let ours = kafka_records(
            work.path(),
            &broker.bootstrap,
            &daemon.registry,
            &regex,
            expected,
            4000,
        );
        let result = compare_all(&scenarios, &dbz, &ours);
        if result.0.is_empty() || attempt == 3 {
            break result;
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    };
    for line in &lines {
        println!("{line}");
    }
    println!(
        "differential test: {identical} fields identical to Debezium 3.6.1's, {known} known differences"
    );
    debezium.stop();
    assert!(
        failures.is_empty(),
        "scenarios with unexplained differences: {failures:?}"
    );

    // A Debezium config as teams run it, with 30+ of its properties, is taken as it is.
    let real = real_world_config(&pg);
    let n = real.as_object().unwrap().len();
    assert!(n >= 30, "{n} properties");
    let (status, body) =
        support::kafka::http("PUT", &format!("{}{VALIDATE}", daemon.api), Some(&real));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["error_count"], 0, "{body}");
    let (status, body) = support::kafka::http(
        "POST",
        &format!("{}/connectors", daemon.api),
        Some(&json!({"name": "real", "config": real})),
    );
    assert_eq!(status, 201, "{body}");
    // The connector logs them as it starts, after the POST has been answered.
    support::wait_for(
        "the properties without effect to be named in a warning",
        T,
        async || {
            let log = daemon.log();
            (log.contains("snapshot.lock.timeout.ms") && log.contains("has no effect"))
                .then_some(())
        },
    )
    .await;
}

/// Compares each scenario's records; returns the scenarios with unexplained differences,
/// the identical and known counts, and the report lines.
fn compare_all(
    scenarios: &[Scenario],
    dbz: &[Vec<Value>],
    ours: &[Value],
) -> (Vec<&'static str>, usize, usize, Vec<String>) {
    let mut failures = Vec::new();
    let mut lines = Vec::new();
    let (mut identical, mut known) = (0, 0);
    for (s, dbz) in scenarios.iter().zip(dbz) {
        let mine: Vec<Value> = ours
            .iter()
            .filter(|r| {
                let t = r["topic"].as_str().unwrap();
                t.strip_prefix("__debezium-heartbeat.")
                    .unwrap_or(t)
                    .split('.')
                    .next()
                    == Some(s.name)
            })
            .cloned()
            .collect();
        let report = compare(dbz, &mine);
        lines.push(format!(
            "scenario {}: {} Debezium records, {} Tributary records; {} fields identical, {} skipped, {} different",
            s.name,
            dbz.len(),
            mine.len(),
            report.identical,
            report.skipped,
            report.differences.len()
        ));
        identical += report.identical;
        let mut unexplained = 0;
        for d in &report.differences {
            match KNOWN.iter().find(|(pattern, _)| d.contains(pattern)) {
                Some((_, why)) => {
                    known += 1;
                    lines.push(format!("  {}: known ({why}): {d}", s.name));
                }
                None => {
                    unexplained += 1;
                    lines.push(format!("  {}: {d}", s.name));
                }
            }
        }
        if unexplained > 0 {
            failures.push(s.name);
        }
    }
    (failures, identical, known, lines)
}

const VALIDATE: &str =
    "/connector-plugins/io.debezium.connector.postgresql.PostgresConnector/config/validate";

/// A Debezium 3.6 Postgres connector config of the kind found in production.
fn real_world_config(pg: &PgCluster) -> Value {
    json!({
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "tasks.max": "1",
        "database.hostname": "127.0.0.1",
        "database.port": pg.port.to_string(),
        "database.user": "postgres",
        "database.password": "",
        "database.dbname": "types",
        "database.sslmode": "disable",
        "database.tcpKeepAlive": "true",
        "topic.prefix": "real",
        "plugin.name": "pgoutput",
        "slot.name": "real_slot",
        "publication.name": "real_pub",
        "publication.autocreate.mode": "filtered",
        "table.include.list": "public.every,public.more",
        "column.exclude.list": "public.more.c_box",
        "snapshot.mode": "initial",
        "snapshot.locking.mode": "none",
        "snapshot.lock.timeout.ms": "10000",
        "snapshot.isolation.mode": "serializable",
        "snapshot.fetch.size": "10240",
        "snapshot.max.threads": "2",
        "decimal.handling.mode": "string",
        "time.precision.mode": "adaptive_time_microseconds",
        "binary.handling.mode": "base64",
        "interval.handling.mode": "string",
        "hstore.handling.mode": "map",
        "include.unknown.datatypes": "false",
        "tombstones.on.delete": "true",
        "skipped.operations": "t",
        "heartbeat.interval.ms": "10000",
        "provide.transaction.metadata": "false",
        "max.batch.size": "4096",
        "max.queue.size": "16384",
        "max.queue.size.in.bytes": "104857600",
        "poll.interval.ms": "100",
        "slot.max.retries": "10",
        "slot.retry.delay.ms": "5000",
        "status.update.interval.ms": "10000",
        "schema.refresh.mode": "columns_diff",
        "topic.naming.strategy": "io.debezium.schema.SchemaTopicNamingStrategy",
        "errors.max.retries": "-1",
        "retriable.restart.connector.wait.ms": "10000",
        "event.processing.failure.handling.mode": "warn",
        "event.converting.failure.handling.mode": "warn",
        "schema.name.adjustment.mode": "avro",
        "extended.headers.enabled": "true",
        "post.processors": "reselector",
        "post.processors.reselector.type": "io.debezium.processors.reselect.ReselectColumnsPostProcessor",
        "post.processors.reselector.reselect.columns.include.list": "public\\.every:c_text,public\\.more:c_hstore",
        "post.processors.reselector.reselect.null.values": "false",
        "key.converter": "io.confluent.connect.avro.AvroConverter",
        "value.converter": "io.confluent.connect.avro.AvroConverter",
        "key.converter.schema.registry.url": "http://registry:8081",
        "value.converter.schema.registry.url": "http://registry:8081",
    })
}

/// Every property of Debezium 3.6.1's `PostgresConnectorConfig.ALL_FIELDS`, listed from its
/// jar, is a Tributary property or one of the Debezium-only properties Tributary treats
/// (accepts with a warning, accepts at the values it honours, or refuses naming why).
#[test]
fn every_debezium_postgres_property_is_known() {
    use tributary_postgres::config::{debezium, property};
    let fields = support::debezium::debezium_fields();
    assert!(fields.len() > 100, "{fields:?}");
    let mut unknown = Vec::new();
    let (mut ours, mut theirs) = (0, 0);
    for line in &fields {
        let name = line.split('\t').next().unwrap();
        let patterned = debezium::PATTERNED.iter().any(|(n, _)| *n == name);
        if property(name).is_some() || patterned {
            ours += 1;
        } else if debezium::treatment(name).is_some() {
            theirs += 1;
        } else {
            unknown.push(name.to_string());
        }
    }
    println!(
        "Debezium 3.6.1 Postgres properties: {} ({ours} Tributary properties, {theirs} Debezium-only)",
        fields.len()
    );
    assert!(unknown.is_empty(), "not known to Tributary: {unknown:?}");
}
