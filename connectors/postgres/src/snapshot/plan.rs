//! The snapshot's plan: which chunks of which tables (or leaf partitions) to read, from
//! the tables' sizes on disk, and the chunks of it still to read.

use tokio_postgres::Client;

use crate::error::SourceError;
use crate::offset::TableProgress;

/// One chunk to read.
pub(super) struct Job {
    pub(super) table: usize,
    pub(super) chunk: u32,
    /// The leaf partition the chunk reads, for a partitioned table.
    pub(super) part: Option<String>,
    /// First heap page of the chunk.
    pub(super) start: u64,
    /// First page after the chunk; `None` for the open-ended last chunk.
    pub(super) end: Option<u64>,
}

impl Job {
    /// The chunks of `table` that `p` does not count done: ctid ranges of the table, or of
    /// each of its leaf partitions in turn.
    pub(super) fn pending(table: usize, p: &TableProgress) -> Vec<Job> {
        let size = u64::from(p.chunk_pages);
        let whole = [(None, p.chunks)];
        let parts: Vec<(Option<&str>, u32)> = if p.parts.is_empty() {
            whole.to_vec()
        } else {
            p.parts
                .iter()
                .map(|part| (Some(part.table.as_str()), part.chunks))
                .collect()
        };
        let mut jobs = Vec::new();
        let mut first = 0;
        for (part, chunks) in parts {
            for local in 0..chunks {
                let chunk = first + local;
                if !p.done.contains(&chunk) {
                    jobs.push(Job {
                        table,
                        chunk,
                        part: part.map(str::to_string),
                        start: u64::from(local) * size,
                        end: (local + 1 < chunks).then(|| u64::from(local + 1) * size),
                    });
                }
            }
            first += chunks;
        }
        jobs
    }
}

/// Heap pages of a table, from its size on disk (cheap, unlike COUNT(*)).
pub(super) async fn relation_pages(client: &Client, oid: u32) -> Result<u64, SourceError> {
    let row = client
        .query_one(
            "SELECT (pg_relation_size(($1::oid)::regclass) / current_setting('block_size')::bigint)::bigint",
            &[&oid],
        )
        .await
        .map_err(SourceError::query("could not size a table for the snapshot"))?;
    Ok(row.get::<_, i64>(0).max(0) as u64)
}

/// The leaf partitions of a partitioned table with their heap pages, in name order
/// (`pg_inherits` rather than `pg_partition_tree`, which Postgres 10 and 11 lack; a foreign
/// partition has no pages and is read in one chunk).
pub(super) async fn leaf_pages(
    client: &Client,
    root: u32,
) -> Result<Vec<(String, u64)>, SourceError> {
    let rows = client
        .query(
            "WITH RECURSIVE tree AS ( \
               SELECT $1::oid AS oid \
               UNION ALL SELECT i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.oid) \
             SELECT format('%I.%I', n.nspname, c.relname), \
                    (pg_relation_size(c.oid) / current_setting('block_size')::bigint)::bigint \
               FROM tree JOIN pg_class c ON c.oid = tree.oid \
               JOIN pg_namespace n ON n.oid = c.relnamespace \
              WHERE c.relkind IN ('r', 'f') ORDER BY 1",
            &[&root],
        )
        .await
        .map_err(SourceError::query(
            "could not list a partitioned table's partitions for the snapshot",
        ))?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get::<_, i64>(1).max(0) as u64))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offset::PartPlan;

    fn ranges(jobs: &[Job]) -> Vec<(u32, Option<&str>, u64, Option<u64>)> {
        jobs.iter()
            .map(|j| (j.chunk, j.part.as_deref(), j.start, j.end))
            .collect()
    }

    #[test]
    fn a_table_is_read_in_page_ranges_with_the_last_one_open() {
        let p = TableProgress {
            chunk_pages: 10,
            chunks: 3,
            done: [1].into(),
            ..TableProgress::default()
        };
        let jobs = Job::pending(4, &p);
        assert!(jobs.iter().all(|j| j.table == 4));
        assert_eq!(ranges(&jobs), [(0, None, 0, Some(10)), (2, None, 20, None)]);
    }

    #[test]
    fn a_partitioned_table_numbers_its_partitions_chunks_in_turn() {
        let p = TableProgress {
            chunk_pages: 10,
            chunks: 4,
            done: [0, 2].into(),
            parts: vec![
                PartPlan {
                    table: "public.m_a".into(),
                    chunks: 2,
                },
                PartPlan {
                    table: "public.m_b".into(),
                    chunks: 1,
                },
                PartPlan {
                    table: "\"public\".\"M c\"".into(),
                    chunks: 1,
                },
            ],
            ..TableProgress::default()
        };
        assert_eq!(
            ranges(&Job::pending(0, &p)),
            [
                // Each partition's chunks start at its page 0; its last one is open.
                (1, Some("public.m_a"), 10, None),
                (3, Some("\"public\".\"M c\""), 0, None),
            ]
        );
    }
}
