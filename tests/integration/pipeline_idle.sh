#!/usr/bin/env bash
# Idle WAL: while the primary writes only to a table outside the publication,
# `tidewater run` publishes nothing, yet the standby slot's
# confirmed_flush_lsn keeps following WAL, so WAL does not pile up behind an
# agent whose tables are quiet.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_services

ID="$$_$RANDOM"
SLOT="tw_idle_$ID"
dir=$(mktemp -d)
cleanup() {
    [ -n "$AGENT_PID" ] && kill -9 "$AGENT_PID" 2>/dev/null || true
    psql_standby -c "SELECT pg_drop_replication_slot('$SLOT') FROM pg_replication_slots WHERE slot_name = '$SLOT'" >/dev/null 2>&1 || true
    psql_primary -c "DROP TABLE IF EXISTS public.tw_idle_$ID" >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT

psql_primary -c "CREATE TABLE public.tw_idle_$ID (v int)" >/dev/null
start_agent "$dir/agent.log" --set "source.conninfo=$TW_PG_STANDBY_DSN" \
    --set "source.publication=$TW_PG_PUBLICATION" --set "kafka.bootstrap.servers=$TW_KAFKA_BOOTSTRAP" \
    --set "slot.name=$SLOT" --set "topic.prefix=idle$ID" --set status.interval.ms=500
slot_flush() { psql_standby -c "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$SLOT'"; }
before=$(slot_flush)
for _ in $(seq 1 30); do
    psql_primary -c "INSERT INTO public.tw_idle_$ID SELECT generate_series(1, 500)" >/dev/null
    sleep 0.2
done
target=$(psql_primary -c "SELECT pg_current_wal_lsn()")
wait_standby_replay
moved=f
wait_slot_flushed_past "$SLOT" "$target" 20 && moved=t
stop_agent
[ "$moved" = t ] || fail "confirmed_flush_lsn stayed at $(slot_flush) (started at $before) while the primary wrote up to $target outside the publication"
if grep -q 'msg="table ' "$dir/agent.log"; then
    fail "a table outside the publication reached the agent: $(grep 'msg="table ' "$dir/agent.log")"
fi
note "confirmed_flush_lsn $before -> $(slot_flush), past the primary's $target, with nothing published"
