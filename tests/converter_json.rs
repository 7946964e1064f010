//! The JsonConverter differential test: connectors configured with Kafka's JsonConverter
//! (`schemas.enable` true on the connectors, false as the daemon's worker-level `[connect]`
//! converters, for keys and values) capture the differential
//! scenarios' databases (every column type, TOAST, key changes, truncates, transaction
//! metadata, heartbeats, logical decoding messages) into Apache Kafka, and every key and
//! value they wrote is compared byte for byte with what Kafka's own JsonConverter writes for
//! it (`DiffHarness json`):
//! - with schemas, the Java converter reads our bytes into Connect data and writes that
//!   again: with schemas it must give our bytes back, and without schemas our payload;
//! - without schemas, Jackson (the ObjectMapper of Kafka's `JsonSerializer`) must write the
//!   tree it read as we wrote it.
//!
//! Kafka's JsonConverter writes a NaN or infinite float as a string ("NaN") but reads a
//! string in a float field back as 0.0, so a record holding one cannot survive the Java
//! round trip: such a record passes when it matches with those strings read as 0.0, and
//! is counted apart.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::daemon::{Daemon, DaemonOptions, RegistryChoice};
use support::debezium::json_records;
use support::diff_scenarios::scenarios;
use support::kafka::Broker;
use support::pg::PgCluster;
use support::slot::{self, wait_active};

const T: Duration = Duration::from_secs(180);
const JSON: &str = "org.apache.kafka.connect.json.JsonConverter";
const SCENARIOS: &[&str] = &["changes", "messages", "types"];

/// The payload of `{"schema":…,"payload":…}`, as the bytes we wrote.
fn payload(ours: &str) -> &str {
    let rest = ours
        .strip_prefix("{\"schema\":")
        .unwrap_or_else(|| panic!("not a schema envelope: {ours}"));
    let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
    stream.next().unwrap().unwrap();
    let at = stream.byte_offset();
    rest[at..]
        .strip_prefix(",\"payload\":")
        .and_then(|p| p.strip_suffix('}'))
        .unwrap_or_else(|| panic!("no payload after the schema: {ours}"))
}

/// Our bytes with NaN and the infinities as the Java converter reads them back (0.0).
fn non_finite_read_back(ours: &str) -> String {
    ours.replace("\"NaN\"", "0.0")
        .replace("\"-Infinity\"", "0.0")
        .replace("\"Infinity\"", "0.0")
}

#[tokio::test(flavor = "multi_thread")]
async fn json_converter_output_is_kafkas_byte_for_byte() {
    let pg = PgCluster::start();
    let broker = Broker::start();
    let work = tempfile::tempdir().unwrap();
    let modes = [("js", "true"), ("jp", "false")];

    let chosen: Vec<_> = scenarios()
        .into_iter()
        .filter(|s| SCENARIOS.contains(&s.name))
        .collect();
    let mut connectors = Vec::new();
    for s in &chosen {
        let db = pg.create_db(s.name).await;
        db.batch_execute(&s.setup).await.unwrap();
        for (mode, schemas) in modes {
            let mut extra = json!({"snapshot.mode": "initial"});
            for (k, v) in s.config {
                extra[*k] = json!(v);
            }
            extra["topic.prefix"] = json!(format!("{mode}_{}", s.name));
            // Without schemas from the daemon's [connect] converters (Kafka Connect's
            // worker-level defaults), with schemas from the connector's own.
            if schemas == "true" {
                for side in ["key", "value"] {
                    extra[format!("{side}.converter")] = json!(JSON);
                    extra[format!("{side}.converter.schemas.enable")] = json!(schemas);
                }
            }
            connectors.push(pg.connector(&format!("{mode}_{}", s.name), s.name, extra));
        }
    }
    let daemon = Daemon::start_with(
        &work.path().join("daemon"),
        DaemonOptions {
            registry: RegistryChoice::Embedded,
            connectors,
            extra_toml: format!(
                "[connect]\n\"key.converter\" = \"{JSON}\"\n\"key.converter.schemas.enable\" = false\n\"value.converter\" = \"{JSON}\"\n\"value.converter.schemas.enable\" = false\n"
            ),
            ..DaemonOptions::new(&broker.bootstrap)
        },
    );
    for s in &chosen {
        let db = pg.client(s.name).await;
        for (mode, _) in modes {
            wait_active(&db, &format!("{mode}_{}_slot", s.name), T).await;
        }
        for sql in &s.changes {
            db.batch_execute(&format!("BEGIN; {sql}; COMMIT;"))
                .await
                .unwrap();
        }
        // Everything is published once both slots confirm the end of the WAL.
        let slots: Vec<String> = modes
            .iter()
            .map(|(mode, _)| format!("{mode}_{}_slot", s.name))
            .collect();
        slot::wait_caught_up(&db, &slots, T).await;
    }
    assert!(
        !daemon.log().contains("ERROR"),
        "the daemon logged errors:\n{}",
        daemon.log()
    );

    let mut topics = std::collections::BTreeSet::new();
    let mut non_finite = 0;
    for (mode, schemas) in modes {
        let regex = format!("^(__debezium-heartbeat\\.)?{mode}_.*");
        let lines = json_records(
            work.path(),
            &broker.bootstrap,
            &regex,
            1,
            4000,
            schemas == "true",
        );
        assert!(
            lines.len() > 100,
            "{mode}: only {} keys and values",
            lines.len()
        );
        for line in &lines {
            assert!(
                line.get("error").is_none(),
                "Kafka's JsonConverter failed: {line}"
            );
            let (ours, java) = (
                line["ours"].as_str().unwrap(),
                line["java"].as_str().unwrap(),
            );
            let topic = line["topic"].as_str().unwrap();
            topics.insert(topic.replacen(mode, "", 1));
            if ours == java {
                if let Some(plain) = line.get("java_plain") {
                    assert_eq!(payload(ours), plain.as_str().unwrap(), "{topic}");
                }
                continue;
            }
            let read_back = non_finite_read_back(ours);
            assert_eq!(
                read_back, java,
                "{topic} {}: ours, then Kafka's",
                line["side"]
            );
            non_finite += 1;
            if let Some(plain) = line.get("java_plain") {
                assert_eq!(payload(&read_back), plain.as_str().unwrap(), "{topic}");
            }
        }
        println!(
            "JsonConverter schemas.enable={schemas}: {} keys and values identical to Kafka's",
            lines.len()
        );
    }
    println!("{non_finite} of them hold NaN or an infinity (compared as read back)");
    // Every kind of record went through the converter.
    for kind in [
        "_changes.public.doc",
        "_changes.transaction",
        "__debezium-heartbeat._changes",
        "_messages.message",
        "_types.public.every",
        "_types.public.more",
    ] {
        assert!(topics.contains(kind), "no records of {kind}: {topics:?}");
    }
}
