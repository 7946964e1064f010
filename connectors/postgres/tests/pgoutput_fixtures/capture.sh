#!/bin/sh
# Regenerates the pgoutput fixtures from a throwaway PostgreSQL 15 cluster. Run as root
# (the cluster runs as the `postgres` user). Output: one pgoutput message per line, hex
# encoded, in the order pg_logical_slot_peek_binary_changes returned them; `#` lines are
# comments. LSNs, xids and timestamps change on every run, so the tests assert on
# relationships between them, not on their values.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
port=${PORT:-54329}
d=$(mktemp -d)
chown postgres "$d"
cleanup() {
    runuser -u postgres -- pg_ctl -D "$d/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$d"
}
trap cleanup EXIT
runuser -u postgres -- initdb -D "$d/data" -A trust >/dev/null
runuser -u postgres -- pg_ctl -D "$d/data" -w -l "$d/log" \
    -o "-p $port -c wal_level=logical -c unix_socket_directories=$d" start >/dev/null

sql() { runuser -u postgres -- psql -h "$d" -p "$port" -d postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
version=$(sql -c 'SHOW server_version')

# peek FILE WORKLOAD SLOT OPTIONS...: dump every message the slot yields with these options.
peek() {
    file=$1 workload=$2 slot=$3
    shift 3
    opts=$(printf ", '%s'" "$@")
    {
        echo "# PostgreSQL $version, pgoutput via pg_logical_slot_peek_binary_changes('$slot', NULL, NULL$opts)"
        echo "# workload: $workload in this directory, captured by capture.sh"
        sql -c "SET logical_decoding_work_mem = '64kB'" \
            -c "SELECT encode(data, 'hex') FROM pg_logical_slot_peek_binary_changes('$slot', NULL, NULL$opts)"
    } >"$file"
}

sql -f "$here/v1.sql" >/dev/null
peek "$here/v1.hex" v1.sql s proto_version 1 publication_names p messages true
peek "$here/v1_binary.hex" v1.sql s proto_version 1 publication_names p messages true binary true

sql -f "$here/v2_stream.sql" >/dev/null
peek "$here/v2_stream.hex.full" v2_stream.sql s2 proto_version 2 publication_names p messages true streaming on
# Each streamed segment holds ~440 inserts of the same shape; keep the first two and the
# last one of every run of inserts so the fixture stays small.
awk '/^49/ { run++; if (run <= 2) print; else last = $0; next }
     { if (last != "") { print "# ... inserts trimmed by capture.sh ..."; print last; last = "" }
       run = 0; print }' "$here/v2_stream.hex.full" >"$here/v2_stream.hex"
rm "$here/v2_stream.hex.full"
