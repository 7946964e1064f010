//! The daemon's record of its connectors: each one's config and target state, kept in
//! `<data_dir>/connectors.json` so that a restart (or a crash) brings every connector back
//! as the operator left it.
//!
//! The file is replaced atomically on every change (temp file, fsync, rename, fsync of the
//! directory): after a crash it holds the state before or after the change, never a mix.
//! It holds connector configs as given, passwords included, so it is created readable by
//! its owner only.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// What the operator asked a connector to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TargetState {
    Running,
    Paused,
    Stopped,
}

impl TargetState {
    pub fn parse(s: &str) -> Option<TargetState> {
        match s.to_ascii_uppercase().as_str() {
            "RUNNING" => Some(TargetState::Running),
            "PAUSED" => Some(TargetState::Paused),
            "STOPPED" => Some(TargetState::Stopped),
            _ => None,
        }
    }
}

/// One connector as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stored {
    pub config: serde_json::Map<String, serde_json::Value>,
    pub target: TargetState,
    /// Topics the connector has written to (Kafka Connect's "active topics").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct FileBody {
    version: u32,
    connectors: BTreeMap<String, Stored>,
}

/// Why the store could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("could not {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is not a valid connector store: {source}\nHINT: restore it from a backup, or move it away to start with no connectors"
    )]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// The connector store. Writes are serialised; each one rewrites the whole (small) file.
pub struct Store {
    path: PathBuf,
    state: Mutex<BTreeMap<String, Stored>>,
}

impl Store {
    /// Opens (or starts) the store in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        let path = data_dir.join("connectors.json");
        let connectors = match std::fs::read(&path) {
            Ok(bytes) => {
                let body: FileBody =
                    serde_json::from_slice(&bytes).map_err(|source| StoreError::Corrupt {
                        path: path.clone(),
                        source,
                    })?;
                body.connectors
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => {
                return Err(StoreError::Io {
                    action: "read",
                    path,
                    source,
                });
            }
        };
        Ok(Store {
            path,
            state: Mutex::new(connectors),
        })
    }

    /// Every stored connector.
    pub fn all(&self) -> BTreeMap<String, Stored> {
        self.state.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// One stored connector.
    pub fn get(&self, name: &str) -> Option<Stored> {
        self.state.lock().ok().and_then(|s| s.get(name).cloned())
    }

    /// Sets (or, with `None`, removes) one connector and writes the file. On failure the
    /// change is not kept.
    pub fn put(&self, name: &str, value: Option<Stored>) -> Result<(), StoreError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let before = match &value {
            Some(v) => state.insert(name.to_string(), v.clone()),
            None => state.remove(name),
        };
        // fsync blocks: let the runtime move its other work off this thread meanwhile.
        let written = match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| self.write(&state))
            }
            _ => self.write(&state),
        };
        if let Err(e) = written {
            match before {
                Some(b) => state.insert(name.to_string(), b),
                None => state.remove(name),
            };
            return Err(e);
        }
        Ok(())
    }

    /// Changes one stored connector in place (if it is stored).
    pub fn update(&self, name: &str, f: impl FnOnce(&mut Stored)) -> Result<(), StoreError> {
        match self.get(name) {
            Some(mut s) => {
                f(&mut s);
                self.put(name, Some(s))
            }
            None => Ok(()),
        }
    }

    fn write(&self, state: &BTreeMap<String, Stored>) -> Result<(), StoreError> {
        let io = |action, source| StoreError::Io {
            action,
            path: self.path.clone(),
            source,
        };
        let body = FileBody {
            version: 1,
            connectors: state.clone(),
        };
        let bytes = serde_json::to_vec_pretty(&body).expect("the store always serializes");
        let tmp = self.path.with_extension("json.tmp");
        let mut f = owner_only(&tmp).map_err(|e| io("create", e))?;
        f.write_all(&bytes).map_err(|e| io("write", e))?;
        f.sync_all().map_err(|e| io("sync", e))?;
        drop(f);
        std::fs::rename(&tmp, &self.path).map_err(|e| io("replace", e))?;
        if let Some(dir) = self.path.parent()
            && let Ok(d) = std::fs::File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

fn owner_only(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(target: TargetState) -> Stored {
        let config = serde_json::json!({"topic.prefix": "cdc", "database.password": "pw"});
        Stored {
            config: config.as_object().unwrap().clone(),
            target,
            topics: vec![],
        }
    }

    #[test]
    fn changes_survive_reopening_and_removal_sticks() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(store.all().is_empty());
        store.put("a", Some(stored(TargetState::Running))).unwrap();
        store
            .put("café ☕", Some(stored(TargetState::Paused)))
            .unwrap();
        store
            .update("a", |s| s.target = TargetState::Stopped)
            .unwrap();
        let again = Store::open(dir.path()).unwrap().all();
        assert_eq!(again["a"].target, TargetState::Stopped);
        assert_eq!(again["café ☕"].target, TargetState::Paused);
        store.put("a", None).unwrap();
        let again = Store::open(dir.path()).unwrap().all();
        assert_eq!(again.keys().collect::<Vec<_>>(), vec!["café ☕"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("connectors.json"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "the store holds passwords: owner only");
        }
    }

    #[test]
    fn a_failed_write_keeps_nothing_and_a_corrupt_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("missing-dir")).unwrap();
        assert!(store.put("a", Some(stored(TargetState::Running))).is_err());
        assert!(store.all().is_empty());
        std::fs::write(dir.path().join("connectors.json"), b"{oops").unwrap();
        let e = Store::open(dir.path()).err().unwrap().to_string();
        assert!(e.contains("connectors.json") && e.contains("HINT"), "{e}");
    }
}
