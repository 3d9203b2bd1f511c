#!/usr/bin/env bash
# Read-only proof: with log_statement=all and log_replication_commands=on on
# both servers, every statement that Tidewater's sessions send (found by their
# application_name in the server logs) is a read: SELECT, SHOW or a
# replication protocol command that creates nothing but Tidewater's own slot,
# including the snapshot's (SET TRANSACTION SNAPSHOT, LOCK TABLE … IN ACCESS
# SHARE MODE, the weakest lock, which only keeps a table from being rewritten
# under the snapshot, and COPY (SELECT …) TO STDOUT).
# Anything else fails the test, and so does finding no statement at all.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_services

APP="tw_ro_$$"
SLOT="tw_ro_slot_$$"
: "${TW_PROBE:=$TW_SOURCE_DIR/build/tests/stream_probe}"
restore() {
    [ -n "${ticker:-}" ] && kill "$ticker" 2>/dev/null || true
    [ -n "$AGENT_PID" ] && kill -9 "$AGENT_PID" 2>/dev/null || true
    psql_standby -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name IN ('$SLOT', '${SLOT}_s')" >/dev/null 2>&1 || true
    reset_statement_logging
}
trap restore EXIT

log_all_statements

# Everything Tidewater can do in this build, against both servers.
run_check --set "source.application_name=$APP"
expect_rc 0
run_check --set "source.application_name=$APP" --set "source.conninfo=$TW_PG_PRIMARY_DSN"
expect_rc 0
# The replication session: slot creation on the standby, streaming, status
# updates, while the primary writes to a published table.
(while sleep 0.5; do psql_primary -c "SELECT pg_log_standby_snapshot()" >/dev/null 2>&1; done) &
ticker=$!
TIDEWATER_SOURCE_CONNINFO="$TW_PG_STANDBY_DSN" TIDEWATER_SOURCE_PUBLICATION="$TW_PG_PUBLICATION" \
    TIDEWATER_KAFKA_BOOTSTRAP_SERVERS="$TW_KAFKA_BOOTSTRAP" TIDEWATER_SLOT_NAME="$SLOT" \
    TIDEWATER_SOURCE_APPLICATION_NAME="$APP" "$TW_PROBE" 6 >/dev/null 2>&1 &
probe=$!
sleep 3
psql_primary -c "INSERT INTO shop.customers (name) VALUES ('read-only probe')" >/dev/null
wait "$probe" || fail "the stream probe failed"
kill "$ticker"
ticker=""
# The snapshot: the slot's exported snapshot read by 2 worker sessions, then
# streaming; and initial_only, a snapshot of its own without a slot.
snap_args=(--set "source.conninfo=$TW_PG_STANDBY_DSN" --set "source.publication=$TW_PG_PUBLICATION"
    --set "kafka.bootstrap.servers=$TW_KAFKA_BOOTSTRAP" --set "source.application_name=$APP"
    --set "topic.prefix=tw_ro_$$" --set snapshot.max.threads=2 --set http.listen=)
log=$(mktemp)
start_agent "$log" "${snap_args[@]}" --set "slot.name=${SLOT}_s"
stop_agent
grep -q 'msg="snapshot complete' "$log" || fail "the agent took no snapshot: $(tail -n 5 "$log")"
"$TW_BIN" run "${snap_args[@]}" --set "slot.name=${SLOT}_o" --set snapshot.mode=initial_only >"$log" 2>&1 ||
    fail "initial_only failed: $(tail -n 5 "$log")"
rm -f "$log"

assert_read_only "$APP" 10 IDENTIFY_SYSTEM CREATE_REPLICATION_SLOT START_REPLICATION \
    "SET TRANSACTION SNAPSHOT" "COPY (SELECT"
note "$RO_COUNT statements from application_name=$APP, all reads"
