#!/usr/bin/env bash
# The HTTP endpoint of `tidewater run`: /healthz and `tidewater healthcheck`
# answer; /metrics passes `promtool check metrics` and its counters move when
# rows flow; /readyz turns 503 (naming the reason) when Kafka is stopped and
# 200 again when it returns.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_services
command -v promtool >/dev/null || fail "promtool is missing (tests/env/install.sh installs Debian's prometheus package)"

ID="$$_$RANDOM"
SLOT="tw_http_$ID"
PORT=$((20000 + RANDOM % 20000))
URL="http://127.0.0.1:$PORT"
dir=$(mktemp -d)
cleanup() {
    [ -n "$AGENT_PID" ] && kill -9 "$AGENT_PID" 2>/dev/null || true
    bash "$TW_SOURCE_DIR/tests/env/ctl.sh" start kafka >/dev/null 2>&1 || true
    psql_standby -c "SELECT pg_drop_replication_slot('$SLOT') FROM pg_replication_slots WHERE slot_name = '$SLOT'" >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT

get() { # PATH -> prints "CODE BODY"
    python3 - "$URL$1" <<'PY'
import sys, urllib.request, urllib.error
try:
    r = urllib.request.urlopen(sys.argv[1], timeout=5)
    print(r.status, r.read().decode().strip())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode().strip())
except Exception as e:
    print(0, e)
PY
}
wait_for() { # PATH CODE SECONDS
    local got=""
    for _ in $(seq 1 $(($3 * 4))); do
        got=$(get "$1")
        [ "${got%% *}" = "$2" ] && return 0
        sleep 0.25
    done
    fail "$1 did not answer $2 within $3 s; last answer: $got"
}

start_agent "$dir/agent.log" --set "source.conninfo=$TW_PG_STANDBY_DSN" \
    --set "source.publication=$TW_PG_PUBLICATION" --set "kafka.bootstrap.servers=$TW_KAFKA_BOOTSTRAP" \
    --set "slot.name=$SLOT" --set "topic.prefix=http$ID" --set "http.listen=127.0.0.1:$PORT"

wait_for /healthz 200 10
"$TW_BIN" healthcheck --set "http.listen=127.0.0.1:$PORT" || fail "tidewater healthcheck failed"
wait_for /readyz 200 20

psql_primary -c "INSERT INTO shop.customers (name) SELECT 'http ' || g FROM generate_series(1, 25) g" >/dev/null
for _ in $(seq 1 80); do
    n=$(get /metrics | grep -E '^tidewater_changes_total\{table="shop.customers",op="c"\}' | awk '{print $2}')
    [ "${n:-0}" -ge 25 ] && break
    sleep 0.25
done
[ "${n:-0}" -ge 25 ] || fail "tidewater_changes_total for shop.customers inserts is ${n:-missing}, want >= 25"
python3 -c "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen('$URL/metrics').read().decode())" >"$dir/metrics.txt"
promtool check metrics <"$dir/metrics.txt" || fail "promtool check metrics rejects /metrics:
$(head -n 40 "$dir/metrics.txt")"
for m in tidewater_messages_total tidewater_bytes_total tidewater_flushed_lsn tidewater_replication_lag_bytes \
    tidewater_producer_queue_messages tidewater_postgres_connected tidewater_kafka_connected; do
    grep -q "^$m " "$dir/metrics.txt" || fail "metric $m missing from /metrics"
done
grep -q '^tidewater_messages_total [1-9]' "$dir/metrics.txt" || fail "tidewater_messages_total did not move"
note "/metrics passes promtool; counters moved ($n inserts counted)"

bash "$TW_SOURCE_DIR/tests/env/ctl.sh" stop kafka >/dev/null
wait_for /readyz 503 30
reason=$(get /readyz)
case "$reason" in *"Kafka"*) ;; *) fail "/readyz gives no Kafka reason: $reason" ;; esac
wait_for /healthz 200 5
note "Kafka stopped: /readyz says '$reason', /healthz still 200"
bash "$TW_SOURCE_DIR/tests/env/ctl.sh" start kafka >/dev/null
wait_for /readyz 200 60
note "Kafka back: /readyz 200"
stop_agent
