#!/usr/bin/env bash
# The benchmark harness cannot rot: a small run (20,000 rows per scenario)
# must produce every figure for every scenario. How fast is not judged here
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
want = {"insert_1tx", "insert_10k", "update_1tx"}
figures = ["baseline_rows_per_s", "tidewater_rows_per_s", "throughput_ratio", "agent_cpu_s",
           "walsender_cpu_s", "cpu_ratio", "peak_rss_mib"]
bad = [f"{r['scenario']}: {f} = {r.get(f)}" for r in rows for f in figures
       if not isinstance(r.get(f), (int, float)) or r[f] <= 0]
if {r["scenario"] for r in rows} != want:
    bad.append(f"scenarios {sorted(r['scenario'] for r in rows)}, want {sorted(want)}")
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
PY
note "harness produced every figure for $(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))))" "$out") scenarios"
