//! The record pipeline's cost per record: a Debezium change event (a ten-column row with
//! its source block) through transform chains and converters, single-threaded, in
//! nanoseconds per record. `cargo run --release -p tributary-connect --example
//! pipeline_cost [records]`; the figures are in docs/benchmarks.md.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use tributary_connect::cloudevents::{self, CloudEventsSettings};
use tributary_connect::config::Findings;
use tributary_connect::json::{self, read::read_record};
use tributary_connect::{Chain, JsonSettings, Pipeline, Record, plain};

/// The row's fields, the schema of both `before` and `after`.
const ROW: &str = r#"
  {"field":"id","type":"int32","optional":false},{"field":"customer","type":"string","optional":true},
  {"field":"email","type":"string","optional":true},{"field":"qty","type":"int32","optional":true},
  {"field":"price","type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"10"}},
  {"field":"paid","type":"boolean","optional":true},{"field":"note","type":"string","optional":true},
  {"field":"created","type":"int64","optional":true,"name":"io.debezium.time.MicroTimestamp","version":1},
  {"field":"updated","type":"string","optional":true,"name":"io.debezium.time.ZonedTimestamp","version":1},
  {"field":"tags","type":"array","optional":true,"items":{"type":"string","optional":true}}"#;

/// The change event, `{ROW}` standing for the row's fields.
const EVENT: &str = r#"{"schema":{"type":"struct","name":"cdc.public.orders.Envelope","version":2,"optional":false,"fields":[
 {"field":"before","type":"struct","optional":true,"name":"cdc.public.orders.Value","fields":[{ROW}]},
 {"field":"after","type":"struct","optional":true,"name":"cdc.public.orders.Value","fields":[{ROW}]},
 {"field":"source","type":"struct","optional":false,"name":"io.debezium.connector.postgresql.Source","fields":[
  {"field":"version","type":"string","optional":false},{"field":"connector","type":"string","optional":false},
  {"field":"name","type":"string","optional":false},{"field":"ts_ms","type":"int64","optional":false},
  {"field":"db","type":"string","optional":false},{"field":"schema","type":"string","optional":false},
  {"field":"table","type":"string","optional":false},{"field":"txId","type":"int64","optional":true},
  {"field":"lsn","type":"int64","optional":true}]},
 {"field":"op","type":"string","optional":false},{"field":"ts_ms","type":"int64","optional":true}]},
"payload":{"before":null,"after":{"id":42,"customer":"Ada Lovelace","email":"ada@example.com","qty":3,"price":"AeI=",
 "paid":true,"note":"leave at the door","created":1764762000123456,"updated":"2025-12-03T11:40:00.123456Z","tags":["gift","priority"]},
 "source":{"version":"3.6.1.Final","connector":"postgresql","name":"cdc","ts_ms":1764762000123,"db":"shop","schema":"public",
 "table":"orders","txId":7781,"lsn":24023128},"op":"c","ts_ms":1764762000200}}"#;

const KEY: &str = r#"{"schema":{"type":"struct","name":"cdc.public.orders.Key","optional":false,"fields":[{"field":"id","type":"int32","optional":false}]},"payload":{"id":42}}"#;

fn chain(props: &[(&str, &str)]) -> Chain {
    let props: BTreeMap<String, String> = props
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut found = Findings::default();
    let chain = Chain::parse(&props, &mut found);
    assert!(found.errors.is_empty(), "{:?}", found.errors);
    chain
}

/// Nanoseconds per record of `work`, less the record's clone.
fn time(n: usize, record: &Record, clone_ns: f64, mut work: impl FnMut(Record)) -> f64 {
    for _ in 0..n / 10 {
        work(record.clone());
    }
    let start = Instant::now();
    for _ in 0..n {
        work(record.clone());
    }
    start.elapsed().as_nanos() as f64 / n as f64 - clone_ns
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let settings = JsonSettings::default();
    let (ks, kv) = read_record(Some(KEY.as_bytes()), &settings).unwrap();
    let event = EVENT.replace("{ROW}", ROW);
    let (vs, vv) = read_record(Some(event.as_bytes()), &settings).unwrap();
    let record = Record::new(
        "cdc.public.orders",
        (ks.map(Arc::new), kv),
        (vs.map(Arc::new), vv),
    );
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(record.clone());
    }
    let clone_ns = start.elapsed().as_nanos() as f64 / n as f64;

    let unwrap = (
        "transforms.u.type",
        "io.debezium.transforms.ExtractNewRecordState",
    );
    let chains = [
        ("no transforms", chain(&[])),
        (
            "ExtractNewRecordState",
            chain(&[("transforms", "u"), unwrap]),
        ),
        (
            "unwrap, add.fields, RegexRouter, MaskField, InsertField",
            chain(&[
                ("transforms", "u,route,mask,ins"),
                unwrap,
                ("transforms.u.add.fields", "op,source.lsn"),
                (
                    "transforms.route.type",
                    "org.apache.kafka.connect.transforms.RegexRouter",
                ),
                ("transforms.route.regex", "cdc\\.public\\.(.*)"),
                ("transforms.route.replacement", "rows.$1"),
                (
                    "transforms.mask.type",
                    "org.apache.kafka.connect.transforms.MaskField$Value",
                ),
                ("transforms.mask.fields", "email"),
                (
                    "transforms.ins.type",
                    "org.apache.kafka.connect.transforms.InsertField$Value",
                ),
                ("transforms.ins.static.field", "origin"),
                ("transforms.ins.static.value", "shop"),
            ]),
        ),
        (
            "PartitionRouting (murmur), TimezoneConverter",
            chain(&[
                ("transforms", "p,tz"),
                (
                    "transforms.p.type",
                    "io.debezium.transforms.partitions.PartitionRouting",
                ),
                (
                    "transforms.p.partition.payload.fields",
                    "change.customer,source.table",
                ),
                ("transforms.p.partition.topic.num", "12"),
                ("transforms.p.partition.hash.function", "murmur"),
                (
                    "transforms.tz.type",
                    "io.debezium.transforms.TimezoneConverter",
                ),
                ("transforms.tz.converted.timezone", "Europe/Paris"),
            ]),
        ),
    ];
    println!("{n} records; a record's clone ({clone_ns:.0} ns) is subtracted");
    println!("{:<60} {:>10}", "transforms (no converter)", "ns/record");
    for (name, mut c) in chains {
        let ns = time(n, &record, clone_ns, |r| {
            std::hint::black_box(c.apply(r).unwrap());
        });
        println!("{name:<60} {ns:>10.0}");
    }

    // Converters, key and value, as the publisher calls them (schemas written once).
    let no_schemas = JsonSettings {
        schemas: false,
        ..JsonSettings::default()
    };
    let mut schema_json = (Vec::new(), Vec::new());
    json::write_schema(
        &mut schema_json.0,
        &settings,
        record.key_schema.as_deref().unwrap(),
    );
    json::write_schema(
        &mut schema_json.1,
        &settings,
        record.value_schema.as_deref().unwrap(),
    );
    let mut found = Findings::default();
    let props = BTreeMap::from([(
        "value.converter".to_string(),
        cloudevents::CLOUDEVENTS_CONVERTER.to_string(),
    )]);
    let ce: CloudEventsSettings = match Pipeline::parse(&props, &BTreeMap::new(), &mut found).value
    {
        tributary_connect::Converter::CloudEvents(s) => s,
        other => panic!("{other:?}"),
    };
    let mut ce_schema = Vec::new();
    json::write_schema(
        &mut ce_schema,
        &ce.json,
        &cloudevents::data_schema(record.value_schema.as_deref().unwrap()),
    );
    let mut buf = Vec::with_capacity(4096);
    let mut sizes = Vec::new();
    println!(
        "{:<60} {:>10} {:>8}",
        "converter (key and value)", "ns/record", "bytes"
    );
    let mut run = |name: &str, f: &mut dyn FnMut(&Record, &mut Vec<u8>)| {
        let mut size = 0;
        let ns = time(n, &record, clone_ns, |r| {
            buf.clear();
            f(&r, &mut buf);
            size = buf.len();
            std::hint::black_box(&buf);
        });
        sizes.push(size);
        println!("{name:<60} {ns:>10.0} {size:>8}");
    };
    run("JsonConverter, schemas.enable=true", &mut |r, b| {
        json::write_record(
            b,
            &settings,
            r.key_schema.as_deref(),
            &schema_json.0,
            r.key.as_ref(),
        );
        json::write_record(
            b,
            &settings,
            r.value_schema.as_deref(),
            &schema_json.1,
            r.value.as_ref(),
        );
    });
    run("JsonConverter, schemas.enable=false", &mut |r, b| {
        json::write_record(b, &no_schemas, r.key_schema.as_deref(), &[], r.key.as_ref());
        json::write_record(
            b,
            &no_schemas,
            r.value_schema.as_deref(),
            &[],
            r.value.as_ref(),
        );
    });
    run("CloudEventsConverter (value; key as JSON)", &mut |r, b| {
        json::write_record(b, &no_schemas, r.key_schema.as_deref(), &[], r.key.as_ref());
        let mut ev = Vec::new();
        cloudevents::write(
            &mut ev,
            &ce,
            r.value_schema.as_deref(),
            &ce_schema,
            r.value.as_ref(),
        )
        .unwrap();
        b.extend_from_slice(&ev);
    });
    run("StringConverter", &mut |r, b| {
        plain::write_string(b, r.key_schema.as_deref(), r.key.as_ref());
        plain::write_string(b, r.value_schema.as_deref(), r.value.as_ref());
    });
}
