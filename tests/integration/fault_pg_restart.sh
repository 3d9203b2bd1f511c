#!/usr/bin/env bash
# Fault 3: the servers restarted mid-stream, under the steady workload.
#  a. The standby (the agent's server) is restarted (tests/env/ctl.sh): the
#     agent's replication session ends; the agent must say so, reconnect by
#     itself once the standby is back, and stream from its slot again.
#  b. The primary is restarted: the workload's session and the standby's
#     WAL receiver are cut and reconnect; the agent, on the standby, must go
#     on streaming what the standby replays after it.
# Then the oracle: 0 missing, 0 wrong, 0 extra; and the agent's sessions
# sent only reads.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=fault_lib.sh
. "$(dirname "$0")/fault_lib.sh"
require_services

ID="$$_$RANDOM"
PREFIX="fr$ID"
SLOT="tw_fr_$ID"
S="tw_fr_$ID"
APP="tw_fr_$ID"
dir=$(mktemp -d)
ctl() { bash "$TW_SOURCE_DIR/tests/env/ctl.sh" "$@" >>"$dir/ctl.log" 2>&1 || fail "ctl.sh $* failed: $(tail -n 5 "$dir/ctl.log")"; }
cleanup() {
    workload_stop >/dev/null 2>&1
    bash "$TW_SOURCE_DIR/tests/env/ctl.sh" start primary >/dev/null 2>&1 || true
    bash "$TW_SOURCE_DIR/tests/env/ctl.sh" start standby >/dev/null 2>&1 || true
    reset_statement_logging
    fault_cleanup
}
trap cleanup EXIT

# wait_log PATTERN COUNT SECONDS: the agent's log has COUNT lines matching.
wait_log() {
    for _ in $(seq 1 $(($3 * 5))); do
        [ "$(grep -c -- "$1" "$AGENT_LOG" || true)" -ge "$2" ] && return 0
        kill -0 "$AGENT_PID" 2>/dev/null || fail "the agent exited"
        sleep 0.2
    done
    fail "the agent's log did not have $2 lines with '$1' within $3 s"
}
# changes_flow SECONDS: the slot moves past the primary's position of now.
changes_flow() { wait_caught_up "$SLOT" "$1"; }

fault_setup "$S"
log_all_statements
workload_start "$S" 20
agent_args "$S" "$SLOT" "$PREFIX" "$APP"
start_agent "$dir/agent.log" "${AGENT_ARGS[@]}"
sleep 3

# a. The standby.
ctl restart standby
note "standby restarted"
wait_log 'msg="streaming slot' 2 60
grep -q 'replication stream.*; reconnecting' "$AGENT_LOG" || fail "the agent's log does not say it lost the standby and reconnects"
grep -q 'restarting in [0-9]* s from the last acknowledged commit' "$AGENT_LOG" ||
    fail "the agent's log does not say where it restarts from"
note "agent: $(grep -m 1 'reconnecting' "$AGENT_LOG" | sed 's/.*msg=//')"
note "agent: $(grep -m 1 'restarting in' "$AGENT_LOG" | sed 's/.*msg=//')"
sleep 3
changes_flow 60
note "changes flow again after the standby's restart"

# b. The primary. (Reconnecting after the standby's restart may itself take
# more than one attempt while the standby is still starting up; the primary's
# restart must add none.)
restarts_before=$(grep -c 'restarting in' "$AGENT_LOG" || true)
standby_log_start=$(wc -l <"$TW_PG_STANDBY_LOG")
ctl restart primary
note "primary restarted"
sleep 3
changes_flow 60
tail -n +"$((standby_log_start + 1))" "$TW_PG_STANDBY_LOG" | grep -aq 'started streaming WAL from primary' ||
    fail "the standby's log does not show its WAL receiver connecting again"
restarts=$(grep -c 'restarting in' "$AGENT_LOG" || true)
[ "$restarts" -eq "$restarts_before" ] ||
    fail "the agent restarted $((restarts - restarts_before)) time(s) after the primary's restart; only the standby's should make it"
note "changes flow again after the primary's restart"
workload_stop
grep -q 'failed_batches=0' "$dir/workload.out" &&
    fail "no workload session was cut by the primary's restart: was it restarted?"
wait_caught_up "$SLOT" 60
stop_agent
note "agent restarts: $(grep -c 'restarting in' "$AGENT_LOG" || true); streaming starts: $(grep -c 'msg="streaming slot' "$AGENT_LOG")"

oracle "$PREFIX" "$S"
assert_read_only "$APP" 10 IDENTIFY_SYSTEM START_REPLICATION
note "$RO_COUNT statements from the agent's sessions, all reads"
