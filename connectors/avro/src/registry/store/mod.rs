//! The embedded registry's state and the operations of its API.
//!
//! Global ids map to schema texts; subjects hold versions (each pointing at a global id,
//! possibly soft-deleted); compatibility levels are set globally and per subject. Every
//! change is first validated, then written to the [`Log`] and synced, then applied to
//! memory by the same [`State::apply`] that replays the log on open — so the state after a
//! restart is exactly the acknowledged state. Ids and version numbers only grow: a hard
//! delete frees neither.
//!
//! Two texts are one schema when their [`schema_identity`] matches; the text first
//! registered under an id is the one returned for it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use apache_avro::Schema;

use super::RegisteredSchema;
use super::compat::{self, CompatibilityLevel, Previous};
use super::error::{ApiError, RegistryError};
use super::identity::schema_identity;
use super::log::{Log, Record};

/// Which version a request names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum VersionSpec {
    Latest,
    Number(u32),
}

impl VersionSpec {
    /// `latest`, `-1`, or 1..=2^31-1; anything else is Confluent's 42202.
    pub(super) fn parse(s: &str) -> Result<Self, ApiError> {
        if s.eq_ignore_ascii_case("latest") || s == "-1" {
            return Ok(VersionSpec::Latest);
        }
        match s.parse::<i64>() {
            Ok(n) if (1..=i64::from(i32::MAX)).contains(&n) => Ok(VersionSpec::Number(n as u32)),
            _ => Err(ApiError::invalid_version(s)),
        }
    }
}

struct StoredSchema {
    text: String,
    identity: String,
    /// Parsed once; an error only if a stored text no longer parses with this build.
    parsed: Result<Arc<Schema>, String>,
}

#[derive(Debug, Clone, Copy)]
struct VersionEntry {
    version: u32,
    id: u32,
    deleted: bool,
}

#[derive(Default)]
struct Subject {
    /// Ascending by version.
    versions: Vec<VersionEntry>,
    /// Never decreases, even when versions are deleted permanently.
    next_version: u32,
}

impl Subject {
    fn visible(&self, include_deleted: bool) -> impl DoubleEndedIterator<Item = &VersionEntry> {
        self.versions
            .iter()
            .filter(move |v| include_deleted || !v.deleted)
    }

    fn has_live(&self) -> bool {
        self.versions.iter().any(|v| !v.deleted)
    }
}

#[derive(Default)]
struct State {
    next_id: u32,
    schemas: BTreeMap<u32, StoredSchema>,
    by_identity: HashMap<String, u32>,
    subjects: BTreeMap<String, Subject>,
    global_level: Option<CompatibilityLevel>,
    subject_levels: BTreeMap<String, CompatibilityLevel>,
}

impl State {
    /// Applies one record; `Err` means the log contradicts itself.
    fn apply(&mut self, record: &Record) -> Result<(), String> {
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
    fn forget_if_unreferenced(&mut self, id: u32) {
        let referenced = self
            .subjects
            .values()
            .any(|s| s.versions.iter().any(|v| v.id == id));
        if !referenced && let Some(gone) = self.schemas.remove(&id) {
            self.by_identity.remove(&gone.identity);
        }
    }

    fn subject(&self, name: &str, include_deleted: bool) -> Result<&Subject, ApiError> {
        match self.subjects.get(name) {
            Some(s) if s.visible(include_deleted).next().is_some() => Ok(s),
            _ => Err(ApiError::subject_not_found(name)),
        }
    }

    fn info(&self, subject: &str, v: &VersionEntry) -> RegisteredSchema {
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

    fn level(&self, subject: &str) -> CompatibilityLevel {
        self.subject_levels
            .get(subject)
            .copied()
            .or(self.global_level)
            .unwrap_or_default()
    }
}

/// A schema text that parsed, with its identity.
struct Candidate {
    schema: Schema,
    identity: String,
}

fn parse_candidate(text: &str) -> Result<Candidate, ApiError> {
    let schema = Schema::parse_str(text).map_err(|e| {
        ApiError::invalid_schema(format!("Invalid schema: {}", parse_error_text(&e)))
    })?;
    let identity = schema_identity(text)
        .ok_or_else(|| ApiError::invalid_schema("Invalid schema: not JSON"))?;
    Ok(Candidate { schema, identity })
}

/// apache-avro's message plus its causes (the JSON parser's line and column, say).
fn parse_error_text(e: &apache_avro::Error) -> String {
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

/// The embedded registry's state, backed by its log.
pub(super) struct Store {
    log: Log,
    state: State,
}

impl Store {
    pub(super) fn open(dir: &Path) -> Result<Store, RegistryError> {
        let (log, records) = Log::open(dir)?;
        let mut state = State {
            next_id: 1,
            ..State::default()
        };
        for (line, record) in &records {
            state
                .apply(record)
                .map_err(|reason| RegistryError::Corrupt {
                    path: log.path().to_path_buf(),
                    line: *line,
                    reason,
                })?;
        }
        tracing::info!(
            path = %log.path().display(),
            schemas = state.schemas.len(),
            subjects = state.subjects.len(),
            "opened embedded schema registry"
        );
        Ok(Store { log, state })
    }

    fn write(&mut self, record: Record) -> Result<(), ApiError> {
        self.log.append(&record).map_err(|e| {
            tracing::error!(path = %self.log.path().display(), error = %e, "schema registry write failed");
            ApiError::storage(format!(
                "Error while writing the schema registry log {}: {e}",
                self.log.path().display()
            ))
        })?;
        self.state
            .apply(&record)
            .map_err(|e| ApiError::storage(format!("Error while applying a registry change: {e}")))
    }

    /// Registers `text` under `subject` and returns its global id. An identical schema
    /// already live under the subject returns its id without a new version; the same schema
    /// under another subject reuses that id.
    pub(super) fn register(&mut self, subject: &str, text: &str) -> Result<u32, ApiError> {
        let candidate = parse_candidate(text)?;
        let st = &self.state;
        if let Some(s) = st.subjects.get(subject)
            && let Some(v) = s.visible(false).rev().find(|v| {
                st.schemas
                    .get(&v.id)
                    .is_some_and(|x| x.identity == candidate.identity)
            })
        {
            return Ok(v.id);
        }
        let level = st.level(subject);
        let details = self.check_against(subject, &candidate.schema, level, None)?;
        if !details.is_empty() {
            return Err(ApiError::incompatible(subject, &details));
        }
        let st = &self.state;
        let (id, schema) = match st.by_identity.get(&candidate.identity) {
            Some(id) => (*id, None),
            None => (st.next_id, Some(text.to_owned())),
        };
        if id > i32::MAX as u32 {
            return Err(ApiError::storage("Schema ids are exhausted"));
        }
        let version = st
            .subjects
            .get(subject)
            .map_or(1, |s| s.next_version.max(1));
        self.write(Record::Register {
            subject: subject.to_owned(),
            version,
            id,
            schema,
        })?;
        tracing::info!(subject, id, version, "registered schema");
        Ok(id)
    }

    /// Compatibility messages of `schema` against the subject's versions: all live ones
    /// (`only: None`) or one named version. Empty means compatible.
    fn check_against(
        &self,
        subject: &str,
        schema: &Schema,
        level: CompatibilityLevel,
        only: Option<VersionSpec>,
    ) -> Result<Vec<String>, ApiError> {
        let st = &self.state;
        let live: Vec<&VersionEntry> = match st.subjects.get(subject) {
            Some(s) => s.visible(false).collect(),
            None => Vec::new(),
        };
        let chosen: Vec<&VersionEntry> = match only {
            None | Some(VersionSpec::Latest) => live,
            Some(VersionSpec::Number(n)) => {
                st.subject(subject, false)?;
                let v = live
                    .into_iter()
                    .find(|v| v.version == n)
                    .ok_or_else(|| ApiError::version_not_found(&n.to_string()))?;
                vec![v]
            }
        };
        let mut previous = Vec::with_capacity(chosen.len());
        for v in chosen {
            let stored = st
                .schemas
                .get(&v.id)
                .ok_or_else(|| ApiError::storage(format!("Schema {} is missing", v.id)))?;
            match &stored.parsed {
                Ok(parsed) => previous.push(Previous {
                    version: v.version,
                    text: &stored.text,
                    schema: parsed,
                }),
                Err(e) => {
                    return Ok(vec![format!(
                        "{{errorType:'UNPARSABLE_OLD_SCHEMA', description:'version {} (schema id {}) no longer parses: {e}'}}",
                        v.version, v.id
                    )]);
                }
            }
        }
        Ok(compat::check(level, schema, &previous))
    }

    /// `POST /compatibility/subjects/{s}/versions[/{v}]`.
    pub(super) fn test_compatibility(
        &self,
        subject: &str,
        text: &str,
        version: Option<VersionSpec>,
    ) -> Result<Vec<String>, ApiError> {
        let candidate = parse_candidate(text)?;
        self.check_against(
            subject,
            &candidate.schema,
            self.state.level(subject),
            version,
        )
    }

    /// `POST /subjects/{s}`: the latest version of `subject` holding this schema.
    pub(super) fn lookup(
        &self,
        subject: &str,
        text: &str,
        include_deleted: bool,
    ) -> Result<RegisteredSchema, ApiError> {
        let st = &self.state;
        let s = st.subject(subject, include_deleted)?;
        let candidate = parse_candidate(text)?;
        s.visible(include_deleted)
            .rev()
            .find(|v| {
                st.schemas
                    .get(&v.id)
                    .is_some_and(|x| x.identity == candidate.identity)
            })
            .map(|v| st.info(subject, v))
            .ok_or_else(ApiError::schema_not_found)
    }

    pub(super) fn subjects(
        &self,
        include_deleted: bool,
        deleted_only: bool,
        prefix: &str,
    ) -> Vec<String> {
        self.state
            .subjects
            .iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .filter(|(_, s)| {
                if deleted_only {
                    s.versions.iter().any(|v| v.deleted)
                } else {
                    s.visible(include_deleted).next().is_some()
                }
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    pub(super) fn versions(
        &self,
        subject: &str,
        include_deleted: bool,
    ) -> Result<Vec<u32>, ApiError> {
        let s = self.state.subject(subject, include_deleted)?;
        Ok(s.visible(include_deleted).map(|v| v.version).collect())
    }

    pub(super) fn version(
        &self,
        subject: &str,
        spec: VersionSpec,
        include_deleted: bool,
    ) -> Result<RegisteredSchema, ApiError> {
        let st = &self.state;
        let s = st.subject(subject, include_deleted)?;
        let found = match spec {
            VersionSpec::Latest => s.visible(include_deleted).next_back(),
            VersionSpec::Number(n) => s.visible(include_deleted).find(|v| v.version == n),
        };
        let v = found.ok_or_else(|| {
            ApiError::version_not_found(&match spec {
                VersionSpec::Latest => "latest".to_owned(),
                VersionSpec::Number(n) => n.to_string(),
            })
        })?;
        Ok(st.info(subject, v))
    }

    pub(super) fn schema(&self, id: u32) -> Result<String, ApiError> {
        self.state
            .schemas
            .get(&id)
            .map(|s| s.text.clone())
            .ok_or_else(|| ApiError::schema_id_not_found(id))
    }

    /// `(subject, version)` pairs using schema `id`.
    pub(super) fn schema_versions(
        &self,
        id: u32,
        include_deleted: bool,
    ) -> Result<Vec<(String, u32)>, ApiError> {
        if !self.state.schemas.contains_key(&id) {
            return Err(ApiError::schema_id_not_found(id));
        }
        Ok(self
            .state
            .subjects
            .iter()
            .flat_map(|(name, s)| {
                s.visible(include_deleted)
                    .filter(|v| v.id == id)
                    .map(|v| (name.clone(), v.version))
            })
            .collect())
    }

    pub(super) fn delete_subject(
        &mut self,
        subject: &str,
        permanent: bool,
    ) -> Result<Vec<u32>, ApiError> {
        let s = self.state.subject(subject, true)?;
        let versions: Vec<u32> = if permanent {
            if s.has_live() {
                return Err(ApiError::subject_not_soft_deleted(subject));
            }
            s.versions.iter().map(|v| v.version).collect()
        } else {
            if !s.has_live() {
                return Err(ApiError::subject_soft_deleted(subject));
            }
            s.visible(false).map(|v| v.version).collect()
        };
        self.write(Record::DeleteSubject {
            subject: subject.to_owned(),
            permanent,
        })?;
        tracing::info!(subject, permanent, "deleted subject");
        Ok(versions)
    }

    pub(super) fn delete_version(
        &mut self,
        subject: &str,
        spec: VersionSpec,
        permanent: bool,
    ) -> Result<u32, ApiError> {
        let s = self.state.subject(subject, true)?;
        let found = match spec {
            // "latest" names the latest live version; permanently, the latest of all.
            VersionSpec::Latest => s.visible(permanent).next_back(),
            VersionSpec::Number(n) => s.versions.iter().find(|v| v.version == n),
        };
        let v = *found.ok_or_else(|| {
            ApiError::version_not_found(&match spec {
                VersionSpec::Latest => "latest".to_owned(),
                VersionSpec::Number(n) => n.to_string(),
            })
        })?;
        match (permanent, v.deleted) {
            (false, true) => return Err(ApiError::version_soft_deleted(subject, v.version)),
            (true, false) => return Err(ApiError::version_not_soft_deleted(subject, v.version)),
            _ => {}
        }
        self.write(Record::DeleteVersion {
            subject: subject.to_owned(),
            version: v.version,
            permanent,
        })?;
        tracing::info!(
            subject,
            version = v.version,
            permanent,
            "deleted schema version"
        );
        Ok(v.version)
    }

    pub(super) fn global_level(&self) -> CompatibilityLevel {
        self.state.global_level.unwrap_or_default()
    }

    pub(super) fn subject_level(&self, subject: &str) -> Option<CompatibilityLevel> {
        self.state.subject_levels.get(subject).copied()
    }

    /// Sets (`Some`) or removes (`None`) the global level, or a subject's.
    pub(super) fn set_level(
        &mut self,
        subject: Option<&str>,
        level: Option<CompatibilityLevel>,
    ) -> Result<(), ApiError> {
        self.write(Record::Config {
            subject: subject.map(str::to_owned),
            level,
        })?;
        tracing::info!(subject, level = ?level, "set compatibility level");
        Ok(())
    }

    /// `DELETE /config/{s}`: the removed level.
    pub(super) fn delete_subject_level(
        &mut self,
        subject: &str,
    ) -> Result<CompatibilityLevel, ApiError> {
        let Some(level) = self.subject_level(subject) else {
            return Err(if self.state.subjects.contains_key(subject) {
                ApiError::subject_level_not_configured(subject)
            } else {
                ApiError::subject_not_found(subject)
            });
        };
        self.set_level(Some(subject), None)?;
        Ok(level)
    }
}

#[cfg(test)]
mod tests;
