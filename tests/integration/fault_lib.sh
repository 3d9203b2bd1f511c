# shellcheck shell=bash
# shellcheck disable=SC2154,SC2034 # $dir is the sourcing test's; AGENT_ARGS is for it
# Sourced by the fault tests (fault_*.sh) after lib.sh: the tables and the
# steady workload every fault runs under, the agent's settings, the checks
# every fault test ends with (the oracle and its self-test; the read-only
# proof is lib.sh's assert_read_only), and the end of their cleanup.
# The server the agent reads, the workload writes and the oracle takes as
# the truth is the shared standby / primary unless a test (one with a
# standby of its own, fault_standby_lib.sh) names another by its DSN.

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

# workload_start SCHEMA TXNS_PER_S [DSN]: fault_workload.sh in the
# background (WORKLOAD_PID, its output in $dir/workload.out), writing to the
# server DSN (as the DBA; default the shared primary). WORKLOAD_SEED is its
# seed, never the one of the run before: the keys it inserts are
# [(WORKLOAD_SEED+1)*10^6, (WORKLOAD_SEED+2)*10^6).
# workload_stop ends it and notes its figures; workload_stop_clean also
# fails the test unless every batch's session ran to its end and no
# statement failed.
WORKLOAD_PID=""
WORKLOAD_SEED=""
workload_start() {
    local seed=$((RANDOM % 1000))
    [ "$seed" != "$WORKLOAD_SEED" ] || seed=$(((seed + 1) % 1000))
    WORKLOAD_SEED=$seed
    bash "$TW_SOURCE_DIR/tests/integration/fault_workload.sh" "${3:-$TW_PG_SUPERUSER_DSN}" "$1" "$2" \
        "$seed" >"$dir/workload.out" 2>&1 &
    WORKLOAD_PID=$!
}
workload_stop() {
    [ -n "$WORKLOAD_PID" ] || return 0
    kill -TERM "$WORKLOAD_PID" 2>/dev/null || true
    wait "$WORKLOAD_PID" 2>/dev/null || true
    WORKLOAD_PID=""
    note "$(tail -n 1 "$dir/workload.out")"
}
workload_stop_clean() {
    local line
    workload_stop
    line=$(tail -n 1 "$dir/workload.out")
    case "$line" in
    "workload: "*" failed_batches=0 "*" sql_errors=0") ;;
    *) fail "the workload did not run cleanly: $line
$(grep -v '^workload: ' "$dir/workload.out" | head -n 5)" ;;
    esac
}

# agent_args SCHEMA SLOT PREFIX APP [CONNINFO]: the settings of every agent
# run of a fault test, in the array AGENT_ARGS; the agent reads the server
# CONNINFO (default the shared standby).
AGENT_ARGS=()
agent_args() {
    AGENT_ARGS=(--set "source.conninfo=${5:-$TW_PG_STANDBY_DSN}" --set "source.publication=${1}_pub"
        --set "kafka.bootstrap.servers=$TW_KAFKA_BOOTSTRAP" --set "slot.name=$2"
        --set "topic.prefix=$3" --set "source.application_name=$4" --set status.interval.ms=500
        --set http.listen=)
}

# wait_caught_up SLOT SECONDS [DSN]: every change made so far is
# acknowledged by Kafka: the slot SLOT on the agent's server DSN (as the
# DBA; default the shared standby) has confirmed a position past the
# primary's current one, or, on a server that is no standby (promoted), past
# its own.
wait_caught_up() {
    local dsn=${3:-$TW_PG_STANDBY_SUPERUSER_DSN} lsn
    if [ "$(psql "$dsn" -XAtq -v ON_ERROR_STOP=1 -c "SELECT pg_is_in_recovery()")" = f ]; then
        lsn=$(psql "$dsn" -XAtq -v ON_ERROR_STOP=1 -c "SELECT pg_current_wal_lsn()")
    else
        lsn=$(psql_primary -c "SELECT pg_current_wal_lsn()")
        wait_replayed "$dsn"
        # An idle primary: a running-xacts record the standby's walsender can
        # report as the end of WAL, so the slot can move past lsn.
        psql_primary -c "SELECT pg_log_standby_snapshot()" >/dev/null
    fi
    wait_slot_flushed_past "$1" "$lsn" "$2" "$dsn" || fail "slot $1 did not reach $lsn within $2 s"
}

# oracle PREFIX SCHEMA [DSN [OPTION...]]: snapshot_oracle.py run (the topics
# PREFIX.SCHEMA.<table> replayed) against SCHEMA's tables on the server DSN
# (as the DBA; default the shared primary), with run's OPTIONs (e.g.
# --from-latest-snapshot); fails the test unless it reports 0 missing,
# 0 wrong, 0 extra and no gap. ORACLE_LINE holds its summary line.
ORACLE_LINE=""
oracle() {
    local prefix=$1 s=$2 dsn=${3:-$TW_PG_SUPERUSER_DSN} rc=0
    shift 2
    [ $# -eq 0 ] || shift
    "$TW_PY" "$TW_SOURCE_DIR/tests/integration/snapshot_oracle.py" run "$TW_KAFKA_BOOTSTRAP" "$prefix" \
        "$dsn" "$s" "$@" >"$dir/oracle.out" 2>&1 || rc=$?
    ORACLE_LINE=$(grep '^oracle:' "$dir/oracle.out" || true)
    [ "$rc" -eq 0 ] || fail "the oracle found the topics differ from the tables on port $(dsn_port "$dsn") (exit $rc):
$(head -n 30 "$dir/oracle.out")"
    note "$ORACLE_LINE"
}

# rss_kib PID: the process's resident set (VmRSS) in KiB, or empty.
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || true; }

# A sanitizer build maps shadow memory and keeps freed memory in
# quarantine: memory bounds are larger there.
is_sanitized() { grep -qa __asan_init "$TW_BIN"; }

# oracle_can_fail PREFIX SCHEMA [DSN [OPTION...]]: with the agent stopped,
# a row inserted, one updated and one deleted behind its back must make the
# oracle (as `oracle` runs it) report exactly missing=1 wrong=1 extra=1 and
# fail (a check that cannot fail proves nothing). The changes are made on
# DSN, or, when DSN is a standby, on the shared primary and waited for on
# DSN. Leaves the tables so changed.
oracle_can_fail() {
    local prefix=$1 s=$2 dsn=${3:-$TW_PG_SUPERUSER_DSN} write rc=0 line
    shift 2
    [ $# -eq 0 ] || shift
    write=$dsn
    if [ "$(psql "$dsn" -XAtq -v ON_ERROR_STOP=1 -c "SELECT pg_is_in_recovery()")" = t ]; then
        write=$TW_PG_SUPERUSER_DSN
    fi
    psql "$write" -XAtq -v ON_ERROR_STOP=1 \
        -c "INSERT INTO $s.items (id, n, t) VALUES (999999, 0, 'oracle self-test')" \
        -c "UPDATE $s.items SET t = 'oracle self-test' WHERE id = (SELECT min(id) FROM $s.items)" \
        -c "DELETE FROM $s.pairs WHERE (a, b) = (SELECT a, b FROM $s.pairs ORDER BY a, b LIMIT 1)" >/dev/null
    [ "$write" = "$dsn" ] || wait_replayed "$dsn"
    "$TW_PY" "$TW_SOURCE_DIR/tests/integration/snapshot_oracle.py" run "$TW_KAFKA_BOOTSTRAP" "$prefix" \
        "$dsn" "$s" "$@" >"$dir/oracle-self-test.out" 2>&1 || rc=$?
    line=$(grep '^oracle:' "$dir/oracle-self-test.out" || true)
    case "$rc $line" in
    "1 oracle: missing=1 wrong=1 "*" extra=1 gaps=0 "*) note "oracle self-test: $line" ;;
    *) fail "the oracle did not see a row inserted, one updated and one deleted behind the agent's back (exit $rc):
$(head -n 10 "$dir/oracle-self-test.out")" ;;
    esac
}

# fault_cleanup: the end of a fault test's EXIT trap, after the steps of its
# own (services started again, statement logging reset, ...): ends the
# workload, kills the agent, drops the test's slot on the shared standby,
# its publication and schema (drop_test_objects "$S" "$SLOT"), and removes
# $dir; TW_KEEP_DIR=path copies it there first, for a post-mortem. Never
# fails.
fault_cleanup() {
    workload_stop >/dev/null 2>&1 || true
    drop_test_objects "$S" "$SLOT"
    if [ -n "${TW_KEEP_DIR:-}" ]; then cp -r "$dir" "$TW_KEEP_DIR" || true; fi
    rm -rf "$dir"
}
