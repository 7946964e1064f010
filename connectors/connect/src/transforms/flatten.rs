//! Kafka's `Flatten`: nested structs (and schemaless maps) as top-level fields.

use tributary_core::{Field, Schema, SchemaType, Value};

use super::util::{self, SchemaCache, Side};
use super::{Settings, Transform};
use crate::config::Findings;
use crate::record::Record;

/// `Flatten`: nested structs (and schemaless maps) become top-level fields named by their
/// path joined with `delimiter`; a field under an optional parent becomes optional, and a
/// parent's default gives its fields theirs.
pub(super) struct Flatten {
    side: Side,
    delimiter: String,
    cache: SchemaCache,
}

impl Flatten {
    pub(super) fn configure(
        s: &Settings<'_>,
        side: Side,
        found: &mut Findings,
    ) -> Result<Self, ()> {
        let ok = s.only(found, &["delimiter"]);
        let delimiter = s.get("delimiter").unwrap_or(".").to_owned();
        if ok {
            Ok(Flatten {
                side,
                delimiter,
                cache: SchemaCache::default(),
            })
        } else {
            Err(())
        }
    }

    fn name(&self, prefix: &str, field: &str) -> String {
        if prefix.is_empty() {
            field.to_owned()
        } else {
            format!("{prefix}{}{field}", self.delimiter)
        }
    }

    fn flat_schema(
        &self,
        schema: &Schema,
        prefix: &str,
        out: &mut Vec<Field>,
        optional: bool,
        parent_default: Option<&Value>,
    ) -> Result<(), String> {
        for (i, f) in schema.fields().iter().enumerate() {
            let name = self.name(prefix, &f.name);
            let field_optional = optional || f.schema.optional;
            let default = f.schema.default.clone().or_else(|| match parent_default {
                Some(Value::Struct(values)) => values.get(i).cloned().filter(|v| !v.is_null()),
                _ => None,
            });
            match &f.schema.ty {
                SchemaType::Struct(_) => {
                    self.flat_schema(&f.schema, &name, out, field_optional, default.as_ref())?
                }
                SchemaType::Map(..) => {
                    return Err(format!(
                        "Flatten transformation does not support MAP for record with schemas (for field {name})."
                    ));
                }
                _ => {
                    // `copySchemaBasics`: name, version, doc, parameters; required unless
                    // something above is optional.
                    let mut s = Schema::new(f.schema.ty.clone());
                    s.name = f.schema.name.clone();
                    s.version = f.schema.version;
                    s.doc = f.schema.doc.clone();
                    s.parameters = f.schema.parameters.clone();
                    s.optional = field_optional;
                    s.default = default;
                    out.push(Field::new(name, s));
                }
            }
        }
        Ok(())
    }

    fn flat_values(schema: &Schema, value: Option<&Value>, out: &mut Vec<Value>) {
        let values = match value {
            Some(Value::Struct(v)) => Some(v),
            _ => None,
        };
        for (i, f) in schema.fields().iter().enumerate() {
            let v = values.and_then(|v| v.get(i));
            match &f.schema.ty {
                SchemaType::Struct(_) => {
                    Self::flat_values(&f.schema, v.filter(|v| !v.is_null()), out)
                }
                _ if values.is_none() => out.push(Value::Null),
                _ => out.push(util::field_value(f, v.unwrap_or(&Value::Null), true)),
            }
        }
    }

    fn flat_map(
        &self,
        entries: Vec<(Value, Value)>,
        prefix: &str,
        out: &mut Vec<(Value, Value)>,
    ) -> Result<(), String> {
        for (k, v) in entries {
            let name = self.name(prefix, k.as_str().unwrap_or("null"));
            match v {
                Value::Map(inner) => self.flat_map(inner, &name, out)?,
                Value::Struct(_) => {
                    return Err(format!(
                        "Flatten transformation does not support class org.apache.kafka.connect.data.Struct for record without schemas (for field {name})."
                    ));
                }
                other => out.push((Value::String(name), other)),
            }
        }
        Ok(())
    }
}

impl Transform for Flatten {
    fn apply(&mut self, mut r: Record) -> Result<Option<Record>, String> {
        let (schema, value) = self.side.take(&mut r);
        let Some(value) = value else {
            self.side.put(&mut r, schema, None);
            return Ok(Some(r));
        };
        let Some(schema) = schema else {
            let entries = util::map_entries(value, "flattening")?;
            let mut out = Vec::new();
            self.flat_map(entries, "", &mut out)?;
            self.side.put(&mut r, None, Some(Value::Map(out)));
            return Ok(Some(r));
        };
        if !matches!(value, Value::Struct(_)) {
            return Err(format!(
                "Only Struct objects supported for [flattening], found: {}",
                util::kind(&value)
            ));
        }
        let mut cache = std::mem::take(&mut self.cache);
        let updated = cache.get_or(&schema, |s| {
            let mut fields = Vec::new();
            self.flat_schema(s, "", &mut fields, s.optional, s.default.as_ref())?;
            Ok(util::struct_like(s, fields))
        });
        self.cache = cache;
        let updated = updated?;
        let mut out = Vec::with_capacity(updated.fields().len());
        Self::flat_values(&schema, Some(&value), &mut out);
        self.side
            .put(&mut r, Some(updated), Some(Value::Struct(out)));
        Ok(Some(r))
    }
}
