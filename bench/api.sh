#!/usr/bin/env bash
# REST host benchmark: `tributary serve` (release build) managing CONNECTORS connectors
# over its API, with Postgres, the broker and the load generators on the same machine.
#
#   create:  POST /connectors for each connector (each with its own slot, publication and
#            topic prefix): the request's latency (it checks the config and connects to
#            Postgres) and the time until every connector reports RUNNING.
#   idle:    the daemon's resident memory with every connector streaming an idle table.
#   api:     while pgbench writes RATE transactions/s into the captured table, wrk drives
#            each endpoint for WRK_SECS seconds with WRK_CONNS connections: requests/s and
#            latency percentiles of GET …/status, GET /connectors?expand=status&expand=info
#            and GET /metrics. Afterwards: how long the slowest connector took to have the
#            whole load committed in Kafka (its slot's confirmed_flush_lsn past the load's
#            end LSN; the connectors report it every 100 ms, status.update.interval.ms),
#            i.e. whether API load held the stream back.
#   restart: kill -9 of the daemon, then the time until it serves again and until every
#            connector is back RUNNING (from the store in its data dir).
#
# Usage: bench/api.sh      Environment: CONNECTORS=10 RATE=500 WRK_SECS=10 WRK_CONNS=64
#   KAFKA_BOOTSTRAP=host:port  use that broker (default: Apache Kafka 4.4 from scripts/kafka.sh)
#   KEEP=1  keep the work dir (logs)
set -euo pipefail
cd "$(dirname "$0")/.."
CONNECTORS=${CONNECTORS:-10}
RATE=${RATE:-500}
WRK_SECS=${WRK_SECS:-10}
WRK_CONNS=${WRK_CONNS:-64}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }

PGBIN=$(find /usr/lib/postgresql/*/bin -maxdepth 0 -type d 2>/dev/null | sort -V | tail -1)
[ -n "$PGBIN" ] || PGBIN=$(dirname "$(command -v initdb)")
cargo build --release --quiet --bin tributary
TRIB=$PWD/target/release/tributary
source "$PWD/bench/lib.sh"
start_broker
ms() { python3 -c "print(round(($2 - $1) * 1000))"; }
rss_mb() { awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }

"${PSQL[@]}" -c "CREATE TABLE items (id bigserial PRIMARY KEY, v text NOT NULL)"
api_port=$(free_port)
reg_port=$(free_port)
API=http://127.0.0.1:$api_port
cat > "$work/tributary.toml" <<TOML
data_dir = "$work/tributary"
[api]
listen = "127.0.0.1:$api_port"
[kafka]
bootstrap_servers = "$BOOTSTRAP"
offsets_topic_partitions = 3
[schema_registry]
listen = "127.0.0.1:$reg_port"
TOML
start_daemon() {
  "$TRIB" serve --config "$work/tributary.toml" >>"$work/daemon.log" 2>&1 &
  DAEMON=$!
  pids+=("$DAEMON")
  for _ in $(seq 1200); do
    curl -fs "$API/health/ready" >/dev/null 2>&1 && return
    sleep 0.01
  done
  fail "the daemon did not get ready; see $work/daemon.log"
}
all_running() {
  curl -fs "$API/connectors?expand=status" | python3 -c '
import json, sys
s = json.load(sys.stdin)
ok = len(s) == int(sys.argv[1]) and all(
    v["status"]["connector"]["state"] == "RUNNING"
    and [t["state"] for t in v["status"]["tasks"]] == ["RUNNING"] for v in s.values())
sys.exit(0 if ok else 1)' "$CONNECTORS"
}
wait_running() {
  for _ in $(seq 6000); do all_running && return; sleep 0.01; done
  fail "connectors did not all reach RUNNING"
}
slots_active() {
  [ "$("${PSQL[@]}" -At -c "SELECT count(*) FROM pg_replication_slots WHERE active AND slot_name LIKE 'bench%'")" = "$CONNECTORS" ]
}

start_daemon
t0=$(now)
post_ms=()
for i in $(seq 0 $((CONNECTORS - 1))); do
  body=$(printf '{"name": "c%s", "config": {"connector.class": "io.debezium.connector.postgresql.PostgresConnector", "database.hostname": "127.0.0.1", "database.port": "%s", "database.user": "postgres", "database.dbname": "postgres", "slot.name": "bench%s", "publication.name": "bench%s", "publication.autocreate.mode": "filtered", "table.include.list": "public.items", "topic.prefix": "b%s", "status.update.interval.ms": "100"}}' "$i" "$port" "$i" "$i" "$i")
  a=$(now)
  code=$(curl -s -o "$work/post.out" -w '%{http_code}' -H 'Content-Type: application/json' -d "$body" "$API/connectors")
  b=$(now)
  [ "$code" = 201 ] || fail "POST /connectors answered $code: $(cat "$work/post.out")"
  post_ms+=("$(ms "$a" "$b")")
done
wait_running
for _ in $(seq 6000); do slots_active && break; sleep 0.01; done
t1=$(now)
sorted=$(printf '%s\n' "${post_ms[@]}" | sort -n)
echo "create: POST /connectors median $(echo "$sorted" | sed -n "$(( (CONNECTORS + 1) / 2 ))p") ms, max $(echo "$sorted" | tail -1) ms; all $CONNECTORS RUNNING and streaming after $(ms "$t0" "$t1") ms"
sleep 2
echo "idle: daemon RSS $(rss_mb "$DAEMON") MB with $CONNECTORS connectors streaming"

cat > "$work/load.sql" <<'SQL'
INSERT INTO items (v) SELECT md5(random()::text) FROM generate_series(1, 5);
SQL
as_pg pgbench -n -h 127.0.0.1 -p "$port" -U postgres -f "$work/load.sql" -c 2 -j 1 -R "$RATE" \
  -T $((3 * WRK_SECS + 6)) postgres >"$work/pgbench.log" 2>&1 &
PGBENCH=$!
sleep 2
run_wrk() { # label path
  local out
  out=$(wrk -t 2 -c "$WRK_CONNS" -d "${WRK_SECS}s" --latency "$API$2" 2>&1)
  local rps p50 p99 errors
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  errors=$(echo "$out" | grep -E "Non-2xx|Socket errors" || true)
  echo "api: $1: $rps req/s, p50 $p50, p99 $p99${errors:+ ($errors)}"
}
run_wrk "GET /connectors/c0/status" "/connectors/c0/status"
run_wrk "GET /connectors?expand=status&expand=info" "/connectors?expand=status&expand=info"
run_wrk "GET /metrics" "/metrics"
wait "$PGBENCH" || fail "pgbench failed: $(tail -5 "$work/pgbench.log")"
end_lsn=$("${PSQL[@]}" -At -c "SELECT pg_current_wal_lsn()")
a=$(now)
for _ in $(seq 12000); do
  behind=$("${PSQL[@]}" -At -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'bench%' AND confirmed_flush_lsn < '$end_lsn'")
  [ "$behind" = 0 ] && break
  sleep 0.01
done
[ "$behind" = 0 ] || fail "slots did not catch up"
rows=$("${PSQL[@]}" -At -c "SELECT count(*) FROM items")
echo "stream: $rows rows written during the API load ($(grep -E '^tps' "$work/pgbench.log" | awk '{printf "%.0f", $3}') tx/s); every connector had them committed in Kafka $(ms "$a" "$(now)") ms after the load ended"
echo "load: daemon RSS $(rss_mb "$DAEMON") MB"

kill -9 "$DAEMON"
wait "$DAEMON" 2>/dev/null || true
a=$(now)
start_daemon
b=$(now)
wait_running
for _ in $(seq 6000); do slots_active && break; sleep 0.01; done
c=$(now)
echo "restart: after kill -9, serving again in $(ms "$a" "$b") ms; all $CONNECTORS connectors RUNNING and streaming in $(ms "$a" "$c") ms"
