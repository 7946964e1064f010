//! Errors of the publishing side, classified for the supervisor.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use tributary_core::{ErrorKind, Retry};

/// Why publishing stopped.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(
        "another instance took over transactional.id {transactional_id:?} (it runs the same connector); this one stopped to keep the data exact\nHINT: run each connector in one daemon only; restart this connector once the other instance is stopped"
    )]
    Fenced { transactional_id: String },
    #[error("Kafka {action} failed: {error}{hint}")]
    Kafka {
        action: &'static str,
        error: KafkaError,
        hint: &'static str,
    },
    #[error("Kafka {action} timed out or failed on the broker side: {message}; will retry")]
    Unavailable {
        action: &'static str,
        message: String,
    },
    #[error("{0}")]
    Registry(#[from] tributary_avro::registry::RegistryError),
    #[error("could not derive the Avro schema of topic {topic}: {message}")]
    Schema { topic: String, message: String },
    #[error("could not encode an event of topic {topic} as Avro: {message}")]
    Encode { topic: String, message: String },
    #[error(
        "{0}\nHINT: the record does not have the shape the transform needs; change the transforms (or their predicates) so that it applies only to records it can handle"
    )]
    Transform(#[from] tributary_connect::TransformError),
    #[error("the stored offset of connector {connector} is not usable: {message}")]
    Offset { connector: String, message: String },
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Connect(#[from] crate::check::CheckError),
}

impl PublishError {
    /// Wraps a Kafka error, recognising fencing and authentication failures.
    pub fn kafka(action: &'static str, error: KafkaError, transactional_id: &str) -> Self {
        let code = error.rdkafka_error_code();
        if matches!(
            code,
            Some(RDKafkaErrorCode::Fenced | RDKafkaErrorCode::ProducerFenced)
        ) {
            return PublishError::Fenced {
                transactional_id: transactional_id.to_string(),
            };
        }
        let hint = match code {
            Some(
                RDKafkaErrorCode::SaslAuthenticationFailed
                | RDKafkaErrorCode::Authentication
                | RDKafkaErrorCode::TopicAuthorizationFailed
                | RDKafkaErrorCode::ClusterAuthorizationFailed
                | RDKafkaErrorCode::TransactionalIdAuthorizationFailed,
            ) => {
                "\nHINT: check the credentials and ACLs in the [kafka] section of the daemon config"
            }
            Some(RDKafkaErrorCode::InvalidTransactionTimeout) => {
                "\nHINT: transaction.timeout.ms must not exceed the broker's transaction.max.timeout.ms"
            }
            _ => "",
        };
        PublishError::Kafka {
            action,
            error,
            hint,
        }
    }
}

/// Whether a Kafka error can go away by itself: the one classification of every Kafka
/// error in Tributary (producer, consumer, admin). Definite: a fatal transaction error,
/// fencing, failed authentication or authorization, an invalid group, topic, argument or
/// configuration, a record too large, a client that could not be made or subscribed.
/// Transient: everything else (a transaction to abort and retry, a broker away, a timeout,
/// a coordinator moving).
pub fn kafka_kind(e: &KafkaError) -> ErrorKind {
    if let KafkaError::Transaction(t) = e {
        return if t.is_fatal() {
            ErrorKind::Definite
        } else {
            ErrorKind::Transient
        };
    }
    if matches!(
        e,
        KafkaError::ClientCreation(_) | KafkaError::ClientConfig(..) | KafkaError::Subscription(_)
    ) {
        return ErrorKind::Definite;
    }
    match e.rdkafka_error_code() {
        Some(code) if needs_a_person(code) => ErrorKind::Definite,
        _ => ErrorKind::Transient,
    }
}

/// Error codes that do not go away by retrying.
pub(crate) fn needs_a_person(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::Fenced
            | RDKafkaErrorCode::ProducerFenced
            | RDKafkaErrorCode::InvalidProducerEpoch
            | RDKafkaErrorCode::SaslAuthenticationFailed
            | RDKafkaErrorCode::Authentication
            | RDKafkaErrorCode::TopicAuthorizationFailed
            | RDKafkaErrorCode::GroupAuthorizationFailed
            | RDKafkaErrorCode::ClusterAuthorizationFailed
            | RDKafkaErrorCode::TransactionalIdAuthorizationFailed
            | RDKafkaErrorCode::InvalidTransactionTimeout
            | RDKafkaErrorCode::InvalidGroupId
            | RDKafkaErrorCode::InvalidArgument
            | RDKafkaErrorCode::InvalidConfig
            | RDKafkaErrorCode::InvalidTopic
            | RDKafkaErrorCode::MessageSizeTooLarge
            | RDKafkaErrorCode::UnsupportedVersion
    )
}

/// Whether the group coordinator is loading or moved: the same request succeeds shortly
/// (right after a broker starts, the offsets topic's partitions load for a while).
pub(crate) fn coordinator_moving(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::NotCoordinator
                | RDKafkaErrorCode::CoordinatorNotAvailable
                | RDKafkaErrorCode::CoordinatorLoadInProgress
        )
    )
}

/// Calls `f` again (on this blocking thread) while the group coordinator is moving, for up
/// to `limit`.
pub(crate) fn while_coordinator_moves<T>(
    limit: std::time::Duration,
    mut f: impl FnMut() -> Result<T, KafkaError>,
) -> Result<T, KafkaError> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        match f() {
            Err(e) if coordinator_moving(&e) && std::time::Instant::now() < deadline => {
                tracing::debug!(error = %e, "the group coordinator is moving; asking again");
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            other => return other,
        }
    }
}

impl Retry for PublishError {
    fn kind(&self) -> ErrorKind {
        match self {
            PublishError::Fenced { .. }
            | PublishError::Schema { .. }
            | PublishError::Encode { .. }
            | PublishError::Transform(_)
            | PublishError::Offset { .. }
            | PublishError::Config(_) => ErrorKind::Definite,
            PublishError::Unavailable { .. } => ErrorKind::Transient,
            PublishError::Registry(e) => e.kind(),
            PublishError::Connect(e) => e.kind(),
            PublishError::Kafka { error, .. } => kafka_kind(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use rdkafka::error::{KafkaError, RDKafkaErrorCode as Code};
    use tributary_core::ErrorKind;

    use super::kafka_kind;

    fn kinds(codes: &[Code]) -> Vec<ErrorKind> {
        codes
            .iter()
            .map(|c| kafka_kind(&KafkaError::MessageProduction(*c)))
            .collect()
    }

    #[test]
    fn brokers_away_timeouts_and_moving_coordinators_are_transient() {
        let codes = [
            Code::BrokerTransportFailure,
            Code::AllBrokersDown,
            Code::MessageTimedOut,
            Code::RequestTimedOut,
            Code::NotCoordinator,
            Code::CoordinatorLoadInProgress,
            Code::NotLeaderForPartition,
            Code::UnknownTopicOrPartition,
            Code::QueueFull,
        ];
        assert!(kinds(&codes).iter().all(|k| *k == ErrorKind::Transient));
    }

    #[test]
    fn credentials_acls_fencing_and_bad_settings_are_definite() {
        let codes = [
            Code::SaslAuthenticationFailed,
            Code::Authentication,
            Code::TopicAuthorizationFailed,
            Code::GroupAuthorizationFailed,
            Code::ClusterAuthorizationFailed,
            Code::TransactionalIdAuthorizationFailed,
            Code::ProducerFenced,
            Code::Fenced,
            Code::InvalidTransactionTimeout,
            Code::InvalidGroupId,
            Code::InvalidConfig,
            Code::InvalidTopic,
            Code::MessageSizeTooLarge,
        ];
        assert!(kinds(&codes).iter().all(|k| *k == ErrorKind::Definite));
        assert_eq!(
            kafka_kind(&KafkaError::ClientCreation("bad".into())),
            ErrorKind::Definite
        );
    }
}
