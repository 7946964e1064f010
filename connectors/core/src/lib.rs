//! The Tributary event model, shared by every connector crate.
//!
//! Data flows one way: a source (Postgres) turns its log into [`CaptureItem`]s — change
//! events framed by transaction boundaries — and a sink (stdout JSON, Kafka) writes them
//! and then advances a [`DurableLsn`] so the source may release the log behind it.
//! Nothing here knows about Postgres wire formats or Kafka.

pub mod auth;
pub mod batch;
pub mod calendar;
pub mod config;
pub mod envelope;
pub mod error;
pub mod event;
pub mod java;
pub mod json;
pub mod lsn;
pub mod metrics;
pub mod offsets;
pub mod schema;
pub mod secret;
pub mod sink;
pub mod target;
pub mod unavailable;
pub mod value;

pub use auth::HttpAuth;
pub use batch::{Batch, BatchReceiver, BatchSender, QueueGauge};
pub use error::{Backoff, ErrorKind, Retry, sqlstate_kind};
pub use event::{
    CaptureItem, ChangeEvent, MessageEvent, Op, SnapshotMarker, SourceInfo, TxBegin, TxCommit,
};
pub use lsn::{DurableLsn, Lsn};
pub use metrics::{OpCounts, SnapshotReport, SourceMetrics};
pub use schema::{Field, Schema, SchemaType, TableSchemas};
pub use secret::{Secret, is_secret_key};
pub use sink::{
    FieldInfo, FieldKind, FieldMap, PartitionOffset, Position, RowKey, RowSchema, Sink, SinkError,
    SinkOp, SinkRecord, TableRef,
};
pub use unavailable::{LeftOut, Unavailable};
pub use value::Value;

/// The version string written into `source.version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
