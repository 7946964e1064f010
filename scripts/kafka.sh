#!/usr/bin/env bash
# Apache Kafka 4.4 for the tests, the benches and the demo, from Maven Central (the jars of
# kafka_2.13 and its run-time dependencies; no distribution is downloaded).
#
#   scripts/kafka.sh fetch
#       Copies the jars into $TRIBUTARY_CACHE/kafka-4.4.0 (default ~/.cache/tributary) once and
#       prints that folder. Safe to run from many processes at once.
#   scripts/kafka.sh run DIR PORT CONTROLLER_PORT [PROPS_FILE]
#       Formats DIR as a one-node KRaft cluster (combined broker and controller) and runs it in
#       the foreground: clients on 127.0.0.1:PORT (PLAINTEXT), the controller on
#       CONTROLLER_PORT. The lines of PROPS_FILE are appended to DIR/server.properties (later
#       keys win), e.g. SASL_SSL listeners. The broker's log is DIR/server.log.
#       KAFKA_FORMAT_ARGS adds arguments to the storage format (e.g. --add-scram ...);
#       KAFKA_HEAP sets the heap (default 512m).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=4.4.0
cache=${TRIBUTARY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tributary}
libs=$cache/kafka-$version

fetch() {
  [ -f "$libs/.complete" ] && return 0
  command -v mvn >/dev/null || { echo "kafka.sh: mvn is missing (apt-get install maven)" >&2; return 1; }
  command -v java >/dev/null || { echo "kafka.sh: java is missing (apt-get install openjdk-17-jre-headless)" >&2; return 1; }
  mkdir -p "$cache"
  exec 9>"$cache/kafka-$version.lock"
  flock 9
  if [ ! -f "$libs/.complete" ]; then
    rm -rf "$libs.tmp"
    if ! mvn -q -B -f "$here/kafka/pom.xml" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$libs.tmp" >"$cache/kafka-fetch.log" 2>&1; then
      echo "kafka.sh: Maven could not fetch Apache Kafka $version:" >&2
      grep -E 'ERROR|Could not' "$cache/kafka-fetch.log" | head -20 >&2
      return 1
    fi
    rm -rf "$libs"
    mv "$libs.tmp" "$libs"
    touch "$libs/.complete"
  fi
  exec 9>&-
}

java_opts() {
  echo "-Xms128m -Xmx${KAFKA_HEAP:-512m} -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true"
}

run() {
  local dir=$1 port=$2 cport=$3 props=${4:-}
  fetch
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,INTERNAL:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.flush.interval.messages=9223372036854775807
PROPS
  if [ -n "$props" ]; then cat "$props" >>"$dir/server.properties"; fi
  local cluster
  cluster=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
  # shellcheck disable=SC2086
  java -Xmx256m -XX:TieredStopAtLevel=1 -Xshare:auto -cp "$libs/*" \
    -Dlog4j2.configurationFile="$here/kafka/log4j2.properties" -Dkafka.log.file="$dir/server.log" \
    kafka.tools.StorageTool format --cluster-id="$cluster" -c "$dir/server.properties" --ignore-formatted \
    ${KAFKA_FORMAT_ARGS:-} >"$dir/format.log" 2>&1 \
    || { cat "$dir/format.log" >&2; exit 1; }
  # shellcheck disable=SC2046
  exec java $(java_opts) -cp "$libs/*" \
    -Dlog4j2.configurationFile="$here/kafka/log4j2.properties" -Dkafka.log.file="$dir/server.log" \
    kafka.Kafka "$dir/server.properties"
}

case "${1:-}" in
  fetch) fetch && echo "$libs" ;;
  run) shift; [ $# -ge 3 ] || { echo "usage: kafka.sh run DIR PORT CONTROLLER_PORT [PROPS_FILE]" >&2; exit 2; }; run "$@" ;;
  *) echo "usage: kafka.sh fetch | run DIR PORT CONTROLLER_PORT [PROPS_FILE]" >&2; exit 2 ;;
esac
