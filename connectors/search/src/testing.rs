//! Test helpers: change records, and a recording HTTP server standing in for Elasticsearch
//! and Meilisearch (minimal HTTP/1.1: `content-length` bodies, keep-alive).

use std::sync::{Arc, Mutex};

use serde_json::{Map, Value as Json, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tributary_core::{
    FieldInfo, FieldKind, Lsn, Position, RowKey, RowSchema, SinkOp, SinkRecord, TableRef,
};

/// A real OpenSearch node of the test's own.
#[path = "../../../tests/support/opensearch.rs"]
pub(crate) mod opensearch;

pub(crate) fn table(schema: &str, name: &str) -> Arc<TableRef> {
    Arc::new(TableRef {
        topic: format!("cdc.{schema}.{name}").into(),
        db: "shop".into(),
        schema: schema.into(),
        table: name.into(),
    })
}

/// `id` (I64 key), `title` (text), `price` (f64), `in_stock` (bool), `tags` (other).
pub(crate) fn row_schema() -> Arc<RowSchema> {
    let f = |name: &str, kind| FieldInfo {
        name: name.into(),
        kind,
    };
    Arc::new(RowSchema {
        fields: vec![
            f("id", FieldKind::I64),
            f("title", FieldKind::Text),
            f("price", FieldKind::F64),
            f("in_stock", FieldKind::Bool),
            f("tags", FieldKind::Other),
        ],
    })
}

pub(crate) fn pos(commit: u64, change: u64) -> Position {
    Position::new(Lsn(commit), Lsn(change))
}

/// A record at `pos`; its Kafka offset is the change LSN, so the records of a test sort
/// the same by offset (Elasticsearch's versions) as by position.
fn record(table: &Arc<TableRef>, pos: Position, op: SinkOp, op_code: char) -> SinkRecord {
    SinkRecord {
        table: table.clone(),
        pos,
        op,
        op_code,
        source_ts_ms: 0,
        partition: 0,
        offset: pos.change.0 as i64,
    }
}

pub(crate) fn key(id: i64) -> RowKey {
    RowKey(vec![("id".into(), json!(id))])
}

pub(crate) fn doc(value: Json) -> Map<String, Json> {
    value.as_object().cloned().unwrap_or_default()
}

/// An upsert of row `id` with `title`, at `pos`.
pub(crate) fn upsert(table: &Arc<TableRef>, id: i64, title: &str, pos: Position) -> SinkRecord {
    upsert_doc(
        table,
        key(id),
        doc(json!({"id": id, "title": title, "price": 9.5, "in_stock": true, "tags": ["a"]})),
        pos,
    )
}

pub(crate) fn upsert_doc(
    table: &Arc<TableRef>,
    key: RowKey,
    doc: Map<String, Json>,
    pos: Position,
) -> SinkRecord {
    let schema = row_schema();
    let unchanged = Vec::new();
    record(
        table,
        pos,
        SinkOp::Upsert {
            key,
            doc,
            schema,
            unchanged,
        },
        'u',
    )
}

/// `rec` (an upsert) with `names` marked as unchanged TOASTed columns (left out of its doc).
pub(crate) fn with_unchanged(mut rec: SinkRecord, names: &[&str]) -> SinkRecord {
    if let SinkOp::Upsert { doc, unchanged, .. } = &mut rec.op {
        for n in names {
            doc.remove(*n);
            unchanged.push(n.to_string());
        }
    }
    rec
}

pub(crate) fn delete(table: &Arc<TableRef>, id: i64, pos: Position) -> SinkRecord {
    record(table, pos, SinkOp::Delete { key: key(id) }, 'd')
}

pub(crate) fn truncate(table: &Arc<TableRef>, pos: Position) -> SinkRecord {
    record(table, pos, SinkOp::Truncate, 't')
}

/// One request the recording server received.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Json {
        serde_json::from_slice(&self.body).unwrap_or(Json::Null)
    }

    /// The body as NDJSON lines.
    pub fn lines(&self) -> Vec<Json> {
        self.text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or(Json::Null))
            .collect()
    }
}

/// What the server answers.
pub(crate) struct Reply {
    pub status: u16,
    pub body: String,
}

pub(crate) fn reply(status: u16, body: Json) -> Reply {
    Reply {
        status,
        body: body.to_string(),
    }
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

/// A server on 127.0.0.1 that records every request and answers with `handler`.
pub(crate) struct RecordingServer {
    pub url: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl RecordingServer {
    pub async fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let recorded = requests.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let handler = handler.clone();
                let recorded = recorded.clone();
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut read = BufReader::new(read);
                    while let Some(request) = read_request(&mut read).await {
                        let reply = handler(&request);
                        recorded.lock().unwrap().push(request);
                        let head = format!(
                            "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                            reply.status,
                            reply.body.len()
                        );
                        if write.write_all(head.as_bytes()).await.is_err()
                            || write.write_all(reply.body.as_bytes()).await.is_err()
                        {
                            break;
                        }
                    }
                });
            }
        });
        RecordingServer { url, requests }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

async fn read_request<R: tokio::io::AsyncBufRead + Unpin>(read: &mut R) -> Option<Request> {
    let mut line = String::new();
    if read.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        read.read_line(&mut h).await.ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    read.read_exact(&mut body).await.ok()?;
    Some(Request {
        method,
        target,
        headers,
        body,
    })
}
