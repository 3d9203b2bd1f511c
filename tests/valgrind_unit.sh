#!/usr/bin/env bash
# Runs unit test programs under valgrind's memcheck: any invalid read or
# write, use of uninitialised memory, or definitely/indirectly lost block
# fails the run (exit 1), as does a test that fails on its own. ctest runs
# it on the plain build's tests/test_* (test valgrind.unit); by hand:
#
#   tests/valgrind_unit.sh build/tests/test_*
#
# Every unit test runs: none needs services, and the one that can call
# Python (test_pgtypes' cross-check) does so only when
# TW_AVRO_CROSSCHECK_DIR is set, which this script unsets. Still-reachable
# memory (libraries' process-lifetime caches) is not a finding.
set -uo pipefail

if [ $# -eq 0 ]; then
    echo "usage: valgrind_unit.sh TEST_PROGRAM..." >&2
    exit 2
fi
if ! command -v valgrind >/dev/null 2>&1; then
    echo "valgrind not found: apt-get install valgrind (tests/env/install.sh installs it)" >&2
    exit 1
fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export TW_SOURCE_DIR=${TW_SOURCE_DIR:-$root}
unset TW_AVRO_CROSSCHECK_DIR
# A sanitizer build under valgrind reports the sanitizer, not the program.
for t in "$@"; do
    if grep -qa '__asan_init' "$t" 2>/dev/null; then
        echo "valgrind_unit.sh: $t is built with AddressSanitizer; use the plain build" >&2
        exit 2
    fi
done

logdir=$(mktemp -d "${TMPDIR:-/tmp}/tw-valgrind.XXXXXX")
trap 'rm -rf "$logdir"' EXIT
failed=()
start=$SECONDS
for t in "$@"; do
    name=$(basename "$t")
    log=$logdir/$name.log
    t0=$SECONDS
    rc=0
    valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
        --track-origins=yes --num-callers=30 "$t" >"$log" 2>&1 || rc=$?
    if [ "$rc" -eq 0 ]; then
        echo "ok      $name ($((SECONDS - t0)) s)"
    else
        why="the test failed (exit $rc)"
        [ "$rc" -eq 99 ] && why="valgrind found errors"
        echo "FAILED  $name: $why"
        # valgrind's own report (stack traces included) and the test's failures
        grep -E '^==[0-9]+== |FAILED' "$log" | grep -vE '^==[0-9]+== +$' | head -n 80
        failed+=("$name")
    fi
done
echo "valgrind: $# programs, ${#failed[@]} failed, $((SECONDS - start)) s"
[ ${#failed[@]} -eq 0 ]
