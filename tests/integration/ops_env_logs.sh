#!/usr/bin/env bash
# The agent configured only through the environment the Kubernetes manifest
# sets (deploy/kubernetes: the ConfigMap's TIDEWATER_* values and the
# container's env), with only the endpoints and names swapped for the local
# test services, runs the pipeline end to end. Its log (log.format=json in
# the manifest) is one JSON object per line, and no secret value appears in
# it -- also when the password is wrong, which stops the agent with an error.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_services

ID="$$_$RANDOM"
SLOT="tw_env_$ID"
PREFIX="env$ID"
dir=$(mktemp -d)
cleanup() {
    [ -n "$AGENT_PID" ] && kill -9 "$AGENT_PID" 2>/dev/null || true
    psql_standby -c "SELECT pg_drop_replication_slot('$SLOT') FROM pg_replication_slots WHERE slot_name = '$SLOT'" >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT

# The manifest's environment, as NAME=VALUE lines.
"$TW_PY" - "$TW_SOURCE_DIR/deploy/kubernetes" >"$dir/manifest.env" <<'PY'
import sys, yaml, pathlib
d = pathlib.Path(sys.argv[1])
docs = [x for f in sorted(d.glob("*.yaml")) for x in yaml.safe_load_all(f.read_text()) if x]
maps = {x["metadata"]["name"]: x.get("data", {}) for x in docs if x["kind"] == "ConfigMap"}
sts = next(x for x in docs if x["kind"] == "StatefulSet")
c = next(c for c in sts["spec"]["template"]["spec"]["containers"] if c["name"] == "tidewater")
env = {}
for src in c.get("envFrom", []):
    env.update(maps[src["configMapRef"]["name"]])
for e in c.get("env", []):
    if "value" in e:
        env[e["name"]] = e["value"]
    else:
        ref = e["valueFrom"]["configMapKeyRef"]
        env[e["name"]] = maps[ref["name"]][ref["key"]]
for k, v in env.items():
    print(f"{k}={v}")
PY
grep -q '^TIDEWATER_LOG_FORMAT=json$' "$dir/manifest.env" || fail "the manifest does not set log.format=json"

# Swap what points at the production cluster for the local services.
pw_file="$dir/source-password"
printf '%s\n' "$TW_PG_PASSWORD" >"$pw_file"
port=$((20000 + RANDOM % 20000))
conninfo=$(grep '^TIDEWATER_SOURCE_CONNINFO=' "$dir/manifest.env" | cut -d= -f2-)
conninfo=$(printf '%s' "$conninfo" | sed -E "s/host=[^ ]+/host=127.0.0.1/; s/port=[^ ]+/port=$TW_PG_STANDBY_PORT/; s/dbname=[^ ]+/dbname=twdb/")
vars=()
while IFS= read -r line; do
    case "$line" in
    TIDEWATER_SOURCE_CONNINFO=*) line="TIDEWATER_SOURCE_CONNINFO=$conninfo" ;;
    TIDEWATER_SOURCE_PASSWORD_FILE=*) line="TIDEWATER_SOURCE_PASSWORD_FILE=$pw_file" ;;
    TIDEWATER_KAFKA_BOOTSTRAP_SERVERS=*) line="TIDEWATER_KAFKA_BOOTSTRAP_SERVERS=$TW_KAFKA_BOOTSTRAP" ;;
    TIDEWATER_SLOT_NAME=*) line="TIDEWATER_SLOT_NAME=$SLOT" ;;
    TIDEWATER_TOPIC_PREFIX=*) line="TIDEWATER_TOPIC_PREFIX=$PREFIX" ;;
    TIDEWATER_TOPIC_REPLICATION_FACTOR=*) line="TIDEWATER_TOPIC_REPLICATION_FACTOR=1" ;; # one test broker
    TIDEWATER_HTTP_LISTEN=*) line="TIDEWATER_HTTP_LISTEN=127.0.0.1:$port" ;;
    esac
    vars+=("$line")
done <"$dir/manifest.env"
sanitizers=()
for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
    [ -n "${!v:-}" ] && sanitizers+=("$v=${!v}")
done

run_env_only() { # LOG: the agent with nothing but these variables
    env -i PATH="$PATH" "${sanitizers[@]}" "${vars[@]}" "$TW_BIN" run >>"$1" 2>&1 &
    AGENT_PID=$!
}

# 1. The pipeline runs end to end.
(while sleep 0.3; do psql_primary -c "SELECT pg_log_standby_snapshot()" >/dev/null 2>&1; done) &
ticker=$!
AGENT_LOG="$dir/agent.log"
run_env_only "$AGENT_LOG"
for _ in $(seq 1 100); do
    grep -q 'streaming slot' "$AGENT_LOG" && break
    sleep 0.1
done
kill "$ticker"
grep -q 'streaming slot' "$AGENT_LOG" || fail "the agent configured from the manifest's environment did not stream"
psql_primary -c "INSERT INTO shop.customers (name) VALUES ('env-only $ID')" >/dev/null
# The topic starts with the snapshot of shop.customers: wait for this row.
for _ in $(seq 1 60); do
    consume "$PREFIX" "$PREFIX.shop.customers" >"$dir/customers.jsonl" 2>/dev/null || true
    grep -q "env-only $ID" "$dir/customers.jsonl" && break
    sleep 0.5
done
grep -q "env-only $ID" "$dir/customers.jsonl" || fail "the row did not arrive within 30 s"
stop_agent
note "configured only by the manifest's environment: a row went from the standby to Kafka"

# 2. A wrong password: an error, then exit non-zero, the password never shown.
printf 'not-the-password-%s\n' "$ID" >"$pw_file"
run_env_only "$dir/bad.log"
for _ in $(seq 1 100); do
    kill -0 "$AGENT_PID" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$AGENT_PID" 2>/dev/null; then
    fail "the agent kept running with a wrong password: $(tail -n 5 "$dir/bad.log")"
fi
rc=0
wait "$AGENT_PID" || rc=$?
AGENT_PID=""
[ "$rc" -eq 1 ] || fail "exit status $rc with a wrong password, want 1"
grep -q 'password authentication failed' "$dir/bad.log" || fail "no error names the failed authentication"

# 3. Every line of both logs is a JSON object with ts, level, component, msg,
#    and neither password appears anywhere.
"$TW_PY" - "$AGENT_LOG" "$dir/bad.log" "$TW_PG_PASSWORD" "not-the-password-$ID" <<'PY' || fail "log lines are not clean JSON, or a secret leaked (above)"
import json, sys
bad = 0
for path in sys.argv[1:3]:
    for n, line in enumerate(open(path), 1):
        if not line.strip():
            continue
        for secret in sys.argv[3:]:
            if secret in line:
                print(f"{path}:{n}: a secret appears: {line[:200]}")
                bad += 1
        try:
            o = json.loads(line)
            missing = {"ts", "level", "component", "msg"} - set(o)
            if missing:
                print(f"{path}:{n}: missing {missing}: {line[:200]}")
                bad += 1
        except ValueError as e:
            print(f"{path}:{n}: not JSON ({e}): {line[:200]}")
            bad += 1
print(f"log lines checked: {bad} problem(s)")
sys.exit(1 if bad else 0)
PY
note "wrong password: exit 1 naming the failure; all log lines JSON, no secret in them"
