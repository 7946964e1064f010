//! Field-by-field comparison of Debezium's records with Tributary's, both rendered by the
//! harness (`support::debezium`): per topic, per key, in order. Values that legitimately
//! differ are skipped:
//! - `source.version`, and timestamps (`ts_ms`/`ts_us`/`ts_ns`, at every level);
//! - for snapshot reads, the LSNs (`source.lsn`, `source.sequence`) and `source.txId`
//!   (each connector's own snapshot transaction), and which row carries which
//!   `source.snapshot` marker (the read order is not the connectors' contract: the markers
//!   are compared per topic as a multiset);
//! - the `__debezium.context.runId` header (an id of each connector's run);
//! - the JVM identity hash in the name of a logical decoding message's data collection
//!   (see `message_collections`);
//! - the first element of `source.sequence` where Debezium's is `null`: Debezium knows no
//!   last commit until its first commit after a snapshot; Tributary writes the snapshot's
//!   point there, which its sinks need to order those changes after the snapshot's rows.

use std::collections::BTreeMap;

use serde_json::Value;

#[derive(Default)]
pub struct Report {
    /// Leaf fields (of values, keys, schemas and headers) found identical.
    pub identical: usize,
    /// Leaf fields skipped as legitimately different.
    pub skipped: usize,
    pub differences: Vec<String>,
}

impl Report {
    fn differ(&mut self, at: &str, dbz: &Value, ours: &Value) {
        self.differences.push(format!(
            "{at}: Debezium {}, Tributary {}",
            short(dbz),
            short(ours)
        ));
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 400 {
        format!("{}…", &s[..s.floor_char_boundary(400)])
    } else {
        s
    }
}

type Records<'a> = BTreeMap<&'a str, BTreeMap<String, Vec<&'a Value>>>;

fn group(records: &[Value]) -> Records<'_> {
    let mut by: Records = BTreeMap::new();
    for r in records {
        let topic = r["topic"].as_str().unwrap();
        by.entry(topic)
            .or_default()
            .entry(r["key"].to_string())
            .or_default()
            .push(r);
    }
    by
}

fn op(record: &Value) -> &str {
    record["value"]["op"].as_str().unwrap_or("")
}

/// True for a topic whose records' values are timestamps only (heartbeats).
/// The key of an incremental snapshot's watermark row in the signal table.
fn watermark(key: &str) -> bool {
    key.contains("-open\"") || key.contains("-close\"")
}

fn heartbeat(topic: &str) -> bool {
    topic.starts_with("__debezium-heartbeat")
}

/// Compares every record of `dbz` with `ours`.
pub fn compare(dbz: &[Value], ours: &[Value]) -> Report {
    let mut report = Report::default();
    let (d, o) = (group(dbz), group(ours));
    for topic in d
        .keys()
        .chain(o.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        let (Some(dk), Some(ok)) = (d.get(topic), o.get(topic)) else {
            report.differences.push(format!(
                "topic {topic}: Debezium {} records, Tributary {}",
                d.get(topic).map_or(0, |k| k.values().map(Vec::len).sum()),
                o.get(topic).map_or(0, |k| k.values().map(Vec::len).sum())
            ));
            continue;
        };
        if heartbeat(topic) {
            // How many heartbeats each sent depends on timing: compare the first's shape.
            let (a, b) = (
                dk.values().next().unwrap()[0],
                ok.values().next().unwrap()[0],
            );
            record(&mut report, topic, a, b);
            continue;
        }
        let mut markers = (Vec::new(), Vec::new());
        for key in dk
            .keys()
            .chain(ok.keys())
            .collect::<std::collections::BTreeSet<_>>()
        {
            let (a, b) = (
                dk.get(key).map_or(&[][..], Vec::as_slice),
                ok.get(key).map_or(&[][..], Vec::as_slice),
            );
            for r in a.iter().filter(|r| op(r) == "r") {
                markers.0.push(r["value"]["source"]["snapshot"].to_string());
            }
            for r in b.iter().filter(|r| op(r) == "r") {
                markers.1.push(r["value"]["source"]["snapshot"].to_string());
            }
            // Incremental snapshot watermarks: each connector writes its own, with ids of
            // its own making, and captures the other's too.
            if (a.is_empty() || b.is_empty()) && watermark(key) {
                report.skipped += 1;
                continue;
            }
            if a.len() != b.len() {
                let ops = |rs: &[&Value]| rs.iter().map(|r| op(r).to_string()).collect::<Vec<_>>();
                report.differences.push(format!(
                    "{topic} key {key}: Debezium sent {:?}, Tributary {:?}",
                    ops(a),
                    ops(b)
                ));
                continue;
            }
            for (i, (a, b)) in a.iter().zip(b).enumerate() {
                record(&mut report, &format!("{topic} key {key} #{i}"), a, b);
            }
        }
        markers.0.sort();
        markers.1.sort();
        if markers.0 != markers.1 {
            report.differences.push(format!(
                "{topic}: snapshot markers, Debezium {:?}, Tributary {:?}",
                markers.0, markers.1
            ));
        }
    }
    report
}

fn record(report: &mut Report, at: &str, a: &Value, b: &Value) {
    let (a, b) = (&message_collections(a), &message_collections(b));
    let snapshot = op(a) == "r";
    for part in ["key_schema", "value_schema", "key", "value", "headers"] {
        let mut path = vec![part.to_string()];
        walk(report, at, &mut path, &a[part], &b[part], snapshot);
    }
}

/// Debezium names each logical decoding message's data collection in a transaction's END
/// record by its Java object's `toString()`: `…LogicalDecodingMessageId@<identity hash>`,
/// one entry per message. The hash is the JVM's, so it is masked, and the entries are
/// compared in name order (a Java `HashMap` orders them by that hash).
fn message_collections(record: &Value) -> Value {
    const ID: &str =
        "io.debezium.connector.postgresql.LogicalDecodingMessageMonitor$LogicalDecodingMessageId@";
    let mut record = record.clone();
    let Some(items) = record["value"]["data_collections"]["array"].as_array_mut() else {
        return record;
    };
    // Each item is the union branch `{"event.collection": {data_collection, event_count}}`.
    const BRANCH: &str = "event.collection";
    let name = |item: &Value| {
        item[BRANCH]["data_collection"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    if !items.iter().any(|i| name(i).starts_with(ID)) {
        return record;
    }
    for item in items.iter_mut() {
        if name(item).starts_with(ID) {
            item[BRANCH]["data_collection"] = Value::String(format!("{ID}<hash>"));
        }
    }
    items.sort_by_key(|i| i.to_string());
    record
}

fn skipped(path: &[String], snapshot: bool) -> bool {
    let last = path.last().map(String::as_str).unwrap_or("");
    let parent = |name: &str| path.iter().any(|p| p == name);
    if path[0] == "headers" {
        return last == "__debezium.context.runId";
    }
    if path[0] != "value" {
        return false;
    }
    // A timestamp field sits under its name, or its union branch (`{"long": …}`) does.
    let named =
        |n: &str| last == n || (path.len() >= 2 && path[path.len() - 2] == n && last == "long");
    if ["ts_ms", "ts_us", "ts_ns"].iter().any(|n| named(n)) {
        return true;
    }
    if parent("source") && (named("version")) {
        return true;
    }
    snapshot
        && parent("source")
        && ["lsn", "sequence", "snapshot", "txId"]
            .iter()
            .any(|n| named(n) || (last == "string" && path[path.len() - 2] == *n))
}

/// `["<last commit>","<lsn>"]` where Debezium has no last commit yet (see the module doc).
fn sequence_without_commit(path: &[String], a: &Value, b: &Value) -> bool {
    let in_sequence = path.len() >= 2
        && path[0] == "value"
        && path.iter().any(|p| p == "sequence")
        && path.iter().any(|p| p == "source");
    let parse = |v: &Value| -> Option<Vec<Value>> { serde_json::from_str(v.as_str()?).ok() };
    match (in_sequence, parse(a), parse(b)) {
        (true, Some(x), Some(y)) => x.len() == 2 && y.len() == 2 && x[0].is_null() && x[1] == y[1],
        _ => false,
    }
}

fn walk(
    report: &mut Report,
    at: &str,
    path: &mut Vec<String>,
    a: &Value,
    b: &Value,
    snapshot: bool,
) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x
                .keys()
                .chain(y.keys())
                .collect::<std::collections::BTreeSet<_>>()
            {
                path.push(k.clone());
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => walk(report, at, path, p, q, snapshot),
                    (p, q) => {
                        if !skipped(path, snapshot) {
                            report.differ(
                                &format!("{at} {}", path.join(".")),
                                p.unwrap_or(&Value::String("<absent>".into())),
                                q.unwrap_or(&Value::String("<absent>".into())),
                            );
                        }
                    }
                }
                path.pop();
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                path.push(i.to_string());
                walk(report, at, path, p, q, snapshot);
                path.pop();
            }
        }
        _ if skipped(path, snapshot) || sequence_without_commit(path, a, b) => report.skipped += 1,
        _ if a == b => report.identical += 1,
        _ => report.differ(&format!("{at} {}", path.join(".")), a, b),
    }
}
