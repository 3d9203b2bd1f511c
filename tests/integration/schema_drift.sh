#!/usr/bin/env bash
# Schema drift (DESIGN.md "Schema fingerprints and drift"): each DDL below,
# made on the primary, yields exactly one event on <prefix>.schema_changes
# with the right column changes and Avro compatibility class, read back with
# confluent-kafka + fastavro; rows before and after decode with their own
# schemas. Also: DDL while the agent is stopped is reported at startup; DDL
# on a table without further writes is reported by the catalog check;
# ANALYZE and GRANT give no event; a webhook receiver gets every event as
# JSON; `schemas list` and `schemas diff` show the store.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_services
use_target

ID="$$_$RANDOM"
PREFIX="sd$ID"
SLOT="tw_sd_$ID"
S="tw_sd_$ID"
PORT=$((20000 + RANDOM % 20000))
HOOK_PORT=$((PORT + 1))
dir=$(mktemp -d)
HOOK_PID=""
cleanup() {
    [ -n "$HOOK_PID" ] && kill "$HOOK_PID" 2>/dev/null || true
    drop_test_objects "$S" "$SLOT"
    rm -rf "$dir"
}
trap cleanup EXIT

# The webhook receiver: appends each POSTed body as one line.
"$TW_PY" - "$HOOK_PORT" "$dir/hook.jsonl" <<'PY' &
import http.server, sys
port, out = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(out, "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(204)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
HOOK_PID=$!

create_test_schema "$S" "
CREATE TABLE $S.addnull (id int PRIMARY KEY);
CREATE TABLE $S.adddef (id int PRIMARY KEY);
CREATE TABLE $S.dropcol (id int PRIMARY KEY, c int NOT NULL);
CREATE TABLE $S.renamecol (id int PRIMARY KEY, c int NOT NULL);
CREATE TABLE $S.int2big (id int PRIMARY KEY, c int NOT NULL);
CREATE TABLE $S.big2int (id int PRIMARY KEY, c bigint NOT NULL);
CREATE TABLE $S.varchar (id int PRIMARY KEY, c varchar(10));
CREATE TABLE $S.numeric (id int PRIMARY KEY, c numeric(10,2));
CREATE TABLE $S.notnull (id int PRIMARY KEY, c int);
CREATE TABLE $S.pk (id int PRIMARY KEY, b int NOT NULL);
CREATE TABLE $S.dropped (id int PRIMARY KEY);
CREATE TABLE $S.quiet (id int PRIMARY KEY);
CREATE TABLE $S.analyzed (id int PRIMARY KEY, v text);
CREATE TABLE $S.offline (id int PRIMARY KEY);"

AGENT_ARGS=(--set "source.conninfo=$DSN" --set "source.publication=${S}_pub"
    --set "kafka.bootstrap.servers=$TW_KAFKA_BOOTSTRAP" --set "slot.name=$SLOT"
    --set "topic.prefix=$PREFIX" --set "http.listen=127.0.0.1:$PORT"
    --set "schema.check.interval.ms=1000"
    --set "schema.webhook.url=http://127.0.0.1:$HOOK_PORT/hook")
start_agent "$dir/agent.log" "${AGENT_ARGS[@]}"
grep -q "initialised with 14 table(s)" "$dir/agent.log" ||
    fail "the first start did not fill the schema store with the 14 tables"

T="$S"
psql_primary <<SQL >/dev/null
INSERT INTO $T.addnull VALUES (1);
INSERT INTO $T.adddef VALUES (1);
INSERT INTO $T.dropcol VALUES (1, 1);
INSERT INTO $T.renamecol VALUES (1, 1);
INSERT INTO $T.int2big VALUES (1, 1);
INSERT INTO $T.big2int VALUES (1, 1);
INSERT INTO $T.varchar VALUES (1, 'a');
INSERT INTO $T.numeric VALUES (1, 1.25);
INSERT INTO $T.notnull VALUES (1, 1);
INSERT INTO $T.pk VALUES (1, 1);
INSERT INTO $T.analyzed VALUES (1, 'a');
ALTER TABLE $T.addnull ADD COLUMN c int;
ALTER TABLE $T.adddef ADD COLUMN c int NOT NULL DEFAULT 7;
ALTER TABLE $T.dropcol DROP COLUMN c;
ALTER TABLE $T.renamecol RENAME COLUMN c TO d;
ALTER TABLE $T.int2big ALTER COLUMN c TYPE bigint;
ALTER TABLE $T.big2int ALTER COLUMN c TYPE int;
ALTER TABLE $T.varchar ALTER COLUMN c TYPE varchar(20);
ALTER TABLE $T.numeric ALTER COLUMN c TYPE numeric(12,2);
ALTER TABLE $T.notnull ALTER COLUMN c SET NOT NULL;
ALTER TABLE $T.pk DROP CONSTRAINT pk_pkey, ADD PRIMARY KEY (id, b);
CREATE TABLE $T.added (id int PRIMARY KEY);
GRANT SELECT ON $T.added TO tidewater;
DROP TABLE $T.dropped;
ALTER TABLE $T.quiet ADD COLUMN c text;
ANALYZE $T.analyzed;
GRANT SELECT ON $T.analyzed TO PUBLIC;
INSERT INTO $T.addnull VALUES (2, 2);
INSERT INTO $T.adddef VALUES (2, 8);
INSERT INTO $T.dropcol VALUES (2);
INSERT INTO $T.renamecol VALUES (2, 2);
INSERT INTO $T.int2big VALUES (2, 2);
INSERT INTO $T.big2int VALUES (2, 2);
INSERT INTO $T.varchar VALUES (2, 'bbbbbbbbbbbbbbb');
INSERT INTO $T.numeric VALUES (2, 1234567890.12);
INSERT INTO $T.notnull VALUES (2, 2);
INSERT INTO $T.pk VALUES (2, 2);
INSERT INTO $T.added VALUES (1);
INSERT INTO $T.analyzed VALUES (2, 'b');
SQL

# 12 changes + the quiet table: 13 events.
wait_messages "$PREFIX" "$PREFIX.schema_changes" 13
for t in addnull adddef dropcol renamecol int2big big2int varchar numeric notnull pk analyzed; do
    wait_messages "$PREFIX" "$PREFIX.$T.$t" 2
done
wait_messages "$PREFIX" "$PREFIX.$T.added" 1
curl -fsS "http://127.0.0.1:$PORT/metrics" >"$dir/metrics.txt" || fail "no /metrics"

# Stopped: DDL and a row; the restart reports it (detected at startup).
stop_agent
psql_primary -c "ALTER TABLE $T.offline ADD COLUMN c date" \
    -c "INSERT INTO $T.offline VALUES (1, '2020-01-02')" >/dev/null
wait_standby_replay
start_agent "$dir/agent.log" "${AGENT_ARGS[@]}"
wait_messages "$PREFIX" "$PREFIX.schema_changes" 14
wait_messages "$PREFIX" "$PREFIX.$T.offline" 1
for _ in $(seq 1 40); do
    [ "$(wc -l <"$dir/hook.jsonl" 2>/dev/null || echo 0)" -ge 14 ] && break
    sleep 0.25
done
stop_agent

consume "$PREFIX" "$PREFIX.schema_changes" >"$dir/events.jsonl"
for t in addnull adddef dropcol renamecol int2big big2int varchar numeric notnull pk analyzed \
    added offline; do
    consume "$PREFIX" "$PREFIX.$T.$t" >"$dir/rows.$t.jsonl"
done

"$TW_PY" - "$dir" "$S" <<'PY' || fail "schema-change events differ from the contract (see above)"
import json, sys
d, S = sys.argv[1], sys.argv[2]
events = [json.loads(l) for l in open(f"{d}/events.jsonl")]
bad = []
by_table = {}
for e in events:
    v = e["value"]
    if e["key"] != {"schema": S, "table": v["table"]}:
        bad.append(f"key {e['key']} does not name the table {v['table']}")
    by_table.setdefault(v["table"], []).append(v)
want = {  # table: (kind, [(change, column)], compatibility, detected_by or None)
    "addnull": ("altered", [("added", "c")], "FULL", None),
    "adddef": ("altered", [("added", "c")], "FULL", None),
    "dropcol": ("altered", [("removed", "c")], "BACKWARD", None),
    "renamecol": ("altered", [("renamed", "d")], "NONE", None),
    "int2big": ("altered", [("type_changed", "c")], "BACKWARD", None),
    "big2int": ("altered", [("type_changed", "c")], "FORWARD", None),
    "varchar": ("altered", [("typmod_changed", "c")], "FULL", None),
    "numeric": ("altered", [("typmod_changed", "c")], "BACKWARD", None),
    "notnull": ("altered", [("nullability_changed", "c")], "FORWARD", None),
    "pk": ("altered", [("key_changed", "b")], "FORWARD", None),
    "added": ("table_added", [], "FULL", None),
    "dropped": ("table_removed", [], "NONE", "catalog_check"),
    "quiet": ("altered", [("added", "c")], "FULL", "catalog_check"),
    "offline": ("altered", [("added", "c")], "FULL", "startup"),
}
for t, (kind, changes, compat, path) in want.items():
    got = by_table.get(t, [])
    if len(got) != 1:
        bad.append(f"{t}: {len(got)} events, want exactly 1")
        continue
    v = got[0]
    have = [(c["change"], c["column"]) for c in v["changes"]]
    if v["kind"] != kind or have != changes or v["compatibility"] != compat:
        bad.append(f"{t}: kind={v['kind']} changes={have} compatibility={v['compatibility']} "
                   f"({v['compatibility_reason']}); want {kind} {changes} {compat}")
    if path and v["detected_by"] != path:
        bad.append(f"{t}: detected_by={v['detected_by']}, want {path}")
    if v["action"] != "continue":
        bad.append(f"{t}: action={v['action']}, want continue")
    if kind == "altered":
        if not (v["old_fingerprint"] and v["new_fingerprint"]
                and v["old_fingerprint"] != v["new_fingerprint"]):
            bad.append(f"{t}: fingerprints {v['old_fingerprint']} -> {v['new_fingerprint']}")
        for k in ("old_avro_schema", "new_avro_schema"):
            json.loads(v[k])  # the Envelope schemas, as JSON
    if v["detected_by"] == "stream" and not (v["lsn"] and v["commit_ts_ms"]):
        bad.append(f"{t}: a stream-detected event without lsn/commit time")
extra = set(by_table) - set(want)
if extra:
    bad.append(f"events for tables that did not change: {sorted(extra)}")
# typmod details
num = by_table.get("numeric", [{}])[0].get("changes", [{}])[0]
if (num.get("old"), num.get("new")) != ("numeric(10,2)", "numeric(12,2)"):
    bad.append(f"numeric change old/new: {num}")

# rows before and after the change decode with their own schema
def rows(t):
    return [json.loads(l)["value"]["after"] for l in open(f"{d}/rows.{t}.jsonl")]
expect_rows = {
    "addnull": [{"id": 1}, {"id": 2, "c": 2}],
    "adddef": [{"id": 1}, {"id": 2, "c": 8}],
    "dropcol": [{"id": 1, "c": 1}, {"id": 2}],
    "renamecol": [{"id": 1, "c": 1}, {"id": 2, "d": 2}],
    "int2big": [{"id": 1, "c": 1}, {"id": 2, "c": 2}],
    "numeric": [{"id": 1, "c": "1.25"}, {"id": 2, "c": "1234567890.12"}],
    "varchar": [{"id": 1, "c": "a"}, {"id": 2, "c": "bbbbbbbbbbbbbbb"}],
    "offline": [{"id": 1, "c": 18263}],
}
for t, exp in expect_rows.items():
    if rows(t) != exp:
        bad.append(f"rows of {t}: {rows(t)}, want {exp}")

hook = [json.loads(l) for l in open(f"{d}/hook.jsonl")]
if sorted((h["table"], h["kind"]) for h in hook) != sorted((e["value"]["table"], e["value"]["kind"]) for e in events):
    bad.append(f"webhook got {len(hook)} events, Kafka has {len(events)}")
metrics = open(f"{d}/metrics.txt").read()
if f'tidewater_schema_changes_total{{table="{S}.renamecol",compatibility="NONE"}} 1' not in metrics:
    bad.append("metric tidewater_schema_changes_total for renamecol NONE missing")
for b in bad:
    print("  " + b)
sys.exit(1 if bad else 0)
PY
note "14 changes: one event each with the right diff and class; rows decode with their own schemas; webhook and metrics agree"

# The CLI's view of the store.
"$TW_BIN" schemas list "${AGENT_ARGS[@]}" >"$dir/list.txt" || fail "schemas list failed"
grep -q "^$S.renamecol " "$dir/list.txt" || fail "schemas list lacks $S.renamecol:
$(cat "$dir/list.txt")"
grep -q "^$S.dropped " "$dir/list.txt" && fail "schemas list still has the dropped table"
"$TW_BIN" schemas diff "$S.renamecol" "${AGENT_ARGS[@]}" >"$dir/diff.txt" ||
    fail "schemas diff of an unchanged table exited non-zero: $(cat "$dir/diff.txt")"
psql_primary -c "ALTER TABLE $T.renamecol ADD COLUMN e int" >/dev/null
wait_standby_replay
rc=0
"$TW_BIN" schemas diff "$S.renamecol" "${AGENT_ARGS[@]}" >"$dir/diff.txt" || rc=$?
[ "$rc" = 1 ] && grep -q "added *e" "$dir/diff.txt" && grep -q "compatibility: FULL" "$dir/diff.txt" ||
    fail "schemas diff after ADD COLUMN (exit $rc):
$(cat "$dir/diff.txt")"
note "schemas list and diff show the store and the catalog"
