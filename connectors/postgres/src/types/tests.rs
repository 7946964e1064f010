//! Unit tests: modes, errors, the scalar, decimal, binary and string type families, and
//! TOAST placeholders.
//!
//! Expected values come from Debezium's own test suite where it has them (for example
//! `NAN` in string mode, `1.10` for `numeric(3,2)`), otherwise from Java's documented
//! `BigDecimal`/`BigInteger` behaviour.

use num_bigint::BigInt;
use tributary_core::{SchemaType, Value};

use super::numeric::{Numeric, minimal_i128_bytes, parse_numeric};
use super::oid;
use super::*;

pub(super) fn modes() -> TypeModes {
    TypeModes::default()
}

pub(super) fn map(type_oid: u32, typmod: i32, modes: &TypeModes) -> ColumnMapping {
    map_column(&TypeRegistry::new(), type_oid, typmod, true, modes)
}

pub(super) fn parse(type_oid: u32, typmod: i32, modes: &TypeModes, text: &str) -> Value {
    let mapping = map(type_oid, typmod, modes);
    mapping
        .parser
        .parse(text)
        .unwrap_or_else(|e| panic!("{text:?} did not parse: {e}"))
}

/// The typmod Postgres stores for `numeric(p,s)`.
pub(super) fn numeric_typmod(precision: i32, scale: i32) -> i32 {
    ((precision << 16) | (scale & 0x7ff)) + 4
}

fn unscaled(value: &Value) -> BigInt {
    match value {
        Value::Bytes(b) => BigInt::from_signed_bytes_be(b),
        other => panic!("expected bytes, got {other:?}"),
    }
}

fn with_decimal(decimal: DecimalHandling) -> TypeModes {
    TypeModes { decimal, ..modes() }
}

#[test]
fn modes_parse_debezium_property_values_and_default_like_debezium() {
    assert_eq!("precise".parse(), Ok(DecimalHandling::Precise));
    assert_eq!(" Double ".parse(), Ok(DecimalHandling::Double));
    assert_eq!("string".parse(), Ok(DecimalHandling::String));
    assert_eq!("adaptive".parse(), Ok(TimePrecision::Adaptive));
    assert_eq!(
        "adaptive_time_microseconds".parse(),
        Ok(TimePrecision::AdaptiveTimeMicroseconds)
    );
    assert_eq!("connect".parse(), Ok(TimePrecision::Connect));
    assert_eq!("numeric".parse(), Ok(IntervalHandling::Numeric));
    assert_eq!("STRING".parse(), Ok(IntervalHandling::String));
    assert_eq!("bytes".parse(), Ok(BinaryHandling::Bytes));
    assert_eq!("base64".parse(), Ok(BinaryHandling::Base64));
    assert_eq!("base64-url-safe".parse(), Ok(BinaryHandling::Base64UrlSafe));
    assert_eq!("hex".parse(), Ok(BinaryHandling::Hex));
    let err = "exact".parse::<DecimalHandling>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid value \"exact\" for decimal.handling.mode; allowed values are: precise, double, string"
    );
    let defaults = TypeModes::default();
    assert_eq!(defaults.decimal, DecimalHandling::Precise);
    assert_eq!(defaults.time, TimePrecision::Adaptive);
    assert_eq!(defaults.interval, IntervalHandling::Numeric);
    assert_eq!(defaults.binary, BinaryHandling::Bytes);
    assert_eq!(defaults.money_fraction_digits, 2);
    assert_eq!(
        TimePrecision::AdaptiveTimeMicroseconds.to_string(),
        "adaptive_time_microseconds"
    );
}

#[test]
fn errors_name_the_type_and_show_the_text_cut_short() {
    let long = format!("{}x", "9".repeat(100));
    let err = map(oid::INT4, -1, &modes())
        .parser
        .parse(&long)
        .unwrap_err();
    assert_eq!(err.type_name(), "integer");
    assert_eq!(err.text().chars().count(), 65);
    assert!(err.text().ends_with('…'));
    assert!(err.to_string().starts_with("invalid integer value \"9999"));
    use tributary_core::Retry;
    assert!(!err.is_transient());
}

#[test]
fn booleans_integers_and_oids_parse() {
    let m = modes();
    assert_eq!(parse(oid::BOOL, -1, &m, "t"), Value::Boolean(true));
    assert_eq!(parse(oid::BOOL, -1, &m, "f"), Value::Boolean(false));
    assert_eq!(parse(oid::INT2, -1, &m, "-32768"), Value::Int16(i16::MIN));
    assert_eq!(
        parse(oid::INT4, -1, &m, "2147483647"),
        Value::Int32(i32::MAX)
    );
    assert_eq!(
        parse(oid::INT8, -1, &m, "-9223372036854775808"),
        Value::Int64(i64::MIN)
    );
    assert_eq!(
        parse(oid::OID, -1, &m, "4000000000"),
        Value::Int64(4_000_000_000)
    );
    assert_eq!(map(oid::OID, -1, &m).schema.ty, SchemaType::Int64);
    assert!(map(oid::INT2, -1, &m).parser.parse("32768").is_err());
    assert!(map(oid::BOOL, -1, &m).parser.parse("maybe").is_err());
}

#[test]
fn floats_parse_special_values_and_full_precision() {
    let m = modes();
    assert_eq!(
        parse(oid::FLOAT4, -1, &m, "1.10000002"),
        Value::Float32(1.1)
    );
    assert_eq!(
        parse(oid::FLOAT8, -1, &m, "-Infinity"),
        Value::Float64(f64::NEG_INFINITY)
    );
    assert_eq!(
        parse(oid::FLOAT4, -1, &m, "Infinity"),
        Value::Float32(f32::INFINITY)
    );
    assert!(matches!(parse(oid::FLOAT8, -1, &m, "NaN"), Value::Float64(v) if v.is_nan()));
    assert_eq!(
        parse(oid::FLOAT8, -1, &m, "0.30000000000000004"),
        Value::Float64(0.1 + 0.2)
    );
    assert_eq!(map(oid::FLOAT4, -1, &m).schema.ty, SchemaType::Float32);
}

#[test]
fn fixed_numeric_is_a_connect_decimal_with_scale_and_precision() {
    let mapping = map(oid::NUMERIC, numeric_typmod(10, 3), &modes());
    let schema = &mapping.schema;
    assert_eq!(schema.ty, SchemaType::Bytes);
    assert_eq!(
        schema.name.as_deref(),
        Some("org.apache.kafka.connect.data.Decimal")
    );
    assert_eq!(schema.version, Some(1));
    assert_eq!(schema.parameters["scale"], "3");
    assert_eq!(schema.parameters["connect.decimal.precision"], "10");
    assert!(schema.optional);
    let p = &mapping.parser;
    assert_eq!(p.parse("-0.001").unwrap(), Value::Bytes(vec![0xff]));
    assert_eq!(p.parse("0.000").unwrap(), Value::Bytes(vec![0x00]));
    // numeric(3,2) '1.1' arrives as "1.10"; a shorter fraction is padded to the scale.
    assert_eq!(p.parse("1.5").unwrap(), Value::Bytes(vec![0x05, 0xdc]));
    assert_eq!(
        p.parse("128").unwrap(),
        Value::Bytes(vec![0x01, 0xf4, 0x00])
    );
    assert_eq!(p.parse("NaN").unwrap(), Value::Null);
    assert_eq!(p.parse("Infinity").unwrap(), Value::Null);
    assert!(p.parse("1.2.3").is_err());
}

#[test]
fn huge_and_negative_numerics_keep_every_digit() {
    let big = map(oid::NUMERIC, numeric_typmod(39, 9), &modes()).parser;
    let value = big
        .parse("123456789012345678901234567890.123456789")
        .unwrap();
    let expected: BigInt = "123456789012345678901234567890123456789".parse().unwrap();
    assert_eq!(unscaled(&value), expected);
    let value = big
        .parse("-999999999999999999999999999999.999999999")
        .unwrap();
    let expected: BigInt = "-999999999999999999999999999999999999999".parse().unwrap();
    assert_eq!(unscaled(&value), expected);
    let value = map(oid::NUMERIC, numeric_typmod(60, 0), &modes())
        .parser
        .parse("-170141183460469231731687303715884105729")
        .unwrap();
    assert_eq!(
        unscaled(&value),
        "-170141183460469231731687303715884105729"
            .parse::<BigInt>()
            .unwrap()
    );
}

#[test]
fn numeric_without_precision_is_a_variable_scale_decimal_with_trailing_zeros_stripped() {
    let mapping = map(oid::NUMERIC, -1, &modes());
    assert_eq!(
        mapping.schema.name.as_deref(),
        Some("io.debezium.data.VariableScaleDecimal")
    );
    assert_eq!(
        mapping.schema.doc.as_deref(),
        Some("Variable scaled decimal")
    );
    assert_eq!(mapping.schema.version, Some(1));
    let fields = mapping.schema.fields();
    assert_eq!(
        (fields[0].name.as_str(), &fields[0].schema.ty),
        ("scale", &SchemaType::Int32)
    );
    assert_eq!(
        (fields[1].name.as_str(), &fields[1].schema.ty),
        ("value", &SchemaType::Bytes)
    );
    assert!(!fields[0].schema.optional && !fields[1].schema.optional);
    let p = &mapping.parser;
    let vsd =
        |scale: i32, value: Vec<u8>| Value::Struct(vec![Value::Int32(scale), Value::Bytes(value)]);
    assert_eq!(p.parse("10.1111").unwrap(), vsd(4, vec![0x01, 0x8a, 0xf7]));
    assert_eq!(p.parse("10.0000").unwrap(), vsd(0, vec![10]));
    assert_eq!(p.parse("100").unwrap(), vsd(0, vec![100]));
    assert_eq!(p.parse("0.000").unwrap(), vsd(0, vec![0]));
    assert_eq!(p.parse("-0.001").unwrap(), vsd(3, vec![0xff]));
    assert_eq!(p.parse("NaN").unwrap(), Value::Null);
}

#[test]
fn decimal_string_mode_writes_java_big_decimal_text() {
    let m = with_decimal(DecimalHandling::String);
    assert_eq!(map(oid::NUMERIC, -1, &m).schema.ty, SchemaType::String);
    assert_eq!(
        parse(oid::NUMERIC, numeric_typmod(3, 2), &m, "1.1"),
        Value::String("1.10".into())
    );
    assert_eq!(
        parse(oid::NUMERIC, numeric_typmod(20, 10), &m, "0.0000000000"),
        Value::String("0E-10".into())
    );
    assert_eq!(
        parse(oid::NUMERIC, -1, &m, "0.0000001"),
        Value::String("1E-7".into())
    );
    assert_eq!(
        parse(oid::NUMERIC, -1, &m, "0.000001"),
        Value::String("0.000001".into())
    );
    assert_eq!(
        parse(oid::NUMERIC, -1, &m, "-0.00000012"),
        Value::String("-1.2E-7".into())
    );
    assert_eq!(
        parse(oid::NUMERIC, -1, &m, "10"),
        Value::String("10".into())
    );
    assert_eq!(
        parse(oid::NUMERIC, -1, &m, "NaN"),
        Value::String("NAN".into())
    );
    assert_eq!(
        parse(oid::NUMERIC, -1, &m, "Infinity"),
        Value::String("POSITIVE_INFINITY".into())
    );
    assert_eq!(
        parse(oid::NUMERIC, -1, &m, "-Infinity"),
        Value::String("NEGATIVE_INFINITY".into())
    );
    let Ok(Numeric::Finite(thousand)) = parse_numeric("1e3") else {
        panic!()
    };
    assert_eq!(
        (thousand.to_java_string(), thousand.scale()),
        ("1E+3".to_string(), -3)
    );
}

#[test]
fn decimal_double_mode_writes_floats_including_special_values() {
    let m = with_decimal(DecimalHandling::Double);
    assert_eq!(
        map(oid::NUMERIC, numeric_typmod(5, 2), &m).schema.ty,
        SchemaType::Float64
    );
    assert_eq!(
        parse(oid::NUMERIC, numeric_typmod(5, 2), &m, "22.22"),
        Value::Float64(22.22)
    );
    assert_eq!(
        parse(oid::NUMERIC, -1, &m, "-Infinity"),
        Value::Float64(f64::NEG_INFINITY)
    );
    assert!(matches!(parse(oid::NUMERIC, -1, &m, "NaN"), Value::Float64(v) if v.is_nan()));
}

#[test]
fn money_is_a_decimal_with_the_configured_fraction_digits() {
    let mapping = map(oid::MONEY, -1, &modes());
    assert_eq!(
        mapping.schema.name.as_deref(),
        Some("org.apache.kafka.connect.data.Decimal")
    );
    assert_eq!(
        mapping.schema.parameters.get("scale").map(String::as_str),
        Some("2")
    );
    assert!(
        !mapping
            .schema
            .parameters
            .contains_key("connect.decimal.precision")
    );
    let p = &mapping.parser;
    assert_eq!(
        unscaled(&p.parse("$1,234.56").unwrap()),
        BigInt::from(123_456)
    );
    assert_eq!(p.parse("-$1.00").unwrap(), Value::Bytes(vec![0x9c]));
    assert_eq!(unscaled(&p.parse("($1.00)").unwrap()), BigInt::from(-100));
    let max = p.parse("$92,233,720,368,547,758.07").unwrap();
    assert_eq!(unscaled(&max), BigInt::from(i64::MAX));
    let whole = TypeModes {
        money_fraction_digits: 0,
        ..modes()
    };
    assert_eq!(
        unscaled(&parse(oid::MONEY, -1, &whole, "$1.50")),
        BigInt::from(2)
    );
    let s = with_decimal(DecimalHandling::String);
    assert_eq!(
        parse(oid::MONEY, -1, &s, "-$1,234,567.89"),
        Value::String("-1234567.89".into())
    );
    let d = with_decimal(DecimalHandling::Double);
    assert_eq!(
        parse(oid::MONEY, -1, &d, "$1,234.56"),
        Value::Float64(1234.56)
    );
    assert!(mapping.parser.parse("1.2.3").is_err());
}

#[test]
fn minimal_twos_complement_matches_java_big_integer() {
    for (value, bytes) in [
        (0i128, vec![0x00]),
        (127, vec![0x7f]),
        (128, vec![0x00, 0x80]),
        (-1, vec![0xff]),
        (-128, vec![0x80]),
        (-129, vec![0xff, 0x7f]),
        (65535, vec![0x00, 0xff, 0xff]),
    ] {
        assert_eq!(minimal_i128_bytes(value), bytes, "{value}");
        assert_eq!(BigInt::from(value).to_signed_bytes_be(), bytes);
    }
}

#[test]
fn bytea_follows_binary_handling_mode() {
    let m = modes();
    assert_eq!(map(oid::BYTEA, -1, &m).schema.ty, SchemaType::Bytes);
    assert_eq!(
        parse(oid::BYTEA, -1, &m, "\\x0102"),
        Value::Bytes(vec![1, 2])
    );
    assert_eq!(parse(oid::BYTEA, -1, &m, "\\x"), Value::Bytes(vec![]));
    assert_eq!(
        parse(oid::BYTEA, -1, &m, "\\xDEADbeef"),
        Value::Bytes(vec![0xde, 0xad, 0xbe, 0xef])
    );
    assert_eq!(
        parse(oid::BYTEA, -1, &m, "a\\\\b\\001"),
        Value::Bytes(vec![b'a', b'\\', b'b', 1])
    );
    assert!(map(oid::BYTEA, -1, &m).parser.parse("\\x0").is_err());
    assert!(map(oid::BYTEA, -1, &m).parser.parse("\\xzz").is_err());
    let mode = |binary| TypeModes { binary, ..modes() };
    assert_eq!(
        map(oid::BYTEA, -1, &mode(BinaryHandling::Hex)).schema.ty,
        SchemaType::String
    );
    assert_eq!(
        parse(oid::BYTEA, -1, &mode(BinaryHandling::Hex), "\\x010203"),
        Value::String("010203".into())
    );
    assert_eq!(
        parse(oid::BYTEA, -1, &mode(BinaryHandling::Base64), "\\x010203"),
        Value::String("AQID".into())
    );
    assert_eq!(
        parse(oid::BYTEA, -1, &mode(BinaryHandling::Base64), "\\x0102"),
        Value::String("AQI=".into())
    );
    assert_eq!(
        parse(oid::BYTEA, -1, &mode(BinaryHandling::Base64), "\\x01"),
        Value::String("AQ==".into())
    );
    // Debezium's test value for an unknown circle column in base64-url-safe mode.
    let circle = b"<(10.0,20.0),10.0>"
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    assert_eq!(
        parse(
            oid::BYTEA,
            -1,
            &mode(BinaryHandling::Base64UrlSafe),
            &format!("\\x{circle}")
        ),
        Value::String("PCgxMC4wLDIwLjApLDEwLjA-".into())
    );
}

#[test]
fn bit_strings_are_booleans_or_little_endian_content_sized_bits() {
    let m = modes();
    assert_eq!(map(oid::BIT, 1, &m).schema.ty, SchemaType::Boolean);
    assert_eq!(parse(oid::BIT, 1, &m, "1"), Value::Boolean(true));
    assert_eq!(parse(oid::VARBIT, 1, &m, "0"), Value::Boolean(false));
    let bits = map(oid::BIT, 10, &m);
    assert_eq!(bits.schema.name.as_deref(), Some("io.debezium.data.Bits"));
    assert_eq!(bits.schema.parameters["length"], "10");
    assert_eq!(bits.schema.version, Some(1));
    assert_eq!(
        bits.parser.parse("0000000101").unwrap(),
        Value::Bytes(vec![0x05])
    );
    assert_eq!(
        bits.parser.parse("1000000000").unwrap(),
        Value::Bytes(vec![0x00, 0x02])
    );
    assert_eq!(
        bits.parser.parse("0000000000").unwrap(),
        Value::Bytes(vec![])
    );
    assert_eq!(parse(oid::VARBIT, 2, &m, "11"), Value::Bytes(vec![0x03]));
    assert_eq!(
        map(oid::VARBIT, -1, &m).schema.parameters["length"],
        "2147483647"
    );
    assert!(bits.parser.parse("102").is_err());
}

fn text_value(s: &str) -> Value {
    Value::String(s.to_string())
}

#[test]
fn semantic_string_types_carry_debezium_names() {
    let m = modes();
    for (type_oid, name) in [
        (oid::UUID, Some("io.debezium.data.Uuid")),
        (oid::JSON, Some("io.debezium.data.Json")),
        (oid::JSONB, Some("io.debezium.data.Json")),
        (oid::XML, Some("io.debezium.data.Xml")),
        (oid::INET, None),
        (oid::CIDR, None),
        (oid::MACADDR, None),
        (oid::MACADDR8, None),
        (oid::BPCHAR, None),
        (oid::NAME, None),
        (oid::CHAR, None),
    ] {
        let mapping = map(type_oid, -1, &m);
        assert_eq!(mapping.schema.ty, SchemaType::String, "{type_oid}");
        assert_eq!(mapping.schema.name.as_deref(), name, "{type_oid}");
        assert_eq!(mapping.schema.version, name.map(|_| 1));
        assert_eq!(
            mapping.parser.parse("cone      ").unwrap(),
            text_value("cone      ")
        );
    }
}

#[test]
fn unavailable_values_follow_debeziums_placeholder_rules() {
    let m = modes();
    let placeholder = "__debezium_unavailable_value";
    let schema = |type_oid| map(type_oid, -1, &m).schema;
    assert_eq!(
        unavailable_value(&schema(oid::TEXT), placeholder),
        text_value(placeholder)
    );
    assert_eq!(
        unavailable_value(&schema(oid::JSONB), placeholder),
        text_value(placeholder)
    );
    assert_eq!(
        unavailable_value(&schema(oid::BYTEA), placeholder),
        Value::Bytes(placeholder.as_bytes().to_vec())
    );
    assert_eq!(
        unavailable_value(&schema(oid::BYTEA), "hex:00ff"),
        Value::Bytes(vec![0x00, 0xff])
    );
    assert_eq!(
        unavailable_value(&schema(oid::TEXT), "hex:4142"),
        text_value("AB")
    );
    assert_eq!(
        unavailable_value(&schema(oid::TEXT_ARRAY), placeholder),
        Value::Array(vec![text_value(placeholder)])
    );
    assert_eq!(
        unavailable_value(&schema(oid::INT4_ARRAY), "hex:01ff"),
        Value::Array(vec![Value::Int32(1), Value::Int32(-1)])
    );
    assert_eq!(
        unavailable_value(&schema(oid::NUMERIC), placeholder),
        Value::Null
    );
    assert_eq!(
        unavailable_value(&schema(oid::INT4), placeholder),
        Value::Null
    );
    let hex = TypeModes {
        binary: BinaryHandling::Hex,
        ..modes()
    };
    assert_eq!(
        unavailable_value(&map(oid::BYTEA, -1, &hex).schema, placeholder),
        text_value(placeholder)
    );
}
