//! Kafka's `TimestampConverter$Key` / `$Value`: a timestamp field (or the whole side)
//! between Unix time, `SimpleDateFormat` text and Connect's `Date`, `Time` and
//! `Timestamp`.

use std::sync::Arc;

use tributary_core::{Field, Schema, SchemaType, Value};

use super::simple_date::DatePattern;
use super::util::{self, SchemaCache, Side};
use super::{Built, Settings, Transform};
use crate::config::Findings;
use crate::record::Record;

const CLASS: &str = "org.apache.kafka.connect.transforms.TimestampConverter";
const DATE: &str = "org.apache.kafka.connect.data.Date";
const TIME: &str = "org.apache.kafka.connect.data.Time";
const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";
const DAY_MS: i64 = 86_400_000;
const PURPOSE: &str = "converting timestamp formats";

pub(super) fn build(class: &str, s: &Settings<'_>, found: &mut Findings) -> Option<Built> {
    let (base, side) = Side::of(class)?;
    if base != CLASS {
        return None;
    }
    Some(TimestampConverter::configure(s, side, found).map(|t| {
        let name = match side {
            Side::Key => "TimestampConverter$Key",
            Side::Value => "TimestampConverter$Value",
        };
        (name, Box::new(t) as Box<dyn Transform>)
    }))
}

/// A timestamp representation (`target.type`, or what a schema says a value is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Unix,
    Date,
    Time,
    Timestamp,
}

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "string" => Kind::String,
            "unix" => Kind::Unix,
            "Date" => Kind::Date,
            "Time" => Kind::Time,
            "Timestamp" => Kind::Timestamp,
            _ => return None,
        })
    }

    /// `timestampTypeFromSchema`.
    fn of_schema(s: &Schema) -> Result<Kind, String> {
        Ok(match (s.name.as_deref(), &s.ty) {
            (Some(TIMESTAMP), _) => Kind::Timestamp,
            (Some(DATE), _) => Kind::Date,
            (Some(TIME), _) => Kind::Time,
            (_, SchemaType::String) => Kind::String,
            (_, SchemaType::Int64) => Kind::Unix,
            _ => {
                return Err(format!(
                    "Schema {} does not correspond to a known timestamp type format",
                    s.type_name().to_uppercase()
                ));
            }
        })
    }

    /// `typeSchema(optional)`.
    fn schema(self, optional: bool) -> Schema {
        let s = match self {
            Kind::String => Schema::string(),
            Kind::Unix => Schema::int64(),
            Kind::Date => Schema::int32().named(DATE).versioned(1),
            Kind::Time => Schema::int32().named(TIME).versioned(1),
            Kind::Timestamp => Schema::int64().named(TIMESTAMP).versioned(1),
        };
        if optional { s.optional() } else { s }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Precision {
    Seconds,
    Millis,
    Micros,
    Nanos,
}

struct TimestampConverter {
    side: Side,
    /// Empty: the whole side.
    field: String,
    target: Kind,
    format: Option<DatePattern>,
    precision: Precision,
    replace_null_with_default: bool,
    cache: SchemaCache,
}

impl TimestampConverter {
    fn configure(s: &Settings<'_>, side: Side, found: &mut Findings) -> Result<Self, ()> {
        let ok = s.only(
            found,
            &[
                "field",
                "target.type",
                "format",
                "unix.precision",
                "replace.null.with.default",
            ],
        );
        let target = s.required(found, "target.type").and_then(|t| {
            Kind::parse(t).or_else(|| {
                found.error(
                    &s.field("target.type"),
                    format!("{t:?} is not one of string, unix, Date, Time, Timestamp"),
                );
                None
            })
        });
        let precision = match s.get("unix.precision").unwrap_or("milliseconds") {
            "seconds" => Some(Precision::Seconds),
            "milliseconds" => Some(Precision::Millis),
            "microseconds" => Some(Precision::Micros),
            "nanoseconds" => Some(Precision::Nanos),
            other => {
                found.error(
                    &s.field("unix.precision"),
                    format!(
                        "{other:?} is not one of nanoseconds, microseconds, milliseconds, seconds"
                    ),
                );
                None
            }
        };
        let format = match s.get("format").filter(|f| !f.trim().is_empty()) {
            None => {
                if target == Some(Kind::String) {
                    found.error(
                        &s.field("format"),
                        "TimestampConverter requires format option to be specified when using string timestamps",
                    );
                    return Err(());
                }
                None
            }
            Some(f) => match DatePattern::parse(f) {
                Ok(p) => Some(p),
                Err(e) => {
                    found.error(&s.field("format"), e);
                    return Err(());
                }
            },
        };
        let replace = s.boolean(found, "replace.null.with.default", true);
        match (target, precision) {
            (Some(target), Some(precision)) if ok => Ok(TimestampConverter {
                side,
                field: s.get("field").unwrap_or_default().to_owned(),
                target,
                format,
                precision,
                replace_null_with_default: replace,
                cache: SchemaCache::default(),
            }),
            _ => Err(()),
        }
    }

    /// `toRaw`: a value of `kind` as milliseconds since the epoch.
    fn to_millis(&self, kind: Kind, v: &Value) -> Result<i64, String> {
        match (kind, v) {
            (Kind::String, Value::String(text)) => {
                let format = self.format.as_ref().ok_or(
                    "a string timestamp needs the format option to be parsed (set format)",
                )?;
                format
                    .parse_millis(text, current_year())
                    .map_err(|e| {
                        format!(
                            "Could not parse timestamp: value ({text}) does not match pattern ({}): {e}",
                            format.as_str()
                        )
                    })
            }
            (Kind::String, other) => Err(format!(
                "Expected string timestamp to be a String, but found class {}",
                util::kind(other)
            )),
            (Kind::Unix, Value::Int64(n)) => Ok(match self.precision {
                Precision::Seconds => n.saturating_mul(1000),
                Precision::Millis => *n,
                Precision::Micros => n / 1000,
                Precision::Nanos => n / 1_000_000,
            }),
            (Kind::Unix, other) => Err(format!(
                "Expected Unix timestamp to be a Long, but found class {}",
                util::kind(other)
            )),
            (Kind::Date, Value::Int32(days)) => Ok(i64::from(*days) * DAY_MS),
            (Kind::Time, Value::Int32(ms)) => Ok(i64::from(*ms)),
            (Kind::Timestamp, Value::Int64(ms)) => Ok(*ms),
            (_, other) => Err(format!(
                "Expected {kind:?} to be a java.util.Date, but found class {}",
                util::kind(other)
            )),
        }
    }

    /// `toType` of the target.
    fn target_of(&self, ms: i64) -> Value {
        match self.target {
            Kind::String => Value::String(
                self.format
                    .as_ref()
                    .expect("string targets have a format")
                    .format(ms),
            ),
            Kind::Unix => Value::Int64(match self.precision {
                Precision::Seconds => ms / 1000,
                Precision::Millis => ms,
                Precision::Micros => ms.saturating_mul(1000),
                Precision::Nanos => ms.saturating_mul(1_000_000),
            }),
            // `Date.fromLogical` casts the day count to an int.
            Kind::Date => Value::Int32(ms.div_euclid(DAY_MS) as i32),
            Kind::Time => Value::Int32(ms.rem_euclid(DAY_MS) as i32),
            Kind::Timestamp => Value::Int64(ms),
        }
    }

    /// `convertTimestamp`: `kind` is `None` when it is inferred from the value.
    fn convert(&self, v: &Value, kind: Option<Kind>) -> Result<Value, String> {
        if v.is_null() {
            return Ok(Value::Null);
        }
        let kind = match kind {
            Some(k) => k,
            None => match v {
                Value::Int64(_) => Kind::Unix,
                Value::String(_) => Kind::String,
                other => {
                    return Err(format!(
                        "TimestampConverter does not support class {} objects as timestamps",
                        util::kind(other)
                    ));
                }
            },
        };
        Ok(self.target_of(self.to_millis(kind, v)?))
    }

    fn updated_schema(&self, s: &Schema) -> Result<Schema, String> {
        let fields = s
            .fields()
            .iter()
            .map(|f| {
                if f.name == self.field {
                    Field::new(f.name.clone(), self.target.schema(f.schema.optional))
                } else {
                    f.clone()
                }
            })
            .collect();
        let mut out = util::struct_like(s, fields);
        out.optional = s.optional;
        Ok(out)
    }
}

/// The current year in UTC (two-digit years are read relative to it).
fn current_year() -> i64 {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    tributary_core::calendar::civil_from_days(ms.div_euclid(DAY_MS)).0
}

impl Transform for TimestampConverter {
    fn apply(&mut self, mut r: Record) -> Result<Option<Record>, String> {
        let (schema, value) = self.side.take(&mut r);
        let Some(schema) = schema else {
            // Schemaless.
            let out = match value {
                None => None,
                Some(v) if self.field.is_empty() => Some(self.convert(&v, None)?),
                Some(v) => {
                    let mut entries = util::map_entries(v, PURPOSE)?;
                    let converted = match entries
                        .iter()
                        .find(|(k, _)| k.as_str() == Some(self.field.as_str()))
                    {
                        Some((_, v)) => self.convert(v, None)?,
                        None => Value::Null,
                    };
                    match entries
                        .iter_mut()
                        .find(|(k, _)| k.as_str() == Some(self.field.as_str()))
                    {
                        Some((_, v)) => *v = converted,
                        None => entries.push((Value::String(self.field.clone()), converted)),
                    }
                    Some(Value::Map(entries))
                }
            };
            self.side.put(&mut r, None, out);
            return Ok(Some(r));
        };
        if self.field.is_empty() {
            let kind = Kind::of_schema(&schema)?;
            let out = match value {
                Some(v) => Some(self.convert(&v, Some(kind))?),
                None => None,
            };
            let updated = Arc::new(self.target.schema(schema.optional));
            self.side.put(&mut r, Some(updated), out);
            return Ok(Some(r));
        }
        let mut cache = std::mem::take(&mut self.cache);
        let updated = cache.get_or(&schema, |s| self.updated_schema(s));
        self.cache = cache;
        let updated = updated?;
        let out = match value {
            None => None,
            Some(v) => {
                let values = util::struct_values(v, PURPOSE)?;
                let mut out = Vec::with_capacity(values.len());
                for (f, v) in schema.fields().iter().zip(values) {
                    let v = util::field_value(f, &v, self.replace_null_with_default);
                    out.push(if f.name == self.field {
                        self.convert(&v, Some(Kind::of_schema(&f.schema)?))?
                    } else {
                        v
                    });
                }
                Some(Value::Struct(out))
            }
        };
        self.side.put(&mut r, Some(updated), out);
        Ok(Some(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn converter(props: &[(&str, &str)]) -> Result<TimestampConverter, Findings> {
        let all: BTreeMap<String, String> = props
            .iter()
            .map(|(k, v)| (format!("transforms.t.{k}"), v.to_string()))
            .collect();
        let s = Settings::new(&all, "transforms.t.");
        let mut found = Findings::default();
        TimestampConverter::configure(&s, Side::Value, &mut found).map_err(|()| found)
    }

    #[test]
    fn schemaless_values_are_converted_by_their_java_type() {
        let mut t = converter(&[
            ("target.type", "string"),
            ("format", "yyyy-MM-dd"),
            ("field", "at"),
        ])
        .unwrap();
        let map = Value::Map(vec![(Value::String("at".into()), Value::Int64(0))]);
        let r = Record::new("t", (None, None), (None, Some(map)));
        let out = t.apply(r).unwrap().unwrap();
        assert_eq!(
            out.value,
            Some(Value::Map(vec![(
                Value::String("at".into()),
                Value::String("1970-01-01".into())
            )]))
        );
        let bad = Value::Map(vec![(Value::String("at".into()), Value::Boolean(true))]);
        assert!(
            t.apply(Record::new("t", (None, None), (None, Some(bad))))
                .is_err()
        );
    }

    #[test]
    fn settings_are_checked() {
        let err = converter(&[("target.type", "string")]).err().unwrap();
        assert!(err.errors[0].field.ends_with("format"), "{err:?}");
        assert!(converter(&[("target.type", "date")]).is_err());
        assert!(converter(&[("target.type", "unix"), ("unix.precision", "days")]).is_err());
        assert!(converter(&[("target.type", "unix"), ("formats", "x")]).is_err());
    }
}
