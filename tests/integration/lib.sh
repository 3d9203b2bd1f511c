# shellcheck shell=bash
# Sourced by every integration test: loads the service settings written by
# tests/env/up.sh and gives the helpers each scenario needs.
set -euo pipefail

TW_SOURCE_DIR=${TW_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TW_BIN=${TW_BIN:-$TW_SOURCE_DIR/build/tidewater}
TEST_NAME=$(basename "$0" .sh)

AGENT_LOG=""
fail() {
    echo "FAIL [$TEST_NAME]: $*" >&2
    if [ -n "$AGENT_LOG" ] && [ -f "$AGENT_LOG" ]; then
        echo "--- last lines of the agent's log ($AGENT_LOG):" >&2
        tail -n 30 "$AGENT_LOG" >&2
    fi
    exit 1
}
note() { echo "[$TEST_NAME] $*"; }

require_services() {
    local env_file="$TW_SOURCE_DIR/tests/env/state/env.sh"
    [ -f "$env_file" ] || fail "services are not up ($env_file is missing): run tests/env/up.sh"
    # shellcheck disable=SC1090
    . "$env_file"
}

# psql as the DBA; -X ignores ~/.psqlrc, ON_ERROR_STOP makes SQL errors fatal.
psql_primary() { psql "$TW_PG_SUPERUSER_DSN" -XAtq -v ON_ERROR_STOP=1 "$@"; }
psql_standby() { psql "$TW_PG_STANDBY_SUPERUSER_DSN" -XAtq -v ON_ERROR_STOP=1 "$@"; }

# dsn_port DSN: the port= of a connection string, for messages (never the
# whole string, which holds a password).
dsn_port() {
    local p=${1#*port=}
    echo "${p%% *}"
}

# wait_replayed DSN: the standby DSN (as the DBA) has replayed everything the
# primary has written so far, so that what was done on the primary (catalog
# changes too) is visible there; fails the test after 30 s.
wait_replayed() {
    local target
    target=$(psql_primary -c "SELECT pg_current_wal_lsn()")
    for _ in $(seq 1 300); do
        if [ "$(psql "$1" -XAtq -v ON_ERROR_STOP=1 -c "SELECT pg_last_wal_replay_lsn() >= '$target'::pg_lsn")" = t ]; then
            return 0
        fi
        sleep 0.1
    done
    fail "the standby on port $(dsn_port "$1") did not replay up to $target within 30 s"
}
# wait_standby_replay: wait_replayed for the shared standby.
wait_standby_replay() { wait_replayed "$TW_PG_STANDBY_SUPERUSER_DSN"; }

# Runs `tidewater check` against the standby with the test services; extra
# arguments (--set k=v) come last and so win. Output goes to $CHECK_OUT, the
# exit status to $CHECK_RC.
CHECK_OUT=""
CHECK_RC=0
run_check() {
    set +e
    CHECK_OUT=$(TIDEWATER_SOURCE_CONNINFO="$TW_PG_STANDBY_DSN" \
        TIDEWATER_SOURCE_PUBLICATION="$TW_PG_PUBLICATION" \
        TIDEWATER_KAFKA_BOOTSTRAP_SERVERS="$TW_KAFKA_BOOTSTRAP" \
        "$TW_BIN" check "$@" 2>&1)
    CHECK_RC=$?
    set -e
}

# expect_check STATUS NAME [PATTERN...]: the check's line has that status and
# contains every pattern (fixed strings).
expect_check() {
    local status=$1 name=$2 line
    shift 2
    line=$(printf '%s\n' "$CHECK_OUT" | awk -v s="$status" -v n="$name" '$1 == s && $2 == n' | head -n 1)
    if [ -z "$line" ]; then
        fail "expected a '$status $name' line; check printed:
$CHECK_OUT"
    fi
    local p
    for p in "$@"; do
        case "$line" in
        *"$p"*) ;;
        *) fail "the '$status $name' line lacks '$p':
$line" ;;
        esac
    done
}

expect_rc() {
    [ "$CHECK_RC" -eq "$1" ] || fail "check exited $CHECK_RC, expected $1; output:
$CHECK_OUT"
}

TW_PY="$TW_SOURCE_DIR/.cache/venv/bin/python"

# start_agent LOG [--set k=v...]: `tidewater run` in the background against
# the standby; AGENT_PID holds its pid. While the slot is being created the
# primary logs standby snapshots (the DBA's one-time step), and the function
# returns once the agent streams.
AGENT_PID=""
start_agent() {
    local log=$1 ticker skip
    shift
    AGENT_LOG=$log
    # Only this start's lines count (a test may reuse the log file).
    skip=1
    if [ -f "$log" ]; then skip=$(($(wc -l <"$log") + 1)); fi
    (while sleep 0.3; do psql_primary -c "SELECT pg_log_standby_snapshot()" >/dev/null 2>&1; done) &
    ticker=$!
    "$TW_BIN" run "$@" >>"$log" 2>&1 &
    AGENT_PID=$!
    for _ in $(seq 1 200); do
        tail -n +"$skip" "$log" | grep -q 'msg="streaming slot' && break
        kill -0 "$AGENT_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill "$ticker" 2>/dev/null || true
    wait "$ticker" 2>/dev/null || true
    tail -n +"$skip" "$log" | grep -q 'msg="streaming slot' || fail "the agent did not start streaming:
$(tail -n 20 "$log")"
}

# stop_agent: SIGTERM, and the agent must exit 0 within 60 s.
stop_agent() {
    local rc=0
    kill -TERM "$AGENT_PID" 2>/dev/null || true
    for _ in $(seq 1 600); do
        kill -0 "$AGENT_PID" 2>/dev/null || break
        sleep 0.1
    done
    wait "$AGENT_PID" || rc=$?
    AGENT_PID=""
    [ "$rc" -eq 0 ] || fail "the agent exited $rc after SIGTERM"
}

# agent_ended_within SECONDS: the agent started by start_agent ends by itself
# within SECONDS (status 1 when it is still running: the caller says what
# that means); its exit status is then in AGENT_RC.
AGENT_RC=""
# shellcheck disable=SC2034 # AGENT_RC is for the scripts that source this file
agent_ended_within() {
    for _ in $(seq 1 $(($1 * 10))); do
        kill -0 "$AGENT_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$AGENT_PID" 2>/dev/null && return 1
    AGENT_RC=0
    wait "$AGENT_PID" || AGENT_RC=$?
    AGENT_PID=""
}

# consume PREFIX TOPIC: decoded messages as JSON lines (tw_consume.py).
consume() { "$TW_PY" "$TW_SOURCE_DIR/tests/integration/tw_consume.py" "$TW_KAFKA_BOOTSTRAP" "$@"; }

# wait_messages PREFIX TOPIC N: until TOPIC holds at least N messages.
wait_messages() {
    local n=0
    for _ in $(seq 1 120); do
        n=$(consume "$1" "$2" 2>/dev/null | wc -l) || n=0
        [ "$n" -ge "$3" ] && return 0
        sleep 0.5
    done
    fail "topic $2 has $n messages after 60 s, want $3"
}

# The server under test: TW_TARGET=standby (the default) or primary. Sets
# TARGET and DSN; psql_target speaks to that server as the DBA.
# shellcheck disable=SC2034 # DSN is for the scripts that source this file
use_target() {
    TARGET=${TW_TARGET:-standby}
    case "$TARGET" in
    standby) DSN=$TW_PG_STANDBY_DSN ;;
    primary) DSN=$TW_PG_PRIMARY_DSN ;;
    *) fail "TW_TARGET must be standby or primary, not $TARGET" ;;
    esac
}
psql_target() { if [ "${TARGET:-standby}" = primary ]; then psql_primary "$@"; else psql_standby "$@"; fi; }

# create_test_schema SCHEMA DDL: a schema of the test's own, the DDL run after
# it exists, read access for the tidewater role, and the publication
# SCHEMA_pub of its tables; returns once the standby has replayed it.
create_test_schema() {
    psql_primary <<SQL >/dev/null
CREATE SCHEMA $1;
$2
GRANT USAGE ON SCHEMA $1 TO tidewater;
GRANT SELECT ON ALL TABLES IN SCHEMA $1 TO tidewater;
CREATE PUBLICATION ${1}_pub FOR TABLES IN SCHEMA $1;
SQL
    wait_standby_replay
}

# drop_test_objects SCHEMA SLOT: for cleanup traps; kills the agent, drops the
# test's slot on the server under test, its publication and schema. Never fails.
drop_test_objects() {
    [ -n "$AGENT_PID" ] && kill -9 "$AGENT_PID" 2>/dev/null || true
    psql_target -c "SELECT pg_drop_replication_slot('$2') FROM pg_replication_slots WHERE slot_name = '$2'" >/dev/null 2>&1 || true
    psql_primary -c "DROP PUBLICATION IF EXISTS ${1}_pub" -c "DROP SCHEMA IF EXISTS $1 CASCADE" >/dev/null 2>&1 || true
}

# slot_flushed_past SLOT LSN [DSN]: the slot's confirmed_flush_lsn >= LSN on
# the server DSN (as the DBA; default the shared standby).
slot_flushed_past() {
    [ "$(psql "${3:-$TW_PG_STANDBY_SUPERUSER_DSN}" -XAtq -v ON_ERROR_STOP=1 \
        -c "SELECT confirmed_flush_lsn >= '$2'::pg_lsn FROM pg_replication_slots WHERE slot_name = '$1'")" = t ]
}

# wait_slot_flushed_past SLOT LSN SECONDS [DSN]: polls every 0.25 s; fails
# (status 1) when the slot has not got there in time. The caller says what
# that means.
wait_slot_flushed_past() {
    for _ in $(seq 1 $(($3 * 4))); do
        slot_flushed_past "$1" "$2" "${4:-}" && return 0
        sleep 0.25
    done
    return 1
}

# The read-only proof (read_only.sh, and the fault tests' agent sessions).
# log_all_statements: both servers log every statement and replication
# command (ALTER SYSTEM, so a server restarted by the test keeps it), and
# the logs are read from here on; reset_statement_logging undoes it (for
# cleanup traps; never fails).
RO_PRIMARY_START=0
RO_STANDBY_START=0
log_all_statements() {
    local side
    for side in primary standby; do
        "psql_$side" -c "ALTER SYSTEM SET log_statement = 'all'" \
            -c "ALTER SYSTEM SET log_replication_commands = on" -c "SELECT pg_reload_conf()" >/dev/null
        for _ in $(seq 1 50); do
            [ "$("psql_$side" -c 'SHOW log_statement')" = all ] && break
            sleep 0.1
        done
    done
    RO_PRIMARY_START=$(wc -l <"$TW_PG_PRIMARY_LOG")
    RO_STANDBY_START=$(wc -l <"$TW_PG_STANDBY_LOG")
}
reset_statement_logging() {
    psql_primary -c "ALTER SYSTEM RESET log_statement" -c "ALTER SYSTEM RESET log_replication_commands" \
        -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
    psql_standby -c "ALTER SYSTEM RESET log_statement" -c "ALTER SYSTEM RESET log_replication_commands" \
        -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
}

# assert_read_only [--log=FILE]... [--allow=ERE]... APP MIN [COMMAND...]: the
# sessions with application_name APP sent at least MIN statements, among
# them each COMMAND (a prefix, e.g. START_REPLICATION), and every one is a
# read: SELECT, SHOW, or a replication command that reads WAL or manages
# Tidewater's own logical slot, or the snapshot's (SET TRANSACTION SNAPSHOT,
# LOCK TABLE … IN ACCESS SHARE MODE, COPY (SELECT …) TO STDOUT). A
# statement spanning lines is judged by its first line, which holds the
# verb. The statements are read from the shared servers' logs since
# log_all_statements, or, with --log, from the whole of each FILE: the log
# of a server of the test's own that logged every statement and replication
# command from its start (tests/env/lib.sh's servers log the latter and the
# application_name; log_statement=all is the test's to set). Each --allow
# adds ERE, matching a whole statement, to the allow-list: e.g. the
# DROP_REPLICATION_SLOT of the agent's own slot that snapshot.mode=
# when_needed sends for an invalidated one. Sets RO_COUNT.
RO_COUNT=0
assert_read_only() {
    local logs=() more='' app min statements cmd bad allowed
    while :; do
        case "${1:-}" in
        --log=*) logs+=("${1#--log=}") ;;
        --allow=*) more="$more|(${1#--allow=})\$" ;;
        *) break ;;
        esac
        shift
    done
    app=$1 min=$2
    shift 2
    sleep 0.5 # let the servers write their last log lines
    statements=$(
        if [ ${#logs[@]} -eq 0 ]; then
            tail -n +"$((RO_PRIMARY_START + 1))" "$TW_PG_PRIMARY_LOG"
            tail -n +"$((RO_STANDBY_START + 1))" "$TW_PG_STANDBY_LOG"
        else
            cat -- "${logs[@]}"
        fi | { grep -aF "app=$app " || true; } |
            sed -n -e 's/.*LOG:  statement: //p' -e 's/.*LOG:  received replication command: //p'
    )
    RO_COUNT=$(printf '%s\n' "$statements" | grep -c . || true)
    [ "$RO_COUNT" -ge "$min" ] || fail "expected at least $min logged statements from $app, found $RO_COUNT:
$statements"
    for cmd in "$@"; do
        printf '%s\n' "$statements" | grep -q "^$cmd" ||
            fail "$cmd was not among the statements logged from $app; log_statement=all and log_replication_commands=on not in effect?"
    done
    allowed='^(SELECT|SHOW|IDENTIFY_SYSTEM|TIMELINE_HISTORY|READ_REPLICATION_SLOT|START_REPLICATION SLOT [^ ]+ LOGICAL|CREATE_REPLICATION_SLOT [^ ]+ (TEMPORARY )?LOGICAL|BEGIN( TRANSACTION)? ISOLATION LEVEL REPEATABLE READ READ ONLY|COMMIT|ROLLBACK|COPY \(SELECT .*\) TO STDOUT$|SET TRANSACTION SNAPSHOT .[0-9A-F-]+.$|LOCK TABLE [^ ]+ IN ACCESS SHARE MODE$'"$more)"
    bad=$(printf '%s\n' "$statements" | grep -Ev "$allowed" || true)
    [ -z "$bad" ] || fail "Tidewater sent statements that are not reads:
$bad"
}
