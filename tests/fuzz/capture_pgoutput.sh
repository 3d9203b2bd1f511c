#!/usr/bin/env bash
# Capture genuine pgoutput messages from the test environment's primary, for
# tests/fuzz/corpus/pgoutput (unit-test data and fuzz seeds).
#
#   tests/fuzz/capture_pgoutput.sh OUTDIR
#
# Needs a running environment (tests/env/up.sh), psql and xxd. In one superuser session it
# creates schema tw_capture, publication tw_capture_pub and a temporary
# pgoutput slot, runs a fixed workload, then peeks the slot's changes with
# several option sets (peeking does not consume, so every set sees the same
# WAL) and writes every message to OUTDIR/<set>-<NNNN>-<type>.bin, with
# OUTDIR/<set>.csv listing lsn, xid and hex. Everything it created is
# dropped at the end. Which messages go into the corpus, under which names,
# and what the MANIFEST says about them is a person's choice.
#
# Sets: text   proto 4, streaming on (large transactions streamed)
#       binary the same with binary 'true'
#       para   streaming 'parallel' (Stream Abort carries abort lsn/time)
#       v1     proto 1, no streaming
#
# The large transactions are streamed because the peeks run with
# logical_decoding_work_mem = 64kB (decoding happens in this backend).
set -euo pipefail

out=${1:?usage: capture_pgoutput.sh OUTDIR}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=/dev/null
. "$root/tests/env/state/env.sh"
mkdir -p "$out"
out=$(cd "$out" && pwd)

cleanup_sql="
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'tw_capture_slot';
DROP PUBLICATION IF EXISTS tw_capture_pub;
DROP SCHEMA IF EXISTS tw_capture CASCADE;
SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname = 'tw_capture_origin';
"
# Also on failure: the temporary slot goes with the session, the rest not.
cleanup() { psql -X -q "$TW_PG_SUPERUSER_DSN" <<<"$cleanup_sql" >/dev/null 2>&1 || true; }
trap cleanup EXIT

peek() { # set-name extra-options...
    local name=$1 opts=$2
    cat <<EOF
\\copy (SELECT lsn, xid, encode(data, 'hex') FROM pg_logical_slot_peek_binary_changes('tw_capture_slot', NULL, NULL, 'publication_names', 'tw_capture_pub', 'messages', 'true', $opts)) TO '$out/$name.csv' WITH (FORMAT csv)
EOF
}

{
    echo '\set ON_ERROR_STOP on'
    echo "$cleanup_sql"
    cat <<'EOF'
CREATE SCHEMA tw_capture;
CREATE TYPE tw_capture.mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE tw_capture.items (
    id int PRIMARY KEY, name text, qty int, price numeric(10,2),
    mood tw_capture.mood, note text, payload bytea, ts timestamptz);
-- EXTERNAL: stored out of line uncompressed, so a 10 kB value is TOASTed
ALTER TABLE tw_capture.items ALTER COLUMN note SET STORAGE EXTERNAL;
CREATE TABLE tw_capture.full_rows (id int PRIMARY KEY, v text);
ALTER TABLE tw_capture.full_rows REPLICA IDENTITY FULL;
CREATE TABLE tw_capture.other (k text PRIMARY KEY, n bigserial);
CREATE TABLE tw_capture.big (id int PRIMARY KEY, mood tw_capture.mood, filler text);
CREATE PUBLICATION tw_capture_pub FOR TABLES IN SCHEMA tw_capture;
SELECT 'slot', lsn FROM pg_create_logical_replication_slot('tw_capture_slot', 'pgoutput', true);

-- plain inserts: all kinds of values, NULLs, an empty string, a TOASTed text
INSERT INTO tw_capture.items VALUES
    (1, 'apple', 3, 1.50, 'happy', 'short note', '\x00ff10', '2024-01-02 03:04:05.123456+00');
INSERT INTO tw_capture.items (id, name) VALUES (2, 'nulls');
INSERT INTO tw_capture.items (id, name, qty, note) VALUES (3, '', 0, repeat('x', 10000));
-- default identity, key unchanged: no old tuple
UPDATE tw_capture.items SET qty = 4 WHERE id = 1;
-- the TOASTed note is not updated: sent as unchanged
UPDATE tw_capture.items SET qty = 7 WHERE id = 3;
-- key change: old key tuple
UPDATE tw_capture.items SET id = 10 WHERE id = 2;
-- REPLICA IDENTITY FULL: whole old row on update and delete
INSERT INTO tw_capture.full_rows VALUES (1, 'a');
UPDATE tw_capture.full_rows SET v = 'b' WHERE id = 1;
DELETE FROM tw_capture.full_rows WHERE id = 1;
DELETE FROM tw_capture.items WHERE id = 1;
-- one transaction, two tables
BEGIN;
INSERT INTO tw_capture.items (id, name, mood) VALUES (20, 'two tables', 'ok');
INSERT INTO tw_capture.other (k) VALUES ('k1');
COMMIT;
SELECT pg_logical_emit_message(true, 'tw_capture', 'transactional hello');
SELECT pg_logical_emit_message(false, 'tw_capture', 'non-transactional hello');
SELECT pg_logical_emit_message(false, 'tw_capture', '');
TRUNCATE tw_capture.other, tw_capture.full_rows RESTART IDENTITY CASCADE;
-- a transaction with a replication origin
SELECT pg_replication_origin_create('tw_capture_origin');
SELECT pg_replication_origin_session_setup('tw_capture_origin');
BEGIN;
SELECT pg_replication_origin_xact_setup('0/12345678', '2024-05-06 07:08:09+00');
INSERT INTO tw_capture.other (k) VALUES ('from origin');
COMMIT;
SELECT pg_replication_origin_session_reset();
-- large transactions: streamed when they outgrow logical_decoding_work_mem
BEGIN;
INSERT INTO tw_capture.big SELECT g, 'sad', repeat('y', 200) FROM generate_series(1, 2000) g;
SAVEPOINT s1;
INSERT INTO tw_capture.big SELECT g, 'ok', repeat('z', 200) FROM generate_series(5001, 6000) g;
ROLLBACK TO SAVEPOINT s1;
UPDATE tw_capture.items SET id = 21 WHERE id = 20;
DELETE FROM tw_capture.items WHERE id = 3;
SELECT pg_logical_emit_message(true, 'tw_capture', 'inside a streamed transaction');
TRUNCATE tw_capture.other;
INSERT INTO tw_capture.big SELECT g, 'happy', repeat('w', 200) FROM generate_series(2001, 2500) g;
COMMIT;
BEGIN;
INSERT INTO tw_capture.big SELECT g, 'ok', repeat('v', 200) FROM generate_series(10001, 12000) g;
ROLLBACK;
-- a synchronous commit flushes the WAL past the abort, so every peek below
-- decodes the same WAL
INSERT INTO tw_capture.other (k) VALUES ('end');
SET logical_decoding_work_mem = '64kB';
EOF
    peek text "'proto_version', '4', 'streaming', 'on'"
    peek binary "'proto_version', '4', 'streaming', 'on', 'binary', 'true'"
    peek para "'proto_version', '4', 'streaming', 'parallel'"
    peek v1 "'proto_version', '1'"
    echo "$cleanup_sql"
} | psql -X -q "$TW_PG_SUPERUSER_DSN" >"$out/psql.log"

for csv in "$out"/*.csv; do
    set_name=$(basename "$csv" .csv)
    n=0
    while IFS=, read -r _lsn _xid hex; do
        n=$((n + 1))
        type=$(printf '%s' "${hex:0:2}" | xxd -r -p)
        printf '%s' "$hex" | xxd -r -p >"$out/$(printf '%s-%04d-%s.bin' "$set_name" "$n" "$type")"
    done <"$csv"
    echo "$set_name: $n messages"
done
