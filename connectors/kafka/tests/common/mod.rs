//! Apache Kafka for the integration tests: the test kit's broker (one per test, started
//! by `scripts/kafka.sh`), or the Kafka named by `KAFKA_BOOTSTRAP`.

pub use tributary_testkit::kafka::Broker;

pub fn broker() -> Broker {
    Broker::start()
}
