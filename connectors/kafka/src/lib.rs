//! Kafka: the transactional publisher that writes change events and the connector's
//! offset in one transaction, topic administration, and offset recovery.

pub mod admin;
pub mod error;
pub mod murmur2;
pub mod offsets;
pub mod producer;
pub mod publisher;
pub mod settings;
pub mod stats;
pub mod txmeta;

pub use error::PublishError;
pub use publisher::Publisher;
pub use settings::{KafkaConfig, PublishSettings, SettingError};
pub use stats::PublishStats;
