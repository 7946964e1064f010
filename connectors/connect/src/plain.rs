//! Kafka's `StringConverter` (a value's Java `toString()`, UTF-8) and `ByteArrayConverter`
//! (a bytes value as it is).
//!
//! `toString()` is Java's for the objects Kafka Connect holds: numbers and booleans as Java
//! prints them, a struct as `Struct{name=value,…}` without its null fields, a list as
//! `[a, b]`, a map as `{k=v, …}`, a decimal as `BigDecimal.toString()`, Connect's `Date`,
//! `Time` and `Timestamp` as `java.util.Date.toString()` on a JVM in UTC
//! (`Thu Jan 01 00:00:00 UTC 1970`). Two cannot be matched, as Java prints them by object
//! identity or hash order: a bytes value (Java prints `[B@1b6d3586`; Tributary its base64)
//! and the order of a map's entries (Java's `HashMap` order; Tributary keeps the map's).

use tributary_core::{Schema, SchemaType, Value};

use crate::json::jackson;

/// Kafka's `StringConverter`.
pub const STRING_CONVERTER: &str = "org.apache.kafka.connect.storage.StringConverter";
/// Kafka's `ByteArrayConverter`.
pub const BYTE_ARRAY_CONVERTER: &str = "org.apache.kafka.connect.converters.ByteArrayConverter";

const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
const DATE: &str = "org.apache.kafka.connect.data.Date";
const TIME: &str = "org.apache.kafka.connect.data.Time";
const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";

/// `StringConverter.fromConnectData`: nothing (Kafka's null) for a null.
pub fn write_string(buf: &mut Vec<u8>, schema: Option<&Schema>, value: Option<&Value>) {
    buf.clear();
    if let Some(v) = value.filter(|v| !v.is_null()) {
        let mut out = String::new();
        java_string(&mut out, schema, v);
        buf.extend_from_slice(out.as_bytes());
    }
}

/// `ByteArrayConverter.fromConnectData`: the bytes of a bytes value, nothing for a null;
/// any other schema or value is refused, as Kafka refuses it.
pub fn write_bytes(
    buf: &mut Vec<u8>,
    schema: Option<&Schema>,
    value: Option<&Value>,
) -> Result<(), String> {
    buf.clear();
    if let Some(s) = schema
        && s.ty != SchemaType::Bytes
    {
        return Err(format!(
            "Invalid schema type for ByteArrayConverter: {}",
            s.type_name().to_uppercase()
        ));
    }
    match value {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Bytes(b)) => {
            buf.extend_from_slice(b);
            Ok(())
        }
        Some(other) => Err(format!(
            "ByteArrayConverter is not compatible with objects of type {}",
            crate::transforms::java_class(other)
        )),
    }
}

/// A value's Java `toString()`.
pub fn java_string(out: &mut String, schema: Option<&Schema>, value: &Value) {
    let name = schema.and_then(|s| s.name.as_deref());
    match value {
        Value::Null => out.push_str("null"),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int8(n) => out.push_str(&n.to_string()),
        Value::Int16(n) => out.push_str(&n.to_string()),
        Value::Int32(n) if name == Some(DATE) => date(out, i64::from(*n) * 86_400_000),
        Value::Int32(n) if name == Some(TIME) => date(out, i64::from(*n)),
        Value::Int32(n) => out.push_str(&n.to_string()),
        Value::Int64(n) if name == Some(TIMESTAMP) => date(out, *n),
        Value::Int64(n) => out.push_str(&n.to_string()),
        Value::Float32(f) => java_float(out, f64::from(*f), |buf| jackson::write_f32(buf, *f)),
        Value::Float64(f) => java_float(out, *f, |buf| jackson::write_f64(buf, *f)),
        Value::String(s) => out.push_str(s),
        Value::Bytes(b) if name == Some(DECIMAL) => {
            let scale = schema
                .and_then(|s| s.parameters.get("scale"))
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let mut buf = Vec::new();
            jackson::write_decimal(&mut buf, b, scale);
            out.push_str(&String::from_utf8_lossy(&buf));
        }
        Value::Bytes(b) => {
            use base64::Engine as _;
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(b));
        }
        Value::Array(items) => {
            let item = schema.and_then(|s| match &s.ty {
                SchemaType::Array(i) => Some(i.as_ref()),
                _ => None,
            });
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                java_string(out, item, v);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            let (ks, vs) = match schema.map(|s| &s.ty) {
                Some(SchemaType::Map(k, v)) => (Some(k.as_ref()), Some(v.as_ref())),
                _ => (None, None),
            };
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                java_string(out, ks, k);
                out.push('=');
                java_string(out, vs, v);
            }
            out.push('}');
        }
        Value::Struct(values) => {
            out.push_str("Struct{");
            let fields = schema.map(Schema::fields).unwrap_or_default();
            let mut first = true;
            for (f, v) in fields.iter().zip(values).filter(|(_, v)| !v.is_null()) {
                if !first {
                    out.push(',');
                }
                first = false;
                out.push_str(&f.name);
                out.push('=');
                java_string(out, Some(&f.schema), v);
            }
            out.push('}');
        }
    }
}

/// Java's `Float.toString` / `Double.toString`: NaN and the infinities bare.
fn java_float(out: &mut String, v: f64, write: impl FnOnce(&mut Vec<u8>)) {
    let mut buf = Vec::new();
    write(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    out.push_str(if v.is_finite() {
        &text
    } else {
        text.trim_matches('"')
    });
}

/// `java.util.Date.toString()` in UTC: `EEE MMM dd HH:mm:ss zzz yyyy`.
fn date(out: &mut String, ms: i64) {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = tributary_core::calendar::java_date_from_days(days);
    // The year of its era: 1 BC is year 0 counted astronomically.
    let y = if y <= 0 { 1 - y } else { y };
    let secs = ms_of_day / 1000;
    out.push_str(&format!(
        "{} {} {d:02} {:02}:{:02}:{:02} UTC {y}",
        DAYS[(days + 4).rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_core::Field;
    use tributary_core::calendar::GREGORIAN_CUTOVER;

    #[test]
    fn structs_print_as_java_prints_them() {
        let schema = Schema::structure(
            "k",
            vec![
                Field::new("id", Schema::int64()),
                Field::new("gone", Schema::string().optional()),
                Field::new("at", Schema::int32().named(DATE)),
                Field::new("f", Schema::float64()),
                Field::new("tags", Schema::array(Schema::string())),
            ],
        );
        let v = Value::Struct(vec![
            Value::Int64(5),
            Value::Null,
            Value::Int32(19_000),
            Value::Float64(1e7),
            Value::Array(vec![Value::String("a".into()), Value::String("b".into())]),
        ]);
        let mut out = String::new();
        java_string(&mut out, Some(&schema), &v);
        assert_eq!(
            out,
            "Struct{id=5,at=Sat Jan 08 00:00:00 UTC 2022,f=1.0E7,tags=[a, b]}"
        );
        assert_eq!(
            tributary_core::calendar::days_from_civil(1582, 10, 15),
            GREGORIAN_CUTOVER
        );
        // The day before the cutover is 1582-10-04 in the Julian calendar.
        let mut out = String::new();
        date(&mut out, (GREGORIAN_CUTOVER - 1) * 86_400_000);
        assert_eq!(out, "Thu Oct 04 00:00:00 UTC 1582");
        let mut buf = Vec::new();
        assert!(write_bytes(&mut buf, Some(&Schema::int32()), Some(&Value::Int32(1))).is_err());
        write_bytes(&mut buf, None, Some(&Value::Bytes(vec![1, 2]))).unwrap();
        assert_eq!(buf, [1, 2]);
    }
}
