//! Replication slots as `pg_replication_slots` shows them, and LSN text.

use std::time::Duration;

use tokio_postgres::Client;

use super::wait_for;

/// An LSN in Postgres' `X/Y` text form as a number (what `source.lsn` prints).
pub fn lsn(text: &str) -> u64 {
    let (hi, lo) = text
        .split_once('/')
        .unwrap_or_else(|| panic!("not an LSN: {text:?}"));
    let hi = u64::from_str_radix(hi, 16).unwrap_or_else(|_| panic!("not an LSN: {text:?}"));
    let lo = u64::from_str_radix(lo, 16).unwrap_or_else(|_| panic!("not an LSN: {text:?}"));
    (hi << 32) | lo
}

/// Whether the slot exists and a walsender streams from it; `None` when it does not exist.
pub async fn active(client: &Client, slot: &str) -> Option<bool> {
    client
        .query_opt(
            "SELECT active FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .expect("read pg_replication_slots")
        .map(|r| r.get(0))
}

/// Waits until a walsender streams from the slot.
pub async fn wait_active(client: &Client, slot: &str, timeout: Duration) {
    wait_for(
        &format!("slot {slot} to become active"),
        timeout,
        async || (active(client, slot).await == Some(true)).then_some(()),
    )
    .await;
}

/// Waits until no walsender uses the slot any more (after its consumer went away).
pub async fn wait_inactive(client: &Client, slot: &str, timeout: Duration) {
    wait_for(
        &format!("slot {slot} to become inactive"),
        timeout,
        async || (active(client, slot).await != Some(true)).then_some(()),
    )
    .await;
}

/// The slot's `confirmed_flush_lsn`.
pub async fn confirmed_flush(client: &Client, slot: &str) -> Option<u64> {
    client
        .query_opt(
            "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .expect("read pg_replication_slots")
        .and_then(|r| r.get::<_, Option<String>>(0))
        .map(|t| lsn(&t))
}

/// Drops the slot (its consumer must be gone).
pub async fn drop(client: &Client, slot: &str) {
    client
        .execute("SELECT pg_drop_replication_slot($1)", &[&slot])
        .await
        .unwrap_or_else(|e| panic!("drop slot {slot}: {e}"));
}

/// The `publish_via_partition_root` of publication `name`.
pub async fn publishes_via_root(client: &Client, name: &str) -> bool {
    client
        .query_one(
            "SELECT pubviaroot FROM pg_publication WHERE pubname = $1",
            &[&name],
        )
        .await
        .unwrap()
        .get(0)
}

/// Waits until each of `slots` has confirmed everything written to the database so far:
/// whatever a connector on it publishes is then published.
pub async fn wait_caught_up(client: &Client, slots: &[String], timeout: Duration) {
    let end: String = client
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await
        .expect("read the WAL position")
        .get(0);
    let end = lsn(&end);
    for slot in slots {
        super::wait_for("the slot to confirm every change", timeout, async || {
            (confirmed_flush(client, slot).await >= Some(end)).then_some(())
        })
        .await;
    }
}

/// Kills the daemon with SIGKILL `times` times, each once the slot acknowledged more since
/// the last kill (so every kill lands mid-stream, after some progress), restarting it each
/// time.
pub async fn kill9_as_it_moves(
    daemon: &mut super::daemon::Daemon,
    client: &Client,
    slot: &str,
    times: usize,
) {
    let mut acked = 0;
    for _ in 0..times {
        wait_for("the slot to move", Duration::from_secs(120), async || {
            let now = confirmed_flush(client, slot).await.unwrap_or(0);
            (now > acked).then_some(now)
        })
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        daemon.kill9();
        daemon.restart();
        acked = confirmed_flush(client, slot).await.unwrap_or(0);
    }
}
