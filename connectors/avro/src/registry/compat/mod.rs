//! Compatibility levels and the Avro compatibility check behind them.
//!
//! The rules are Confluent's: BACKWARD means a consumer using the new schema can read data
//! written with the previous one (new = reader, old = writer), FORWARD the other way round,
//! FULL both; the `_TRANSITIVE` variants check against every live version instead of only
//! the latest. Schema resolution itself is apache-avro's
//! [`SchemaCompatibility::can_read`], which follows the Avro specification: a reader field
//! missing from the writer needs a default, `int` promotes to `long`/`float`/`double`,
//! `long` to `float`/`double`, `float` to `double`, `string` and `bytes` interchange, and a
//! writer union needs every branch readable. apache-avro calls a union or enum match that
//! works only for some values "partial"; Confluent rejects those (a missing union branch or
//! enum symbol), so we treat partial as incompatible.

use std::fmt;
use std::str::FromStr;

use apache_avro::Schema;
use apache_avro::error::CompatibilityError;
use apache_avro::schema::SchemaKind;
use apache_avro::schema_compatibility::{Compatibility, SchemaCompatibility};

/// A subject's (or the registry's global) compatibility rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CompatibilityLevel {
    None,
    #[default]
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

impl CompatibilityLevel {
    pub const ALL: [CompatibilityLevel; 7] = [
        CompatibilityLevel::None,
        CompatibilityLevel::Backward,
        CompatibilityLevel::BackwardTransitive,
        CompatibilityLevel::Forward,
        CompatibilityLevel::ForwardTransitive,
        CompatibilityLevel::Full,
        CompatibilityLevel::FullTransitive,
    ];

    /// The name on the wire: `BACKWARD`, `FULL_TRANSITIVE`, …
    pub fn as_str(self) -> &'static str {
        match self {
            CompatibilityLevel::None => "NONE",
            CompatibilityLevel::Backward => "BACKWARD",
            CompatibilityLevel::BackwardTransitive => "BACKWARD_TRANSITIVE",
            CompatibilityLevel::Forward => "FORWARD",
            CompatibilityLevel::ForwardTransitive => "FORWARD_TRANSITIVE",
            CompatibilityLevel::Full => "FULL",
            CompatibilityLevel::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    fn transitive(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::BackwardTransitive
                | CompatibilityLevel::ForwardTransitive
                | CompatibilityLevel::FullTransitive
        )
    }

    fn backward(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::Backward
                | CompatibilityLevel::BackwardTransitive
                | CompatibilityLevel::Full
                | CompatibilityLevel::FullTransitive
        )
    }

    fn forward(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::Forward
                | CompatibilityLevel::ForwardTransitive
                | CompatibilityLevel::Full
                | CompatibilityLevel::FullTransitive
        )
    }
}

impl fmt::Display for CompatibilityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The level name was none of the seven.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid compatibility level {0:?}: valid values are NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL and FULL_TRANSITIVE"
)]
pub struct InvalidLevel(pub String);

impl FromStr for CompatibilityLevel {
    type Err = InvalidLevel;

    /// Case-insensitive, as Confluent's registry accepts it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CompatibilityLevel::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| InvalidLevel(s.to_owned()))
    }
}

impl serde::Serialize for CompatibilityLevel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for CompatibilityLevel {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An earlier version the new schema is checked against.
pub struct Previous<'a> {
    pub version: u32,
    pub text: &'a str,
    pub schema: &'a Schema,
}

/// Checks `new` against `previous` (oldest first) under `level`. Returns Confluent-style
/// detail messages; empty means compatible.
pub fn check(level: CompatibilityLevel, new: &Schema, previous: &[Previous<'_>]) -> Vec<String> {
    if level == CompatibilityLevel::None {
        return Vec::new();
    }
    let against = if level.transitive() {
        previous
    } else {
        &previous[previous.len().saturating_sub(1)..]
    };
    let mut messages = Vec::new();
    // Newest first, as Confluent reports them.
    for old in against.iter().rev() {
        let mut problems = Vec::new();
        if level.backward() {
            problems.extend(problems_reading(old.schema, new, Direction::NewReadsOld));
        }
        if level.forward() {
            problems.extend(problems_reading(new, old.schema, Direction::OldReadsNew));
        }
        if !problems.is_empty() {
            messages.extend(problems);
            messages.push(format!("{{oldSchemaVersion: {}}}", old.version));
            messages.push(format!("{{oldSchema: '{}'}}", old.text));
        }
    }
    if !messages.is_empty() {
        messages.push(format!("{{compatibility: '{level}'}}"));
    }
    messages
}

#[derive(Clone, Copy)]
enum Direction {
    /// BACKWARD: the new schema is the reader.
    NewReadsOld,
    /// FORWARD: the old schema is the reader.
    OldReadsNew,
}

impl Direction {
    fn reader(self) -> &'static str {
        match self {
            Direction::NewReadsOld => "new",
            Direction::OldReadsNew => "old",
        }
    }

    fn writer(self) -> &'static str {
        match self {
            Direction::NewReadsOld => "old",
            Direction::OldReadsNew => "new",
        }
    }
}

fn problems_reading(writer: &Schema, reader: &Schema, dir: Direction) -> Vec<String> {
    if fully(writer, reader) {
        Vec::new()
    } else {
        vec![explain(writer, reader, "", dir)]
    }
}

fn fully(writer: &Schema, reader: &Schema) -> bool {
    matches!(
        SchemaCompatibility::can_read(writer, reader),
        Ok(Compatibility::Full)
    )
}

/// Why `reader` cannot read everything `writer` wrote, found by descending to the deepest
/// pair of schemas that fails. apache-avro reports a failure inside a union only as a
/// partial match of the whole union, and Debezium puts every row inside
/// `["null", Value]`: without this, every incompatible column change would read
/// "missing union branch" instead of naming the column.
fn explain(writer: &Schema, reader: &Schema, path: &str, dir: Direction) -> String {
    let (r, w) = (dir.reader(), dir.writer());
    match (writer, reader) {
        (Schema::Union(wu), _) => {
            for branch in wu.variants() {
                let candidate = match reader {
                    Schema::Union(ru) => counterpart(branch, ru.variants()),
                    other => Some(other),
                };
                match candidate {
                    Some(c) if fully(branch, c) => {}
                    Some(c) => return explain(branch, c, path, dir),
                    None => return missing_branch(branch, path, dir),
                }
            }
            leaf(writer, reader, path, dir)
        }
        (_, Schema::Union(ru)) => match counterpart(writer, ru.variants()) {
            Some(c) => explain(writer, c, path, dir),
            None => missing_branch(writer, path, dir),
        },
        (Schema::Record(wr), Schema::Record(rr)) if wr.name.name() == rr.name.name() => {
            for rf in &rr.fields {
                let found = std::iter::once(&rf.name)
                    .chain(rf.aliases.iter())
                    .find_map(|n| wr.fields.iter().find(|wf| &wf.name == n));
                let field_path = format!("{path}/fields/{}", rf.name);
                match found {
                    Some(wf) if fully(&wf.schema, &rf.schema) => {}
                    Some(wf) => return explain(&wf.schema, &rf.schema, &field_path, dir),
                    None if rf.default.is_none() => {
                        return format!(
                            "{{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field '{f}' at path '{field_path}' in the {r} schema has no default value and is missing in the {w} schema', additionalInfo:'{f}'}}",
                            f = rf.name
                        );
                    }
                    None => {}
                }
            }
            leaf(writer, reader, path, dir)
        }
        (Schema::Array(wa), Schema::Array(ra)) => {
            explain(&wa.items, &ra.items, &format!("{path}/items"), dir)
        }
        (Schema::Map(wm), Schema::Map(rm)) => {
            explain(&wm.types, &rm.types, &format!("{path}/values"), dir)
        }
        (Schema::Enum(we), Schema::Enum(re)) if re.default.is_none() => {
            let missing: Vec<&str> = we
                .symbols
                .iter()
                .filter(|s| !re.symbols.contains(s))
                .map(String::as_str)
                .collect();
            if missing.is_empty() {
                leaf(writer, reader, path, dir)
            } else {
                format!(
                    "{{errorType:'MISSING_ENUM_SYMBOLS', description:'The {r} schema is missing enum symbols '{m}' at path '{at}' in the {w} schema', additionalInfo:'[{m}]'}}",
                    m = missing.join(", "),
                    at = at(path)
                )
            }
        }
        _ => leaf(writer, reader, path, dir),
    }
}

/// The branch of a reader union that a writer schema is meant to be read as: one that
/// reads it fully, else one with the same name, else one of the same kind.
fn counterpart<'a>(writer: &Schema, candidates: &'a [Schema]) -> Option<&'a Schema> {
    candidates
        .iter()
        .find(|c| fully(writer, c))
        .or_else(|| {
            let name = writer.name()?.name();
            candidates
                .iter()
                .find(|c| c.name().is_some_and(|n| n.name() == name))
        })
        .or_else(|| {
            let kind = SchemaKind::from(writer);
            candidates.iter().find(|c| SchemaKind::from(*c) == kind)
        })
}

fn missing_branch(writer: &Schema, path: &str, dir: Direction) -> String {
    format!(
        "{{errorType:'MISSING_UNION_BRANCH', description:'The {r} schema is missing a type inside a union field at path '{at}' in the {w} schema', additionalInfo:'reader union lacking writer type: {t}'}}",
        r = dir.reader(),
        w = dir.writer(),
        at = at(path),
        t = type_name(writer)
    )
}

/// The message for a pair that cannot be explained further down.
fn leaf(writer: &Schema, reader: &Schema, path: &str, dir: Direction) -> String {
    match SchemaCompatibility::can_read(writer, reader) {
        Err(e) => describe(&e, path, dir),
        Ok(_) => format!(
            "{{errorType:'MISSING_UNION_BRANCH', description:'The {r} schema cannot read every value of the {w} schema at path '{at}': a union branch or an enum symbol is missing', additionalInfo:'partial match'}}",
            r = dir.reader(),
            w = dir.writer(),
            at = at(path)
        ),
    }
}

fn at(path: &str) -> &str {
    if path.is_empty() { "/" } else { path }
}

/// `STRING`, `LONG`, or the full name of a named type.
fn type_name(schema: &Schema) -> String {
    match schema.name() {
        Some(n) => n.fullname(None),
        None => format!("{:?}", SchemaKind::from(schema)).to_uppercase(),
    }
}

/// Renders an apache-avro compatibility error in Confluent's `{errorType:…}` shape, with the
/// path of the field it concerns. (apache-avro's own message for a type mismatch embeds a
/// `Debug` dump of both schemas; we keep only the kinds.)
fn describe(e: &CompatibilityError, path: &str, dir: Direction) -> String {
    let (r, w) = (dir.reader(), dir.writer());
    let at = at(path);
    let (kind, description, info) = match e {
        CompatibilityError::FieldTypeMismatch(field, inner) => {
            return describe(inner, &format!("{path}/fields/{field}"), dir);
        }
        CompatibilityError::MissingDefaultValue(field) => (
            "READER_FIELD_MISSING_DEFAULT_VALUE",
            format!(
                "The field '{field}' at path '{path}/fields/{field}' in the {r} schema has no default value and is missing in the {w} schema"
            ),
            field.clone(),
        ),
        CompatibilityError::WrongType {
            writer_schema_type,
            reader_schema_type,
        } => {
            let (rk, wk) = (kind_of(reader_schema_type), kind_of(writer_schema_type));
            (
                "TYPE_MISMATCH",
                format!(
                    "The type (path '{at}') of a field in the {r} schema does not match with the {w} schema"
                ),
                format!("reader type: {rk} not compatible with writer type: {wk}"),
            )
        }
        CompatibilityError::TypeExpected { .. }
        | CompatibilityError::DecimalMismatch { .. }
        | CompatibilityError::Inconclusive(_) => (
            "TYPE_MISMATCH",
            format!(
                "The type (path '{at}') of a field in the {r} schema does not match with the {w} schema"
            ),
            e.to_string(),
        ),
        CompatibilityError::NameMismatch {
            writer_name,
            reader_name,
        } => (
            "NAME_MISMATCH",
            format!("The name of the schema has changed (path '{at}')"),
            format!("expected: {writer_name}, found: {reader_name}"),
        ),
        CompatibilityError::MissingSymbols => (
            "MISSING_ENUM_SYMBOLS",
            format!("The {r} schema is missing enum symbols at path '{at}' in the {w} schema"),
            e.to_string(),
        ),
        CompatibilityError::MissingUnionElements
        | CompatibilityError::SchemaMismatchAllUnionElements => (
            "MISSING_UNION_BRANCH",
            format!(
                "The {r} schema is missing a type inside a union field at path '{at}' in the {w} schema"
            ),
            e.to_string(),
        ),
        CompatibilityError::FixedMismatch => (
            "FIXED_SIZE_MISMATCH",
            format!(
                "The size of FIXED type field at path '{at}' in the {r} schema does not match with the {w} schema"
            ),
            e.to_string(),
        ),
    };
    format!("{{errorType:'{kind}', description:'{description}', additionalInfo:'{info}'}}")
}

/// `Record(\n RecordSchema {…` → `Record`: the first word of a `Debug` dump.
fn kind_of(debug: &str) -> &str {
    let end = debug
        .find(|c: char| !c.is_alphanumeric() && c != '_')
        .unwrap_or(debug.len());
    &debug[..end]
}

#[cfg(test)]
mod tests;
