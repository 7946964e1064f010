//! Kafka: the transactional publisher that writes change events and the connector's
//! offset in one transaction, topic administration, offset recovery, and the job consumer
//! that feeds sink jobs.

pub mod admin;
pub mod check;
pub mod client;
pub mod consumer;
pub mod error;
mod headers;
pub mod job;
pub mod murmur2;
pub mod offsets;
pub mod producer;
pub mod publisher;
pub mod settings;
pub mod signals;
pub mod stats;
pub mod txmeta;

pub use error::PublishError;
pub use job::{JobError, JobMetrics, JobSettings};
pub use publisher::Publisher;
pub use settings::{KafkaConfig, PublishSettings, SettingError};
pub use stats::PublishStats;
