//! Writes a [`Value`] by walking its Connect [`Schema`] alongside it: no intermediate Avro
//! value tree and no Avro schema object at all, since the Avro schema is a function of the
//! Connect schema (see [`crate::schema`]) and so is the binary layout.

use tributary_core::{Field, Schema, SchemaType, Value};

use super::wire::{self, BRANCH_0, BRANCH_1};
use super::{EncodeError, Problem};
use crate::schema::{is_avro_map, is_decimal};

const VARIABLE_SCALE_DECIMAL: &str = "io.debezium.data.VariableScaleDecimal";
const ZONED_TIMESTAMP: &str = "io.debezium.time.ZonedTimestamp";
const ZONED_TIME: &str = "io.debezium.time.ZonedTime";

/// What a `Null` in a required position becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nulls {
    /// An error: the value does not conform to its schema.
    Reject,
    /// The type's fallback value, as Debezium's converters write it (see
    /// [`super::write_row`]).
    Fallback,
}

pub(crate) fn write(
    out: &mut Vec<u8>,
    schema: &Schema,
    value: &Value,
    nulls: Nulls,
) -> Result<(), EncodeError> {
    // Connect's `Struct.get` answers a field's default for a null, so the AvroConverter
    // writes the default (an optional field with one is a value-first union, see
    // `write_value_first`).
    let value = match (value, &schema.default) {
        (Value::Null, Some(default)) => default,
        _ => value,
    };
    if schema.optional {
        if value.is_null() {
            out.push(BRANCH_0);
            return Ok(());
        }
        out.push(BRANCH_1);
    } else if value.is_null() {
        return match nulls {
            Nulls::Fallback => {
                zero(out, schema);
                Ok(())
            }
            Nulls::Reject => Err(EncodeError::new(Problem::Null {
                expected: describe(schema),
            })),
        };
    }
    present(out, schema, value, nulls)
}

/// An optional field whose Avro union puts the value first (`[T, "null"]`): a field with
/// a Connect default.
fn write_value_first(
    out: &mut Vec<u8>,
    schema: &Schema,
    value: &Value,
    nulls: Nulls,
) -> Result<(), EncodeError> {
    let value = match (value, &schema.default) {
        (Value::Null, Some(default)) => default,
        _ => value,
    };
    if value.is_null() {
        out.push(BRANCH_1);
        return Ok(());
    }
    out.push(BRANCH_0);
    present(out, schema, value, nulls)
}

fn value_first(field: &Field) -> bool {
    field.schema.optional && field.schema.default.is_some()
}

/// A non-null value of a schema, without the union branch.
fn present(
    out: &mut Vec<u8>,
    schema: &Schema,
    value: &Value,
    nulls: Nulls,
) -> Result<(), EncodeError> {
    match (&schema.ty, value) {
        (SchemaType::Int8, v) => int(out, schema, v, i8::MIN.into(), i8::MAX.into()),
        (SchemaType::Int16, v) => int(out, schema, v, i16::MIN.into(), i16::MAX.into()),
        (SchemaType::Int32, v) => int(out, schema, v, i32::MIN.into(), i32::MAX.into()),
        (SchemaType::Int64, v) => int(out, schema, v, i64::MIN, i64::MAX),
        (SchemaType::Float32, Value::Float32(f)) => {
            out.extend_from_slice(&f.to_le_bytes());
            Ok(())
        }
        (SchemaType::Float64, Value::Float64(f)) => {
            out.extend_from_slice(&f.to_le_bytes());
            Ok(())
        }
        (SchemaType::Float64, Value::Float32(f)) => {
            out.extend_from_slice(&f64::from(*f).to_le_bytes());
            Ok(())
        }
        (SchemaType::Boolean, Value::Boolean(b)) => {
            out.push(u8::from(*b));
            Ok(())
        }
        (SchemaType::String, Value::String(s)) => {
            wire::string(out, s);
            Ok(())
        }
        (SchemaType::Bytes, Value::Bytes(b)) => {
            wire::bytes(out, b);
            Ok(())
        }
        (SchemaType::Array(item), Value::Array(items)) => {
            if !items.is_empty() {
                wire::long(out, items.len() as i64);
                for (i, v) in items.iter().enumerate() {
                    write(out, item, v, nulls).map_err(|e| e.within(format!("[{i}]")))?;
                }
            }
            out.push(0);
            Ok(())
        }
        (SchemaType::Map(key, val), Value::Map(entries)) => {
            if !entries.is_empty() {
                wire::long(out, entries.len() as i64);
                let avro_map = is_avro_map(key);
                for (k, v) in entries {
                    let label = || match k {
                        Value::String(s) => format!("[{s:?}]"),
                        other => format!("[{other:?}]"),
                    };
                    if avro_map {
                        // An Avro map key is a bare string, never null.
                        match k {
                            Value::String(s) => wire::string(out, s),
                            other => {
                                return Err(EncodeError::new(Problem::Mismatch {
                                    expected: describe(key),
                                    got: kind(other),
                                })
                                .within(label()));
                            }
                        }
                    } else {
                        write(out, key, k, nulls).map_err(|e| e.within(label()))?;
                    }
                    write(out, val, v, nulls).map_err(|e| e.within(label()))?;
                }
            }
            out.push(0);
            Ok(())
        }
        (SchemaType::Struct(fields), Value::Struct(values)) => {
            if fields.len() != values.len() {
                return Err(EncodeError::new(Problem::Arity {
                    expected: fields.len(),
                    got: values.len(),
                }));
            }
            for (field, v) in fields.iter().zip(values) {
                let r = if value_first(field) {
                    write_value_first(out, &field.schema, v, nulls)
                } else {
                    write(out, &field.schema, v, nulls)
                };
                r.map_err(|e| e.within(field.name.clone()))?;
            }
            Ok(())
        }
        (_, v) => Err(EncodeError::new(Problem::Mismatch {
            expected: describe(schema),
            got: kind(v),
        })),
    }
}

/// Any integer value that fits the schema's width.
fn int(
    out: &mut Vec<u8>,
    schema: &Schema,
    value: &Value,
    min: i64,
    max: i64,
) -> Result<(), EncodeError> {
    let Some(n) = value.as_i64() else {
        return Err(EncodeError::new(Problem::Mismatch {
            expected: describe(schema),
            got: kind(value),
        }));
    };
    if n < min || n > max {
        return Err(EncodeError::new(Problem::OutOfRange {
            expected: describe(schema),
            value: n,
        }));
    }
    wire::long(out, n);
    Ok(())
}

/// The fallback Debezium's `JdbcValueConverters.convertValue` gives a NOT NULL column
/// without a default when its value is missing: `0`, `0.0`, `false`, `""`, empty bytes,
/// epoch for time types (`0`, or `1970-01-01T00:00:00Z` / `00:00:00Z` for the zoned
/// strings), a zero decimal (unscaled `0`, one byte), an empty array or map. Optional
/// fields inside become null.
pub(crate) fn zero(out: &mut Vec<u8>, schema: &Schema) {
    if schema.optional {
        out.push(BRANCH_0);
        return;
    }
    match &schema.ty {
        SchemaType::Int8
        | SchemaType::Int16
        | SchemaType::Int32
        | SchemaType::Int64
        | SchemaType::Boolean
        | SchemaType::Array(_)
        | SchemaType::Map(..) => out.push(0),
        SchemaType::Float32 => out.extend_from_slice(&[0; 4]),
        SchemaType::Float64 => out.extend_from_slice(&[0; 8]),
        SchemaType::String => wire::string(
            out,
            match schema.name.as_deref() {
                Some(ZONED_TIMESTAMP) => "1970-01-01T00:00:00Z",
                Some(ZONED_TIME) => "00:00:00Z",
                _ => "",
            },
        ),
        SchemaType::Bytes if is_decimal(schema) => wire::bytes(out, &[0]),
        SchemaType::Bytes => out.push(0),
        SchemaType::Struct(_) if schema.name.as_deref() == Some(VARIABLE_SCALE_DECIMAL) => {
            // {scale: 0, value: BigInteger.ZERO.toByteArray()}
            out.push(0);
            wire::bytes(out, &[0]);
        }
        SchemaType::Struct(fields) => {
            for field in fields {
                if value_first(field) {
                    out.push(BRANCH_1);
                } else {
                    zero(out, &field.schema);
                }
            }
        }
    }
}

/// `int32 (io.debezium.time.Date)`, for messages.
fn describe(schema: &Schema) -> String {
    match &schema.name {
        Some(name) => format!("{} ({name})", schema.type_name()),
        None => schema.type_name().to_string(),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Boolean(_) => "boolean",
        Value::Int8(_) => "int8",
        Value::Int16(_) => "int16",
        Value::Int32(_) => "int32",
        Value::Int64(_) => "int64",
        Value::Float32(_) => "float",
        Value::Float64(_) => "double",
        Value::String(_) => "string",
        Value::Bytes(_) => "bytes",
        Value::Array(_) => "array",
        Value::Map(_) => "map",
        Value::Struct(_) => "struct",
    }
}
