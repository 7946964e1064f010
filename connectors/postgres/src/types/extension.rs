//! Values of the types Debezium maps to structures or JSON: `hstore` (as JSON text or a
//! map), `point` (`io.debezium.data.geometry.Point`) and PostGIS `geometry`/`geography`
//! (`io.debezium.data.geometry.Geometry`/`Geography`: the EWKB and its SRID).
//!
//! Debezium reads an `hstore` into a Java `HashMap` (pgjdbc's `HStoreConverter`), and both
//! its JSON text and its Connect map follow that map's iteration order. [`java_hash_order`]
//! reproduces that order, so the bytes on the topic are the same as Debezium's.

use tributary_core::Value;

use tributary_core::java::{self, hash_order as java_hash_order};

use super::binary::decode_hex;

/// Parses `hstore` text output (`"a"=>"1", "b"=>NULL`) into its pairs, in text order.
pub(crate) fn parse_hstore(text: &str) -> Result<Vec<(String, Option<String>)>, String> {
    let mut pairs = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let (key, after) = hstore_item(rest)?;
        let key = key.ok_or("an hstore key cannot be NULL")?;
        rest = after
            .trim_start()
            .strip_prefix("=>")
            .ok_or("expected => after an hstore key")?
            .trim_start();
        let (value, after) = hstore_item(rest)?;
        pairs.push((key, value));
        rest = after.trim_start();
        if let Some(r) = rest.strip_prefix(',') {
            rest = r.trim_start();
        } else if !rest.is_empty() {
            return Err("expected , between hstore pairs".into());
        }
    }
    Ok(pairs)
}

/// One quoted string (or the bare `NULL`) at the start of `text`.
fn hstore_item(text: &str) -> Result<(Option<String>, &str), String> {
    if let Some(rest) = text.strip_prefix("NULL") {
        return Ok((None, rest));
    }
    let body = text
        .strip_prefix('"')
        .ok_or("expected a quoted hstore string")?;
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => out.push(chars.next().ok_or("unterminated escape in hstore")?.1),
            '"' => return Ok((Some(out), &body[i + 1..])),
            c => out.push(c),
        }
    }
    Err("unterminated hstore string".into())
}

/// `hstore.handling.mode=json`: a JSON object text, `{"a":"1","b":null}`, in `HashMap` order.
pub(crate) fn hstore_json(text: &str) -> Result<Value, String> {
    let pairs = parse_hstore(text)?;
    let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    let mut out = String::with_capacity(text.len() + 2);
    out.push('{');
    for (n, i) in java_hash_order(&keys).into_iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        let (k, v) = &pairs[i];
        out.push_str(&serde_json::to_string(k).expect("a string serialises"));
        out.push(':');
        match v {
            Some(v) => out.push_str(&serde_json::to_string(v).expect("a string serialises")),
            None => out.push_str("null"),
        }
    }
    out.push('}');
    Ok(Value::String(out))
}

/// `hstore.handling.mode=map`: a Connect map of strings, in `HashMap` order.
pub(crate) fn hstore_map(text: &str) -> Result<Value, String> {
    let pairs = parse_hstore(text)?;
    let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    let order = java_hash_order(&keys);
    Ok(Value::Map(
        order
            .into_iter()
            .map(|i| {
                let (k, v) = &pairs[i];
                (
                    Value::String(k.clone()),
                    v.clone().map_or(Value::Null, Value::String),
                )
            })
            .collect(),
    ))
}

/// The WKB of a 2-D point as Debezium's `Point.buildWKBPoint` writes it (little endian).
fn wkb_point(x: f64, y: f64) -> Vec<u8> {
    let mut wkb = Vec::with_capacity(21);
    wkb.push(1);
    wkb.extend_from_slice(&1u32.to_le_bytes());
    wkb.extend_from_slice(&x.to_le_bytes());
    wkb.extend_from_slice(&y.to_le_bytes());
    wkb
}

/// `point` text `(x,y)` → `io.debezium.data.geometry.Point` `{x, y, wkb, srid}`.
pub(crate) fn point(text: &str) -> Result<Value, String> {
    let inner = text
        .trim()
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or("expected (x,y)")?;
    let (x, y) = inner.split_once(',').ok_or("expected (x,y)")?;
    let parse = |s: &str| -> Result<f64, String> {
        match s.trim() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            s => s.parse().map_err(|_| format!("{s:?} is not a coordinate")),
        }
    };
    let (x, y) = (parse(x)?, parse(y)?);
    Ok(Value::Struct(vec![
        Value::Float64(x),
        Value::Float64(y),
        Value::Bytes(wkb_point(x, y)),
        Value::Null,
    ]))
}

/// PostGIS text output (hex EWKB) → `{wkb, srid}`: the EWKB bytes as they are, and the
/// SRID when the EWKB carries one (Debezium's `PostgisGeometry.fromHexEwkb`).
pub(crate) fn postgis(text: &str) -> Result<Value, String> {
    let ewkb = decode_hex(text.trim())?;
    if ewkb.len() < 9 {
        return Err("an EWKB value is at least 9 bytes".into());
    }
    let word = |at: usize| {
        let b: [u8; 4] = ewkb[at..at + 4].try_into().expect("4 bytes");
        if ewkb[0] != 0 {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    const EWKB_SRID: u32 = 0x2000_0000;
    let srid = if word(1) & EWKB_SRID != 0 {
        Value::Int32(word(5) as i32)
    } else {
        Value::Null
    };
    Ok(Value::Struct(vec![Value::Bytes(ewkb), srid]))
}

/// pgvector's `vector` / `halfvec` text `[1,2.5,3]` → Debezium's `DoubleVector` /
/// `FloatVector` (an array of `FLOAT64` / `FLOAT32`), read as its `Vectors.fromVectorString`
/// reads it: text without the brackets is NULL (after a warning), an element Java does
/// not read as a number is a conversion error.
pub(crate) fn vector(text: &str, half: bool) -> Result<Value, String> {
    let Some(inner) = text
        .trim()
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
    else {
        tracing::warn!(
            value = text,
            "cannot convert vector, expected format is [x,y,z,...]"
        );
        return Ok(Value::Null);
    };
    let not_number = |e: &str| format!("{e:?} is not a number");
    java::split(inner, ',')
        .into_iter()
        .map(|element| {
            let e = element.trim();
            if half {
                java::parse_float(e).map(Value::Float32)
            } else {
                java::parse_double(e).map(Value::Float64)
            }
            .ok_or_else(|| not_number(e))
        })
        .collect::<Result<_, _>>()
        .map(Value::Array)
}

/// pgvector's `sparsevec` text `{1:1.5,3:2}/5` → Debezium's `SparseDoubleVector`
/// `{dimensions, vector}`: the map of index to value in the order of the Java `HashMap`
/// Debezium fills. As its `Vectors.fromSparseVectorString`: text of another shape is NULL
/// (after a warning), an index, dimension count or value Java does not read is a
/// conversion error.
pub(crate) fn sparse_vector(text: &str) -> Result<Value, String> {
    let short = |s: &str| {
        s.trim()
            .parse::<i16>()
            .map_err(|_| format!("{:?} is not a 16-bit index or dimension count", s.trim()))
    };
    let malformed = || {
        tracing::warn!(
            value = text,
            "cannot convert sparse vector, expected format is {{i1:x,i2:y,i3:z,...}}/dimensions"
        );
        Ok(Value::Null)
    };
    let [entries, dimensions] = java::split(text.trim(), '/')[..] else {
        return malformed();
    };
    let dimensions = short(dimensions)?;
    let Some(inner) = entries
        .trim()
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
    else {
        return malformed();
    };
    let mut keys = Vec::new();
    let mut values = Vec::new();
    let inner = inner.trim();
    if !inner.is_empty() {
        for element in java::split(inner, ',') {
            let [index, value] = java::split(element, ':')[..] else {
                return malformed();
            };
            let (index, v) = (short(index)?, value.trim());
            let v = java::parse_double(v).ok_or_else(|| format!("{v:?} is not a number"))?;
            // A repeated index keeps its first place and takes the last value, as in a
            // Java map.
            match keys.iter().position(|&k| k == index) {
                Some(at) => values[at] = v,
                None => {
                    keys.push(index);
                    values.push(v);
                }
            }
        }
    }
    let map = java::short_hash_order(&keys)
        .into_iter()
        .map(|i| (Value::Int16(keys[i]), Value::Float64(values[i])))
        .collect();
    Ok(Value::Struct(vec![
        Value::Int16(dimensions),
        Value::Map(map),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Debezium's own examples (`VectorDatabaseIT`, pgvector's text output of its rows).
    #[test]
    fn pgvector_values_read_as_debezium_reads_them() {
        assert_eq!(
            vector("[1,2,3]", false).unwrap(),
            Value::Array(vec![
                Value::Float64(1.0),
                Value::Float64(2.0),
                Value::Float64(3.0)
            ])
        );
        assert_eq!(
            vector("[101,102,103]", true).unwrap(),
            Value::Array(vec![
                Value::Float32(101.0),
                Value::Float32(102.0),
                Value::Float32(103.0)
            ])
        );
        assert_eq!(
            sparse_vector("{1:201,9:209}/3000").unwrap(),
            Value::Struct(vec![
                Value::Int16(3000),
                Value::Map(vec![
                    (Value::Int16(1), Value::Float64(201.0)),
                    (Value::Int16(9), Value::Float64(209.0)),
                ])
            ])
        );
        assert_eq!(vector("1,2,3", false).unwrap(), Value::Null);
        assert_eq!(
            sparse_vector("{}/10").unwrap(),
            Value::Struct(vec![Value::Int16(10), Value::Map(Vec::new())])
        );
        assert_eq!(sparse_vector("{1:10}").unwrap(), Value::Null);
        assert!(sparse_vector("{1:10}/100000").is_err());
    }

    #[test]
    fn hstore_text_parses_quotes_escapes_and_null() {
        let pairs = parse_hstore(r#""a"=>"1", "b"=>NULL, "c \"d\""=>"e\\f""#).unwrap();
        assert_eq!(
            pairs,
            vec![
                ("a".into(), Some("1".into())),
                ("b".into(), None),
                ("c \"d\"".into(), Some("e\\f".into())),
            ]
        );
        assert_eq!(parse_hstore("").unwrap(), vec![]);
        assert!(parse_hstore(r#""a"=>"#).is_err());
    }

    #[test]
    fn point_wkb_is_little_endian_point() {
        let Value::Struct(f) = point("(1.5,-2)").unwrap() else {
            panic!()
        };
        assert_eq!(f[0], Value::Float64(1.5));
        let Value::Bytes(wkb) = &f[2] else { panic!() };
        assert_eq!(&wkb[..5], &[1, 1, 0, 0, 0]);
        assert_eq!(wkb.len(), 21);
    }

    #[test]
    fn postgis_srid_is_read_from_the_ewkb() {
        // SELECT 'SRID=4326;POINT(1 2)'::geometry
        let Value::Struct(f) =
            postgis("0101000020E6100000000000000000F03F0000000000000040").unwrap()
        else {
            panic!()
        };
        assert_eq!(f[1], Value::Int32(4326));
        let Value::Struct(f) = postgis("0101000000000000000000F03F0000000000000040").unwrap()
        else {
            panic!()
        };
        assert_eq!(f[1], Value::Null);
    }
}
