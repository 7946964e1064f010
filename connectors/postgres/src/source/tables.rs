//! What a run captures: the tables the filters select, checked against the publication
//! (created, aligned or followed, as `publication.autocreate.mode` says) and their replica
//! identities, before anything is created.

use std::sync::Arc;

use tokio_postgres::Client;

use crate::catalog::{self, TableMeta};
use crate::config::{AutocreateMode, PostgresConnectorConfig, quote_ident};
use crate::error::SourceError;
use crate::table::TableState;

pub(super) async fn create_publication(
    client: &Client,
    config: &PostgresConnectorConfig,
    tables: &[TableMeta],
) -> Result<(), SourceError> {
    let name = quote_ident(&config.publication_name);
    // Debezium's WITH clause: only `publish_via_partition_root`, when set.
    let with = if config.publish_via_partition_root {
        " WITH (publish_via_partition_root = true)"
    } else {
        ""
    };
    let sql = match config.publication_autocreate {
        AutocreateMode::AllTables => format!("CREATE PUBLICATION {name} FOR ALL TABLES{with}"),
        _ if tables.is_empty() => format!("CREATE PUBLICATION {name}{with}"),
        _ => {
            let list: Vec<String> = tables.iter().map(|t| t.id.quoted()).collect();
            format!(
                "CREATE PUBLICATION {name} FOR TABLE {}{with}",
                list.join(", ")
            )
        }
    };
    client
        .batch_execute(&sql)
        .await
        .map_err(SourceError::query("could not create the publication"))?;
    tracing::info!(publication = %config.publication_name, "publication created");
    Ok(())
}

/// With `publication.autocreate.mode=filtered`, an existing publication that does not
/// publish every table the filters select is set to exactly those tables (Debezium's
/// `ALTER PUBLICATION … SET TABLE` on start). Rows the added tables held before are not
/// read (as in Debezium): only their changes from now on are captured.
async fn set_publication_tables(
    client: &Client,
    config: &PostgresConnectorConfig,
    tables: &[TableMeta],
) -> Result<(), SourceError> {
    let list: Vec<String> = tables.iter().map(|t| t.id.quoted()).collect();
    let sql = format!(
        "ALTER PUBLICATION {} SET TABLE {}",
        quote_ident(&config.publication_name),
        list.join(", ")
    );
    client
        .batch_execute(&sql)
        .await
        .map_err(SourceError::query(
            "could not set the publication's tables to those the filters select (publication.autocreate.mode=filtered)",
        ))?;
    let names: Vec<String> = tables.iter().map(|t| t.id.to_string()).collect();
    tracing::info!(publication = %config.publication_name, tables = %names.join(","), "publication set to the tables the filters select");
    Ok(())
}

/// An existing publication whose `publish_via_partition_root` differs from the connector's
/// `publish.via.partition.root`: with `publication.autocreate.mode=filtered` (the connector
/// manages the publication) it is altered to match; otherwise `true` is an error naming
/// the fix, and `false` (the default, as if unset) follows the publication. Returns the
/// config the stream runs with (its `publish_via_partition_root` is the publication's).
async fn align_via_root(
    client: &Client,
    config: Arc<PostgresConnectorConfig>,
    published: bool,
) -> Result<Arc<PostgresConnectorConfig>, SourceError> {
    let name = quote_ident(&config.publication_name);
    let value = config.publish_via_partition_root;
    let alter = format!("ALTER PUBLICATION {name} SET (publish_via_partition_root = {value})");
    if config.publication_autocreate == AutocreateMode::Filtered {
        client
            .batch_execute(&alter)
            .await
            .map_err(SourceError::query(
                "could not set publish_via_partition_root on the publication (publish.via.partition.root)",
            ))?;
        tracing::info!(publication = %config.publication_name, value, "publication altered: publish_via_partition_root");
        return Ok(config);
    }
    if value {
        return Err(SourceError::Setup(format!(
            "publish.via.partition.root is {value}, but publication {:?} has publish_via_partition_root = {published}, and the connector alters an existing publication only with publication.autocreate.mode=filtered\nHINT: run {alter}, or set publish.via.partition.root to {published}",
            config.publication_name
        )));
    }
    tracing::info!(publication = %config.publication_name, published, "following the publication's publish_via_partition_root (publish.via.partition.root is false)");
    let mut followed = (*config).clone();
    followed.publish_via_partition_root = published;
    Ok(Arc::new(followed))
}

pub(super) async fn drop_publication(client: &Client, config: &PostgresConnectorConfig) {
    let sql = format!(
        "DROP PUBLICATION IF EXISTS {}",
        quote_ident(&config.publication_name)
    );
    if let Err(e) = client.batch_execute(&sql).await {
        tracing::warn!(error = %e, "could not drop the publication created by this run");
    }
}

/// What will be captured, and whether it can be: the tables the filters select (within
/// the collection guardrail), the publication checked or aligned with them (or its
/// absence noted, when it may be created), and each table's replica identity.
pub(super) async fn resolve_tables(
    client: &Client,
    config: &mut Arc<PostgresConnectorConfig>,
) -> Result<Resolved, SourceError> {
    let mut tables = catalog::load_tables(client, config)
        .await
        .map_err(SourceError::query("could not list tables"))?;
    if let Some(exceeded) = config.guardrail.exceeded(tables.len()) {
        if config.guardrail.fail {
            return Err(SourceError::Setup(format!(
                "{exceeded}\nHINT: raise guardrail.collections.max, narrow table.include.list, or set guardrail.collections.limit.action=warn"
            )));
        }
        tracing::warn!("{exceeded}");
    }
    let publication = catalog::publication(client, &config.publication_name)
        .await
        .map_err(SourceError::query("could not read the publication"))?;
    let mut added = Vec::new();
    match &publication {
        Some(published) => {
            let filtered = config.publication_autocreate == AutocreateMode::Filtered
                && !published.all_tables
                && !tables.is_empty();
            let differs = filtered
                && (tables.iter().any(|t| !published.tables.contains(&t.oid)) || {
                    let oids: Vec<u32> = tables.iter().map(|t| t.oid).collect();
                    catalog::publishes_others(client, &config.publication_name, &oids)
                        .await
                        .map_err(SourceError::query("could not read the publication"))?
                });
            if differs {
                // As Debezium does: the publication follows the filters.
                set_publication_tables(client, config, &tables).await?;
                added = tables
                    .iter()
                    .filter(|t| !published.tables.contains(&t.oid))
                    .map(|t| t.id.clone())
                    .collect();
            } else {
                tables.retain(|t| published.tables.contains(&t.oid));
            }
            if published.via_root != config.publish_via_partition_root {
                *config = align_via_root(client, config.clone(), published.via_root).await?;
            }
        }
        None if config.publication_autocreate == AutocreateMode::Disabled => {
            return Err(SourceError::Setup(format!(
                "publication {:?} does not exist and publication.autocreate.mode is disabled\nHINT: run CREATE PUBLICATION {} FOR TABLE …, or set publication.autocreate.mode to filtered or all_tables",
                config.publication_name,
                quote_ident(&config.publication_name)
            )));
        }
        None => {}
    }
    crate::replica_identity::apply(client, &config.replica_identities, &mut tables).await?;
    for t in &tables {
        if let Some(problem) = TableState::identity_problem(t, config) {
            return Err(SourceError::Setup(problem));
        }
    }
    Ok(Resolved {
        tables,
        publication_exists: publication.is_some(),
        added,
    })
}

/// What a run captures.
pub(super) struct Resolved {
    pub tables: Vec<TableMeta>,
    pub publication_exists: bool,
    /// Tables this run added to an existing publication (`publication.autocreate.mode=filtered`
    /// after the filters changed).
    pub added: Vec<crate::config::TableId>,
}

/// The signal table (`signal.data.collection`) must exist and be published: signals and
/// the incremental snapshot's watermarks reach the connector only through the stream.
pub(super) async fn check_signal_table(
    client: &Client,
    config: &PostgresConnectorConfig,
) -> Result<(), SourceError> {
    let Some(t) = &config.signals.table else {
        return Ok(());
    };
    let row = client
        .query_one(
            "SELECT to_regclass($1) IS NOT NULL, EXISTS (SELECT 1 FROM pg_publication_tables \
               WHERE pubname = $2 AND schemaname = $3 AND tablename = $4)",
            &[&t.quoted(), &config.publication_name, &t.schema, &t.name],
        )
        .await
        .map_err(SourceError::query("could not look up the signal table"))?;
    let (exists, published): (bool, bool) = (row.get(0), row.get(1));
    if !exists {
        return Err(SourceError::Setup(format!(
            "signal.data.collection: table {t} does not exist\nHINT: CREATE TABLE {} (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))",
            t.quoted()
        )));
    }
    if !published {
        return Err(SourceError::Setup(format!(
            "signal.data.collection: table {t} is not in publication {:?}, so its signals would never arrive\nHINT: ALTER PUBLICATION {} ADD TABLE {}",
            config.publication_name,
            crate::config::quote_ident(&config.publication_name),
            t.quoted()
        )));
    }
    Ok(())
}
