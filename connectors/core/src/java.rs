//! Java behaviour that Debezium's output depends on.

/// Java's `String.hashCode()`: over UTF-16 code units, wrapping.
fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(i32::from(u)))
}

/// The order in which a `java.util.HashMap` filled with `keys` (in this order, duplicates
/// replacing earlier entries in place) iterates them: indexes into `keys`.
///
/// A `HashMap` of default capacity doubles from 16 whenever its size passes 3/4 of it; it
/// iterates bucket by bucket (`(h ^ h >>> 16) & (capacity - 1)`), and within a bucket in
/// insertion order, which resizing keeps. (Buckets of more than 8 entries turn into trees
/// ordered otherwise; a map of at least 64 buckets would need 9 keys in one bucket for that,
/// which hstore values do not reach in practice.)
pub fn hash_order(keys: &[&str]) -> Vec<usize> {
    let mut seen: Vec<(usize, i32)> = Vec::with_capacity(keys.len());
    for (i, k) in keys.iter().enumerate() {
        let h = java_string_hash(k);
        match seen.iter().position(|(j, _)| keys[*j] == *k) {
            // A repeated key keeps its first position but takes the later value.
            Some(p) => seen[p].0 = i,
            None => seen.push((i, h)),
        }
    }
    let mut capacity = 16usize;
    while seen.len() > capacity * 3 / 4 {
        capacity *= 2;
    }
    let bucket = |h: i32| ((h ^ ((h as u32) >> 16) as i32) as u32 as usize) & (capacity - 1);
    let mut order: Vec<(usize, usize, usize)> = seen
        .iter()
        .enumerate()
        .map(|(insertion, (i, h))| (bucket(*h), insertion, *i))
        .collect();
    order.sort_unstable();
    order.into_iter().map(|(_, _, i)| i).collect()
}

/// The order in which `new HashMap<Short, V>(keys.len())` filled with distinct `keys` (in
/// this order) iterates them: indexes into `keys`. The table starts at the next power of
/// two of the initial capacity and doubles while the size passes 3/4 of it; a `Short`
/// hashes to its value.
pub fn short_hash_order(keys: &[i16]) -> Vec<usize> {
    let mut capacity = keys.len().max(1).next_power_of_two();
    while keys.len() > capacity * 3 / 4 {
        capacity *= 2;
    }
    let bucket = |k: i16| {
        let h = i32::from(k);
        ((h ^ ((h as u32) >> 16) as i32) as u32 as usize) & (capacity - 1)
    };
    let mut order: Vec<(usize, usize)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (bucket(*k), i))
        .collect();
    order.sort_unstable();
    order.into_iter().map(|(_, i)| i).collect()
}

/// `text.split(sep)` (limit 0) for a separator of one literal character: text without
/// the separator is one piece (even when empty), and trailing empty pieces are dropped.
pub fn split(text: &str, sep: char) -> Vec<&str> {
    let mut parts: Vec<&str> = text.split(sep).collect();
    if parts.len() > 1 {
        while parts.last() == Some(&"") {
            parts.pop();
        }
    }
    parts
}

/// `Double.parseDouble(text)`: `None` where Java throws `NumberFormatException`.
/// Hexadecimal floating-point literals are not read.
pub fn parse_double(text: &str) -> Option<f64> {
    parse_java_float(text, f64::NAN, f64::INFINITY)
}

/// `Float.parseFloat(text)`, as [`parse_double`] for `float`.
pub fn parse_float(text: &str) -> Option<f32> {
    parse_java_float(text, f32::NAN, f32::INFINITY)
}

fn parse_java_float<T>(text: &str, nan: T, infinity: T) -> Option<T>
where
    T: std::str::FromStr + std::ops::Neg<Output = T>,
{
    let (negative, body) = java_float_text(text)?;
    let v = match body {
        "NaN" => nan,
        "Infinity" => infinity,
        _ => body.parse().ok()?,
    };
    Some(if negative { -v } else { v })
}

/// The sign and unsigned body of a Java floating-point literal (whitespace trimmed, a
/// `f`/`d` suffix dropped), refusing what Java refuses and Rust would read (`inf`, `nan`).
fn java_float_text(text: &str) -> Option<(bool, &str)> {
    let t = text.trim_matches(|c: char| c <= ' ');
    let (negative, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if matches!(body, "NaN" | "Infinity") {
        return Some((negative, body));
    }
    let body = body.strip_suffix(['f', 'F', 'd', 'D']).unwrap_or(body);
    let starts_right = body.starts_with(|c: char| c.is_ascii_digit() || c == '.');
    let only_decimal = body
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    (starts_right && only_decimal).then_some((negative, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_drops_trailing_empty_pieces_as_java_does() {
        assert_eq!(split("", ','), [""]);
        assert_eq!(split("1,2,", ','), ["1", "2"]);
        assert_eq!(split(",", ','), Vec::<&str>::new());
        assert_eq!(split(",1", ','), ["", "1"]);
        assert_eq!(split("a/b/", '/'), ["a", "b"]);
    }

    #[test]
    fn doubles_parse_as_java_parses_them() {
        assert_eq!(parse_double(" 1.5 "), Some(1.5));
        assert_eq!(parse_double("-2e3d"), Some(-2000.0));
        assert_eq!(parse_double("+.5F"), Some(0.5));
        assert_eq!(parse_double("-Infinity"), Some(f64::NEG_INFINITY));
        assert!(parse_double("NaN").unwrap().is_nan());
        for refused in ["", "inf", "nan", "infinity", "x", "1,5", "+-1", "e5", "1e"] {
            assert_eq!(parse_double(refused), None, "{refused:?}");
        }
        assert_eq!(parse_float("0.1"), Some(0.1f32));
    }

    #[test]
    fn short_keys_iterate_by_bucket_of_a_sized_map() {
        // As printed by Java 17 for `new HashMap<Short, Double>(n)` filled in this order:
        // [5, 9, 2] (4 buckets; 5 and 9 share bucket 1) and [9, 2, 3, 5] (grown to 8).
        assert_eq!(short_hash_order(&[2, 5, 9]), [1, 2, 0]);
        assert_eq!(short_hash_order(&[2, 5, 9, 3]), [2, 0, 3, 1]);
        assert_eq!(short_hash_order(&[1, 2, 3]), [0, 1, 2]);
        assert_eq!(short_hash_order(&[]), Vec::<usize>::new());
    }

    #[test]
    fn java_hashmap_order_matches_a_jvm() {
        // Printed by `new HashMap<>()` filled with these keys in this order on Java 17.
        let keys = ["b", "a", "c d", "zz", "key10", "key2"];
        let order: Vec<&str> = hash_order(&keys).into_iter().map(|i| keys[i]).collect();
        assert_eq!(order, ["zz", "a", "key2", "b", "c d", "key10"]);
        // Forty keys: the map has grown to 64 buckets.
        let many: Vec<String> = (0..40).map(|i| format!("k{}", i * 7919 % 1000)).collect();
        let keys: Vec<&str> = many.iter().map(String::as_str).collect();
        let order: Vec<&str> = hash_order(&keys).into_iter().map(|i| keys[i]).collect();
        assert_eq!(
            order.join(","),
            "k947,k408,k704,k190,k56,k380,k165,k461,k785,k246,k542,k489,k841,k866,k327,k623,\
             k109,k922,k838,k0,k84,k919,k3,k271,k28,k570,k352,k299,k651,k595,k433,k894,k732,\
             k676,k137,k514,k975,k813,k757,k218"
        );
    }
}
