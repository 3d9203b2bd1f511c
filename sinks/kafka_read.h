/*
 * kafka_read.h — reads one topic from its beginning to the end it has when
 * the call starts (every partition), e.g. to load the schema store from the
 * compacted <prefix>.schemas topic at startup.
 *
 * A throwaway consumer (no group offsets committed) is created and destroyed
 * per call. The callback sees each message in offset order per partition;
 * key and value point into librdkafka's message and are valid only during
 * the call (value NULL for a tombstone).
 */
#ifndef TW_KAFKA_READ_H
#define TW_KAFKA_READ_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

struct tw_config;

/* Partitions of topic by rk's metadata: >= 0, -2 when the topic does not
 * exist, -1 with err on any other failure. */
int kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms, char *err,
                          size_t errsize);

/* Return 0 to go on, anything else to stop reading (kafka_read_topic then
 * returns -1 with whatever the callback wrote into err). */
typedef int (*kafka_read_fn)(void *arg, const void *key, size_t keylen, const void *value,
                             size_t valuelen, char *err, size_t errsize);

/* Returns 0 when every partition was read to its end, 1 when the topic does
 * not exist (nothing read), -1 with err (unreachable brokers, a read that
 * stalls longer than timeout_ms, the callback's error). */
int kafka_read_topic(const struct tw_config *cfg, const char *topic, int timeout_ms,
                     kafka_read_fn fn, void *arg, char *err, size_t errsize);

#endif
