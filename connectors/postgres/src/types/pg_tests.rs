//! Integration test against a real, throwaway Postgres cluster.
//!
//! The test starts its own cluster (the test kit's: initdb on a free port, removed again
//! when it drops),
//! sets the session exactly as Tributary connections do, and for each type family compares
//! what our parser makes of the text of `SELECT lit::type` with an expectation Postgres computes
//! another way (`date - '1970-01-01'`, `extract(epoch …)`, `to_char(…)`, `numeric::text`
//! digit strings). Column types and modifiers come from `pg_attribute` of a probe table,
//! as they do in a pgoutput `Relation` message. Without Postgres binaries the test says so
//! and passes.

use num_bigint::BigInt;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};
use tributary_core::{SchemaType, Value};
use tributary_testkit::pg::{PgCluster, PgConfig};

use super::builtin::builtin_types;
use super::parser::{DATE_POSITIVE_INFINITY, TIMESTAMP_NEGATIVE_INFINITY_MICROS};
use super::*;

struct Pg {
    client: Client,
    registry: TypeRegistry,
    probes: usize,
}

impl Pg {
    async fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let messages = self
            .client
            .simple_query(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
        messages
            .into_iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(row) => Some(
                    (0..row.len())
                        .map(|i| row.get(i).map(String::from))
                        .collect(),
                ),
                _ => None,
            })
            .collect()
    }

    async fn row(&self, sql: &str) -> Vec<String> {
        let rows = self.rows(sql).await;
        rows[0]
            .iter()
            .map(|v| v.clone().unwrap_or_default())
            .collect()
    }

    /// The type OID and modifier of a column declared as `ty`.
    async fn column(&mut self, ty: &str) -> (u32, i32) {
        self.probes += 1;
        let table = format!("probe_{}", self.probes);
        self.rows(&format!("CREATE TEMP TABLE {table} (c {ty})"))
            .await;
        let row = self
            .row(&format!(
                "SELECT atttypid, atttypmod FROM pg_attribute WHERE attrelid = '{table}'::regclass AND attname = 'c'"
            ))
            .await;
        let type_oid = row[0].parse().unwrap();
        self.registry.load(&self.client, &[type_oid]).await.unwrap();
        (type_oid, row[1].parse().unwrap())
    }

    /// Our value for `lit::ty`, its Postgres text (from the type's output function, as in
    /// pgoutput; the simple query protocol returns text), and the expectation columns of
    /// `extra`, in which `$v` stands for the value.
    async fn check(
        &mut self,
        ty: &str,
        lit: &str,
        modes: &TypeModes,
        extra: &str,
    ) -> (Value, Vec<String>) {
        let (type_oid, typmod) = self.column(ty).await;
        let mapping = map_column(&self.registry, type_oid, typmod, true, modes);
        assert!(!mapping.unknown, "{ty} should be mapped");
        let sql = format!(
            "SELECT ({lit})::{ty}{}{extra}",
            if extra.is_empty() { "" } else { ", " }
        );
        let row = self
            .row(&sql.replace("$v", &format!("(({lit})::{ty})")))
            .await;
        let value = mapping
            .parser
            .parse(&row[0])
            .unwrap_or_else(|e| panic!("{ty} {lit}: {e}"));
        (value, row)
    }
}

fn int(value: &str) -> i64 {
    value.split('.').next().unwrap().parse().unwrap()
}

/// Unscaled digits and scale of a plain decimal string.
fn unscaled(text: &str) -> (BigInt, u32) {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    (format!("{int}{frac}").parse().unwrap(), frac.len() as u32)
}

fn bytes_of(value: &Value) -> BigInt {
    let Value::Bytes(b) = value else {
        panic!("expected bytes, got {value:?}")
    };
    BigInt::from_signed_bytes_be(b)
}

#[tokio::test]
async fn parsed_postgres_text_matches_independent_expectations() {
    let Some(mut cluster) = PgCluster::init(PgConfig::default()) else {
        eprintln!("skipping: no initdb/pg_ctl found");
        return;
    };
    cluster.start_server();
    let url = format!(
        "host=127.0.0.1 port={} user=postgres dbname=postgres",
        cluster.port
    );
    let (client, connection) = tokio_postgres::connect(&url, NoTls).await.unwrap();
    tokio::spawn(connection);
    let mut pg = Pg {
        client,
        registry: TypeRegistry::new(),
        probes: 0,
    };
    pg.rows(
        "SET DateStyle='ISO, YMD'; SET IntervalStyle='iso_8601'; SET TimeZone='UTC'; \
         SET extra_float_digits=3; SET bytea_output='hex'; SET lc_monetary='C'",
    )
    .await;
    let m = TypeModes::default();

    // The built-in table agrees with the server's catalog.
    let catalog = pg
        .rows("SELECT oid, typname, typelem, typarray FROM pg_type WHERE oid < 16384")
        .await;
    let find = |oid: u32| {
        catalog
            .iter()
            .find(|r| r[0].as_deref() == Some(&oid.to_string()))
    };
    for ty in builtin_types() {
        let row = find(ty.oid).unwrap_or_else(|| panic!("{} missing from pg_type", ty.name));
        assert_eq!(row[1].as_deref(), Some(ty.name.as_str()));
        if let PgTypeKind::Array { element } = ty.kind {
            assert_eq!(
                row[2].as_deref(),
                Some(element.to_string().as_str()),
                "{}",
                ty.name
            );
        }
    }

    // Enum, domains and an array of the enum, loaded through the array only.
    pg.rows(
        "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy'); ALTER TYPE mood ADD VALUE 'meh' BEFORE 'ok'; \
         CREATE DOMAIN price AS numeric(10,2); CREATE DOMAIN stamp AS timestamp(3)",
    )
    .await;
    let oids: Vec<u32> = pg
        .row("SELECT 'mood'::regtype::oid, '_mood'::regtype::oid, 'price'::regtype::oid")
        .await
        .iter()
        .map(|v| v.parse().unwrap())
        .collect();
    pg.registry
        .load(&pg.client, &[oids[1], oids[2]])
        .await
        .unwrap();
    let labels = ["sad", "meh", "ok", "happy"].map(String::from).to_vec();
    assert_eq!(
        pg.registry.get(oids[0]).unwrap().kind,
        PgTypeKind::Enum { labels }
    );
    assert_eq!(
        pg.registry.get(oids[1]).unwrap().kind,
        PgTypeKind::Array { element: oids[0] }
    );
    assert!(matches!(
        pg.registry.get(oids[2]).unwrap().kind,
        PgTypeKind::Domain { base: 1700, .. }
    ));
    let mood = map_column(&pg.registry, oids[0], -1, true, &m);
    assert_eq!(mood.schema.parameters["allowed"], "sad,meh,ok,happy");
    let (v, _) = pg.check("mood[]", "'{sad,NULL,happy}'", &m, "").await;
    assert_eq!(
        v,
        Value::Array(vec![
            Value::String("sad".into()),
            Value::Null,
            Value::String("happy".into())
        ])
    );

    for lit in [
        "'2024-02-29'",
        "'1969-12-31'",
        "'0001-01-01 BC'",
        "'4713-01-01 BC'",
        "'5874897-12-31'",
        "'2000-03-01'",
    ] {
        let (v, row) = pg.check("date", lit, &m, "$v - '1970-01-01'::date").await;
        assert_eq!(v, Value::Int32(row[1].parse().unwrap()), "{lit}");
    }
    let epoch_us = "extract(epoch from $v) * 1000000";
    for lit in [
        "'2016-11-04 13:51:30.123456'",
        "'1936-10-25 22:10:12.608'",
        "'0044-03-15 12:00:00.5 BC'",
        "'21016-11-04 13:51:30.123456'",
        "'1969-12-31 23:59:59.999999'",
        "'2000-02-29 00:00:00'",
    ] {
        let (v, row) = pg.check("timestamp", lit, &m, epoch_us).await;
        assert_eq!(v, Value::Int64(int(&row[1])), "{lit}");
        let (v, row) = pg
            .check("stamp", lit, &m, "floor(extract(epoch from $v) * 1000)")
            .await;
        assert_eq!(v, Value::Int64(int(&row[1])), "stamp {lit}");
        let utc = "to_char($v AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";
        let (v, row) = pg
            .check("timestamptz", &format!("{lit} || '+05:30'"), &m, utc)
            .await;
        if !lit.contains("BC") && !lit.contains("21016") {
            assert_eq!(v, Value::String(row[1].clone()), "timestamptz {lit}");
        }
    }
    for lit in [
        "'13:51:30.123456'",
        "'00:00:00'",
        "'24:00:00'",
        "'23:59:59.999999'",
    ] {
        let (v, row) = pg.check("time", lit, &m, epoch_us).await;
        assert_eq!(v, Value::Int64(int(&row[1])), "{lit}");
    }
    for lit in [
        "'13:51:30.123456-08'",
        "'12:00:00+05:30'",
        "'01:00:00+03'",
        "'00:00:00.5+00'",
    ] {
        let (v, row) = pg
            .check("timetz", lit, &m, "($v AT TIME ZONE 'UTC')::text")
            .await;
        let expected = format!("{}Z", row[1].trim_end_matches("+00"));
        assert_eq!(v, Value::String(expected), "{lit}");
    }
    let string_intervals = TypeModes {
        interval: IntervalHandling::String,
        ..m
    };
    for lit in [
        "'1 year 2 mons 3 days 04:05:06.78'",
        "'-1 day -02:03:04.5'",
        "'0'",
        "'-14 mons'",
        "'1 day -1 s'",
        "'0.261327 s'",
        "'100000000 hours'",
        "'3 weeks 1 microsecond'",
    ] {
        // Postgres's epoch counts a month as 30 days; Debezium as 30.4375.
        let exact = "extract(epoch from $v) * 1000000 + extract(month from $v) * 37800000000";
        let (v, row) = pg.check("interval", lit, &m, exact).await;
        let Value::Int64(micros) = v else { panic!() };
        assert!(
            (micros - int(&row[1])).abs() <= 1,
            "{lit}: {micros} vs {}",
            row[1]
        );
        let fields = "extract(year from $v), extract(month from $v), extract(day from $v), \
                      extract(hour from $v), extract(minute from $v), extract(second from $v)";
        let (v, row) = pg.check("interval", lit, &string_intervals, fields).await;
        let seconds = row[6].trim_end_matches('0').trim_end_matches('.');
        let seconds = if seconds.is_empty() || seconds == "-" {
            "0"
        } else {
            seconds
        };
        let expected = format!(
            "P{}Y{}M{}DT{}H{}M{}S",
            row[1], row[2], row[3], row[4], row[5], seconds
        );
        assert_eq!(v, Value::String(expected), "{lit}");
    }

    for (ty, lit) in [
        ("numeric(10,3)", "-0.001"),
        ("numeric(39,9)", "123456789012345678901234567890.123456789"),
        ("numeric(10,2)", "0"),
        ("numeric(38,0)", "-99999999999999999999999999999999999999"),
        ("numeric(5,2)", "1.005"),
        ("price", "12.5"),
    ] {
        let (v, row) = pg.check(ty, lit, &m, "").await;
        let (digits, scale) = unscaled(&row[0]);
        assert_eq!(bytes_of(&v), digits, "{ty} {lit}");
        let (type_oid, typmod) = pg.column(ty).await;
        let schema = map_column(&pg.registry, type_oid, typmod, true, &m).schema;
        assert_eq!(schema.parameters["scale"], scale.to_string(), "{ty}");
    }
    for lit in ["10.1000", "-0.0000001", "1e20", "0.000", "NaN"] {
        let (v, row) = pg.check("numeric", &format!("'{lit}'"), &m, "").await;
        if lit == "NaN" {
            assert_eq!(v, Value::Null);
            continue;
        }
        let Value::Struct(fields) = v else {
            panic!("{v:?}")
        };
        let (Value::Int32(scale), Value::Bytes(b)) = (&fields[0], &fields[1]) else {
            panic!()
        };
        let (digits, text_scale) = unscaled(&row[0]);
        let shift = BigInt::from(10).pow(text_scale - *scale as u32);
        assert_eq!(BigInt::from_signed_bytes_be(b) * shift, digits, "{lit}");
    }
    for lit in [
        "'$1,234.56'",
        "'-1234567.891'",
        "'0'",
        "'92233720368547758.07'",
    ] {
        let (v, row) = pg.check("money", lit, &m, "$v::numeric::text").await;
        assert_eq!(bytes_of(&v), unscaled(&row[1]).0, "{lit}");
    }

    let base64 = TypeModes {
        binary: BinaryHandling::Base64,
        ..m
    };
    for lit in [
        "decode('0102ff', 'hex')",
        "''",
        r"'a\\b\001'",
        "convert_to('ünï', 'UTF8')",
    ] {
        let (v, row) = pg.check("bytea", lit, &m, "encode($v, 'hex')").await;
        let expected: Vec<u8> = (0..row[1].len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&row[1][i..i + 2], 16).unwrap())
            .collect();
        assert_eq!(v, Value::Bytes(expected), "{lit}");
        let (v, row) = pg
            .check("bytea", lit, &base64, "encode($v, 'base64')")
            .await;
        assert_eq!(v, Value::String(row[1].clone()), "{lit}");
    }
    for lit in [
        "B'0000000101'",
        "B'1000000000'",
        "B'0000000000'",
        "B'1111111111'",
    ] {
        let (v, row) = pg.check("bit(10)", lit, &m, "$v::int").await;
        let n: u32 = row[1].parse().unwrap();
        let width = (32 - n.leading_zeros()).div_ceil(8) as usize;
        assert_eq!(v, Value::Bytes(n.to_le_bytes()[..width].to_vec()), "{lit}");
    }
    let (v, _) = pg.check("bit(1)", "B'1'", &m, "").await;
    assert_eq!(v, Value::Boolean(true));

    for (ty, lit) in [("boolean", "true"), ("boolean", "false")] {
        let (v, row) = pg.check(ty, lit, &m, "").await;
        assert_eq!(v, Value::Boolean(row[0] == "t"));
    }
    for (ty, lit) in [
        ("int2", "-32768"),
        ("int4", "2147483647"),
        ("int8", "-9223372036854775808"),
        ("oid", "4000000000"),
    ] {
        let (v, _) = pg.check(ty, &format!("'{lit}'"), &m, "").await;
        assert_eq!(v.as_i64(), Some(lit.parse().unwrap()), "{ty}");
    }
    for lit in [
        "'NaN'",
        "'Infinity'",
        "'-Infinity'",
        "'0.1'",
        "'1e308'",
        "'-0'",
        "'2.2250738585072014e-308'",
    ] {
        let (v, row) = pg.check("float8", lit, &m, "").await;
        let expected: f64 = row[0].parse().unwrap();
        let Value::Float64(got) = v else { panic!() };
        assert!(
            got.to_bits() == expected.to_bits() || (got.is_nan() && expected.is_nan()),
            "{lit}"
        );
    }
    let (v, _) = pg.check("float4", "'1.1'", &m, "").await;
    assert_eq!(v, Value::Float32(1.1));
    for (ty, lit) in [
        ("uuid", "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"),
        ("jsonb", r#"'{"b": [1, 2], "a": null}'"#),
        ("json", r#"'{"b":1,  "a":2}'"#),
        ("xml", "'<a>1</a>'"),
        ("inet", "'192.168.1.1/24'"),
        ("char(5)", "'ab'"),
        ("mood", "'meh'"),
        ("int4range", "'[1,5]'"),
    ] {
        let (v, row) = pg.check(ty, lit, &m, "").await;
        assert_eq!(v, Value::String(row[0].clone()), "{ty}");
    }

    // Arrays: elements as Postgres unnests them (NULLs kept, dimensions flattened).
    for (ty, lit) in [
        ("int[]", "ARRAY[1, NULL, 3]"),
        ("int[]", "'{{1,2},{3,4}}'"),
        (
            "text[]",
            r#"ARRAY['a,b', '', 'NULL', 'x"y', 'back\slash', ' sp ', NULL, '{}']"#,
        ),
        ("numeric(10,2)[]", "'{1.5,NULL,-2}'"),
        (
            "timestamptz[]",
            "ARRAY['2020-04-01 11:51:02+00'::timestamptz]",
        ),
        ("date[]", "'{}'"),
    ] {
        let (v, _) = pg.check(ty, lit, &m, "").await;
        let elements = pg.rows(&format!("SELECT unnest(({lit})::{ty})")).await;
        let Value::Array(items) = v else {
            panic!("{v:?}")
        };
        assert_eq!(items.len(), elements.len(), "{ty} {lit}");
        let (type_oid, typmod) = pg.column(ty).await;
        let mapping = map_column(&pg.registry, type_oid, typmod, true, &m);
        let SchemaType::Array(item_schema) = &mapping.schema.ty else {
            panic!()
        };
        assert!(item_schema.optional);
        let (element_oid, element_typmod) = pg.column(ty.trim_end_matches("[]")).await;
        let element = map_column(&pg.registry, element_oid, element_typmod, true, &m).parser;
        for (item, text) in items.iter().zip(&elements) {
            let expected = text[0]
                .as_deref()
                .map_or(Value::Null, |t| element.parse(t).unwrap());
            assert_eq!(item, &expected, "{ty} {lit}");
        }
    }

    // Special values.
    let (v, _) = pg.check("date", "'infinity'", &m, "").await;
    assert_eq!(v, Value::Int32(DATE_POSITIVE_INFINITY));
    let (v, _) = pg.check("timestamp", "'-infinity'", &m, "").await;
    assert_eq!(v, Value::Int64(TIMESTAMP_NEGATIVE_INFINITY_MICROS));
    let (v, _) = pg.check("timestamptz", "'infinity'", &m, "").await;
    assert_eq!(v, Value::String("infinity".into()));
    drop(cluster);
}
