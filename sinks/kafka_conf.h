/*
 * kafka_conf.h — turns Tidewater's configuration into a librdkafka
 * configuration object. Every `kafka.*` key reaches librdkafka unchanged
 * (without the prefix); librdkafka is the judge of names and values, and
 * its verdict is reported naming the Tidewater key and where it was set.
 * librdkafka's own log lines are routed through tw_log (component "kafka").
 *
 * Ownership: the returned rd_kafka_conf_t belongs to the caller; it is
 * consumed by rd_kafka_new() on success, otherwise freed with
 * rd_kafka_conf_destroy().
 */
#ifndef TW_KAFKA_CONF_H
#define TW_KAFKA_CONF_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

struct tw_config;

/* The log callback kafka_conf_build() installs (librdkafka's lines to
 * tw_log); a client that installs its own may call it to keep them. */
void kafka_conf_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

/* client_id: the librdkafka client.id unless the configuration sets one.
 * defaults: NULL, or name/value pairs ending with NULL, applied before the
 * user's kafka.* keys so that those win. Returns NULL with the reason in err
 * when a property is unknown or bad. */
rd_kafka_conf_t *kafka_conf_build(const struct tw_config *cfg, const char *client_id,
                                  const char *const *defaults, char *err, size_t errsize);

#endif
