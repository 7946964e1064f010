"""Drive Tributary's embedded schema registry with confluent-kafka's Python client.

Usage: registry_client.py http://127.0.0.1:PORT

Exits 0 when every answer matches what a Confluent registry would give; otherwise prints
what differed to stderr and exits 1. Run by connectors/avro/tests/registry_python.rs
against a fresh, empty registry.
"""

import json
import sys
import traceback

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

TOPIC = "py.public.orders"
SUBJECT = TOPIC + "-value"


def record(*extra_fields):
    return json.dumps(
        {
            "type": "record",
            "name": "Value",
            "namespace": "py.public.orders",
            "fields": [{"name": "id", "type": "int"}, *extra_fields],
        }
    )


V1 = record()
V2 = record({"name": "note", "type": ["null", "string"], "default": None})
BREAKING = record({"name": "required", "type": "string"})


def fail(message):
    print("MISMATCH: " + message, file=sys.stderr)
    sys.exit(1)


def expect(actual, wanted, what):
    if actual != wanted:
        fail(f"{what}: expected {wanted!r}, got {actual!r}")


def expect_error(call, status, code, what):
    try:
        result = call()
    except SchemaRegistryError as e:
        expect((e.http_status_code, e.error_code), (status, code), what + " (status, error_code)")
        return e
    fail(f"{what}: expected HTTP {status} / {code}, got a success: {result!r}")


def fresh(url):
    """A client with empty caches, so the next call really goes over HTTP."""
    return SchemaRegistryClient({"url": url})


def main(url):
    client = fresh(url)

    expect(client.get_subjects(), [], "subjects of an empty registry")
    id1 = client.register_schema(SUBJECT, Schema(V1, "AVRO"))
    expect(id1, 1, "id of the first schema")
    expect(client.register_schema(SUBJECT, Schema(V1, "AVRO")), id1, "re-registration")

    c = fresh(url)
    expect(c.get_schema(id1).schema_str, V1, "get_schema(id)")
    latest = c.get_latest_version(SUBJECT)
    expect(
        (latest.schema_id, latest.subject, latest.version, latest.schema.schema_str),
        (id1, SUBJECT, 1, V1),
        "get_latest_version",
    )
    looked = fresh(url).lookup_schema(SUBJECT, Schema(V1, "AVRO"))
    expect((looked.schema_id, looked.version, looked.subject), (id1, 1, SUBJECT), "lookup_schema")
    expect_error(
        lambda: fresh(url).lookup_schema(SUBJECT, Schema(V2, "AVRO")), 404, 40403, "lookup of an unregistered schema"
    )
    expect_error(lambda: fresh(url).get_latest_version("nope-value"), 404, 40401, "latest of an unknown subject")
    expect_error(lambda: fresh(url).get_schema(999), 404, 40403, "get_schema of an unknown id")

    expect(c.test_compatibility(SUBJECT, Schema(V2, "AVRO")), True, "test_compatibility, optional field")
    expect(c.test_compatibility(SUBJECT, Schema(BREAKING, "AVRO")), False, "test_compatibility, required field")
    expect(c.get_compatibility(), "BACKWARD", "global compatibility")
    expect_error(lambda: c.get_compatibility(SUBJECT), 404, 40408, "subject compatibility before any is set")
    c.set_compatibility(SUBJECT, "FULL")
    expect(c.get_compatibility(SUBJECT), "FULL", "subject compatibility after set")
    expect(c.get_compatibility(), "BACKWARD", "global compatibility after a subject set")

    e = expect_error(
        lambda: c.register_schema(SUBJECT, Schema(BREAKING, "AVRO")), 409, 409, "incompatible registration"
    )
    if SUBJECT not in str(e.error_message):
        fail(f"the 409 message does not name the subject: {e.error_message!r}")
    expect_error(
        lambda: c.register_schema(SUBJECT, Schema('{"type": "nope"}', "AVRO")), 422, 42201, "invalid schema"
    )

    # The serializer registers (auto.register.schemas) and frames with magic byte + id.
    serializer = AvroSerializer(fresh(url), V2)
    ctx = SerializationContext(TOPIC, MessageField.VALUE)
    payload = {"id": 7, "note": "hello"}
    data = serializer(payload, ctx)
    id2 = int.from_bytes(data[1:5], "big")
    expect(data[0], 0, "magic byte")
    expect(id2, 2, "id of the evolved schema in the frame")
    expect(fresh(url).get_versions(SUBJECT), [1, 2], "versions after the serializer registered")
    expect(fresh(url).get_subjects(), [SUBJECT], "subjects")

    # The deserializer has no schema of its own: it fetches the writer's by id.
    deserializer = AvroDeserializer(fresh(url))
    expect(deserializer(data, ctx), payload, "deserialized value")

    # Data written with v1 read by a deserializer that reads with v2 (the evolution case).
    v1_data = AvroSerializer(fresh(url), V1, conf={"auto.register.schemas": False})({"id": 1}, ctx)
    expect(int.from_bytes(v1_data[1:5], "big"), id1, "v1 frame id via lookup")
    evolved = AvroDeserializer(fresh(url), V2)
    expect(evolved(v1_data, ctx), {"id": 1, "note": None}, "v1 data read with the v2 schema")

    versions = fresh(url).get_schema_versions(id1)
    expect([(v.subject, v.version) for v in versions], [(SUBJECT, 1)], "get_schema_versions")
    expect(fresh(url).delete_version(SUBJECT, 2), 2, "delete_version")
    expect(fresh(url).get_versions(SUBJECT), [1], "versions after a soft delete")
    expect(fresh(url).delete_subject(SUBJECT), [1], "delete_subject")
    expect(fresh(url).delete_subject(SUBJECT, permanent=True), [1, 2], "permanent delete_subject")
    expect(fresh(url).get_subjects(), [], "subjects after the permanent delete")
    print("python client: all checks passed")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    try:
        main(sys.argv[1])
    except SystemExit:
        raise
    except Exception:
        traceback.print_exc()
        fail("unexpected exception (traceback above)")
