#!/usr/bin/env bash
# A row larger than its topic takes (the topic is created beforehand with
# max.message.bytes=20000, smaller than the producer's limit, so the agent
# must have read the topic's own setting; the row stays over it compressed):
#  1. on_oversize=fail (the default): the agent stops with an error that
#     names the table, the key and the sizes; the rows before it are in
#     Kafka, the slot is not acknowledged past it.
#  2. Restarted with on_oversize=skip: the big change is logged and counted
#     (tidewater_oversize_skipped_total), the rest arrives, in order.
#  3. A snapshot with on_oversize=skip leaves out the big row the same way;
#     with fail it stops just as streaming does.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_services

ID="$$_$RANDOM"
PREFIX="ov$ID"
SLOT="tw_ov_$ID"
S="tw_ov_$ID"
TOPIC="$PREFIX.$S.t"
dir=$(mktemp -d)
cleanup() {
    drop_test_objects "$S" "$SLOT"
    psql_standby -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE '${SLOT}%'" >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT

create_test_schema "$S" "
CREATE TABLE $S.t (id int PRIMARY KEY, v text);
ALTER TABLE $S.t ALTER COLUMN v SET STORAGE EXTERNAL;"

"$TW_PY" - "$TW_KAFKA_BOOTSTRAP" "$TOPIC" <<'PY' || fail "cannot create $TOPIC"
import sys
from confluent_kafka.admin import AdminClient, NewTopic
bootstrap, topic = sys.argv[1:3]
admin = AdminClient({"bootstrap.servers": bootstrap})
new = NewTopic(topic, num_partitions=1, replication_factor=-1,
               config={"max.message.bytes": "20000"})
admin.create_topics([new], operation_timeout=30)[topic].result(60)
PY

COMMON=(--set "source.conninfo=$TW_PG_STANDBY_DSN" --set "source.publication=${S}_pub"
    --set "kafka.bootstrap.servers=$TW_KAFKA_BOOTSTRAP" --set "topic.prefix=$PREFIX"
    --set status.interval.ms=200 --set http.listen=127.0.0.1:0)
# 96,000 characters of random hex: about 48,000 bytes even compressed (the
# topic's limit counts the compressed batch), well over 20,000.
BIG="(SELECT string_agg(md5(g::text || random()::text), '') FROM generate_series(1, 3000) g)"

# --- 1. fail ---------------------------------------------------------------
start_agent "$dir/a1.log" "${COMMON[@]}" --set "slot.name=$SLOT" --set snapshot.mode=never
psql_primary -c "INSERT INTO $S.t VALUES (1, 'small one')" >/dev/null
wait_messages "$PREFIX" "$TOPIC" 1
psql_primary -c "INSERT INTO $S.t VALUES (2, $BIG)" >/dev/null
big_lsn=$(psql_primary -c "SELECT pg_current_wal_lsn()")
psql_primary -c "INSERT INTO $S.t VALUES (3, 'after the big one')" >/dev/null
agent_ended_within 30 || fail "the agent is still running after an oversize row with on_oversize=fail"
[ "$AGENT_RC" -ne 0 ] || fail "the agent exited 0 after an oversize row with on_oversize=fail"
line=$(grep 'level=error' "$dir/a1.log" | grep "max.message.bytes" | head -n 1)
[ -n "$line" ] || fail "no error about max.message.bytes:
$(tail -n 20 "$dir/a1.log")"
for want in "$S.t" "key id=2" "max.message.bytes is 20000" "compressed" "on_oversize=skip" "op c"; do
    case "$line" in *"$want"*) ;; *) fail "the error does not say '$want': $line" ;; esac
done
note "fail: exit $AGENT_RC; $line"
grep 'level=warn' "$dir/a1.log" | grep -q "set kafka.batch.size=20000 or less" ||
    fail "no warning that the producer's batch.size exceeds the topic's limit"
n=$(consume "$PREFIX" "$TOPIC" | wc -l)
[ "$n" -eq 1 ] || fail "after the failure $TOPIC holds $n messages, want 1 (row 1 only)"
slot_flushed_past "$SLOT" "$big_lsn" && fail "the slot was acknowledged past the oversize row"

# --- 2. skip ---------------------------------------------------------------
PORT=$((20000 + RANDOM % 20000))
start_agent "$dir/a2.log" "${COMMON[@]}" --set "slot.name=$SLOT" --set snapshot.mode=never \
    --set on_oversize=skip --set "http.listen=127.0.0.1:$PORT"
# (at least once: row 1 may come again, so the ids are compared without
# repeats)
psql_primary -c "INSERT INTO $S.t VALUES (4, 'fourth')" >/dev/null
wait_messages "$PREFIX" "$TOPIC" 3
ids=$(consume "$PREFIX" "$TOPIC" | "$TW_PY" -c '
import json, sys
ids = [json.loads(l)["value"]["after"]["id"] for l in sys.stdin]
print(",".join(str(i) for i in dict.fromkeys(ids)))')
[ "$ids" = "1,3,4" ] || fail "with on_oversize=skip the topic holds ids $ids, want 1,3,4"
grep 'level=warn' "$dir/a2.log" | grep -q "skipped a change (op c) to table $S.t, key id=2" ||
    fail "no warning about the skipped change:
$(tail -n 20 "$dir/a2.log")"
metric=$(curl -fsS "http://127.0.0.1:$PORT/metrics" | grep "^tidewater_oversize_skipped_total{table=\"$S.t\"}" || true)
[ "$metric" = "tidewater_oversize_skipped_total{table=\"$S.t\"} 1" ] ||
    fail "metric: '$metric', want 1 skipped for $S.t"
stop_agent
note "skip: ids $ids, $metric"

# --- 3. snapshot -----------------------------------------------------------
# The table now holds rows 1..4, row 2 over the limit; a new prefix (fresh
# topic, with the broker's default limit) would take it, so the snapshot
# goes to the same small topic through a new slot.
n=$(consume "$PREFIX" "$TOPIC" | wc -l)
start_agent "$dir/a3.log" "${COMMON[@]}" --set "slot.name=${SLOT}_s" --set snapshot.mode=initial \
    --set on_oversize=skip
wait_messages "$PREFIX" "$TOPIC" $((n + 3))
grep 'level=warn' "$dir/a3.log" | grep -q "skipped a row of table $S.t (key id=2)" ||
    fail "the snapshot did not warn about the skipped row:
$(tail -n 20 "$dir/a3.log")"
snap=$(consume "$PREFIX" "$TOPIC" | "$TW_PY" -c '
import json, sys
print(",".join(str(json.loads(l)["value"]["after"]["id"]) for l in sys.stdin
               if json.loads(l)["value"]["op"] == "r"))')
[ "$snap" = "1,3,4" ] || fail "the snapshot published ids $snap, want 1,3,4"
stop_agent
psql_standby -c "SELECT pg_drop_replication_slot('${SLOT}_s')" >/dev/null

"$TW_BIN" run "${COMMON[@]}" --set "slot.name=${SLOT}_f" --set snapshot.mode=initial_only \
    >"$dir/a4.log" 2>&1 && fail "initial_only exited 0 with an oversize row and on_oversize=fail"
grep 'level=error' "$dir/a4.log" | grep -q "snapshot row of table $S.t (key id=2)" ||
    fail "the snapshot's error does not name the table and key:
$(tail -n 20 "$dir/a4.log")"
note "snapshot: skip published $snap; fail stopped with the row named"

# --- 4. a batch over the limit, each message under it ----------------------
# 60 rows of about 2,000 random hex characters in one transaction: every
# message fits the topic, the producer's batch (up to batch.size, 1 MB) does
# not. The broker refuses the batch; even with on_oversize=skip none of these
# rows may count as delivered: the agent says to lower kafka.batch.size and
# retries. With it lowered, every row arrives.
start_agent "$dir/a5.log" "${COMMON[@]}" --set "slot.name=$SLOT" --set snapshot.mode=never \
    --set on_oversize=skip
psql_primary -c "INSERT INTO $S.t SELECT 100 + g, (SELECT string_agg(md5(g::text || h::text || random()::text), '')
                 FROM generate_series(1, 62) h) FROM generate_series(1, 60) g" >/dev/null
batch_lsn=$(psql_primary -c "SELECT pg_current_wal_lsn()")
for _ in $(seq 1 300); do
    grep -q "lower kafka.batch.size" "$dir/a5.log" && break
    sleep 0.1
done
grep -q "lower kafka.batch.size" "$dir/a5.log" || fail "no error naming kafka.batch.size:
$(tail -n 20 "$dir/a5.log")"
grep -q "skipped a change.*key id=1[0-9][0-9]" "$dir/a5.log" &&
    fail "a row of a refused batch was skipped as oversize"
sleep 2
slot_flushed_past "$SLOT" "$batch_lsn" && fail "the slot passed the refused batch"
stop_agent
start_agent "$dir/a6.log" "${COMMON[@]}" --set "slot.name=$SLOT" --set snapshot.mode=never \
    --set on_oversize=skip --set kafka.batch.size=15000
wait_slot_flushed_past "$SLOT" "$batch_lsn" 60 ||
    fail "the slot did not pass the batch with kafka.batch.size=15000"
got=$(consume "$PREFIX" "$TOPIC" | "$TW_PY" -c '
import json, sys
ids = set()
for l in sys.stdin:
    v = json.loads(l)["value"]
    if v and v["op"] == "c" and v["after"]["id"] > 100:
        ids.add(v["after"]["id"])
print(len(ids))')
[ "$got" = 60 ] || fail "$got of the 60 rows arrived with kafka.batch.size=15000"
stop_agent
note "batch: refused without a skip; all 60 rows arrived with kafka.batch.size=15000"
note "ok"
