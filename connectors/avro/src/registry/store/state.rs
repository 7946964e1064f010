//! The registry's in-memory state: schemas by id, subjects with their versions, and
//! compatibility levels, changed only by [`State::apply`] (for new writes and log replay).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use apache_avro::Schema;

use super::super::RegisteredSchema;
use super::super::compat::CompatibilityLevel;
use super::super::error::ApiError;
use super::super::identity::schema_identity;
use super::super::log::Record;

pub(super) struct StoredSchema {
    pub(super) text: String,
    pub(super) identity: String,
    /// Parsed once; an error only if a stored text no longer parses with this build.
    pub(super) parsed: Result<Arc<Schema>, String>,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct VersionEntry {
    pub(super) version: u32,
    pub(super) id: u32,
    pub(super) deleted: bool,
}

#[derive(Default)]
pub(super) struct Subject {
    /// Ascending by version.
    pub(super) versions: Vec<VersionEntry>,
    /// Never decreases, even when versions are deleted permanently.
    pub(super) next_version: u32,
}

impl Subject {
    pub(super) fn visible(
        &self,
        include_deleted: bool,
    ) -> impl DoubleEndedIterator<Item = &VersionEntry> {
        self.versions
            .iter()
            .filter(move |v| include_deleted || !v.deleted)
    }

    pub(super) fn has_live(&self) -> bool {
        self.versions.iter().any(|v| !v.deleted)
    }
}

#[derive(Default)]
pub(super) struct State {
    pub(super) next_id: u32,
    pub(super) schemas: BTreeMap<u32, StoredSchema>,
    pub(super) by_identity: HashMap<String, u32>,
    pub(super) subjects: BTreeMap<String, Subject>,
    pub(super) global_level: Option<CompatibilityLevel>,
    pub(super) subject_levels: BTreeMap<String, CompatibilityLevel>,
}

impl State {
    /// Applies one record; `Err` means the log contradicts itself.
    pub(super) fn apply(&mut self, record: &Record) -> Result<(), String> {
        match record {
            Record::Header { .. } => {}
            Record::Register {
                subject,
                version,
                id,
                schema,
            } => {
                if let Some(text) = schema {
                    if self.schemas.contains_key(id) {
                        return Err(format!("schema id {id} is introduced twice"));
                    }
                    let identity = schema_identity(text)
                        .ok_or_else(|| format!("schema id {id} is not JSON"))?;
                    let parsed = Schema::parse_str(text)
                        .map(Arc::new)
                        .map_err(|e| parse_error_text(&e));
                    self.by_identity.insert(identity.clone(), *id);
                    self.schemas.insert(
                        *id,
                        StoredSchema {
                            text: text.clone(),
                            identity,
                            parsed,
                        },
                    );
                    self.next_id = self.next_id.max(id.saturating_add(1));
                } else if !self.schemas.contains_key(id) {
                    return Err(format!("version refers to unknown schema id {id}"));
                }
                let s = self.subjects.entry(subject.clone()).or_default();
                if *version < s.next_version.max(1) {
                    return Err(format!(
                        "subject {subject:?} version {version} is not above earlier versions"
                    ));
                }
                s.versions.push(VersionEntry {
                    version: *version,
                    id: *id,
                    deleted: false,
                });
                s.next_version = version + 1;
            }
            Record::DeleteVersion {
                subject,
                version,
                permanent,
            } => {
                let s = self
                    .subjects
                    .get_mut(subject)
                    .ok_or_else(|| format!("delete of unknown subject {subject:?}"))?;
                let pos = s
                    .versions
                    .iter()
                    .position(|v| v.version == *version)
                    .ok_or_else(|| format!("delete of unknown version {subject:?} {version}"))?;
                if *permanent {
                    let gone = s.versions.remove(pos);
                    self.forget_if_unreferenced(gone.id);
                } else {
                    s.versions[pos].deleted = true;
                }
            }
            Record::DeleteSubject { subject, permanent } => {
                let s = self
                    .subjects
                    .get_mut(subject)
                    .ok_or_else(|| format!("delete of unknown subject {subject:?}"))?;
                if *permanent {
                    let gone: Vec<u32> = s.versions.drain(..).map(|v| v.id).collect();
                    for id in gone {
                        self.forget_if_unreferenced(id);
                    }
                } else {
                    s.versions.iter_mut().for_each(|v| v.deleted = true);
                }
                // Deleting a subject deletes its compatibility setting, as in Confluent.
                self.subject_levels.remove(subject);
            }
            Record::Config { subject, level } => match (subject, level) {
                (None, l) => self.global_level = *l,
                (Some(s), Some(l)) => {
                    self.subject_levels.insert(s.clone(), *l);
                }
                (Some(s), None) => {
                    self.subject_levels.remove(s);
                }
            },
        }
        Ok(())
    }

    /// Drops a schema text no version (live or soft-deleted) points at any more. Its id
    /// stays used: `next_id` does not move back.
    pub(super) fn forget_if_unreferenced(&mut self, id: u32) {
        let referenced = self
            .subjects
            .values()
            .any(|s| s.versions.iter().any(|v| v.id == id));
        if !referenced && let Some(gone) = self.schemas.remove(&id) {
            self.by_identity.remove(&gone.identity);
        }
    }

    pub(super) fn subject(&self, name: &str, include_deleted: bool) -> Result<&Subject, ApiError> {
        match self.subjects.get(name) {
            Some(s) if s.visible(include_deleted).next().is_some() => Ok(s),
            _ => Err(ApiError::subject_not_found(name)),
        }
    }

    pub(super) fn info(&self, subject: &str, v: &VersionEntry) -> RegisteredSchema {
        RegisteredSchema {
            subject: subject.to_owned(),
            id: v.id,
            version: v.version,
            schema: self
                .schemas
                .get(&v.id)
                .map(|s| s.text.clone())
                .unwrap_or_default(),
        }
    }

    pub(super) fn level(&self, subject: &str) -> CompatibilityLevel {
        self.subject_levels
            .get(subject)
            .copied()
            .or(self.global_level)
            .unwrap_or_default()
    }
}

/// apache-avro's message plus its causes (the JSON parser's line and column, say).
pub(super) fn parse_error_text(e: &apache_avro::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}
