#!/usr/bin/env bash
# At least once across restarts: while 4000 single-row transactions commit on
# the primary, the agent is stopped with SIGTERM and restarted, then killed
# with SIGKILL and restarted. Afterwards every row is in Kafka; a SIGTERM
# costs no duplicate (it flushes and reports before exiting); duplicates
# after the SIGKILL come only from the unacknowledged tail and carry the same
# tidewater.lsn/xid/seq headers as the first copy.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_services

ID="$$_$RANDOM"
PREFIX="rs$ID"
SLOT="tw_rs_$ID"
S="tw_rs_$ID"
N=4000
dir=$(mktemp -d)
cleanup() {
    [ -n "${load_pid:-}" ] && kill "$load_pid" 2>/dev/null || true
    drop_test_objects "$S" "$SLOT"
    rm -rf "$dir"
}
trap cleanup EXIT

create_test_schema "$S" "
CREATE TABLE $S.t (id int PRIMARY KEY, v text);"
args=(--set "source.conninfo=$TW_PG_STANDBY_DSN" --set "source.publication=${S}_pub"
    --set "kafka.bootstrap.servers=$TW_KAFKA_BOOTSTRAP" --set "slot.name=$SLOT"
    --set "topic.prefix=$PREFIX" --set status.interval.ms=500)
start_agent "$dir/agent.log" "${args[@]}"

# One transaction per row, about 1000 per second.
for i in $(seq 1 "$N"); do echo "INSERT INTO $S.t VALUES ($i, 'row $i');"; done >"$dir/load.sql"
psql_primary -f "$dir/load.sql" >/dev/null &
load_pid=$!

sleep 1.5
stop_agent
note "SIGTERM mid-stream: exit 0"
start_agent "$dir/agent.log" "${args[@]}"
sleep 1.5
kill -9 "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null || true
note "SIGKILL mid-stream"
start_agent "$dir/agent.log" "${args[@]}"
wait "$load_pid"
load_pid=""
running=$(psql_primary -c "SELECT count(*) FROM $S.t")
[ "$running" -eq "$N" ] || fail "the workload committed $running rows, want $N"
wait_standby_replay
T="$PREFIX.$S.t"
wait_messages "$PREFIX" "$T" "$N"
stop_agent
consume "$PREFIX" "$T" >"$dir/t.jsonl"

"$TW_PY" - "$dir/t.jsonl" "$N" <<'PY' || fail "changes were lost or duplicates are not identifiable"
import json, sys
msgs = [json.loads(l) for l in open(sys.argv[1])]
n = int(sys.argv[2])
ids = {m["key"]["id"] for m in msgs}
missing = sorted(set(range(1, n + 1)) - ids)
first = {}
dups = 0
bad = []
for m in msgs:
    h = m["headers"]
    ident = (h["tidewater.lsn"], h["tidewater.xid"], h["tidewater.seq"])
    body = (m["key"], m["value"]["after"], m["value"]["op"])
    if ident in first:
        dups += 1
        if first[ident] != body:
            bad.append(f"{ident}: {first[ident]} then {body}")
    else:
        first[ident] = body
if missing:
    print(f"{len(missing)} rows missing, e.g. {missing[:10]}")
for b in bad[:10]:
    print("same headers, different content:", b)
print(f"{len(msgs)} messages for {n} rows: {dups} duplicates, all with identical headers and content"
      if not bad else "")
sys.exit(1 if missing or bad or len(first) != n else 0)
PY
# SIGTERM must not have caused duplicates: its restart resumed exactly.
term_resume=$(grep -c 'msg="stopped; flushed to' "$dir/agent.log")
[ "$term_resume" -ge 2 ] || fail "expected two clean stops in the log, found $term_resume"
note "$N rows: none lost across SIGTERM and SIGKILL"
