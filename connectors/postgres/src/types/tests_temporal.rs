//! Unit tests: temporal types (dates, times, timestamps, zones, intervals) in every mode.
//!
//! Temporal expectations are Debezium's where its tests state them (`24:00:00` as a full
//! day of microseconds, `+21016-…` years, padded `ZonedTimestamp` fractions) and otherwise
//! computed independently (epoch days of proleptic Gregorian dates; interval microseconds
//! with the same double arithmetic Debezium uses).

use tributary_core::{SchemaType, Value};

use super::parser::{
    DATE_NEGATIVE_INFINITY, DATE_POSITIVE_INFINITY, TIMESTAMP_NEGATIVE_INFINITY_MICROS,
    TIMESTAMP_POSITIVE_INFINITY_MICROS,
};
use super::temporal::{civil_from_days, days_from_civil};
use super::tests::{map, modes, parse};
use super::*;

fn with_time(time: TimePrecision) -> TypeModes {
    TypeModes { time, ..modes() }
}

fn string(s: &str) -> Value {
    Value::String(s.to_string())
}

#[test]
fn calendar_conversions_round_trip_and_match_java_for_debeziums_infinity_dates() {
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(days_from_civil(2024, 2, 29), 19782);
    assert_eq!(days_from_civil(0, 1, 1), -719_528);
    assert_eq!(
        days_from_civil(-5_877_611, 6, 21),
        i64::from(DATE_POSITIVE_INFINITY)
    );
    assert_eq!(
        days_from_civil(-5_877_611, 6, 22),
        i64::from(DATE_NEGATIVE_INFINITY)
    );
    for days in [
        -800_000_000i64,
        -719_529,
        -1,
        0,
        59,
        60,
        11_016,
        2_932_896,
        800_000_000,
    ] {
        let (y, m, d) = civil_from_days(days);
        assert_eq!(days_from_civil(y, m, d), days);
    }
}

#[test]
fn dates_are_epoch_days_including_bc_and_leap_days() {
    let m = modes();
    let mapping = map(oid::DATE, -1, &m);
    assert_eq!(
        mapping.schema.name.as_deref(),
        Some("io.debezium.time.Date")
    );
    assert_eq!(mapping.schema.ty, SchemaType::Int32);
    assert_eq!(parse(oid::DATE, -1, &m, "2024-02-29"), Value::Int32(19782));
    assert_eq!(parse(oid::DATE, -1, &m, "1969-12-31"), Value::Int32(-1));
    assert_eq!(
        parse(oid::DATE, -1, &m, "0001-01-01 BC"),
        Value::Int32(-719_528)
    );
    assert_eq!(
        parse(oid::DATE, -1, &m, "4713-01-01 BC"),
        Value::Int32(days_from_civil(-4712, 1, 1) as i32)
    );
    assert_eq!(
        parse(oid::DATE, -1, &m, "infinity"),
        Value::Int32(-2_147_472_692)
    );
    assert_eq!(
        parse(oid::DATE, -1, &m, "-infinity"),
        Value::Int32(-2_147_472_691)
    );
    assert!(mapping.parser.parse("2023-02-29").is_err());
    assert!(mapping.parser.parse("2023-13-01").is_err());
    assert!(mapping.parser.parse("2023-1-01").is_err());
    let connect = map(oid::DATE, -1, &with_time(TimePrecision::Connect)).schema;
    assert_eq!(
        connect.name.as_deref(),
        Some("org.apache.kafka.connect.data.Date")
    );
    assert_eq!(connect.version, Some(1));
}

#[test]
fn time_units_follow_precision_and_mode() {
    let m = modes();
    let ms = map(oid::TIME, 3, &m);
    assert_eq!(ms.schema.name.as_deref(), Some("io.debezium.time.Time"));
    assert_eq!(ms.schema.ty, SchemaType::Int32);
    assert_eq!(
        ms.parser.parse("13:51:30.123").unwrap(),
        Value::Int32(49_890_123)
    );
    let us = map(oid::TIME, -1, &m);
    assert_eq!(
        us.schema.name.as_deref(),
        Some("io.debezium.time.MicroTime")
    );
    assert_eq!(
        us.parser.parse("13:51:30.123456").unwrap(),
        Value::Int64(49_890_123_456)
    );
    assert_eq!(
        us.parser.parse("24:00:00").unwrap(),
        Value::Int64(86_400_000_000)
    );
    assert!(us.parser.parse("24:00:01").is_err());
    assert!(us.parser.parse("12:60:00").is_err());
    let micro_always = map(
        oid::TIME,
        0,
        &with_time(TimePrecision::AdaptiveTimeMicroseconds),
    );
    assert_eq!(
        micro_always.schema.name.as_deref(),
        Some("io.debezium.time.MicroTime")
    );
    let connect = map(oid::TIME, 6, &with_time(TimePrecision::Connect));
    assert_eq!(
        connect.schema.name.as_deref(),
        Some("org.apache.kafka.connect.data.Time")
    );
    assert_eq!(
        connect.parser.parse("00:00:01.999999").unwrap(),
        Value::Int32(1999)
    );
}

#[test]
fn timestamps_are_epoch_units_including_bc_and_large_years() {
    let m = modes();
    let us = map(oid::TIMESTAMP, -1, &m);
    assert_eq!(
        us.schema.name.as_deref(),
        Some("io.debezium.time.MicroTimestamp")
    );
    assert_eq!(
        us.parser.parse("2016-11-04 13:51:30.123456").unwrap(),
        Value::Int64(1_478_267_490_123_456)
    );
    assert_eq!(
        us.parser.parse("0044-03-15 12:00:00.5 BC").unwrap(),
        Value::Int64(-63_517_780_799_500_000)
    );
    assert_eq!(
        us.parser.parse("21016-11-04 13:51:30.123456").unwrap(),
        Value::Int64(days_from_civil(21016, 11, 4) * 86_400_000_000 + 49_890_123_456)
    );
    assert_eq!(
        us.parser.parse("infinity").unwrap(),
        Value::Int64(9_223_372_036_825_200_000)
    );
    assert_eq!(
        us.parser.parse("-infinity").unwrap(),
        Value::Int64(TIMESTAMP_NEGATIVE_INFINITY_MICROS)
    );
    assert!(us.parser.parse("2016-11-04 13:51:30+00").is_err());
    let ms = map(oid::TIMESTAMP, 3, &m);
    assert_eq!(
        ms.schema.name.as_deref(),
        Some("io.debezium.time.Timestamp")
    );
    assert_eq!(
        ms.parser.parse("2016-11-04 13:51:30.123").unwrap(),
        Value::Int64(1_478_267_490_123)
    );
    assert_eq!(
        ms.parser.parse("infinity").unwrap(),
        Value::Int64(TIMESTAMP_POSITIVE_INFINITY_MICROS / 1000)
    );
    assert_eq!(
        ms.parser.parse("-infinity").unwrap(),
        Value::Int64(-9_223_372_036_832_400)
    );
    let connect = map(oid::TIMESTAMP, 6, &with_time(TimePrecision::Connect));
    assert_eq!(
        connect.schema.name.as_deref(),
        Some("org.apache.kafka.connect.data.Timestamp")
    );
    // Milliseconds are floored, as java.time's toEpochMilli does.
    assert_eq!(
        connect.parser.parse("1969-12-31 23:59:59.9995").unwrap(),
        Value::Int64(-1)
    );
    let atm = map(
        oid::TIMESTAMP,
        2,
        &with_time(TimePrecision::AdaptiveTimeMicroseconds),
    );
    assert_eq!(
        atm.schema.name.as_deref(),
        Some("io.debezium.time.Timestamp")
    );
}

#[test]
fn microseconds_nanoseconds_and_isostring_modes_follow_debeziums_temporal_precision_mode() {
    let name = |m: &ColumnMapping| m.schema.name.clone().unwrap_or_default();
    // `microseconds`: every time and timestamp in µs, whatever the column's precision.
    let micros = with_time(TimePrecision::Microseconds);
    let ts3 = map(oid::TIMESTAMP, 3, &micros);
    assert_eq!(name(&ts3), "io.debezium.time.MicroTimestamp");
    assert_eq!(
        ts3.parser.parse("2016-11-04 13:51:30.123").unwrap(),
        Value::Int64(1_478_267_490_123_000)
    );
    assert_eq!(
        name(&map(oid::TIME, 0, &micros)),
        "io.debezium.time.MicroTime"
    );
    assert_eq!(name(&map(oid::DATE, -1, &micros)), "io.debezium.time.Date");
    // `nanoseconds`: a timestamp beyond 2262 overflows 64 bits and becomes NULL; infinity
    // is Long.MAX_VALUE (measured with Debezium 3.6.1 by the differential test).
    let nanos = with_time(TimePrecision::Nanoseconds);
    let ts = map(oid::TIMESTAMP, -1, &nanos);
    assert_eq!(name(&ts), "io.debezium.time.NanoTimestamp");
    assert_eq!(
        ts.parser.parse("2016-11-04 13:51:30.123456").unwrap(),
        Value::Int64(1_478_267_490_123_456_000)
    );
    assert_eq!(ts.parser.parse("2300-01-01 00:00:00").unwrap(), Value::Null);
    assert_eq!(ts.parser.parse("infinity").unwrap(), Value::Int64(i64::MAX));
    let time = map(oid::TIME, 3, &nanos);
    assert_eq!(name(&time), "io.debezium.time.NanoTime");
    assert_eq!(
        time.parser.parse("24:00:00").unwrap(),
        Value::Int64(86_400_000_000_000)
    );
    // `isostring`: Java's ISO_OFFSET_* formatters in UTC.
    let iso = with_time(TimePrecision::Isostring);
    let date = map(oid::DATE, -1, &iso);
    assert_eq!(name(&date), "io.debezium.time.IsoDate");
    assert_eq!(date.schema.ty, SchemaType::String);
    assert_eq!(
        date.parser.parse("2024-02-29").unwrap(),
        string("2024-02-29Z")
    );
    assert_eq!(
        date.parser.parse("0044-03-15 BC").unwrap(),
        string("-0043-03-15Z")
    );
    assert_eq!(
        date.parser.parse("12345-01-02").unwrap(),
        string("+12345-01-02Z")
    );
    // A snapshot's infinity is pgjdbc's constant as a `LocalDate` (measured with Debezium).
    assert_eq!(
        date.parser.parse_snapshot("infinity").unwrap(),
        string("+292278994-08-16Z")
    );
    let time = map(oid::TIME, -1, &iso);
    assert_eq!(name(&time), "io.debezium.time.IsoTime");
    assert_eq!(
        time.parser.parse("13:45:59.1").unwrap(),
        string("13:45:59.1Z")
    );
    assert_eq!(time.parser.parse("00:00:00").unwrap(), string("00:00:00Z"));
    // LocalTime.MIDNIGHT.plus(24 hours) wraps.
    assert_eq!(time.parser.parse("24:00:00").unwrap(), string("00:00:00Z"));
    let ts = map(oid::TIMESTAMP, 3, &iso);
    assert_eq!(name(&ts), "io.debezium.time.IsoTimestamp");
    assert_eq!(
        ts.parser.parse("1999-12-31 23:59:59.990").unwrap(),
        string("1999-12-31T23:59:59.99Z")
    );
    assert_eq!(
        ts.parser.parse("2024-01-01 00:00:00").unwrap(),
        string("2024-01-01T00:00:00Z")
    );
    assert_eq!(
        map(oid::TIMESTAMPTZ, -1, &iso).schema.name.as_deref(),
        Some("io.debezium.time.ZonedTimestamp")
    );
}

#[test]
fn zoned_timestamps_are_utc_iso_strings_padded_to_the_column_precision() {
    let m = modes();
    let tz = map(oid::TIMESTAMPTZ, -1, &m);
    assert_eq!(
        tz.schema.name.as_deref(),
        Some("io.debezium.time.ZonedTimestamp")
    );
    assert_eq!(tz.schema.ty, SchemaType::String);
    let p = &tz.parser;
    assert_eq!(
        p.parse("2024-01-02 03:04:05.123456+00").unwrap(),
        string("2024-01-02T03:04:05.123456Z")
    );
    assert_eq!(
        p.parse("2020-04-01 11:51:02+00").unwrap(),
        string("2020-04-01T11:51:02.000000Z")
    );
    assert_eq!(
        p.parse("2016-11-04 13:51:30.123456+02").unwrap(),
        string("2016-11-04T11:51:30.123456Z")
    );
    assert_eq!(
        p.parse("2016-11-04 00:30:00-05:30").unwrap(),
        string("2016-11-04T06:00:00.000000Z")
    );
    assert_eq!(
        p.parse("1900-01-01 00:00:00+00:53:28").unwrap(),
        string("1899-12-31T23:06:32.000000Z")
    );
    assert_eq!(
        p.parse("21016-11-04 13:51:30.123456+07").unwrap(),
        string("+21016-11-04T06:51:30.123456Z")
    );
    assert_eq!(
        p.parse("0044-03-15 12:00:00+00 BC").unwrap(),
        string("-0043-03-15T12:00:00.000000Z")
    );
    assert_eq!(
        p.parse("0001-01-01 00:00:00+00 BC").unwrap(),
        string("0000-01-01T00:00:00.000000Z")
    );
    assert_eq!(p.parse("infinity").unwrap(), string("infinity"));
    assert_eq!(p.parse("-infinity").unwrap(), string("-infinity"));
    assert!(p.parse("2024-01-02 03:04:05").is_err());
    let three = map(oid::TIMESTAMPTZ, 3, &m).parser;
    assert_eq!(
        three.parse("2024-01-02 03:04:05.1+00").unwrap(),
        string("2024-01-02T03:04:05.100Z")
    );
    let zero = map(oid::TIMESTAMPTZ, 0, &m).parser;
    assert_eq!(
        zero.parse("2024-01-02 03:04:05+00").unwrap(),
        string("2024-01-02T03:04:05Z")
    );
}

#[test]
fn zoned_times_are_normalised_to_utc_with_trimmed_fractions() {
    let m = modes();
    let mapping = map(oid::TIMETZ, -1, &m);
    assert_eq!(
        mapping.schema.name.as_deref(),
        Some("io.debezium.time.ZonedTime")
    );
    let p = &mapping.parser;
    assert_eq!(
        p.parse("13:51:30.123789+02").unwrap(),
        string("11:51:30.123789Z")
    );
    assert_eq!(p.parse("13:51:30.12+02").unwrap(), string("11:51:30.12Z"));
    assert_eq!(p.parse("13:51:02+02").unwrap(), string("11:51:02Z"));
    assert_eq!(
        p.parse("13:51:30.123456-08").unwrap(),
        string("21:51:30.123456Z")
    );
    assert_eq!(p.parse("12:00:00+05:30:15").unwrap(), string("06:29:45Z"));
    assert_eq!(p.parse("01:00:00+03").unwrap(), string("22:00:00Z"));
    assert_eq!(p.parse("24:00:00+00").unwrap(), string("24:00:00Z"));
    assert_eq!(p.parse("24:00:00+02").unwrap(), string("22:00:00Z"));
    assert!(p.parse("13:51:30").is_err());
}

#[test]
fn intervals_use_debeziums_average_month_and_double_arithmetic() {
    let m = modes();
    let mapping = map(oid::INTERVAL, -1, &m);
    assert_eq!(
        mapping.schema.name.as_deref(),
        Some("io.debezium.time.MicroDuration")
    );
    assert_eq!(mapping.schema.ty, SchemaType::Int64);
    let p = &mapping.parser;
    for (text, micros) in [
        ("P1Y2M3DT4H5M6.78S", 37_091_106_780_000i64),
        ("P-1DT-2H-3M-4.5S", -93_784_500_000),
        ("PT0S", 0),
        ("P-1Y-2M", -36_817_200_000_000),
        ("PT-0.5S", -500_000),
        ("P1DT-1S", 86_399_000_000),
        ("PT100000000H", 360_000_000_000_000_000),
        ("P2W", 1_209_600_000_000),
        // Debezium's double arithmetic loses a microsecond here; so do we, on purpose.
        ("PT0.261327S", 261_326),
        ("infinity", i64::MAX),
    ] {
        assert_eq!(p.parse(text).unwrap(), Value::Int64(micros), "{text}");
    }
    for huge in [
        "P999999999999999999Y999999999999999999M",
        "P999999999999999999W",
        "PT1.5S1.5S",
    ] {
        let _ = p.parse(huge);
    }
    assert!(p.parse("1 day").is_err());
    assert!(p.parse("P").is_err());
    assert!(p.parse("P1.5Y").is_err());
    let string_mode = TypeModes {
        interval: IntervalHandling::String,
        ..modes()
    };
    let mapping = map(oid::INTERVAL, -1, &string_mode);
    assert_eq!(
        mapping.schema.name.as_deref(),
        Some("io.debezium.time.Interval")
    );
    let p = &mapping.parser;
    assert_eq!(
        p.parse("P1Y2M3DT4H5M6.78S").unwrap(),
        string("P1Y2M3DT4H5M6.78S")
    );
    assert_eq!(p.parse("PT0S").unwrap(), string("P0Y0M0DT0H0M0S"));
    assert_eq!(
        p.parse("P-1DT-2H-3M-4.5S").unwrap(),
        string("P0Y0M-1DT-2H-3M-4.5S")
    );
    assert_eq!(p.parse("PT10S").unwrap(), string("P0Y0M0DT0H0M10S"));
    assert_eq!(
        p.parse("PT0.000001S").unwrap(),
        string("P0Y0M0DT0H0M0.000001S")
    );
    assert_eq!(p.parse("-infinity").unwrap(), string("-infinity"));
}
