#!/usr/bin/env bash
# Control the running test environment (for fault-injection tests and people).
#
#   ctl.sh status
#   ctl.sh stop|start|restart primary|standby|kafka|registry
#                                  registry is the schema registry; a start
#                                  waits until it answers, and its data (and
#                                  so every schema id) survives a restart
#   ctl.sh standby-snapshot        pg_log_standby_snapshot() on the primary:
#                                  a logical slot being created on the standby
#                                  waits for the running-xacts record this
#                                  writes, so call it while creating one
#   ctl.sh psql primary|standby [psql args...]   psql as the superuser
#   ctl.sh kafka-topics [TopicCommand args...]   --bootstrap-server is added
#   ctl.sh kafka-run CLASS [args...]             any class from the Kafka jars
#   ctl.sh throwaway DIR PORT [-c name=value | name=value ...]
#                                  initdb + start a standalone server in DIR on
#                                  127.0.0.1:PORT with the same roles, database,
#                                  sample schema and publication as the primary;
#                                  settings override the defaults, e.g.
#                                  -c wal_level=replica. Prints (and writes to
#                                  DIR/env.sh) TW_THROWAWAY_* exports.
#   ctl.sh throwaway-stop [--keep] DIR
#                                  stop it and remove DIR (unless --keep)
#
# All but throwaway* need a running environment (up.sh). Every start/stop
# rewrites state/env.sh so the recorded pids stay accurate.
set -euo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
    exit 2
}

need_env() {
    tw_state_load || tw_die "no environment recorded; run tests/env/up.sh first"
}

# ---------------------------------------------------------------------------
# Services of the main environment.
# ---------------------------------------------------------------------------
pg_target() { # primary|standby -> sets data/log/dsn/port for that server
    case "$1" in
        primary)
            data=$TW_PG_PRIMARY_DATA log=$TW_PG_PRIMARY_LOG
            dsn=$TW_PG_SUPERUSER_DSN port=$TW_PG_PRIMARY_PORT
            ;;
        standby)
            # shellcheck disable=SC2153 # set by state/env.sh
            data=$TW_PG_STANDBY_DATA log=$TW_PG_STANDBY_LOG
            dsn=$TW_PG_STANDBY_SUPERUSER_DSN port=$TW_PG_STANDBY_PORT
            ;;
        *) usage ;;
    esac
}

service_stop() {
    case "$1" in
        primary | standby)
            local data log dsn port pid recorded
            pg_target "$1"
            pid=$(tw_pg_pid "$data")
            # Fall back to the recorded pid if postmaster.pid is gone.
            recorded=TW_PG_${1^^}_PID
            if [[ -z $pid ]] && tw_pid_matches "${!recorded:-}" "-D $data "; then
                pid=${!recorded}
            fi
            if [[ -z $pid ]]; then
                tw_log "$1 is not running"
            else
                tw_log "stopping $1 (pid $pid)"
                tw_pg_stop "$data" "$pid"
            fi
            ;;
        kafka)
            if tw_kafka_is_ours "${TW_KAFKA_PID:-}"; then
                tw_log "stopping kafka (pid $TW_KAFKA_PID)"
                tw_kafka_stop "$TW_KAFKA_PID"
            else
                tw_log "kafka is not running"
            fi
            ;;
        registry)
            if tw_registry_is_ours "${TW_SCHEMA_REGISTRY_PID:-}"; then
                tw_log "stopping the schema registry (pid $TW_SCHEMA_REGISTRY_PID)"
                tw_registry_stop "$TW_SCHEMA_REGISTRY_PID"
            else
                tw_log "the schema registry is not running"
            fi
            ;;
        *) usage ;;
    esac
    tw_state_refresh_pids
}

service_start() {
    case "$1" in
        primary | standby)
            local data log dsn port pid
            pg_target "$1"
            pid=$(tw_pg_pid "$data")
            if [[ -n $pid ]]; then
                tw_log "$1 already running (pid $pid)"
            else
                tw_require_ports_free "$port"
                tw_log "starting $1 on :$port"
                tw_pg_start "$data" "$log"
                tw_wait_until 30 "$1 to accept connections" "$log" "$(tw_pg_pid "$data")" \
                    tw_pg_answers "$dsn"
                wait_replication
            fi
            ;;
        kafka)
            if tw_kafka_is_ours "${TW_KAFKA_PID:-}"; then
                tw_log "kafka already running (pid $TW_KAFKA_PID)"
            else
                tw_require_ports_free "$TW_KAFKA_PORT" "$TW_KAFKA_CONTROLLER_PORT" "$TW_KAFKA_SASL_PORT"
                tw_log "starting kafka on $TW_KAFKA_BOOTSTRAP"
                tw_kafka_start "$(dirname "$TW_KAFKA_CONFIG")" "$TW_KAFKA_LOG"
                # Record the pid before waiting, so a failed start can still
                # be cleaned up by down.sh.
                tw_state_write
                tw_wait_until 120 "kafka to answer on $TW_KAFKA_BOOTSTRAP" "$TW_KAFKA_LOG" "$TW_KAFKA_PID" \
                    tw_kafka_answers "$TW_HOST" "$TW_KAFKA_PORT"
            fi
            ;;
        registry)
            if tw_registry_is_ours "${TW_SCHEMA_REGISTRY_PID:-}"; then
                tw_log "the schema registry is already running (pid $TW_SCHEMA_REGISTRY_PID)"
            else
                [[ -d ${TW_SCHEMA_REGISTRY_DIR:-}/config ]] ||
                    tw_die "this environment has no schema registry (made before it was added?); run down.sh and up.sh"
                tw_require_ports_free "$TW_SCHEMA_REGISTRY_PORT" "$TW_SCHEMA_REGISTRY_MGMT_PORT"
                tw_log "starting the schema registry on :$TW_SCHEMA_REGISTRY_PORT"
                # Same directory, so the same config (password) and H2 data.
                tw_registry_start
                tw_state_write
                tw_wait_until 120 "the schema registry to answer on $TW_SCHEMA_REGISTRY_URL" \
                    "$TW_SCHEMA_REGISTRY_LOG" "$TW_SCHEMA_REGISTRY_PID" \
                    tw_registry_answers "$TW_SCHEMA_REGISTRY_URL" "$TW_SCHEMA_REGISTRY_USER_INFO"
            fi
            ;;
        *) usage ;;
    esac
    tw_state_refresh_pids
}

# After a start, give the pair time to resume streaming so a test sees the
# usual topology again. Only when both servers run, and only a warning on
# timeout: a test may have broken replication on purpose.
wait_replication() {
    if [[ -n $(tw_pg_pid "$TW_PG_PRIMARY_DATA") && -n $(tw_pg_pid "$TW_PG_STANDBY_DATA") ]]; then
        tw_wait_until 30 "the standby to stream from the primary again" "$TW_PG_STANDBY_LOG" "" \
            tw_standby_streaming "$TW_PG_STANDBY_SUPERUSER_DSN" ||
            tw_log "WARNING: replication did not resume within 30s"
    fi
}

status() {
    local name state
    for name in primary standby; do
        local data log dsn port
        pg_target "$name"
        if tw_pg_answers "$dsn"; then state="up (pid $(tw_pg_pid "$data"))"; else state=down; fi
        printf '%-8s :%-6s %s\n' "$name" "$port" "$state"
    done
    if tw_kafka_answers "$TW_HOST" "$TW_KAFKA_PORT" 2>/dev/null; then
        state="up (pid $TW_KAFKA_PID)"
    else
        state=down
    fi
    printf '%-8s :%-6s %s\n' kafka "$TW_KAFKA_PORT" "$state"
    if tw_registry_answers "${TW_SCHEMA_REGISTRY_URL:-}" "${TW_SCHEMA_REGISTRY_USER_INFO:-}" 2>/dev/null; then
        state="up (pid $TW_SCHEMA_REGISTRY_PID)"
    else
        state=down
    fi
    printf '%-8s :%-6s %s\n' registry "$TW_SCHEMA_REGISTRY_PORT" "$state"
    state=$(tw_psql "$TW_PG_STANDBY_SUPERUSER_DSN" -c "SELECT coalesce(max(status), 'no wal receiver') FROM pg_stat_wal_receiver" 2>/dev/null) || state='unknown (standby down)'
    printf '%-16s %s\n' replication "$state"
}

# ---------------------------------------------------------------------------
# Throwaway servers.
# ---------------------------------------------------------------------------
throwaway_marker=.tidewater-throwaway

throwaway() {
    (($# >= 2)) || usage
    local dir=$1 port=$2
    shift 2
    [[ $port =~ ^[0-9]+$ ]] || tw_die "PORT must be a number (got '$port')"
    local settings=()
    while (($#)); do
        case "$1" in
            -c)
                (($# >= 2)) || tw_die "-c needs name=value"
                settings+=("$2")
                shift 2
                ;;
            -c*) settings+=("${1#-c}") && shift ;;
            --*=*) settings+=("${1#--}") && shift ;;
            *=*) settings+=("$1") && shift ;;
            *) tw_die "unexpected argument '$1' (want -c name=value)" ;;
        esac
    done
    TW_PG_BIN=${TW_PG_BIN:-$(tw_pg_bin_default)}
    [[ -x $TW_PG_BIN/postgres ]] || tw_die "no PostgreSQL binaries; run tests/env/install.sh"

    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [[ -n $(ls -A "$dir") ]]; then
        tw_die "$dir is not empty"
    fi
    tw_require_ports_free "$port"
    chown "$TW_PG_OS_USER:" "$dir"
    chmod 0755 "$dir"
    tw_as_pg test -w "$dir" ||
        tw_die "$TW_PG_OS_USER cannot reach $dir (a parent directory is not traversable)"
    touch "$dir/$throwaway_marker"

    local data="$dir/data" log="$dir/server.log" pwfile="$dir/.pgpass-init"
    install -o "$TW_PG_OS_USER" -m 0600 /dev/null "$pwfile"
    printf '%s\n' "$TW_PG_SUPERUSER_PASSWORD" >"$pwfile"
    tw_pg_initdb "$data" "$pwfile" "$log"
    rm -f -- "$pwfile"
    tw_pg_write_conf "$data" "$port" "$dir" "${settings[@]}"
    tw_pg_write_hba "$data"
    tw_pg_start "$data" "$log"
    tw_pg_setup_objects "$dir" "$port" >/dev/null

    local dsn su_dsn pid
    dsn=$(tw_dsn "$port" "$TW_PG_USER" "$TW_PG_PASSWORD")
    su_dsn=$(tw_dsn "$port" postgres "$TW_PG_SUPERUSER_PASSWORD")
    pid=$(tw_pg_pid "$data")
    tw_wait_until 30 "throwaway server on :$port" "$log" "$pid" tw_pg_answers "$dsn"
    {
        printf 'export TW_THROWAWAY_DIR=%s\n' "$(tw_shq "$dir")"
        printf 'export TW_THROWAWAY_PORT=%s\n' "$(tw_shq "$port")"
        printf 'export TW_THROWAWAY_DATA=%s\n' "$(tw_shq "$data")"
        printf 'export TW_THROWAWAY_LOG=%s\n' "$(tw_shq "$log")"
        printf 'export TW_THROWAWAY_PID=%s\n' "$(tw_shq "$pid")"
        printf 'export TW_THROWAWAY_DSN=%s\n' "$(tw_shq "$dsn")"
        printf 'export TW_THROWAWAY_SUPERUSER_DSN=%s\n' "$(tw_shq "$su_dsn")"
    } | tee "$dir/env.sh"
    tw_log "throwaway server up on :$port (pid $pid, data $data)"
}

throwaway_stop() {
    local keep=0
    if [[ ${1:-} == --keep ]]; then
        keep=1
        shift
    fi
    (($# == 1)) || usage
    local dir=$1
    [[ -d $dir ]] || {
        tw_log "$dir does not exist; nothing to stop"
        return 0
    }
    [[ -f $dir/$throwaway_marker ]] || tw_die "$dir was not made by 'ctl.sh throwaway'"
    TW_PG_BIN=${TW_PG_BIN:-$(tw_pg_bin_default)}
    tw_pg_stop "$dir/data"
    if ((keep)); then
        tw_log "throwaway server in $dir stopped (kept)"
    else
        rm -rf -- "$dir"
        tw_log "throwaway server in $dir stopped and removed"
    fi
}

# ---------------------------------------------------------------------------
(($# >= 1)) || usage
tw_require_root
cmd=$1
shift
case "$cmd" in
    stop | start | restart)
        (($# == 1)) || usage
        need_env
        case "$cmd" in
            stop) service_stop "$1" ;;
            start) service_start "$1" ;;
            restart)
                service_stop "$1"
                service_start "$1"
                ;;
        esac
        ;;
    status)
        need_env
        status
        ;;
    standby-snapshot)
        need_env
        tw_psql "$TW_PG_SUPERUSER_DSN" -c 'SELECT pg_log_standby_snapshot()'
        ;;
    psql)
        (($# >= 1)) || usage
        need_env
        target=$1
        shift
        data='' log='' dsn='' port=''
        pg_target "$target"
        exec psql -X -d "$dsn" "$@"
        ;;
    kafka-topics)
        need_env
        tw_kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$TW_KAFKA_BOOTSTRAP" "$@"
        ;;
    kafka-run)
        (($# >= 1)) || usage
        need_env
        tw_kafka_tool "$@"
        ;;
    throwaway) throwaway "$@" ;;
    throwaway-stop) throwaway_stop "$@" ;;
    -h | --help | help) usage ;;
    *) usage ;;
esac
