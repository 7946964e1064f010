//! Kafka's `Cast`: fields (or the whole key or value) cast to another primitive type, as
//! Java converts them: numbers by Java's narrowing conversions, booleans as 1 / 0, strings
//! parsed, anything to a string by Java's `toString` (bytes as base64, Connect's dates in
//! ISO 8601).

use tributary_core::{Field, Schema, SchemaType, Value};

use super::util::{self, SchemaCache, Side};
use super::{Built, Settings, Transform};
use crate::config::Findings;
use crate::record::Record;

const CAST: &str = "org.apache.kafka.connect.transforms.Cast";
const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
const DATES: [&str; 3] = [
    "org.apache.kafka.connect.data.Date",
    "org.apache.kafka.connect.data.Time",
    "org.apache.kafka.connect.data.Timestamp",
];

pub(super) fn build(class: &str, s: &Settings<'_>, found: &mut Findings) -> Option<Built> {
    let (base, side) = Side::of(class)?;
    if base != CAST {
        return None;
    }
    let name = if side == Side::Key {
        "Cast$Key"
    } else {
        "Cast$Value"
    };
    Some(Cast::configure(s, side, found).map(|t| (name, Box::new(t) as Box<dyn Transform>)))
}

/// A type a value can be cast to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    String,
}

impl Target {
    fn parse(text: &str) -> Option<Target> {
        Some(match text.trim().to_ascii_uppercase().as_str() {
            "INT8" => Target::Int8,
            "INT16" => Target::Int16,
            "INT32" => Target::Int32,
            "INT64" => Target::Int64,
            "FLOAT32" => Target::Float32,
            "FLOAT64" => Target::Float64,
            "BOOLEAN" => Target::Boolean,
            "STRING" => Target::String,
            _ => return None,
        })
    }

    fn schema(self) -> Schema {
        Schema::new(match self {
            Target::Int8 => SchemaType::Int8,
            Target::Int16 => SchemaType::Int16,
            Target::Int32 => SchemaType::Int32,
            Target::Int64 => SchemaType::Int64,
            Target::Float32 => SchemaType::Float32,
            Target::Float64 => SchemaType::Float64,
            Target::Boolean => SchemaType::Boolean,
            Target::String => SchemaType::String,
        })
    }
}

struct Cast {
    side: Side,
    /// `None`: the whole side.
    casts: Vec<(Option<String>, Target)>,
    replace_null_with_default: bool,
    cache: SchemaCache,
}

impl Cast {
    fn configure(s: &Settings<'_>, side: Side, found: &mut Findings) -> Result<Self, ()> {
        let ok = s.only(found, &["spec", "replace.null.with.default"]);
        let spec = s.list("spec");
        let mut casts = Vec::new();
        for item in &spec {
            let parts: Vec<&str> = item.split(':').collect();
            let (field, ty) = match parts.as_slice() {
                [ty] => (None, *ty),
                [field, ty] => (Some(field.trim().to_owned()), *ty),
                _ => {
                    found.error(&s.field("spec"), format!("Invalid rename mapping: {item}"));
                    return Err(());
                }
            };
            let Some(target) = Target::parse(ty) else {
                found.error(
                    &s.field("spec"),
                    format!("Invalid type found in casting spec: {} (int8, int16, int32, int64, float32, float64, boolean or string)", ty.trim()),
                );
                return Err(());
            };
            casts.push((field, target));
        }
        if casts.is_empty() {
            found.error(&s.field("spec"), "Must specify at least one field to cast.");
            return Err(());
        }
        if casts.iter().any(|(f, _)| f.is_none()) && casts.len() > 1 {
            found.error(
                &s.field("spec"),
                "Cast transformations that specify a type to cast the entire value to may only specify a single cast in their spec",
            );
            return Err(());
        }
        let replace = s.boolean(found, "replace.null.with.default", true);
        if ok {
            Ok(Cast {
                side,
                casts,
                replace_null_with_default: replace,
                cache: SchemaCache::default(),
            })
        } else {
            Err(())
        }
    }

    fn whole(&self) -> Option<Target> {
        match self.casts.as_slice() {
            [(None, t)] => Some(*t),
            _ => None,
        }
    }

    fn target(&self, field: &str) -> Option<Target> {
        self.casts
            .iter()
            .find(|(f, _)| f.as_deref() == Some(field))
            .map(|(_, t)| *t)
    }
}

impl Transform for Cast {
    fn apply(&mut self, mut r: Record) -> Result<Option<Record>, String> {
        let (schema, value) = self.side.take(&mut r);
        let Some(value) = value else {
            self.side.put(&mut r, schema, None);
            return Ok(Some(r));
        };
        let Some(schema) = schema else {
            let out = match self.whole() {
                Some(t) => cast(None, &value, t)?,
                None => {
                    let mut entries = util::map_entries(value, "cast types")?;
                    for (f, t) in &self.casts {
                        let f = f.as_deref().unwrap_or_default();
                        match entries.iter_mut().find(|(k, _)| k.as_str() == Some(f)) {
                            Some((_, v)) => *v = cast(None, v, *t)?,
                            None => entries.push((Value::String(f.to_owned()), Value::Null)),
                        }
                    }
                    Value::Map(entries)
                }
            };
            self.side.put(&mut r, None, Some(out));
            return Ok(Some(r));
        };
        let mut cache = std::mem::take(&mut self.cache);
        let updated = cache.get_or(&schema, |s| self.updated_schema(s));
        self.cache = cache;
        let updated = updated?;
        let out = match self.whole() {
            Some(t) => cast(Some(&schema), &value, t)?,
            None => {
                let values = util::struct_values(value, "cast types")?;
                let mut out = Vec::with_capacity(values.len());
                for (f, v) in schema.fields().iter().zip(values) {
                    let v = util::field_value(f, &v, self.replace_null_with_default);
                    out.push(match self.target(&f.name) {
                        Some(t) => cast(Some(&f.schema), &v, t)?,
                        None => v,
                    });
                }
                Value::Struct(out)
            }
        };
        self.side.put(&mut r, Some(updated), Some(out));
        Ok(Some(r))
    }
}

impl Cast {
    /// `getOrBuildSchema`.
    fn updated_schema(&self, s: &Schema) -> Result<Schema, String> {
        let basics = |mut out: Schema| {
            out.name = s.name.clone();
            out.version = s.version;
            out.doc = s.doc.clone();
            out.parameters = s.parameters.clone();
            out
        };
        let mut out = match self.whole() {
            Some(t) => basics(t.schema()),
            None => {
                let mut fields = Vec::with_capacity(s.fields().len());
                for f in s.fields() {
                    match self.target(&f.name) {
                        Some(t) => {
                            let mut fs = t.schema();
                            fs.optional = f.schema.optional;
                            if let Some(d) = &f.schema.default {
                                fs.default = Some(cast(Some(&f.schema), d, t)?);
                            }
                            fields.push(Field::new(f.name.clone(), fs));
                        }
                        None => fields.push(f.clone()),
                    }
                }
                basics(Schema::new(SchemaType::Struct(fields)))
            }
        };
        out.optional = s.optional;
        if let (Some(d), Some(t)) = (&s.default, self.whole()) {
            out.default = Some(cast(Some(s), d, t)?);
        }
        Ok(out)
    }
}

/// A Java number, as `Number` narrows it.
#[derive(Clone, Copy)]
enum Num {
    Long(i64),
    Double(f64),
}

/// `castValueToType`.
fn cast(schema: Option<&Schema>, v: &Value, t: Target) -> Result<Value, String> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    let name = schema.and_then(|s| s.name.as_deref());
    let supported = matches!(
        v,
        Value::Int8(_)
            | Value::Int16(_)
            | Value::Int32(_)
            | Value::Int64(_)
            | Value::Float32(_)
            | Value::Float64(_)
            | Value::Boolean(_)
            | Value::String(_)
            | Value::Bytes(_)
    );
    if !supported {
        return Err(format!(
            "Cast transformation does not support casting from {}",
            util::kind(v)
        ));
    }
    if t == Target::String {
        return Ok(Value::String(to_string(name, schema, v)));
    }
    let num = match v {
        Value::Int8(n) => Some(Num::Long(i64::from(*n))),
        Value::Int16(n) => Some(Num::Long(i64::from(*n))),
        Value::Int32(n) => Some(Num::Long(i64::from(*n))),
        Value::Int64(n) => Some(Num::Long(*n)),
        Value::Float32(f) => Some(Num::Double(f64::from(*f))),
        Value::Float64(f) => Some(Num::Double(*f)),
        // A Decimal is a BigDecimal: a Number too.
        Value::Bytes(b) if name == Some(DECIMAL) => {
            let scale = schema
                .and_then(|s| s.parameters.get("scale"))
                .and_then(|s| s.parse::<i32>().ok())
                .unwrap_or(0);
            Some(decimal_number(b, scale, t))
        }
        _ => None,
    };
    let out = match (num, v) {
        (Some(n), _) => from_number(n, t, matches!(v, Value::Float32(_))),
        (None, Value::Boolean(b)) => from_number(Num::Long(i64::from(*b)), t, false),
        (None, Value::String(s)) => parse_string(s, t)?,
        _ => {
            return Err(format!(
                "Unexpected type in Cast transformation: {}",
                util::kind(v)
            ));
        }
    };
    Ok(out)
}

fn from_number(n: Num, t: Target, float32: bool) -> Value {
    match n {
        Num::Long(l) => match t {
            Target::Int8 => Value::Int8(l as i8),
            Target::Int16 => Value::Int16(l as i16),
            Target::Int32 => Value::Int32(l as i32),
            Target::Int64 => Value::Int64(l),
            Target::Float32 => Value::Float32(l as f32),
            Target::Float64 => Value::Float64(l as f64),
            Target::Boolean => Value::Boolean(l != 0),
            Target::String => Value::String(l.to_string()),
        },
        Num::Double(d) => match t {
            // Java's `(int) d` saturates and makes NaN 0, as Rust's `as` does; byteValue and
            // shortValue go through int.
            Target::Int8 => Value::Int8((d as i32) as i8),
            Target::Int16 => Value::Int16((d as i32) as i16),
            Target::Int32 => Value::Int32(d as i32),
            Target::Int64 => Value::Int64(d as i64),
            Target::Float32 => Value::Float32(d as f32),
            Target::Float64 => Value::Float64(if float32 { f64::from(d as f32) } else { d }),
            Target::Boolean => Value::Boolean(d as i64 != 0),
            Target::String => Value::String(d.to_string()),
        },
    }
}

/// A `BigDecimal` as the number the target narrows it from: its integer part for integer
/// targets (`longValue` keeps the low 64 bits), the nearest double otherwise.
fn decimal_number(unscaled: &[u8], scale: i32, t: Target) -> Num {
    let n = num_bigint::BigInt::from_signed_bytes_be(unscaled);
    match t {
        Target::Float32 | Target::Float64 => {
            let text = format!("{n}e{}", -scale);
            Num::Double(text.parse().unwrap_or(f64::NAN))
        }
        _ => {
            let whole = if scale > 0 {
                n / num_bigint::BigInt::from(10).pow(scale as u32)
            } else {
                n * num_bigint::BigInt::from(10).pow((-scale) as u32)
            };
            let (sign, digits) = whole.to_u64_digits();
            let low = digits.first().copied().unwrap_or(0) as i64;
            Num::Long(if sign == num_bigint::Sign::Minus {
                low.wrapping_neg()
            } else {
                low
            })
        }
    }
}

fn parse_string(s: &str, t: Target) -> Result<Value, String> {
    let bad = || format!("Value ({s}) was out of range for requested data type");
    Ok(match t {
        Target::Int8 => Value::Int8(s.parse().map_err(|_| bad())?),
        Target::Int16 => Value::Int16(s.parse().map_err(|_| bad())?),
        Target::Int32 => Value::Int32(s.parse().map_err(|_| bad())?),
        Target::Int64 => Value::Int64(s.parse().map_err(|_| bad())?),
        Target::Float32 => Value::Float32(s.trim().parse().map_err(|_| bad())?),
        Target::Float64 => Value::Float64(s.trim().parse().map_err(|_| bad())?),
        Target::Boolean => Value::Boolean(s.eq_ignore_ascii_case("true")),
        Target::String => Value::String(s.to_owned()),
    })
}

/// `castToString`: Java's `toString`, bytes as base64, Connect's dates as `Values`
/// formats them (in UTC).
fn to_string(name: Option<&str>, schema: Option<&Schema>, v: &Value) -> String {
    let ms = match (name, v) {
        (Some(n), Value::Int32(d)) if n == DATES[0] => Some(i64::from(*d) * 86_400_000),
        (Some(n), Value::Int32(t)) if n == DATES[1] => Some(i64::from(*t)),
        (Some(n), Value::Int64(ts)) if n == DATES[2] => Some(*ts),
        _ => None,
    };
    if let Some(ms) = ms {
        let day = 86_400_000;
        let (days, in_day) = (ms.div_euclid(day), ms.rem_euclid(day));
        let (y, m, d) = tributary_core::calendar::civil_from_days(days);
        let time = format!(
            "{:02}:{:02}:{:02}.{:03}Z",
            in_day / 3_600_000,
            in_day / 60_000 % 60,
            in_day / 1000 % 60,
            in_day % 1000
        );
        return if ms < day {
            time
        } else if ms % day == 0 {
            format!("{y:04}-{m:02}-{d:02}")
        } else {
            format!("{y:04}-{m:02}-{d:02}T{time}")
        };
    }
    let mut out = String::new();
    crate::plain::java_string(&mut out, schema, v);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_cast_as_java_casts_them() {
        let v = |x: Value, t: Target| cast(None, &x, t).unwrap();
        assert_eq!(v(Value::Int64(300), Target::Int8), Value::Int8(44));
        assert_eq!(
            v(Value::Float64(1e20), Target::Int32),
            Value::Int32(i32::MAX)
        );
        assert_eq!(v(Value::Float64(f64::NAN), Target::Int64), Value::Int64(0));
        assert_eq!(
            v(Value::Boolean(true), Target::Float64),
            Value::Float64(1.0)
        );
        assert_eq!(
            v(Value::String("TRUE".into()), Target::Boolean),
            Value::Boolean(true)
        );
        assert_eq!(
            v(Value::Float64(1e7), Target::String),
            Value::String("1.0E7".into())
        );
        assert_eq!(
            v(Value::Bytes(vec![1, 2]), Target::String),
            Value::String("AQI=".into())
        );
        assert!(cast(None, &Value::String("x".into()), Target::Int32).is_err());
        let decimal = Schema::bytes().named(DECIMAL).param("scale", "2");
        // -123.45 → -123
        let unscaled = num_bigint::BigInt::from(-12345).to_signed_bytes_be();
        assert_eq!(
            cast(
                Some(&decimal),
                &Value::Bytes(unscaled.clone()),
                Target::Int32
            )
            .unwrap(),
            Value::Int32(-123)
        );
        assert_eq!(
            cast(Some(&decimal), &Value::Bytes(unscaled), Target::String).unwrap(),
            Value::String("-123.45".into())
        );
        let date = Schema::int32().named(DATES[0]);
        assert_eq!(
            cast(Some(&date), &Value::Int32(19_000), Target::String).unwrap(),
            Value::String("2022-01-08".into())
        );
    }
}
