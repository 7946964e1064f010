//! `replica.identity.autoset.values`: the connector sets the REPLICA IDENTITY of captured
//! tables when it starts, as Debezium's `ReplicaIdentityMapper` does.
//!
//! The value is a comma-separated list of `<table regex>:<identity>`, the regex matched
//! case-insensitively against `schema.table` and the identity one of `DEFAULT`, `FULL`,
//! `NOTHING` or `INDEX <index name>`. A table matched by two entries is an error, as in
//! Debezium. Where Debezium only logs a failed `ALTER TABLE` (the connector then streams
//! with the old identity), Tributary stops with an error naming the property: an identity
//! that was asked for and not applied changes what every update and delete carries.

use regex::Regex;
use tokio_postgres::Client;

use crate::catalog::{ReplicaIdentity, TableMeta};
use crate::config::{TableId, quote_ident};
use crate::error::SourceError;

const PROPERTY: &str = "replica.identity.autoset.values";

/// The identity an entry asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    Default,
    Full,
    Nothing,
    Index(String),
}

impl Identity {
    fn sql(&self) -> String {
        match self {
            Identity::Default => "DEFAULT".into(),
            Identity::Full => "FULL".into(),
            Identity::Nothing => "NOTHING".into(),
            Identity::Index(name) => format!("USING INDEX {}", quote_ident(name)),
        }
    }
}

/// The parsed property.
#[derive(Debug, Clone, Default)]
pub struct AutosetIdentities(Vec<(Regex, Identity)>);

impl AutosetIdentities {
    /// Parses the property; the error says which entry is malformed and what is expected.
    pub fn parse(spec: &str) -> Result<Self, String> {
        // Debezium's REPLICA_AUTO_SET_PATTERN.
        let entry = Regex::new(
            r"(?i)^\s*(?P<table>[^\s:]+):(?P<identity>DEFAULT|INDEX (?P<index>.\w*)|FULL|NOTHING)\s*$",
        )
        .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for part in spec.split(',').filter(|p| !p.trim().is_empty()) {
            let Some(caps) = entry.captures(part) else {
                return Err(format!(
                    "{:?} has an invalid format: expected <schema>.<table regex>:<DEFAULT|FULL|NOTHING|INDEX index_name>",
                    part.trim()
                ));
            };
            let table = &caps["table"];
            let regex = Regex::new(&format!("(?i)^(?:{table})$"))
                .map_err(|e| format!("{table:?} is not a valid regular expression: {e}"))?;
            let identity = match caps["identity"].to_ascii_uppercase().as_str() {
                "DEFAULT" => Identity::Default,
                "FULL" => Identity::Full,
                "NOTHING" => Identity::Nothing,
                _ => Identity::Index(caps["index"].to_string()),
            };
            out.push((regex, identity));
        }
        Ok(AutosetIdentities(out))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The identity asked for `table`, if an entry matches it (an error if several do).
    pub fn for_table(&self, table: &TableId) -> Result<Option<&Identity>, String> {
        let name = table.to_string();
        let mut matched = self.0.iter().filter(|(re, _)| re.is_match(&name));
        let first = matched.next().map(|(_, identity)| identity);
        if matched.next().is_some() {
            return Err(format!(
                "more than one entry of {PROPERTY} matches table {table}; make the regular expressions exclusive"
            ));
        }
        Ok(first)
    }
}

/// Sets the asked-for identities of `tables` that differ from the catalog's, and updates
/// `tables` to match.
pub async fn apply(
    client: &Client,
    identities: &AutosetIdentities,
    tables: &mut [TableMeta],
) -> Result<(), SourceError> {
    if identities.is_empty() {
        return Ok(());
    }
    for table in tables {
        let Some(wanted) = identities
            .for_table(&table.id)
            .map_err(SourceError::Setup)?
        else {
            continue;
        };
        if current(client, table).await? == *wanted {
            tracing::info!(table = %table.id, identity = %wanted.sql(), "replica identity already set");
            continue;
        }
        let sql = format!(
            "ALTER TABLE {} REPLICA IDENTITY {}",
            table.id.quoted(),
            wanted.sql()
        );
        client.batch_execute(&sql).await.map_err(|e| {
            SourceError::Setup(format!(
                "{PROPERTY}: could not run {sql}: {e}\nHINT: the connector's user must own the table; set the identity by hand and remove the entry, or grant ownership"
            ))
        })?;
        tracing::info!(table = %table.id, identity = %wanted.sql(), "replica identity set ({PROPERTY})");
        table.replica_identity = match wanted {
            Identity::Default => ReplicaIdentity::Default,
            Identity::Full => ReplicaIdentity::Full,
            Identity::Nothing => ReplicaIdentity::Nothing,
            Identity::Index(_) => ReplicaIdentity::Index,
        };
    }
    Ok(())
}

/// The table's identity now, with the index's name for `INDEX`.
async fn current(client: &Client, table: &TableMeta) -> Result<Identity, SourceError> {
    Ok(match table.replica_identity {
        ReplicaIdentity::Default => Identity::Default,
        ReplicaIdentity::Full => Identity::Full,
        ReplicaIdentity::Nothing => Identity::Nothing,
        ReplicaIdentity::Index => {
            let row = client
                .query_opt(
                    "SELECT c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
                     WHERE i.indrelid = $1 AND i.indisreplident",
                    &[&table.oid],
                )
                .await
                .map_err(SourceError::query("could not read the replica identity index"))?;
            Identity::Index(row.map(|r| r.get(0)).unwrap_or_default())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::load_table;
    use crate::conn::connect_query;
    use crate::replication::test_cluster::Cluster;

    #[tokio::test]
    async fn identities_are_set_on_owned_tables_and_a_refusal_names_the_property() {
        let Some(cluster) = Cluster::start(false) else {
            return;
        };
        cluster.create_roles().await;
        cluster
            .execute(
                "CREATE TABLE t (id int PRIMARY KEY, v text); CREATE UNIQUE INDEX t_id ON t (id);
                 GRANT SELECT ON t TO trust_user",
            )
            .await;
        let su = connect_query(&cluster.superuser()).await.unwrap();
        let oid: u32 = su
            .query_one("SELECT 't'::regclass::oid", &[])
            .await
            .unwrap()
            .get(0);
        let identity =
            || cluster.query_value("SELECT relreplident FROM pg_class WHERE relname = 't'");
        for (spec, expected, kind) in [
            ("public.t:FULL", "f", ReplicaIdentity::Full),
            ("public.T:index t_id", "i", ReplicaIdentity::Index),
            ("public\\..*:DEFAULT", "d", ReplicaIdentity::Default),
        ] {
            let mut tables = vec![load_table(&su, oid).await.unwrap().unwrap()];
            apply(&su, &AutosetIdentities::parse(spec).unwrap(), &mut tables)
                .await
                .unwrap();
            assert_eq!(identity().await.as_deref(), Some(expected), "{spec}");
            assert_eq!(tables[0].replica_identity, kind);
        }
        let index = cluster
            .query_value("SELECT count(*) FROM pg_index WHERE indisreplident")
            .await;
        assert_eq!(index.as_deref(), Some("0"));

        // A user who does not own the table cannot alter it: the connector stops.
        let other = connect_query(&cluster.params("trust_user", "trust-pw"))
            .await
            .unwrap();
        let mut tables = vec![load_table(&other, oid).await.unwrap().unwrap()];
        let err = apply(
            &other,
            &AutosetIdentities::parse("public.t:NOTHING").unwrap(),
            &mut tables,
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains(PROPERTY), "{err}");
        assert_eq!(identity().await.as_deref(), Some("d"));
    }

    #[test]
    fn entries_parse_as_debezium_reads_them_and_one_table_takes_one_entry() {
        let ids = AutosetIdentities::parse(
            "public.orders:FULL, public\\.items_.*:index items_pk ,inventory.*:NOTHING",
        )
        .unwrap();
        let id = |s, t| TableId::new(s, t);
        assert_eq!(
            ids.for_table(&id("PUBLIC", "ORDERS")).unwrap(),
            Some(&Identity::Full)
        );
        assert_eq!(
            ids.for_table(&id("public", "items_2024")).unwrap(),
            Some(&Identity::Index("items_pk".into()))
        );
        assert_eq!(ids.for_table(&id("public", "other")).unwrap(), None);
        let both = AutosetIdentities::parse("public.a.*:FULL,public.ab:DEFAULT").unwrap();
        assert!(both.for_table(&id("public", "ab")).is_err());
        let err = AutosetIdentities::parse("public.orders:PARTIAL").unwrap_err();
        assert!(err.contains("public.orders:PARTIAL"), "{err}");
    }
}
