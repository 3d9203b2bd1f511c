#!/usr/bin/env bash
# `tidewater check` passes against the primary+standby+Kafka of tests/env/up.sh,
# both when pointed at the standby (the default deployment) and at the primary.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_services

# tests/env grants pg_read_all_stats as README recommends, so check can follow
# the standby to its primary; check_failures covers the role without it.
run_check
expect_rc 0
expect_check OK connection "standby, in recovery"
expect_check OK server_version "(standby)"
expect_check OK wal_level logical
expect_check OK primary_wal_level "logical on the primary"
expect_check OK hot_standby_feedback on
expect_check OK replication_role "has REPLICATION"
expect_check OK replication_connection "timeline"
expect_check OK publication "'$TW_PG_PUBLICATION' publishes insert update delete truncate"
expect_check OK replica_identity
expect_check OK select_privilege
expect_check OK slot "does not exist yet"
expect_check OK kafka "reachable at $TW_KAFKA_BOOTSTRAP"
if printf '%s\n' "$CHECK_OUT" | grep -q '^FAIL'; then
    fail "a check failed:
$CHECK_OUT"
fi
note "standby: $(printf '%s\n' "$CHECK_OUT" | tail -n 1)"

run_check --set "source.conninfo=$TW_PG_PRIMARY_DSN"
expect_rc 0
expect_check OK connection "primary"
expect_check OK server_version "(primary)"
if printf '%s\n' "$CHECK_OUT" | grep -q 'hot_standby_feedback'; then
    fail "hot_standby_feedback is a standby check but ran on the primary:
$CHECK_OUT"
fi
note "primary: $(printf '%s\n' "$CHECK_OUT" | tail -n 1)"
