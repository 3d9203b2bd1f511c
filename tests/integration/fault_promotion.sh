#!/usr/bin/env bash
# Fault 4: the agent's standby is promoted to primary mid-stream.
#
# A standby of the test's own (fault_standby_lib.sh; the shared standby must
# stay a standby) streams from the shared primary; the agent streams from a
# slot on it while a steady insert/update/delete workload runs on the
# primary. Then the standby is promoted (pg_promote): from then on it is a
# primary of its own, the shared primary's later writes never reach it, and
# the workload goes on against it instead. The agent must keep streaming
# from its slot on the promoted server (reconnecting if the server ends the
# session), say in its log that the server was promoted, and at the end every
# table replayed by key from Kafka equals the promoted server's table: 0
# missing, 0 wrong, 0 extra; a row changed behind the agent's back is
# reported (the oracle can fail). Every statement the agent sent is a read.
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
cleanup() {
    workload_stop 2>/dev/null || true
    [ -n "$AGENT_PID" ] && kill -9 "$AGENT_PID" 2>/dev/null
    # The agent's slot lives on the extra server and goes with it.
    extra_standby_destroy
    psql_primary -c "DROP PUBLICATION IF EXISTS ${S}_pub" -c "DROP SCHEMA IF EXISTS $S CASCADE" >/dev/null 2>&1 || true
    if [ -n "${TW_KEEP_DIR:-}" ]; then cp -r "$dir" "$TW_KEEP_DIR" || true; fi
    rm -rf "$dir"
}
trap cleanup EXIT

fault_tables "$S"
extra_standby_create
note "extra standby on :$EXTRA_PORT (physical slot $EXTRA_SLOT on the primary)"
extra_wait_replay

args=(--set "source.conninfo=$EXTRA_DSN" --set "source.publication=${S}_pub"
    --set "kafka.bootstrap.servers=$TW_KAFKA_BOOTSTRAP" --set "slot.name=$SLOT"
    --set "topic.prefix=$PREFIX" --set "source.application_name=$APP"
    --set status.interval.ms=500 --set http.listen=)
start_agent "$dir/agent.log" "${args[@]}"
grep -q 'PostgreSQL [0-9.]* standby' "$dir/agent.log" || fail "the agent does not stream from a standby"

workload_start "$TW_PG_SUPERUSER_DSN" "$S"
sleep "$SECONDS_BEFORE"
# Mid-stream, the workload still writing to the old primary: whatever the
# standby has received by now is replayed, then it leaves recovery.
promoted_at=$(wc -l <"$dir/agent.log")
[ "$(psql_extra -c "SELECT pg_promote(true, 60)")" = t ] || fail "pg_promote did not finish within 60 s"
if [ "${TW_PROMOTION_END_SESSION:-0}" = 1 ]; then
    [ "$(psql_extra -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '$APP' AND backend_type = 'walsender'")" = 1 ] ||
        fail "no walsender of $APP to terminate on the promoted server"
fi
workload_stop
[ "$(psql_extra -c "SELECT pg_is_in_recovery()")" = f ] || fail "the extra server is still in recovery"
timeline=$(psql_extra -c "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int")
note "extra standby promoted (timeline $timeline); the workload now writes to it"
kill -0 "$AGENT_PID" 2>/dev/null || fail "the agent exited at the promotion"

workload_start "$EXTRA_SUPERUSER_DSN" "$S"
sleep "$SECONDS_AFTER"
workload_stop

# Caught up: the slot has confirmed everything the promoted server wrote.
lsn=$(psql_extra -c "SELECT pg_current_wal_lsn()")
for _ in $(seq 1 240); do
    [ "$(psql_extra -c "SELECT confirmed_flush_lsn >= '$lsn' FROM pg_replication_slots WHERE slot_name = '$SLOT'")" = t ] && break
    sleep 0.25
done
[ "$(psql_extra -c "SELECT confirmed_flush_lsn >= '$lsn' FROM pg_replication_slots WHERE slot_name = '$SLOT'")" = t ] ||
    fail "the slot on the promoted server did not reach $lsn within 60 s: $(psql_extra -c "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$SLOT'")"
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
changes_after=$(psql_extra -c "SELECT count(*) FROM $S.items WHERE t LIKE 'new %'")
[ "$changes_after" -gt 0 ] || fail "no workload rows on the promoted server"

oracle_tables "$PREFIX" "$S" "$EXTRA_SUPERUSER_DSN"
note "oracle vs the promoted server: $ORACLE_SUMMARY"
oracle_self_test "$PREFIX" "$S" "$EXTRA_SUPERUSER_DSN" "$EXTRA_SUPERUSER_DSN"
note "oracle self-test: a row updated behind the agent's back is reported"
extra_read_only_proof "$APP" 5 IDENTIFY_SYSTEM CREATE_REPLICATION_SLOT START_REPLICATION
note "$RO_COUNT statements from application_name=$APP on the extra server, all reads"
