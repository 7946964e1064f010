#!/usr/bin/env bash
# Runs the whole test suite: unit, property and black-box tests against throwaway
# Postgres clusters. This is what .ci/run runs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --all-targets --locked
cargo nextest run --workspace --locked --no-fail-fast "$@"
