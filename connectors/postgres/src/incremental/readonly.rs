//! Read-only windows (`read.only=true`): no watermark rows. A window's rows are read in
//! one exported `REPEATABLE READ` snapshot whose visibility (`txid_current_snapshot()`)
//! and the WAL insert position `L` taken inside it bound the window instead. Every
//! transaction the snapshot saw commits before `L`; a streamed change of a transaction it
//! did not see makes that row stale; and once the stream has passed `L`, the rest is
//! emitted, followed by a checkpoint.

use std::collections::HashSet;

use tributary_core::Lsn;

/// What bounds a read-only window: the visibility of the snapshot its rows were read in,
/// and a WAL position after every commit that snapshot saw.
#[derive(Debug, Clone)]
pub struct Bound {
    pub visible: TxSnapshot,
    pub lsn: Lsn,
}

/// A `txid_snapshot` (`xmin:xmax:xip,…`), 64-bit transaction ids with their epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxSnapshot {
    xmin: u64,
    xmax: u64,
    xip: HashSet<u64>,
}

impl TxSnapshot {
    pub fn parse(text: &str) -> Option<TxSnapshot> {
        let mut parts = text.trim().split(':');
        let xmin = parts.next()?.parse().ok()?;
        let xmax = parts.next()?.parse().ok()?;
        let xip = match parts.next()? {
            "" => HashSet::new(),
            list => list
                .split(',')
                .map(str::parse)
                .collect::<Result<_, _>>()
                .ok()?,
        };
        Some(TxSnapshot { xmin, xmax, xip })
    }

    /// Whether the snapshot saw the committed top-level transaction `xid` (32 bits, as
    /// pgoutput sends it): its epoch is `xmax`'s, or the one before when it is above
    /// `xmax`'s low 32 bits.
    pub fn saw(&self, xid: u32) -> bool {
        let (epoch, low) = (self.xmax >> 32, self.xmax & 0xffff_ffff);
        let epoch = if u64::from(xid) > low {
            epoch.saturating_sub(1)
        } else {
            epoch
        };
        let full = (epoch << 32) | u64::from(xid);
        full < self.xmin || (full < self.xmax && !self.xip.contains(&full))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_sees_what_committed_before_it() {
        let s = TxSnapshot::parse("100:110:102,105").unwrap();
        assert!(s.saw(99) && s.saw(100) && s.saw(104));
        assert!(!s.saw(102) && !s.saw(105), "in progress when it was taken");
        assert!(!s.saw(110) && !s.saw(200), "began after it");
        let empty = TxSnapshot::parse("7:7:").unwrap();
        assert!(empty.saw(6) && !empty.saw(7));
        // Epoch 1: xid 5 is 2^32 + 5; xid 4294967290 is from epoch 0.
        let wrapped = TxSnapshot::parse("4294967296:4294967306:").unwrap();
        assert!(wrapped.saw(4_294_967_290) && wrapped.saw(5) && !wrapped.saw(10));
        assert!(TxSnapshot::parse("nonsense").is_none());
    }
}
