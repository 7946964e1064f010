//! Which schemas, tables and columns are captured, and which columns form a key.
//!
//! Debezium's lists are comma-separated regular expressions matched against the whole
//! identifier, regardless of case (its `Predicates.includes`): `schema` for schema lists,
//! `schema.table` for table lists and `schema.table.column` for column lists. An include
//! list and the matching exclude list cannot be set together.

use std::fmt;

use regex::Regex;

/// A table's schema-qualified name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableId {
    pub schema: String,
    pub name: String,
}

impl TableId {
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> Self {
        TableId {
            schema: schema.into(),
            name: name.into(),
        }
    }

    /// The table as a quoted SQL identifier, `"schema"."table"`.
    pub fn quoted(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }
}

impl fmt::Display for TableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

/// Quotes an SQL identifier.
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A comma-separated list of anchored regular expressions.
#[derive(Debug, Clone, Default)]
pub struct PatternList(Vec<Regex>);

impl PatternList {
    /// A list matched regardless of case, as Debezium matches its collection lists.
    pub fn parse_case_insensitive(spec: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let re = Regex::new(&format!("(?i)^(?:{part})$"))
                .map_err(|e| format!("{part:?} is not a valid regular expression: {e}"))?;
            out.push(re);
        }
        Ok(PatternList(out))
    }

    pub fn matches(&self, s: &str) -> bool {
        self.0.iter().any(|re| re.is_match(s))
    }
}

/// An include list or an exclude list (never both).
#[derive(Debug, Clone, Default)]
pub enum Selection {
    #[default]
    All,
    Include(PatternList),
    Exclude(PatternList),
}

impl Selection {
    /// Reads `<kind>.include.list` and `<kind>.exclude.list` through `get`, reporting
    /// problems through `error`.
    pub fn parse(
        kind: &str,
        get: &mut dyn FnMut(&str) -> Option<String>,
        error: &mut dyn FnMut(&str, String),
    ) -> Self {
        let inc_key = format!("{kind}.include.list");
        let exc_key = format!("{kind}.exclude.list");
        let inc = get(&inc_key);
        let exc = get(&exc_key);
        let parse = |key: &str, spec: &str, error: &mut dyn FnMut(&str, String)| {
            PatternList::parse_case_insensitive(spec)
                .map_err(|m| error(key, m))
                .ok()
        };
        match (inc, exc) {
            (Some(_), Some(_)) => {
                error(
                    &exc_key,
                    format!("cannot be used together with {inc_key}; set only one of them"),
                );
                Selection::All
            }
            (Some(spec), None) => parse(&inc_key, &spec, error)
                .map(Selection::Include)
                .unwrap_or_default(),
            (None, Some(spec)) => parse(&exc_key, &spec, error)
                .map(Selection::Exclude)
                .unwrap_or_default(),
            (None, None) => Selection::All,
        }
    }

    pub fn accepts(&self, s: &str) -> bool {
        match self {
            Selection::All => true,
            Selection::Include(p) => p.matches(s),
            Selection::Exclude(p) => !p.matches(s),
        }
    }

    fn is_all(&self) -> bool {
        matches!(self, Selection::All)
    }
}

/// Schema, table and column selection.
#[derive(Debug, Clone, Default)]
pub struct TableFilters {
    schemas: Selection,
    tables: Selection,
    columns: Selection,
    /// `signal.data.collection`: captured whatever the lists say, as Debezium does.
    pub signal_table: Option<TableId>,
}

/// Schemas never captured: Postgres' own catalogs.
const SYSTEM_SCHEMAS: &[&str] = &["pg_catalog", "information_schema", "pg_toast"];

impl TableFilters {
    /// Reads the six list properties through `get`, reporting problems through `error`.
    pub fn parse(
        get: &mut dyn FnMut(&str) -> Option<String>,
        error: &mut dyn FnMut(&str, String),
    ) -> Self {
        let mut pick = |kind: &str| Selection::parse(kind, get, error);
        TableFilters {
            schemas: pick("schema"),
            tables: pick("table"),
            columns: pick("column"),
            signal_table: None,
        }
    }

    /// Whether a table is captured.
    pub fn accepts_table(&self, t: &TableId) -> bool {
        if self.signal_table.as_ref() == Some(t) {
            return true;
        }
        // Debezium's system tables: its schemas, temporary schemas, and PostGIS's
        // `spatial_ref_sys`, wherever the extension put it.
        !SYSTEM_SCHEMAS.contains(&t.schema.as_str())
            && !t.schema.starts_with("pg_temp")
            && !t.name.eq_ignore_ascii_case("spatial_ref_sys")
            && self.schemas.accepts(&t.schema)
            && self.tables.accepts(&t.to_string())
    }

    /// Whether a column of a captured table is part of its events.
    pub fn accepts_column(&self, t: &TableId, column: &str) -> bool {
        self.columns.is_all() || self.columns.accepts(&format!("{t}.{column}"))
    }

    /// Whether any table filter is set (a filtered publication then lists tables).
    pub fn filters_tables(&self) -> bool {
        !self.schemas.is_all() || !self.tables.is_all()
    }
}

/// `message.key.columns`: `<table regex>:<col>,<col>;<table regex>:<col>`.
#[derive(Debug, Clone, Default)]
pub struct KeyColumns(Vec<(Regex, Vec<String>)>);

impl KeyColumns {
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        for entry in spec.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let (table, cols) = entry.rsplit_once(':').ok_or_else(|| {
                format!("{entry:?} has no ':'; write <schema>.<table>:<column>,<column>")
            })?;
            let re = Regex::new(&format!("^(?:{})$", table.trim()))
                .map_err(|e| format!("{table:?} is not a valid regular expression: {e}"))?;
            let cols: Vec<String> = cols
                .split(',')
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect();
            if cols.is_empty() {
                return Err(format!("{entry:?} names no columns"));
            }
            out.push((re, cols));
        }
        Ok(KeyColumns(out))
    }

    /// The configured key columns of a table, if any.
    pub fn for_table(&self, t: &TableId) -> Option<&[String]> {
        let name = t.to_string();
        self.0
            .iter()
            .find(|(re, _)| re.is_match(&name))
            .map(|(_, c)| c.as_slice())
    }
}
