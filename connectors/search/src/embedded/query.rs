//! Reading the embedded indexes: what the REST API's `GET /indexes` and
//! `GET /indexes/{name}/search?q=&limit=` serve.
//!
//! Queries use tantivy's query syntax (`word`, `"a phrase"`, `title:word`, `price:[10 TO 20]`,
//! `a AND NOT b`); words without a field search every text field of the index (and
//! `__extra`, the text of columns without a field of their own). `column:value` on a
//! column without a typed field (added after the index was created, say) searches that
//! column in `__cols`, so it works as for any other column. An empty query or `*`
//! matches every document. Tombstones of deleted rows are never returned or counted.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value as Json};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, QueryParser, TermQuery};
use tantivy::schema::{IndexRecordOption, Type, Value};
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

    /// A search that tantivy refused as asked (a range on a column without a typed
    /// field) is the query's fault: 400, with the way out.
    fn search_failed(&self, query: &str, e: tantivy::TantivyError) -> QueryError {
        match e {
            tantivy::TantivyError::InvalidArgument(reason) => QueryError::BadQuery {
                query: query.to_string(),
                reason: format!(
                    "{reason}; a column added after the index was created has no typed field, so it answers column:value but not ranges until the index is rebuilt (DELETE /indexes/{} and reset its job's offsets)",
                    self.name
                ),
            },
            e => self.failed(e),
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

    /// Columns held in `__cols` (without a typed field), with the kind of their first
    /// indexed values; cached per searcher generation.
    fn columns(&self, searcher: &Searcher) -> Result<Columns, QueryError> {
        if self.fields.cols.is_none() {
            return Ok(Columns::default());
        }
        let generation = searcher.generation().generation_id();
        let mut cached = self.columns.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, columns)) = cached.as_ref()
            && *at == generation
        {
            return Ok(columns.clone());
        }
        let mut columns = BTreeMap::new();
        let prefix = format!("{}.", super::fields::COLS);
        for segment in searcher.segment_readers() {
            for field in segment.fields_metadata().map_err(|e| self.failed(e))? {
                let Some(path) = field.field_name.strip_prefix(&prefix) else {
                    continue;
                };
                let name = path.split('.').next().unwrap_or(path);
                let kind = match field.typ {
                    Type::Str => "text",
                    Type::I64 | Type::U64 => "i64",
                    Type::F64 => "f64",
                    Type::Bool => "bool",
                    Type::Date => "date",
                    _ => "other",
                };
                let kind = if path.len() > name.len() {
                    "json"
                } else {
                    kind
                };
                columns.entry(name.to_string()).or_insert(kind);
            }
        }
        let columns = Arc::new(columns);
        *cached = Some((generation, columns.clone()));
        Ok(columns)
    }

    fn info(&self) -> Result<IndexInfo, QueryError> {
        let searcher = self.reader.searcher();
        let docs = self.live_docs(&searcher)?;
        let mut fields: Vec<IndexField> = self
            .fields
            .row
            .iter()
            .map(|(name, &(_, kind))| IndexField {
                name: name.clone(),
                kind: kind_name(kind),
            })
            .chain(
                self.columns(&searcher)?
                    .iter()
                    .map(|(name, &kind)| IndexField {
                        name: name.clone(),
                        kind,
                    }),
            )
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
        let searcher = self.reader.searcher();
        let matching: Box<dyn Query> = if text.is_empty() || text == "*" {
            Box::new(AllQuery)
        } else {
            // Listed only when the query names a field that is not a typed one.
            let mut columns = None;
            let mut failed = None;
            let routed = route_columns(text, |name| {
                if self.fields.row.contains_key(name) {
                    return false;
                }
                if columns.is_none() {
                    match self.columns(&searcher) {
                        Ok(c) => columns = Some(c),
                        Err(e) => {
                            failed = Some(e);
                            return false;
                        }
                    }
                }
                columns.as_ref().is_some_and(|c| c.contains_key(name))
            });
            if let Some(e) = failed {
                return Err(e);
            }
            let parser = QueryParser::for_index(&self.index, self.fields.default_search.clone());
            parser
                .parse_query(&routed)
                .map_err(|e| QueryError::BadQuery {
                    query: text.to_string(),
                    reason: e.to_string(),
                })?
        };
        let query = BooleanQuery::new(vec![
            (Occur::Must, matching),
            (Occur::MustNot, Box::new(self.tombstones())),
        ]);
        let limit = limit.min(MAX_LIMIT);
        let (total, top) = if limit == 0 {
            let total = searcher
                .search(&query, &Count)
                .map_err(|e| self.search_failed(text, e))?;
            (total, Vec::new())
        } else {
            let collector = (Count, TopDocs::with_limit(limit).order_by_score());
            searcher
                .search(&query, &collector)
                .map_err(|e| self.search_failed(text, e))?
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

/// Columns without a typed field, with their kind (`text`, `i64`, …; `json` for objects).
pub(crate) type Columns = Arc<BTreeMap<String, &'static str>>;

/// `query` with each `column:` (or `column.path:`) outside quotes whose column is one of
/// `__cols` (per `is_column`) spelled `__cols.column:`, so tantivy's parser finds it.
fn route_columns(query: &str, mut is_column: impl FnMut(&str) -> bool) -> Cow<'_, str> {
    let bytes = query.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut quoted = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\\' {
            i += 2;
            continue;
        }
        if b == b'"' {
            quoted = !quoted;
        }
        let starts_word = i == 0
            || matches!(
                bytes[i - 1],
                b' ' | b'\t' | b'\n' | b'(' | b'+' | b'-' | b'!'
            );
        if quoted || !starts_word || !(b.is_ascii_alphabetic() || b == b'_') {
            i += 1;
            continue;
        }
        let end = i + bytes[i..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_' || **c == b'.')
            .count();
        if bytes.get(end) == Some(&b':') {
            let name = &query[i..end];
            if is_column(name.split('.').next().unwrap_or(name)) {
                out.push_str(&query[copied..i]);
                out.push_str(super::fields::COLS);
                out.push('.');
                copied = i;
            }
        }
        i = end;
    }
    if copied == 0 && out.is_empty() {
        return Cow::Borrowed(query);
    }
    out.push_str(&query[copied..]);
    Cow::Owned(out)
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

#[cfg(test)]
mod tests {
    use super::route_columns;

    #[test]
    fn only_named_columns_outside_quotes_are_routed_to_cols() {
        let cols =
            |q: &str| route_columns(q, |name| ["color", "meta"].contains(&name)).into_owned();
        assert_eq!(cols("color:red"), "__cols.color:red");
        assert_eq!(
            cols("title:scarf AND (color:red OR -color:blue) meta.size:9"),
            "title:scarf AND (__cols.color:red OR -__cols.color:blue) __cols.meta.size:9"
        );
        assert_eq!(cols(r#""color:red" colors:x"#), r#""color:red" colors:x"#);
        assert_eq!(cols("title:color:red"), "title:color:red");
        assert_eq!(cols("crimson"), "crimson");
    }
}
