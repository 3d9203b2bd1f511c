#include "agent/pipeline.h"

#include "agent/catalog.h"
#include "agent/checkpoint.h"
#include "agent/config.h"
#include "agent/control.h"
#include "agent/drift.h"
#include "agent/http.h"
#include "agent/log.h"
#include "agent/metrics.h"
#include "agent/pgconn.h"
#include "agent/registry_conf.h"
#include "agent/schema_store.h"
#include "agent/snapshot.h"
#include "agent/stream.h"
#include "agent/webhook.h"
#include "decoders/pgoutput.h"
#include "schemas/relation.h"
#include "sinks/kafka.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Delivery opaques of schema messages and snapshot rows; transaction ids
 * start at 1. */
#define SCHEMA_OPAQUE      UINT64_MAX
#define SNAPSHOT_OPAQUE    (UINT64_C(1) << 63) /* + the table's index */
#define TXN_RING           16384
#define FLUSH_MS           30000
#define HOUSEKEEPING_EVERY 64   /* row data messages per producer poll (see the loop) */
#define RECOVERY_CHECK_MS  5000 /* how often a standby source is asked whether it was promoted */

enum {
    P_OK = 0,
    P_RESTART,
    P_FATAL,
    P_STOP,
    P_DONE,     /* snapshot.mode=initial_only: finished */
    P_RESNAP,   /* an interrupted snapshot cannot be resumed consistently: start it over */
    P_OVERSIZE, /* produce(): larger than the topic takes (p->oversize_err); never returned
                   further than encode_and_produce() */
};
enum { SNAP_INITIAL, SNAP_NEVER, SNAP_WHEN_NEEDED, SNAP_INITIAL_ONLY };
enum { POLICY_CONTINUE, POLICY_PAUSE, POLICY_FAIL };
static const char *const policy_names[] = {"continue", "pause", "fail"};

typedef struct {
    const tw_config *cfg;
    volatile sig_atomic_t *stop;
    const char *prefix;
    int tombstones;
    int skip_oversize; /* on_oversize=skip */
    int64_t status_ms;
    pgt_options topts;

    kafka_sink *sink;
    tw_stream *stream;
    tw_catalog *catalog;
    pgo_decoder dec;
    ckpt_tracker ck;
    kafka_topic *schemas_topic;
    kafka_topic *changes_topic; /* <prefix>.schema_changes */

    /* schema drift */
    tw_store *store;
    tw_webhook *webhook;
    int policy;
    avro_compat required;
    int64_t check_interval_ms, last_check_ms;
    int startup_checked;
    int put_rc; /* P_* of the last store write through Kafka */
    tw_buf ekey, eval;

    tw_relation **rels; /* relation cache, one entry per relid */
    int nrels, caprels;
    uint64_t *published; /* schema variants already in <prefix>.schemas */
    size_t npublished, cappublished;
    int schema_acks_pending;
    int schema_failed;

    /* schema.registry.url: Confluent framing with the registry's ids */
    tw_registry *registry;
    int32_t event_key_id, event_value_id; /* of <prefix>.schema_changes, -1 until registered */

    tw_buf key, val;

    /* the transaction being read */
    ckpt_txn_id txn;
    int in_txn;
    uint64_t commit_lsn;
    uint32_t xid;
    int64_t commit_ms;
    uint64_t seq;
    uint64_t change_lsn; /* data_start of the current message */

    int64_t last_status_ms, last_progress_ms, last_slot_check_ms, last_recovery_check_ms;
    int source_standby; /* the source was a standby when last seen; -1 before the first stream */
    int data_since_housekeeping; /* row data messages since the loop last polled */
    int cause;                   /* TW_RESTART_*: why the last P_RESTART was decided */
    int streaming;               /* the stream is in COPY mode (status updates may go) */

    /* snapshot.mode */
    int snapshot_mode;
    uint64_t snap_acked, snap_failed; /* delivery reports of snapshot rows */
    uint64_t *snap_table_acked;       /* by table index */
    int *snap_table_recorded;         /* its completion is in the durable record */
    json_t *snap_rec;                 /* the record being kept up to date */
    const json_t *resume_fps;         /* resuming: fingerprints of the tables at the slot's point */
    int snap_tick_rc;                 /* P_* of a record write inside the snapshot */
    tw_snapshot_job *snap;            /* while one runs */
    int64_t snap_started_ms, snap_last_log_ms;
    uint64_t delivery_failures;
    int oversize_refused; /* the broker refused a message for its size, on_oversize=fail */
    char oversize_err[700];
    char last_delivery_err[256];
    uint64_t changes, nulled;
} pipe_t;

static int64_t now_ms(void)
{
    return tw_metrics_now_ms();
}

static int64_t wall_ms(void)
{
    return tw_metrics_wall_ms();
}

/* A message the broker refused for its size (its check can be stricter than
 * the one before producing: compression, a limit changed since): with
 * on_oversize=skip it counts as delivered, after a warning. */
static int skip_refused(pipe_t *p, int ok, int too_large, const char *errstr)
{
    if (ok || !too_large || !p->skip_oversize)
        return 0;
    tw_warn("kafka", "the broker refused a change for its size (on_oversize=skip): %s", errstr);
    atomic_fetch_add(&tw_m.oversize_refused, 1);
    return 1;
}

static void on_delivery(void *app, uint64_t opaque, int ok, int too_large, const char *errstr)
{
    pipe_t *p = app;
    if (opaque != SCHEMA_OPAQUE && skip_refused(p, ok, too_large, errstr))
        ok = 1;
    if (opaque != SCHEMA_OPAQUE && (opaque & SNAPSHOT_OPAQUE)) {
        uint64_t t = opaque & ~SNAPSHOT_OPAQUE;
        /* Only rows the broker has: a failed one must keep its table from
         * being recorded complete. */
        if (ok) {
            p->snap_acked++;
            if (p->snap && t < (uint64_t)p->snap->ntables)
                p->snap_table_acked[t]++;
        }
        if (!ok) {
            p->snap_failed++;
            atomic_fetch_add(&tw_m.delivery_errors, 1);
            snprintf(p->last_delivery_err, sizeof p->last_delivery_err, "%s", errstr);
            p->oversize_refused |= too_large; /* skip_refused() took it otherwise */
        }
        return;
    }
    if (opaque == SCHEMA_OPAQUE) {
        p->schema_acks_pending--;
        if (!ok) {
            p->schema_failed++;
            snprintf(p->last_delivery_err, sizeof p->last_delivery_err, "%s", errstr);
        }
        return;
    }
    ckpt_delivered(&p->ck, opaque, ok);
    if (!ok) {
        atomic_fetch_add(&tw_m.delivery_errors, 1);
        p->delivery_failures++;
        p->oversize_refused |= too_large;
        snprintf(p->last_delivery_err, sizeof p->last_delivery_err, "%s", errstr);
    }
}

/* Status updates also keep the walsender from timing us out while the loop
 * is not reading (backpressure). */
static int send_status(pipe_t *p, int force)
{
    char err[512];
    int64_t now = now_ms();
    if (!p->stream || !p->streaming) /* before streaming (schema check, snapshot) */
        return P_OK;
    if (!force && now - p->last_status_ms < p->status_ms)
        return P_OK;
    p->last_status_ms = now;
    if (tw_stream_send_status(p->stream, ckpt_flush_lsn(&p->ck), err, sizeof err) != 0) {
        tw_warn("stream", "cannot send a status update: %s; reconnecting", err);
        p->cause = TW_RESTART_STREAM;
        return P_RESTART;
    }
    return P_OK;
}

/* Serves delivery reports while waiting, and says whether to give up. */
static int wait_a_little(pipe_t *p)
{
    atomic_store(&tw_m.loop_heartbeat_ms, tw_metrics_now_ms());
    kafka_sink_poll(p->sink, 100);
    /* The loop may wait here long (backpressure, a pause, the registry):
     * /readyz and /metrics must not show the state from before. */
    atomic_store(&tw_m.kafka_connected, kafka_sink_connected(p->sink));
    atomic_store(&tw_m.queue_messages, kafka_sink_outstanding(p->sink));
    p->cause = TW_RESTART_KAFKA; /* if this turns into a restart, Kafka is why */
    if (p->oversize_refused) {
        tw_error("kafka",
                 "the broker refused a message for its size: %s. Raise the topic's "
                 "max.message.bytes (and kafka.message.max.bytes), or set on_oversize=skip; "
                 "nothing after it was acknowledged",
                 p->last_delivery_err);
        return P_FATAL;
    }
    if (p->delivery_failures) {
        tw_error("kafka", "delivery failed: %s; restarting from the last acknowledged commit",
                 p->last_delivery_err);
        return P_RESTART;
    }
    char err[512];
    if (kafka_sink_fatal(p->sink, err, sizeof err)) {
        tw_error("kafka",
                 "fatal producer error: %s; restarting the producer from the last "
                 "acknowledged commit",
                 err);
        return P_RESTART;
    }
    return send_status(p, 0);
}

static int produce(pipe_t *p, tw_relation *r, const tw_buf *key, const tw_buf *val)
{
    char err[512];
    kafka_headers h = {.commit_lsn = p->commit_lsn,
                       .xid = p->xid,
                       .seq = p->seq++,
                       .key_schema = r->nkey > 0 ? r->key_schema_id : NULL,
                       .value_schema = r->value_schema_id};
    for (;;) {
        int rc = kafka_sink_produce(p->sink, r->app, key && key->len ? key->data : NULL,
                                    key ? key->len : 0, val ? val->data : NULL, val ? val->len : 0,
                                    &h, p->txn, err, sizeof err);
        if (rc == KAFKA_SINK_TOOBIG) {
            snprintf(p->oversize_err, sizeof p->oversize_err, "%s", err);
            return P_OVERSIZE;
        }
        if (rc == KAFKA_SINK_OK) {
            ckpt_produced(&p->ck, p->txn);
            p->changes++;
            atomic_fetch_add(&tw_m.messages, 1);
            atomic_fetch_add(&tw_m.bytes, (key ? key->len : 0) + (val ? val->len : 0));
            return P_OK;
        }
        if (rc == KAFKA_SINK_ERROR) {
            char ferr[512];
            if (kafka_sink_fatal(p->sink, ferr, sizeof ferr)) {
                tw_error("kafka",
                         "fatal producer error: %s; restarting the producer from the "
                         "last acknowledged commit",
                         ferr);
                p->cause = TW_RESTART_KAFKA;
                return P_RESTART;
            }
            tw_error("kafka", "%s (table %s.%s, commit %" PRIu64 ")", err, r->nspname, r->relname,
                     p->commit_lsn);
            return P_FATAL;
        }
        /* Queue full: backpressure. The socket is not read meanwhile. */
        if (*p->stop)
            return P_STOP;
        int w = wait_a_little(p);
        if (w != P_OK)
            return w;
    }
}

static tw_relation *find_rel(pipe_t *p, uint32_t relid)
{
    for (int i = 0; i < p->nrels; i++)
        if (p->rels[i]->relid == relid)
            return p->rels[i];
    return NULL;
}

static void free_rels(pipe_t *p)
{
    for (int i = 0; i < p->nrels; i++) {
        tw_relation_free(p->rels[i]);
        free(p->rels[i]);
    }
    p->nrels = 0;
}

static int is_published(pipe_t *p, uint64_t fp)
{
    for (size_t i = 0; i < p->npublished; i++)
        if (p->published[i] == fp)
            return 1;
    return 0;
}

/* Queues one message whose acknowledgement wait_acked() waits for
 * (schemas, store records, schema-change events: rare, and each must be
 * durable before what depends on it). value NULL: a tombstone. The caller
 * clears p->schema_failed before the first of a batch. */
static int produce_queued(pipe_t *p, kafka_topic *t, const char *what, const void *key,
                          size_t keylen, const void *value, size_t valuelen)
{
    char err[512];
    kafka_headers h = {.commit_lsn = p->commit_lsn, .xid = p->xid, .seq = 0};
    int rc;
    while ((rc = kafka_sink_produce(p->sink, t, key, keylen, value, valuelen, &h, SCHEMA_OPAQUE,
                                    err, sizeof err)) == KAFKA_SINK_FULL) {
        if (*p->stop)
            return P_STOP;
        int w = wait_a_little(p);
        if (w != P_OK)
            return w;
    }
    if (rc != KAFKA_SINK_OK) {
        char ferr[512];
        int fatal = kafka_sink_fatal(p->sink, ferr, sizeof ferr);
        tw_error("kafka", "cannot publish %s: %s%s", what, fatal ? ferr : err,
                 fatal ? "; restarting the producer" : "");
        return fatal ? P_RESTART : P_FATAL;
    }
    p->schema_acks_pending++;
    return P_OK;
}

/* Waits until every queued message is acknowledged. */
static int wait_acked(pipe_t *p, const char *what)
{
    while (p->schema_acks_pending > 0) {
        if (*p->stop)
            return P_STOP;
        int w = wait_a_little(p);
        if (w != P_OK)
            return w;
    }
    if (p->schema_failed) {
        tw_error("kafka", "%s was not accepted by the broker: %s; restarting", what,
                 p->last_delivery_err);
        p->cause = TW_RESTART_KAFKA;
        return P_RESTART;
    }
    return P_OK;
}

/* One message, acknowledged before the caller goes on. */
static int produce_acked(pipe_t *p, kafka_topic *t, const char *what, const void *key,
                         size_t keylen, const void *value, size_t valuelen)
{
    p->schema_failed = 0;
    int rc = produce_queued(p, t, what, key, keylen, value, valuelen);
    return rc == P_OK ? wait_acked(p, what) : rc;
}

/* Publishes a schema to <prefix>.schemas under id "<crc>/<variant>" (exact)
 * and "<crc>" (the latest variant, for consumers that read no headers), both
 * acknowledged: no message may reference a schema that a consumer cannot
 * find. */
static int publish_schema(pipe_t *p, const char *id, const tw_buf *json)
{
    char what[64];
    uint64_t variant = strtoull(id + 17, NULL, 16);
    if (is_published(p, variant))
        return P_OK;
    snprintf(what, sizeof what, "schema %s", id);
    p->schema_failed = 0;
    int rc = produce_queued(p, p->schemas_topic, what, id, 33, json->data, json->len);
    if (rc == P_OK)
        rc = produce_queued(p, p->schemas_topic, what, id, 16, json->data, json->len);
    if (rc == P_OK)
        rc = wait_acked(p, what);
    if (rc != P_OK)
        return rc;
    if (p->npublished == p->cappublished) {
        size_t ncap = p->cappublished ? p->cappublished * 2 : 64;
        uint64_t *n = realloc(p->published, ncap * sizeof *n);
        if (!n)
            return P_FATAL;
        p->published = n;
        p->cappublished = ncap;
    }
    p->published[p->npublished++] = variant;
    return P_OK;
}

/* The registry's id of a schema, registered under subject if the registry
 * does not have it yet. While the registry cannot be reached, or refuses the
 * schema as incompatible under pause/continue, the loop waits here (the
 * socket unread, deliveries and status updates served): no message goes out
 * without the right id. what: "table s.t" or "schema-change events". */
static int registry_id(pipe_t *p, const char *subject, const tw_buf *schema, const char *what,
                       int32_t *id)
{
    char err[1024], why[1280];
    int64_t pause_ms = 500, started = now_ms(), next_log = 0;
    int waiting = 0, rc = P_OK;
    for (;;) {
        tw_reg_status st = tw_registry_register(p->registry, subject, (const char *)schema->data,
                                                schema->len, id, err, sizeof err);
        uint64_t counts[TW_REG_ERROR + 1];
        tw_registry_counts(p->registry, counts);
        for (int i = 0; i <= TW_REG_ERROR; i++)
            atomic_store(&tw_m.registry_requests[i], counts[i]);
        if (st == TW_REG_OK)
            break;
        if (st == TW_REG_INVALID) {
            tw_error("registry", "%s: the registry calls the schema of %s invalid; schema: %.*s",
                     err, what, (int)schema->len, (const char *)schema->data);
            rc = P_FATAL;
            break;
        }
        if (st == TW_REG_INCOMPATIBLE && p->policy == POLICY_FAIL) {
            tw_error("registry",
                     "%s: the new schema of %s breaks the compatibility rule of subject %s; "
                     "schema.on_breaking_change=fail, so Tidewater stops. Relax the subject's "
                     "compatibility (PUT /config/%s) or delete its incompatible versions, then "
                     "start again",
                     err, what, subject, subject);
            rc = P_FATAL;
            break;
        }
        if (st != TW_REG_INCOMPATIBLE && st != TW_REG_UNAVAILABLE) {
            tw_error("registry", "%s (registering the schema of %s)", err, what);
            rc = P_FATAL;
            break;
        }
        int64_t now = now_ms();
        if (st == TW_REG_INCOMPATIBLE) {
            snprintf(why, sizeof why,
                     "subject %s refuses the new schema of %s as incompatible (HTTP 409)", subject,
                     what);
            if (!waiting || now >= next_log)
                tw_warn("registry",
                        "%s; publishing waits until the registry accepts it: relax the "
                        "subject's compatibility (PUT /config/%s) or delete its incompatible "
                        "versions%s",
                        err, subject,
                        p->policy == POLICY_CONTINUE
                            ? " (schema.on_breaking_change=continue cannot publish rows the "
                              "registry has no schema id for)"
                            : "");
        } else {
            snprintf(why, sizeof why, "%s", err);
            if (!waiting || now >= next_log)
                tw_warn("registry",
                        "%s; publishing waits for the registry (subject %s), retrying; waited "
                        "%.0f s so far",
                        err, subject, (double)(now - started) / 1000.0);
        }
        if (!waiting || now >= next_log)
            next_log = now + 30000;
        tw_metrics_set_registry_reason(why);
        atomic_store(&tw_m.registry_waiting, 1);
        waiting = 1;
        /* No serve_control() here: this may run inside drift(), whose
         * store entry an accept would replace under it. */
        for (int64_t until = now_ms() + pause_ms; rc == P_OK && now_ms() < until;)
            rc = *p->stop ? P_STOP : wait_a_little(p);
        if (rc != P_OK)
            break;
        pause_ms = pause_ms < 5000 ? pause_ms * 2 : 10000;
    }
    if (waiting) {
        atomic_store(&tw_m.registry_waiting, 0);
        if (rc == P_OK)
            tw_info("registry",
                    "subject %s registered (schema id %ld) after %.1f s: publishing "
                    "resumes",
                    subject, (long)*id, (double)(now_ms() - started) / 1000.0);
    }
    return rc;
}

/* Registers the subjects of <prefix>.schema_changes. Done before the
 * catalog check, so that no registry wait happens inside its snapshot. */
static int register_events(pipe_t *p)
{
    char subject[300];
    tw_buf ks, vs;
    tw_buf_init(&ks, 0);
    tw_buf_init(&vs, 0);
    tw_buf_puts(&ks, tw_drift_key_schema);
    tw_buf_puts(&vs, tw_drift_event_schema);
    snprintf(subject, sizeof subject, "%s.schema_changes-key", p->prefix);
    int rc = registry_id(p, subject, &ks, "schema-change events", &p->event_key_id);
    snprintf(subject, sizeof subject, "%s.schema_changes-value", p->prefix);
    if (rc == P_OK)
        rc = registry_id(p, subject, &vs, "schema-change events", &p->event_value_id);
    tw_buf_free(&ks);
    tw_buf_free(&vs);
    return rc;
}

/* While a registry request runs: the loop is alive, and stop ends it. */
static int registry_progress(void *arg)
{
    pipe_t *p = arg;
    atomic_store(&tw_m.loop_heartbeat_ms, tw_metrics_now_ms());
    return *p->stop != 0;
}

/* Registers a table's key and value schemas (subjects <topic>-key and
 * <topic>-value) and frames its messages with their ids. */
static int register_relation(pipe_t *p, tw_relation *r)
{
    char subject[300], what[300];
    snprintf(what, sizeof what, "table %s.%s", r->nspname, r->relname);
    int rc = P_OK;
    if (r->nkey > 0) {
        snprintf(subject, sizeof subject, "%s-key", r->topic);
        rc = registry_id(p, subject, &r->key_schema, what, &r->key_registry_id);
    }
    if (rc == P_OK) {
        snprintf(subject, sizeof subject, "%s-value", r->topic);
        rc = registry_id(p, subject, &r->value_schema, what, &r->value_registry_id);
    }
    return rc;
}

/* ---- schema drift (DESIGN.md "Schema fingerprints and drift") ---- */

/* The store's writer for schema.store=kafka: the record goes to
 * <prefix>.schemas and is acknowledged before the caller goes on. */
static int store_put(void *arg, const char *key, const char *value, char *err, size_t errsize)
{
    pipe_t *p = arg;
    char what[340];
    snprintf(what, sizeof what, "schema store record %s", key);
    p->put_rc = produce_acked(p, p->schemas_topic, what, key, strlen(key), value,
                              value ? strlen(value) : 0);
    if (p->put_rc != P_OK) {
        snprintf(err, errsize, "%s was not written", what);
        return -1;
    }
    return 0;
}

/* A failed store write: why, as a P_* code. */
static int store_failed(pipe_t *p, const char *err)
{
    if (strcmp(tw_config_str(p->cfg, TW_CFG_SCHEMA_STORE), "kafka") == 0 && p->put_rc != P_OK)
        return p->put_rc; /* produce_acked logged it */
    tw_error("schema", "cannot write the schema store: %s", err);
    return P_FATAL;
}

static void lsn_text(uint64_t lsn, char *out, size_t outsize)
{
    snprintf(out, outsize, "%X/%X", (unsigned)(lsn >> 32), (unsigned)lsn);
}

static void set_state(json_t *rec, const char *prev_fp, uint64_t since_lsn, const char *path,
                      int paused)
{
    char lsn[32];
    lsn_text(since_lsn, lsn, sizeof lsn);
    json_object_set_new(rec, "prev_fingerprint", prev_fp ? json_string(prev_fp) : json_null());
    json_object_set_new(rec, "since_lsn", json_string(lsn));
    json_object_set_new(rec, "since_ms", json_integer(wall_ms()));
    json_object_set_new(rec, "detected_by", json_string(path));
    json_object_set_new(rec, "paused", json_boolean(paused));
}

/* Sends one schema-change event: Kafka (acknowledged), log, metric, webhook. */
static int emit_event(pipe_t *p, json_t *ev, avro_compat cls)
{
    const char *nsp = json_string_value(json_object_get(ev, "schema"));
    const char *rel = json_string_value(json_object_get(ev, "table"));
    char summary[1024];
    tw_drift_summary(ev, summary, sizeof summary);
    const char *lsn = json_string_value(json_object_get(ev, "lsn"));
    tw_log(avro_compat_satisfies(cls, p->required) ? TW_LOG_INFO : TW_LOG_WARN, "schema",
           "schema change %s of %s.%s: compatibility=%s action=%s detected_by=%s lsn=%s "
           "changes=[%s] old_fingerprint=%s new_fingerprint=%s",
           json_string_value(json_object_get(ev, "kind")), nsp, rel, avro_compat_name(cls),
           json_string_value(json_object_get(ev, "action")),
           json_string_value(json_object_get(ev, "detected_by")), lsn ? lsn : "-", summary,
           json_string_value(json_object_get(ev, "old_fingerprint"))
               ? json_string_value(json_object_get(ev, "old_fingerprint"))
               : "-",
           json_string_value(json_object_get(ev, "new_fingerprint"))
               ? json_string_value(json_object_get(ev, "new_fingerprint"))
               : "-");
    tw_table_metrics *tm = tw_metrics_table(nsp, rel);
    if (tm)
        atomic_fetch_add(&tm->schema_changes[cls & 3], 1);

    tw_buf ks = {0}, vs = {0};
    tw_buf_init(&ks, 0);
    tw_buf_init(&vs, 0);
    tw_buf_puts(&ks, tw_drift_key_schema);
    tw_buf_puts(&vs, tw_drift_event_schema);
    char kid[34], vid[34];
    tw_schema_id(tw_drift_key_fp(), &ks, kid);
    tw_schema_id(tw_drift_event_fp(), &vs, vid);
    int rc = publish_schema(p, kid, &ks);
    if (rc == P_OK)
        rc = publish_schema(p, vid, &vs);
    if (rc == P_OK && p->registry && p->event_value_id < 0)
        rc = register_events(p);
    tw_buf_free(&ks);
    tw_buf_free(&vs);
    if (rc == P_OK) {
        if (tw_drift_encode(ev, tw_drift_key_fp(), tw_drift_event_fp(), p->event_key_id,
                            p->event_value_id, &p->ekey, &p->eval) != 0) {
            tw_error("schema", "cannot encode the schema-change event of %s.%s", nsp, rel);
            return P_FATAL;
        }
        rc = produce_acked(p, p->changes_topic, "a schema-change event", p->ekey.data, p->ekey.len,
                           p->eval.data, p->eval.len);
    }
    if (rc == P_OK && p->webhook) {
        char *body = json_dumps(ev, JSON_COMPACT);
        if (body)
            tw_webhook_post(p->webhook, body, strlen(body));
        free(body);
    }
    return rc;
}

/* old (a stored table, may be NULL) -> rec (owned, NULL: the table is gone).
 * Reports the change, applies the policy and stores the new state. */
static int drift(pipe_t *p, const char *nsp, const char *rel, tw_store_table *old, json_t *rec,
                 const char *path, uint64_t lsn, int64_t commit_ms, int *paused)
{
    char err[1024];
    avro_compat cls;
    *paused = 0;
    json_t *ev = tw_drift_event(old ? old->doc : NULL, rec, nsp, rel, &cls);
    if (!ev) {
        json_decref(rec);
        tw_error("schema", "out of memory");
        return P_FATAL;
    }
    int policy = POLICY_CONTINUE;
    if (rec && !avro_compat_satisfies(cls, p->required))
        policy = p->policy;
    /* A pause waiting for `accept` stays: a later change, compatible with
     * the unaccepted shape, does not accept it. */
    int old_paused = old && json_is_true(json_object_get(old->doc, "paused"));
    if (rec && old_paused)
        policy = POLICY_PAUSE;
    char lsns[32];
    lsn_text(lsn, lsns, sizeof lsns);
    json_object_set_new(ev, "db", json_string(tw_catalog_dbname(p->catalog)));
    json_object_set_new(ev, "detected_by", json_string(path));
    json_object_set_new(ev, "lsn", lsn ? json_string(lsns) : json_null());
    json_object_set_new(ev, "commit_ts_ms", commit_ms ? json_integer(commit_ms) : json_null());
    json_object_set_new(ev, "action", json_string(policy_names[policy]));
    json_object_set_new(ev, "ts_ms", json_integer(wall_ms()));
    int rc = emit_event(p, ev, cls);
    char summary[1024];
    tw_drift_summary(ev, summary, sizeof summary);
    const char *reason = json_string_value(json_object_get(ev, "compatibility_reason"));
    if (rc == P_OK && policy == POLICY_FAIL) {
        tw_error("schema",
                 "table %s.%s changed incompatibly (%s, %s required): %s%s%s; "
                 "schema.on_breaking_change=fail: stopping. Run `tidewater schemas accept "
                 "%s.%s` to accept the new schema, then start again",
                 nsp, rel, avro_compat_name(cls), avro_compat_name(p->required), summary,
                 reason ? "; " : "", reason ? reason : "", nsp, rel);
        rc = P_FATAL;
    }
    json_decref(ev);
    if (rc != P_OK) {
        json_decref(rec);
        return rc;
    }
    if (!rec) {
        if (tw_store_delete(p->store, nsp, rel, err, sizeof err) != 0)
            return store_failed(p, err);
        return P_OK;
    }
    const char *prev = old ? tw_store_str(old, "fingerprint") : NULL;
    char prevbuf[65] = "";
    if (prev)
        snprintf(prevbuf, sizeof prevbuf, "%s", prev);
    /* The last shape published without a pause: rows of it still in flight
     * pass while a newer shape waits. */
    const char *acc = old_paused ? tw_store_str(old, "accepted_fingerprint") : prev;
    if (policy == POLICY_PAUSE)
        json_object_set_new(rec, "accepted_fingerprint", acc ? json_string(acc) : json_null());
    else
        json_object_set(rec, "accepted_fingerprint", json_object_get(rec, "fingerprint"));
    set_state(rec, prev ? prevbuf : NULL, lsn, path, policy == POLICY_PAUSE);
    if (tw_store_put(p->store, nsp, rel, rec, err, sizeof err) != 0)
        return store_failed(p, err);
    if (policy == POLICY_PAUSE) {
        /* Pending until the stream reaches the new shape; the gauge says so
         * at once (an alert need not wait for the next row). */
        tw_table_metrics *tm = tw_metrics_table(nsp, rel);
        if (tm)
            atomic_store(&tm->schema_paused, 1);
        *paused = 1;
        tw_warn("schema",
                "table %s.%s changed incompatibly (%s, %s required): %s; rows of the new shape "
                "are held until `tidewater schemas accept %s.%s`",
                nsp, rel, avro_compat_name(cls), avro_compat_name(p->required), summary, nsp, rel);
    }
    return P_OK;
}

/* POST /schemas/accept?table=schema.table (served by the loop). */
static void serve_control(pipe_t *p)
{
    char cmd[64], arg[512], err[1024], reply[1200];
    if (!tw_control_take(cmd, sizeof cmd, arg, sizeof arg))
        return;
    if (strcmp(cmd, "accept") != 0 || !p->store) {
        tw_control_reply(503, "the schema store is not loaded yet; try again\n");
        return;
    }
    char nsp[64], rel[64];
    if (tw_store_split_table(arg, nsp, rel) != 0) {
        tw_control_reply(400, "table name too long\n");
        return;
    }
    tw_store_table *t = tw_store_find(p->store, nsp, rel);
    if (!t) {
        snprintf(reply, sizeof reply, "%s.%s is not in the schema store\n", nsp, rel);
        tw_control_reply(404, reply);
        return;
    }
    if (!json_is_true(json_object_get(t->doc, "paused"))) {
        snprintf(reply, sizeof reply, "nothing to accept: %s.%s is not paused (fingerprint %s)\n",
                 nsp, rel, tw_store_str(t, "fingerprint"));
        tw_control_reply(409, reply);
        return;
    }
    json_t *rec = json_deep_copy(t->doc);
    json_object_set_new(rec, "paused", json_false());
    json_object_set(rec, "accepted_fingerprint", json_object_get(rec, "fingerprint"));
    json_object_set_new(rec, "accepted_ms", json_integer(wall_ms()));
    char fp[65];
    snprintf(fp, sizeof fp, "%s", tw_store_str(t, "fingerprint"));
    if (tw_store_put(p->store, nsp, rel, rec, err, sizeof err) != 0) {
        snprintf(reply, sizeof reply, "cannot write the schema store: %s\n", err);
        tw_control_reply(500, reply);
        return;
    }
    tw_table_metrics *tm = tw_metrics_table(nsp, rel);
    if (tm)
        atomic_store(&tm->schema_paused, 0);
    tw_info("schema", "accepted schema %s of %s.%s: publishing resumes", fp, nsp, rel);
    snprintf(reply, sizeof reply, "accepted %s.%s fingerprint %s\n", nsp, rel, fp);
    tw_control_reply(200, reply);
}

/* Holds the loop (the socket unread, the flush position where it is,
 * status updates flowing) until the table's pause is accepted. */
static int hold_paused(pipe_t *p, const char *nsp, const char *rel, tw_table_metrics *tm)
{
    char why[512];
    snprintf(why, sizeof why,
             "table %s.%s has a breaking schema change; run `tidewater schemas accept %s.%s`", nsp,
             rel, nsp, rel);
    tw_metrics_set_pause_reason(why);
    atomic_fetch_add(&tw_m.schema_paused, 1);
    if (tm)
        atomic_store(&tm->schema_paused, 1);
    tw_warn("schema", "paused before the first row of the new shape of %s.%s: %s", nsp, rel, why);
    int rc = P_OK;
    for (;;) {
        tw_store_table *t = tw_store_find(p->store, nsp, rel);
        if (!t || !json_is_true(json_object_get(t->doc, "paused")))
            break;
        if (*p->stop) {
            rc = P_STOP;
            break;
        }
        rc = wait_a_little(p);
        if (rc != P_OK)
            break;
        serve_control(p);
    }
    atomic_fetch_sub(&tw_m.schema_paused, 1);
    if (tm && rc == P_OK)
        atomic_store(&tm->schema_paused, 0);
    return rc;
}

/* Stream path: compares the shape a Relation message gives with the store. */
static int check_relation(pipe_t *p, const tw_relation *r)
{
    tw_store_table *t = tw_store_find(p->store, r->nspname, r->relname);
    int paused = 0, rc = P_OK;
    /* A Relation message carries no WAL position of its own (its XLogData
     * start is 0): it belongs to the transaction being read, whose commit
     * LSN is the position of the new shape. */
    uint64_t lsn = p->in_txn ? p->commit_lsn : atomic_load(&tw_m.received_lsn);
    int stored_paused = t && json_is_true(json_object_get(t->doc, "paused"));
    const char *accepted = t ? tw_store_str(t, "accepted_fingerprint") : NULL;
    if (r->catalog_mismatch) {
        /* The catalog, read now, has moved past the shape this message
         * describes (a later DDL dropped, renamed or retyped a column): the
         * fingerprint would mix two shapes. The catalog check reports the
         * change; a later Relation message matches the catalog again. While
         * the table waits for `accept`, such a shape is held too: it may be
         * the unaccepted one. */
        tw_debug("schema",
                 "%s.%s: the Relation message describes an older shape than the "
                 "catalog; no drift check",
                 r->nspname, r->relname);
        return stored_paused ? hold_paused(p, r->nspname, r->relname, r->stats) : P_OK;
    }
    const char *fp = t ? tw_store_str(t, "fingerprint") : NULL;
    if (!t) {
        rc = drift(p, r->nspname, r->relname, NULL, tw_drift_record(r), "stream", lsn, p->commit_ms,
                   &paused);
    } else if (fp && strcmp(fp, r->fingerprint) == 0) {
        paused = json_is_true(json_object_get(t->doc, "paused"));
        const char *vs = tw_store_str(t, "value_schema");
        if (!paused && (!vs || strlen(vs) != r->value_schema.len ||
                        memcmp(vs, r->value_schema.data, r->value_schema.len) != 0)) {
            /* Same shape, other Avro schema (a column default changed):
             * keep the stored schema current, no event. */
            char err[1024];
            json_t *rec = json_deep_copy(t->doc);
            json_t *fresh = tw_drift_record(r);
            json_object_set(rec, "value_schema", json_object_get(fresh, "value_schema"));
            json_object_set(rec, "value_schema_fingerprint",
                            json_object_get(fresh, "value_schema_fingerprint"));
            json_decref(fresh);
            if (tw_store_put(p->store, r->nspname, r->relname, rec, err, sizeof err) != 0)
                return store_failed(p, err);
        }
    } else if (lsn < tw_store_lsn(t, "since_lsn")) {
        /* The store already moved past this point of the WAL (a catalog
         * check saw the newer shape first): an older shape in flight. It
         * passes unless the table waits for `accept` and this is not the
         * last accepted shape. */
        tw_debug("schema", "%s.%s: an older shape before %s, already reported", r->nspname,
                 r->relname, tw_store_str(t, "since_lsn"));
        if (stored_paused && !(accepted && strcmp(accepted, r->fingerprint) == 0))
            return hold_paused(p, r->nspname, r->relname, r->stats);
        return P_OK;
    } else {
        rc = drift(p, r->nspname, r->relname, t, tw_drift_record(r), "stream", lsn, p->commit_ms,
                   &paused);
    }
    if (rc == P_OK && paused)
        rc = hold_paused(p, r->nspname, r->relname, r->stats);
    return rc;
}

/* Catalog path: every published table as the catalog describes it now,
 * against the store; tables added to or gone from the publication too. At
 * the first start, the store is filled without events. */
static int check_catalog_in(pipe_t *p, const char *path);

/* The check sees one snapshot of the catalog: the publication's tables and
 * their columns as of one moment, whatever DDL the standby replays meanwhile. */
static int check_catalog(pipe_t *p, const char *path)
{
    char err[512];
    if (tw_catalog_begin_snapshot(p->catalog, err, sizeof err) != 0) {
        int startup = strcmp(path, "startup") == 0;
        tw_warn("schema", "catalog check failed: %s; %s", err,
                startup ? "restarting" : "trying again later");
        p->cause = TW_RESTART_CATALOG;
        return startup ? P_RESTART : P_OK;
    }
    int64_t t0 = now_ms();
    int rc = check_catalog_in(p, path);
    tw_catalog_end_snapshot(p->catalog);
    atomic_store(&tw_m.schema_check_took_ms, now_ms() - t0);
    tw_debug("schema", "catalog check (%s) took %lld ms", path, (long long)(now_ms() - t0));
    return rc;
}

static int check_catalog_in(pipe_t *p, const char *path)
{
    char err[1024];
    const tw_published_table *tabs;
    int ntabs;
    uint64_t lsn = 0;
    const char *pub = tw_config_str(p->cfg, TW_CFG_SOURCE_PUBLICATION);
    /* At startup the check must have run before streaming (drift while
     * the agent was down, the first fill of the store): a failure restarts. */
    int startup = strcmp(path, "startup") == 0;
    /* The first statement of the snapshot (check_catalog): the position it
     * reads is at or after every DDL the snapshot shows, the upper bound
     * since_lsn must be. */
    if (tw_catalog_current_lsn(p->catalog, &lsn, err, sizeof err) != 0 ||
        tw_catalog_published(p->catalog, pub, &tabs, &ntabs, err, sizeof err) != 0) {
        tw_warn("schema", "catalog check failed: %s; %s", err,
                startup ? "restarting" : "trying again later");
        p->cause = TW_RESTART_CATALOG;
        return startup ? P_RESTART : P_OK;
    }
    int fresh = tw_store_is_new(p->store);
    int rc = P_OK;
    for (int i = 0; i < ntabs && rc == P_OK; i++) {
        const tw_column_catalog *cols;
        int ncols;
        if (tw_catalog_columns(p->catalog, tabs[i].relid, &cols, &ncols, err, sizeof err) != 0) {
            tw_warn("schema", "catalog check of %s.%s failed: %s; %s", tabs[i].nspname,
                    tabs[i].relname, err, startup ? "restarting" : "trying again later");
            p->cause = TW_RESTART_CATALOG;
            return startup ? P_RESTART : P_OK;
        }
        tw_relation r;
        if (ncols == 0)
            continue; /* dropped between the two queries */
        if (tw_relation_build_from_catalog(&r, tabs[i].relid, tabs[i].nspname, tabs[i].relname,
                                           cols, ncols, tabs[i].attnames, tabs[i].nattnames,
                                           p->prefix, &p->topts, err, sizeof err) != 0) {
            tw_warn("schema", "catalog check: %s", err);
            continue;
        }
        tw_store_table *t = tw_store_find(p->store, r.nspname, r.relname);
        const char *fp = t ? tw_store_str(t, "fingerprint") : NULL;
        int paused;
        if (fresh) {
            json_t *rec = tw_drift_record(&r);
            set_state(rec, NULL, lsn, "initial", 0);
            if (tw_store_put(p->store, r.nspname, r.relname, rec, err, sizeof err) != 0)
                rc = store_failed(p, err);
        } else if (!t || !fp || strcmp(fp, r.fingerprint) != 0) {
            rc = drift(p, r.nspname, r.relname, t, tw_drift_record(&r), path, lsn, 0, &paused);
        }
        tw_relation_free(&r);
    }
    /* Stored tables the publication no longer has (deleting moves the
     * store's last record into the hole: walk backwards). */
    for (int i = tw_store_count(p->store) - 1; i >= 0 && rc == P_OK && !fresh; i--) {
        tw_store_table *t = tw_store_at(p->store, i);
        int found = 0;
        for (int j = 0; j < ntabs && !found; j++)
            found = strcmp(tabs[j].nspname, t->nspname) == 0 &&
                    strcmp(tabs[j].relname, t->relname) == 0;
        if (found)
            continue;
        char nsp[64], rel[64];
        snprintf(nsp, sizeof nsp, "%s", t->nspname);
        snprintf(rel, sizeof rel, "%s", t->relname);
        int paused;
        rc = drift(p, nsp, rel, t, NULL, path, lsn, 0, &paused);
    }
    if (rc == P_OK && fresh) {
        if (tw_store_mark_initialised(p->store, err, sizeof err) != 0)
            return store_failed(p, err);
        tw_info("schema", "schema store %s initialised with %d table(s) of publication %s",
                tw_store_where(p->store), ntabs, pub);
    }
    if (rc == P_OK)
        atomic_store(&tw_m.schema_check_ms, wall_ms());
    return rc;
}

static int on_relation(pipe_t *p, const pgo_msg *m)
{
    char err[1024];
    const tw_column_catalog *cols = NULL;
    int ncols = 0;
    if (tw_catalog_columns(p->catalog, m->u.relation.relid, &cols, &ncols, err, sizeof err) != 0) {
        /* Building the schema without the catalog would change it (every
         * column nullable, no primary key): restart rather than drift. */
        tw_error("catalog", "cannot read the catalog of %s.%s: %s; restarting",
                 m->u.relation.nspname, m->u.relation.relname, err);
        p->cause = TW_RESTART_CATALOG;
        return P_RESTART;
    }
    tw_relation *r = malloc(sizeof *r);
    if (!r || tw_relation_build(r, m, cols, ncols, p->prefix, &p->topts, err, sizeof err) != 0) {
        tw_error("schema", "%s", r ? err : "out of memory");
        free(r);
        return P_FATAL;
    }
    tw_relation *old = find_rel(p, r->relid);
    if (old && tw_relation_same_schema(old, r)) {
        /* Resent after an unrelated cache invalidation: nothing changed. */
        tw_relation_free(r);
        free(r);
        return P_OK;
    }
    for (int i = 0; i < p->nrels; i++)
        if (p->rels[i]->relid != r->relid && strcmp(p->rels[i]->topic, r->topic) == 0) {
            tw_error("schema",
                     "tables %s.%s and %s.%s both map to topic '%s'; rename one, or publish "
                     "only one of them",
                     p->rels[i]->nspname, p->rels[i]->relname, r->nspname, r->relname, r->topic);
            tw_relation_free(r);
            free(r);
            return P_FATAL;
        }
    if (r->unknown_types)
        for (int i = 0; i < r->ncols; i++)
            if (r->cols[i].plan.warn_unknown)
                tw_warn("schema",
                        "column %s of %s.%s has type %s, which Tidewater does not map: it is "
                        "sent as its text form",
                        r->cols[i].name, r->nspname, r->relname, r->cols[i].pg_type);
    r->app = kafka_sink_topic(p->sink, r->topic, 0, err, sizeof err);
    if (!r->app) {
        tw_error("kafka", "%s", err);
        tw_relation_free(r);
        free(r);
        p->cause = TW_RESTART_KAFKA;
        return P_RESTART;
    }
    r->stats = tw_metrics_table(r->nspname, r->relname);
    int rc = check_relation(p, r);
    if (rc != P_OK) {
        tw_relation_free(r);
        free(r);
        return rc;
    }
    if (r->nkey > 0)
        rc = publish_schema(p, r->key_schema_id, &r->key_schema);
    if (rc == P_OK)
        rc = publish_schema(p, r->value_schema_id, &r->value_schema);
    if (rc == P_OK && p->registry)
        rc = register_relation(p, r);
    if (rc != P_OK) {
        tw_relation_free(r);
        free(r);
        return rc;
    }
    tw_info("schema",
            "%s %s.%s -> topic %s (key schema %016" PRIx64 ", value schema %016" PRIx64 ")",
            old ? "schema changed:" : "table", r->nspname, r->relname, r->topic, r->key_fp,
            r->value_fp);
    if (old) {
        for (int i = 0; i < p->nrels; i++)
            if (p->rels[i] == old)
                p->rels[i] = r;
        tw_relation_free(old);
        free(old);
        return P_OK;
    }
    if (p->nrels == p->caprels) {
        int ncap = p->caprels ? p->caprels * 2 : 16;
        tw_relation **n = realloc(p->rels, (size_t)ncap * sizeof *n);
        if (!n) {
            tw_relation_free(r);
            free(r);
            return P_FATAL;
        }
        p->rels = n;
        p->caprels = ncap;
    }
    p->rels[p->nrels++] = r;
    return P_OK;
}

/* key_old: the old tuple (key or full), which supplies key values the new
 * tuple leaves unsent; may be NULL. */
static int encode_and_produce(pipe_t *p, tw_relation *r, char op, const pgo_tuple *key_from,
                              const pgo_tuple *key_old, const pgo_tuple *before,
                              const pgo_tuple *after, const pgo_tuple *old_full, int tombstone)
{
    char err[1024];
    tw_source_info src = {.prefix = p->prefix,
                          .db = tw_catalog_dbname(p->catalog),
                          .commit_ms = p->commit_ms,
                          .xid = p->xid,
                          .lsn = p->change_lsn,
                          .snapshot = "false"};
    tw_buf_reset(&p->key);
    if (r->nkey > 0 && key_from &&
        tw_relation_encode_key(r, key_from, key_old, &p->key, err, sizeof err) != 0) {
        tw_error("schema", "%s", err);
        return P_FATAL;
    }
    int nulled = 0;
    if (tw_relation_encode_envelope(r, op, before, after, old_full, &src, wall_ms(), &p->val,
                                    &nulled, err, sizeof err) != 0) {
        tw_error("schema", "%s", err);
        return P_FATAL;
    }
    if (nulled) {
        p->nulled += (uint64_t)nulled;
        /* 1, 10, 100, ...: loud at first, never a flood. */
        uint64_t n = p->nulled;
        while (n % 10 == 0)
            n /= 10;
        if (n == 1)
            tw_warn("schema",
                    "%" PRIu64 " numeric NaN/Infinity value(s) sent as null so far (latest in "
                    "%s.%s): an Avro decimal cannot hold them",
                    p->nulled, r->nspname, r->relname);
    }
    int rc = produce(p, r, &p->key, &p->val);
    char keytext[512];
    const pgo_tuple *keyed = key_from ? key_from : after ? after : before;
    tw_table_metrics *tm = r->stats;
    if (rc == P_OVERSIZE) {
        char lsn[24];
        tw_relation_key_text(r, keyed, key_old, keytext, sizeof keytext);
        tw_lsn_str(p->change_lsn, lsn, sizeof lsn);
        if (!p->skip_oversize) {
            tw_error("pipeline",
                     "change (op %c) to table %s.%s, key %s, at LSN %s: %s. Raise the topic's "
                     "max.message.bytes (and kafka.message.max.bytes), or set on_oversize=skip",
                     op, r->nspname, r->relname, keytext, lsn, p->oversize_err);
            return P_FATAL;
        }
        tw_warn("pipeline",
                "skipped a change (op %c) to table %s.%s, key %s, at LSN %s "
                "(on_oversize=skip): %s",
                op, r->nspname, r->relname, keytext, lsn, p->oversize_err);
        if (tm)
            atomic_fetch_add(&tm->oversize_skipped, 1);
        rc = P_OK; /* a delete's tombstone (key only) still goes out */
    } else if (rc == P_OK && tm) {
        int opi = op == 'c' ? TW_OP_C : op == 'u' ? TW_OP_U : op == 'd' ? TW_OP_D : TW_OP_T;
        atomic_fetch_add(&tm->changes[opi], 1);
    }
    if (rc == P_OK && tombstone && p->tombstones && r->nkey > 0) {
        rc = produce(p, r, &p->key, NULL);
        if (rc == P_OVERSIZE) { /* a limit lowered since the envelope's check */
            tw_relation_key_text(r, keyed, key_old, keytext, sizeof keytext);
            tw_error("pipeline", "tombstone of table %s.%s, key %s: %s", r->nspname, r->relname,
                     keytext, p->oversize_err);
            rc = P_FATAL;
        }
    }
    return rc;
}

/* Did an UPDATE change the key? Compare the key columns of the old tuple
 * (K or O) with the new one: the server also sends a K tuple when a key
 * column is stored out of line, changed or not. A key column the new tuple
 * leaves unsent (unchanged TOAST) did not change. */
static int key_changed(const tw_relation *r, const pgo_msg *m)
{
    if (m->u.change.old_kind == PGO_OLD_NONE || r->nkey == 0)
        return 0;
    const pgo_tuple *o = &m->u.change.old_tuple, *n = &m->u.change.new_tuple;
    for (int i = 0; i < r->ncols && i < o->ncols && i < n->ncols; i++) {
        if (!r->cols[i].key || n->values[i].kind == PGO_VALUE_UNCHANGED)
            continue;
        const pgo_value *a = &o->values[i], *b = &n->values[i];
        if (a->kind != b->kind || a->len != b->len ||
            (a->len && memcmp(a->data, b->data, a->len) != 0))
            return 1;
    }
    return 0;
}

static int on_change(pipe_t *p, const pgo_msg *m)
{
    tw_relation *r = find_rel(p, m->u.change.relid);
    if (!r) {
        tw_error("stream", "a change for relation %u arrived before its Relation message",
                 m->u.change.relid);
        return P_FATAL;
    }
    const pgo_tuple *old = m->u.change.old_kind != PGO_OLD_NONE ? &m->u.change.old_tuple : NULL;
    const pgo_tuple *full = m->u.change.old_kind == PGO_OLD_FULL ? old : NULL;
    switch (m->type) {
    case PGO_INSERT:
        return encode_and_produce(p, r, 'c', &m->u.change.new_tuple, NULL, NULL,
                                  &m->u.change.new_tuple, NULL, 0);
    case PGO_DELETE:
        return encode_and_produce(p, r, 'd', old, NULL, full, NULL, NULL, 1);
    case PGO_UPDATE:
        if (key_changed(r, m)) {
            /* As Debezium does: the old key is deleted, the new one created. */
            int rc = encode_and_produce(p, r, 'd', old, NULL, full, NULL, NULL, 1);
            if (rc != P_OK)
                return rc;
            return encode_and_produce(p, r, 'c', &m->u.change.new_tuple, old, NULL,
                                      &m->u.change.new_tuple, full, 0);
        }
        return encode_and_produce(p, r, 'u', &m->u.change.new_tuple, old, full,
                                  &m->u.change.new_tuple, full, 0);
    default:
        return P_OK;
    }
}

static int on_truncate(pipe_t *p, const pgo_msg *m)
{
    for (uint32_t i = 0; i < m->u.truncate.nrelids; i++) {
        tw_relation *r = find_rel(p, m->u.truncate.relids[i]);
        if (!r) {
            tw_error("stream", "TRUNCATE of relation %u arrived before its Relation message",
                     m->u.truncate.relids[i]);
            return P_FATAL;
        }
        int rc = encode_and_produce(p, r, 't', NULL, NULL, NULL, NULL, NULL, 0);
        if (rc != P_OK)
            return rc;
    }
    return P_OK;
}

static int on_message(pipe_t *p, const pgo_msg *m)
{
    switch (m->type) {
    case PGO_BEGIN:
        while (ckpt_full(&p->ck)) {
            int w = wait_a_little(p);
            if (w != P_OK)
                return w;
            if (*p->stop)
                return P_STOP;
        }
        p->txn = ckpt_begin(&p->ck);
        p->in_txn = 1;
        p->commit_lsn = m->u.begin.final_lsn;
        p->xid = m->xid;
        p->commit_ms = pgo_time_to_unix_ms(m->u.begin.commit_time);
        p->seq = 0;
        return P_OK;
    case PGO_COMMIT:
        ckpt_commit(&p->ck, p->txn, m->u.commit.end_lsn, p->commit_ms);
        p->in_txn = 0;
        return P_OK;
    case PGO_RELATION:
        return on_relation(p, m);
    case PGO_INSERT:
    case PGO_UPDATE:
    case PGO_DELETE:
        return on_change(p, m);
    case PGO_TRUNCATE:
        return on_truncate(p, m);
    case PGO_ORIGIN:
    case PGO_TYPE:
    case PGO_MESSAGE:
        return P_OK;
    default:
        tw_error("stream",
                 "unexpected pgoutput message '%c': streaming of in-progress "
                 "transactions was not requested",
                 (char)m->type);
        return P_FATAL;
    }
}

/* ---- the initial snapshot (agent/snapshot.h) ---- */

static void snapshot_key(pipe_t *p, char *out, size_t outsize)
{
    snprintf(out, outsize, "snapshot:%s", tw_config_str(p->cfg, TW_CFG_SLOT_NAME));
}

/* Writes the slot's snapshot record (durable before the caller goes on). */
static int snapshot_record(pipe_t *p, json_t *rec)
{
    char key[128], err[1024];
    snapshot_key(p, key, sizeof key);
    if (tw_store_set_state(p->store, key, rec, err, sizeof err) != 0)
        return store_failed(p, err);
    return P_OK;
}

/* Saves p->snap_rec as it is now. */
static int snapshot_save(pipe_t *p)
{
    return snapshot_record(p, json_deep_copy(p->snap_rec));
}

/* A table's identity in the record: the schema store's key. */
static void table_key(const tw_relation *r, char *out, size_t outsize)
{
    tw_store_key(r->nspname, r->relname, out, outsize);
}

/* Tables whose rows Kafka has all acknowledged go into the durable record:
 * a resumed snapshot does not read them again. */
static int snapshot_record_tables(pipe_t *p)
{
    tw_snapshot_job *j = p->snap;
    json_t *done = p->snap_rec ? json_object_get(p->snap_rec, "tables_done") : NULL;
    if (!done || p->snap_failed)
        return P_OK; /* initial_only: nothing durable; after a failure: nothing complete */
    int changed = 0;
    for (int i = 0; i < j->ntables; i++) {
        if (p->snap_table_recorded[i] || !atomic_load(&j->tables[i].done) ||
            p->snap_table_acked[i] < (uint64_t)atomic_load(&j->tables[i].rows))
            continue;
        char key[300];
        table_key(j->tables[i].rel, key, sizeof key);
        json_array_append_new(done, json_string(key));
        p->snap_table_recorded[i] = 1;
        changed = 1;
    }
    if (!changed)
        return P_OK;
    int rc = snapshot_save(p);
    for (int i = 0; rc == P_OK && i < j->ntables; i++)
        if (p->snap_table_recorded[i] == 1) {
            p->snap_table_recorded[i] = 2; /* said so */
            tw_info("snapshot",
                    "snapshot of %s.%s acknowledged by Kafka: recorded, kept if the snapshot is "
                    "interrupted",
                    j->tables[i].rel->nspname, j->tables[i].rel->relname);
        }
    return rc;
}

static void snapshot_progress(pipe_t *p, const char *what)
{
    tw_snapshot_job *j = p->snap;
    long long rows = 0, est = 0;
    int done = 0, unknown = 0;
    for (int i = 0; i < j->ntables; i++) {
        rows += atomic_load(&j->tables[i].rows);
        done += atomic_load(&j->tables[i].done);
        if (j->tables[i].est_rows < 0)
            unknown = 1;
        else
            est += j->tables[i].est_rows;
    }
    double s = (double)(now_ms() - p->snap_started_ms) / 1000.0;
    char of[64] = "";
    if (!unknown && est > 0)
        snprintf(of, sizeof of, " of ~%lld (%.0f%%)", est, 100.0 * (double)rows / (double)est);
    else if (est > 0)
        snprintf(of, sizeof of, " of more than ~%lld", est);
    /* The tables being read, with their own progress. */
    char busy[512] = "";
    size_t bl = 0;
    for (int i = 0, shown = 0; i < j->ntables && shown < 4; i++) {
        long long r = atomic_load(&j->tables[i].rows);
        if (atomic_load(&j->tables[i].done) || r == 0)
            continue;
        int w = snprintf(busy + bl, sizeof busy - bl, "%s%s.%s %lld of ~%lld",
                         shown ? ", " : "; reading ", j->tables[i].rel->nspname,
                         j->tables[i].rel->relname, r, j->tables[i].est_rows);
        if (w < 0 || (size_t)w >= sizeof busy - bl)
            break;
        bl += (size_t)w;
        shown++;
    }
    tw_info("snapshot",
            "%s: %lld rows%s, %d of %d tables done, %.0f rows/s, %" PRIu64
            " acknowledged by Kafka%s",
            what, rows, of, done, j->ntables, s > 0 ? (double)rows / s : 0.0, p->snap_acked, busy);
}

/* Between snapshot rows, on the pipeline's thread: deliveries, liveness,
 * stop, progress. */
static int snapshot_tick(void *arg)
{
    pipe_t *p = arg;
    atomic_store(&tw_m.loop_heartbeat_ms, tw_metrics_now_ms());
    kafka_sink_poll(p->sink, 100);
    atomic_store(&tw_m.kafka_connected, kafka_sink_connected(p->sink));
    atomic_store(&tw_m.queue_messages, kafka_sink_outstanding(p->sink));
    char err[512];
    if (*p->stop || p->snap_failed || kafka_sink_fatal(p->sink, err, sizeof err))
        return 1;
    int rc = snapshot_record_tables(p);
    if (rc != P_OK) {
        p->snap_tick_rc = rc;
        return 1;
    }
    if (now_ms() - p->snap_last_log_ms >= 10000) {
        p->snap_last_log_ms = now_ms();
        snapshot_progress(p, "snapshot in progress");
    }
    return 0;
}

/* The published tables as the snapshot sees them, ready to be read: relation
 * built from the catalog, topic, schemas published (and registered). The
 * catalog session is already inside the snapshot. */
static int snapshot_tables(pipe_t *p, const json_t *skip, tw_snap_table **out, int *nout)
{
    char err[1024];
    const tw_published_table *tabs;
    int ntabs;
    const char *pub = tw_config_str(p->cfg, TW_CFG_SOURCE_PUBLICATION);
    *out = NULL;
    *nout = 0;
    if (tw_catalog_published(p->catalog, pub, &tabs, &ntabs, err, sizeof err) != 0) {
        tw_error("snapshot", "cannot list the tables of publication %s: %s; retrying", pub, err);
        p->cause = TW_RESTART_CATALOG;
        return P_RESTART;
    }
    tw_snap_table *t = calloc((size_t)ntabs + 1, sizeof *t);
    if (!t)
        return P_FATAL;
    int n = 0, rc = P_OK;
    for (int i = 0; i < ntabs && rc == P_OK; i++) {
        const tw_column_catalog *cols;
        int ncols;
        char key[300];
        size_t k;
        json_t *v;
        int skipped = 0;
        tw_store_key(tabs[i].nspname, tabs[i].relname, key, sizeof key);
        json_array_foreach(skip, k, v) skipped |=
            strcmp(json_string_value(v) ? json_string_value(v) : "", key) == 0;
        if (skipped)
            continue;
        if (tw_catalog_columns(p->catalog, tabs[i].relid, &cols, &ncols, err, sizeof err) != 0) {
            tw_error("snapshot", "cannot read the catalog of %s.%s: %s; retrying", tabs[i].nspname,
                     tabs[i].relname, err);
            p->cause = TW_RESTART_CATALOG;
            rc = P_RESTART;
            break;
        }
        tw_relation *r = calloc(1, sizeof *r);
        if (!r) {
            rc = P_FATAL;
            break;
        }
        if (tw_relation_build_from_catalog(r, tabs[i].relid, tabs[i].nspname, tabs[i].relname, cols,
                                           ncols, tabs[i].attnames, tabs[i].nattnames, p->prefix,
                                           &p->topts, err, sizeof err) != 0) {
            tw_error("snapshot", "%s", err);
            free(r);
            rc = P_FATAL;
            break;
        }
        t[n].rel = r;
        n++;
        r->app = kafka_sink_topic(p->sink, r->topic, 0, err, sizeof err);
        if (!r->app) {
            tw_error("kafka", "%s", err);
            p->cause = TW_RESTART_KAFKA;
            rc = P_RESTART;
            break;
        }
        r->stats = tw_metrics_table(r->nspname, r->relname);
        int lk =
            tw_catalog_lock_table(p->catalog, r->relid, r->nspname, r->relname, err, sizeof err);
        if (lk != 0) {
            tw_error("snapshot", "%s; the snapshot is taken again", err);
            p->cause = TW_RESTART_CATALOG;
            rc = P_RESTART;
            break;
        }
        if (p->resume_fps) {
            /* Resuming reads this table in a later snapshot than the
             * slot's: sound only for a keyed table whose shape did not
             * change in between (see open_stream_in). */
            const char *fp = json_string_value(json_object_get(p->resume_fps, key));
            if (r->nkey == 0 || !fp || strcmp(fp, r->fingerprint) != 0) {
                tw_warn("snapshot",
                        "cannot resume the interrupted snapshot: table %s.%s %s, so its rows "
                        "read now would not line up with the changes streamed from the slot",
                        r->nspname, r->relname,
                        r->nkey == 0 ? "has no key"
                        : !fp        ? "was not in the interrupted snapshot"
                                     : "changed its schema since");
                rc = P_RESNAP;
                break;
            }
        }
        t[n - 1].relkind = tabs[i].relkind;
        t[n - 1].rowfilter =
            tabs[i].rowfilter; /* valid until the next catalog call: copied below */
        t[n - 1].pages = tabs[i].pages;
        t[n - 1].est_rows = tabs[i].reltuples;
        if (r->nkey == 0)
            tw_warn("snapshot",
                    "table %s.%s has no primary key or replica identity index: its rows are "
                    "published with a null key (consumers cannot tell them apart by key)",
                    r->nspname, r->relname);
        rc = r->nkey > 0 ? publish_schema(p, r->key_schema_id, &r->key_schema) : P_OK;
        if (rc == P_OK)
            rc = publish_schema(p, r->value_schema_id, &r->value_schema);
        if (rc == P_OK && p->registry)
            rc = register_relation(p, r);
    }
    /* Row filters point into the catalog's result: keep copies. */
    for (int i = 0; i < n; i++)
        if (t[i].rowfilter && !(t[i].rowfilter = strdup(t[i].rowfilter)))
            rc = P_FATAL;
    *out = t;
    *nout = n;
    return rc;
}

/* Frees what snapshot_tables() built: relations and row filter copies. */
static void free_snapshot(tw_snap_table *t, int n)
{
    for (int i = 0; t && i < n; i++) {
        free((char *)t[i].rowfilter);
        tw_relation_free((tw_relation *)t[i].rel);
        free((tw_relation *)t[i].rel);
    }
    free(t);
}

/* Reads every published table inside snapshot snapname (consistent point
 * lsn) and waits until Kafka acknowledged every row. import: the catalog
 * session imports the snapshot (otherwise it exported it and is inside). */
static int take_snapshot(pipe_t *p, const char *snapname, uint64_t lsn, int import,
                         const char *host, const char *port, const json_t *skip,
                         long long *rows_out)
{
    char err[1024], lsntxt[32];
    if (import && tw_catalog_import_snapshot(p->catalog, snapname, err, sizeof err) != 0) {
        tw_error("snapshot", "cannot read the catalog inside snapshot %s: %s; retrying", snapname,
                 err);
        p->cause = TW_RESTART_CATALOG;
        return P_RESTART;
    }
    tw_snap_table *tabs = NULL;
    int ntabs = 0;
    /* The catalog session stays inside the snapshot until the end: it
     * holds the tables' locks (tw_catalog_lock_table). */
    int rc = snapshot_tables(p, skip, &tabs, &ntabs);
    if (rc == P_OK && p->snap_rec && !json_object_get(p->snap_rec, "fingerprints")) {
        /* What a resumed attempt must find unchanged. */
        json_t *fps = json_object();
        for (int i = 0; i < ntabs; i++) {
            char key[300];
            table_key(tabs[i].rel, key, sizeof key);
            json_object_set_new(fps, key, json_string(tabs[i].rel->fingerprint));
        }
        json_object_set_new(p->snap_rec, "fingerprints", fps);
        rc = snapshot_save(p);
    }
    if (rc != P_OK) {
        if (import)
            tw_catalog_end_snapshot(p->catalog);
        free_snapshot(tabs, ntabs);
        return rc;
    }
    tw_snapshot_job job = {.cfg = p->cfg,
                           .sink = p->sink,
                           .snapshot_name = snapname,
                           .host = host,
                           .port = port,
                           .lsn = lsn,
                           .ts_ms = wall_ms(),
                           .prefix = p->prefix,
                           .db = tw_catalog_dbname(p->catalog),
                           .threads = (int)tw_config_int(p->cfg, TW_CFG_SNAPSHOT_MAX_THREADS),
                           .opaque = SNAPSHOT_OPAQUE,
                           .skip_oversize = p->skip_oversize,
                           .tables = tabs,
                           .ntables = ntabs,
                           .tick = snapshot_tick,
                           .arg = p};
    for (int i = 0; i < ntabs; i++) {
        tw_table_metrics *tm = tabs[i].rel->stats;
        if (tm) {
            atomic_store(&tm->snapshot_rows, 0);
            atomic_store(&tm->snapshot_estimated, tabs[i].est_rows);
            atomic_store(&tm->snapshot_done, 0);
        }
    }
    p->snap_table_acked = calloc((size_t)ntabs + 1, sizeof *p->snap_table_acked);
    p->snap_table_recorded = calloc((size_t)ntabs + 1, sizeof *p->snap_table_recorded);
    if (!p->snap_table_acked || !p->snap_table_recorded) {
        free(p->snap_table_acked);
        free(p->snap_table_recorded);
        if (import)
            tw_catalog_end_snapshot(p->catalog);
        free_snapshot(tabs, ntabs);
        return P_FATAL;
    }
    p->snap = &job;
    p->snap_tick_rc = P_OK;
    p->snap_acked = p->snap_failed = 0;
    p->snap_started_ms = p->snap_last_log_ms = now_ms();
    atomic_store(&tw_m.snapshot_running, 1);
    atomic_store(&tw_m.snapshot_tables, ntabs);
    tw_info("snapshot", "snapshot %s at %s: %d table(s) of publication %s", snapname,
            tw_lsn_str(lsn, lsntxt, sizeof lsntxt), ntabs,
            tw_config_str(p->cfg, TW_CFG_SOURCE_PUBLICATION));
    int src = tw_snapshot_run(&job, err, sizeof err);
    uint64_t produced = atomic_load(&job.produced);
    /* Every row acknowledged, or a reason to give up. */
    while (src == TW_SNAP_OK && p->snap_acked < produced)
        if (snapshot_tick(p) != 0)
            src = TW_SNAP_ABORTED;
    if (import)
        tw_catalog_end_snapshot(p->catalog);
    atomic_store(&tw_m.snapshot_running, 0);
    if (atomic_load(&job.nulled))
        tw_warn("snapshot",
                "%llu numeric NaN/Infinity value(s) sent as null: an Avro decimal cannot hold them",
                (unsigned long long)atomic_load(&job.nulled));
    if (src == TW_SNAP_OK && (rc = snapshot_record_tables(p)) != P_OK)
        p->snap_tick_rc = rc;
    if (p->snap_tick_rc != P_OK) {
        rc = p->snap_tick_rc; /* a record could not be written: logged */
    } else if (src == TW_SNAP_OK) {
        snapshot_progress(p, "snapshot complete");
        atomic_store(&tw_m.snapshot_completed_ms, wall_ms());
        *rows_out = (long long)produced;
        rc = P_OK;
    } else if (src == TW_SNAP_FATAL) {
        tw_error("snapshot", "%s", err);
        rc = P_FATAL;
    } else if (*p->stop) {
        tw_warn("snapshot",
                "stopped during the snapshot (%" PRIu64 " rows sent): the next start finishes it",
                produced);
        rc = P_STOP;
    } else if (p->oversize_refused) {
        tw_error("snapshot",
                 "the broker refused a snapshot row for its size: %s. Raise the topic's "
                 "max.message.bytes (and kafka.message.max.bytes), or set on_oversize=skip",
                 p->last_delivery_err);
        rc = P_FATAL;
    } else {
        char kerr[1100] = "";
        if (p->snap_failed)
            snprintf(kerr, sizeof kerr, "delivery failed: %s", p->last_delivery_err);
        else if (kafka_sink_fatal(p->sink, kerr, sizeof kerr))
            ; /* kerr says it */
        else
            snprintf(kerr, sizeof kerr, "%s", err);
        tw_error("snapshot", "%s; the snapshot is finished after the restart", kerr);
        p->cause = src == TW_SNAP_RETRY && !p->snap_failed ? TW_RESTART_STREAM : TW_RESTART_KAFKA;
        rc = P_RESTART;
    }
    p->snap = NULL;
    free(p->snap_table_acked);
    free(p->snap_table_recorded);
    p->snap_table_acked = NULL;
    p->snap_table_recorded = NULL;
    free_snapshot(tabs, ntabs);
    return rc;
}

/* A snapshot of its own (the catalog session exports it), not the slot's:
 * for initial_only, and to resume an interrupted snapshot. skip: keys of
 * tables not to read. */
static int fresh_snapshot(pipe_t *p, const json_t *skip, long long *rows)
{
    char err[1024], name[128];
    uint64_t lsn = 0;
    if (tw_catalog_export_snapshot(p->catalog, name, sizeof name, &lsn, err, sizeof err) != 0) {
        tw_error("snapshot", "cannot take a snapshot: %s; retrying", err);
        p->cause = TW_RESTART_CATALOG;
        return P_RESTART;
    }
    int rc = take_snapshot(p, name, lsn, 0, tw_catalog_host(p->catalog),
                           tw_catalog_port(p->catalog), skip, rows);
    tw_catalog_end_snapshot(p->catalog);
    return rc;
}

/* snapshot.mode=initial_only: a snapshot, no slot, then the agent is done. */
static int snapshot_only(pipe_t *p)
{
    long long rows = 0;
    int rc = fresh_snapshot(p, NULL, &rows);
    if (rc != P_OK)
        return rc;
    tw_info("snapshot",
            "snapshot.mode=initial_only: %lld rows published; no slot was created; exiting", rows);
    return P_DONE;
}

/* snapshot.mode=never after an interrupted snapshot: it stays incomplete,
 * and its record says so (no later start takes it up again). */
static int abandon_snapshot(pipe_t *p, const json_t *rec, const char *from)
{
    tw_warn("snapshot",
            "the snapshot begun for slot '%s' was interrupted and snapshot.mode=never: it stays "
            "incomplete (rows it did not reach are not published); streaming from %s",
            tw_config_str(p->cfg, TW_CFG_SLOT_NAME), from);
    json_t *r = json_deep_copy(rec);
    json_object_set_new(r, "status", json_string("abandoned"));
    return snapshot_record(p, r);
}

/* Opens the replication session and decides, from the slot and the durable
 * snapshot record, whether to take (or resume) a snapshot before streaming.
 *
 * Resuming an interrupted snapshot keeps the slot: the tables whose rows
 * Kafka acknowledged were read in the slot's snapshot (consistent point A);
 * the others are read in a new snapshot B (later than A), and streaming
 * then starts at A. Per key, the last message in the topic is then the
 * key's last change after A when it has one (the stream follows every
 * snapshot row), and otherwise a snapshot row of a row unchanged since A:
 * replayed by key, the topics converge on the tables' contents, and a row
 * an interrupted attempt sent that was deleted later gets its delete from
 * the stream. Changes between A and B may reach a key after its (newer)
 * snapshot row, as duplicates after a restart do. If the slot was moved
 * past A (not by Tidewater: it never streamed from it), every table is read
 * again. */
static int open_stream_in(pipe_t *p)
{
    char err[1024], lsn[32], lsn2[32];
    int retriable = 0;
    const char *slot = tw_config_str(p->cfg, TW_CFG_SLOT_NAME);
    const char *mode = tw_config_str(p->cfg, TW_CFG_SNAPSHOT_MODE);
    /* Slot creation may wait long on a standby: /healthz stays green. */
    atomic_store(&tw_m.loop_heartbeat_ms, 0);
    p->stream = tw_stream_connect(p->cfg, &retriable, err, sizeof err);
    if (!p->stream) {
        p->cause = TW_RESTART_STREAM;
        tw_error("stream", "%s", err);
        return *p->stop ? P_STOP : retriable ? P_RESTART : P_FATAL;
    }
    const tw_stream_info *info = tw_stream_get_info(p->stream);
    char key[128];
    snapshot_key(p, key, sizeof key);
    const json_t *rec = tw_store_state(p->store, key);
    const char *status = rec ? json_string_value(json_object_get(rec, "status")) : NULL;
    int interrupted = status && strcmp(status, "running") == 0;
    int completed = status && strcmp(status, "done") == 0;
    uint64_t rec_lsn = 0;
    const char *rl = rec ? json_string_value(json_object_get(rec, "consistent_lsn")) : NULL;
    if (rl)
        tw_lsn_parse(rl, &rec_lsn);
    int need = 0, drop = 0, resume = 0, rc;
    switch (info->slot_state) {
    case TW_SLOT_USABLE:
        if (!interrupted)
            break;
        if (p->snapshot_mode == SNAP_NEVER) {
            if ((rc = abandon_snapshot(p, rec, "the slot")) != P_OK)
                return rc;
            break;
        }
        resume = 1;
        break;
    case TW_SLOT_INVALIDATED:
        if (interrupted && p->snapshot_mode != SNAP_NEVER) {
            /* Created for the snapshot and never streamed from: ours. */
            tw_warn("snapshot",
                    "slot '%s', created for the snapshot that was interrupted, is invalidated "
                    "(%s); Tidewater drops it and takes the snapshot again",
                    slot, info->slot_invalid_why);
            need = drop = 1;
            break;
        }
        if (p->snapshot_mode != SNAP_WHEN_NEEDED) {
            tw_error("stream",
                     "slot '%s' is invalidated (%s); the changes since its position are gone. "
                     "Start with snapshot.mode=when_needed to drop it and take a new snapshot, or "
                     "drop it (SELECT pg_drop_replication_slot('%s')) and start with "
                     "snapshot.mode=never to stream from now on without the changes in between",
                     slot, info->slot_invalid_why, slot);
            return P_FATAL;
        }
        tw_warn("snapshot",
                "slot '%s' is invalidated (%s); the changes since its position are gone: "
                "snapshot.mode=when_needed, so Tidewater drops it and takes a new snapshot",
                slot, info->slot_invalid_why);
        need = drop = 1;
        break;
    case TW_SLOT_ABSENT:
        if (p->snapshot_mode == SNAP_NEVER) {
            if (interrupted && (rc = abandon_snapshot(p, rec, "a new slot")) != P_OK)
                return rc;
            break;
        }
        if (p->snapshot_mode == SNAP_INITIAL && completed) {
            tw_error("snapshot",
                     "slot '%s' is gone, although a snapshot for it completed (at %s): the "
                     "changes since it was last streamed are lost to Tidewater. Start with "
                     "snapshot.mode=when_needed to take a new snapshot, or snapshot.mode=never to "
                     "stream from now on (accepting the gap)",
                     slot, rl ? rl : "?");
            return P_FATAL;
        }
        if (interrupted)
            tw_warn("snapshot",
                    "the snapshot begun for slot '%s' was interrupted before the slot existed; "
                    "taking it again from the start",
                    slot);
        need = 1;
        break;
    }
    if (drop && tw_stream_drop_slot(p->stream, err, sizeof err) != 0) {
        tw_error("stream", "cannot drop slot '%s': %s; retrying", slot, err);
        p->cause = TW_RESTART_STREAM;
        return P_RESTART;
    }
    long long rows = 0;
    int64_t t0 = now_ms();
    if (resume) {
        p->snap_rec = json_deep_copy(rec);
        json_t *done = json_object_get(p->snap_rec, "tables_done");
        if (!json_is_array(done) || rec_lsn != info->slot_lsn) {
            if (json_array_size(done) > 0)
                tw_warn("snapshot",
                        "slot '%s' is at %s, not at the snapshot's consistent point %s: "
                        "something moved it, so every table is read again",
                        slot, tw_lsn_str(info->slot_lsn, lsn, sizeof lsn),
                        tw_lsn_str(rec_lsn, lsn2, sizeof lsn2));
            json_object_set_new(p->snap_rec, "tables_done", json_array());
            json_object_set_new(p->snap_rec, "consistent_lsn",
                                json_string(tw_lsn_str(info->slot_lsn, lsn, sizeof lsn)));
            done = json_object_get(p->snap_rec, "tables_done");
        }
        json_object_set_new(p->snap_rec, "resumed",
                            json_integer(json_integer_value(json_object_get(rec, "resumed")) + 1));
        if ((rc = snapshot_save(p)) != P_OK)
            return rc;
        tw_warn("snapshot",
                "the snapshot begun for slot '%s' was interrupted (crash, kill or lost "
                "connection); %zu table(s) whose rows Kafka acknowledged are recorded: "
                "resuming it if the other tables allow",
                slot, json_array_size(done));
        size_t kept = json_array_size(done);
        json_t *skip = json_deep_copy(done);
        p->resume_fps = json_object_get(p->snap_rec, "fingerprints");
        if (!p->resume_fps) /* interrupted before it knew its tables: nothing to keep */
            rc = P_RESNAP;
        else
            rc = fresh_snapshot(p, skip, &rows);
        p->resume_fps = NULL;
        json_decref(skip);
        if (rc == P_RESNAP) {
            /* Start over: only a slot this snapshot created and never
             * streamed from is dropped. */
            if (rec_lsn && rec_lsn != info->slot_lsn) {
                tw_error("snapshot",
                         "slot '%s' is at %s, not at the consistent point %s of the "
                         "interrupted snapshot: it is not the slot Tidewater created for it, so "
                         "Tidewater does not drop it. Drop it yourself "
                         "(SELECT pg_drop_replication_slot('%s')) or choose another slot.name",
                         slot, tw_lsn_str(info->slot_lsn, lsn, sizeof lsn),
                         tw_lsn_str(rec_lsn, lsn2, sizeof lsn2), slot);
                return P_FATAL;
            }
            tw_warn("snapshot",
                    "taking the snapshot again from the start: dropping slot '%s' (created for "
                    "the interrupted snapshot, never streamed from). Rows the interrupted "
                    "attempt published stay in the topics: consumers should let a table's new "
                    "snapshot (source.snapshot first/first_in_data_collection) replace them",
                    slot);
            if (tw_stream_drop_slot(p->stream, err, sizeof err) != 0) {
                tw_error("stream", "cannot drop slot '%s': %s; retrying", slot, err);
                p->cause = TW_RESTART_STREAM;
                return P_RESTART;
            }
            json_decref(p->snap_rec);
            p->snap_rec = NULL;
            rows = 0;
            need = 1;
            resume = 0;
        } else if (rc != P_OK) {
            return rc;
        } else {
            tw_info("snapshot",
                    "snapshot resumed: %zu table(s) kept from the interrupted attempt, the others "
                    "read in a new snapshot; streaming starts at the slot's consistent point %s, "
                    "so every change since is published after those rows",
                    kept, tw_lsn_str(info->slot_lsn, lsn, sizeof lsn));
        }
    }
    if (need) {
        /* Durable before the slot exists: a crash from here on is found at
         * the next start. */
        p->snap_rec = json_pack("{s:s,s:s,s:s,s:I,s:[]}", "slot", slot, "status", "running", "mode",
                                mode, "started_ms", (json_int_t)wall_ms(), "tables_done");
        if ((rc = snapshot_save(p)) != P_OK)
            return rc;
        char snapname[128];
        if (tw_stream_create_slot(p->stream, p->stop, snapname, sizeof snapname, err, sizeof err) !=
            0) {
            tw_error("stream", "%s", err);
            p->cause = TW_RESTART_STREAM;
            return *p->stop ? P_STOP : P_RESTART;
        }
        json_object_set_new(p->snap_rec, "consistent_lsn",
                            json_string(tw_lsn_str(info->slot_lsn, lsn, sizeof lsn)));
        if ((rc = snapshot_save(p)) != P_OK)
            return rc;
        if ((rc = take_snapshot(p, snapname, info->slot_lsn, 1, tw_stream_host(p->stream),
                                tw_stream_port(p->stream), NULL, &rows)) != P_OK)
            return rc;
    } else if (info->slot_state == TW_SLOT_ABSENT &&
               tw_stream_create_slot(p->stream, p->stop, NULL, 0, err, sizeof err) != 0) {
        tw_error("stream", "%s", err);
        p->cause = TW_RESTART_STREAM;
        return *p->stop ? P_STOP : P_RESTART;
    }
    if (need || resume) {
        json_object_set_new(p->snap_rec, "status", json_string("done"));
        json_object_set_new(p->snap_rec, "finished_ms", json_integer(wall_ms()));
        json_object_set_new(p->snap_rec, "rows", json_integer(rows));
        json_object_set_new(p->snap_rec, "duration_ms", json_integer(now_ms() - t0));
        if ((rc = snapshot_save(p)) != P_OK)
            return rc;
    }
    atomic_store(&tw_m.loop_heartbeat_ms, 0);
    if (tw_stream_start(p->stream, &retriable, err, sizeof err) != 0) {
        tw_error("stream", "%s", err);
        p->cause = TW_RESTART_STREAM;
        return retriable ? P_RESTART : P_FATAL;
    }
    p->streaming = 1;
    return P_OK;
}

static int open_stream(pipe_t *p)
{
    int rc = open_stream_in(p);
    json_decref(p->snap_rec);
    p->snap_rec = NULL;
    return rc;
}

static void teardown(pipe_t *p)
{
    p->streaming = 0;
    atomic_store(&tw_m.pg_connected, 0);
    atomic_store(&tw_m.streaming, 0);
    tw_stream_close(p->stream);
    p->stream = NULL;
    kafka_sink_destroy(p->sink);
    p->sink = NULL;
    p->schemas_topic = NULL;
    p->changes_topic = NULL;
    tw_catalog_close(p->catalog);
    p->catalog = NULL;
    pgo_decoder_free(&p->dec);
    ckpt_free(&p->ck);
    free_rels(p);
}

/* run_once() ending before the stream is open: the producer and the
 * catalog connection go (either may not be there yet); returns rc. */
static int end_early(pipe_t *p, int rc)
{
    kafka_sink_destroy(p->sink);
    p->sink = NULL;
    tw_catalog_close(p->catalog);
    p->catalog = NULL;
    return rc;
}

/* The source was a standby and is a primary now: a failover promoted it.
 * Its slot came through the promotion and the stream goes on from it, on
 * the new timeline; the log says so, because the operator's next steps
 * (decoding now loads a primary, a standby of it for the agent) follow. */
static void source_promoted(pipe_t *p, const char *how)
{
    tw_warn("stream",
            "the source server %s:%s was a standby and has been promoted to primary (failover)%s; "
            "streaming continues from slot '%s' on it, from where it was. Logical decoding "
            "now runs on a primary: once it has a standby, source.conninfo pointed there with "
            "snapshot.mode=when_needed moves the agent back (a new slot, a new snapshot)",
            tw_catalog_host(p->catalog), tw_catalog_port(p->catalog), how,
            tw_config_str(p->cfg, TW_CFG_SLOT_NAME));
}

/* One life of producer + stream, until stop, restart or a fatal error. */
static int run_once(pipe_t *p)
{
    char err[1024], lsn[32];
    p->delivery_failures = 0;
    p->schema_failed = 0;
    p->schema_acks_pending = 0;
    p->in_txn = 0;

    p->sink = kafka_sink_new(p->cfg, "tidewater", on_delivery, p, err, sizeof err);
    if (!p->sink) {
        tw_error("kafka", "%s", err);
        return P_FATAL;
    }
    char schemas_topic[300];
    snprintf(schemas_topic, sizeof schemas_topic, "%s.schemas", p->prefix);
    p->schemas_topic = kafka_sink_topic(p->sink, schemas_topic, 1, err, sizeof err);
    if (!p->schemas_topic) {
        tw_error("kafka", "%s", err);
        p->cause = TW_RESTART_KAFKA;
        return end_early(p, P_RESTART);
    }
    snprintf(schemas_topic, sizeof schemas_topic, "%s.schema_changes", p->prefix);
    p->changes_topic = kafka_sink_topic(p->sink, schemas_topic, 0, err, sizeof err);
    if (!p->changes_topic) {
        tw_error("kafka", "%s", err);
        p->cause = TW_RESTART_KAFKA;
        return end_early(p, P_RESTART);
    }
    atomic_store(&tw_m.kafka_connected, 1);
    p->catalog = tw_catalog_open(p->cfg, err, sizeof err);
    if (!p->catalog) {
        int permanent = tw_pg_error_is_permanent(err);
        tw_error("catalog", "%s%s", err,
                 permanent ? "; fix source.conninfo / source.password_file and start again"
                           : "; retrying");
        p->cause = TW_RESTART_CATALOG;
        return end_early(p, permanent ? P_FATAL : P_RESTART);
    }
    if (!p->store) {
        /* Read fully before streaming: drift while the agent was down is
         * found by the startup check below. */
        p->store = tw_store_open(p->cfg, err, sizeof err);
        if (!p->store) {
            int dir = strcmp(tw_config_str(p->cfg, TW_CFG_SCHEMA_STORE), "dir") == 0;
            tw_error("schema", "%s%s", err, dir ? "" : "; retrying");
            p->cause = TW_RESTART_SCHEMA;
            return end_early(p, dir ? P_FATAL : P_RESTART);
        }
        tw_store_set_writer(p->store, store_put, p);
        for (int i = 0; i < tw_store_count(p->store); i++) {
            tw_store_table *t = tw_store_at(p->store, i);
            tw_table_metrics *tm = tw_metrics_table(t->nspname, t->relname);
            if (tm && json_is_true(json_object_get(t->doc, "paused")))
                atomic_store(&tm->schema_paused, 1); /* waiting for `accept` */
        }
        tw_info("schema", "schema store %s: %d table(s)%s", tw_store_where(p->store),
                tw_store_count(p->store), tw_store_is_new(p->store) ? " (new)" : "");
    }
    if (p->registry) {
        /* Ids are asked for again after every restart: cached ones could
         * outlive the registry's state. */
        tw_registry_forget(p->registry);
        p->event_key_id = p->event_value_id = -1;
        int rrc = register_events(p);
        if (rrc != P_OK)
            return end_early(p, rrc);
    }
    {
        int crc = check_catalog(p, p->startup_checked ? "catalog_check" : "startup");
        p->startup_checked = crc == P_OK;
        p->last_check_ms = now_ms();
        if (crc != P_OK)
            return end_early(p, crc);
    }
    if (p->snapshot_mode == SNAP_INITIAL_ONLY)
        return end_early(p, snapshot_only(p));
    int orc = open_stream(p);
    if (orc != P_OK) {
        tw_stream_close(p->stream);
        p->stream = NULL;
        p->streaming = 0;
        return end_early(p, orc);
    }
    const tw_stream_info *info = tw_stream_get_info(p->stream);
    if (p->source_standby == 1 && !info->standby)
        source_promoted(p, "; the agent reconnected to it");
    p->source_standby = info->standby;
    p->last_recovery_check_ms = now_ms();
    pgo_decoder_init(&p->dec, info->proto_version);
    if (ckpt_init(&p->ck, TXN_RING, info->slot_lsn) != 0) {
        teardown(p);
        return P_FATAL;
    }
    p->last_status_ms = p->last_progress_ms = now_ms();
    p->last_slot_check_ms = 0;
    p->data_since_housekeeping = 0;
    atomic_store(&tw_m.pg_connected, 1);
    atomic_store(&tw_m.streaming, 1);
    atomic_store(&tw_m.flushed_lsn, info->slot_lsn);

    int rc = P_OK;
    while (rc == P_OK) {
        if (*p->stop) {
            rc = P_STOP;
            break;
        }
        if (p->data_since_housekeeping == 0)
            atomic_store(&tw_m.loop_heartbeat_ms, tw_metrics_now_ms());
        tw_stream_event ev;
        if (tw_stream_next(p->stream, 100, &ev, err, sizeof err) != 0) {
            tw_error("stream", "%s; reconnecting", err);
            p->cause = TW_RESTART_STREAM;
            rc = P_RESTART;
            break;
        }
        if (ev.kind != TW_EV_NONE)
            atomic_store(&tw_m.server_wal_end, ev.wal_end);
        if (ev.kind == TW_EV_DATA)
            atomic_store(&tw_m.received_lsn, ev.data_start);
        if (ev.kind == TW_EV_DATA) {
            pgo_msg m;
            if (pgo_decode(&p->dec, ev.payload, ev.len, &m, err, sizeof err) != 0) {
                char at[32];
                tw_error("stream", "%s (the message at LSN %s)", err,
                         tw_lsn_str(ev.data_start, at, sizeof at));
                rc = P_FATAL;
                break;
            }
            p->change_lsn = ev.data_start;
            rc = on_message(p, &m);
        } else if (ev.kind == TW_EV_KEEPALIVE) {
            ckpt_idle(&p->ck, ev.wal_end);
            if (ev.reply_requested)
                rc = send_status(p, 1);
        }
        if (rc != P_OK)
            break;
        /* A burst of row data is served in slices: polling the producer,
         * timers and metrics after every change cost more than decoding it.
         * Anything else (a keepalive, a timeout) ends the slice. */
        if (ev.kind == TW_EV_DATA && ++p->data_since_housekeeping < HOUSEKEEPING_EVERY)
            continue;
        p->data_since_housekeeping = 0;
        kafka_sink_poll(p->sink, 0);
        if (p->delivery_failures || kafka_sink_fatal(p->sink, err, sizeof err)) {
            rc = wait_a_little(p);
            if (rc == P_OK)
                rc = P_RESTART;
            break;
        }
        rc = send_status(p, 0);
        atomic_store(&tw_m.flushed_lsn, ckpt_flush_lsn(&p->ck));
        atomic_store(&tw_m.last_flushed_commit_ms, p->ck.flushed_commit_ms);
        atomic_store(&tw_m.quiet, ckpt_quiet(&p->ck));
        atomic_store(&tw_m.queue_messages, kafka_sink_outstanding(p->sink));
        atomic_store(&tw_m.kafka_connected, kafka_sink_connected(p->sink));
        if (p->source_standby == 1 && now_ms() - p->last_recovery_check_ms >= RECOVERY_CHECK_MS) {
            int in_recovery;
            p->last_recovery_check_ms = now_ms();
            if (tw_catalog_in_recovery(p->catalog, &in_recovery, err, sizeof err) == 0 &&
                !in_recovery) {
                source_promoted(p, "");
                p->source_standby = 0;
            }
        }
        if (now_ms() - p->last_slot_check_ms >= 30000) {
            int ws;
            long long safe;
            p->last_slot_check_ms = now_ms();
            if (tw_catalog_slot_status(p->catalog, tw_config_str(p->cfg, TW_CFG_SLOT_NAME), &ws,
                                       &safe, err, sizeof err) == 0) {
                atomic_store(&tw_m.slot_wal_status, ws);
                atomic_store(&tw_m.slot_safe_wal_size, safe);
            }
        }
        serve_control(p);
        if (p->webhook) {
            tw_webhook_stats ws;
            tw_webhook_get_stats(p->webhook, &ws);
            atomic_store(&tw_m.webhook_delivered, ws.delivered);
            atomic_store(&tw_m.webhook_failed, ws.failed);
            atomic_store(&tw_m.webhook_dropped, ws.dropped);
        }
        if (p->check_interval_ms > 0 && now_ms() - p->last_check_ms >= p->check_interval_ms) {
            rc = check_catalog(p, "catalog_check");
            p->last_check_ms = now_ms();
            if (rc != P_OK)
                break;
        }
        if (now_ms() - p->last_progress_ms >= 60000) {
            p->last_progress_ms = now_ms();
            tw_info("pipeline",
                    "%" PRIu64 " changes produced; flushed to %s; %d in the producer "
                    "queue",
                    p->changes, tw_lsn_str(ckpt_flush_lsn(&p->ck), lsn, sizeof lsn),
                    kafka_sink_outstanding(p->sink));
        }
    }

    if (rc == P_STOP) {
        /* Deliver what the producer holds, then report how far that got. */
        int left = kafka_sink_flush(p->sink, FLUSH_MS);
        if (left)
            tw_warn("kafka",
                    "%d message(s) not delivered within %d s at shutdown: they are "
                    "sent again at the next start",
                    left, FLUSH_MS / 1000);
        send_status(p, 1);
        tw_info("pipeline", "stopped; flushed to %s after %" PRIu64 " changes",
                tw_lsn_str(ckpt_flush_lsn(&p->ck), lsn, sizeof lsn), p->changes);
    }
    teardown(p);
    return rc;
}

/* Frees what tw_pipeline_run set up (any of it may not be there yet);
 * drain_ms: how long the webhook may still send held events. */
static void release(pipe_t *p, int drain_ms)
{
    tw_webhook_stop(p->webhook, drain_ms);
    tw_registry_free(p->registry);
    tw_store_close(p->store);
    tw_buf_free(&p->key);
    tw_buf_free(&p->val);
    tw_buf_free(&p->ekey);
    tw_buf_free(&p->eval);
    free(p->rels);
    free(p->published);
}

int tw_pipeline_run(const tw_config *cfg, volatile sig_atomic_t *stop)
{
    pipe_t p;
    memset(&p, 0, sizeof p);
    p.source_standby = -1;
    p.cfg = cfg;
    p.stop = stop;
    p.prefix = tw_config_str(cfg, TW_CFG_TOPIC_PREFIX);
    p.tombstones = tw_config_bool(cfg, TW_CFG_TOMBSTONES_ON_DELETE);
    p.skip_oversize = strcmp(tw_config_str(cfg, TW_CFG_ON_OVERSIZE), "skip") == 0;
    p.status_ms = tw_config_int(cfg, TW_CFG_STATUS_INTERVAL_MS);
    const char *dh = tw_config_str(cfg, TW_CFG_DECIMAL_HANDLING);
    p.topts.decimal_handling = strcmp(dh, "double") == 0   ? PGT_DECIMAL_DOUBLE
                               : strcmp(dh, "string") == 0 ? PGT_DECIMAL_STRING
                                                           : PGT_DECIMAL_PRECISE;
    tw_buf_init(&p.key, 0);
    tw_buf_init(&p.val, 0);
    tw_buf_init(&p.ekey, 0);
    tw_buf_init(&p.eval, 0);
    const char *pol = tw_config_str(cfg, TW_CFG_SCHEMA_ON_BREAKING_CHANGE);
    p.policy = strcmp(pol, "pause") == 0  ? POLICY_PAUSE
               : strcmp(pol, "fail") == 0 ? POLICY_FAIL
                                          : POLICY_CONTINUE;
    if (avro_compat_parse(tw_config_str(cfg, TW_CFG_SCHEMA_COMPATIBILITY), &p.required) != 0)
        p.required = AVRO_COMPAT_BACKWARD;
    p.check_interval_ms = tw_config_int(cfg, TW_CFG_SCHEMA_CHECK_INTERVAL_MS);
    const char *sm = tw_config_str(cfg, TW_CFG_SNAPSHOT_MODE);
    p.snapshot_mode = strcmp(sm, "never") == 0          ? SNAP_NEVER
                      : strcmp(sm, "when_needed") == 0  ? SNAP_WHEN_NEEDED
                      : strcmp(sm, "initial_only") == 0 ? SNAP_INITIAL_ONLY
                                                        : SNAP_INITIAL;
    const char *hook = tw_config_str(cfg, TW_CFG_SCHEMA_WEBHOOK_URL);
    if (hook && hook[0]) {
        char err[512];
        p.webhook =
            tw_webhook_start(hook, (int)tw_config_int(cfg, TW_CFG_SCHEMA_WEBHOOK_TIMEOUT_MS), 5,
                             1000, err, sizeof err);
        if (!p.webhook) {
            tw_error("webhook", "%s; fix schema.webhook.url", err);
            release(&p, 0);
            return 1;
        }
    }

    p.event_key_id = p.event_value_id = -1;
    {
        char err[1024];
        p.registry = tw_registry_from_config(cfg, err, sizeof err);
        tw_reg_status st = TW_REG_OK;
        if (p.registry) {
            tw_registry_set_progress(p.registry, registry_progress, &p);
            st = tw_registry_ping(p.registry, err, sizeof err);
        }
        /* A 403 on GET /config may only mean the account may register
         * schemas but not read the global configuration. */
        int forbidden = st == TW_REG_AUTH && tw_registry_last_http_status(p.registry) == 403;
        if (err[0] && (!p.registry || (st == TW_REG_AUTH && !forbidden) || st == TW_REG_ERROR ||
                       st == TW_REG_NOT_FOUND)) {
            tw_error("registry", "%s; fix the schema.registry.* settings%s", err,
                     st == TW_REG_NOT_FOUND ? " (the URL is the base of the Confluent-compatible "
                                              "API, e.g. Apicurio's .../apis/ccompat/v7)"
                                            : "");
            release(&p, 0);
            return 1;
        }
        if (p.registry && st != TW_REG_OK)
            tw_warn("registry",
                    "%s; publishing will wait for the registry when a schema must "
                    "be registered",
                    err);
        else if (p.registry)
            tw_info("registry", "schema registry %s: messages use Confluent's wire format",
                    tw_registry_shown(p.registry));
    }

    tw_http *http = NULL;
    const char *listen = tw_config_str(cfg, TW_CFG_HTTP_LISTEN);
    if (listen && listen[0]) {
        char err[512];
        http = tw_http_start(listen, err, sizeof err);
        if (!http) {
            tw_error("http", "%s; set http.listen to a free host:port (or empty for none)", err);
            release(&p, 0);
            return 1;
        }
        tw_info("http", "serving /healthz, /readyz and /metrics on %s", listen);
    }

    int delay_s = 1, rc;
    for (;;) {
        uint64_t before = p.changes;
        rc = run_once(&p);
        if (rc != P_RESTART || *stop)
            break;
        atomic_fetch_add(&tw_m.restarts[p.cause], 1);
        if (p.changes > before) {
            delay_s = 1; /* it ran for a while: start the backoff over */
            atomic_store(&tw_m.consecutive_failures, 0);
        }
        atomic_fetch_add(&tw_m.consecutive_failures, 1);
        tw_warn("pipeline", "restarting in %d s from the last acknowledged commit", delay_s);
        struct timespec tick = {0, 100000000};
        for (int i = 0; i < delay_s * 10 && !*stop; i++)
            nanosleep(&tick, NULL);
        if (*stop)
            break;
        delay_s = delay_s < 30 ? delay_s * 2 : 30;
    }
    tw_http_stop(http);
    release(&p, 5000);
    if (p.snapshot_mode == SNAP_INITIAL_ONLY && rc != P_DONE) {
        /* A job runner must not take a stopped snapshot for a complete one. */
        if (rc != P_FATAL)
            tw_error("snapshot", "snapshot.mode=initial_only stopped before the snapshot was "
                                 "complete: its topics hold only part of the rows");
        return 1;
    }
    return rc == P_FATAL ? 1 : 0;
}
