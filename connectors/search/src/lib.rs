//! Search-index sinks: keep search indexes equal to the source tables.
//!
//! The job consumer decodes `cdc.*` records into [`SinkRecord`]s and hands batches to a
//! [`Sink`]. Each row becomes one document — the flattened row, id [`RowKey::id`] — in
//! the index named by the job's `index.name` template (one index per table by default).
//! Inserts, updates and snapshot reads upsert it, deletes remove it, a truncate removes
//! the table's documents. Replays are made harmless by ordering on the source position;
//! how depends on what the target can do:
//!
//! - [`embedded`] (the default, `search.backend=tantivy`): tantivy indexes inside the
//!   daemon. Positions are compared per document, deletes leave tombstones, truncates a
//!   floor, and the job's offsets are committed with the documents, so a crash loses
//!   nothing and what is replayed changes nothing. The REST API searches the same indexes
//!   through [`IndexRegistry`].
//! - [`elastic`] (`elasticsearch`, `opensearch`): `_bulk` with the change LSN as external
//!   version.
//! - [`meili`] (`meilisearch`): document tasks, awaited; ordering rests on in-order
//!   delivery.
//!
//! The daemon opens one [`IndexRegistry`] on `<data_dir>/indexes` and shares it between the
//! sinks it builds with [`open`] and the REST API (`list`, `search`); it validates configs
//! with [`SearchSinkConfig::parse`] and [`check`], and manages a stopped job's offsets with
//! [`set_stored_offsets`].

pub mod config;
pub mod elastic;
pub mod embedded;
mod http;
pub mod meili;
pub mod target;
#[cfg(test)]
mod testing;

use std::sync::Arc;

use tributary_core::sink::BoxFuture;
use tributary_core::{PartitionOffset, RowKey, Sink, SinkError, SinkRecord};

pub use config::{
    Backend, ConfigError, ConfigErrors, Connection, PROPERTIES, SearchSinkConfig, property,
};
pub use elastic::ElasticsearchSink;
pub use embedded::{
    IndexError, IndexField, IndexInfo, IndexRegistry, MAX_LIMIT, QueryError, SearchHit,
    SearchResults, TantivySink,
};
pub use meili::MeilisearchSink;
pub use target::SearchTarget;

/// A search job's sink, whichever the backend.
pub enum SearchSink {
    Tantivy(TantivySink),
    Elasticsearch(ElasticsearchSink),
    Meilisearch(MeilisearchSink),
}

impl SearchSink {
    /// The sink `config` asks for. `registry` holds the embedded indexes of the job's
    /// resolved `index.dir` (`<data_dir>/indexes` unless set); only tantivy reads it.
    pub fn open(
        config: &SearchSinkConfig,
        registry: &Arc<IndexRegistry>,
    ) -> Result<Self, SinkError> {
        Ok(match config.backend {
            Backend::Tantivy => SearchSink::Tantivy(TantivySink::open(config, registry.clone())?),
            Backend::Elasticsearch | Backend::OpenSearch => {
                SearchSink::Elasticsearch(ElasticsearchSink::new(config)?)
            }
            Backend::Meilisearch => SearchSink::Meilisearch(MeilisearchSink::new(config)?),
        })
    }

    fn inner(&mut self) -> &mut dyn Sink {
        match self {
            SearchSink::Tantivy(s) => s,
            SearchSink::Elasticsearch(s) => s,
            SearchSink::Meilisearch(s) => s,
        }
    }
}

impl Sink for SearchSink {
    fn stored_offsets(&self) -> Option<Vec<PartitionOffset>> {
        match self {
            SearchSink::Tantivy(s) => s.stored_offsets(),
            SearchSink::Elasticsearch(s) => s.stored_offsets(),
            SearchSink::Meilisearch(s) => s.stored_offsets(),
        }
    }

    fn write<'a>(
        &'a mut self,
        batch: &'a [SinkRecord],
        offsets: &'a [PartitionOffset],
    ) -> BoxFuture<'a, Result<(), SinkError>> {
        self.inner().write(batch, offsets)
    }
}

/// Opens the sink of a search job. `indexes` is the daemon's registry of
/// `<data_dir>/indexes`; a job with its own `index.dir` gets a registry of that directory
/// (whose indexes the REST API does not serve).
pub async fn open(
    config: &SearchSinkConfig,
    indexes: &Arc<IndexRegistry>,
) -> Result<Box<dyn Sink>, SinkError> {
    let config = config.clone();
    let indexes = indexes.clone();
    // Opening indexes reads their directories.
    tokio::task::spawn_blocking(move || {
        let registry = registry_for(&config, &indexes)?;
        let sink: Box<dyn Sink> = Box::new(SearchSink::open(&config, &registry)?);
        Ok(sink)
    })
    .await
    .map_err(|e| SinkError::Definite(format!("opening the search sink failed: {e}")))?
}

/// Sets (or, with no offsets, forgets) the offsets a stopped tantivy job keeps in its
/// indexes, for `PATCH|DELETE …/offsets`: given partitions take the given next offsets;
/// forgetting makes the job start from its consumer group's offsets. The other backends
/// keep no offsets: nothing to do. Blocking (commits to disk).
pub fn set_stored_offsets(
    config: &SearchSinkConfig,
    indexes: &Arc<IndexRegistry>,
    job: &str,
    offsets: &[PartitionOffset],
) -> Result<(), IndexError> {
    if config.backend != Backend::Tantivy {
        return Ok(());
    }
    let registry = match &config.index_dir {
        Some(dir) => indexes.at(dir)?,
        None => indexes.clone(),
    };
    if offsets.is_empty() {
        registry.forget_job(job)?;
    } else {
        registry.set_job_offsets(job, offsets)?;
    }
    Ok(())
}

fn registry_for(
    config: &SearchSinkConfig,
    indexes: &Arc<IndexRegistry>,
) -> Result<Arc<IndexRegistry>, SinkError> {
    match &config.index_dir {
        Some(dir) if config.backend == Backend::Tantivy => Ok(indexes.at(dir)?),
        _ => Ok(indexes.clone()),
    }
}

/// Checks that a remote backend answers with the configured credentials (for
/// `…/config/validate` and `tributary validate`); problems name the property to fix. The
/// embedded backend has nothing to reach and always passes.
pub async fn check(config: &SearchSinkConfig) -> Result<(), ConfigErrors> {
    let one = |e: ConfigError| ConfigErrors(vec![e]);
    let build = |e: SinkError| {
        one(ConfigError {
            field: "connection.url".into(),
            message: e.to_string(),
        })
    };
    match config.backend {
        Backend::Tantivy => Ok(()),
        Backend::Elasticsearch | Backend::OpenSearch => ElasticsearchSink::new(config)
            .map_err(build)?
            .check()
            .await
            .map_err(one),
        Backend::Meilisearch => MeilisearchSink::new(config)
            .map_err(build)?
            .check()
            .await
            .map_err(one),
    }
}

/// A record's document id: its key, which a search index cannot do without.
pub(crate) fn doc_id(record: &SinkRecord, key: &RowKey) -> Result<String, SinkError> {
    if key.0.is_empty() {
        return Err(SinkError::Definite(format!(
            "a change of table {}.{} has no key, and a search index needs one per row: give the table a primary key or set message.key.columns on the source connector",
            record.table.schema, record.table.table
        )));
    }
    Ok(key.id())
}
