#!/usr/bin/env python3
"""Read a Tidewater topic framed for a Schema Registry the way a data team
using Confluent's client does: confluent-kafka's Consumer and its
schema_registry AvroDeserializer, which reads the 5-byte Confluent prefix
(magic 0 + schema id) and fetches the writer's schema from the registry.

Prints the same JSON lines as tw_consume.py (same value representation), so
that the same comparisons apply:
  {"partition": 0, "offset": 3, "headers": {...}, "key": {...} | null,
   "value": {...} | null, "key_id": 1 | null, "value_id": 2 | null}

Dates, times and timestamps stay the Avro integers (days, microseconds):
Python's datetime cannot hold the ±infinity, BC and 24:00 values the tests
use, so fastavro's conversions for those logical types are switched off;
everything else (decimals, uuids, the framing, the registry lookup) is the
deserializer's own.

usage: tw_consume_registry.py BOOTSTRAP REGISTRY_URL TOPIC [--timeout S]
Basic auth: "user:password" in the environment variable
TW_SCHEMA_REGISTRY_USER_INFO (not on the command line).
"""
import argparse
import json
import os
import struct
import sys

import fastavro.read
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tw_consume import plain, read_all  # noqa: E402

for _name in list(fastavro.read.LOGICAL_READERS):
    if _name.split("-", 1)[1] in ("date", "time-millis", "time-micros", "timestamp-millis",
                                  "timestamp-micros", "local-timestamp-millis",
                                  "local-timestamp-micros"):
        fastavro.read.LOGICAL_READERS[_name] = lambda datum, *_: datum


def schema_id(data):
    if data is None:
        return None
    if len(data) < 5 or data[0] != 0:
        raise SystemExit(f"not Confluent's wire format: {data[:10].hex()}")
    return struct.unpack(">I", data[1:5])[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bootstrap")
    ap.add_argument("registry")
    ap.add_argument("topic")
    ap.add_argument("--timeout", type=float, default=20)
    a = ap.parse_args()
    conf = {"url": a.registry}
    if os.environ.get("TW_SCHEMA_REGISTRY_USER_INFO"):
        conf["basic.auth.user.info"] = os.environ["TW_SCHEMA_REGISTRY_USER_INFO"]
    registry = SchemaRegistryClient(conf)
    deserialize = AvroDeserializer(registry)
    for m in read_all(a.bootstrap, a.topic, a.timeout):
        headers = {k: v.decode() for k, v in (m.headers() or [])}
        key = value = None
        if m.key() is not None:
            key = deserialize(m.key(), SerializationContext(a.topic, MessageField.KEY, None))
        if m.value() is not None:
            value = deserialize(m.value(), SerializationContext(a.topic, MessageField.VALUE, None))
        print(json.dumps({"partition": m.partition(), "offset": m.offset(), "headers": headers,
                          "key": plain(key), "value": plain(value),
                          "key_id": schema_id(m.key()), "value_id": schema_id(m.value())},
                         sort_keys=True))


if __name__ == "__main__":
    sys.exit(main())
