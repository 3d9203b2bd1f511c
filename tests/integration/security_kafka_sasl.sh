#!/usr/bin/env bash
# TLS + SASL/SCRAM-SHA-512 to Kafka: the agent publishes through the broker's
# SASL_SSL listener (certificate verified against the environment's CA, the
# password read from a *_file key) and a consumer, also over SASL_SSL, reads
# the changes back. With a wrong password the agent says which broker refused
# it and why, and publishes nothing and confirms nothing to the slot; after
# the password is fixed every change made meanwhile arrives (none lost).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_services
if [ -z "${TW_KAFKA_SASL_BOOTSTRAP:-}" ] || [ -z "${TW_TLS_CA:-}" ]; then
    fail "the environment has no SASL_SSL listener (TW_KAFKA_SASL_BOOTSTRAP); it predates it: run tests/env/down.sh and up.sh"
fi

ID="$$_$RANDOM"
PREFIX="sasl$ID"
SLOT="tw_sasl_$ID"
S="tw_sasl_$ID"
dir=$(mktemp -d)
cleanup() {
    drop_test_objects "$S" "$SLOT"
    rm -rf "$dir"
}
trap cleanup EXIT

create_test_schema "$S" "CREATE TABLE $S.t (id int PRIMARY KEY, v text);"

# Secrets in files (mode 0600), never on a command line.
secret_file() { # NAME VALUE
    install -m 0600 /dev/null "$dir/$1"
    printf '%s\n' "$2" >"$dir/$1"
}
secret_file kafka-password "$TW_KAFKA_SASL_PASSWORD"
secret_file wrong-password "not-the-$TW_KAFKA_SASL_PASSWORD"
# The consumer's client settings, a file too.
install -m 0600 /dev/null "$dir/consumer.properties"
cat >"$dir/consumer.properties" <<EOF
security.protocol=SASL_SSL
sasl.mechanisms=SCRAM-SHA-512
sasl.username=$TW_KAFKA_SASL_USER
sasl.password=$TW_KAFKA_SASL_PASSWORD
ssl.ca.location=$TW_TLS_CA
EOF
# The agent's configuration: a properties file for what is not secret, the
# password through kafka.sasl.password_file.
cat >"$dir/agent.properties" <<EOF
source.conninfo = $TW_PG_STANDBY_DSN
source.publication = ${S}_pub
slot.name = $SLOT
topic.prefix = $PREFIX
http.listen =
kafka.bootstrap.servers = $TW_KAFKA_SASL_BOOTSTRAP
kafka.security.protocol = SASL_SSL
kafka.sasl.mechanisms = SCRAM-SHA-512
kafka.sasl.username = $TW_KAFKA_SASL_USER
kafka.ssl.ca.location = $TW_TLS_CA
EOF
T="$PREFIX.$S.t"
# The consumer's librdkafka chatter (it logs a failed SASL handshake with the
# group coordinator whenever it closes mid-handshake) goes to a file, shown
# when the consumer itself fails.
consume_sasl() {
    "$TW_PY" "$TW_SOURCE_DIR/tests/integration/tw_consume.py" "$TW_KAFKA_SASL_BOOTSTRAP" \
        "$PREFIX" "$T" --config "$dir/consumer.properties" 2>"$dir/consumer.err" ||
        { tail -n 5 "$dir/consumer.err" >&2; return 1; }
}
ids_in_kafka() { consume_sasl | "$TW_PY" -c '
import json, sys
ids = sorted({m["value"]["after"]["id"] for m in map(json.loads, sys.stdin) if m["value"] and m["value"]["after"]})
print(" ".join(map(str, ids)))'; }
slot_flush() { psql_standby -c "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$SLOT'"; }

# run_check puts the plaintext listener in the environment, which outranks
# the file: the SASL_SSL one is given again with --set.
# 0. The agent's own preflight agrees: the broker is reachable over SASL_SSL.
run_check --config "$dir/agent.properties" --set "kafka.sasl.password_file=$dir/kafka-password" \
    --set "kafka.bootstrap.servers=$TW_KAFKA_SASL_BOOTSTRAP" --set "check.timeout.ms=5000"
expect_check OK kafka "reachable at $TW_KAFKA_SASL_BOOTSTRAP"

# 1. Changes published over SASL_SSL, read back over SASL_SSL.
start_agent "$dir/agent.log" --config "$dir/agent.properties" --set "kafka.sasl.password_file=$dir/kafka-password"
psql_primary -c "INSERT INTO $S.t VALUES (1, 'one'), (2, 'two')" -c "UPDATE $S.t SET v = 'two!' WHERE id = 2" >/dev/null
for _ in $(seq 1 120); do
    [ "$(consume_sasl 2>/dev/null | wc -l)" -ge 3 ] && break
    sleep 0.5
done
got=$(ids_in_kafka) || fail "the consumer could not read $T over SASL_SSL"
[ "$got" = "1 2" ] || fail "rows in $T over SASL_SSL: '$got', want '1 2'"
stop_agent
note "published and read back over SASL_SSL (SCRAM-SHA-512): ids $got"

# 2. Wrong password: changes wait in the slot, nothing is confirmed.
psql_primary -c "INSERT INTO $S.t VALUES (3, 'while refused')" -c "UPDATE $S.t SET v = 'one!' WHERE id = 1" >/dev/null
wait_standby_replay
flush_before=$(slot_flush)
run_check --config "$dir/agent.properties" --set "kafka.sasl.password_file=$dir/wrong-password" \
    --set "kafka.bootstrap.servers=$TW_KAFKA_SASL_BOOTSTRAP" --set "check.timeout.ms=5000"
expect_rc 1
expect_check FAIL kafka "$TW_KAFKA_SASL_BOOTSTRAP" "SASL authentication error" "invalid credentials" \
    "kafka.sasl.*"
AGENT_LOG="$dir/refused.log"
"$TW_BIN" run --config "$dir/agent.properties" --set "kafka.sasl.password_file=$dir/wrong-password" \
    >"$AGENT_LOG" 2>&1 &
AGENT_PID=$!
# librdkafka's line names the broker and the failure at once; the agent's own
# error (after its 30 s metadata timeout) carries that line as its reason.
for _ in $(seq 1 900); do
    grep -q 'component=pipeline msg="restarting' "$AGENT_LOG" && break
    kill -0 "$AGENT_PID" 2>/dev/null || break
    sleep 0.1
done
grep 'level=error' "$AGENT_LOG" | grep -F "sasl_ssl://$TW_KAFKA_SASL_BOOTSTRAP" |
    grep -F 'SASL authentication error' | grep -q 'invalid credentials' ||
    fail "no error naming the broker $TW_KAFKA_SASL_BOOTSTRAP and the authentication failure"
grep 'level=error' "$AGENT_LOG" | grep -F "last error from librdkafka:" | grep -q 'SASL authentication error' ||
    fail "the agent's own error does not give the authentication failure as its reason"
note "refused: $(grep 'level=error' "$AGENT_LOG" | grep -F 'last error from librdkafka' | head -n 1)"
[ "$(slot_flush)" = "$flush_before" ] ||
    fail "the slot's confirmed_flush_lsn moved from $flush_before to $(slot_flush) although nothing could be published"
kill -9 "$AGENT_PID" 2>/dev/null || true
wait "$AGENT_PID" 2>/dev/null || true
AGENT_PID=""
got=$(ids_in_kafka)
[ "$got" = "1 2" ] || fail "rows in $T after the refused run: '$got', want still '1 2'"

# 3. Password fixed: everything made meanwhile arrives.
start_agent "$dir/agent2.log" --config "$dir/agent.properties" --set "kafka.sasl.password_file=$dir/kafka-password"
psql_primary -c "INSERT INTO $S.t VALUES (4, 'after the fix')" >/dev/null
for _ in $(seq 1 120); do
    [ "$(ids_in_kafka 2>/dev/null)" = "1 2 3 4" ] && consume_sasl 2>/dev/null | grep -c '"one!"' >/dev/null && break
    sleep 0.5
done
stop_agent
got=$(ids_in_kafka)
[ "$got" = "1 2 3 4" ] || fail "rows in $T after the fix: '$got', want '1 2 3 4'"
consume_sasl | grep -c '"one!"' >/dev/null || fail "the update made while the password was wrong is missing"
note "after the fix: ids $got, the update made meanwhile included; nothing lost"
