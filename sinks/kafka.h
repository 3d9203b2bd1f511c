/*
 * kafka.h — the Kafka sink: one idempotent librdkafka producer for every
 * topic Tidewater writes.
 *
 * Defaults (each overridable by a kafka.* key): enable.idempotence=true,
 * compression.codec=zstd, partitioner=murmur2_random (the Java client's
 * key hashing, so keyed messages land where Java producers would put them),
 * linger.ms=20, allow.auto.create.topics=false (Tidewater creates its own
 * topics with their settings), and a bounded local queue (queue.buffering.max.messages
 * 20000, queue.buffering.max.kbytes 16384) so memory stays bounded: when it
 * is full, kafka_sink_produce() returns KAFKA_SINK_FULL and the caller stops
 * reading the replication socket (backpressure) and polls until room frees.
 *
 * Every message carries the headers tidewater.lsn (commit LSN, "X/Y"),
 * tidewater.xid and tidewater.seq (position inside the transaction), when
 * given tidewater.schema.key / tidewater.schema.value (see relation.h), and an
 * opaque 64-bit value that comes back in the delivery callback, served from
 * kafka_sink_poll() on the caller's thread.
 *
 * When reading topic metadata or creating a topic fails, the error also
 * carries librdkafka's last error line logged meanwhile (e.g. a broker's
 * "SASL authentication error ... invalid credentials", naming the broker),
 * as the request's own reason is often only "Broker transport failure".
 *
 * A fatal producer error (librdkafka 2.0.2 has a known idempotence sequence
 * bug) is reported by kafka_sink_fatal(); the caller then destroys the sink
 * and restarts from its last acknowledged LSN.
 *
 * Ownership: key/value bytes are copied by librdkafka; the sink owns its
 * topic handles. Not thread-safe: one thread produces and polls.
 */
#ifndef TW_KAFKA_H
#define TW_KAFKA_H

#include <stddef.h>
#include <stdint.h>

struct tw_config;

typedef struct kafka_sink kafka_sink;
typedef struct kafka_topic kafka_topic; /* owned by the sink */

/* ok = 1 when the broker acknowledged the message; otherwise errstr says why
 * (with the topic and the message's size). too_large = 1 when the broker
 * refused it for its size (the topic's max.message.bytes): a failure no
 * retry cures. */
typedef void (*kafka_delivery_fn)(void *app, uint64_t msg_opaque, int ok, int too_large,
                                  const char *errstr);

typedef struct {
    uint64_t commit_lsn;
    uint32_t xid;
    uint64_t seq;
    /* "<crc>/<variant>" keys of the exact schemas in <prefix>.schemas
     * (tidewater.schema.key / tidewater.schema.value); NULL: no header. */
    const char *key_schema, *value_schema;
} kafka_headers;

enum { KAFKA_SINK_OK = 0, KAFKA_SINK_FULL = 1, KAFKA_SINK_TOOBIG = 2, KAFKA_SINK_ERROR = -1 };

/* Creates the producer. client_id names it in broker logs. */
kafka_sink *kafka_sink_new(const struct tw_config *cfg, const char *client_id,
                           kafka_delivery_fn on_delivery, void *app, char *err, size_t errsize);
void kafka_sink_destroy(kafka_sink *k);

/* Makes sure topic exists: looked up once, created when missing and
 * topic.create is true (compacted when compact is set), and returns the
 * sink's handle for it (the same handle on later calls). NULL with err when
 * it is missing and may not be created, or creation failed. The handle
 * knows the largest message the topic takes: the smaller of the producer's
 * message.max.bytes and the topic's max.message.bytes (read from the
 * broker; when that is not allowed, the producer's alone). */
kafka_topic *kafka_sink_topic(kafka_sink *k, const char *topic, int compact, char *err,
                              size_t errsize);

/* Queues one message. value NULL = tombstone. Returns KAFKA_SINK_OK,
 * KAFKA_SINK_FULL (nothing queued: poll, then retry), KAFKA_SINK_TOOBIG
 * (nothing queued: the message, with its headers and record overhead, is
 * larger than the topic takes; err gives the sizes and the limit), or
 * KAFKA_SINK_ERROR with err. */
int kafka_sink_produce(kafka_sink *k, kafka_topic *t, const void *key, size_t keylen,
                       const void *value, size_t valuelen, const kafka_headers *h,
                       uint64_t msg_opaque, char *err, size_t errsize);

/* Serves delivery reports (and errors) for up to timeout_ms. */
void kafka_sink_poll(kafka_sink *k, int timeout_ms);

/* Waits up to timeout_ms for every queued message; returns the number still
 * outstanding (0 = all delivered or failed, reports served). */
int kafka_sink_flush(kafka_sink *k, int timeout_ms);

/* Messages queued or in flight, not yet reported. */
int kafka_sink_outstanding(kafka_sink *k);

/* 1 when librdkafka's latest statistics (every statistics.interval.ms,
 * default 5000, served by kafka_sink_poll) show a broker UP and answering,
 * or a delivery succeeded or a broker answered for a topic
 * (kafka_sink_topic) since; 0 after all brokers went down. A broker UP but
 * with requests in flight at two statistics in a row, no response in
 * between, and nothing received for the statistics interval (at least 5 s)
 * is not answering: a network that drops packets keeps the
 * connection up until librdkafka's request timeouts (30 s and more). */
int kafka_sink_connected(kafka_sink *k);

/* Non-zero when the producer hit a fatal error; err says which. */
int kafka_sink_fatal(kafka_sink *k, char *err, size_t errsize);

#endif
