#!/usr/bin/env bash
# TLS to PostgreSQL with sslmode=verify-full: the agent tails the standby over
# TLS, verifying the server's certificate against the environment's CA
# (TW_TLS_CA) and its host name (localhost), and streams a change to Kafka.
# The standby itself shows every session of the agent (the walsender too) as
# TLS in pg_stat_ssl. Refused: a CA that did not issue the certificate, a host
# name the certificate was not made for, and a session without TLS (the
# test's role is a member of tw_tls_only, which the test environment's
# pg_hba admits over TCP only with TLS).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_services
if [ -z "${TW_TLS_CA:-}" ] || [ ! -f "$TW_TLS_CA" ]; then
    fail "the environment has no CA (TW_TLS_CA); it predates TLS: run tests/env/down.sh and up.sh"
fi

ID="$$_$RANDOM"
PREFIX="tls$ID"
SLOT="tw_tls_$ID"
S="tw_tls_$ID"
APP="tw_tls_app_$ID"
ROLE="tw_tls_role_$ID"
PW="pw-$RANDOM-$RANDOM-$$"
dir=$(mktemp -d)
cleanup() {
    drop_test_objects "$S" "$SLOT"
    psql_primary -c "DROP OWNED BY $ROLE" -c "DROP ROLE IF EXISTS $ROLE" >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT

psql_primary -c "CREATE ROLE $ROLE LOGIN REPLICATION PASSWORD '$PW' IN ROLE tw_tls_only" \
    -c "GRANT CONNECT ON DATABASE $TW_PG_DATABASE TO $ROLE" >/dev/null
create_test_schema "$S" "CREATE TABLE $S.t (id int PRIMARY KEY, v text);
GRANT USAGE ON SCHEMA $S TO $ROLE; GRANT SELECT ON ALL TABLES IN SCHEMA $S TO $ROLE;"

# The password comes from a file, as in production; the conninfo holds none.
install -m 0600 /dev/null "$dir/pg-password"
printf '%s\n' "$PW" >"$dir/pg-password"
conninfo() { # HOST-PART SSLROOTCERT [more]
    printf '%s port=%s dbname=%s user=%s sslmode=verify-full sslrootcert=%s %s' \
        "$1" "$TW_PG_STANDBY_PORT" "$TW_PG_DATABASE" "$ROLE" "$2" "${3:-}"
}
GOOD=$(conninfo host=localhost "$TW_TLS_CA")
common=(--set "source.password_file=$dir/pg-password" --set "source.publication=${S}_pub"
    --set "kafka.bootstrap.servers=$TW_KAFKA_BOOTSTRAP" --set "slot.name=$SLOT"
    --set "topic.prefix=$PREFIX" --set "source.application_name=$APP" --set "http.listen=")

# 1. Stream over verify-full TLS.
start_agent "$dir/agent.log" --set "source.conninfo=$GOOD" "${common[@]}"
psql_primary -c "INSERT INTO $S.t VALUES (1, 'over tls')" >/dev/null
wait_messages "$PREFIX" "$PREFIX.$S.t" 1
consume "$PREFIX" "$PREFIX.$S.t" | grep -q '"over tls"' || fail "the row inserted is not in $PREFIX.$S.t"

# 2. The standby's view of the agent's sessions: all TLS, the walsender among
#    them. Sessions are matched by application_name (source.application_name).
sessions=$(psql_standby -F '|' -c "
    SELECT a.pid, a.backend_type, s.ssl, coalesce(s.version, '-'), coalesce(s.cipher, '-')
    FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
    WHERE a.application_name = '$APP' ORDER BY a.pid")
note "the agent's sessions on the standby (pid, type, ssl, version, cipher):
$sessions"
[ -n "$sessions" ] || fail "no session with application_name $APP on the standby"
printf '%s\n' "$sessions" | awk -F '|' '$3 != "t"' | grep -q . &&
    fail "a session of the agent is not TLS:
$sessions"
printf '%s\n' "$sessions" | grep -q '|walsender|t|TLSv1' ||
    fail "the agent's replication session (walsender) is not over TLS:
$sessions"
stop_agent

# 3. Refusals, each by `tidewater run` (exits non-zero at once, as retrying
#    cannot cure it) and by `tidewater check` (names the fix).
mkdir "$dir/other-ca"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/other-ca/key.pem" -out "$dir/other-ca/ca.pem" \
    -days 1 -subj "/CN=some other CA" >/dev/null 2>&1 || fail "openssl could not make a second CA"

# refused NAME CONNINFO PATTERN...: run and check both fail; their output
# contains every pattern (fixed strings).
refused() {
    local name=$1 ci=$2 rc=0 out p
    shift 2
    out=$(timeout 60 "$TW_BIN" run --set "source.conninfo=$ci" "${common[@]}" 2>&1) || rc=$?
    [ "$rc" -ne 0 ] || fail "$name: the agent ran although it must be refused:
$out"
    [ "$rc" -ne 124 ] || fail "$name: the agent kept retrying (no exit within 60 s); a certificate problem is permanent:
$out"
    [ "$rc" -eq 1 ] || fail "$name: the agent exited $rc, want 1 (a fatal error):
$out"
    for p in "$@"; do
        printf '%s\n' "$out" | grep -qF -- "$p" || fail "$name: run's output lacks '$p':
$out"
    done
    note "$name: run exited $rc: $(printf '%s\n' "$out" | grep 'level=error' | head -n 1)"
    run_check --set "source.conninfo=$ci" --set "source.password_file=$dir/pg-password"
    expect_rc 1
    expect_check FAIL connection "$@"
}
refused "wrong CA" "$(conninfo host=localhost "$dir/other-ca/ca.pem")" \
    'server at' localhost "port $TW_PG_STANDBY_PORT" "certificate verify failed"
expect_check FAIL connection "sslrootcert" "CA"
refused "host name mismatch" "$(conninfo "host=tidewater-wrong.invalid hostaddr=127.0.0.1" "$TW_TLS_CA")" \
    "port $TW_PG_STANDBY_PORT" 'does not match host name' tidewater-wrong.invalid
expect_check FAIL connection "host name the server's certificate was issued for"
# Without TLS the environment's pg_hba refuses the role: nothing above could
# have passed in plaintext.
refused "no TLS" "host=localhost port=$TW_PG_STANDBY_PORT dbname=$TW_PG_DATABASE user=$ROLE sslmode=disable" \
    "pg_hba.conf rejects connection" "no encryption"
expect_check FAIL connection "sslmode=verify-full"

# 4. None of the refused attempts left a session or moved the slot's owner:
#    the agent's slot is still there, unused.
[ "$(psql_standby -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$SLOT' AND NOT active")" = 1 ] ||
    fail "slot $SLOT is missing or still in use after the refused attempts"
note "verify-full streamed over TLS; wrong CA, wrong host name and plaintext were refused"
