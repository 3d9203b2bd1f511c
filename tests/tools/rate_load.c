/*
 * rate_load — offers a fixed insert rate to the primary, for the latency
 * benchmark (tests/bench/run.sh, scenario latency). It inserts ROWS_PER_S
 * rows a second into the bench table tw_bench.t for SECONDS seconds,
 * ROWS_PER_TXN rows per transaction (one autocommitted INSERT … SELECT FROM
 * generate_series), ids 1, 2, … Transaction k is sent at start + k *
 * ROWS_PER_TXN / ROWS_PER_S seconds, an absolute deadline on CLOCK_MONOTONIC:
 * a slow commit delays the ones after it, which then catch up, so delays do
 * not lower the offered rate. At the end it prints one line:
 *
 *   rate_load: rows=50000 txns=5000 seconds=10.002 rows_per_s=5000.0 max_behind_ms=1.2
 *
 * seconds: from the first send to the last commit; rows_per_s: the achieved
 * offered rate, rows over the time from the first send to the last one plus
 * the last one's rows' worth (exactly ROWS_PER_S when every send was on time);
 * max_behind_ms: the latest a transaction was sent after its deadline.
 * Exit status: 0 done, 1 an SQL error (printed), 2 bad usage.
 * Usage: rate_load CONNINFO ROWS_PER_S SECONDS [ROWS_PER_TXN]
 */
#include <libpq-fe.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define INSERT_SQL                                                                                 \
    "INSERT INTO tw_bench.t SELECT g, g % 1000, 'row ' || g, now(), g / 100.0, g % 2 = 0 "         \
    "FROM generate_series($1::bigint, $2::bigint) g"

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A positive integer argument, or -1. */
static long positive_arg(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    return *s && !*end && v > 0 ? v : -1;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: rate_load CONNINFO ROWS_PER_S SECONDS [ROWS_PER_TXN]\n");
        return 2;
    }
    long rate = positive_arg(argv[2]), seconds = positive_arg(argv[3]);
    long per_txn = argc > 4 ? positive_arg(argv[4]) : 10;
    if (rate < 0 || seconds < 0 || per_txn < 0) {
        fprintf(stderr, "rate_load: ROWS_PER_S, SECONDS and ROWS_PER_TXN are positive integers\n");
        return 2;
    }

    PGconn *conn = PQconnectdb(argv[1]);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "rate_load: connect: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return 1;
    }
    PGresult *res = PQprepare(conn, "ins", INSERT_SQL, 2, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        fprintf(stderr, "rate_load: prepare: %s", PQerrorMessage(conn));
        PQclear(res);
        PQfinish(conn);
        return 1;
    }
    PQclear(res);

    int64_t total = (int64_t)rate * seconds, done = 0, txns = 0, max_behind = 0, sent = 0,
            last_rows = 0;
    int64_t start = now_ns();
    while (done < total) {
        /* Transaction k = txns is due once k * per_txn rows' worth of time has passed. */
        int64_t due = start + txns * per_txn * 1000000000 / rate;
        struct timespec ts = {.tv_sec = due / 1000000000, .tv_nsec = due % 1000000000};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
            ; /* a signal: sleep again to the same deadline */
        sent = now_ns();
        int64_t behind = sent - due;
        if (behind > max_behind)
            max_behind = behind;

        int64_t last = done + per_txn < total ? done + per_txn : total;
        char lo[24], hi[24];
        snprintf(lo, sizeof lo, "%lld", (long long)done + 1);
        snprintf(hi, sizeof hi, "%lld", (long long)last);
        const char *params[2] = {lo, hi};
        res = PQexecPrepared(conn, "ins", 2, params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            fprintf(stderr, "rate_load: insert of ids %s..%s: %s", lo, hi, PQerrorMessage(conn));
            PQclear(res);
            PQfinish(conn);
            return 1;
        }
        PQclear(res);
        last_rows = last - done;
        done = last;
        txns++;
    }
    double elapsed = (double)(now_ns() - start) / 1e9;
    double span = (double)(sent - start) / 1e9 + (double)last_rows / (double)rate;
    printf("rate_load: rows=%lld txns=%lld seconds=%.3f rows_per_s=%.1f max_behind_ms=%.1f\n",
           (long long)done, (long long)txns, elapsed, (double)done / span,
           (double)max_behind / 1e6);
    PQfinish(conn);
    return 0;
}
