//! Errors of the registry client and of the embedded registry.
//!
//! [`RegistryError`] is what callers see; it knows whether retrying can help
//! ([`tributary_core::Retry`]). `ApiError` is the embedded registry's answer on the wire:
//! an HTTP status plus Confluent's numeric `error_code` and message, the exact shapes that
//! Confluent clients parse.

use std::net::SocketAddr;
use std::path::PathBuf;

use tributary_core::{ErrorKind, Retry};

/// Anything that can go wrong talking to a schema registry or running the embedded one.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(
        "schema_registry.url {url:?} is not usable: {reason}\nHINT: give the registry's base URL, e.g. http://127.0.0.1:8081 or https://registry.example.com/apis/ccompat/v7"
    )]
    InvalidUrl { url: String, reason: String },

    #[error(
        "could not build the HTTP client for the schema registry: {0}\nHINT: this is a bug or a broken TLS setup on this machine"
    )]
    HttpClient(String),

    #[error(
        "could not reach the schema registry at {url}: {reason}\nHINT: check that it is running and that schema_registry.url is right; the request will be retried"
    )]
    Unreachable { url: String, reason: String },

    #[error(
        "schema registry at {url} failed with HTTP {status}: {message}\nHINT: the registry is in trouble or restarting; the request will be retried"
    )]
    Unavailable {
        url: String,
        status: u16,
        message: String,
    },

    #[error(
        "schema registry at {url} refused our credentials (HTTP {status}): {message}\nHINT: check schema_registry.basic_auth / schema_registry.bearer_token (or the user:password in schema_registry.url)"
    )]
    Unauthorized {
        url: String,
        status: u16,
        message: String,
    },

    #[error(
        "the new schema for subject \"{subject}\" is incompatible with an earlier version under the subject's compatibility rule: {message}\nHINT: change the table back, or relax the rule for this subject, e.g. PUT /config/{subject} with {{\"compatibility\": \"NONE\"}} on the registry, and consumers must cope with the change"
    )]
    Incompatible { subject: String, message: String },

    #[error(
        "the schema registry rejected the schema for subject \"{subject}\" as invalid: {message}"
    )]
    InvalidSchema { subject: String, message: String },

    #[error("subject \"{subject}\" not found in the schema registry")]
    SubjectNotFound { subject: String },

    #[error("subject \"{subject}\" has no version {version} in the schema registry")]
    VersionNotFound { subject: String, version: String },

    #[error(
        "schema id {id} not found in the schema registry at {url}\nHINT: the data was written against another registry, or the schema was deleted permanently"
    )]
    SchemaIdNotFound { url: String, id: u32 },

    #[error(
        "schema registry at {url} answered HTTP {status}{code}: {message}",
        code = match .error_code { Some(c) => format!(" (error_code {c})"), None => String::new() }
    )]
    Rejected {
        url: String,
        status: u16,
        error_code: Option<i64>,
        message: String,
    },

    #[error(
        "unexpected answer from the schema registry at {url}: {reason}\nHINT: is schema_registry.url pointing at a Confluent-compatible registry (with the API path, e.g. /apis/ccompat/v7 for Apicurio)?"
    )]
    BadResponse { url: String, reason: String },

    #[error("could not {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },

    #[error(
        "schema registry log {path} is corrupt at line {line}: {reason}\nHINT: restore the file from a backup; the registry's schema ids must not change, or consumers decode with the wrong schema"
    )]
    Corrupt {
        path: PathBuf,
        line: usize,
        reason: String,
    },

    #[error(
        "could not listen on {addr} for the embedded schema registry: {source}\nHINT: another process holds the port; set schema_registry.listen to a free address, or schema_registry.url to use an external registry"
    )]
    Bind {
        addr: String,
        source: std::io::Error,
    },

    #[error("the embedded schema registry on {addr} stopped: {source}")]
    Serve {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

impl Retry for RegistryError {
    fn kind(&self) -> ErrorKind {
        match self {
            RegistryError::Unreachable { .. } | RegistryError::Unavailable { .. } => {
                ErrorKind::Transient
            }
            // The registry answered, and it was an answer that will not change by itself.
            RegistryError::InvalidUrl { .. }
            | RegistryError::HttpClient(_)
            | RegistryError::Unauthorized { .. }
            | RegistryError::Incompatible { .. }
            | RegistryError::InvalidSchema { .. }
            | RegistryError::SubjectNotFound { .. }
            | RegistryError::VersionNotFound { .. }
            | RegistryError::SchemaIdNotFound { .. }
            | RegistryError::Rejected { .. }
            | RegistryError::BadResponse { .. }
            | RegistryError::Io { .. }
            | RegistryError::Corrupt { .. }
            | RegistryError::Bind { .. }
            | RegistryError::Serve { .. } => ErrorKind::Definite,
        }
    }
}

/// An error answer of the embedded registry, as Confluent shapes it:
/// `{"error_code": 40401, "message": "Subject 'x' not found."}` with an HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: u16,
    pub code: u32,
    pub message: String,
}

impl ApiError {
    pub(super) fn new(status: u16, code: u32, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn subject_not_found(subject: &str) -> Self {
        Self::new(404, 40401, format!("Subject '{subject}' not found."))
    }

    pub fn version_not_found(version: &str) -> Self {
        Self::new(404, 40402, format!("Version {version} not found."))
    }

    pub fn schema_not_found() -> Self {
        Self::new(404, 40403, "Schema not found")
    }

    pub fn schema_id_not_found(id: u32) -> Self {
        Self::new(404, 40403, format!("Schema {id} not found"))
    }

    pub fn subject_soft_deleted(subject: &str) -> Self {
        Self::new(
            404,
            40404,
            format!(
                "Subject '{subject}' was soft deleted.Set permanent=true to delete permanently"
            ),
        )
    }

    pub fn subject_not_soft_deleted(subject: &str) -> Self {
        Self::new(
            404,
            40405,
            format!("Subject '{subject}' was not deleted first before being permanently deleted"),
        )
    }

    pub fn version_soft_deleted(subject: &str, version: u32) -> Self {
        Self::new(
            404,
            40406,
            format!(
                "Subject '{subject}' Version {version} was soft deleted.Set permanent=true to delete permanently"
            ),
        )
    }

    pub fn version_not_soft_deleted(subject: &str, version: u32) -> Self {
        Self::new(
            404,
            40407,
            format!(
                "Subject '{subject}' Version {version} was not deleted first before being permanently deleted"
            ),
        )
    }

    pub fn subject_level_not_configured(subject: &str) -> Self {
        Self::new(
            404,
            40408,
            format!("Subject '{subject}' does not have subject-level compatibility configured"),
        )
    }

    pub fn incompatible(subject: &str, details: &[String]) -> Self {
        Self::new(
            409,
            409,
            format!(
                "Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{}]",
                details.join(", ")
            ),
        )
    }

    pub fn invalid_schema(message: impl Into<String>) -> Self {
        Self::new(422, 42201, message)
    }

    pub fn invalid_version(version: &str) -> Self {
        Self::new(
            422,
            42202,
            format!(
                "The specified version '{version}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""
            ),
        )
    }

    pub fn invalid_level() -> Self {
        Self::new(
            422,
            42203,
            "Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive",
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, 400, message)
    }

    pub fn not_found() -> Self {
        Self::new(404, 404, "HTTP 404 Not Found")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(405, 405, "HTTP 405 Method Not Allowed")
    }

    pub fn storage(message: impl Into<String>) -> Self {
        Self::new(500, 50001, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_and_server_failures_are_transient_and_answers_are_definite() {
        let unreachable = RegistryError::Unreachable {
            url: "http://r".into(),
            reason: "connection refused".into(),
        };
        assert!(unreachable.is_transient());
        let incompatible = RegistryError::Incompatible {
            subject: "cdc.public.t-value".into(),
            message: "x".into(),
        };
        assert!(!incompatible.is_transient());
        let text = incompatible.to_string();
        assert!(text.contains("\"cdc.public.t-value\""), "{text}");
        assert!(text.contains("PUT /config/cdc.public.t-value"), "{text}");
        let auth = RegistryError::Unauthorized {
            url: "http://r".into(),
            status: 401,
            message: "Unauthorized".into(),
        };
        assert!(!auth.is_transient());
        assert!(auth.to_string().contains("schema_registry.basic_auth"));
    }
}
