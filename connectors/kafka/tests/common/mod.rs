//! Apache Kafka for the integration tests: the daemon's test broker (one per test, started
//! by `scripts/kafka.sh`), or the Kafka named by `KAFKA_BOOTSTRAP`.

#[path = "../../../../tests/support/broker.rs"]
mod broker;

pub use broker::Broker;

pub fn broker() -> Broker {
    Broker::start()
}
