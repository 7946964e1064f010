//! Test harness: a throwaway Postgres cluster per test and the `tributary` binary as a
//! child process. Everything binds free ports and lives in temp dirs, so tests run in
//! parallel and never depend on the machine's own Postgres.
#![allow(dead_code)]

pub mod api;
pub mod broker;
pub mod capture;
pub mod daemon;
pub mod debezium;
pub mod diff_scenarios;
pub mod eventdiff;
pub mod kafka;
pub mod opensearch;
pub mod pg;
pub mod redis;
pub mod slot;
pub mod sync;
pub mod tls;
pub mod transform_chains;

use std::time::{Duration, Instant};

/// Polls `cond` until it returns `Some`, or panics with `what` after `timeout`.
pub async fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut cond: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = cond().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

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
