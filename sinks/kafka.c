#include "sinks/kafka.h"

#include "agent/config.h"
#include "agent/log.h"
#include "sinks/kafka_conf.h"

#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

/* Applied before the user's kafka.* keys, which override them. */
/* clang-format off */
static const char *const producer_defaults[] = {
    "enable.idempotence",           "true",
    "compression.codec",            "zstd",
    /* zstd's level 1 compressed the benchmark's Avro rows as small as the
     * default level 3 did, for 8% fewer instructions in the whole agent
     * (level 3 clears larger tables for every batch). */
    "compression.level",            "1",
    "partitioner",                  "murmur2_random",
    "linger.ms",                    "20",
    "queue.buffering.max.messages", "20000",
    "queue.buffering.max.kbytes",   "16384",
    /* Tidewater creates its topics itself (compacted schemas topic,
     * topic.partitions, topic.create=false): a metadata request must not
     * let a broker with auto.create.topics.enable create them first. */
    "allow.auto.create.topics",     "false",
    /* Broker states for kafka_sink_connected() (and /readyz). */
    "statistics.interval.ms",       "5000",
    NULL,
};
/* clang-format on */

#define ADMIN_TIMEOUT_MS 30000
#define MAX_BROKERS      64
#define SCHEMA_ID_LEN    33 /* "<crc>/<variant>", 16 hex digits each (schemas/relation.h) */

struct kafka_topic {
    char *name;
    rd_kafka_topic_t *rkt;
    long max_bytes; /* the largest message it takes (kafka_sink_topic()) */
    long topic_max; /* the topic's max.message.bytes (on the wire: compressed), -1 unknown */
    struct kafka_topic *next;
};

struct kafka_sink {
    rd_kafka_t *rk;
    const tw_config *cfg;
    kafka_delivery_fn on_delivery;
    void *app;
    kafka_topic *topics; /* few (one per table): a list is enough */
    int compressed;      /* compression.codec is not none: see too_big() */
    long producer_max;   /* message.max.bytes (uncompressed), from the configuration */
    long batch_size;     /* batch.size, from the configuration */
    int connected;       /* see kafka_sink_connected() */
    /* librdkafka's last error line (a broker refusing our credentials, a
     * certificate we reject), written from its threads. Cleared before a
     * metadata or admin request and appended to its error when it fails:
     * the request's own reason is often just "Broker transport failure". */
    pthread_mutex_t last_lock;
    char last_error[512];
    long long stall_us; /* unanswered this long: not reachable (see kafka.h) */
    int stalled;        /* every UP broker stalled, and none answered since */
    /* Per broker (by node id), from the previous statistics: requests were
     * in flight, and how many responses it had sent. Brokers beyond the
     * first MAX_BROKERS are never counted as stalled. */
    struct {
        long long nodeid, rx;
        int waiting;
    } prev[MAX_BROKERS];
    int nprev;
};

/* librdkafka's lines go to the log as for every client; errors (syslog
 * level 3 and below) are also kept as the sink's last error. */
static void sink_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    kafka_sink *k = rd_kafka_opaque(rk);
    if (k && level <= 3) {
        pthread_mutex_lock(&k->last_lock);
        snprintf(k->last_error, sizeof k->last_error, "%s", buf);
        pthread_mutex_unlock(&k->last_lock);
    }
    kafka_conf_log(rk, level, fac, buf);
}

static void clear_last_error(kafka_sink *k)
{
    pthread_mutex_lock(&k->last_lock);
    k->last_error[0] = '\0';
    pthread_mutex_unlock(&k->last_lock);
}

/* Appends "; last error from librdkafka: ..." to err when there is one. */
static void add_last_error(kafka_sink *k, char *err, size_t errsize)
{
    size_t n = strlen(err);
    pthread_mutex_lock(&k->last_lock);
    if (k->last_error[0] && n + 1 < errsize)
        snprintf(err + n, errsize - n, "; last error from librdkafka: %s", k->last_error);
    pthread_mutex_unlock(&k->last_lock);
}

static int too_big(kafka_sink *k, const kafka_topic *t, const void *key, size_t keylen,
                   const void *value, size_t valuelen, size_t size, char *err, size_t errsize);
static size_t record_size(size_t keylen, size_t valuelen, size_t key_schema_len,
                          size_t value_schema_len);

/* The broker refused a message "for its size": it checks whole batches, so
 * that is this message's fault only when it alone is over the topic's
 * limit (1, why says so). Otherwise (0) it shared a batch the producer
 * made larger than the topic takes, and why names the setting to lower. */
static int alone_too_large(kafka_sink *k, const rd_kafka_message_t *m, char *why, size_t whysize)
{
    const kafka_topic *t = k->topics;
    while (t && t->rkt != m->rkt)
        t = t->next;
    if (!t)
        return 1; /* not ours to judge: take the broker's word */
    size_t size =
        record_size(m->key_len, m->len, m->key ? SCHEMA_ID_LEN : 0, m->payload ? SCHEMA_ID_LEN : 0);
    if (too_big(k, t, m->key, m->key_len, m->payload, m->len, size, why, whysize))
        return 1;
    snprintf(why, whysize,
             "the broker refused a batch to topic '%s' for its size (its max.message.bytes is "
             "%ld) although this message of %zu bytes fits: lower kafka.batch.size to %ld or "
             "less",
             t->name, t->topic_max, m->len + m->key_len, t->topic_max);
    return 0;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    kafka_sink *k = opaque;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        k->connected = 1;
        k->on_delivery(k->app, (uint64_t)(uintptr_t)m->_private, 1, 0, "");
        return;
    }
    char why[768];
    int too_large = 0;
    if (m->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
        too_large = alone_too_large(k, m, why, sizeof why);
    else
        snprintf(why, sizeof why, "message of %zu bytes (key %zu bytes) to topic '%s': %s",
                 m->len + m->key_len, m->key_len, m->rkt ? rd_kafka_topic_name(m->rkt) : "?",
                 rd_kafka_err2str(m->err));
    k->on_delivery(k->app, (uint64_t)(uintptr_t)m->_private, 0, too_large, why);
}

/* Whether broker nodeid, with rx responses so far and requests in flight
 * or not (waiting), also had requests in flight at the previous statistics
 * and has answered none since; remembers this call for the next. */
static int unanswered_since_last(kafka_sink *k, long long nodeid, long long rx, int waiting)
{
    int i = 0;
    while (i < k->nprev && k->prev[i].nodeid != nodeid)
        i++;
    if (i == k->nprev) {
        if (i == MAX_BROKERS)
            return 0;
        k->nprev++;
        k->prev[i].nodeid = nodeid;
        k->prev[i].waiting = 0;
    }
    int stuck = waiting && k->prev[i].waiting && k->prev[i].rx == rx;
    k->prev[i].rx = rx;
    k->prev[i].waiting = waiting;
    return stuck;
}

/* librdkafka's statistics JSON: is any real broker (nodeid >= 0) UP and
 * answering? An UP broker is not answering when it had requests in flight
 * at these statistics and the previous ones, sent no response in between,
 * and has sent nothing for stall_us (rxidle): a network that drops packets
 * leaves the connection UP until requests time out (30 s and more). */
static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    (void)rk;
    kafka_sink *k = opaque;
    json_t *root = json_loadb(json, len, 0, NULL);
    json_t *brokers = json_object_get(root, "brokers"), *b;
    const char *name, *stalled_name = NULL;
    int up = 0, stalled = 0;
    long long idle_us = 0;
    json_object_foreach(brokers, name, b)
    {
        const char *state = json_string_value(json_object_get(b, "state"));
        long long nodeid = json_integer_value(json_object_get(b, "nodeid"));
        if (nodeid < 0)
            continue;
        int is_up = state && strcmp(state, "UP") == 0;
        long long rxidle = json_integer_value(json_object_get(b, "rxidle"));
        int stuck = unanswered_since_last(
            k, nodeid, json_integer_value(json_object_get(b, "rx")),
            is_up && json_integer_value(json_object_get(b, "waitresp_cnt")) > 0);
        if (!is_up)
            continue;
        if (stuck && rxidle > k->stall_us) {
            stalled = 1;
            stalled_name = name;
            idle_us = rxidle;
        } else {
            up = 1;
        }
    }
    if (root) {
        k->connected = up;
        if (stalled && !up && !k->stalled)
            tw_warn("kafka",
                    "broker %s has not answered for %lld s with requests in flight: counted as "
                    "unreachable until it answers",
                    stalled_name, idle_us / 1000000);
        else if (up && k->stalled)
            tw_info("kafka", "a broker answers again");
        k->stalled = !up && (stalled || k->stalled); /* until one answers */
    }
    json_decref(root);
    return 0; /* librdkafka frees json */
}

/* Broker-level trouble (a broker down, authentication): worth a warning;
 * the producer retries by itself, and fatal errors are checked by the loop. */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    kafka_sink *k = opaque;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        k->connected = 0;
    tw_log(err == RD_KAFKA_RESP_ERR__FATAL ? TW_LOG_ERROR : TW_LOG_WARN, "kafka", "%s (%s)", reason,
           rd_kafka_err2str(err));
}

/* A numeric property of conf, or dflt (librdkafka's default) when it cannot
 * be read. */
static long conf_long(const rd_kafka_conf_t *conf, const char *name, long dflt)
{
    char v[32];
    size_t n = sizeof v;
    return rd_kafka_conf_get(conf, name, v, &n) == RD_KAFKA_CONF_OK ? strtol(v, NULL, 10) : dflt;
}

kafka_sink *kafka_sink_new(const tw_config *cfg, const char *client_id,
                           kafka_delivery_fn on_delivery, void *app, char *err, size_t errsize)
{
    kafka_sink *k = calloc(1, sizeof *k);
    if (!k) {
        snprintf(err, errsize, "out of memory");
        return NULL;
    }
    k->cfg = cfg;
    k->on_delivery = on_delivery;
    k->app = app;
    rd_kafka_conf_t *conf = kafka_conf_build(cfg, client_id, producer_defaults, err, errsize);
    if (!conf) {
        free(k);
        return NULL;
    }
    pthread_mutex_init(&k->last_lock, NULL);
    rd_kafka_conf_set_log_cb(conf, sink_log_cb);
    /* A stall shows within one statistics interval after it began, but
     * never sooner than 5 s of silence (a busy broker can be slow). */
    long long stats_ms = conf_long(conf, "statistics.interval.ms", 5000);
    k->stall_us = (stats_ms > 5000 ? stats_ms : 5000) * 1000;
    k->producer_max = conf_long(conf, "message.max.bytes", 1000000);
    k->batch_size = conf_long(conf, "batch.size", 1000000);
    char v[32];
    size_t vn = sizeof v;
    k->compressed = rd_kafka_conf_get(conf, "compression.codec", v, &vn) != RD_KAFKA_CONF_OK ||
                    strcmp(v, "none") != 0;
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_stats_cb(conf, stats_cb);
    rd_kafka_conf_set_opaque(conf, k);
    k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errsize);
    if (!k->rk) {
        rd_kafka_conf_destroy(conf);
        pthread_mutex_destroy(&k->last_lock);
        free(k);
        return NULL;
    }
    return k;
}

void kafka_sink_destroy(kafka_sink *k)
{
    if (!k)
        return;
    for (kafka_topic *t = k->topics, *next; t; t = next) {
        next = t->next;
        rd_kafka_topic_destroy(t->rkt);
        free(t->name);
        free(t);
    }
    rd_kafka_destroy(k->rk);
    pthread_mutex_destroy(&k->last_lock);
    free(k);
}

/* 1 = exists, 0 = missing, -1 = could not tell (err set). */
static int topic_exists(kafka_sink *k, rd_kafka_topic_t *rkt, const char *name, char *err,
                        size_t errsize)
{
    const struct rd_kafka_metadata *md = NULL;
    clear_last_error(k);
    rd_kafka_resp_err_t e = rd_kafka_metadata(k->rk, 0, rkt, &md, ADMIN_TIMEOUT_MS);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errsize, "cannot read metadata of topic '%s': %s", name, rd_kafka_err2str(e));
        add_last_error(k, err, errsize);
        return -1;
    }
    int rc = 1;
    if (md->topic_cnt < 1 || md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
        rc = 0;
    else if (md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errsize, "topic '%s': %s", name, rd_kafka_err2str(md->topics[0].err));
        rc = -1;
    }
    rd_kafka_metadata_destroy(md);
    return rc;
}

static int create_topic(kafka_sink *k, const char *name, int compact, char *err, size_t errsize)
{
    char rderr[512];
    int partitions = (int)tw_config_int(k->cfg, TW_CFG_TOPIC_PARTITIONS);
    int rf = (int)tw_config_int(k->cfg, TW_CFG_TOPIC_REPLICATION_FACTOR);
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(name, partitions, rf, rderr, sizeof rderr);
    if (!nt) {
        snprintf(err, errsize, "cannot create topic '%s': %s", name, rderr);
        return -1;
    }
    if (compact)
        rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    rd_kafka_queue_t *q = rd_kafka_queue_new(k->rk);
    rd_kafka_AdminOptions_t *opts =
        rd_kafka_AdminOptions_new(k->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opts, ADMIN_TIMEOUT_MS, rderr, sizeof rderr);
    clear_last_error(k);
    rd_kafka_CreateTopics(k->rk, &nt, 1, opts, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, ADMIN_TIMEOUT_MS + 5000);
    int rc = -1;
    if (!ev) {
        snprintf(err, errsize, "creating topic '%s' timed out", name);
        add_last_error(k, err, errsize);
    } else if (rd_kafka_event_error(ev)) {
        snprintf(err, errsize, "cannot create topic '%s': %s", name,
                 rd_kafka_event_error_string(ev));
    } else {
        size_t cnt = 0;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        rd_kafka_resp_err_t e = cnt ? rd_kafka_topic_result_error(res[0]) : RD_KAFKA_RESP_ERR__FAIL;
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            rc = 0;
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
                tw_info("kafka", "created topic '%s' (%d partition%s%s)", name, partitions,
                        partitions == 1 ? "" : "s", compact ? ", compacted" : "");
        } else {
            snprintf(err, errsize, "cannot create topic '%s': %s", name,
                     cnt && rd_kafka_topic_result_error_string(res[0])
                         ? rd_kafka_topic_result_error_string(res[0])
                         : rd_kafka_err2str(e));
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    return rc;
}

/* The topic's max.message.bytes from the broker (DescribeConfigs), or -1
 * when it cannot be read (err says why). */
static long topic_max_message_bytes(kafka_sink *k, const char *name, char *err, size_t errsize)
{
    char rderr[512];
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name);
    rd_kafka_queue_t *q = rd_kafka_queue_new(k->rk);
    rd_kafka_AdminOptions_t *opts =
        rd_kafka_AdminOptions_new(k->rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    rd_kafka_AdminOptions_set_request_timeout(opts, ADMIN_TIMEOUT_MS, rderr, sizeof rderr);
    rd_kafka_DescribeConfigs(k->rk, &res, 1, opts, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, ADMIN_TIMEOUT_MS + 5000);
    long v = -1;
    snprintf(err, errsize, "no answer");
    if (ev && rd_kafka_event_error(ev)) {
        snprintf(err, errsize, "%s", rd_kafka_event_error_string(ev));
    } else if (ev) {
        size_t cnt = 0, ncfg = 0;
        const rd_kafka_ConfigResource_t **rs = rd_kafka_DescribeConfigs_result_resources(
            rd_kafka_event_DescribeConfigs_result(ev), &cnt);
        if (cnt && rd_kafka_ConfigResource_error(rs[0]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(err, errsize, "%s", rd_kafka_ConfigResource_error_string(rs[0]));
        } else if (cnt) {
            const rd_kafka_ConfigEntry_t **cfg = rd_kafka_ConfigResource_configs(rs[0], &ncfg);
            for (size_t i = 0; i < ncfg; i++) {
                const char *value = rd_kafka_ConfigEntry_value(cfg[i]);
                if (strcmp(rd_kafka_ConfigEntry_name(cfg[i]), "max.message.bytes") == 0 && value)
                    v = strtol(value, NULL, 10);
            }
            if (v <= 0) {
                v = -1;
                snprintf(err, errsize, "max.message.bytes not among its settings");
            }
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(q);
    rd_kafka_ConfigResource_destroy(res);
    return v;
}

kafka_topic *kafka_sink_topic(kafka_sink *k, const char *name, int compact, char *err,
                              size_t errsize)
{
    for (kafka_topic *t = k->topics; t; t = t->next)
        if (strcmp(t->name, name) == 0)
            return t;

    rd_kafka_topic_t *rkt = rd_kafka_topic_new(k->rk, name, NULL);
    if (!rkt) {
        snprintf(err, errsize, "topic '%s': %s", name, rd_kafka_err2str(rd_kafka_last_error()));
        return NULL;
    }
    int exists = topic_exists(k, rkt, name, err, errsize);
    if (exists == 0) {
        if (!tw_config_bool(k->cfg, TW_CFG_TOPIC_CREATE)) {
            snprintf(err, errsize,
                     "topic '%s' does not exist and topic.create is false: create it, or set "
                     "topic.create=true",
                     name);
            exists = -1;
        } else if (create_topic(k, name, compact, err, errsize) == 0) {
            /* Wait (up to 10 s) until the new topic is in the metadata the
             * producer uses. */
            struct timespec pause = {0, 100000000};
            for (int i = 0; i < 100 && exists == 0; i++) {
                exists = topic_exists(k, rkt, name, err, errsize);
                if (exists == 0)
                    nanosleep(&pause, NULL);
            }
            if (exists == 0)
                snprintf(err, errsize, "topic '%s' was created but does not show in metadata",
                         name);
        }
    }
    kafka_topic *t = exists == 1 ? calloc(1, sizeof *t) : NULL;
    if (t)
        t->name = strdup(name);
    if (!t || !t->name) {
        if (exists == 1)
            snprintf(err, errsize, "out of memory");
        free(t);
        rd_kafka_topic_destroy(rkt);
        return NULL;
    }
    t->rkt = rkt;
    t->next = k->topics;
    k->topics = t;
    k->connected = 1; /* a broker just answered for it */
    char why[512];
    t->topic_max = topic_max_message_bytes(k, name, why, sizeof why);
    t->max_bytes = k->producer_max;
    if (t->topic_max < 0)
        tw_info("kafka",
                "cannot read max.message.bytes of topic '%s' (%s): messages are checked against "
                "the producer's message.max.bytes (%ld) only",
                name, why, t->max_bytes);
    else if (t->topic_max < t->max_bytes)
        t->max_bytes = t->topic_max;
    if (t->topic_max > 0 && k->batch_size > t->topic_max)
        tw_warn("kafka",
                "topic '%s' takes batches of at most %ld bytes (its max.message.bytes) but the "
                "producer makes them up to %ld bytes (batch.size): the broker would refuse a full "
                "batch of small messages; set kafka.batch.size=%ld or less",
                name, t->topic_max, k->batch_size, t->topic_max);
    return t;
}

/* What the broker counts for one message in a batch of its own: the record
 * batch header (61 bytes), the record's own fields (up to 21), and per
 * header its name and value with two length varints. A schema id header is
 * there when its length is not 0. */
static size_t record_size(size_t keylen, size_t valuelen, size_t key_schema_len,
                          size_t value_schema_len)
{
    size_t size = 61 + 21 + keylen + valuelen + 3 * (13 + 2 + 20);
    if (key_schema_len)
        size += 20 + 2 + key_schema_len;
    if (value_schema_len)
        size += 22 + 2 + value_schema_len;
    return size;
}

/* Rare path: a message over max_bytes before compression. The producer's
 * limit applies to it as it is; the topic's limit applies to the batch the
 * broker receives, compressed, so with compression on the value and key are
 * compressed here with zstd at level 1 to estimate that (a message this
 * large fills a batch nearly alone; a batch of several is kept under the
 * topic's limit by kafka.batch.size, see kafka_sink_topic()). The broker's
 * delivery report stays the last word for what the estimate lets through. Returns 1 (err
 * set) when the message is too large. */
static int too_big(kafka_sink *k, const kafka_topic *t, const void *key, size_t keylen,
                   const void *value, size_t valuelen, size_t size, char *err, size_t errsize)
{
    if (k->producer_max > 0 && size > (size_t)k->producer_max) {
        snprintf(err, errsize,
                 "message of %zu bytes (key %zu bytes, value %zu bytes, with headers and record "
                 "overhead) is larger than the producer's message.max.bytes (%ld) for topic '%s'",
                 size, keylen, value ? valuelen : 0, k->producer_max, t->name);
        return 1;
    }
    size_t wire = size;
    if (k->compressed) {
        size_t plain = keylen + (value ? valuelen : 0);
        size_t bound = ZSTD_compressBound(plain);
        char *tmp = malloc(plain + bound);
        if (!tmp)
            return 0; /* cannot tell: the broker decides */
        if (keylen)
            memcpy(tmp, key, keylen);
        if (value && valuelen)
            memcpy(tmp + keylen, value, valuelen);
        size_t c = ZSTD_compress(tmp + plain, bound, tmp, plain, 1);
        free(tmp);
        if (ZSTD_isError(c))
            return 0;
        wire = size - plain + c;
    }
    if (wire <= (size_t)t->topic_max)
        return 0;
    snprintf(err, errsize,
             "message of %zu bytes (key %zu bytes, value %zu bytes, with headers and record "
             "overhead; about %zu bytes compressed) is larger than topic '%s' takes (its "
             "max.message.bytes is %ld)",
             size, keylen, value ? valuelen : 0, wire, t->name, t->topic_max);
    return 1;
}

/* The header values are written for every message: by hand, since
 * snprintf showed in the profile. Upper-case hex without leading zeros
 * (PostgreSQL's %X/%X) and decimal; no terminator; returns the length. */
static size_t put_hex(char *out, uint32_t v)
{
    static const char digits[] = "0123456789ABCDEF";
    char tmp[8];
    size_t n = 0;
    do {
        tmp[n++] = digits[v & 0xF];
        v >>= 4;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

static size_t put_dec(char *out, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

int kafka_sink_produce(kafka_sink *k, kafka_topic *t, const void *key, size_t keylen,
                       const void *value, size_t valuelen, const kafka_headers *h,
                       uint64_t msg_opaque, char *err, size_t errsize)
{
    size_t size =
        record_size(keylen, value ? valuelen : 0, key && h->key_schema ? strlen(h->key_schema) : 0,
                    value && h->value_schema ? strlen(h->value_schema) : 0);
    if (t->max_bytes > 0 && size > (size_t)t->max_bytes &&
        too_big(k, t, key, keylen, value, valuelen, size, err, errsize))
        return KAFKA_SINK_TOOBIG;
    char lsn[24], xid[24], seq[24];
    size_t hi = put_hex(lsn, (uint32_t)(h->commit_lsn >> 32));
    lsn[hi] = '/';
    size_t lsnlen = hi + 1 + put_hex(lsn + hi + 1, (uint32_t)h->commit_lsn);
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(5);
    rd_kafka_header_add(hdrs, "tidewater.lsn", 13, lsn, (ssize_t)lsnlen);
    rd_kafka_header_add(hdrs, "tidewater.xid", 13, xid, (ssize_t)put_dec(xid, h->xid));
    rd_kafka_header_add(hdrs, "tidewater.seq", 13, seq, (ssize_t)put_dec(seq, h->seq));
    if (h->key_schema && key)
        rd_kafka_header_add(hdrs, "tidewater.schema.key", -1, h->key_schema, -1);
    if (h->value_schema && value)
        rd_kafka_header_add(hdrs, "tidewater.schema.value", -1, h->value_schema, -1);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        k->rk, RD_KAFKA_V_RKT(t->rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key, keylen), RD_KAFKA_V_VALUE((void *)value, value ? valuelen : 0),
        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE((void *)(uintptr_t)msg_opaque), RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        rd_kafka_headers_destroy(hdrs); /* on success librdkafka owns them */
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        return KAFKA_SINK_OK;
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        return KAFKA_SINK_FULL;
    if (e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
        snprintf(err, errsize,
                 "message of %zu bytes (key %zu bytes) for topic '%s' exceeds the producer's "
                 "message.max.bytes",
                 valuelen + keylen, keylen, t->name);
        return KAFKA_SINK_TOOBIG;
    }
    snprintf(err, errsize, "cannot produce to topic '%s': %s", t->name, rd_kafka_err2str(e));
    return KAFKA_SINK_ERROR;
}

void kafka_sink_poll(kafka_sink *k, int timeout_ms)
{
    rd_kafka_poll(k->rk, timeout_ms);
}

int kafka_sink_flush(kafka_sink *k, int timeout_ms)
{
    rd_kafka_flush(k->rk, timeout_ms);
    return rd_kafka_outq_len(k->rk);
}

int kafka_sink_outstanding(kafka_sink *k)
{
    return rd_kafka_outq_len(k->rk);
}

int kafka_sink_connected(kafka_sink *k)
{
    return k->connected;
}

int kafka_sink_fatal(kafka_sink *k, char *err, size_t errsize)
{
    return rd_kafka_fatal_error(k->rk, err, errsize) != RD_KAFKA_RESP_ERR_NO_ERROR;
}
