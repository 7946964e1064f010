//! The embedded tantivy indexes: one per expanded `index.name`, in one directory.
//!
//! An [`IndexRegistry`] owns every index under one directory. The daemon opens it once per
//! directory and hands the same `Arc` to the sink jobs that write and to the REST API that
//! searches, so both use the same tantivy `Index` and reader: a search sees a sink's commit
//! as soon as the sink's `write` returns.
//!
//! Each index lives in a subdirectory named after the index, with every character other
//! than ASCII letters, digits, `_`, `-` and a non-leading `.` written as `%XX`: any name
//! maps to one safe directory name and back, and none can climb out of the directory.
//!
//! One job at a time writes an index (it *claims* it, and holds its `IndexWriter`); the
//! position checks rely on no one else changing the index between a lookup and a commit.

mod apply;
mod fields;
mod jobs;
mod payload;
mod query;
mod sink;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use tantivy::indexer::IndexWriterOptions;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyError};
use tributary_core::{Position, RowSchema, SinkError};

use fields::Fields;
use payload::Payload;

pub use query::{IndexField, IndexInfo, MAX_LIMIT, QueryError, SearchHit, SearchResults};
pub use sink::TantivySink;

/// Why an embedded index could not be opened, created or written.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("cannot use index directory {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("index name {name:?} is not usable: {reason}; change index.name")]
    InvalidName { name: String, reason: String },
    #[error("index {index:?} failed: {source}")]
    Tantivy { index: String, source: TantivyError },
    #[error(
        "index {index:?} at {path} cannot be opened ({reason}); move the directory away to rebuild it"
    )]
    Broken {
        index: String,
        path: PathBuf,
        reason: String,
    },
    #[error(
        "index {index:?} is written by job {owner:?}; one job at a time may write an index, so give this job another index.name"
    )]
    Claimed { index: String, owner: String },
    #[error("index {index:?} is being written by job {owner:?}; stop the job first")]
    Busy { index: String, owner: String },
}

impl IndexError {
    pub(crate) fn tantivy(index: &str, source: TantivyError) -> IndexError {
        IndexError::Tantivy {
            index: index.to_string(),
            source,
        }
    }
}

impl From<IndexError> for SinkError {
    /// Disk trouble and a writer lock held by another process can pass; the rest needs a
    /// person.
    fn from(e: IndexError) -> SinkError {
        let transient = match &e {
            IndexError::Dir { .. } => true,
            IndexError::Tantivy { source, .. } => matches!(
                source,
                TantivyError::IoError(_)
                    | TantivyError::LockFailure(..)
                    | TantivyError::OpenDirectoryError(_)
                    | TantivyError::OpenWriteError(_)
            ),
            _ => false,
        };
        if transient {
            SinkError::Transient(e.to_string())
        } else {
            SinkError::Definite(e.to_string())
        }
    }
}

/// One index: the tantivy objects shared by the writing job and the readers.
pub(crate) struct EmbeddedIndex {
    pub name: String,
    pub index: Index,
    pub reader: IndexReader,
    pub fields: Fields,
    pub state: Mutex<IndexState>,
    /// The columns held in `__cols` as of a searcher generation (listing them reads the
    /// term dictionaries, so once per commit, not per query).
    pub columns: Mutex<Option<(u64, query::Columns)>>,
}

/// What only the writing job touches.
pub(crate) struct IndexState {
    /// The job that claimed the index, and which instance of the job's sink.
    pub owner: Option<(String, u64)>,
    /// Opened by the owner on its first write; dropping it discards uncommitted changes.
    pub writer: Option<IndexWriter>,
    /// The payload of the last commit.
    pub committed: Payload,
    /// A truncate floor staged in the writer, committed with it.
    pub staged_floor: Option<Position>,
    /// Not older than any position the index holds (committed or staged); `None` while
    /// it holds none. A change not older than it has no newer copy to look up.
    pub newest: Option<Position>,
}

impl IndexState {
    /// Drops what is staged and not committed.
    pub fn discard(&mut self) {
        self.writer = None;
        self.staged_floor = None;
    }
}

impl EmbeddedIndex {
    fn open(name: String, index: Index, path: &Path) -> Result<EmbeddedIndex, IndexError> {
        let err = |e| IndexError::tantivy(&name, e);
        let fields = Fields::from_schema(&index.schema()).map_err(|reason| IndexError::Broken {
            index: name.clone(),
            path: path.to_path_buf(),
            reason,
        })?;
        let committed = Payload::parse(index.load_metas().map_err(err)?.payload.as_deref());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(err)?;
        let newest = apply::newest_stored(&reader.searcher()).map_err(err)?;
        Ok(EmbeddedIndex {
            name,
            index,
            reader,
            fields,
            columns: Mutex::new(None),
            state: Mutex::new(IndexState {
                owner: None,
                writer: None,
                committed,
                staged_floor: None,
                newest,
            }),
        })
    }

    /// A writer with one indexing and one merge thread: batches are small and frequent,
    /// and a job may write many indexes on a small machine.
    pub fn open_writer(&self, memory: usize) -> Result<IndexWriter, IndexError> {
        let options = IndexWriterOptions::builder()
            .memory_budget_per_thread(memory)
            .num_worker_threads(1)
            .num_merge_threads(1)
            .build();
        self.index
            .writer_with_options(options)
            .map_err(|e| IndexError::tantivy(&self.name, e))
    }

    pub fn lock(&self) -> MutexGuard<'_, IndexState> {
        // A panic while holding the lock leaves a writer whose uncommitted work must go.
        self.state.lock().unwrap_or_else(|poisoned| {
            let mut s = poisoned.into_inner();
            s.discard();
            s
        })
    }
}

/// Every embedded index under one directory, shared by the sinks and the query API.
pub struct IndexRegistry {
    dir: PathBuf,
    indexes: RwLock<BTreeMap<String, Arc<EmbeddedIndex>>>,
    /// Registries of other directories (jobs' own `index.dir`), opened once through this
    /// one: the API serves their indexes too, and no two registries write one directory.
    others: Mutex<BTreeMap<PathBuf, Arc<IndexRegistry>>>,
}

impl std::fmt::Debug for IndexRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexRegistry")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl IndexRegistry {
    /// Opens (creating it if needed) the directory and every index in it. A subdirectory
    /// that is not a readable index is skipped with a warning, so one damaged index does
    /// not hide the others; writing to it fails with the reason.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Arc<IndexRegistry>, IndexError> {
        let dir = dir.into();
        let dir_err = |source| IndexError::Dir {
            path: dir.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(dir_err)?;
        let mut indexes = BTreeMap::new();
        for entry in std::fs::read_dir(&dir).map_err(dir_err)? {
            let entry = entry.map_err(dir_err)?;
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().and_then(decode_dir_name) else {
                continue;
            };
            if !path.join("meta.json").is_file() {
                continue;
            }
            match Index::open_in_dir(&path)
                .map_err(|e| IndexError::tantivy(&name, e))
                .and_then(|index| EmbeddedIndex::open(name.clone(), index, &path))
            {
                Ok(index) => {
                    indexes.insert(name, Arc::new(index));
                }
                Err(e) => {
                    tracing::warn!(index = %name, path = %path.display(), error = %e, "skipping an index that cannot be opened")
                }
            }
        }
        tracing::debug!(dir = %dir.display(), indexes = indexes.len(), "opened embedded indexes");
        Ok(Arc::new(IndexRegistry {
            dir,
            indexes: RwLock::new(indexes),
            others: Mutex::new(BTreeMap::new()),
        }))
    }

    /// The registry of `dir`: this one, or another opened (once) through this one.
    pub fn at(self: &Arc<Self>, dir: &Path) -> Result<Arc<IndexRegistry>, IndexError> {
        if dir == self.dir {
            return Ok(self.clone());
        }
        let mut others = self.others.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = others.get(dir) {
            return Ok(r.clone());
        }
        let registry = IndexRegistry::open(dir)?;
        others.insert(dir.to_path_buf(), registry.clone());
        Ok(registry)
    }

    /// This registry and those of other directories opened through it.
    pub(crate) fn every(self: &Arc<Self>) -> Vec<Arc<IndexRegistry>> {
        let others = self.others.lock().unwrap_or_else(|p| p.into_inner());
        std::iter::once(self.clone())
            .chain(others.values().cloned())
            .collect()
    }

    /// Removes the index `name` and its files. Refused while a job writes it.
    pub(crate) fn remove(&self, name: &str) -> Result<bool, IndexError> {
        let mut indexes = self.indexes.write().unwrap_or_else(|p| p.into_inner());
        let Some(index) = indexes.get(name) else {
            return Ok(false);
        };
        if let Some((job, _)) = &index.lock().owner {
            return Err(IndexError::Busy {
                index: name.to_string(),
                owner: job.clone(),
            });
        }
        let path = self.dir.join(encode_dir_name(name)?);
        indexes.remove(name);
        std::fs::remove_dir_all(&path).map_err(|source| IndexError::Dir { path, source })?;
        tracing::info!(index = %name, "deleted embedded index");
        Ok(true)
    }

    /// The directory the indexes live in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The names of the indexes, sorted.
    pub fn names(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }

    pub(crate) fn get(&self, name: &str) -> Option<Arc<EmbeddedIndex>> {
        self.read().get(name).cloned()
    }

    pub(crate) fn all(&self) -> Vec<Arc<EmbeddedIndex>> {
        self.read().values().cloned().collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<EmbeddedIndex>>> {
        self.indexes.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The index called `name`, created with fields from `row` if it does not exist.
    pub(crate) fn get_or_create(
        &self,
        name: &str,
        row: Option<&RowSchema>,
    ) -> Result<Arc<EmbeddedIndex>, IndexError> {
        if let Some(index) = self.get(name) {
            return Ok(index);
        }
        let dir_name = encode_dir_name(name)?;
        let mut indexes = self.indexes.write().unwrap_or_else(|p| p.into_inner());
        if let Some(index) = indexes.get(name) {
            return Ok(index.clone());
        }
        let path = self.dir.join(dir_name);
        if path.join("meta.json").is_file() {
            // It was there at open but could not be read.
            return Err(IndexError::Broken {
                index: name.to_string(),
                path,
                reason: "it was skipped when the indexes were opened; see the log".into(),
            });
        }
        std::fs::create_dir_all(&path).map_err(|source| IndexError::Dir {
            path: path.clone(),
            source,
        })?;
        let index = Index::create_in_dir(&path, fields::build_schema(row))
            .map_err(|e| IndexError::tantivy(name, e))?;
        let index = Arc::new(EmbeddedIndex::open(name.to_string(), index, &path)?);
        tracing::info!(index = %name, path = %path.display(), "created embedded index");
        indexes.insert(name.to_string(), index.clone());
        Ok(index)
    }
}

/// Longest directory name we write (file systems allow 255 bytes).
const MAX_DIR_NAME: usize = 200;

/// The directory name of an index: safe characters kept, every other byte `%XX`.
pub(crate) fn encode_dir_name(name: &str) -> Result<String, IndexError> {
    let invalid = |reason: &str| IndexError::InvalidName {
        name: name.to_string(),
        reason: reason.to_string(),
    };
    if name.is_empty() {
        return Err(invalid("it is empty"));
    }
    let mut out = String::with_capacity(name.len());
    for (i, b) in name.bytes().enumerate() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (b == b'.' && i > 0) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.len() > MAX_DIR_NAME {
        return Err(invalid("it is too long for a directory name"));
    }
    Ok(out)
}

/// The index name of a directory written by [`encode_dir_name`]; `None` for others.
pub(crate) fn decode_dir_name(dir: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(dir.len());
    let mut iter = dir.bytes();
    while let Some(b) = iter.next() {
        if b == b'%' {
            let hex = [iter.next()?, iter.next()?];
            let hex = std::str::from_utf8(&hex).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
        } else if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.') {
            bytes.push(b);
        } else {
            return None;
        }
    }
    let name = String::from_utf8(bytes).ok()?;
    (!name.is_empty() && encode_dir_name(&name).ok()? == dir).then_some(name)
}

#[cfg(test)]
mod tests;
