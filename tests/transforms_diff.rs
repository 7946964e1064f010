//! The transforms differential test: the differential scenarios' databases (every column
//! type, TOAST, key changes, truncates, transaction metadata, logical decoding messages)
//! are captured into Apache Kafka with the JsonConverter (schemas on, no transforms), and
//! every record runs through the same transform chains in Kafka Connect's and Debezium's
//! Java implementations (`DiffHarness transform`) and in Tributary's. What comes out —
//! dropped or not, topic, partition, key, value (as the JsonConverter writes them) and
//! headers (as the SimpleHeaderConverter writes them) — must be identical.
//!
//! What comes out of each chain is also written by Kafka's `StringConverter` and
//! `ByteArrayConverter`, key and value (the texts Java prints by object identity or hash
//! order excepted). Each record's value is also written by Debezium's `CloudEventsConverter` (three
//! configurations) and by Tributary's, and must come out byte for byte the same.
//!
//! Both sides read the records without their headers or timestamp (Debezium's records
//! carry no timestamp when they reach the transforms; headers are added by the chains);
//! the timestamp a chain gives (the outbox router's) is compared.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use support::daemon::{Daemon, DaemonOptions, RegistryChoice};
use support::debezium::transform_records;
use support::diff_scenarios::{outbox_scenario, scenarios};
use support::kafka::Broker;
use support::pg::PgCluster;
use support::slot::{self, wait_active};
use support::transform_chains::chains;
use tributary_connect::cloudevents::{self, CloudEventsSettings};
use tributary_connect::config::{Findings, JsonSettings};
use tributary_connect::json::{self, read::read_record};
use tributary_connect::record::header_text;
use tributary_connect::{Chain, Converter, Pipeline, Record, plain};

const T: Duration = Duration::from_secs(180);
const JSON: &str = "org.apache.kafka.connect.json.JsonConverter";
const SCENARIOS: &[&str] = &["changes", "messages", "types", "time_micros", "outbox"];
/// The scenarios' records (128 when this was written, 24 of them the outbox's and 21 each
/// the type tables'; heartbeats are not read).
const MIN_RECORDS: usize = 120;

/// The CloudEventsConverter configurations of the harness (`CE_CONFIGS`), read as a
/// connector's `value.converter.*` properties.
fn cloudevents_settings() -> Vec<(&'static str, CloudEventsSettings)> {
    let configs: [(&str, &[(&str, &str)]); 3] = [
        ("default", &[]),
        ("plain_data", &[("json.schemas.enable", "false")]),
        (
            "no_extensions",
            &[
                ("extension.attributes.enable", "false"),
                ("json.decimal.format", "NUMERIC"),
            ],
        ),
    ];
    configs
        .iter()
        .map(|(name, settings)| {
            let mut props = BTreeMap::from([(
                "value.converter".to_string(),
                cloudevents::CLOUDEVENTS_CONVERTER.to_string(),
            )]);
            for (k, v) in *settings {
                props.insert(format!("value.converter.{k}"), v.to_string());
            }
            let mut found = Findings::default();
            let pipeline = Pipeline::parse(&props, &BTreeMap::new(), &mut found);
            assert!(
                found.errors.is_empty() && found.warnings.is_empty(),
                "{found:?}"
            );
            match pipeline.value {
                Converter::CloudEvents(s) => (*name, s),
                other => panic!("{other:?}"),
            }
        })
        .collect()
}

/// One side by the StringConverter (text) or the ByteArrayConverter (base64, or "error").
fn plain_side(
    converter: Converter,
    schema: Option<&tributary_core::Schema>,
    value: Option<&tributary_core::Value>,
) -> Value {
    let mut buf = Vec::new();
    if converter == Converter::String {
        plain::write_string(&mut buf, schema, value);
        return value.map_or(Value::Null, |_| json!(String::from_utf8(buf).unwrap()));
    }
    match plain::write_bytes(&mut buf, schema, value) {
        Err(_) => json!("error"),
        Ok(()) if value.is_none() => Value::Null,
        Ok(()) => {
            use base64::Engine as _;
            json!(base64::engine::general_purpose::STANDARD.encode(&buf))
        }
    }
}

/// Java prints a byte array by identity (`[B@1b6d3586`) and a map in hash order: those
/// StringConverter texts are not compared.
fn comparable_strings(java: &mut Value, ours: &mut Value, maps: [bool; 2]) -> usize {
    let mut skipped = 0;
    for (i, map) in maps.into_iter().enumerate() {
        let by_identity = java["out"]["strings"][i]
            .as_str()
            .is_some_and(|t| t.contains("[B@"));
        if by_identity || map {
            java["out"]["strings"][i] = json!("(not comparable)");
            ours["out"]["strings"][i] = json!("(not comparable)");
            skipped += 1;
        }
    }
    skipped
}

/// Whether a schema holds a map anywhere.
fn has_map(schema: Option<&tributary_core::Schema>) -> bool {
    use tributary_core::SchemaType;
    schema.is_some_and(|s| match &s.ty {
        SchemaType::Map(..) => true,
        SchemaType::Array(item) => has_map(Some(item)),
        SchemaType::Struct(fields) => fields.iter().any(|f| has_map(Some(&f.schema))),
        _ => false,
    })
}

/// What a chain gave for a record, in the harness's form.
fn rendered(out: Option<Record>) -> Value {
    let Some(r) = out else {
        return json!({"out": null});
    };
    let settings = JsonSettings::default();
    let side = |schema: Option<&tributary_core::Schema>, value: Option<&tributary_core::Value>| {
        let mut schema_json = Vec::new();
        if let Some(s) = schema {
            json::write_schema(&mut schema_json, &settings, s);
        }
        let mut buf = Vec::new();
        json::write_record(&mut buf, &settings, schema, &schema_json, value)
            .then(|| String::from_utf8(buf).unwrap())
    };
    json!({"out": {
        "topic": r.topic,
        "partition": r.partition,
        "timestamp": r.timestamp,
        "key": side(r.key_schema.as_deref(), r.key.as_ref()),
        "value": side(r.value_schema.as_deref(), r.value.as_ref()),
        "headers": r.headers.iter().map(|h| json!([h.key, header_text(h)])).collect::<Vec<_>>(),
        "strings": [
            plain_side(Converter::String, r.key_schema.as_deref(), r.key.as_ref()),
            plain_side(Converter::String, r.value_schema.as_deref(), r.value.as_ref()),
        ],
        "bytes": [
            plain_side(Converter::ByteArray, r.key_schema.as_deref(), r.key.as_ref()),
            plain_side(Converter::ByteArray, r.value_schema.as_deref(), r.value.as_ref()),
        ],
    }})
}

#[tokio::test(flavor = "multi_thread")]
async fn transforms_match_kafka_connect_and_debezium() {
    let pg = PgCluster::start();
    let broker = Broker::start();
    let work = tempfile::tempdir().unwrap();
    let chosen: Vec<_> = scenarios()
        .into_iter()
        .chain([outbox_scenario()])
        .filter(|s| SCENARIOS.contains(&s.name))
        .collect();
    let mut connectors = Vec::new();
    for s in &chosen {
        let db = pg.create_db(s.name).await;
        db.batch_execute(&s.setup).await.unwrap();
        let mut extra = json!({"snapshot.mode": "initial", "topic.prefix": s.name});
        for (k, v) in s.config {
            extra[*k] = json!(v);
        }
        if s.name == "types" {
            // Connect's Date, Time and Timestamp: Java objects to the transforms and the
            // StringConverter.
            extra["time.precision.mode"] = json!("connect");
        }
        for side in ["key", "value"] {
            extra[format!("{side}.converter")] = json!(JSON);
        }
        connectors.push(pg.connector(s.name, s.name, extra));
    }
    let _daemon = Daemon::start_with(
        &work.path().join("daemon"),
        DaemonOptions {
            registry: RegistryChoice::Embedded,
            connectors,
            ..DaemonOptions::new(&broker.bootstrap)
        },
    );
    for s in &chosen {
        let db = pg.client(s.name).await;
        let slot_name = format!("{}_slot", s.name);
        wait_active(&db, &slot_name, T).await;
        for sql in &s.changes {
            db.batch_execute(&format!("BEGIN; {sql}; COMMIT;"))
                .await
                .unwrap();
        }
        slot::wait_caught_up(&db, &[slot_name], T).await;
    }

    let chains = chains();
    let mut properties = String::from("chains=");
    properties.push_str(&chains.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(","));
    properties.push('\n');
    for (name, props) in &chains {
        for (k, v) in props {
            properties.push_str(&format!("{name}.{k}={}\n", v.replace('\\', "\\\\")));
        }
    }
    let regex = format!("^({})\\..*", SCENARIOS.join("|"));
    let lines = transform_records(
        work.path(),
        &broker.bootstrap,
        &regex,
        &properties,
        MIN_RECORDS,
        4000,
    );

    let mut ours: BTreeMap<&str, Chain> = BTreeMap::new();
    for (name, props) in &chains {
        let props: BTreeMap<String, String> = props
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut found = Findings::default();
        let chain = Chain::parse(&props, &mut found);
        assert!(found.errors.is_empty(), "{name}: {:?}", found.errors);
        ours.insert(name, chain);
    }
    let settings = JsonSettings::default();
    let cloudevents = cloudevents_settings();
    let mut ce_compared: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut string_skips = 0;
    // Per chain: records identical, dropped by both, failed by both.
    let mut compared: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for line in &lines {
        let topic = line["topic"].as_str().unwrap();
        let bytes = |k: &str| line[k].as_str().map(str::as_bytes);
        let (ks, kv) = read_record(bytes("key"), &settings).unwrap();
        let (vs, vv) = read_record(bytes("value"), &settings).unwrap();
        for (name, ce) in &cloudevents {
            let java = &line["cloudevents"][*name];
            let mut data_schema = Vec::new();
            if let Some(s) = vs
                .as_ref()
                .filter(|s| ce.json.schemas && cloudevents::is_envelope(s))
            {
                json::write_schema(&mut data_schema, &ce.json, &cloudevents::data_schema(s));
            }
            let mut buf = Vec::new();
            let written = cloudevents::write(&mut buf, ce, vs.as_ref(), &data_schema, vv.as_ref());
            if java.get("error").is_some() {
                assert!(
                    written.is_err(),
                    "CloudEvents {name} on {topic}: Java failed ({java}), Tributary did not"
                );
                continue;
            }
            let ours =
                match written.unwrap_or_else(|e| panic!("CloudEvents {name} on {topic}: {e}")) {
                    true => Value::String(String::from_utf8(buf).unwrap()),
                    false => Value::Null,
                };
            assert_eq!(&ours, java, "CloudEvents {name}, record of {topic}");
            let c = ce_compared.entry(name).or_default();
            c.0 += 1;
            c.1 += usize::from(ours.is_null());
        }
        let record = Record::new(
            topic,
            (ks.map(std::sync::Arc::new), kv),
            (vs.map(std::sync::Arc::new), vv),
        );
        for (name, chain) in ours.iter_mut() {
            let java = &line["chains"][*name];
            let ours = chain.apply(record.clone());
            if let Some(error) = java.get("error") {
                // A record a transform cannot handle fails it on both sides.
                assert!(
                    ours.is_err(),
                    "{name} on {topic}: Java failed ({error}), Tributary did not"
                );
                compared.entry(name).or_default().2 += 1;
                continue;
            }
            let out = ours.unwrap_or_else(|e| panic!("{name} on {topic}: {e}"));
            let dropped = out.is_none();
            let maps = out.as_ref().map(|r| {
                [
                    has_map(r.key_schema.as_deref()),
                    has_map(r.value_schema.as_deref()),
                ]
            });
            let (mut ours, mut java) = (rendered(out), java.clone());
            if let Some(maps) = maps {
                string_skips += comparable_strings(&mut java, &mut ours, maps);
            }
            assert_eq!(
                ours, java,
                "chain {name}, record of {topic}:\n{}",
                line["value"]
            );
            let c = compared.entry(name).or_default();
            c.0 += 1;
            c.1 += usize::from(dropped);
        }
    }
    println!(
        "StringConverter texts not compared (a byte array Java prints by identity, or a map in hash order): {string_skips}"
    );
    for (name, (n, null)) in &ce_compared {
        println!(
            "CloudEventsConverter {name}: {n} values identical to Debezium's ({null} null for both: not change events)"
        );
    }
    for (name, (n, dropped, failed)) in &compared {
        println!(
            "chain {name}: {n} records identical to Java's ({dropped} dropped by both), {failed} refused by both"
        );
    }
    assert!(lines.len() >= MIN_RECORDS, "only {} records", lines.len());
}
