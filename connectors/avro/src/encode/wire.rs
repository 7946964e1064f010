//! Avro binary primitives: zigzag varints, length-prefixed bytes, little-endian floats.

/// Union branch 0 (`null` in `["null", T]`), as its zigzag varint.
pub(crate) const BRANCH_0: u8 = 0;
/// Union branch 1 (`T` in `["null", T]`), as its zigzag varint.
pub(crate) const BRANCH_1: u8 = 2;

/// An Avro `long` (or `int`): zigzag, then a little-endian base-128 varint.
#[inline]
pub(crate) fn long(out: &mut Vec<u8>, v: i64) {
    let mut n = ((v << 1) ^ (v >> 63)) as u64;
    if n < 0x80 {
        out.push(n as u8);
        return;
    }
    let mut buf = [0u8; 10];
    let mut i = 0;
    while n >= 0x80 {
        buf[i] = (n as u8) | 0x80;
        n >>= 7;
        i += 1;
    }
    buf[i] = n as u8;
    out.extend_from_slice(&buf[..=i]);
}

/// Avro `bytes` / `string`: the length as a `long`, then the bytes.
#[inline]
pub(crate) fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    long(out, b.len() as i64);
    out.extend_from_slice(b);
}

#[inline]
pub(crate) fn string(out: &mut Vec<u8>, s: &str) {
    bytes(out, s.as_bytes());
}

/// An optional `long` in `["null","long"]`.
#[inline]
pub(crate) fn opt_long(out: &mut Vec<u8>, v: Option<i64>) {
    match v {
        Some(v) => {
            out.push(BRANCH_1);
            long(out, v);
        }
        None => out.push(BRANCH_0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longs_are_zigzag_varints() {
        let enc = |v: i64| {
            let mut out = Vec::new();
            long(&mut out, v);
            out
        };
        assert_eq!(enc(0), [0]);
        assert_eq!(enc(-1), [1]);
        assert_eq!(enc(1), [2]);
        assert_eq!(enc(-64), [0x7f]);
        assert_eq!(enc(64), [0x80, 0x01]);
        assert_eq!(
            enc(i64::MAX),
            [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]
        );
        assert_eq!(
            enc(i64::MIN),
            [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]
        );
    }
}
