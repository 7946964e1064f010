#!/usr/bin/env bash
# Publish benchmark: `tributary serve` (Avro, transactional Kafka) on this machine, with
# Postgres, the broker and the embedded schema registry co-located.
#
#   drain:   a backlog of ROWS rows (~200 bytes each, in transactions of TX_ROWS rows),
#            drained from slots created at the same LSN before the backlog was written:
#            by pg_recvlogical (pgoutput, proto 1) to /dev/null, and by `tributary serve`
#            (Avro, Kafka transactions, offsets in the same transaction) until the daemon's
#            slot reports the backlog's end LSN as flushed, which it does only after the
#            Kafka commit holding that transaction returned. REPEAT alternating runs, each
#            daemon run on its own slot and topic; every topic is then read back by a
#            read_committed consumer and must hold exactly ROWS records. In the same run,
#            from a third slot made at the same LSN: Debezium 3.6.1 on Kafka Connect 4.3
#            (standalone worker, Confluent's AvroConverter through a Tributary daemon's
#            embedded registry, Debezium's defaults), until its topic holds ROWS records.
#   latency: pgbench writes RATE transactions/s of 5 rows (one INSERT, synchronous_commit
#            on, as a real application commits) for DURATION seconds while a read_committed
#            consumer measures, per event, the wall clock at which it received the record
#            minus source.ts_us (the Postgres commit timestamp in the Avro value). The first
#            WARMUP seconds of commits are left out. Also printed: the part of it spent
#            before the daemon handed the record to librdkafka (the record's CreateTime).
#            Then the same load and measurement for Debezium on Kafka Connect.
#   snapshot: a table of SNAPSHOT_ROWS rows (same shape), read by `COPY ... TO STDOUT` to
#            /dev/null, then snapshotted by a new Tributary connector with
#            snapshot.max.threads=SNAPSHOT_THREADS (2), timed from its 'snapshot starting'
#            log line until a read_committed consumer has every row; then by Debezium
#            (snapshot.mode=initial_only, its one thread) until its topic holds every row.
#   incremental: a table of SNAPSHOT_ROWS rows (same shape), read by `COPY` and by an
#            initial snapshot with 4 threads; then snapshotted incrementally by an
#            execute-snapshot signal (inserted into the signal table) by a streaming
#            connector with snapshot.max.threads 1 and 4 (incremental.snapshot.chunk.size
#            1024, Debezium's default), each timed from the signal's insert until a
#            read_committed consumer has every row; then by Debezium (its one thread, same
#            chunk size) from the same kind of signal until its topic holds every row.
#   memory:  one transaction inserting BIG_ROWS rows while the daemon streams; once the
#            slot's confirmed_flush_lsn passed it, VmHWM of the daemon (and a read-back
#            count of the topic).
#
# Usage: bench/publish.sh [ROWS] [BIG_ROWS]    (defaults 1000000 2000000)
# Environment: TX_ROWS=100 REPEAT=5 RATE=1000 DURATION=30 WARMUP=5 CLIENTS=4
#   KAFKA_BOOTSTRAP=host:port  use that broker (default: start Apache Kafka 4.4, one KRaft
#                              node, from scripts/kafka.sh)
#   DEBEZIUM=0                 leave Debezium out (default 1: measure it beside Tributary;
#                              its jars are fetched once by bench/debezium/fetch.sh)
#   PYENV=dir                  a venv with confluent-kafka[avro] (default target/bench-pyenv,
#                              created when missing)
#   FETCH_WAIT_MS=500          the latency consumer's fetch.wait.max.ms (librdkafka's
#                              default; Kafka answers a waiting fetch as soon as records come)
#   LOAD_SYNC_COMMIT=on        synchronous_commit of the latency load (off: Postgres itself
#                              holds commits back until its WAL writer flushes, ~200 ms)
#   CONNECTOR_EXTRA='"k": "v", ...'   more connector properties (e.g. publish.batch.max.ms);
#                              librdkafka settings go through TRIBUTARY__KAFKA__<property>
#   SNAPSHOT_ROWS=1000000 SNAPSHOT_THREADS=2
#   PHASES=drain,snapshot,incremental,latency,memory   which parts to run;  KEEP=1  keep the work dir (logs)
#   SAMPLES_OUT=file           copy the latency samples there (commit ts_us, latency us,
#                              commit -> CreateTime us, offset)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}
BIG_ROWS=${2:-2000000}
TX_ROWS=${TX_ROWS:-100}
REPEAT=${REPEAT:-5}     # drains per tool, alternating; the median is reported
RATE=${RATE:-1000}      # latency load, transactions/s
DURATION=${DURATION:-30}
WARMUP=${WARMUP:-5}
CLIENTS=${CLIENTS:-4}
FETCH_WAIT_MS=${FETCH_WAIT_MS:-500}
DEBEZIUM=${DEBEZIUM:-1}
LOAD_SYNC_COMMIT=${LOAD_SYNC_COMMIT:-on}
PHASES=${PHASES:-drain,snapshot,incremental,latency,memory}
SNAPSHOT_ROWS=${SNAPSHOT_ROWS:-1000000}
SNAPSHOT_THREADS=${SNAPSHOT_THREADS:-2}
phase() { [[ ",$PHASES," == *",$1,"* ]]; }

PGBIN=$(find /usr/lib/postgresql/*/bin -maxdepth 0 -type d 2>/dev/null | sort -V | tail -1)
[ -n "$PGBIN" ] || PGBIN=$(dirname "$(command -v initdb)")
cargo build --release --quiet --bin tributary
TRIB=${TRIB:-$PWD/target/release/tributary}
PYENV=${PYENV:-$PWD/target/bench-pyenv}
if ! "$PYENV/bin/python" -c 'import confluent_kafka.schema_registry, fastavro' 2>/dev/null; then
  echo "installing confluent-kafka[avro] into $PYENV"
  python3 -m venv "$PYENV"
  "$PYENV/bin/pip" install --quiet --disable-pip-version-check 'confluent-kafka[avro]'
fi
PY=$PYENV/bin/python
CONSUME=$PWD/bench/publish_consume.py

source "$PWD/bench/lib.sh"
start_broker
if [ "$DEBEZIUM" = 1 ]; then
  source "$PWD/bench/debezium/connect.sh"
fi
alive() { [ -r "/proc/$1/stat" ] && ! grep -q ') Z' "/proc/$1/stat"; }
calc() { python3 -c "print($1)"; }
cpu_s() { # utime + stime of a process, in seconds (0 if it is gone)
  if [ -n "$1" ] && [ -r "/proc/$1/stat" ]; then
    python3 -c "import os; f=open('/proc/$1/stat').read().rsplit(')',1)[1].split(); print((int(f[11])+int(f[12]))/os.sysconf('SC_CLK_TCK'))"
  else echo 0; fi
}
log_time() { # epoch seconds of the first line of a daemon log matching a pattern
  python3 - "$1" "$2" <<'PY'
import datetime, re, sys
for line in open(sys.argv[1], errors="replace"):
    if sys.argv[2] in line:
        m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z", line)
        frac = (m.group(2) or ".0")[:7]
        print(datetime.datetime.fromisoformat(m.group(1) + frac + "+00:00").timestamp())
        break
else:
    sys.exit(f"no {sys.argv[2]!r} in {sys.argv[1]}")
PY
}

# The end of what was written so far, then a flushed transaction on a table no
# publication holds, so that WAL past that end exists and every reader can reach it.
"${PSQL[@]}" <<'SQL'
CREATE TABLE bench_marker (n int);
CREATE FUNCTION bench_wait(slot text, target pg_lsn, timeout_s float8) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
  deadline timestamptz := clock_timestamp() + make_interval(secs => timeout_s);
  l pg_lsn;
BEGIN
  LOOP
    SELECT confirmed_flush_lsn INTO l FROM pg_replication_slots WHERE slot_name = slot;
    IF l >= target THEN
      RETURN extract(epoch FROM clock_timestamp());
    END IF;
    IF clock_timestamp() > deadline THEN
      RAISE EXCEPTION 'slot % confirmed % after % s, not %', slot, l, timeout_s, target;
    END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
END $$;
SQL
end_lsn() {
  local lsn
  lsn=$("${PSQL[@]}" -tA -c "SELECT pg_current_wal_insert_lsn()")
  "${PSQL[@]}" -c "SET synchronous_commit = on; INSERT INTO bench_marker VALUES (1)" >/dev/null
  echo "$lsn"
}

# wait_flush SLOT LSN TIMEOUT DAEMON_PID: prints the epoch at which the slot's
# confirmed_flush_lsn reached LSN (polled every 50 ms inside Postgres); fails if the
# daemon exits first.
wait_flush() {
  "${PSQL[@]}" -tA -c "SELECT bench_wait('$1', '$2', $3)" > "$work/wait.out" 2>"$work/wait.err" &
  local w=$!
  while alive "$w"; do
    if ! alive "$4"; then
      kill "$w" 2>/dev/null || true
      tail -20 "$DAEMON_LOG" >&2
      fail "the daemon exited before $1 reached $2"
    fi
    sleep 0.1
  done
  wait "$w" || { cat "$work/wait.err" >&2; tail -20 "$DAEMON_LOG" >&2; fail "waiting for $1 to reach $2"; }
  cat "$work/wait.out"
}

connector() { # name slot publication [snapshot.mode]
  mkdir -p "$work/$1"
  cat > "$work/$1/conn.json" <<JSON
{"name": "$1", "config": {
  "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
  "database.hostname": "127.0.0.1", "database.port": "$port", "database.user": "postgres",
  "database.dbname": "postgres", "database.sslmode": "disable", "topic.prefix": "$1",
  "slot.name": "$2", "publication.name": "$3", "publication.autocreate.mode": "disabled",
  "snapshot.mode": "${4:-no_data}", "status.update.interval.ms": "100"${CONNECTOR_EXTRA:+, $CONNECTOR_EXTRA}}}
JSON
}

# start_daemon NAME: starts `tributary serve` with connector NAME (its own data dir, API
# port and embedded registry); sets DAEMON_PID, DAEMON_LOG, REGISTRY. Does not wait.
start_daemon() {
  local dir=$work/$1 api reg
  api=$(free_port); reg=$(free_port)
  cat > "$dir/tributary.toml" <<TOML
data_dir = "$dir/data"
[api]
listen = "127.0.0.1:$api"
[kafka]
bootstrap_servers = "$BOOTSTRAP"
offsets_topic_partitions = 3
[schema_registry]
url = ""
listen = "127.0.0.1:$reg"
[log]
level = "info"
TOML
  REGISTRY=http://127.0.0.1:$reg
  DAEMON_LOG=$dir/daemon.log
  "$TRIB" serve --config "$dir/tributary.toml" --connector "$dir/conn.json" 2>"$DAEMON_LOG" &
  DAEMON_PID=$!
  pids+=("$DAEMON_PID")
}
wait_log() { # pattern: waits (60 s) for the daemon log to show it
  for _ in $(seq 600); do
    grep -q "$1" "$DAEMON_LOG" && return 0
    alive "$DAEMON_PID" || { cat "$DAEMON_LOG" >&2; fail "the daemon exited"; }
    sleep 0.1
  done
  cat "$DAEMON_LOG" >&2; fail "the daemon did not log '$1'"
}
stop_daemon() {
  kill -TERM "$DAEMON_PID"
  wait "$DAEMON_PID" || fail "the daemon exited with $? on SIGTERM (log: $DAEMON_LOG)"
}
count_topic() { # topic expected: reads the topic back (read_committed); sets TOPIC_STATS
  TOPIC_STATS=$("$PY" "$CONSUME" count --bootstrap "$BOOTSTRAP" --topic "$1" --expect "$2")
  local n
  n=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['records'])" "$TOPIC_STATS")
  [ "$n" -eq "$2" ] || fail "topic $1 holds $n records, expected $2"
}
kafka_txns() { # one line about the Kafka transactions of the topic last read back
  python3 - "$TOPIC_STATS" <<'PY'
import json, sys
s = json.loads(sys.argv[1])
line = f"  {s['kafka_transactions']} Kafka transactions, median {s['records_per_transaction_p50']} records"
if "pause_ms_p50" in s:
    line += (f"; pause between two (the daemon committing): p50 {s['pause_ms_p50']} ms,"
             f" p90 {s['pause_ms_p90']} ms, max {s['pause_ms_max']} ms, total {s['pause_ms_total']/1000:.1f} s")
print(line)
PY
}

# start_registry: a Tributary daemon with no connector, for its embedded registry
# ($DBZ_REGISTRY), which Debezium's AvroConverter registers its schemas in.
start_registry() {
  local dir=$work/registry reg
  mkdir -p "$dir"
  reg=$(free_port)
  cat > "$dir/tributary.toml" <<TOML
data_dir = "$dir/data"
[api]
listen = "127.0.0.1:$(free_port)"
[kafka]
bootstrap_servers = "$BOOTSTRAP"
[schema_registry]
url = ""
listen = "127.0.0.1:$reg"
TOML
  "$TRIB" serve --config "$dir/tributary.toml" 2>"$dir/daemon.log" &
  pids+=($!)
  DBZ_REGISTRY=http://127.0.0.1:$reg
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$reg") 2>/dev/null && return 0; sleep 0.1; done
  fail "the registry daemon did not start: $(cat "$dir/daemon.log")"
}
[ "$DEBEZIUM" = 1 ] && start_registry

########################################################################################
if phase drain; then
echo "== drain: $ROWS rows in transactions of $TX_ROWS, $REPEAT runs per tool"
"${PSQL[@]}" <<SQL
CREATE TABLE stream_t (id bigint PRIMARY KEY, a int NOT NULL, b text NOT NULL, c timestamptz NOT NULL);
CREATE PUBLICATION bench_pub FOR TABLE stream_t;
SQL
for i in $(seq "$REPEAT"); do
  "${PSQL[@]}" -c "SELECT pg_create_logical_replication_slot('recv_slot_$i', 'pgoutput'), pg_create_logical_replication_slot('trib_slot_$i', 'pgoutput'), pg_create_logical_replication_slot('dbz_slot_$i', 'pgoutput')" >/dev/null
done
python3 - "$ROWS" "$TX_ROWS" > "$work/load.sql" <<'PY'
import sys
rows, per = int(sys.argv[1]), int(sys.argv[2])
for start in range(1, rows + 1, per):
    end = min(start + per - 1, rows)
    print(f"INSERT INTO stream_t SELECT g, g % 1000, repeat(md5(g::text), 5), now() FROM generate_series({start}, {end}) g;")
PY
t0=$(now)
"${PSQL[@]}" -f "$work/load.sql"
t1=$(now)
END_LSN=$(end_lsn)
echo "backlog written in $(calc "round($t1-$t0,1)") s; ends at $END_LSN"

recv_times=(); trib_times=(); trib_launch_times=(); dbz_times=(); dbz_launch_times=()
for i in $(seq "$REPEAT"); do
  t0=$(now)
  pg_recvlogical -h 127.0.0.1 -p "$port" -U postgres -d postgres --slot "recv_slot_$i" --start \
    -o proto_version=1 -o publication_names=bench_pub --endpos "$END_LSN" -f /dev/null
  t1=$(now)
  recv=$(calc "$t1-$t0")

  connector "drain$i" "trib_slot_$i" bench_pub
  broker_cpu0=$(cpu_s "$BROKER_PID")
  t0=$(now)
  start_daemon "drain$i"
  t2=$(wait_flush "trib_slot_$i" "$END_LSN" 900 "$DAEMON_PID")
  daemon_cpu=$(cpu_s "$DAEMON_PID")
  broker_cpu=$(calc "$(cpu_s "$BROKER_PID")-$broker_cpu0")
  t_stream=$(log_time "$DAEMON_LOG" "streaming started")
  stop_daemon
  trib=$(calc "$t2-$t_stream")
  trib_launch=$(calc "$t2-$t0")
  count_topic "drain$i.public.stream_t" "$ROWS"
  recv_times+=("$recv"); trib_times+=("$trib"); trib_launch_times+=("$trib_launch")
  python3 - "$ROWS" "$recv" "$trib" "$trib_launch" "$daemon_cpu" "$broker_cpu" <<'PY'
import sys
rows, recv, trib, launch, dcpu, bcpu = int(sys.argv[1]), *map(float, sys.argv[2:])
print(f"run: pg_recvlogical {rows/recv:,.0f} rows/s ({recv:.2f} s); tributary serve {rows/trib:,.0f} rows/s"
      f" ({trib:.2f} s from 'streaming started', {launch:.2f} s from launch); ratio {recv/trib:.2f};"
      f" cpu: daemon {dcpu:.1f} s, broker {bcpu:.1f} s; topic read back: {rows} records")
PY
  kafka_txns

  if [ "$DEBEZIUM" = 1 ]; then
    broker_cpu0=$(cpu_s "$BROKER_PID")
    t0=$(now)
    start_connect "dbz$i" "dbz_slot_$i" bench_pub
    t2=$("$PY" "$CONSUME" wait-count --bootstrap "$BOOTSTRAP" --topic "dbz$i.public.stream_t" --expect "$ROWS") \
      || { tail -30 "$CONNECT_LOG" >&2; fail "Debezium did not publish the backlog"; }
    connect_cpu=$(cpu_s "$CONNECT_PID")
    broker_cpu=$(calc "$(cpu_s "$BROKER_PID")-$broker_cpu0")
    t_stream=$(connect_log_time "Starting streaming")
    stop_connect
    dbz=$(calc "$t2-$t_stream"); dbz_launch=$(calc "$t2-$t0")
    count_topic "dbz$i.public.stream_t" "$ROWS"
    dbz_times+=("$dbz"); dbz_launch_times+=("$dbz_launch")
    python3 - "$ROWS" "$trib" "$dbz" "$dbz_launch" "$connect_cpu" "$broker_cpu" <<'PY'
import sys
rows, trib, dbz, launch, ccpu, bcpu = int(sys.argv[1]), *map(float, sys.argv[2:])
print(f"     Debezium 3.6 on Kafka Connect {rows/dbz:,.0f} rows/s ({dbz:.2f} s from 'Starting streaming',"
      f" {launch:.2f} s from launch); Tributary/Debezium {dbz/trib:.2f};"
      f" cpu: Connect {ccpu:.1f} s, broker {bcpu:.1f} s; topic read back: {rows} records")
PY
  fi
done
python3 - "$ROWS" "${recv_times[*]}" "${trib_times[*]}" "${trib_launch_times[*]}" "${dbz_times[*]:-}" "${dbz_launch_times[*]:-}" <<'PY'
import statistics, sys
rows = int(sys.argv[1])
recv, trib, launch = (statistics.median(map(float, a.split())) for a in sys.argv[2:5])
print(f"median: pg_recvlogical {rows/recv:,.0f} rows/s   tributary serve {rows/trib:,.0f} rows/s"
      f" ({rows/launch:,.0f} rows/s counting daemon startup)   ratio: {recv/trib:.2f} ({recv/launch:.2f})")
if sys.argv[5].strip():
    dbz, dlaunch = (statistics.median(map(float, a.split())) for a in sys.argv[5:7])
    print(f"median: Debezium 3.6 on Kafka Connect {rows/dbz:,.0f} rows/s ({rows/dlaunch:,.0f} counting startup)"
          f"   Tributary/Debezium: {dbz/trib:.2f}x ({dlaunch/launch:.2f}x counting startup)")
PY

fi

########################################################################################
if phase snapshot; then
echo "== snapshot: a table of $SNAPSHOT_ROWS rows, $SNAPSHOT_THREADS threads"
"${PSQL[@]}" <<SQL
CREATE TABLE snap_t (id bigint PRIMARY KEY, a int NOT NULL, b text NOT NULL, c timestamptz NOT NULL);
INSERT INTO snap_t SELECT g, g % 1000, repeat(md5(g::text), 5), now() FROM generate_series(1, $SNAPSHOT_ROWS) g;
VACUUM ANALYZE snap_t;
CREATE PUBLICATION snap_pub FOR TABLE snap_t;
SQL
t0=$(now)
"${PSQL[@]}" -c "COPY snap_t TO STDOUT" > /dev/null
copy=$(calc "$(now)-$t0")
# Tributary: a new slot and its exported snapshot, read by SNAPSHOT_THREADS connections.
CONNECTOR_EXTRA="\"snapshot.max.threads\": \"$SNAPSHOT_THREADS\"${CONNECTOR_EXTRA:+, $CONNECTOR_EXTRA}" \
  connector snap trib_snap_slot snap_pub initial
"$PY" "$CONSUME" count --bootstrap "$BOOTSTRAP" --topic snap.public.snap_t --expect "$SNAPSHOT_ROWS" \
  > "$work/snap.count" &
counter=$!
t0=$(now)
start_daemon snap
wait "$counter" || fail "the snapshot did not reach Kafka"
t_snap=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['reached_at'])" "$work/snap.count")
t_start=$(log_time "$DAEMON_LOG" "snapshot starting")
stop_daemon
trib=$(calc "$t_snap-$t_start"); trib_launch=$(calc "$t_snap-$t0")
python3 - "$SNAPSHOT_ROWS" "$copy" "$trib" "$trib_launch" <<'PY'
import sys
rows, copy, trib, launch = int(sys.argv[1]), *map(float, sys.argv[2:])
print(f"COPY snap_t TO STDOUT {rows/copy:,.0f} rows/s ({copy:.2f} s); tributary serve {rows/trib:,.0f} rows/s"
      f" in Kafka ({trib:.2f} s from 'snapshot starting', {launch:.2f} s from launch);"
      f" Tributary/COPY {copy/trib:.2f} ({copy/launch:.2f} counting start-up)")
PY
if [ "$DEBEZIUM" = 1 ]; then
  # Debezium's snapshot (one thread: snapshot.max.threads is 1 by default) of the same table.
  "${PSQL[@]}" -c "SELECT pg_create_logical_replication_slot('dbz_snap_slot', 'pgoutput')" >/dev/null
  t0=$(now)
  DBZ_SNAPSHOT_MODE=initial_only start_connect dbzsnap dbz_snap_slot snap_pub
  t2=$("$PY" "$CONSUME" wait-count --bootstrap "$BOOTSTRAP" --topic dbzsnap.public.snap_t --expect "$SNAPSHOT_ROWS") \
    || { tail -30 "$CONNECT_LOG" >&2; fail "Debezium did not publish the snapshot"; }
  t_start=$(connect_log_time "Snapshot step 1")
  stop_connect
  python3 - "$SNAPSHOT_ROWS" "$trib" "$(calc "$t2-$t_start")" "$(calc "$t2-$t0")" <<'PY'
import sys
rows, trib, dbz, launch = int(sys.argv[1]), *map(float, sys.argv[2:])
print(f"     Debezium 3.6 on Kafka Connect {rows/dbz:,.0f} rows/s ({dbz:.2f} s from 'Snapshot step 1',"
      f" {launch:.2f} s from launch); Tributary/Debezium {dbz/trib:.2f}")
PY
fi
fi

########################################################################################
if phase incremental; then
echo "== incremental: a table of $SNAPSHOT_ROWS rows, snapshotted by signal while streaming"
"${PSQL[@]}" <<SQL
CREATE TABLE inc_t (id bigint PRIMARY KEY, a int NOT NULL, b text NOT NULL, c timestamptz NOT NULL);
INSERT INTO inc_t SELECT g, g % 1000, repeat(md5(g::text), 5), now() FROM generate_series(1, $SNAPSHOT_ROWS) g;
VACUUM ANALYZE inc_t;
CREATE TABLE trib_signal (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048));
CREATE TABLE dbz_signal (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048));
CREATE PUBLICATION inc_pub FOR TABLE inc_t, trib_signal;
CREATE PUBLICATION dbz_inc_pub FOR TABLE inc_t, dbz_signal;
SQL
t0=$(now)
"${PSQL[@]}" -c "COPY inc_t TO STDOUT" > /dev/null
copy=$(calc "$(now)-$t0")
rate() { python3 -c "import sys; print(f'{$SNAPSHOT_ROWS/$1:,.0f} rows/s ({$1:.2f} s)')"; }
echo "COPY inc_t TO STDOUT $(rate "$copy")"
# The initial snapshot, 4 threads, from 'snapshot starting' until Kafka has every row.
CONNECTOR_EXTRA="\"snapshot.max.threads\": \"4\"${CONNECTOR_EXTRA:+, $CONNECTOR_EXTRA}" \
  connector incinit trib_incinit_slot inc_pub initial
"$PY" "$CONSUME" count --bootstrap "$BOOTSTRAP" --topic incinit.public.inc_t --expect "$SNAPSHOT_ROWS" \
  > "$work/incinit.count" &
counter=$!
start_daemon incinit
wait "$counter" || fail "the initial snapshot did not reach Kafka"
t_done=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['reached_at'])" "$work/incinit.count")
initial=$(calc "$t_done-$(log_time "$DAEMON_LOG" "snapshot starting")")
stop_daemon
echo "initial snapshot, 4 threads: $(rate "$initial")"
for threads in 1 4; do
  CONNECTOR_EXTRA="\"snapshot.max.threads\": \"$threads\", \"signal.data.collection\": \"public.trib_signal\"${CONNECTOR_EXTRA:+, $CONNECTOR_EXTRA}" \
    connector "inc$threads" "trib_inc${threads}_slot" inc_pub
  start_daemon "inc$threads"
  wait_log "streaming started"
  "$PY" "$CONSUME" count --bootstrap "$BOOTSTRAP" --topic "inc$threads.public.inc_t" --expect "$SNAPSHOT_ROWS" \
    > "$work/inc$threads.count" &
  counter=$!
  t0=$(now)
  "${PSQL[@]}" -c "INSERT INTO trib_signal VALUES ('bench-$threads', 'execute-snapshot', '{\"data-collections\": [\"public.inc_t\"]}')"
  wait "$counter" || fail "the incremental snapshot did not reach Kafka"
  t_done=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['reached_at'])" "$work/inc$threads.count")
  stop_daemon
  took=$(calc "$t_done-$t0")
  declare "inc_$threads=$took"
  echo "incremental snapshot, $threads thread(s): $(rate "$took"); incremental/initial $(calc "round($initial/$took, 2)"), incremental/COPY $(calc "round($copy/$took, 2)")"
done
if [ "$DEBEZIUM" = 1 ]; then
  "${PSQL[@]}" -c "SELECT pg_create_logical_replication_slot('dbz_inc_slot', 'pgoutput')" >/dev/null
  DBZ_EXTRA="signal.data.collection=public.dbz_signal" start_connect dbzinc dbz_inc_slot dbz_inc_pub
  connect_log_time "Starting streaming" >/dev/null
  sleep 2
  t0=$(now)
  "${PSQL[@]}" -c "INSERT INTO dbz_signal VALUES ('bench-dbz', 'execute-snapshot', '{\"data-collections\": [\"public.inc_t\"], \"type\": \"incremental\"}')"
  t2=$("$PY" "$CONSUME" wait-count --bootstrap "$BOOTSTRAP" --topic dbzinc.public.inc_t --expect "$SNAPSHOT_ROWS") \
    || { tail -30 "$CONNECT_LOG" >&2; fail "Debezium did not publish the incremental snapshot"; }
  stop_connect
  dbz=$(calc "$t2-$t0")
  echo "     Debezium 3.6 incremental snapshot: $(rate "$dbz"); Tributary 1 thread/Debezium $(calc "round($dbz/$inc_1, 2)"), 4 threads/Debezium $(calc "round($dbz/$inc_4, 2)")"
fi
fi

########################################################################################
if phase latency; then
echo "== latency: $RATE transactions/s of 5 rows for $DURATION s (first $WARMUP s left out)"
"${PSQL[@]}" <<SQL
CREATE TABLE lat_t (id bigserial PRIMARY KEY, a int NOT NULL, b text NOT NULL, c timestamptz NOT NULL);
CREATE PUBLICATION lat_pub FOR TABLE lat_t;
SQL
cat > "$work/lat.sql" <<'SQL'
INSERT INTO lat_t (a, b, c) SELECT g, repeat(md5(random()::text), 5), now() FROM generate_series(1, 5) g;
SQL
# measure_latency LABEL TOPIC REGISTRY PID DONE: the load and the consumer for the process
# PID publishing TOPIC; DONE is a command that returns once all written rows are in Kafka.
# Prints the figures and sets LAT_P50 and LAT_P99.
measure_latency() {
  local label=$1 topic=$2 registry=$3 pid=$4 done_cmd=$5
  rm -f "$work/lat.stop"
  "$PY" "$CONSUME" latency --bootstrap "$BOOTSTRAP" --registry "$registry" --topic "$topic" \
    --stop "$work/lat.stop" --out "$work/lat.samples" --fetch-wait-ms "$FETCH_WAIT_MS" > "$work/lat.json" &
  local consumer=$!
  pids+=("$consumer")
  sleep 2
  local cpu0 broker_cpu0 t_load t_end cpu broker_cpu
  cpu0=$(cpu_s "$pid"); broker_cpu0=$(cpu_s "$BROKER_PID")
  t_load=$(now)
  PGOPTIONS="-c synchronous_commit=$LOAD_SYNC_COMMIT" pgbench -n -h 127.0.0.1 -p "$port" -U postgres \
    -f "$work/lat.sql" -R "$RATE" -T "$DURATION" -c "$CLIENTS" -j "$(( CLIENTS < 2 ? CLIENTS : 2 ))" postgres \
    > "$work/pgbench.out" 2>&1 || { cat "$work/pgbench.out" >&2; fail pgbench; }
  t_end=$(now)
  cpu=$(calc "$(cpu_s "$pid")-$cpu0"); broker_cpu=$(calc "$(cpu_s "$BROKER_PID")-$broker_cpu0")
  local tx tps lag
  tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$work/pgbench.out")
  tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$work/pgbench.out" | head -1)
  lag=$(sed -n 's/^rate limit schedule lag: avg \([0-9.]*\) .*/\1/p' "$work/pgbench.out")
  LAT_TOTAL=$(( LAT_TOTAL + tx * 5 ))
  $done_cmd
  calc "int(($t_load+$WARMUP)*1e6), int($t_end*1e6)" | tr -d '(),' > "$work/lat.stop"
  wait "$consumer" || fail "the latency consumer failed"
  [ -z "${SAMPLES_OUT:-}" ] || cp "$work/lat.samples" "$SAMPLES_OUT.$label"
  python3 - "$(cat "$work/lat.json")" "$tx" "$tps" "$lag" "$DURATION" "$cpu" "$broker_cpu" "$label" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
tx, tps, lag, dur, dcpu, bcpu = int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], float(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7])
label = sys.argv[8]
print(f"{label}: pgbench {tx} transactions, {tps:,.0f} tx/s ({tps*5:,.0f} rows/s), schedule lag avg {lag} ms;"
      f" cpu: {label} {dcpu/dur*100:.0f}% of a core, broker {bcpu/dur*100:.0f}%")
print(f"  consumer (read_committed): {r['events']} events, {r['window_events']} in the window")
print(f"  commit-to-visible latency: p50 {r['p50_ms']:.1f} ms   p99 {r['p99_ms']:.1f} ms   "
      f"p99.9 {r['p999_ms']:.1f} ms   max {r['max_ms']:.1f} ms   mean {r['mean_ms']:.1f} ms")
print(f"  of which commit -> handed to the producer: p50 {r['produced_p50_ms']:.0f} ms   p99 {r['produced_p99_ms']:.0f} ms;"
      f" {r['kafka_transactions']} Kafka transactions, {r['stalls_90ms']} pauses >= 90 ms between two")
PY
  LAT_P50=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['p50_ms'])" "$work/lat.json")
  LAT_P99=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['p99_ms'])" "$work/lat.json")
  local seen
  seen=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['events'])" "$work/lat.json")
  [ "$seen" -eq "$LAT_TOTAL" ] || fail "the consumer saw $seen events of $topic, $LAT_TOTAL were written"
}

"${PSQL[@]}" -c "SELECT pg_create_logical_replication_slot('lat_slot', 'pgoutput'), pg_create_logical_replication_slot('dbz_lat_slot', 'pgoutput')" >/dev/null
connector lat lat_slot lat_pub
start_daemon lat
wait_log "streaming started"
# One row first: the topic exists and the schemas are registered before the clock runs.
"${PSQL[@]}" -c "INSERT INTO lat_t (a, b, c) VALUES (0, 'warm-up', now())"
wait_flush lat_slot "$(end_lsn)" 60 "$DAEMON_PID" >/dev/null
trib_done() { wait_flush lat_slot "$(end_lsn)" 120 "$DAEMON_PID" >/dev/null; }
LAT_TOTAL=1
measure_latency tributary lat.public.lat_t "$REGISTRY" "$DAEMON_PID" trib_done
stop_daemon
trib_p50=$LAT_P50; trib_p99=$LAT_P99

if [ "$DEBEZIUM" = 1 ]; then
  # Debezium's slot was made before the Tributary load: it streams that backlog first.
  start_connect dbzlat dbz_lat_slot lat_pub
  connect_log_time "Starting streaming" >/dev/null
  dbz_done() {
    "$PY" "$CONSUME" wait-count --bootstrap "$BOOTSTRAP" --topic dbzlat.public.lat_t --expect "$LAT_TOTAL" --timeout 120 >/dev/null
  }
  dbz_done
  measure_latency debezium dbzlat.public.lat_t "$DBZ_REGISTRY" "$CONNECT_PID" dbz_done
  stop_connect
  python3 - "$trib_p50" "$trib_p99" "$LAT_P50" "$LAT_P99" <<'PY'
import sys
tp50, tp99, dp50, dp99 = map(float, sys.argv[1:])
print(f"commit-to-visible, Debezium/Tributary: p50 {dp50/tp50:.1f}x   p99 {dp99/tp99:.1f}x")
PY
fi

fi

########################################################################################
if phase memory; then
echo "== memory: one transaction of $BIG_ROWS rows"
"${PSQL[@]}" <<SQL
CREATE TABLE big_t (id bigint PRIMARY KEY, a int NOT NULL, b text NOT NULL, c timestamptz NOT NULL);
CREATE PUBLICATION big_pub FOR TABLE big_t;
SQL
"${PSQL[@]}" -c "SELECT pg_create_logical_replication_slot('big_slot', 'pgoutput')" >/dev/null
connector big big_slot big_pub
start_daemon big
wait_log "streaming started"
rss0=$(awk '/VmRSS/ {print $2}' "/proc/$DAEMON_PID/status")
t0=$(now)
"${PSQL[@]}" -c "INSERT INTO big_t SELECT g, g % 1000, repeat(md5(g::text), 5), now() FROM generate_series(1, $BIG_ROWS) g"
t1=$(now)
t2=$(wait_flush big_slot "$(end_lsn)" 900 "$DAEMON_PID")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$DAEMON_PID/status")
stop_daemon
count_topic big.public.big_t "$BIG_ROWS"
python3 - "$BIG_ROWS" "$t0" "$t1" "$t2" "$rss0" "$hwm" <<'PY'
import sys
rows, t0, t1, t2, rss0, hwm = int(sys.argv[1]), *map(float, sys.argv[2:])
print(f"INSERT took {t1-t0:.1f} s; in Kafka (committed) {t2-t1:.1f} s after the Postgres commit"
      f" ({rows/(t2-t0):,.0f} rows/s from the start of the INSERT); topic read back: {rows} records")
print(f"daemon RSS: {rss0/1024:.0f} MB before, peak (VmHWM) {hwm/1024:.0f} MB")
PY
kafka_txns
fi
