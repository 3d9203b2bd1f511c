#!/usr/bin/env python3
"""Read Tidewater topics the way a data team would: confluent-kafka for
Kafka, fastavro for Avro. Schemas come from <prefix>.schemas, keyed by the
CRC-64-AVRO fingerprint that each message's single-object header names.

Prints one JSON object per message of TOPIC, in partition/offset order:
  {"partition": 0, "offset": 3, "headers": {...}, "key": {...} | null,
   "value": {...} | null}
Decimals become strings (exact), bytes become hex, dates/timestamps stay the
Avro integers (days, microseconds) so that tests compare exactly.

usage: tw_consume.py BOOTSTRAP PREFIX TOPIC [--timeout S] [--config FILE]

--config FILE: more librdkafka client properties, `name=value` lines (`#`
comments), e.g. security.protocol and sasl.password for a SASL_SSL listener;
a file, so that no password is on the command line.
"""
import argparse
import io
import json
import struct
import sys
import uuid
from decimal import Decimal

import fastavro
from confluent_kafka import Consumer, KafkaError, TopicPartition


def client_config(path):
    """name=value lines of a properties file, as a dict."""
    conf = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if "=" not in line:
                raise SystemExit(f"{path}:{n}: expected name=value")
            name, value = line.split("=", 1)
            conf[name.strip()] = value.strip()
    return conf


def read_all(bootstrap, topic, timeout, extra=None):
    """Every message of topic from the beginning to the current end."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"tw-test-{uuid.uuid4()}",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "enable.partition.eof": True, **(extra or {})})
    md = c.list_topics(topic, timeout=timeout)
    if topic not in md.topics or md.topics[topic].error is not None:
        raise SystemExit(f"topic {topic} does not exist")
    parts = list(md.topics[topic].partitions)
    ends = {}
    for p in parts:
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)
        ends[p] = hi
    c.assign([TopicPartition(topic, p, 0) for p in parts])
    out, done = [], {p for p in parts if ends[p] == 0}
    while len(done) < len(parts):
        m = c.poll(timeout)
        if m is None:
            raise SystemExit(f"timed out reading {topic}: have {len(out)} messages")
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                if m.offset() >= ends[m.partition()]:
                    done.add(m.partition())
                continue
            raise SystemExit(f"consume error: {m.error()}")
        out.append(m)
        if m.offset() + 1 >= ends[m.partition()]:
            done.add(m.partition())
    c.close()
    return sorted(out, key=lambda m: (m.partition(), m.offset()))


def plain(v):
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, (bytes, bytearray)):
        return v.hex()
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, float) and v != v:
        return "NaN"
    if isinstance(v, float) and v in (float("inf"), float("-inf")):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def decode(data, schemas, exact=None):
    """exact: the tidewater.schema.* header ("<crc>/<variant>"), which names
    the exact schema when several share one CRC-64 (decimal(10,2) and
    decimal(12,2) do)."""
    if data is None:
        return None
    if len(data) < 10 or data[0:2] != b"\xc3\x01":
        raise SystemExit(f"not Avro single-object encoding: {data[:10].hex()}")
    fp = struct.unpack("<Q", data[2:10])[0]
    key = f"{fp:016x}"
    if exact is not None:
        if not exact.startswith(key + "/") or exact not in schemas:
            raise SystemExit(f"header schema {exact} does not match {key} or is missing")
        key = exact
    if key not in schemas:
        raise SystemExit(f"schema {key} not found in the schemas topic")
    buf = io.BytesIO(data[10:])
    # Logical types are read by fastavro itself; only dates and times are
    # kept as raw integers so that comparisons are exact (±infinity too).
    value = fastavro.schemaless_reader(buf, schemas[key])
    if buf.read(1):
        raise SystemExit(f"trailing bytes after a datum of schema {key}")
    return plain(value)


def raw_dates(schema):
    """A copy of schema in which date/time logical types are dropped."""
    if isinstance(schema, dict):
        s = {k: raw_dates(v) for k, v in schema.items()}
        if s.get("logicalType") in ("date", "time-micros", "timestamp-micros",
                                    "local-timestamp-micros", "timestamp-millis"):
            del s["logicalType"]
        return s
    if isinstance(schema, list):
        return [raw_dates(x) for x in schema]
    return schema


def load_schemas(bootstrap, prefix, timeout, extra=None):
    """The Avro schemas of <prefix>.schemas, parsed, by their key there."""
    schemas = {}
    for m in read_all(bootstrap, f"{prefix}.schemas", timeout, extra):
        key = m.key().decode()
        # Avro schemas are keyed by 16 hex digits, or 16/16 for an exact
        # variant; "table:..." and "meta" records are the schema store's.
        if (len(key) not in (16, 33) or m.value() is None
                or any(c not in "0123456789abcdef/" for c in key)):
            continue
        schemas[key] = fastavro.parse_schema(raw_dates(json.loads(m.value())))
    return schemas


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bootstrap")
    ap.add_argument("prefix")
    ap.add_argument("topic")
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("--config")
    a = ap.parse_args()
    extra = client_config(a.config) if a.config else {}
    schemas = load_schemas(a.bootstrap, a.prefix, a.timeout, extra)
    for m in read_all(a.bootstrap, a.topic, a.timeout, extra):
        headers = {k: v.decode() for k, v in (m.headers() or [])}
        print(json.dumps({"partition": m.partition(), "offset": m.offset(), "headers": headers,
                          "key": decode(m.key(), schemas, headers.get("tidewater.schema.key")),
                          "value": decode(m.value(), schemas,
                                          headers.get("tidewater.schema.value"))},
                         sort_keys=True))


if __name__ == "__main__":
    sys.exit(main())
