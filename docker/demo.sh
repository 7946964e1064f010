#!/bin/sh
# The docker-compose demo: run by the `demo` service once Tributary is healthy.
set -eu
API=http://tributary:8083
post() { curl -sS --fail-with-body -X POST -H 'Content-Type: application/json' -d "$1" "$API/connectors"; echo; }

echo "==> Postgres source"
post '{"name": "shop", "config": {
  "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
  "database.hostname": "postgres", "database.port": "5432", "database.user": "postgres",
  "database.password": "postgres", "database.dbname": "postgres", "topic.prefix": "cdc",
  "table.include.list": "public.products"}}'
echo "==> search job into OpenSearch"
post '{"name": "opensearch", "config": {
  "connector.class": "io.tributary.sink.SearchSinkConnector", "topics.regex": "cdc\\.public\\..*",
  "search.backend": "opensearch", "connection.url": "http://opensearch:9200"}}'
echo "==> search job into the embedded index"
post '{"name": "search", "config": {
  "connector.class": "io.tributary.sink.SearchSinkConnector", "topics.regex": "cdc\\.public\\..*"}}'
echo "==> Redis cache job"
post '{"name": "cache", "config": {
  "connector.class": "io.tributary.sink.RedisSinkConnector", "topics.regex": "cdc\\.public\\..*",
  "redis.url": "redis://redis:6379/0"}}'

sleep 10
echo "==> embedded index: q=coffee"
curl -fsS "$API/indexes/public.products/search?q=coffee"; echo
echo "==> OpenSearch: q=coffee"
curl -fsS "http://opensearch:9200/public.products/_search?q=coffee"; echo
echo "==> connectors"
curl -fsS "$API/connectors?expand=status"; echo
echo "Redis: docker compose exec redis redis-cli GET public.products:1"
