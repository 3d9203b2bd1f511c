#include "agent/stream.h"

#include "agent/config.h"
#include "agent/log.h"
#include "agent/pgconn.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Microseconds between the Unix epoch and PostgreSQL's (2000-01-01). */
#define PG_EPOCH_OFFSET_US INT64_C(946684800000000)

struct tw_stream {
    PGconn *conn;
    const char *slot, *publication; /* the configuration's */
    int in_snapshot;                /* the slot's snapshot transaction is open */
    tw_stream_info info;
    char *copybuf;          /* last PQgetCopyData buffer, freed on the next call */
    uint64_t last_received; /* highest data_start seen: the "write" position */
    int flush_pending;      /* a status update is still in libpq's output buffer */
};

char *tw_lsn_str(uint64_t lsn, char *buf, size_t bufsize)
{
    snprintf(buf, bufsize, "%X/%X", (unsigned)(lsn >> 32), (unsigned)lsn);
    return buf;
}

int tw_lsn_parse(const char *s, uint64_t *lsn)
{
    unsigned hi, lo;
    int n = 0;
    if (sscanf(s, "%X/%X%n", &hi, &lo, &n) != 2 || s[n] != '\0')
        return -1;
    *lsn = ((uint64_t)hi << 32) | lo;
    return 0;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

static int64_t now_pg_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - PG_EPOCH_OFFSET_US;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Slot names are validated here because they are spliced into replication
 * commands, which take no parameters. */
static int valid_slot_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

/* Waits for a query sent with PQsendQuery, aborting on *stop; on a standby
 * the slot creation can wait for minutes, so say why now and then. */
static PGresult *wait_result(PGconn *conn, volatile sig_atomic_t *stop, const char *waiting_msg,
                             char *err, size_t errsize)
{
    int64_t start = now_ms(), last_note = start;
    while (PQisBusy(conn)) {
        if (stop && *stop) {
            PGcancel *c = PQgetCancel(conn);
            char cerr[256];
            if (c) {
                PQcancel(c, cerr, sizeof cerr);
                PQfreeCancel(c);
            }
            snprintf(err, errsize, "interrupted while %s", waiting_msg ? waiting_msg : "waiting");
            return NULL;
        }
        struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
        int pr = poll(&pfd, 1, 500);
        if (pr < 0 && errno != EINTR) {
            snprintf(err, errsize, "poll: %s", strerror(errno));
            return NULL;
        }
        if (pr > 0 && !PQconsumeInput(conn)) {
            tw_pg_error(conn, err, errsize);
            return NULL;
        }
        if (waiting_msg && now_ms() - last_note >= 10000) {
            last_note = now_ms();
            tw_info("stream", "still %s after %" PRId64 " s", waiting_msg,
                    (last_note - start) / 1000);
        }
    }
    PGresult *res = PQgetResult(conn), *extra;
    while ((extra = PQgetResult(conn)) != NULL)
        PQclear(extra);
    return res;
}

static int proto_for(int server_version)
{
    return server_version >= 160000 ? 4 : server_version >= 150000 ? 3 : 2;
}

/* What an invalidation_reason of pg_replication_slots (17+) means, as a
 * suffix for the message; "" for one not known here. */
static const char *invalidation_meaning(const char *reason)
{
    if (strcmp(reason, "wal_removed") == 0)
        return ": the server removed WAL the slot still needed (max_slot_wal_keep_size)";
    if (strcmp(reason, "rows_removed") == 0)
        return ": the primary removed catalog rows the slot still needed (on a standby: "
               "hot_standby_feedback off, or no physical slot on the primary)";
    if (strcmp(reason, "wal_level_insufficient") == 0)
        return ": wal_level on the primary is below logical";
    if (strcmp(reason, "idle_timeout") == 0)
        return ": unused for longer than idle_replication_slot_timeout";
    return "";
}

/* Looks at slot.name: absent, usable (slot_lsn = its confirmed flush
 * position) or invalidated. A slot of another kind is an error. */
static int inspect_slot(tw_stream *s, char *err, size_t errsize)
{
    char sql[1024], lsn[32];
    const char *slot = s->slot;
    snprintf(sql, sizeof sql,
             "SELECT slot_type, coalesce(plugin, ''), coalesce(database = current_database(), "
             "false), coalesce(wal_status, ''), coalesce(confirmed_flush_lsn::text, ''), %s, %s "
             "FROM pg_catalog.pg_replication_slots WHERE slot_name = '%s'",
             s->info.server_version >= 160000 ? "coalesce(conflicting, false)" : "false",
             s->info.server_version >= 170000 ? "coalesce(invalidation_reason, '')" : "''", slot);
    PGresult *res = tw_pg_exec(s->conn, sql, 0, NULL, err, errsize);
    if (!res)
        return -1;
    s->info.slot_state = TW_SLOT_ABSENT;
    s->info.slot_lsn = 0;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return 0;
    }
    const char *type = PQgetvalue(res, 0, 0), *plugin = PQgetvalue(res, 0, 1);
    int same_db = PQgetvalue(res, 0, 2)[0] == 't';
    const char *wal_status = PQgetvalue(res, 0, 3);
    int conflicting = PQgetvalue(res, 0, 5)[0] == 't';
    const char *reason = PQgetvalue(res, 0, 6);
    int rc = -1;
    if (strcmp(type, "logical") != 0 || strcmp(plugin, "pgoutput") != 0 || !same_db) {
        snprintf(err, errsize,
                 "slot '%s' exists but is not a logical pgoutput slot of this database "
                 "(type %s, plugin '%s'); choose another slot.name",
                 slot, type, plugin);
    } else if (strcmp(wal_status, "lost") == 0 || conflicting || reason[0]) {
        s->info.slot_state = TW_SLOT_INVALIDATED;
        snprintf(s->info.slot_invalid_why, sizeof s->info.slot_invalid_why, "wal_status=%s%s%s%s%s",
                 wal_status, conflicting ? ", conflicting" : "",
                 reason[0] ? ", invalidation_reason=" : "", reason, invalidation_meaning(reason));
        rc = 0;
    } else if (tw_lsn_parse(PQgetvalue(res, 0, 4), &s->info.slot_lsn) != 0) {
        snprintf(err, errsize, "slot '%s' has no confirmed flush position", slot);
    } else {
        s->info.slot_state = TW_SLOT_USABLE;
        rc = 0;
    }
    PQclear(res);
    if (rc == 0 && s->info.slot_state == TW_SLOT_USABLE)
        tw_info("stream", "using replication slot '%s' at %s", slot,
                tw_lsn_str(s->info.slot_lsn, lsn, sizeof lsn));
    return rc;
}

/* Runs a command that must succeed, dropping its result. */
static int run_cmd(tw_stream *s, const char *sql, char *err, size_t errsize)
{
    PGresult *res = tw_pg_exec(s->conn, sql, 0, NULL, err, errsize);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

int tw_stream_create_slot(tw_stream *s, volatile sig_atomic_t *stop, char *snapshot_name,
                          size_t snapshot_size, char *err, size_t errsize)
{
    char sql[1024], lsn[32];
    const char *slot = s->slot;
    int pg15 = s->info.server_version >= 150000;
    if (snapshot_name) {
        /* The snapshot the slot's consistent point belongs to becomes this
         * transaction's; it must be read-only, REPEATABLE READ, and have
         * run no query yet. */
        if (run_cmd(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err, errsize) != 0)
            return -1;
        s->in_snapshot = 1;
        snprintf(sql, sizeof sql,
                 pg15 ? "CREATE_REPLICATION_SLOT \"%s\" LOGICAL pgoutput (SNAPSHOT 'use')"
                      : "CREATE_REPLICATION_SLOT \"%s\" LOGICAL pgoutput USE_SNAPSHOT",
                 slot);
    } else {
        snprintf(sql, sizeof sql,
                 pg15 ? "CREATE_REPLICATION_SLOT \"%s\" LOGICAL pgoutput (SNAPSHOT 'nothing')"
                      : "CREATE_REPLICATION_SLOT \"%s\" LOGICAL pgoutput NOEXPORT_SNAPSHOT",
                 slot);
    }
    if (s->info.standby)
        tw_info("stream",
                "creating replication slot '%s' on the standby; this waits for the primary to "
                "log a running-transactions record (immediate after SELECT "
                "pg_log_standby_snapshot(); on the primary, otherwise up to 15 s when the "
                "primary is busy, longer when idle)",
                slot);
    if (!PQsendQuery(s->conn, sql)) {
        tw_pg_error(s->conn, err, errsize);
        return -1;
    }
    char waiting[128];
    snprintf(waiting, sizeof waiting, "creating replication slot '%s'", slot);
    PGresult *res = wait_result(s->conn, stop, waiting, err, errsize);
    if (!res)
        return -1;
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        snprintf(err, errsize, "cannot create replication slot '%s'%s: %s", slot,
                 snapshot_name ? " with a snapshot to read the tables in" : "",
                 PQresultErrorMessage(res));
        size_t n = strlen(err);
        while (n && err[n - 1] == '\n')
            err[--n] = '\0';
        PQclear(res);
        return -1;
    }
    if (tw_lsn_parse(PQgetvalue(res, 0, 1), &s->info.slot_lsn) != 0) {
        snprintf(err, errsize, "CREATE_REPLICATION_SLOT returned a malformed LSN '%s'",
                 PQgetvalue(res, 0, 1));
        PQclear(res);
        return -1;
    }
    PQclear(res);
    s->info.slot_created = 1;
    s->info.slot_state = TW_SLOT_USABLE;
    tw_info("stream", "created replication slot '%s'; changes are captured from %s", slot,
            tw_lsn_str(s->info.slot_lsn, lsn, sizeof lsn));
    if (!snapshot_name)
        return 0;
    /* Worker sessions import it with SET TRANSACTION SNAPSHOT. */
    res = tw_pg_exec(s->conn, "SELECT pg_catalog.pg_export_snapshot()", 0, NULL, err, errsize);
    if (!res) {
        char why[512];
        snprintf(why, sizeof why, "%s", err);
        snprintf(err, errsize,
                 "PostgreSQL %d.%d refused to export the slot's snapshot to worker sessions "
                 "(%s); set snapshot.mode=never, or tail a server that allows it",
                 s->info.server_version / 10000, s->info.server_version % 10000, why);
        return -1;
    }
    snprintf(snapshot_name, snapshot_size, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

int tw_stream_end_snapshot(tw_stream *s, char *err, size_t errsize)
{
    if (!s->in_snapshot)
        return 0;
    s->in_snapshot = 0;
    return run_cmd(s, "COMMIT", err, errsize);
}

int tw_stream_drop_slot(tw_stream *s, char *err, size_t errsize)
{
    char sql[128];
    snprintf(sql, sizeof sql, "DROP_REPLICATION_SLOT \"%s\"", s->slot);
    if (run_cmd(s, sql, err, errsize) != 0)
        return -1;
    tw_info("stream", "dropped replication slot '%s'", s->slot);
    s->info.slot_state = TW_SLOT_ABSENT;
    s->info.slot_lsn = 0;
    return 0;
}

tw_stream *tw_stream_connect(const tw_config *cfg, int *retriable, char *err, size_t errsize)
{
    int dummy;
    if (!retriable)
        retriable = &dummy;
    *retriable = 0;
    const char *slot = tw_config_str(cfg, TW_CFG_SLOT_NAME);
    if (!valid_slot_name(slot)) {
        snprintf(err, errsize,
                 "slot.name '%s' must be 1 to 63 lower-case letters, digits or underscores", slot);
        return NULL;
    }
    tw_stream *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errsize, "out of memory");
        return NULL;
    }
    s->slot = slot;
    s->publication = tw_config_str(cfg, TW_CFG_SOURCE_PUBLICATION);
    tw_pg_overrides ovr = {.replication = 1, .options = TW_STREAM_FORMAT_OPTIONS};
    s->conn = tw_pg_connect(cfg, &ovr, 10, err, errsize);
    if (!s->conn) {
        /* Wrong credentials do not fix themselves; anything else may. */
        *retriable = !tw_pg_error_is_permanent(err);
        goto fail;
    }
    s->info.server_version = PQserverVersion(s->conn);

    *retriable = 1; /* from here on, failures of the connection itself */
    PGresult *res = tw_pg_exec(s->conn, "IDENTIFY_SYSTEM", 0, NULL, err, errsize);
    if (!res)
        goto fail;
    snprintf(s->info.systemid, sizeof s->info.systemid, "%s", PQgetvalue(res, 0, 0));
    s->info.timeline = (uint32_t)strtoul(PQgetvalue(res, 0, 1), NULL, 10);
    tw_lsn_parse(PQgetvalue(res, 0, 2), &s->info.server_lsn);
    PQclear(res);

    res = tw_pg_exec(s->conn, "SELECT pg_is_in_recovery()", 0, NULL, err, errsize);
    if (!res)
        goto fail;
    s->info.standby = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (s->info.server_version < (s->info.standby ? 160000 : 140000)) {
        *retriable = 0;
        snprintf(err, errsize,
                 "PostgreSQL %d on a %s cannot be tailed: logical decoding needs 16+ on a "
                 "standby, 14+ on a primary",
                 s->info.server_version / 10000, s->info.standby ? "standby" : "primary");
        goto fail;
    }
    s->info.proto_version = proto_for(s->info.server_version);

    if (inspect_slot(s, err, errsize) != 0) {
        /* An unusable slot needs an operator; a lost connection does not. */
        *retriable = PQstatus(s->conn) != CONNECTION_OK;
        goto fail;
    }
    return s;

fail:
    PQfinish(s->conn);
    free(s);
    return NULL;
}

int tw_stream_start(tw_stream *s, int *retriable, char *err, size_t errsize)
{
    int dummy;
    if (!retriable)
        retriable = &dummy;
    *retriable = 1;
    if (tw_stream_end_snapshot(s, err, errsize) != 0)
        return -1;
    /* publication_names is a list of identifiers inside a string literal. */
    const char *pub = s->publication, *slot = s->slot;
    char *ident = PQescapeIdentifier(s->conn, pub, strlen(pub));
    char *lit = ident ? PQescapeLiteral(s->conn, ident, strlen(ident)) : NULL;
    char cmd[1024];
    if (lit)
        snprintf(cmd, sizeof cmd,
                 "START_REPLICATION SLOT \"%s\" LOGICAL 0/0 (proto_version '%d', "
                 "publication_names %s)",
                 slot, s->info.proto_version, lit);
    PQfreemem(ident);
    PQfreemem(lit);
    if (!lit) {
        tw_pg_error(s->conn, err, errsize);
        return -1;
    }
    PGresult *res = PQexec(s->conn, cmd);
    if (PQresultStatus(res) != PGRES_COPY_BOTH) {
        /* e.g. the slot is active for another process: that may end. */
        snprintf(err, errsize, "START_REPLICATION failed: %s", PQresultErrorMessage(res));
        size_t n = strlen(err);
        while (n && err[n - 1] == '\n')
            err[--n] = '\0';
        PQclear(res);
        return -1;
    }
    PQclear(res);
    if (PQsetnonblocking(s->conn, 1) != 0) {
        tw_pg_error(s->conn, err, errsize);
        return -1;
    }
    char lsn[32];
    tw_info("stream",
            "streaming slot '%s' publication '%s' from %s (PostgreSQL %d.%d %s, pgoutput "
            "protocol %d)",
            slot, pub, tw_lsn_str(s->info.slot_lsn, lsn, sizeof lsn),
            s->info.server_version / 10000, s->info.server_version % 10000,
            s->info.standby ? "standby" : "primary", s->info.proto_version);
    return 0;
}

tw_stream *tw_stream_open(const tw_config *cfg, volatile sig_atomic_t *stop, int *retriable,
                          char *err, size_t errsize)
{
    int dummy;
    if (!retriable)
        retriable = &dummy;
    tw_stream *s = tw_stream_connect(cfg, retriable, err, errsize);
    if (!s)
        return NULL;
    if (s->info.slot_state == TW_SLOT_INVALIDATED) {
        *retriable = 0;
        snprintf(err, errsize,
                 "slot '%s' is invalidated (%s); the changes since its position are gone: drop "
                 "it (SELECT pg_drop_replication_slot('%s')) and start again from a new "
                 "snapshot (snapshot.mode=when_needed does both)",
                 s->slot, s->info.slot_invalid_why, s->slot);
        tw_stream_close(s);
        return NULL;
    }
    if (s->info.slot_state == TW_SLOT_ABSENT &&
        tw_stream_create_slot(s, stop, NULL, 0, err, errsize) != 0) {
        *retriable = PQstatus(s->conn) != CONNECTION_OK;
        tw_stream_close(s);
        return NULL;
    }
    if (tw_stream_start(s, retriable, err, errsize) != 0) {
        tw_stream_close(s);
        return NULL;
    }
    return s;
}

const char *tw_stream_host(const tw_stream *s)
{
    return PQhost(s->conn);
}

const char *tw_stream_port(const tw_stream *s)
{
    return PQport(s->conn);
}

const tw_stream_info *tw_stream_get_info(const tw_stream *s)
{
    return &s->info;
}

int tw_stream_parse_copydata(const char *buf, size_t n, tw_stream_event *ev, char *err,
                             size_t errsize)
{
    const unsigned char *p = (const unsigned char *)buf;
    memset(ev, 0, sizeof *ev);
    if (n == 0) {
        snprintf(err, errsize, "empty replication message from the server (no type byte)");
        return -1;
    }
    if (p[0] == 'w') {
        /* type, wal start at 1, wal end at 9, send time at 17, payload at 25 */
        if (n < 25) {
            snprintf(err, errsize,
                     "XLogData ('w') truncated at offset %zu: its header needs 25 bytes (wal "
                     "start at offset 1, wal end at 9, send time at 17)",
                     n);
            return -1;
        }
        ev->kind = TW_EV_DATA;
        ev->data_start = get_u64(p + 1);
        ev->wal_end = get_u64(p + 9);
        ev->payload = buf + 25;
        ev->len = n - 25;
        return 0;
    }
    if (p[0] == 'k') {
        /* type, wal end at 1, send time at 9, reply requested at 17 */
        if (n != 18) {
            snprintf(err, errsize,
                     "primary keepalive ('k') %s at offset %zu: it is exactly 18 bytes (wal end "
                     "at offset 1, send time at 9, reply flag at 17), got %zu",
                     n < 18 ? "truncated" : "has trailing bytes", n < 18 ? n : (size_t)18, n);
            return -1;
        }
        ev->kind = TW_EV_KEEPALIVE;
        ev->wal_end = get_u64(p + 1);
        ev->reply_requested = p[17] != 0;
        return 0;
    }
    snprintf(err, errsize,
             "unexpected replication message type 0x%02x at offset 0 of %zu bytes from the "
             "server (expected XLogData 'w' or keepalive 'k')",
             p[0], n);
    return -1;
}

int tw_stream_next(tw_stream *s, int timeout_ms, tw_stream_event *ev, char *err, size_t errsize)
{
    if (s->copybuf) {
        PQfreemem(s->copybuf);
        s->copybuf = NULL;
    }
    memset(ev, 0, sizeof *ev);
    int64_t deadline = now_ms() + timeout_ms;
    int read_before_wait = 0;
    for (;;) {
        if (s->flush_pending) {
            int f = PQflush(s->conn);
            if (f < 0) {
                tw_pg_error(s->conn, err, errsize);
                return -1;
            }
            s->flush_pending = f > 0;
        }
        char *buf = NULL;
        int n = PQgetCopyData(s->conn, &buf, 1);
        if (n > 0) {
            if (tw_stream_parse_copydata(buf, (size_t)n, ev, err, errsize) != 0) {
                PQfreemem(buf);
                return -1;
            }
            if (ev->kind == TW_EV_DATA) {
                if (ev->data_start > s->last_received)
                    s->last_received = ev->data_start;
                s->copybuf = buf; /* the payload points into it */
            } else {
                PQfreemem(buf);
            }
            return 0;
        }
        if (n == 0) {
            /* Over TLS, OpenSSL can hold the rest of a record libpq read
             * only in part: the socket then shows nothing to poll() while a
             * message is complete. One read before waiting takes it. */
            if (!read_before_wait && PQsslInUse(s->conn)) {
                read_before_wait = 1;
                if (!PQconsumeInput(s->conn)) {
                    tw_pg_error(s->conn, err, errsize);
                    return -1;
                }
                continue;
            }
            read_before_wait = 0;
            int64_t left = deadline - now_ms();
            if (left <= 0)
                return 0;
            struct pollfd pfd = {.fd = PQsocket(s->conn),
                                 .events = POLLIN | (s->flush_pending ? POLLOUT : 0)};
            int pr = poll(&pfd, 1, (int)left);
            if (pr < 0 && errno != EINTR) {
                snprintf(err, errsize, "poll: %s", strerror(errno));
                return -1;
            }
            if (pr == 0)
                return 0;
            if (pr < 0)
                return 0; /* a signal: let the caller look at its flags */
            if (!PQconsumeInput(s->conn)) {
                tw_pg_error(s->conn, err, errsize);
                return -1;
            }
            continue;
        }
        if (n == -1) {
            /* A server shutting down (or restarting) ends a walsender's
             * stream this way, without an error: say so in the message. */
            PGresult *res = PQgetResult(s->conn);
            snprintf(err, errsize, "the server ended the replication stream: %s",
                     res && PQresultErrorMessage(res)[0]
                         ? PQresultErrorMessage(res)
                         : "no error given (a server shutting down or restarting does this)");
            PQclear(res);
        } else {
            tw_pg_error(s->conn, err, errsize);
        }
        size_t l = strlen(err);
        while (l && err[l - 1] == '\n')
            err[--l] = '\0';
        return -1;
    }
}

int tw_stream_send_status(tw_stream *s, uint64_t flush_lsn, char *err, size_t errsize)
{
    unsigned char msg[34];
    uint64_t write = s->last_received > flush_lsn ? s->last_received : flush_lsn;
    msg[0] = 'r';
    put_u64(msg + 1, write);
    put_u64(msg + 9, flush_lsn);
    put_u64(msg + 17, flush_lsn);
    put_u64(msg + 25, (uint64_t)now_pg_us());
    msg[33] = 0;
    if (PQputCopyData(s->conn, (const char *)msg, sizeof msg) <= 0) {
        tw_pg_error(s->conn, err, errsize);
        return -1;
    }
    int f = PQflush(s->conn);
    if (f < 0) {
        tw_pg_error(s->conn, err, errsize);
        return -1;
    }
    s->flush_pending = f > 0;
    return 0;
}

void tw_stream_close(tw_stream *s)
{
    if (!s)
        return;
    if (s->copybuf)
        PQfreemem(s->copybuf);
    if (s->conn) {
        /* Blocking for the last bytes: the final status update must leave. */
        PQsetnonblocking(s->conn, 0);
        PQflush(s->conn);
        if (PQputCopyEnd(s->conn, NULL) == 1)
            PQflush(s->conn);
        PQfinish(s->conn);
    }
    free(s);
}
