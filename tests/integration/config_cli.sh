#!/usr/bin/env bash
# The configuration contract, seen from the command line: errors name the key
# and exit 2; environment beats the file and --set beats both; secrets are
# never printed; docs/configuration.md is what the binary generates.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat >"$dir/tw.properties" <<'PROPS'
# test configuration
source.conninfo = host=127.0.0.1 port=1 dbname=x user=y password=file-secret
source.publication = from_file
kafka.bootstrap.servers = 127.0.0.1:1
slot.name = file_slot
PROPS

# run_cli ARGS...: output in $OUT, status in $RC (environment from the caller).
run_cli() {
    set +e
    OUT=$("$TW_BIN" "$@" 2>&1)
    RC=$?
    set -e
}
expect_out() {
    case "$OUT" in *"$1"*) ;; *) fail "expected '$1' in output of the last command:
$OUT" ;; esac
}

printf 'slot.nmae = x\n' >"$dir/unknown.properties"
run_cli config --show --config "$dir/unknown.properties"
[ "$RC" -eq 2 ] || fail "unknown key: exit $RC, want 2"
expect_out "unknown.properties:1: unknown configuration key 'slot.nmae' (did you mean 'slot.name'?)"

run_cli check --config "$dir/tw.properties" --set check.timeout.ms=ten
[ "$RC" -eq 2 ] || fail "bad integer: exit $RC, want 2"
expect_out "'check.timeout.ms' must be an integer from 100 to 600000, got 'ten'"

grep -v publication "$dir/tw.properties" >"$dir/missing.properties"
run_cli check --config "$dir/missing.properties"
[ "$RC" -eq 2 ] || fail "missing required key: exit $RC, want 2"
expect_out "missing required configuration key 'source.publication'"

run_cli check --config "$dir/tw.properties" --set kafka.linger.ms=soon
[ "$RC" -eq 2 ] || fail "bad librdkafka value: exit $RC, want 2"
expect_out "'kafka.linger.ms' is invalid"

TIDEWATER_SLOTNAME=x run_cli config --show --config "$dir/tw.properties"
[ "$RC" -eq 2 ] || fail "unknown environment variable: exit $RC, want 2"
expect_out "TIDEWATER_SLOTNAME does not name a configuration key"

# Environment overrides the file; --set overrides the environment.
TIDEWATER_SLOT_NAME=env_slot TIDEWATER_SOURCE_PUBLICATION=env_pub \
    run_cli config --show --config "$dir/tw.properties" --set slot.name=set_slot
[ "$RC" -eq 0 ] || fail "config --show failed: $OUT"
expect_out "slot.name = set_slot  # --set"
expect_out "source.publication = env_pub  # env TIDEWATER_SOURCE_PUBLICATION"
expect_out "kafka.bootstrap.servers = 127.0.0.1:1  # $dir/tw.properties:4"
expect_out "source.application_name = tidewater  # default"

# Secrets from a file; nothing secret is printed.
printf 'from-a-file\n' >"$dir/pw"
TIDEWATER_SOURCE_PASSWORD_FILE="$dir/pw" TIDEWATER_KAFKA_SASL_PASSWORD=kafka-secret \
    TIDEWATER_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO=sr:sr-secret \
    TIDEWATER_SCHEMA_REGISTRY_URL='http://sr:url-secret@r1:8081/x,http://r2:8081' \
    run_cli config --show --config "$dir/tw.properties"
[ "$RC" -eq 0 ] || fail "config --show with secrets failed: $OUT"
expect_out "source.password = (secret)  # env TIDEWATER_SOURCE_PASSWORD_FILE"
expect_out "kafka.sasl.password = (secret)"
expect_out "password='********'"
expect_out "schema.registry.basic.auth.user.info = (secret)"
expect_out "schema.registry.url = http://(secret)@r1:8081/x,http://r2:8081"
case "$OUT" in *from-a-file* | *kafka-secret* | *file-secret* | *sr-secret* | *url-secret*) fail "a secret was printed:
$OUT" ;; esac

# The reference in docs/ is exactly what the table generates.
"$TW_BIN" config --doc >"$dir/doc.md"
diff -u "$TW_SOURCE_DIR/docs/configuration.md" "$dir/doc.md" >&2 ||
    fail "docs/configuration.md is stale: regenerate it with 'tidewater config --doc > docs/configuration.md'"

# An empty http.listen turns the endpoint off; an empty slot.name means its
# default again.
req=(--set source.conninfo=host=x --set source.publication=p --set kafka.bootstrap.servers=k:1)
run_cli config --show "${req[@]}" --set http.listen= --set slot.name=
[ "$RC" -eq 0 ] || fail "config --show with empty values: exit $RC: $OUT"
printf '%s\n' "$OUT" | grep -q '^http.listen = *# --set$' || fail "empty http.listen is not off: $(printf '%s\n' "$OUT" | grep http.listen)"
expect_out "slot.name = tidewater  # default"

run_cli --help
[ "$RC" -eq 0 ] || fail "--help exit $RC"
expect_out "tidewater check"
run_cli version
expect_out "tidewater 0."
run_cli frobnicate
[ "$RC" -eq 2 ] || fail "unknown command: exit $RC, want 2"
expect_out "unknown command 'frobnicate'"
note "configuration contract holds"
