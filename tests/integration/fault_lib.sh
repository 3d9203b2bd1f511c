# shellcheck shell=bash
# shellcheck disable=SC2154,SC2034 # $dir is the sourcing test's; AGENT_ARGS is for it
# Sourced by the fault tests (fault_*.sh) after lib.sh: the tables and the
# steady workload every fault runs under, the agent's settings, and the
# checks every fault test ends with (the oracle, the read-only proof).

# fault_setup SCHEMA: three tables, seeded, in SCHEMA and its publication:
# items (keyed, many column types), pairs (composite key), nokey (no key,
# REPLICA IDENTITY FULL so updates and deletes carry the old row).
fault_setup() {
    local s=$1
    create_test_schema "$s" "
CREATE TABLE $s.items (id bigint PRIMARY KEY, n int, t text, amt numeric(12,2), ts timestamptz,
    d date, b boolean, f float8, u uuid, j jsonb, bin bytea);
INSERT INTO $s.items SELECT g, g, 'seed ' || g, g / 4.0, '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 minute',
    DATE '2026-01-01' + g, g % 2 = 0, g / 3.0, gen_random_uuid(), jsonb_build_object('seed', g), decode(md5(g::text), 'hex')
    FROM generate_series(1, 200) g;
CREATE TABLE $s.pairs (a bigint, b text, v int, note text, PRIMARY KEY (a, b));
INSERT INTO $s.pairs SELECT g, 'k' || (g % 3), g, NULL FROM generate_series(1, 200) g;
CREATE TABLE $s.nokey (x int, y text);
ALTER TABLE $s.nokey REPLICA IDENTITY FULL;
INSERT INTO $s.nokey SELECT g % 300, 'y' || (g % 300) FROM generate_series(1, 400) g;"
}

# workload_start SCHEMA TXNS_PER_S: fault_workload.sh in the background
# (WORKLOAD_PID, its output in $dir/workload.out); workload_stop ends it and
# notes its figures.
WORKLOAD_PID=""
workload_start() {
    bash "$TW_SOURCE_DIR/tests/integration/fault_workload.sh" "$TW_PG_SUPERUSER_DSN" "$1" "$2" \
        "$((RANDOM % 1000))" >"$dir/workload.out" 2>&1 &
    WORKLOAD_PID=$!
}
workload_stop() {
    [ -n "$WORKLOAD_PID" ] || return 0
    kill -TERM "$WORKLOAD_PID" 2>/dev/null || true
    wait "$WORKLOAD_PID" 2>/dev/null || true
    WORKLOAD_PID=""
    note "$(tail -n 1 "$dir/workload.out")"
}

# agent_args SCHEMA SLOT PREFIX APP: the settings of every agent run of a
# fault test, in the array AGENT_ARGS.
AGENT_ARGS=()
agent_args() {
    AGENT_ARGS=(--set "source.conninfo=$TW_PG_STANDBY_DSN" --set "source.publication=${1}_pub"
        --set "kafka.bootstrap.servers=$TW_KAFKA_BOOTSTRAP" --set "slot.name=$2"
        --set "topic.prefix=$3" --set "source.application_name=$4" --set status.interval.ms=500
        --set http.listen=)
}

# wait_caught_up SLOT SECONDS: every change the primary has made so far is
# acknowledged by Kafka (the slot's flush position passed it).
wait_caught_up() {
    local lsn
    lsn=$(psql_primary -c "SELECT pg_current_wal_lsn()")
    wait_standby_replay
    # An idle primary: a running-xacts record the standby's walsender can
    # report as the end of WAL, so the slot can move past lsn.
    psql_primary -c "SELECT pg_log_standby_snapshot()" >/dev/null
    wait_slot_flushed_past "$1" "$lsn" "$2" || fail "slot $1 did not reach $lsn within $2 s"
}

# oracle PREFIX SCHEMA: snapshot_oracle.py run; fails the test unless it
# reports 0 missing, 0 wrong, 0 extra and no gap. ORACLE_LINE holds its
# summary line.
ORACLE_LINE=""
oracle() {
    local rc=0
    "$TW_PY" "$TW_SOURCE_DIR/tests/integration/snapshot_oracle.py" run "$TW_KAFKA_BOOTSTRAP" "$1" \
        "$TW_PG_SUPERUSER_DSN" "$2" >"$dir/oracle.out" 2>&1 || rc=$?
    ORACLE_LINE=$(grep '^oracle:' "$dir/oracle.out" || true)
    [ "$rc" -eq 0 ] || fail "the oracle found the topics differ from the primary (exit $rc):
$(head -n 30 "$dir/oracle.out")"
    note "$ORACLE_LINE"
}

# rss_kib PID: the process's resident set (VmRSS) in KiB, or empty.
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || true; }

# A sanitizer build maps shadow memory and keeps freed memory in
# quarantine: memory bounds are larger there.
is_sanitized() { grep -qa __asan_init "$TW_BIN"; }

# oracle_can_fail PREFIX SCHEMA: with the agent stopped, a row inserted,
# one updated and one deleted on the primary must make the oracle report
# exactly missing=1 wrong=1 extra=1 and fail (a check that cannot fail
# proves nothing). Leaves the tables so changed.
oracle_can_fail() {
    local rc=0 line
    psql_primary -c "INSERT INTO $2.items (id, n, t) VALUES (999999, 0, 'oracle self-test')" \
        -c "UPDATE $2.items SET t = 'oracle self-test' WHERE id = (SELECT min(id) FROM $2.items)" \
        -c "DELETE FROM $2.pairs WHERE (a, b) = (SELECT a, b FROM $2.pairs ORDER BY a, b LIMIT 1)" >/dev/null
    "$TW_PY" "$TW_SOURCE_DIR/tests/integration/snapshot_oracle.py" run "$TW_KAFKA_BOOTSTRAP" "$1" \
        "$TW_PG_SUPERUSER_DSN" "$2" >"$dir/oracle-self-test.out" 2>&1 || rc=$?
    line=$(grep '^oracle:' "$dir/oracle-self-test.out" || true)
    case "$rc $line" in
    "1 oracle: missing=1 wrong=1 "*" extra=1 gaps=0 "*) note "oracle self-test: $line" ;;
    *) fail "the oracle did not see a row inserted, one updated and one deleted behind the agent's back (exit $rc):
$(head -n 10 "$dir/oracle-self-test.out")" ;;
    esac
}
