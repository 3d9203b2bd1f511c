/*
 * pgconn.h — every PostgreSQL session Tidewater opens goes through here, so
 * that each one, SQL or replication, is read-only and identifiable:
 *
 *   - `options=-c default_transaction_read_only=on` (appended to any options
 *     the user gave), so even a bug cannot write through a SQL session;
 *   - `application_name` = source.application_name;
 *   - source.password, when set, replaces a password in the conninfo;
 *   - connect_timeout from the caller unless the conninfo sets one.
 *
 * Ownership: returned PGconn / PGresult / strings belong to the caller
 * (PQfinish / PQclear / free).
 */
#ifndef TW_PGCONN_H
#define TW_PGCONN_H

#include <libpq-fe.h>
#include <stddef.h>

struct tw_config;

typedef struct {
    const char *host;    /* replaces host (and clears hostaddr) when non-NULL */
    const char *port;    /* replaces port when non-NULL */
    int replication;     /* open a `replication=database` walsender session */
    const char *options; /* more `-c name=value` settings for the session, or NULL */
} tw_pg_overrides;

/* Connects using source.conninfo (+ source.password) from cfg. Returns an
 * open connection, or NULL with libpq's reason in err. ovr may be NULL. */
PGconn *tw_pg_connect(const struct tw_config *cfg, const tw_pg_overrides *ovr, int timeout_s,
                      char *err, size_t errsize);

/* The notice receiver every session gets: server warnings and errors that
 * arrive outside a result (e.g. a FATAL before the server closes the
 * connection) become one log line (component postgres) instead of raw
 * text on stderr; notices go to debug. */
void tw_pg_log_notice(void *arg, const PGresult *res);

/* Runs sql with text parameters; returns the result when it succeeded
 * (tuples or command ok), otherwise NULL with the server's message in err. */
PGresult *tw_pg_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
                     char *err, size_t errsize);

/* Copy of conninfo with any password replaced by ********; NULL when
 * conninfo does not parse or memory runs out. Caller frees. */
char *tw_pg_redact_conninfo(const char *conninfo);

/* Is a connection failure one that retrying cannot cure (wrong password,
 * unknown database or role, no pg_hba.conf entry or one that rejects, a
 * server certificate not trusted or not for this host, a conninfo that does
 * not parse)? */
int tw_pg_error_is_permanent(const char *msg);

/* Copies libpq's message into err without the trailing newline. */
void tw_pg_error(PGconn *conn, char *err, size_t errsize);

#endif
