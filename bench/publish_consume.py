"""Kafka side of bench/publish.sh: a read_committed consumer (confluent-kafka).

  count   --bootstrap B --topic T --expect N
          Reads the topic from the beginning and prints JSON: how many records it holds
          (the drain's correctness check), how many Kafka transactions they came in, and
          the pauses between consecutive transactions (record CreateTime). Stops once N
          records arrived and nothing more comes within a second, or after --timeout s.

  wait-count --bootstrap B --topic T --expect N
          Prints the epoch at which the topic's end offsets add up to N (for Debezium's
          non-transactional topics: when the drain is complete in Kafka).

  latency --bootstrap B --registry URL --topic T --stop FILE --out FILE
          Reads the topic from the beginning until FILE appears, then drains for a second.
          FILE holds "FROM_US TO_US": the window of commit times (Unix microseconds) that
          counts. Per event: latency = (wall clock when the consumer got the record)
          - (source.ts_us, the Postgres commit timestamp Debezium's envelope carries),
          decoded from the Avro value with the schema fetched once per id from the registry.
          Prints JSON: events seen, events in the window, p50/p99/p999/max in ms, the part
          before the daemon handed the record to librdkafka, and the Kafka transactions.
"""

import argparse
import io
import json
import os
import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaError, TopicPartition


def consumer(bootstrap, extra=None):
    conf = {
        "bootstrap.servers": bootstrap,
        "group.id": f"bench-{uuid.uuid4()}",
        "isolation.level": "read_committed",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
    }
    conf.update(extra or {})
    return Consumer(conf)


def assign_all(c, topic, timeout=30.0):
    deadline = time.time() + timeout
    while True:
        md = c.list_topics(topic, timeout=5)
        t = md.topics.get(topic)
        if t is not None and t.error is None and t.partitions:
            c.assign([TopicPartition(topic, p, 0) for p in t.partitions])
            return len(t.partitions)
        if time.time() > deadline:
            sys.exit(f"topic {topic} did not appear")
        time.sleep(0.2)


def check(msg):
    err = msg.error()
    if err is None:
        return True
    if err.code() == KafkaError._PARTITION_EOF:
        return False
    sys.exit(f"consumer error: {err}")


def count(args):
    c = consumer(args.bootstrap, {"fetch.max.bytes": 52428800})
    assign_all(c, args.topic)
    n = 0
    deadline = time.time() + args.timeout
    idle_since = time.time()
    # Kafka transactions: each commit marker takes an offset, so a gap in the offsets
    # ends a transaction. For each, the CreateTime (ms) of its first and last record.
    txns = []  # [first_ms, last_ms, records]
    last_offset = {}
    reached_at = None
    while time.time() < deadline:
        msgs = c.consume(num_messages=10000, timeout=0.05)
        got = 0
        for m in msgs:
            if not check(m):
                continue
            got += 1
            ts = m.timestamp()[1]
            if last_offset.get(m.partition()) != m.offset() - 1:
                txns.append([ts, ts, 0])
            last_offset[m.partition()] = m.offset()
            txns[-1][1] = ts
            txns[-1][2] += 1
        if got:
            n += got
            idle_since = time.time()
            if reached_at is None and n >= args.expect:
                reached_at = idle_since
        elif n >= args.expect and time.time() - idle_since > 1.0:
            break
    c.close()
    # The pause between the last record of one transaction and the first of the next is
    # (at least) the time the daemon spent committing, when it sends nothing.
    pauses = sorted(b[0] - a[1] for a, b in zip(txns, txns[1:]))
    sizes = sorted(t[2] for t in txns)
    stats = {"records": n, "kafka_transactions": len(txns),
             "records_per_transaction_p50": sizes[len(sizes) // 2] if sizes else 0}
    if pauses:
        stats.update(pause_ms_p50=pauses[len(pauses) // 2],
                     pause_ms_p90=pauses[int(0.9 * len(pauses))], pause_ms_max=pauses[-1],
                     pause_ms_total=sum(pauses))
    if reached_at is not None:
        stats["reached_at"] = reached_at
    print(json.dumps(stats))


def wait_count(args):
    """Polls the topic's end offsets until its partitions hold --expect records in all
    (a non-transactional topic written from offset 0: the end offset is the count) and
    prints the epoch at which they did."""
    c = consumer(args.bootstrap)
    deadline = time.time() + args.timeout
    parts = None
    while time.time() < deadline:
        if parts is None:
            md = c.list_topics(args.topic, timeout=5)
            t = md.topics.get(args.topic)
            if t is not None and t.error is None and t.partitions:
                parts = [TopicPartition(args.topic, p) for p in t.partitions]
        if parts is not None:
            total = sum(c.get_watermark_offsets(tp, timeout=5)[1] for tp in parts)
            if total >= args.expect:
                print(time.time())
                c.close()
                return
        time.sleep(0.05)
    sys.exit(f"topic {args.topic} did not reach {args.expect} records within {args.timeout} s")


def latency(args):
    import fastavro
    from confluent_kafka.schema_registry import SchemaRegistryClient

    registry = SchemaRegistryClient({"url": args.registry})
    schemas = {}
    c = consumer(args.bootstrap, {"fetch.wait.max.ms": args.fetch_wait_ms})
    assign_all(c, args.topic)
    samples = []  # (commit ts_us, latency us, commit -> CreateTime us, offset)
    window = None
    stop_deadline = None
    while True:
        # poll, not consume: consume(n, timeout) waits until n records or the timeout,
        # which would add up to the timeout to every latency.
        m = c.poll(0.1)
        now_us = time.time_ns() // 1000
        msgs = [] if m is None else [m]
        for m in msgs:
            if not check(m):
                continue
            v = m.value()
            if v is None:
                continue
            sid = int.from_bytes(v[1:5], "big")
            if sid not in schemas:
                s = registry.get_schema(sid)
                schemas[sid] = fastavro.parse_schema(json.loads(s.schema_str))
            rec = fastavro.schemaless_reader(io.BytesIO(v[5:]), schemas[sid])
            ts_us = rec["source"]["ts_us"]
            # The record's timestamp (CreateTime: when the daemon handed it to librdkafka)
            # splits the latency into the daemon's part and Kafka's; kept in --out.
            samples.append((ts_us, now_us - ts_us, m.timestamp()[1] * 1000 - ts_us, m.offset()))
        if window is None and os.path.exists(args.stop):
            with open(args.stop) as f:
                text = f.read().split()
            if len(text) == 2:
                window = (int(text[0]), int(text[1]))
                stop_deadline = time.time() + 1.0
        if stop_deadline is not None:
            if msgs:
                stop_deadline = max(stop_deadline, time.time() + 1.0)
            elif time.time() > stop_deadline:
                break
    c.close()
    lo, hi = window
    staged = sorted(s[2] for s in samples if lo <= s[0] <= hi)
    lat = sorted(s[1] for s in samples if lo <= s[0] <= hi)
    if not lat:
        sys.exit("no events in the measurement window")

    def pct(p):
        return lat[min(len(lat) - 1, int(p * len(lat)))] / 1000.0

    # Kafka transactions: a commit marker takes an offset, so consecutive records of one
    # transaction have consecutive offsets. A pause of >= 90 ms between the last record of
    # one and the first of the next (CreateTime) means the daemon sent nothing meanwhile:
    # at this load only a slow Kafka commit does that.
    inwin = sorted((s for s in samples if lo <= s[0] <= hi), key=lambda s: s[3])
    txns, stalls = 1, 0
    for a, b in zip(inwin, inwin[1:]):
        if b[3] != a[3] + 1:
            txns += 1
            if (b[0] + b[2]) - (a[0] + a[2]) >= 90_000:
                stalls += 1
    result = {
        "kafka_transactions": txns,
        "stalls_90ms": stalls,
        "events": len(samples),
        "window_events": len(lat),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "p999_ms": pct(0.999),
        "max_ms": lat[-1] / 1000.0,
        "mean_ms": sum(lat) / len(lat) / 1000.0,
        # commit -> handed to the producer (record CreateTime, ms resolution)
        "produced_p50_ms": staged[len(staged) // 2] / 1000.0,
        "produced_p99_ms": staged[min(len(staged) - 1, int(0.99 * len(staged)))] / 1000.0,
    }
    with open(args.out, "w") as f:
        for s in samples:
            f.write(" ".join(map(str, s)) + "\n")
    print(json.dumps(result))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    pc = sub.add_parser("count")
    pc.add_argument("--bootstrap", required=True)
    pc.add_argument("--topic", required=True)
    pc.add_argument("--expect", type=int, required=True)
    pc.add_argument("--timeout", type=float, default=300)
    pw = sub.add_parser("wait-count")
    pw.add_argument("--bootstrap", required=True)
    pw.add_argument("--topic", required=True)
    pw.add_argument("--expect", type=int, required=True)
    pw.add_argument("--timeout", type=float, default=900)
    pl = sub.add_parser("latency")
    pl.add_argument("--bootstrap", required=True)
    pl.add_argument("--registry", required=True)
    pl.add_argument("--topic", required=True)
    pl.add_argument("--stop", required=True)
    pl.add_argument("--out", required=True)
    pl.add_argument("--fetch-wait-ms", type=int, default=500)
    args = p.parse_args()
    {"count": count, "wait-count": wait_count, "latency": latency}[args.cmd](args)


if __name__ == "__main__":
    main()
