//! Kafka's header transforms: `InsertHeader` (a literal), `DropHeaders` (by name) and
//! `HeaderFrom` (key or value fields copied or moved into headers).

use std::sync::Arc;

use tributary_core::{Field, Schema, Value};

use super::util::{self, SchemaCache, Side};
use super::{Built, Settings, Transform};
use crate::config::Findings;
use crate::record::{Header, Record};

const INSERT_HEADER: &str = "org.apache.kafka.connect.transforms.InsertHeader";
const DROP_HEADERS: &str = "org.apache.kafka.connect.transforms.DropHeaders";
const HEADER_FROM: &str = "org.apache.kafka.connect.transforms.HeaderFrom";

pub(super) fn build(class: &str, s: &Settings<'_>, found: &mut Findings) -> Option<Built> {
    fn boxed<T: Transform + 'static>(name: &'static str, t: Result<T, ()>) -> Built {
        t.map(|t| (name, Box::new(t) as Box<dyn Transform>))
    }
    Some(match class {
        INSERT_HEADER => boxed("InsertHeader", InsertHeader::configure(s, found)),
        DROP_HEADERS => boxed("DropHeaders", DropHeaders::configure(s, found)),
        _ => {
            let (base, side) = Side::of(class)?;
            if base != HEADER_FROM {
                return None;
            }
            let name = if side == Side::Key {
                "HeaderFrom$Key"
            } else {
                "HeaderFrom$Value"
            };
            boxed(name, HeaderFrom::configure(s, side, found))
        }
    })
}

/// `InsertHeader`: the same header on every record. `value.literal` is typed as Kafka's
/// `Values.parseString` types it for booleans and whole numbers (the smallest integer type
/// that holds it); anything else is a string.
struct InsertHeader {
    header: Header,
}

impl InsertHeader {
    fn configure(s: &Settings<'_>, found: &mut Findings) -> Result<Self, ()> {
        let ok = s.only(found, &["header", "value.literal"]);
        let key = s.required(found, "header");
        let Some(literal) = s.get("value.literal") else {
            found.error(&s.field("value.literal"), "is required");
            return Err(());
        };
        let (schema, value) = literal_value(literal);
        match key {
            Some(key) if ok => Ok(InsertHeader {
                header: Header {
                    key: key.to_owned(),
                    schema: Some(Arc::new(schema)),
                    value: Some(value),
                },
            }),
            _ => Err(()),
        }
    }
}

fn literal_value(text: &str) -> (Schema, Value) {
    let t = text.trim();
    if t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("false") {
        return (
            Schema::boolean(),
            Value::Boolean(t.eq_ignore_ascii_case("true")),
        );
    }
    if let Ok(n) = t.parse::<i64>() {
        if let Ok(n) = i8::try_from(n) {
            return (
                Schema::new(tributary_core::SchemaType::Int8),
                Value::Int8(n),
            );
        }
        if let Ok(n) = i16::try_from(n) {
            return (Schema::int16(), Value::Int16(n));
        }
        if let Ok(n) = i32::try_from(n) {
            return (Schema::int32(), Value::Int32(n));
        }
        return (Schema::int64(), Value::Int64(n));
    }
    (Schema::string(), Value::String(text.to_owned()))
}

impl Transform for InsertHeader {
    fn apply(&mut self, mut r: Record) -> Result<Option<Record>, String> {
        r.headers.push(self.header.clone());
        Ok(Some(r))
    }
}

/// `DropHeaders`: every header with one of the names removed.
struct DropHeaders {
    names: Vec<String>,
}

impl DropHeaders {
    fn configure(s: &Settings<'_>, found: &mut Findings) -> Result<Self, ()> {
        let ok = s.only(found, &["headers"]);
        let names: Vec<String> = s.list("headers").into_iter().map(str::to_owned).collect();
        if names.is_empty() {
            found.error(
                &s.field("headers"),
                "is required: the names of the headers to remove",
            );
            return Err(());
        }
        if ok {
            Ok(DropHeaders { names })
        } else {
            Err(())
        }
    }
}

impl Transform for DropHeaders {
    fn apply(&mut self, mut r: Record) -> Result<Option<Record>, String> {
        r.headers.retain(|h| !self.names.contains(&h.key));
        Ok(Some(r))
    }
}

/// `HeaderFrom`: each of `fields` becomes the header of the same position in `headers`,
/// copied (`operation=copy`) or moved out of the key or value (`move`).
struct HeaderFrom {
    side: Side,
    fields: Vec<String>,
    headers: Vec<String>,
    moving: bool,
    replace_null_with_default: bool,
    cache: SchemaCache,
    /// Header schemas by (input schema pointer, field position), shared.
    field_schemas: Vec<(Arc<Schema>, Vec<Arc<Schema>>)>,
}

impl HeaderFrom {
    fn configure(s: &Settings<'_>, side: Side, found: &mut Findings) -> Result<Self, ()> {
        let ok = s.only(
            found,
            &[
                "fields",
                "headers",
                "operation",
                "replace.null.with.default",
            ],
        );
        let fields: Vec<String> = s.list("fields").into_iter().map(str::to_owned).collect();
        let headers: Vec<String> = s.list("headers").into_iter().map(str::to_owned).collect();
        if fields.is_empty() || headers.len() != fields.len() {
            found.error(
                &s.field("headers"),
                "'headers' config must have the same number of elements as 'fields' config (and neither may be empty)",
            );
            return Err(());
        }
        let moving = match s.get("operation") {
            Some("move") => true,
            Some("copy") => false,
            other => {
                found.error(
                    &s.field("operation"),
                    format!("{other:?} is not move or copy"),
                );
                return Err(());
            }
        };
        let replace = s.boolean(found, "replace.null.with.default", true);
        if ok {
            Ok(HeaderFrom {
                side,
                fields,
                headers,
                moving,
                replace_null_with_default: replace,
                cache: SchemaCache::default(),
                field_schemas: Vec::new(),
            })
        } else {
            Err(())
        }
    }

    fn field_schemas(&mut self, schema: &Arc<Schema>) -> Result<Vec<Arc<Schema>>, String> {
        if let Some((_, s)) = self
            .field_schemas
            .iter()
            .find(|(k, _)| Arc::ptr_eq(k, schema))
        {
            return Ok(s.clone());
        }
        let mut out = Vec::new();
        for f in &self.fields {
            let field = schema
                .fields()
                .iter()
                .find(|x| x.name == *f)
                .ok_or_else(|| format!("HeaderFrom: the field {f} is not in the schema"))?;
            out.push(Arc::new(field.schema.clone()));
        }
        if self.field_schemas.len() >= 16 {
            self.field_schemas.remove(0);
        }
        self.field_schemas.push((schema.clone(), out.clone()));
        Ok(out)
    }
}

impl Transform for HeaderFrom {
    fn apply(&mut self, mut r: Record) -> Result<Option<Record>, String> {
        let purpose = format!("header {}", if self.moving { "move" } else { "copy" });
        let (schema, value) = self.side.take(&mut r);
        let Some(schema) = schema else {
            let mut entries = util::map_entries(value.unwrap_or(Value::Null), &purpose)?;
            for (f, h) in self.fields.iter().zip(&self.headers) {
                let at = entries.iter().position(|(k, _)| k.as_str() == Some(f));
                let v = match at {
                    Some(i) if self.moving => entries.remove(i).1,
                    Some(i) => entries[i].1.clone(),
                    None => Value::Null,
                };
                r.headers.push(Header {
                    key: h.clone(),
                    schema: None,
                    value: Some(v).filter(|v| !v.is_null()),
                });
            }
            self.side.put(&mut r, None, Some(Value::Map(entries)));
            return Ok(Some(r));
        };
        let values = util::struct_values(value.unwrap_or(Value::Null), &purpose)?;
        let header_schemas = self.field_schemas(&schema)?;
        for ((f, h), hs) in self.fields.iter().zip(&self.headers).zip(header_schemas) {
            let i = util::index(&schema, f).unwrap_or_default();
            let v = util::field_value(
                &schema.fields()[i],
                values.get(i).unwrap_or(&Value::Null),
                self.replace_null_with_default,
            );
            r.headers.push(Header {
                key: h.clone(),
                schema: Some(hs),
                value: Some(v).filter(|v| !v.is_null()),
            });
        }
        if !self.moving {
            self.side
                .put(&mut r, Some(schema), Some(Value::Struct(values)));
            return Ok(Some(r));
        }
        let fields = &self.fields;
        let updated = self.cache.get_or(&schema, |s| {
            let kept: Vec<Field> = s
                .fields()
                .iter()
                .filter(|f| !fields.contains(&f.name))
                .cloned()
                .collect();
            Ok(util::struct_like(s, kept))
        })?;
        let kept = schema
            .fields()
            .iter()
            .zip(values)
            .filter(|(f, _)| !fields.contains(&f.name))
            .map(|(f, v)| util::field_value(f, &v, self.replace_null_with_default))
            .collect();
        self.side
            .put(&mut r, Some(updated), Some(Value::Struct(kept)));
        Ok(Some(r))
    }
}
