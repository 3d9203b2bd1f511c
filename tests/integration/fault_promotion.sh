#!/usr/bin/env bash
# Fault 4: the agent's standby is promoted to primary mid-stream.
#
# A standby of the test's own (fault_standby_lib.sh; the shared standby must
# stay a standby) streams from the shared primary; the agent streams from a
# slot on it while the fault tests' steady workload (fault_workload.sh) runs
# on the primary. Then the standby is promoted (pg_promote): from then on it
# is a primary of its own, the shared primary's later writes never reach it,
# and the workload goes on against it instead (every statement of it must
# succeed there). The agent must keep streaming from its slot on the
# promoted server (reconnecting if the server ends the session), say in its
# log that the server was promoted, and at the end the oracle
# (snapshot_oracle.py run) finds every topic replayed equal to the promoted
# server's tables: 0 missing, 0 wrong, 0 extra, no gap; rows changed behind
# the agent's back are reported (the oracle can fail). Every statement the
# agent sent is a read.
#
# PostgreSQL 16+ keeps a logical walsender's session on a standby open
# through the promotion (it follows the new timeline), so the agent notices
# the promotion by asking the server. TW_PROMOTION_END_SESSION=1 (the
# fault_promotion_reconnect test) also terminates the agent's walsender
# right after the promotion, as a server or proxy that ends the session
# would: the agent reconnects to the promoted server and streams from its
# slot there.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_services
# shellcheck source=fault_lib.sh
. "$(dirname "$0")/fault_lib.sh"
# shellcheck source=fault_standby_lib.sh
. "$(dirname "$0")/fault_standby_lib.sh"

ID="$$_$RANDOM"
PREFIX="fp$ID"
SLOT="tw_fp_$ID"
S="tw_fp_$ID"
APP="tw_fp_$ID"
SECONDS_BEFORE=${TW_PROMOTION_BEFORE_S:-10}
SECONDS_AFTER=${TW_PROMOTION_AFTER_S:-10}
dir=$(mktemp -d)
# The agent's slot lives on the extra server and goes with it.
cleanup() {
    fault_cleanup
    extra_standby_destroy
}
trap cleanup EXIT

fault_setup "$S"
extra_standby_create
note "extra standby on :$EXTRA_PORT (physical slot $EXTRA_SLOT on the primary)"

agent_args "$S" "$SLOT" "$PREFIX" "$APP" "$EXTRA_DSN"
start_agent "$dir/agent.log" "${AGENT_ARGS[@]}"
grep -q 'PostgreSQL [0-9.]* standby' "$dir/agent.log" || fail "the agent does not stream from a standby"

workload_start "$S" 20
sleep "$SECONDS_BEFORE"
# Mid-stream, the workload still writing to the old primary: whatever the
# standby has received by now is replayed, then it leaves recovery.
promoted_at=$(wc -l <"$dir/agent.log")
[ "$(psql_extra -c "SELECT pg_promote(true, 60)")" = t ] || fail "pg_promote did not finish within 60 s"
if [ "${TW_PROMOTION_END_SESSION:-0}" = 1 ]; then
    [ "$(psql_extra -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '$APP' AND backend_type = 'walsender'")" = 1 ] ||
        fail "no walsender of $APP to terminate on the promoted server"
fi
workload_stop_clean
[ "$(psql_extra -c "SELECT pg_is_in_recovery()")" = f ] || fail "the extra server is still in recovery"
timeline=$(psql_extra -c "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int")
note "extra standby promoted (timeline $timeline); the workload now writes to it"
kill -0 "$AGENT_PID" 2>/dev/null || fail "the agent exited at the promotion"

workload_start "$S" 20 "$EXTRA_SUPERUSER_DSN"
sleep "$SECONDS_AFTER"
workload_stop_clean
# The keys this run of the workload inserted are on the promoted server only.
keys="id >= $(((WORKLOAD_SEED + 1) * 1000000)) AND id < $(((WORKLOAD_SEED + 2) * 1000000))"
changes_after=$(psql_extra -c "SELECT count(*) FROM $S.items WHERE $keys")
[ "$changes_after" -gt 0 ] || fail "no rows of the workload on the promoted server"
[ "$(psql_primary -c "SELECT count(*) FROM $S.items WHERE $keys")" = 0 ] ||
    fail "rows the workload wrote to the promoted server are on the old primary too"
note "$changes_after rows inserted into items on the promoted server after the promotion"

# Caught up: the slot has confirmed everything the promoted server wrote.
wait_caught_up "$SLOT" 60 "$EXTRA_SUPERUSER_DSN"
stop_agent

# The log says what happened at the promotion.
after=$(tail -n +"$((promoted_at + 1))" "$dir/agent.log")
printf '%s\n' "$after" | grep -q 'promoted' ||
    fail "the agent's log does not mention the promotion:
$after"
note "agent log: $(printf '%s\n' "$after" | grep 'promoted' | head -n 1)"
if [ "${TW_PROMOTION_END_SESSION:-0}" = 1 ]; then
    printf '%s\n' "$after" | grep -q "streaming slot '$SLOT' .*PostgreSQL [0-9.]* primary" ||
        fail "the agent did not stream from its slot on the promoted server after the session ended:
$after"
    note "agent log: $(printf '%s\n' "$after" | grep "streaming slot '$SLOT'" | head -n 1)"
fi

oracle "$PREFIX" "$S" "$EXTRA_SUPERUSER_DSN"
assert_read_only --log="$EXTRA_LOG" "$APP" 5 IDENTIFY_SYSTEM CREATE_REPLICATION_SLOT START_REPLICATION
note "$RO_COUNT statements from application_name=$APP on the extra server, all reads"
oracle_can_fail "$PREFIX" "$S" "$EXTRA_SUPERUSER_DSN"
