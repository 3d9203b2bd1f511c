"""Replays Tidewater topics (JSON lines from `tidewater consume`) into a map
by key and compares it with a table dump from the primary.

usage: snapshot_oracle.py replay TABLE_DUMP CONSUMED [--keyless] [--no-r]
                                 [--only-r] [--save FILE]
       snapshot_oracle.py same FILE1 FILE2

TABLE_DUMP: one JSON object per line, the table's rows as the primary has
them (psql: SELECT row_to_json(...)), with a column "_key" holding the key
as JSON text. CONSUMED: the topic's messages in topic order.

Envelopes c/u/r set the key's row to `after`, d and tombstones remove it.
Every snapshot row (op r) must come before the first streamed change.
Keyless tables (no message key) are compared as sets of rows (a snapshot
taken again sends them again). timestamptz values arrive as ISO-8601 text in
both files and are compared as instants.
Exit 0 when equal; otherwise prints the first differences and exits 1.
"""
import datetime
import json
import sys


def norm(v):
    if isinstance(v, str) and len(v) >= 20 and v[4] == "-" and v[10] == "T":
        try:
            d = datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
            return ("ts", d.timestamp(), d.microsecond)
        except ValueError:
            return v
    if isinstance(v, float) and v == int(v):
        return int(v)
    return v


def row(d):
    return tuple(sorted((k, json.dumps(norm(v))) for k, v in d.items() if k != "_key"))


def load_dump(path, keyless):
    out = {} if not keyless else set()
    for line in open(path):
        d = json.loads(line)
        if keyless:
            out.add(row(d))
        else:
            out[json.dumps(json.loads(d["_key"]), sort_keys=True)] = row(d)
    return out


def replay(path, keyless, counts):
    state = {} if not keyless else set()
    streamed = None  # offset of the first streamed change
    for line in open(path):
        m = json.loads(line)
        v = m.get("value")
        op = v["op"] if v else "tombstone"
        if op != "r" and streamed is None:
            streamed = m["offset"]
        if op == "r" and streamed is not None:
            counts["r_after_change"] = counts.get("r_after_change", 0) + 1
        counts[op] = counts.get(op, 0) + 1
        if v and v["op"] == "r":
            counts["snapshot=" + v["source"]["snapshot"]] = (
                counts.get("snapshot=" + v["source"]["snapshot"], 0) + 1)
        if keyless:
            if v and v["op"] in ("c", "r"):
                state.add(row(v["after"]))
            continue
        k = json.dumps(m["key"], sort_keys=True)
        if v is None or v["op"] == "d":
            state.pop(k, None)
        elif v["op"] in ("c", "u", "r"):
            state[k] = row(v["after"])
    return state


def main():
    if sys.argv[1] == "same":
        a = [json.loads(l) for l in open(sys.argv[2])]
        b = [json.loads(l) for l in open(sys.argv[3])]
        sa = sorted(json.dumps([m["key"], m["value"]["after"]], sort_keys=True) for m in a)
        sb = sorted(json.dumps([m["key"], m["value"]["after"]], sort_keys=True) for m in b)
        if sa != sb:
            print(f"{len(sa)} vs {len(sb)} messages; first difference:",
                  next((x, y) for x, y in zip(sa + [None], sb + [None]) if x != y))
            sys.exit(1)
        print(f"{len(sa)} identical snapshot rows")
        return
    dump, consumed = sys.argv[2], sys.argv[3]
    flags = sys.argv[4:]
    keyless = "--keyless" in flags
    counts = {}
    want = load_dump(dump, keyless)
    got = replay(consumed, keyless, counts)
    print("events:", json.dumps(counts, sort_keys=True))
    if counts.get("r_after_change"):
        print("snapshot rows after a streamed change: every snapshot row must come first")
        sys.exit(1)
    if "--no-r" in flags and counts.get("r"):
        print(f"{counts['r']} snapshot (op r) events, none expected")
        sys.exit(1)
    if "--only-r" in flags and set(counts) - {"r"} - {c for c in counts if c.startswith("snapshot=")}:
        print("events other than op r:", counts)
        sys.exit(1)
    if want == got:
        print(f"{len(want)} rows equal")
        return
    if keyless:
        print(f"primary {len(want)} rows, replay {len(got)}; missing {list(want - got)[:3]}, "
              f"extra {list(got - want)[:3]}")
        sys.exit(1)
    missing = [k for k in want if k not in got]
    extra = [k for k in got if k not in want]
    wrong = [k for k in want if k in got and want[k] != got[k]]
    print(f"primary {len(want)} rows, replay {len(got)}: {len(missing)} missing, "
          f"{len(extra)} extra, {len(wrong)} different")
    for k in missing[:3]:
        print("missing", k, want[k])
    for k in extra[:3]:
        print("extra", k, got[k])
    for k in wrong[:3]:
        print("different", k, "\n  primary", want[k], "\n  replay ", got[k])
    sys.exit(1)


main()
