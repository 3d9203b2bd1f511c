#!/usr/bin/env python3
"""Decode Tidewater's Avro binary with an independent implementation (fastavro).

The unit test test_pgtypes writes, for each cross-check case, three files into
the directory named by TW_AVRO_CROSSCHECK_DIR:

    NNN_name.avsc   the Avro type Tidewater wrote for the column
    NNN_name.bin    the datum Tidewater encoded from PostgreSQL's text
    NNN_name.json   {"text": <PostgreSQL text>, "expect": <value>}

This script reads every datum with fastavro's schemaless_reader, checks that
the whole datum was consumed, and compares the decoded value with "expect":
decimals as exact decimal strings (with the schema's scale), dates, times and
timestamps as Python isoformat() strings, uuids as text, bytes as hex, NaN and
infinities as the strings "NaN", "Infinity", "-Infinity", float as the float32
nearest to the expected number.

Run by hand (fastavro pinned: pip install fastavro==1.13.1):

    python3 tests/unit/avro_crosscheck.py --test-binary build/tests/test_pgtypes
    # or, with files already written:
    python3 tests/unit/avro_crosscheck.py DIR

Exit status 0 when every case matches, 1 on any mismatch, 2 on usage errors.
"""
import argparse
import io
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
from decimal import Decimal

try:
    import fastavro
except ImportError:
    sys.stderr.write("fastavro is not installed: pip install fastavro==1.13.1\n")
    sys.exit(2)


def special_float(value):
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return None


def compare(schema, value, expect, where):
    """Returns a list of mismatch descriptions (empty when equal)."""
    if isinstance(schema, list):  # the nullable element union ["null", T]
        if expect is None:
            return [] if value is None else [f"{where}: got {value!r}, want null"]
        branch = [s for s in schema if s != "null"][0]
        return compare(branch, value, expect, where)
    if isinstance(schema, str):
        schema = {"type": schema}
    typ, logical = schema["type"], schema.get("logicalType")

    if typ == "array":
        if not isinstance(value, list) or len(value) != len(expect):
            return [f"{where}: got {value!r}, want {expect!r}"]
        out = []
        for i, (v, e) in enumerate(zip(value, expect)):
            out += compare(schema["items"], v, e, f"{where}[{i}]")
        return out

    if logical == "decimal":
        scale = schema.get("scale", 0)
        ok = (isinstance(value, Decimal) and value == Decimal(expect)
              and value.as_tuple().exponent == -scale)
        got = format(value, "f") if isinstance(value, Decimal) else repr(value)
    elif logical in ("date", "time-micros", "timestamp-micros", "local-timestamp-micros"):
        got = value.isoformat()
        ok = got == expect
    elif logical == "uuid":
        got = str(value)
        ok = got == expect
    elif typ == "bytes":
        got = value.hex()
        ok = got == expect
    elif typ in ("float", "double"):
        got = special_float(value) or value
        if isinstance(expect, str):
            ok = got == expect
        elif typ == "float":
            want = struct.unpack("<f", struct.pack("<f", float(expect)))[0]
            ok = got == want
        else:
            ok = got == float(expect)
    else:  # boolean, int, long, string
        got = value
        ok = type(value) is type(expect) and value == expect
    return [] if ok else [f"{where}: got {got!r}, want {expect!r}"]


def check_dir(directory):
    names = sorted(n[:-5] for n in os.listdir(directory) if n.endswith(".avsc"))
    if not names:
        print(f"no cross-check cases in {directory}", file=sys.stderr)
        return 2
    failures = 0
    for name in names:
        base = os.path.join(directory, name)
        with open(base + ".avsc", encoding="utf-8") as f:
            schema_json = json.load(f)
        with open(base + ".json", encoding="utf-8") as f:
            case = json.load(f)
        with open(base + ".bin", "rb") as f:
            datum = f.read()
        try:
            parsed = fastavro.parse_schema(schema_json)
            buf = io.BytesIO(datum)
            value = fastavro.schemaless_reader(buf, parsed, None)
            problems = []
            if buf.tell() != len(datum):
                problems.append(f"{len(datum) - buf.tell()} bytes left after the datum")
            problems += compare(schema_json, value, case["expect"], "value")
        except Exception as e:  # a decoder exception is a failed case, not a crash
            problems = [f"fastavro could not decode it: {type(e).__name__}: {e}"]
        if problems:
            failures += 1
            print(f"FAIL {name} (PostgreSQL text {case['text'][:60]!r}, "
                  f"schema {json.dumps(schema_json)}, bytes {datum.hex()[:80]}):")
            for p in problems:
                print(f"    {p}")
        else:
            print(f"ok   {name}")
    print(f"{len(names)} cases, {failures} failed (fastavro {fastavro.__version__})")
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir", nargs="?", help="directory the unit test wrote its cases into")
    ap.add_argument("--test-binary", help="run this test_pgtypes binary into a temp dir first")
    args = ap.parse_args()
    if bool(args.dir) == bool(args.test_binary):
        ap.error("give either DIR or --test-binary")
    if args.dir:
        return check_dir(args.dir)
    with tempfile.TemporaryDirectory(prefix="tw-avro-xcheck.") as tmp:
        env = dict(os.environ, TW_AVRO_CROSSCHECK_DIR=tmp)
        run = subprocess.run([args.test_binary], env=env, capture_output=True, text=True)
        if run.returncode != 0:
            sys.stderr.write(run.stdout + run.stderr)
            print(f"{args.test_binary} failed (exit {run.returncode})", file=sys.stderr)
            return 1
        return check_dir(tmp)


if __name__ == "__main__":
    sys.exit(main())
