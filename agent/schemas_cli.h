/*
 * schemas_cli.h — `tidewater schemas list|diff|accept`: the operator's view
 * of the schema store (agent/schema_store.h).
 *
 *   list           one line per stored table: name, schema fingerprint,
 *                  since LSN and time, how it was detected, paused or not.
 *   diff TABLE     the stored shape against the catalog now (read-only
 *                  session): column changes and compatibility class. Exit 0
 *                  when equal, 1 when they differ (like diff(1)).
 *   accept TABLE   accepts a breaking change. A running agent (its
 *                  http.listen answers) is asked with POST
 *                  /schemas/accept?table=…, and resumes at once. Otherwise
 *                  the store is written directly: a paused table is
 *                  unpaused, or (after schema.on_breaking_change=fail) the
 *                  catalog's current shape becomes the stored one.
 * TABLE is schema.table (or table, meaning public.table).
 */
#ifndef TW_SCHEMAS_CLI_H
#define TW_SCHEMAS_CLI_H

struct tw_config;

/* Returns the process exit code. */
int tw_schemas_cli(const struct tw_config *cfg, const char *sub, const char *table);

#endif
