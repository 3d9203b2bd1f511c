#!/usr/bin/env bash
# One transaction of TW_LARGE_ROWS (default 1,000,000) rows is delivered
# completely: the topic ends up with exactly one message per row, and the
# slot's confirmed_flush_lsn passes the transaction's commit. Prints the
# agent's rows/s (first to last message) and peak RSS (VmHWM); the memory
# target itself is a benchmark figure (tests/bench), not asserted here.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_services

N=${TW_LARGE_ROWS:-1000000}
ID="$$_$RANDOM"
PREFIX="big$ID"
SLOT="tw_big_$ID"
S="tw_big_$ID"
dir=$(mktemp -d)
cleanup() {
    drop_test_objects "$S" "$SLOT"
    rm -rf "$dir"
}
trap cleanup EXIT

create_test_schema "$S" "
CREATE TABLE $S.t (id bigint PRIMARY KEY, n int, v text, at timestamptz, amount numeric(12,2), ok boolean);"
start_agent "$dir/agent.log" --set "source.conninfo=$TW_PG_STANDBY_DSN" \
    --set "source.publication=${S}_pub" --set "kafka.bootstrap.servers=$TW_KAFKA_BOOTSTRAP" \
    --set "slot.name=$SLOT" --set "topic.prefix=$PREFIX" --set status.interval.ms=1000

psql_primary -c "INSERT INTO $S.t SELECT g, g % 1000, 'row number ' || g, now(), g / 100.0, g % 2 = 0
                 FROM generate_series(1, $N) g" >/dev/null
commit_lsn=$(psql_primary -c "SELECT pg_current_wal_lsn()")
wait_standby_replay

# Wait for the slot to pass the commit: every message acknowledged by Kafka.
for _ in $(seq 1 1200); do
    slot_flushed_past "$SLOT" "$commit_lsn" && break
    kill -0 "$AGENT_PID" 2>/dev/null || fail "the agent died: $(tail -n 5 "$dir/agent.log")"
    sleep 0.5
done
rss_kb=$(awk '/^VmHWM/ {print $2}' "/proc/$AGENT_PID/status")
stop_agent
slot_flushed_past "$SLOT" "$commit_lsn" ||
    fail "the slot did not pass the commit $commit_lsn within 10 minutes"

# Exactly N messages, the first and the last decoded; first to last
# message timestamps give the agent's rate.
"$TW_PY" - "$TW_KAFKA_BOOTSTRAP" "$PREFIX.$S.t" "$N" <<'PY' || fail "the topic does not hold the transaction"
import sys
from confluent_kafka import Consumer, TopicPartition
bootstrap, topic, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "tw-big-check", "enable.auto.commit": False})
lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=20)
if hi - lo != n:
    print(f"topic {topic} holds {hi - lo} messages, want {n}")
    sys.exit(1)
def at(off):
    c.assign([TopicPartition(topic, 0, off)])
    m = c.poll(20)
    return m.timestamp()[1]
first, last = at(lo), at(hi - 1)
secs = max((last - first) / 1000.0, 0.001)
print(f"rate: {n} messages in {secs:.1f} s = {n / secs:,.0f} rows/s (first to last message)")
PY
note "$N-row transaction delivered completely; agent peak RSS $((rss_kb / 1024)) MiB"
