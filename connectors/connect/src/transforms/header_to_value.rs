//! Debezium's `HeaderToValue` (`io.debezium.transforms.HeaderToValue`, 3.6): headers
//! copied or moved into fields of the value, nested with dots (`source.origin`) into a
//! struct the value has or a new one, as `ConnectRecordUtil.makeNewSchema` and
//! `makeUpdatedValue` place them.

use tributary_core::{Field, Schema, SchemaType, Value};

use super::util::{self, ByStructure};
use super::{Built, Settings, Transform};
use crate::config::Findings;
use crate::record::Record;

const CLASS: &str = "io.debezium.transforms.HeaderToValue";
/// What `ConnectRecordUtil` calls the value's own level.
const ROOT: &str = "payload";

pub(super) fn build(class: &str, s: &Settings<'_>, found: &mut Findings) -> Option<Built> {
    (class == CLASS).then(|| {
        HeaderToValue::configure(s, found)
            .map(|t| ("HeaderToValue", Box::new(t) as Box<dyn Transform>))
    })
}

struct HeaderToValue {
    headers: Vec<String>,
    fields: Vec<String>,
    /// `move` (the headers are removed) rather than `copy`.
    remove: bool,
    /// The updated schema by value schema, built from the first record's headers.
    schemas: ByStructure<Schema>,
}

/// A header on its way into the value: the field name (dotted), its schema and value.
struct Entry<'a> {
    name: &'a str,
    schema: &'a Schema,
    value: &'a Value,
}

impl HeaderToValue {
    fn configure(s: &Settings<'_>, found: &mut Findings) -> Result<Self, ()> {
        let mut ok = s.only(found, &["headers", "fields", "operation"]);
        let mut list = |key: &str| -> Vec<String> {
            let items: Vec<String> = s
                .get(key)
                .unwrap_or_default()
                .split(',')
                .map(|i| i.trim().to_owned())
                .collect();
            if s.get(key).is_none_or(str::is_empty) {
                found.error(&s.field(key), "is required");
                ok = false;
            } else if items.iter().any(|i| i.is_empty() || i.contains(' ')) {
                found.error(
                    &s.field(key),
                    "has an empty element or one with a space: list names separated by commas",
                );
                ok = false;
            }
            items
        };
        let (headers, fields) = (list("headers"), list("fields"));
        if ok && headers.len() != fields.len() {
            found.error(
                &s.field("fields"),
                "'fields' config must have the same number of elements as 'headers' config.",
            );
            ok = false;
        }
        let remove = match s.get("operation").map(str::to_ascii_lowercase).as_deref() {
            Some("move") => true,
            Some("copy") => false,
            Some(other) => {
                found.error(
                    &s.field("operation"),
                    format!("{other:?} is not move or copy"),
                );
                ok = false;
                false
            }
            None => {
                found.error(&s.field("operation"), "is required: move or copy");
                ok = false;
                false
            }
        };
        if ok {
            Ok(HeaderToValue {
                headers,
                fields,
                remove,
                schemas: ByStructure::default(),
            })
        } else {
            Err(())
        }
    }
}

impl Transform for HeaderToValue {
    fn apply(&mut self, mut r: Record) -> Result<Option<Record>, String> {
        if r.value.is_none() {
            return Ok(Some(r));
        }
        let (Some(schema), Some(Value::Struct(values))) = (&r.value_schema, &r.value) else {
            return Err(format!(
                "Only Struct objects supported for [Header field insertion], found: {}",
                r.value.as_ref().map_or("null", util::kind)
            ));
        };
        let mut entries = Vec::new();
        for h in &r.headers {
            if let Some(i) = self.headers.iter().position(|k| *k == h.key) {
                let schema = h
                    .schema
                    .as_deref()
                    .ok_or_else(|| format!("header {:?} has no schema", h.key))?;
                entries.push(Entry {
                    name: &self.fields[i],
                    schema,
                    value: h.value.as_ref().unwrap_or(&Value::Null),
                });
            }
        }
        if entries.is_empty() {
            return Ok(Some(r));
        }
        let nested: Vec<&str> = entries
            .iter()
            .map(|e| e.name)
            .filter(|n| n.contains('.'))
            .collect();
        let updated = self.schemas.get_or_by(schema, || {
            check_parents(schema, &nested)?;
            new_schema(ROOT, schema, &entries, &nested, 0)
        })?;
        let value = new_value(ROOT, schema, values, &entries, &updated, &nested, 0)?;
        r.value_schema = Some(updated);
        r.value = Some(Value::Struct(value));
        if self.remove {
            r.headers.retain(|h| !self.headers.contains(&h.key));
        }
        Ok(Some(r))
    }
}

/// `validateNestedFieldsExist`: a dotted name may not go through a primitive field.
fn check_parents(schema: &Schema, nested: &[&str]) -> Result<(), String> {
    for name in nested {
        let parts: Vec<&str> = name.split('.').collect();
        let mut current = schema;
        for part in &parts[..parts.len() - 1] {
            let Some(i) = util::index(current, part) else {
                break;
            };
            let field = &current.fields()[i];
            if is_primitive(&field.schema) {
                return Err(format!(
                    "Field '{part}' is a primitive type, not a struct. Cannot add nested field '{name}'."
                ));
            }
            current = &field.schema;
        }
    }
    Ok(())
}

fn is_primitive(s: &Schema) -> bool {
    !matches!(
        s.ty,
        SchemaType::Struct(_) | SchemaType::Array(_) | SchemaType::Map(..)
    )
}

/// `isContainedIn`: whether any dotted name holds `name.` (anywhere, as Java's
/// `String.contains` finds it).
fn contained(name: &str, nested: &[&str]) -> bool {
    let with_dot = format!("{name}.");
    nested.iter().any(|n| n.contains(&with_dot))
}

/// `getFieldName`: the field an entry adds at this level, if any.
fn field_name<'a>(entry: &'a str, level_name: &str, level: usize) -> Option<&'a str> {
    let parts: Vec<&str> = entry.split('.').collect();
    if parts.len() == 1 && level_name == ROOT {
        return Some(parts[0]);
    }
    let parent = level.saturating_sub(1);
    (parts.len() == level + 1 && parts[parent] == level_name).then(|| parts[level])
}

/// `getNewParentFieldsAtLevel`: structs to create at this level for dotted names whose
/// parent the schema does not have.
fn new_parents<'a>(
    level_name: &str,
    old: &Schema,
    nested: &[&'a str],
    level: usize,
) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for name in nested {
        let parts: Vec<&str> = name.split('.').collect();
        let here = (level == 0 && level_name == ROOT)
            || (level > 0 && level < parts.len() && parts[level - 1] == level_name);
        if here && level + 1 < parts.len() {
            let field = parts[level];
            if util::index(old, field).is_none() && !out.contains(&field) {
                out.push(field);
            }
        }
    }
    out
}

/// `getNestedFieldNameForParent`.
fn nested_name<'a>(
    entry: &'a str,
    parent: &str,
    level_name: &str,
    level: usize,
) -> Option<&'a str> {
    let parts: Vec<&str> = entry.split('.').collect();
    if level == 0 && level_name == ROOT {
        (parts.len() > 1 && parent == parts[0]).then(|| parts[1])
    } else if level > 0 {
        let so_far = parts[..(level + 1).min(parts.len())].join(".");
        (so_far == parent && level + 1 < parts.len()).then(|| parts[level + 1])
    } else {
        None
    }
}

/// Appends a field, refusing a duplicate name as `SchemaBuilder.field` does.
fn push_field(fields: &mut Vec<Field>, name: &str, schema: &Schema) -> Result<(), String> {
    if fields.iter().any(|f| f.name == name) {
        return Err(format!(
            "Cannot create field because of field name duplication {name}"
        ));
    }
    fields.push(Field::new(name, schema.clone()));
    Ok(())
}

/// `buildNewSchema`.
fn new_schema(
    level_name: &str,
    old: &Schema,
    entries: &[Entry<'_>],
    nested: &[&str],
    level: usize,
) -> Result<Schema, String> {
    if is_primitive(old) {
        return Ok(old.clone());
    }
    let mut fields = Vec::new();
    for f in old.fields() {
        let schema = if contained(&f.name, nested) {
            new_schema(&f.name, &f.schema, entries, nested, level + 1)?
        } else {
            f.schema.clone()
        };
        fields.push(Field::new(f.name.clone(), schema));
    }
    for e in entries {
        if let Some(name) = field_name(e.name, level_name, level)
            && !fields.iter().any(|f| f.name == name)
        {
            fields.push(Field::new(name, e.schema.clone()));
        }
    }
    for parent in new_parents(level_name, old, nested, level) {
        let mut children = Vec::new();
        for e in entries {
            if let Some(name) = nested_name(e.name, parent, level_name, level) {
                push_field(&mut children, name, e.schema)?;
            }
        }
        let child = Schema::new(SchemaType::Struct(children)).optional();
        push_field(&mut fields, parent, &child)?;
    }
    Ok(util::struct_like(old, fields))
}

/// `Struct.put`: the field must exist and the value fit its schema.
fn put(out: &mut [Value], schema: &Schema, name: &str, value: Value) -> Result<(), String> {
    let i = util::index(schema, name).ok_or_else(|| format!("{name} is not a valid field name"))?;
    let field = &schema.fields()[i].schema;
    let fits = match (&value, &field.ty) {
        (Value::Null, _) => field.optional,
        (Value::Boolean(_), SchemaType::Boolean)
        | (Value::Int8(_), SchemaType::Int8)
        | (Value::Int16(_), SchemaType::Int16)
        | (Value::Int32(_), SchemaType::Int32)
        | (Value::Int64(_), SchemaType::Int64)
        | (Value::Float32(_), SchemaType::Float32)
        | (Value::Float64(_), SchemaType::Float64)
        | (Value::String(_), SchemaType::String)
        | (Value::Bytes(_), SchemaType::Bytes)
        | (Value::Array(_), SchemaType::Array(_))
        | (Value::Map(_), SchemaType::Map(..))
        | (Value::Struct(_), SchemaType::Struct(_)) => true,
        _ => false,
    };
    if !fits {
        return Err(if value.is_null() {
            format!(
                "Invalid value: null used for required field: \"{name}\", schema type: {}",
                field.type_name().to_uppercase()
            )
        } else {
            format!(
                "Invalid Java object for schema with type {}: class {} for field: \"{name}\"",
                field.type_name().to_uppercase(),
                util::kind(&value)
            )
        });
    }
    out[i] = value;
    Ok(())
}

/// `buildUpdatedValue`.
fn new_value(
    level_name: &str,
    old: &Schema,
    values: &[Value],
    entries: &[Entry<'_>],
    updated: &Schema,
    nested: &[&str],
    level: usize,
) -> Result<Vec<Value>, String> {
    let mut out = vec![Value::Null; updated.fields().len()];
    for (f, v) in old.fields().iter().zip(values) {
        let v = util::field_value(f, v, true);
        if v.is_null() {
            continue;
        }
        let v = if contained(&f.name, nested) {
            let Value::Struct(inner) = &v else {
                return Err(format!(
                    "Only Struct objects supported for [Nested field], found: {}",
                    util::kind(&v)
                ));
            };
            let i = util::index(updated, &f.name)
                .ok_or_else(|| format!("{} is not a valid field name", f.name))?;
            let inner_schema = &updated.fields()[i].schema;
            Value::Struct(new_value(
                &f.name,
                &f.schema,
                inner,
                entries,
                inner_schema,
                nested,
                level + 1,
            )?)
        } else {
            v
        };
        put(&mut out, updated, &f.name, v)?;
    }
    for e in entries {
        if let Some(name) = field_name(e.name, level_name, level) {
            put(&mut out, updated, name, e.value.clone())?;
        }
    }
    for parent in new_parents(level_name, old, nested, level) {
        let Some(i) = util::index(updated, parent) else {
            continue;
        };
        let parent_schema = &updated.fields()[i].schema;
        let mut inner = vec![Value::Null; parent_schema.fields().len()];
        for e in entries {
            if let Some(name) = nested_name(e.name, parent, level_name, level) {
                put(&mut inner, parent_schema, name, e.value.clone())?;
            }
        }
        out[i] = Value::Struct(inner);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Header;
    use std::collections::BTreeMap;
    use std::sync::Arc;

    fn transform(props: &[(&str, &str)]) -> Result<HeaderToValue, Findings> {
        let all: BTreeMap<String, String> = props
            .iter()
            .map(|(k, v)| (format!("transforms.h.{k}"), v.to_string()))
            .collect();
        let mut found = Findings::default();
        HeaderToValue::configure(&Settings::new(&all, "transforms.h."), &mut found)
            .map_err(|()| found)
    }

    #[test]
    fn settings_are_checked() {
        assert!(transform(&[("headers", "a,b"), ("fields", "a"), ("operation", "copy")]).is_err());
        assert!(transform(&[("headers", "a"), ("fields", "a"), ("operation", "keep")]).is_err());
        assert!(transform(&[("headers", "a"), ("fields", "a")]).is_err());
        assert!(transform(&[("headers", "a b"), ("fields", "a"), ("operation", "move")]).is_err());
    }

    #[test]
    fn headers_move_into_new_and_existing_structs() {
        let mut t = transform(&[
            ("headers", "h1,h2,h3"),
            ("fields", "top,meta.one,inner.two"),
            ("operation", "move"),
        ])
        .unwrap();
        let inner = Schema::structure("in", vec![Field::new("x", Schema::int32())]);
        let schema = Arc::new(Schema::structure(
            "v",
            vec![
                Field::new("id", Schema::int32()),
                Field::new("inner", inner),
            ],
        ));
        let value = Value::Struct(vec![Value::Int32(1), Value::Struct(vec![Value::Int32(2)])]);
        let mut r = Record::new("t", (None, None), (Some(schema), Some(value)));
        for (k, v) in [("h1", "a"), ("h2", "b"), ("h3", "c"), ("other", "d")] {
            r.headers.push(Header {
                key: k.into(),
                schema: Some(Arc::new(Schema::string())),
                value: Some(Value::String(v.into())),
            });
        }
        let out = t.apply(r).unwrap().unwrap();
        let names: Vec<&str> = out
            .value_schema
            .as_ref()
            .unwrap()
            .fields()
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(names, ["id", "inner", "top", "meta"]);
        let s = |v: &str| Value::String(v.into());
        assert_eq!(
            out.value,
            Some(Value::Struct(vec![
                Value::Int32(1),
                Value::Struct(vec![Value::Int32(2), s("c")]),
                s("a"),
                Value::Struct(vec![s("b")]),
            ]))
        );
        assert_eq!(out.headers.len(), 1);
    }
}
