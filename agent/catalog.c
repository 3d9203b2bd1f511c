#include "agent/catalog.h"

#include "agent/config.h"
#include "agent/metrics.h"
#include "agent/pgconn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tw_catalog {
    const tw_config *cfg;
    PGconn *conn;
    PGresult *last; /* backs the strings of cols */
    tw_column_catalog *cols;
    int cap;
};

/* Domains are followed down to their base type (they may nest), for the
 * column's type and for an array's element type alike; an array's element
 * is reported with its category and delimiter. */
static const char columns_sql[] =
    "WITH RECURSIVE dom(oid, base, depth) AS ("
    "  SELECT oid, typbasetype, 1 FROM pg_catalog.pg_type WHERE typtype = 'd' "
    "  UNION ALL "
    "  SELECT dom.oid, t.typbasetype, dom.depth + 1 "
    "  FROM dom JOIN pg_catalog.pg_type t ON t.oid = dom.base "
    "  WHERE t.typtype = 'd' AND dom.depth < 32), "
    "resolved AS (SELECT DISTINCT ON (oid) oid, base FROM dom ORDER BY oid, depth DESC), "
    "cols AS ("
    "  SELECT a.attnum, a.attname, a.attnotnull, a.atttypid, "
    "         format_type(a.atttypid, a.atttypmod) AS fmt "
    "  FROM pg_catalog.pg_attribute a "
    "  WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped) "
    "SELECT c.attname, c.attnotnull, c.fmt, t.oid, t.typtype, t.typcategory, t.typlen, "
    "       t.typname, CASE WHEN t.typcategory = 'A' THEN et.oid ELSE 0 END, "
    "       coalesce(et.typtype::text, ''), coalesce(et.typcategory::text, ''), "
    "       coalesce(et.typdelim::text, ''), "
    "       EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = $1::oid "
    "               AND i.indisprimary AND c.attnum = ANY (i.indkey)), "
    "       c.atttypid "
    "FROM cols c "
    "JOIN pg_catalog.pg_type t ON t.oid = coalesce("
    "  (SELECT base FROM resolved r WHERE r.oid = c.atttypid), c.atttypid) "
    "LEFT JOIN pg_catalog.pg_type et ON t.typcategory = 'A' AND et.oid = coalesce("
    "  (SELECT base FROM resolved r WHERE r.oid = t.typelem), t.typelem) "
    "ORDER BY c.attnum";

tw_catalog *tw_catalog_open(const tw_config *cfg, char *err, size_t errsize)
{
    tw_catalog *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errsize, "out of memory");
        return NULL;
    }
    c->cfg = cfg;
    /* The main loop waits for these queries: bound them. */
    tw_pg_overrides ovr = {.options = "-c statement_timeout=30000"};
    c->conn = tw_pg_connect(cfg, &ovr, 10, err, errsize);
    if (!c->conn) {
        free(c);
        return NULL;
    }
    return c;
}

void tw_catalog_close(tw_catalog *c)
{
    if (!c)
        return;
    PQclear(c->last);
    free(c->cols);
    PQfinish(c->conn);
    free(c);
}

const char *tw_catalog_dbname(tw_catalog *c)
{
    return PQdb(c->conn);
}

int tw_catalog_columns(tw_catalog *c, uint32_t relid, const tw_column_catalog **cols, int *ncols,
                       char *err, size_t errsize)
{
    char oid[16];
    snprintf(oid, sizeof oid, "%u", relid);
    const char *params[1] = {oid};
    /* A standby can restart or fail over, an idle session can be closed:
     * when the query fails on a broken connection, reconnect once. */
    PGresult *res = tw_pg_exec(c->conn, columns_sql, 1, params, err, errsize);
    if (!res && PQstatus(c->conn) != CONNECTION_OK) {
        PQreset(c->conn);
        res = tw_pg_exec(c->conn, columns_sql, 1, params, err, errsize);
    }
    if (!res)
        return -1;
    int n = PQntuples(res);
    if (n > c->cap) {
        tw_column_catalog *nc = realloc(c->cols, (size_t)n * sizeof *nc);
        if (!nc) {
            PQclear(res);
            snprintf(err, errsize, "out of memory");
            return -1;
        }
        c->cols = nc;
        c->cap = n;
    }
    for (int i = 0; i < n; i++) {
        tw_column_catalog *col = &c->cols[i];
        memset(col, 0, sizeof *col);
        col->name = PQgetvalue(res, i, 0);
        col->notnull = PQgetvalue(res, i, 1)[0] == 't';
        col->format_type = PQgetvalue(res, i, 2);
        col->type.oid = (uint32_t)strtoul(PQgetvalue(res, i, 3), NULL, 10);
        col->type.typmod = -1;
        col->type.typtype = PQgetvalue(res, i, 4)[0];
        col->type.typcategory = PQgetvalue(res, i, 5)[0];
        col->typlen = atoi(PQgetvalue(res, i, 6));
        col->type.typname = PQgetvalue(res, i, 7);
        col->type.elem_oid = (uint32_t)strtoul(PQgetvalue(res, i, 8), NULL, 10);
        col->type.elem_typtype = PQgetvalue(res, i, 9)[0];
        col->type.elem_typcategory = PQgetvalue(res, i, 10)[0];
        col->type.elem_typdelim = PQgetvalue(res, i, 11)[0];
        col->primary_key = PQgetvalue(res, i, 12)[0] == 't';
        col->declared_oid = (uint32_t)strtoul(PQgetvalue(res, i, 13), NULL, 10);
    }
    PQclear(c->last);
    c->last = res;
    *cols = c->cols;
    *ncols = n;
    return 0;
}

int tw_catalog_slot_status(tw_catalog *c, const char *slot, int *wal_status,
                           long long *safe_wal_size, char *err, size_t errsize)
{
    const char *params[1] = {slot};
    PGresult *res = tw_pg_exec(c->conn,
                               "SELECT coalesce(wal_status, ''), coalesce(safe_wal_size, -1) "
                               "FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
                               1, params, err, errsize);
    if (!res)
        return -1;
    *wal_status = -1;
    *safe_wal_size = -1;
    if (PQntuples(res) == 1) {
        for (int i = 0; i < 4; i++)
            if (strcmp(PQgetvalue(res, 0, 0), tw_wal_status_names[i]) == 0)
                *wal_status = i;
        *safe_wal_size = atoll(PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return 0;
}
