"""Replays Tidewater topics (JSON lines from `tidewater consume`) into a map
by key and compares it with a table dump from the primary.

usage: snapshot_oracle.py replay TABLE_DUMP CONSUMED [--keyless] [--no-r]
                                 [--only-r] [--save FILE]
       snapshot_oracle.py same FILE1 FILE2
       snapshot_oracle.py run BOOTSTRAP PREFIX DSN SCHEMA [--timeout S]
                             [--from-latest-snapshot]

TABLE_DUMP: one JSON object per line, the table's rows as the primary has
them (psql: SELECT row_to_json(...)), with a column "_key" holding the key
as JSON text. CONSUMED: the topic's messages in topic order.

Envelopes c/u/r set the key's row to `after`, d and tombstones remove it.
Every snapshot row (op r) must come before the first streamed change.
Keyless tables (no message key) are compared as sets of rows (a snapshot
taken again sends them again). timestamptz values arrive as ISO-8601 text in
both files and are compared as instants.
Exit 0 when equal; otherwise prints the first differences and exits 1.

`run` is the whole-run oracle of the fault tests: it reads every data topic
PREFIX.SCHEMA.<table> from the beginning itself (confluent-kafka and fastavro,
through tw_consume.py, not Tidewater's own decoder), replays the envelopes,
and compares the result with every table of SCHEMA read from the server DSN
(the truth: the primary, or a standby promoted in its place; full rows,
values converted to the Avro forms tw_consume.py prints).
Replay: per topic in offset order; c/u/r set the key's row to `after`, d and
tombstones remove it; a table's snapshot row marked first or
first_in_data_collection starts that table over (a new snapshot replaces
what a consumer had); a column listed in `unchanged` keeps its replayed
value. Keyless tables (null key; REPLICA IDENTITY FULL gives
`before`) are multisets: c/r add `after`, u replaces one `before` with
`after`, d removes one `before`; a change seen before (a duplicate, see
below) is applied once, as a consumer of such a table must (replaying a
keyed topic's republished tail again is harmless).
--from-latest-snapshot: each topic is read from its table's latest snapshot
start on (the last row marked first or first_in_data_collection), as README
tells consumers to do when a new snapshot replaces what they had (a slot
made again by snapshot.mode=when_needed); what comes before is left out of
every figure, and a topic with messages but no snapshot start fails.
It prints one line
  oracle: missing=N wrong=N duplicates=N extra=N gaps=N messages=N rows=N
missing: the server's rows the replay lacks; wrong: keys whose replayed row
differs; extra: replayed rows the server lacks; duplicates: messages whose
(topic, tidewater.lsn, tidewater.seq) was already seen (legal after a crash
under at-least-once: counted, not failed); gaps: positions missing inside a
transaction (tidewater.seq runs 0..n-1 over its changes), each a change lost
even if a later one hid it. With --from-latest-snapshot the line ends with
skipped=N, the messages before the latest snapshot starts. Then details of
the first differences. Exit 1 when missing, wrong, extra or gaps is not 0,
or a snapshot row follows a streamed change in a topic or a change cannot be
applied (counted as wrong), or a snapshot start is missing.
"""
import collections
import datetime
import decimal
import json
import os
import subprocess
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


# ---- run: the whole-run oracle ----

# How each PostgreSQL type is read from the server so that it compares
# with tw_consume.py's decoding of its Avro form; other types as text.
DUMP_EXPR = {
    "bool": "{}", "int2": "{}", "int4": "{}", "int8": "{}", "float8": "{}",
    "float4": "{}::float8", "text": "{}", "varchar": "{}", "bpchar": "{}",
    "numeric": "{}::text", "money": "{}::numeric::text",
    "date": "({} - DATE '1970-01-01')",
    "timestamp": "(extract(epoch FROM {}) * 1000000)::bigint",
    "timestamptz": "(extract(epoch FROM {}) * 1000000)::bigint",
    "time": "(extract(epoch FROM {}) * 1000000)::bigint",
    "bytea": "encode({}, 'hex')", "uuid": "{}::text",
    "json": "{}::text", "jsonb": "{}::text",
}


def psql(dsn, sql):
    out = subprocess.run(["psql", dsn, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    return [l for l in out.split("\n") if l]


def lit(s):
    return "'" + s.replace("'", "''") + "'"


def ident(s):
    return '"' + s.replace('"', '""') + '"'


def pg_tables(dsn, schema):
    """{table: (columns [(name, typname)], key column names)} of schema;
    the key is what Tidewater keys by: the primary key (also under REPLICA
    IDENTITY FULL), the replica identity index, or none."""
    out = {}
    for line in psql(dsn, f"""
        SELECT json_build_object('t', c.relname, 'ident', c.relreplident,
          'cols', (SELECT json_agg(json_build_array(a.attname, t.typname) ORDER BY a.attnum)
                   FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
          'pk', (SELECT json_agg(a.attname ORDER BY a.attnum) FROM pg_index i
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                 WHERE i.indrelid = c.oid AND i.indisprimary),
          'ri', (SELECT json_agg(a.attname ORDER BY a.attnum) FROM pg_index i
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                 WHERE i.indrelid = c.oid AND i.indisreplident))
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = {lit(schema)} AND c.relkind IN ('r', 'p') ORDER BY c.relname"""):
        d = json.loads(line)
        key = {"d": d["pk"], "f": d["pk"], "i": d["ri"]}.get(d["ident"]) or []
        out[d["t"]] = ([tuple(c) for c in d["cols"]], key)
    return out


def canon(cols, values):
    """A row (dict by column name) as comparable text; decimals by value."""
    kinds = dict(cols)
    out = {}
    for name, v in values.items():
        if v is not None and kinds.get(name) in ("numeric", "money"):
            try:
                v = format(decimal.Decimal(v), "f")
            except decimal.InvalidOperation:
                pass  # NaN, Infinity: compared as text
        elif isinstance(v, float) and v.is_integer():
            v = int(v)  # JSON from PostgreSQL writes 2 where Avro's double reads 2.0
        out[name] = v
    return json.dumps(out, sort_keys=True)


def pg_rows(dsn, schema, table, cols, key):
    """The server's rows: {key text: row text}, or a Counter of row texts."""
    exprs = ", ".join(DUMP_EXPR.get(t, "{}::text").format(ident(c)) + " AS " + ident(c)
                      for c, t in cols)
    rows = psql(dsn, f"SELECT row_to_json(r) FROM (SELECT {exprs} FROM "
                     f"{ident(schema)}.{ident(table)}) r")
    if not key:
        return collections.Counter(canon(cols, json.loads(r)) for r in rows)
    out = {}
    for r in rows:
        d = json.loads(r)
        out[canon(cols, {k: d[k] for k in key})] = canon(cols, d)
    return out


def replay_topic(msgs, cols, key, report):
    """The topic's messages (tw_consume.py's decoded form) applied in order."""
    state = {} if key else collections.Counter()
    streamed = False
    for m in msgs:
        v = m["value"]
        op = v["op"] if v else "tombstone"
        if op == "r" and streamed:
            report["r_after_change"] += 1
        if op != "r":
            streamed = True
        if op == "r" and v["source"]["snapshot"] in ("first", "first_in_data_collection"):
            state.clear()
        if not key:
            if m.get("duplicate") and op != "r":
                continue  # applying a change to a multiset twice is not idempotent
            if op in ("u", "d"):
                before = v["before"] and canon(cols, v["before"])
                if before is None or state[before] == 0:
                    report["unapplied"] += 1
                    report["details"].append(f"{op} of a row the replay does not hold: "
                                             f"{before} (offset {m['offset']})")
                else:
                    state[before] -= 1
            if op in ("c", "r", "u"):
                state[canon(cols, v["after"])] += 1
            continue
        k = canon(cols, m["key"])
        if op in ("tombstone", "d"):
            state.pop(k, None)
        elif op in ("c", "u", "r"):
            after = dict(v["after"])
            # A TOASTed value an UPDATE left alone is not sent: keep the old.
            for col in v.get("unchanged") or []:
                after[col] = json.loads(state[k])[col] if k in state else None
            state[k] = canon(cols, after)
    return state if key else +state


def run_oracle(bootstrap, prefix, dsn, schema, timeout, from_latest):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import tw_consume
    from confluent_kafka import Consumer

    tables = pg_tables(dsn, schema)
    if not tables:
        raise SystemExit(f"schema {schema} has no tables on the server")
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "tw-oracle"})
    topics = set(c.list_topics(timeout=timeout).topics)
    c.close()
    schemas = tw_consume.load_schemas(bootstrap, prefix, timeout)
    report = collections.Counter()
    report["details"] = []
    seen, txns = set(), collections.defaultdict(set)
    out = {"missing": 0, "wrong": 0, "duplicates": 0, "extra": 0, "gaps": 0,
           "messages": 0, "rows": 0}
    skipped = no_start = 0
    for table, (cols, key) in sorted(tables.items()):
        topic = f"{prefix}.{schema}.{table}"
        want = pg_rows(dsn, schema, table, cols, key)
        out["rows"] += sum(want.values()) if not key else len(want)
        msgs = []
        if topic in topics:
            for m in tw_consume.read_all(bootstrap, topic, timeout):
                h = {k: x.decode() for k, x in (m.headers() or [])}
                msgs.append({"offset": m.offset(), "headers": h,
                             "key": tw_consume.decode(m.key(), schemas, h.get("tidewater.schema.key")),
                             "value": tw_consume.decode(m.value(), schemas,
                                                        h.get("tidewater.schema.value"))})
        elif want:
            report["details"].append(f"no topic {topic} for the {len(want)} rows of {table}")
        if from_latest and msgs:
            starts = [i for i, m in enumerate(msgs)
                      if m["value"] and m["value"]["op"] == "r"
                      and m["value"]["source"]["snapshot"] in ("first", "first_in_data_collection")]
            if not starts:
                no_start += 1
                report["details"].append(f"{topic}: no snapshot start (first or "
                                         f"first_in_data_collection) among {len(msgs)} messages")
            else:
                skipped += starts[-1]
                msgs = msgs[starts[-1]:]
        out["messages"] += len(msgs)
        for m in msgs:
            ident_ = (topic, m["headers"].get("tidewater.lsn"), m["headers"].get("tidewater.seq"))
            if ident_ in seen:
                out["duplicates"] += 1
                m["duplicate"] = True
            seen.add(ident_)
            if m["value"] is None or m["value"]["op"] != "r":
                txns[ident_[1]].add(int(ident_[2]))
        got = replay_topic(msgs, cols, key, report)
        if not key:
            lack, surplus = want - got, got - want
            out["missing"] += sum(lack.values())
            out["extra"] += sum(surplus.values())
            report["details"] += [f"{table}: missing row {r}" for r in list(lack)[:3]]
            report["details"] += [f"{table}: extra row {r}" for r in list(surplus)[:3]]
            continue
        missing = [k for k in want if k not in got]
        extra = [k for k in got if k not in want]
        wrong = [k for k in want if k in got and want[k] != got[k]]
        out["missing"] += len(missing)
        out["extra"] += len(extra)
        out["wrong"] += len(wrong)
        report["details"] += [f"{table}: missing {k}: {want[k]}" for k in missing[:3]]
        report["details"] += [f"{table}: extra {k}: {got[k]}" for k in extra[:3]]
        report["details"] += [f"{table}: different {k}:\n  server {want[k]}\n  replay {got[k]}"
                              for k in wrong[:3]]
    for lsn, seqs in txns.items():
        if len(seqs) != max(seqs) + 1:
            out["gaps"] += max(seqs) + 1 - len(seqs)
            if len(report["details"]) < 20:
                report["details"].append(f"commit {lsn}: seq {sorted(set(range(max(seqs) + 1)) - seqs)[:5]} missing")
    out["wrong"] += report["unapplied"]
    print("oracle: " + " ".join(f"{k}={v}" for k, v in out.items()) +
          f" transactions={len(txns)} snapshot_rows_after_changes={report['r_after_change']}" +
          (f" skipped={skipped}" if from_latest else ""))
    for d in report["details"][:20]:
        print(d)
    bad = (out["missing"] or out["wrong"] or out["extra"] or out["gaps"] or report["r_after_change"]
           or no_start)
    sys.exit(1 if bad else 0)


def main():
    if sys.argv[1] == "run":
        usage = ("usage: snapshot_oracle.py run BOOTSTRAP PREFIX DSN SCHEMA [--timeout S] "
                 "[--from-latest-snapshot]")
        if len(sys.argv) < 6:
            raise SystemExit(usage)
        timeout, from_latest, opts = 20.0, False, sys.argv[6:]
        while opts:
            if opts[0] == "--timeout" and len(opts) > 1:
                timeout, opts = float(opts[1]), opts[2:]
            elif opts[0] == "--from-latest-snapshot":
                from_latest, opts = True, opts[1:]
            else:
                raise SystemExit(f"snapshot_oracle.py run: unknown option {opts[0]!r}; {usage}")
        run_oracle(*sys.argv[2:6], timeout, from_latest)
        return
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
