#!/usr/bin/env bash
# Fault 7: the network between the agent and Kafka is cut for 30 s
# (TW_NETCUT_S) mid-stream, then healed. The agent runs in a network
# namespace of its own (unshare -n) that reaches the standby and the broker
# through netns_bridge (tests/tools/netns_bridge.c) at their usual
# addresses; the cut stops every byte on the Kafka connections, both ways,
# without closing them, and leaves new ones unanswered: packets dropped, not
# refused, unlike a stopped broker (fault_kafka_outage.sh of the fault tests,
# pipeline_kafka_outage.sh). A steady insert/update/delete workload runs on
# the primary throughout, and one transaction of 25,000 inserts during the
# cut is more than the producer queue holds (20,000 messages).
# During the cut: the agent stays up, /readyz turns 503 naming Kafka within
# a few statistics intervals, the producer queue fills to its bound and no
# further, the agent stops reading the server (backpressure), its resident
# memory stays under 64 MiB (512 MiB under ASan), and its slot is not
# acknowledged past a marker row committed after the cut began (nor is that
# row in Kafka: the cut is real). After the heal it recovers by itself:
# /readyz 200 again, the slot passes the workload's end, and the topic
# replayed by key (snapshot_oracle.py) equals the primary's table.
# Needs root (unshare, setns).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_services

CUT_S=${TW_NETCUT_S:-30}
BURST=25000
STATS_MS=1000
TW_NETNS_BRIDGE=${TW_NETNS_BRIDGE:-$TW_SOURCE_DIR/build/tests/netns_bridge}
[ -x "$TW_NETNS_BRIDGE" ] || fail "netns_bridge is not built ($TW_NETNS_BRIDGE)"
if grep -qa __asan_init "$TW_BIN"; then RSS_BOUND_MIB=512; else RSS_BOUND_MIB=64; fi
ID="$$_$RANDOM"
PREFIX="nc$ID"
SLOT="tw_nc_$ID"
S="tw_nc_$ID"
TOPIC="$PREFIX.$S.t"
PORT=$((20000 + RANDOM % 20000))
dir=$(mktemp -d)
ns_pid="" bridge_pid="" load_pid=""
cleanup() {
    local p
    for p in "$load_pid" "$AGENT_PID"; do
        if [ -n "$p" ]; then kill -9 "$p" 2>/dev/null || true; fi
    done
    drop_test_objects "$S" "$SLOT"
    for p in "$bridge_pid" "$ns_pid"; do
        if [ -n "$p" ]; then kill "$p" 2>/dev/null || true; fi
    done
    if [ -n "${TW_KEEP_DIR:-}" ]; then cp -r "$dir" "$TW_KEEP_DIR" || true; fi
    rm -rf "$dir"
}
trap cleanup EXIT

# The namespace: a process holding it, its lo up, and the bridge.
unshare -n sleep 3600 &
ns_pid=$!
NS=/proc/$ns_pid/ns/net
for _ in $(seq 1 50); do
    [ "$(readlink "$NS" 2>/dev/null)" != "$(readlink /proc/self/ns/net)" ] && break
    sleep 0.1
done
[ "$(readlink "$NS" 2>/dev/null)" != "$(readlink /proc/self/ns/net)" ] ||
    fail "unshare -n did not make a network namespace (is this root?)"
nsenter --net="$NS" ip link set lo up || fail "cannot bring lo up in the namespace"
"$TW_NETNS_BRIDGE" "$NS" "$TW_PG_STANDBY_PORT" "$TW_KAFKA_PORT:cut" >"$dir/bridge.out" 2>&1 &
bridge_pid=$!
bridge_says() { # LINE-PREFIX SECONDS: waits for the bridge to print it
    for _ in $(seq 1 $(($2 * 10))); do
        grep -q "^$1" "$dir/bridge.out" && return 0
        sleep 0.1
    done
    fail "netns_bridge did not print '$1' within $2 s: $(cat "$dir/bridge.out")"
}
bridge_says ready 5
# `tidewater run` inside the namespace: nsenter execs it, so AGENT_PID is it.
printf '#!/bin/sh\nexec nsenter --net=%s %s "$@"\n' "$NS" "$TW_BIN" >"$dir/tidewater-in-ns"
chmod +x "$dir/tidewater-in-ns"

# readyz: "CODE BODY" of the agent's /readyz, asked from inside the namespace.
readyz() {
    local body code
    body=$(nsenter --net="$NS" curl -s -m 2 -w '\n%{http_code}' "http://127.0.0.1:$PORT/readyz" 2>/dev/null) || true
    code=${body##*$'\n'}
    echo "${code:-0} ${body%$'\n'*}"
}
metric() {
    nsenter --net="$NS" curl -s -m 2 "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}
confirmed() { psql_standby -c "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$SLOT'"; }
lsn_le() { [ "$(psql_standby -c "SELECT '$1'::pg_lsn <= '$2'::pg_lsn")" = t ]; }

create_test_schema "$S" "
CREATE TABLE $S.t (id bigint PRIMARY KEY, n int NOT NULL, v text);
INSERT INTO $S.t SELECT g, 0, 'seed ' || g FROM generate_series(1, 200) g;"

# The workload: about 20 small transactions a second for the whole test,
# inserts, updates and deletes of this run's keys and the seed rows, some
# transactions with several statements; one psql session, errors fatal.
load_txns=$(((CUT_S + 20) * 20))
{
    RANDOM=$$
    next=1000
    for i in $(seq 1 "$load_txns"); do
        pick=$((RANDOM % 200 + 1))
        [ $((RANDOM % 2)) -eq 0 ] && pick=$((1000 + RANDOM % (next - 999)))
        case $((RANDOM % 6)) in
        0 | 1) next=$((next + 1)); echo "INSERT INTO $S.t VALUES ($next, $i, 'ins $i');" ;;
        2 | 3) echo "UPDATE $S.t SET n = n + 1, v = 'upd $i' WHERE id = $pick;" ;;
        4) echo "DELETE FROM $S.t WHERE id = $pick;" ;;
        5)
            next=$((next + 2))
            echo "BEGIN; INSERT INTO $S.t VALUES ($((next - 1)), $i, 'multi $i'), ($next, $i, NULL);"
            echo "UPDATE $S.t SET v = v || '+' WHERE id = $pick; DELETE FROM $S.t WHERE id = $((pick + 1)); COMMIT;"
            ;;
        esac
        echo "SELECT pg_sleep(0.05);"
    done
} >"$dir/load.sql"

TW_BIN="$dir/tidewater-in-ns" start_agent "$dir/agent.log" --set "source.conninfo=$TW_PG_STANDBY_DSN" \
    --set "source.publication=${S}_pub" --set "kafka.bootstrap.servers=$TW_KAFKA_BOOTSTRAP" \
    --set "slot.name=$SLOT" --set "topic.prefix=$PREFIX" --set status.interval.ms=500 \
    --set "kafka.statistics.interval.ms=$STATS_MS" --set "http.listen=127.0.0.1:$PORT" \
    --set snapshot.mode=initial
pid=$AGENT_PID
[ "$(readlink "/proc/$pid/ns/net")" = "$(readlink "$NS")" ] || fail "the agent does not run in the namespace"
psql "$TW_PG_SUPERUSER_DSN" -XAtq -v ON_ERROR_STOP=1 -f "$dir/load.sql" >/dev/null &
load_pid=$!
# Streaming and acknowledged before the cut.
sleep 3
lsn=$(psql_primary -c "SELECT pg_current_wal_lsn()")
wait_slot_flushed_past "$SLOT" "$lsn" 30 || fail "the slot did not pass $lsn before the cut"
r=$(readyz)
[ "${r%% *}" = 200 ] || fail "/readyz is not 200 before the cut: $r"

kill -USR1 "$bridge_pid"
bridge_says cut 5
cut_at=$(date +%s)
note "Kafka cut for $CUT_S s ($(grep '^cut' "$dir/bridge.out"))"
# A marker committed after the cut began: it cannot be in Kafka, so the slot
# must stay below its commit.
marker_lsn=$(psql_primary -c "INSERT INTO $S.t VALUES (-1, -1, 'marker')" -c "SELECT pg_current_wal_lsn()")
psql_primary -c "INSERT INTO $S.t SELECT g, -2, 'burst ' || g FROM generate_series(10000000, 10000000 + $BURST - 1) g" >/dev/null
burst_end=$(psql_primary -c "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")

peak=0 samples=0 qmax=0 not_ready_at="" reason=""
while [ $(($(date +%s) - cut_at)) -lt "$CUT_S" ]; do
    kill -0 "$pid" 2>/dev/null || fail "the agent exited during the cut"
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$rss" ] && [ "$rss" -gt "$peak" ] && peak=$rss
    samples=$((samples + 1))
    q=$(metric tidewater_producer_queue_messages)
    [ -n "$q" ] && [ "$q" -gt "$qmax" ] && qmax=$q
    if [ -z "$not_ready_at" ]; then
        r=$(readyz)
        if [ "${r%% *}" = 503 ]; then
            not_ready_at=$(($(date +%s) - cut_at))
            reason=${r#* }
        fi
    fi
    sleep 0.5
done
received=$(metric tidewater_received_lsn)
at_end=$(confirmed)
r=$(readyz)
note "during the cut: /readyz 503 after ${not_ready_at:-never} s ('$reason'), now '$r'; peak RSS $((peak / 1024)) MiB ($samples samples, bound $RSS_BOUND_MIB MiB); producer queue up to $qmax messages; slot at $at_end, marker committed before $marker_lsn"
[ -n "$not_ready_at" ] || fail "/readyz did not turn 503 during a $CUT_S s cut (last: $r)"
case "$reason" in *Kafka*) ;; *) fail "/readyz turned 503 for another reason: $reason" ;; esac
[ "$not_ready_at" -le 15 ] || fail "/readyz took $not_ready_at s to notice the cut"
[ "${r%% *}" = 503 ] || fail "/readyz was ready again before the heal: $r"
[ "$peak" -gt 0 ] || fail "no RSS sample of the agent"
[ "$peak" -le $((RSS_BOUND_MIB * 1024)) ] || fail "the agent's RSS reached $((peak / 1024)) MiB during the cut (bound $RSS_BOUND_MIB MiB)"
[ "$qmax" -ge 15000 ] && [ "$qmax" -le 20000 ] ||
    fail "the producer queue peaked at $qmax messages, expected near its bound of 20000"
[ "$(psql_standby -c "SELECT pg_last_wal_replay_lsn() - '0/0'::pg_lsn >= $burst_end")" = t ] ||
    fail "the standby has not replayed the burst by the end of the cut"
[ "$received" -lt "$burst_end" ] || fail "the agent read the whole burst during the cut: no backpressure"
note "backpressure: the agent stopped reading $((burst_end - received)) bytes short of the burst's end"
lsn_le "$marker_lsn" "$at_end" && fail "the slot ($at_end) was acknowledged past the marker ($marker_lsn) while Kafka was cut off"
"$TW_PY" "$TW_SOURCE_DIR/tests/integration/tw_consume.py" "$TW_KAFKA_BOOTSTRAP" "$PREFIX" "$TOPIC" >"$dir/during.jsonl" ||
    fail "cannot read $TOPIC during the cut"
grep -q '"v": "marker"' "$dir/during.jsonl" && fail "the marker reached Kafka during the cut: the cut is not real"
note "$(wc -l <"$dir/during.jsonl") messages in Kafka during the cut, the marker not among them"

kill -USR2 "$bridge_pid"
bridge_says healed 5
healed_at=$(date +%s)
note "healed"
for _ in $(seq 1 240); do
    r=$(readyz)
    [ "${r%% *}" = 200 ] && break
    sleep 0.25
done
[ "${r%% *}" = 200 ] || fail "/readyz not 200 60 s after the heal: $r"
note "/readyz 200 again $(($(date +%s) - healed_at)) s after the heal"

wait "$load_pid" || fail "the workload failed"
load_pid=""
end_lsn=$(psql_primary -c "SELECT pg_current_wal_lsn()")
wait_standby_replay
psql_primary -c "SELECT pg_log_standby_snapshot()" >/dev/null
wait_slot_flushed_past "$SLOT" "$end_lsn" 90 || fail "the slot did not pass the workload's end $end_lsn within 90 s of its end (at $(confirmed))"
note "slot passed the workload's end ($end_lsn) $(($(date +%s) - healed_at)) s after the heal"
kill -0 "$pid" 2>/dev/null || fail "the agent is gone after the heal"
restarts=$(grep -c 'restarting in' "$dir/agent.log" || true)
stop_agent
grep -c 'created replication slot' "$dir/agent.log" | grep -qx 1 ||
    fail "the slot was created more than once: $(grep 'replication slot' "$dir/agent.log")"

"$TW_PY" "$TW_SOURCE_DIR/tests/integration/tw_consume.py" "$TW_KAFKA_BOOTSTRAP" "$PREFIX" "$TOPIC" >"$dir/t.jsonl" ||
    fail "cannot read $TOPIC"
psql_primary -c "SELECT row_to_json(r) FROM (SELECT json_build_object('id', id)::text AS _key, id, n, v FROM $S.t) r" >"$dir/t.primary.jsonl"
"$TW_PY" "$TW_SOURCE_DIR/tests/integration/snapshot_oracle.py" replay "$dir/t.primary.jsonl" "$dir/t.jsonl" >"$dir/oracle.out" ||
    fail "topic $TOPIC replayed by key differs from the primary:
$(cat "$dir/oracle.out")"
dups=$("$TW_PY" -c '
import json, sys
seen = [(m["headers"]["tidewater.lsn"], m["headers"]["tidewater.seq"]) for m in map(json.loads, open(sys.argv[1]))]
print(len(seen) - len(set(seen)))' "$dir/t.jsonl")
note "oracle: $(tr '\n' ' ' <"$dir/oracle.out")($(wc -l <"$dir/t.jsonl") messages, $dups duplicates by lsn+seq, $restarts pipeline restarts)"
# The bridge ends cleanly (under ASan: no memory error, no leak).
kill -TERM "$bridge_pid"
rc=0
wait "$bridge_pid" || rc=$?
bridge_pid=""
[ "$rc" -eq 0 ] || fail "netns_bridge exited $rc: $(cat "$dir/bridge.out")"
