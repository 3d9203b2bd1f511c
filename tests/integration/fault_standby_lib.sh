# shellcheck shell=bash
# Sourced by the fault tests that need a standby of their own (after lib.sh,
# require_services and fault_lib.sh): a streaming standby of the shared
# primary on a free port, which the test may promote or starve of WAL
# without disturbing the shared standby other tests use at the same time.
# The workload, the oracle and the read-only proof are fault_lib.sh's and
# lib.sh's, given this server's DSN or log.
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
# (log_statement=all) from its start, for assert_read_only --log=$EXTRA_LOG.

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
        wal_receiver_status_interval=1s \
        log_statement=all "$@"
    install -o "$TW_PG_OS_USER" -m 0600 /dev/null "$EXTRA_DATA/standby.signal"
    # tw_pg_start exits on failure: in a subshell, so that fail() reports it.
    (tw_pg_start "$EXTRA_DATA" "$EXTRA_LOG") || fail "the extra standby did not start: $(tail -n 20 "$EXTRA_LOG")"
    # shellcheck disable=SC2034 # for the scripts that source this file
    EXTRA_DSN=$(tw_dsn "$EXTRA_PORT" "$TW_PG_USER" "$TW_PG_PASSWORD")
    EXTRA_SUPERUSER_DSN=$(tw_dsn "$EXTRA_PORT" postgres "$TW_PG_SUPERUSER_PASSWORD")
    lsn=$(psql_primary -c "SELECT pg_current_wal_lsn()")
    local ok=0
    for _ in $(seq 1 300); do
        if [ "$(psql_extra -c "SELECT pg_is_in_recovery() AND pg_last_wal_replay_lsn() >= '$lsn'" 2>/dev/null)" = t ]; then
            ok=1
            break
        fi
        sleep 0.1
    done
    [ "$ok" = 1 ] || fail "the extra standby on :$EXTRA_PORT did not replay up to $lsn in 30 s: $(tail -n 20 "$EXTRA_LOG")"
    # Until its hot_standby_feedback has reached the primary (the physical
    # slot holds an xmin), the primary may remove catalog rows a logical slot
    # made on this standby needs, and the standby then invalidates that slot
    # (rows_removed): a race of the test's setup, not of the agent.
    for _ in $(seq 1 300); do
        [ "$(psql_primary -c "SELECT xmin IS NOT NULL FROM pg_replication_slots WHERE slot_name = '$EXTRA_SLOT'")" = t ] &&
            return 0
        sleep 0.1
    done
    fail "the primary's slot $EXTRA_SLOT has no xmin from the extra standby's feedback after 30 s"
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
