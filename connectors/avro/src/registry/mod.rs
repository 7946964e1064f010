//! Schema registries: a client for any Confluent-compatible registry, and the registry the
//! daemon embeds when none is configured.
//!
//! Change events carry a 4-byte schema id in Confluent framing, so every schema has to be
//! registered before the first event that uses it, and consumers resolve ids through the
//! same registry. [`RegistryClient`] speaks Confluent's REST dialect (Confluent, Apicurio's
//! `ccompat` API, Karapace, Redpanda, and ours) and caches what it learns, so a schema is
//! registered once per process. [`EmbeddedRegistry`] serves that dialect from a local
//! directory (`schema_registry.listen`, 127.0.0.1:8081 by default): real Avro
//! compatibility checks ([`compat`]), Confluent's error codes, and an fsynced append-only
//! log so an acknowledged registration survives `kill -9` with its id.
//!
//! Layout: [`identity`] decides when two schema texts are the same schema, [`compat`] the
//! compatibility rules, `log` the on-disk format, `store` the state and operations,
//! `server` the HTTP routes, `access` who may call them, [`client`] the client, [`error`] the errors of both.

mod access;
pub mod client;
pub mod compat;
pub mod error;
pub mod identity;
mod log;
mod server;
mod store;

use serde::{Deserialize, Serialize};

pub use access::Access;
pub use client::{RegistryAuth, RegistryClient};
pub use compat::CompatibilityLevel;
pub use error::RegistryError;
pub use server::{EmbeddedRegistry, RegistryHandle};

/// One version of a subject, in the shape of Confluent's
/// `GET /subjects/{subject}/versions/{version}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredSchema {
    pub subject: String,
    pub id: u32,
    pub version: u32,
    /// The schema text as it was registered.
    pub schema: String,
}
