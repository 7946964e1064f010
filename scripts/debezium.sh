#!/usr/bin/env bash
# Debezium 3.6.1 for the differential test (tests/debezium_diff.rs).
#
#   scripts/debezium.sh fetch
#       Fetches Debezium's embedded engine, its Postgres connector, Kafka Connect and
#       Confluent's AvroData once (bench/debezium/fetch.sh), compiles the test's Java
#       half (tests/debezium/DiffHarness.java) against them when its source changed, and
#       prints the Java class path. Safe to run from many processes at once.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ "${1:-}" = fetch ] || { echo "usage: scripts/debezium.sh fetch" >&2; exit 2; }
command -v javac >/dev/null || { echo "debezium.sh: javac is missing (apt-get install openjdk-17-jdk-headless)" >&2; exit 1; }
libs=$("$root/bench/debezium/fetch.sh")
src=$root/tests/debezium/DiffHarness.java
sum=$(sha256sum "$src" | cut -c1-16)
classes=$libs/harness-$sum
if [ ! -f "$classes/.complete" ]; then
  exec 9>"$libs/harness.lock"
  flock 9
  if [ ! -f "$classes/.complete" ]; then
    rm -rf "$classes"
    mkdir -p "$classes"
    javac -nowarn -d "$classes" -cp "$libs/*" "$src" >&2
    touch "$classes/.complete"
  fi
  exec 9>&-
fi
echo "$classes:$libs/*"
