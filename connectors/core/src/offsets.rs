//! Where a source's offset lives between runs.
//!
//! The offset is an opaque JSON document owned by the source (for Postgres: the last
//! committed LSN and snapshot progress). `tributary capture` keeps it in a file written
//! crash-safely (temp file, fsync, rename, fsync of the directory); the Kafka sink stores
//! it in the offsets topic inside its transaction.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Error reading or writing an offset file.
#[derive(Debug, thiserror::Error)]
pub enum OffsetError {
    #[error("could not {action} offset file {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "offset file {path} is not valid JSON: {source}\nHINT: delete it to start over (the connector will snapshot again per snapshot.mode)"
    )]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// An offset kept in one JSON file.
#[derive(Debug, Clone)]
pub struct FileOffsetStore {
    path: PathBuf,
}

impl FileOffsetStore {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileOffsetStore { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored offset, or `None` when nothing was stored yet.
    pub fn load(&self) -> Result<Option<serde_json::Value>, OffsetError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|source| OffsetError::Corrupt {
                        path: self.path.clone(),
                        source,
                    })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(self.io("read", source)),
        }
    }

    /// Replaces the stored offset atomically: after a crash the file holds either the old
    /// or the new offset, never a mix.
    pub fn store(&self, offset: &serde_json::Value) -> Result<(), OffsetError> {
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir).map_err(|e| self.io("create directory for", e))?;
        let tmp = self.path.with_extension("json.tmp");
        let mut f = std::fs::File::create(&tmp).map_err(|e| self.io("create", e))?;
        let bytes = serde_json::to_vec(offset).expect("a JSON value always serializes");
        f.write_all(&bytes).map_err(|e| self.io("write", e))?;
        f.sync_all().map_err(|e| self.io("sync", e))?;
        drop(f);
        std::fs::rename(&tmp, &self.path).map_err(|e| self.io("replace", e))?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    fn io(&self, action: &'static str, source: std::io::Error) -> OffsetError {
        OffsetError::Io {
            action,
            path: self.path.clone(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_file_round_trips_and_reports_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileOffsetStore::new(dir.path().join("o.json"));
        assert!(store.load().unwrap().is_none());
        let v = serde_json::json!({"lsn": "0/16B3748"});
        store.store(&v).unwrap();
        assert_eq!(store.load().unwrap(), Some(v));
        std::fs::write(store.path(), b"{not json").unwrap();
        let err = store.load().unwrap_err().to_string();
        assert!(err.contains("not valid JSON"), "{err}");
    }
}
