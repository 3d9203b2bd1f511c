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

/* A table of the publication, as the catalog says now. */
typedef struct {
    uint32_t relid;
    const char *nspname;
    const char *relname;
    const char *const *attnames; /* published columns; NULL: every non-generated one */
    int nattnames;
    char relkind;          /* 'r' table, 'p' partitioned table */
    long long pages;       /* blocks of the relation now */
    long long reltuples;   /* the planner's row estimate; -1 unknown */
    const char *rowfilter; /* the publication's row filter (SQL), NULL when none */
} tw_published_table;

/* Tables of publication pub (schema, table order). Returns 0 with *tabs,
 * *ntabs set (owned by the catalog, valid until the next call of this
 * function or tw_catalog_close), or -1 with err. */
int tw_catalog_published(tw_catalog *c, const char *pub, const tw_published_table **tabs,
                         int *ntabs, char *err, size_t errsize);

/* One snapshot for several queries (a check of every published table must
 * not see a DDL between two of them): REPEATABLE READ, read-only. end
 * ends it (ROLLBACK: nothing was written). 0, or -1 with err. */
int tw_catalog_begin_snapshot(tw_catalog *c, char *err, size_t errsize);
void tw_catalog_end_snapshot(tw_catalog *c);
/* begin_snapshot, importing an exported snapshot (SET TRANSACTION SNAPSHOT):
 * the catalog as the snapshot's sessions see it. 0, or -1 with err. */
int tw_catalog_import_snapshot(tw_catalog *c, const char *name, char *err, size_t errsize);
/* Reads the WAL position (as tw_catalog_current_lsn, just before: the
 * snapshot shows at least everything up to it), then begin_snapshot and
 * exports it (pg_export_snapshot(), into name). The snapshot lives until
 * end_snapshot. 0, or -1 with err. Inside a snapshot the session does not
 * reconnect: a lost connection is an error. */
int tw_catalog_export_snapshot(tw_catalog *c, char *name, size_t namesize, uint64_t *lsn, char *err,
                               size_t errsize);

/* Inside a snapshot: LOCK TABLE nsp.rel IN ACCESS SHARE MODE (held until
 * end_snapshot, so a rewrite replayed meanwhile conflicts with the lock on
 * a standby instead of emptying the table for the snapshot), then checks
 * that the table was not rewritten since the snapshot was taken. 0, 1 when
 * it was (err says so), or -1 with err. */
int tw_catalog_lock_table(tw_catalog *c, uint32_t relid, const char *nspname, const char *relname,
                          char *err, size_t errsize);

/* The server the catalog session is connected to (libpq's PQhost/PQport). */
const char *tw_catalog_host(tw_catalog *c);
const char *tw_catalog_port(tw_catalog *c);

/* The WAL position the catalog reflects now: the standby's last replayed
 * LSN, or the primary's current LSN. 0, or -1 with err. */
int tw_catalog_current_lsn(tw_catalog *c, uint64_t *lsn, char *err, size_t errsize);

/* The slot's wal_status (index into tw_wal_status_names, -1 unknown) and
 * safe_wal_size (-1 when unlimited or unknown). Returns 0, or -1 with err. */
int tw_catalog_slot_status(tw_catalog *c, const char *slot, int *wal_status,
                           long long *safe_wal_size, char *err, size_t errsize);

/* Whether the server is in recovery (a standby) now: *in_recovery 1 or 0.
 * A standby that was promoted answers 0 from then on. 0, or -1 with err. */
int tw_catalog_in_recovery(tw_catalog *c, int *in_recovery, char *err, size_t errsize);

/* Name of the database the session is connected to. */
const char *tw_catalog_dbname(tw_catalog *c);

#endif
