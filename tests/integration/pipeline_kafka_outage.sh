#!/usr/bin/env bash
# Kafka goes away mid-stream: the broker is stopped for 15 s while single-row
# transactions keep committing, then started again. The agent stays up (the
# producer retries; with its queue full it stops reading the server), and
# afterwards every row is in Kafka. (The 60-second version with memory
# figures belongs to the reliability tests.)
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_services

ID="$$_$RANDOM"
PREFIX="ko$ID"
SLOT="tw_ko_$ID"
S="tw_ko_$ID"
N=3000
dir=$(mktemp -d)
cleanup() {
    [ -n "${load_pid:-}" ] && kill "$load_pid" 2>/dev/null || true
    bash "$TW_SOURCE_DIR/tests/env/ctl.sh" start kafka >/dev/null 2>&1 || true
    drop_test_objects "$S" "$SLOT"
    rm -rf "$dir"
}
trap cleanup EXIT

create_test_schema "$S" "
CREATE TABLE $S.t (id int PRIMARY KEY, v text);"
start_agent "$dir/agent.log" --set "source.conninfo=$TW_PG_STANDBY_DSN" \
    --set "source.publication=${S}_pub" --set "kafka.bootstrap.servers=$TW_KAFKA_BOOTSTRAP" \
    --set "slot.name=$SLOT" --set "topic.prefix=$PREFIX" --set status.interval.ms=1000
# The table's topic and schemas exist before the outage.
psql_primary -c "INSERT INTO $S.t VALUES (0, 'before')" >/dev/null
wait_messages "$PREFIX" "$PREFIX.$S.t" 1

for i in $(seq 1 "$N"); do echo "INSERT INTO $S.t VALUES ($i, 'row $i');"; done >"$dir/load.sql"
psql_primary -f "$dir/load.sql" >/dev/null &
load_pid=$!
sleep 1
bash "$TW_SOURCE_DIR/tests/env/ctl.sh" stop kafka >/dev/null
note "broker stopped"
sleep 15
kill -0 "$AGENT_PID" 2>/dev/null || fail "the agent exited while Kafka was down"
bash "$TW_SOURCE_DIR/tests/env/ctl.sh" start kafka >/dev/null
note "broker started again"
wait "$load_pid"
load_pid=""
wait_messages "$PREFIX" "$PREFIX.$S.t" $((N + 1))
stop_agent
consume "$PREFIX" "$PREFIX.$S.t" >"$dir/t.jsonl"
"$TW_PY" - "$dir/t.jsonl" "$N" <<'PY' || fail "rows were lost during the Kafka outage"
import json, sys
n = int(sys.argv[2])
ids = {json.loads(l)["key"]["id"] for l in open(sys.argv[1])}
missing = sorted(set(range(0, n + 1)) - ids)
print(f"{len(ids)} distinct rows in Kafka, {len(missing)} missing {missing[:10]}")
sys.exit(1 if missing else 0)
PY
note "$N rows through a 15 s Kafka outage: none lost"
