//! Every mapped type: the value in the event equals what Postgres returns for the row,
//! through both paths (snapshot via COPY, streaming via pgoutput).

mod support;

use std::time::Duration;

use base64::Engine as _;
use num_bigint::BigInt;
use serde_json::{Value, json};
use support::capture::Capture;
use support::pg::PgCluster;

const T: Duration = Duration::from_secs(120);

const DDL: &str = "
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE TABLE every (
  id int PRIMARY KEY,
  c_int2 int2, c_int4 int4, c_int8 int8, c_float4 float4, c_float8 float8, c_bool bool,
  c_numeric numeric(20,5), c_numeric_big numeric(38,0), c_numeric_var numeric,
  c_text text, c_varchar varchar(10), c_char char(3), c_bytea bytea,
  c_date date, c_time time, c_time3 time(3), c_timetz timetz,
  c_ts timestamp, c_ts3 timestamp(3), c_tstz timestamptz, c_interval interval,
  c_uuid uuid, c_json json, c_jsonb jsonb, c_xml xml, c_mood mood,
  c_int_arr int[], c_text_arr text[], c_inet inet, c_cidr cidr, c_mac macaddr,
  c_money money, c_dom posint
);";

const ROWS: &[&str] = &[
    "(1, 1, 2, 3, 1.5, 2.25, true, 12345.67891, 99999999999999999999999999999999999999, 0.000001,
      'héllo \"q\" \\ tab\there', 'short', 'ab', '\\x00ff10',
      '2024-02-29', '13:45:59.123456', '01:02:03.456', '10:00:00.5+02',
      '2024-02-29 13:45:59.123456', '1999-12-31 23:59:59.999', '2024-02-29 13:45:59.123456+05:30',
      '1 year 2 mons 3 days 04:05:06.789', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\": [1, 2]}',
      '{\"b\": {\"c\": null}}', '<a>x</a>', 'happy', '{1,NULL,3}', '{\"x,y\",\"\",NULL,\"q\\\"\"}',
      '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', 1234.56, 7)",
    "(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
      NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    "(3, -32768, -2147483648, -9223372036854775808, 'NaN', '-Infinity', false, -0.00001,
      -12345678901234567890123456789012345678, -123456789012345678901234567890.123456789,
      '', '', ' ', '\\x',
      '0044-03-15 BC', '24:00:00', '00:00:00', '23:59:59-07',
      '0001-01-01 00:00:00 BC', '1970-01-01 00:00:00', '1900-06-30 12:00:00+00',
      '-3 days -00:00:01', '00000000-0000-0000-0000-000000000000', '[]', '[]', '<r/>', 'sad',
      '{}', '{}', '::1', '::/0', 'ff:ff:ff:ff:ff:ff', -0.01, 1)",
    "(4, 0, 0, 0, 'Infinity', 'NaN', true, 0, 0, 'NaN',
      'x', 'y', 'z', '\\x00', 'infinity', '00:00:00.000001', '23:59:59.999', '00:00:00+00',
      'infinity', '-infinity', 'infinity', '0', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'null', '0', '<a/>', 'ok',
      '{-1}', '{NULL}', '0.0.0.0', '0.0.0.0/32', '00:00:00:00:00:00', 0, 2147483647)",
];

fn b64(bytes: &[u8]) -> Value {
    json!(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// The unscaled integer of a decimal text at `scale`, as Debezium's Decimal bytes.
fn decimal(text: &str, scale: usize) -> Value {
    let (neg, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let mut s = format!("{int}{frac}");
    for _ in frac.len()..scale {
        s.push('0');
    }
    let mut n: BigInt = s.parse().unwrap();
    if neg {
        n = -n;
    }
    b64(&n.to_signed_bytes_be())
}

fn float(text: &str) -> Value {
    match text {
        "NaN" => json!("NaN"),
        "Infinity" => json!("Infinity"),
        "-Infinity" => json!("-Infinity"),
        t => json!(t.parse::<f64>().unwrap()),
    }
}

/// µs since midnight of `HH:MM:SS[.ffffff]` (24:00:00 allowed).
fn micros_of_day(t: &str) -> i64 {
    let t = t.trim_end_matches('Z');
    let (hms, frac) = t.split_once('.').unwrap_or((t, ""));
    let p: Vec<i64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    let mut f = frac.to_string();
    while f.len() < 6 {
        f.push('0');
    }
    ((p[0] * 60 + p[1]) * 60 + p[2]) * 1_000_000 + f.parse::<i64>().unwrap()
}

/// Expected JSON of every column, computed from what Postgres itself returns.
/// A date as Debezium's snapshot (JDBC) path writes it: pgjdbc's days for ±infinity, and
/// a BC date as the same date AD.
async fn snapshot_date(db: &tokio_postgres::Client, id: i32) -> Value {
    let row = db
        .query_one(
            "SELECT c_date::text, CASE WHEN isfinite(c_date) \
               THEN (replace(c_date::text, ' BC', '')::date - DATE '1970-01-01')::text END \
             FROM every WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    match row.get::<_, Option<String>>(0).as_deref() {
        None => Value::Null,
        Some("infinity") => json!(-622_191_234),
        Some("-infinity") => json!(-625_821_272),
        Some(_) => json!(row.get::<_, String>(1).parse::<i64>().unwrap()),
    }
}

async fn expected(db: &tokio_postgres::Client, id: i32) -> serde_json::Map<String, Value> {
    let sql = format!(
        "SELECT id::text, c_int2::text, c_int4::text, c_int8::text, c_float4::text, c_float8::text, c_bool::text,
           c_numeric::text, c_numeric_big::text, c_numeric_var::text, c_text, c_varchar, c_char, NULL,
           CASE WHEN isfinite(c_date) THEN (c_date - DATE '1970-01-01')::text END,
           (extract(epoch from c_time) * 1000000)::bigint::text,
           (extract(epoch from c_time3) * 1000)::bigint::text,
           to_char(('2000-01-01 ' || c_timetz::text)::timestamptz AT TIME ZONE 'UTC', 'HH24:MI:SS.US'),
           CASE WHEN isfinite(c_ts) THEN (extract(epoch from c_ts) * 1000000)::numeric(30,0)::text END,
           CASE WHEN isfinite(c_ts3) THEN (extract(epoch from c_ts3) * 1000)::numeric(30,0)::text END,
           CASE WHEN isfinite(c_tstz) THEN (extract(epoch from c_tstz) * 1000000)::numeric(30,0)::text END,
           (extract(epoch from c_interval) * 1000000 + extract(month from c_interval) * 0.4375 * 86400000000)::numeric(30,0)::text,
           c_uuid::text, c_json::text, c_jsonb::text, c_xml::text, c_mood::text,
           array_to_json(c_int_arr)::text, array_to_json(c_text_arr)::text,
           c_inet, c_cidr, c_mac, c_money::numeric::text, c_dom::text,
           c_date::text, c_ts::text, c_tstz::text, c_ts3::text
         FROM every WHERE id = {id}"
    );
    let row = &db.simple_query(&sql).await.unwrap()[1];
    let tokio_postgres::SimpleQueryMessage::Row(row) = row else {
        panic!("no row {id}")
    };
    let bytea: Option<Vec<u8>> = db
        .query_one("SELECT c_bytea FROM every WHERE id = $1", &[&id])
        .await
        .unwrap()
        .get(0);
    let g = |i: usize| row.get(i).map(str::to_string);
    let mut e = serde_json::Map::new();
    let mut put = |name: &str, v: Value| {
        e.insert(name.to_string(), v);
    };
    let int = |s: Option<String>| s.map_or(Value::Null, |s| json!(s.parse::<i64>().unwrap()));
    put("id", int(g(0)));
    put("c_int2", int(g(1)));
    put("c_int4", int(g(2)));
    put("c_int8", int(g(3)));
    put("c_float4", g(4).map_or(Value::Null, |s| float(&s)));
    put("c_float8", g(5).map_or(Value::Null, |s| float(&s)));
    put("c_bool", g(6).map_or(Value::Null, |s| json!(s == "true")));
    put("c_numeric", g(7).map_or(Value::Null, |s| decimal(&s, 5)));
    put(
        "c_numeric_big",
        g(8).map_or(Value::Null, |s| decimal(&s, 0)),
    );
    put(
        "c_numeric_var",
        g(9).map_or(Value::Null, |s| {
            if s == "NaN" {
                return Value::Null;
            }
            let scale = s.split_once('.').map_or(0, |(_, f)| f.len());
            json!({"scale": scale, "value": decimal(&s, scale)})
        }),
    );
    put("c_text", g(10).map_or(Value::Null, Value::String));
    put("c_varchar", g(11).map_or(Value::Null, Value::String));
    put("c_char", g(12).map_or(Value::Null, Value::String));
    put("c_bytea", bytea.map_or(Value::Null, |b| b64(&b)));
    let date_text = g(34);
    put(
        "c_date",
        match date_text.as_deref() {
            None => Value::Null,
            // Debezium's stand-in days for ±infinity (its dates -5877611-06-22 / -21).
            Some("infinity") => json!(-2147472692),
            Some("-infinity") => json!(-2147472691),
            Some(_) => int(g(14)),
        },
    );
    put("c_time", int(g(15)));
    put("c_time3", int(g(16)));
    put(
        "c_timetz",
        g(17).map_or(Value::Null, |s| json!(micros_of_day(&s))),
    );
    // Debezium's stand-in instants for ±infinity, in the column's unit.
    let ts = |raw: Option<String>, text: Option<String>, unit: i64| match text.as_deref() {
        None => Value::Null,
        Some("infinity") => json!(9_223_372_036_825_200_000i64 / unit),
        Some("-infinity") => json!(-9_223_372_036_832_400_000i64 / unit),
        Some(_) => int(raw),
    };
    put("c_ts", ts(g(18), g(35), 1));
    put("c_ts3", ts(g(19), g(37), 1000));
    put(
        "c_tstz",
        match g(36).as_deref() {
            None => Value::Null,
            Some("infinity") => json!("<infinity>"),
            Some("-infinity") => json!("<-infinity>"),
            Some(_) => int(g(20)),
        },
    );
    put("c_interval", int(g(21)));
    put("c_uuid", g(22).map_or(Value::Null, Value::String));
    put("c_json", g(23).map_or(Value::Null, Value::String));
    put("c_jsonb", g(24).map_or(Value::Null, Value::String));
    put("c_xml", g(25).map_or(Value::Null, Value::String));
    put("c_mood", g(26).map_or(Value::Null, Value::String));
    put(
        "c_int_arr",
        g(27).map_or(Value::Null, |s| serde_json::from_str(&s).unwrap()),
    );
    put(
        "c_text_arr",
        g(28).map_or(Value::Null, |s| serde_json::from_str(&s).unwrap()),
    );
    put("c_inet", g(29).map_or(Value::Null, Value::String));
    put("c_cidr", g(30).map_or(Value::Null, Value::String));
    put("c_mac", g(31).map_or(Value::Null, Value::String));
    put("c_money", g(32).map_or(Value::Null, |s| decimal(&s, 2)));
    put("c_dom", int(g(33)));
    e
}

/// Normalizes an event's value to what [`expected`] computes, where the two differ in
/// form only (zoned times as ISO strings).
fn normalize(mut after: serde_json::Map<String, Value>) -> serde_json::Map<String, Value> {
    if let Some(Value::String(s)) = after.get("c_timetz").cloned() {
        after.insert("c_timetz".into(), json!(micros_of_day(&s)));
    }
    match after.get("c_tstz").cloned() {
        Some(Value::String(s)) if s == "infinity" => {
            after.insert("c_tstz".into(), json!("<infinity>"));
        }
        Some(Value::String(s)) if s == "-infinity" => {
            after.insert("c_tstz".into(), json!("<-infinity>"));
        }
        Some(Value::String(s)) => {
            after.insert("c_tstz".into(), json!(zoned_to_micros(&s)));
        }
        _ => {}
    }
    after
}

/// µs since the epoch of an ISO-8601 UTC timestamp `YYYY-MM-DDTHH:MM:SS[.f]Z`.
fn zoned_to_micros(s: &str) -> i64 {
    let (date, time) = s.trim_end_matches('Z').split_once('T').unwrap();
    let p: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let (y, m, d) = (p[0], p[1], p[2]);
    // days from civil (Howard Hinnant)
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400_000_000 + micros_of_day(time)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_mapped_type_equals_what_postgres_returns() {
    let pg = PgCluster::start();
    let db = pg.create_db("types").await;
    db.batch_execute(DDL).await.unwrap();
    for row in ROWS {
        db.batch_execute(&format!("INSERT INTO every VALUES {row}"))
            .await
            .unwrap();
    }
    let work = tempfile::tempdir().unwrap();
    let mut cap = Capture::start(work.path(), &pg.connector("types", "types", json!({})));
    // Snapshot rows first, then the same rows again through the stream (ids + 100).
    let snap = cap.wait_lines(ROWS.len(), T).await;
    db.batch_execute("INSERT INTO every SELECT id + 100, c_int2, c_int4, c_int8, c_float4, c_float8, c_bool,
        c_numeric, c_numeric_big, c_numeric_var, c_text, c_varchar, c_char, c_bytea, c_date, c_time, c_time3,
        c_timetz, c_ts, c_ts3, c_tstz, c_interval, c_uuid, c_json, c_jsonb, c_xml, c_mood, c_int_arr,
        c_text_arr, c_inet, c_cidr, c_mac, c_money, c_dom FROM every ORDER BY id")
        .await
        .unwrap();
    let all = cap.wait_lines(2 * ROWS.len(), T).await;
    assert!(snap.iter().all(|l| l["value"]["op"] == "r"));
    for line in &all {
        let id = line["key"]["id"].as_i64().unwrap() as i32;
        let after = line["value"]["after"].as_object().unwrap().clone();
        let mut want = expected(&db, id).await;
        want.insert("id".into(), json!(id));
        if line["value"]["op"] == "r" {
            want.insert("c_date".into(), snapshot_date(&db, id).await);
        }
        let got = normalize(after);
        for (col, w) in &want {
            assert_eq!(
                got.get(col),
                Some(w),
                "row {id} ({}) column {col}",
                line["value"]["op"]
            );
        }
        assert_eq!(got.len(), want.len(), "row {id}: {got:?}");
    }
}
