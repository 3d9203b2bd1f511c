#!/usr/bin/env bash
# Benchmarks: Tidewater against the stream's own limit, on the tests/env
# services (started if they are not up, and then stopped again).
#
# For each scenario three logical slots are created on the standby before the
# workload, so all see the same changes. A first pg_recvlogical drains the
# warm-up slot untimed, so that both measured runs find the WAL in the page
# cache. Then pg_recvlogical drains one (pgoutput to /dev/null, up to the
# workload's end LSN): the baseline. `tidewater run` drains the other into
# Kafka until the slot's confirmed_flush_lsn passes that LSN (every message
# acknowledged). Both are timed from process start.
# CPU seconds come from /proc (the agent, and the standby's walsender serving
# it, sampled while it runs); peak RSS is the agent's VmHWM.
#
# The snapshot scenario loads N rows into the table (ANALYZEd, replayed by the
# standby). The baseline is `psql` running `COPY (SELECT <the columns> FROM
# the table) TO STDOUT` on the standby to /dev/null, once untimed (page cache)
# and once timed; then `tidewater run` with snapshot.mode=initial_only and
# snapshot.max.threads 1 and 4, which exits once Kafka acknowledged every row.
# All are timed from process start to exit. The broker's CPU seconds over
# each run are reported too: with the agent's they bound the snapshot's
# rate on this machine at cores / (agent + broker CPU per row), reported as
# cpu_bound_ratio against the COPY baseline (the most the ratio can be here
# even if the PostgreSQL backends cost nothing). The agent runs in a subshell of
# its own, whose cutime+cstime from /proc, once it has reaped the agent, are
# the agent's exact CPU seconds; peak RSS is VmHWM, sampled while it runs.
#
# The latency scenario offers a fixed rate (default 5,000 rows/s, 10-row
# transactions) to the primary for S seconds (default 60) with
# tests/tools/rate_load, paced on absolute deadlines. `tidewater run`
# (snapshot.mode=never, its slot created before the load) streams it from the
# standby into the table's topic, created beforehand with
# message.timestamp.type=LogAppendTime, so every message's Kafka timestamp is
# the broker's append time. Once the slot's confirmed_flush_lsn passes the
# load's end LSN, the agent stops and `tidewater consume` reads the topic:
# latency = Kafka timestamp - envelope source.ts_ms (the commit time), both
# in ms and from this machine's clock; p50/p99/p99.9/max of every message.
#
#   tests/bench/run.sh [--rows N] [--scenarios insert_1tx,insert_10k,update_1tx,insert_5m_1tx,snapshot,latency]
#                      [--latency-seconds S] [--latency-rate R] [--json FILE]
#                      [--set KEY=VALUE]... [--pg-tls]
#
# Prints a table (and one for the snapshot, one for the latency); --json
# writes every figure. Scenarios: insert_1tx (N inserts in one transaction),
# insert_10k (N inserts in 10,000-row transactions), update_1tx (N updates in
# one transaction), insert_5m_1tx (5 x N inserts in one transaction: the
# memory of a 5,000,000-row transaction by default), snapshot (an initial
# snapshot of N rows, 1 and 4 threads), latency (R rows/s for S seconds).
# Default N = 1,000,000. --set passes a configuration key to every
# `tidewater run` (e.g. --set kafka.compression.codec=none to compare).
# The sessions to the standby (baselines and agent alike) are plaintext
# (sslmode=disable) unless --pg-tls: the test servers accept TLS, and with
# it every small message the walsender sends is a TLS record of its own,
# which costs the reading side (libpq: two recv() and a decryption per
# record) more than the whole pipeline does.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
ROWS=1000000
SCENARIOS=insert_1tx,insert_10k,update_1tx,insert_5m_1tx,snapshot,latency
LAT_SECONDS=60
LAT_RATE=5000
JSON=""
EXTRA=()
PG_TLS=0
usage() {
    echo "usage: $0 [--rows N] [--scenarios a,b] [--latency-seconds S] [--latency-rate R] [--json FILE] [--set KEY=VALUE]... [--pg-tls]" >&2
    exit 2
}
while [ $# -gt 0 ]; do
    case "$1" in
    --rows) ROWS=$2; shift 2 ;;
    --scenarios) SCENARIOS=$2; shift 2 ;;
    --latency-seconds) LAT_SECONDS=$2; shift 2 ;;
    --latency-rate) LAT_RATE=$2; shift 2 ;;
    --json) JSON=$2; shift 2 ;;
    --set) EXTRA+=(--set "$2"); shift 2 ;;
    --pg-tls) PG_TLS=1; shift ;;
    *) usage ;;
    esac
done
IFS=, read -r -a list <<<"$SCENARIOS"
for sc in "${list[@]}"; do
    case "$sc" in
    insert_1tx | insert_10k | update_1tx | insert_5m_1tx | snapshot | latency) ;;
    *) echo "bench: unknown scenario '$sc'" >&2; usage ;;
    esac
done
TW_BIN=${TW_BIN:-$REPO/build/tidewater}
[ -x "$TW_BIN" ] || { echo "bench: build first ($TW_BIN missing)" >&2; exit 2; }
# The latency scenario's load generator (tests/tools/rate_load.c, built with
# the tests) and the Python that creates its topic.
TW_RATE_LOAD=${TW_RATE_LOAD:-$(dirname "$TW_BIN")/tests/rate_load}
TW_PY=${TW_PY:-$REPO/.cache/venv/bin/python}
case ",$SCENARIOS," in
*,latency,*)
    [ -x "$TW_RATE_LOAD" ] || { echo "bench: build first ($TW_RATE_LOAD missing)" >&2; exit 2; }
    [ -x "$TW_PY" ] || { echo "bench: $TW_PY missing (tests/env/install.sh)" >&2; exit 2; }
    ;;
esac

started_services=0
if ! [ -f "$REPO/tests/env/state/env.sh" ] || ! bash "$REPO/tests/env/ctl.sh" status >/dev/null 2>&1; then
    bash "$REPO/tests/env/up.sh" >/dev/null
    started_services=1
fi
# shellcheck disable=SC1091
. "$REPO/tests/env/state/env.sh"
[ "$PG_TLS" = 1 ] || TW_PG_STANDBY_DSN="$TW_PG_STANDBY_DSN sslmode=disable"
work=$(mktemp -d)
AGENT_PID=""
WRAP_PID=""
cleanup() {
    [ -n "$AGENT_PID" ] && kill -9 "$AGENT_PID" 2>/dev/null || true
    [ -n "$WRAP_PID" ] && kill -9 "$WRAP_PID" 2>/dev/null || true
    [ -n "${ticker:-}" ] && kill "$ticker" 2>/dev/null || true
    rm -rf "$work"
    [ "$started_services" = 1 ] && bash "$REPO/tests/env/down.sh" >/dev/null 2>&1
    true
}
trap cleanup EXIT

P() { psql "$TW_PG_SUPERUSER_DSN" -XAtq -v ON_ERROR_STOP=1 "$@"; }
SB() { psql "$TW_PG_STANDBY_SUPERUSER_DSN" -XAtq -v ON_ERROR_STOP=1 "$@"; }
replay() {
    local target
    target=$(P -c "SELECT pg_current_wal_lsn()")
    until [ "$(SB -c "SELECT pg_last_wal_replay_lsn() >= '$target'")" = t ]; do sleep 0.1; done
}
now() { date +%s.%N; }
# The agent's HTTP endpoint on an ephemeral port: `--set http.listen=` (empty)
# unsets the key, i.e. means the default 127.0.0.1:8080, which may be taken.
HTTP_LISTEN=http.listen=127.0.0.1:0
# CPU seconds (user+sys) of a pid, from /proc/PID/stat fields 14 and 15.
cpu_s() {
    local hz
    hz=$(getconf CLK_TCK)
    awk -v hz="$hz" '{print ($14 + $15) / hz}' "/proc/$1/stat" 2>/dev/null || echo ""
}
# The broker's JVM (the snapshot figures count its CPU too: it shares the
# machine's cores with the agent).
kafka_pid() { cat "$TW_ENV_DIR/kafka/kafka.pid" 2>/dev/null || true; }
walsender_of() { SB -c "SELECT active_pid FROM pg_replication_slots WHERE slot_name = '$1'"; }
flushed_past() { [ "$(SB -c "SELECT confirmed_flush_lsn >= '$2'::pg_lsn FROM pg_replication_slots WHERE slot_name = '$1'")" = t ]; }

# The table every scenario uses (empty), in the publication tw_bench_pub.
fresh_table() {
    P <<SQL >/dev/null
SET client_min_messages = warning;
DROP PUBLICATION IF EXISTS tw_bench_pub;
DROP SCHEMA IF EXISTS tw_bench CASCADE;
CREATE SCHEMA tw_bench;
CREATE TABLE tw_bench.t (id bigint PRIMARY KEY, n int, s text, ts timestamptz,
                         amount numeric(12,2), ok boolean);
GRANT USAGE ON SCHEMA tw_bench TO tidewater;
GRANT SELECT ON ALL TABLES IN SCHEMA tw_bench TO tidewater;
CREATE PUBLICATION tw_bench_pub FOR TABLE tw_bench.t;
SQL
}

results=()
run_scenario() {
    local sc=$1 id base tw end t0 t1 base_s tw_s ws_pid ws_cpu agent_cpu rss rows=$ROWS
    # insert_5m_1tx: insert_1tx with 5 x the rows (5,000,000 by default), for memory.
    if [ "$sc" = insert_5m_1tx ]; then rows=$((ROWS * 5)); fi
    id="${sc}_$$"
    base="bench_base_$id"
    tw="bench_tw_$id"
    local warm="bench_warm_$id"
    fresh_table
    if [ "$sc" = update_1tx ]; then
        P -c "INSERT INTO tw_bench.t SELECT g, g % 1000, 'row ' || g, now(), g / 100.0, g % 2 = 0
              FROM generate_series(1, $rows) g" >/dev/null
    fi
    replay
    # Both slots before the workload (the primary logs standby snapshots meanwhile).
    (while sleep 0.2; do P -c "SELECT pg_log_standby_snapshot()" >/dev/null 2>&1; done) &
    ticker=$!
    SB -c "SELECT pg_create_logical_replication_slot('$warm', 'pgoutput')" >/dev/null
    SB -c "SELECT pg_create_logical_replication_slot('$base', 'pgoutput')" >/dev/null
    SB -c "SELECT pg_create_logical_replication_slot('$tw', 'pgoutput')" >/dev/null
    kill "$ticker"
    ticker=""

    case "$sc" in
    insert_1tx | insert_5m_1tx)
        P -c "INSERT INTO tw_bench.t SELECT g, g % 1000, 'row ' || g, now(), g / 100.0, g % 2 = 0
              FROM generate_series(1, $rows) g" >/dev/null ;;
    insert_10k)
        local b=0
        while [ $b -lt "$rows" ]; do
            echo "INSERT INTO tw_bench.t SELECT g, g % 1000, 'row ' || g, now(), g / 100.0, g % 2 = 0
                  FROM generate_series($((b + 1)), $((b + 10000 < rows ? b + 10000 : rows))) g;"
            b=$((b + 10000))
        done | P >/dev/null ;;
    update_1tx)
        P -c "UPDATE tw_bench.t SET n = n + 1, s = s || '!'" >/dev/null ;;
    esac
    end=$(P -c "SELECT pg_current_wal_lsn()")
    replay

    # Warm-up, untimed: the same decoding once, so WAL reads are warm for both.
    pg_recvlogical -d "$TW_PG_STANDBY_DSN" --slot "$warm" --start --endpos "$end" \
        -o proto_version=4 -o "publication_names=tw_bench_pub" -f /dev/null --no-loop 2>"$work/recv.err" ||
        { cat "$work/recv.err" >&2; echo "bench: pg_recvlogical (warm-up) failed" >&2; exit 1; }

    # Baseline: pg_recvlogical to /dev/null up to the end LSN.
    t0=$(now)
    pg_recvlogical -d "$TW_PG_STANDBY_DSN" --slot "$base" --start --endpos "$end" \
        -o proto_version=4 -o "publication_names=tw_bench_pub" -f /dev/null --no-loop 2>"$work/recv.err" &
    local rpid=$! ws_base_cpu=""
    while kill -0 "$rpid" 2>/dev/null; do
        ws_pid=$(walsender_of "$base")
        [ -n "$ws_pid" ] && ws_base_cpu=$(cpu_s "$ws_pid")
        sleep 0.2
    done
    wait "$rpid" || { cat "$work/recv.err" >&2; echo "bench: pg_recvlogical failed" >&2; exit 1; }
    t1=$(now)
    base_s=$(echo "$t1 - $t0" | bc -l)

    # Tidewater into Kafka, until every message is acknowledged.
    t0=$(now)
    "$TW_BIN" run --set "source.conninfo=$TW_PG_STANDBY_DSN" --set source.publication=tw_bench_pub \
        --set "kafka.bootstrap.servers=$TW_KAFKA_BOOTSTRAP" --set "slot.name=$tw" \
        --set "topic.prefix=bench_$id" --set status.interval.ms=200 --set "$HTTP_LISTEN" ${EXTRA[@]+"${EXTRA[@]}"} \
        >"$work/agent.log" 2>&1 &
    AGENT_PID=$!
    ws_cpu="" agent_cpu=""
    until flushed_past "$tw" "$end"; do
        kill -0 "$AGENT_PID" 2>/dev/null || { tail "$work/agent.log" >&2; echo "bench: the agent died" >&2; exit 1; }
        ws_pid=$(walsender_of "$tw")
        [ -n "$ws_pid" ] && ws_cpu=$(cpu_s "$ws_pid")
        agent_cpu=$(cpu_s "$AGENT_PID")
        sleep 0.1
    done
    t1=$(now)
    agent_cpu=$(cpu_s "$AGENT_PID")
    rss=$(awk '/^VmHWM/ {print $2}' "/proc/$AGENT_PID/status")
    kill -TERM "$AGENT_PID"
    wait "$AGENT_PID" || true
    AGENT_PID=""
    tw_s=$(echo "$t1 - $t0" | bc -l)

    SB -c "SELECT pg_drop_replication_slot('$warm')" -c "SELECT pg_drop_replication_slot('$base')" \
        -c "SELECT pg_drop_replication_slot('$tw')" >/dev/null
    results+=("$(printf '{"scenario":"%s","rows":%d,"baseline_seconds":%.3f,"tidewater_seconds":%.3f,"baseline_rows_per_s":%.0f,"tidewater_rows_per_s":%.0f,"throughput_ratio":%.3f,"agent_cpu_s":%.2f,"walsender_cpu_s":%.2f,"walsender_cpu_baseline_s":%.2f,"cpu_ratio":%.3f,"agent_cpu_s_per_million":%.2f,"peak_rss_mib":%.1f}' \
        "$sc" "$rows" "$base_s" "$tw_s" "$(echo "$rows / $base_s" | bc -l)" "$(echo "$rows / $tw_s" | bc -l)" \
        "$(echo "$base_s / $tw_s" | bc -l)" "${agent_cpu:-0}" "${ws_cpu:-0}" "${ws_base_cpu:-0}" \
        "$(echo "${agent_cpu:-0} / (${ws_cpu:-0} + 0.000001)" | bc -l)" \
        "$(echo "${agent_cpu:-0} * 1000000 / $rows" | bc -l)" "$(echo "$rss / 1024" | bc -l)")")
}

# Snapshot: N rows read by COPY to /dev/null, then by initial_only with 1 and 4 threads.
run_snapshot() {
    local t0 t1 copy_s th log published hwm kib rc a0 a1 ticks hz tw_s cpu sessions kpid k0 k1 kcpu cores
    local copy_sql="COPY (SELECT id, n, s, ts, amount, ok FROM tw_bench.t) TO STDOUT"
    hz=$(getconf CLK_TCK)
    fresh_table
    P -c "INSERT INTO tw_bench.t SELECT g, g % 1000, 'row ' || g, now(), g / 100.0, g % 2 = 0
          FROM generate_series(1, $ROWS) g" -c "ANALYZE tw_bench.t" >/dev/null
    replay

    # Baseline: COPY on the standby to /dev/null, once untimed (page cache), once timed.
    psql "$TW_PG_STANDBY_DSN" -XAtq -v ON_ERROR_STOP=1 -c "$copy_sql" >/dev/null
    t0=$(now)
    psql "$TW_PG_STANDBY_DSN" -XAtq -v ON_ERROR_STOP=1 -c "$copy_sql" >/dev/null
    t1=$(now)
    copy_s=$(echo "$t1 - $t0" | bc -l)

    kpid=$(kafka_pid)
    cores=$(nproc)
    for th in 1 4; do
        log="$work/snapshot$th.log"
        k0=$(cpu_s "$kpid")
        rm -f "$work/agent.pid" "$work/agent.done"
        # The agent is this subshell's only child between the two reads of its
        # /proc stat: the difference in cutime+cstime (fields 16, 17) is the
        # agent's CPU, every thread included.
        (
            t0=$(now)
            read -r -a st0 <"/proc/$BASHPID/stat"
            "$TW_BIN" run --set "source.conninfo=$TW_PG_STANDBY_DSN" --set source.publication=tw_bench_pub \
                --set "kafka.bootstrap.servers=$TW_KAFKA_BOOTSTRAP" --set "slot.name=bench_snap${th}_$$" \
                --set "topic.prefix=bench_snapshot${th}_$$" --set "$HTTP_LISTEN" \
                --set snapshot.mode=initial_only --set "snapshot.max.threads=$th" \
                ${EXTRA[@]+"${EXTRA[@]}"} >"$log" 2>&1 &
            echo $! >"$work/agent.pid"
            rc=0
            wait $! || rc=$?
            read -r -a st1 <"/proc/$BASHPID/stat"
            t1=$(now)
            echo "$rc $t0 $t1 $((st1[15] + st1[16] - st0[15] - st0[16]))" >"$work/agent.done"
        ) &
        WRAP_PID=$!
        until [ -s "$work/agent.pid" ]; do
            kill -0 "$WRAP_PID" 2>/dev/null || { echo "bench: the agent did not start" >&2; exit 1; }
            sleep 0.01
        done
        AGENT_PID=$(cat "$work/agent.pid")
        hwm=""
        while kill -0 "$AGENT_PID" 2>/dev/null; do
            kib=$(awk '/^VmHWM/ {print $2}' "/proc/$AGENT_PID/status" 2>/dev/null || true)
            [ -n "$kib" ] && hwm=$kib
            sleep 0.05
        done
        wait "$WRAP_PID"
        WRAP_PID="" AGENT_PID=""
        k1=$(cpu_s "$kpid")
        kcpu=0
        [ -n "$k0" ] && [ -n "$k1" ] && kcpu=$(echo "$k1 - $k0" | bc -l)
        read -r rc a0 a1 ticks <"$work/agent.done"
        [ "$rc" = 0 ] || { tail "$log" >&2; echo "bench: the agent (initial_only, $th threads) exited $rc" >&2; exit 1; }
        published=$(sed -n 's/.*initial_only: \([0-9]*\) rows published.*/\1/p' "$log")
        [ "$published" = "$ROWS" ] ||
            { tail "$log" >&2; echo "bench: the agent published '$published' rows, not $ROWS" >&2; exit 1; }
        [ -n "$hwm" ] || { echo "bench: no VmHWM sampled for the agent ($th threads)" >&2; exit 1; }
        sessions=$(sed -n 's/.* with \([0-9]*\) session(s).*/\1/p' "$log" | head -n 1)
        tw_s=$(echo "$a1 - $a0" | bc -l)
        cpu=$(echo "$ticks / $hz" | bc -l)
        results+=("$(printf '{"scenario":"snapshot","threads":%d,"sessions":%d,"rows":%d,"copy_seconds":%.3f,"tidewater_seconds":%.3f,"copy_rows_per_s":%.0f,"tidewater_rows_per_s":%.0f,"throughput_ratio":%.3f,"agent_cpu_s":%.2f,"agent_cpu_s_per_million":%.2f,"kafka_cpu_s":%.2f,"cores":%d,"cpu_bound_rows_per_s":%.0f,"cpu_bound_ratio":%.3f,"peak_rss_mib":%.1f}' \
            "$th" "${sessions:-0}" "$ROWS" "$copy_s" "$tw_s" "$(echo "$ROWS / $copy_s" | bc -l)" \
            "$(echo "$ROWS / $tw_s" | bc -l)" "$(echo "$copy_s / $tw_s" | bc -l)" "$cpu" \
            "$(echo "$cpu * 1000000 / $ROWS" | bc -l)" "$kcpu" "$cores" \
            "$(echo "$ROWS * $cores / ($cpu + $kcpu)" | bc -l)" \
            "$(echo "$ROWS * $cores / ($cpu + $kcpu) * $copy_s / $ROWS" | bc -l)" \
            "$(echo "$hwm / 1024" | bc -l)")")
    done
}

# Latency: LAT_RATE rows/s in 10-row transactions on the primary for
# LAT_SECONDS, streamed from the standby into a topic whose timestamps are the
# broker's append time; per message, that time minus the commit time.
run_latency() {
    local id="latency_$$" slot prefix topic end rss
    slot="bench_tw_$id"
    prefix="bench_$id"
    topic="$prefix.tw_bench.t"
    fresh_table
    replay
    (while sleep 0.2; do P -c "SELECT pg_log_standby_snapshot()" >/dev/null 2>&1; done) &
    ticker=$!
    SB -c "SELECT pg_create_logical_replication_slot('$slot', 'pgoutput')" >/dev/null
    kill "$ticker"
    ticker=""

    # The table's topic as Tidewater would create it (1 partition), but with
    # the broker's append time as every message's timestamp; Tidewater uses
    # an existing topic as it is.
    "$TW_PY" - "$TW_KAFKA_BOOTSTRAP" "$topic" <<'PY' || { echo "bench: cannot create topic $topic" >&2; exit 1; }
import sys
from confluent_kafka.admin import AdminClient, NewTopic
bootstrap, topic = sys.argv[1:3]
admin = AdminClient({"bootstrap.servers": bootstrap})
new = NewTopic(topic, num_partitions=1, replication_factor=-1,
               config={"message.timestamp.type": "LogAppendTime"})
admin.create_topics([new], operation_timeout=30)[topic].result(60)
PY

    "$TW_BIN" run --set "source.conninfo=$TW_PG_STANDBY_DSN" --set source.publication=tw_bench_pub \
        --set "kafka.bootstrap.servers=$TW_KAFKA_BOOTSTRAP" --set "slot.name=$slot" \
        --set "topic.prefix=$prefix" --set snapshot.mode=never --set status.interval.ms=200 \
        --set "$HTTP_LISTEN" ${EXTRA[@]+"${EXTRA[@]}"} >"$work/agent.log" 2>&1 &
    AGENT_PID=$!
    local i=0
    until grep -q 'msg="streaming slot' "$work/agent.log"; do
        kill -0 "$AGENT_PID" 2>/dev/null || { tail "$work/agent.log" >&2; echo "bench: the agent died" >&2; exit 1; }
        i=$((i + 1))
        [ $i -lt 600 ] || { tail "$work/agent.log" >&2; echo "bench: the agent did not stream within 60 s" >&2; exit 1; }
        sleep 0.1
    done

    "$TW_RATE_LOAD" "$TW_PG_SUPERUSER_DSN" "$LAT_RATE" "$LAT_SECONDS" >"$work/load.out" 2>&1 ||
        { cat "$work/load.out" >&2; echo "bench: rate_load failed" >&2; exit 1; }
    end=$(P -c "SELECT pg_current_wal_lsn()")
    replay
    until flushed_past "$slot" "$end"; do
        kill -0 "$AGENT_PID" 2>/dev/null || { tail "$work/agent.log" >&2; echo "bench: the agent died" >&2; exit 1; }
        sleep 0.1
    done
    rss=$(awk '/^VmHWM/ {print $2}' "/proc/$AGENT_PID/status")
    kill -TERM "$AGENT_PID"
    wait "$AGENT_PID" || true
    AGENT_PID=""
    SB -c "SELECT pg_drop_replication_slot('$slot')" >/dev/null

    "$TW_BIN" consume --topic "$topic" --from-beginning --until-end \
        --set "kafka.bootstrap.servers=$TW_KAFKA_BOOTSTRAP" --set "topic.prefix=$prefix" \
        >"$work/latency.jsonl" 2>"$work/consume.err" ||
        { tail "$work/consume.err" >&2; echo "bench: tidewater consume $topic failed" >&2; exit 1; }
    results+=("$(python3 - "$work/latency.jsonl" "$work/load.out" "$LAT_RATE" "$LAT_SECONDS" "$rss" <<'PY'
import json, math, re, sys
lines, load_out, rate, seconds, rss_kib = sys.argv[1:6]
load = dict(re.findall(r"(\w+)=([0-9.]+)", open(load_out).read()))
lat = []
for line in open(lines):
    m = json.loads(line)
    lat.append(m["timestamp"] - m["value"]["source"]["ts_ms"])
rows = int(load["rows"])
if len(lat) != rows:
    sys.exit(f"bench: latency topic holds {len(lat)} messages, rate_load committed {rows} rows")
lat.sort()
def pct(p):  # nearest rank
    return lat[max(0, math.ceil(p / 100 * len(lat)) - 1)]
print(json.dumps({"scenario": "latency", "seconds": int(seconds), "offered_rows_per_s": int(rate),
                  "rows": rows, "achieved_rows_per_s": round(float(load["rows_per_s"]), 1),
                  "load_max_behind_ms": float(load["max_behind_ms"]), "messages": len(lat),
                  "latency_p50_ms": pct(50), "latency_p99_ms": pct(99),
                  "latency_p999_ms": pct(99.9), "latency_max_ms": lat[-1],
                  "peak_rss_mib": round(int(rss_kib) / 1024, 1)}, separators=(",", ":")))
PY
)")
}

for sc in "${list[@]}"; do
    case "$sc" in
    snapshot) run_snapshot ;;
    latency) run_latency ;;
    *) run_scenario "$sc" ;;
    esac
done
P -c "SET client_min_messages = warning" -c "DROP PUBLICATION IF EXISTS tw_bench_pub" \
    -c "DROP SCHEMA IF EXISTS tw_bench CASCADE" >/dev/null

json="[$(IFS=,; echo "${results[*]}")]"
[ -n "$JSON" ] && printf '%s\n' "$json" >"$JSON"
python3 - "$json" <<'PY'
import json, sys
allrows = json.loads(sys.argv[1])
rows = [r for r in allrows if r["scenario"] not in ("snapshot", "latency")]
snap = [r for r in allrows if r["scenario"] == "snapshot"]
lat = [r for r in allrows if r["scenario"] == "latency"]
# The scenario column is 11 wide, or as wide as its longest name.
w = max([11] + [len(r["scenario"]) for r in rows])
cols = [("scenario", "%%-%ds" % w), ("rows", "%9d"), ("baseline_rows_per_s", "%12.0f"),
        ("tidewater_rows_per_s", "%13.0f"), ("throughput_ratio", "%6.2f"), ("agent_cpu_s", "%7.2f"),
        ("walsender_cpu_s", "%8.2f"), ("cpu_ratio", "%6.2f"), ("peak_rss_mib", "%7.1f")]
head = ["scenario", "rows", "pg_recv r/s", "tidewater r/s", "ratio", "agentCPU", "wsndCPU", "cpu/w", "RSS MiB"]
if rows or not (snap or lat):
    print("  ".join(h.rjust(len(f % (0 if 'd' in f or 'f' in f else ''))) if i else h.ljust(w) for i, (h, (k, f)) in enumerate(zip(head, cols))))
    for r in rows:
        print("  ".join(f % r[k] for k, f in cols))
if snap:
    if rows:
        print()
    cols = [("scenario", "%-11s"), ("threads", "%7d"), ("rows", "%9d"), ("copy_rows_per_s", "%12.0f"),
            ("tidewater_rows_per_s", "%13.0f"), ("throughput_ratio", "%6.2f"), ("agent_cpu_s", "%8.2f"),
            ("kafka_cpu_s", "%8.2f"), ("cpu_bound_ratio", "%8.2f"), ("peak_rss_mib", "%7.1f")]
    head = ["scenario", "threads", "rows", "COPY r/s", "tidewater r/s", "ratio", "agentCPU", "kafkaCPU",
            "cpuBound", "RSS MiB"]
    print("  ".join(h.rjust(len(f % 0)) if i else h.ljust(11) for i, (h, (k, f)) in enumerate(zip(head, cols))))
    for r in snap:
        print("  ".join(f % r[k] for k, f in cols))
if lat:
    if rows or snap:
        print()
    cols = [("scenario", "%-11s"), ("seconds", "%7d"), ("offered_rows_per_s", "%11d"),
            ("achieved_rows_per_s", "%12.1f"), ("messages", "%9d"), ("latency_p50_ms", "%6d"),
            ("latency_p99_ms", "%6d"), ("latency_p999_ms", "%8d"), ("latency_max_ms", "%6d"),
            ("peak_rss_mib", "%7.1f")]
    head = ["scenario", "seconds", "offered r/s", "achieved r/s", "messages", "p50 ms", "p99 ms",
            "p99.9 ms", "max ms", "RSS MiB"]
    print("  ".join(h.rjust(len(f % 0)) if i else h.ljust(11) for i, (h, (k, f)) in enumerate(zip(head, cols))))
    for r in lat:
        print("  ".join(f % r[k] for k, f in cols))
PY
