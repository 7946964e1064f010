//! The tantivy schema of a table's index, and rows turned into tantivy documents.
//!
//! An index's schema is fixed when it is created, from the first [`RowSchema`] seen for it:
//! each column whose name is a plain identifier gets a typed field (text tokenized, numbers
//! and booleans indexed and fast, for `price:[10 TO 20]`-style queries). Typed fields are
//! index-only: the row itself is stored once, as JSON in `__doc`, and returned exactly.
//!
//! Columns without a typed field — added to the table after the index was created, of kind
//! [`FieldKind::Other`], or with names a query could not spell — still go into `__doc`,
//! and their values, as text, into `__extra`, which the default query searches along with
//! the text fields. Those whose names are plain identifiers also go into `__cols`, a JSON
//! field (text tokenized, numbers and booleans as such, JSON objects by path), and queries
//! naming such a column are sent there ([`route_columns`](super::query)): so a column
//! added after the index was created is returned, found by a plain query and by
//! `column:value` at once, without rebuilding the index. Indexes created before `__cols`
//! existed lack it; rebuild one (delete it and reset its job's offsets) to get it.
//!
//! Bookkeeping fields start with `__`: the document id, the change's [`Position`] (hex for
//! range deletes on truncate, two fast `u64`s for cheap per-id lookups) and the tombstone
//! flag of deleted rows.

use std::collections::HashMap;

use serde_json::{Map, Value as Json};
use tantivy::TantivyDocument;
use tantivy::schema::OwnedValue;
use tantivy::schema::{FAST, Field, FieldType, INDEXED, STORED, STRING, Schema, TEXT, TextOptions};
use tributary_core::{FieldKind, Position, RowSchema};

pub(crate) const ID: &str = "__id";
pub(crate) const POS: &str = "__pos";
pub(crate) const COMMIT: &str = "__commit";
pub(crate) const CHANGE: &str = "__change";
pub(crate) const DELETED: &str = "__deleted";
pub(crate) const DOC: &str = "__doc";
pub(crate) const EXTRA: &str = "__extra";
pub(crate) const COLS: &str = "__cols";

/// The fields of one index, resolved once.
#[derive(Debug, Clone)]
pub(crate) struct Fields {
    pub id: Field,
    pub pos: Field,
    pub commit: Field,
    pub change: Field,
    pub deleted: Field,
    pub doc: Field,
    pub extra: Field,
    /// Columns without a typed field, by name (absent from indexes made before it was).
    pub cols: Option<Field>,
    /// Typed row fields by column name.
    pub row: HashMap<String, (Field, FieldKind)>,
    /// What a query without `field:` searches: the text fields and `__extra`.
    pub default_search: Vec<Field>,
}

/// A column name that can be a typed field: a plain identifier, not one of ours.
pub(crate) fn typed_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

/// The schema of a new index: bookkeeping fields, plus typed fields of `row` if known.
pub(crate) fn build_schema(row: Option<&RowSchema>) -> Schema {
    let mut b = Schema::builder();
    b.add_text_field(ID, STRING | STORED);
    b.add_text_field(POS, STRING | STORED);
    b.add_u64_field(COMMIT, FAST);
    b.add_u64_field(CHANGE, FAST);
    b.add_bool_field(DELETED, INDEXED);
    b.add_text_field(DOC, TextOptions::default().set_stored());
    b.add_text_field(EXTRA, TEXT);
    b.add_json_field(COLS, TEXT);
    let mut seen = std::collections::HashSet::new();
    for f in row.map(|r| r.fields.as_slice()).unwrap_or_default() {
        if !typed_name(&f.name) || !seen.insert(f.name.as_str()) {
            continue;
        }
        match f.kind {
            FieldKind::Text => {
                b.add_text_field(&f.name, TEXT);
            }
            FieldKind::I64 => {
                b.add_i64_field(&f.name, INDEXED | FAST);
            }
            FieldKind::F64 => {
                b.add_f64_field(&f.name, INDEXED | FAST);
            }
            FieldKind::Bool => {
                b.add_bool_field(&f.name, INDEXED | FAST);
            }
            FieldKind::Other => {}
        }
    }
    b.build()
}

impl Fields {
    /// Resolves the fields of an index's schema (new or opened from disk).
    pub fn from_schema(schema: &Schema) -> Result<Fields, String> {
        let get = |name: &str| {
            schema
                .get_field(name)
                .map_err(|_| format!("it has no {name} field: it was not created by Tributary"))
        };
        let extra = get(EXTRA)?;
        let mut row = HashMap::new();
        let mut default_search = Vec::new();
        for (field, entry) in schema.fields() {
            let name = entry.name();
            if !typed_name(name) {
                continue;
            }
            let kind = match entry.field_type() {
                FieldType::Str(_) => FieldKind::Text,
                FieldType::I64(_) => FieldKind::I64,
                FieldType::F64(_) => FieldKind::F64,
                FieldType::Bool(_) => FieldKind::Bool,
                _ => continue,
            };
            if kind == FieldKind::Text {
                default_search.push(field);
            }
            row.insert(name.to_string(), (field, kind));
        }
        default_search.push(extra);
        Ok(Fields {
            id: get(ID)?,
            pos: get(POS)?,
            commit: get(COMMIT)?,
            change: get(CHANGE)?,
            deleted: get(DELETED)?,
            doc: get(DOC)?,
            extra,
            cols: schema.get_field(COLS).ok(),
            row,
            default_search,
        })
    }

    fn bookkeeping(&self, id: &str, pos: Position) -> TantivyDocument {
        let mut d = TantivyDocument::new();
        d.add_text(self.id, id);
        d.add_text(self.pos, pos.to_hex());
        d.add_u64(self.commit, pos.commit.0);
        d.add_u64(self.change, pos.change.0);
        d
    }

    /// The document of a live row.
    pub fn document(&self, id: &str, pos: Position, row: &Map<String, Json>) -> TantivyDocument {
        let mut d = self.bookkeeping(id, pos);
        d.add_text(self.doc, serde_json::to_string(row).unwrap_or_default());
        let mut cols = Vec::new();
        for (name, value) in row {
            if value.is_null() {
                continue;
            }
            match self.row.get(name) {
                Some(&(field, kind)) => add_typed(&mut d, field, kind, value),
                None => {
                    d.add_text(self.extra, as_text(value));
                    if self.cols.is_some() && typed_name(name) {
                        cols.push((name.clone(), OwnedValue::from(value.clone())));
                    }
                }
            }
        }
        if let Some(field) = self.cols
            && !cols.is_empty()
        {
            d.add_field_value(field, &OwnedValue::Object(cols));
        }
        d
    }

    /// The document that marks a deleted row: it keeps the delete's position so an older
    /// replayed insert cannot bring the row back, and is never returned or counted.
    pub fn tombstone(&self, id: &str, pos: Position) -> TantivyDocument {
        let mut d = self.bookkeeping(id, pos);
        d.add_bool(self.deleted, true);
        d
    }
}

fn as_text(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Adds a value to its typed field; a value that does not fit the type (a number as text
/// that does not parse) is left to `__doc`.
fn add_typed(d: &mut TantivyDocument, field: Field, kind: FieldKind, value: &Json) {
    match kind {
        FieldKind::Text | FieldKind::Other => d.add_text(field, as_text(value)),
        FieldKind::I64 => {
            let n = value
                .as_i64()
                .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()));
            if let Some(n) = n {
                d.add_i64(field, n);
            }
        }
        FieldKind::F64 => {
            let n = value
                .as_f64()
                .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()));
            if let Some(n) = n {
                d.add_f64(field, n);
            }
        }
        FieldKind::Bool => {
            let b = value.as_bool().or_else(|| match value.as_str() {
                Some("true") => Some(true),
                Some("false") => Some(false),
                _ => None,
            });
            if let Some(b) = b {
                d.add_bool(field, b);
            }
        }
    }
}
