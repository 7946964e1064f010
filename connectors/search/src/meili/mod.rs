//! The Meilisearch sink: documents and deletes as tasks, awaited before `write` returns.
//!
//! A batch becomes a few tasks, in order: runs of upserts to one index become one
//! `POST /indexes/{uid}/documents?primaryKey=_id` (creating the index on first use), runs
//! of deletes one `POST /indexes/{uid}/documents/delete-batch`, a truncate
//! `DELETE /indexes/{uid}/documents`. Meilisearch runs the tasks of one index in the order
//! they were enqueued; `write` then polls `GET /tasks/{taskUid}` until each has
//! `succeeded` (a `failed` task is a definite error with Meilisearch's message, unless it
//! only says the index does not exist yet for a delete or truncate) and returns only then,
//! so the consumer commits offsets for work that is done. A task still running after
//! `request.timeout.ms` is a transient error: the batch is sent again, which is harmless.
//!
//! Documents get `_id` = the row's key ([`RowKey::id`]) and `__pos` = the change's
//! position (hex, sorts like the position). Meilisearch ids may only contain ASCII letters,
//! digits, `-` and `_`: any other id (a composite key `a:1`, an e-mail, …) is stored as
//! `b64_` + its unpadded base64url form, with the original in `__id`; an id that itself
//! starts with `b64_` is encoded too, so the mapping stays one-to-one.
//!
//! Meilisearch cannot compare versions, so ordering rests on delivery: changes of one key
//! arrive in order (one partition per key), and a replay from an older offset re-applies
//! history in order, so the index is right again when the replay reaches where it left
//! off; in between, a replayed older version of a row can be visible.
//!
//! Tests run against a recording server in the test; set `TRIBUTARY_TEST_MEILISEARCH_URL`
//! (e.g. `http://127.0.0.1:7700`; `TRIBUTARY_TEST_MEILISEARCH_KEY` for its master key) to
//! also write to and read back from a real server.
//!
//! [`RowKey::id`]: tributary_core::RowKey::id

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::Method;
use serde_json::{Map, Value as Json};
use tributary_core::sink::{BoxFuture, expand_template};
use tributary_core::{PartitionOffset, Sink, SinkError, SinkOp, SinkRecord, TableRef};

use crate::config::{Backend, ConfigError, SearchSinkConfig};
use crate::http::Server;

/// Prefix of ids stored in encoded form.
const ENCODED: &str = "b64_";

/// The longest index uid Meilisearch accepts.
const MAX_UID: usize = 400;

/// A search job writing to Meilisearch.
#[derive(Debug)]
pub struct MeilisearchSink {
    server: Server,
    template: String,
}

/// One Meilisearch task to enqueue.
#[derive(Debug, PartialEq)]
pub(crate) enum Task {
    Add {
        uid: String,
        docs: Vec<Map<String, Json>>,
        /// Documents lacking unchanged TOASTed columns: sent as a partial update (`PUT`),
        /// which keeps the fields they lack.
        partial: bool,
    },
    Delete {
        uid: String,
        ids: Vec<String>,
    },
    Clear {
        uid: String,
    },
}

/// The `_id` Meilisearch stores for a row key (see the module doc).
pub fn meili_id(id: &str) -> String {
    let plain = !id.is_empty()
        && id.len() <= 511
        && !id.starts_with(ENCODED)
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plain {
        id.to_string()
    } else {
        format!(
            "{ENCODED}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id)
        )
    }
}

impl MeilisearchSink {
    pub fn new(config: &SearchSinkConfig) -> Result<Self, SinkError> {
        let conn = match (config.backend, &config.connection) {
            (Backend::Meilisearch, Some(conn)) => conn,
            _ => {
                return Err(SinkError::Definite(
                    "the Meilisearch sink needs search.backend=meilisearch and connection.url"
                        .into(),
                ));
            }
        };
        Ok(MeilisearchSink {
            server: Server::new(config.backend, conn, config.request_timeout)?,
            template: config.index_name.clone(),
        })
    }

    /// Checks that the server is healthy (`GET /health`) and takes the key
    /// (`GET /indexes?limit=1`); a problem names the property to fix.
    pub async fn check(&self) -> Result<(), ConfigError> {
        self.server.check_get(&["health"], &[]).await?;
        self.server.check_get(&["indexes"], &[("limit", "1")]).await
    }

    fn uid(&self, table: &TableRef) -> Result<String, SinkError> {
        let uid: String = expand_template(&self.template, table, None)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if uid.is_empty() || uid.len() > MAX_UID {
            return Err(SinkError::Definite(format!(
                "index uid {uid:?} of table {}.{} must have 1 to {MAX_UID} characters; change index.name",
                table.schema, table.table
            )));
        }
        Ok(uid)
    }

    /// The batch as tasks: consecutive changes of one kind to one index share a task.
    pub(crate) fn plan(&self, batch: &[SinkRecord]) -> Result<Vec<Task>, SinkError> {
        let mut tasks: Vec<Task> = Vec::new();
        // Position of each `_id` in the last task's documents, when it is an Add.
        let mut at: HashMap<String, usize> = HashMap::new();
        for r in batch {
            let uid = self.uid(&r.table)?;
            match &r.op {
                SinkOp::Upsert {
                    key,
                    doc,
                    unchanged,
                    ..
                } => {
                    let partial = !unchanged.is_empty();
                    let id = crate::doc_id(r, key)?;
                    let mid = meili_id(&id);
                    let mut doc = doc.clone();
                    if mid != id {
                        doc.insert("__id".into(), Json::String(id));
                    }
                    doc.insert("_id".into(), Json::String(mid.clone()));
                    doc.insert("__pos".into(), Json::String(r.pos.to_hex()));
                    match tasks.last_mut() {
                        Some(Task::Add {
                            uid: u,
                            docs,
                            partial: p,
                        }) if *u == uid && *p == partial => match at.get(&mid) {
                            // The later change of a key in one payload replaces the earlier,
                            // or, partial, overwrites the fields it has.
                            Some(&i) if partial => docs[i].extend(doc),
                            Some(&i) => docs[i] = doc,
                            None => {
                                at.insert(mid, docs.len());
                                docs.push(doc);
                            }
                        },
                        _ => {
                            at.clear();
                            at.insert(mid, 0);
                            tasks.push(Task::Add {
                                uid,
                                docs: vec![doc],
                                partial,
                            });
                        }
                    }
                }
                SinkOp::Delete { key } => {
                    let id = meili_id(&crate::doc_id(r, key)?);
                    match tasks.last_mut() {
                        Some(Task::Delete { uid: u, ids }) if *u == uid => ids.push(id),
                        _ => tasks.push(Task::Delete { uid, ids: vec![id] }),
                    }
                }
                SinkOp::Truncate => tasks.push(Task::Clear { uid }),
            }
        }
        Ok(tasks)
    }

    async fn write_batch(&self, batch: &[SinkRecord]) -> Result<(), SinkError> {
        let tasks = self.plan(batch)?;
        let mut enqueued = Vec::with_capacity(tasks.len());
        for task in &tasks {
            enqueued.push((task, self.enqueue(task).await?));
        }
        let deadline = Instant::now() + self.server.timeout;
        for (task, task_uid) in enqueued {
            self.wait(task, task_uid, deadline).await?;
        }
        Ok(())
    }

    async fn enqueue(&self, task: &Task) -> Result<u64, SinkError> {
        let (method, url, body, what) = match task {
            Task::Add { uid, docs, partial } => (
                if *partial { Method::PUT } else { Method::POST },
                self.server
                    .url(&["indexes", uid, "documents"], &[("primaryKey", "_id")]),
                Some(serde_json::to_vec(docs).unwrap_or_default()),
                "adding documents",
            ),
            Task::Delete { uid, ids } => (
                Method::POST,
                self.server
                    .url(&["indexes", uid, "documents", "delete-batch"], &[]),
                Some(serde_json::to_vec(ids).unwrap_or_default()),
                "deleting documents",
            ),
            Task::Clear { uid } => (
                Method::DELETE,
                self.server.url(&["indexes", uid, "documents"], &[]),
                None,
                "deleting all documents",
            ),
        };
        let body = body.map(|b| ("application/json", b));
        let answer = self.server.send(method, url, body).await?;
        if !answer.status.is_success() {
            return Err(self.server.status_error(what, &answer));
        }
        answer
            .json()
            .and_then(|v| v.get("taskUid").and_then(Json::as_u64))
            .ok_or_else(|| {
                SinkError::Transient(format!(
                    "Meilisearch answered {what} without a taskUid: {}",
                    answer.excerpt()
                ))
            })
    }

    /// Polls a task until it is done, sooner at first (most tasks take milliseconds).
    async fn wait(&self, task: &Task, task_uid: u64, deadline: Instant) -> Result<(), SinkError> {
        let url = self.server.url(&["tasks", &task_uid.to_string()], &[]);
        let mut pause = Duration::from_millis(5);
        loop {
            let answer = self.server.send(Method::GET, url.clone(), None).await?;
            if !answer.status.is_success() {
                return Err(self.server.status_error("GET /tasks", &answer));
            }
            let body = answer.json().unwrap_or(Json::Null);
            match body
                .get("status")
                .and_then(Json::as_str)
                .unwrap_or_default()
            {
                "succeeded" => return Ok(()),
                "failed" => return task_failed(task, task_uid, &body),
                "canceled" => {
                    return Err(SinkError::Transient(format!(
                        "Meilisearch task {task_uid} was canceled"
                    )));
                }
                _ => {}
            }
            if Instant::now() + pause > deadline {
                return Err(SinkError::Transient(format!(
                    "Meilisearch task {task_uid} did not finish within {} ms (request.timeout.ms); the batch will be sent again",
                    self.server.timeout.as_millis()
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }
}

/// The meaning of a failed task.
fn task_failed(task: &Task, task_uid: u64, body: &Json) -> Result<(), SinkError> {
    let code = body
        .pointer("/error/code")
        .and_then(Json::as_str)
        .unwrap_or_default();
    let kind = body
        .pointer("/error/type")
        .and_then(Json::as_str)
        .unwrap_or_default();
    let message = body
        .pointer("/error/message")
        .and_then(Json::as_str)
        .unwrap_or("no message");
    if code == "index_not_found" && !matches!(task, Task::Add { .. }) {
        return Ok(()); // nothing to delete in an index that does not exist
    }
    let uid = match task {
        Task::Add { uid, .. } | Task::Delete { uid, .. } | Task::Clear { uid } => uid,
    };
    let text = format!("Meilisearch task {task_uid} on index {uid:?} failed: {code}: {message}");
    if matches!(kind, "internal" | "system") {
        Err(SinkError::Transient(text))
    } else {
        Err(SinkError::Definite(text))
    }
}

impl Sink for MeilisearchSink {
    fn write<'a>(
        &'a mut self,
        batch: &'a [SinkRecord],
        _offsets: &'a [PartitionOffset],
    ) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(self.write_batch(batch))
    }
}

#[cfg(test)]
mod tests;
