#include "agent/pgconn.h"

#include "agent/config.h"
#include "agent/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define READ_ONLY_OPTION "-c default_transaction_read_only=on"

static void copy_trimmed(const char *msg, char *err, size_t errsize)
{
    snprintf(err, errsize, "%s", msg ? msg : "unknown error");
    size_t n = strlen(err);
    while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
        err[--n] = '\0';
}

int tw_pg_error_is_permanent(const char *msg)
{
    return strstr(msg, "authentication failed") || strstr(msg, "does not exist") ||
           strstr(msg, "no pg_hba.conf entry") || strstr(msg, "no password supplied") ||
           strstr(msg, "pg_hba.conf rejects connection") || strstr(msg, "does not parse") ||
           /* TLS: the server's certificate is not trusted or not for this host. */
           strstr(msg, "certificate verify failed") || strstr(msg, "does not match host name");
}

void tw_pg_error(PGconn *conn, char *err, size_t errsize)
{
    copy_trimmed(conn ? PQerrorMessage(conn) : "out of memory", err, errsize);
}

void tw_pg_log_notice(void *arg, const PGresult *res)
{
    (void)arg;
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
    int quiet = sev && (strcmp(sev, "NOTICE") == 0 || strcmp(sev, "DEBUG") == 0 ||
                        strcmp(sev, "LOG") == 0 || strcmp(sev, "INFO") == 0);
    tw_log(quiet ? TW_LOG_DEBUG : TW_LOG_WARN, "postgres", "server %s (SQLSTATE %s): %s%s%s",
           sev ? sev : "message", st ? st : "?", msg ? msg : "", detail ? " " : "",
           detail ? detail : "");
}

/* Does this connection string carry a password: a `password` keyword, or
 * a URI whose user part has `user:password@`? */
static int conninfo_has_password(const char *conninfo)
{
    for (const char *p = conninfo; *p; p++)
        if (strncasecmp(p, "password", 8) == 0)
            return 1;
    const char *scheme = strstr(conninfo, "://");
    if (!scheme)
        return 0;
    const char *auth = scheme + 3, *at = strchr(auth, '@');
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    return colon != NULL;
}

static int is_conninfo_keyword(const char *s, size_t n)
{
    PQconninfoOption *defs = PQconndefaults();
    int found = 0;
    for (PQconninfoOption *o = defs; o && o->keyword && !found; o++)
        found = strlen(o->keyword) == n && strncmp(o->keyword, s, n) == 0;
    PQconninfoFree(defs);
    return found;
}

/* libpq's reason why conninfo does not parse, into err. libpq quotes the
 * piece it choked on, and that piece can be (part of) a password: a
 * malformed percent-escape or a space in `user:pw@`, or `password=two
 * words`. When conninfo carries a password, every quoted piece that is not
 * a connection option's name is withheld. */
static void parse_error(const char *conninfo, const char *perr, char *err, size_t errsize)
{
    int n = snprintf(err, errsize, "source.conninfo does not parse: ");
    if (n < 0 || (size_t)n >= errsize)
        return;
    size_t len = (size_t)n;
    const char *msg = perr ? perr : "out of memory";
    int hide = conninfo_has_password(conninfo), hidden = 0;
    for (const char *p = msg; *p && len + 1 < errsize;) {
        const char *end = *p == '"' && hide ? strchr(p + 1, '"') : NULL;
        if (end) {
            size_t qlen = (size_t)(end - p - 1);
            int show = (qlen == 1 && p[1] == '=') || is_conninfo_keyword(p + 1, qlen);
            /* A password may itself hold a '"': withhold up to the message's
             * last quote, not the next one. */
            if (!show)
                end = strrchr(p + 1, '"');
            len += (size_t)snprintf(err + len, errsize - len, "\"%.*s\"", show ? (int)qlen : 10,
                                    show ? p + 1 : "(withheld)");
            len = len < errsize ? len : errsize - 1;
            hidden |= !show;
            p = end + 1;
            continue;
        }
        err[len++] = *p++;
        err[len] = '\0';
    }
    while (len > 0 && (err[len - 1] == '\n' || err[len - 1] == ' '))
        err[--len] = '\0';
    if (hidden)
        snprintf(err + len, errsize - len,
                 " (quoted text withheld: the string holds a password; keeping the password in "
                 "source.password_file avoids this)");
}

PGconn *tw_pg_connect(const struct tw_config *cfg, const tw_pg_overrides *ovr, int timeout_s,
                      char *err, size_t errsize)
{
    const char *conninfo = tw_config_str(cfg, TW_CFG_SOURCE_CONNINFO);
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
    if (!opts) {
        parse_error(conninfo, perr, err, errsize);
        PQfreemem(perr);
        return NULL;
    }

    /* Parsed options, then ours; at most 8 extra entries. */
    size_t n = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        n++;
    const char **keys = calloc(n + 9, sizeof *keys);
    const char **vals = calloc(n + 9, sizeof *vals);
    char *options = NULL;
    char timeout[16];
    PGconn *conn = NULL;
    if (!keys || !vals) {
        snprintf(err, errsize, "out of memory");
        goto done;
    }

    const char *user_options = NULL;
    int have_timeout = 0;
    size_t i = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val)
            continue;
        if (strcmp(o->keyword, "options") == 0) {
            user_options = o->val;
            continue;
        }
        if (strcmp(o->keyword, "application_name") == 0 ||
            strcmp(o->keyword, "fallback_application_name") == 0 ||
            strcmp(o->keyword, "replication") == 0)
            continue;
        if (strcmp(o->keyword, "password") == 0 && tw_config_str(cfg, TW_CFG_SOURCE_PASSWORD))
            continue;
        if (ovr && ovr->host &&
            (strcmp(o->keyword, "host") == 0 || strcmp(o->keyword, "hostaddr") == 0))
            continue;
        if (ovr && ovr->port && strcmp(o->keyword, "port") == 0)
            continue;
        if (strcmp(o->keyword, "connect_timeout") == 0)
            have_timeout = 1;
        keys[i] = o->keyword;
        vals[i] = o->val;
        i++;
    }

    const char *extra = ovr && ovr->options ? ovr->options : NULL;
    size_t olen = (user_options ? strlen(user_options) + 1 : 0) + (extra ? strlen(extra) + 1 : 0) +
                  sizeof READ_ONLY_OPTION;
    options = malloc(olen);
    if (!options) {
        snprintf(err, errsize, "out of memory");
        goto done;
    }
    /* Ours last: a later -c wins, so the user cannot turn read-only off. */
    snprintf(options, olen, "%s%s%s%s%s", user_options ? user_options : "", user_options ? " " : "",
             extra ? extra : "", extra ? " " : "", READ_ONLY_OPTION);
    keys[i] = "options";
    vals[i++] = options;
    keys[i] = "application_name";
    vals[i++] = tw_config_str(cfg, TW_CFG_SOURCE_APPLICATION_NAME);
    if (tw_config_str(cfg, TW_CFG_SOURCE_PASSWORD)) {
        keys[i] = "password";
        vals[i++] = tw_config_str(cfg, TW_CFG_SOURCE_PASSWORD);
    }
    if (!have_timeout && timeout_s > 0) {
        snprintf(timeout, sizeof timeout, "%d", timeout_s);
        keys[i] = "connect_timeout";
        vals[i++] = timeout;
    }
    if (ovr && ovr->host) {
        keys[i] = "host";
        vals[i++] = ovr->host;
    }
    if (ovr && ovr->port) {
        keys[i] = "port";
        vals[i++] = ovr->port;
    }
    if (ovr && ovr->replication) {
        keys[i] = "replication";
        vals[i++] = "database";
    }
    keys[i] = NULL;
    vals[i] = NULL;

    conn = PQconnectdbParams(keys, vals, 0);
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        tw_pg_error(conn, err, errsize);
        PQfinish(conn);
        conn = NULL;
    } else {
        PQsetNoticeReceiver(conn, tw_pg_log_notice, NULL);
    }
done:
    free(options);
    free(keys);
    free(vals);
    PQconninfoFree(opts);
    return conn;
}

PGresult *tw_pg_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
                     char *err, size_t errsize)
{
    PGresult *res =
        nparams ? PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0) : PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return res;
    const char *msg = res ? PQresultErrorMessage(res) : NULL;
    copy_trimmed(msg && *msg ? msg : PQerrorMessage(conn), err, errsize);
    PQclear(res);
    return NULL;
}

char *tw_pg_redact_conninfo(const char *conninfo)
{
    PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
    if (!opts)
        return NULL;
    size_t cap = 1, len = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (o->val)
            cap += strlen(o->keyword) + 2 * strlen(o->val) + 16;
    char *out = malloc(cap);
    if (!out)
        goto done;
    out[0] = '\0';
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val)
            continue;
        const char *v = strcmp(o->keyword, "password") == 0 ? "********" : o->val;
        len += (size_t)snprintf(out + len, cap - len, "%s%s='", len ? " " : "", o->keyword);
        for (const char *p = v; *p; p++) {
            if (*p == '\'' || *p == '\\')
                out[len++] = '\\';
            out[len++] = *p;
        }
        out[len++] = '\'';
        out[len] = '\0';
    }
done:
    PQconninfoFree(opts);
    return out;
}
