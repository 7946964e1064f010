//! Debezium's `PartitionRouting` (`io.debezium.transforms.partitions.PartitionRouting`,
//! 3.6): a change event's partition from a hash of payload fields (`after.id`,
//! `source.table`, `change.name` — `change` is `before` for a delete, `after` otherwise),
//! by Java's `hashCode` or Debezium's MurmurHash3.

use num_bigint::BigInt;
use tributary_core::{Schema, SchemaType, Value};

use super::util;
use super::{Built, Settings, Transform};
use crate::config::Findings;
use crate::record::Record;

const CLASS: &str = "io.debezium.transforms.partitions.PartitionRouting";
const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
const DATE: &str = "org.apache.kafka.connect.data.Date";
const DAY_MS: i64 = 86_400_000;

pub(super) fn build(class: &str, s: &Settings<'_>, found: &mut Findings) -> Option<Built> {
    (class == CLASS).then(|| {
        PartitionRouting::configure(s, found)
            .map(|t| ("PartitionRouting", Box::new(t) as Box<dyn Transform>))
    })
}

struct PartitionRouting {
    /// Each configured field, split at dots.
    fields: Vec<Vec<String>>,
    partitions: i32,
    murmur: bool,
}

impl PartitionRouting {
    fn configure(s: &Settings<'_>, found: &mut Findings) -> Result<Self, ()> {
        let mut ok = s.only(
            found,
            &[
                "partition.payload.fields",
                "partition.topic.num",
                "partition.hash.function",
            ],
        );
        let raw = s
            .required(found, "partition.payload.fields")
            .unwrap_or_default();
        let fields: Vec<Vec<String>> = raw
            .split(',')
            .map(|f| f.trim().split('.').map(|p| p.trim().to_owned()).collect())
            .collect();
        if !raw.is_empty() && fields.iter().any(|f| f.iter().all(String::is_empty)) {
            found.error(
                &s.field("partition.payload.fields"),
                "has an empty element: list field names separated by commas",
            );
            ok = false;
        }
        let partitions = match s.required(found, "partition.topic.num") {
            None => None,
            Some(n) => match n.parse::<i32>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    found.error(
                        &s.field("partition.topic.num"),
                        format!("{n:?} is not a positive integer"),
                    );
                    None
                }
            },
        };
        // Debezium falls back to java for any other name; Tributary refuses it rather
        // than hash other than as asked.
        let murmur = match s
            .get("partition.hash.function")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("java") => false,
            Some("murmur") => true,
            Some(other) => {
                found.error(
                    &s.field("partition.hash.function"),
                    format!("{other:?} is not java or murmur"),
                );
                ok = false;
                false
            }
        };
        match partitions {
            Some(partitions) if ok && !raw.is_empty() => Ok(PartitionRouting {
                fields,
                partitions,
                murmur,
            }),
            _ => Err(()),
        }
    }

    /// `toValue`: the field's schema and value, `None` when the record has no such field
    /// (or it is null); an error when the path goes through a null struct, as Java's
    /// `NullPointerException` fails the record.
    fn lookup<'a>(
        path: &[String],
        schema: &'a Schema,
        values: &'a [Value],
    ) -> Result<Option<(&'a Schema, &'a Value)>, String> {
        let op = util::index(schema, "op").and_then(|i| values[i].as_str());
        let (mut schema, mut values) = (schema, values);
        for (depth, part) in path.iter().enumerate() {
            let part = if part == "change" && depth + 1 < path.len() {
                if op == Some("d") { "before" } else { "after" }
            } else {
                part.as_str()
            };
            let Some(i) = util::index(schema, part) else {
                return Ok(None);
            };
            let field = &schema.fields()[i];
            let v = &values[i];
            let v = match (v, &field.schema.default) {
                (Value::Null, Some(d)) => d,
                _ => v,
            };
            if depth + 1 == path.len() {
                return Ok((!v.is_null()).then_some((&field.schema, v)));
            }
            if !matches!(field.schema.ty, SchemaType::Struct(_)) {
                return Ok(None);
            }
            match v {
                Value::Struct(inner) => (schema, values) = (&field.schema, inner),
                _ => {
                    return Err(format!(
                        "Unprocessable message: {part} is null, so {} cannot be read",
                        path.join(".")
                    ));
                }
            }
        }
        Ok(None)
    }

    fn hash(&self, schema: &Schema, v: &Value) -> i32 {
        if self.murmur {
            match v {
                Value::Bytes(b) if schema.name.as_deref() != Some(DECIMAL) => murmur3_32(b),
                Value::String(s) => murmur3_32(s.as_bytes()),
                _ => murmur3_32(&java_hash(schema, v).to_le_bytes()),
            }
        } else {
            java_hash(schema, v)
        }
    }
}

impl Transform for PartitionRouting {
    fn apply(&mut self, mut r: Record) -> Result<Option<Record>, String> {
        let envelope = util::is_envelope(r.value_schema.as_ref());
        let (true, Some(schema), Some(Value::Struct(values))) =
            (envelope, r.value_schema.as_deref(), r.value.as_ref())
        else {
            return Ok(Some(r));
        };
        let op = util::index(schema, "op").and_then(|i| values[i].as_str());
        if matches!(op, Some("t" | "m")) {
            return Ok(Some(r));
        }
        let mut total = 0i32;
        let mut found = false;
        for path in &self.fields {
            if let Some((s, v)) = Self::lookup(path, schema, values)? {
                total = total.wrapping_add(self.hash(s, v));
                found = true;
            }
        }
        if !found {
            return Ok(Some(r));
        }
        let mut normalized = total & i32::MAX;
        if normalized == i32::MAX {
            normalized = 0;
        }
        r.partition = Some(normalized % self.partitions);
        Ok(Some(r))
    }
}

/// `Object.hashCode()` of the Java object Kafka Connect holds for `v`. Two cannot be
/// reproduced, and are hashed deterministically instead: a byte array's (Java's is its
/// identity) and a struct's (Java's mixes in its schema type's identity hash, so it
/// changes with every JVM start).
pub(crate) fn java_hash(schema: &Schema, v: &Value) -> i32 {
    let long = |n: i64| (n ^ ((n as u64) >> 32) as i64) as i32;
    match v {
        Value::Null => 0,
        Value::Boolean(b) => {
            if *b {
                1231
            } else {
                1237
            }
        }
        Value::Int8(n) => i32::from(*n),
        Value::Int16(n) => i32::from(*n),
        // A Connect Date or Time is a `java.util.Date`: its millisecond hash.
        Value::Int32(n) if schema.name.as_deref() == Some(DATE) => long(i64::from(*n) * DAY_MS),
        Value::Int32(n) if schema.name.as_deref() == Some("org.apache.kafka.connect.data.Time") => {
            long(i64::from(*n))
        }
        Value::Int32(n) => *n,
        Value::Int64(n) => long(*n),
        Value::Float32(f) => {
            let bits = if f.is_nan() { 0x7fc0_0000 } else { f.to_bits() };
            bits as i32
        }
        Value::Float64(f) => {
            let bits = if f.is_nan() {
                0x7ff8_0000_0000_0000
            } else {
                f.to_bits()
            };
            long(bits as i64)
        }
        Value::String(s) => s
            .encode_utf16()
            .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c))),
        Value::Bytes(b) if schema.name.as_deref() == Some(DECIMAL) => {
            let scale: i32 = schema
                .parameters
                .get("scale")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            big_integer_hash(&BigInt::from_signed_bytes_be(b))
                .wrapping_mul(31)
                .wrapping_add(scale)
        }
        Value::Bytes(b) => b.iter().fold(1i32, |h, &x| {
            h.wrapping_mul(31).wrapping_add(i32::from(x as i8))
        }),
        Value::Array(items) => {
            let item = match &schema.ty {
                SchemaType::Array(item) => item.as_ref(),
                _ => schema,
            };
            items.iter().fold(1i32, |h, e| {
                h.wrapping_mul(31).wrapping_add(java_hash(item, e))
            })
        }
        Value::Map(entries) => {
            let (ks, vs) = match &schema.ty {
                SchemaType::Map(k, v) => (k.as_ref(), v.as_ref()),
                _ => (schema, schema),
            };
            entries.iter().fold(0i32, |h, (k, v)| {
                h.wrapping_add(java_hash(ks, k) ^ java_hash(vs, v))
            })
        }
        Value::Struct(values) => schema.fields().iter().zip(values).fold(1i32, |h, (f, v)| {
            h.wrapping_mul(31).wrapping_add(java_hash(&f.schema, v))
        }),
    }
}

/// `BigInteger.hashCode()`: its magnitude's 32-bit words, most significant first, times
/// its sign.
fn big_integer_hash(n: &BigInt) -> i32 {
    let (sign, words) = n.to_u32_digits();
    let h = words
        .iter()
        .rev()
        .fold(0i32, |h, &w| h.wrapping_mul(31).wrapping_add(w as i32));
    match sign {
        num_bigint::Sign::Minus => h.wrapping_neg(),
        num_bigint::Sign::NoSign => 0,
        num_bigint::Sign::Plus => h,
    }
}

/// Debezium's `MurmurHash3.hash(byte[])`: the x64 64-bit variant with seed 9001, its high
/// 32 bits.
fn murmur3_32(key: &[u8]) -> i32 {
    struct State {
        h1: u64,
        h2: u64,
        k1: u64,
        k2: u64,
        c1: u64,
        c2: u64,
    }
    fn bmix(s: &mut State) {
        s.k1 = s.k1.wrapping_mul(s.c1);
        s.k1 = s.k1.rotate_left(23);
        s.k1 = s.k1.wrapping_mul(s.c2);
        s.h1 ^= s.k1;
        s.h1 = s.h1.wrapping_add(s.h2);
        s.h2 = s.h2.rotate_left(41);
        s.k2 = s.k2.wrapping_mul(s.c2);
        s.k2 = s.k2.rotate_left(23);
        s.k2 = s.k2.wrapping_mul(s.c1);
        s.h2 ^= s.k2;
        s.h2 = s.h2.wrapping_add(s.h1);
        s.h1 = s.h1.wrapping_mul(3).wrapping_add(0x52dc_e729);
        s.h2 = s.h2.wrapping_mul(3).wrapping_add(0x3849_5ab5);
        s.c1 = s.c1.wrapping_mul(5).wrapping_add(0x7b7d_159c);
        s.c2 = s.c2.wrapping_mul(5).wrapping_add(0x6bce_6396);
    }
    fn fmix(mut k: u64) -> u64 {
        k ^= k >> 33;
        k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
        k ^= k >> 33;
        k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        k ^= k >> 33;
        k
    }
    const SEED: u64 = 9001;
    let mut s = State {
        h1: 0x9368_e53c_2f6a_f274 ^ SEED,
        h2: 0x586d_cd20_8f7c_d3fd ^ SEED,
        k1: 0,
        k2: 0,
        c1: 0x87c3_7b91_1142_53d5,
        c2: 0x4cf5_ad43_2745_937f,
    };
    let block = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
    let mut chunks = key.chunks_exact(16);
    for c in &mut chunks {
        s.k1 = block(&c[..8]);
        s.k2 = block(&c[8..]);
        bmix(&mut s);
    }
    let tail = chunks.remainder();
    s.k1 = 0;
    s.k2 = 0;
    if !tail.is_empty() {
        // Java shifts sign-extended bytes: `(long) key[i] << n`.
        let byte = |i: usize| tail[i] as i8 as i64 as u64;
        for i in (8..tail.len()).rev() {
            s.k2 ^= byte(i) << ((i - 8) * 8);
        }
        for i in (0..tail.len().min(8)).rev() {
            s.k1 ^= byte(i) << (i * 8);
        }
        bmix(&mut s);
    }
    s.h2 ^= key.len() as u64;
    s.h1 = s.h1.wrapping_add(s.h2);
    s.h2 = s.h2.wrapping_add(s.h1);
    s.h1 = fmix(s.h1);
    s.h2 = fmix(s.h2);
    s.h1 = s.h1.wrapping_add(s.h2);
    (s.h1 >> 32) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_hash_codes() {
        let s = Schema::string();
        assert_eq!(java_hash(&s, &Value::String("hello".into())), 99_162_322);
        assert_eq!(java_hash(&Schema::int64(), &Value::Int64(-1)), 0);
        assert_eq!(java_hash(&Schema::int64(), &Value::Int64(1 << 32)), 1);
        assert_eq!(
            java_hash(&Schema::float64(), &Value::Float64(1.5)),
            1_073_217_536
        );
        let dec = Schema::bytes().named(DECIMAL).param("scale", "2");
        // new BigDecimal("-1.05").hashCode(): 31 * -105 + 2.
        assert_eq!(java_hash(&dec, &Value::Bytes(vec![0xff, 0x97])), -3253);
    }
}
