//! The daemon tests' harness: the test kit's services (`tributary_testkit`: Postgres,
//! Kafka, Redis, free ports, waits) with the daemon tests' own helpers, and the
//! `tributary` binary as a child process. Everything binds free ports and lives in temp
//! dirs, so tests run in parallel and never depend on the machine's own services.
#![allow(dead_code)]

pub mod api;
pub mod capture;
pub mod daemon;
pub mod debezium;
pub mod diff_scenarios;
pub mod eventdiff;
pub mod incremental;
pub mod kafka;
pub mod opensearch;
pub mod pg;
pub mod redis;
pub mod routing_time_chains;
pub mod slot;
pub mod sync;
pub mod tls;
pub mod transform_chains;

pub use tributary_testkit::wait_for;

/// A unique-enough suffix for names inside one cluster.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}
