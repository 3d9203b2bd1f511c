#!/usr/bin/env bash
# `tidewater check` fails, naming the problem and the fix, for each broken
# setup a DBA can get wrong. Every scenario undoes its change on exit.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_services

THROWAWAY=""
cleanup() {
    psql_standby -c "ALTER SYSTEM RESET hot_standby_feedback" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
    psql_primary -c "GRANT pg_read_all_stats TO tidewater" >/dev/null 2>&1 || true
    psql_primary -c "DROP PUBLICATION IF EXISTS tw_check_pub" \
        -c "DROP SCHEMA IF EXISTS tw_check CASCADE" >/dev/null 2>&1 || true
    # A role that holds grants cannot be dropped until they are revoked.
    psql_primary -c "DO \$\$BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tw_norepl')
        THEN EXECUTE 'DROP OWNED BY tw_norepl'; EXECUTE 'DROP ROLE tw_norepl'; END IF; END\$\$" \
        >/dev/null 2>&1 || true
    if [ -n "$THROWAWAY" ]; then
        bash "$TW_SOURCE_DIR/tests/env/ctl.sh" throwaway-stop "$THROWAWAY" >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT
cleanup # leftovers of an interrupted earlier run

# 1. hot_standby_feedback=off on the standby.
psql_standby -c "ALTER SYSTEM SET hot_standby_feedback = off" -c "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 1 50); do
    [ "$(psql_standby -c 'SHOW hot_standby_feedback')" = off ] && break
    sleep 0.1
done
run_check
expect_rc 1
expect_check FAIL hot_standby_feedback "is 'off' on this standby" \
    "ALTER SYSTEM SET hot_standby_feedback = on; SELECT pg_reload_conf();"
psql_standby -c "ALTER SYSTEM RESET hot_standby_feedback" -c "SELECT pg_reload_conf()" >/dev/null
note "hot_standby_feedback=off: FAIL as expected"

# 2. The publication does not exist.
run_check --set source.publication=tw_no_such_pub
expect_rc 1
expect_check FAIL publication "'tw_no_such_pub' does not exist" "$TW_PG_PUBLICATION" \
    "CREATE PUBLICATION tw_no_such_pub FOR TABLE"
note "missing publication: FAIL as expected"

# 3. Published tables without a usable replica identity.
psql_primary <<'SQL' >/dev/null
CREATE SCHEMA tw_check;
CREATE TABLE tw_check.noident (id int PRIMARY KEY, v text);
ALTER TABLE tw_check.noident REPLICA IDENTITY NOTHING;
CREATE TABLE tw_check.nopk (a int, b text);
CREATE TABLE tw_check.fullnopk (a int);
ALTER TABLE tw_check.fullnopk REPLICA IDENTITY FULL;
GRANT USAGE ON SCHEMA tw_check TO tidewater;
GRANT SELECT ON ALL TABLES IN SCHEMA tw_check TO tidewater;
CREATE PUBLICATION tw_check_pub FOR TABLE tw_check.noident, tw_check.nopk, tw_check.fullnopk;
SQL
wait_standby_replay
run_check --set source.publication=tw_check_pub
expect_rc 1
expect_check FAIL replica_identity "tw_check.noident (REPLICA IDENTITY NOTHING)" \
    "tw_check.nopk (no primary key)" "ALTER TABLE tw_check.noident REPLICA IDENTITY FULL;"
expect_check OK select_privilege
note "replica identity NOTHING / no primary key: FAIL as expected"

# 3b. SELECT privilege missing on a published table.
psql_primary -c "REVOKE SELECT ON tw_check.nopk FROM tidewater" >/dev/null
wait_standby_replay
run_check --set source.publication=tw_check_pub
expect_check FAIL select_privilege "tw_check.nopk" "GRANT SELECT ON tw_check.nopk TO tidewater;"
note "missing SELECT: FAIL as expected"

# 4. A role without REPLICATION.
psql_primary <<'SQL' >/dev/null
CREATE ROLE tw_norepl LOGIN PASSWORD 'norepl-pw';
GRANT USAGE ON SCHEMA shop TO tw_norepl;
GRANT SELECT ON ALL TABLES IN SCHEMA shop TO tw_norepl;
SQL
wait_standby_replay
run_check --set source.password=norepl-pw \
    --set "source.conninfo=$TW_PG_STANDBY_DSN user=tw_norepl"
expect_rc 1
expect_check FAIL replication_role "role tw_norepl lacks the REPLICATION attribute" \
    "ALTER ROLE tw_norepl REPLICATION;"
expect_check FAIL replication_connection "ALTER ROLE <user> REPLICATION;"
note "role without REPLICATION: FAIL as expected"

# 5. wal_level below logical (a throwaway server started with wal_level=replica).
THROWAWAY=$(mktemp -d /tmp/tw-throwaway.XXXXXX)
bash "$TW_SOURCE_DIR/tests/env/ctl.sh" throwaway "$THROWAWAY" 55499 wal_level=replica >/dev/null
THROW_DSN=${TW_PG_PRIMARY_DSN/port=$TW_PG_PRIMARY_PORT/port=55499}
[ "$THROW_DSN" != "$TW_PG_PRIMARY_DSN" ] || fail "could not derive the throwaway server's DSN"
run_check --set "source.conninfo=$THROW_DSN"
expect_rc 1
expect_check FAIL wal_level "wal_level is 'replica'" "ALTER SYSTEM SET wal_level = logical;"
note "wal_level=replica: FAIL as expected"

# 6. Kafka unreachable (nothing listens on port 1).
run_check --set kafka.bootstrap.servers=127.0.0.1:1 --set check.timeout.ms=3000
expect_rc 1
expect_check FAIL kafka "cannot reach Kafka at 127.0.0.1:1" "kafka.bootstrap.servers"
note "Kafka unreachable: FAIL as expected"

# 8. Without pg_read_all_stats the primary's wal_level cannot be seen from the
#    standby: a warning that says how to enable the check, not a failure.
psql_primary -c "REVOKE pg_read_all_stats FROM tidewater" >/dev/null
wait_standby_replay
run_check
expect_rc 0
expect_check WARN primary_wal_level "cannot see which primary the standby follows" \
    "GRANT pg_read_all_stats TO tidewater;"
psql_primary -c "GRANT pg_read_all_stats TO tidewater" >/dev/null
wait_standby_replay
note "no pg_read_all_stats: WARN as expected"

# 7. Wrong password: the message says so and the password is never shown.
run_check --set source.password=definitely-wrong
expect_rc 1
expect_check FAIL connection "password authentication failed" "source.password_file"
case "$CHECK_OUT" in *definitely-wrong*) fail "the wrong password was printed" ;; esac
expect_check SKIP postgres
expect_check OK kafka
note "wrong password: FAIL as expected"
