#!/usr/bin/env bash
# Fault 5: the agent's slot is invalidated while the agent is stopped.
#
# A standby of the test's own (fault_standby_lib.sh) with
# max_slot_wal_keep_size=1MB: the agent streams from a slot on it under the
# fault tests' steady workload (fault_workload.sh) on the primary and is
# stopped; the
# workload goes on, the primary moves to new WAL segments and checkpoints,
# and the standby's restartpoint removes the WAL the slot still needed,
# which invalidates the slot (wal_status lost, invalidation_reason
# wal_removed). Then:
#  a. `tidewater check` fails the slot check, and `tidewater run` with
#     snapshot.mode=initial exits non-zero, leaving the slot alone, with an
#     error that says the slot is invalidated and why, and names the fixes
#     (snapshot.mode=when_needed, or dropping it and snapshot.mode=never);
#     snapshot.mode=never exits with the same error;
#  b. with snapshot.mode=when_needed the agent drops the slot, creates it
#     again, takes a new snapshot and streams; the oracle
#     (snapshot_oracle.py run --from-latest-snapshot) replays every topic
#     from its table's new snapshot on (as README tells consumers) and finds
#     it equal to the standby's tables: 0 missing, 0 wrong, 0 extra, no gap;
#     rows changed behind the agent's back are reported (it can fail).
# Every statement the agent sent to the standby is a read.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_services
# shellcheck source=fault_lib.sh
. "$(dirname "$0")/fault_lib.sh"
# shellcheck source=fault_standby_lib.sh
. "$(dirname "$0")/fault_standby_lib.sh"

ID="$$_$RANDOM"
PREFIX="fi$ID"
SLOT="tw_fi_$ID"
S="tw_fi_$ID"
APP="tw_fi_$ID"
dir=$(mktemp -d)
# The agent's slot lives on the extra server and goes with it.
cleanup() {
    fault_cleanup
    extra_standby_destroy
}
trap cleanup EXIT

slot_state() {
    psql_extra -c "SELECT coalesce(wal_status, '') || ' ' || coalesce(invalidation_reason, '-') FROM pg_replication_slots WHERE slot_name = '$SLOT'"
}

fault_setup "$S"
extra_standby_create max_slot_wal_keep_size=1MB
note "extra standby on :$EXTRA_PORT with max_slot_wal_keep_size=1MB (physical slot $EXTRA_SLOT on the primary)"

agent_args "$S" "$SLOT" "$PREFIX" "$APP" "$EXTRA_DSN"
args=("${AGENT_ARGS[@]}")
start_agent "$dir/agent.log" "${args[@]}"
workload_start "$S" 20
sleep 5
stop_agent
note "agent stopped; slot: $(slot_state)"

# Starve the slot, the workload still running: the primary moves to a new
# WAL segment and checkpoints; the standby replays that and makes a
# restartpoint, which removes WAL older than max_slot_wal_keep_size allows
# and so invalidates the slot that still needs it.
invalidated=""
for i in $(seq 1 20); do
    psql_primary -c "SELECT pg_switch_wal()" -c "CHECKPOINT" >/dev/null
    wait_replayed "$EXTRA_SUPERUSER_DSN"
    psql_extra -c "CHECKPOINT" >/dev/null
    state=$(slot_state)
    case "$state" in lost*) invalidated=$i && break ;; esac
    sleep 0.5
done
[ -n "$invalidated" ] || fail "the slot was not invalidated after 20 WAL switches and restartpoints: $state"
note "slot invalidated after $invalidated WAL switch(es) and restartpoint(s): wal_status/invalidation_reason $state"

# a. check says so; run with snapshot.mode=initial exits non-zero with the fix.
run_check --set "source.conninfo=$EXTRA_DSN" --set "source.publication=${S}_pub" --set "slot.name=$SLOT" \
    --set "source.application_name=$APP"
expect_rc 1
expect_check FAIL slot "invalidated"
rc=0
timeout 60 "$TW_BIN" run "${args[@]}" --set snapshot.mode=initial >"$dir/initial.log" 2>&1 || rc=$?
# 1: a fatal error (a sanitizer finding exits 86-88, a hang 124).
if [ "$rc" -ne 1 ]; then
    fail "snapshot.mode=initial with an invalidated slot exited $rc, want 1 (a fatal error):
$(tail -n 5 "$dir/initial.log")"
fi
line=$(grep 'level=error' "$dir/initial.log" | grep "slot '$SLOT' is invalidated" | head -n 1)
[ -n "$line" ] || fail "no error explaining the invalidated slot:
$(tail -n 5 "$dir/initial.log")"
case "$line" in
*wal_status=lost*invalidation_reason=wal_removed*max_slot_wal_keep_size*snapshot.mode=when_needed*snapshot.mode=never*) ;;
*) fail "the error does not give the slot's state and its cause (wal_status, invalidation_reason) and name the fixes (snapshot.mode=when_needed or never): $line" ;;
esac
[ "$(slot_state)" = "$state" ] || fail "snapshot.mode=initial changed the slot: $(slot_state)"
note "snapshot.mode=initial: exit $rc, $line"
rc=0
timeout 60 "$TW_BIN" run "${args[@]}" --set snapshot.mode=never >"$dir/never.log" 2>&1 || rc=$?
if [ "$rc" -ne 1 ] || ! grep -q "level=error.*slot '$SLOT' is invalidated" "$dir/never.log"; then
    fail "snapshot.mode=never with an invalidated slot exited $rc, want 1 with the same error:
$(tail -n 5 "$dir/never.log")"
fi

# b. when_needed: a new slot, a new snapshot, streaming.
start_agent "$dir/agent.log" "${args[@]}" --set snapshot.mode=when_needed
grep -q "slot '$SLOT' is invalidated.*drops it and takes a new snapshot" "$dir/agent.log" ||
    fail "the log does not say the invalidated slot is dropped for a new snapshot"
case "$(slot_state)" in
reserved* | extended*) ;;
*) fail "the slot was not created again: $(slot_state)" ;;
esac
sleep 5
workload_stop_clean
wait_caught_up "$SLOT" 60 "$EXTRA_SUPERUSER_DSN"
stop_agent
grep -c 'msg="snapshot complete' "$dir/agent.log" | grep -qx 2 || fail "expected two completed snapshots in the log"

oracle "$PREFIX" "$S" "$EXTRA_SUPERUSER_DSN" --from-latest-snapshot
assert_read_only --log="$EXTRA_LOG" --allow="DROP_REPLICATION_SLOT \"$SLOT\"" "$APP" 10 \
    IDENTIFY_SYSTEM CREATE_REPLICATION_SLOT START_REPLICATION "COPY (SELECT" DROP_REPLICATION_SLOT
note "$RO_COUNT statements from application_name=$APP on the extra standby, all reads"
oracle_can_fail "$PREFIX" "$S" "$EXTRA_SUPERUSER_DSN" --from-latest-snapshot
