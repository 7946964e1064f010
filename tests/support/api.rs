//! Driving the daemon through its REST API: a std-only HTTP/1.1 client that leaves every
//! header to the caller (so tests can send the wrong Content-Type, no token, a 10 MB body),
//! and the few checks every API test makes (Kafka Connect's error shape, waiting for a
//! state, counting what reached Kafka).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::kafka::{CdcConsumer, Record};

/// One HTTP response, the body as text.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// The body as JSON; a body that is not JSON comes back as a JSON string, so shape
    /// assertions fail showing it.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| Value::String(self.body.clone()))
    }

    /// A header's value (names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request on a fresh connection (`Connection: close`) and reads the whole
/// response. `path` is sent as given: percent-encode segments with [`encode_segment`].
/// Only `Host`, `Connection` and `Content-Length` are added; everything else is `headers`.
pub fn try_request(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> std::io::Result<Response> {
    let host = base
        .strip_prefix("http://")
        .expect("an http:// base")
        .trim_end_matches('/');
    let mut s = TcpStream::connect(host)?;
    s.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    let mut raw = Vec::new();
    match body {
        None => {}
        Some(b) if b.len() < 64 * 1024 => s.write_all(b)?,
        Some(b) => {
            // A server may answer (413) and close before taking a large body: write it
            // from another thread and read the answer meanwhile, so it is not lost to the
            // reset that follows.
            let mut w = s.try_clone()?;
            let owned = b.to_vec();
            let writer = std::thread::spawn(move || {
                let _ = w.write_all(&owned);
            });
            let read = read_all(&mut s, &mut raw);
            let _ = s.shutdown(std::net::Shutdown::Both);
            let _ = writer.join();
            if raw.is_empty() {
                read?;
            }
            return parse(&raw);
        }
    }
    let read = read_all(&mut s, &mut raw);
    if raw.is_empty() {
        read?;
    }
    parse(&raw)
}

/// Reads to EOF, keeping what arrived before an error (a reset after the response).
fn read_all(s: &mut TcpStream, raw: &mut Vec<u8>) -> std::io::Result<()> {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn parse(raw: &[u8]) -> std::io::Result<Response> {
    let bad = |what: &str| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{what}: {:?}", String::from_utf8_lossy(raw)),
        )
    };
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut rest = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad("no status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    let body = if find("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        dechunk(rest)
    } else {
        if let Some(n) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
            rest = &rest[..n.min(rest.len())];
        }
        rest.to_vec()
    };
    Ok(Response {
        status,
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
    })
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = body.windows(2).position(|w| w == b"\r\n") {
        let size = String::from_utf8_lossy(&body[..eol]);
        let size = size.split(';').next().unwrap_or("").trim();
        let n = usize::from_str_radix(size, 16).unwrap_or(0);
        let rest = &body[eol + 2..];
        if n == 0 || rest.len() < n {
            break;
        }
        out.extend_from_slice(&rest[..n]);
        body = rest[n..].strip_prefix(b"\r\n").unwrap_or(&rest[n..]);
    }
    out
}

/// [`try_request`], panicking on a connection error.
pub fn request(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    try_request(base, method, path, headers, body)
        .unwrap_or_else(|e| panic!("{method} {base}{path}: {e}"))
}

fn with_json(base: &str, method: &str, path: &str, json: Option<&Value>) -> Response {
    match json {
        None => request(base, method, path, &[], None),
        Some(v) => request(
            base,
            method,
            path,
            &[("Content-Type", "application/json")],
            Some(v.to_string().as_bytes()),
        ),
    }
}

pub fn get(base: &str, path: &str) -> Response {
    request(base, "GET", path, &[], None)
}

pub fn delete(base: &str, path: &str) -> Response {
    request(base, "DELETE", path, &[], None)
}

/// POST with a JSON body (or none: `None`).
pub fn post<'a>(base: &str, path: &str, json: impl Into<Option<&'a Value>>) -> Response {
    with_json(base, "POST", path, json.into())
}

pub fn put<'a>(base: &str, path: &str, json: impl Into<Option<&'a Value>>) -> Response {
    with_json(base, "PUT", path, json.into())
}

pub fn patch<'a>(base: &str, path: &str, json: impl Into<Option<&'a Value>>) -> Response {
    with_json(base, "PATCH", path, json.into())
}

/// Percent-encodes one path segment (everything but RFC 3986's unreserved characters).
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::new();
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `/connectors/<name><rest>` with the name encoded.
pub fn connector_path(name: &str, rest: &str) -> String {
    format!("/connectors/{}{rest}", encode_segment(name))
}

/// Asserts Kafka Connect's error answer — `status`, and a body of exactly
/// `{"error_code": status, "message": "…"}` — and returns the message.
#[track_caller]
pub fn assert_error(r: &Response, status: u16) -> String {
    assert_eq!(r.status, status, "expected {status}, got: {r:?}");
    error_message(r)
}

/// The message of a Kafka Connect error body, asserting its shape (any status).
#[track_caller]
pub fn error_message(r: &Response) -> String {
    let v = r.json();
    let o = v
        .as_object()
        .unwrap_or_else(|| panic!("an error body is a JSON object: {r:?}"));
    let mut keys: Vec<&str> = o.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["error_code", "message"],
        "an error body has error_code and message: {r:?}"
    );
    assert_eq!(v["error_code"], r.status, "error_code is the status: {r:?}");
    let m = v["message"].as_str().unwrap_or_default().to_string();
    assert!(!m.is_empty(), "the error explains itself: {r:?}");
    m
}

/// Whether `message` names `field` as a word of its own: `name` is not named by
/// `slot.name` or `database.dbname`.
pub fn names_field(message: &str, field: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    message.match_indices(field).any(|(i, _)| {
        let mut before = message[..i].chars().rev();
        let mut after = message[i + field.len()..].chars();
        let starts = match before.next() {
            None => true,
            Some('.') => false,
            Some(c) => !word(c),
        };
        // A full stop may end the sentence: `… is required: topic.prefix.`
        let ends = match after.next() {
            None => true,
            Some('.') => !after.next().is_some_and(word),
            Some(c) => !word(c),
        };
        starts && ends
    })
}

/// Asserts that a config shown by the API carries every property of `sent` unchanged,
/// except `database.password` (masked; the secrets tests check it).
#[track_caller]
pub fn assert_config(got: &Value, sent: &Value) {
    let sent = sent.as_object().expect("a config object");
    assert!(got.is_object(), "a config object: {got}");
    for (k, v) in sent {
        if k == "database.password" {
            continue;
        }
        assert_eq!(&got[k], v, "property {k} as shown: {got}");
    }
}

/// Asserts Kafka Connect's `<info>`: name, config (as sent), one task unless STOPPED.
#[track_caller]
pub fn assert_info(info: &Value, name: &str, sent: &Value, stopped: bool) {
    assert_eq!(info["name"], name, "{info}");
    assert_eq!(info["type"], "source", "{info}");
    let tasks = if stopped {
        serde_json::json!([])
    } else {
        serde_json::json!([{"connector": name, "task": 0}])
    };
    assert_eq!(info["tasks"], tasks, "{info}");
    assert_config(&info["config"], sent);
}

/// Polls `GET /connectors/{name}/status` until the connector is in `connector` and its
/// tasks are in `tasks` (`&[]`: no tasks, as when STOPPED). Returns that status.
pub async fn wait_status(
    base: &str,
    name: &str,
    connector: &str,
    tasks: &[&str],
    timeout: Duration,
) -> Value {
    let deadline = Instant::now() + timeout;
    let path = connector_path(name, "/status");
    loop {
        let r = get(base, &path);
        let s = r.json();
        let task_states: Vec<&str> = s["tasks"]
            .as_array()
            .map(|t| t.iter().filter_map(|t| t["state"].as_str()).collect())
            .unwrap_or_default();
        if r.status == 200 && s["connector"]["state"] == connector && task_states == tasks {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "{name} did not reach connector {connector} with tasks {tasks:?} within {timeout:?}; last: {} {}",
            r.status,
            r.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Change events that reached Kafka, counted per (topic, op, id of the row), as a
/// read_committed consumer sees them. Rows are keyed by an `id` column.
pub struct Tally {
    pub consumer: CdcConsumer,
    counted: usize,
    pub counts: HashMap<(String, String, i64), usize>,
}

impl Tally {
    /// Consumes the topics matching `pattern` (a regex beginning with `^`).
    pub fn new(bootstrap: &str, registry: &str, pattern: &str) -> Tally {
        Tally {
            consumer: CdcConsumer::new(bootstrap, registry, pattern),
            counted: 0,
            counts: HashMap::new(),
        }
    }

    /// How many `op` events for row `id` arrived on `topic`.
    pub fn count(&self, topic: &str, op: &str, id: i64) -> usize {
        self.counts
            .get(&(topic.to_string(), op.to_string(), id))
            .copied()
            .unwrap_or(0)
    }

    /// Polls until `done(self)` holds or `timeout` passes; returns whether it held.
    pub fn until(&mut self, timeout: Duration, mut done: impl FnMut(&Tally) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            self.absorb();
            if done(self) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            self.consumer
                .poll_until(left.min(Duration::from_millis(300)), |_| false);
        }
    }

    fn absorb(&mut self) {
        let records: &[Record] = &self.consumer.records;
        for r in &records[self.counted..] {
            let Some(v) = &r.value else { continue };
            let Some(op) = v["op"].as_str() else { continue };
            let row = if op == "d" { &v["before"] } else { &v["after"] };
            if let Some(id) = row["id"].as_i64() {
                *self
                    .counts
                    .entry((r.topic.clone(), op.to_string(), id))
                    .or_default() += 1;
            }
        }
        self.counted = records.len();
    }

    /// Ids in `ids` with no `op` event on `topic` yet (the first few).
    pub fn missing(&self, topic: &str, op: &str, ids: impl IntoIterator<Item = i64>) -> Vec<i64> {
        ids.into_iter()
            .filter(|id| self.count(topic, op, *id) == 0)
            .take(10)
            .collect()
    }

    /// Ids in `ids` on `topic` whose `op` count is not `n`, as `(id, count)` (first few).
    pub fn not_exactly(
        &self,
        topic: &str,
        op: &str,
        ids: impl IntoIterator<Item = i64>,
        n: usize,
    ) -> Vec<(i64, usize)> {
        ids.into_iter()
            .map(|id| (id, self.count(topic, op, id)))
            .filter(|(_, c)| *c != n)
            .take(10)
            .collect()
    }

    /// Records beyond the first of each (topic, op, id) on `topic`.
    pub fn duplicates(&self, topic: &str) -> usize {
        self.counts
            .iter()
            .filter(|((t, _, _), _)| t == topic)
            .map(|(_, n)| n - 1)
            .sum()
    }
}
