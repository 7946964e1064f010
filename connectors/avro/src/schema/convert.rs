//! Connect schema → Avro schema text, as Confluent's `AvroData.fromConnectSchema` writes it
//! (defaults: `connect.meta.data=true`, `enhanced.avro.schema.support=false`) and as Java
//! Avro's `Schema.toString()` lays it out.
//!
//! The text is written directly, in Java's key order, so that a schema we register is
//! byte-for-byte the one Debezium's converter would register for the same Connect schema:
//!
//! - primitives: `{"type":…}` with, in this order, `scale`/`precision` (decimals),
//!   `connect.doc`, `connect.version`, `connect.parameters`, `connect.default`,
//!   `connect.name`, `connect.type` (`int8`/`int16`), `logicalType`; a bare `"int"` when
//!   there is nothing to add;
//! - records: `type`, `name`, `namespace` (only when it differs from the enclosing one),
//!   `fields`, then the `connect.*` properties; a record already defined in this schema is
//!   written as a reference, by short name inside its own namespace, by full name elsewhere;
//! - optional schemas: `["null", T]` and a field `"default":null`; with a Connect default
//!   (`source.snapshot`, and columns' defaults) `[T, "null"]` and that default.

use std::collections::HashMap;
use std::fmt::Write as _;

use tributary_core::{Field, Schema, SchemaType, Value};

use super::AvroSchemaError;
use crate::names::NameAdjustment;

/// Connect's decimal logical type.
pub(crate) const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
const DATE: &str = "org.apache.kafka.connect.data.Date";
const TIME: &str = "org.apache.kafka.connect.data.Time";
const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";
/// `connect.decimal.precision` when a decimal has none (AvroData's default).
const DEFAULT_PRECISION: i32 = 64;
const AVRO_NAMESPACE: &str = "io.confluent.connect.avro";
const DEFAULT_NAME: &str = "ConnectDefault";
const MAP_ENTRY: &str = "MapEntry";

/// Whether a Connect map becomes an Avro `map` (required string keys) rather than an array
/// of `MapEntry` records.
pub(crate) fn is_avro_map(key: &Schema) -> bool {
    matches!(key.ty, SchemaType::String) && !key.optional
}

/// Whether a schema is Connect's `Decimal` (AvroData compares names case-insensitively).
pub(crate) fn is_decimal(schema: &Schema) -> bool {
    matches!(schema.ty, SchemaType::Bytes)
        && schema
            .name
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case(DECIMAL))
}

/// Converts one Connect schema into one Avro schema text.
pub(super) struct Converter<'a> {
    schema_names: NameAdjustment,
    field_names: NameAdjustment,
    /// Connect names of the row structs (key, value) whose field names are adjusted; the
    /// envelope's own fields, `source` and semantic structs keep Debezium's names.
    rows: &'a [&'a str],
    buf: String,
    /// The enclosing namespace while a record is written.
    space: Option<String>,
    /// Records defined so far: Avro full name → the (required) Connect schema behind it.
    defined: HashMap<String, Schema>,
    /// Unnamed structs so far, with the `ConnectDefault…` name each got.
    unnamed: Vec<(Schema, String)>,
    default_names: u32,
}

impl<'a> Converter<'a> {
    pub(super) fn new(
        schema_names: NameAdjustment,
        field_names: NameAdjustment,
        rows: &'a [&'a str],
    ) -> Self {
        Converter {
            schema_names,
            field_names,
            rows,
            buf: String::with_capacity(1024),
            space: None,
            defined: HashMap::new(),
            unnamed: Vec::new(),
            default_names: 0,
        }
    }

    pub(super) fn convert(mut self, schema: &Schema) -> Result<String, AvroSchemaError> {
        self.schema(schema, None)?;
        Ok(self.buf)
    }

    /// A schema in a type position: a union with null when optional.
    fn schema(&mut self, s: &Schema, default: Option<&Value>) -> Result<(), AvroSchemaError> {
        if !s.optional {
            return self.base(s, default);
        }
        if default.is_some() {
            self.buf.push('[');
            self.base(s, default)?;
            self.buf.push_str(",\"null\"]");
        } else {
            self.buf.push_str("[\"null\",");
            self.base(s, default)?;
            self.buf.push(']');
        }
        Ok(())
    }

    /// The schema without its optionality.
    fn base(&mut self, s: &Schema, default: Option<&Value>) -> Result<(), AvroSchemaError> {
        let (avro, connect_type) = match &s.ty {
            SchemaType::Struct(fields) => return self.record(s, fields, default),
            SchemaType::Array(item) => {
                self.buf.push_str("{\"type\":\"array\",\"items\":");
                self.schema(item, None)?;
                self.props(s, default, None, None);
                self.buf.push('}');
                return Ok(());
            }
            SchemaType::Map(key, value) if is_avro_map(key) => {
                self.buf.push_str("{\"type\":\"map\",\"values\":");
                self.schema(value, None)?;
                self.props(s, default, None, None);
                self.buf.push('}');
                return Ok(());
            }
            SchemaType::Map(key, value) => {
                self.buf.push_str("{\"type\":\"array\",\"items\":");
                self.map_entry(s, key, value)?;
                self.props(s, default, None, None);
                self.buf.push('}');
                return Ok(());
            }
            SchemaType::Int8 => ("int", Some("int8")),
            SchemaType::Int16 => ("int", Some("int16")),
            SchemaType::Int32 => ("int", None),
            SchemaType::Int64 => ("long", None),
            SchemaType::Float32 => ("float", None),
            SchemaType::Float64 => ("double", None),
            SchemaType::Boolean => ("boolean", None),
            SchemaType::String => ("string", None),
            SchemaType::Bytes => ("bytes", None),
        };
        let decimal = if is_decimal(s) {
            Some(decimal_params(s)?)
        } else {
            None
        };
        let logical = logical_type(s);
        let plain = decimal.is_none()
            && connect_type.is_none()
            && default.is_none()
            && s.doc.is_none()
            && s.version.is_none()
            && s.parameters.is_empty()
            && s.name.is_none();
        if plain {
            push_str(&mut self.buf, avro);
            return Ok(());
        }
        self.buf.push_str("{\"type\":");
        push_str(&mut self.buf, avro);
        if let Some((scale, precision)) = decimal {
            let _ = write!(self.buf, ",\"scale\":{scale},\"precision\":{precision}");
        }
        self.props(s, default, connect_type, logical);
        self.buf.push('}');
        Ok(())
    }

    /// AvroData's metadata properties, each preceded by a comma.
    fn props(
        &mut self,
        s: &Schema,
        default: Option<&Value>,
        connect_type: Option<&str>,
        logical: Option<&str>,
    ) {
        if let Some(doc) = &s.doc {
            self.buf.push_str(",\"connect.doc\":");
            push_str(&mut self.buf, doc);
        }
        if let Some(version) = s.version {
            let _ = write!(self.buf, ",\"connect.version\":{version}");
        }
        if !s.parameters.is_empty() {
            self.buf.push_str(",\"connect.parameters\":{");
            // In Connect's insertion order (`Params`).
            let mut first = true;
            for (key, value) in &s.parameters {
                if !first {
                    self.buf.push(',');
                }
                first = false;
                push_str(&mut self.buf, key);
                self.buf.push(':');
                push_str(&mut self.buf, value);
            }
            self.buf.push('}');
        }
        if let Some(default) = default {
            self.buf.push_str(",\"connect.default\":");
            connect_default(&mut self.buf, default);
        }
        if let Some(name) = &s.name {
            self.buf.push_str(",\"connect.name\":");
            push_str(&mut self.buf, &self.schema_names.schema_name(name));
        }
        if let Some(t) = connect_type {
            self.buf.push_str(",\"connect.type\":");
            push_str(&mut self.buf, t);
        }
        if let Some(l) = logical {
            self.buf.push_str(",\"logicalType\":");
            push_str(&mut self.buf, l);
        }
        // AvroData copies parameters named `avro…` onto the Avro schema.
        for (key, value) in &s.parameters {
            if key.starts_with("avro") {
                self.buf.push(',');
                push_str(&mut self.buf, key);
                self.buf.push(':');
                push_str(&mut self.buf, value);
            }
        }
    }

    fn record(
        &mut self,
        s: &Schema,
        fields: &[Field],
        default: Option<&Value>,
    ) -> Result<(), AvroSchemaError> {
        let full = match &s.name {
            Some(name) => self.schema_names.schema_name(name).into_owned(),
            None => self.unnamed_name(s),
        };
        if self.reuse(&full, s)? {
            return Ok(());
        }
        let adjust_fields = s.name.as_deref().is_some_and(|n| self.rows.contains(&n));
        let names: Vec<String> = fields
            .iter()
            .map(|f| {
                if adjust_fields {
                    self.field_names.field_name(&f.name).into_owned()
                } else {
                    f.name.clone()
                }
            })
            .collect();
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                return Err(AvroSchemaError::DuplicateField {
                    record: full,
                    field: name.clone(),
                });
            }
        }
        let saved = self.open_record(&full);
        self.buf.push_str(",\"fields\":[");
        for (i, (field, name)) in fields.iter().zip(&names).enumerate() {
            if i > 0 {
                self.buf.push(',');
            }
            self.field(name, &field.schema, field.schema.default.as_ref())?;
        }
        self.buf.push(']');
        self.space = saved;
        self.props(s, default, None, None);
        self.buf.push('}');
        Ok(())
    }

    /// AvroData's record for a map whose keys are not required strings.
    fn map_entry(
        &mut self,
        map: &Schema,
        key: &Schema,
        value: &Schema,
    ) -> Result<(), AvroSchemaError> {
        let full = match &map.name {
            Some(name) => self.schema_names.schema_name(name).into_owned(),
            None => format!("{AVRO_NAMESPACE}.{MAP_ENTRY}"),
        };
        if self.reuse(&full, map)? {
            return Ok(());
        }
        let saved = self.open_record(&full);
        self.buf.push_str(",\"fields\":[");
        self.field("key", key, None)?;
        self.buf.push(',');
        self.field("value", value, None)?;
        self.buf.push(']');
        self.space = saved;
        if map.name.is_some() {
            self.buf.push_str(",\"connect.internal.type\":\"MapEntry\"");
        }
        self.buf.push('}');
        Ok(())
    }

    fn field(
        &mut self,
        name: &str,
        schema: &Schema,
        default: Option<&Value>,
    ) -> Result<(), AvroSchemaError> {
        self.buf.push_str("{\"name\":");
        push_str(&mut self.buf, name);
        self.buf.push_str(",\"type\":");
        self.schema(schema, default)?;
        match default {
            Some(d) => {
                self.buf.push_str(",\"default\":");
                avro_default(&mut self.buf, d);
            }
            None if schema.optional => self.buf.push_str(",\"default\":null"),
            None => {}
        }
        self.buf.push('}');
        Ok(())
    }

    /// Writes a reference when `full` is defined already (by an equal schema; a different
    /// one is an error, as Java Avro's "Can't redefine"). Otherwise records the definition.
    fn reuse(&mut self, full: &str, s: &Schema) -> Result<bool, AvroSchemaError> {
        let required = s.clone().required();
        match self.defined.get(full) {
            Some(existing) if *existing == required => {
                let (space, name) = split_name(full);
                let short = space.is_some()
                    && space == self.space.as_deref()
                    && !AVRO_TYPE_NAMES.contains(&name);
                push_str(&mut self.buf, if short { name } else { full });
                Ok(true)
            }
            Some(_) => Err(AvroSchemaError::Conflict {
                name: full.to_string(),
            }),
            None => {
                self.defined.insert(full.to_string(), required);
                Ok(false)
            }
        }
    }

    /// Writes `{"type":"record","name":…[,"namespace":…]` and enters the record's
    /// namespace; returns the enclosing one, to restore after the fields.
    fn open_record(&mut self, full: &str) -> Option<String> {
        let (space, name) = split_name(full);
        self.buf.push_str("{\"type\":\"record\",\"name\":");
        push_str(&mut self.buf, name);
        match (space, self.space.as_deref()) {
            (Some(s), current) if Some(s) != current => {
                self.buf.push_str(",\"namespace\":");
                push_str(&mut self.buf, s);
            }
            (None, Some(_)) => self.buf.push_str(",\"namespace\":\"\""),
            _ => {}
        }
        std::mem::replace(&mut self.space, space.map(str::to_string))
    }

    /// AvroData's name for an unnamed struct: `ConnectDefault`, then `ConnectDefault2`, …;
    /// an equal struct seen before keeps its name.
    fn unnamed_name(&mut self, s: &Schema) -> String {
        let required = s.clone().required();
        if let Some((_, name)) = self.unnamed.iter().find(|(u, _)| *u == required) {
            return name.clone();
        }
        self.default_names += 1;
        let name = if self.default_names > 1 {
            format!("{AVRO_NAMESPACE}.{DEFAULT_NAME}{}", self.default_names)
        } else {
            format!("{AVRO_NAMESPACE}.{DEFAULT_NAME}")
        };
        self.unnamed.push((required, name.clone()));
        name
    }
}

/// Names a record reference must not be shortened to (Java Avro writes them in full).
const AVRO_TYPE_NAMES: &[&str] = &[
    "record", "enum", "array", "map", "union", "fixed", "string", "bytes", "int", "long", "float",
    "double", "boolean", "null",
];

/// Splits a full name into namespace and name, as AvroData does (last dot).
fn split_name(full: &str) -> (Option<&str>, &str) {
    match full.rfind('.') {
        Some(i) => (Some(&full[..i]), &full[i + 1..]),
        None => (None, full),
    }
}

/// Scale and precision of a decimal schema.
fn decimal_params(s: &Schema) -> Result<(i32, i32), AvroSchemaError> {
    let name = s.name.clone().unwrap_or_default();
    let int = |param: &'static str| -> Result<Option<i32>, AvroSchemaError> {
        match s.parameters.get(param) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| AvroSchemaError::Decimal {
                    name: name.clone(),
                    param,
                    value: Some(v.clone()),
                }),
        }
    };
    let scale = int("scale")?.ok_or_else(|| AvroSchemaError::Decimal {
        name: name.clone(),
        param: "scale",
        value: None,
    })?;
    let precision = int("connect.decimal.precision")?.unwrap_or(DEFAULT_PRECISION);
    Ok((scale, precision))
}

/// The Avro logical type AvroData adds for Connect's own logical types. (A decimal gets
/// `decimal` even when its scale is negative or above its precision: AvroData then falls
/// back to writing the property by hand, and Avro readers treat it as plain bytes.)
fn logical_type(s: &Schema) -> Option<&'static str> {
    let name = s.name.as_deref()?;
    let is = |n: &str| name.eq_ignore_ascii_case(n);
    match s.ty {
        SchemaType::Bytes if is(DECIMAL) => Some("decimal"),
        SchemaType::Int32 if is(DATE) => Some("date"),
        SchemaType::Int32 if is(TIME) => Some("time-millis"),
        SchemaType::Int64 if is(TIMESTAMP) => Some("timestamp-millis"),
        _ => None,
    }
}

/// Appends `s` as a JSON string (Jackson escapes the same characters).
fn push_str(buf: &mut String, s: &str) {
    buf.push('"');
    for c in s.chars() {
        match c {
            '"' => buf.push_str("\\\""),
            '\\' => buf.push_str("\\\\"),
            '\n' => buf.push_str("\\n"),
            '\r' => buf.push_str("\\r"),
            '\t' => buf.push_str("\\t"),
            '\u{08}' => buf.push_str("\\b"),
            '\u{0c}' => buf.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(buf, "\\u{:04X}", c as u32);
            }
            c => buf.push(c),
        }
    }
    buf.push('"');
}

/// A Connect default as AvroData's `connect.default` property writes it (Jackson nodes:
/// bytes in base64).
fn connect_default(buf: &mut String, v: &Value) {
    match v {
        Value::Bytes(b) => {
            use base64::Engine as _;
            push_str(buf, &base64::engine::general_purpose::STANDARD.encode(b));
        }
        v => avro_default(buf, v),
    }
}

/// A Connect default as an Avro field's `default` (bytes as ISO-8859-1 text).
fn avro_default(buf: &mut String, v: &Value) {
    match v {
        Value::Null => buf.push_str("null"),
        Value::Boolean(b) => buf.push_str(if *b { "true" } else { "false" }),
        Value::Int8(n) => {
            let _ = write!(buf, "{n}");
        }
        Value::Int16(n) => {
            let _ = write!(buf, "{n}");
        }
        Value::Int32(n) => {
            let _ = write!(buf, "{n}");
        }
        Value::Int64(n) => {
            let _ = write!(buf, "{n}");
        }
        Value::Float32(f) => {
            let _ = write!(buf, "{:?}", f64::from(*f));
        }
        Value::Float64(f) => {
            let _ = write!(buf, "{f:?}");
        }
        Value::String(s) => push_str(buf, s),
        Value::Bytes(b) => push_str(buf, &b.iter().map(|&c| char::from(c)).collect::<String>()),
        Value::Array(items) => {
            buf.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    buf.push(',');
                }
                avro_default(buf, item);
            }
            buf.push(']');
        }
        Value::Map(_) | Value::Struct(_) => buf.push_str("null"),
    }
}
