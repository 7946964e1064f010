//! Why a record could not be decoded, naming the record and what to do about it.

use std::fmt;

use tributary_core::{ErrorKind, Retry};

use crate::registry::RegistryError;

/// Where a record sits: topic, partition, offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "record at offset {} of {}[{}]",
            self.offset, self.topic, self.partition
        )
    }
}

/// The key or the value of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Key,
    Value,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Key => "key",
            Part::Value => "value",
        })
    }
}

/// A record the decoder cannot turn into a [`tributary_core::SinkRecord`].
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error(
        "{at}: the {part} is not in Confluent's Avro wire format ({found})\nHINT: is the topic written by a Debezium/Tributary source with the Avro converter (io.confluent.connect.avro.AvroConverter)? For records the JsonConverter wrote, set the sink's value.converter (and key.converter) to org.apache.kafka.connect.json.JsonConverter"
    )]
    NotConfluent { at: At, part: Part, found: String },

    #[error(
        "{at}: the {part} names schema id {id}, which the schema registry at {url} does not know\nHINT: the sink must use the registry the source registered its schemas with (schema_registry.url); a schema deleted permanently cannot be read back"
    )]
    UnknownSchema {
        at: At,
        part: Part,
        id: u32,
        url: String,
    },

    #[error("{at}: could not fetch schema id {id} of the {part}: {source}")]
    Registry {
        at: At,
        part: Part,
        id: u32,
        source: RegistryError,
    },

    #[error(
        "{at}: schema id {id} of the {part} cannot be used: {reason}\nHINT: sink jobs read Debezium change events (an Envelope record with before, after, source and op)"
    )]
    BadSchema {
        at: At,
        part: Part,
        id: u32,
        reason: String,
    },

    #[error(
        "{at}: the {part} does not match its schema (id {id}): {reason}\nHINT: the record is corrupt, or was written with another schema than the one its id names (another registry?)"
    )]
    Malformed {
        at: At,
        part: Part,
        id: u32,
        reason: String,
    },

    #[error("{at}: the {part} cannot be read as the JsonConverter writes it: {reason}")]
    NotJson { at: At, part: Part, reason: String },

    #[error(
        "{at}: a change of table {table} has no key, so it cannot be applied by primary key\nHINT: give the table a primary key, or set message.key.columns on the source connector; sink jobs skip such records"
    )]
    NoKey { at: At, table: String },

    #[error(
        "{at}: unknown op {op:?} in a change event (expected c, u, d, r, t or m)\nHINT: the topic holds records of an unsupported Debezium version or another producer"
    )]
    UnknownOp { at: At, op: String },
}

impl DecodeError {
    /// Where the record sits.
    pub fn at(&self) -> &At {
        match self {
            DecodeError::NotConfluent { at, .. }
            | DecodeError::UnknownSchema { at, .. }
            | DecodeError::Registry { at, .. }
            | DecodeError::BadSchema { at, .. }
            | DecodeError::Malformed { at, .. }
            | DecodeError::NoKey { at, .. }
            | DecodeError::NotJson { at, .. }
            | DecodeError::UnknownOp { at, .. } => at,
        }
    }
}

impl Retry for DecodeError {
    fn kind(&self) -> ErrorKind {
        match self {
            // An unreachable or restarting registry: the same record decodes later.
            DecodeError::Registry { source, .. } => source.kind(),
            DecodeError::NotConfluent { .. }
            | DecodeError::UnknownSchema { .. }
            | DecodeError::BadSchema { .. }
            | DecodeError::Malformed { .. }
            | DecodeError::NoKey { .. }
            | DecodeError::NotJson { .. }
            | DecodeError::UnknownOp { .. } => ErrorKind::Definite,
        }
    }
}
