"""Confluent's Python client against a registry with basic auth in read-only mode.

Usage: registry_auth.py URL USER PASSWORD SUBJECT

The registry already holds SUBJECT (registered by the daemon). Exits 0 when:
- with `basic.auth.user.info` the client reads the subject, its latest version and the
  schema by id;
- without credentials, and with a wrong password, every call is refused with HTTP 401;
- with credentials, registering and deleting are refused (read-only mode: 42205).
Otherwise prints what differed to stderr and exits 1.
"""

import json
import sys

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

url, user, password, subject = sys.argv[1:5]
failures = []


def check(ok, message):
    if not ok:
        failures.append(message)
        print("MISMATCH: " + message, file=sys.stderr)


authed = SchemaRegistryClient({"url": url, "basic.auth.user.info": f"{user}:{password}"})
subjects = authed.get_subjects()
check(subject in subjects, f"{subject} not among {subjects}")
latest = authed.get_latest_version(subject)
check(latest.version >= 1, f"latest version {latest.version}")
schema = authed.get_schema(latest.schema_id)
check(json.loads(schema.schema_str)["type"] == "record", "schema by id is not a record")

for name, conf in [
    ("no credentials", {"url": url}),
    ("a wrong password", {"url": url, "basic.auth.user.info": f"{user}:wrong-{password}"}),
]:
    client = SchemaRegistryClient(conf)
    for call, fn in [
        ("get_subjects", lambda: client.get_subjects()),
        ("get_schema", lambda: client.get_schema(latest.schema_id)),
    ]:
        try:
            fn()
            check(False, f"{call} with {name} was answered")
        except SchemaRegistryError as e:
            check(e.http_status_code == 401, f"{call} with {name}: HTTP {e.http_status_code}, not 401")

new = Schema(json.dumps({"type": "record", "name": "Other", "fields": [{"name": "id", "type": "int"}]}), "AVRO")
for call, fn in [
    ("register_schema", lambda: authed.register_schema("py.readonly-value", new)),
    ("delete_subject", lambda: authed.delete_subject(subject)),
]:
    try:
        fn()
        check(False, f"{call} was allowed in read-only mode")
    except SchemaRegistryError as e:
        check(e.error_code == 42205, f"{call}: error {e.error_code} (HTTP {e.http_status_code}), not 42205")

check(subject in authed.get_subjects(), "the subject survived the refused delete")
if failures:
    sys.exit(1)
print(f"ok: read {subject} v{latest.version} with credentials; refused without; writes refused")
