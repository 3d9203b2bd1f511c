#!/usr/bin/env bash
# Stop the test environment that up.sh recorded in tests/env/state/env.sh:
# standby and primary (pg_ctl stop -m fast as twpg, falling back to signals on
# the recorded pid), then Kafka (SIGTERM, SIGKILL after 30s), then the schema
# registry (SIGTERM, SIGKILL after 20s). Removes the temp dir (the registry's
# data with it) and the state file. Does nothing when no environment is recorded.
# Throwaway servers made with `ctl.sh throwaway` are not touched: the test
# that made one stops it with `ctl.sh throwaway-stop`.
set -euo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tw_require_root

if ! tw_state_load; then
    tw_log "no environment recorded ($TW_ENV_FILE missing); nothing to stop"
    exit 0
fi

tw_log "stopping the environment in ${TW_ENV_DIR:-?}"
tw_env_teardown
tw_log "down"
