//! Reading the embedded indexes: what the REST API's `GET /indexes` and
//! `GET /indexes/{name}/search?q=&limit=` serve.
//!
//! Queries use tantivy's query syntax (`word`, `"a phrase"`, `title:word`, `price:[10 TO 20]`,
//! `a AND NOT b`); words without a field search every text field of the index (and
//! `__extra`, the text of columns without a field of their own). An empty query or `*`
//! matches every document. Tombstones of deleted rows are never returned or counted.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value as Json};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, QueryParser, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{Searcher, TantivyDocument, Term};
use tributary_core::FieldKind;

use super::{EmbeddedIndex, IndexError, IndexRegistry};

/// The most hits one search returns.
pub const MAX_LIMIT: usize = 10_000;

/// An index as `GET /indexes` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndexInfo {
    pub name: String,
    /// Live documents (deleted rows' tombstones not counted).
    pub docs: u64,
    /// The typed fields queries can name, sorted.
    pub fields: Vec<IndexField>,
    /// The job writing the index in this process, if any.
    pub writer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexField {
    pub name: String,
    /// `text`, `i64`, `f64` or `bool`.
    pub kind: &'static str,
}

/// The answer to a search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchResults {
    /// Every live document the query matches.
    pub total: u64,
    /// The best `limit` of them, best first.
    pub hits: Vec<SearchHit>,
}

/// One document found: the row as the sink received it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(rename = "_score")]
    pub score: f32,
    #[serde(rename = "_source")]
    pub doc: Map<String, Json>,
}

/// Why a search failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    #[error("there is no index named {0:?}; GET /indexes lists them")]
    NotFound(String),
    #[error("cannot parse query {query:?}: {reason}")]
    BadQuery { query: String, reason: String },
    #[error("index {index:?} failed: {reason}")]
    Index { index: String, reason: String },
    #[error("{0}")]
    Busy(String),
}

impl QueryError {
    /// The HTTP status the API answers with: 404, 400, or 500.
    pub fn http_status(&self) -> u16 {
        match self {
            QueryError::NotFound(_) => 404,
            QueryError::BadQuery { .. } => 400,
            QueryError::Index { .. } => 500,
            QueryError::Busy(_) => 409,
        }
    }
}

fn kind_name(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Text => "text",
        FieldKind::I64 => "i64",
        FieldKind::F64 => "f64",
        FieldKind::Bool => "bool",
        FieldKind::Other => "other",
    }
}

impl EmbeddedIndex {
    fn failed(&self, e: impl std::fmt::Display) -> QueryError {
        QueryError::Index {
            index: self.name.clone(),
            reason: e.to_string(),
        }
    }

    fn tombstones(&self) -> TermQuery {
        TermQuery::new(
            Term::from_field_bool(self.fields.deleted, true),
            IndexRecordOption::Basic,
        )
    }

    /// Live documents as of the last commit.
    pub(crate) fn live_docs(&self, searcher: &Searcher) -> Result<u64, QueryError> {
        let deleted = searcher
            .search(&self.tombstones(), &Count)
            .map_err(|e| self.failed(e))?;
        Ok(searcher.num_docs().saturating_sub(deleted as u64))
    }

    fn info(&self) -> Result<IndexInfo, QueryError> {
        let docs = self.live_docs(&self.reader.searcher())?;
        let mut fields: Vec<IndexField> = self
            .fields
            .row
            .iter()
            .map(|(name, &(_, kind))| IndexField {
                name: name.clone(),
                kind: kind_name(kind),
            })
            .collect();
        fields.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(IndexInfo {
            name: self.name.clone(),
            docs,
            fields,
            writer: self.lock().owner.as_ref().map(|(job, _)| job.clone()),
        })
    }

    fn search(&self, text: &str, limit: usize) -> Result<SearchResults, QueryError> {
        let text = text.trim();
        let matching: Box<dyn Query> = if text.is_empty() || text == "*" {
            Box::new(AllQuery)
        } else {
            let parser = QueryParser::for_index(&self.index, self.fields.default_search.clone());
            parser.parse_query(text).map_err(|e| QueryError::BadQuery {
                query: text.to_string(),
                reason: e.to_string(),
            })?
        };
        let query = BooleanQuery::new(vec![
            (Occur::Must, matching),
            (Occur::MustNot, Box::new(self.tombstones())),
        ]);
        let searcher = self.reader.searcher();
        let limit = limit.min(MAX_LIMIT);
        let (total, top) = if limit == 0 {
            let total = searcher
                .search(&query, &Count)
                .map_err(|e| self.failed(e))?;
            (total, Vec::new())
        } else {
            let collector = (Count, TopDocs::with_limit(limit).order_by_score());
            searcher
                .search(&query, &collector)
                .map_err(|e| self.failed(e))?
        };
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let doc: TantivyDocument = searcher.doc(address).map_err(|e| self.failed(e))?;
            let id = doc
                .get_first(self.fields.id)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string();
            let source = doc
                .get_first(self.fields.doc)
                .and_then(|v| v.as_str())
                .and_then(|s| serde_json::from_str::<Map<String, Json>>(s).ok())
                .unwrap_or_default();
            hits.push(SearchHit {
                id,
                score,
                doc: source,
            });
        }
        Ok(SearchResults {
            total: total as u64,
            hits,
        })
    }
}

impl IndexRegistry {
    /// Every index with its live document count, sorted by name.
    pub fn list(self: &Arc<Self>) -> Result<Vec<IndexInfo>, QueryError> {
        let mut all = Vec::new();
        for registry in self.every() {
            for index in registry.all() {
                all.push(index.info()?);
            }
        }
        Ok(all)
    }

    /// The index `name`, in this registry or one opened through it (a job's `index.dir`).
    fn find(self: &Arc<Self>, name: &str) -> Result<Arc<EmbeddedIndex>, QueryError> {
        self.every()
            .iter()
            .find_map(|r| r.get(name))
            .ok_or_else(|| QueryError::NotFound(name.to_string()))
    }

    /// One index's description.
    pub fn info(self: &Arc<Self>, index: &str) -> Result<IndexInfo, QueryError> {
        self.find(index)?.info()
    }

    /// Deletes the index `name` and its files (`DELETE /indexes/{name}`); refused while a
    /// job writes it. Blocking (it removes files).
    pub fn delete(self: &Arc<Self>, name: &str) -> Result<(), QueryError> {
        for registry in self.every() {
            match registry.remove(name) {
                Ok(true) => return Ok(()),
                Ok(false) => continue,
                Err(e @ IndexError::Busy { .. }) => return Err(QueryError::Busy(e.to_string())),
                Err(e) => {
                    return Err(QueryError::Index {
                        index: name.to_string(),
                        reason: e.to_string(),
                    });
                }
            }
        }
        Err(QueryError::NotFound(name.to_string()))
    }

    /// The best `limit` live documents of `index` matching `query` (at most [`MAX_LIMIT`]),
    /// as of the last commit. Blocking (it reads the index): call it from a blocking task.
    pub fn search(
        self: &Arc<Self>,
        index: &str,
        query: &str,
        limit: usize,
    ) -> Result<SearchResults, QueryError> {
        self.find(index)?.search(query, limit)
    }
}
