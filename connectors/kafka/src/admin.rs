//! Creating topics that do not exist yet.

use std::collections::HashSet;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;

use crate::client::client_config;
use crate::error::PublishError;
use crate::settings::{KafkaConfig, TopicSettings};

/// Creates topics on first use and remembers which exist.
pub struct Topics {
    admin: AdminClient<DefaultClientContext>,
    known: HashSet<String>,
}

impl Topics {
    pub fn new(cfg: &KafkaConfig) -> Result<Self, PublishError> {
        let admin = client_config(cfg)
            .create()
            .map_err(|e| PublishError::kafka("admin client setup", e, ""))?;
        Ok(Topics {
            admin,
            known: HashSet::new(),
        })
    }

    /// Creates `topic` unless it exists (an existing topic is left as it is).
    pub async fn ensure(&mut self, topic: &str, how: &TopicSettings) -> Result<(), PublishError> {
        if self.known.contains(topic) {
            return Ok(());
        }
        let replication = TopicReplication::Fixed(i32::from(how.replication_factor));
        let new = NewTopic::new(topic, how.partitions, replication)
            .set("cleanup.policy", &how.cleanup_policy);
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results = self.admin.create_topics([&new], &opts).await.map_err(|e| {
            PublishError::Unavailable {
                action: "CreateTopics",
                message: e.to_string(),
            }
        })?;
        for r in results {
            match r {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => {
                    let err = rdkafka::error::KafkaError::AdminOp(code);
                    return Err(match code {
                        RDKafkaErrorCode::TopicAuthorizationFailed
                        | RDKafkaErrorCode::ClusterAuthorizationFailed
                        | RDKafkaErrorCode::InvalidReplicationFactor
                        | RDKafkaErrorCode::InvalidPartitions
                        | RDKafkaErrorCode::InvalidConfig
                        | RDKafkaErrorCode::InvalidTopic => PublishError::Config(format!(
                            "could not create topic {name}: {err}\nHINT: create it yourself, or fix topic.creation.default.* in the connector config"
                        )),
                        _ => PublishError::Unavailable {
                            action: "CreateTopics",
                            message: format!("{name}: {err}"),
                        },
                    });
                }
            }
        }
        tracing::info!(topic, "topic ready");
        self.known.insert(topic.to_string());
        Ok(())
    }
}
