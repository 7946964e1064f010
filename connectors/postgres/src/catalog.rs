//! What the Postgres catalog says about captured tables.
//!
//! Column names, types and order come from pgoutput's Relation messages while streaming,
//! but a Relation message does not say which columns form the primary key (with REPLICA
//! IDENTITY FULL every column is flagged as key) nor which are nullable. This module reads
//! those from `pg_class`, `pg_attribute` and `pg_index`, for the snapshot and whenever a
//! Relation message shows a table's shape changed.
//!
//! Partitioned tables are tables as Debezium sees them (JDBC's `TABLE` and `PARTITIONED
//! TABLE`): a partitioned root and each of its partitions are captured when the filters
//! accept them.

use std::collections::{HashMap, HashSet};

use tokio_postgres::Client;

use crate::config::{PostgresConnectorConfig, TableId};

pub use crate::pgoutput::ReplicaIdentity;

/// Reads `pg_class.relreplident`.
fn replica_identity(c: i8) -> ReplicaIdentity {
    match c as u8 {
        b'f' => ReplicaIdentity::Full,
        b'n' => ReplicaIdentity::Nothing,
        b'i' => ReplicaIdentity::Index,
        _ => ReplicaIdentity::Default,
    }
}

/// A column as the catalog describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnMeta {
    pub name: String,
    pub type_oid: u32,
    pub typmod: i32,
    pub not_null: bool,
    /// Position (1-based) in the primary key, if the column is part of it.
    pub pk_position: Option<u16>,
    /// The default expression (`pg_get_expr(adbin, adrelid)`), if the column has one.
    pub default_expr: Option<String>,
}

/// A table as the catalog describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct TableMeta {
    pub oid: u32,
    pub id: TableId,
    pub replica_identity: ReplicaIdentity,
    /// A partitioned table (relkind `p`): it holds no rows itself, its leaf partitions do.
    pub partitioned: bool,
    /// Published columns in attribute order (generated columns are not published).
    pub columns: Vec<ColumnMeta>,
}

impl TableMeta {
    /// Primary-key column names in key order.
    pub fn primary_key(&self) -> Vec<&str> {
        let mut pk: Vec<(&str, u16)> = self
            .columns
            .iter()
            .filter_map(|c| c.pk_position.map(|p| (c.name.as_str(), p)))
            .collect();
        pk.sort_by_key(|(_, p)| *p);
        pk.into_iter().map(|(n, _)| n).collect()
    }
}

const TABLES_SQL: &str = "SELECT c.oid, n.nspname::text, c.relname::text, c.relreplident, \
       c.relkind = 'p' \
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.relkind IN ('r', 'p') \
       AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
       AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'";

const COLUMNS_SQL: &str = "SELECT a.attrelid, a.attname::text, a.atttypid, a.atttypmod, a.attnotnull, \
       (SELECT array_position(i.indkey::int2[], a.attnum)::int2 FROM pg_index i \
         WHERE i.indrelid = a.attrelid AND i.indisprimary), \
       pg_get_expr(d.adbin, d.adrelid) \
     FROM pg_attribute a \
     LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
     WHERE a.attrelid = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' \
     ORDER BY a.attrelid, a.attnum";

/// Loads the tables the connector's filters accept, with their columns.
pub async fn load_tables(
    client: &Client,
    config: &PostgresConnectorConfig,
) -> Result<Vec<TableMeta>, tokio_postgres::Error> {
    let rows = client.query(TABLES_SQL, &[]).await?;
    let mut tables: Vec<TableMeta> = rows
        .iter()
        .map(table_meta)
        .filter(|t| config.filters.accepts_table(&t.id))
        .collect();
    tables.sort_by(|a, b| a.id.cmp(&b.id));
    fill_columns(client, &mut tables).await?;
    Ok(tables)
}

/// Loads one table by OID (after a Relation message showed a change), whatever the filters.
pub async fn load_table(
    client: &Client,
    oid: u32,
) -> Result<Option<TableMeta>, tokio_postgres::Error> {
    let sql = format!("{TABLES_SQL} AND c.oid = $1");
    let Some(r) = client.query_opt(&sql, &[&oid]).await? else {
        return Ok(None);
    };
    let mut tables = vec![table_meta(&r)];
    fill_columns(client, &mut tables).await?;
    Ok(tables.pop())
}

/// The partitioned tables `oid` is a partition of, nearest first (none for a table that is
/// not a partition).
pub async fn ancestors(client: &Client, oid: u32) -> Result<Vec<TableId>, tokio_postgres::Error> {
    let rows = client
        .query(
            "WITH RECURSIVE up AS ( \
               SELECT i.inhparent AS oid, 1 AS depth FROM pg_inherits i \
                 JOIN pg_class c ON c.oid = i.inhrelid AND c.relispartition WHERE i.inhrelid = $1 \
               UNION ALL SELECT i.inhparent, up.depth + 1 FROM pg_inherits i \
                 JOIN up ON i.inhrelid = up.oid \
                 JOIN pg_class c ON c.oid = i.inhrelid AND c.relispartition) \
             SELECT n.nspname::text, c.relname::text FROM up \
               JOIN pg_class c ON c.oid = up.oid JOIN pg_namespace n ON n.oid = c.relnamespace \
              ORDER BY up.depth",
            &[&oid],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| TableId::new(r.get::<_, String>(0), r.get::<_, String>(1)))
        .collect())
}

/// A row of [`TABLES_SQL`], without its columns yet.
fn table_meta(r: &tokio_postgres::Row) -> TableMeta {
    TableMeta {
        oid: r.get(0),
        id: TableId::new(r.get::<_, String>(1), r.get::<_, String>(2)),
        replica_identity: replica_identity(r.get(3)),
        partitioned: r.get(4),
        columns: Vec::new(),
    }
}

async fn fill_columns(
    client: &Client,
    tables: &mut [TableMeta],
) -> Result<(), tokio_postgres::Error> {
    if tables.is_empty() {
        return Ok(());
    }
    let oids: Vec<u32> = tables.iter().map(|t| t.oid).collect();
    let rows = client.query(COLUMNS_SQL, &[&oids]).await?;
    let mut by_oid: HashMap<u32, Vec<ColumnMeta>> = HashMap::new();
    for r in rows {
        let pk: Option<i16> = r.get(5);
        by_oid.entry(r.get(0)).or_default().push(ColumnMeta {
            name: r.get(1),
            type_oid: r.get(2),
            typmod: r.get(3),
            not_null: r.get(4),
            pk_position: pk.and_then(|p| u16::try_from(p).ok()),
            default_expr: r.get(6),
        });
    }
    for t in tables {
        t.columns = by_oid.remove(&t.oid).unwrap_or_default();
    }
    Ok(())
}

/// What an existing publication publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    /// `FOR ALL TABLES`.
    pub all_tables: bool,
    /// `publish_via_partition_root`.
    pub via_root: bool,
    /// The OIDs of the tables whose changes it publishes, under whichever name: each table
    /// `pg_publication_tables` lists (leaf partitions, or their roots under
    /// `publish_via_partition_root`) with every ancestor and descendant in its partition tree.
    pub tables: HashSet<u32>,
}

/// The tables a publication publishes, with their partition trees (`pg_inherits` rather
/// than `pg_partition_tree`, which Postgres 10 and 11 lack).
const PUBLISHED_SQL: &str = "WITH RECURSIVE \
       listed AS (SELECT format('%I.%I', schemaname, tablename)::regclass::oid AS oid \
                    FROM pg_publication_tables WHERE pubname = $1), \
       up AS (SELECT oid FROM listed UNION \
              SELECT i.inhparent FROM pg_inherits i JOIN up ON i.inhrelid = up.oid \
                JOIN pg_class c ON c.oid = i.inhrelid AND c.relispartition), \
       down AS (SELECT oid FROM listed UNION \
                SELECT i.inhrelid FROM pg_inherits i JOIN down ON i.inhparent = down.oid \
                  JOIN pg_class c ON c.oid = i.inhrelid AND c.relispartition) \
     SELECT oid FROM up UNION SELECT oid FROM down";

/// The publication named `publication`, or `None` when it does not exist.
pub async fn publication(
    client: &Client,
    publication: &str,
) -> Result<Option<Publication>, tokio_postgres::Error> {
    let Some(row) = client
        .query_opt(
            // `pubviaroot` is Postgres 13+.
            "SELECT puballtables, coalesce((to_jsonb(p) ->> 'pubviaroot')::bool, false) \
               FROM pg_publication p WHERE pubname = $1",
            &[&publication],
        )
        .await?
    else {
        return Ok(None);
    };
    let rows = client.query(PUBLISHED_SQL, &[&publication]).await?;
    Ok(Some(Publication {
        all_tables: row.get(0),
        via_root: row.get(1),
        tables: rows.iter().map(|r| r.get(0)).collect(),
    }))
}

/// Whether `publication` lists a table outside the partition trees of `tables` (a table
/// the filters no longer select).
pub async fn publishes_others(
    client: &Client,
    publication: &str,
    tables: &[u32],
) -> Result<bool, tokio_postgres::Error> {
    let row = client
        .query_one(
            "WITH RECURSIVE \
               wanted AS (SELECT unnest($2::oid[]) AS oid), \
               down AS (SELECT oid FROM wanted UNION \
                        SELECT i.inhrelid FROM pg_inherits i JOIN down ON i.inhparent = down.oid), \
               up AS (SELECT oid FROM wanted UNION \
                      SELECT i.inhparent FROM pg_inherits i JOIN up ON i.inhrelid = up.oid) \
             SELECT EXISTS (SELECT 1 FROM pg_publication_tables \
                             WHERE pubname = $1 \
                               AND format('%I.%I', schemaname, tablename)::regclass::oid \
                                   NOT IN (SELECT oid FROM down UNION SELECT oid FROM up))",
            &[&publication, &tables],
        )
        .await?;
    Ok(row.get(0))
}
