//! The Elasticsearch / OpenSearch sink: `_bulk` with external versions.
//!
//! Every upsert is an `index` action and every delete a `delete` action carrying
//! `"version": <offset>, "version_type": "external"`, where the offset is the record's
//! Kafka offset (as Confluent's Elasticsearch sink does). The server applies an action only
//! if its version is higher than the stored document's and answers 409
//! `version_conflict_engine_exception` otherwise — which here means "an older replay was
//! refused", a success. A row's changes are all in one partition (the topic is keyed by
//! the primary key), in the order the source committed them, snapshot reads included: a
//! re-snapshot's reads come after every earlier change of the row, so they overwrite it,
//! and before every change committed after the snapshot, so they never overwrite those.
//! (The change LSN cannot do this: a snapshot read has none, and a transaction open across
//! the snapshot has changes logged before the snapshot's point but committed after it.)
//! A topic deleted and created again starts its offsets over: drop its indexes too.
//!
//! Deletes leave a versioned tombstone on the server for `index.gc_deletes` (60 s by
//! default): an older insert replayed after that can bring the row back until the replay
//! reaches the delete again. A truncate is `_delete_by_query` with `match_all` after a
//! `_refresh` (so documents of the same batch are seen): Elasticsearch keeps no truncate
//! floor, so an insert older than the truncate, replayed later, is indexed again until the
//! replay passes the truncate. Documents are the rows as they are (no bookkeeping fields,
//! but for the partial updates below).
//!
//! An update that left TOASTed columns unchanged (their values are not in the event) is a
//! scripted `update` instead: `_update` cannot take an external version, so the script
//! compares the record's offset with the document's version ([`VERSION_FIELD`] when a
//! script wrote it last, else its external `_version`), keeps the unchanged columns' stored
//! values and records the offset in [`VERSION_FIELD`]. The next full write (an `index`
//! action) replaces the document and drops that field again. A document a script wrote
//! has an internal `_version` one above the version before it (per scripted write), which
//! is not above the offset of any later record of the row, so external versions keep
//! ordering it.
//!
//! No refresh is forced per batch: the server refreshes on its own schedule
//! (`index.refresh_interval`, 1 s by default). OpenSearch speaks the same wire format.
//!
//! Tests run against a real OpenSearch node of their own (`scripts/opensearch.sh`), or the
//! Elasticsearch at `TRIBUTARY_TEST_ELASTICSEARCH_URL` (without security), and against a
//! recording server for what only Elasticsearch answers, auth headers and retries.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Map, Value as Json, json};
use tributary_core::sink::{BoxFuture, expand_template};
use tributary_core::{LeftOut, PartitionOffset, Sink, SinkError, SinkOp, SinkRecord, TableRef};

use crate::config::{Backend, ConfigError, SearchSinkConfig};
use crate::http::Server;

/// Where a document written by the partial-update script keeps its record's offset.
pub const VERSION_FIELD: &str = "__tributary_version";

/// The partial update of a change with unchanged TOASTed columns (see the module doc).
/// `ctx.op` is `create` when there is no document: the unchanged columns are then unknown.
const PARTIAL_UPDATE: &str = "\
long held = ctx._source.containsKey(params.field) ? ((Number) ctx._source.get(params.field)).longValue() : (ctx._version == null ? -1L : ctx._version); \
if (ctx.op != 'create' && params.version <= held) { ctx.op = 'noop'; return; } \
Map kept = new HashMap(); \
for (String f : params.unchanged) { if (ctx._source.containsKey(f)) { kept.put(f, ctx._source.get(f)); } } \
ctx._source.clear(); ctx._source.putAll(params.doc); ctx._source.putAll(kept); \
ctx._source.put(params.field, params.version);";

/// A bulk request is sent when its body reaches this size (servers refuse 100 MB by default).
const MAX_BULK_BYTES: usize = 8 * 1024 * 1024;

const NDJSON: &str = "application/x-ndjson";

/// A search job writing to Elasticsearch or OpenSearch.
#[derive(Debug)]
pub struct ElasticsearchSink {
    server: Server,
    template: String,
    job: String,
    /// Unchanged TOASTed values of rows the index held no document for.
    left_out: LeftOut,
}

impl ElasticsearchSink {
    pub fn new(config: &SearchSinkConfig) -> Result<Self, SinkError> {
        let conn = match (config.backend, &config.connection) {
            (Backend::Elasticsearch | Backend::OpenSearch, Some(conn)) => conn,
            _ => {
                return Err(SinkError::Definite(
                    "the Elasticsearch sink needs search.backend=elasticsearch or opensearch and connection.url".into(),
                ));
            }
        };
        Ok(ElasticsearchSink {
            server: Server::new(config.backend, conn, config.request_timeout)?,
            template: config.index_name.clone(),
            job: config.name.clone(),
            left_out: LeftOut::default(),
        })
    }

    /// Checks that the server answers `GET /` with these credentials; a problem names the
    /// property to fix.
    pub async fn check(&self) -> Result<(), ConfigError> {
        self.server.check_get(&[], &[]).await
    }

    fn index_name(&self, table: &TableRef) -> Result<String, SinkError> {
        let name = expand_template(&self.template, table, None).to_lowercase();
        let bad = if name.is_empty() || name == "." || name == ".." {
            Some("it is empty, '.' or '..'".to_string())
        } else if name.starts_with(['-', '_', '+']) {
            Some("it starts with '-', '_' or '+'".into())
        } else if name.len() > 255 {
            Some("it is longer than 255 bytes".into())
        } else {
            name.chars()
                .find(|c| {
                    matches!(
                        c,
                        '\\' | '/' | '*' | '?' | '"' | '<' | '>' | '|' | ' ' | ',' | '#' | ':'
                    )
                })
                .map(|c| format!("it contains {c:?}"))
        };
        match bad {
            Some(reason) => Err(SinkError::Definite(format!(
                "index name {name:?} of table {}.{} is not valid for {}: {reason}; change index.name",
                table.schema,
                table.table,
                self.server.name()
            ))),
            None => Ok(name),
        }
    }

    async fn write_batch(&mut self, batch: &[SinkRecord]) -> Result<(), SinkError> {
        let mut bulk = Bulk::default();
        for r in batch {
            let index = self.index_name(&r.table)?;
            let version = r.offset.max(0) as u64;
            match &r.op {
                SinkOp::Upsert {
                    key,
                    doc,
                    unchanged,
                    ..
                } if !unchanged.is_empty() => {
                    let id = crate::doc_id(r, key)?;
                    bulk.partial(&index, &id, version, doc, unchanged);
                    bulk.partials
                        .push((bulk.actions - 1, r.table.clone(), unchanged.clone()));
                }
                SinkOp::Upsert { key, doc, .. } => {
                    bulk.action("index", &index, &crate::doc_id(r, key)?, version, Some(doc));
                }
                SinkOp::Delete { key } => {
                    bulk.action("delete", &index, &crate::doc_id(r, key)?, version, None);
                }
                SinkOp::Truncate => {
                    self.send_bulk(&mut bulk).await?;
                    self.truncate(&index).await?;
                }
            }
            if bulk.body.len() >= MAX_BULK_BYTES {
                self.send_bulk(&mut bulk).await?;
            }
        }
        self.send_bulk(&mut bulk).await
    }

    /// Sends the bulk request; counts the unchanged values of partial updates that
    /// created their document (the index held no earlier copy of the row).
    async fn send_bulk(&mut self, bulk: &mut Bulk) -> Result<(), SinkError> {
        if bulk.actions == 0 {
            return Ok(());
        }
        let partials = std::mem::take(&mut bulk.partials);
        let response = self.post_bulk(bulk).await?;
        let items = response.get("items").and_then(Json::as_array);
        for (i, table, unchanged) in partials {
            let item = items.and_then(|items| items.get(i));
            if item.and_then(|i| i.pointer("/update/result")) == Some(&json!("created")) {
                self.left_out.record(&self.job, &table, &unchanged);
            }
        }
        Ok(())
    }

    async fn post_bulk(&self, bulk: &mut Bulk) -> Result<Json, SinkError> {
        let body = std::mem::take(&mut bulk.body);
        bulk.actions = 0;
        let url = self.server.url(&["_bulk"], &[]);
        let answer = self
            .server
            .send(Method::POST, url, Some((NDJSON, body)))
            .await?;
        if !answer.status.is_success() {
            return Err(self.server.status_error("a bulk request", &answer));
        }
        let Some(response) = answer.json() else {
            return Err(SinkError::Transient(format!(
                "{} answered a bulk request with a body that is not JSON: {}",
                self.server.name(),
                answer.excerpt()
            )));
        };
        check_bulk(self.server.name(), &response)?;
        Ok(response)
    }

    /// Removes every document of `index`. See the module doc for what this cannot promise.
    async fn truncate(&self, index: &str) -> Result<(), SinkError> {
        let refresh = self.server.url(&[index, "_refresh"], &[]);
        let answer = self.server.send(Method::POST, refresh, None).await?;
        if !answer.status.is_success() && answer.status.as_u16() != 404 {
            return Err(self
                .server
                .status_error("a refresh before a truncate", &answer));
        }
        let url = self.server.url(
            &[index, "_delete_by_query"],
            &[("conflicts", "proceed"), ("refresh", "true")],
        );
        let body = json!({"query": {"match_all": {}}}).to_string().into_bytes();
        let answer = self
            .server
            .send(Method::POST, url, Some(("application/json", body)))
            .await?;
        if answer.status.as_u16() == 404 {
            return Ok(()); // no index, nothing to remove
        }
        if !answer.status.is_success() {
            return Err(self
                .server
                .status_error("a truncate (_delete_by_query)", &answer));
        }
        let failures = answer
            .json()
            .and_then(|v| v.get("failures").and_then(Json::as_array).map(Vec::len))
            .unwrap_or(0);
        if failures > 0 {
            return Err(SinkError::Transient(format!(
                "{} could not delete every document of index {index:?} for a truncate ({failures} failures): {}",
                self.server.name(),
                answer.excerpt()
            )));
        }
        Ok(())
    }
}

impl Sink for ElasticsearchSink {
    fn values_left_out(&self) -> u64 {
        self.left_out.total()
    }

    fn write<'a>(
        &'a mut self,
        batch: &'a [SinkRecord],
        _offsets: &'a [PartitionOffset],
    ) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(self.write_batch(batch))
    }
}

/// An NDJSON `_bulk` body being built.
#[derive(Default)]
struct Bulk {
    body: Vec<u8>,
    actions: usize,
    /// Partial updates: their action's place in the request, table and unchanged columns.
    partials: Vec<(usize, Arc<TableRef>, Vec<String>)>,
}

impl Bulk {
    /// A scripted upsert keeping `unchanged` columns (see [`PARTIAL_UPDATE`]).
    fn partial(
        &mut self,
        index: &str,
        id: &str,
        version: u64,
        doc: &Map<String, Json>,
        unchanged: &[String],
    ) {
        let meta = json!({"update": {"_index": index, "_id": id, "retry_on_conflict": 5}});
        let _ = serde_json::to_writer(&mut self.body, &meta);
        self.body.push(b'\n');
        let update = json!({
            "scripted_upsert": true,
            "upsert": {},
            "script": {
                "lang": "painless",
                "source": PARTIAL_UPDATE,
                "params": {
                    "doc": doc,
                    "unchanged": unchanged,
                    "version": version,
                    "field": VERSION_FIELD,
                },
            },
        });
        let _ = serde_json::to_writer(&mut self.body, &update);
        self.body.push(b'\n');
        self.actions += 1;
    }

    fn action(
        &mut self,
        action: &str,
        index: &str,
        id: &str,
        version: u64,
        doc: Option<&Map<String, Json>>,
    ) {
        let meta = json!({action: {
            "_index": index,
            "_id": id,
            "version": version,
            "version_type": "external",
        }});
        // Writing JSON into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.body, &meta);
        self.body.push(b'\n');
        if let Some(doc) = doc {
            let _ = serde_json::to_writer(&mut self.body, doc);
            self.body.push(b'\n');
        }
        self.actions += 1;
    }
}

/// Reads a `_bulk` response item by item: success, 409 (an older version refused) and a
/// delete's 404 are fine; 429, 5xx and rejected executions are worth a retry; anything else
/// (a mapping error, a refused document) is definite, naming the index, id and reason.
pub(crate) fn check_bulk(server: &str, response: &Json) -> Result<(), SinkError> {
    if response.get("errors") == Some(&Json::Bool(false)) {
        return Ok(());
    }
    let Some(items) = response.get("items").and_then(Json::as_array) else {
        return Err(SinkError::Transient(format!(
            "{server} answered a bulk request without items: {response}"
        )));
    };
    let mut definite = Vec::new();
    let mut transient = Vec::new();
    for item in items {
        let Some((action, result)) = item.as_object().and_then(|o| o.iter().next()) else {
            continue;
        };
        let status = result.get("status").and_then(Json::as_u64).unwrap_or(0);
        let error_type = result
            .pointer("/error/type")
            .and_then(Json::as_str)
            .unwrap_or_default();
        let ok =
            (200..300).contains(&status) || status == 409 || (status == 404 && action == "delete");
        if ok {
            continue;
        }
        let describe = || {
            format!(
                "{action} of id {} in index {}: HTTP {status} {error_type}: {}",
                result.get("_id").map(Json::to_string).unwrap_or_default(),
                result
                    .get("_index")
                    .map(Json::to_string)
                    .unwrap_or_default(),
                result
                    .pointer("/error/reason")
                    .and_then(Json::as_str)
                    .unwrap_or("no reason given"),
            )
        };
        if status == 429 || status >= 500 || error_type == "es_rejected_execution_exception" {
            transient.push(describe());
        } else {
            definite.push(describe());
        }
    }
    let summary = |errors: &[String]| {
        let shown: Vec<&str> = errors.iter().take(3).map(String::as_str).collect();
        let more = errors.len().saturating_sub(3);
        format!(
            "{server} refused {} of {} bulk actions: {}{}",
            errors.len(),
            items.len(),
            shown.join("; "),
            if more > 0 {
                format!("; and {more} more")
            } else {
                String::new()
            }
        )
    };
    if !definite.is_empty() {
        return Err(SinkError::Definite(format!(
            "{}; fix the index mapping or the documents (a field mapped as another type?)",
            summary(&definite)
        )));
    }
    if !transient.is_empty() {
        return Err(SinkError::Transient(summary(&transient)));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
