//! The exposition checked with a small parser of the text format.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering::Relaxed;

use tributary_core::batch;

use super::*;

type Labels = Vec<(String, String)>;
type Samples = HashMap<(String, Labels), f64>;

/// Checks that `text` is in the text exposition format as far as a scraper cares, and
/// returns its samples by name and labels (values unescaped).
fn parse(text: &str) -> Samples {
    assert!(text.ends_with('\n'), "the last line ends too");
    let mut helped = HashSet::new();
    let mut typed = HashSet::new();
    let mut finished = HashSet::new();
    let mut current: Option<String> = None;
    let mut samples = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP has a text");
            assert!(valid_name(name) && !help.is_empty(), "{line}");
            assert!(helped.insert(name.to_string()), "HELP twice: {line}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE has a type");
            assert!(helped.contains(name), "HELP before TYPE: {line}");
            let kinds = ["counter", "gauge", "untyped", "summary", "histogram"];
            assert!(kinds.contains(&kind), "{line}");
            assert!(typed.insert(name.to_string()), "TYPE twice: {line}");
            continue;
        }
        assert!(!line.is_empty() && !line.starts_with('#'), "{line:?}");
        let (name, labels, value) = sample(line);
        assert!(
            typed.contains(&name),
            "HELP and TYPE before samples: {line}"
        );
        if current.as_deref() != Some(name.as_str()) {
            assert!(!finished.contains(&name), "samples together: {line}");
            if let Some(previous) = current.replace(name.clone()) {
                finished.insert(previous);
            }
        }
        let names: HashSet<&str> = labels.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(names.len(), labels.len(), "a label twice: {line}");
        let mut key = labels;
        key.sort();
        assert!(
            samples.insert((name, key), value).is_none(),
            "a series twice: {line}"
        );
    }
    assert_eq!(helped, typed, "every HELP has a TYPE");
    samples
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `name{label="value",…} value [timestamp]`.
fn sample(line: &str) -> (String, Labels, f64) {
    let end = line.find(['{', ' ']).expect("a value follows the name");
    let name = &line[..end];
    assert!(valid_name(name), "{line}");
    let mut rest = &line[end..];
    let mut labels = Vec::new();
    if let Some(mut body) = rest.strip_prefix('{') {
        loop {
            if let Some(after) = body.strip_prefix('}') {
                rest = after;
                break;
            }
            let (label, after) = body.split_once("=\"").expect("label=\"value\"");
            assert!(valid_name(label) && !label.contains(':'), "{line}");
            let mut value = String::new();
            let mut chars = after.char_indices();
            let close = loop {
                match chars.next().expect("the value is closed") {
                    (i, '"') => break i,
                    (_, '\\') => match chars.next().map(|(_, c)| c) {
                        Some('\\') => value.push('\\'),
                        Some('"') => value.push('"'),
                        Some('n') => value.push('\n'),
                        other => panic!("bad escape {other:?}: {line}"),
                    },
                    (_, c) => value.push(c),
                }
            };
            labels.push((label.to_string(), value));
            body = &after[close + 1..];
            match body.strip_prefix(',') {
                Some(after) => body = after,
                None => assert!(body.starts_with('}'), "{line}"),
            }
        }
    }
    let rest = rest.strip_prefix(' ').expect("a space before the value");
    let mut parts = rest.split(' ');
    let value: f64 = parts.next().unwrap_or("").parse().expect("a number");
    if let Some(ts) = parts.next() {
        ts.parse::<i64>().expect("a timestamp in ms");
    }
    assert!(parts.next().is_none(), "{line}");
    (name.to_string(), labels, value)
}

fn get(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut key: Labels = labels
        .iter()
        .map(|(l, v)| (l.to_string(), v.to_string()))
        .collect();
    key.sort();
    samples.get(&(name.to_string(), key)).copied()
}

fn families(text: &str) -> HashSet<&str> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect()
}

fn idle<'a>(name: &'a str, state: &'a str) -> ConnectorMetrics<'a> {
    ConnectorMetrics {
        name,
        state,
        source: None,
        publish: None,
        slot: None,
        job: None,
    }
}

#[tokio::test]
async fn a_running_connector_renders_every_family_in_the_text_format() {
    let source = SourceMetrics::default();
    let (mut tx, _rx) = batch::channel(100, 10);
    source.start_run(tx.gauge());
    let mut counts = tributary_core::OpCounts::default();
    counts.add(Op::Create);
    counts.add(Op::Create);
    counts.add(Op::Delete);
    source.add_events(&counts);
    source.add_events_of(Op::Read, 40);
    source.add_transaction();
    source.event_time(1_000_000, 1_750_000);
    source.snapshot_started();
    source.snapshot_plan(4, 1, 10, 100);
    source.snapshot_rows(30);
    let publish = PublishStats::default();
    publish.records.store(44, Relaxed);
    publish.transactions.store(3, Relaxed);
    publish.durable_lsn.store(0x1_0000_0010, Relaxed);
    let slot = crate::kinds::Retention {
        held_bytes: Some(4096),
        retained_bytes: Some(8192),
        oldest_transaction: None,
        wal_status: Some("extended".into()),
        safe_bytes: Some(1024),
        limit_bytes: Some(65536),
        warn_bytes: 0,
    };
    let runner = ConnectorMetrics {
        name: "inventory",
        state: "RUNNING",
        source: Some(&source),
        publish: Some(&publish),
        slot: Some(&slot),
        job: None,
    };
    let connectors = [runner, idle("paused", "PAUSED")];
    let text = render(&connectors);
    let s = parse(&text);
    let c = [("connector", "inventory")];
    let version = [("version", tributary_core::VERSION)];
    assert_eq!(get(&s, "tributary_build_info", &version), Some(1.0));
    assert_eq!(get(&s, "tributary_connector_up", &c), Some(1.0));
    let up = [("connector", "paused")];
    assert_eq!(get(&s, "tributary_connector_up", &up), Some(0.0));
    for state in STATES {
        let labels = [("connector", "paused"), ("state", state)];
        let want = if state == "PAUSED" { 1.0 } else { 0.0 };
        assert_eq!(get(&s, "tributary_connector_state", &labels), Some(want));
    }
    let m = |name: &str| get(&s, &format!("tributary_{name}"), &c);
    assert_eq!(m("milliseconds_behind_source"), Some(750.0));
    assert!(m("milliseconds_since_last_event").is_some());
    assert_eq!(m("total_number_of_events_seen"), Some(43.0));
    let op = |op| get(&s, "tributary_number_of_events_seen", &[c[0], ("op", op)]);
    assert_eq!(op("create"), Some(2.0));
    assert_eq!(op("delete"), Some(1.0));
    assert_eq!(op("read"), Some(40.0));
    assert_eq!(op("message"), Some(0.0));
    assert_eq!(m("number_of_source_transactions_seen"), Some(1.0));
    assert_eq!(m("number_of_committed_transactions"), Some(3.0));
    assert_eq!(m("records_published_total"), Some(44.0));
    assert_eq!(m("durable_lsn"), Some(0x1_0000_0010u64 as f64));
    assert_eq!(m("queue_total_capacity"), Some(100.0));
    assert_eq!(m("queue_remaining_capacity"), Some(100.0));
    tx.push_now(tributary_core::CaptureItem::Checkpoint {
        offset: serde_json::Value::Null,
    })
    .await
    .unwrap();
    let s = parse(&render(&connectors));
    let m = |name: &str| get(&s, &format!("tributary_{name}"), &c);
    assert_eq!(m("queue_remaining_capacity"), Some(99.0));
    assert_eq!(m("snapshot_running"), Some(1.0));
    assert_eq!(m("snapshot_completed"), Some(0.0));
    assert_eq!(m("snapshot_rows_scanned"), Some(40.0));
    assert_eq!(m("snapshot_rows_estimated_remaining"), Some(60.0));
    assert_eq!(m("snapshot_tables_total"), Some(4.0));
    assert_eq!(m("snapshot_tables_remaining"), Some(3.0));
    assert_eq!(m("slot_lag_bytes"), Some(4096.0));
    assert_eq!(m("slot_retained_wal_bytes"), Some(8192.0));
    assert_eq!(m("slot_safe_wal_size_bytes"), Some(1024.0));
    assert_eq!(m("slot_max_wal_keep_size_bytes"), Some(65536.0));
    let status = |w| get(&s, "tributary_slot_wal_status", &[c[0], ("wal_status", w)]);
    assert_eq!(status("extended"), Some(1.0));
    assert_eq!(status("lost"), Some(0.0));
    let counters = ["total_number_of_events_seen", "records_published_total"];
    for name in counters {
        let line = format!("# TYPE tributary_{name} counter");
        assert!(text.lines().any(|l| l == line), "{name} is a counter");
    }
}

#[test]
fn connector_names_are_escaped_in_labels() {
    let name = "a\"quoted\" \\path\\\nnext line ✓ Ünïcödé";
    let text = render(&[idle(name, "FAILED")]);
    assert!(
        text.contains(r#"connector="a\"quoted\" \\path\\\nnext line ✓ Ünïcödé""#),
        "{text}"
    );
    let s = parse(&text);
    let labels = [("connector", name), ("state", "FAILED")];
    assert_eq!(get(&s, "tributary_connector_state", &labels), Some(1.0));
}

#[test]
fn absent_sources_and_publishers_render_no_samples() {
    let text = render(&[idle("stopped", "STOPPED"), idle("new", "UNASSIGNED")]);
    parse(&text);
    let want: HashSet<&str> = [
        "tributary_build_info",
        "tributary_connector_up",
        "tributary_connector_state",
    ]
    .into();
    assert_eq!(families(&text), want, "{text}");
    assert_eq!(families(&render(&[])), ["tributary_build_info"].into());
}

#[test]
fn values_not_known_yet_render_no_samples() {
    let source = SourceMetrics::default();
    let c = ConnectorMetrics {
        source: Some(&source),
        ..idle("fresh", "RUNNING")
    };
    let text = render(&[c]);
    parse(&text);
    let present = families(&text);
    for absent in [
        "tributary_milliseconds_behind_source",
        "tributary_milliseconds_since_last_event",
        "tributary_queue_total_capacity",
        "tributary_snapshot_rows_scanned",
        "tributary_snapshot_tables_remaining",
        "tributary_slot_lag_bytes",
        "tributary_durable_lsn",
    ] {
        assert!(!present.contains(absent), "{absent}: {text}");
    }
    for known in [
        "tributary_total_number_of_events_seen",
        "tributary_number_of_events_seen",
        "tributary_snapshot_running",
        "tributary_snapshot_completed",
    ] {
        assert!(present.contains(known), "{known}: {text}");
    }
}

#[test]
fn the_checker_rejects_what_scrapers_reject() {
    let bad = [
        "tributary_x 1\n",
        "# HELP tributary_x x\n# HELP tributary_x x\n# TYPE tributary_x gauge\n",
        "# HELP tributary_x x\n# TYPE tributary_x gauge\ntributary_x{connector=\"a\"b\"} 1\n",
        "# HELP tributary_x x\n# TYPE tributary_x gauge\ntributary_x{connector=\"a\"} one\n",
    ];
    for text in bad {
        let result = std::panic::catch_unwind(|| parse(text));
        assert!(result.is_err(), "accepted: {text:?}");
    }
}
