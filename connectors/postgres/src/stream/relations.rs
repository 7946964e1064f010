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
