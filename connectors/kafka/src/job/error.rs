//! Why a sink job stopped, classified for the supervisor.

use rdkafka::error::KafkaError;
use tributary_avro::decode::DecodeError;
use tributary_core::{ErrorKind, Retry};

/// Why a sink job stopped. Transient sink and registry errors never get here: the job
/// retries them itself for as long as it runs.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// A record that cannot be decoded: the job cannot go past it.
    #[error("{0}")]
    Decode(#[from] DecodeError),
    /// The sink refused a batch for good (bad configuration, rejected credentials, a
    /// document the target refuses).
    #[error("the sink refused a batch: {reason}")]
    Sink { reason: String },
    #[error("Kafka {action} failed: {error}{hint}")]
    Kafka {
        action: &'static str,
        error: KafkaError,
        hint: &'static str,
    },
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Connect(#[from] crate::check::CheckError),
}

impl JobError {
    /// Wraps a Kafka error, with a hint for the ones a person must fix.
    pub fn kafka(action: &'static str, error: KafkaError) -> Self {
        let hint = if error
            .rdkafka_error_code()
            .is_some_and(crate::error::needs_a_person)
        {
            "\nHINT: check the credentials and ACLs in the [kafka] section of the daemon config (the job reads its topics and commits for its consumer group)"
        } else {
            ""
        };
        JobError::Kafka {
            action,
            error,
            hint,
        }
    }
}

impl Retry for JobError {
    fn kind(&self) -> ErrorKind {
        match self {
            JobError::Decode(e) => e.kind(),
            JobError::Connect(e) => e.kind(),
            JobError::Sink { .. } | JobError::Config(_) => ErrorKind::Definite,
            JobError::Kafka { error, .. } => crate::error::kafka_kind(error),
        }
    }
}
