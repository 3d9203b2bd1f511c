/*
 * stream_probe — drives agent/stream + decoders/pgoutput + agent/checkpoint
 * against a real server without Kafka, for the stream's integration tests.
 * Every commit counts as delivered at once, so this proves the replication
 * side alone: slot creation, decoding, keepalives, status updates and the
 * idle flush rule. It prints one line per decoded message:
 *
 *   B xid=… | R relid=… shop.customers cols=4 | I relid=… ncols=4 | C end=X/Y
 *
 * Configuration comes from TIDEWATER_* variables like the agent's.
 * Usage: stream_probe SECONDS [MAX_COMMITS]
 */
#include "agent/checkpoint.h"
#include "agent/config.h"
#include "agent/log.h"
#include "agent/stream.h"
#include "decoders/pgoutput.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern char **environ;

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    char err[1024] = "", lsn[32];
    if (argc < 2) {
        fprintf(stderr, "usage: stream_probe SECONDS [MAX_COMMITS]\n");
        return 2;
    }
    double seconds = atof(argv[1]);
    long max_commits = argc > 2 ? atol(argv[2]) : -1;
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    tw_config *cfg = tw_config_new();
    if (tw_config_load_env(cfg, environ, err, sizeof err) != 0 ||
        tw_config_finish(cfg, err, sizeof err) != 0) {
        fprintf(stderr, "config: %s\n", err);
        return 2;
    }
    tw_stream *s = tw_stream_open(cfg, &stop_flag, NULL, err, sizeof err);
    if (!s) {
        fprintf(stderr, "open: %s\n", err);
        return 1;
    }
    const tw_stream_info *info = tw_stream_get_info(s);
    printf("OPEN proto=%d standby=%d created=%d slot_lsn=%s\n", info->proto_version, info->standby,
           info->slot_created, tw_lsn_str(info->slot_lsn, lsn, sizeof lsn));
    fflush(stdout);

    ckpt_tracker ck;
    ckpt_init(&ck, 1024, info->slot_lsn);
    pgo_decoder dec;
    pgo_decoder_init(&dec, info->proto_version);
    ckpt_txn_id txn = 0;
    long commits = 0;
    int rc = 0;
    double end = now_s() + seconds, last_status = 0;
    while (!stop_flag && now_s() < end && (max_commits < 0 || commits < max_commits)) {
        tw_stream_event ev;
        if (tw_stream_next(s, 200, &ev, err, sizeof err) != 0) {
            fprintf(stderr, "stream: %s\n", err);
            rc = 1;
            break;
        }
        int reply = 0;
        if (ev.kind == TW_EV_KEEPALIVE) {
            ckpt_idle(&ck, ev.wal_end);
            reply = ev.reply_requested;
        } else if (ev.kind == TW_EV_DATA) {
            pgo_msg m;
            if (pgo_decode(&dec, ev.payload, ev.len, &m, err, sizeof err) != 0) {
                fprintf(stderr, "decode: %s\n", err);
                rc = 1;
                break;
            }
            switch (m.type) {
            case PGO_BEGIN:
                txn = ckpt_begin(&ck);
                printf("B xid=%u\n", m.xid);
                break;
            case PGO_COMMIT:
                ckpt_commit(&ck, txn, m.u.commit.end_lsn, 0);
                commits++;
                printf("C end=%s\n", tw_lsn_str(m.u.commit.end_lsn, lsn, sizeof lsn));
                break;
            case PGO_RELATION:
                printf("R relid=%u %s.%s cols=%u\n", m.u.relation.relid, m.u.relation.nspname,
                       m.u.relation.relname, m.u.relation.ncols);
                break;
            case PGO_INSERT:
            case PGO_UPDATE:
            case PGO_DELETE:
                /* "Delivered" at once: this tool has no Kafka. */
                ckpt_produced(&ck, txn);
                ckpt_delivered(&ck, txn, 1);
                printf("%c relid=%u old=%c\n", (char)m.type, m.u.change.relid,
                       m.u.change.old_kind ? m.u.change.old_kind : '-');
                break;
            default:
                printf("%c\n", (char)m.type);
                break;
            }
            fflush(stdout);
        }
        if (reply || now_s() - last_status >= 1.0) {
            if (tw_stream_send_status(s, ckpt_flush_lsn(&ck), err, sizeof err) != 0) {
                fprintf(stderr, "status: %s\n", err);
                rc = 1;
                break;
            }
            last_status = now_s();
        }
    }
    if (rc == 0)
        tw_stream_send_status(s, ckpt_flush_lsn(&ck), err, sizeof err);
    printf("END flush=%s commits=%ld\n", tw_lsn_str(ckpt_flush_lsn(&ck), lsn, sizeof lsn), commits);
    tw_stream_close(s);
    pgo_decoder_free(&dec);
    ckpt_free(&ck);
    tw_config_free(cfg);
    return rc;
}
