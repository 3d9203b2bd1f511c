#!/usr/bin/env bash
# The replication side on a real standby: the slot is created on the standby
# (with the primary logging a standby snapshot), committed changes arrive
# decoded and in commit order, the slot's confirmed_flush_lsn advances with
# acknowledged commits and -- with writes only to an unpublished table -- with
# keepalives, and a restart resumes after the last confirmed commit.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_services
: "${TW_PROBE:=$TW_SOURCE_DIR/build/tests/stream_probe}"

SLOT="tw_stream_test_$$"
out=$(mktemp -d)
cleanup() {
    [ -n "${ticker:-}" ] && kill "$ticker" 2>/dev/null || true
    psql_standby -c "SELECT pg_drop_replication_slot('$SLOT') FROM pg_replication_slots WHERE slot_name = '$SLOT'" >/dev/null 2>&1 || true
    psql_primary -c "DROP TABLE IF EXISTS public.tw_unpublished" >/dev/null 2>&1 || true
    rm -rf "$out"
}
trap cleanup EXIT

export TIDEWATER_SOURCE_CONNINFO="$TW_PG_STANDBY_DSN" TIDEWATER_SOURCE_PUBLICATION="$TW_PG_PUBLICATION"
export TIDEWATER_KAFKA_BOOTSTRAP_SERVERS="$TW_KAFKA_BOOTSTRAP" TIDEWATER_SLOT_NAME="$SLOT"

slot_flush() {
    psql_standby -c "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$SLOT'"
}

# 1. Create the slot on the standby: the DBA's pg_log_standby_snapshot() lets
#    the creation finish without waiting for the primary's next one.
(while sleep 0.5; do psql_primary -c "SELECT pg_log_standby_snapshot()" >/dev/null 2>&1; done) &
ticker=$!
"$TW_PROBE" 3 >"$out/first.txt" 2>"$out/first.err" || fail "probe failed: $(cat "$out/first.err")"
kill "$ticker"
ticker=""
grep -q '^OPEN proto=4 standby=1 created=1' "$out/first.txt" ||
    fail "slot not created on the standby with protocol 4: $(head -n 1 "$out/first.txt")"
start_flush=$(slot_flush)
[ -n "$start_flush" ] || fail "slot $SLOT does not exist after the probe"

# 2. A workload on the primary; the standby replays it; the probe decodes it.
tag="probe-$$-$RANDOM"
psql_primary -v tag="$tag" <<'SQL' >/dev/null
INSERT INTO shop.customers (name, email) VALUES (:'tag' || '-one', 'one@example.com');
UPDATE shop.customers SET email = 'changed@example.com' WHERE name = :'tag' || '-one';
BEGIN;
INSERT INTO shop.customers (name) VALUES (:'tag' || '-two');
INSERT INTO shop.orders (customer_id, total, status)
  SELECT id, 12.50, 'new' FROM shop.customers WHERE name = :'tag' || '-two';
COMMIT;
DELETE FROM shop.orders WHERE customer_id IN (SELECT id FROM shop.customers WHERE name = :'tag' || '-two');
SQL
wait_standby_replay
"$TW_PROBE" 20 4 >"$out/second.txt" 2>"$out/second.err" || fail "probe failed: $(cat "$out/second.err")"
grep -q '^OPEN proto=4 standby=1 created=0' "$out/second.txt" || fail "slot was not reused: $(head -n 1 "$out/second.txt")"
# The decoded sequence, relation messages aside: four transactions in order.
seq=$(grep -Ev '^(OPEN|END|R )' "$out/second.txt" | cut -c1 | tr -d '\n')
[ "$seq" = "BICBUCBIICBDC" ] || fail "decoded sequence $seq, want BICBUCBIICBDC; probe printed:
$(cat "$out/second.txt")"
grep -q '^R relid=[0-9]* shop.customers cols=4' "$out/second.txt" || fail "no Relation message for shop.customers"
grep -q '^R relid=[0-9]* shop.orders cols=5' "$out/second.txt" || fail "no Relation message for shop.orders"
last_commit=$(grep '^C end=' "$out/second.txt" | tail -n 1 | cut -d= -f2)
after=$(slot_flush)
[ "$(psql_standby -c "SELECT '$after'::pg_lsn >= '$last_commit'::pg_lsn")" = t ] ||
    fail "confirmed_flush_lsn $after is behind the last acknowledged commit $last_commit"
note "decoded $seq; confirmed_flush_lsn $start_flush -> $after"

# 3. A restart resumes after the confirmed commits: nothing old comes again.
"$TW_PROBE" 3 >"$out/third.txt" 2>"$out/third.err" || fail "probe failed: $(cat "$out/third.err")"
if grep -q '^[IUD] ' "$out/third.txt"; then
    fail "changes acknowledged before were sent again after a restart:
$(cat "$out/third.txt")"
fi

# 4. Idle WAL: writes only to an unpublished table. No change reaches the
#    probe, yet keepalives let the slot's confirmed_flush_lsn follow WAL.
psql_primary -c "CREATE TABLE public.tw_unpublished (v int)" >/dev/null
before=$(slot_flush)
"$TW_PROBE" 25 >"$out/idle.txt" 2>"$out/idle.err" &
probe=$!
for _ in $(seq 1 40); do
    psql_primary -c "INSERT INTO public.tw_unpublished SELECT generate_series(1, 200)" >/dev/null
    sleep 0.25
done
target=$(psql_primary -c "SELECT pg_current_wal_lsn()")
wait_standby_replay
moved=f
wait_slot_flushed_past "$SLOT" "$target" 15 && moved=t
kill -TERM "$probe" 2>/dev/null || true
wait "$probe" || true
[ "$moved" = t ] || fail "confirmed_flush_lsn stayed at $(slot_flush) (was $before) while the primary wrote up to $target on an unpublished table"
if grep -q '^[IUD] ' "$out/idle.txt"; then
    fail "changes to an unpublished table were streamed: $(cat "$out/idle.txt")"
fi
note "idle: confirmed_flush_lsn $before -> $(slot_flush), past the primary's $target"
