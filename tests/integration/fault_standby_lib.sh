# shellcheck shell=bash
# Sourced by the fault tests that need a standby of their own (after lib.sh
# and require_services): a streaming standby of the shared primary on a free
# port, which the test may promote or starve of WAL without disturbing the
# shared standby other tests use at the same time; the steady workload they
# run; their end checks (topics replayed by key against a server's tables,
# the read-only proof on the extra standby's log).
#
# It is made the way pg_basebackup -R makes one, with the server's own
# low-level backup API (pg_backup_start / copy / pg_backup_stop, and the
# backup_label it returns), because there is no pg_basebackup of the
# primary's major version on the machine (Debian's is older and refuses a
# newer server, the PostgreSQL package the tests use ships none). A physical
# slot of its own on the primary keeps the WAL it needs from before the copy.
# The server runs as the unprivileged OS user with tests/env/lib.sh's
# functions, as the shared servers do.
#
# extra_standby_create [setting=value...]: sets EXTRA_DIR, EXTRA_DATA,
#   EXTRA_LOG, EXTRA_PORT, EXTRA_SLOT (its physical slot on the primary),
#   EXTRA_DSN (the tidewater role) and EXTRA_SUPERUSER_DSN, and returns once
#   it has replayed what the primary had written when it was made.
# extra_standby_destroy: stops it, removes its directory and drops its slot
#   on the primary; never fails, safe to call twice (cleanup traps).
# psql_extra: psql as the DBA on it.
# The extra standby logs every statement and replication command
# (log_statement=all), for extra_read_only_proof.

# shellcheck source=../env/lib.sh
. "$TW_SOURCE_DIR/tests/env/lib.sh"

EXTRA_DIR=""
EXTRA_DATA=""
EXTRA_LOG=""
EXTRA_PORT=""
EXTRA_SLOT=""
EXTRA_DSN=""
EXTRA_SUPERUSER_DSN=""

psql_extra() { psql "$EXTRA_SUPERUSER_DSN" -XAtq -v ON_ERROR_STOP=1 "$@"; }

# A TCP port nothing listens on now (the kernel's choice of an ephemeral one).
extra_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

extra_standby_create() {
    [ "$(id -u)" -eq 0 ] || fail "an extra standby needs root (the server runs as $TW_PG_OS_USER via runuser)"
    local id="$$_$RANDOM" conninfo lsn rc=0
    EXTRA_DIR=$(mktemp -d /tmp/tw-extra-standby.XXXXXX)
    chmod 0755 "$EXTRA_DIR"
    EXTRA_DATA=$EXTRA_DIR/data
    EXTRA_LOG=$EXTRA_DIR/server.log
    install -d -o "$TW_PG_OS_USER" -m 0700 "$EXTRA_DATA" "$EXTRA_DIR/socket"
    EXTRA_SLOT="tw_xs_$id"
    EXTRA_PORT=$(extra_free_port)
    psql_primary -c "SELECT pg_create_physical_replication_slot('$EXTRA_SLOT', true)" >/dev/null
    # One session: the backup lasts from pg_backup_start to pg_backup_stop.
    # The copy leaves out what a base backup leaves out (WAL, which comes by
    # streaming from the slot; slots; the running server's pid and temp
    # files). tar exits 1 when a file changed while it read it: the WAL
    # replayed from the backup's start repairs exactly that.
    psql_primary <<SQL >"$EXTRA_DIR/backup.out" 2>&1 || rc=$?
SELECT pg_backup_start('$EXTRA_SLOT', true) \gset
\! tar -C '$TW_PG_PRIMARY_DATA' --warning=no-file-changed --warning=no-file-removed --exclude='./pg_wal/*' --exclude='./pg_replslot/*' --exclude=./postmaster.pid --exclude=./postmaster.opts --exclude='./pg_stat_tmp/*' --exclude='./pg_dynshmem/*' --exclude='./pg_notify/*' --exclude='./pg_serial/*' --exclude='./pg_snapshots/*' --exclude='./pg_subtrans/*' --exclude='pgsql_tmp*' -cf - . | tar -C '$EXTRA_DATA' -xf - || [ \$? -eq 1 ]
SELECT labelfile FROM pg_backup_stop(false) \g '$EXTRA_DATA/backup_label'
SQL
    if [ "$rc" -ne 0 ] || ! grep -q '^START WAL LOCATION' "$EXTRA_DATA/backup_label"; then
        fail "could not copy the primary for an extra standby: $(cat "$EXTRA_DIR/backup.out")"
    fi
    # The primary's ALTER SYSTEM settings (another test's log_statement, say)
    # are not this server's.
    : >"$EXTRA_DATA/postgresql.auto.conf"
    chown "$TW_PG_OS_USER:" "$EXTRA_DATA/backup_label" "$EXTRA_DATA/postgresql.auto.conf"
    conninfo="host=$TW_HOST port=$TW_PG_PRIMARY_PORT user=postgres password=$TW_PG_SUPERUSER_PASSWORD application_name=$EXTRA_SLOT"
    tw_pg_write_conf "$EXTRA_DATA" "$EXTRA_PORT" "$EXTRA_DIR/socket" \
        "primary_conninfo=$conninfo" "primary_slot_name=$EXTRA_SLOT" \
        hot_standby=on hot_standby_feedback=on wal_retrieve_retry_interval=1s \
        log_statement=all "$@"
    install -o "$TW_PG_OS_USER" -m 0600 /dev/null "$EXTRA_DATA/standby.signal"
    # tw_pg_start exits on failure: in a subshell, so that fail() reports it.
    (tw_pg_start "$EXTRA_DATA" "$EXTRA_LOG") || fail "the extra standby did not start: $(tail -n 20 "$EXTRA_LOG")"
    # shellcheck disable=SC2034 # for the scripts that source this file
    EXTRA_DSN=$(tw_dsn "$EXTRA_PORT" "$TW_PG_USER" "$TW_PG_PASSWORD")
    EXTRA_SUPERUSER_DSN=$(tw_dsn "$EXTRA_PORT" postgres "$TW_PG_SUPERUSER_PASSWORD")
    lsn=$(psql_primary -c "SELECT pg_current_wal_lsn()")
    for _ in $(seq 1 300); do
        [ "$(psql_extra -c "SELECT pg_is_in_recovery() AND pg_last_wal_replay_lsn() >= '$lsn'" 2>/dev/null)" = t ] &&
            return 0
        sleep 0.1
    done
    fail "the extra standby on :$EXTRA_PORT did not replay up to $lsn in 30 s: $(tail -n 20 "$EXTRA_LOG")"
}

# extra_wait_replay: the extra standby has replayed all the primary wrote.
extra_wait_replay() {
    local lsn
    lsn=$(psql_primary -c "SELECT pg_current_wal_lsn()")
    for _ in $(seq 1 300); do
        [ "$(psql_extra -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'")" = t ] && return 0
        sleep 0.1
    done
    fail "the extra standby did not replay up to $lsn within 30 s"
}

extra_standby_destroy() {
    if [ -n "$EXTRA_DATA" ] && [ -d "$EXTRA_DATA" ]; then
        (tw_pg_stop "$EXTRA_DATA") >/dev/null 2>&1 || true
    fi
    case "$EXTRA_DIR" in
    /tmp/tw-extra-standby.*) rm -rf -- "$EXTRA_DIR" ;;
    esac
    if [ -n "$EXTRA_SLOT" ]; then
        # The primary's walsender for it may take a moment to notice.
        for _ in $(seq 1 50); do
            psql_primary -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$EXTRA_SLOT' AND NOT active" >/dev/null 2>&1 || true
            [ "$(psql_primary -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$EXTRA_SLOT'" 2>/dev/null)" = 0 ] && break
            sleep 0.1
        done
    fi
    EXTRA_DIR="" EXTRA_DATA="" EXTRA_SLOT=""
}

# A test killed by a signal (ctest's timeout, Ctrl-C) still runs its EXIT trap.
trap 'exit 143' TERM
trap 'exit 130' INT

# workload_start DSN SCHEMA: a steady workload in the background (about 20
# transactions a second, one session, WORKLOAD_PID): each transaction inserts
# into SCHEMA.items (ids from its default, a sequence), updates two random
# rows and deletes one, and upserts or deletes a row of SCHEMA.pairs
# (composite key). workload_stop ends it; a workload whose session failed
# fails the test there.
WORKLOAD_PID=""
WORKLOAD_OUT=""
workload_start() {
    local dsn=$1 s=$2
    WORKLOAD_OUT=$(mktemp)
    (
        while :; do
            echo "BEGIN;
INSERT INTO $s.items (n, t) SELECT g, 'new ' || g FROM generate_series(1, 3) g;
UPDATE $s.items SET n = n + 1, t = 'updated ' || n WHERE id IN (SELECT id FROM $s.items ORDER BY random() LIMIT 2);
DELETE FROM $s.items WHERE id = (SELECT id FROM $s.items ORDER BY random() LIMIT 1);
INSERT INTO $s.pairs VALUES (floor(random() * 40)::int, 'k' || floor(random() * 3)::int, 1)
    ON CONFLICT (a, b) DO UPDATE SET v = pairs.v + 1;
DELETE FROM $s.pairs WHERE (a, b) = (SELECT a, b FROM $s.pairs WHERE random() < 0.05 LIMIT 1);
COMMIT;"
            sleep 0.05
        done | psql "$dsn" -XAtq -v ON_ERROR_STOP=1 >"$WORKLOAD_OUT" 2>&1 &
        # $! is psql; the loop feeding it ends at its next write after psql.
        psql_pid=$!
        trap 'kill -TERM $psql_pid 2>/dev/null; exit 0' TERM
        wait "$psql_pid"
        echo "workload session ended: status $?" >>"$WORKLOAD_OUT"
    ) &
    WORKLOAD_PID=$!
}
workload_stop() {
    [ -n "$WORKLOAD_PID" ] || return 0
    kill -TERM "$WORKLOAD_PID" 2>/dev/null || true
    wait "$WORKLOAD_PID" 2>/dev/null || true
    WORKLOAD_PID=""
    if grep -q 'ERROR\|session ended' "$WORKLOAD_OUT"; then
        fail "the workload failed: $(cat "$WORKLOAD_OUT")"
    fi
    rm -f "$WORKLOAD_OUT"
}

# fault_tables SCHEMA: the tables the workload writes, seeded, and the
# publication SCHEMA_pub of them (create_test_schema).
fault_tables() {
    create_test_schema "$1" "
CREATE TABLE $1.items (id bigserial PRIMARY KEY, n int, t text, amt numeric(12,2), b boolean);
INSERT INTO $1.items (n, t, amt, b) SELECT g, 'seed ' || g, g / 4.0, g % 2 = 0 FROM generate_series(1, 200) g;
CREATE TABLE $1.pairs (a int, b text, v int, PRIMARY KEY (a, b));
INSERT INTO $1.pairs SELECT g, 'k' || (g % 3), g FROM generate_series(1, 40) g;"
}

# oracle_tables PREFIX SCHEMA DSN [--from-new-snapshot]: every table's topic
# PREFIX.SCHEMA.<table>, read with tw_consume.py (confluent-kafka and
# fastavro, not Tidewater's decoder), replayed by key by snapshot_oracle.py
# (latest envelope per key; deletes and tombstones remove it) equals the
# table on the server DSN (full rows). --from-new-snapshot replays from the
# table's last snapshot start (the row marked first or
# first_in_data_collection), as README tells consumers to do when a new
# snapshot replaces what they had. ORACLE_SUMMARY holds the results.
ORACLE_SUMMARY=""
oracle_tables() {
    local prefix=$1 s=$2 dsn=$3 from_new=${4:-} t key cols out
    ORACLE_SUMMARY=""
    out=$(mktemp -d)
    for t in items pairs; do
        case $t in
        items) key="'id', id" cols="id, n, t, amt::text AS amt, b" ;;
        pairs) key="'a', a, 'b', b" cols="a, b, v" ;;
        esac
        psql "$dsn" -XAtq -v ON_ERROR_STOP=1 \
            -c "SELECT row_to_json(r) FROM (SELECT json_build_object($key)::text AS _key, $cols FROM $s.$t) r" \
            >"$out/$t.table.jsonl" || fail "cannot read $s.$t from $dsn"
        consume "$prefix" "$prefix.$s.$t" >"$out/$t.topic.jsonl" || fail "cannot read topic $prefix.$s.$t"
        if [ -n "$from_new" ]; then
            "$TW_PY" - "$out/$t.topic.jsonl" >"$out/$t.replay.jsonl" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
marks = [i for i, l in enumerate(lines)
         if ((json.loads(l).get("value") or {}).get("source") or {}).get("snapshot")
         in ("first", "first_in_data_collection")]
if not marks:
    sys.exit("no snapshot start (first / first_in_data_collection) in the topic")
print("\n".join(lines[marks[-1]:]))
PY
        else
            cp "$out/$t.topic.jsonl" "$out/$t.replay.jsonl"
        fi
        "$TW_PY" "$TW_SOURCE_DIR/tests/integration/snapshot_oracle.py" replay \
            "$out/$t.table.jsonl" "$out/$t.replay.jsonl" >"$out/$t.oracle" 2>&1 ||
            fail "topic $prefix.$s.$t replayed by key differs from the table on ${dsn%% password=*}:
$(cat "$out/$t.oracle")"
        ORACLE_SUMMARY="$ORACLE_SUMMARY$t ($(wc -l <"$out/$t.topic.jsonl") messages): $(tr '\n' ' ' <"$out/$t.oracle"); "
    done
    rm -rf "$out"
}

# extra_read_only_proof [--drop-slot=SLOT] APP MIN [COMMAND...]: every
# statement and replication command the sessions with application_name APP
# sent to the extra standby (its log: log_statement=all,
# log_replication_commands=on) is a read, as read_only.sh proves for the
# shared servers; at least MIN of them, among them each COMMAND (a prefix).
# --drop-slot also allows dropping Tidewater's own slot SLOT (what
# snapshot.mode=when_needed does to an invalidated one). Sets RO_COUNT.
RO_COUNT=0
extra_read_only_proof() {
    local own_drop='' statements cmd bad allowed
    case "$1" in --drop-slot=*) own_drop="|DROP_REPLICATION_SLOT \"${1#--drop-slot=}\"$" && shift ;; esac
    local app=$1 min=$2
    shift 2
    sleep 0.5 # the server's last log lines
    statements=$(grep -aF "app=$app " "$EXTRA_LOG" |
        sed -n -e 's/.*LOG:  statement: //p' -e 's/.*LOG:  received replication command: //p')
    RO_COUNT=$(printf '%s\n' "$statements" | grep -c . || true)
    [ "$RO_COUNT" -ge "$min" ] || fail "expected at least $min logged statements from $app, found $RO_COUNT"
    for cmd in "$@"; do
        printf '%s\n' "$statements" | grep -q "^$cmd" || fail "$cmd was not among $app's statements"
    done
    # The allow-list of read_only.sh.
    allowed='^(SELECT|SHOW|IDENTIFY_SYSTEM|TIMELINE_HISTORY|READ_REPLICATION_SLOT|START_REPLICATION SLOT [^ ]+ LOGICAL|CREATE_REPLICATION_SLOT [^ ]+ (TEMPORARY )?LOGICAL|BEGIN( TRANSACTION)? ISOLATION LEVEL REPEATABLE READ READ ONLY|COMMIT|ROLLBACK|COPY \(SELECT .*\) TO STDOUT$|SET TRANSACTION SNAPSHOT .[0-9A-F-]+.$|LOCK TABLE [^ ]+ IN ACCESS SHARE MODE$'"$own_drop)"
    bad=$(printf '%s\n' "$statements" | grep -Ev "$allowed" || true)
    [ -z "$bad" ] || fail "Tidewater sent statements that are not reads:
$bad"
}

# oracle_self_test PREFIX SCHEMA DSN WRITE_DSN [--from-new-snapshot]: with
# the agent stopped, one row changed behind its back (on WRITE_DSN, the
# primary of DSN's server or that server itself) must make oracle_tables
# fail with exactly that row different: a check that cannot fail proves
# nothing.
oracle_self_test() {
    local prefix=$1 s=$2 dsn=$3 write_dsn=$4 out rc=0
    psql "$write_dsn" -XAtq -v ON_ERROR_STOP=1 \
        -c "UPDATE $s.items SET t = 'oracle self-test' WHERE id = (SELECT min(id) FROM $s.items)" >/dev/null
    [ "$write_dsn" = "$dsn" ] || extra_wait_replay
    out=$( (oracle_tables "$prefix" "$s" "$dsn" "${5:-}") 2>&1) || rc=$?
    case "$rc $out" in
    "1 "*"0 missing, 0 extra, 1 different"*) ;;
    *) fail "the oracle did not see a row updated behind the agent's back (exit $rc): $out" ;;
    esac
}
