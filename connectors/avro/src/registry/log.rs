//! The embedded registry's durable state: an append-only log of JSON lines.
//!
//! Why a log and not a snapshot rewritten on every change: a connector starting on a
//! database with a thousand tables registers two thousand subjects back to back, and
//! rewriting the whole state (every schema text, a few KB each) for each of them is
//! quadratic. Appending one line and `fdatasync`ing it costs the same for the first
//! registration and the ten-thousandth, and every record is small and meaningful
//! (registrations, deletions, config changes), so the log never needs compaction in
//! practice.
//!
//! Crash safety: a record is acknowledged (the HTTP answer goes out) only after its line is
//! written and synced. A crash can therefore only leave a *torn last line*: bytes of a
//! record nobody was told about. On open, a last line that is unterminated or does not
//! parse is cut off; an unparsable line with good lines after it is real corruption and
//! stops the registry, because silently dropping a registration could hand its id to
//! another schema. The file is created with a header through temp file + fsync + rename +
//! fsync of the directory, so it either exists complete or not at all.
//!
//! Format, one JSON object per line, the first one the header:
//! ```text
//! {"op":"header","format":"tributary-schema-registry","version":1}
//! {"op":"register","subject":"cdc.public.t-value","version":1,"id":1,"schema":"{…}"}
//! {"op":"register","subject":"other-value","version":1,"id":1}
//! {"op":"delete_version","subject":"s","version":1,"permanent":false}
//! {"op":"delete_subject","subject":"s","permanent":true}
//! {"op":"config","level":"FULL"}
//! {"op":"config","subject":"s","level":null}
//! ```
//! A `register` carries the schema text only when it introduces a new global id.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::compat::CompatibilityLevel;
use super::error::RegistryError;

pub(super) const FILE_NAME: &str = "registry.log";
const FORMAT: &str = "tributary-schema-registry";
const FORMAT_VERSION: u32 = 1;

/// One acknowledged change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub(super) enum Record {
    Header {
        format: String,
        version: u32,
    },
    Register {
        subject: String,
        version: u32,
        id: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        schema: Option<String>,
    },
    DeleteVersion {
        subject: String,
        version: u32,
        permanent: bool,
    },
    DeleteSubject {
        subject: String,
        permanent: bool,
    },
    /// `subject: None` is the global level; `level: None` removes the setting.
    Config {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subject: Option<String>,
        level: Option<CompatibilityLevel>,
    },
}

/// The open log, positioned at its end.
pub(super) struct Log {
    path: PathBuf,
    file: File,
    /// Length of the acknowledged content.
    len: u64,
    /// Set when a failed append could not be undone: the file may hold a record the
    /// in-memory state does not, so further writes are refused until a restart replays it.
    broken: bool,
}

impl Log {
    /// Opens the log in `dir` (creating both) and returns its records after the header,
    /// each with its 1-based line number.
    pub(super) fn open(dir: &Path) -> Result<(Log, Vec<(usize, Record)>), RegistryError> {
        std::fs::create_dir_all(dir).map_err(|source| RegistryError::Io {
            action: "create the schema registry directory",
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(FILE_NAME);
        let io = |action: &'static str| {
            let path = path.clone();
            move |source| RegistryError::Io {
                action,
                path,
                source,
            }
        };
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io("read")(e)),
        };
        if bytes.is_empty() {
            create_with_header(dir, &path)?;
            let file = OpenOptions::new()
                .append(true)
                .open(&path)
                .map_err(io("open"))?;
            let len = file.metadata().map_err(io("inspect"))?.len();
            let log = Log {
                path,
                file,
                len,
                broken: false,
            };
            return Ok((log, Vec::new()));
        }

        let (records, good_len) = parse(&path, &bytes)?;
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io("open"))?;
        if good_len < bytes.len() as u64 {
            tracing::warn!(
                path = %path.display(),
                discarded_bytes = bytes.len() as u64 - good_len,
                "cutting off a torn last record of the schema registry log (a write interrupted by a crash, never acknowledged)"
            );
            file.set_len(good_len).map_err(io("truncate"))?;
            file.sync_all().map_err(io("sync"))?;
        }
        let log = Log {
            path,
            file,
            len: good_len,
            broken: false,
        };
        Ok((log, records))
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record and syncs it to disk. When this returns `Ok`, the record survives
    /// a crash; when it returns `Err`, the record is not in the log.
    pub(super) fn append(&mut self, record: &Record) -> std::io::Result<()> {
        if self.broken {
            return Err(std::io::Error::other(
                "an earlier write failed and could not be undone; restart the daemon",
            ));
        }
        let mut line = serde_json::to_vec(record).expect("a record always serializes");
        line.push(b'\n');
        let result = self
            .file
            .write_all(&line)
            .and_then(|()| self.file.sync_data());
        match result {
            Ok(()) => {
                self.len += line.len() as u64;
                Ok(())
            }
            Err(e) => {
                if self
                    .file
                    .set_len(self.len)
                    .and_then(|()| self.file.sync_all())
                    .is_err()
                {
                    self.broken = true;
                }
                Err(e)
            }
        }
    }
}

/// The records of a complete log and the length of its good prefix.
fn parse(path: &Path, bytes: &[u8]) -> Result<(Vec<(usize, Record)>, u64), RegistryError> {
    let corrupt = |line: usize, reason: String| RegistryError::Corrupt {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let mut records = Vec::new();
    let mut offset = 0usize;
    let mut line_no = 0usize;
    let mut good_len = 0u64;
    while offset < bytes.len() {
        line_no += 1;
        let rest = &bytes[offset..];
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
            // Unterminated: the tail of an interrupted append.
            break;
        };
        let line = &rest[..nl];
        let is_last = offset + nl + 1 == bytes.len();
        match serde_json::from_slice::<Record>(line) {
            Ok(record) => {
                if line_no == 1 {
                    match &record {
                        Record::Header { format, version }
                            if format == FORMAT && *version == FORMAT_VERSION => {}
                        Record::Header { format, version } => {
                            return Err(corrupt(
                                1,
                                format!(
                                    "unsupported format {format:?} version {version} (this build reads {FORMAT:?} version {FORMAT_VERSION})"
                                ),
                            ));
                        }
                        _ => return Err(corrupt(1, "the header line is missing".into())),
                    }
                } else if matches!(record, Record::Header { .. }) {
                    return Err(corrupt(line_no, "a second header line".into()));
                } else {
                    records.push((line_no, record));
                }
                offset += nl + 1;
                good_len = offset as u64;
            }
            Err(_) if is_last && line_no > 1 => break,
            Err(e) => return Err(corrupt(line_no, e.to_string())),
        }
    }
    Ok((records, good_len))
}

fn create_with_header(dir: &Path, path: &Path) -> Result<(), RegistryError> {
    let tmp = path.with_extension("log.tmp");
    let io = |action: &'static str, p: &Path| {
        let p = p.to_path_buf();
        move |source| RegistryError::Io {
            action,
            path: p,
            source,
        }
    };
    let mut f = File::create(&tmp).map_err(io("create", &tmp))?;
    let mut line = serde_json::to_vec(&Record::Header {
        format: FORMAT.into(),
        version: FORMAT_VERSION,
    })
    .expect("a record always serializes");
    line.push(b'\n');
    f.write_all(&line).map_err(io("write", &tmp))?;
    f.sync_all().map_err(io("sync", &tmp))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io("rename into place", path))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("sync directory", dir))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn register(id: u32) -> Record {
        Record::Register {
            subject: "s".into(),
            version: id,
            id,
            schema: Some("\"int\"".into()),
        }
    }

    #[test]
    fn appended_records_come_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, records) = Log::open(dir.path()).unwrap();
        assert!(records.is_empty());
        log.append(&register(1)).unwrap();
        log.append(&Record::Config {
            subject: None,
            level: Some(CompatibilityLevel::Full),
        })
        .unwrap();
        drop(log);
        let (_, records) = Log::open(dir.path()).unwrap();
        let records: Vec<Record> = records.into_iter().map(|(_, r)| r).collect();
        assert_eq!(
            records,
            vec![
                register(1),
                Record::Config {
                    subject: None,
                    level: Some(CompatibilityLevel::Full)
                }
            ]
        );
    }

    #[test]
    fn torn_last_line_is_cut_off_and_later_appends_are_clean() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = Log::open(dir.path()).unwrap();
        log.append(&register(1)).unwrap();
        drop(log);
        let path = dir.path().join(FILE_NAME);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"op":"register","subject":"s","vers"#)
            .unwrap();
        drop(f);

        let (mut log, records) = Log::open(dir.path()).unwrap();
        assert_eq!(records.len(), 1);
        log.append(&register(2)).unwrap();
        drop(log);
        let (_, records) = Log::open(dir.path()).unwrap();
        assert_eq!(records.len(), 2);

        // A zero-filled tail that ends in a newline is torn too.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"\0\0\0\0\n").unwrap();
        drop(f);
        let (_, records) = Log::open(dir.path()).unwrap();
        assert_eq!(records.len(), 2);
    }

    #[test]
    fn a_bad_line_in_the_middle_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = Log::open(dir.path()).unwrap();
        log.append(&register(1)).unwrap();
        drop(log);
        let path = dir.path().join(FILE_NAME);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"garbage\n").unwrap();
        f.write_all(&serde_json::to_vec(&register(2)).unwrap())
            .unwrap();
        f.write_all(b"\n").unwrap();
        drop(f);
        let err = Log::open(dir.path()).err().unwrap().to_string();
        assert!(err.contains("corrupt at line 3"), "{err}");
    }

    #[test]
    fn a_foreign_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(FILE_NAME),
            b"{\"op\":\"config\",\"level\":null}\n",
        )
        .unwrap();
        let err = Log::open(dir.path()).err().unwrap().to_string();
        assert!(err.contains("header line is missing"), "{err}");
    }
}
