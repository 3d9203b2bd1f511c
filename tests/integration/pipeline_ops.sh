#!/usr/bin/env bash
# Every kind of change reaches Kafka as the contract says (DESIGN.md, "Topics,
# keys and the envelope"), read back with confluent-kafka + fastavro: insert,
# update with REPLICA IDENTITY DEFAULT and FULL, a key change (delete +
# tombstone + create), delete + tombstone, truncate, and one transaction on
# three tables; per table, Kafka order is commit order.
# TW_TARGET=primary runs the same against the primary (primary mode).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_services
use_target

ID="$$_$RANDOM"
PREFIX="ops$ID"
SLOT="tw_ops_$ID"
S="tw_ops_$ID"
dir=$(mktemp -d)
cleanup() {
    drop_test_objects "$S" "$SLOT"
    rm -rf "$dir"
}
trap cleanup EXIT

create_test_schema "$S" "
CREATE TABLE $S.a (id int PRIMARY KEY, v text);
CREATE TABLE $S.b (id int PRIMARY KEY, v text NOT NULL);
ALTER TABLE $S.b REPLICA IDENTITY FULL;
CREATE TABLE $S.c (id int PRIMARY KEY, n numeric(10,2));"

start_agent "$dir/agent.log" --set "source.conninfo=$DSN" \
    --set "source.publication=${S}_pub" --set "kafka.bootstrap.servers=$TW_KAFKA_BOOTSTRAP" \
    --set "slot.name=$SLOT" --set "topic.prefix=$PREFIX"

psql_primary <<SQL >/dev/null
INSERT INTO $S.a VALUES (1, 'x'), (2, 'y');
UPDATE $S.a SET v = 'x2' WHERE id = 1;
INSERT INTO $S.b VALUES (1, 'p');
UPDATE $S.b SET v = 'p2' WHERE id = 1;
UPDATE $S.a SET id = 10 WHERE id = 2;
DELETE FROM $S.a WHERE id = 1;
BEGIN;
INSERT INTO $S.a VALUES (3, 'three');
INSERT INTO $S.b VALUES (2, 'two');
INSERT INTO $S.c VALUES (1, 1.50);
COMMIT;
TRUNCATE $S.c;
SQL

T="$PREFIX.$S"
wait_messages "$PREFIX" "$T.a" 9
wait_messages "$PREFIX" "$T.b" 3
wait_messages "$PREFIX" "$T.c" 2
stop_agent
for t in a b c; do consume "$PREFIX" "$T.$t" >"$dir/$t.jsonl"; done

"$TW_PY" - "$dir" <<'PY' || fail "Kafka content differs from the contract (see above)"
import json, sys
d = sys.argv[1]
def load(t):
    return [json.loads(l) for l in open(f"{d}/{t}.jsonl")]
def summary(m):
    k = m["key"]["id"] if m["key"] else None
    v = m["value"]
    if v is None:
        return ("tombstone", k)
    after = v["after"]
    return (v["op"], k, None if v["before"] is None else v["before"]["v"] if "v" in v["before"] else v["before"],
            None if after is None else after.get("v", after.get("n")))
bad = []
def expect(t, want):
    got = [summary(m) for m in load(t)]
    if got != want:
        bad.append(f"topic {t}:\n  got  {got}\n  want {want}")
expect("a", [("c", 1, None, "x"), ("c", 2, None, "y"), ("u", 1, None, "x2"),
             ("d", 2, None, None), ("tombstone", 2), ("c", 10, None, "y"),
             ("d", 1, None, None), ("tombstone", 1), ("c", 3, None, "three")])
expect("b", [("c", 1, None, "p"), ("u", 1, "p", "p2"), ("c", 2, None, "two")])
expect("c", [("c", 1, None, "1.50"), ("t", None, None, None)])

# The three-table transaction: one commit LSN and xid, seq 0, 1, 2.
tx = [m for t in "abc" for m in load(t)
      if m["value"] and m["value"]["op"] == "c" and m["key"]["id"] in (3, 2, 1)
      and (t, m["key"]["id"]) in (("a", 3), ("b", 2), ("c", 1))]
lsns = {m["headers"]["tidewater.lsn"] for m in tx}
xids = {m["headers"]["tidewater.xid"] for m in tx}
seqs = sorted(int(m["headers"]["tidewater.seq"]) for m in tx)
if len(tx) != 3 or len(lsns) != 1 or len(xids) != 1 or seqs != [0, 1, 2]:
    bad.append(f"multi-table transaction headers: lsn {lsns} xid {xids} seq {seqs} ({len(tx)} msgs)")

# Per table, Kafka order is commit order.
def lsn(s):
    hi, lo = s.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)
for t in "abc":
    ms = load(t)
    keys = [(lsn(m["headers"]["tidewater.lsn"]), int(m["headers"]["tidewater.seq"])) for m in ms]
    if keys != sorted(keys):
        bad.append(f"topic {t} is not in commit order: {keys}")
    for m in ms:
        v = m["value"]
        if v and (v["source"]["connector"] != "tidewater" or v["source"]["table"] != t
                  or v["source"]["schema"] == "" or v["source"]["ts_ms"] <= 0):
            bad.append(f"bad source block in {t}: {v['source']}")
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
PY
grep -q "PostgreSQL [0-9.]* $TARGET" "$dir/agent.log" || fail "the agent did not stream from the $TARGET:
$(grep 'streaming slot' "$dir/agent.log")"
note "$TARGET: insert/update/key change/delete/truncate and a three-table transaction arrived as specified"
