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
    int in_snapshot; /* inside begin_snapshot: no reconnect (it would leave it) */
    PGresult *last;  /* backs the strings of cols */
    tw_column_catalog *cols;
    int cap;
    PGresult *pub_tabs, *pub_cols; /* back the strings of pub */
    tw_published_table *pub;
    const char **pub_names;
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
    "  SELECT a.attnum, a.attname, a.attnotnull, a.atttypid, a.atttypmod, "
    "         format_type(a.atttypid, a.atttypmod) AS fmt, "
    "         format_type(a.atttypid, NULL) AS tname, a.attgenerated <> '' AS generated, "
    "         (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid) FROM pg_catalog.pg_attrdef d "
    "          WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum) AS def "
    "  FROM pg_catalog.pg_attribute a "
    "  WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped), "
    "rel AS (SELECT relreplident FROM pg_catalog.pg_class WHERE oid = $1::oid) "
    "SELECT c.attname, c.attnotnull, c.fmt, t.oid, t.typtype, t.typcategory, t.typlen, "
    "       t.typname, CASE WHEN t.typcategory = 'A' THEN et.oid ELSE 0 END, "
    "       coalesce(et.typtype::text, ''), coalesce(et.typcategory::text, ''), "
    "       coalesce(et.typdelim::text, ''), "
    "       EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = $1::oid "
    "               AND i.indisprimary AND c.attnum = ANY (i.indkey)), "
    "       c.atttypid, c.attnum, c.atttypmod, c.tname, c.generated, c.def, "
    "       CASE (SELECT relreplident FROM rel) "
    "         WHEN 'f' THEN true "
    /* As the server picks the identity index: immediate, valid, live. */
    "         WHEN 'd' THEN EXISTS (SELECT 1 FROM pg_catalog.pg_index i "
    "               WHERE i.indrelid = $1::oid AND i.indisprimary AND i.indimmediate "
    "               AND i.indisvalid AND i.indislive AND c.attnum = ANY (i.indkey)) "
    "         WHEN 'i' THEN EXISTS (SELECT 1 FROM pg_catalog.pg_index i "
    "               WHERE i.indrelid = $1::oid AND i.indisreplident AND i.indimmediate "
    "               AND i.indisvalid AND i.indislive AND c.attnum = ANY (i.indkey)) "
    "         ELSE false END, "
    "       coalesce((SELECT relreplident::text FROM rel), 'd') "
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
    PQclear(c->pub_tabs);
    PQclear(c->pub_cols);
    free(c->pub);
    free(c->pub_names);
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
        col->attnum = atoi(PQgetvalue(res, i, 14));
        col->typmod = atoi(PQgetvalue(res, i, 15));
        col->type_name = PQgetvalue(res, i, 16);
        col->generated = PQgetvalue(res, i, 17)[0] == 't';
        col->default_expr = PQgetisnull(res, i, 18) ? NULL : PQgetvalue(res, i, 18);
        col->ident_key = PQgetvalue(res, i, 19)[0] == 't';
        col->replident = PQgetvalue(res, i, 20)[0];
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

/* Runs sql, reconnecting once when the connection broke. */
static PGresult *exec_retry(tw_catalog *c, const char *sql, int nparams, const char *const *params,
                            char *err, size_t errsize)
{
    PGresult *res = tw_pg_exec(c->conn, sql, nparams, params, err, errsize);
    if (!res && !c->in_snapshot && PQstatus(c->conn) != CONNECTION_OK) {
        PQreset(c->conn);
        res = tw_pg_exec(c->conn, sql, nparams, params, err, errsize);
    }
    return res;
}

/* Through exec_retry: a failover may well have cut the catalog session. */
int tw_catalog_in_recovery(tw_catalog *c, int *in_recovery, char *err, size_t errsize)
{
    PGresult *res = exec_retry(c, "SELECT pg_catalog.pg_is_in_recovery()", 0, NULL, err, errsize);
    if (!res)
        return -1;
    *in_recovery = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return 0;
}

int tw_catalog_published(tw_catalog *c, const char *pub, const tw_published_table **tabs,
                         int *ntabs, char *err, size_t errsize)
{
    /* Size and row estimate for snapshots: pages now (the relation may
     * have grown since a snapshot was taken), reltuples as of the last
     * VACUUM/ANALYZE (-1: never). Row filters exist from PostgreSQL 15. */
    static const char tabs_sql[] =
        "SELECT c.oid, pt.schemaname, pt.tablename, c.relkind, "
        "       pg_catalog.pg_relation_size(c.oid) / "
        "         pg_catalog.current_setting('block_size')::bigint, c.reltuples::bigint, %s "
        "FROM pg_catalog.pg_publication_tables pt "
        "JOIN pg_catalog.pg_namespace n ON n.nspname = pt.schemaname "
        "JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename "
        "WHERE pt.pubname = $1 ORDER BY 2, 3";
    /* Column lists (PostgreSQL 15+): attnames are the published columns. */
    static const char cols_sql[] =
        "SELECT c.oid, u.name FROM pg_catalog.pg_publication_tables pt "
        "JOIN pg_catalog.pg_namespace n ON n.nspname = pt.schemaname "
        "JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename, "
        "unnest(pt.attnames) WITH ORDINALITY AS u(name, i) "
        "WHERE pt.pubname = $1 ORDER BY 1, u.i";
    const char *params[1] = {pub};
    char sql[sizeof tabs_sql + 32];
    snprintf(sql, sizeof sql, tabs_sql,
             PQserverVersion(c->conn) >= 150000 ? "pt.rowfilter" : "NULL");
    PGresult *t = exec_retry(c, sql, 1, params, err, errsize);
    if (!t)
        return -1;
    PGresult *k = NULL;
    if (PQserverVersion(c->conn) >= 150000) {
        k = exec_retry(c, cols_sql, 1, params, err, errsize);
        if (!k) {
            PQclear(t);
            return -1;
        }
    }
    int n = PQntuples(t), nk = k ? PQntuples(k) : 0;
    tw_published_table *tab = calloc((size_t)n + 1, sizeof *tab);
    const char **names = calloc((size_t)nk + 1, sizeof *names);
    if (!tab || !names) {
        free(tab);
        free(names);
        PQclear(t);
        PQclear(k);
        snprintf(err, errsize, "out of memory");
        return -1;
    }
    uint32_t *krel = calloc((size_t)nk + 1, sizeof *krel);
    if (!krel) {
        free(tab);
        free(names);
        PQclear(t);
        PQclear(k);
        snprintf(err, errsize, "out of memory");
        return -1;
    }
    for (int i = 0; i < nk; i++) {
        names[i] = PQgetvalue(k, i, 1);
        krel[i] = (uint32_t)strtoul(PQgetvalue(k, i, 0), NULL, 10);
    }
    for (int i = 0; i < n; i++) {
        tab[i].relid = (uint32_t)strtoul(PQgetvalue(t, i, 0), NULL, 10);
        tab[i].nspname = PQgetvalue(t, i, 1);
        tab[i].relname = PQgetvalue(t, i, 2);
        tab[i].relkind = PQgetvalue(t, i, 3)[0];
        tab[i].pages = strtoll(PQgetvalue(t, i, 4), NULL, 10);
        tab[i].reltuples = strtoll(PQgetvalue(t, i, 5), NULL, 10);
        tab[i].rowfilter = PQgetisnull(t, i, 6) ? NULL : PQgetvalue(t, i, 6);
        if (!k)
            continue;
        /* rows of k are ordered by relid: binary search for this
         * table's run */
        int lo = 0, hi = nk;
        while (lo < hi) {
            int mid = lo + (hi - lo) / 2;
            if (krel[mid] < tab[i].relid)
                lo = mid + 1;
            else
                hi = mid;
        }
        int count = 0;
        while (lo + count < nk && krel[lo + count] == tab[i].relid)
            count++;
        tab[i].attnames = names + lo;
        tab[i].nattnames = count;
    }
    free(krel);
    PQclear(c->pub_tabs);
    PQclear(c->pub_cols);
    free(c->pub);
    free(c->pub_names);
    c->pub_tabs = t;
    c->pub_cols = k;
    c->pub = tab;
    c->pub_names = names;
    *tabs = tab;
    *ntabs = n;
    return 0;
}

int tw_catalog_current_lsn(tw_catalog *c, uint64_t *lsn, char *err, size_t errsize)
{
    PGresult *res = exec_retry(c,
                               "SELECT (CASE WHEN pg_catalog.pg_is_in_recovery() "
                               "THEN pg_catalog.pg_last_wal_replay_lsn() "
                               "ELSE pg_catalog.pg_current_wal_lsn() END "
                               "- '0/0'::pg_lsn)::numeric::text",
                               0, NULL, err, errsize);
    if (!res)
        return -1;
    *lsn = PQntuples(res) == 1 ? strtoull(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    return 0;
}

int tw_catalog_begin_snapshot(tw_catalog *c, char *err, size_t errsize)
{
    PGresult *res =
        exec_retry(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, err, errsize);
    if (!res)
        return -1;
    PQclear(res);
    c->in_snapshot = 1;
    return 0;
}

int tw_catalog_import_snapshot(tw_catalog *c, const char *name, char *err, size_t errsize)
{
    if (tw_catalog_begin_snapshot(c, err, errsize) != 0)
        return -1;
    /* SET TRANSACTION SNAPSHOT takes no parameters: a literal, escaped. */
    char *lit = PQescapeLiteral(c->conn, name, strlen(name));
    char sql[256];
    if (!lit || strlen(lit) > 200) {
        PQfreemem(lit);
        snprintf(err, errsize, "malformed snapshot name");
        tw_catalog_end_snapshot(c);
        return -1;
    }
    snprintf(sql, sizeof sql, "SET TRANSACTION SNAPSHOT %s", lit);
    PQfreemem(lit);
    PGresult *res = tw_pg_exec(c->conn, sql, 0, NULL, err, errsize);
    if (!res) {
        tw_catalog_end_snapshot(c);
        return -1;
    }
    PQclear(res);
    return 0;
}

int tw_catalog_export_snapshot(tw_catalog *c, char *name, size_t namesize, uint64_t *lsn, char *err,
                               size_t errsize)
{
    /* Read before the snapshot exists: never later than what it shows. */
    if (tw_catalog_current_lsn(c, lsn, err, errsize) != 0 ||
        tw_catalog_begin_snapshot(c, err, errsize) != 0)
        return -1;
    PGresult *res =
        tw_pg_exec(c->conn, "SELECT pg_catalog.pg_export_snapshot()", 0, NULL, err, errsize);
    if (!res) {
        tw_catalog_end_snapshot(c);
        return -1;
    }
    snprintf(name, namesize, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

int tw_catalog_lock_table(tw_catalog *c, uint32_t relid, const char *nspname, const char *relname,
                          char *err, size_t errsize)
{
    char *nsp = PQescapeIdentifier(c->conn, nspname, strlen(nspname));
    char *rel = PQescapeIdentifier(c->conn, relname, strlen(relname));
    char *sql = NULL;
    int rc = -1;
    if (nsp && rel && (sql = malloc(strlen(nsp) + strlen(rel) + 64)) != NULL) {
        sprintf(sql, "LOCK TABLE %s.%s IN ACCESS SHARE MODE", nsp, rel);
        PGresult *res = tw_pg_exec(c->conn, sql, 0, NULL, err, errsize);
        if (res) {
            PQclear(res);
            rc = 0;
        }
    } else {
        tw_pg_error(c->conn, err, errsize);
    }
    free(sql);
    PQfreemem(nsp);
    PQfreemem(rel);
    if (rc != 0)
        return -1;
    /* The snapshot's pg_class row against the relation as it is now
     * (locked): a rewrite committed since leaves the snapshot an empty
     * file to read. */
    char oid[16];
    snprintf(oid, sizeof oid, "%u", relid);
    const char *params[1] = {oid};
    PGresult *res =
        tw_pg_exec(c->conn,
                   "SELECT relfilenode = coalesce(pg_catalog.pg_relation_filenode(oid), "
                   "relfilenode) FROM pg_catalog.pg_class WHERE oid = $1::oid",
                   1, params, err, errsize);
    if (!res)
        return -1;
    int same = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (!same) {
        snprintf(err, errsize,
                 "table %s.%s was rewritten (ALTER TABLE, VACUUM FULL, CLUSTER or TRUNCATE) "
                 "after the snapshot was taken, so the snapshot cannot read its rows",
                 nspname, relname);
        return 1;
    }
    return 0;
}

const char *tw_catalog_host(tw_catalog *c)
{
    return PQhost(c->conn);
}

const char *tw_catalog_port(tw_catalog *c)
{
    return PQport(c->conn);
}

void tw_catalog_end_snapshot(tw_catalog *c)
{
    c->in_snapshot = 0;
    char err[256];
    PQclear(tw_pg_exec(c->conn, "ROLLBACK", 0, NULL, err, sizeof err));
}
