//! Debezium's PostgreSQL type mapping: which Kafka Connect schema a column gets.
//!
//! [`map_column`] resolves domains to their base type, arrays to their element type, and
//! picks the schema (type, semantic name, version, parameters) and the matching
//! [`ValueParser`] in one place, so the two cannot disagree. Types Debezium has no mapping
//! for get `unknown` set, with the schema `include.unknown.datatypes` gives them; the
//! caller leaves them out unless that property is on.
//!
//! Type modifiers are decoded as Postgres stores them: `numeric` packs precision and scale
//! as `((p << 16) | (s & 0x7ff)) + 4` (scale may be negative since Postgres 15); time types
//! store their fractional precision directly, -1 meaning the default 6; `bit`/`varbit`
//! store their length, -1 meaning unbounded (Debezium then writes `length` = 2^31 - 1).

use tributary_core::{Field, Schema, SchemaType, Value};

use super::builtin::oid;
use super::modes::{
    BinaryHandling, DecimalHandling, HstoreHandling, IntervalHandling, TimePrecision, TypeModes,
};
use super::parser::{Kind, TimeUnit, ValueParser};
use super::registry::{PgTypeKind, TypeRegistry};

/// How one column is represented: its Connect schema and a parser for its text form.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnMapping {
    pub schema: Schema,
    pub parser: ValueParser,
    /// True when the type had no mapping and passes as text.
    pub unknown: bool,
}

/// Domains over domains over arrays… stop somewhere in case of a catalog cycle.
const MAX_DEPTH: u32 = 16;

/// The schema and parser of a column of type `type_oid` with type modifier `typmod`.
pub fn map_column(
    registry: &TypeRegistry,
    type_oid: u32,
    typmod: i32,
    optional: bool,
    modes: &TypeModes,
) -> ColumnMapping {
    match resolve(registry, type_oid, typmod, modes, 0) {
        Some((mut schema, kind)) => {
            schema.optional = optional;
            ColumnMapping {
                schema,
                parser: ValueParser::new(kind),
                unknown: false,
            }
        }
        // Debezium leaves the column out, or with `include.unknown.datatypes` writes the
        // bytes of its text as `binary.handling.mode` says.
        None => {
            let mut schema = match modes.binary {
                BinaryHandling::Bytes => Schema::bytes(),
                _ => Schema::string(),
            };
            schema.optional = optional;
            // pgjdbc hands Debezium the geometric types as objects whose text writes every
            // coordinate as a Java double.
            let geometric = matches!(type_oid, 601 | 602 | 603 | 604 | 628 | 718);
            ColumnMapping {
                schema,
                parser: ValueParser::new(Kind::UnknownBytes {
                    mode: modes.binary,
                    geometric,
                }),
                unknown: true,
            }
        }
    }
}

fn resolve(
    registry: &TypeRegistry,
    type_oid: u32,
    typmod: i32,
    modes: &TypeModes,
    depth: u32,
) -> Option<(Schema, Kind)> {
    if depth > MAX_DEPTH {
        return None;
    }
    let ty = registry.get(type_oid)?;
    match &ty.kind {
        PgTypeKind::Domain { base, base_typmod } => {
            let typmod = if *base_typmod >= 0 {
                *base_typmod
            } else {
                typmod
            };
            resolve(registry, *base, typmod, modes, depth + 1)
        }
        PgTypeKind::Enum { labels } => Some((
            Schema::string()
                .named("io.debezium.data.Enum")
                .versioned(1)
                .param("allowed", labels.join(",")),
            Kind::Text,
        )),
        // Arrays Debezium has no schema for (money, name, interval, varbit, xml, point,
        // refcursor): it leaves such columns out.
        PgTypeKind::Array { element }
            if [790, 19, 1186, 1562, 142, 600, 1790].contains(element) =>
        {
            None
        }
        PgTypeKind::Array { element } => {
            // The array column's type modifier is its elements' (numeric(10,2)[]).
            let (item, kind) = resolve(registry, *element, typmod, modes, depth + 1)?;
            if matches!(kind, Kind::Array(_)) {
                // An array of a domain over an array: nothing Connect can describe.
                return None;
            }
            // Debezium's enum arrays have required items; all others optional ones.
            let enum_items = matches!(
                registry.get(*element).map(|t| &t.kind),
                Some(PgTypeKind::Enum { .. })
            );
            let item = if enum_items { item } else { item.optional() };
            Some((
                Schema::array(item),
                Kind::Array(Box::new(ValueParser::new(kind))),
            ))
        }
        PgTypeKind::Base | PgTypeKind::Range if type_oid < oid::FIRST_NORMAL_OBJECT_ID => {
            builtin(type_oid, typmod, modes)
        }
        // Extension types Debezium recognises by name, wherever the extension lives.
        PgTypeKind::Base => match ty.name.as_str() {
            "citext" => Some((Schema::string(), Kind::Text)),
            "ltree" => Some((named_string("io.debezium.data.Ltree"), Kind::Text)),
            "hstore" => Some(hstore(modes.hstore)),
            "geometry" => Some((postgis_schema("Geometry"), Kind::Postgis)),
            "geography" => Some((postgis_schema("Geography"), Kind::Postgis)),
            "vector" => Some((
                Schema::array(Schema::float64())
                    .named("io.debezium.data.DoubleVector")
                    .versioned(1),
                Kind::Vector { half: false },
            )),
            "halfvec" => Some((
                Schema::array(Schema::float32())
                    .named("io.debezium.data.FloatVector")
                    .versioned(1),
                Kind::Vector { half: true },
            )),
            "sparsevec" => Some((sparse_vector_schema(), Kind::SparseVector)),
            _ => None,
        },
        _ => None,
    }
}

/// `hstore`: Debezium's `io.debezium.data.Json` text, or a map of optional strings.
fn hstore(mode: HstoreHandling) -> (Schema, Kind) {
    let schema = match mode {
        HstoreHandling::Json => named_string("io.debezium.data.Json"),
        HstoreHandling::Map => Schema::map(Schema::string(), Schema::string().optional()),
    };
    (schema, Kind::Hstore(mode))
}

/// `io.debezium.data.geometry.Geometry` / `Geography`: `{wkb, srid}`.
fn postgis_schema(what: &str) -> Schema {
    let mut schema = Schema::structure(
        format!("io.debezium.data.geometry.{what}"),
        vec![
            Field::new("wkb", Schema::bytes()),
            Field::new("srid", Schema::int32().optional()),
        ],
    )
    .versioned(1);
    schema.doc = Some(what.to_string());
    schema
}

/// `io.debezium.data.SparseDoubleVector`: `{dimensions, vector}`, a map of index to value.
fn sparse_vector_schema() -> Schema {
    let mut schema = Schema::structure(
        "io.debezium.data.SparseDoubleVector",
        vec![
            Field::new("dimensions", Schema::int16()),
            Field::new("vector", Schema::map(Schema::int16(), Schema::float64())),
        ],
    )
    .versioned(1);
    schema.doc = Some("Sparse double vector".to_string());
    schema
}

fn named_string(name: &str) -> Schema {
    Schema::string().named(name).versioned(1)
}

fn builtin(type_oid: u32, typmod: i32, modes: &TypeModes) -> Option<(Schema, Kind)> {
    let mapped = match type_oid {
        oid::BOOL => (Schema::boolean(), Kind::Bool),
        oid::INT2 => (Schema::int16(), Kind::Int16),
        oid::INT4 => (Schema::int32(), Kind::Int32),
        oid::INT8 => (Schema::int64(), Kind::Int64),
        oid::OID => (Schema::int64(), Kind::Oid),
        oid::FLOAT4 => (Schema::float32(), Kind::Float32),
        oid::FLOAT8 => (Schema::float64(), Kind::Float64),
        // Debezium maps the six built-in range types to plain strings too.
        oid::CHAR
        | oid::NAME
        | oid::TEXT
        | oid::BPCHAR
        | oid::VARCHAR
        | oid::CIDR
        | oid::INET
        | oid::MACADDR
        | oid::MACADDR8
        | oid::INT4RANGE
        | oid::NUMRANGE
        | oid::TSRANGE
        | oid::TSTZRANGE
        | oid::DATERANGE
        | oid::INT8RANGE => (Schema::string(), Kind::Text),
        oid::UUID => (named_string("io.debezium.data.Uuid"), Kind::Text),
        oid::JSON | oid::JSONB => (named_string("io.debezium.data.Json"), Kind::Text),
        oid::XML => (named_string("io.debezium.data.Xml"), Kind::Text),
        oid::TSVECTOR => (named_string("io.debezium.data.Tsvector"), Kind::Text),
        oid::POINT => {
            let mut schema = Schema::structure(
                "io.debezium.data.geometry.Point",
                vec![
                    Field::new("x", Schema::float64()),
                    Field::new("y", Schema::float64()),
                    Field::new("wkb", Schema::bytes().optional()),
                    Field::new("srid", Schema::int32().optional()),
                ],
            )
            .versioned(1);
            schema.doc = Some("Geometry (POINT)".to_string());
            (schema, Kind::Point)
        }
        oid::BYTEA => match modes.binary {
            BinaryHandling::Bytes => (Schema::bytes(), Kind::Bytea(modes.binary)),
            _ => (Schema::string(), Kind::Bytea(modes.binary)),
        },
        oid::NUMERIC => numeric(typmod, modes.decimal),
        oid::MONEY => {
            let kind = Kind::Money {
                scale: modes.money_fraction_digits,
                mode: modes.decimal,
            };
            // Debezium's money schema is Decimal.builder(scale): no precision parameter.
            match modes.decimal {
                DecimalHandling::Precise => {
                    (decimal_schema(modes.money_fraction_digits as i64), kind)
                }
                DecimalHandling::Double => (Schema::float64(), kind),
                DecimalHandling::String => (Schema::string(), kind),
            }
        }
        oid::DATE => match modes.time {
            TimePrecision::Connect => (
                connect_logical(Schema::int32(), "Date"),
                Kind::Date { iso: false },
            ),
            TimePrecision::Isostring => (
                debezium_time(Schema::string(), "IsoDate"),
                Kind::Date { iso: true },
            ),
            _ => (
                debezium_time(Schema::int32(), "Date"),
                Kind::Date { iso: false },
            ),
        },
        oid::TIME => match time_unit(modes.time, typmod, false) {
            None => (
                connect_logical(Schema::int32(), "Time"),
                Kind::Time(TimeUnit::Millis),
            ),
            Some(unit) => (time_schema(unit, "Time"), Kind::Time(unit)),
        },
        oid::TIMESTAMP => match time_unit(modes.time, typmod, true) {
            None => (
                connect_logical(Schema::int64(), "Timestamp"),
                Kind::Timestamp(TimeUnit::Millis),
            ),
            Some(unit) => (time_schema(unit, "Timestamp"), Kind::Timestamp(unit)),
        },
        oid::TIMESTAMPTZ => (
            debezium_time(Schema::string(), "ZonedTimestamp"),
            Kind::TimestampTz {
                width: time_precision(typmod).clamp(0, 6) as u8,
            },
        ),
        oid::TIMETZ => (debezium_time(Schema::string(), "ZonedTime"), Kind::TimeTz),
        oid::INTERVAL => match modes.interval {
            IntervalHandling::Numeric => (
                debezium_time(Schema::int64(), "MicroDuration"),
                Kind::Interval(modes.interval),
            ),
            IntervalHandling::String => (
                debezium_time(Schema::string(), "Interval"),
                Kind::Interval(modes.interval),
            ),
        },
        oid::BIT | oid::VARBIT => {
            let length = if typmod < 0 { i32::MAX } else { typmod };
            if length == 1 {
                (Schema::boolean(), Kind::BitBool)
            } else {
                let schema = Schema::bytes()
                    .named("io.debezium.data.Bits")
                    .versioned(1)
                    .param("length", length.to_string());
                (schema, Kind::Bits)
            }
        }
        _ => return None,
    };
    Some(mapped)
}

/// `numeric(p,s)` → `Decimal` with scale and `connect.decimal.precision`; plain `numeric`
/// → `VariableScaleDecimal` (precise mode only; the other modes need no scale).
fn numeric(typmod: i32, mode: DecimalHandling) -> (Schema, Kind) {
    match numeric_typmod(typmod) {
        None => {
            let schema = match mode {
                DecimalHandling::Precise => {
                    let mut schema = Schema::structure(
                        "io.debezium.data.VariableScaleDecimal",
                        vec![
                            Field::new("scale", Schema::int32()),
                            Field::new("value", Schema::bytes()),
                        ],
                    )
                    .versioned(1);
                    schema.doc = Some("Variable scaled decimal".to_string());
                    schema
                }
                DecimalHandling::Double => Schema::float64(),
                DecimalHandling::String => Schema::string(),
            };
            (schema, Kind::VariableDecimal(mode))
        }
        Some((precision, scale)) => {
            let schema = match mode {
                DecimalHandling::Precise => decimal_schema(i64::from(scale))
                    .param("connect.decimal.precision", precision.to_string()),
                DecimalHandling::Double => Schema::float64(),
                DecimalHandling::String => Schema::string(),
            };
            (schema, Kind::Decimal { scale, mode })
        }
    }
}

/// Precision and scale of a `numeric` type modifier, `None` for an unconstrained numeric.
fn numeric_typmod(typmod: i32) -> Option<(i32, i32)> {
    if typmod < 4 {
        return None;
    }
    let packed = typmod - 4;
    let precision = (packed >> 16) & 0xffff;
    // The scale is an 11-bit two's complement number (negative scales since Postgres 15).
    let scale = ((packed & 0x7ff) ^ 1024) - 1024;
    Some((precision, scale))
}

/// Fractional-second digits of a time type modifier (-1 means the default, 6).
fn time_precision(typmod: i32) -> i32 {
    if typmod < 0 { 6 } else { typmod }
}

fn decimal_schema(scale: i64) -> Schema {
    Schema::bytes()
        .named("org.apache.kafka.connect.data.Decimal")
        .versioned(1)
        .param("scale", scale.to_string())
}

fn connect_logical(base: Schema, name: &str) -> Schema {
    base.named(format!("org.apache.kafka.connect.data.{name}"))
        .versioned(1)
}

/// The unit of a `time` or `timestamp` column under `time.precision.mode`, as Debezium's
/// `TemporalPrecisionMode` picks it; `None` for Connect's own logical types.
fn time_unit(mode: TimePrecision, typmod: i32, timestamp: bool) -> Option<TimeUnit> {
    let millis = time_precision(typmod) <= 3;
    Some(match mode {
        TimePrecision::Connect => return None,
        TimePrecision::Adaptive if millis => TimeUnit::Millis,
        TimePrecision::AdaptiveTimeMicroseconds if millis && timestamp => TimeUnit::Millis,
        TimePrecision::Adaptive
        | TimePrecision::AdaptiveTimeMicroseconds
        | TimePrecision::Microseconds => TimeUnit::Micros,
        TimePrecision::Nanoseconds => TimeUnit::Nanos,
        TimePrecision::Isostring => TimeUnit::Iso,
    })
}

/// Debezium's semantic type of a `time` (`what` = `Time`) or `timestamp` (`Timestamp`)
/// in `unit`: `io.debezium.time.Time`, `MicroTime`, `NanoTime`, `IsoTime`, ….
fn time_schema(unit: TimeUnit, what: &str) -> Schema {
    match unit {
        TimeUnit::Millis if what == "Time" => debezium_time(Schema::int32(), what),
        TimeUnit::Millis => debezium_time(Schema::int64(), what),
        TimeUnit::Micros => debezium_time(Schema::int64(), &format!("Micro{what}")),
        TimeUnit::Nanos => debezium_time(Schema::int64(), &format!("Nano{what}")),
        TimeUnit::Iso => debezium_time(Schema::string(), &format!("Iso{what}")),
    }
}

fn debezium_time(base: Schema, name: &str) -> Schema {
    base.named(format!("io.debezium.time.{name}")).versioned(1)
}

/// Debezium's value for an unchanged TOASTed column (`unavailable.value.placeholder`).
///
/// Text-valued columns get the placeholder text, `bytea` its bytes (a `hex:` prefix means
/// the rest is hexadecimal for the bytes, and the text is then those bytes read as UTF-8,
/// as Debezium's `new String(bytes)` does), arrays of text `[placeholder]`, arrays of
/// `bytea` `[bytes]`, and arrays of plain integers one element per placeholder byte (as
/// Debezium's `UnchangedToastedPlaceholder`). Everything else is NULL.
pub fn unavailable_value(schema: &Schema, placeholder: &str) -> Value {
    let bytes = tributary_core::unavailable::placeholder_bytes(placeholder);
    let text = || String::from_utf8_lossy(&bytes).into_owned();
    match &schema.ty {
        SchemaType::String => Value::String(text()),
        SchemaType::Bytes if schema.name.is_none() => Value::Bytes(bytes.clone()),
        SchemaType::Array(item) => {
            let plain = item.name.is_none();
            let signed = || bytes.iter().map(|b| *b as i8);
            match &item.ty {
                SchemaType::String => Value::Array(vec![Value::String(text())]),
                SchemaType::Bytes if plain => Value::Array(vec![Value::Bytes(bytes.clone())]),
                SchemaType::Int16 if plain => {
                    Value::Array(signed().map(|b| Value::Int16(b.into())).collect())
                }
                SchemaType::Int32 if plain => {
                    Value::Array(signed().map(|b| Value::Int32(b.into())).collect())
                }
                SchemaType::Int64 if plain => {
                    Value::Array(signed().map(|b| Value::Int64(b.into())).collect())
                }
                _ => Value::Null,
            }
        }
        _ => Value::Null,
    }
}
