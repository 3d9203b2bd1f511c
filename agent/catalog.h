/*
 * catalog.h — what the relation cache needs from the system catalog that a
 * pgoutput Relation message does not carry: nullability, the type's length
 * (TOASTable or not), format_type() for "pg.type", and for non-builtin types
 * their category, with domains resolved to their base type.
 *
 * One read-only SQL session (pgconn.h), opened lazily, queried once per
 * Relation message (never per row).
 *
 * Ownership: tw_catalog_columns() returns an array and strings owned by the
 * tw_catalog, valid until the next call on it or tw_catalog_close().
 */
#ifndef TW_CATALOG_H
#define TW_CATALOG_H

#include "schemas/relation.h"

struct tw_config;

typedef struct tw_catalog tw_catalog;

tw_catalog *tw_catalog_open(const struct tw_config *cfg, char *err, size_t errsize);
void tw_catalog_close(tw_catalog *c);

/* Columns of relation relid (attnum order). Returns 0 with *cols and *ncols set,
 * or -1 with err (the caller may go on without catalog facts). */
int tw_catalog_columns(tw_catalog *c, uint32_t relid, const tw_column_catalog **cols, int *ncols,
                       char *err, size_t errsize);

/* The slot's wal_status (index into tw_wal_status_names, -1 unknown) and
 * safe_wal_size (-1 when unlimited or unknown). Returns 0, or -1 with err. */
int tw_catalog_slot_status(tw_catalog *c, const char *slot, int *wal_status,
                           long long *safe_wal_size, char *err, size_t errsize);

/* Name of the database the session is connected to. */
const char *tw_catalog_dbname(tw_catalog *c);

#endif
