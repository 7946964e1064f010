//! The tests' kit, for the crates' unit and integration tests and the daemon's black-box
//! tests alike: throwaway services on free ports — Postgres clusters ([`pg`]), an Apache
//! Kafka broker ([`kafka`]), Redis servers and Sentinels ([`redis`]) — and the waits tests
//! poll conditions with. Each service lives in its own temp dir and is killed when its
//! handle drops.

pub mod kafka;
pub mod pg;
pub mod redis;

use std::time::{Duration, Instant};

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

/// Whether the tests run as root (servers that refuse root then run as `postgres`).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Polls `check` until it holds, failing the test after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `check` until it yields a value, failing the test after `timeout`.
pub async fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until something accepts TCP connections on `port`.
pub fn wait_listening(what: &str, port: u16, timeout: Duration) {
    wait_until(&format!("{what} to listen on {port}"), timeout, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
}
