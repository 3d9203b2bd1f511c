#!/usr/bin/env python3
"""Compare what Kafka holds for a table (decoded with fastavro, see
tw_consume.py) with what PostgreSQL reports for the same rows.

usage: types_compare.py EXPECTED.jsonl KAFKA.jsonl COLUMNS.json [CONSUME.jsonl]

EXPECTED.jsonl: one JSON object per row, made by the server with the
expected representation of every column (see types_roundtrip.sh).
KAFKA.jsonl: tw_consume.py output for the topic (inserts only).
COLUMNS.json: {"column": "kind"}; kind says how to compare:
  exact    same JSON value
  decimal  same number AND same scale (strings)
  float    same IEEE value (NaN == NaN), given as numbers or "NaN"/"Infinity"
  array_decimal / array_float: element-wise
Any mismatch prints the row id, the column and both values.
CONSUME.jsonl (optional): `tidewater consume` output for the same topic,
checked against the fastavro decoding.
"""
import json
import os
import math
import sys
from decimal import Decimal


def fnum(v):
    if isinstance(v, str):
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(v, None) \
            if v in ("NaN", "Infinity", "-Infinity") else float(v)
    return float(v)


def same_float(a, b):
    if a is None or b is None:
        return a is b
    x, y = fnum(a), fnum(b)
    return (math.isnan(x) and math.isnan(y)) or x == y


def same_decimal(a, b):
    if a is None or b is None:
        return a is b
    x, y = Decimal(str(a)), Decimal(str(b))
    return x == y and x.as_tuple().exponent == y.as_tuple().exponent


def same(kind, a, b):
    if kind == "decimal":
        return same_decimal(a, b)
    if kind == "float":
        return same_float(a, b)
    if kind.startswith("array_"):
        if a is None or b is None:
            return a is b
        return len(a) == len(b) and all(same(kind[6:], x, y) for x, y in zip(a, b))
    return a == b


# tidewater consume prints dates, times and bytes for people (ISO 8601, \x
# hex), unlike the raw numbers compared here; tests/unit/test_avro_json.c
# checks those renderings.
# The op the rows arrive with: c (inserted while streaming) or r (read by
# the snapshot, TW_SNAPSHOT=1 in types_roundtrip.sh).
WANT_OP = os.environ.get("TW_WANT_OP", "c")
CONSUME_SKIP = {"c_date", "c_bytea", "c_time", "c_ts", "c_tstz"}


def check_consume(path, got_fastavro, kinds):
    """tidewater consume must agree with fastavro on every other column."""
    bad = 0
    rows = {}
    for line in open(path):
        v = json.loads(line)["value"]
        if v and v["op"] == WANT_OP:
            rows[v["after"]["id"]] = v["after"]
    if set(rows) != set(got_fastavro):
        print(f"tidewater consume saw rows {sorted(rows)}, fastavro {sorted(got_fastavro)}")
        return 1
    for rid, row in rows.items():
        for col, kind in kinds.items():
            if col in CONSUME_SKIP:
                continue
            a, b = got_fastavro[rid].get(col), row.get(col)
            if not same(kind, a, b):
                print(f"row {rid} column {col}: fastavro {json.dumps(a)[:200]} "
                      f"tidewater consume {json.dumps(b)[:200]}")
                bad += 1
    return bad


def main():
    expected = {r["id"]: r for r in map(json.loads, open(sys.argv[1]))}
    got = {}
    for line in open(sys.argv[2]):
        m = json.loads(line)
        v = m["value"]
        if v and v["op"] == WANT_OP:
            got[v["after"]["id"]] = v["after"]
    kinds = json.load(open(sys.argv[3]))
    bad = 0
    for rid, row in sorted(expected.items()):
        if rid not in got:
            print(f"row {rid}: missing from Kafka")
            bad += 1
            continue
        for col, kind in kinds.items():
            want, have = row.get(col), got[rid].get(col)
            if not same(kind, want, have):
                w, h = json.dumps(want), json.dumps(have)
                print(f"row {rid} column {col}: PostgreSQL {w[:200]} Kafka {h[:200]}")
                bad += 1
    cols = len(kinds)
    print(f"compared {len(expected)} rows x {cols} columns: {bad} mismatch(es)")
    if len(sys.argv) > 4:
        cbad = check_consume(sys.argv[4], got, kinds)
        print(f"tidewater consume vs fastavro: {cbad} mismatch(es)")
        bad += cbad
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
