#!/usr/bin/env bash
# Fault 1: kill -9 of the agent at random moments. Under the steady workload
# (fault_workload.sh), the agent takes its snapshot and streams; then
# TW_FAULT_KILLS cycles (default 5) each start it and SIGKILL it after a
# random 1-4 s of life: while it connects, reads its slot, decodes,
# publishes, waits for acknowledgements. None may end on its own before the
# kill (a crash). Then the workload stops, a last run catches up and stops
# with SIGTERM, and the oracle replays every topic: 0 missing, 0 wrong, 0
# extra, no change missing inside a transaction (duplicates are legal after
# a crash and only counted). Every statement of the agent's sessions is a
# read (the read-only proof of read_only.sh).
#   TW_FAULT_KILLS=100 bash tests/integration/fault_kill.sh   # the long run
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=fault_lib.sh
. "$(dirname "$0")/fault_lib.sh"
require_services

KILLS=${TW_FAULT_KILLS:-5}
case "$KILLS" in '' | *[!0-9]* | 0) fail "TW_FAULT_KILLS must be a positive integer, not '$KILLS'" ;; esac
ID="$$_$RANDOM"
PREFIX="fk$ID"
SLOT="tw_fk_$ID"
S="tw_fk_$ID"
APP="tw_fk_$ID"
dir=$(mktemp -d)
# TW_KEEP_DIR=path keeps the logs for a post-mortem (fault_cleanup).
cleanup() {
    workload_stop >/dev/null 2>&1
    reset_statement_logging
    fault_cleanup
}
trap cleanup EXIT

fault_setup "$S"
log_all_statements
workload_start "$S" 20
agent_args "$S" "$SLOT" "$PREFIX" "$APP"
start_agent "$dir/agent.log" "${AGENT_ARGS[@]}"
sleep 1

for i in $(seq 1 "$KILLS"); do
    if [ "$i" -gt 1 ]; then
        "$TW_BIN" run "${AGENT_ARGS[@]}" >>"$dir/agent.log" 2>&1 &
        AGENT_PID=$!
        ms=$((1000 + RANDOM % 3001))
        sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
    fi
    kill -0 "$AGENT_PID" 2>/dev/null || {
        rc=0
        wait "$AGENT_PID" || rc=$?
        fail "cycle $i: the agent ended by itself (exit $rc) before its SIGKILL"
    }
    kill -9 "$AGENT_PID"
    wait "$AGENT_PID" 2>/dev/null || true
    AGENT_PID=""
    echo "--- SIGKILL $i" >>"$dir/agent.log"
done
note "$KILLS SIGKILLs"
workload_stop_clean

start_agent "$dir/agent.log" "${AGENT_ARGS[@]}"
wait_caught_up "$SLOT" 120
stop_agent
starts=$(grep -c 'msg="streaming slot' "$dir/agent.log" || true)
note "the agent streamed in $starts of $((KILLS + 1)) runs (a run killed early may not get there)"
[ "$starts" -ge 2 ] || fail "the agent streamed in only $starts runs"
if grep -a 'level=error' "$dir/agent.log" | grep -v 'is active for PID' >"$dir/errors"; then
    note "errors logged (expected only around the kills): $(sort "$dir/errors" | uniq -c | head -n 5)"
fi

oracle "$PREFIX" "$S"
assert_read_only "$APP" 10 IDENTIFY_SYSTEM START_REPLICATION
note "$RO_COUNT statements from the agent's sessions, all reads"
oracle_can_fail "$PREFIX" "$S"
