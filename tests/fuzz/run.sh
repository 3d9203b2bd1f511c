#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (-fsanitize=fuzzer,address,undefined;
# CMake option TW_FUZZ in its own build directory) and runs each for SECONDS
# on a copy of its seed corpus, so new inputs never land in the repository.
# Prints per target the executions, the corpus size at the end and the
# result; exits non-zero when any target crashed, leaked, timed out or broke
# its contract (the input that did it is kept as an artifact, path printed).
#
#   tests/fuzz/run.sh SECONDS
#
#   TW_FUZZ_BUILD_DIR   build directory (default: build-fuzz in the repository)
#   TW_FUZZ_TARGETS     targets to run (default: "pgoutput config consume")
#   TW_FUZZ_JOBS        parallel build jobs (default: nproc)
#
# Targets (tests/fuzz/fuzz_<name>.c) and their seeds (tests/fuzz/corpus/<name>):
#   pgoutput   decoders/pgoutput: one message, or a framed sequence of them
#   config     the properties-file parser (tw_config_load_buffer) and dump
#   consume    one Kafka message as `tidewater consume` decodes it: framing,
#              schema lookup, Avro datum
set -euo pipefail

secs=${1:?usage: tests/fuzz/run.sh SECONDS}
case $secs in
'' | *[!0-9]* | 0)
    echo "run.sh: SECONDS must be a positive integer, got '$secs'" >&2
    exit 2
    ;;
esac
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${TW_FUZZ_BUILD_DIR:-$root/build-fuzz}
targets=${TW_FUZZ_TARGETS:-pgoutput config consume}
jobs=${TW_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}

cc=$(command -v clang || command -v clang-14 || true)
if [ -z "$cc" ]; then
    echo "run.sh: clang not found: apt-get install clang (tests/env/install.sh installs it)" >&2
    exit 1
fi

rt=$("$cc" -print-file-name="libclang_rt.fuzzer-$(uname -m).a")
if [ ! -f "$rt" ]; then
    echo "run.sh: clang's libFuzzer runtime is missing: apt-get install libclang-rt-14-dev" \
        "(tests/env/install.sh installs it)" >&2
    exit 1
fi

mkdir -p "$build"
log=$build/fuzz-build.log
names=()
for t in $targets; do names+=("fuzz_$t"); done
echo "== fuzz: build ($build, $cc)"
if ! { CC=$cc cmake -S "$root" -B "$build" -G Ninja -DTW_WERROR=ON -DTW_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
    cmake --build "$build" -j "$jobs" --target "${names[@]}"; } >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "run.sh: the fuzz build failed (log: $log)" >&2
    exit 1
fi

# Findings must not be mistaken for anything else; leaks are findings too.
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
unset LSAN_OPTIONS

work=$build/fuzz-work
failed=0
summary=()
for t in $targets; do
    bin=$build/tests/fuzz/fuzz_$t
    seeds=$root/tests/fuzz/corpus/$t
    dir=$work/$t
    rm -rf "$dir"
    mkdir -p "$dir/corpus" "$dir/artifacts"
    # Seeds only: the corpus directories also hold a MANIFEST.
    find "$seeds" -maxdepth 1 -type f \( -name '*.bin' -o -name '*.properties' \) \
        -exec cp {} "$dir/corpus/" \;
    nseeds=$(find "$dir/corpus" -type f | wc -l)
    opts=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$dir/artifacts/")
    [ -f "$root/tests/fuzz/$t.dict" ] && opts+=(-dict="$root/tests/fuzz/$t.dict")
    echo "== fuzz: $t for ${secs}s ($nseeds seeds; log: $dir/fuzz.log)"
    rc=0
    "$bin" "${opts[@]}" "$dir/corpus" >"$dir/fuzz.log" 2>&1 || rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/fuzz.log" | tail -n 1)
    [ -n "$runs" ] || runs=$(sed -n 's/^#\([0-9][0-9]*\).*/\1/p' "$dir/fuzz.log" | tail -n 1)
    files=$(find "$dir/corpus" -type f | wc -l)
    bytes=$(du -sb "$dir/corpus" | cut -f1)
    artifacts=$(find "$dir/artifacts" -type f | sort)
    if [ "$rc" -eq 0 ] && [ -z "$artifacts" ]; then
        result=ok
    else
        failed=1
        result="FAILED (exit $rc)"
        grep -m 1 -E '^==[0-9]+==ERROR|runtime error|^==[0-9]+== ERROR: libFuzzer|ALARM|Sanitizer' \
            "$dir/fuzz.log" || tail -n 20 "$dir/fuzz.log"
        for a in $artifacts; do echo "   input: $a"; done
    fi
    line=$(printf '%-9s executions %-10s corpus %s files (%s bytes, %s seeds)  %s' "$t" \
        "${runs:-?}" "$files" "$bytes" "$nseeds" "$result")
    echo "$line"
    summary+=("$line")
done
echo "== fuzz summary (${secs}s per target)"
printf '%s\n' "${summary[@]}"
exit $failed
