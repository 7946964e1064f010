//! Debezium's `ExtractNewRecordState` (`io.debezium.transforms.ExtractNewRecordState`, 3.6):
//! a change event's envelope becomes its row (`after`, or `before` for a rewritten
//! delete), with envelope fields added as fields or headers, deletes and tombstones
//! handled by `delete.tombstone.handling.mode`, and the topic taken from a row field
//! under `route.by.field`.

use std::sync::Arc;

use tributary_core::{Field, Schema, Value};

use super::fields::{ExtractField, InsertField};
use super::util::{self, SchemaCache, Side};
use super::{Built, Settings, Transform};
use crate::config::Findings;
use crate::record::{Header, Record};

const EXTRACT_NEW_RECORD_STATE: &str = "io.debezium.transforms.ExtractNewRecordState";
const EXTRACT_CHANGED_RECORD_STATE: &str = "io.debezium.transforms.ExtractChangedRecordState";

pub(super) fn build(class: &str, s: &Settings<'_>, found: &mut Findings) -> Option<Built> {
    Some(match class {
        EXTRACT_NEW_RECORD_STATE => ExtractNewRecordState::configure(s, found)
            .map(|t| ("ExtractNewRecordState", Box::new(t) as Box<dyn Transform>)),
        EXTRACT_CHANGED_RECORD_STATE => ExtractChangedRecordState::configure(s, found).map(|t| {
            (
                "ExtractChangedRecordState",
                Box::new(t) as Box<dyn Transform>,
            )
        }),
        _ => return None,
    })
}

/// `delete.tombstone.handling.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Drop,
    Tombstone,
    Rewrite,
    RewriteWithTombstone,
    DeleteToTombstone,
}

/// An envelope field to copy into the row or a header (`add.fields`, `add.headers`):
/// `op`, `ts_ms`, `source.lsn`, `table` (a `source` field), `transaction.id`, each
/// optionally renamed with `:name`.
#[derive(Debug, Clone)]
struct FieldRef {
    /// The envelope struct holding it (`source`, `transaction`), `None` for top-level ones.
    parent: Option<String>,
    field: String,
    new_field: String,
}

impl FieldRef {
    fn parse(prefix: &str, spec: &str) -> Result<FieldRef, String> {
        let parts: Vec<&str> = spec.split(':').collect();
        if parts.len() > 2 {
            return Err(format!("unexpected field name: {spec}"));
        }
        let splits: Vec<&str> = parts[0].split('.').collect();
        let field = if splits.len() == 1 {
            splits[0]
        } else {
            splits[1]
        }
        .to_owned();
        let parent = if splits.len() == 1 {
            match field.as_str() {
                "id" | "data_collection_order" | "total_order" => Some("transaction".to_owned()),
                "op" | "ts_ms" | "ts_us" | "ts_ns" => None,
                "updateDescription" => Some("updateDescription".to_owned()),
                _ => Some("source".to_owned()),
            }
        } else {
            Some(splits[0].to_owned())
        };
        let new_field = match parts.get(1) {
            Some(name) => format!("{prefix}{name}"),
            None if splits.len() == 1 => format!("{prefix}{field}"),
            None => format!("{prefix}{}_{field}", splits[0]),
        };
        Ok(FieldRef {
            parent,
            field,
            new_field,
        })
    }

    /// The field's schema in the envelope, made optional without its default (Debezium's
    /// `copySchemaBasics(…).optional()`); `None` when the envelope has no such field.
    fn schema(&self, envelope: &Schema) -> Option<Schema> {
        let parent = match &self.parent {
            Some(p) => &envelope.fields().iter().find(|f| &f.name == p)?.schema,
            None => envelope,
        };
        let f = parent
            .fields()
            .iter()
            .find(|f| f.name == self.field)
            .or_else(|| envelope.fields().iter().find(|f| f.name == self.field))?;
        let mut s = f.schema.clone();
        s.optional = true;
        s.default = None;
        Some(s)
    }

    /// The field's value in the envelope (without defaults).
    fn value(&self, envelope_schema: &Schema, envelope: &[Value]) -> Value {
        let top = |name: &str| {
            util::index(envelope_schema, name)
                .and_then(|i| envelope.get(i))
                .cloned()
                .unwrap_or(Value::Null)
        };
        let Some(parent) = &self.parent else {
            return top(&self.field);
        };
        let Some(pi) = util::index(envelope_schema, parent) else {
            return top(&self.field);
        };
        match &envelope[pi] {
            Value::Struct(values) => {
                let ps = &envelope_schema.fields()[pi].schema;
                match util::index(ps, &self.field) {
                    Some(i) => values[i].clone(),
                    None => top(&self.field),
                }
            }
            _ => Value::Null,
        }
    }
}

/// The schema of each `add.headers` field (`None`: not in the envelope).
type HeaderSchemas = Vec<Option<Arc<Schema>>>;

struct ExtractNewRecordState {
    mode: Mode,
    route_by_field: Option<String>,
    fields: Vec<FieldRef>,
    headers: Vec<FieldRef>,
    after: ExtractField,
    before: ExtractField,
    deleted: InsertField,
    updated: InsertField,
    /// Rows with the added fields, by row schema.
    cache: SchemaCache,
    /// Header schemas, by envelope schema.
    header_schemas: Vec<(Arc<Schema>, HeaderSchemas)>,
}

impl ExtractNewRecordState {
    fn configure(s: &Settings<'_>, found: &mut Findings) -> Result<Self, ()> {
        let mut ok = s.only(
            found,
            &[
                "delete.tombstone.handling.mode",
                "route.by.field",
                "add.fields.prefix",
                "add.fields",
                "add.headers.prefix",
                "add.headers",
                "replace.null.with.default",
                "drop.fields.header.name",
                "drop.fields.from.key",
                "drop.fields.keep.schema.compatible",
            ],
        );
        if s.get("drop.fields.header.name")
            .is_some_and(|v| !v.is_empty())
        {
            found.error(
                &s.field("drop.fields.header.name"),
                "is not implemented: it reads a header of field names that only Debezium's JVM-side transforms write\nHINT: remove it, or drop fields with ReplaceField",
            );
            ok = false;
        }
        let mode = match s
            .get("delete.tombstone.handling.mode")
            .unwrap_or("tombstone")
            .to_ascii_lowercase()
            .as_str()
        {
            "drop" => Mode::Drop,
            "tombstone" => Mode::Tombstone,
            "rewrite" => Mode::Rewrite,
            "rewrite-with-tombstone" => Mode::RewriteWithTombstone,
            "delete-to-tombstone" => Mode::DeleteToTombstone,
            other => {
                found.error(
                    &s.field("delete.tombstone.handling.mode"),
                    format!(
                        "{other:?} is not drop, tombstone, rewrite, rewrite-with-tombstone or delete-to-tombstone"
                    ),
                );
                return Err(());
            }
        };
        let mut refs = |list: &str, prefix: &str| -> Vec<FieldRef> {
            let prefix = s.get(prefix).unwrap_or("__");
            let mut out = Vec::new();
            for spec in s.get(list).unwrap_or("").split(',').map(str::trim) {
                if spec.is_empty() {
                    continue;
                }
                match FieldRef::parse(prefix, spec) {
                    Ok(r) => out.push(r),
                    Err(e) => found.error(&s.field(list), e),
                }
            }
            out
        };
        let fields = refs("add.fields", "add.fields.prefix");
        let headers = refs("add.headers", "add.headers.prefix");
        let replace = s.boolean(found, "replace.null.with.default", true);
        let _ = s.boolean(found, "drop.fields.from.key", false);
        let _ = s.boolean(found, "drop.fields.keep.schema.compatible", true);
        if !ok {
            return Err(());
        }
        Ok(ExtractNewRecordState {
            mode,
            route_by_field: s
                .get("route.by.field")
                .filter(|f| !f.is_empty())
                .map(str::to_owned),
            fields,
            headers,
            after: ExtractField::new(Side::Value, "after", true),
            before: ExtractField::new(Side::Value, "before", true),
            deleted: InsertField::fixed(Side::Value, "__deleted", "true", replace),
            updated: InsertField::fixed(Side::Value, "__deleted", "false", replace),
            cache: SchemaCache::default(),
            header_schemas: Vec::new(),
        })
    }

    /// `makeHeaders`: the `add.headers` fields of the envelope (a tombstone gets only `op`,
    /// as `d`).
    fn headers(&mut self, r: &Record) -> Vec<Header> {
        let (Some(schema), Some(Value::Struct(values))) = (&r.value_schema, &r.value) else {
            return self
                .headers
                .iter()
                .filter(|h| h.field == "op")
                .map(|h| Header {
                    key: h.new_field.clone(),
                    schema: Some(Arc::new(Schema::string())),
                    value: Some(Value::String("d".into())),
                })
                .collect();
        };
        let schemas = match self
            .header_schemas
            .iter()
            .find(|(s, _)| Arc::ptr_eq(s, schema))
        {
            Some((_, hs)) => hs.clone(),
            None => {
                let hs: HeaderSchemas = self
                    .headers
                    .iter()
                    .map(|h| h.schema(schema).map(Arc::new))
                    .collect();
                if self.header_schemas.len() >= 16 {
                    self.header_schemas.remove(0);
                }
                self.header_schemas.push((schema.clone(), hs.clone()));
                hs
            }
        };
        self.headers
            .iter()
            .zip(schemas)
            .filter_map(|(h, hs)| {
                let hs = hs?;
                Some(Header {
                    key: h.new_field.clone(),
                    schema: Some(hs),
                    value: Some(h.value(schema, values)).filter(|v| !v.is_null()),
                })
            })
            .collect()
    }

    /// `addFields`: the row with the `add.fields` of the envelope appended.
    fn add_fields(
        &mut self,
        envelope_schema: &Arc<Schema>,
        envelope: &[Value],
        mut row: Record,
    ) -> Result<Record, String> {
        let (Some(schema), Some(value)) = (row.value_schema.take(), row.value.take()) else {
            return Ok(row);
        };
        let refs: Vec<(&FieldRef, Schema)> = self
            .fields
            .iter()
            .filter_map(|f| Some((f, f.schema(envelope_schema)?)))
            .collect();
        let updated = self.cache.get_or(&schema, |s| {
            let mut fields = s.fields().to_vec();
            for (f, fs) in &refs {
                fields.push(Field::new(f.new_field.clone(), fs.clone()));
            }
            Ok(util::struct_like(s, fields))
        })?;
        let mut values = util::struct_values(value, "source field insertion")?;
        for (f, _) in &refs {
            values.push(f.value(envelope_schema, envelope));
        }
        row.value_schema = Some(updated);
        row.value = Some(Value::Struct(values));
        Ok(row)
    }

    /// The topic a row's `route.by.field` names (a blank or missing one keeps the topic).
    fn route(
        &self,
        row: &Record,
        source: Option<(&Schema, &Value)>,
    ) -> Result<Option<String>, String> {
        let Some(field) = &self.route_by_field else {
            return Ok(None);
        };
        let (schema, value) = match source {
            Some(sv) => sv,
            None => match (&row.value_schema, &row.value) {
                (Some(s), Some(v)) => (&**s, v),
                _ => return Ok(None),
            },
        };
        let Some(i) = util::index(schema, field) else {
            return Err(format!("{field} is not a valid field name"));
        };
        let Value::Struct(values) = value else {
            return Err(format!(
                "route.by.field: the row is not a struct: {}",
                util::kind(value)
            ));
        };
        Ok(match &values[i] {
            Value::String(t) if !t.trim().is_empty() => Some(t.clone()),
            _ => None,
        })
    }
}

impl Transform for ExtractNewRecordState {
    fn apply(&mut self, mut r: Record) -> Result<Option<Record>, String> {
        let tombstone = r.value.is_none();
        let envelope = util::is_envelope(r.value_schema.as_ref());
        if (envelope || tombstone) && !self.headers.is_empty() {
            let hs = self.headers(&r);
            r.headers.extend(hs);
        }
        if tombstone {
            return Ok((self.mode == Mode::RewriteWithTombstone).then_some(r));
        }
        if !envelope {
            return Ok(Some(r));
        }
        let (Some(envelope_schema), Some(Value::Struct(envelope_values))) =
            (r.value_schema.clone(), r.value.clone())
        else {
            return Ok(Some(r));
        };
        let field = |name: &str| {
            util::index(&envelope_schema, name)
                .map(|i| &envelope_values[i])
                .filter(|v| !v.is_null())
        };
        let (before, after) = (field("before").cloned(), field("after").is_some());
        if !after && before.is_none() {
            // A truncate.
            return Ok(None);
        }
        let row = if after {
            let row = self.after.apply(r)?.ok_or("after")?;
            let row = match self.mode {
                Mode::Rewrite | Mode::RewriteWithTombstone => {
                    self.updated.apply(row)?.ok_or("__deleted")?
                }
                _ => row,
            };
            let mut row = match self.route(&row, None)? {
                Some(topic) => Record { topic, ..row },
                None => row,
            };
            row = self.add_fields(&envelope_schema, &envelope_values, row)?;
            row
        } else {
            let mut row = match self.mode {
                Mode::Drop => return Ok(None),
                Mode::Tombstone => self.after.apply(r)?.ok_or("after")?,
                Mode::DeleteToTombstone => {
                    r.value_schema = None;
                    r.value = None;
                    r
                }
                Mode::Rewrite | Mode::RewriteWithTombstone => {
                    let row = self.before.apply(r)?.ok_or("before")?;
                    self.deleted.apply(row)?.ok_or("__deleted")?
                }
            };
            if self.route_by_field.is_some() {
                let before_schema = util::index(&envelope_schema, "before")
                    .map(|i| &envelope_schema.fields()[i].schema);
                if let (Some(bs), Some(bv)) = (before_schema, before.as_ref())
                    && let Some(topic) = self.route(&row, Some((bs, bv)))?
                {
                    row.topic = topic;
                }
            }
            if row.value.is_some() {
                row = self.add_fields(&envelope_schema, &envelope_values, row)?;
            }
            row
        };
        Ok(Some(row))
    }
}

/// Debezium's `ExtractChangedRecordState`: an update's changed and unchanged column names as
/// headers (`header.changed.name`, `header.unchanged.name`; each an array of strings, empty
/// for other operations).
struct ExtractChangedRecordState {
    changed: Option<(String, Arc<Schema>)>,
    unchanged: Option<(String, Arc<Schema>)>,
}

impl ExtractChangedRecordState {
    fn configure(s: &Settings<'_>, found: &mut Findings) -> Result<Self, ()> {
        let ok = s.only(found, &["header.changed.name", "header.unchanged.name"]);
        let header = |key: &str| {
            s.get(key).filter(|n| !n.trim().is_empty()).map(|n| {
                let schema = Schema::array(Schema::string().optional())
                    .optional()
                    .named(n);
                (n.to_owned(), Arc::new(schema))
            })
        };
        let t = ExtractChangedRecordState {
            changed: header("header.changed.name"),
            unchanged: header("header.unchanged.name"),
        };
        if ok { Ok(t) } else { Err(()) }
    }
}

/// `Objects.equals` of two Connect values as Java holds them: a bare byte array is a
/// distinct object each time (never equal), a decimal a `BigDecimal` (equal by value and
/// scale), anything else by value.
fn java_equals(schema: &Schema, a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Bytes(_), Value::Bytes(_))
            if schema.name.as_deref() != Some("org.apache.kafka.connect.data.Decimal") =>
        {
            false
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && !x.iter().any(|v| matches!(v, Value::Bytes(_))) && x == y
        }
        _ => a == b,
    }
}

impl Transform for ExtractChangedRecordState {
    fn apply(&mut self, mut r: Record) -> Result<Option<Record>, String> {
        let Some(schema) = r
            .value_schema
            .clone()
            .filter(|s| util::is_envelope(Some(s)))
        else {
            return Ok(Some(r));
        };
        let Some(Value::Struct(values)) = &r.value else {
            return Ok(Some(r));
        };
        let side = |name: &str| {
            util::index(&schema, name).map(|i| (&schema.fields()[i].schema, values.get(i)))
        };
        let (mut changed, mut unchanged) = (Vec::new(), Vec::new());
        if let (
            Some((after_schema, Some(Value::Struct(after)))),
            Some((_, Some(Value::Struct(before)))),
        ) = (side("after"), side("before"))
        {
            for (i, f) in after_schema.fields().iter().enumerate() {
                let a = after.get(i).unwrap_or(&Value::Null);
                let b = before.get(i).unwrap_or(&Value::Null);
                let name = Value::String(f.name.clone());
                if java_equals(&f.schema, a, b) {
                    unchanged.push(name);
                } else {
                    changed.push(name);
                }
            }
        }
        for (header, names) in [(&self.changed, changed), (&self.unchanged, unchanged)] {
            if let Some((key, schema)) = header {
                r.headers.push(Header {
                    key: key.clone(),
                    schema: Some(schema.clone()),
                    value: Some(Value::Array(names)),
                });
            }
        }
        Ok(Some(r))
    }
}
