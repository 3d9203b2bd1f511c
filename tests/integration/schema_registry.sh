#!/usr/bin/env bash
# The agent against the test environment's real Schema Registry (Apicurio,
# Confluent-compatible API, basic auth, BACKWARD by default):
#   1. registry stopped mid-stream while a DDL needs a new schema: publishing
#      waits (/readyz says why), nothing is lost, and when the registry is
#      back every message carries the id the registry has for the exact
#      schema it was written with;
#   2. a change the registry refuses (HTTP 409) under BACKWARD while the
#      agent's own rule (FORWARD) lets it through: fail exits non-zero with a
#      clear log, every start fails the same way; pause waits until the
#      subject's compatibility is relaxed, then delivers every row once;
#   3. wrong credentials: a clear error naming the registry URL, never the
#      secret, from `tidewater run` and `tidewater check`;
#   4. HTTPS verified against the environment's CA; another CA is refused.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_services
use_target
[ -n "${TW_SCHEMA_REGISTRY_URL:-}" ] || fail "the test environment has no schema registry (run tests/env/up.sh)"

ID="$$_$RANDOM"
PREFIX="sr$ID"
SLOT="tw_sr_$ID"
S="tw_sr_$ID"
PORT=$((20000 + RANDOM % 20000))
dir=$(mktemp -d)
writer=""
cleanup() {
    # The writer would otherwise outlive a failed test (and hold ctest's pipe).
    touch "$dir/stop-writer"
    [ -z "$writer" ] || kill "$writer" 2>/dev/null || true
    drop_test_objects "$S" "$SLOT"
    # The registry must be up for the tests that follow, whatever happened.
    bash "$TW_SOURCE_DIR/tests/env/ctl.sh" start registry >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT

REG="$TW_SCHEMA_REGISTRY_URL"
export TW_SCHEMA_REGISTRY_USER_INFO
printf '%s\n' "$TW_SCHEMA_REGISTRY_USER_INFO" >"$dir/user-info"
create_test_schema "$S" "CREATE TABLE $S.t (id int PRIMARY KEY, a int);"
ARGS=(--set "source.conninfo=$DSN" --set "source.publication=${S}_pub"
    --set "kafka.bootstrap.servers=$TW_KAFKA_BOOTSTRAP" --set "slot.name=$SLOT"
    --set "topic.prefix=$PREFIX" --set "http.listen=127.0.0.1:$PORT"
    --set "schema.check.interval.ms=0" --set "status.interval.ms=500"
    --set "schema.registry.url=$REG" --set "schema.registry.basic.auth.user.info_file=$dir/user-info"
    --set "schema.registry.timeout.ms=2000")
URL="http://127.0.0.1:$PORT"
TOPIC="$PREFIX.$S.t"

rconsume() { "$TW_PY" "$TW_SOURCE_DIR/tests/integration/tw_consume_registry.py" "$TW_KAFKA_BOOTSTRAP" "$REG" "$@"; }
count() { rconsume "$1" 2>/dev/null | wc -l; }
wait_count() { # TOPIC N SECONDS
    local n=0
    for _ in $(seq 1 $(($3 * 2))); do
        n=$(count "$1") || n=0
        [ "$n" -ge "$2" ] && return 0
        sleep 0.5
    done
    fail "topic $1 has $n messages after $3 s, want $2"
}
readyz() { curl -s -o "$dir/readyz.txt" -w '%{http_code}' "$URL/readyz"; }
registry() { curl -s -u "$TW_SCHEMA_REGISTRY_USER_INFO" -H 'Content-Type: application/json' "$@"; }

# ---- 1. registry restart mid-stream ----
start_agent "$dir/agent1.log" "${ARGS[@]}" --set "schema.on_breaking_change=fail"
# A writer that never stops during the outage: one row every 50 ms.
(
    i=1
    while [ ! -f "$dir/stop-writer" ]; do
        psql_primary -c "INSERT INTO $S.t (id, a) VALUES ($i, $i)" >/dev/null 2>&1 && i=$((i + 1))
        sleep 0.05
    done
    echo $((i - 1)) >"$dir/writer.count"
) &
writer=$!
wait_count "$TOPIC" 5 60
bash "$TW_SOURCE_DIR/tests/env/ctl.sh" stop registry >/dev/null
# A new column: a new value schema that only the stopped registry can number.
psql_primary -c "ALTER TABLE $S.t ADD COLUMN b text" >/dev/null
for _ in $(seq 1 60); do [ "$(readyz)" = 503 ] && break; sleep 0.5; done
[ "$(readyz)" = 503 ] && grep -q "waiting for the schema registry" "$dir/readyz.txt" ||
    fail "/readyz while the registry is down: $(cat "$dir/readyz.txt")"
# (Into a file first: grep -q quitting early would fail curl under pipefail.)
curl -s "$URL/metrics" >"$dir/metrics.txt"
grep -q '^tidewater_schema_registry_waiting 1' "$dir/metrics.txt" ||
    fail "tidewater_schema_registry_waiting is not 1 while the registry is down"
grep -q 'publishing waits for the registry' "$AGENT_LOG" || fail "no log line says publishing waits for the registry"
sleep 3
bash "$TW_SOURCE_DIR/tests/env/ctl.sh" start registry >/dev/null
touch "$dir/stop-writer"
wait "$writer"
rows=$(cat "$dir/writer.count")
psql_primary -c "UPDATE $S.t SET b = 'x' || id WHERE id % 3 = 0" \
    -c "DELETE FROM $S.t WHERE id % 7 = 0" >/dev/null
wait_standby_replay
for _ in $(seq 1 60); do [ "$(readyz)" = 200 ] && break; sleep 0.5; done
[ "$(readyz)" = 200 ] || fail "/readyz after the registry came back: $(cat "$dir/readyz.txt")"
grep -q 'publishing resumes' "$AGENT_LOG" || fail "no log line says publishing resumed"
# inserts, updates, deletes + their tombstones
want=$((rows + rows / 3 + 2 * (rows / 7)))
wait_count "$TOPIC" "$want" 120
stop_agent
rconsume "$TOPIC" >"$dir/rows.jsonl"
psql_primary -c "SELECT json_build_object('id', id, 'a', a, 'b', b) FROM $S.t ORDER BY id" >"$dir/expected.jsonl"
# The writer's schema of each message is the exact JSON its
# tidewater.schema.value header names in <prefix>.schemas; the registry's
# schema under the message's id must be that same schema.
"$TW_PY" - "$dir" "$REG" "$TW_KAFKA_BOOTSTRAP" "$PREFIX" "$want" "$TW_SOURCE_DIR" <<'PY' || fail "registry restart: see above"
import base64, json, os, sys, urllib.request
d, reg, bootstrap, prefix, want, src = sys.argv[1:7]
want = int(want)
sys.path.insert(0, os.path.join(src, "tests", "integration"))
from tw_consume import read_all
auth = base64.b64encode(os.environ["TW_SCHEMA_REGISTRY_USER_INFO"].encode()).decode()
def get(path):
    # A registry just restarted may drop a connection: retry as clients do.
    import http.client, time
    for attempt in range(5):
        req = urllib.request.Request(reg + path, headers={"Authorization": "Basic " + auth})
        try:
            return json.load(urllib.request.urlopen(req, timeout=10))
        except (http.client.RemoteDisconnected, ConnectionError, urllib.error.URLError) as e:
            if isinstance(e, urllib.error.HTTPError) or attempt == 4:
                raise
            time.sleep(0.5)
published = {m.key().decode(): json.loads(m.value()) for m in read_all(bootstrap, f"{prefix}.schemas", 20)
             if m.value() is not None and len(m.key()) == 33}
msgs = [json.loads(l) for l in open(f"{d}/rows.jsonl")]
bad = []
if len(msgs) != want:
    bad.append(f"{len(msgs)} messages, want {want}")
ids = {}
for m in msgs:
    for part in ("key", "value"):
        sid, exact = m[f"{part}_id"], m["headers"].get(f"tidewater.schema.{part}")
        if sid is None:
            continue
        if exact not in published:
            bad.append(f"offset {m['offset']}: {part} schema {exact} not in {prefix}.schemas")
            continue
        if sid not in ids:
            ids[sid] = json.loads(get(f"/schemas/ids/{sid}")["schema"])
        if ids[sid] != published[exact]:
            bad.append(f"offset {m['offset']}: {part} id {sid} is not the schema {exact} it was written with")
# Replay by key: the final state equals the primary's table.
state = {}
for m in msgs:
    k = m["key"]["id"]
    v = m["value"]
    if v is None or v["op"] == "d":
        state.pop(k, None)
    else:
        state[k] = {"id": v["after"]["id"], "a": v["after"]["a"], "b": v["after"].get("b")}
expected = {r["id"]: r for r in (json.loads(l) for l in open(f"{d}/expected.jsonl"))}
if state != expected:
    missing = sorted(set(expected) - set(state))[:10]
    extra = sorted(set(state) - set(expected))[:10]
    wrong = [k for k in expected if k in state and state[k] != expected[k]][:10]
    bad.append(f"replayed state differs: missing {missing} extra {extra} wrong {wrong}")
if len({m["value_id"] for m in msgs if m["value_id"] is not None}) < 2:
    bad.append("the new column did not bring a new value schema id")
for b in bad[:20]:
    print("  " + b)
sys.exit(1 if bad else 0)
PY
note "registry stopped mid-stream across a DDL: publishing waited, /readyz 503; $want messages, every id is its exact writer schema, replay equals the table"

# ---- 2. HTTP 409 from the registry ----
# SET NOT NULL: FORWARD (the agent's own rule lets it pass), not BACKWARD
# (the registry's global rule refuses it).
ARGS409=("${ARGS[@]}" --set "schema.compatibility=FORWARD")
psql_primary -c "DELETE FROM $S.t WHERE a IS NULL" -c "ALTER TABLE $S.t ALTER COLUMN a SET NOT NULL" \
    -c "INSERT INTO $S.t (id, a) VALUES (100001, 1)" >/dev/null
wait_standby_replay
before=$(count "$TOPIC")
for run in 1 2; do
    rc=0
    timeout 120 "$TW_BIN" run "${ARGS409[@]}" --set "schema.on_breaking_change=fail" >"$dir/fail$run.log" 2>&1 || rc=$?
    [ "$rc" = 1 ] || fail "with fail and a 409 the agent exited $rc (run $run): $(tail -n 5 "$dir/fail$run.log")"
    grep 'level=error' "$dir/fail$run.log" | grep -q "HTTP 409" &&
        grep 'level=error' "$dir/fail$run.log" | grep -q "breaks the compatibility rule of subject $TOPIC-value" ||
        fail "the fail log does not explain the 409 (run $run): $(grep 'level=error' "$dir/fail$run.log")"
done
[ "$(count "$TOPIC")" = "$before" ] || fail "a row of the refused schema was published"
note "409 with schema.on_breaking_change=fail: exit 1 with the subject and the registry's words, twice"

start_agent "$dir/agent2.log" "${ARGS409[@]}" --set "schema.on_breaking_change=pause"
for _ in $(seq 1 60); do
    [ "$(readyz)" = 503 ] && grep -q "refuses the new schema" "$dir/readyz.txt" && break
    sleep 0.5
done
[ "$(readyz)" = 503 ] && grep -q "refuses the new schema of table $S.t as incompatible" "$dir/readyz.txt" ||
    fail "/readyz during a 409 pause: $(cat "$dir/readyz.txt")"
grep 'level=warn' "$AGENT_LOG" | grep -q "HTTP 409" || fail "no warning about the 409"
[ "$(count "$TOPIC")" = "$before" ] || fail "a row of the refused schema was published while paused"
registry -X PUT -d '{"compatibility": "NONE"}' "$REG/config/$TOPIC-value" >"$dir/put.txt"
grep -q NONE "$dir/put.txt" || fail "cannot relax the subject's compatibility: $(cat "$dir/put.txt")"
wait_count "$TOPIC" $((before + 1)) 60
for _ in $(seq 1 40); do [ "$(readyz)" = 200 ] && break; sleep 0.5; done
[ "$(readyz)" = 200 ] || fail "/readyz after the subject was relaxed: $(cat "$dir/readyz.txt")"
stop_agent
rconsume "$TOPIC" | tail -n 1 >"$dir/last.jsonl"
grep -q '"id": 100001' "$dir/last.jsonl" || fail "the held row is not the last message: $(cat "$dir/last.jsonl")"
[ "$(count "$TOPIC")" = $((before + 1)) ] || fail "the held row was published more than once"
note "409 with pause: held, /readyz 503; after PUT /config NONE the row went out once"

# The schema-change events are Confluent-framed too (subjects
# <prefix>.schema_changes-key/-value): the added column, then SET NOT NULL.
rconsume "$PREFIX.schema_changes" >"$dir/events.jsonl"
"$TW_PY" - "$dir/events.jsonl" <<'PY' || fail "schema-change events read with the AvroDeserializer (above)"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
got = [[(c["change"], c["column"]) for c in e["value"]["changes"]] for e in ev]
want = [[("added", "b")], [("nullability_changed", "a")]]
if got != want or any(e["key_id"] is None or e["value_id"] is None for e in ev):
    print(f"  events {got}, want {want}; ids {[(e['key_id'], e['value_id']) for e in ev]}")
    sys.exit(1)
PY
note "schema-change events decode with the AvroDeserializer"

# ---- 3. wrong credentials ----
printf 'tidewater:Wr0ngPassw0rd\n' >"$dir/bad-user-info"
rc=0
timeout 60 "$TW_BIN" run "${ARGS[@]}" --set "schema.registry.basic.auth.user.info_file=$dir/bad-user-info" \
    >"$dir/auth.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "with wrong credentials the agent exited $rc: $(tail -n 5 "$dir/auth.log")"
grep 'level=error' "$dir/auth.log" | grep -F "$REG" | grep -q "refused the credentials (HTTP 401" ||
    fail "the error does not name the registry and the 401: $(cat "$dir/auth.log")"
grep -q "Wr0ngPassw0rd" "$dir/auth.log" && fail "the password appears in the log"
run_check --set "source.publication=${S}_pub" --set "schema.registry.url=$REG" \
    --set "schema.registry.basic.auth.user.info=tidewater:Wr0ngPassw0rd"
expect_check FAIL schema_registry "$REG" "HTTP 401"
case "$CHECK_OUT" in *Wr0ngPassw0rd*) fail "tidewater check prints the password" ;; esac
run_check --set "source.publication=${S}_pub" --set "schema.registry.url=$REG" \
    --set "schema.registry.basic.auth.user.info_file=$dir/user-info"
expect_check OK schema_registry "$REG"
note "wrong credentials: exit 1 naming $REG and HTTP 401, no secret in the log or in check"

# ---- 4. HTTPS, verified against the environment's CA ----
TLS=(--set "schema.registry.url=$TW_SCHEMA_REGISTRY_HTTPS_URL"
    --set "schema.registry.ssl.ca.location=$TW_SCHEMA_REGISTRY_CA")
run_check --set "source.publication=${S}_pub" "${TLS[@]}" \
    --set "schema.registry.basic.auth.user.info_file=$dir/user-info"
expect_check OK schema_registry "$TW_SCHEMA_REGISTRY_HTTPS_URL"
before=$(count "$TOPIC")
start_agent "$dir/agent3.log" "${ARGS[@]}" "${TLS[@]}"
grep -q "schema registry $TW_SCHEMA_REGISTRY_HTTPS_URL: messages use Confluent" "$AGENT_LOG" ||
    fail "the agent does not say it uses the HTTPS registry"
psql_primary -c "INSERT INTO $S.t (id, a) VALUES (100002, 2)" >/dev/null
wait_count "$TOPIC" $((before + 1)) 60
stop_agent
# A CA that did not sign the registry's certificate: refused, and said so.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/other-ca-key.pem" -out "$dir/other-ca.pem" \
    -days 1 -subj "/CN=some other CA" >/dev/null 2>&1 || fail "openssl cannot make a CA"
rc=0
timeout 60 "$TW_BIN" run "${ARGS[@]}" "${TLS[@]}" --set "schema.registry.ssl.ca.location=$dir/other-ca.pem" \
    >"$dir/tls.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "with a CA that did not sign the registry's certificate the agent exited $rc"
grep 'level=error' "$dir/tls.log" | grep -F "$TW_SCHEMA_REGISTRY_HTTPS_URL" | grep -qi "certificate" ||
    fail "the TLS error does not name the registry and the certificate: $(cat "$dir/tls.log")"
note "HTTPS: verified with schema.registry.ssl.ca.location, rows delivered; another CA is refused at startup"
