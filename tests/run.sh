#!/usr/bin/env bash
# The test command: installs what is missing, builds, starts the real
# services, runs the whole suite, stops the services (also on failure), then
# does the same again with AddressSanitizer + UndefinedBehaviorSanitizer.
# ctest's summary is the last thing printed; the exit status is the suite's.
# The plain pass also runs the unit tests under valgrind (valgrind.unit) and
# each libFuzzer target for 15 s (fuzz.targets, built with clang in
# build/fuzz); longer fuzzing: tests/fuzz/run.sh SECONDS.
#
#   tests/run.sh              both passes
#   TW_SKIP_SANITIZE=1 tests/run.sh   the plain pass only
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
JOBS=$(nproc 2>/dev/null || echo 2)
SERVICES_LOG="$REPO/build-logs/services.log"
mkdir -p "$REPO/build-logs"

start=$(date +%s)
echo "== install (tests/env/install.sh)"
bash tests/env/install.sh

services_down() { bash tests/env/down.sh >>"$SERVICES_LOG" 2>&1 || true; }
trap services_down EXIT

# pass NAME BUILD_DIR CMAKE_ARGS...: build, fresh services, ctest.
pass() {
    local name=$1 dir=$2
    shift 2
    echo "== $name: build ($dir)"
    cmake -S . -B "$dir" -G Ninja -DTW_WERROR=ON "$@" >"$REPO/build-logs/$name-cmake.log" 2>&1 ||
        { cat "$REPO/build-logs/$name-cmake.log"; return 1; }
    cmake --build "$dir" -j "$JOBS" 2>&1 | tail -n 50
    [ "${PIPESTATUS[0]}" -eq 0 ] || return 1
    echo "== $name: services up (log: $SERVICES_LOG)"
    services_down
    if ! bash tests/env/up.sh >>"$SERVICES_LOG" 2>&1; then
        tail -n 60 "$SERVICES_LOG"
        return 1
    fi
    echo "== $name: ctest"
    local rc=0
    ctest --test-dir "$dir" --output-on-failure --no-tests=error -j 1 || rc=$?
    services_down
    return $rc
}

# Sanitizer findings exit with codes of their own (86-88), never 1 or 2,
# which are tidewater's "a check failed" and "bad configuration": a test that
# expects a failing check must not mistake a memory error for it.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:exitcode=86:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=87}
export LSAN_OPTIONS=${LSAN_OPTIONS:-exitcode=88:suppressions=$REPO/tests/lsan.supp:print_suppressions=0}

if [ "${TW_SKIP_SANITIZE:-0}" = 1 ]; then
    pass plain build
    exit $?
fi
# Release flags (-O3) find warnings the other builds do not; the container
# image builds this way, so -Werror must hold here too.
echo "== release build (build-release)"
if ! { cmake -S . -B build-release -G Ninja -DTW_WERROR=ON -DCMAKE_BUILD_TYPE=Release &&
    cmake --build build-release -j "$JOBS" --target tidewater; } >"$REPO/build-logs/release.log" 2>&1; then
    tail -n 40 "$REPO/build-logs/release.log"
    echo "the Release build failed (log: build-logs/release.log)"
    exit 1
fi

# A failed plain pass ends the run, so its ctest summary stays the last thing printed.
pass plain build || exit 1
echo "== plain pass ok after $(($(date +%s) - start)) s; now under ASan+UBSan"
pass sanitize build-asan -DTW_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
