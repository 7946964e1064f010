//! Reading one window of an incremental snapshot: the open watermark, the chunk (split
//! into consecutive key ranges read in parallel, one connection each), the close
//! watermark. Everything is read between the two watermarks, so the stream can tell which
//! of the rows read a change committed meanwhile has made stale.

use std::sync::Arc;

use tributary_core::event::now_us;
use tributary_core::{Lsn, Value};

use super::readonly::{Bound, TxSnapshot};
use crate::config::{TableId, quote_ident};
use crate::conn::ConnectParams;
use crate::error::SourceError;
use crate::replication::{ReplicationConnection, ReplicationError};
use crate::snapshot::split_row;
use crate::table::{Cell, TableState};
use crate::types::ProcessingFailure;

/// A key column: its name and SQL type (`format_type`), to write key values as literals.
#[derive(Debug, Clone)]
pub struct KeyColumn {
    pub name: String,
    pub sql_type: String,
}

/// What one window reads.
pub struct WindowPlan {
    pub chunk_id: String,
    pub signal_table: TableId,
    pub table: TableId,
    pub state: Arc<TableState>,
    pub keys: Vec<KeyColumn>,
    pub filter: Option<String>,
    /// Read keys above this one (the last chunk's end); from the start when `None`.
    pub after: Option<Vec<String>>,
    /// Read keys up to this one; read first when `None`.
    pub max: Option<Vec<String>>,
    pub chunk_size: usize,
    /// Ranges read in parallel (`snapshot.max.threads`).
    pub threads: usize,
    pub processing_failure: ProcessingFailure,
    /// `read.only`: no watermark rows; the read's snapshot bounds the window.
    pub read_only: bool,
}

/// What a window read.
#[derive(Debug, Default)]
pub struct WindowRead {
    /// Each row's key and value.
    pub rows: Vec<(Option<Value>, Value)>,
    /// The table's largest key (as planned).
    pub max: Option<Vec<String>>,
    /// Where the next window starts; `None` when the table is done.
    pub last: Option<Vec<String>>,
    /// A read-only window's bound.
    pub bound: Option<Bound>,
}

/// The connections a snapshot reads with: the first also writes the watermarks.
pub struct Readers(Vec<ReplicationConnection>);

impl Readers {
    pub async fn open(params: &ConnectParams, threads: usize) -> Result<Readers, SourceError> {
        let mut conns = Vec::with_capacity(threads);
        for _ in 0..threads.max(1) {
            let mut conn = ReplicationConnection::connect_sql(params).await?;
            // A watermark is seen by the stream once its commit is flushed: without this,
            // under synchronous_commit=off every window would wait for the WAL writer.
            conn.simple_query("SET synchronous_commit = on").await?;
            conns.push(conn);
        }
        Ok(Readers(conns))
    }
}

/// Reads one window; hands the connections back whatever happens.
pub async fn read_window(
    mut readers: Readers,
    plan: WindowPlan,
) -> (Option<Readers>, Result<WindowRead, SourceError>) {
    let plan = Arc::new(plan);
    let opened = if plan.read_only {
        open_snapshot(&mut readers).await.map(Some)
    } else {
        let open = watermark(&plan, "-open", "snapshot-window-open");
        readers.0[0]
            .simple_query(&open)
            .await
            .map(|_| None)
            .map_err(Into::into)
    };
    let bound = match opened {
        Ok(b) => b,
        Err(e) => return (None, Err(e)),
    };
    let planned = plan_ranges(&mut readers.0[0], &plan).await;
    let (max, ranges, last) = match planned {
        Ok(p) => p,
        // A read-only reader's transaction is still open: its connections go.
        Err(e) => return ((!plan.read_only).then_some(readers), Err(e)),
    };
    let mut tasks = tokio::task::JoinSet::new();
    let mut conns = readers.0.into_iter();
    let mut idle = Vec::new();
    for range in ranges {
        let Some(mut conn) = conns.next() else { break };
        let plan = plan.clone();
        tasks.spawn(async move {
            let read = read_range(&mut conn, &plan, &range).await;
            (conn, read)
        });
    }
    idle.extend(conns);
    let mut rows = Vec::new();
    let mut failed = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((conn, read)) => {
                idle.push(conn);
                match read {
                    Ok(mut r) => rows.append(&mut r),
                    Err(e) => failed = failed.or(Some(e)),
                }
            }
            Err(e) => {
                failed = failed.or(Some(SourceError::Setup(format!(
                    "incremental snapshot reader failed: {e}"
                ))));
            }
        }
    }
    let mut readers = Readers(idle);
    if let Some(e) = failed {
        return ((!plan.read_only).then_some(readers), Err(e));
    }
    let closed = if plan.read_only {
        end_snapshot(&mut readers).await
    } else {
        let close = watermark(&plan, "-close", "snapshot-window-close");
        readers.0[0]
            .simple_query(&close)
            .await
            .map(drop)
            .map_err(Into::into)
    };
    if let Err(e) = closed {
        return (None, Err(e));
    }
    let read = WindowRead {
        rows,
        max,
        last,
        bound,
    };
    (Some(readers), Ok(read))
}

/// A read-only window's snapshot: the first connection opens it and exports it, the others
/// import it, so every range is read in it. Its visibility, and the WAL insert position
/// taken inside it (after every commit it saw), bound the window.
async fn open_snapshot(readers: &mut Readers) -> Result<Bound, SourceError> {
    let (first, others) = readers.0.split_first_mut().expect("at least one reader");
    first
        .simple_query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await?;
    let rows = first
        .simple_query(
            "SELECT txid_current_snapshot()::text, pg_export_snapshot(), pg_current_wal_insert_lsn()::text",
        )
        .await?;
    let row = rows.into_iter().next().map(texts).unwrap_or_default();
    let bad = || SourceError::Setup(format!("unexpected snapshot row {row:?}"));
    let visible = row
        .first()
        .and_then(|v| TxSnapshot::parse(v))
        .ok_or_else(bad)?;
    let lsn: Lsn = row.get(2).and_then(|l| l.parse().ok()).ok_or_else(bad)?;
    let name = row.get(1).ok_or_else(bad)?;
    for conn in others {
        conn.simple_query(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT {}",
            literal(name)
        ))
        .await?;
    }
    Ok(Bound { visible, lsn })
}

async fn end_snapshot(readers: &mut Readers) -> Result<(), SourceError> {
    for conn in &mut readers.0 {
        conn.simple_query("COMMIT").await?;
    }
    Ok(())
}

/// A key range: above `from` (or from the start), up to `to`.
struct Range {
    from: Option<Vec<String>>,
    to: Vec<String>,
}

type Planned = (Option<Vec<String>>, Vec<Range>, Option<Vec<String>>);

/// The table's largest key (read once per table) and the window's ranges: one per
/// connection, `chunk_size` keys each (as of now), the last reaching the largest key
/// when fewer keys are left. Also where the next window starts (`None`: done).
async fn plan_ranges(
    conn: &mut ReplicationConnection,
    plan: &WindowPlan,
) -> Result<Planned, SourceError> {
    let max = match &plan.max {
        Some(m) => Some(m.clone()),
        None => {
            let rows = conn.simple_query(&max_key_sql(plan)).await?;
            rows.into_iter().next().map(texts)
        }
    };
    let Some(max_key) = max.clone() else {
        return Ok((None, Vec::new(), None));
    };
    let threads = plan.threads.max(1);
    let bounds: Vec<Vec<String>> = conn
        .simple_query(&bounds_sql(plan, &max_key, threads))
        .await?
        .into_iter()
        .map(texts)
        .collect();
    let mut ranges = Vec::new();
    let mut from = plan.after.clone();
    for b in &bounds {
        ranges.push(Range {
            from: from.clone(),
            to: b.clone(),
        });
        from = Some(b.clone());
    }
    let last = if bounds.len() < threads {
        ranges.push(Range { from, to: max_key });
        None
    } else {
        from
    };
    Ok((max, ranges, last))
}

fn texts(row: Vec<Option<String>>) -> Vec<String> {
    row.into_iter().map(Option::unwrap_or_default).collect()
}

fn watermark(plan: &WindowPlan, suffix: &str, kind: &str) -> String {
    let ts = format_ts(now_us());
    format!(
        "INSERT INTO {} VALUES ({}, {}, {})",
        plan.signal_table.quoted(),
        literal(&format!("{}{suffix}", plan.chunk_id)),
        literal(kind),
        literal(&format!("{{\"openWindowTimestamp\": \"{ts}\"}}")),
    )
}

fn format_ts(us: i64) -> String {
    format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
}

/// An SQL string literal.
pub fn literal(s: &str) -> String {
    if s.contains('\\') {
        format!("E'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

fn key_list(keys: &[KeyColumn]) -> String {
    keys.iter()
        .map(|k| quote_ident(&k.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `(k1, k2) <op> ('v1'::t1, 'v2'::t2)`.
fn compare(keys: &[KeyColumn], op: &str, values: &[String]) -> String {
    let values: Vec<String> = keys
        .iter()
        .zip(values)
        .map(|(k, v)| format!("{}::{}", literal(v), k.sql_type))
        .collect();
    format!("({}) {op} ({})", key_list(keys), values.join(", "))
}

fn filters(plan: &WindowPlan, range: Option<(&Option<Vec<String>>, &[String])>) -> String {
    let mut clauses = Vec::new();
    if let Some(f) = &plan.filter {
        clauses.push(format!("({f})"));
    }
    if let Some((from, to)) = range {
        if let Some(from) = from {
            clauses.push(compare(&plan.keys, ">", from));
        }
        clauses.push(compare(&plan.keys, "<=", to));
    }
    if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    }
}

/// The key columns as text, each named apart from its column: `ORDER BY "id"` would
/// otherwise sort by the output column `"id"::text`, which Postgres names `id` too.
fn key_texts(keys: &[KeyColumn]) -> String {
    keys.iter()
        .enumerate()
        .map(|(i, k)| format!("{}::text AS tributary_k{i}", quote_ident(&k.name)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn max_key_sql(plan: &WindowPlan) -> String {
    let desc: Vec<String> = plan
        .keys
        .iter()
        .map(|k| format!("{} DESC", quote_ident(&k.name)))
        .collect();
    format!(
        "SELECT {} FROM {}{} ORDER BY {} LIMIT 1",
        key_texts(&plan.keys),
        plan.table.quoted(),
        filters(plan, None),
        desc.join(", ")
    )
}

/// The keys at every `chunk_size`-th position above `after`, up to `threads` of them.
fn bounds_sql(plan: &WindowPlan, max: &[String], threads: usize) -> String {
    let keys = key_list(&plan.keys);
    format!(
        "SELECT {} FROM (SELECT {keys}, row_number() OVER (ORDER BY {keys}) AS tributary_n FROM (SELECT {keys} FROM {}{} ORDER BY {keys} LIMIT {}) AS c) AS n WHERE tributary_n % {} = 0 ORDER BY tributary_n",
        key_texts(&plan.keys),
        plan.table.quoted(),
        filters(plan, Some((&plan.after, max))),
        threads * plan.chunk_size,
        plan.chunk_size,
    )
}

async fn read_range(
    conn: &mut ReplicationConnection,
    plan: &WindowPlan,
    range: &Range,
) -> Result<Vec<(Option<Value>, Value)>, SourceError> {
    let cols: Vec<String> = plan.state.columns.iter().map(|c| quote_ident(c)).collect();
    let sql = format!(
        "COPY (SELECT {} FROM {}{}) TO STDOUT",
        cols.join(", "),
        plan.table.quoted(),
        filters(plan, Some((&range.from, &range.to))),
    );
    let mut out = Vec::new();
    let mut stream = conn.copy_out(&sql).await?;
    let mut partial: Vec<u8> = Vec::new();
    let width = plan.state.columns.len();
    while let Some(data) = stream.next().await? {
        partial.extend_from_slice(&data);
        let mut consumed = 0;
        let mut fields = Vec::with_capacity(width);
        for end in memchr::memchr_iter(b'\n', &partial) {
            split_row(&partial[consumed..end], &mut fields);
            consumed = end + 1;
            let cells = fields.iter().map(|f| match f {
                None => Cell::Null,
                Some(s) => Cell::Text(s.as_ref()),
            });
            match plan.state.convert_snapshot(cells) {
                Ok(row) => out.push(row),
                Err(e) => e.handle(
                    plan.processing_failure,
                    format_args!("the incremental snapshot of {}", plan.table),
                )?,
            }
        }
        drop(fields);
        partial.drain(..consumed);
    }
    Ok(out)
}

/// Whether a read failed because of the table or the signal's filter (skip the table, as
/// Debezium does) rather than the connection (fail, and resume after a restart).
pub fn is_table_error(e: &SourceError) -> bool {
    matches!(
        e,
        SourceError::Replication(ReplicationError::Server { code, .. })
            if code.starts_with("42") || code.starts_with("22")
    )
}
