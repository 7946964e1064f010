//! Kafka for tests: the broker (`broker.rs`, Apache Kafka started by `scripts/kafka.sh`, or
//! the Kafka named by `KAFKA_BOOTSTRAP`), a TCP proxy that can cut the daemon off from the
//! broker, and a read_committed consumer that decodes Avro through the registry.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message};

pub use tributary_testkit::kafka::{Broker, BrokerOptions};

/// A broker whose clients are told to connect through `proxy_port` (a `Proxy` the test
/// starts there), while its own inter-broker traffic (transaction markers, coordinators)
/// stays on a listener of its own: cutting the proxy cuts only the clients.
pub fn broker_behind_proxy(proxy_port: u16) -> Broker {
    let internal = tributary_testkit::free_port();
    Broker::start_with(BrokerOptions {
        properties: format!(
            "listeners=PLAINTEXT://127.0.0.1:{{port}},INTERNAL://127.0.0.1:{internal},CONTROLLER://127.0.0.1:{{controller}}\n\
             advertised.listeners=PLAINTEXT://127.0.0.1:{proxy_port},INTERNAL://127.0.0.1:{internal}\n\
             inter.broker.listener.name=INTERNAL\n"
        ),
        ..BrokerOptions::default()
    })
}

/// A TCP proxy in front of the broker that can refuse and cut connections.
pub struct Proxy {
    pub port: u16,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<std::net::TcpStream>>>,
}

impl Proxy {
    pub fn start(port: u16, target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind proxy");
        let up = Arc::new(AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<std::net::TcpStream>>> = Arc::default();
        let (u, c) = (up.clone(), conns.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !u.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = std::net::TcpStream::connect(target) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let mut held = c.lock().unwrap();
                held.push(client.try_clone().unwrap());
                held.push(server.try_clone().unwrap());
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Proxy { port, up, conns }
    }

    /// Cuts every connection and refuses new ones: the broker is gone for the daemon.
    pub fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        for s in self.conns.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }

    pub fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// One record as a test sees it: topic, partition, offset, decoded key and value.
#[derive(Debug, Clone)]
pub struct Record {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<serde_json::Value>,
    pub value: Option<serde_json::Value>,
    pub key_schema: Option<u32>,
    pub value_schema: Option<u32>,
}

/// A read_committed consumer of `^cdc\..*` (or any pattern) that decodes Confluent-framed
/// Avro with schemas fetched from the registry over HTTP.
pub struct CdcConsumer {
    consumer: BaseConsumer,
    registry: String,
    schemas: HashMap<u32, apache_avro::Schema>,
    /// Every log position read: a position read again (the test's own group rebalanced
    /// while it had no committed offsets, so it starts over) is the same record, not a
    /// record published twice, and is not counted again.
    seen: std::collections::HashSet<(String, i32, i64)>,
    pub records: Vec<Record>,
}

impl CdcConsumer {
    pub fn new(bootstrap: &str, registry: &str, pattern: &str) -> CdcConsumer {
        CdcConsumer::with(bootstrap, registry, pattern, &[])
    }

    /// With more client properties (security settings).
    pub fn with(
        bootstrap: &str,
        registry: &str,
        pattern: &str,
        properties: &[(&str, &str)],
    ) -> CdcConsumer {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", bootstrap)
            .set("group.id", format!("test-{}", super::unique("g")))
            .set("isolation.level", "read_committed")
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .set("topic.metadata.refresh.interval.ms", "500");
        for (k, v) in properties {
            config.set(*k, *v);
        }
        let consumer: BaseConsumer = config.create().expect("consumer");
        consumer.subscribe(&[pattern]).expect("subscribe");
        CdcConsumer {
            consumer,
            registry: registry.trim_end_matches('/').to_string(),
            schemas: HashMap::new(),
            seen: Default::default(),
            records: Vec::new(),
        }
    }

    fn schema(&mut self, id: u32) -> apache_avro::Schema {
        if let Some(s) = self.schemas.get(&id) {
            return s.clone();
        }
        let url = format!("{}/schemas/ids/{id}", self.registry);
        let body: serde_json::Value = ureq_get(&url);
        let text = body["schema"].as_str().expect("schema text");
        let schema = apache_avro::Schema::parse_str(text).expect("registry schema parses");
        self.schemas.insert(id, schema.clone());
        schema
    }

    fn decode(&mut self, bytes: Option<&[u8]>) -> (Option<serde_json::Value>, Option<u32>) {
        let Some(b) = bytes else { return (None, None) };
        assert!(b.len() >= 5 && b[0] == 0, "not Confluent framing: {b:?}");
        let id = u32::from_be_bytes([b[1], b[2], b[3], b[4]]);
        let schema = self.schema(id);
        let mut rest = &b[5..];
        #[allow(deprecated)]
        let v = apache_avro::from_avro_datum(&schema, &mut rest, None).expect("decode avro");
        assert!(rest.is_empty(), "trailing bytes after an Avro datum");
        (Some(avro_to_json(v)), Some(id))
    }

    /// Polls until `done(records)` holds or `timeout` passes; returns whether it held.
    pub fn poll_until(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&[Record]) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if done(&self.records) {
                return true;
            }
            let Some(m) = self.consumer.poll(Duration::from_millis(200)) else {
                continue;
            };
            let m = match m {
                Ok(m) => m.detach(),
                Err(e) => {
                    eprintln!("consumer: {e}");
                    continue;
                }
            };
            if !self
                .seen
                .insert((m.topic().to_string(), m.partition(), m.offset()))
            {
                continue;
            }
            let (key, key_schema) = self.decode(m.key());
            let (value, value_schema) = self.decode(m.payload());
            self.records.push(Record {
                topic: m.topic().to_string(),
                partition: m.partition(),
                offset: m.offset(),
                key,
                value,
                key_schema,
                value_schema,
            });
        }
        done(&self.records)
    }
}

/// GET returning JSON, with std only (the registry is on loopback, plain HTTP/1.1).
pub fn ureq_get(url: &str) -> serde_json::Value {
    http("GET", url, None).1
}

/// A minimal HTTP/1.1 client for loopback tests: (status, JSON body).
pub fn http(method: &str, url: &str, body: Option<&serde_json::Value>) -> (u16, serde_json::Value) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    // `user:password@host` sends HTTP basic auth.
    let (auth, host) = match host.rsplit_once('@') {
        Some((userinfo, host)) => {
            use base64::Engine as _;
            let encoded = base64::engine::general_purpose::STANDARD.encode(userinfo);
            (format!("Authorization: Basic {encoded}\r\n"), host)
        }
        None => (String::new(), host),
    };
    let mut s = std::net::TcpStream::connect(host).expect("connect");
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
        payload.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (
        status,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
    )
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].strip_prefix("\r\n").unwrap_or(&rest[n..]);
    }
    out
}

/// Avro value → JSON as Kafka Connect's JsonConverter renders the same data (unions
/// unwrapped, bytes base64, records as objects).
pub fn avro_to_json(v: apache_avro::types::Value) -> serde_json::Value {
    use apache_avro::types::Value as A;
    use base64::Engine as _;
    use serde_json::Value as J;
    match v {
        A::Null => J::Null,
        A::Boolean(b) => J::Bool(b),
        A::Int(i) | A::Date(i) | A::TimeMillis(i) => J::from(i),
        A::Long(i)
        | A::TimeMicros(i)
        | A::TimestampMillis(i)
        | A::TimestampMicros(i)
        | A::TimestampNanos(i)
        | A::LocalTimestampMillis(i)
        | A::LocalTimestampMicros(i)
        | A::LocalTimestampNanos(i) => J::from(i),
        A::Float(f) => serde_json::Number::from_f64(f64::from(f))
            .map_or_else(|| J::String(non_finite(f64::from(f))), J::Number),
        A::Double(f) => {
            serde_json::Number::from_f64(f).map_or_else(|| J::String(non_finite(f)), J::Number)
        }
        A::Bytes(b) | A::Fixed(_, b) => {
            J::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        A::Decimal(d) => {
            let b: Vec<u8> = d.try_into().unwrap_or_default();
            J::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        A::String(s) | A::Enum(_, s) => J::String(s),
        A::Uuid(u) => J::String(u.to_string()),
        A::Union(_, inner) => avro_to_json(*inner),
        A::Array(items) => J::Array(items.into_iter().map(avro_to_json).collect()),
        A::Map(m) => J::Object(m.into_iter().map(|(k, v)| (k, avro_to_json(v))).collect()),
        A::Record(fields) => J::Object(
            fields
                .into_iter()
                .map(|(k, v)| (k, avro_to_json(v)))
                .collect(),
        ),
        other => J::String(format!("{other:?}")),
    }
}

/// How the JSON output writes a non-finite float.
fn non_finite(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f > 0.0 {
        "Infinity".into()
    } else {
        "-Infinity".into()
    }
}
