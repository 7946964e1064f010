"""Helpers of bench/sink.sh.

  rate    --bootstrap B --topic T --expect N
          Reads the topic from the beginning (read_committed, no decoding) until N records
          arrived; prints JSON {records, seconds, per_second}, timed from the first record.

  probe   --dsn DSN --api URL --index NAME --rate R --duration S --out FILE
          [--bootstrap B --topic T]
          Inserts R probe rows per second (each its own transaction, synchronous_commit=on)
          and, for each, polls GET /indexes/NAME/search?q=<its unique token> every 10 ms
          until the row is found. Latency = found - COMMIT returned. Prints JSON with
          p50/p90/p99/max in ms; samples (ms) go to FILE. With --bootstrap and --topic, a
          read_committed consumer also watches the topic for each probe's key, and the
          JSON adds "in_kafka": the same percentiles of COMMIT returned -> record visible
          to a read_committed consumer (the source's share of the latency).
"""

import argparse
import json
import sys
import threading
import time
import urllib.request

def rate(args):
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": args.bootstrap, "group.id": "bench-rate",
                  "enable.auto.commit": False, "isolation.level": "read_committed",
                  "fetch.max.bytes": 52428800, "enable.partition.eof": False,
                  "fetch.wait.max.ms": 10})
    deadline = time.time() + 120
    while True:  # the topic appears with the source's first records
        t = c.list_topics(args.topic, timeout=10).topics.get(args.topic)
        if t is not None and t.error is None and t.partitions:
            break
        if time.time() > deadline:
            sys.exit(f"topic {args.topic} did not appear")
        time.sleep(0.2)
    c.assign([TopicPartition(args.topic, p, 0) for p in t.partitions])
    n, first = 0, None
    deadline = time.time() + 600
    while n < args.expect and time.time() < deadline:
        msgs = c.consume(num_messages=10000, timeout=0.5)
        for m in msgs:
            if m.error() is None:
                if first is None:
                    first = time.time()
                n += 1
    secs = time.time() - (first or time.time())
    c.close()
    print(json.dumps({"records": n, "seconds": round(secs, 3),
                      "per_second": round(n / secs) if secs > 0 else 0}))


def zigzag(n):
    """The Avro encoding of a long: the key of a table keyed by one bigint, after the
    5-byte Confluent header."""
    z, out = (n << 1) ^ (n >> 63), bytearray()
    while True:
        b, z = z & 0x7F, z >> 7
        if not z:
            out.append(b)
            return bytes(out)
        out.append(b | 0x80)


def watch_keys(bootstrap, topic, seen, stop):
    """Records when each key first becomes visible to a read_committed consumer."""
    from confluent_kafka import OFFSET_END, Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-probe-watch",
                  "enable.auto.commit": False, "isolation.level": "read_committed",
                  "fetch.wait.max.ms": 5, "enable.partition.eof": False})
    parts = c.list_topics(topic, timeout=10).topics[topic].partitions
    c.assign([TopicPartition(topic, p, OFFSET_END) for p in parts])
    while not stop.is_set():
        m = c.poll(0.05)  # returns as soon as a record is there (consume() would wait for a batch)
        if m is not None and m.error() is None and m.key() is not None:
            seen.setdefault(m.key()[5:], time.time())
    c.close()


def percentiles(samples):
    s = sorted(samples)
    pick = lambda q: round(s[min(len(s) - 1, int(q * len(s)))], 1)
    return {"probes": len(s), "p50_ms": pick(0.5), "p90_ms": pick(0.9),
            "p99_ms": pick(0.99), "max_ms": round(s[-1], 1)}


def probe(args):
    import psycopg
    url = args.api.rstrip("/") + f"/indexes/{args.index}/search?limit=1&q="
    samples, lock = [], threading.Lock()
    seen, committed_at, stop = {}, {}, threading.Event()
    watcher = None
    if args.bootstrap and args.topic:
        watcher = threading.Thread(target=watch_keys, args=(args.bootstrap, args.topic, seen, stop))
        watcher.start()
        time.sleep(2)  # assigned at the end of the topic before the first probe

    def wait_found(token, committed):
        deadline = committed + 30
        while time.time() < deadline:
            with urllib.request.urlopen(url + token) as r:
                if json.load(r)["total"] > 0:
                    with lock:
                        samples.append((time.time() - committed) * 1000)
                    return
            time.sleep(0.01)
        with lock:
            samples.append(float("inf"))

    conn = psycopg.connect(args.dsn, autocommit=True)
    # As applications commit; with off, decoding waits for the WAL writer (up to 200 ms).
    conn.execute("SET synchronous_commit = on")
    threads = []
    start = time.time()
    i = 0
    while time.time() - start < args.duration:
        due = start + i / args.rate
        if due > time.time():
            time.sleep(due - time.time())
        token = f"probe{args.base + i}"
        conn.execute("INSERT INTO items (id, name, body, price, qty) VALUES (%s, %s, 'probe', 1, 1)",
                     (args.base + i, token))
        committed = time.time()
        committed_at[zigzag(args.base + i)] = committed
        t = threading.Thread(target=wait_found, args=(token, committed))
        t.start()
        threads.append(t)
        i += 1
    for t in threads:
        t.join()
    with open(args.out, "w") as f:
        f.write("\n".join(f"{x:.2f}" for x in sorted(samples)))
    result = percentiles(samples)
    if watcher is not None:
        stop.set()
        watcher.join()
        kafka = [(seen.get(k, float("inf")) - t) * 1000 for k, t in committed_at.items()]
        result["in_kafka"] = percentiles(kafka)
    print(json.dumps(result))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("rate")
    r.add_argument("--bootstrap", required=True)
    r.add_argument("--topic", required=True)
    r.add_argument("--expect", type=int, required=True)
    q = sub.add_parser("probe")
    q.add_argument("--dsn", required=True)
    q.add_argument("--api", required=True)
    q.add_argument("--index", required=True)
    q.add_argument("--rate", type=float, default=20)
    q.add_argument("--duration", type=float, default=30)
    q.add_argument("--base", type=int, default=10_000_000)
    q.add_argument("--out", required=True)
    q.add_argument("--bootstrap")
    q.add_argument("--topic")
    args = p.parse_args()
    {"rate": rate, "probe": probe}[args.cmd](args)


if __name__ == "__main__":
    main()
