#!/usr/bin/env bash
# A single-node OpenSearch 2.19.6 for the tests and benches, from Maven Central (the test
# framework's server with the netty4 HTTP transport, analysis-common and Painless; no
# distribution is downloaded), started by scripts/opensearch/Launcher.java.
#
#   scripts/opensearch.sh fetch
#       Copies the jars into $TRIBUTARY_CACHE/opensearch-2.19.6-<pom hash> (default ~/.cache/tributary)
#       and compiles the launcher there, once; prints that folder. Safe to run from many
#       processes at once.
#   scripts/opensearch.sh run DIR HTTP_PORT TRANSPORT_PORT [setting=value ...]
#       Runs the node in the foreground with its data in DIR, HTTP on 127.0.0.1:HTTP_PORT
#       (no security). Prints "started HTTP_PORT" once the cluster is yellow; exits when its
#       stdin closes. Extra settings go to the node, e.g. thread_pool.write.queue_size=1.
#       OPENSEARCH_HEAP sets the heap (default 512m).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=2.19.6
cache=${TRIBUTARY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tributary}
# A change to the pom (another module) fetches into a new folder.
libs=$cache/opensearch-$version-$(sha1sum "$here/opensearch/pom.xml" | cut -c1-8)

fetch() {
  [ -f "$libs/.complete" ] && [ "$libs/classes/Launcher.class" -nt "$here/opensearch/Launcher.java" ] && return 0
  command -v mvn >/dev/null || { echo "opensearch.sh: mvn is missing (apt-get install maven)" >&2; return 1; }
  command -v javac >/dev/null || { echo "opensearch.sh: javac is missing (apt-get install openjdk-17-jdk-headless)" >&2; return 1; }
  mkdir -p "$cache"
  exec 9>"$cache/opensearch-$version.lock"
  flock 9
  if [ ! -f "$libs/.complete" ]; then
    rm -rf "$libs.tmp"
    if ! mvn -q -B -f "$here/opensearch/pom.xml" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$libs.tmp" >"$cache/opensearch-fetch.log" 2>&1; then
      echo "opensearch.sh: Maven could not fetch OpenSearch $version:" >&2
      grep -E 'ERROR|Could not' "$cache/opensearch-fetch.log" | head -20 >&2
      return 1
    fi
    rm -rf "$libs"
    mv "$libs.tmp" "$libs"
    touch "$libs/.complete"
  fi
  if [ ! "$libs/classes/Launcher.class" -nt "$here/opensearch/Launcher.java" ]; then
    mkdir -p "$libs/classes"
    javac -nowarn -cp "$libs/*" -d "$libs/classes" "$here/opensearch/Launcher.java"
  fi
  exec 9>&-
}

run() {
  local dir=$1 http=$2 transport=$3
  shift 3
  fetch
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  exec java "-Xms${OPENSEARCH_HEAP:-512m}" "-Xmx${OPENSEARCH_HEAP:-512m}" -XX:+UseG1GC \
    -XX:TieredStopAtLevel=1 -Djava.awt.headless=true -Dlog4j2.disable.jmx=true \
    -Dopensearch.logs.base_path="$dir/logs" \
    -cp "$libs/*:$libs/classes" Launcher "$dir" "$http" "$transport" "$@"
}

case "${1:-}" in
  fetch) fetch && echo "$libs" ;;
  run) shift; [ $# -ge 3 ] || { echo "usage: opensearch.sh run DIR HTTP_PORT TRANSPORT_PORT [setting=value ...]" >&2; exit 2; }; run "$@" ;;
  *) echo "usage: opensearch.sh fetch | run DIR HTTP_PORT TRANSPORT_PORT [setting=value ...]" >&2; exit 2 ;;
esac
