//! The schemas of each table shape a connector publishes without transforms: registered
//! (AvroConverter) or rendered (JsonConverter) once per shape, with its topic created.

use std::sync::Arc;

use tributary_avro::schema::table_avro;
use tributary_connect::Converter;
use tributary_core::TableSchemas;

use super::{Publisher, convert};
use crate::error::PublishError;

/// Registered schema ids (AvroConverter) or schema JSON (JsonConverter) of one table
/// shape, whose topic exists.
pub(super) struct TableEntry {
    /// Keeps the pointer used as the map key alive.
    schemas: Arc<TableSchemas>,
    pub key_id: Option<u32>,
    pub value_id: Option<u32>,
    pub key_json: Vec<u8>,
    pub value_json: Vec<u8>,
}

impl Publisher {
    /// The key of a table shape's entry in `tables`, registering its schemas and creating
    /// its topic on first use.
    pub(super) async fn table(
        &mut self,
        schemas: &Arc<TableSchemas>,
    ) -> Result<usize, PublishError> {
        let ptr = Arc::as_ptr(schemas) as usize;
        if !self.tables.contains_key(&ptr) {
            let entry = self.register(schemas).await?;
            // Forget shapes no source holds any more.
            self.tables.retain(|_, e| Arc::strong_count(&e.schemas) > 1);
            self.tables.insert(ptr, entry);
        }
        Ok(ptr)
    }

    async fn register(&mut self, schemas: &Arc<TableSchemas>) -> Result<TableEntry, PublishError> {
        let topic = schemas.topic.to_string();
        let avro = table_avro(
            schemas,
            self.settings.schema_names,
            self.settings.field_names,
        )
        .map_err(|e| PublishError::Schema {
            topic: topic.clone(),
            message: e.to_string(),
        })?;
        let pipeline = &self.settings.pipeline;
        let key_id = match (&avro.key, &pipeline.key) {
            (Some(key), Converter::Avro) => {
                Some(self.registry.register(&format!("{topic}-key"), key).await?)
            }
            _ => None,
        };
        let value_id = match pipeline.value {
            Converter::Avro => Some(
                self.registry
                    .register(&format!("{topic}-value"), &avro.value)
                    .await?,
            ),
            _ => None,
        };
        let key_json = convert::schema_json(&self.settings.pipeline.key, schemas.key.as_ref());
        let value_json =
            convert::schema_json(&self.settings.pipeline.value, Some(&schemas.envelope));
        self.topics.ensure(&topic, &self.settings.topics).await?;
        self.stats.add_topic(&topic);
        tracing::info!(
            topic,
            key_id,
            value_id,
            version = schemas.version,
            "schemas registered"
        );
        Ok(TableEntry {
            schemas: schemas.clone(),
            key_id,
            value_id,
            key_json,
            value_json,
        })
    }
}
