#!/usr/bin/env bash
# Capture benchmark: Tributary against Postgres' own tools on the same data, same run.
#
#   streaming: a backlog of ROWS rows (~200 bytes each, in transactions of TX_ROWS rows)
#              drained by pg_recvlogical (pgoutput, proto 1) to /dev/null, and by
#              `tributary capture` (pgoutput, proto 1) printing JSON lines into `wc -l`
#              (which checks every row arrived), each from its own slot created at the
#              same LSN before the backlog was written.
#   snapshot:  psql `COPY big TO STDOUT` into `wc -l` vs `tributary capture` with
#              snapshot.mode=initial_only (1 and 2 threads) into `wc -l`.
#
# Usage: bench/capture.sh [ROWS] [SNAPSHOT_ROWS]    (defaults 1000000 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}
SNAP_ROWS=${2:-1000000}
TX_ROWS=${TX_ROWS:-100}
REPEAT=${REPEAT:-3}   # streaming drains per tool, alternating; the median is reported

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$PGBIN" ] || PGBIN=$(dirname "$(command -v initdb)")
cargo build --release --quiet
TRIB=$PWD/target/release/tributary

source "$PWD/bench/lib.sh"
rate() { python3 -c "print(f'{$1/($3-$2):,.0f}')"; }

connector() { # name slot mode threads
  cat > "$work/$1.json" <<JSON
{"name": "$1", "config": {
  "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
  "database.hostname": "127.0.0.1", "database.port": "$port", "database.user": "postgres",
  "database.dbname": "postgres", "database.sslmode": "disable", "topic.prefix": "cdc",
  "slot.name": "$2", "publication.name": "bench_pub", "publication.autocreate.mode": "disabled",
  "snapshot.mode": "$3", "snapshot.max.threads": "$4", "replication.streaming": "false",
  "status.update.interval.ms": "100"}}
JSON
}

echo "== streaming: $ROWS rows in transactions of $TX_ROWS"
"${PSQL[@]}" <<SQL
CREATE TABLE stream_t (id bigint PRIMARY KEY, a int NOT NULL, b text NOT NULL, c timestamptz NOT NULL);
CREATE TABLE big (id bigint PRIMARY KEY, a int NOT NULL, b text NOT NULL, c timestamptz NOT NULL);
CREATE PUBLICATION bench_pub FOR TABLE stream_t, big;
SQL
for i in $(seq "$REPEAT"); do
  "${PSQL[@]}" -c "SELECT pg_create_logical_replication_slot('recv_slot_$i', 'pgoutput'), pg_create_logical_replication_slot('trib_slot_$i', 'pgoutput')" >/dev/null
done
python3 - "$ROWS" "$TX_ROWS" > "$work/load.sql" <<'PY'
import sys
rows, per = int(sys.argv[1]), int(sys.argv[2])
for start in range(1, rows + 1, per):
    end = min(start + per - 1, rows)
    print(f"INSERT INTO stream_t SELECT g, g % 1000, repeat(md5(g::text), 5), now() FROM generate_series({start}, {end}) g;")
PY
"${PSQL[@]}" -f "$work/load.sql"
END_LSN=$("${PSQL[@]}" -tA -c "SELECT pg_current_wal_lsn()")
echo "backlog ends at $END_LSN"

recv_times=(); trib_times=()
for i in $(seq "$REPEAT"); do
  t0=$(now)
  pg_recvlogical -h 127.0.0.1 -p "$port" -U postgres -d postgres --slot "recv_slot_$i" --start \
    -o proto_version=1 -o publication_names=bench_pub --endpos "$END_LSN" -f /dev/null
  t1=$(now)
  connector stream "trib_slot_$i" no_data 1
  rm -f "$work/stream.offsets"
  "$TRIB" --log-level warn capture --connector "$work/stream.json" --offset-file "$work/stream.offsets" \
    --stop-at "$END_LSN" | wc -l > "$work/stream.count"
  t2=$(now)
  [ "$(cat "$work/stream.count")" -eq "$ROWS" ] || { echo "tributary printed $(cat "$work/stream.count") records, expected $ROWS" >&2; exit 1; }
  recv_times+=("$(python3 -c "print($t1-$t0)")"); trib_times+=("$(python3 -c "print($t2-$t1)")")
  echo "run $i: pg_recvlogical $(rate "$ROWS" "$t0" "$t1") rows/s, tributary capture $(rate "$ROWS" "$t1" "$t2") rows/s"
done
python3 - "$ROWS" "${recv_times[*]}" "${trib_times[*]}" <<'PY'
import statistics, sys
rows = int(sys.argv[1])
recv = statistics.median(map(float, sys.argv[2].split()))
trib = statistics.median(map(float, sys.argv[3].split()))
print(f"median: pg_recvlogical {rows/recv:,.0f} rows/s   tributary capture {rows/trib:,.0f} rows/s   ratio: {recv/trib:.2f}")
PY

echo "== snapshot: $SNAP_ROWS rows"
"${PSQL[@]}" -c "INSERT INTO big SELECT g, g % 1000, repeat(md5(g::text), 5), now() FROM generate_series(1, $SNAP_ROWS) g"
"${PSQL[@]}" -c "VACUUM ANALYZE big"
"${PSQL[@]}" -c "ALTER PUBLICATION bench_pub SET TABLE big"
t0=$(now)
"${PSQL[@]}" -c "COPY big TO STDOUT" | wc -l > /dev/null
t1=$(now)
copy_rate=$(rate "$SNAP_ROWS" "$t0" "$t1")
echo "COPY TO STDOUT: $copy_rate rows/s"
for output in json none; do
  for threads in 1 2; do
    connector "snap$threads" "snap${threads}_slot" initial_only "$threads"
    rm -f "$work/snap$threads.offsets"
    t0=$(now)
    "$TRIB" --log-level warn capture --connector "$work/snap$threads.json" --offset-file "$work/snap$threads.offsets" \
      --output "$output" | wc -l > "$work/snap.count"
    t1=$(now)
    if [ "$output" = json ] && [ "$(cat "$work/snap.count")" -ne "$SNAP_ROWS" ]; then
      echo "snapshot printed $(cat "$work/snap.count") records" >&2; exit 1
    fi
    "${PSQL[@]}" -c "SELECT pg_drop_replication_slot('snap${threads}_slot')" >/dev/null
    snap_rate=$(rate "$SNAP_ROWS" "$t0" "$t1")
    sratio=$(python3 -c "print(f'{$SNAP_ROWS/($t1-$t0)/float(\"$copy_rate\".replace(\",\",\"\")):.2f}')")
    echo "tributary snapshot (--output $output, $threads thread(s)): $snap_rate rows/s   ratio to COPY: $sratio"
  done
done
