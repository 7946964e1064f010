#!/usr/bin/env bash
# Capture demo on embedded defaults: a throwaway Postgres (wal_level=logical) in a temp
# dir, a sample table, `tributary capture` snapshotting it and streaming a few changes.
# Prints the change events, then cleans everything up. Needs only Postgres binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "building tributary (release)..."
cargo build --release --quiet
TRIB=$PWD/target/release/tributary
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$PGBIN" ] || PGBIN=$(dirname "$(command -v initdb)")

work=$(mktemp -d /tmp/tributary-demo.XXXXXX)
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres "$work"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cap_pid=""
cleanup() {
  [ -n "$cap_pid" ] && kill -INT "$cap_pid" 2>/dev/null && wait "$cap_pid" 2>/dev/null || true
  as_pg "$PGBIN/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "starting a throwaway Postgres on port $port..."
as_pg "$PGBIN/initdb" -D "$work/data" -A trust -U postgres --no-sync >/dev/null
cat >> "$work/data/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$work'
wal_level = logical
CONF
as_pg "$PGBIN/pg_ctl" -D "$work/data" -l "$work/pg.log" -w start >/dev/null
PSQL=(psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1)
"${PSQL[@]}" <<'SQL'
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text, balance numeric(10,2), joined timestamptz DEFAULT now());
INSERT INTO customers (id, name, email, balance) VALUES
  (1, 'Ada Lovelace', 'ada@example.com', 120.50),
  (2, 'Grace Hopper', 'grace@example.com', 99.99),
  (3, 'Edsger Dijkstra', NULL, 0);
SQL

cat > "$work/demo.json" <<JSON
{"name": "demo", "config": {
  "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
  "database.hostname": "127.0.0.1", "database.port": "$port",
  "database.user": "postgres", "database.password": "", "database.dbname": "postgres",
  "database.sslmode": "disable", "topic.prefix": "cdc", "slot.name": "demo",
  "publication.name": "demo", "snapshot.max.threads": "2"}}
JSON
echo "connector config:"; cat "$work/demo.json"; echo
"$TRIB" --log-level warn capture --connector "$work/demo.json" --offset-file "$work/demo.offsets.json" \
  > "$work/events.jsonl" &
cap_pid=$!

wait_lines() { # wait until the events file has $1 lines (30 s at most)
  for _ in $(seq 300); do
    [ "$(wc -l < "$work/events.jsonl")" -ge "$1" ] && return 0
    sleep 0.1
  done
  echo "timed out waiting for events" >&2; return 1
}
wait_lines 3
"${PSQL[@]}" <<'SQL'
INSERT INTO customers (id, name, email, balance) VALUES (4, 'Barbara Liskov', 'barbara@example.com', 42);
UPDATE customers SET balance = balance + 10 WHERE id = 1;
DELETE FROM customers WHERE id = 3;
SQL
wait_lines 7
kill -INT "$cap_pid"; wait "$cap_pid"; cap_pid=""

echo "captured $(wc -l < "$work/events.jsonl") records (snapshot, then stream):"
python3 - "$work/events.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    v = r["value"]
    if v is None:
        print(f"  {r['topic']:<22} key={json.dumps(r['key'])}  tombstone")
        continue
    row = v["after"] if v["after"] is not None else v["before"]
    print(f"  {r['topic']:<22} op={v['op']} snapshot={v['source']['snapshot']:<5} key={json.dumps(r['key'])} row={json.dumps(row)}")
PY
echo
echo "one record in full (Kafka Connect JsonConverter, schemas disabled; Debezium envelope):"
sed -n 5p "$work/events.jsonl" | python3 -m json.tool
echo "offset stored for the next run:"; cat "$work/demo.offsets.json"; echo
