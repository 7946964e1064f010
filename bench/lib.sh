# Shared by the benchmarks (sourced, not run): a throwaway Postgres cluster with
# wal_level=logical on a free port ($port, $PSQL), and `start_broker` for Apache Kafka
# ($BOOTSTRAP: a one-node KRaft broker of the bench's own unless KAFKA_BOOTSTRAP is set). Expects
# $PGBIN; cleans up (processes in $pids, the cluster, the work dir) on exit.
# shellcheck shell=bash
work=$(mktemp -d /tmp/tributary-bench.XXXXXX)
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres "$work"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  as_pg "$PGBIN/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
  if [ -n "${KEEP:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
fail() { echo "FAILED: $*" >&2; exit 1; }

port=$(free_port)
as_pg "$PGBIN/initdb" -D "$work/data" -A trust -U postgres --no-sync >/dev/null
cat >> "$work/data/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$work'
wal_level = logical
max_replication_slots = 16
max_wal_senders = 16
shared_buffers = '256MB'
max_wal_size = '4GB'
fsync = off
synchronous_commit = off
CONF
as_pg "$PGBIN/pg_ctl" -D "$work/data" -l "$work/pg.log" -w start >/dev/null
PSQL=(psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1)

# Starts the broker ($BOOTSTRAP, $BROKER_PID; empty when KAFKA_BOOTSTRAP names one):
# Apache Kafka 4.4, one KRaft node (scripts/kafka.sh), its data and log in $work/kafka.
start_broker() {
  if [ -n "${KAFKA_BOOTSTRAP:-}" ]; then
    BOOTSTRAP=$KAFKA_BOOTSTRAP
    BROKER_PID=
    echo "broker: $BOOTSTRAP (KAFKA_BOOTSTRAP; its CPU is not measured, shown as 0)"
  else
    local here kport
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    "$here/scripts/kafka.sh" fetch >/dev/null || fail "could not fetch Apache Kafka (see above)"
    kport=$(free_port)
    BOOTSTRAP=127.0.0.1:$kport
    KAFKA_HEAP=${KAFKA_HEAP:-1g} "$here/scripts/kafka.sh" run "$work/kafka" "$kport" "$(free_port)" \
      >"$work/kafka.out" 2>&1 &
    BROKER_PID=$!
    pids+=("$BROKER_PID")
    for _ in $(seq 1200); do
      (exec 3<>"/dev/tcp/127.0.0.1/$kport") 2>/dev/null && break
      sleep 0.05
    done
    (exec 3<>"/dev/tcp/127.0.0.1/$kport") 2>/dev/null || fail "Kafka did not listen on $kport: $(tail -5 "$work/kafka.out")"
    echo "broker: Apache Kafka 4.4 (one KRaft node) on $BOOTSTRAP"
  fi
}

now() { date +%s.%N; }
