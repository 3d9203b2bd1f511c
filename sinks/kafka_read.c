#include "sinks/kafka_read.h"

#include "agent/config.h"
#include "agent/log.h"
#include "sinks/kafka_conf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms, char *err,
                          size_t errsize)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
    int n = -1;
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        snprintf(err, errsize, "cannot read the metadata of topic '%s': %s", topic,
                 rd_kafka_err2str(e));
    else if (md->topic_cnt < 1 || md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
        n = -2;
    else if (md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR)
        snprintf(err, errsize, "topic '%s': %s", topic, rd_kafka_err2str(md->topics[0].err));
    else
        n = md->topics[0].partition_cnt;
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return n;
}

static int read_all(rd_kafka_t *rk, const char *topic, int timeout_ms, kafka_read_fn fn, void *arg,
                    char *err, size_t errsize)
{
    int parts = kafka_partition_count(rk, topic, timeout_ms, err, errsize);
    /* A topic created a moment ago may not be in every broker's metadata
     * yet: "missing" is believed after 5 s. */
    for (int i = 0; i < 10 && parts == -2; i++) {
        struct timespec half = {0, 500000000};
        nanosleep(&half, NULL);
        parts = kafka_partition_count(rk, topic, timeout_ms, err, errsize);
    }
    if (parts == -2)
        return 1;
    if (parts < 0)
        return -1;
    int64_t *hi = calloc((size_t)parts + 1, sizeof *hi);
    char *done = calloc((size_t)parts + 1, 1);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts ? parts : 1);
    if (!hi || !done || !l) {
        free(hi);
        free(done);
        if (l)
            rd_kafka_topic_partition_list_destroy(l);
        snprintf(err, errsize, "out of memory");
        return -1;
    }
    int pending = 0, rc = 0;
    for (int p = 0; p < parts && rc == 0; p++) {
        int64_t lo;
        rd_kafka_resp_err_t e =
            rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi[p], timeout_ms);
        if (e) {
            snprintf(err, errsize, "cannot read the offsets of '%s' [%d]: %s", topic, p,
                     rd_kafka_err2str(e));
            rc = -1;
        } else if (hi[p] > lo) {
            rd_kafka_topic_partition_list_add(l, topic, p)->offset = lo;
            pending++;
        } else {
            done[p] = 1;
        }
    }
    if (rc == 0 && pending && rd_kafka_assign(rk, l) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errsize, "cannot assign the partitions of '%s'", topic);
        rc = -1;
    }
    while (rc == 0 && pending > 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, timeout_ms);
        if (!m) {
            snprintf(err, errsize, "no message from '%s' within %d ms before its end", topic,
                     timeout_ms);
            rc = -1;
            break;
        }
        int p = m->partition;
        int in = p >= 0 && p < parts;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            /* Offsets of a compacted topic have gaps: the end is the end. */
            if (in && !done[p] && m->offset >= hi[p]) {
                done[p] = 1;
                pending--;
            }
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->err) {
            snprintf(err, errsize, "reading '%s': %s", topic, rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            rc = -1;
            break;
        }
        if (in && !done[p] && m->offset < hi[p]) {
            if (fn(arg, m->key, m->key_len, m->payload, m->payload ? m->len : 0, err, errsize) != 0)
                rc = -1;
            if (m->offset + 1 >= hi[p]) {
                done[p] = 1;
                pending--;
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_topic_partition_list_destroy(l);
    free(hi);
    free(done);
    return rc;
}

int kafka_read_topic(const tw_config *cfg, const char *topic, int timeout_ms, kafka_read_fn fn,
                     void *arg, char *err, size_t errsize)
{
    char group[64];
    snprintf(group, sizeof group, "tidewater-read-%ld", (long)getpid());
    const char *defaults[] = {
        "group.id", group, "enable.auto.commit", "false", "enable.partition.eof", "true", NULL};
    rd_kafka_conf_t *conf = kafka_conf_build(cfg, "tidewater-read", defaults, err, errsize);
    if (!conf)
        return -1;
    if (!tw_log_enabled(TW_LOG_DEBUG))
        rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
    char rkerr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, rkerr, sizeof rkerr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errsize, "%s", rkerr);
        return -1;
    }
    int rc = read_all(rk, topic, timeout_ms, fn, arg, err, errsize);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}
