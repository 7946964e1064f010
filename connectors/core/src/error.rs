//! Error classification shared by all connectors: is an error worth retrying?
//!
//! Every crate has its own `thiserror` enum; each implements [`Retry`] so the supervisor
//! decides in one place whether to back off and retry (transient) or to stop the connector
//! with the reason in its status (definite).

/// Whether an error can go away by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A network drop, a restarting server, a full queue: retry with backoff.
    Transient,
    /// Bad configuration, authentication failure, an impossible state: stop and report.
    Definite,
}

/// Implemented by every error type that can stop a connector.
pub trait Retry {
    fn kind(&self) -> ErrorKind;

    fn is_transient(&self) -> bool {
        self.kind() == ErrorKind::Transient
    }
}

/// Whether a Postgres error with this SQLSTATE can go away by itself, by its class (the
/// first two characters), as Materialize's `is_definite` decides: the one classification
/// every Postgres error in Tributary goes through.
///
/// Transient: connection exceptions (08), transaction rollbacks (40: serialization
/// failures, deadlocks), insufficient resources (53: too many connections, disk full, out
/// of memory, every replication slot in use), operator intervention (57: shutdowns,
/// restarts, cancels, idle timeouts) but a dropped database, system I/O errors (58000,
/// 58030), an object in use or a lock not available (55006: the slot is still held by a
/// walsender Postgres has not reaped yet; 55P03). Definite: everything else — bad
/// credentials (28), missing databases or objects (3D, 42), privileges (42501),
/// prerequisites (55000: `wal_level`), data and integrity errors (22, 23), internal errors
/// (XX).
pub fn sqlstate_kind(code: &str) -> ErrorKind {
    let transient = match code.get(..2).unwrap_or("") {
        "08" | "40" | "53" => true,
        "57" => code != "57P04",
        "58" => matches!(code, "58000" | "58030"),
        "55" => matches!(code, "55006" | "55P03"),
        _ => false,
    };
    if transient {
        ErrorKind::Transient
    } else {
        ErrorKind::Definite
    }
}

/// Doubling waits between retries, from `initial` up to `max`: the one backoff policy of
/// the source supervisor and the sink jobs.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: std::time::Duration,
    next: std::time::Duration,
    max: std::time::Duration,
}

impl Backoff {
    pub fn new(initial: std::time::Duration, max: std::time::Duration) -> Self {
        let initial = initial.max(std::time::Duration::from_millis(1));
        Backoff {
            initial,
            next: initial,
            max: max.max(initial),
        }
    }

    /// The wait before the next retry (each one twice the last, up to the maximum).
    pub fn next_wait(&mut self) -> std::time::Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(self.max);
        wait
    }

    /// The wait the next retry will take, without taking it.
    pub fn peek(&self) -> std::time::Duration {
        self.next
    }

    /// Back to the initial wait (after progress).
    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(code: &str) -> ErrorKind {
        sqlstate_kind(code)
    }

    #[test]
    fn connection_exceptions_are_transient() {
        for code in ["08000", "08003", "08006", "08001", "08004", "08P01"] {
            assert_eq!(kind(code), ErrorKind::Transient, "{code}");
        }
    }

    #[test]
    fn rollbacks_and_resources_are_transient() {
        for code in [
            "40001", "40P01", "40003", "53000", "53100", "53200", "53300", "53400",
        ] {
            assert_eq!(kind(code), ErrorKind::Transient, "{code}");
        }
    }

    #[test]
    fn operator_intervention_is_transient_but_a_dropped_database() {
        for code in ["57000", "57014", "57P01", "57P02", "57P03", "57P05"] {
            assert_eq!(kind(code), ErrorKind::Transient, "{code}");
        }
        assert_eq!(kind("57P04"), ErrorKind::Definite);
    }

    #[test]
    fn system_errors_and_objects_in_use() {
        for code in ["58000", "58030", "55006", "55P03"] {
            assert_eq!(kind(code), ErrorKind::Transient, "{code}");
        }
        for code in ["58P01", "58P02", "55000", "55P02"] {
            assert_eq!(kind(code), ErrorKind::Definite, "{code}");
        }
    }

    #[test]
    fn configuration_privileges_data_and_internal_errors_are_definite() {
        for code in [
            "28P01", "28000", "3D000", "42704", "42501", "42601", "42P01", "22P02", "23505",
            "0A000", "XX000", "XX001", "", "5",
        ] {
            assert_eq!(kind(code), ErrorKind::Definite, "{code}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_its_maximum_and_resets() {
        use std::time::Duration;
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let waits: Vec<u128> = (0..4).map(|_| b.next_wait().as_millis()).collect();
        assert_eq!(waits, [100, 200, 350, 350]);
        b.reset();
        assert_eq!(b.next_wait(), Duration::from_millis(100));
    }
}
