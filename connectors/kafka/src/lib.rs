//! Kafka: the transactional publisher that writes change events and the connector's
//! offset in one transaction, topic administration, and offset recovery.
