#!/usr/bin/env bash
# Local quickstart: installs what is missing, builds Tidewater, starts a local
# PostgreSQL primary + streaming standby, a Kafka broker and a schema
# registry (tests/env), runs
# `tidewater check` and then `tidewater run` against the standby, applies a
# short workload on the primary (inserts, an update, a delete, a transaction
# on two tables), and prints the change events from Kafka as JSON lines.
# Stops everything at the end unless --keep is given (then
# `tests/env/down.sh` stops the services).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
KEEP=0
[ "${1:-}" = "--keep" ] && KEEP=1

if [ "$(id -u)" -ne 0 ]; then
    echo "quickstart: run as root (it installs Debian packages and creates the unprivileged 'twpg' user that runs PostgreSQL)" >&2
    exit 2
fi

echo "== installing what is missing (tests/env/install.sh)"
bash tests/env/install.sh
echo "== building"
mkdir -p build
if ! { cmake -S . -B build -G Ninja && cmake --build build -j "$(nproc)"; } >build/quickstart-build.log 2>&1; then
    tail -n 40 build/quickstart-build.log
    echo "quickstart: the build failed (full log: build/quickstart-build.log)" >&2
    exit 1
fi
echo "== starting PostgreSQL primary + standby, Kafka and the schema registry (tests/env/up.sh)"
bash tests/env/up.sh
# shellcheck disable=SC1091
. tests/env/state/env.sh
if [ "$KEEP" -eq 0 ]; then
    trap 'echo "== stopping the services"; bash tests/env/down.sh >/dev/null' EXIT
fi

# Secrets in files (mode 0600), as in production; none in the properties
# file or on a command line.
install -m 0600 /dev/null build/quickstart-registry-user-info
printf '%s\n' "$TW_SCHEMA_REGISTRY_USER_INFO" >build/quickstart-registry-user-info
install -m 0600 /dev/null build/quickstart-source-password
printf '%s\n' "$TW_PG_PASSWORD" >build/quickstart-source-password
cat >build/quickstart.properties <<PROPS
# Written by deploy/quickstart.sh for the local services.
# TLS to the standby, verified against the test environment's CA.
source.conninfo = host=localhost port=$TW_PG_STANDBY_PORT dbname=$TW_PG_DATABASE user=$TW_PG_USER sslmode=verify-full sslrootcert=$TW_TLS_CA
source.password_file = $REPO/build/quickstart-source-password
source.publication = $TW_PG_PUBLICATION
kafka.bootstrap.servers = $TW_KAFKA_BOOTSTRAP
# Messages in Confluent's wire format, schemas registered in the local registry.
schema.registry.url = $TW_SCHEMA_REGISTRY_URL
schema.registry.basic.auth.user.info_file = $REPO/build/quickstart-registry-user-info
PROPS
echo "== tidewater check --config build/quickstart.properties"
./build/tidewater check --config build/quickstart.properties || exit 1

# A fresh slot and topic prefix per quickstart, so earlier runs do not mix in.
run_id=qs$(date +%s)
echo "== tidewater run (slot $run_id, topics $run_id.*), log in build/quickstart-agent.log"
(while sleep 0.3; do psql "$TW_PG_SUPERUSER_DSN" -XAtqc "SELECT pg_log_standby_snapshot()" >/dev/null 2>&1; done) &
ticker=$!
./build/tidewater run --config build/quickstart.properties --set "slot.name=$run_id" \
    --set "topic.prefix=$run_id" >build/quickstart-agent.log 2>&1 &
agent=$!
cleanup_agent() {
    kill "$ticker" 2>/dev/null || true
    kill -TERM "$agent" 2>/dev/null && wait "$agent" 2>/dev/null
    # The slot belongs to this demo only.
    psql "$TW_PG_STANDBY_SUPERUSER_DSN" -XAtqc "SELECT pg_drop_replication_slot('$run_id')" >/dev/null 2>&1 || true
}
trap 'cleanup_agent; [ "$KEEP" -eq 1 ] || { echo "== stopping the services"; bash tests/env/down.sh >/dev/null; }' EXIT
for _ in $(seq 1 100); do
    grep -q 'msg="streaming slot' build/quickstart-agent.log && break
    sleep 0.2
done
kill "$ticker" 2>/dev/null || true
grep -q 'msg="streaming slot' build/quickstart-agent.log || { cat build/quickstart-agent.log; exit 1; }

echo "== workload on the primary"
psql "$TW_PG_SUPERUSER_DSN" -Xq <<'SQL'
INSERT INTO shop.customers (name, email) VALUES ('Alan Turing', 'alan@example.test');
UPDATE shop.customers SET email = 'turing@example.test' WHERE name = 'Alan Turing';
BEGIN;
INSERT INTO shop.orders (customer_id, total, status)
  SELECT id, 42.00, 'new' FROM shop.customers WHERE name = 'Alan Turing';
UPDATE shop.customers SET name = 'Alan M. Turing' WHERE name = 'Alan Turing';
COMMIT;
DELETE FROM shop.orders WHERE total = 42.00;
SQL
sleep 3

for topic in "$run_id.shop.customers" "$run_id.shop.orders"; do
    echo "== tidewater consume --topic $topic --from-beginning --until-end"
    ./build/tidewater consume --config build/quickstart.properties --set "topic.prefix=$run_id" \
        --topic "$topic" --from-beginning --until-end
done
if [ "$KEEP" -eq 1 ]; then
    echo "== services left running; settings in tests/env/state/env.sh; stop them with tests/env/down.sh"
fi
