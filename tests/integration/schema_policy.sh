#!/usr/bin/env bash
# schema.on_breaking_change (DESIGN.md "Schema fingerprints and drift"), with
# the catalog check off so that the stream's Relation message is what finds
# the change:
#   pause: rows of the new shape are not published, the slot's flush position
#          stays before them, the replication connection stays up (status
#          updates keep arriving), /readyz says why; the pause survives a
#          restart; `tidewater schemas accept` (via the agent's HTTP
#          endpoint) resumes with every row delivered once.
#   fail:  the agent exits non-zero naming the table and the change; after
#          `tidewater schemas accept` (no agent running: written to the store)
#          it starts and delivers the rows.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_services
use_target

ID="$$_$RANDOM"
PREFIX="sp$ID"
SLOT="tw_sp_$ID"
S="tw_sp_$ID"
PORT=$((20000 + RANDOM % 20000))
dir=$(mktemp -d)
cleanup() {
    drop_test_objects "$S" "$SLOT"
    rm -rf "$dir"
}
trap cleanup EXIT

create_test_schema "$S" "CREATE TABLE $S.p (id int PRIMARY KEY, c bigint NOT NULL);"
ARGS=(--set "source.conninfo=$DSN" --set "source.publication=${S}_pub"
    --set "kafka.bootstrap.servers=$TW_KAFKA_BOOTSTRAP" --set "slot.name=$SLOT"
    --set "topic.prefix=$PREFIX" --set "http.listen=127.0.0.1:$PORT"
    --set "schema.check.interval.ms=0" --set "status.interval.ms=500")
URL="http://127.0.0.1:$PORT"
TOPIC="$PREFIX.$S.p"
EVENTS="$PREFIX.schema_changes"

count() { consume "$PREFIX" "$1" 2>/dev/null | wc -l; }
readyz() { curl -s -o "$dir/readyz.txt" -w '%{http_code}' "$URL/readyz"; }
walsender() {
    psql_target -c "SELECT pid || ' ' || coalesce(extract(epoch FROM reply_time)::text, '')
                    FROM pg_stat_replication WHERE application_name = 'tidewater'
                    AND pid = (SELECT active_pid FROM pg_replication_slots WHERE slot_name = '$SLOT')"
}

# ---- pause ----
start_agent "$dir/agent1.log" "${ARGS[@]}" --set "schema.on_breaking_change=pause"
psql_primary -c "INSERT INTO $S.p VALUES (1, 1)" >/dev/null
wait_messages "$PREFIX" "$TOPIC" 1
psql_primary -c "ALTER TABLE $S.p ALTER COLUMN c TYPE int" >/dev/null
psql_primary <<SQL >/dev/null
BEGIN;
INSERT INTO $S.p VALUES (2, 2);
INSERT INTO $S.p VALUES (3, 3);
COMMIT;
SQL
HELD_LSN=$(psql_primary -c "SELECT pg_current_wal_lsn()")
wait_messages "$PREFIX" "$EVENTS" 1
for _ in $(seq 1 40); do [ "$(readyz)" = 503 ] && break; sleep 0.25; done
[ "$(readyz)" = 503 ] && grep -q "paused: table $S.p" "$dir/readyz.txt" ||
    fail "/readyz does not say the agent is paused: $(cat "$dir/readyz.txt")"
before=$(walsender)
[ -n "$before" ] || fail "no walsender serves the slot while paused"
sleep 4
after=$(walsender)
[ "${before%% *}" = "${after%% *}" ] || fail "the replication connection changed while paused ($before / $after)"
[ "${before#* }" != "${after#* }" ] || fail "no status updates arrived while paused (reply_time $before)"
[ "$(count "$TOPIC")" = 1 ] || fail "rows of the new shape were published while paused"
slot_flushed_past "$SLOT" "$HELD_LSN" && fail "the slot's flush position passed the held rows ($HELD_LSN)"
grep -q "reconnecting" "$AGENT_LOG" && fail "the agent reconnected while paused"
note "pause: rows held, flush position held, connection up with status updates, /readyz 503"

# The pause is in the store: a restart pauses again.
stop_agent
start_agent "$dir/agent2.log" "${ARGS[@]}" --set "schema.on_breaking_change=pause"
for _ in $(seq 1 60); do [ "$(readyz)" = 503 ] && break; sleep 0.25; done
[ "$(readyz)" = 503 ] || fail "after a restart the table is not paused: $(cat "$dir/readyz.txt")"
[ "$(count "$TOPIC")" = 1 ] || fail "rows were published after the restart while paused"
[ "$(count "$EVENTS")" = 1 ] || fail "the restart reported the paused change again"

"$TW_BIN" schemas accept "$S.p" "${ARGS[@]}" >"$dir/accept.txt" 2>&1 ||
    fail "schemas accept failed: $(cat "$dir/accept.txt")"
grep -q "accepted $S.p" "$dir/accept.txt" || fail "schemas accept said: $(cat "$dir/accept.txt")"
wait_messages "$PREFIX" "$TOPIC" 3
for _ in $(seq 1 40); do [ "$(readyz)" = 200 ] && break; sleep 0.25; done
[ "$(readyz)" = 200 ] || fail "/readyz after accept: $(cat "$dir/readyz.txt")"
wait_slot_flushed_past "$SLOT" "$HELD_LSN" 30 || fail "the flush position did not pass the rows after accept"
rc=0
"$TW_BIN" schemas accept "$S.p" "${ARGS[@]}" >"$dir/accept2.txt" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "nothing to accept" "$dir/accept2.txt" ||
    fail "a second accept (exit $rc): $(cat "$dir/accept2.txt")"
stop_agent
consume "$PREFIX" "$TOPIC" >"$dir/rows.jsonl"
consume "$PREFIX" "$EVENTS" >"$dir/events.jsonl"
"$TW_PY" - "$dir" <<'PY' || fail "rows or event after accept differ (see above)"
import json, sys
d = sys.argv[1]
rows = [json.loads(l)["value"]["after"] for l in open(f"{d}/rows.jsonl")]
ev = [json.loads(l)["value"] for l in open(f"{d}/events.jsonl")]
bad = []
if rows != [{"id": 1, "c": 1}, {"id": 2, "c": 2}, {"id": 3, "c": 3}]:
    bad.append(f"rows {rows}")
if len(ev) != 1 or (ev[0]["action"], ev[0]["compatibility"], ev[0]["detected_by"]) != ("pause", "FORWARD", "stream"):
    bad.append(f"events {[(e['action'], e['compatibility'], e['detected_by']) for e in ev]}")
elif not (ev[0]["lsn"] and ev[0]["commit_ts_ms"]):
    bad.append("the stream-detected event has no lsn/commit time")
for b in bad:
    print("  " + b)
sys.exit(1 if bad else 0)
PY
note "pause survives a restart; accept over HTTP resumes: rows 1-3 once each, one event (pause, FORWARD, stream)"

# ---- pause found by the catalog check, then a compatible change ----
# The waiting pause must survive the second change (FULL against the
# unaccepted shape) and hold the rows that follow.
psql_primary -c "CREATE TABLE $S.q (id int PRIMARY KEY, c bigint NOT NULL)" \
    -c "GRANT SELECT ON $S.q TO tidewater" >/dev/null
start_agent "$dir/agent3.log" "${ARGS[@]}" --set "schema.on_breaking_change=pause" \
    --set "schema.check.interval.ms=500"
psql_primary -c "INSERT INTO $S.q VALUES (1, 1)" >/dev/null
wait_messages "$PREFIX" "$PREFIX.$S.q" 1
psql_primary -c "ALTER TABLE $S.q ALTER COLUMN c TYPE int" >/dev/null
wait_messages "$PREFIX" "$EVENTS" 3 # p paused, q added (at startup), q altered
curl -fsS "$URL/metrics" >"$dir/metrics.txt"
grep -q "tidewater_schema_paused{table=\"$S.q\"} 1" "$dir/metrics.txt" ||
    fail "a pause found by the catalog check does not show in tidewater_schema_paused"
psql_primary -c "ALTER TABLE $S.q ADD COLUMN e int" >/dev/null
wait_messages "$PREFIX" "$EVENTS" 4
psql_primary -c "INSERT INTO $S.q VALUES (2, 2, 2)" >/dev/null
for _ in $(seq 1 40); do [ "$(readyz)" = 503 ] && break; sleep 0.25; done
[ "$(readyz)" = 503 ] || fail "the later compatible change lifted the waiting pause"
sleep 2
[ "$(count "$PREFIX.$S.q")" = 1 ] || fail "rows were published past a waiting pause"
"$TW_BIN" schemas accept "$S.q" "${ARGS[@]}" >"$dir/accept4.txt" 2>&1 ||
    fail "schemas accept of q: $(cat "$dir/accept4.txt")"
wait_messages "$PREFIX" "$PREFIX.$S.q" 2
stop_agent
consume "$PREFIX" "$EVENTS" | "$TW_PY" -c '
import json, sys
ev = [json.loads(l)["value"] for l in sys.stdin]
ev = [e for e in ev if e["table"] == "q" and e["kind"] == "altered"]
got = [(e["table"], e["compatibility"], e["action"], e["detected_by"]) for e in ev]
assert got == [("q", "FORWARD", "pause", "catalog_check"), ("q", "FULL", "pause", "catalog_check")], got
' || fail "events of the catalog-found pause differ"
note "a pause found by the catalog check stays through a later compatible change until accepted"

# ---- fail ----
start_agent "$dir/agent4.log" "${ARGS[@]}" --set "schema.on_breaking_change=fail"
psql_primary -c "ALTER TABLE $S.p RENAME COLUMN c TO d" -c "INSERT INTO $S.p VALUES (4, 4)" >/dev/null
agent_ended_within 30 || fail "with schema.on_breaking_change=fail the agent kept running"
[ "$AGENT_RC" -ne 0 ] || fail "the agent exited 0 after a breaking change with policy fail"
grep -q "table $S.p changed incompatibly (NONE, BACKWARD required): renamed d c -> d" "$AGENT_LOG" ||
    fail "the exit message does not name the table and the change:
$(tail -n 5 "$AGENT_LOG")"
[ "$(count "$TOPIC")" = 3 ] || fail "the row of the new shape was published under policy fail"
n=$(count "$EVENTS")
[ "$n" = 5 ] || fail "want 5 events (the last: action fail), have $n"
# Still failing at the next start, until accepted.
rc=0
"$TW_BIN" run "${ARGS[@]}" --set "schema.on_breaking_change=fail" >"$dir/again.log" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "the second start with the unaccepted change exited 0"
"$TW_BIN" schemas accept "$S.p" "${ARGS[@]}" >"$dir/accept3.txt" 2>&1 ||
    fail "offline schemas accept failed: $(cat "$dir/accept3.txt")"
grep -q "no agent was running" "$dir/accept3.txt" || fail "accept: $(cat "$dir/accept3.txt")"
start_agent "$dir/agent5.log" "${ARGS[@]}" --set "schema.on_breaking_change=fail"
wait_messages "$PREFIX" "$TOPIC" 4
stop_agent
note "fail: exit $rc naming the table and change; offline accept; the next start delivers the row"
