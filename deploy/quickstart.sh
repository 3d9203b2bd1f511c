#!/usr/bin/env bash
# Local quickstart: installs what is missing, builds Tidewater, starts a local
# PostgreSQL primary + streaming standby and a Kafka broker (tests/env), and
# runs `tidewater check` against the standby. Stops everything at the end
# unless --keep is given (then `tests/env/down.sh` stops it).
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
echo "== starting PostgreSQL primary + standby and Kafka (tests/env/up.sh)"
bash tests/env/up.sh
# shellcheck disable=SC1091
. tests/env/state/env.sh
if [ "$KEEP" -eq 0 ]; then
    trap 'echo "== stopping the services"; bash tests/env/down.sh >/dev/null' EXIT
fi

cat >build/quickstart.properties <<PROPS
# Written by deploy/quickstart.sh for the local services.
# Local test credentials; in production use source.password_file.
source.conninfo = $TW_PG_STANDBY_DSN
source.publication = $TW_PG_PUBLICATION
kafka.bootstrap.servers = $TW_KAFKA_BOOTSTRAP
PROPS
echo "== tidewater check --config build/quickstart.properties"
rc=0
./build/tidewater check --config build/quickstart.properties || rc=$?
if [ "$KEEP" -eq 1 ]; then
    echo "== services left running; settings in tests/env/state/env.sh; stop them with tests/env/down.sh"
fi
exit $rc
