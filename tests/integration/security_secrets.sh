#!/usr/bin/env bash
# Secrets never leave the agent: distinctive passwords (PostgreSQL, Kafka
# SASL, schema registry; right and wrong ones) reach it only through *_file
# keys and the environment, and the agent is driven through success and
# failure paths -- streaming over TLS with debug logging (librdkafka's too),
# a wrong password for each server, unreachable servers, malformed
# connection strings and bad keys. Every byte it prints (stdout, stderr, the
# log), every HTTP body (/metrics, /readyz, /healthz) and `tidewater config
# --show` is then searched for every secret; one occurrence fails the test.
# The search itself is first shown to find a planted secret.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_services
if [ -z "${TW_KAFKA_SASL_BOOTSTRAP:-}" ] || [ -z "${TW_TLS_CA:-}" ]; then
    fail "the environment predates TLS/SASL (no TW_KAFKA_SASL_BOOTSTRAP): run tests/env/down.sh and up.sh"
fi

ID="$$_$RANDOM"
PREFIX="sec$ID"
SLOT="tw_sec_$ID"
S="tw_sec_$ID"
ROLE="tw_sec_role_$ID"
dir=$(mktemp -d)
out="$dir/out" # everything the agent printed or served, one file per step
mkdir "$out"
cleanup() {
    drop_test_objects "$S" "$SLOT"
    psql_primary -c "DROP OWNED BY $ROLE" -c "DROP ROLE IF EXISTS $ROLE" >/dev/null 2>&1 || true
    if [ -n "${TW_SECRETS_KEEP:-}" ]; then note "outputs kept in $dir/out"; else rm -rf "$dir"; fi
}
trap cleanup EXIT

rnd() { "$TW_PY" -c 'import secrets; print(secrets.token_hex(8))'; }
# The secrets, each distinctive. The right ones for Kafka and the registry
# are the environment's (random per environment); PostgreSQL gets a role of
# this test's own with a password of its own.
PG_PW="PgPw$(rnd)"
PG_WRONG="PgWrong$(rnd)"
KAFKA_PW=$TW_KAFKA_SASL_PASSWORD
KAFKA_WRONG="KafkaWrong$(rnd)"
REG_USER=${TW_SCHEMA_REGISTRY_USER_INFO%%:*}
REG_PW=${TW_SCHEMA_REGISTRY_USER_INFO#*:}
REG_WRONG="RegWrong$(rnd)"
REG_URL_PW="RegUrl$(rnd)"
BAD_CONNINFO_PW="BadConn$(rnd)"
BAD_URI_PW="BadUri%zz$(rnd)"
SECRETS=("$PG_PW" "$PG_WRONG" "$KAFKA_PW" "$KAFKA_WRONG" "$REG_PW" "$REG_WRONG" "$REG_URL_PW"
    "$BAD_CONNINFO_PW" "$BAD_URI_PW")
NAMES=(PG_PW PG_WRONG KAFKA_PW KAFKA_WRONG REG_PW REG_WRONG REG_URL_PW BAD_CONNINFO_PW BAD_URI_PW)
for s in "${SECRETS[@]}"; do [ "${#s}" -ge 12 ] || fail "a test secret is too short to be distinctive: '$s'"; done

# leaks FILE...: prints "FILE: NAME (line)" for every secret found in a file.
leaks() {
    local f i
    for f in "$@"; do
        for i in "${!SECRETS[@]}"; do
            if grep -qF -- "${SECRETS[$i]}" "$f"; then
                echo "$(basename "$f"): ${NAMES[$i]} in: $(grep -F -- "${SECRETS[$i]}" "$f" | head -n 1 | cut -c1-300)"
            fi
        done
    done
}
# The search must find what it looks for.
printf 'msg="connecting with password=%s"\n' "$PG_PW" >"$dir/planted.txt"
[ -n "$(leaks "$dir/planted.txt")" ] || fail "the leak search does not find a planted secret"

psql_primary <<SQL >/dev/null
CREATE ROLE $ROLE LOGIN REPLICATION PASSWORD '$PG_PW' IN ROLE tw_tls_only;
GRANT pg_read_all_stats TO $ROLE;
GRANT CONNECT ON DATABASE $TW_PG_DATABASE TO $ROLE;
SQL
create_test_schema "$S" "CREATE TABLE $S.t (id int PRIMARY KEY, v text);
GRANT USAGE ON SCHEMA $S TO $ROLE; GRANT SELECT ON ALL TABLES IN SCHEMA $S TO $ROLE;"

secret_file() { # NAME VALUE
    install -m 0600 /dev/null "$dir/$1"
    printf '%s\n' "$2" >"$dir/$1"
}
# The whole connection string, password included, from a file: the way a
# Kubernetes Secret often carries it.
base_ci="host=localhost port=$TW_PG_STANDBY_PORT dbname=$TW_PG_DATABASE user=$ROLE sslmode=verify-full sslrootcert=$TW_TLS_CA"
secret_file conninfo "$base_ci password=$PG_PW"
secret_file conninfo-wrong "$base_ci password=$PG_WRONG"
secret_file conninfo-unreachable "host=127.0.0.1 port=1 dbname=x user=$ROLE password=$PG_PW connect_timeout=2"
secret_file conninfo-malformed "host=localhost password=$BAD_CONNINFO_PW extra"
secret_file conninfo-bad-uri "postgresql://$ROLE:$BAD_URI_PW@localhost:$TW_PG_STANDBY_PORT/$TW_PG_DATABASE"
secret_file pg-password "$PG_PW"
secret_file kafka-password "$KAFKA_PW"
secret_file kafka-wrong "$KAFKA_WRONG"
secret_file registry-user-info "$REG_USER:$REG_PW"
secret_file registry-wrong "$REG_USER:$REG_WRONG"

PORT=$("$TW_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$dir/agent.properties" <<EOF
source.conninfo_file = $dir/conninfo
source.publication = ${S}_pub
slot.name = $SLOT
topic.prefix = $PREFIX
http.listen = 127.0.0.1:$PORT
log.level = debug
check.timeout.ms = 3000
kafka.bootstrap.servers = $TW_KAFKA_SASL_BOOTSTRAP
kafka.security.protocol = SASL_SSL
kafka.sasl.mechanisms = SCRAM-SHA-512
kafka.sasl.username = $TW_KAFKA_SASL_USER
kafka.sasl.password_file = $dir/kafka-password
kafka.ssl.ca.location = $TW_TLS_CA
kafka.debug = generic,broker,security,conf,protocol,metadata
schema.registry.url = $TW_SCHEMA_REGISTRY_HTTPS_URL
schema.registry.ssl.ca.location = $TW_TLS_CA
schema.registry.basic.auth.user.info_file = $dir/registry-user-info
EOF
CONF=(--config "$dir/agent.properties")

# tw STEP ARGS...: runs the agent, all output to $out/STEP, the exit status
# to $out/STEP.rc. It must finish within 60 s, unless TW_RETRIES=S says it
# retries for ever: then it is stopped (SIGTERM) after S seconds.
tw() {
    local step=$1 rc=0
    shift
    timeout "${TW_RETRIES:-60}" "$TW_BIN" "$@" >"$out/$step" 2>&1 || rc=$?
    [ "$rc" -ne 124 ] || [ -n "${TW_RETRIES:-}" ] || fail "step $step: tidewater $* did not finish within 60 s"
    echo "$rc" >"$out/$step.rc"
}
http_bodies() { # TAG: /metrics, /readyz and /healthz bodies, whatever the status
    local p
    for p in metrics readyz healthz; do
        curl -s --max-time 5 "http://127.0.0.1:$PORT/$p" >"$out/$1-$p.http" 2>&1 || true
    done
}
# run_until STEP PATTERN [ARGS]: `tidewater run` in the background until its
# output matches PATTERN (at most 60 s); the HTTP bodies are taken then; the
# agent is stopped with SIGTERM (SIGKILL after 20 s).
run_until() {
    local step=$1 pattern=$2 pid i
    shift 2
    "$TW_BIN" run "${CONF[@]}" "$@" >"$out/$step" 2>&1 &
    pid=$!
    for i in $(seq 1 600); do
        grep -q -- "$pattern" "$out/$step" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    grep -q -- "$pattern" "$out/$step" || { AGENT_LOG="$out/$step" && fail "step $step: no '$pattern' in the agent's output"; }
    http_bodies "$step"
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    local rc=0
    wait "$pid" 2>/dev/null || rc=$?
    echo "$rc" >"$out/$step.rc"
}

# 1. The configuration, shown.
tw config-show config --show "${CONF[@]}"
# The environment outranks the file: the password is now the variable's.
TIDEWATER_KAFKA_SASL_PASSWORD="$KAFKA_PW" tw config-show-env config --show "${CONF[@]}"
grep -q '^kafka.sasl.password = .*# env TIDEWATER_KAFKA_SASL_PASSWORD' "$out/config-show-env" ||
    fail "config --show does not take kafka.sasl.password from the environment: $(grep sasl.password "$out/config-show-env")"

# 2. Success: check, then stream a row over TLS / SASL_SSL / HTTPS with debug
#    logging, and read every endpoint while it runs.
tw check-ok check "${CONF[@]}"
[ "$(cat "$out/check-ok.rc")" = 0 ] || fail "check failed with the right secrets: $(cat "$out/check-ok")"
# The slot is created on the standby: let the primary log standby snapshots.
(while sleep 0.3; do psql_primary -c "SELECT pg_log_standby_snapshot()" >/dev/null 2>&1; done) &
ticker=$!
"$TW_BIN" run "${CONF[@]}" >"$out/run-ok" 2>&1 &
AGENT_PID=$!
AGENT_LOG="$out/run-ok"
for _ in $(seq 1 300); do
    grep -q 'msg="streaming slot' "$out/run-ok" && break
    kill -0 "$AGENT_PID" 2>/dev/null || break
    sleep 0.1
done
kill "$ticker" 2>/dev/null || true
wait "$ticker" 2>/dev/null || true
grep -q 'msg="streaming slot' "$out/run-ok" || fail "the agent did not start streaming with the right secrets"
psql_primary -c "INSERT INTO $S.t VALUES (1, 'secret-test')" >/dev/null
lsn=$(psql_primary -c "SELECT pg_current_wal_lsn()")
wait_standby_replay
wait_slot_flushed_past "$SLOT" "$lsn" 60 || fail "the row was not published (slot not flushed past $lsn)"
for _ in $(seq 1 50); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz")" = 200 ] && break
    sleep 0.2
done
http_bodies run-ok
grep -q '^tidewater_' "$out/run-ok-metrics.http" || fail "/metrics served no tidewater_ metrics"
stop_agent
grep -q 'level=debug' "$out/run-ok" || fail "no debug lines: log.level=debug did not apply"
grep -q 'component=kafka msg=".*SASL' "$out/run-ok" || fail "no librdkafka SASL debug lines in the log"
note "success path: $(wc -l <"$out/run-ok") log lines at debug level, endpoints read"

# 3. Failures.
# PostgreSQL: wrong password, unreachable, malformed strings (key=value, URI).
for v in wrong unreachable malformed bad-uri; do
    tw "check-pg-$v" check "${CONF[@]}" --set "source.conninfo_file=$dir/conninfo-$v"
done
# run: refused at once (permanent), except the unreachable server, which it
# retries; its tries are watched for 10 s.
for v in wrong malformed bad-uri; do
    tw "run-pg-$v" run "${CONF[@]}" --set "source.conninfo_file=$dir/conninfo-$v" --set http.listen=
    [ "$(cat "$out/run-pg-$v.rc")" = 1 ] || fail "run with conninfo-$v exited $(cat "$out/run-pg-$v.rc"), want 1: $(tail -n 3 "$out/run-pg-$v")"
done
TW_RETRIES=10 tw run-pg-unreachable run "${CONF[@]}" --set "source.conninfo_file=$dir/conninfo-unreachable"
grep -q 'Connection refused' "$out/run-pg-unreachable" || fail "no connection failure logged for the unreachable server: $(tail -n 3 "$out/run-pg-unreachable")"
grep -q 'password authentication failed' "$out/check-pg-wrong" || fail "no authentication failure for the wrong PostgreSQL password: $(cat "$out/check-pg-wrong")"
grep -q 'does not parse' "$out/check-pg-malformed" || fail "the malformed conninfo was not reported: $(cat "$out/check-pg-malformed")"
grep -q 'invalid percent-encoded token' "$out/check-pg-bad-uri" || fail "the bad URI was not reported: $(cat "$out/check-pg-bad-uri")"
# Password given separately (source.password_file) with a string that has none.
tw check-pg-password-file check "${CONF[@]}" --set "source.conninfo=$base_ci" \
    --set "source.password_file=$dir/pg-password"
[ "$(cat "$out/check-pg-password-file.rc")" = 0 ] || fail "check with source.password_file failed: $(cat "$out/check-pg-password-file")"
# Kafka: wrong SASL password (check, and run with /readyz read while it is
# refused), unreachable broker.
tw check-kafka-wrong check "${CONF[@]}" --set "kafka.sasl.password_file=$dir/kafka-wrong"
grep -q 'SASL authentication error' "$out/check-kafka-wrong" || fail "no SASL failure reported: $(cat "$out/check-kafka-wrong")"
run_until run-kafka-wrong 'SASL authentication error' --set "kafka.sasl.password_file=$dir/kafka-wrong"
tw check-kafka-unreachable check "${CONF[@]}" --set "kafka.bootstrap.servers=127.0.0.1:1"
# Registry: wrong password; credentials inside an unreachable URL.
tw check-registry-wrong check "${CONF[@]}" --set "schema.registry.basic.auth.user.info_file=$dir/registry-wrong"
grep -q 'FAIL  schema_registry' "$out/check-registry-wrong" || fail "the wrong registry password was not reported: $(cat "$out/check-registry-wrong")"
tw check-registry-url check "${CONF[@]}" --set "schema.registry.url=http://$REG_USER:$REG_URL_PW@127.0.0.1:1/apis/ccompat/v7" \
    --set "schema.registry.basic.auth.user.info_file="
tw config-registry-url config --show "${CONF[@]}" --set "schema.registry.url=http://$REG_USER:$REG_URL_PW@127.0.0.1:1/"
# Bad configuration around secrets: a mistyped secret key (the value must not
# be echoed), an unknown librdkafka property, a missing secret file.
TIDEWATER_SOURCE_PASWORD="$PG_PW" tw config-typo-env config --show "${CONF[@]}"
tw config-typo-kafka check "${CONF[@]}" --set "kafka.sasl.pasword_file=$dir/kafka-password"
tw config-missing-file run "${CONF[@]}" --set "kafka.sasl.password_file=$dir/no-such-file"
for step in config-typo-env config-typo-kafka config-missing-file; do
    [ "$(cat "$out/$step.rc")" != 0 ] || fail "step $step: the bad configuration was accepted"
done

# No step may end by a sanitizer's exit status (86-88 under tests/run.sh's
# ASan/UBSan/LSan options): a leak report would otherwise pass unnoticed.
for f in "$out"/*.rc; do
    case "$(cat "$f")" in
    86 | 87 | 88) fail "step $(basename "$f" .rc) exited $(cat "$f") (a sanitizer finding): $(grep -m 3 -E 'Sanitizer|runtime error' "${f%.rc}")" ;;
    esac
done

# 4. The search.
AGENT_LOG=""
files=("$out"/*)
found=$(leaks "${files[@]}")
if [ -n "$found" ]; then
    fail "secrets appear in the agent's output:
$found"
fi
note "searched ${#files[@]} outputs ($(cat "${files[@]}" | wc -c) bytes) for ${#SECRETS[@]} secrets: none found"
