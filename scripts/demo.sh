#!/usr/bin/env bash
# The quickstart, on embedded defaults: a throwaway Postgres (wal_level=logical), Apache
# Kafka 4.4 (one KRaft node; or your Kafka when KAFKA_BOOTSTRAP is set) and the
# daemon with its embedded schema registry and search index. It creates a sample table,
# a Postgres source and a search job over REST, makes some changes, and searches the
# embedded index. Everything lives in a temp dir and is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "building tributary (release)"
cargo build --release --quiet --bin tributary
TRIB=$PWD/target/release/tributary
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$PGBIN" ] || PGBIN=$(dirname "$(command -v initdb)")
if [ -z "${KAFKA_BOOTSTRAP:-}" ]; then
  step "fetching Apache Kafka 4.4 from Maven Central (once, into ~/.cache/tributary)"
  scripts/kafka.sh fetch
fi

work=$(mktemp -d /tmp/tributary-demo.XXXXXX)
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres "$work"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pg_port=$(free_port); api_port=$(free_port); reg_port=$(free_port); kafka_port=$(free_port)
API=http://127.0.0.1:$api_port
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  as_pg "$PGBIN/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

step "starting a throwaway Postgres on port $pg_port"
as_pg "$PGBIN/initdb" -D "$work/pg" -A trust -U postgres --no-sync >/dev/null
cat >> "$work/pg/postgresql.conf" <<CONF
port = $pg_port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$work'
wal_level = logical
CONF
as_pg "$PGBIN/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w start >/dev/null
PSQL=(psql -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -v ON_ERROR_STOP=1)
"${PSQL[@]}" <<'SQL'
CREATE TABLE products (id int PRIMARY KEY, name text NOT NULL, description text, price numeric(10,2));
INSERT INTO products VALUES
  (1, 'Espresso machine', 'Stainless steel pump espresso machine with milk frother', 349.00),
  (2, 'French press', 'Glass and steel coffee press for four cups', 29.90),
  (3, 'Burr grinder', 'Conical burr coffee grinder with 40 settings', 129.00),
  (4, 'Tea kettle', 'Gooseneck electric kettle with temperature control', 59.50),
  (5, 'Milk jug', 'Steel milk frothing pitcher', 14.00);
SQL

if [ -n "${KAFKA_BOOTSTRAP:-}" ]; then
  bootstrap=$KAFKA_BOOTSTRAP
  step "using the Kafka at $bootstrap"
else
  bootstrap=127.0.0.1:$kafka_port
  step "starting Apache Kafka (one KRaft node) on $bootstrap"
  scripts/kafka.sh run "$work/kafka" "$kafka_port" "$(free_port)" >"$work/broker.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 600); do (exec 3<>"/dev/tcp/127.0.0.1/$kafka_port") 2>/dev/null && break; sleep 0.1; done
  (exec 3<>"/dev/tcp/127.0.0.1/$kafka_port") 2>/dev/null \
    || { echo "Kafka did not start:"; tail -20 "$work/broker.log" "$work/kafka/server.log"; exit 1; }
fi

step "starting the daemon: API on $API, embedded schema registry and search index"
cat > "$work/tributary.toml" <<TOML
data_dir = "$work/data"
[api]
listen = "127.0.0.1:$api_port"
[kafka]
bootstrap_servers = "$bootstrap"
[schema_registry]
url = ""
listen = "127.0.0.1:$reg_port"
[log]
level = "warn"
TOML
"$TRIB" serve --config "$work/tributary.toml" >"$work/daemon.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fs "$API/health/ready" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "$API/" >/dev/null || { echo "the daemon did not start:"; cat "$work/daemon.log"; exit 1; }

call() { # METHOD PATH [JSON]: prints the response, fails on HTTP errors
  curl -sS --fail-with-body -X "$1" -H 'Content-Type: application/json' ${3:+-d "$3"} "$API$2"
}
step "creating the Postgres source (POST /connectors)"
call POST /connectors "{\"name\": \"shop\", \"config\": {
  \"connector.class\": \"io.debezium.connector.postgresql.PostgresConnector\",
  \"database.hostname\": \"127.0.0.1\", \"database.port\": \"$pg_port\",
  \"database.user\": \"postgres\", \"database.password\": \"\", \"database.dbname\": \"postgres\",
  \"database.sslmode\": \"disable\", \"topic.prefix\": \"cdc\", \"table.include.list\": \"public.products\"}}" \
  | python3 -m json.tool
step "creating the search job (embedded index, one per table)"
call POST /connectors '{"name": "search", "config": {
  "connector.class": "io.tributary.sink.SearchSinkConnector",
  "topics.regex": "cdc\\.public\\..*", "fields.exclude": "price"}}' | python3 -m json.tool

docs() { curl -fs "$API/indexes" | python3 -c 'import json,sys; print(sum(i["docs"] for i in json.load(sys.stdin) if i["name"]=="public.products"))' 2>/dev/null || echo 0; }
wait_docs() { # wait until the index holds $1 documents, showing progress
  for i in $(seq 300); do
    n=$(docs)
    [ $((i % 5)) = 1 ] && printf '\r    waiting for the index: %s of %s documents (%ss) ' "$n" "$1" "$((i / 10))"
    [ "$n" = "$1" ] && { echo; return 0; }
    sleep 0.1
  done
  echo; echo "timed out; daemon log:"; tail -20 "$work/daemon.log"; exit 1
}
step "the snapshot reaches the index"
wait_docs 5

step "changing the table: an insert, an update, a delete"
"${PSQL[@]}" <<'SQL'
INSERT INTO products VALUES (6, 'Coffee beans', 'Single origin whole coffee beans, 1 kg', 24.00);
UPDATE products SET description = 'Dual boiler espresso machine with steam wand' WHERE id = 1;
DELETE FROM products WHERE id = 5;
SQL
total() { curl -fs "$API/indexes/public.products/search?q=$1&limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])' 2>/dev/null || echo 0; }
for i in $(seq 300); do # the insert is searchable and the delete is gone
  printf '\r    waiting for the changes to reach the index (%ss) ' "$((i / 10))"
  [ "$(total beans)" = 1 ] && [ "$(total frothing)" = 0 ] && break
  sleep 0.1
done
echo

search() {
  echo "GET /indexes/public.products/search?q=$1"
  curl -fs "$API/indexes/public.products/search?q=$1&limit=5" | python3 -c '
import json, sys
r = json.load(sys.stdin)
print("    %d found" % r["total"])
for h in r["hits"]:
    d = h["_source"]
    print("    %3s  %5.2f  %s: %s" % (h["_id"], h["_score"], d["name"], d["description"]))'
}
step "searching the embedded index"
search coffee
search steel
search "steam+wand"
search frothing
echo
echo "connectors:"; curl -fs "$API/connectors?expand=status" | python3 -c '
import json, sys
for name, c in json.load(sys.stdin).items():
    s = c["status"]
    print("    %-8s %-6s %s" % (name, s["type"], s["connector"]["state"]))'
