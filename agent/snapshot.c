#include "agent/snapshot.h"

#include "agent/config.h"
#include "agent/log.h"
#include "agent/metrics.h"
#include "agent/pgconn.h"
#include "agent/stream.h"
#include "decoders/copytext.h"
#include "sinks/kafka.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A block range is worth a session of its own from 1 MiB (8 KiB blocks). */
#define MIN_CHUNK_PAGES 128
/* Ranges per thread: small enough that threads finish together. */
#define CHUNKS_PER_THREAD 4

typedef struct {
    int table;
    long long from, to; /* blocks [from, to); to < 0: open-ended; from < 0: whole table */
} chunk_t;

/* A row held back (see snapshot.h): libpq's buffer and values into it. */
typedef struct {
    char *line;
    pgo_value *vals;
    int table;
} held_t;

typedef struct {
    atomic_int chunks_left;
    atomic_int first_done; /* the table's first row went out */
    held_t pending;        /* the last row of a finished chunk (lock) */
    int inflight;          /* rows taken from pending, not yet produced (lock) */
    int done;              /* maybe_done() said so (lock) */
    int64_t started_ms;
} table_state;

typedef struct engine engine;

typedef struct {
    engine *e;
    int index;
    pthread_t thread;
    PGcancel *cancel; /* e->lock */
    int cancel_busy;  /* the main thread is using cancel (e->lock) */
    tw_buf key, val, sql;
    pgo_value *vals[2];
    int valcap;
    held_t held;
    char standby_delay[32]; /* max_standby_streaming_delay, for messages */
    char notice_state[6];   /* SQLSTATE of the last error or warning outside a result */
    char notice_msg[512];   /* (a FATAL just before the server closes the connection) */
} worker;

struct engine {
    tw_snapshot_job *job;
    chunk_t *chunks;
    int nchunks;
    atomic_int next_chunk;
    table_state *ts;
    atomic_int tables_left;
    atomic_int any_first;
    atomic_ullong seq;
    atomic_int abort;
    atomic_int running; /* workers not finished */
    pthread_mutex_t lock;
    pthread_cond_t cancel_done; /* cancel_busy went down */
    int rc;                     /* worst TW_SNAP_* of the workers (lock) */
    char err[1024];             /* the first failure (lock) */
};

int tw_snapshot_is_recovery_conflict(const char *err)
{
    return err && strstr(err, "conflict with recovery") != NULL;
}

static int64_t wall_ms(void)
{
    return tw_metrics_wall_ms();
}

static void fail(engine *e, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(engine *e, int rc, const char *fmt, ...)
{
    pthread_mutex_lock(&e->lock);
    if (e->rc == TW_SNAP_OK || (e->rc == TW_SNAP_ABORTED && rc != TW_SNAP_ABORTED)) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->err, sizeof e->err, fmt, ap);
        va_end(ap);
    }
    if (rc > e->rc)
        e->rc = rc;
    pthread_mutex_unlock(&e->lock);
    atomic_store(&e->abort, 1);
}

static void held_free(held_t *h)
{
    if (h->line)
        PQfreemem(h->line);
    free(h->vals);
    memset(h, 0, sizeof *h);
}

/* "quoted"."identifier" into b. */
static void put_ident(tw_buf *b, const char *s)
{
    tw_buf_puts(b, "\"");
    for (; *s; s++) {
        if (*s == '"')
            tw_buf_puts(b, "\"");
        tw_buf_append(b, s, 1);
    }
    tw_buf_puts(b, "\"");
}

static void build_query(tw_buf *b, const tw_snap_table *t, const chunk_t *c)
{
    char range[96];
    const tw_relation *r = t->rel;
    tw_buf_reset(b);
    tw_buf_puts(b, "COPY (SELECT ");
    for (int i = 0; i < r->ncols; i++) {
        if (i)
            tw_buf_puts(b, ", ");
        put_ident(b, r->cols[i].name);
    }
    if (r->ncols == 0)
        tw_buf_puts(b, "FROM");
    tw_buf_puts(b, r->ncols ? " FROM " : " ");
    if (t->relkind == 'r')
        tw_buf_puts(b, "ONLY ");
    put_ident(b, r->nspname);
    tw_buf_puts(b, ".");
    put_ident(b, r->relname);
    const char *and = " WHERE ";
    if (c->from >= 0) {
        snprintf(range, sizeof range, "%sctid >= '(%lld,0)'::tid", and, c->from);
        tw_buf_puts(b, range);
        and = " AND ";
        if (c->to >= 0) {
            snprintf(range, sizeof range, " AND ctid < '(%lld,0)'::tid", c->to);
            tw_buf_puts(b, range);
        }
    }
    if (t->rowfilter) {
        tw_buf_puts(b, and);
        tw_buf_puts(b, "(");
        tw_buf_puts(b, t->rowfilter);
        tw_buf_puts(b, ")");
    }
    tw_buf_puts(b, ") TO STDOUT");
    tw_buf_append(b, "", 1); /* NUL */
}

/* source.snapshot of the row about to go out. */
static const char *mark(engine *e, int table, int last_of_table, int last)
{
    if (last)
        return "last";
    if (last_of_table)
        return "last_in_data_collection";
    /* One winner per table, then one winner among tables; the load keeps
     * the common case from writing a shared cache line per row. */
    if (!atomic_load(&e->ts[table].first_done) && !atomic_exchange(&e->ts[table].first_done, 1))
        return atomic_exchange(&e->any_first, 1) ? "first_in_data_collection" : "first";
    return "true";
}

/* Encodes and produces one row; waits while the producer queue is full.
 * 0, or -1 after fail(). */
static int emit(worker *w, int table, const pgo_value *vals, const char *snapmark)
{
    engine *e = w->e;
    tw_snapshot_job *job = e->job;
    tw_snap_table *t = &job->tables[table];
    const tw_relation *r = t->rel;
    char err[1024];
    pgo_tuple tup = {.ncols = (uint16_t)r->ncols, .values = vals};
    tw_source_info src = {.prefix = job->prefix,
                          .db = job->db,
                          .commit_ms = job->ts_ms,
                          .xid = 0,
                          .lsn = job->lsn,
                          .snapshot = snapmark};
    tw_buf_reset(&w->key);
    if (r->nkey > 0 && tw_relation_encode_key(r, &tup, NULL, &w->key, err, sizeof err) != 0) {
        fail(e, TW_SNAP_FATAL, "%s", err);
        return -1;
    }
    int nulled = 0;
    if (tw_relation_encode_envelope(r, 'r', NULL, &tup, NULL, &src, wall_ms(), &w->val, &nulled,
                                    err, sizeof err) != 0) {
        fail(e, TW_SNAP_FATAL, "%s", err);
        return -1;
    }
    if (nulled)
        atomic_fetch_add(&job->nulled, (unsigned long long)nulled);
    kafka_headers h = {.commit_lsn = job->lsn,
                       .xid = 0,
                       .seq = atomic_fetch_add(&e->seq, 1),
                       .key_schema = r->nkey > 0 ? r->key_schema_id : NULL,
                       .value_schema = r->value_schema_id};
    for (;;) {
        int rc = kafka_sink_produce(job->sink, r->app, r->nkey > 0 ? w->key.data : NULL,
                                    r->nkey > 0 ? w->key.len : 0, w->val.data, w->val.len, &h,
                                    job->opaque + (uint64_t)table, err, sizeof err);
        if (rc == KAFKA_SINK_OK)
            break;
        if (rc == KAFKA_SINK_TOOBIG) {
            char keytext[512];
            tw_relation_key_text(r, &tup, NULL, keytext, sizeof keytext);
            if (!job->skip_oversize) {
                fail(e, TW_SNAP_FATAL,
                     "snapshot row of table %s.%s (key %s): %s. Raise the topic's "
                     "max.message.bytes (and kafka.message.max.bytes), or set on_oversize=skip",
                     r->nspname, r->relname, keytext, err);
                return -1;
            }
            tw_warn("snapshot", "skipped a row of table %s.%s (key %s) (on_oversize=skip): %s",
                    r->nspname, r->relname, keytext, err);
            if (r->stats)
                atomic_fetch_add(&((tw_table_metrics *)r->stats)->oversize_skipped, 1);
            return 0;
        }
        if (rc == KAFKA_SINK_ERROR) {
            char ferr[512];
            if (kafka_sink_fatal(job->sink, ferr, sizeof ferr))
                fail(e, TW_SNAP_RETRY, "fatal producer error: %s", ferr);
            else
                fail(e, TW_SNAP_FATAL, "%s (snapshot of table %s.%s)", err, r->nspname, r->relname);
            return -1;
        }
        if (atomic_load(&e->abort))
            return -1;
        struct timespec pause = {0, 1000000}; /* the caller's tick frees room */
        nanosleep(&pause, NULL);
    }
    atomic_fetch_add(&job->produced, 1);
    atomic_fetch_add(&t->rows, 1);
    atomic_fetch_add(&tw_m.messages, 1);
    atomic_fetch_add(&tw_m.bytes, (unsigned long long)(w->key.len + w->val.len));
    tw_table_metrics *tm = r->stats;
    if (tm) {
        atomic_fetch_add(&tm->changes[TW_OP_R], 1);
        atomic_fetch_add(&tm->snapshot_rows, 1);
    }
    return 0;
}

static int emit_held(worker *w, held_t *h, const char *snapmark)
{
    int rc = emit(w, h->table, h->vals, snapmark);
    held_free(h);
    return rc;
}

/* Marks the table done once no chunk is left and no held row of it is
 * still on its way out (whoever gets there last). */
static void maybe_done(worker *w, int table)
{
    engine *e = w->e;
    table_state *ts = &e->ts[table];
    int now_done = 0;
    pthread_mutex_lock(&e->lock);
    if (atomic_load(&ts->chunks_left) == 0 && ts->inflight == 0 && !ts->done) {
        ts->done = 1;
        now_done = 1;
    }
    pthread_mutex_unlock(&e->lock);
    if (!now_done)
        return;
    tw_snap_table *t = &e->job->tables[table];
    atomic_store(&t->done, 1);
    tw_table_metrics *tm = t->rel->stats;
    if (tm)
        atomic_store(&tm->snapshot_done, 1);
    tw_info("snapshot", "snapshot of %s.%s done: %lld row(s) in %.1f s", t->rel->nspname,
            t->rel->relname, (long long)atomic_load(&t->rows),
            (double)(wall_ms() - ts->started_ms) / 1000.0);
}

/* Emits a row taken out of the shared state, then says it is out. */
static int emit_taken(worker *w, held_t *h, const char *snapmark)
{
    engine *e = w->e;
    int table = h->table;
    int rc = emit_held(w, h, snapmark);
    if (rc == 0) {
        pthread_mutex_lock(&e->lock);
        e->ts[table].inflight--;
        pthread_mutex_unlock(&e->lock);
        maybe_done(w, table);
    }
    return rc;
}

/* Before a table's last row goes out: waits until the rows other workers
 * took out for emission (inflight, the caller's own last row included) are
 * out, of that table, or, for the snapshot's last row, of every table. 0,
 * or -1 when the snapshot is aborted meanwhile. */
static int wait_others_out(engine *e, int table, int all)
{
    for (;;) {
        int n = 0;
        pthread_mutex_lock(&e->lock);
        for (int i = 0; i < e->job->ntables; i++)
            if (all || i == table)
                n += e->ts[i].inflight;
        pthread_mutex_unlock(&e->lock);
        if (n <= 1)
            return 0;
        if (atomic_load(&e->abort))
            return -1;
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
}

/* The chunk's rows are all read; its held-back row (may be none) becomes
 * the table's pending row, and the table's pending row of an earlier
 * chunk goes out. The table's last chunk sends the pending row as the
 * table's last (or the snapshot's last). */
static int chunk_finished(worker *w, int table)
{
    engine *e = w->e;
    held_t out_row = {0}, out_last = {0};
    int last = 0;
    pthread_mutex_lock(&e->lock);
    table_state *ts = &e->ts[table];
    if (w->held.line) {
        out_row = ts->pending;
        ts->pending = w->held;
        memset(&w->held, 0, sizeof w->held);
        if (out_row.line)
            ts->inflight++;
    }
    if (atomic_fetch_sub(&ts->chunks_left, 1) == 1) {
        out_last = ts->pending;
        memset(&ts->pending, 0, sizeof ts->pending);
        if (out_last.line)
            ts->inflight++;
        last = atomic_fetch_sub(&e->tables_left, 1) == 1;
    }
    pthread_mutex_unlock(&e->lock);
    int rc = 0;
    if (out_row.line)
        rc = emit_taken(w, &out_row, mark(e, table, 0, 0));
    if (rc == 0 && out_last.line && (rc = wait_others_out(e, table, last)) == 0)
        rc = emit_taken(w, &out_last, mark(e, table, 1, last));
    held_free(&out_row);
    held_free(&out_last);
    if (rc == 0)
        maybe_done(w, table);
    return rc;
}

/* A server error during the snapshot, classified by SQLSTATE (sqlstate may
 * be NULL: the connection broke) and explained. */
static void server_failed(worker *w, const char *what, const char *sqlstate, const char *msg)
{
    engine *e = w->e;
    char full[1400];
    if (!sqlstate && w->notice_state[0]) {
        /* The connection broke after the server said why. */
        sqlstate = w->notice_state;
        snprintf(full, sizeof full, "%s (%s)", w->notice_msg, msg);
        msg = full;
    }
    const char *st = sqlstate ? sqlstate : "";
    if (atomic_load(&e->abort) && strcmp(st, "57014") == 0) {
        fail(e, TW_SNAP_ABORTED, "aborted");
        return;
    }
    if (strcmp(st, "40001") == 0 || tw_snapshot_is_recovery_conflict(msg)) {
        fail(e, TW_SNAP_RETRY,
             "the standby cancelled the snapshot while %s: %s. Recovery on the standby "
             "conflicted with the long read; set hot_standby_feedback=on on the standby and "
             "raise max_standby_streaming_delay (now %s) above the snapshot's duration (or -1), "
             "or avoid DDL on snapshotted tables meanwhile",
             what, msg, w->standby_delay[0] ? w->standby_delay : "unknown");
        return;
    }
    /* Lost connections, server shutdown, resource trouble: another try may
     * work. Anything else (privileges, a missing table, a bad row filter)
     * will fail the same way again. */
    int transient = !sqlstate || strncmp(st, "08", 2) == 0 || strncmp(st, "57", 2) == 0 ||
                    strncmp(st, "53", 2) == 0 || strncmp(st, "40", 2) == 0 ||
                    strcmp(st, "55P03") == 0;
    fail(e, transient ? TW_SNAP_RETRY : TW_SNAP_FATAL, "%s: %s", what, msg);
}

/* The worker's notice receiver: logged like every session's, and kept, so
 * that a connection the server closed after a FATAL (e.g. a recovery
 * conflict) is classified by what the server said. */
static void worker_notice(void *arg, const PGresult *res)
{
    worker *w = arg;
    const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (st && strncmp(st, "00", 2) != 0 && strncmp(st, "01", 2) != 0) {
        snprintf(w->notice_state, sizeof w->notice_state, "%s", st);
        snprintf(w->notice_msg, sizeof w->notice_msg, "%s", msg ? msg : "");
    }
    tw_pg_log_notice(NULL, res);
}

/* The SQLSTATE of a failed result, or NULL. */
static const char *sqlstate_of(const PGresult *res)
{
    return res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
}

static int run_chunk(worker *w, PGconn *conn, const chunk_t *c)
{
    engine *e = w->e;
    tw_snap_table *t = &e->job->tables[c->table];
    const tw_relation *r = t->rel;
    char what[300], err[1024];
    snprintf(what, sizeof what, "reading %s.%s", r->nspname, r->relname);
    if (r->ncols > w->valcap) {
        for (int k = 0; k < 2; k++) {
            pgo_value *n = realloc(w->vals[k], (size_t)r->ncols * sizeof *n);
            if (!n) {
                fail(e, TW_SNAP_FATAL, "out of memory");
                return -1;
            }
            w->vals[k] = n;
        }
        w->valcap = r->ncols;
    }
    build_query(&w->sql, t, c);
    PGresult *res = PQexec(conn, (const char *)w->sql.data);
    if (PQresultStatus(res) != PGRES_COPY_OUT) {
        tw_pg_error(conn, err, sizeof err);
        char st[6] = "";
        if (sqlstate_of(res))
            snprintf(st, sizeof st, "%s", sqlstate_of(res));
        PQclear(res);
        server_failed(w, what, st[0] ? st : NULL, err);
        return -1;
    }
    PQclear(res);
    int cur = 0;
    char *line;
    int n;
    while ((n = PQgetCopyData(conn, &line, 0)) > 0) {
        if (tw_copytext_row(line, (size_t)n, w->vals[cur], r->ncols, err, sizeof err) != 0) {
            PQfreemem(line);
            fail(e, TW_SNAP_FATAL, "%s: %s", what, err);
            return -1;
        }
        if (w->held.line) {
            /* Not the chunk's last: out it goes. */
            int rc = emit(w, w->held.table, w->held.vals, mark(e, w->held.table, 0, 0));
            PQfreemem(w->held.line);
            w->held.line = NULL;
            if (rc != 0) {
                PQfreemem(line);
                return -1;
            }
        }
        w->held.line = line;
        w->held.vals = w->vals[cur];
        w->held.table = c->table;
        cur ^= 1;
        if (atomic_load(&e->abort))
            return -1;
    }
    if (n == -2) {
        tw_pg_error(conn, err, sizeof err);
        server_failed(w, what, NULL, err);
        return -1;
    }
    res = PQgetResult(conn);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    char st[6] = "";
    if (!ok) {
        snprintf(err, sizeof err, "%s", PQresultErrorMessage(res));
        if (sqlstate_of(res))
            snprintf(st, sizeof st, "%s", sqlstate_of(res));
    }
    PQclear(res);
    while ((res = PQgetResult(conn)) != NULL)
        PQclear(res);
    if (!ok) {
        size_t l = strlen(err);
        while (l && err[l - 1] == '\n')
            err[--l] = '\0';
        server_failed(w, what, st[0] ? st : NULL, err);
        return -1;
    }
    /* The held row's values live in the worker's array: give it its own. */
    if (w->held.line) {
        pgo_value *own = malloc((size_t)(r->ncols ? r->ncols : 1) * sizeof *own);
        if (!own) {
            fail(e, TW_SNAP_FATAL, "out of memory");
            return -1;
        }
        memcpy(own, w->held.vals, (size_t)r->ncols * sizeof *own);
        w->held.vals = own;
    }
    return chunk_finished(w, c->table);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    engine *e = w->e;
    tw_snapshot_job *job = e->job;
    char err[1024];
    /* The server that holds the snapshot (a multi-host conninfo or a
     * balanced name could lead elsewhere); no server-side timeout may cut a
     * long COPY or the idle wait for a chunk. */
    tw_pg_overrides ovr = {.host = job->host,
                           .port = job->port,
                           .options = TW_STREAM_FORMAT_OPTIONS
                           " -c statement_timeout=0 -c idle_in_transaction_session_timeout=0"};
    PGconn *conn = tw_pg_connect(job->cfg, &ovr, 10, err, sizeof err);
    if (!conn) {
        fail(e, TW_SNAP_RETRY, "snapshot worker %d cannot connect: %s", w->index, err);
        goto out;
    }
    PQsetNoticeReceiver(conn, worker_notice, w);
    pthread_mutex_lock(&e->lock);
    w->cancel = PQgetCancel(conn);
    pthread_mutex_unlock(&e->lock);
    char sql[256];
    char *lit = PQescapeLiteral(conn, job->snapshot_name, strlen(job->snapshot_name));
    snprintf(sql, sizeof sql, "SET TRANSACTION SNAPSHOT %s", lit ? lit : "''");
    PQfreemem(lit);
    PGresult *res = tw_pg_exec(conn, "SHOW max_standby_streaming_delay", 0, NULL, err, sizeof err);
    if (res) {
        snprintf(w->standby_delay, sizeof w->standby_delay, "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    res = tw_pg_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, err,
                     sizeof err);
    if (res) {
        PQclear(res);
        res = tw_pg_exec(conn, sql, 0, NULL, err, sizeof err);
    }
    if (!res) {
        fail(e, TW_SNAP_RETRY,
             "snapshot worker %d cannot import snapshot %s: %s (it lives only while Tidewater's "
             "replication session holds it)",
             w->index, job->snapshot_name, err);
        goto out;
    }
    PQclear(res);
    for (;;) {
        if (atomic_load(&e->abort))
            break;
        int i = atomic_fetch_add(&e->next_chunk, 1);
        if (i >= e->nchunks)
            break;
        const chunk_t *c = &e->chunks[i];
        table_state *ts = &e->ts[c->table];
        pthread_mutex_lock(&e->lock);
        if (!ts->started_ms)
            ts->started_ms = wall_ms();
        pthread_mutex_unlock(&e->lock);
        if (run_chunk(w, conn, c) != 0)
            break;
    }
out:
    /* A chunk that ended early leaves its held row's values in the
     * worker's own arrays (freed with the worker), not a copy. */
    if (w->held.vals == w->vals[0] || w->held.vals == w->vals[1])
        w->held.vals = NULL;
    held_free(&w->held);
    pthread_mutex_lock(&e->lock);
    while (w->cancel_busy)
        pthread_cond_wait(&e->cancel_done, &e->lock);
    PQfreeCancel(w->cancel);
    w->cancel = NULL;
    pthread_mutex_unlock(&e->lock);
    PQfinish(conn); /* ends the read-only transaction */
    atomic_fetch_sub(&e->running, 1);
    return NULL;
}

/* How many block ranges table t is read in, each of *per blocks (the last
 * open-ended); 1 (the whole table) when it is small, partitioned or read by
 * one thread. */
static int ranges_of(const tw_snapshot_job *job, const tw_snap_table *t, long long *per)
{
    *per = 0;
    if (job->threads < 2 || t->relkind != 'r' || t->pages < 2 * MIN_CHUNK_PAGES)
        return 1;
    long long want = (long long)job->threads * CHUNKS_PER_THREAD;
    *per = (t->pages + want - 1) / want;
    if (*per < MIN_CHUNK_PAGES)
        *per = MIN_CHUNK_PAGES;
    return (int)((t->pages + *per - 1) / *per);
}

static int plan(engine *e)
{
    tw_snapshot_job *job = e->job;
    long long per;
    int cap = 0;
    for (int i = 0; i < job->ntables; i++)
        cap += ranges_of(job, &job->tables[i], &per);
    e->chunks = calloc((size_t)cap + 1, sizeof *e->chunks);
    if (!e->chunks)
        return -1;
    for (int i = 0; i < job->ntables; i++) {
        int n = ranges_of(job, &job->tables[i], &per);
        for (int k = 0; k < n; k++) {
            chunk_t *c = &e->chunks[e->nchunks++];
            c->table = i;
            c->from = n == 1 ? -1 : k * per;
            c->to = n == 1 || k == n - 1 ? -1 : (k + 1) * per;
        }
        atomic_store(&e->ts[i].chunks_left, n);
    }
    return 0;
}

int tw_snapshot_run(tw_snapshot_job *job, char *err, size_t errsize)
{
    engine e;
    memset(&e, 0, sizeof e);
    e.job = job;
    pthread_mutex_init(&e.lock, NULL);
    pthread_cond_init(&e.cancel_done, NULL);
    atomic_store(&job->produced, 0);
    atomic_store(&job->nulled, 0);
    job->workers = 0;
    int rc = TW_SNAP_OK;
    worker *ws = NULL;
    e.ts = calloc((size_t)job->ntables + 1, sizeof *e.ts);
    if (!e.ts || plan(&e) != 0) {
        snprintf(err, errsize, "out of memory");
        rc = TW_SNAP_FATAL;
        goto done;
    }
    atomic_store(&e.tables_left, job->ntables);
    int nw = job->threads < e.nchunks ? job->threads : e.nchunks;
    if (nw < 1)
        goto done; /* no table */
    ws = calloc((size_t)nw, sizeof *ws);
    if (!ws) {
        snprintf(err, errsize, "out of memory");
        rc = TW_SNAP_FATAL;
        goto done;
    }
    tw_info("snapshot", "reading %d table(s) in %d range(s) with %d session(s)", job->ntables,
            e.nchunks, nw);
    atomic_store(&e.running, nw);
    for (int i = 0; i < nw; i++) {
        ws[i].e = &e;
        ws[i].index = i + 1;
        tw_buf_init(&ws[i].key, 0);
        tw_buf_init(&ws[i].val, 0);
        tw_buf_init(&ws[i].sql, 0);
        if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) != 0) {
            atomic_fetch_sub(&e.running, nw - i);
            fail(&e, TW_SNAP_FATAL, "cannot start snapshot thread %d", i + 1);
            nw = i;
            break;
        }
        job->workers++;
    }
    int ticks = 0;
    while (atomic_load(&e.running) > 0) {
        if (job->tick(job->arg) != 0 && !atomic_load(&e.abort))
            fail(&e, TW_SNAP_ABORTED, "aborted");
        /* Workers inside a COPY see the flag only at their next row: cancel
         * the query, again every second (one may have started a new COPY
         * just after the first cancel). */
        if (atomic_load(&e.abort) && ticks++ % 10 == 0) {
            PGcancel *c[64];
            int nc = 0;
            pthread_mutex_lock(&e.lock);
            for (int i = 0; i < nw && nc < 64; i++)
                if (ws[i].cancel) {
                    /* borrowed: the worker frees it only under the lock, after
                     * its connection is done; see cancel_busy */
                    c[nc++] = ws[i].cancel;
                    ws[i].cancel_busy++;
                }
            pthread_mutex_unlock(&e.lock);
            for (int i = 0; i < nc; i++) {
                char cerr[256];
                PQcancel(c[i], cerr, sizeof cerr);
            }
            pthread_mutex_lock(&e.lock);
            for (int i = 0; i < nw; i++)
                if (ws[i].cancel_busy)
                    ws[i].cancel_busy--;
            pthread_cond_broadcast(&e.cancel_done);
            pthread_mutex_unlock(&e.lock);
        }
    }
    for (int i = 0; i < nw; i++)
        pthread_join(ws[i].thread, NULL);
    rc = e.rc;
    if (rc != TW_SNAP_OK)
        snprintf(err, errsize, "%s", e.err);
done:
    for (int i = 0; ws && i < job->workers; i++) {
        tw_buf_free(&ws[i].key);
        tw_buf_free(&ws[i].val);
        tw_buf_free(&ws[i].sql);
        free(ws[i].vals[0]);
        free(ws[i].vals[1]);
    }
    for (int i = 0; e.ts && i < job->ntables; i++)
        held_free(&e.ts[i].pending);
    free(ws);
    free(e.ts);
    free(e.chunks);
    pthread_mutex_destroy(&e.lock);
    pthread_cond_destroy(&e.cancel_done);
    return rc;
}
