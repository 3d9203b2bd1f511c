#include "agent/consume.h"

#include "agent/config.h"
#include "agent/log.h"
#include "agent/registry_conf.h"
#include "schemas/avro_json.h"
#include "sinks/kafka_conf.h"
#include "sinks/kafka_read.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    uint64_t fp;
    uint64_t variant; /* 0: keyed by the CRC alone (the latest variant) */
    avro_json_schema *schema;
} schema_entry;

typedef struct {
    rd_kafka_t *rk;
    char schemas_topic[300];
    schema_entry *schemas;
    size_t nschemas, capschemas;
    int64_t *schemas_next; /* next offset to read, per partition of the schemas topic */
    int schemas_parts;
    int64_t *data_next; /* next offset to read, per partition of the data topic */
    int data_parts;
    const tw_consume_opts *o;
    tw_registry *registry; /* schema.registry.url, for Confluent-framed messages */
    struct {
        int32_t id;
        avro_json_schema *schema;
    } * by_id; /* parsed registry schemas */
    size_t nby_id, capby_id;
} consumer;

static int partitions_of(rd_kafka_t *rk, const char *topic, char *err, size_t errsize)
{
    int n = kafka_partition_count(rk, topic, 10000, err, errsize);
    if (n == -2) {
        snprintf(err, errsize, "topic '%s' does not exist", topic);
        return -1;
    }
    return n;
}

static int assign(consumer *c, const char *topic, const int64_t *next, int parts)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = next[p];
    rd_kafka_resp_err_t e = rd_kafka_assign(c->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    return e == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
}

/* Reads the schemas topic from where it was left up to its current end. */
static int load_schemas(consumer *c, char *err, size_t errsize)
{
    if (!c->schemas_next) {
        c->schemas_parts = partitions_of(c->rk, c->schemas_topic, err, errsize);
        if (c->schemas_parts < 0)
            return -1;
        c->schemas_next = calloc((size_t)c->schemas_parts + 1, sizeof *c->schemas_next);
        if (!c->schemas_next) {
            snprintf(err, errsize, "out of memory");
            return -1;
        }
    }
    int64_t *hi = calloc((size_t)c->schemas_parts + 1, sizeof *hi);
    char *done = calloc((size_t)c->schemas_parts + 1, 1); /* partition read to hi */
    if (!hi || !done) {
        free(hi);
        free(done);
        snprintf(err, errsize, "out of memory");
        return -1;
    }
    int pending = 0;
    for (int p = 0; p < c->schemas_parts; p++) {
        int64_t lo;
        if (rd_kafka_query_watermark_offsets(c->rk, c->schemas_topic, p, &lo, &hi[p], 10000)) {
            snprintf(err, errsize, "cannot read the offsets of '%s'", c->schemas_topic);
            free(hi);
            free(done);
            return -1;
        }
        if (c->schemas_next[p] < lo)
            c->schemas_next[p] = lo;
        done[p] = c->schemas_next[p] >= hi[p];
        pending += !done[p];
    }
    if (pending && assign(c, c->schemas_topic, c->schemas_next, c->schemas_parts) != 0) {
        snprintf(err, errsize, "cannot assign '%s'", c->schemas_topic);
        free(hi);
        free(done);
        return -1;
    }
    int rc = 0;
    while (pending && rc == 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, 10000);
        if (!m) {
            snprintf(err, errsize, "timed out reading '%s'", c->schemas_topic);
            rc = -1;
            break;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->err) {
            snprintf(err, errsize, "reading '%s': %s", c->schemas_topic,
                     rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            rc = -1;
            break;
        }
        int p = m->partition;
        /* "<crc>" or "<crc>/<variant>", 16 hex digits each. */
        int is_fp =
            m->key && (m->key_len == 16 || (m->key_len == 33 && ((const char *)m->key)[16] == '/'));
        for (size_t i = 0; is_fp && i < m->key_len; i++)
            is_fp = i == 16 || (((const char *)m->key)[i] != '\0' &&
                                strchr("0123456789abcdef", ((const char *)m->key)[i]) != NULL);
        if (is_fp && m->payload) {
            char hex[34];
            memcpy(hex, m->key, m->key_len);
            hex[m->key_len] = '\0';
            uint64_t variant = m->key_len == 33 ? strtoull(hex + 17, NULL, 16) : 0;
            hex[16] = '\0';
            uint64_t fp = strtoull(hex, NULL, 16);
            char serr[512];
            avro_json_schema *s = avro_json_schema_parse(m->payload, m->len, serr, sizeof serr);
            if (!s) {
                tw_warn("consume", "schema %s in '%s' is unusable: %s", hex, c->schemas_topic,
                        serr);
            } else {
                if (c->nschemas == c->capschemas) {
                    size_t ncap = c->capschemas ? c->capschemas * 2 : 32;
                    schema_entry *ns = realloc(c->schemas, ncap * sizeof *ns);
                    if (!ns) {
                        avro_json_schema_free(s);
                        snprintf(err, errsize, "out of memory");
                        rd_kafka_message_destroy(m);
                        rc = -1;
                        break;
                    }
                    c->schemas = ns;
                    c->capschemas = ncap;
                }
                c->schemas[c->nschemas].fp = fp;
                c->schemas[c->nschemas].variant = variant;
                c->schemas[c->nschemas++].schema = s;
            }
        }
        c->schemas_next[p] = m->offset + 1;
        if (p >= 0 && p < c->schemas_parts && !done[p] && c->schemas_next[p] >= hi[p]) {
            done[p] = 1;
            pending--;
        }
        rd_kafka_message_destroy(m);
    }
    free(hi);
    free(done);
    return rc;
}

/* variant 0: the newest schema under fp (the topic is a log, later records
 * supersede); otherwise exactly that variant. */
static const avro_json_schema *find_schema(consumer *c, uint64_t fp, uint64_t variant)
{
    for (size_t i = c->nschemas; i-- > 0;)
        if (c->schemas[i].fp == fp && (variant == 0 || c->schemas[i].variant == variant))
            return c->schemas[i].schema;
    return NULL;
}

/* The schema a Confluent-framed message names, from the registry. */
static const avro_json_schema *registry_schema(consumer *c, int32_t id, char *err, size_t errsize)
{
    for (size_t i = 0; i < c->nby_id; i++)
        if (c->by_id[i].id == id)
            return c->by_id[i].schema;
    if (!c->registry) {
        snprintf(err, errsize,
                 "the message is in Confluent's wire format (schema id %ld): set "
                 "schema.registry.url to the registry the agent used",
                 (long)id);
        return NULL;
    }
    const char *json;
    if (tw_registry_schema(c->registry, id, &json, err, errsize) != TW_REG_OK)
        return NULL;
    if (c->nby_id == c->capby_id) {
        size_t ncap = c->capby_id ? c->capby_id * 2 : 16;
        void *n = realloc(c->by_id, ncap * sizeof *c->by_id);
        if (!n) {
            snprintf(err, errsize, "out of memory");
            return NULL;
        }
        c->by_id = n;
        c->capby_id = ncap;
    }
    avro_json_schema *s = avro_json_schema_parse(json, strlen(json), err, errsize);
    if (!s)
        return NULL;
    c->by_id[c->nby_id].id = id;
    c->by_id[c->nby_id++].schema = s;
    return s;
}

/* The schema a message part names: for Confluent framing from the
 * registry, else from the schemas topic (the tidewater.schema.* header, in
 * exact, names the variant). */
typedef struct {
    consumer *c;
    const char *exact;
} part_lookup;

static const avro_json_schema *lookup_schema(void *ctx, avro_frame_kind kind, uint64_t id,
                                             char *err, size_t errsize)
{
    consumer *c = ((part_lookup *)ctx)->c;
    const char *exact = ((part_lookup *)ctx)->exact;
    if (kind == AVRO_FRAME_CONFLUENT)
        return registry_schema(c, (int32_t)id, err, errsize);
    uint64_t variant = 0;
    if (exact && strlen(exact) == 33 && strtoull(exact, NULL, 16) == id)
        variant = strtoull(exact + 17, NULL, 16);
    const avro_json_schema *s = find_schema(c, id, variant);
    if (!s) {
        /* Published after we read the schemas topic? Read on, then data again. */
        if (load_schemas(c, err, errsize) != 0 ||
            assign(c, c->o->topic, c->data_next, c->data_parts) != 0)
            return NULL;
        s = find_schema(c, id, variant);
    }
    if (!s)
        snprintf(err, errsize, "schema %016" PRIx64 " is not in '%s'", id, c->schemas_topic);
    return s;
}

/* Decodes a key or value; *out is JSON null for an absent one. */
static int decode_part(consumer *c, const void *data, size_t len, const char *exact, json_t **out,
                       char *err, size_t errsize)
{
    if (!data) {
        *out = json_null();
        return 0;
    }
    part_lookup l = {c, exact};
    *out = avro_json_decode_message(data, len, lookup_schema, &l, err, errsize);
    return *out ? 0 : -1;
}

static int print_message(consumer *c, rd_kafka_message_t *m, FILE *out, char *err, size_t errsize)
{
    json_t *key = NULL, *value = NULL;
    json_t *headers = json_object();
    rd_kafka_headers_t *hdrs = NULL;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char *name;
        const void *val;
        size_t size;
        for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == 0; i++)
            json_object_set_new(headers, name, val ? json_stringn(val, size) : json_null());
    }
    const char *ks = json_string_value(json_object_get(headers, "tidewater.schema.key"));
    const char *vs = json_string_value(json_object_get(headers, "tidewater.schema.value"));
    if (decode_part(c, m->key, m->key_len, ks, &key, err, errsize) != 0 ||
        decode_part(c, m->payload, m->len, vs, &value, err, errsize) != 0) {
        json_decref(key);
        json_decref(headers);
        return -1;
    }
    json_t *line = json_pack("{s:s, s:i, s:I, s:I, s:o, s:o, s:o}", "topic", c->o->topic,
                             "partition", (int)m->partition, "offset", (json_int_t)m->offset,
                             "timestamp", (json_int_t)rd_kafka_message_timestamp(m, NULL),
                             "headers", headers, "key", key, "value", value);
    char *s = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    fprintf(out, "%s\n", s ? s : "{}");
    fflush(out);
    free(s);
    json_decref(line);
    return 0;
}

int tw_consume_run(const tw_config *cfg, const tw_consume_opts *o, volatile sig_atomic_t *stop,
                   FILE *out)
{
    char err[1024], group[64];
    consumer c = {.o = o};
    snprintf(c.schemas_topic, sizeof c.schemas_topic, "%s.schemas",
             tw_config_str(cfg, TW_CFG_TOPIC_PREFIX));
    snprintf(group, sizeof group, "tidewater-consume-%ld", (long)getpid());
    const char *defaults[] = {
        "group.id", group, "enable.auto.commit", "false", "enable.partition.eof", "true", NULL};
    rd_kafka_conf_t *conf = kafka_conf_build(cfg, "tidewater-consume", defaults, err, sizeof err);
    int rc = 1;
    if (!conf) {
        tw_error("consume", "%s", err);
        return 1;
    }
    if (!tw_log_enabled(TW_LOG_DEBUG))
        rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
    c.rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!c.rk) {
        rd_kafka_conf_destroy(conf);
        tw_error("consume", "%s", err);
        return 1;
    }
    c.registry = tw_registry_from_config(cfg, err, sizeof err);
    if (!c.registry && err[0]) {
        tw_error("consume", "%s", err);
        goto done;
    }
    c.data_parts = partitions_of(c.rk, o->topic, err, sizeof err);
    if (c.data_parts < 0 || load_schemas(&c, err, sizeof err) != 0) {
        tw_error("consume", "%s", err);
        goto done;
    }
    c.data_next = calloc((size_t)c.data_parts + 1, sizeof *c.data_next);
    char *at_end = calloc((size_t)c.data_parts + 1, 1); /* partitions now at their end */
    int n_at_end = 0;
    if (!c.data_next || !at_end) {
        free(at_end);
        tw_error("consume", "out of memory");
        goto done;
    }
    /* Real offsets, not the logical BEGINNING/END: a re-assignment after a
     * schema reload must resume exactly where each partition was. */
    for (int p = 0; p < c.data_parts; p++) {
        int64_t lo, hi;
        if (rd_kafka_query_watermark_offsets(c.rk, o->topic, p, &lo, &hi, 10000)) {
            free(at_end);
            tw_error("consume", "cannot read the offsets of '%s'", o->topic);
            goto done;
        }
        c.data_next[p] = o->from_beginning ? lo : hi;
    }
    if (assign(&c, o->topic, c.data_next, c.data_parts) != 0) {
        free(at_end);
        tw_error("consume", "cannot assign topic '%s'", o->topic);
        goto done;
    }
    long count = 0;
    rc = 0;
    while (!*stop && (o->max <= 0 || count < o->max)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c.rk, 200);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->partition >= 0 && m->partition < c.data_parts && !at_end[m->partition]) {
                at_end[m->partition] = 1;
                n_at_end++;
            }
            rd_kafka_message_destroy(m);
            if (o->until_end && n_at_end >= c.data_parts)
                break;
            continue;
        }
        if (!m->err && m->partition >= 0 && m->partition < c.data_parts && at_end[m->partition]) {
            at_end[m->partition] = 0;
            n_at_end--;
        }
        if (m->err) {
            tw_error("consume", "reading '%s': %s", o->topic, rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            rc = 1;
            break;
        }
        c.data_next[m->partition] = m->offset + 1;
        if (print_message(&c, m, out, err, sizeof err) != 0) {
            tw_error("consume", "topic %s partition %d offset %" PRId64 ": %s", o->topic,
                     (int)m->partition, m->offset, err);
            rd_kafka_message_destroy(m);
            rc = 1;
            break;
        }
        rd_kafka_message_destroy(m);
        count++;
    }
    free(at_end);
done:
    rd_kafka_consumer_close(c.rk);
    rd_kafka_destroy(c.rk);
    for (size_t i = 0; i < c.nschemas; i++)
        avro_json_schema_free(c.schemas[i].schema);
    free(c.schemas);
    for (size_t i = 0; i < c.nby_id; i++)
        avro_json_schema_free(c.by_id[i].schema);
    free(c.by_id);
    tw_registry_free(c.registry);
    free(c.schemas_next);
    free(c.data_next);
    return rc;
}
