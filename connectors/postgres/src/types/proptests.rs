//! Property tests: decimals survive the trip through Debezium's encodings, and no parser
//! panics on any input.
//!
//! The decimal expectations are computed with `num-bigint` from the digits themselves, not
//! with the code under test.

use num_bigint::BigInt;
use proptest::prelude::*;
use tributary_core::Value;

use super::numeric::{Numeric, parse_numeric};
use super::oid;
use super::tests::numeric_typmod;
use super::*;

/// A `numeric` literal as Postgres prints it: sign, integer digits, fraction digits.
fn numeric_text() -> impl Strategy<Value = (bool, String, String)> {
    (any::<bool>(), "[0-9]{1,45}", "[0-9]{0,20}")
}

fn text_of(negative: bool, int: &str, frac: &str) -> String {
    let sign = if negative { "-" } else { "" };
    if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    }
}

fn big(negative: bool, digits: &str) -> BigInt {
    let magnitude: BigInt = digits.parse().unwrap();
    if negative { -magnitude } else { magnitude }
}

fn bytes(value: &Value) -> &[u8] {
    match value {
        Value::Bytes(b) => b,
        other => panic!("expected bytes, got {other:?}"),
    }
}

/// One parser of every kind, under several mode combinations.
fn every_parser() -> Vec<ValueParser> {
    let registry = TypeRegistry::new();
    let mode_sets = [
        TypeModes::default(),
        TypeModes {
            decimal: DecimalHandling::String,
            time: TimePrecision::Connect,
            interval: IntervalHandling::String,
            binary: BinaryHandling::Base64,
            hstore: HstoreHandling::Map,
            include_unknown: true,
            money_fraction_digits: 0,
        },
        TypeModes {
            decimal: DecimalHandling::Double,
            time: TimePrecision::AdaptiveTimeMicroseconds,
            interval: IntervalHandling::Numeric,
            binary: BinaryHandling::Hex,
            money_fraction_digits: 4,
            ..TypeModes::default()
        },
    ];
    let columns = [
        (oid::BOOL, -1),
        (oid::INT2, -1),
        (oid::INT4, -1),
        (oid::INT8, -1),
        (oid::OID, -1),
        (oid::FLOAT4, -1),
        (oid::FLOAT8, -1),
        (oid::NUMERIC, -1),
        (oid::NUMERIC, numeric_typmod(10, 2)),
        (oid::NUMERIC, numeric_typmod(2, -3)),
        (oid::MONEY, -1),
        (oid::BYTEA, -1),
        (oid::BIT, 1),
        (oid::BIT, 10),
        (oid::VARBIT, -1),
        (oid::DATE, -1),
        (oid::TIME, 3),
        (oid::TIME, -1),
        (oid::TIMESTAMP, 3),
        (oid::TIMESTAMP, -1),
        (oid::TIMESTAMPTZ, -1),
        (oid::TIMESTAMPTZ, 0),
        (oid::TIMETZ, -1),
        (oid::INTERVAL, -1),
        (oid::TEXT, -1),
        (oid::INT4_ARRAY, -1),
        (oid::TEXT_ARRAY, -1),
        (oid::NUMERIC_ARRAY, -1),
        (1185, -1),
    ];
    let mut parsers = Vec::new();
    for modes in &mode_sets {
        for (type_oid, typmod) in columns {
            parsers.push(map_column(&registry, type_oid, typmod, true, modes).parser);
        }
    }
    parsers
}

proptest! {
    #[test]
    fn fixed_scale_numerics_round_trip_through_decimal_bytes((negative, int, frac) in numeric_text(), extra in 0i32..4) {
        let scale = frac.len() as i32 + extra;
        let parser = map_column(&TypeRegistry::new(), oid::NUMERIC, numeric_typmod(1000, scale), false, &TypeModes::default()).parser;
        let value = parser.parse(&text_of(negative, &int, &frac)).unwrap();
        let padded = format!("{int}{frac}{}", "0".repeat(extra as usize));
        let expected = big(negative, &padded);
        prop_assert_eq!(BigInt::from_signed_bytes_be(bytes(&value)), expected.clone());
        // Minimal length, like BigInteger.toByteArray().
        prop_assert_eq!(bytes(&value).to_vec(), expected.to_signed_bytes_be());
    }

    #[test]
    fn variable_scale_numerics_keep_their_value_with_trailing_zeros_stripped((negative, int, frac) in numeric_text()) {
        let parser = map_column(&TypeRegistry::new(), oid::NUMERIC, -1, false, &TypeModes::default()).parser;
        let Value::Struct(fields) = parser.parse(&text_of(negative, &int, &frac)).unwrap() else {
            panic!("expected a struct");
        };
        let (Value::Int32(scale), Value::Bytes(unscaled)) = (&fields[0], &fields[1]) else {
            panic!("expected scale and value");
        };
        prop_assert!(*scale >= 0 && *scale as usize <= frac.len());
        let unscaled = BigInt::from_signed_bytes_be(unscaled);
        let shift = BigInt::from(10).pow(frac.len() as u32 - *scale as u32);
        prop_assert_eq!(unscaled.clone() * shift, big(negative, &format!("{int}{frac}")));
        let ten = BigInt::from(10);
        prop_assert!(*scale == 0 || unscaled % ten != BigInt::from(0), "trailing zeros were stripped");
    }

    #[test]
    fn java_decimal_strings_parse_back_to_the_same_decimal((negative, int, frac) in numeric_text(), exponent in -30i32..30) {
        let text = format!("{}e{exponent}", text_of(negative, &int, &frac));
        let Ok(Numeric::Finite(decimal)) = parse_numeric(&text) else { panic!("{text}") };
        let Ok(Numeric::Finite(again)) = parse_numeric(&decimal.to_java_string()) else { panic!("{text}") };
        prop_assert_eq!(again.scale(), decimal.scale());
        prop_assert_eq!(again.unscaled_bytes(), decimal.unscaled_bytes());
        prop_assert_eq!(decimal.to_f64(), text.parse::<f64>().unwrap());
    }

    #[test]
    fn no_parser_panics_on_arbitrary_text(text in ".{0,40}") {
        for parser in every_parser() {
            let _ = parser.parse(&text);
        }
    }

    #[test]
    fn no_parser_panics_on_near_miss_text(text in r#"[-+0-9.eE: xTPWYMDHSBCinftyNa{}",\\$()\[\]=]{0,40}"#) {
        for parser in every_parser() {
            let _ = parser.parse(&text);
        }
    }
}
