//! What a source holds back in its database's log (a Postgres replication slot's WAL), and
//! what the status and the log say of it: how much, how close Postgres is to invalidating
//! the slot, and why it is held.

use serde_json::{Value, json};

use crate::connector::State;

/// A replication slot as Postgres last reported it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Retention {
    /// Bytes of WAL written since the slot's confirmed position.
    pub held_bytes: Option<i64>,
    /// Bytes of WAL Postgres keeps for the slot (since its `restart_lsn`).
    pub retained_bytes: Option<i64>,
    /// The oldest open transaction that wrote: pid and age in seconds.
    pub oldest_transaction: Option<(i32, i64)>,
    /// `wal_status`: `reserved`, `extended`, `unreserved` or `lost`.
    pub wal_status: Option<String>,
    /// `safe_wal_size`: bytes that may still be written before the slot is in danger.
    pub safe_bytes: Option<i64>,
    /// `max_slot_wal_keep_size` in bytes (`None`: no limit).
    pub limit_bytes: Option<i64>,
    /// `slot.lag.warn.bytes` (0: never warn).
    pub warn_bytes: u64,
}

impl Retention {
    /// What kind of warning the slot deserves: `lost`, `unreserved`, `over` the threshold.
    pub fn level(&self) -> Option<&'static str> {
        match self.wal_status.as_deref() {
            Some("lost") => Some("lost"),
            Some("unreserved") => Some("unreserved"),
            _ => {
                let held = u64::try_from(self.retained()?).unwrap_or(0);
                (self.warn_bytes != 0 && held >= self.warn_bytes).then_some("over")
            }
        }
    }

    /// The warning a connector in `state` (whose records wait because of `waiting`, if
    /// they do) deserves, if any: the slot lost, about to be, or past `slot.lag.warn.bytes`.
    pub fn warning(&self, state: State, waiting: Option<&str>) -> Option<String> {
        match self.level()? {
            "lost" => {
                return Some(
                    "the replication slot was invalidated by Postgres (wal_status lost): the changes it held are gone; start the connector with snapshot.mode=when_needed, or reset its offsets, to snapshot again".into(),
                );
            }
            "unreserved" => {
                return Some(format!(
                    "the replication slot holds more WAL than max_slot_wal_keep_size allows (wal_status unreserved): the next checkpoint may invalidate it, and then the connector must snapshot again. It is held because {}",
                    self.held_because(state, waiting)
                ));
            }
            _ => {}
        }
        let held = self.retained().unwrap_or_default();
        let room = match self.safe_bytes {
            Some(safe) => format!(
                "; {} more may be written before max_slot_wal_keep_size invalidates it",
                bytes(safe)
            ),
            None => {
                "; no max_slot_wal_keep_size limits it, so it grows until the disk is full".into()
            }
        };
        Some(format!(
            "the replication slot holds {} of WAL (slot.lag.warn.bytes is {}){room}. It is held because {}",
            bytes(held),
            bytes(self.warn_bytes as i64),
            self.held_because(state, waiting)
        ))
    }

    /// What Postgres keeps for the slot: from its restart point, else its confirmed one.
    fn retained(&self) -> Option<i64> {
        self.retained_bytes.or(self.held_bytes)
    }

    /// The connector status's `slot` object.
    pub fn to_json(&self, state: State, waiting: Option<&str>) -> Value {
        let mut v = json!({
            "retained_wal_bytes": self.retained(),
            "unconfirmed_wal_bytes": self.held_bytes,
            "wal_status": self.wal_status,
            "safe_wal_size_bytes": self.safe_bytes,
            "max_slot_wal_keep_size_bytes": self.limit_bytes,
        });
        if let Some(w) = self.warning(state, waiting) {
            v["warning"] = json!(w);
        }
        v
    }
}

impl Retention {
    /// Why nothing releases the WAL: the connector's state, or, while it streams, the
    /// records waiting for Kafka or the oldest open transaction.
    fn held_because(&self, state: State, waiting: Option<&str>) -> String {
        match (state, waiting) {
            (State::Paused, _) => "the connector is paused and confirms nothing; resume it".into(),
            (State::Stopped, _) => {
                "the connector is stopped and confirms nothing; resume it, or delete it (with slot.drop.on.stop=true) if it is gone for good".into()
            }
            (State::Failed, _) => "the connector failed; fix the cause and restart it".into(),
            (State::Running, Some(why)) => format!("records wait: {why}"),
            (State::Running, None) => match self.oldest_transaction {
                Some((pid, age)) if age >= LONG_TRANSACTION_SECS => format!(
                    "a transaction open for {age} s (pid {pid}; SELECT pg_terminate_backend({pid}) ends it) holds back the slot's restart point: Postgres keeps the WAL from where it began until it ends"
                ),
                _ => "the connector confirms only what Kafka committed, and Postgres keeps the WAL from where the oldest transaction open at that point began".into(),
            },
            (State::Unassigned | State::Restarting, _) => "the connector is not running".into(),
        }
    }
}

/// A transaction open this long (seconds) is named as what holds the WAL.
const LONG_TRANSACTION_SECS: i64 = 60;

/// `1.5 GiB`, `12.0 MiB`, `512 B`.
fn bytes(n: i64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n.abs() < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = UNITS[0];
    for u in &UNITS[1..] {
        if v.abs() < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(held: i64, status: &str, safe: Option<i64>) -> Retention {
        Retention {
            held_bytes: Some(held),
            retained_bytes: Some(held),
            oldest_transaction: None,
            wal_status: Some(status.into()),
            safe_bytes: safe,
            limit_bytes: safe.map(|_| 64 << 20),
            warn_bytes: 8 << 20,
        }
    }

    #[test]
    fn warns_past_the_threshold_saying_why_the_wal_is_held() {
        assert_eq!(
            slot(1 << 20, "reserved", None).warning(State::Stopped, None),
            None
        );
        let w = slot(10 << 20, "reserved", Some(50 << 20))
            .warning(State::Stopped, None)
            .unwrap();
        assert!(w.contains("10.0 MiB") && w.contains("8.0 MiB"), "{w}");
        assert!(w.contains("50.0 MiB more may be written"), "{w}");
        assert!(w.contains("stopped"), "{w}");
        let w = slot(10 << 20, "extended", None)
            .warning(State::Running, Some("Kafka is unreachable"))
            .unwrap();
        assert!(
            w.contains("until the disk is full") && w.contains("Kafka is unreachable"),
            "{w}"
        );
        let w = slot(10 << 20, "reserved", None)
            .warning(State::Paused, None)
            .unwrap();
        assert!(w.contains("paused"), "{w}");
        let never = Retention {
            warn_bytes: 0,
            ..slot(10 << 30, "reserved", None)
        };
        assert_eq!(never.warning(State::Stopped, None), None);
    }

    #[test]
    fn an_endangered_or_lost_slot_warns_whatever_its_size() {
        let w = slot(0, "unreserved", Some(0))
            .warning(State::Failed, None)
            .unwrap();
        assert!(
            w.contains("next checkpoint may invalidate it") && w.contains("failed"),
            "{w}"
        );
        let w = slot(0, "lost", None).warning(State::Running, None).unwrap();
        assert!(
            w.contains("when_needed") && w.contains("reset its offsets"),
            "{w}"
        );
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(3 << 30), "3.0 GiB");
    }
}
