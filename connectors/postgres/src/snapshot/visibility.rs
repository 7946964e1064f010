//! What a resumed snapshot keeps. A snapshot stopped midway (a kill, a stop) resumes in
//! a newer exported snapshot, since the first one died with its connection. A table it had
//! partly read is read on in its remaining ctid chunks.
//!
//! An initial snapshot reads every row there (so every row reaches the topic as a read
//! before its changes, as a changelog consumer needs), and the stream skips the changes
//! the newer snapshot holds. A row changed since the first snapshot whose new version
//! moved into an unread chunk is then read twice, at increasing versions.
//!
//! A blocking snapshot re-reads tables whose rows the consumer already has, so it keeps
//! only the row versions the first snapshot saw: a row changed since arrives as the
//! stream's change, and no row is read twice.

use std::collections::HashSet;

use super::SnapshotTable;
use crate::config::PostgresConnectorConfig;
use crate::error::SourceError;
use crate::offset::SnapshotProgress;
use crate::replication::ReplicationConnection;

/// Looks inside the exported snapshot before reading it. A fresh snapshot records its
/// visibility; a resumed blocking one keeps, in the tables partly read, only the row
/// versions the first snapshot saw. Tables the snapshot holds no row of are counted done
/// without reading them, so the last row read is the last of the snapshot, marked `last`
/// as Debezium marks it when the tables after it are empty. Returns those tables.
pub(super) async fn inspect(
    config: &PostgresConnectorConfig,
    blocking: bool,
    snapshot_name: &str,
    progress: &mut SnapshotProgress,
    tables: &mut [SnapshotTable],
) -> Result<HashSet<usize>, SourceError> {
    let mut conn = ReplicationConnection::connect_sql(&config.connect).await?;
    conn.simple_query(&format!(
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '{}'",
        snapshot_name.replace('\'', "''")
    ))
    .await?;
    let now = first_value(&mut conn, "SELECT txid_current_snapshot()::text").await?;
    let started = |p: &SnapshotProgress, t: &SnapshotTable| {
        p.tables
            .get(&t.meta.id.to_string())
            .is_some_and(|p| !p.done.is_empty())
    };
    if progress.tables.values().all(|p| p.done.is_empty()) {
        progress.visible = Some(now);
    } else if let Some(first) = progress.visible.as_ref().filter(|_| blocking) {
        let unchanged = unchanged_since(first, &now);
        for t in tables.iter_mut().filter(|t| started(progress, t)) {
            t.unchanged = unchanged.clone();
        }
    }
    let mut empty = HashSet::new();
    for (i, t) in tables.iter().enumerate() {
        if t.select.is_some() || started(progress, t) {
            continue;
        }
        let sql = format!("SELECT NOT EXISTS (SELECT 1 FROM {})", t.meta.id.quoted());
        if first_value(&mut conn, &sql).await? == "t" {
            if let Some(p) = progress.tables.get_mut(&t.meta.id.to_string()) {
                p.done = (0..p.chunks).collect();
            }
            empty.insert(i);
        }
    }
    Ok(empty)
}

async fn first_value(conn: &mut ReplicationConnection, sql: &str) -> Result<String, SourceError> {
    let rows = conn.simple_query(sql).await?;
    rows.first()
        .and_then(|r| r.first().cloned().flatten())
        .ok_or_else(|| SourceError::Setup(format!("{sql} returned no row")))
}

/// The condition that keeps only row versions `first` (the visibility of the snapshot a
/// resumed one continues) saw, read inside a snapshot whose visibility is `now`. A row's
/// `xmin` is 32 bits; its epoch is `now`'s, or the one before when it is above `now`'s
/// `xmax` (which wrapped). `xmin` 0–2 (bootstrap, frozen) is always old enough.
fn unchanged_since(first: &str, now: &str) -> Option<String> {
    let xmax: u64 = now.split(':').nth(1)?.parse().ok()?;
    let (epoch, low) = (xmax >> 32, xmax & 0xffff_ffff);
    let this = epoch << 32;
    let before = epoch.saturating_sub(1) << 32;
    let first = first.replace('\'', "''");
    Some(format!(
        "(xmin::text::bigint < 3 OR txid_visible_in_snapshot(CASE WHEN xmin::text::bigint <= {low} \
         THEN {this} + xmin::text::bigint ELSE {before} + xmin::text::bigint END, '{first}'))"
    ))
}
