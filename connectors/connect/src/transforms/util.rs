//! What Kafka's transforms share: `SchemaUtil.copySchemaBasics`, schema caches, field
//! lookups, and which side of a record (key or value) a `$Key` / `$Value` class works on.

use std::sync::Arc;

use tributary_core::{Field, Schema, SchemaType, Value};

use crate::record::Record;

/// Debezium's scripting transforms and predicates (Groovy, JavaScript through JSR 223).
pub(crate) fn is_scripted(class: &str) -> bool {
    class.starts_with("io.debezium.transforms.Filter")
        || class.starts_with("io.debezium.transforms.ContentBasedRouter")
        || class.starts_with("io.debezium.transforms.scripting.")
}

/// The side of a record a `$Key` or `$Value` transform works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Key,
    Value,
}

impl Side {
    /// `(base, side)` of `org.apache.kafka.connect.transforms.ReplaceField$Value`.
    pub fn of(class: &str) -> Option<(&str, Side)> {
        if let Some(base) = class.strip_suffix("$Key") {
            Some((base, Side::Key))
        } else {
            class.strip_suffix("$Value").map(|base| (base, Side::Value))
        }
    }

    /// Takes the side's schema and value out of the record.
    pub fn take(self, r: &mut Record) -> (Option<Arc<Schema>>, Option<Value>) {
        match self {
            Side::Key => (r.key_schema.take(), r.key.take()),
            Side::Value => (r.value_schema.take(), r.value.take()),
        }
    }

    pub fn put(self, r: &mut Record, schema: Option<Arc<Schema>>, value: Option<Value>) {
        let value = value.filter(|v| !v.is_null());
        match self {
            Side::Key => (r.key_schema, r.key) = (schema, value),
            Side::Value => (r.value_schema, r.value) = (schema, value),
        }
    }
}

/// Debezium's `Envelope.isEnvelopeSchema`: whether a value schema is a change event's.
pub(crate) fn is_envelope(schema: Option<&Arc<Schema>>) -> bool {
    schema.is_some_and(|s| s.name.as_deref().is_some_and(|n| n.ends_with(".Envelope")))
}

/// `SchemaUtil.copySchemaBasics(source, SchemaBuilder.struct())`: name, version, doc and
/// parameters; required, without default.
pub(crate) fn struct_like(source: &Schema, fields: Vec<Field>) -> Schema {
    let mut s = Schema::new(SchemaType::Struct(fields));
    s.name = source.name.clone();
    s.version = source.version;
    s.doc = source.doc.clone();
    s.parameters = source.parameters.clone();
    s
}

/// Derived schemas by input schema (compared by pointer, as the inputs are shared), as
/// Kafka's transforms keep theirs in an LRU cache of 16.
#[derive(Default)]
pub(crate) struct SchemaCache {
    entries: Vec<(Arc<Schema>, Arc<Schema>)>,
}

impl SchemaCache {
    pub fn get_or(
        &mut self,
        input: &Arc<Schema>,
        make: impl FnOnce(&Schema) -> Result<Schema, String>,
    ) -> Result<Arc<Schema>, String> {
        if let Some((_, out)) = self.entries.iter().find(|(i, _)| Arc::ptr_eq(i, input)) {
            return Ok(out.clone());
        }
        let out = Arc::new(make(input)?);
        if self.entries.len() >= 16 {
            self.entries.remove(0);
        }
        self.entries.push((input.clone(), out.clone()));
        Ok(out)
    }
}

/// The position of field `name` in a struct schema.
pub(crate) fn index(schema: &Schema, name: &str) -> Option<usize> {
    schema.fields().iter().position(|f| f.name == name)
}

/// `Struct.get(field)` (the field's default for a null) or `getWithoutDefault`.
pub(crate) fn field_value(f: &Field, v: &Value, replace_null_with_default: bool) -> Value {
    match (v, &f.schema.default) {
        (Value::Null, Some(default)) if replace_null_with_default => default.clone(),
        _ => v.clone(),
    }
}

/// The values of a struct, or an error naming what the transform needed.
pub(crate) fn struct_values(value: Value, purpose: &str) -> Result<Vec<Value>, String> {
    match value {
        Value::Struct(values) => Ok(values),
        other => Err(format!(
            "only Struct objects supported for [{purpose}], found: {}",
            kind(&other)
        )),
    }
}

/// Schemaless map entries, or an error naming what the transform needed.
pub(crate) fn map_entries(value: Value, purpose: &str) -> Result<Vec<(Value, Value)>, String> {
    match value {
        Value::Map(entries) => Ok(entries),
        other => Err(format!(
            "only Map objects supported in absence of schema for [{purpose}], found: {}",
            kind(&other)
        )),
    }
}

pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Boolean(_) => "java.lang.Boolean",
        Value::Int8(_) => "java.lang.Byte",
        Value::Int16(_) => "java.lang.Short",
        Value::Int32(_) => "java.lang.Integer",
        Value::Int64(_) => "java.lang.Long",
        Value::Float32(_) => "java.lang.Float",
        Value::Float64(_) => "java.lang.Double",
        Value::String(_) => "java.lang.String",
        Value::Bytes(_) => "[B",
        Value::Array(_) => "java.util.ArrayList",
        Value::Map(_) => "java.util.HashMap",
        Value::Struct(_) => "org.apache.kafka.connect.data.Struct",
    }
}

/// Derived schemas kept before a by-value cache starts over (Java keeps 10,000 in an LRU
/// map).
const CACHE_LIMIT: usize = 1024;

/// Derived schemas by an input schema compared by value (Java's caches are keyed by
/// `Schema.equals`), bounded.
pub(crate) struct ByStructure<K> {
    pub entries: Vec<(K, Arc<Schema>)>,
}

impl<K> Default for ByStructure<K> {
    fn default() -> Self {
        ByStructure {
            entries: Vec::new(),
        }
    }
}

impl ByStructure<Schema> {
    /// `get_or` without cloning the key unless it is new.
    pub fn get_or_by(
        &mut self,
        key: &Schema,
        make: impl FnOnce() -> Result<Schema, String>,
    ) -> Result<Arc<Schema>, String> {
        if let Some((_, s)) = self.entries.iter().find(|(k, _)| k == key) {
            return Ok(s.clone());
        }
        self.get_or(key.clone(), make)
    }
}

impl<K: PartialEq> ByStructure<K> {
    pub fn get_or(
        &mut self,
        key: K,
        make: impl FnOnce() -> Result<Schema, String>,
    ) -> Result<Arc<Schema>, String> {
        if let Some((_, s)) = self.entries.iter().find(|(k, _)| *k == key) {
            return Ok(s.clone());
        }
        let s = Arc::new(make()?);
        if self.entries.len() >= CACHE_LIMIT {
            self.entries.clear();
        }
        self.entries.push((key, s.clone()));
        Ok(s)
    }
}

/// A schema compared by pointer.
pub(crate) struct ByPointer(pub Arc<Schema>);

impl PartialEq for ByPointer {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// The value of field `name` of a struct (`Struct.get`: its default for a null), or the
/// error Java gives for a field the schema does not have.
pub(crate) fn get<'a>(
    schema: &'a Schema,
    values: &'a [Value],
    name: &str,
) -> Result<(&'a Field, Value), String> {
    let i = index(schema, name).ok_or_else(|| format!("{name} is not a valid field name"))?;
    let f = &schema.fields()[i];
    Ok((
        f,
        field_value(f, values.get(i).unwrap_or(&Value::Null), true),
    ))
}

/// `Struct.getString` / `getInt32` / `getInt64`: the value, checked against the type.
pub(crate) fn typed<'a>(
    schema: &'a Schema,
    values: &'a [Value],
    name: &str,
    ty: SchemaType,
) -> Result<(&'a Field, Value), String> {
    let (f, v) = get(schema, values, name)?;
    if f.schema.ty != ty {
        return Err(format!(
            "Field '{name}' is not of type {}",
            Schema::new(ty).type_name().to_uppercase()
        ));
    }
    Ok((f, v))
}
