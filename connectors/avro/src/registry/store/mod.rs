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

use std::path::Path;

use apache_avro::Schema;

use super::RegisteredSchema;
use super::compat::{self, CompatibilityLevel, Previous};
use super::error::{ApiError, RegistryError};
use super::identity::schema_identity;
use super::log::{Log, Record};

mod state;

use state::{State, VersionEntry, parse_error_text};

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
