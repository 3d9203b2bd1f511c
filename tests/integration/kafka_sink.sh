#!/usr/bin/env bash
# The Kafka sink against the real broker: a missing topic is created (the
# test broker does not auto-create), every message is acknowledged with its
# opaque value, Kafka's own Java consumer reads back keys, values, the
# tidewater.* headers and a tombstone; with topic.create=false a missing topic
# is an error that names it.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_services
: "${TW_SINK_PROBE:=$TW_SOURCE_DIR/build/tests/sink_probe}"
export TIDEWATER_KAFKA_BOOTSTRAP_SERVERS="$TW_KAFKA_BOOTSTRAP"
# Required keys the sink does not use.
export TIDEWATER_SOURCE_CONNINFO="host=unused" TIDEWATER_SOURCE_PUBLICATION=unused

topic="tw-sink-test-$$-$RANDOM"
errlog=$(mktemp)
trap 'rm -f "$errlog"' EXIT
out=$("$TW_SINK_PROBE" "$topic" 50 2>"$errlog") || fail "sink_probe failed: $out $(cat "$errlog")"
[ "$out" = "delivered 50 failed 0 outstanding 0 opaque ok" ] || fail "sink_probe said: $out"

# Read it back with the Java consumer, as a data team's client would.
consumed=$(bash "$TW_SOURCE_DIR/tests/env/ctl.sh" kafka-run org.apache.kafka.tools.consumer.ConsoleConsumer \
    --bootstrap-server "$TW_KAFKA_BOOTSTRAP" --topic "$topic" --from-beginning \
    --max-messages 50 --timeout-ms 30000 \
    --property print.key=true --property print.headers=true --property print.value=true \
    --property key.separator='|' --property headers.separator=',' 2>/dev/null)
lines=$(printf '%s\n' "$consumed" | grep -c '|key-' || true)
[ "$lines" -eq 50 ] || fail "the Java consumer read $lines messages, want 50:
$consumed"
printf '%s\n' "$consumed" | grep -qxF 'tidewater.lsn:0/7,tidewater.xid:7,tidewater.seq:7|key-7|value-7' ||
    fail "message 7 not read back with its headers:
$(printf '%s\n' "$consumed" | head -n 10)"
printf '%s\n' "$consumed" | grep -qxF 'tidewater.lsn:0/32,tidewater.xid:7,tidewater.seq:50|key-50|null' ||
    fail "the last message is not a tombstone:
$(printf '%s\n' "$consumed" | tail -n 3)"
note "50 messages delivered, read back with headers by the Java consumer"

missing="tw-sink-missing-$$"
set +e
out=$(TIDEWATER_TOPIC_CREATE=false "$TW_SINK_PROBE" "$missing" 1 2>&1)
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "producing to a missing topic with topic.create=false succeeded"
case "$out" in *"topic '$missing' does not exist and topic.create is false"*) ;; *)
    fail "unexpected message for a missing topic: $out" ;;
esac
note "missing topic with topic.create=false: refused, naming the topic"
