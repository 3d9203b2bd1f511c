#!/usr/bin/env bash
# Types round-trip: a table with a column of every mapped type (DESIGN.md,
# "Type mapping"), rows with edge values -- NULLs, empty strings, unicode, a
# 1 MiB text, bytea with zero bytes, a 30-digit negative numeric, NaN in a
# decimal column (sent as null), dates and timestamps at +-infinity and
# before 1970 and BC, NaN and +-Infinity floats, empty and multi-dimensional
# arrays, json with unicode. Kafka's messages, decoded with fastavro, are
# compared value by value with what PostgreSQL reports for the same rows.
# TW_TARGET=primary runs it against the primary (primary mode).
# TW_REGISTRY=1 runs it with the test environment's Schema Registry: the
# messages are then in Confluent's wire format and are read with
# confluent-kafka's own AvroDeserializer (tw_consume_registry.py), keys and
# values, and with `tidewater consume`.
# TW_SNAPSHOT=1 inserts the rows before the agent starts: they are read by
# the initial snapshot (COPY, 2 threads) and must arrive as op=r envelopes
# with exactly the values the stream would carry.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_services
use_target

ID="$$_$RANDOM"
PREFIX="ty$ID"
SLOT="tw_ty_$ID"
S="tw_ty_$ID"
dir=$(mktemp -d)
cleanup() {
    drop_test_objects "$S" "$SLOT"
    rm -rf "$dir"
}
trap cleanup EXIT

create_test_schema "$S" "
CREATE EXTENSION IF NOT EXISTS citext;
CREATE TYPE $S.mood AS ENUM ('sad', 'happy');
CREATE TYPE $S.pair AS (a int, b text);
CREATE DOMAIN $S.posint AS int CHECK (VALUE > 0);
CREATE TABLE $S.t (
    id int PRIMARY KEY,
    c_bool bool, c_int2 int2, c_int4 int4, c_int8 int8, c_oid oid,
    c_float4 float4, c_float8 float8,
    c_num numeric(30,5), c_num_free numeric, c_money money,
    c_text text, c_varchar varchar(20), c_bpchar char(5), c_name name, c_xml xml, c_citext citext,
    c_bytea bytea, c_uuid uuid, c_json json, c_jsonb jsonb,
    c_date date, c_time time, c_ts timestamp, c_tstz timestamptz,
    c_timetz timetz, c_interval interval, c_inet inet, c_cidr cidr, c_macaddr macaddr,
    c_bit bit(4), c_varbit varbit, c_enum $S.mood, c_range int4range, c_point point,
    c_tsvector tsvector, c_comp $S.pair, c_dom $S.posint,
    c_int_arr int[], c_text_arr text[], c_num_arr numeric(6,2)[], c_float_arr float8[],
    c_dom_arr $S.posint[]
);"
REG=()
if [ "${TW_REGISTRY:-0}" = 1 ]; then
    [ -n "${TW_SCHEMA_REGISTRY_URL:-}" ] || fail "the test environment has no schema registry (TW_SCHEMA_REGISTRY_URL)"
    printf '%s\n' "$TW_SCHEMA_REGISTRY_USER_INFO" >"$dir/registry-user-info"
    REG=(--set "schema.registry.url=$TW_SCHEMA_REGISTRY_URL"
        --set "schema.registry.basic.auth.user.info_file=$dir/registry-user-info")
    TARGET="$TARGET+registry"
    # Decoded the way a data team using Confluent's deserializer reads them.
    consume() {
        TW_SCHEMA_REGISTRY_USER_INFO="$TW_SCHEMA_REGISTRY_USER_INFO" "$TW_PY" \
            "$TW_SOURCE_DIR/tests/integration/tw_consume_registry.py" "$TW_KAFKA_BOOTSTRAP" \
            "$TW_SCHEMA_REGISTRY_URL" "$2" "${@:3}"
    }
fi
insert_rows() {
psql_primary <<SQL >/dev/null
INSERT INTO $S.t (id) VALUES (1);
INSERT INTO $S.t VALUES (2,
    true, 1, 2, 3, 4, 1.5, 2.25, 12345.6789, 3.14159, 12.34,
    'hello', 'var', 'ab', 'nm', '<a>1</a>', 'MiXeD',
    '\\x00010203', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2]}', '{"b": 1}',
    '2024-02-29', '13:45:30.123456', '2024-02-29 13:45:30.123456', '2024-02-29 13:45:30.123456+00',
    '10:00:00+05:30', '1 year 2 mons 3 days 04:05:06', '192.168.1.1/24', '10.0.0.0/8',
    '08:00:2b:01:02:03', B'1010', B'101', 'happy', '[1,10)', '(1,2)', 'a fat cat', ROW(1, 'x'), 5,
    '{1,2,3}', '{"a","b c"}', '{1.50,NULL,-2.25}', '{1.5,NaN}', '{7,NULL,9}');
INSERT INTO $S.t VALUES (3,
    false, -32768, -2147483648, -9223372036854775808, 4294967295, 'NaN', '-Infinity',
    -1234567890123456789012345.12345, '-Infinity', '-92233720368547758.08',
    '', '', '', '', '', '',
    '\\x0000ff00', '00000000-0000-0000-0000-000000000000', '{"k": "ünïcødé ✓ 😀"}', '{"k": "日本語"}',
    'infinity', '24:00:00', '-infinity', 'infinity',
    '00:00:00-08', '-1 days +02:03:04', '::1', '2001:db8::/32', '00:00:00:00:00:00',
    B'0000', B'', 'sad', 'empty', '(-1.5,0)', '', ROW(NULL, ''), 1,
    '{}', '{NULL,"NULL","a,b","c\\"d"}', '{}', '{Infinity,-Infinity}', '{}');
INSERT INTO $S.t VALUES (4,
    NULL, 32767, 2147483647, 9223372036854775807, 0, 'Infinity', 'NaN',
    'NaN', 'NaN', '92233720368547758.07',
    repeat('0123456789abcdef', 65536), 'héllo wörld ✓', 'é', 'ñame', '<b/>', 'ÅÄÖ',
    '\\x', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '[]', '[]',
    '0044-03-15 BC', '00:00:00', '1969-12-31 23:59:59.999999', '1900-01-01 00:00:00+00',
    NULL, '0', NULL, NULL, NULL, NULL, NULL, NULL, '(,)', NULL, NULL, NULL, NULL,
    '{{1,2},{3,4}}', '{{"a","b"},{"c",NULL}}', '{{1.00},{-0.01}}', '{}', NULL);
INSERT INTO $S.t (id, c_num, c_date, c_ts, c_tstz, c_text) VALUES
    (5, 99999999999999999999999.99999, '1970-01-01', '1970-01-01 00:00:00', '2262-04-11 23:47:16.854775+00',
     'line1' || chr(10) || 'tab' || chr(9) || 'quote"back\\slash');
SQL
}
if [ "${TW_SNAPSHOT:-0}" = 1 ]; then
    # The rows exist before the agent starts: they arrive as snapshot rows
    # (op r, read with COPY), which must encode exactly as streamed ones.
    insert_rows
    wait_standby_replay
    SNAP=(--set snapshot.max.threads=2)
    export TW_WANT_OP=r
    start_agent "$dir/agent.log" --set "source.conninfo=$DSN" --set "source.publication=${S}_pub" \
        --set "kafka.bootstrap.servers=$TW_KAFKA_BOOTSTRAP" --set "slot.name=$SLOT" \
        --set "topic.prefix=$PREFIX" --set kafka.message.max.bytes=5000000 ${REG[@]+"${REG[@]}"} "${SNAP[@]}"
else
    start_agent "$dir/agent.log" --set "source.conninfo=$DSN" --set "source.publication=${S}_pub" \
        --set "kafka.bootstrap.servers=$TW_KAFKA_BOOTSTRAP" --set "slot.name=$SLOT" \
        --set "topic.prefix=$PREFIX" --set kafka.message.max.bytes=5000000 ${REG[@]+"${REG[@]}"}
    insert_rows
fi
wait_messages "$PREFIX" "$PREFIX.$S.t" 5
stop_agent
if grep -q 'level=error' "$dir/agent.log"; then
    fail "the agent logged errors: $(grep 'level=error' "$dir/agent.log")"
fi
grep -q 'numeric NaN/Infinity value(s) sent as null' "$dir/agent.log" ||
    fail "the NaN in a numeric(30,5) column was not reported in the log"
consume "$PREFIX" "$PREFIX.$S.t" --timeout 30 >"$dir/kafka.jsonl"
# The product's own reader, checked against fastavro below.
"$TW_BIN" consume --topic "$PREFIX.$S.t" --from-beginning --until-end \
    --set "kafka.bootstrap.servers=$TW_KAFKA_BOOTSTRAP" --set "topic.prefix=$PREFIX" \
    ${REG[@]+"${REG[@]}"} \
    >"$dir/consume.jsonl" 2>"$dir/consume.err" || fail "tidewater consume failed: $(cat "$dir/consume.err")"
if [ "${TW_REGISTRY:-0}" = 1 ]; then
    # Every key and value is Confluent-framed, with the id the registry has
    # under the topic's subjects.
    "$TW_PY" - "$dir/kafka.jsonl" "$TW_SCHEMA_REGISTRY_URL" "$PREFIX.$S.t" <<'PY' || fail "schema ids (above)"
import base64, json, os, sys, urllib.request
rows = [json.loads(l) for l in open(sys.argv[1])]
url, topic = sys.argv[2], sys.argv[3]
auth = base64.b64encode(os.environ["TW_SCHEMA_REGISTRY_USER_INFO"].encode()).decode()
def get(path):
    req = urllib.request.Request(url + path, headers={"Authorization": "Basic " + auth})
    return json.load(urllib.request.urlopen(req))
want = {f: get(f"/subjects/{topic}-{f}/versions/latest")["id"] for f in ("key", "value")}
got = {(r["key_id"], r["value_id"]) for r in rows}
if len(rows) != 5 or got != {(want["key"], want["value"])}:
    print(f"  {len(rows)} messages with (key id, value id) {got}; the registry has {want}")
    sys.exit(1)
PY
fi

# What PostgreSQL says, in the representation each Avro type has.
inf_or() { echo "CASE WHEN $1 = 'infinity' THEN $2 WHEN $1 = '-infinity' THEN $3 ELSE $4 END"; }
us() { echo "(extract(epoch FROM $1) * 1000000)::bigint"; }
# The type's output function, as the server sends it (::text differs for inet).
txt() { echo "CASE WHEN $1 IS NULL THEN NULL ELSE format('%s', $1) END"; }
arr() { echo "CASE WHEN $1 IS NULL THEN NULL ELSE to_json(ARRAY(SELECT $2 FROM unnest($1) u)) END"; }
PGOPTIONS="-c extra_float_digits=3 -c DateStyle=ISO,MDY -c TimeZone=UTC -c IntervalStyle=postgres -c bytea_output=hex" \
    psql_primary >"$dir/expected.jsonl" <<SQL
SELECT json_build_object(
  'id', id, 'c_bool', c_bool, 'c_int2', c_int2, 'c_int4', c_int4, 'c_int8', c_int8,
  'c_oid', c_oid::bigint, 'c_float4', to_json(c_float4::float8), 'c_float8', to_json(c_float8),
  'c_num', CASE WHEN c_num = 'NaN' THEN NULL ELSE c_num::text END,
  'c_num_free', c_num_free::text, 'c_money', c_money::numeric::text,
  'c_text', to_json(c_text), 'c_varchar', to_json(c_varchar), 'c_bpchar', to_json(c_bpchar),
  'c_name', to_json(c_name), 'c_xml', $(txt c_xml), 'c_citext', $(txt c_citext),
  'c_bytea', encode(c_bytea, 'hex'), 'c_uuid', $(txt c_uuid), 'c_json', $(txt c_json),
  'c_jsonb', $(txt c_jsonb),
  'c_date', $(inf_or c_date 2147483647 -2147483648 "c_date - '1970-01-01'::date"),
  'c_time', $(us c_time),
  'c_ts', $(inf_or c_ts 9223372036854775807 -9223372036854775808 "$(us c_ts)"),
  'c_tstz', $(inf_or c_tstz 9223372036854775807 -9223372036854775808 "$(us c_tstz)"),
  'c_timetz', $(txt c_timetz), 'c_interval', $(txt c_interval), 'c_inet', $(txt c_inet),
  'c_cidr', $(txt c_cidr), 'c_macaddr', $(txt c_macaddr), 'c_bit', $(txt c_bit),
  'c_varbit', $(txt c_varbit), 'c_enum', $(txt c_enum), 'c_range', $(txt c_range),
  'c_point', $(txt c_point), 'c_tsvector', $(txt c_tsvector), 'c_comp', $(txt c_comp),
  'c_dom', c_dom,
  'c_int_arr', $(arr c_int_arr u), 'c_text_arr', $(arr c_text_arr u),
  'c_num_arr', $(arr c_num_arr u::text), 'c_float_arr', $(arr c_float_arr u),
  'c_dom_arr', $(arr c_dom_arr u))
FROM $S.t ORDER BY id
SQL
cat >"$dir/kinds.json" <<'JSON'
{"id": "exact", "c_bool": "exact", "c_int2": "exact", "c_int4": "exact", "c_int8": "exact",
 "c_oid": "exact", "c_float4": "float", "c_float8": "float", "c_num": "decimal",
 "c_num_free": "exact", "c_money": "decimal", "c_text": "exact", "c_varchar": "exact",
 "c_bpchar": "exact", "c_name": "exact", "c_xml": "exact", "c_citext": "exact",
 "c_bytea": "exact", "c_uuid": "exact", "c_json": "exact", "c_jsonb": "exact",
 "c_date": "exact", "c_time": "exact", "c_ts": "exact", "c_tstz": "exact",
 "c_timetz": "exact", "c_interval": "exact", "c_inet": "exact", "c_cidr": "exact",
 "c_macaddr": "exact", "c_bit": "exact", "c_varbit": "exact", "c_enum": "exact",
 "c_range": "exact", "c_point": "exact", "c_tsvector": "exact", "c_comp": "exact",
 "c_dom": "exact", "c_int_arr": "exact", "c_text_arr": "exact",
 "c_num_arr": "array_decimal", "c_float_arr": "array_float", "c_dom_arr": "exact"}
JSON
"$TW_PY" "$TW_SOURCE_DIR/tests/integration/types_compare.py" "$dir/expected.jsonl" \
    "$dir/kafka.jsonl" "$dir/kinds.json" "$dir/consume.jsonl" ||
    fail "Kafka values differ from PostgreSQL's (above)"
note "$TARGET: every mapped type round-trips"
