#include "agent/check.h"

#include "agent/config.h"
#include "agent/log.h"
#include "agent/registry_conf.h"
#include "agent/pgconn.h"
#include "sinks/kafka_conf.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef enum { ST_OK, ST_WARN, ST_FAIL, ST_SKIP } check_status;

typedef struct {
    FILE *out;
    int counts[4];
} check_report;

/* One line per check: status, name, finding; fix (may be NULL) follows. */
static void report(check_report *r, check_status st, const char *name, const char *fix,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void report(check_report *r, check_status st, const char *name, const char *fix,
                   const char *fmt, ...)
{
    static const char *const words[] = {"OK", "WARN", "FAIL", "SKIP"};
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* Keep each check on one line whatever the server said. */
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    fprintf(r->out, "%-5s %-24s %s%s%s\n", words[st], name, msg, fix ? " Fix: " : "",
            fix ? fix : "");
    fflush(r->out);
    r->counts[st]++;
}

/* Everything the PostgreSQL checks learn and share. */
typedef struct {
    const tw_config *cfg;
    PGconn *conn;
    int timeout_s;
    int version; /* PQserverVersion */
    int standby; /* pg_is_in_recovery() */
    char user[128];
    char db[128];
} pg_ctx;

static PGresult *query(pg_ctx *c, const char *sql, int nparams, const char *const *params,
                       char *err, size_t errsize)
{
    return tw_pg_exec(c->conn, sql, nparams, params, err, errsize);
}

static int show(pg_ctx *c, const char *guc, char *val, size_t valsize, char *err, size_t errsize)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SHOW %s", guc);
    PGresult *res = query(c, sql, 0, NULL, err, errsize);
    if (!res)
        return -1;
    snprintf(val, valsize, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

/* The fix for a failed connection, from libpq's message. */
static const char *connect_fix(const char *msg, int replication)
{
    if (strstr(msg, "password authentication failed") || strstr(msg, "no password supplied"))
        return "set the replication role's password in source.password_file (or "
               "source.password); the DBA sets it on the primary with ALTER ROLE ... PASSWORD.";
    if (strstr(msg, "source.conninfo does not parse"))
        return "correct source.conninfo: `key=value` pairs separated by spaces (values with "
               "spaces in single quotes), or a postgresql:// URI.";
    if (strstr(msg, "certificate verify failed"))
        return "the server's certificate is not signed by a CA in sslrootcert (or it has "
               "expired): set sslrootcert in source.conninfo to the PEM file of the CA that "
               "issued the server's certificate.";
    if (strstr(msg, "does not match host name"))
        return "connect with a host name the server's certificate was issued for (sslmode="
               "verify-full checks it), or have the certificate reissued with this name.";
    if (strstr(msg, "pg_hba.conf rejects connection") && strstr(msg, "no encryption"))
        return "this server admits the role only over TLS: add sslmode=verify-full and "
               "sslrootcert=<CA file> to source.conninfo.";
    if (strstr(msg, "no pg_hba.conf entry"))
        return replication
                   ? "add to pg_hba.conf of this server a line for the database itself (logical "
                     "replication connections match the database name, not 'replication'), e.g. "
                     "`host <dbname> <user> <agent address>/32 scram-sha-256`, then SELECT "
                     "pg_reload_conf();"
                   : "add to pg_hba.conf of this server `host <dbname> <user> <agent "
                     "address>/32 scram-sha-256`, then SELECT pg_reload_conf();";
    if (strstr(msg, "must be superuser or replication role") ||
        strstr(msg, "permission denied to start WAL sender") ||
        strstr(msg, "REPLICATION attribute"))
        return "on the primary: ALTER ROLE <user> REPLICATION;";
    if (strstr(msg, "exceeds max_wal_senders") || strstr(msg, "too many clients"))
        return "raise max_wal_senders (or max_connections) on this server and restart it.";
    if (strstr(msg, "does not exist"))
        return "check dbname and user in source.conninfo.";
    if (strstr(msg, "timeout") || strstr(msg, "Connection refused") ||
        strstr(msg, "could not connect") || strstr(msg, "could not translate host"))
        return "check host and port in source.conninfo, that the server is running, and that "
               "its listen_addresses and firewall admit this host.";
    return "see the server's message above and its log.";
}

static void check_version(check_report *r, pg_ctx *c)
{
    int min = c->standby ? 160000 : 140000;
    const char *role = c->standby ? "standby" : "primary";
    if (c->version < min) {
        report(r, ST_FAIL, "server_version",
               c->standby ? "upgrade the standby to PostgreSQL 16 or later (logical decoding "
                            "on a standby), or point source.conninfo at the primary (14+)."
                          : "upgrade to PostgreSQL 14 or later.",
               "PostgreSQL %d.%d on a %s; Tidewater needs %d+ here.", c->version / 10000,
               c->version % 10000, role, min / 10000);
        return;
    }
    report(r, ST_OK, "server_version", NULL, "PostgreSQL %d.%d (%s)", c->version / 10000,
           c->version % 10000, role);
}

static void check_wal_level(check_report *r, pg_ctx *c)
{
    char val[64], err[512];
    if (show(c, "wal_level", val, sizeof val, err, sizeof err) != 0) {
        report(r, ST_FAIL, "wal_level", NULL, "cannot read wal_level: %s", err);
        return;
    }
    if (strcmp(val, "logical") != 0) {
        report(r, ST_FAIL, "wal_level",
               c->standby ? "on this standby (and on its primary): ALTER SYSTEM SET wal_level = "
                            "logical; then restart PostgreSQL."
                          : "ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL.",
               "wal_level is '%s' on this %s; logical decoding needs 'logical'.", val,
               c->standby ? "standby" : "server");
        return;
    }
    report(r, ST_OK, "wal_level", NULL, "logical");
}

/* On a standby, decoding also needs wal_level=logical on the primary. The
 * standby knows its upstream (pg_stat_wal_receiver); the sender columns are
 * visible only to roles with pg_read_all_stats, so this may degrade to WARN. */
static void check_primary_wal_level(check_report *r, pg_ctx *c)
{
    char err[512];
    PGresult *res = query(c,
                          "SELECT sender_host, sender_port::text, status "
                          "FROM pg_catalog.pg_stat_wal_receiver",
                          0, NULL, err, sizeof err);
    if (!res) {
        report(r, ST_WARN, "primary_wal_level", NULL,
               "cannot read pg_stat_wal_receiver: %s. Make sure the primary has "
               "wal_level=logical.",
               err);
        return;
    }
    if (PQntuples(res) == 0) {
        report(r, ST_WARN, "primary_wal_level",
               "check primary_conninfo on the standby and that the primary is up.",
               "this standby has no WAL receiver running, so the primary cannot be checked.");
        PQclear(res);
        return;
    }
    if (PQgetisnull(res, 0, 0) || PQgetisnull(res, 0, 1)) {
        char fix[512];
        snprintf(fix, sizeof fix,
                 "on the primary: GRANT pg_read_all_stats TO %s; (lets check follow the standby "
                 "to its primary), or verify by hand that SHOW wal_level on the primary says "
                 "logical.",
                 c->user);
        report(r, ST_WARN, "primary_wal_level", fix,
               "role %s cannot see which primary the standby follows.", c->user);
        PQclear(res);
        return;
    }
    char host[256], port[16];
    snprintf(host, sizeof host, "%s", PQgetvalue(res, 0, 0));
    snprintf(port, sizeof port, "%s", PQgetvalue(res, 0, 1));
    PQclear(res);

    tw_pg_overrides ovr = {.host = host, .port = port, .replication = 0};
    PGconn *up = tw_pg_connect(c->cfg, &ovr, c->timeout_s, err, sizeof err);
    if (!up) {
        report(r, ST_WARN, "primary_wal_level",
               "make sure SHOW wal_level on the primary says logical.",
               "cannot connect to the primary %s:%s with this role: %s", host, port, err);
        return;
    }
    char val[64];
    res = tw_pg_exec(up, "SHOW wal_level", 0, NULL, err, sizeof err);
    if (!res) {
        report(r, ST_WARN, "primary_wal_level", NULL, "cannot read wal_level on %s:%s: %s", host,
               port, err);
    } else {
        snprintf(val, sizeof val, "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
        if (strcmp(val, "logical") != 0)
            report(r, ST_FAIL, "primary_wal_level",
                   "on the primary: ALTER SYSTEM SET wal_level = logical; then restart it.",
                   "the primary %s:%s has wal_level '%s'; decoding on a standby needs "
                   "'logical' on the primary.",
                   host, port, val);
        else
            report(r, ST_OK, "primary_wal_level", NULL, "logical on the primary %s:%s", host, port);
    }
    PQfinish(up);
}

static void check_hot_standby_feedback(check_report *r, pg_ctx *c)
{
    char val[64], err[512];
    if (show(c, "hot_standby_feedback", val, sizeof val, err, sizeof err) != 0) {
        report(r, ST_FAIL, "hot_standby_feedback", NULL, "cannot read it: %s", err);
        return;
    }
    if (strcmp(val, "on") != 0) {
        report(r, ST_FAIL, "hot_standby_feedback",
               "on the standby: ALTER SYSTEM SET hot_standby_feedback = on; SELECT "
               "pg_reload_conf(); (and give the standby a physical slot on the primary, "
               "primary_slot_name).",
               "hot_standby_feedback is '%s' on this standby: the primary may vacuum away "
               "catalog rows the slot still needs, and the slot gets invalidated.",
               val);
        return;
    }
    report(r, ST_OK, "hot_standby_feedback", NULL, "on");
}

static void check_role(check_report *r, pg_ctx *c)
{
    char err[512];
    PGresult *res = query(c,
                          "SELECT rolreplication, rolsuper FROM pg_catalog.pg_roles "
                          "WHERE rolname = current_user",
                          0, NULL, err, sizeof err);
    if (!res || PQntuples(res) != 1) {
        report(r, ST_FAIL, "replication_role", NULL, "cannot read the role: %s",
               res ? "role not found" : err);
        PQclear(res);
        return;
    }
    int repl = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    int super = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    PQclear(res);
    char fix[256];
    snprintf(fix, sizeof fix, "on the primary: ALTER ROLE %s REPLICATION;", c->user);
    if (super)
        report(r, ST_WARN, "replication_role",
               "use a dedicated role with only REPLICATION and SELECT on the published tables.",
               "role %s is a superuser; Tidewater never writes, but a least-privilege role is "
               "safer.",
               c->user);
    else if (!repl)
        report(r, ST_FAIL, "replication_role", fix,
               "role %s lacks the REPLICATION attribute needed to stream changes.", c->user);
    else
        report(r, ST_OK, "replication_role", NULL, "role %s has REPLICATION", c->user);
}

static void check_replication_connection(check_report *r, pg_ctx *c)
{
    char err[512];
    tw_pg_overrides ovr = {.replication = 1};
    PGconn *rc = tw_pg_connect(c->cfg, &ovr, c->timeout_s, err, sizeof err);
    if (!rc) {
        report(r, ST_FAIL, "replication_connection", connect_fix(err, 1),
               "cannot open a replication connection: %s", err);
        return;
    }
    PGresult *res = tw_pg_exec(rc, "IDENTIFY_SYSTEM", 0, NULL, err, sizeof err);
    if (!res) {
        report(r, ST_FAIL, "replication_connection", connect_fix(err, 1),
               "IDENTIFY_SYSTEM failed: %s", err);
    } else {
        report(r, ST_OK, "replication_connection", NULL, "system %s, timeline %s, WAL at %s",
               PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
        PQclear(res);
    }
    PQfinish(rc);
}

/* Publication, then its tables: replica identity and SELECT privilege. */
static void check_publication(check_report *r, pg_ctx *c)
{
    const char *pub = tw_config_str(c->cfg, TW_CFG_SOURCE_PUBLICATION);
    const char *params[1] = {pub};
    char err[512], fix[2048]; /* room for the offender lists below */
    PGresult *res = query(c,
                          "SELECT puballtables, pubinsert, pubupdate, pubdelete, pubtruncate "
                          "FROM pg_catalog.pg_publication WHERE pubname = $1",
                          1, params, err, sizeof err);
    if (!res) {
        report(r, ST_FAIL, "publication", NULL, "cannot read pg_publication: %s", err);
        return;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        res = query(c,
                    "SELECT coalesce(string_agg(quote_ident(pubname), ', ' ORDER BY pubname), "
                    "'none') FROM pg_catalog.pg_publication",
                    0, NULL, err, sizeof err);
        snprintf(fix, sizeof fix,
                 "on the primary, as the DBA: CREATE PUBLICATION %s FOR TABLE <schema.table>, "
                 "...; (or FOR TABLES IN SCHEMA <schema>), or set source.publication to an "
                 "existing one.",
                 pub);
        report(r, ST_FAIL, "publication", fix,
               "publication '%s' does not exist in database %s (existing: %s).", pub, c->db,
               res ? PQgetvalue(res, 0, 0) : "unknown");
        PQclear(res);
        report(r, ST_SKIP, "replica_identity", NULL, "no publication to inspect.");
        report(r, ST_SKIP, "select_privilege", NULL, "no publication to inspect.");
        return;
    }
    int all = PQgetvalue(res, 0, 0)[0] == 't';
    int upd = PQgetvalue(res, 0, 2)[0] == 't';
    int del = PQgetvalue(res, 0, 3)[0] == 't';
    char ops[64];
    snprintf(ops, sizeof ops, "%s%s%s%s", PQgetvalue(res, 0, 1)[0] == 't' ? " insert" : "",
             upd ? " update" : "", del ? " delete" : "",
             PQgetvalue(res, 0, 4)[0] == 't' ? " truncate" : "");
    PQclear(res);

    res = query(c,
                "SELECT quote_ident(n.nspname) || '.' || quote_ident(cl.relname), "
                "       cl.relreplident::text, "
                "       EXISTS (SELECT 1 FROM pg_catalog.pg_index i "
                "               WHERE i.indrelid = cl.oid AND i.indisprimary), "
                "       has_table_privilege(cl.oid, 'SELECT') "
                "FROM pg_catalog.pg_publication_tables pt "
                "JOIN pg_catalog.pg_namespace n ON n.nspname = pt.schemaname "
                "JOIN pg_catalog.pg_class cl ON cl.relnamespace = n.oid "
                "                            AND cl.relname = pt.tablename "
                "WHERE pt.pubname = $1 ORDER BY 1",
                1, params, err, sizeof err);
    if (!res) {
        report(r, ST_FAIL, "publication", NULL, "cannot list the publication's tables: %s", err);
        return;
    }
    int n = PQntuples(res);
    if (n == 0) {
        snprintf(fix, sizeof fix, "on the primary: ALTER PUBLICATION %s ADD TABLE <schema.table>;",
                 pub);
        report(r, ST_WARN, "publication", fix, "publication '%s' (%s) has no tables yet.", pub,
               ops + (ops[0] == ' '));
    } else {
        report(r, ST_OK, "publication", NULL, "'%s' publishes%s on %d table%s%s", pub, ops, n,
               n == 1 ? "" : "s", all ? " (FOR ALL TABLES)" : "");
    }

    /* Collect offenders into bounded lists; name at most a few of each. */
    char bad_ident[1024] = "", bad_fix[1024] = "", nokey[1024] = "", nosel[1024] = "";
    int n_bad = 0, n_nokey = 0, n_nosel = 0;
    for (int i = 0; i < n; i++) {
        const char *tbl = PQgetvalue(res, i, 0);
        char ident = PQgetvalue(res, i, 1)[0];
        int pk = PQgetvalue(res, i, 2)[0] == 't';
        int sel = PQgetvalue(res, i, 3)[0] == 't';
        size_t l;
        if (ident == 'n' || (ident == 'd' && !pk)) {
            if (n_bad++ < 5) {
                l = strlen(bad_ident);
                snprintf(bad_ident + l, sizeof bad_ident - l, "%s%s (%s)", l ? ", " : "", tbl,
                         ident == 'n' ? "REPLICA IDENTITY NOTHING" : "no primary key");
                l = strlen(bad_fix);
                snprintf(bad_fix + l, sizeof bad_fix - l, "%sALTER TABLE %s REPLICA IDENTITY FULL;",
                         l ? " " : "", tbl);
            }
        } else if (ident == 'f' && !pk) {
            if (n_nokey++ < 5) {
                l = strlen(nokey);
                snprintf(nokey + l, sizeof nokey - l, "%s%s", l ? ", " : "", tbl);
            }
        }
        if (!sel && n_nosel++ < 5) {
            l = strlen(nosel);
            snprintf(nosel + l, sizeof nosel - l, "%s%s", l ? ", " : "", tbl);
        }
    }
    PQclear(res);

    if (n_bad) {
        snprintf(fix, sizeof fix,
                 "on the primary, add a primary key, or %s (FULL logs whole old rows).", bad_fix);
        report(r, (upd || del) ? ST_FAIL : ST_WARN, "replica_identity", fix,
               "%d table%s without a usable replica identity: %s%s. %s", n_bad,
               n_bad == 1 ? "" : "s", bad_ident, n_bad > 5 ? ", ..." : "",
               (upd || del) ? "The primary rejects their UPDATE/DELETE while they are published, "
                              "and their changes cannot be keyed."
                            : "Their changes cannot be keyed.");
    } else if (n_nokey) {
        report(r, ST_WARN, "replica_identity",
               "add a primary key to give their Kafka messages a key.",
               "%d table%s with REPLICA IDENTITY FULL but no primary key get a null Kafka key "
               "(no compaction, no per-key ordering): %s%s",
               n_nokey, n_nokey == 1 ? "" : "s", nokey, n_nokey > 5 ? ", ..." : "");
    } else if (n > 0) {
        report(r, ST_OK, "replica_identity", NULL, "every published table has a key");
    }

    if (n_nosel) {
        snprintf(fix, sizeof fix, "on the primary: GRANT SELECT ON %s TO %s;", nosel, c->user);
        report(r, ST_FAIL, "select_privilege", fix,
               "role %s cannot SELECT %d published table%s (needed for snapshots and catalog "
               "checks): %s%s",
               c->user, n_nosel, n_nosel == 1 ? "" : "s", nosel, n_nosel > 5 ? ", ..." : "");
    } else if (n > 0) {
        report(r, ST_OK, "select_privilege", NULL, "role %s can SELECT every published table",
               c->user);
    }
}

static void check_slot(check_report *r, pg_ctx *c)
{
    const char *slot = tw_config_str(c->cfg, TW_CFG_SLOT_NAME);
    const char *params[1] = {slot};
    char err[512], fix[512], sql[1024];
    /* Columns by version: conflicting (16+), invalidation_reason (17+). */
    snprintf(sql, sizeof sql,
             "SELECT slot_type, coalesce(plugin, ''), coalesce(database::text, ''), "
             "       active, coalesce(active_pid::text, ''), coalesce(wal_status, ''), "
             "       coalesce(safe_wal_size::text, ''), coalesce(confirmed_flush_lsn::text, ''), "
             "       %s, %s, current_database() "
             "FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
             c->version >= 160000 ? "coalesce(conflicting, false)" : "false",
             c->version >= 170000 ? "coalesce(invalidation_reason, '')" : "''");
    PGresult *res = query(c, sql, 1, params, err, sizeof err);
    if (!res) {
        report(r, ST_FAIL, "slot", NULL, "cannot read pg_replication_slots: %s", err);
        return;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        res = query(c,
                    "SELECT (SELECT count(*) FROM pg_catalog.pg_replication_slots), "
                    "       current_setting('max_replication_slots')::int",
                    0, NULL, err, sizeof err);
        if (res && atoi(PQgetvalue(res, 0, 0)) >= atoi(PQgetvalue(res, 0, 1))) {
            report(r, ST_FAIL, "slot",
                   "raise max_replication_slots on this server and restart it, or drop an "
                   "unused slot.",
                   "slot '%s' does not exist and all %s replication slots are in use.", slot,
                   PQgetvalue(res, 0, 1));
        } else if (c->standby) {
            report(r, ST_OK, "slot", NULL,
                   "'%s' does not exist yet; `tidewater run` creates it. On a standby, "
                   "creation waits for the primary to log a running-transactions record: the "
                   "DBA can run SELECT pg_log_standby_snapshot(); on the primary once to "
                   "speed it up.",
                   slot);
        } else {
            report(r, ST_OK, "slot", NULL, "'%s' does not exist yet; `tidewater run` creates it.",
                   slot);
        }
        PQclear(res);
        return;
    }
    const char *type = PQgetvalue(res, 0, 0), *plugin = PQgetvalue(res, 0, 1);
    const char *active = PQgetvalue(res, 0, 3), *pid = PQgetvalue(res, 0, 4);
    const char *wal_status = PQgetvalue(res, 0, 5), *safe = PQgetvalue(res, 0, 6);
    const char *flush = PQgetvalue(res, 0, 7);
    int conflicting = PQgetvalue(res, 0, 8)[0] == 't';
    const char *reason = PQgetvalue(res, 0, 9);
    snprintf(fix, sizeof fix,
             "choose another slot.name, or if nothing else uses it: SELECT "
             "pg_drop_replication_slot('%s'); on this server.",
             slot);
    if (strcmp(type, "logical") != 0 || strcmp(plugin, "pgoutput") != 0) {
        report(r, ST_FAIL, "slot", fix,
               "slot '%s' exists but is a %s slot with plugin '%s'; Tidewater needs a logical "
               "pgoutput slot.",
               slot, type, plugin);
    } else if (strcmp(wal_status, "lost") == 0 || conflicting || reason[0]) {
        char fix2[768];
        snprintf(fix2, sizeof fix2,
                 "the changes since the slot's position are gone: drop it (SELECT "
                 "pg_drop_replication_slot('%s');) and restart with snapshot.mode=when_needed "
                 "to re-read the tables; raise max_slot_wal_keep_size and keep "
                 "hot_standby_feedback=on so it does not recur.",
                 slot);
        report(r, ST_FAIL, "slot", fix2, "slot '%s' is invalidated (wal_status=%s%s%s%s).", slot,
               wal_status, conflicting ? ", conflicting" : "", reason[0] ? ", reason=" : "",
               reason);
    } else if (strcmp(active, "t") == 0) {
        report(r, ST_WARN, "slot",
               "stop the other consumer; only one agent may stream from a slot.",
               "slot '%s' is in use by another process (pid %s).", slot, pid);
    } else if (strcmp(wal_status, "unreserved") == 0) {
        report(r, ST_WARN, "slot", "start the agent soon, or raise max_slot_wal_keep_size.",
               "slot '%s' is about to lose WAL it needs (wal_status=unreserved, "
               "safe_wal_size=%s bytes).",
               slot, safe);
    } else {
        report(r, ST_OK, "slot", NULL,
               "'%s' is logical pgoutput, wal_status=%s, confirmed flush %s", slot, wal_status,
               flush[0] ? flush : "none");
    }
    PQclear(res);
}

static void check_wal_keep(check_report *r, pg_ctx *c)
{
    char val[64], err[512];
    if (show(c, "max_slot_wal_keep_size", val, sizeof val, err, sizeof err) != 0) {
        report(r, ST_WARN, "max_slot_wal_keep_size", NULL, "cannot read it: %s", err);
        return;
    }
    if (strcmp(val, "-1") == 0)
        report(r, ST_OK, "max_slot_wal_keep_size", NULL,
               "-1 (unlimited): the slot is never invalidated, but WAL kept for a stopped "
               "agent can fill the disk; alert on slot lag.");
    else
        report(r, ST_OK, "max_slot_wal_keep_size", NULL,
               "%s: if the agent falls this far behind, the slot is invalidated and a new "
               "snapshot is needed.",
               val);
}

static void check_postgres(check_report *r, const tw_config *cfg)
{
    pg_ctx c = {.cfg = cfg};
    char err[1024];
    c.timeout_s = (int)((tw_config_int(cfg, TW_CFG_CHECK_TIMEOUT_MS) + 999) / 1000);
    if (c.timeout_s < 2)
        c.timeout_s = 2; /* libpq's minimum connect_timeout */

    c.conn = tw_pg_connect(cfg, NULL, c.timeout_s, err, sizeof err);
    if (!c.conn) {
        report(r, ST_FAIL, "connection", connect_fix(err, 0), "cannot connect: %s", err);
        report(r, ST_SKIP, "postgres", NULL, "the remaining PostgreSQL checks need a connection.");
        return;
    }
    c.version = PQserverVersion(c.conn);
    snprintf(c.user, sizeof c.user, "%s", PQuser(c.conn));
    snprintf(c.db, sizeof c.db, "%s", PQdb(c.conn));
    PGresult *res = tw_pg_exec(c.conn, "SELECT pg_is_in_recovery()", 0, NULL, err, sizeof err);
    if (!res) {
        report(r, ST_FAIL, "connection", NULL, "connected, but a query failed: %s", err);
        goto done;
    }
    c.standby = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    report(r, ST_OK, "connection", NULL, "connected to %s:%s database %s as %s (%s)",
           PQhost(c.conn), PQport(c.conn), c.db, c.user,
           c.standby ? "standby, in recovery" : "primary");

    check_version(r, &c);
    check_wal_level(r, &c);
    if (c.standby) {
        check_primary_wal_level(r, &c);
        check_hot_standby_feedback(r, &c);
    }
    check_role(r, &c);
    check_replication_connection(r, &c);
    check_publication(r, &c);
    check_slot(r, &c);
    check_wal_keep(r, &c);
done:
    PQfinish(c.conn);
}

/* librdkafka reports why it cannot reach a broker through error_cb, served
 * by rd_kafka_poll() on this thread; keep the latest message. */
typedef struct {
    char last[512];
} kafka_probe;

static void kafka_probe_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    kafka_probe *p = opaque;
    snprintf(p->last, sizeof p->last, "%s (%s)", reason, rd_kafka_err2str(err));
}

static void check_kafka(check_report *r, const tw_config *cfg)
{
    char err[1024];
    const char *servers = tw_config_str(cfg, TW_CFG_KAFKA_BOOTSTRAP_SERVERS);
    int timeout_ms = (int)tw_config_int(cfg, TW_CFG_CHECK_TIMEOUT_MS);
    kafka_probe probe = {.last = ""};
    rd_kafka_conf_t *conf = kafka_conf_build(cfg, "tidewater-check", NULL, err, sizeof err);
    if (!conf) {
        report(r, ST_FAIL, "kafka", "correct the kafka.* setting named above.", "%s", err);
        return;
    }
    /* librdkafka's connection errors would otherwise flood stderr; the
     * result line below says what went wrong. */
    if (!tw_log_enabled(TW_LOG_DEBUG))
        rd_kafka_conf_set(conf, "log_level", "0", NULL, 0);
    rd_kafka_conf_set_error_cb(conf, kafka_probe_error_cb);
    rd_kafka_conf_set_opaque(conf, &probe);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        report(r, ST_FAIL, "kafka", "correct the kafka.* settings.", "cannot create a client: %s",
               err);
        return;
    }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms);
    rd_kafka_poll(rk, 0);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        report(r, ST_FAIL, "kafka",
               "check kafka.bootstrap.servers, that the brokers listen there and admit this "
               "host, and kafka.security.protocol / kafka.sasl.* for the listener.",
               "cannot reach Kafka at %s within %d ms: %s%s%s", servers, timeout_ms,
               rd_kafka_err2str(e), probe.last[0] ? "; last error: " : "", probe.last);
    } else {
        char *cluster = rd_kafka_clusterid(rk, timeout_ms);
        report(r, ST_OK, "kafka", NULL, "%d broker%s reachable at %s (cluster %s)", md->broker_cnt,
               md->broker_cnt == 1 ? "" : "s", servers, cluster ? cluster : "unknown");
        if (cluster)
            rd_kafka_mem_free(rk, cluster);
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_destroy(rk);
}

static void check_registry(check_report *r, const tw_config *cfg)
{
    char err[1024];
    tw_registry *reg = tw_registry_from_config(cfg, err, sizeof err);
    if (!reg && !err[0]) {
        report(r, ST_SKIP, "schema_registry", NULL,
               "schema.registry.url is not set: Avro single-object encoding.");
        return;
    }
    if (!reg) {
        report(r, ST_FAIL, "schema_registry", "correct schema.registry.url.", "%s", err);
        return;
    }
    tw_reg_status st = tw_registry_ping(reg, err, sizeof err);
    if (st == TW_REG_OK)
        report(r, ST_OK, "schema_registry", NULL, "%s answers (GET /config)",
               tw_registry_shown(reg));
    else
        report(r, ST_FAIL, "schema_registry",
               st == TW_REG_AUTH ? "set schema.registry.basic.auth.user.info(_file) to "
                                   "credentials the registry accepts."
               : st == TW_REG_UNAVAILABLE
                   ? "check that the registry runs and listens at schema.registry.url."
                   : "check schema.registry.url and the schema.registry.ssl.* settings.",
               "%s", err);
    tw_registry_free(reg);
}

int tw_check_run(const tw_config *cfg, FILE *out)
{
    check_report r = {.out = out};
    check_postgres(&r, cfg);
    check_kafka(&r, cfg);
    check_registry(&r, cfg);
    fprintf(out, "check: %d ok, %d warn, %d fail, %d skipped\n", r.counts[ST_OK], r.counts[ST_WARN],
            r.counts[ST_FAIL], r.counts[ST_SKIP]);
    return r.counts[ST_FAIL];
}
