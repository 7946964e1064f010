//! [`ValueParser`]: one column's text-to-value conversion, chosen once per column.
//!
//! The parser is a plain enum matched per value: no trait objects, no lookups, no
//! allocation beyond the value itself on the hot path. It is built by
//! [`super::map_column`] together with the schema it must agree with.

use tributary_core::Value;

use super::array::split_array;
use super::binary::{bit_to_bool, bits_to_bytes, decode_bytea, encode_base64, encode_hex};
use super::error::TypeError;
use super::modes::{BinaryHandling, DecimalHandling, IntervalHandling};
use super::numeric::{Decimal, Numeric, parse_money, parse_numeric};
use super::temporal::{
    Special, format_timetz, format_zoned_timestamp, parse_date, parse_interval, parse_time,
    parse_timestamp,
};

/// `date 'infinity'` and `'-infinity'` as Debezium emits them. Debezium's
/// `PostgresValueConverter` turns the text into the `LocalDate`s `-5877611-06-21` and
/// `-5877611-06-22` and writes their epoch days, so positive infinity is a large
/// *negative* number that sorts before negative infinity. We copy that rather than pick
/// `i32::MAX`/`i32::MIN`, so consumers see exactly what Debezium writes.
pub(crate) const DATE_POSITIVE_INFINITY: i32 = -2_147_472_692;
pub(crate) const DATE_NEGATIVE_INFINITY: i32 = -2_147_472_691;

/// `timestamp 'infinity'` and `'-infinity'`: Debezium documents pgjdbc's
/// `PGStatement.DATE_POSITIVE_INFINITY` / `DATE_NEGATIVE_INFINITY`, read as microseconds.
/// The millisecond types (`Timestamp`, Connect's `Timestamp`) get the same instant in ms.
pub(crate) const TIMESTAMP_POSITIVE_INFINITY_MICROS: i64 = 9_223_372_036_825_200_000;
pub(crate) const TIMESTAMP_NEGATIVE_INFINITY_MICROS: i64 = -9_223_372_036_832_400_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeUnit {
    Millis,
    Micros,
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
    /// Days since the epoch (both Debezium's and Connect's date).
    Date,
    Time(TimeUnit),
    Timestamp(TimeUnit),
    /// `ZonedTimestamp` with the fraction padded to `width` digits (0: trimmed).
    TimestampTz {
        width: u8,
    },
    TimeTz,
    Interval(IntervalHandling),
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
            Kind::Date => "date",
            Kind::Time(_) => "time",
            Kind::Timestamp(_) => "timestamp",
            Kind::TimestampTz { .. } => "timestamptz",
            Kind::TimeTz => "timetz",
            Kind::Interval(_) => "interval",
            Kind::Array(_) => "array",
        }
    }

    /// Parses the text form of a non-NULL value.
    pub fn parse(&self, text: &str) -> Result<Value, TypeError> {
        self.parse_inner(text)
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
            Kind::Bytea(mode) => {
                let bytes = decode_bytea(text)?;
                match mode {
                    BinaryHandling::Bytes => Value::Bytes(bytes),
                    BinaryHandling::Base64 => Value::String(encode_base64(&bytes, false)),
                    BinaryHandling::Base64UrlSafe => Value::String(encode_base64(&bytes, true)),
                    BinaryHandling::Hex => Value::String(encode_hex(&bytes)),
                }
            }
            Kind::Date => Value::Int32(match parse_date(text)? {
                Special::Value(days) => i32::try_from(days).map_err(|_| "date out of range")?,
                Special::PosInfinity => DATE_POSITIVE_INFINITY,
                Special::NegInfinity => DATE_NEGATIVE_INFINITY,
            }),
            Kind::Time(TimeUnit::Millis) => Value::Int32((parse_time(text)? / 1000) as i32),
            Kind::Time(TimeUnit::Micros) => Value::Int64(parse_time(text)?),
            Kind::Timestamp(unit) => {
                let micros = match parse_timestamp(text, false)? {
                    Special::Value(micros) => micros,
                    Special::PosInfinity => TIMESTAMP_POSITIVE_INFINITY_MICROS,
                    Special::NegInfinity => TIMESTAMP_NEGATIVE_INFINITY_MICROS,
                };
                Value::Int64(match unit {
                    TimeUnit::Millis => micros.div_euclid(1000),
                    TimeUnit::Micros => micros,
                })
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
                    values.push(match item {
                        None => Value::Null,
                        Some(item) => element.parse_inner(&item).map_err(|reason| {
                            format!("element {} ({}): {reason}", index + 1, element.type_name())
                        })?,
                    });
                }
                Value::Array(values)
            }
        };
        Ok(value)
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
