#include "sinks/kafka_conf.h"

#include "agent/config.h"
#include "agent/log.h"

#include <stdio.h>
#include <string.h>

/* librdkafka syslog levels: 0..7, 7 = debug. Its warnings are often
 * transient (a broker restarting); keep them at warn so operators see them. */
void kafka_conf_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    tw_log_level lvl = level <= 3   ? TW_LOG_ERROR
                       : level <= 4 ? TW_LOG_WARN
                       : level <= 6 ? TW_LOG_INFO
                                    : TW_LOG_DEBUG;
    if (tw_log_enabled(lvl))
        tw_log(lvl, "kafka", "%s: %s", fac, buf);
}

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, const char *origin,
                    char *err, size_t errsize)
{
    char rderr[512];
    rd_kafka_conf_res_t r = rd_kafka_conf_set(conf, name, value, rderr, sizeof rderr);
    if (r == RD_KAFKA_CONF_OK)
        return 0;
    snprintf(err, errsize, "%s: 'kafka.%s' %s: %s", origin, name,
             r == RD_KAFKA_CONF_UNKNOWN ? "is not a librdkafka property" : "is invalid", rderr);
    return -1;
}

rd_kafka_conf_t *kafka_conf_build(const struct tw_config *cfg, const char *client_id,
                                  const char *const *defaults, char *err, size_t errsize)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!conf) {
        snprintf(err, errsize, "out of memory");
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, kafka_conf_log);
    if (conf_set(conf, "client.id", client_id, "default", err, errsize) != 0)
        goto fail;
    if (conf_set(conf, "bootstrap.servers", tw_config_str(cfg, TW_CFG_KAFKA_BOOTSTRAP_SERVERS),
                 tw_config_origin(cfg, TW_CFG_KAFKA_BOOTSTRAP_SERVERS), err, errsize) != 0)
        goto fail;
    for (const char *const *d = defaults; d && d[0]; d += 2)
        if (conf_set(conf, d[0], d[1], "default", err, errsize) != 0)
            goto fail;
    for (size_t i = 0; i < tw_config_kafka_count(cfg); i++) {
        const char *name, *value, *origin;
        tw_config_kafka_get(cfg, i, &name, &value, &origin);
        if (conf_set(conf, name, value, origin, err, errsize) != 0)
            goto fail;
    }
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}
