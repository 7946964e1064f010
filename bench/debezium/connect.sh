# Debezium 3.6 on Kafka Connect 4.3 (standalone worker), for the benches; sourced after
# bench/lib.sh. start_connect NAME SLOT PUBLICATION starts a worker with the Debezium
# Postgres connector NAME (topic prefix NAME, an existing slot and publication,
# snapshot.mode no_data) converting keys and values with Confluent's AvroConverter through
# $DBZ_REGISTRY; sets CONNECT_PID and CONNECT_LOG. DBZ_SNAPSHOT_MODE overrides the mode. Debezium's own defaults otherwise
# (max.batch.size 2048, max.queue.size 8192), as a team running it would have them.
# shellcheck shell=bash
DBZ_LIBS=$("$(dirname "${BASH_SOURCE[0]}")/fetch.sh") || fail "could not fetch Debezium (see above)"
DBZ_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

start_connect() {
  local dir=$work/$1 rest
  mkdir -p "$dir"
  rest=$(free_port)
  cat > "$dir/worker.properties" <<PROPS
bootstrap.servers=$BOOTSTRAP
key.converter=io.confluent.connect.avro.AvroConverter
key.converter.schema.registry.url=$DBZ_REGISTRY
value.converter=io.confluent.connect.avro.AvroConverter
value.converter.schema.registry.url=$DBZ_REGISTRY
offset.storage.file.filename=$dir/offsets.dat
offset.flush.interval.ms=1000
listeners=http://127.0.0.1:$rest
PROPS
  cat > "$dir/connector.properties" <<PROPS
name=$1
connector.class=io.debezium.connector.postgresql.PostgresConnector
database.hostname=127.0.0.1
database.port=$port
database.user=postgres
database.password=
database.dbname=postgres
topic.prefix=$1
plugin.name=pgoutput
slot.name=$2
publication.name=$3
publication.autocreate.mode=disabled
snapshot.mode=${DBZ_SNAPSHOT_MODE:-no_data}
${DBZ_EXTRA:-}
PROPS
  CONNECT_LOG=$dir/connect.log
  java -Xms256m -Xmx1g -cp "$DBZ_LIBS/*" -Dlog4j2.configurationFile="$DBZ_DIR/log4j2.properties" \
    -Dconnect.log.file="$CONNECT_LOG" org.apache.kafka.connect.cli.ConnectStandalone \
    "$dir/worker.properties" "$dir/connector.properties" >"$dir/connect.out" 2>&1 &
  CONNECT_PID=$!
  pids+=("$CONNECT_PID")
}

stop_connect() {
  kill -TERM "$CONNECT_PID" 2>/dev/null || true
  wait "$CONNECT_PID" 2>/dev/null || true
}

connect_log_time() { # PATTERN: epoch seconds of the first line of the Connect log with it
  local ms
  for _ in $(seq 600); do
    ms=$({ grep -m1 -F "$1" "$CONNECT_LOG" 2>/dev/null || true; } | cut -d" " -f1)
    [ -n "$ms" ] && { python3 -c "print($ms/1000)"; return 0; }
    sleep 0.1
  done
  tail -30 "$CONNECT_LOG" >&2
  fail "Kafka Connect never logged '$1' (log: $CONNECT_LOG)"
}
