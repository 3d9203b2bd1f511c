/*
 * sink_probe — produces COUNT messages through sinks/kafka to TOPIC on the
 * real broker and waits for every delivery report, for the sink's
 * integration test. Message i has key "key-i", value "value-i" (the last
 * one is a tombstone: no value), and headers tidewater.lsn = 0/<i>,
 * tidewater.xid = 7, tidewater.seq = i. Prints "delivered D failed F".
 * Configuration from TIDEWATER_* variables (kafka.bootstrap.servers, ...).
 * Usage: sink_probe TOPIC COUNT
 */
#include "agent/config.h"
#include "sinks/kafka.h"

#include <stdio.h>
#include <stdlib.h>

extern char **environ;

typedef struct {
    long delivered, failed;
    uint64_t opaque_sum;
} counts;

static void on_delivery(void *app, uint64_t opaque, int ok, int too_large, const char *errstr)
{
    counts *c = app;
    (void)too_large; /* errstr says so */
    if (ok) {
        c->delivered++;
        c->opaque_sum += opaque;
    } else {
        c->failed++;
        fprintf(stderr, "delivery failed: %s\n", errstr);
    }
}

int main(int argc, char **argv)
{
    char err[1024] = "";
    if (argc != 3) {
        fprintf(stderr, "usage: sink_probe TOPIC COUNT\n");
        return 2;
    }
    long count = atol(argv[2]);
    tw_config *cfg = tw_config_new();
    if (tw_config_load_env(cfg, environ, err, sizeof err) != 0 ||
        tw_config_finish(cfg, err, sizeof err) != 0) {
        fprintf(stderr, "config: %s\n", err);
        return 2;
    }
    counts c = {0, 0, 0};
    kafka_sink *k = kafka_sink_new(cfg, "tidewater-sink-probe", on_delivery, &c, err, sizeof err);
    if (!k) {
        fprintf(stderr, "sink: %s\n", err);
        return 1;
    }
    kafka_topic *t = kafka_sink_topic(k, argv[1], 0, err, sizeof err);
    if (!t) {
        fprintf(stderr, "topic: %s\n", err);
        kafka_sink_destroy(k);
        tw_config_free(cfg);
        return 1;
    }
    for (long i = 1; i <= count; i++) {
        char key[32], value[32];
        int kl = snprintf(key, sizeof key, "key-%ld", i);
        int vl = snprintf(value, sizeof value, "value-%ld", i);
        kafka_headers h = {.commit_lsn = (uint64_t)i, .xid = 7, .seq = (uint64_t)i};
        int rc;
        while ((rc = kafka_sink_produce(k, t, key, (size_t)kl, i == count ? NULL : value,
                                        (size_t)vl, &h, (uint64_t)i, err, sizeof err)) ==
               KAFKA_SINK_FULL)
            kafka_sink_poll(k, 100);
        if (rc != KAFKA_SINK_OK) {
            fprintf(stderr, "produce: %s\n", err);
            break;
        }
        kafka_sink_poll(k, 0);
    }
    int left = kafka_sink_flush(k, 30000);
    int sum_ok = c.opaque_sum == (uint64_t)count * (uint64_t)(count + 1) / 2;
    printf("delivered %ld failed %ld outstanding %d opaque %s\n", c.delivered, c.failed, left,
           sum_ok ? "ok" : "wrong");
    kafka_sink_destroy(k);
    tw_config_free(cfg);
    return c.delivered == count && left == 0 && sum_ok ? 0 : 1;
}
