#!/usr/bin/env bash
# Runs the whole test suite: unit, property and black-box tests against throwaway
# Postgres clusters, Redis servers and Apache Kafka brokers. This is what .ci/run runs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --all-targets --locked
# The tests start their own Kafka brokers from these jars (fetched once, then cached).
scripts/kafka.sh fetch >/dev/null
# …and their own OpenSearch nodes from these.
scripts/opensearch.sh fetch >/dev/null
# …and the differential test runs the real Debezium connector from these.
scripts/debezium.sh fetch >/dev/null
cargo nextest run --workspace --locked --no-fail-fast "$@"
