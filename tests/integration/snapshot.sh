#!/usr/bin/env bash
# The initial snapshot, on the standby, against a live workload:
#  a. 1,000,000 rows in three tables (one without a primary key) while the
#     primary keeps inserting, updating and deleting; snapshot.max.threads=4;
#     the agent is killed with SIGKILL in the middle of the snapshot and
#     started again: the log says the snapshot was resumed, and once the
#     agent has caught up, replaying every topic by key gives exactly the
#     primary's rows (full rows), the first/last marks are there, every
#     snapshot row comes before the streamed changes.
#     (anokey, first in name order, is complete and recorded when the
#     SIGKILL comes, so the resume keeps it and reads the keyed rest.)
#  b. snapshot.mode=initial_only stopped by SIGTERM mid-snapshot exits 1
#     cleanly; then with 1 and with 4 threads on the quiet
#     tables mid and anokey (publication of their own; mid is large enough to
#     be split into block ranges): each exits 0, creates no slot, and both
#     publish the same rows, which equal the primary's.
#  c. snapshot.mode=never publishes no op=r event, only the changes.
#  d. SIGKILL during the snapshot of a publication of big alone, then mid
#     joins the publication: mid was not part of the interrupted snapshot,
#     so its rows could not line up with the stream from the slot; the agent
#     drops the slot it created and takes the snapshot again from the start.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_services

ID="$$_$RANDOM"
PREFIX="sn$ID"
SLOT="tw_sn_$ID"
S="tw_sn_$ID"
ROWS_BIG=${TW_SNAPSHOT_ROWS_BIG:-800000}
ROWS_MID=${TW_SNAPSHOT_ROWS_MID:-190000}
ROWS_NOKEY=${TW_SNAPSHOT_ROWS_NOKEY:-10000}
dir=$(mktemp -d)
cleanup() {
    [ -n "${load_pid:-}" ] && kill "$load_pid" 2>/dev/null || true
    [ -n "${ticker:-}" ] && kill "$ticker" 2>/dev/null || true
    [ -n "${term_pid:-}" ] && kill -9 "$term_pid" 2>/dev/null || true
    psql_primary -c "DROP PUBLICATION IF EXISTS ${S}_small" -c "DROP PUBLICATION IF EXISTS ${S}_d" >/dev/null 2>&1 || true
    drop_test_objects "$S" "$SLOT"
    for s in "${SLOT}_n" "${SLOT}_o1" "${SLOT}_o4" "${SLOT}_d"; do
        psql_standby -c "SELECT pg_drop_replication_slot('$s') FROM pg_replication_slots WHERE slot_name = '$s'" >/dev/null 2>&1 || true
    done
    # TW_KEEP_DIR=path keeps the logs and consumed topics for a post-mortem.
    if [ -n "${TW_KEEP_DIR:-}" ]; then cp -r "$dir" "$TW_KEEP_DIR" || true; fi
    rm -rf "$dir"
}
trap cleanup EXIT

create_test_schema "$S" "
CREATE TABLE $S.big (id bigint PRIMARY KEY, n int, t text, ts timestamptz, amt numeric(12,2), b boolean);
INSERT INTO $S.big SELECT g, g % 1000, 'row ' || g, '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 second',
    g / 100.0, g % 2 = 0 FROM generate_series(1, $ROWS_BIG) g;
CREATE TABLE $S.mid (id int PRIMARY KEY, v text, w int);
INSERT INTO $S.mid SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE E'v\\t' || g END, g FROM generate_series(1, $ROWS_MID) g;
CREATE TABLE $S.anokey (x int, y text);
INSERT INTO $S.anokey SELECT g, 'n' || g FROM generate_series(1, $ROWS_NOKEY) g;
ANALYZE $S.big, $S.mid, $S.anokey;"
note "$((ROWS_BIG + ROWS_MID + ROWS_NOKEY)) rows in $S.big, $S.mid, $S.anokey"

# A workload of small transactions: updates, deletes and inserts in every
# table it may touch (anokey has no replica identity: inserts only).
workload() {
    local seed=$1 n=$2 i
    RANDOM=$seed
    for i in $(seq 1 "$n"); do
        local a=$((RANDOM * 32768 + RANDOM)) b=$((RANDOM % ROWS_MID + 1))
        case $((i % 7)) in
        0) echo "UPDATE $S.big SET n = n + 1, t = t || 'u', ts = now() WHERE id = $((a % ROWS_BIG + 1));" ;;
        1) echo "DELETE FROM $S.big WHERE id = $((a % ROWS_BIG + 1));" ;;
        2) echo "INSERT INTO $S.big VALUES ($((seed * 100000 + ROWS_BIG + i)), $i, 'new', now(), $i.5, true);" ;;
        3) echo "UPDATE $S.mid SET v = NULL, w = w + 1 WHERE id = $b;" ;;
        4) echo "DELETE FROM $S.mid WHERE id = $b;" ;;
        5) echo "INSERT INTO $S.mid VALUES ($((seed * 100000 + ROWS_MID + i)), 'new', $i) ON CONFLICT DO NOTHING;" ;;
        6) echo "INSERT INTO $S.anokey VALUES ($((seed * 100000 + ROWS_NOKEY + i)), 'new');" ;;
        esac
        [ $((i % 20)) -eq 0 ] && echo "SELECT pg_sleep(0.01);"
    done
}

# dump TABLE FILE: the primary's rows as JSON lines, with "_key".
dump() {
    local cols
    case $1 in
    big) cols="id, n, t, ts, amt::text AS amt, b" ;;
    mid) cols="id, v, w" ;;
    anokey) cols="x, y" ;;
    esac
    psql_primary -c "SELECT row_to_json(r) FROM (SELECT json_build_object('id', $([ "$1" = anokey ] && echo x || echo id))::text AS _key, $cols FROM $S.$1) r" >"$2"
}

# check_tables PREFIX TAG "TABLES" [oracle flags]: every table's topic
# replayed by key equals the primary's table.
check_tables() {
    local prefix=$1 tag=$2 tables=$3 t flags
    shift 3
    for t in $tables; do
        flags=("$@")
        [ "$t" = anokey ] && flags+=(--keyless)
        "$TW_BIN" consume --set "kafka.bootstrap.servers=$TW_KAFKA_BOOTSTRAP" --set "topic.prefix=$prefix" \
            --topic "$prefix.$S.$t" --from-beginning --until-end >"$dir/$tag.$t.jsonl" 2>"$dir/$tag.consume.err" ||
            fail "tidewater consume $prefix.$S.$t failed: $(tail -3 "$dir/$tag.consume.err")"
        dump "$t" "$dir/$tag.$t.primary.jsonl"
        "$TW_PY" "$TW_SOURCE_DIR/tests/integration/snapshot_oracle.py" replay "$dir/$tag.$t.primary.jsonl" \
            "$dir/$tag.$t.jsonl" "${flags[@]}" >"$dir/$tag.$t.oracle" ||
            fail "$tag: topic $prefix.$S.$t replayed by key differs from the primary:
$(cat "$dir/$tag.$t.oracle")"
        note "$tag: $t: $(tr '\n' ' ' <"$dir/$tag.$t.oracle")"
    done
}

# wait_caught_up SLOT: the slot's flush position passes the primary's
# current position (every change so far is in Kafka).
wait_caught_up() {
    local lsn
    lsn=$(psql_primary -c "SELECT pg_current_wal_lsn()")
    wait_standby_replay
    psql_primary -c "SELECT pg_log_standby_snapshot()" >/dev/null
    wait_slot_flushed_past "$1" "$lsn" 120 || fail "slot $1 did not reach $lsn within 120 s:
$(tail -n 20 "$AGENT_LOG")"
}

# run_in_background LOG: `tidewater run "${args[@]}"` in the background
# (AGENT_PID), with the primary logging standby snapshots meanwhile so the
# slot can be created at once; kill9_agent ends both.
run_in_background() {
    (while sleep 0.3; do psql_primary -c "SELECT pg_log_standby_snapshot()" >/dev/null 2>&1; done) &
    ticker=$!
    "$TW_BIN" run "${args[@]}" >>"$1" 2>&1 &
    AGENT_PID=$!
    AGENT_LOG=$1
}
kill9_agent() {
    kill -9 "$AGENT_PID"
    wait "$AGENT_PID" 2>/dev/null || true
    AGENT_PID=""
    kill "$ticker" 2>/dev/null || true
    wait "$ticker" 2>/dev/null || true
    ticker=""
}

base=(--set "source.conninfo=$TW_PG_STANDBY_DSN" --set "source.publication=${S}_pub"
    --set "kafka.bootstrap.servers=$TW_KAFKA_BOOTSTRAP" --set status.interval.ms=500
    --set http.listen=127.0.0.1:0)

# ---- a. snapshot under a workload, SIGKILL in the middle, resume ----
PORT=$((20000 + RANDOM % 20000))
args=("${base[@]}" --set "slot.name=$SLOT" --set "topic.prefix=$PREFIX" --set snapshot.max.threads=4
    --set "http.listen=127.0.0.1:$PORT")
workload 1 6000 >"$dir/load1.sql"
psql_primary -f "$dir/load1.sql" >/dev/null &
load_pid=$!
log="$dir/agent.log"
run_in_background "$log"
# Killed once the first table (anokey) is complete and recorded, before the
# snapshot is complete.
for _ in $(seq 1 600); do
    grep -q 'msg="reading 3 table(s)' "$log" && break
    kill -0 "$AGENT_PID" 2>/dev/null || fail "the agent exited: $(tail -n 20 "$log")"
    sleep 0.05
done
grep -q 'msg="reading 3 table(s)' "$log" || fail "the snapshot did not start: $(tail -n 20 "$log")"
for _ in $(seq 1 200); do
    grep -q 'snapshot of .* acknowledged by Kafka: recorded' "$log" && break
    sleep 0.02
done
grep -q 'snapshot of .* acknowledged by Kafka: recorded' "$log" || fail "no table was recorded complete within 4 s: $(grep component=snapshot "$log" | tail -n 5)"
kill9_agent
grep -q 'msg="snapshot complete' "$log" && fail "the snapshot completed before the SIGKILL: the test proves nothing (make the tables bigger)"
sent=$("$TW_BIN" consume --set "kafka.bootstrap.servers=$TW_KAFKA_BOOTSTRAP" --set "topic.prefix=$PREFIX" \
    --topic "$PREFIX.$S.big" --from-beginning --until-end 2>/dev/null | wc -l)
note "SIGKILL during the snapshot ($sent messages in $PREFIX.$S.big so far)"
start_agent "$log" "${args[@]}"
grep -q 'msg="snapshot resumed: [1-9][0-9]* table(s) kept from the interrupted attempt' "$log" ||
    fail "the restarted agent did not say it resumes the interrupted snapshot: $(grep snapshot "$log" | tail -n 5)"
wait "$load_pid"
load_pid=""
workload 2 1400 >"$dir/load2.sql"
psql_primary -f "$dir/load2.sql" >/dev/null
wait_caught_up "$SLOT"
python3 -c "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$PORT/metrics').read().decode())" >"$dir/metrics.txt"
stop_agent
grep -q 'msg="snapshot complete' "$log" || fail "no 'snapshot complete' in the log"
if command -v promtool >/dev/null; then
    promtool check metrics <"$dir/metrics.txt" || fail "promtool check metrics rejects /metrics"
fi
for want in "tidewater_snapshot_running 0" "tidewater_snapshot_table_done{table=\"$S.big\"} 1"; do
    grep -qxF "$want" "$dir/metrics.txt" || fail "/metrics lacks '$want': $(grep snapshot "$dir/metrics.txt")"
done
# The planner's estimate (ANALYZE samples): near the real count, not equal.
est=$(sed -n "s/^tidewater_snapshot_rows_estimated{table=\"$S.big\"} //p" "$dir/metrics.txt")
[ "${est:-0}" -gt $((ROWS_BIG * 9 / 10)) ] && [ "$est" -lt $((ROWS_BIG * 11 / 10)) ] ||
    fail "tidewater_snapshot_rows_estimated of $S.big is '${est:-missing}', want about $ROWS_BIG"
rows=$(sed -n "s/^tidewater_snapshot_rows{table=\"$S.big\"} //p" "$dir/metrics.txt")
[ "${rows:-0}" -gt 0 ] || fail "tidewater_snapshot_rows of $S.big is '${rows:-missing}'"
r=$(sed -n "s/^tidewater_changes_total{table=\"$S.big\",op=\"r\"} //p" "$dir/metrics.txt")
[ "${r:-0}" -eq "$rows" ] || fail "tidewater_changes_total op=r of $S.big is '${r:-missing}', want $rows"
grep -q '^tidewater_snapshot_completed_timestamp_seconds [1-9]' "$dir/metrics.txt" ||
    fail "tidewater_snapshot_completed_timestamp_seconds not set"
note "metrics: $rows snapshot rows of $S.big in this run, table done, promtool accepts /metrics"
check_tables "$PREFIX" a "big mid anokey"
for mark in first true last_in_data_collection last; do
    grep -q "\"snapshot=$mark\"" "$dir"/a.*.oracle || fail "no snapshot row marked $mark: $(cat "$dir"/a.*.oracle)"
done
note "a. SIGKILL + resume under a workload: every table equals the primary"

# ---- b. initial_only: SIGTERM mid-snapshot; 1 and 4 threads, quiet tables ----
"$TW_BIN" run "${base[@]}" --set "slot.name=${SLOT}_t" --set "topic.prefix=${PREFIX}t" \
    --set snapshot.mode=initial_only --set snapshot.max.threads=2 >"$dir/term.log" 2>&1 &
term_pid=$!
for _ in $(seq 1 600); do
    grep -q 'msg="reading 3 table(s)' "$dir/term.log" && break
    sleep 0.05
done
sleep 0.3
kill -TERM "$term_pid"
rc=0
wait "$term_pid" || rc=$?
term_pid=""
grep -q 'msg="snapshot complete' "$dir/term.log" && fail "initial_only finished before the SIGTERM: the test proves nothing"
[ "$rc" -eq 1 ] || fail "initial_only stopped by SIGTERM exited $rc, want 1: $(tail -n 5 "$dir/term.log")"
grep -q 'initial_only stopped before the snapshot was complete' "$dir/term.log" ||
    fail "initial_only did not say it stopped incomplete: $(tail -n 5 "$dir/term.log")"
note "b. initial_only + SIGTERM mid-snapshot: exit 1, says the snapshot is incomplete"
psql_primary -c "CREATE PUBLICATION ${S}_small FOR TABLE $S.mid, $S.anokey" >/dev/null
wait_standby_replay
for th in 1 4; do
    rc=0
    "$TW_BIN" run "${base[@]}" --set "source.publication=${S}_small" --set "slot.name=${SLOT}_o$th" --set "topic.prefix=${PREFIX}o$th" \
        --set snapshot.mode=initial_only --set "snapshot.max.threads=$th" >"$dir/only$th.log" 2>&1 || rc=$?
    [ "$rc" -eq 0 ] || fail "initial_only with $th thread(s) exited $rc: $(tail -n 5 "$dir/only$th.log")"
    grep -q 'snapshot.mode=initial_only: .* rows published; no slot was created; exiting' "$dir/only$th.log" ||
        fail "initial_only did not report its end: $(tail -n 5 "$dir/only$th.log")"
    [ -z "$(psql_standby -c "SELECT 1 FROM pg_replication_slots WHERE slot_name = '${SLOT}_o$th'")" ] ||
        fail "initial_only created slot ${SLOT}_o$th"
    check_tables "${PREFIX}o$th" "o$th" "mid anokey" --only-r
done
grep -q "in 2 range(s) with 1 session(s)" "$dir/only1.log" || fail "1 thread did not read each table whole with 1 session: $(grep reading "$dir/only1.log")"
grep -q "with 4 session(s)" "$dir/only4.log" || fail "4 threads did not read with 4 sessions: $(grep reading "$dir/only4.log")"
grep -q "in 2 range(s)" "$dir/only4.log" && fail "4 threads did not split mid into block ranges: $(grep reading "$dir/only4.log")"
for t in mid anokey; do
    "$TW_PY" "$TW_SOURCE_DIR/tests/integration/snapshot_oracle.py" same "$dir/o1.$t.jsonl" "$dir/o4.$t.jsonl" >"$dir/same.$t" ||
        fail "1 and 4 threads published different rows for $t: $(cat "$dir/same.$t")"
done
note "b. initial_only: exit 0, no slot; 1 thread and 4 threads publish the same rows ($(grep -h 'reading' "$dir"/only*.log | sed 's/.*msg="//; s/"$//' | tr '\n' ';'))"

# ---- c. never ----
start_agent "$dir/never.log" "${base[@]}" --set "slot.name=${SLOT}_n" --set "topic.prefix=${PREFIX}n" --set snapshot.mode=never
psql_primary -c "INSERT INTO $S.mid VALUES (999999999, 'after never', 1)" >/dev/null
wait_caught_up "${SLOT}_n"
stop_agent
"$TW_BIN" consume --set "kafka.bootstrap.servers=$TW_KAFKA_BOOTSTRAP" --set "topic.prefix=${PREFIX}n" \
    --topic "${PREFIX}n.$S.mid" --from-beginning --until-end >"$dir/never.jsonl" 2>/dev/null
ops=$("$TW_PY" -c 'import json,sys; print(" ".join(json.loads(l)["value"]["op"] for l in open(sys.argv[1])))' "$dir/never.jsonl")
[ "$ops" = "c" ] || fail "snapshot.mode=never published [$ops], want only the insert [c]"
grep -q 'component=snapshot' "$dir/never.log" && fail "snapshot.mode=never logged snapshot work: $(grep component=snapshot "$dir/never.log")"
note "c. never: only the streamed insert, no op=r"

# ---- d. SIGKILL before any table is recorded: start over ----
psql_primary -c "CREATE PUBLICATION ${S}_d FOR TABLE $S.big" >/dev/null
wait_standby_replay
args=("${base[@]}" --set "source.publication=${S}_d" --set "slot.name=${SLOT}_d"
    --set "topic.prefix=${PREFIX}d" --set snapshot.max.threads=1)
log="$dir/d.log"
run_in_background "$log"
for _ in $(seq 1 600); do
    grep -q 'msg="reading 1 table(s)' "$log" && break
    sleep 0.02
done
kill9_agent
grep -q 'acknowledged by Kafka: recorded' "$log" && fail "big was recorded before the SIGKILL: the test proves nothing"
psql_primary -c "ALTER PUBLICATION ${S}_d ADD TABLE $S.mid" >/dev/null
wait_standby_replay
start_agent "$log" "${args[@]}"
stop_agent
grep -q "cannot resume the interrupted snapshot: table $S.mid was not in the interrupted snapshot" "$log" ||
    fail "no reason given for not resuming: $(grep component=snapshot "$log" | tail -n 5)"
grep -q "taking the snapshot again from the start: dropping slot '${SLOT}_d'" "$log" ||
    fail "the snapshot was not taken again: $(grep component=snapshot "$log" | tail -n 5)"
[ "$(grep -c 'msg="snapshot complete' "$log")" -eq 1 ] || fail "want exactly one complete snapshot in d"
note "d. SIGKILL before any table was recorded: own slot dropped, snapshot taken again"
note OK
