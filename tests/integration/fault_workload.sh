#!/usr/bin/env bash
# The fault tests' steady workload: small insert/update/delete transactions
# on the three tables fault_lib.sh creates in SCHEMA (items: keyed, many
# column types; pairs: composite key, updates that change the key; nokey: no
# key, REPLICA IDENTITY FULL, duplicate rows), on the server DSN (the
# primary, or a standby promoted in its place), about TXNS_PER_S
# transactions a second, until SIGTERM.
#
#   fault_workload.sh DSN SCHEMA TXNS_PER_S SEED
#
# Each second's transactions go through one psql session, paced by
# pg_sleep. SQL errors do not stop it (ON_ERROR_STOP is off: a transaction
# that fails is rolled back and is simply not part of the tables); a lost
# connection (a restarted primary) ends the session and the next second's
# batch connects again. New keys come from a counter seeded by SEED, so they
# never collide with the seed rows or each other: [(SEED+1)*10^6,
# (SEED+2)*10^6). On SIGTERM it prints
# `workload: batches=N failed_batches=N txns=N sql_errors=N` (txns sent,
# committed or not; sql_errors: the ERROR lines of the sessions).
set -uo pipefail
[ $# -eq 4 ] || { echo "usage: fault_workload.sh DSN SCHEMA TXNS_PER_S SEED" >&2; exit 2; }
DSN=$1 S=$2 RATE=$3 SEED=$4
case "$RATE" in '' | *[!0-9]* | 0) echo "fault_workload.sh: TXNS_PER_S must be a positive integer, not '$RATE'" >&2; exit 2 ;; esac
case "$SEED" in '' | *[!0-9]*) echo "fault_workload.sh: SEED must be a non-negative integer, not '$SEED'" >&2; exit 2 ;; esac
RANDOM=$SEED
next=$(((SEED % 1000 + 1) * 1000000)) # keys of this run: above the seed rows (< 1000000)
batches=0 failed=0 txns=0 errors=0 psql_pid=""
errfile=$(mktemp)
# One sleep between transactions: a second's worth spread evenly.
pause=$(awk -v r="$RATE" 'BEGIN { printf "%.4f", 1 / r }')

finish() {
    [ -n "$psql_pid" ] && kill "$psql_pid" 2>/dev/null || true
    rm -f "$errfile"
    echo "workload: batches=$batches failed_batches=$failed txns=$txns sql_errors=$errors"
    exit 0
}
trap finish TERM INT

# ID: a random id among the keys of this run so far and the seed rows.
some_id() {
    if [ $((RANDOM % 3)) -eq 0 ]; then ID=$((RANDOM % 200 + 1)); else ID=$((next - RANDOM % 400)); fi
}
# q SQL: appends a statement to the batch (no subshell: the counter lives on).
q() { batch+="$1"$'\n'; }

txn() {
    local x
    q "BEGIN;"
    case $((RANDOM % 10)) in
    0 | 1 | 2)
        next=$((next + 1))
        q "INSERT INTO $S.items VALUES ($next, $((RANDOM - 16384)), E'row\\t$next é', $((RANDOM * 3)).$((RANDOM % 100)), now(), DATE '2026-01-01' + $((RANDOM % 500 - 250)), $((RANDOM % 2)) = 1, $RANDOM / 7.0, gen_random_uuid(), jsonb_build_object('n', $next, 'tag', 'w$SEED'), decode(md5('$next'), 'hex'));"
        ;;
    3 | 4)
        some_id
        q "UPDATE $S.items SET n = n + 1, t = t || 'u', amt = amt + 0.01, ts = now(), d = d + 1, b = NOT b, f = f * 2, j = j || '{\"u\": true}', bin = bin || '\\x00'::bytea WHERE id = $ID;"
        ;;
    5)
        some_id
        q "DELETE FROM $S.items WHERE id = $ID;"
        ;;
    6)
        next=$((next + 1))
        q "INSERT INTO $S.pairs VALUES ($next, 'k$((RANDOM % 3))', $RANDOM, NULL);"
        some_id
        q "UPDATE $S.pairs SET v = v + 1, note = coalesce(note, '') || 'n' WHERE a = $ID;"
        ;;
    7)
        some_id
        # Changes the key: a delete of the old key and an insert of the new one.
        q "UPDATE $S.pairs SET b = b || 'x' WHERE a = $ID;"
        some_id
        q "DELETE FROM $S.pairs WHERE a = $ID;"
        ;;
    8)
        x=$((RANDOM % 300))
        # Sometimes the same row twice: the keyless table is a multiset.
        q "INSERT INTO $S.nokey VALUES ($x, 'y$x'), ($((RANDOM % 300)), 'z');"
        q "UPDATE $S.nokey SET y = y || '+' WHERE x = $((RANDOM % 300));"
        q "DELETE FROM $S.nokey WHERE x = $((RANDOM % 300));"
        ;;
    9)
        # One transaction over all three tables.
        next=$((next + 1))
        q "INSERT INTO $S.items (id, n, t) VALUES ($next, 0, 'multi');"
        q "INSERT INTO $S.pairs VALUES ($next, 'm', 0, 'multi');"
        q "INSERT INTO $S.nokey VALUES ($((RANDOM % 300)), 'multi');"
        some_id
        q "UPDATE $S.items SET t = 'multi-u' WHERE id = $ID;"
        ;;
    esac
    q "COMMIT;"
    q "SELECT pg_sleep($pause);"
    txns=$((txns + 1))
}

while :; do
    batch=""
    for _ in $(seq 1 "$RATE"); do txn; done
    psql "$DSN" -Xq -v ON_ERROR_STOP=0 >/dev/null 2>"$errfile" <<<"$batch" &
    psql_pid=$!
    wait "$psql_pid" || { failed=$((failed + 1)); sleep 0.5; }
    psql_pid=""
    errors=$((errors + $(grep -c 'ERROR:' "$errfile")))
    batches=$((batches + 1))
done
