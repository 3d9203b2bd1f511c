#!/usr/bin/env bash
# A recovery conflict on the standby during the snapshot: with
# max_standby_streaming_delay=1s on the standby, an ALTER TABLE on the
# primary (its AccessExclusiveLock, replayed on the standby, conflicts with
# the snapshot's locks) makes the standby cancel the snapshot's reads. The
# agent must say so, naming hot_standby_feedback and
# max_standby_streaming_delay with its current value, then take the
# snapshot again (the table changed shape, so not a resume: its own slot is
# dropped) and finish: the topic holds every row of the table.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_services

ID="$$_$RANDOM"
PREFIX="sc$ID"
SLOT="tw_sc_$ID"
S="tw_sc_$ID"
ROWS=${TW_SNAPSHOT_CONFLICT_ROWS:-600000}
dir=$(mktemp -d)
restore() {
    psql_standby -c "ALTER SYSTEM RESET max_standby_streaming_delay" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
    drop_test_objects "$S" "$SLOT"
    rm -rf "$dir"
}
trap restore EXIT

create_test_schema "$S" "
CREATE TABLE $S.t (id bigint PRIMARY KEY, v text);
INSERT INTO $S.t SELECT g, 'row ' || g FROM generate_series(1, $ROWS) g;
ANALYZE $S.t;"
psql_standby -c "ALTER SYSTEM SET max_standby_streaming_delay = '1s'" -c "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 1 50); do
    [ "$(psql_standby -c 'SHOW max_standby_streaming_delay')" = 1s ] && break
    sleep 0.1
done

# A small producer queue slows the snapshot down (backpressure), so its
# reads (and locks) are still open when the standby's 1 s runs out.
args=(--set "source.conninfo=$TW_PG_STANDBY_DSN" --set "source.publication=${S}_pub"
    --set "kafka.bootstrap.servers=$TW_KAFKA_BOOTSTRAP" --set "slot.name=$SLOT"
    --set "topic.prefix=$PREFIX" --set snapshot.max.threads=2 --set http.listen=
    --set kafka.queue.buffering.max.messages=2000)
log="$dir/agent.log"
(while sleep 0.3; do psql_primary -c "SELECT pg_log_standby_snapshot()" >/dev/null 2>&1; done) &
ticker=$!
"$TW_BIN" run "${args[@]}" >>"$log" 2>&1 &
AGENT_PID=$!
AGENT_LOG=$log
for _ in $(seq 1 600); do
    grep -q 'msg="reading 1 table(s)' "$log" && break
    sleep 0.02
done
grep -q 'msg="reading 1 table(s)' "$log" || fail "the snapshot did not start"
psql_primary -c "ALTER TABLE $S.t ADD COLUMN extra int" >/dev/null
for _ in $(seq 1 600); do
    grep -q 'msg="streaming slot' "$log" && break
    kill -0 "$AGENT_PID" 2>/dev/null || break
    sleep 0.1
done
kill "$ticker" 2>/dev/null || true
wait "$ticker" 2>/dev/null || true
grep -q 'msg="streaming slot' "$log" || fail "the agent did not finish the snapshot and stream"
grep -q 'conflict with recovery' "$log" ||
    fail "no recovery conflict was reported (did the snapshot end within 1 s?): $(grep component=snapshot "$log" | tail -n 5)"
grep -q 'set hot_standby_feedback=on on the standby and raise max_standby_streaming_delay (now 1s)' "$log" ||
    fail "the conflict was not explained with the settings: $(grep -m1 'conflict with recovery' "$log")"
grep -q "changed its schema since" "$log" ||
    fail "the agent did not say why it could not resume: $(grep component=snapshot "$log" | tail -n 5)"
grep -q 'msg="snapshot complete' "$log" || fail "no complete snapshot"
stop_agent
n=$("$TW_BIN" consume --set "kafka.bootstrap.servers=$TW_KAFKA_BOOTSTRAP" --set "topic.prefix=$PREFIX" \
    --topic "$PREFIX.$S.t" --from-beginning --until-end 2>/dev/null |
    "$TW_PY" -c 'import json, sys
ids = set()
for l in sys.stdin:
    v = json.loads(l)["value"]
    if v and v["op"] == "r" and "extra" in v["after"]:
        ids.add(v["after"]["id"])
print(len(ids))')
[ "$n" -eq "$ROWS" ] || fail "the completed snapshot (new shape, with column extra) has $n rows, want $ROWS"
note "recovery conflict reported with max_standby_streaming_delay; snapshot taken again in the new shape: $n rows"
note OK
