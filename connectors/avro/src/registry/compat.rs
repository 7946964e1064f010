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
mod tests {
    use super::*;

    fn parse(s: &str) -> Schema {
        Schema::parse_str(s).unwrap()
    }

    fn record(fields: &str) -> String {
        format!(
            r#"{{"type":"record","name":"Value","namespace":"cdc.public.t","fields":[{fields}]}}"#
        )
    }

    fn check_pair(level: CompatibilityLevel, old: &str, new: &str) -> Vec<String> {
        let (o, n) = (parse(old), parse(new));
        check(
            level,
            &n,
            &[Previous {
                version: 1,
                text: old,
                schema: &o,
            }],
        )
    }

    const ID: &str = r#"{"name":"id","type":"int"}"#;

    #[test]
    fn added_optional_field_with_null_default_is_backward_compatible() {
        let old = record(ID);
        let new = record(&format!(
            r#"{ID},{{"name":"note","type":["null","string"],"default":null}}"#
        ));
        assert!(check_pair(CompatibilityLevel::Backward, &old, &new).is_empty());
        assert!(check_pair(CompatibilityLevel::Full, &old, &new).is_empty());
    }

    #[test]
    fn added_required_field_without_default_is_not_backward_compatible() {
        let old = record(ID);
        let new = record(&format!(r#"{ID},{{"name":"note","type":"string"}}"#));
        let msgs = check_pair(CompatibilityLevel::Backward, &old, &new);
        assert!(
            msgs[0].contains("READER_FIELD_MISSING_DEFAULT_VALUE"),
            "{msgs:?}"
        );
        assert!(msgs[0].contains("'note'"), "{msgs:?}");
        assert!(
            msgs.iter().any(|m| m == "{oldSchemaVersion: 1}"),
            "{msgs:?}"
        );
        assert_eq!(msgs.last().unwrap(), "{compatibility: 'BACKWARD'}");
        // Old readers ignore the new field: FORWARD accepts it, NONE accepts anything.
        assert!(check_pair(CompatibilityLevel::Forward, &old, &new).is_empty());
        assert!(check_pair(CompatibilityLevel::None, &old, &new).is_empty());
        assert!(!check_pair(CompatibilityLevel::Full, &old, &new).is_empty());
    }

    #[test]
    fn removed_field_without_default_breaks_forward_only() {
        let old = record(&format!(r#"{ID},{{"name":"note","type":"string"}}"#));
        let new = record(ID);
        assert!(check_pair(CompatibilityLevel::Backward, &old, &new).is_empty());
        let msgs = check_pair(CompatibilityLevel::Forward, &old, &new);
        assert!(
            msgs[0].contains("in the old schema has no default"),
            "{msgs:?}"
        );
    }

    #[test]
    fn int_promotes_to_long_but_not_back() {
        let int = record(ID);
        let long = record(r#"{"name":"id","type":"long"}"#);
        assert!(check_pair(CompatibilityLevel::Backward, &int, &long).is_empty());
        let msgs = check_pair(CompatibilityLevel::Backward, &long, &int);
        assert!(msgs[0].contains("TYPE_MISMATCH"), "{msgs:?}");
        assert!(msgs[0].contains("/fields/id"), "{msgs:?}");
        assert!(
            msgs[0].contains("reader type: Int not compatible with writer type: Long"),
            "{msgs:?}"
        );
    }

    #[test]
    fn union_losing_a_branch_is_incompatible_and_gaining_one_is_fine() {
        let two = record(r#"{"name":"v","type":["null","int","string"]}"#);
        let one = record(r#"{"name":"v","type":["null","int"]}"#);
        assert!(check_pair(CompatibilityLevel::Backward, &one, &two).is_empty());
        let msgs = check_pair(CompatibilityLevel::Backward, &two, &one);
        assert!(msgs[0].contains("MISSING_UNION_BRANCH"), "{msgs:?}");
        assert!(msgs[0].contains("'/fields/v'"), "{msgs:?}");
        assert!(msgs[0].contains("lacking writer type: STRING"), "{msgs:?}");
    }

    #[test]
    fn enum_losing_a_symbol_is_incompatible() {
        let abc = r#"{"type":"enum","name":"E","symbols":["A","B","C"]}"#;
        let ab = r#"{"type":"enum","name":"E","symbols":["A","B"]}"#;
        assert!(check_pair(CompatibilityLevel::Backward, ab, abc).is_empty());
        let msgs = check_pair(CompatibilityLevel::Backward, abc, ab);
        assert!(msgs[0].contains("MISSING_ENUM_SYMBOLS"), "{msgs:?}");
        assert!(msgs[0].contains("additionalInfo:'[C]'"), "{msgs:?}");
    }

    #[test]
    fn renamed_record_is_incompatible() {
        let a = r#"{"type":"record","name":"A","fields":[]}"#;
        let b = r#"{"type":"record","name":"B","fields":[]}"#;
        let msgs = check_pair(CompatibilityLevel::Backward, a, b);
        assert!(msgs[0].contains("NAME_MISMATCH"), "{msgs:?}");
    }

    #[test]
    fn transitive_levels_check_every_version_and_plain_levels_only_the_latest() {
        // v1 has a required field, v2 dropped it, v3 adds it back without default:
        // v3 can read v2? No ("x" missing, no default). Make v3 add it back *with* a
        // default so it can read v2 but has a different type than v1's.
        let v1 = record(&format!(r#"{ID},{{"name":"x","type":"string"}}"#));
        let v2 = record(ID);
        let v3 = record(&format!(r#"{ID},{{"name":"x","type":"int","default":0}}"#));
        let (s1, s2, s3) = (parse(&v1), parse(&v2), parse(&v3));
        let previous = [
            Previous {
                version: 1,
                text: &v1,
                schema: &s1,
            },
            Previous {
                version: 2,
                text: &v2,
                schema: &s2,
            },
        ];
        assert!(check(CompatibilityLevel::Backward, &s3, &previous).is_empty());
        let msgs = check(CompatibilityLevel::BackwardTransitive, &s3, &previous);
        assert!(
            msgs.iter().any(|m| m == "{oldSchemaVersion: 1}"),
            "{msgs:?}"
        );
        assert!(
            !msgs.iter().any(|m| m == "{oldSchemaVersion: 2}"),
            "{msgs:?}"
        );
    }

    /// Debezium's envelope defines `Value` in `before` and refers to it by name in `after`:
    /// a change of `Value` must still be seen.
    fn envelope(value_fields: &str) -> String {
        format!(
            r#"{{"type":"record","name":"Envelope","namespace":"cdc.public.t","fields":[
                {{"name":"before","type":["null",{{"type":"record","name":"Value","fields":[{value_fields}]}}],"default":null}},
                {{"name":"after","type":["null","Value"],"default":null}},
                {{"name":"op","type":"string"}}]}}"#
        )
    }

    #[test]
    fn debezium_envelope_evolves_like_its_value_record() {
        let old = envelope(ID);
        let optional = envelope(&format!(
            r#"{ID},{{"name":"note","type":["null","string"],"default":null}}"#
        ));
        let required = envelope(&format!(r#"{ID},{{"name":"note","type":"string"}}"#));
        assert!(check_pair(CompatibilityLevel::Backward, &old, &optional).is_empty());
        let msgs = check_pair(CompatibilityLevel::Backward, &old, &required);
        assert!(!msgs.is_empty());
        assert!(
            msgs[0].starts_with("{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE'"),
            "{msgs:?}"
        );
        assert!(msgs[0].contains("'/fields/before/fields/note'"), "{msgs:?}");

        let retyped = envelope(r#"{"name":"id","type":"string"}"#);
        let msgs = check_pair(CompatibilityLevel::Backward, &old, &retyped);
        assert!(msgs[0].contains("TYPE_MISMATCH"), "{msgs:?}");
        assert!(msgs[0].contains("'/fields/before/fields/id'"), "{msgs:?}");
        assert!(
            msgs[0].contains("reader type: String not compatible with writer type: Int"),
            "{msgs:?}"
        );
    }

    #[test]
    fn levels_parse_case_insensitively_and_print_upper_case() {
        assert_eq!(
            "full_transitive".parse::<CompatibilityLevel>().unwrap(),
            CompatibilityLevel::FullTransitive
        );
        assert_eq!(CompatibilityLevel::default().to_string(), "BACKWARD");
        assert!("SOMETIMES".parse::<CompatibilityLevel>().is_err());
        for l in CompatibilityLevel::ALL {
            assert_eq!(l.as_str().parse::<CompatibilityLevel>().unwrap(), l);
        }
    }
}
