#!/usr/bin/env bash
# Start the Tidewater test environment on 127.0.0.1:
#   - PostgreSQL primary   (TW_PG_PRIMARY_PORT, default 55432), wal_level=logical
#   - PostgreSQL standby   (TW_PG_STANDBY_PORT, default 55433), streaming from
#                          the primary through the physical slot tw_standby
#                          Both run with ssl=on (a certificate of the
#                          environment's CA, TW_TLS_CA, for 127.0.0.1 and
#                          localhost); members of the role tw_tls_only
#                          must use TLS over TCP
#   - Kafka, KRaft mode    (TW_KAFKA_PORT 59092, TW_KAFKA_CONTROLLER_PORT 59093)
#                          and a SASL_SSL listener (TW_KAFKA_SASL_PORT 59094:
#                          TLS with a certificate of TW_TLS_CA, SCRAM-SHA-512
#                          user TW_KAFKA_SASL_USER with a password generated
#                          per environment, TW_KAFKA_SASL_PASSWORD)
#   - Schema registry      Apicurio Registry with the Confluent-compatible API
#                          at TW_SCHEMA_REGISTRY_URL (TW_SCHEMA_REGISTRY_PORT
#                          58081, management TW_SCHEMA_REGISTRY_MGMT_PORT
#                          58091, HTTPS TW_SCHEMA_REGISTRY_TLS_PORT 58443
#                          with a certificate of the environment's CA, whose
#                          PEM is TW_SCHEMA_REGISTRY_CA = TW_TLS_CA), HTTP basic auth with a password generated
#                          per environment (TW_SCHEMA_REGISTRY_USER_INFO), H2
#                          storage in the temp dir
# and write tests/env/state/env.sh for tests to source.
#
# If the environment recorded in state/env.sh is already up and answering,
# this does nothing. If it is recorded but (partly) dead, it is torn down and
# started again from scratch.
#
# Run tests/env/install.sh first. Set TW_ENV_KEEP_ON_FAILURE=1 to keep the
# temp dir and processes when startup fails, for post-mortem.

# Many TW_* variables below are only read through TW_STATE_VARS (indirectly)
# when state/env.sh is written, which shellcheck cannot see.
# shellcheck disable=SC2034
set -euo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tw_require_root
started=$SECONDS

# The recorded state is examined in subshells so its values (ports, major
# version, pids) do not replace what this run was asked for.
if [[ -f $TW_ENV_FILE ]]; then
    if (tw_state_load && tw_env_healthy); then
        requested_major=$TW_PG_MAJOR
        tw_state_load
        tw_log "environment already up in $TW_ENV_DIR (primary :$TW_PG_PRIMARY_PORT, standby :$TW_PG_STANDBY_PORT, kafka :$TW_KAFKA_PORT, schema registry :$TW_SCHEMA_REGISTRY_PORT); keeping it"
        if [[ $requested_major != "$TW_PG_MAJOR" ]]; then
            tw_log "WARNING: it runs PostgreSQL $TW_PG_VERSION, not $requested_major; run down.sh first to switch"
        fi
        tw_log "source $TW_ENV_FILE"
        exit 0
    fi
    tw_log "state file found but the environment is not healthy; cleaning it up and starting fresh"
    (tw_state_load && tw_env_teardown)
fi

tw_require_installed
TW_PG_BIN=$(tw_pg_bin_default)
TW_KAFKA_LIBS=$TW_KAFKA_LIBS_DEFAULT
TW_SCHEMA_REGISTRY_HOME=$TW_SCHEMA_REGISTRY_HOME_DEFAULT
TW_SCHEMA_REGISTRY_JAVA=$(cat "$TW_SCHEMA_REGISTRY_JAVA_RECORD")
tw_require_ports_free "$TW_PG_PRIMARY_PORT" "$TW_PG_STANDBY_PORT" "$TW_KAFKA_PORT" "$TW_KAFKA_CONTROLLER_PORT" \
    "$TW_SCHEMA_REGISTRY_PORT" "$TW_SCHEMA_REGISTRY_MGMT_PORT" "$TW_SCHEMA_REGISTRY_TLS_PORT" \
    "$TW_KAFKA_SASL_PORT"

# ---------------------------------------------------------------------------
# Layout of the temp dir.
# ---------------------------------------------------------------------------
TW_ENV_DIR=$(mktemp -d /tmp/tidewater-env.XXXXXX)
TW_PG_PRIMARY_DATA="$TW_ENV_DIR/primary"
TW_PG_STANDBY_DATA="$TW_ENV_DIR/standby"
TW_PG_PRIMARY_LOG="$TW_ENV_DIR/primary.log"
TW_PG_STANDBY_LOG="$TW_ENV_DIR/standby.log"
# The primary's socket lives in the env dir itself; the standby gets its own
# directory so the two servers never share lock files.
TW_PG_PRIMARY_SOCKET_DIR="$TW_ENV_DIR"
TW_PG_STANDBY_SOCKET_DIR="$TW_ENV_DIR/standby-socket"
kafka_dir="$TW_ENV_DIR/kafka"
TW_KAFKA_CONFIG="$kafka_dir/server.properties"
TW_KAFKA_DATA="$kafka_dir/data"
TW_KAFKA_LOG="$TW_ENV_DIR/kafka.log"
TW_KAFKA_BOOTSTRAP="$TW_HOST:$TW_KAFKA_PORT"
TW_KAFKA_SASL_BOOTSTRAP="$TW_HOST:$TW_KAFKA_SASL_PORT"
TW_SCHEMA_REGISTRY_DIR="$TW_ENV_DIR/registry"
TW_SCHEMA_REGISTRY_LOG="$TW_ENV_DIR/registry.log"
TW_SCHEMA_REGISTRY_URL="http://$TW_HOST:$TW_SCHEMA_REGISTRY_PORT/apis/ccompat/v7"
TW_SCHEMA_REGISTRY_HTTPS_URL="https://$TW_HOST:$TW_SCHEMA_REGISTRY_TLS_PORT/apis/ccompat/v7"
TW_TLS_DIR="$TW_ENV_DIR/tls"
TW_TLS_CA="$TW_TLS_DIR/ca.pem"
TW_SCHEMA_REGISTRY_CA=$TW_TLS_CA
TW_KAFKA_PID=''
TW_SCHEMA_REGISTRY_PID=''
TW_PG_PRIMARY_PID=''
TW_PG_STANDBY_PID=''

# On any failure from here on, stop what was started and remove the temp dir,
# so a failed run never leaves servers holding the ports.
on_exit() {
    local rc=$?
    ((rc == 0)) && return 0
    set +e
    if [[ ${TW_ENV_KEEP_ON_FAILURE:-0} == 1 ]]; then
        tw_state_write
        tw_log "startup failed; keeping $TW_ENV_DIR and its processes (TW_ENV_KEEP_ON_FAILURE=1); run down.sh to clean up"
        return 0
    fi
    tw_log "startup failed; tearing down $TW_ENV_DIR"
    tw_env_teardown
}
trap on_exit EXIT

chown "$TW_PG_OS_USER:" "$TW_ENV_DIR"
# Readable by everyone so people can look at the logs; data dirs stay 0700.
chmod 0755 "$TW_ENV_DIR"
install -d -o "$TW_PG_OS_USER" -m 0700 "$TW_PG_STANDBY_SOCKET_DIR"
pwfile="$TW_ENV_DIR/.pgpass-init"
install -o "$TW_PG_OS_USER" -m 0600 /dev/null "$pwfile"
printf '%s\n' "$TW_PG_SUPERUSER_PASSWORD" >"$pwfile"

# ---------------------------------------------------------------------------
# The environment's CA and a certificate for each TLS server: the registry's
# HTTPS port, PostgreSQL (primary and standby share one; the key is copied
# into each data directory, owned by twpg) and Kafka's SASL_SSL listener
# (key and certificate in one PEM file, Kafka's PEM keystore).
# ---------------------------------------------------------------------------
tw_tls_make_ca "$TW_TLS_DIR"
for name in registry postgres kafka; do
    tw_tls_make_cert "$TW_TLS_DIR" "$name"
done
install -m 0600 /dev/null "$TW_TLS_DIR/kafka-keystore.pem"
cat "$TW_TLS_DIR/kafka-key.pem" "$TW_TLS_DIR/kafka.pem" >"$TW_TLS_DIR/kafka-keystore.pem"

# ---------------------------------------------------------------------------
# The schema registry goes first: its JVM needs a few seconds to boot, which
# overlap with initdb and Kafka below. It is waited for at the end.
# ---------------------------------------------------------------------------
registry_password=$(tw_registry_password)
TW_SCHEMA_REGISTRY_USER_INFO="$TW_SCHEMA_REGISTRY_USER:$registry_password"
tw_registry_write_config "$TW_SCHEMA_REGISTRY_DIR" "$registry_password"
tw_log "starting Apicurio Registry $TW_APICURIO_VERSION on :$TW_SCHEMA_REGISTRY_PORT"
tw_registry_start

# ---------------------------------------------------------------------------
# Kafka storage format runs in the background while initdb works: each takes
# a couple of seconds of mostly single-threaded CPU.
# ---------------------------------------------------------------------------
TW_KAFKA_SASL_PASSWORD=$(tw_registry_password)
tw_kafka_write_configs "$kafka_dir"
tw_kafka_format "$kafka_dir" "$TW_KAFKA_LOG" &
format_pid=$!

tw_log "initdb primary ($TW_PG_BIN)"
tw_pg_initdb "$TW_PG_PRIMARY_DATA" "$pwfile" "$TW_PG_PRIMARY_LOG"
rm -f -- "$pwfile"

wait "$format_pid" || tw_die "kafka storage format failed"
tw_log "starting kafka $TW_KAFKA_VERSION"
tw_kafka_start "$kafka_dir" "$TW_KAFKA_LOG"

# ---------------------------------------------------------------------------
# Primary.
# ---------------------------------------------------------------------------
install -o "$TW_PG_OS_USER" -m 0644 "$TW_TLS_DIR/postgres.pem" "$TW_PG_PRIMARY_DATA/server.crt"
install -o "$TW_PG_OS_USER" -m 0600 "$TW_TLS_DIR/postgres-key.pem" "$TW_PG_PRIMARY_DATA/server.key"
tw_pg_write_conf "$TW_PG_PRIMARY_DATA" "$TW_PG_PRIMARY_PORT" "$TW_PG_PRIMARY_SOCKET_DIR" ssl=on
tw_pg_write_hba "$TW_PG_PRIMARY_DATA" ssl
tw_log "starting primary on :$TW_PG_PRIMARY_PORT"
tw_pg_start "$TW_PG_PRIMARY_DATA" "$TW_PG_PRIMARY_LOG"
tw_pg_setup_objects "$TW_PG_PRIMARY_SOCKET_DIR" "$TW_PG_PRIMARY_PORT"
# Reserve WAL now (second argument true) so everything the standby needs
# after the copy below is kept for it.
tw_psql_local "$TW_PG_PRIMARY_SOCKET_DIR" "$TW_PG_PRIMARY_PORT" postgres \
    -c "SELECT pg_create_physical_replication_slot('$TW_PG_STANDBY_SLOT', true)" >/dev/null

# ---------------------------------------------------------------------------
# Standby: a copy of the cleanly shut down primary. Debian's pg_basebackup
# (15) refuses newer servers and the npm package does not ship one, and a
# copy taken after a clean shutdown is consistent without any backup label.
# ---------------------------------------------------------------------------
tw_log "copying primary to make the standby"
tw_pg_stop "$TW_PG_PRIMARY_DATA"
cp -a "$TW_PG_PRIMARY_DATA" "$TW_PG_STANDBY_DATA"
tw_pg_start "$TW_PG_PRIMARY_DATA" "$TW_PG_PRIMARY_LOG"
# The copy carries the primary's slot; on the standby it would only pin WAL.
rm -rf -- "${TW_PG_STANDBY_DATA:?}/pg_replslot/$TW_PG_STANDBY_SLOT"
rm -f -- "$TW_PG_STANDBY_DATA/postmaster.opts"
conninfo="host=$TW_HOST port=$TW_PG_PRIMARY_PORT user=postgres password=$TW_PG_SUPERUSER_PASSWORD application_name=$TW_PG_STANDBY_SLOT"
tw_pg_write_conf "$TW_PG_STANDBY_DATA" "$TW_PG_STANDBY_PORT" "$TW_PG_STANDBY_SOCKET_DIR" \
    "primary_conninfo=$conninfo" \
    "primary_slot_name=$TW_PG_STANDBY_SLOT" \
    ssl=on \
    hot_standby=on \
    hot_standby_feedback=on \
    wal_retrieve_retry_interval=1s
install -o "$TW_PG_OS_USER" -m 0600 /dev/null "$TW_PG_STANDBY_DATA/standby.signal"
tw_log "starting standby on :$TW_PG_STANDBY_PORT"
tw_pg_start "$TW_PG_STANDBY_DATA" "$TW_PG_STANDBY_LOG"

# ---------------------------------------------------------------------------
# Wait until everything answers the way tests will use it.
# ---------------------------------------------------------------------------
TW_PG_PRIMARY_DSN=$(tw_dsn "$TW_PG_PRIMARY_PORT" "$TW_PG_USER" "$TW_PG_PASSWORD")
TW_PG_STANDBY_DSN=$(tw_dsn "$TW_PG_STANDBY_PORT" "$TW_PG_USER" "$TW_PG_PASSWORD")
TW_PG_SUPERUSER_DSN=$(tw_dsn "$TW_PG_PRIMARY_PORT" postgres "$TW_PG_SUPERUSER_PASSWORD")
TW_PG_STANDBY_SUPERUSER_DSN=$(tw_dsn "$TW_PG_STANDBY_PORT" postgres "$TW_PG_SUPERUSER_PASSWORD")
TW_PG_PRIMARY_PID=$(tw_pg_pid "$TW_PG_PRIMARY_DATA")
TW_PG_STANDBY_PID=$(tw_pg_pid "$TW_PG_STANDBY_DATA")

tw_wait_until 30 "primary to accept $TW_PG_USER over TCP" "$TW_PG_PRIMARY_LOG" "$TW_PG_PRIMARY_PID" \
    tw_pg_answers "$TW_PG_PRIMARY_DSN"
tw_wait_until 30 "standby to accept $TW_PG_USER over TCP" "$TW_PG_STANDBY_LOG" "$TW_PG_STANDBY_PID" \
    tw_pg_answers "$TW_PG_STANDBY_DSN"
lsn=$(tw_psql "$TW_PG_SUPERUSER_DSN" -c 'SELECT pg_current_wal_lsn()')
tw_wait_until 60 "standby to replay the primary's WAL up to $lsn" "$TW_PG_STANDBY_LOG" "$TW_PG_STANDBY_PID" \
    tw_standby_replayed "$TW_PG_STANDBY_DSN" "$lsn"
tw_wait_until 30 "primary to report the standby as streaming" "$TW_PG_PRIMARY_LOG" "$TW_PG_PRIMARY_PID" \
    tw_primary_sees_streaming "$TW_PG_SUPERUSER_DSN"
TW_PG_VERSION=$(tw_psql "$TW_PG_SUPERUSER_DSN" -c 'SHOW server_version')
TW_PG_VERSION_NUM=$(tw_psql "$TW_PG_SUPERUSER_DSN" -c 'SHOW server_version_num')

tw_wait_until 120 "kafka to answer a metadata request on $TW_KAFKA_BOOTSTRAP" "$TW_KAFKA_LOG" "$TW_KAFKA_PID" \
    tw_kafka_answers "$TW_HOST" "$TW_KAFKA_PORT"
tw_wait_until 120 "the schema registry to answer on $TW_SCHEMA_REGISTRY_URL" "$TW_SCHEMA_REGISTRY_LOG" \
    "$TW_SCHEMA_REGISTRY_PID" tw_registry_answers "$TW_SCHEMA_REGISTRY_URL" "$TW_SCHEMA_REGISTRY_USER_INFO"

tw_state_write
trap - EXIT
tw_log "up in $((SECONDS - started))s: PostgreSQL $TW_PG_VERSION primary :$TW_PG_PRIMARY_PORT (pid $TW_PG_PRIMARY_PID), standby :$TW_PG_STANDBY_PORT (pid $TW_PG_STANDBY_PID); Kafka $TW_KAFKA_VERSION $TW_KAFKA_BOOTSTRAP (pid $TW_KAFKA_PID); Apicurio Registry $TW_APICURIO_VERSION $TW_SCHEMA_REGISTRY_URL (pid $TW_SCHEMA_REGISTRY_PID)"
tw_log "source $TW_ENV_FILE"
