#!/usr/bin/env bash
# The benchmark harness cannot rot: a small run (20,000 rows per scenario,
# 100,000 for insert_5m_1tx, a 5-second latency run) must produce every
# figure for every scenario, the snapshot's for 1 and for 4 threads. How fast
# is not judged here (that is the benchmark's own report, see README
# "Performance").
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_services
out=$(mktemp)
trap 'rm -f "$out"' EXIT
TW_BIN="$TW_BIN" TW_RATE_LOAD="${TW_RATE_LOAD:-}" TW_PY="$TW_PY" \
    bash "$TW_SOURCE_DIR/tests/bench/run.sh" --rows 20000 --latency-seconds 5 --json "$out" >&2 ||
    fail "tests/bench/run.sh failed"
"$TW_PY" - "$out" <<'PY' || fail "the harness did not produce every figure"
import json, sys
rows = json.load(open(sys.argv[1]))
want = {"insert_1tx", "insert_10k", "update_1tx", "insert_5m_1tx", "snapshot", "latency"}
figures = ["baseline_rows_per_s", "tidewater_rows_per_s", "throughput_ratio", "agent_cpu_s",
           "walsender_cpu_s", "cpu_ratio", "peak_rss_mib"]
snapshot_figures = ["copy_seconds", "tidewater_seconds", "copy_rows_per_s", "tidewater_rows_per_s",
                    "throughput_ratio", "agent_cpu_s", "agent_cpu_s_per_million", "peak_rss_mib",
                    "sessions", "kafka_cpu_s", "cpu_bound_rows_per_s", "cpu_bound_ratio"]
latency_figures = ["seconds", "offered_rows_per_s", "rows", "achieved_rows_per_s", "messages",
                   "peak_rss_mib"]
# Latencies are whole milliseconds; 0 is a possible (if unlikely) figure.
latency_ms = ["latency_p50_ms", "latency_p99_ms", "latency_p999_ms", "latency_max_ms",
              "load_max_behind_ms"]
def name(r):
    return f"snapshot threads={r.get('threads')}" if r["scenario"] == "snapshot" else r["scenario"]
def wanted(r):
    return {"snapshot": snapshot_figures, "latency": latency_figures}.get(r["scenario"], figures)
def number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)
bad = [f"{name(r)}: {f} = {r.get(f)}" for r in rows for f in wanted(r)
       if not number(r.get(f)) or r[f] <= 0]
bad += [f"{name(r)}: {f} = {r.get(f)}" for r in rows if r["scenario"] == "latency"
        for f in latency_ms if not number(r.get(f)) or r[f] < 0]
if {r["scenario"] for r in rows} != want:
    bad.append(f"scenarios {sorted(r['scenario'] for r in rows)}, want {sorted(want)}")
threads = sorted(r.get("threads") for r in rows if r["scenario"] == "snapshot")
if threads != [1, 4]:
    bad.append(f"snapshot threads {threads}, want [1, 4]")
for r in rows:
    if r["scenario"] == "insert_5m_1tx" and r.get("rows") != 5 * 20000:
        bad.append(f"insert_5m_1tx: rows = {r.get('rows')}, want {5 * 20000}")
    if r["scenario"] == "latency":
        if r.get("seconds") != 5:
            bad.append(f"latency: seconds = {r.get('seconds')}, want 5")
        if r.get("messages") != r.get("rows"):
            bad.append(f"latency: {r.get('messages')} messages for {r.get('rows')} rows")
        if not (r.get("latency_p50_ms", -1) <= r.get("latency_p99_ms", -1)
                <= r.get("latency_p999_ms", -1) <= r.get("latency_max_ms", -1)):
            bad.append(f"latency: percentiles out of order: {r}")
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
PY
note "harness produced every figure for $(python3 -c "import json,sys; print(len({r['scenario'] for r in json.load(open(sys.argv[1]))}))" "$out") scenarios (snapshot: 1 and 4 threads; latency for 5 s)"
