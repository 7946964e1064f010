//! Relation messages: the shape of each captured table as the stream announces it, and
//! the [`TableState`] built from it (with the catalog's key, nullability and defaults).

use std::sync::Arc;

use super::{ChangeStream, Rel};
use crate::catalog;
use crate::config::TableId;
use crate::error::SourceError;
use crate::pgoutput::Relation;
use crate::table::{TableState, WireColumn};
use crate::types::ShapeSource;

impl ChangeStream {
    pub(super) async fn relation(&mut self, r: Relation) -> Result<(), SourceError> {
        let wire: Vec<WireColumn> = r.columns.iter().map(WireColumn::from).collect();
        if let Some(existing) = self.relations.get(&r.rel_id)
            && same_shape(&existing.wire, &wire)
        {
            return Ok(());
        }
        let id = TableId::new(r.namespace.clone(), r.name.clone());
        let state = if self.config.filters.accepts_table(&id) {
            Some(Arc::new(self.build_state(r.rel_id, &id, &wire).await?))
        } else {
            self.warn_uncaptured_partition(r.rel_id, &id).await?;
            None
        };
        self.relations.insert(r.rel_id, Rel { wire, state });
        Ok(())
    }

    async fn build_state(
        &mut self,
        oid: u32,
        id: &TableId,
        wire: &[WireColumn],
    ) -> Result<TableState, SourceError> {
        let oids: Vec<u32> = wire.iter().map(|c| c.type_oid).collect();
        self.registry
            .load(&self.client, &oids)
            .await
            .map_err(SourceError::query("could not load column types"))?;
        let mut meta = catalog::load_table(&self.client, oid)
            .await
            .map_err(SourceError::query(
                "could not read the table's catalog entry",
            ))?
            .unwrap_or_else(|| catalog::TableMeta {
                // Dropped since: keep the wire shape, no key or nullability information.
                oid,
                id: id.clone(),
                replica_identity: catalog::ReplicaIdentity::Default,
                partitioned: false,
                columns: Vec::new(),
            });
        meta.id = id.clone();
        self.version += 1;
        let state = TableState::build(
            &meta,
            wire,
            ShapeSource::Relation,
            &self.config,
            &self.registry,
            self.version,
        )
        .map_err(SourceError::Setup)?;
        for col in &state.unknown_columns {
            if self.warned.insert((oid, col.clone())) {
                tracing::warn!(table = %id, column = %col, "column type has no mapping; passing its text form");
            }
        }
        tracing::info!(table = %id, version = self.version, "table shape loaded");
        Ok(state)
    }

    /// Postgres publishes a partition's changes under the partition's own name unless the
    /// publication has `publish_via_partition_root`: as in Debezium, they are captured only
    /// when the filters select the partition itself. A captured root whose partition's
    /// changes are thereby dropped gets one warning naming the two ways to capture them.
    async fn warn_uncaptured_partition(
        &mut self,
        oid: u32,
        id: &TableId,
    ) -> Result<(), SourceError> {
        // Under publish_via_partition_root, Postgres sends a partition's Relation message
        // too, but its changes under the root's.
        if self.config.publish_via_partition_root || !self.warned.insert((oid, String::new())) {
            return Ok(());
        }
        let ancestors = catalog::ancestors(&self.client, oid)
            .await
            .map_err(SourceError::query(
                "could not read a partition's partitioned tables",
            ))?;
        if let Some(root) = ancestors
            .iter()
            .find(|a| self.config.filters.accepts_table(a))
        {
            tracing::warn!(
                partition = %id,
                captured = %root,
                "changes to partition {id} are not captured: the filters select its partitioned table {root} but not the partition, and Postgres publishes the partition's changes under its own name. Hint: set publish.via.partition.root=true to capture them as {root}'s, or add the partition to table.include.list to capture it as a table of its own"
            );
        }
        Ok(())
    }

    pub(super) fn state_of(&self, rel_id: u32) -> Result<Option<Arc<TableState>>, SourceError> {
        match self.relations.get(&rel_id) {
            Some(rel) => Ok(rel.state.clone()),
            None => Err(SourceError::Setup(format!(
                "change for relation {rel_id} arrived before its Relation message\nHINT: this is a protocol error; restart the connector"
            ))),
        }
    }
}

fn same_shape(a: &[WireColumn], b: &[WireColumn]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.name == y.name && x.type_oid == y.type_oid && x.typmod == y.typmod)
}
