#!/usr/bin/env bash
# schema.store=dir: the store is the file state.dir/schema-store.json (no
# table records in Kafka); it survives a restart, so DDL made while the
# agent was stopped is reported at startup; `schemas list` reads it.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_services
use_target

ID="$$_$RANDOM"
PREFIX="sdir$ID"
SLOT="tw_sdir_$ID"
S="tw_sdir_$ID"
dir=$(mktemp -d)
cleanup() {
    drop_test_objects "$S" "$SLOT"
    rm -rf "$dir"
}
trap cleanup EXIT
mkdir "$dir/state"

create_test_schema "$S" "CREATE TABLE $S.t (id int PRIMARY KEY);"
ARGS=(--set "source.conninfo=$DSN" --set "source.publication=${S}_pub"
    --set "kafka.bootstrap.servers=$TW_KAFKA_BOOTSTRAP" --set "slot.name=$SLOT"
    --set "topic.prefix=$PREFIX" --set "http.listen=" --set "schema.store=dir"
    --set "state.dir=$dir/state")
rc=0
"$TW_BIN" run "${ARGS[@]}" --set "state.dir=$dir/missing" >"$dir/bad.log" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "state.dir '$dir/missing' is not a writable directory" "$dir/bad.log" ||
    fail "a missing state.dir (exit $rc): $(tail -n 3 "$dir/bad.log")"

start_agent "$dir/agent.log" "${ARGS[@]}"
stop_agent
"$TW_PY" - "$dir/state/schema-store.json" "$S" <<'PY' || fail "the store file is not as documented"
import json, sys
d = json.load(open(sys.argv[1]))
key = f'table:"{sys.argv[2]}"."t"'
assert d["meta"]["store_version"] == 1, d.get("meta")
assert key in d["tables"], list(d["tables"])
assert len(d["tables"][key]["fingerprint"]) == 64
PY
fp1=$("$TW_BIN" schemas list "${ARGS[@]}" | awk -v t="$S.t" '$1 == t {print $2}')
[ ${#fp1} = 64 ] || fail "schemas list does not show $S.t"

psql_primary -c "ALTER TABLE $S.t ADD COLUMN c int" >/dev/null
wait_standby_replay
start_agent "$dir/agent.log" "${ARGS[@]}"
wait_messages "$PREFIX" "$PREFIX.schema_changes" 1
stop_agent
consume "$PREFIX" "$PREFIX.schema_changes" | "$TW_PY" -c '
import json, sys
v = json.loads(sys.stdin.readline())["value"]
assert (v["detected_by"], v["changes"][0]["change"], v["old_fingerprint"]) == ("startup", "added", sys.argv[1]), v
' "$fp1" || fail "the startup event does not report the change against the stored fingerprint"
fp2=$("$TW_BIN" schemas list "${ARGS[@]}" | awk -v t="$S.t" '$1 == t {print $2}')
[ ${#fp2} = 64 ] && [ "$fp2" != "$fp1" ] || fail "the store did not move to the new fingerprint"
PYTHONPATH="$TW_SOURCE_DIR/tests/integration" "$TW_PY" - "$TW_KAFKA_BOOTSTRAP" "$PREFIX.schemas" <<'PY' ||
import sys
from tw_consume import read_all
keys = [m.key().decode() for m in read_all(sys.argv[1], sys.argv[2], 20)]
bad = [k for k in keys if k.startswith("table:") or k == "meta"]
assert keys and not bad, f"store records in Kafka with schema.store=dir: {bad}"
PY
    fail "the schemas topic holds store records although schema.store=dir"
note "dir store: file layout, restart, startup event against the stored fingerprint, schemas list"
