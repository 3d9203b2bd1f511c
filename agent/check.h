/*
 * check.h — `tidewater check`: the preflight of DESIGN.md.
 *
 * Connects to the configured PostgreSQL server (read-only sessions only, see
 * pgconn.h) and to Kafka, and prints one line per check to out:
 *
 *   OK    wal_level                logical
 *   FAIL  hot_standby_feedback     off on this standby ... Fix: <exact SQL or setting>
 *
 * Status words: OK, WARN (works, but an operator should know), FAIL (the
 * agent cannot run correctly until fixed), SKIP (a prerequisite failed).
 * Nothing is created or changed on any server.
 */
#ifndef TW_CHECK_H
#define TW_CHECK_H

#include <stdio.h>

struct tw_config;

/* Runs every check; returns the number of FAIL lines (0 = ready to run). */
int tw_check_run(const struct tw_config *cfg, FILE *out);

#endif
