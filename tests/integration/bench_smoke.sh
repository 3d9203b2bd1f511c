#!/usr/bin/env bash
# The benchmark harness cannot rot: a small run (20,000 rows per scenario)
# must produce every figure for every scenario, the snapshot's for 1 and for
# 4 threads. How fast is not judged here
# (that is the benchmark's own report, see README "Performance").
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_services
out=$(mktemp)
trap 'rm -f "$out"' EXIT
TW_BIN="$TW_BIN" bash "$TW_SOURCE_DIR/tests/bench/run.sh" --rows 20000 --json "$out" >&2 ||
    fail "tests/bench/run.sh failed"
"$TW_PY" - "$out" <<'PY' || fail "the harness did not produce every figure"
import json, sys
rows = json.load(open(sys.argv[1]))
want = {"insert_1tx", "insert_10k", "update_1tx", "snapshot"}
figures = ["baseline_rows_per_s", "tidewater_rows_per_s", "throughput_ratio", "agent_cpu_s",
           "walsender_cpu_s", "cpu_ratio", "peak_rss_mib"]
snapshot_figures = ["copy_seconds", "tidewater_seconds", "copy_rows_per_s", "tidewater_rows_per_s",
                    "throughput_ratio", "agent_cpu_s", "agent_cpu_s_per_million", "peak_rss_mib",
                    "sessions"]
def name(r):
    return f"snapshot threads={r.get('threads')}" if r["scenario"] == "snapshot" else r["scenario"]
bad = [f"{name(r)}: {f} = {r.get(f)}" for r in rows
       for f in (snapshot_figures if r["scenario"] == "snapshot" else figures)
       if not isinstance(r.get(f), (int, float)) or r[f] <= 0]
if {r["scenario"] for r in rows} != want:
    bad.append(f"scenarios {sorted(r['scenario'] for r in rows)}, want {sorted(want)}")
threads = sorted(r.get("threads") for r in rows if r["scenario"] == "snapshot")
if threads != [1, 4]:
    bad.append(f"snapshot threads {threads}, want [1, 4]")
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
PY
note "harness produced every figure for $(python3 -c "import json,sys; print(len({r['scenario'] for r in json.load(open(sys.argv[1]))}))" "$out") scenarios (snapshot: 1 and 4 threads)"
