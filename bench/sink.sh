#!/usr/bin/env bash
# Sink benchmark: how fast the sink jobs apply a topic, against how fast the same topic can
# merely be consumed, and how soon a Postgres commit is searchable. Postgres, the broker,
# Redis and the daemon share this machine.
#
#   throughput: ROWS rows (~150 bytes) are snapshotted into cdc.public.items. Then
#               (1) a raw read_committed consumer (librdkafka via confluent-kafka, no
#               decoding) reads the topic from the beginning: the raw consume rate;
#               (2) a Redis cache job, then (3) a search job into the embedded tantivy
#               index, each started alone, read the topic from the beginning (Avro
#               decoding, flattening, writes, commits); timed from the job's first commit
#               until its committed offsets reach the end of the topic. Figures: docs/s and
#               the ratio to (1) (its last run).
#   latency:    with the search job running, pgbench updates random rows at RATE
#               transactions/s (one change each) for DURATION s, while PROBES rows/s are
#               inserted, each committed on its own (both with synchronous_commit=on, as
#               applications commit: the cluster's own default here is off, and with off
#               logical decoding sees a commit only after the WAL writer's next flush, up to
#               wal_writer_delay = 200 ms later); for each probe a poller searches the
#               embedded index for the probe's unique token every 10 ms. Latency = found -
#               COMMIT returned. p50/p90/p99/max; "in_kafka" is the same for COMMIT
#               returned -> visible to a read_committed consumer (the source's share).
#
# Usage: bench/sink.sh [ROWS]        (default 200000)
# Environment: RATE=1000 PROBES=20 DURATION=30 BATCH=2000 (batch.size) WAIT=100
#   (batch.max.wait.ms) KEEP=1
#   KAFKA_BOOTSTRAP=host:port (default: Apache Kafka 4.4 from scripts/kafka.sh), PYENV=dir (a venv with
#   confluent-kafka and psycopg; default target/bench-pyenv, created when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-200000}
RATE=${RATE:-1000}; PROBES=${PROBES:-20}; DURATION=${DURATION:-30}; BATCH=${BATCH:-2000}; WAIT=${WAIT:-100}
export PATH="$HOME/.cargo/bin:$PATH"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
cargo build --release --quiet --bin tributary
TRIB=$PWD/target/release/tributary
PYENV=${PYENV:-$PWD/target/bench-pyenv}
if ! "$PYENV/bin/python" -c 'import confluent_kafka, psycopg' 2>/dev/null; then
  echo "installing confluent-kafka and psycopg into $PYENV"
  python3 -m venv "$PYENV"
  "$PYENV/bin/pip" install --quiet --disable-pip-version-check 'confluent-kafka[avro]' 'psycopg[binary]'
fi
PY=$PYENV/bin/python
# shellcheck source=bench/lib.sh
source bench/lib.sh
start_broker

rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 &
pids+=($!)

"${PSQL[@]}" <<SQL
CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, body text, price numeric(10,2), qty integer);
INSERT INTO items SELECT g, 'item' || g, 'a plain description of item number ' || g || ' in stock',
  (g % 10000) / 100.0, g % 1000 FROM generate_series(1, $ROWS) g;
SQL

api_port=$(free_port); reg_port=$(free_port)
API=http://127.0.0.1:$api_port
cat > "$work/tributary.toml" <<TOML
data_dir = "$work/state"
[api]
listen = "127.0.0.1:$api_port"
[kafka]
bootstrap_servers = "$BOOTSTRAP"
[schema_registry]
url = ""
listen = "127.0.0.1:$reg_port"
[log]
level = "warn"
TOML
"$TRIB" serve --config "$work/tributary.toml" >"$work/daemon.log" 2>&1 &
DAEMON=$!
pids+=("$DAEMON")
for _ in $(seq 200); do curl -fs "$API/health/ready" >/dev/null 2>&1 && break; sleep 0.05; done
post() { curl -fsS -X POST -H 'Content-Type: application/json' -d "$1" "$API/connectors" >/dev/null; }
committed() { curl -fs "$API/connectors/$1/offsets" | python3 -c 'import json,sys; print(sum(o["offset"]["kafka_offset"] for o in json.load(sys.stdin)["offsets"]))'; }
now() { date +%s.%N; }

post "{\"name\": \"pg\", \"config\": {\"connector.class\": \"io.debezium.connector.postgresql.PostgresConnector\",
  \"database.hostname\": \"127.0.0.1\", \"database.port\": \"$port\", \"database.user\": \"postgres\",
  \"database.password\": \"\", \"database.dbname\": \"postgres\", \"database.sslmode\": \"disable\",
  \"topic.prefix\": \"cdc\", \"table.include.list\": \"public.items\"}}"
echo "snapshotting $ROWS rows into cdc.public.items..."
raw=$("$PY" bench/sink_probe.py rate --bootstrap "$BOOTSTRAP" --topic cdc.public.items --expect "$ROWS")
# Where a job that read everything stands: per partition, the offset after its last record
# (the log end is one further: the last transaction's commit marker).
end=$("$PY" - "$BOOTSTRAP" <<'PYEND'
import sys
from confluent_kafka import Consumer, TopicPartition
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "bench-end"})
md = c.list_topics("cdc.public.items", timeout=10)
ends = [c.get_watermark_offsets(TopicPartition("cdc.public.items", p), timeout=10)[1]
        for p in md.topics["cdc.public.items"].partitions]
print(sum(e - 1 for e in ends if e > 0))
PYEND
)
echo "raw consume (first read, while the snapshot was published): $raw"
for i in 1 2 3; do
  raw=$("$PY" bench/sink_probe.py rate --bootstrap "$BOOTSTRAP" --topic cdc.public.items --expect "$ROWS")
  echo "raw consume, run $i: $raw (topic end offset $end)"
done
raw_rate=$(echo "$raw" | python3 -c 'import json,sys; print(json.load(sys.stdin)["per_second"])')

job_rate() { # NAME CONFIG: creates the job; timed from its first commit (after the
  # group's first rebalance) until it committed the topic's end
  local t0="" t1 c first=0
  post "{\"name\": \"$1\", \"config\": $2}"
  for _ in $(seq 6000); do
    c=$(committed "$1" 2>/dev/null || echo 0)
    if [ -z "$t0" ] && [ "$c" -gt 0 ]; then t0=$(now); first=$c; fi
    [ "$c" -ge "$end" ] && break
    sleep 0.02
  done
  t1=$(now)
  python3 -c "import sys; n=$end-$first; r=n/($t1-$t0); print(f'{sys.argv[1]}: {n} docs in {$t1-$t0:.2f} s = {r:,.0f} docs/s = {r/$raw_rate:.2f} x raw consume')" "$1"
  curl -fsS -X PUT "$API/connectors/$1/stop" >/dev/null
}
job_rate redis "{\"connector.class\": \"io.tributary.sink.RedisSinkConnector\", \"topics\": \"cdc.public.items\",
  \"redis.url\": \"redis://127.0.0.1:$rport/0\", \"batch.size\": \"$BATCH\", \"batch.max.wait.ms\": \"$WAIT\"}"
echo "redis keys: $(redis-cli -p "$rport" DBSIZE)"
job_rate search "{\"connector.class\": \"io.tributary.sink.SearchSinkConnector\", \"topics\": \"cdc.public.items\", \"batch.size\": \"$BATCH\", \"batch.max.wait.ms\": \"$WAIT\"}"
curl -fs "$API/indexes"; echo

echo "latency: $RATE updates/s for ${DURATION}s with $PROBES probe inserts/s, search job running"
curl -fsS -X PUT "$API/connectors/search/resume" >/dev/null
# Warm-up: the job rejoins its group first.
"${PSQL[@]}" -c "INSERT INTO items VALUES (0, 'warmup', 'warm', 1, 1)"
for _ in $(seq 600); do
  curl -fs "$API/indexes/public.items/search?q=warmup" | grep -q '"total":1' && break
  sleep 0.05
done
cat > "$work/update.sql" <<SQL
\set id random(1, $ROWS)
UPDATE items SET qty = qty + 1, body = 'updated ' || :id WHERE id = :id;
SQL
kafka_txs() { curl -fs "$API/metrics" | awk '/^tributary_number_of_committed_transactions\{connector="pg"\}/ {print $2}'; }
txs0=$(kafka_txs); t0=$(now)
PGOPTIONS="-c synchronous_commit=on" "$PGBIN/pgbench" -n -h 127.0.0.1 -p "$port" -U postgres -c 4 -j 2 -R "$RATE" -T "$DURATION" \
  -f "$work/update.sql" postgres >"$work/pgbench.log" 2>&1 &
PGB=$!
"$PY" bench/sink_probe.py probe --dsn "host=127.0.0.1 port=$port user=postgres dbname=postgres" \
  --api "$API" --index public.items --rate "$PROBES" --duration "$DURATION" --out "$work/probe.txt" \
  --bootstrap "$BOOTSTRAP" --topic cdc.public.items
wait "$PGB" || true
python3 -c "import sys; n=$(kafka_txs)-$txs0; s=$(now)-$t0; print(f'source: {n:.0f} Kafka transactions in {s:.1f} s = {n/s:.1f}/s ({1000*s/max(n,1):.0f} ms apart)')"
curl -fs "$API/metrics" | python3 -c '
import sys
m = {}
for line in sys.stdin:
    if line.startswith("tributary_sink_") and "connector=\"search\"" in line and "op=" not in line:
        name, value = line.split("{")[0], float(line.rsplit(" ", 1)[1])
        m[name] = value
b = m.get("tributary_sink_batches_total", 0)
if b:
    print("search job: %d batches in all, %.1f ms per write (tantivy commit and reader reload included), %.0f changes per batch"
          % (b, 1000 * m["tributary_sink_write_seconds_total"] / b, m["tributary_sink_records_consumed_total"] / b))'
grep -E "^tps|latency average" "$work/pgbench.log" || true
echo "daemon VmHWM: $(grep VmHWM /proc/$DAEMON/status | awk '{print $2/1024 " MB"}')"
