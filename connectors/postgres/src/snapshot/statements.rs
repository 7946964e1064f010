//! The SQL a snapshot reads a table with: a ctid-range chunk of it, or the table's
//! `snapshot.select.statement.overrides` statement with its columns aligned.

use tokio_postgres::Client;

use super::{Job, SnapshotTable};
use crate::config::{PostgresConnectorConfig, quote_ident};
use crate::error::SourceError;
use crate::offset::PgOffset;

/// The COPY statement of one chunk: a ctid range (Postgres 14+ scans it as a TID range)
/// of the table or, for a partitioned table, of one of its leaf partitions; the last
/// chunk open-ended so rows on pages added since planning are not missed.
pub(super) fn chunk_sql(t: &SnapshotTable, job: &Job) -> String {
    if let Some(select) = &t.select {
        return format!("COPY ({select}) TO STDOUT");
    }
    let cols: Vec<String> = t.state.columns.iter().map(|c| quote_ident(c)).collect();
    let mut clauses: Vec<String> = t.unchanged.iter().cloned().collect();
    if job.start > 0 {
        clauses.push(format!("ctid >= '({},0)'::tid", job.start));
    }
    if let Some(end) = job.end {
        clauses.push(format!("ctid < '({end},0)'::tid"));
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    let from = job.part.clone().unwrap_or_else(|| t.meta.id.quoted());
    format!(
        "COPY (SELECT {} FROM {from}{filter}) TO STDOUT",
        cols.join(", ")
    )
}

/// Sets each table's `select` from its statement: a blocking snapshot's signal names
/// them (Debezium's `additional-conditions`), an initial snapshot's config
/// (`snapshot.select.statement.overrides`).
pub(super) async fn apply_overrides(
    config: &PostgresConnectorConfig,
    offset: &PgOffset,
    planner: &Client,
    tables: &mut [SnapshotTable],
) -> Result<(), SourceError> {
    let overrides = match &offset.blocking {
        Some(b) => &b.statements,
        None => &config.snapshot_overrides,
    };
    for t in tables {
        if let Some(select) = overrides.get(&t.meta.id.to_string()) {
            t.select = Some(aligned_select(planner, t, select).await?);
        }
    }
    Ok(())
}

/// A `snapshot.select.statement.overrides` statement wrapped so its result has the table's
/// columns in the table's order, as Debezium maps a result set's columns by name: a
/// column the statement does not return is NULL.
async fn aligned_select(
    planner: &Client,
    t: &SnapshotTable,
    select: &str,
) -> Result<String, SourceError> {
    let property = format!("snapshot.select.statement.overrides.{}", t.meta.id);
    let statement = planner.prepare(select).await.map_err(|e| {
        SourceError::Setup(format!(
            "{property}: the statement cannot be prepared: {e}\nHINT: correct the SELECT in {property}"
        ))
    })?;
    let returned: Vec<&str> = statement.columns().iter().map(|c| c.name()).collect();
    let columns: Vec<String> = t
        .state
        .columns
        .iter()
        .map(|c| {
            if returned.contains(&c.as_str()) {
                format!("o.{}", quote_ident(c))
            } else {
                "NULL".to_string()
            }
        })
        .collect();
    Ok(format!(
        "SELECT {} FROM ({select}) AS o",
        columns.join(", ")
    ))
}

/// The xmin of the exported snapshot, reported as the snapshot events' `txId`.
pub(super) async fn snapshot_xmin(client: &Client) -> Option<i64> {
    client
        .query_one(
            "SELECT txid_snapshot_xmin(txid_current_snapshot())::bigint",
            &[],
        )
        .await
        .ok()
        .map(|r| r.get::<_, i64>(0))
}
