//! Typed log sequence numbers and the durable-LSN handle.
//!
//! A Postgres LSN is a 64-bit byte position in the WAL, printed as two hex halves
//! (`16/B374D848`). Tributary never passes a bare `u64` between modules: positions are
//! [`Lsn`], and the position that downstream has made durable travels through a
//! [`DurableLsn`] handle whose value can only move forward. The replication stream reads
//! that handle when it sends standby status updates, so Postgres is only ever told about
//! what the sink side has really committed.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A position in the Postgres write-ahead log.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(pub u64);

impl Lsn {
    /// The invalid / unset position (`0/0`).
    pub const ZERO: Lsn = Lsn(0);

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

impl fmt::Debug for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Lsn({self})")
    }
}

impl From<u64> for Lsn {
    fn from(v: u64) -> Self {
        Lsn(v)
    }
}

/// Error for a string that is not an `X/Y` LSN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid LSN {0:?}: expected two hexadecimal halves like 16/B374D848")]
pub struct ParseLsnError(pub String);

impl FromStr for Lsn {
    type Err = ParseLsnError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseLsnError(s.to_string());
        let (hi, lo) = s.split_once('/').ok_or_else(err)?;
        if hi.is_empty() || lo.is_empty() || hi.len() > 8 || lo.len() > 8 {
            return Err(err());
        }
        let hi = u32::from_str_radix(hi, 16).map_err(|_| err())?;
        let lo = u32::from_str_radix(lo, 16).map_err(|_| err())?;
        Ok(Lsn((u64::from(hi) << 32) | u64::from(lo)))
    }
}

impl serde::Serialize for Lsn {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// Reads `"X/Y"` text, or a plain integer: Debezium stores `lsn` in its offsets as a
/// number, so an offset written by Debezium (or a Debezium-style `PATCH …/offsets`) reads
/// as it is. Serializing always writes `"X/Y"`.
impl<'de> serde::Deserialize<'de> for Lsn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct LsnVisitor;

        impl serde::de::Visitor<'_> for LsnVisitor {
            type Value = Lsn;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an LSN like \"16/B374D848\" or a non-negative integer")
            }

            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Lsn, E> {
                s.parse().map_err(E::custom)
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Lsn, E> {
                Ok(Lsn(v))
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Lsn, E> {
                u64::try_from(v)
                    .map(Lsn)
                    .map_err(|_| E::custom(format!("invalid LSN {v}: it must not be negative")))
            }
        }

        d.deserialize_any(LsnVisitor)
    }
}

/// A shared, monotonically advancing LSN: the position up to which every change has been
/// made durable downstream. The sink side calls [`DurableLsn::advance`]; the replication
/// stream reads [`DurableLsn::get`] when it reports `flush` to Postgres.
#[derive(Clone, Debug, Default)]
pub struct DurableLsn(Arc<AtomicU64>);

impl DurableLsn {
    pub fn new(start: Lsn) -> Self {
        DurableLsn(Arc::new(AtomicU64::new(start.0)))
    }

    /// Moves the durable position forward to `lsn`. A smaller value is ignored: progress
    /// never moves backward. Returns the position after the call.
    pub fn advance(&self, lsn: Lsn) -> Lsn {
        let prev = self.0.fetch_max(lsn.0, Ordering::AcqRel);
        Lsn(prev.max(lsn.0))
    }

    pub fn get(&self) -> Lsn {
        Lsn(self.0.load(Ordering::Acquire))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_displays_and_parses_in_postgres_form() {
        let lsn = Lsn(0x16_B374_D848);
        assert_eq!(lsn.to_string(), "16/B374D848");
        assert_eq!("16/B374D848".parse::<Lsn>().unwrap(), lsn);
        assert_eq!("0/0".parse::<Lsn>().unwrap(), Lsn::ZERO);
        assert!("16B374D848".parse::<Lsn>().is_err());
        assert!("/1".parse::<Lsn>().is_err());
        assert!("1/123456789".parse::<Lsn>().is_err());
    }

    #[test]
    fn lsn_reads_text_or_debeziums_integer_and_writes_text() {
        let lsn = Lsn(0x16_B374_D848);
        let from_text: Lsn = serde_json::from_str("\"16/B374D848\"").unwrap();
        let from_number: Lsn =
            serde_json::from_value(serde_json::json!(0x16_B374_D848u64)).unwrap();
        assert_eq!(from_text, lsn);
        assert_eq!(from_number, lsn);
        assert_eq!(serde_json::to_string(&lsn).unwrap(), "\"16/B374D848\"");
        let err = serde_json::from_str::<Lsn>("-1").unwrap_err().to_string();
        assert!(err.contains("must not be negative"), "{err}");
        assert!(serde_json::from_str::<Lsn>("\"nope\"").is_err());
        assert!(serde_json::from_str::<Lsn>("1.5").is_err());
    }

    #[test]
    fn durable_lsn_never_moves_backward() {
        let d = DurableLsn::new(Lsn(10));
        assert_eq!(d.advance(Lsn(20)), Lsn(20));
        assert_eq!(d.advance(Lsn(15)), Lsn(20));
        assert_eq!(d.get(), Lsn(20));
    }

    proptest::proptest! {
        #[test]
        fn lsn_text_round_trips(v: u64) {
            proptest::prop_assert_eq!(Lsn(v).to_string().parse::<Lsn>().unwrap(), Lsn(v));
        }
    }
}
