//! [`ValueParser`]: one column's text-to-value conversion, chosen once per column.
//!
//! The parser is a plain enum matched per value: no trait objects, no lookups, no
//! allocation beyond the value itself on the hot path. It is built by
//! [`super::map_column`] together with the schema it must agree with.

use tributary_core::Value;

use super::array::split_array;
use super::binary::{bit_to_bool, bits_to_bytes, decode_bytea, encode_base64, encode_hex};
use super::error::TypeError;
use super::extension::{hstore_json, hstore_map, point, postgis, sparse_vector, vector};
use super::modes::{BinaryHandling, DecimalHandling, HstoreHandling, IntervalHandling};
use super::numeric::{Decimal, Numeric, parse_money, parse_numeric};
use super::temporal::{
    Special, USECS_PER_DAY, format_iso_date, format_iso_time, format_timetz,
    format_zoned_timestamp, parse_date, parse_interval, parse_time, parse_timestamp,
};

/// `date 'infinity'` and `'-infinity'` as Debezium emits them. Debezium's
/// `PostgresValueConverter` turns the text into the `LocalDate`s `-5877611-06-21` and
/// `-5877611-06-22` and writes their epoch days, so positive infinity is a large
/// *negative* number that sorts before negative infinity. We copy that rather than pick
/// `i32::MAX`/`i32::MIN`, so consumers see exactly what Debezium writes.
pub(crate) const DATE_POSITIVE_INFINITY: i32 = -2_147_472_692;
pub(crate) const DATE_NEGATIVE_INFINITY: i32 = -2_147_472_691;

/// `date 'infinity'` and `'-infinity'` where Debezium reads dates through JDBC (snapshot
/// rows, and array elements in both paths): what pgjdbc's infinite dates become as epoch
/// days (measured with Debezium 3.6.1 by the differential test).
pub(crate) const JDBC_DATE_POSITIVE_INFINITY: i32 = -622_191_234;
pub(crate) const JDBC_DATE_NEGATIVE_INFINITY: i32 = -625_821_272;

/// `timestamp 'infinity'` and `'-infinity'`: Debezium documents pgjdbc's
/// `PGStatement.DATE_POSITIVE_INFINITY` / `DATE_NEGATIVE_INFINITY`, read as microseconds.
/// The millisecond types (`Timestamp`, Connect's `Timestamp`) get the same instant in ms.
pub(crate) const TIMESTAMP_POSITIVE_INFINITY_MICROS: i64 = 9_223_372_036_825_200_000;
pub(crate) const TIMESTAMP_NEGATIVE_INFINITY_MICROS: i64 = -9_223_372_036_832_400_000;

/// How a `time` or `timestamp` is written: a count of a unit, or ISO-8601 text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeUnit {
    Millis,
    Micros,
    Nanos,
    Iso,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    /// The text itself (character types, json, uuid, enums, unknown types, …).
    Text,
    Bool,
    /// `bit(1)` / `varbit(1)` as a boolean.
    BitBool,
    /// `io.debezium.data.Bits`.
    Bits,
    Int16,
    Int32,
    Int64,
    /// `oid`: unsigned 32 bits, written as `INT64`.
    Oid,
    Float32,
    Float64,
    /// `numeric(p,s)`.
    Decimal {
        scale: i32,
        mode: DecimalHandling,
    },
    /// `numeric` without a type modifier.
    VariableDecimal(DecimalHandling),
    Money {
        scale: u32,
        mode: DecimalHandling,
    },
    Bytea(BinaryHandling),
    /// Days since the epoch (both Debezium's and Connect's date), or `IsoDate` text.
    Date {
        iso: bool,
    },
    Time(TimeUnit),
    Timestamp(TimeUnit),
    /// `ZonedTimestamp` with the fraction padded to `width` digits (0: trimmed).
    TimestampTz {
        width: u8,
    },
    TimeTz,
    Interval(IntervalHandling),
    Hstore(HstoreHandling),
    /// `point` as `io.debezium.data.geometry.Point`.
    Point,
    /// PostGIS `geometry`/`geography`: `{wkb, srid}` from the hex EWKB.
    Postgis,
    /// pgvector `vector` (`half`: `halfvec`) as `DoubleVector` (`FloatVector`).
    Vector {
        half: bool,
    },
    /// pgvector `sparsevec` as `SparseDoubleVector`.
    SparseVector,
    /// An unmapped type under `include.unknown.datatypes`: its text as bytes, written as
    /// `binary.handling.mode` says; for a `geometric` type, with pgjdbc's number format.
    UnknownBytes {
        mode: BinaryHandling,
        geometric: bool,
    },
    Array(Box<ValueParser>),
}

/// Turns one column's Postgres text output into its Kafka Connect value.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueParser {
    kind: Kind,
}

impl ValueParser {
    pub(crate) fn new(kind: Kind) -> Self {
        ValueParser { kind }
    }

    /// A parser that keeps the text as it is.
    pub fn text() -> Self {
        ValueParser::new(Kind::Text)
    }

    /// The Postgres type family this parser reads, as named in errors.
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            Kind::Text => "text",
            Kind::Bool => "boolean",
            Kind::BitBool | Kind::Bits => "bit",
            Kind::Int16 => "smallint",
            Kind::Int32 => "integer",
            Kind::Int64 => "bigint",
            Kind::Oid => "oid",
            Kind::Float32 => "real",
            Kind::Float64 => "double precision",
            Kind::Decimal { .. } | Kind::VariableDecimal(_) => "numeric",
            Kind::Money { .. } => "money",
            Kind::Bytea(_) => "bytea",
            Kind::Date { .. } => "date",
            Kind::Time(_) => "time",
            Kind::Timestamp(_) => "timestamp",
            Kind::TimestampTz { .. } => "timestamptz",
            Kind::TimeTz => "timetz",
            Kind::Interval(_) => "interval",
            Kind::Hstore(_) => "hstore",
            Kind::Point => "point",
            Kind::Postgis => "geometry",
            Kind::Vector { half: false } => "vector",
            Kind::Vector { half: true } => "halfvec",
            Kind::SparseVector => "sparsevec",
            Kind::UnknownBytes { .. } => "unknown",
            Kind::Array(_) => "array",
        }
    }

    /// Parses the text form of a non-NULL value.
    pub fn parse(&self, text: &str) -> Result<Value, TypeError> {
        self.parse_inner(text)
            .map_err(|reason| TypeError::new(self.type_name(), text, reason))
    }

    /// Parses a value of a snapshot row. Debezium reads those through JDBC, which differs
    /// from its streaming path for dates: infinite dates become pgjdbc's constants, and a
    /// BC date loses its era (`0044-03-15 BC` is written as 44 AD). We match it.
    pub fn parse_snapshot(&self, text: &str) -> Result<Value, TypeError> {
        match self.kind {
            Kind::Date { iso } => jdbc_date(text, iso),
            _ => self.parse_inner(text),
        }
        .map_err(|reason| TypeError::new(self.type_name(), text, reason))
    }

    fn parse_inner(&self, text: &str) -> Result<Value, String> {
        let value = match &self.kind {
            Kind::Text => Value::String(text.to_string()),
            Kind::Bool => Value::Boolean(match text {
                "t" | "true" => true,
                "f" | "false" => false,
                _ => return Err("expected t or f".into()),
            }),
            Kind::BitBool => Value::Boolean(bit_to_bool(text)?),
            Kind::Bits => Value::Bytes(bits_to_bytes(text)?),
            Kind::Int16 => Value::Int16(text.parse().map_err(|_| "expected a 16-bit integer")?),
            Kind::Int32 => Value::Int32(text.parse().map_err(|_| "expected a 32-bit integer")?),
            Kind::Int64 => Value::Int64(text.parse().map_err(|_| "expected a 64-bit integer")?),
            Kind::Oid => Value::Int64(i64::from(
                text.parse::<u32>()
                    .map_err(|_| "expected an unsigned 32-bit integer")?,
            )),
            Kind::Float32 => Value::Float32(
                text.parse()
                    .map_err(|_| "expected a floating-point number")?,
            ),
            Kind::Float64 => Value::Float64(
                text.parse()
                    .map_err(|_| "expected a floating-point number")?,
            ),
            Kind::Decimal { scale, mode } => fixed_decimal(parse_numeric(text)?, *scale, *mode)?,
            Kind::VariableDecimal(mode) => variable_decimal(parse_numeric(text)?, *mode)?,
            Kind::Money { scale, mode } => {
                let amount = parse_money(text)?.with_scale(i64::from(*scale))?;
                match mode {
                    DecimalHandling::Precise => Value::Bytes(amount.unscaled_bytes()),
                    DecimalHandling::Double => Value::Float64(amount.to_f64()),
                    DecimalHandling::String => Value::String(amount.to_plain_string()),
                }
            }
            Kind::Bytea(mode) => binary(decode_bytea(text)?, *mode),
            Kind::UnknownBytes { mode, geometric } => {
                let text = if *geometric {
                    java_numbers(text)
                } else {
                    text.to_string()
                };
                binary(text.into_bytes(), *mode)
            }
            Kind::Hstore(HstoreHandling::Json) => hstore_json(text)?,
            Kind::Hstore(HstoreHandling::Map) => hstore_map(text)?,
            Kind::Point => point(text)?,
            Kind::Postgis => postgis(text)?,
            Kind::Vector { half } => vector(text, *half)?,
            Kind::SparseVector => sparse_vector(text)?,
            Kind::Date { iso } => date(
                match parse_date(text)? {
                    Special::Value(days) => i32::try_from(days).map_err(|_| "date out of range")?,
                    Special::PosInfinity => DATE_POSITIVE_INFINITY,
                    Special::NegInfinity => DATE_NEGATIVE_INFINITY,
                },
                *iso,
            ),
            Kind::Time(unit) => {
                let micros = parse_time(text)?;
                match unit {
                    TimeUnit::Millis => Value::Int32((micros / 1000) as i32),
                    TimeUnit::Micros => Value::Int64(micros),
                    TimeUnit::Nanos => Value::Int64(micros * 1000),
                    // `LocalTime.MIDNIGHT.plus(duration)`: 24:00:00 wraps to 00:00:00.
                    TimeUnit::Iso => Value::String(format_iso_time(micros % USECS_PER_DAY)),
                }
            }
            Kind::Timestamp(unit) => {
                let micros = match parse_timestamp(text, false)? {
                    Special::Value(micros) => micros,
                    Special::PosInfinity => TIMESTAMP_POSITIVE_INFINITY_MICROS,
                    Special::NegInfinity => TIMESTAMP_NEGATIVE_INFINITY_MICROS,
                };
                match unit {
                    TimeUnit::Millis => Value::Int64(micros.div_euclid(1000)),
                    TimeUnit::Micros => Value::Int64(micros),
                    TimeUnit::Nanos => match micros {
                        TIMESTAMP_POSITIVE_INFINITY_MICROS => Value::Int64(i64::MAX),
                        TIMESTAMP_NEGATIVE_INFINITY_MICROS => Value::Int64(i64::MIN),
                        // Outside 1677–2262 a nanosecond count overflows 64 bits: Debezium
                        // logs a warning and writes NULL.
                        _ => micros.checked_mul(1000).map_or(Value::Null, Value::Int64),
                    },
                    TimeUnit::Iso => Value::String(format_zoned_timestamp(micros, 0)),
                }
            }
            Kind::TimestampTz { width } => Value::String(match parse_timestamp(text, true)? {
                Special::Value(micros) => format_zoned_timestamp(micros, *width),
                Special::PosInfinity => "infinity".to_string(),
                Special::NegInfinity => "-infinity".to_string(),
            }),
            Kind::TimeTz => Value::String(format_timetz(text)?),
            Kind::Interval(mode) => match (parse_interval(text)?, mode) {
                (Special::Value(parts), IntervalHandling::Numeric) => {
                    Value::Int64(parts.debezium_micros())
                }
                (Special::Value(parts), IntervalHandling::String) => {
                    Value::String(parts.debezium_iso())
                }
                // Postgres 17 infinite intervals; Debezium cannot read them at all.
                (Special::PosInfinity, IntervalHandling::Numeric) => Value::Int64(i64::MAX),
                (Special::NegInfinity, IntervalHandling::Numeric) => Value::Int64(i64::MIN),
                (Special::PosInfinity, IntervalHandling::String) => {
                    Value::String("infinity".into())
                }
                (Special::NegInfinity, IntervalHandling::String) => {
                    Value::String("-infinity".into())
                }
            },
            Kind::Array(element) => {
                let items = split_array(text)?;
                let mut values = Vec::with_capacity(items.len());
                for (index, item) in items.into_iter().enumerate() {
                    let parsed = match item {
                        None => Ok(Value::Null),
                        // Debezium converts array elements through JDBC.
                        Some(item) if matches!(element.kind, Kind::Date { .. }) => {
                            jdbc_date(&item, element.kind == Kind::Date { iso: true })
                        }
                        // pgjdbc reads a `time` element as a `java.sql.Time`, on which the
                        // end of the day is midnight.
                        Some(item)
                            if matches!(element.kind, Kind::Time(_)) && item == "24:00:00" =>
                        {
                            element.parse_inner("00:00:00")
                        }
                        Some(item) => element.parse_inner(&item),
                    };
                    values.push(parsed.map_err(|reason| {
                        format!("element {} ({}): {reason}", index + 1, element.type_name())
                    })?);
                }
                // Debezium cannot write a special numeric (NaN, ±Infinity) as an element of
                // a decimal array, and writes the whole array as NULL.
                if matches!(
                    element.kind,
                    Kind::VariableDecimal(_) | Kind::Decimal { .. }
                ) && items_have_special_numeric(text)
                {
                    return Ok(Value::Null);
                }
                Value::Array(values)
            }
        };
        Ok(value)
    }
}

/// A date as Debezium reads it through JDBC (see [`ValueParser::parse_snapshot`]).
fn jdbc_date(text: &str, iso: bool) -> Result<Value, String> {
    let ad = text.strip_suffix(" BC").unwrap_or(text);
    let days = match parse_date(ad)? {
        Special::Value(days) => i32::try_from(days).map_err(|_| "date out of range")?,
        // pgjdbc's infinity constants as `LocalDate`s (the epoch days above are their
        // overflowed `int` casts).
        Special::PosInfinity if iso => return Ok(Value::String("+292278994-08-16Z".into())),
        Special::NegInfinity if iso => return Ok(Value::String("+292269055-12-02Z".into())),
        Special::PosInfinity => JDBC_DATE_POSITIVE_INFINITY,
        Special::NegInfinity => JDBC_DATE_NEGATIVE_INFINITY,
    };
    Ok(date(days, iso))
}

/// A date as days since the epoch, or as `IsoDate` text.
fn date(days: i32, iso: bool) -> Value {
    if iso {
        Value::String(format_iso_date(i64::from(days)))
    } else {
        Value::Int32(days)
    }
}

/// The text of a geometric value with each number written as Java's `Double.toString`
/// writes it (`1` → `1.0`, `1e-05` → `1.0E-5`), as pgjdbc's `PGbox`, `PGcircle`… do.
fn java_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut number = String::new();
    let flush = |number: &mut String, out: &mut String| {
        if !number.is_empty() {
            match number.parse::<f64>() {
                Ok(f) => out.push_str(&java_double(f)),
                Err(_) => out.push_str(number),
            }
            number.clear();
        }
    };
    for c in text.chars() {
        let continues = c.is_ascii_digit()
            || c == '.'
            || ((c == 'e' || c == 'E') && !number.is_empty())
            || ((c == '-' || c == '+') && (number.is_empty() || number.ends_with(['e', 'E'])));
        if continues {
            number.push(c);
        } else {
            flush(&mut number, &mut out);
            out.push(c);
        }
    }
    flush(&mut number, &mut out);
    out
}

/// Java's `Double.toString`: plain between 10^-3 and 10^7, otherwise `d.dddE±n`; always
/// with a fraction digit.
pub(crate) fn java_double(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let a = f.abs();
    if a == 0.0 || (1e-3..1e7).contains(&a) {
        let s = format!("{f}");
        if s.contains('.') { s } else { format!("{s}.0") }
    } else {
        let s = format!("{f:e}");
        let (mantissa, exp) = s.split_once('e').expect("exponent form");
        let mantissa = if mantissa.contains('.') {
            mantissa.to_string()
        } else {
            format!("{mantissa}.0")
        };
        format!("{mantissa}E{exp}")
    }
}

/// Whether a decimal array's text has a NaN or infinite element.
fn items_have_special_numeric(text: &str) -> bool {
    text.trim_matches(|c| c == '{' || c == '}')
        .split(',')
        .any(|item| matches!(item.trim(), "NaN" | "Infinity" | "-Infinity"))
}

/// Bytes as `binary.handling.mode` writes them.
pub(crate) fn binary(bytes: Vec<u8>, mode: BinaryHandling) -> Value {
    match mode {
        BinaryHandling::Bytes => Value::Bytes(bytes),
        BinaryHandling::Base64 => Value::String(encode_base64(&bytes, false)),
        BinaryHandling::Base64UrlSafe => Value::String(encode_base64(&bytes, true)),
        BinaryHandling::Hex => Value::String(encode_hex(&bytes)),
    }
}

/// `numeric(p,s)`. Debezium rescales to the column's scale (`setScale`), then writes the
/// unscaled bytes, a double, or `BigDecimal.toString()`. Special values cannot be written
/// as a `Decimal` (Debezium fails the connector); we write NULL instead. In string mode
/// they are Debezium's `NAN`, `POSITIVE_INFINITY`, `NEGATIVE_INFINITY`.
fn fixed_decimal(number: Numeric, scale: i32, mode: DecimalHandling) -> Result<Value, String> {
    Ok(match number {
        Numeric::Finite(d) => {
            let d = d.with_scale(i64::from(scale))?;
            match mode {
                DecimalHandling::Precise => Value::Bytes(d.unscaled_bytes()),
                DecimalHandling::Double => Value::Float64(d.to_f64()),
                DecimalHandling::String => Value::String(d.to_java_string()),
            }
        }
        special => special_decimal(&special, mode),
    })
}

/// `numeric` without precision: `io.debezium.data.VariableScaleDecimal` `{scale, value}`
/// after `stripTrailingZeros()` in precise mode.
fn variable_decimal(number: Numeric, mode: DecimalHandling) -> Result<Value, String> {
    Ok(match number {
        Numeric::Finite(d) => match mode {
            DecimalHandling::Precise => {
                let d: Decimal = d.normalized();
                Value::Struct(vec![
                    Value::Int32(d.scale_i32()?),
                    Value::Bytes(d.unscaled_bytes()),
                ])
            }
            DecimalHandling::Double => Value::Float64(d.to_f64()),
            DecimalHandling::String => Value::String(d.to_java_string()),
        },
        special => special_decimal(&special, mode),
    })
}

fn special_decimal(number: &Numeric, mode: DecimalHandling) -> Value {
    let (double, name) = match number {
        Numeric::NaN => (f64::NAN, "NAN"),
        Numeric::PosInfinity => (f64::INFINITY, "POSITIVE_INFINITY"),
        Numeric::NegInfinity => (f64::NEG_INFINITY, "NEGATIVE_INFINITY"),
        Numeric::Finite(_) => return Value::Null,
    };
    match mode {
        DecimalHandling::Precise => Value::Null,
        DecimalHandling::Double => Value::Float64(double),
        DecimalHandling::String => Value::String(name.to_string()),
    }
}
