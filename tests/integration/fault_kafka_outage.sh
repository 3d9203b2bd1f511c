#!/usr/bin/env bash
# Fault 2: the Kafka broker stopped for 60 s mid-stream (TW_FAULT_OUTAGE_S),
# then started again, under the steady workload plus, during the outage, one
# transaction of 40,000 inserts: more than the producer queue holds
# (queue.buffering.max.messages=20000), so the agent must apply backpressure
# (stop reading from the server) instead of buffering. During the outage:
# the agent stays up and keeps its slot (active, never dropped or created
# again), its producer queue fills up to its bound and no further, and its
# resident memory, sampled from /proc every 0.2 s, stays under a bound
# (64 MiB; 512 MiB under ASan, whose shadow memory and quarantine it also
# counts). Afterwards it resumes by itself, catches up, and the oracle finds
# 0 missing, 0 wrong, 0 extra; its sessions sent only reads.
# (pipeline_kafka_outage.sh is the short version.)
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=fault_lib.sh
. "$(dirname "$0")/fault_lib.sh"
require_services

OUTAGE_S=${TW_FAULT_OUTAGE_S:-60}
BURST=40000
if is_sanitized; then RSS_BOUND_MIB=512; else RSS_BOUND_MIB=64; fi
ID="$$_$RANDOM"
PREFIX="fo$ID"
SLOT="tw_fo_$ID"
S="tw_fo_$ID"
APP="tw_fo_$ID"
PORT=$((20000 + RANDOM % 20000))
dir=$(mktemp -d)
cleanup() {
    workload_stop >/dev/null 2>&1
    bash "$TW_SOURCE_DIR/tests/env/ctl.sh" start kafka >/dev/null 2>&1 || true
    reset_statement_logging
    fault_cleanup
}
trap cleanup EXIT

metric() { curl -s "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
slot_active() { psql_standby -c "SELECT active FROM pg_replication_slots WHERE slot_name = '$SLOT'"; }

fault_setup "$S"
log_all_statements
workload_start "$S" 20
agent_args "$S" "$SLOT" "$PREFIX" "$APP"
start_agent "$dir/agent.log" "${AGENT_ARGS[@]}" --set "http.listen=127.0.0.1:$PORT"
sleep 3
wait_caught_up "$SLOT" 60
pid=$AGENT_PID

bash "$TW_SOURCE_DIR/tests/env/ctl.sh" stop kafka >/dev/null
note "broker stopped for $OUTAGE_S s"
start=$(date +%s)
psql_primary -c "INSERT INTO $S.items (id, n, t) SELECT g, 0, 'burst ' || g FROM generate_series(2000000000, 2000000000 + $BURST - 1) g" >/dev/null
burst_end=$(psql_primary -c "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
peak=0 samples=0 qmax=0
while [ $(($(date +%s) - start)) -lt "$OUTAGE_S" ]; do
    kill -0 "$pid" 2>/dev/null || fail "the agent exited while Kafka was down"
    rss=$(rss_kib "$pid")
    [ -n "$rss" ] && [ "$rss" -gt "$peak" ] && peak=$rss
    samples=$((samples + 1))
    if [ $((samples % 25)) -eq 0 ]; then
        q=$(metric tidewater_producer_queue_messages)
        [ -n "$q" ] && [ "$q" -gt "$qmax" ] && qmax=$q
        [ "$(slot_active)" = t ] || fail "slot $SLOT is not active during the outage"
    fi
    sleep 0.2
done
received=$(metric tidewater_received_lsn)
[ "$(psql_standby -c "SELECT pg_last_wal_replay_lsn() - '0/0'::pg_lsn >= $burst_end")" = t ] ||
    fail "the standby has not replayed the burst after $OUTAGE_S s"
note "during the outage: peak RSS $((peak / 1024)) MiB ($peak KiB, $samples samples, bound $RSS_BOUND_MIB MiB), producer queue up to $qmax messages"
[ "$peak" -gt 0 ] || fail "no RSS sample of the agent"
[ "$peak" -le $((RSS_BOUND_MIB * 1024)) ] || fail "the agent's RSS reached $((peak / 1024)) MiB while Kafka was down (bound $RSS_BOUND_MIB MiB)"
# Backpressure: the queue reached its bound, yet the agent had not read the
# whole burst from the server (it stopped reading instead of buffering).
if [ "$qmax" -lt 15000 ] || [ "$qmax" -gt 20000 ]; then
    fail "the producer queue peaked at $qmax messages, expected near its bound of 20000"
fi
# ... and the burst's commit lies beyond what the agent had read.
note "at the end of the outage the agent had read up to $((burst_end - received)) bytes short of the burst's end"
[ "$received" -lt "$burst_end" ] || fail "the agent read the whole burst during the outage: no backpressure"

bash "$TW_SOURCE_DIR/tests/env/ctl.sh" start kafka >/dev/null
note "broker started again"
sleep 5
workload_stop
wait_caught_up "$SLOT" 180
kill -0 "$pid" 2>/dev/null || fail "the agent exited after the outage"
stop_agent
grep -c 'created replication slot' "$dir/agent.log" | grep -qx 1 ||
    fail "the slot was created more than once: $(grep 'replication slot' "$dir/agent.log")"
grep -q 'dropped replication slot' "$dir/agent.log" && fail "the agent dropped its slot"
note "restarts logged: $(grep -c 'restarting in' "$dir/agent.log" || true)"

oracle "$PREFIX" "$S"
assert_read_only "$APP" 10 IDENTIFY_SYSTEM START_REPLICATION
note "$RO_COUNT statements from the agent's sessions, all reads"
