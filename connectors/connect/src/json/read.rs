//! Kafka's `JsonConverter.toConnectData`: JSON bytes back into a Connect schema and value.
//!
//! With schemas, `{"schema":…,"payload":…}` gives both (the schema as `asConnectSchema`
//! reads it, parameters in their written order); without, the value alone, typed by its
//! JSON (objects as maps of strings, integers as int64, other numbers as float64). As in
//! Kafka, a null in a field whose schema has a default reads as the default (under
//! `replace.null.with.default`), and a string in a float field reads as 0.0.

use base64::Engine as _;
use tributary_core::{Field, Schema, SchemaType, Value};

use super::tree::Tree;
use crate::config::JsonSettings;

/// Reads one key or value; `Ok((None, None))` for Kafka's null.
pub fn read_record(
    bytes: Option<&[u8]>,
    settings: &JsonSettings,
) -> Result<(Option<Schema>, Option<Value>), String> {
    let Some(bytes) = bytes else {
        return Ok((None, None));
    };
    let tree = Tree::parse(bytes).map_err(|e| format!("not JSON: {e}"))?;
    if !settings.schemas {
        return Ok((None, schemaless(&tree)));
    }
    let (Some(schema), Some(payload), Tree::Object(fields)) =
        (tree.get("schema"), tree.get("payload"), &tree)
    else {
        return Err(
            "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields".into(),
        );
    };
    if fields.len() != 2 {
        return Err("JsonConverter with schemas.enable may not contain fields besides \"schema\" and \"payload\"".into());
    }
    if schema.is_null() {
        return Ok((None, schemaless(payload)));
    }
    let schema = read_schema(schema, settings)?;
    let value = read_value(&schema, payload, settings)?;
    Ok((Some(schema), value))
}

/// `JsonConverter.asConnectSchema`.
pub fn read_schema(tree: &Tree, settings: &JsonSettings) -> Result<Schema, String> {
    let ty = tree
        .get("type")
        .and_then(Tree::as_str)
        .ok_or("a schema must contain a \"type\" field")?;
    let ty = match ty {
        "boolean" => SchemaType::Boolean,
        "int8" => SchemaType::Int8,
        "int16" => SchemaType::Int16,
        "int32" => SchemaType::Int32,
        "int64" => SchemaType::Int64,
        "float" => SchemaType::Float32,
        "double" => SchemaType::Float64,
        "bytes" => SchemaType::Bytes,
        "string" => SchemaType::String,
        "array" => SchemaType::Array(Box::new(read_schema(
            tree.get("items")
                .ok_or("an array schema must contain \"items\"")?,
            settings,
        )?)),
        "map" => SchemaType::Map(
            Box::new(read_schema(
                tree.get("keys")
                    .ok_or("a map schema must contain \"keys\"")?,
                settings,
            )?),
            Box::new(read_schema(
                tree.get("values")
                    .ok_or("a map schema must contain \"values\"")?,
                settings,
            )?),
        ),
        "struct" => {
            let Some(Tree::Array(fields)) = tree.get("fields") else {
                return Err("a struct schema must contain \"fields\"".into());
            };
            let mut out = Vec::with_capacity(fields.len());
            for f in fields {
                let name = f
                    .get("field")
                    .and_then(Tree::as_str)
                    .ok_or("a struct field must have a \"field\" name")?;
                out.push(Field::new(name, read_schema(f, settings)?));
            }
            SchemaType::Struct(out)
        }
        other => return Err(format!("unknown schema type {other:?}")),
    };
    let mut schema = Schema::new(ty);
    schema.optional = matches!(tree.get("optional"), Some(Tree::Bool(true)));
    schema.name = tree.get("name").and_then(Tree::as_str).map(str::to_owned);
    schema.version = match tree.get("version") {
        Some(Tree::Number(n)) => n.as_i64().map(|v| v as i32),
        _ => None,
    };
    schema.doc = tree.get("doc").and_then(Tree::as_str).map(str::to_owned);
    if let Some(Tree::Object(params)) = tree.get("parameters") {
        for (k, v) in params {
            let v = match v {
                Tree::String(s) => s.clone(),
                other => return Err(format!("schema parameter {k:?} is {other:?}, not a string")),
            };
            schema.parameters.insert(k.clone(), v);
        }
    }
    if let Some(default) = tree.get("default") {
        schema.default = read_value(&schema, default, settings)?;
    }
    Ok(schema)
}

/// `JsonConverter.convertToConnect` under a schema; `None` for null.
pub fn read_value(
    schema: &Schema,
    tree: &Tree,
    settings: &JsonSettings,
) -> Result<Option<Value>, String> {
    if tree.is_null() {
        if let Some(default) = schema
            .default
            .as_ref()
            .filter(|_| settings.replace_null_with_default)
        {
            return Ok(Some(default.clone()));
        }
        if schema.optional {
            return Ok(None);
        }
        return Err(format!(
            "invalid null value for required {} field",
            schema.type_name()
        ));
    }
    let number = |t: &Tree| match t {
        Tree::Number(n) => n.as_f64().unwrap_or(0.0),
        _ => 0.0,
    };
    let integer = |t: &Tree| match t {
        Tree::Number(n) => n
            .as_i64()
            .unwrap_or_else(|| n.as_f64().unwrap_or(0.0) as i64),
        _ => 0,
    };
    let value = match &schema.ty {
        SchemaType::Boolean => Value::Boolean(matches!(tree, Tree::Bool(true))),
        SchemaType::Int8 => Value::Int8(integer(tree) as i8),
        SchemaType::Int16 => Value::Int16(integer(tree) as i16),
        SchemaType::Int32 => Value::Int32(integer(tree) as i32),
        SchemaType::Int64 => Value::Int64(integer(tree)),
        SchemaType::Float32 => Value::Float32(number(tree) as f32),
        SchemaType::Float64 => Value::Float64(number(tree)),
        SchemaType::String => match tree {
            Tree::String(s) => Value::String(s.clone()),
            other => return Err(format!("expected a string, found {other:?}")),
        },
        SchemaType::Bytes => match tree {
            Tree::String(s) => Value::Bytes(
                base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map_err(|e| format!("invalid bytes field: {e}"))?,
            ),
            // `decimal.format=NUMERIC`: a decimal written as a number.
            Tree::Number(n) => Value::Bytes(numeric_decimal(&n.to_string(), schema)?),
            other => return Err(format!("expected bytes, found {other:?}")),
        },
        SchemaType::Array(item) => match tree {
            Tree::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|t| read_value(item, t, settings).map(|v| v.unwrap_or(Value::Null)))
                    .collect::<Result<_, _>>()?,
            ),
            other => return Err(format!("expected an array, found {other:?}")),
        },
        SchemaType::Map(k, v) => {
            let mut entries = Vec::new();
            match tree {
                Tree::Object(fields) if matches!(k.ty, SchemaType::String) => {
                    for (key, val) in fields {
                        let val = read_value(v, val, settings)?.unwrap_or(Value::Null);
                        entries.push((Value::String(key.clone()), val));
                    }
                }
                Tree::Array(pairs) => {
                    for pair in pairs {
                        let Tree::Array(kv) = pair else {
                            return Err("a map entry is not a [key, value] pair".into());
                        };
                        let [key, val] = kv.as_slice() else {
                            return Err("a map entry is not a [key, value] pair".into());
                        };
                        entries.push((
                            read_value(k, key, settings)?.unwrap_or(Value::Null),
                            read_value(v, val, settings)?.unwrap_or(Value::Null),
                        ));
                    }
                }
                other => return Err(format!("expected a map, found {other:?}")),
            }
            Value::Map(entries)
        }
        SchemaType::Struct(fields) => {
            if !matches!(tree, Tree::Object(_)) {
                return Err(format!("expected a struct, found {tree:?}"));
            }
            let mut values = Vec::with_capacity(fields.len());
            for f in fields {
                let v = read_value(
                    &f.schema,
                    tree.get(&f.name).unwrap_or(&Tree::Null),
                    settings,
                )
                .map_err(|e| format!("{}: {e}", f.name))?;
                values.push(v.unwrap_or(Value::Null));
            }
            Value::Struct(values)
        }
    };
    Ok(Some(value))
}

/// A decimal number as the unscaled value's bytes at the schema's scale.
fn numeric_decimal(text: &str, schema: &Schema) -> Result<Vec<u8>, String> {
    let scale: i64 = schema
        .parameters
        .get("scale")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (mantissa, exp) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i64>().map_err(|e| e.to_string())?),
        None => (text, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{int}{frac}");
    let mut n: num_bigint::BigInt = digits.parse().map_err(|e| format!("{text:?}: {e}"))?;
    // value = digits × 10^(exp - frac.len()); unscaled = value × 10^scale.
    let shift = exp - frac.len() as i64 + scale;
    if shift >= 0 {
        n *= num_bigint::BigInt::from(10).pow(shift as u32);
    } else {
        n /= num_bigint::BigInt::from(10).pow((-shift) as u32);
    }
    Ok(n.to_signed_bytes_be())
}

/// A value without a schema, typed by its JSON.
fn schemaless(tree: &Tree) -> Option<Value> {
    Some(match tree {
        Tree::Null => return None,
        Tree::Bool(b) => Value::Boolean(*b),
        Tree::Number(n) => match n.as_i64() {
            Some(i) => Value::Int64(i),
            None => Value::Float64(n.as_f64().unwrap_or(0.0)),
        },
        Tree::String(s) => Value::String(s.clone()),
        Tree::Array(items) => Value::Array(
            items
                .iter()
                .map(|t| schemaless(t).unwrap_or(Value::Null))
                .collect(),
        ),
        Tree::Object(fields) => Value::Map(
            fields
                .iter()
                .map(|(k, v)| {
                    (
                        Value::String(k.clone()),
                        schemaless(v).unwrap_or(Value::Null),
                    )
                })
                .collect(),
        ),
    })
}
