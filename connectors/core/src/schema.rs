//! Kafka Connect style schemas: the shape of keys, values and envelopes.
//!
//! Debezium describes every record with a Kafka Connect schema (a primitive or struct type,
//! an optional semantic name such as `io.debezium.time.MicroTimestamp`, and parameters such
//! as a decimal's scale). Tributary uses the same model so that the JSON and Avro forms
//! derived from it match Debezium's field for field.

use std::sync::Arc;

/// A Kafka Connect schema type.
#[derive(Debug, Clone, PartialEq)]
pub enum SchemaType {
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    String,
    Bytes,
    Array(Box<Schema>),
    Map(Box<Schema>, Box<Schema>),
    Struct(Vec<Field>),
}

/// A schema: a type, whether it is optional, an optional semantic name and version, and
/// parameters (for example `scale` of `org.apache.kafka.connect.data.Decimal`).
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub ty: SchemaType,
    pub optional: bool,
    pub name: Option<String>,
    pub version: Option<i32>,
    pub parameters: Params,
    pub doc: Option<String>,
    /// The Connect default value (a column's default, as Debezium parses it).
    pub default: Option<crate::Value>,
}

/// A schema's parameters in insertion order, as Kafka Connect's `SchemaBuilder` keeps them
/// (a `LinkedHashMap`): `Decimal.builder` puts `scale` first, Debezium adds
/// `connect.decimal.precision` after it and the `__debezium.source.column.*` ones last. The
/// JSON converter writes them in that order, so the order is part of the output.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Sets `key`, keeping its place when it is already there (as a `LinkedHashMap` does).
    pub fn insert(&mut self, key: String, value: String) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = value,
            None => self.0.push((key, value)),
        }
    }

    pub fn get(&self, key: &str) -> Option<&String> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn remove(&mut self, key: &str) -> Option<String> {
        let at = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(at).1)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl std::ops::Index<&str> for Params {
    type Output = String;

    fn index(&self, key: &str) -> &String {
        self.get(key)
            .unwrap_or_else(|| panic!("no schema parameter {key:?}"))
    }
}

impl<'a> IntoIterator for &'a Params {
    type Item = (&'a String, &'a String);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, String)>,
        fn(&'a (String, String)) -> (&'a String, &'a String),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl FromIterator<(String, String)> for Params {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        let mut p = Params::default();
        for (k, v) in iter {
            p.insert(k, v);
        }
        p
    }
}

/// A named field of a struct schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub schema: Schema,
}

impl Schema {
    pub fn new(ty: SchemaType) -> Self {
        Schema {
            ty,
            optional: false,
            name: None,
            version: None,
            parameters: Params::default(),
            doc: None,
            default: None,
        }
    }

    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    pub fn required(mut self) -> Self {
        self.optional = false;
        self
    }

    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    pub fn versioned(mut self, version: i32) -> Self {
        self.version = Some(version);
        self
    }

    pub fn param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.parameters.insert(key.into(), value.into());
        self
    }

    pub fn int16() -> Self {
        Schema::new(SchemaType::Int16)
    }
    pub fn int32() -> Self {
        Schema::new(SchemaType::Int32)
    }
    pub fn int64() -> Self {
        Schema::new(SchemaType::Int64)
    }
    pub fn float32() -> Self {
        Schema::new(SchemaType::Float32)
    }
    pub fn float64() -> Self {
        Schema::new(SchemaType::Float64)
    }
    pub fn boolean() -> Self {
        Schema::new(SchemaType::Boolean)
    }
    pub fn string() -> Self {
        Schema::new(SchemaType::String)
    }
    pub fn bytes() -> Self {
        Schema::new(SchemaType::Bytes)
    }
    pub fn array(item: Schema) -> Self {
        Schema::new(SchemaType::Array(Box::new(item)))
    }
    pub fn map(key: Schema, value: Schema) -> Self {
        Schema::new(SchemaType::Map(Box::new(key), Box::new(value)))
    }
    pub fn structure(name: impl Into<String>, fields: Vec<Field>) -> Self {
        Schema::new(SchemaType::Struct(fields)).named(name)
    }

    /// The fields of a struct schema; empty for any other type.
    pub fn fields(&self) -> &[Field] {
        match &self.ty {
            SchemaType::Struct(f) => f,
            _ => &[],
        }
    }

    /// The Kafka Connect type name (`int32`, `struct`, …).
    pub fn type_name(&self) -> &'static str {
        match self.ty {
            SchemaType::Int8 => "int8",
            SchemaType::Int16 => "int16",
            SchemaType::Int32 => "int32",
            SchemaType::Int64 => "int64",
            SchemaType::Float32 => "float",
            SchemaType::Float64 => "double",
            SchemaType::Boolean => "boolean",
            SchemaType::String => "string",
            SchemaType::Bytes => "bytes",
            SchemaType::Array(_) => "array",
            SchemaType::Map(..) => "map",
            SchemaType::Struct(_) => "struct",
        }
    }
}

impl Field {
    pub fn new(name: impl Into<String>, schema: Schema) -> Self {
        Field {
            name: name.into(),
            schema,
        }
    }
}

/// The schemas of one captured table as they appear in its events: key, row value
/// (`before`/`after`) and the full envelope, plus the topic they belong to.
///
/// An `Arc<TableSchemas>` is shared by every event of the table until the table's shape
/// changes, so downstream stages can cache work (Avro writers, registry ids) per pointer.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSchemas {
    pub topic: Arc<str>,
    /// `None` when the table has no key columns: events then have a null key.
    pub key: Option<Schema>,
    pub value: Schema,
    pub envelope: Schema,
    /// A counter that changes whenever the table's shape changes.
    pub version: u64,
}
