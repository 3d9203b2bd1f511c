#include "agent/schemas_cli.h"

#include "agent/catalog.h"
#include "agent/config.h"
#include "agent/drift.h"
#include "agent/log.h"
#include "agent/schema_store.h"
#include "sinks/kafka.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void iso_time(long long ms, char *out, size_t outsize)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms <= 0 || !gmtime_r(&t, &tm) || !strftime(out, outsize, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, outsize, "-");
}

static int list(tw_store *s)
{
    printf("%-40s %-64s %-14s %-20s %-13s %s\n", "TABLE", "FINGERPRINT", "SINCE_LSN", "SINCE",
           "DETECTED_BY", "PAUSED");
    for (int i = 0; i < tw_store_count(s); i++) {
        tw_store_table *t = tw_store_at(s, i);
        char name[160], when[32];
        snprintf(name, sizeof name, "%s.%s", t->nspname, t->relname);
        iso_time(tw_store_int(t, "since_ms"), when, sizeof when);
        const char *fp = tw_store_str(t, "fingerprint"), *lsn = tw_store_str(t, "since_lsn"),
                   *by = tw_store_str(t, "detected_by");
        printf("%-40s %-64s %-14s %-20s %-13s %s\n", name, fp ? fp : "-", lsn ? lsn : "-", when,
               by ? by : "-", json_is_true(json_object_get(t->doc, "paused")) ? "yes" : "no");
    }
    return 0;
}

/* The table's record as the catalog describes it now; NULL when it is not
 * published (err says so). */
static json_t *current_record(const tw_config *cfg, tw_catalog *cat, const char *nsp,
                              const char *rel, uint64_t *lsn, int *unpublished, char *err,
                              size_t errsize)
{
    *unpublished = 0;
    const tw_published_table *tabs;
    int ntabs;
    const char *pub = tw_config_str(cfg, TW_CFG_SOURCE_PUBLICATION);
    if (tw_catalog_current_lsn(cat, lsn, err, errsize) != 0 ||
        tw_catalog_published(cat, pub, &tabs, &ntabs, err, errsize) != 0)
        return NULL;
    for (int i = 0; i < ntabs; i++) {
        if (strcmp(tabs[i].nspname, nsp) != 0 || strcmp(tabs[i].relname, rel) != 0)
            continue;
        const tw_column_catalog *cols;
        int ncols;
        if (tw_catalog_columns(cat, tabs[i].relid, &cols, &ncols, err, errsize) != 0)
            return NULL;
        const char *dh = tw_config_str(cfg, TW_CFG_DECIMAL_HANDLING);
        pgt_options o = {.decimal_handling = strcmp(dh, "double") == 0   ? PGT_DECIMAL_DOUBLE
                                             : strcmp(dh, "string") == 0 ? PGT_DECIMAL_STRING
                                                                         : PGT_DECIMAL_PRECISE};
        tw_relation r;
        if (tw_relation_build_from_catalog(
                &r, tabs[i].relid, nsp, rel, cols, ncols, tabs[i].attnames, tabs[i].nattnames,
                tw_config_str(cfg, TW_CFG_TOPIC_PREFIX), &o, err, errsize) != 0)
            return NULL;
        json_t *rec = tw_drift_record(&r);
        tw_relation_free(&r);
        return rec;
    }
    snprintf(err, errsize, "%s.%s is not in publication %s", nsp, rel, pub);
    *unpublished = 1;
    return NULL;
}

static int diff(const tw_config *cfg, tw_store *s, const char *nsp, const char *rel)
{
    char err[1024];
    tw_catalog *cat = tw_catalog_open(cfg, err, sizeof err);
    if (!cat) {
        tw_error("schemas", "%s", err);
        return 2;
    }
    uint64_t lsn;
    int unpublished;
    json_t *cur = current_record(cfg, cat, nsp, rel, &lsn, &unpublished, err, sizeof err);
    tw_store_table *t = tw_store_find(s, nsp, rel);
    if (!cur && (!t || !unpublished)) {
        tw_error("schemas", "%s", err);
        tw_catalog_close(cat);
        return 2;
    }
    avro_compat cls;
    json_t *ev = tw_drift_event(t ? t->doc : NULL, cur, nsp, rel, &cls);
    const char *ofp = t ? tw_store_str(t, "fingerprint") : NULL;
    const char *nfp = cur ? json_string_value(json_object_get(cur, "fingerprint")) : NULL;
    printf("table:    %s.%s\nstored:   %s\ncatalog:  %s\n", nsp, rel, ofp ? ofp : "(none)",
           nfp ? nfp : "(not published)");
    int same = ofp && nfp && strcmp(ofp, nfp) == 0;
    if (same) {
        printf("no changes\n");
    } else {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(ev, "changes"), i, c)
        {
            const char *col = json_string_value(json_object_get(c, "column"));
            const char *o = json_string_value(json_object_get(c, "old"));
            const char *n = json_string_value(json_object_get(c, "new"));
            printf("  %-26s %-24s %s -> %s\n", json_string_value(json_object_get(c, "change")),
                   col ? col : "", o ? o : "-", n ? n : "-");
        }
        const char *why = json_string_value(json_object_get(ev, "compatibility_reason"));
        printf("kind:          %s\ncompatibility: %s%s%s\n",
               json_string_value(json_object_get(ev, "kind")), avro_compat_name(cls),
               why ? "  " : "", why ? why : "");
    }
    json_decref(ev);
    json_decref(cur);
    tw_catalog_close(cat);
    return same ? 0 : 1;
}

/* ---- accept ---- */

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    tw_buf *b = arg;
    tw_buf_append(b, p, size * n);
    return size * n;
}

/* Asks the running agent. 0/1 = its verdict, -1 = no agent answered. */
static int accept_online(const tw_config *cfg, const char *table)
{
    const char *listen = tw_config_str(cfg, TW_CFG_HTTP_LISTEN);
    if (!listen || !listen[0])
        return -1;
    char host[300];
    snprintf(host, sizeof host, "%s", listen);
    char *colon = strrchr(host, ':');
    if (!colon)
        return -1;
    *colon = '\0';
    const char *port = colon + 1;
    if (strcmp(host, "0.0.0.0") == 0 || host[0] == '\0')
        snprintf(host, sizeof host, "127.0.0.1");
    CURL *c = curl_easy_init();
    if (!c)
        return -1;
    char *q = curl_easy_escape(c, table, 0);
    char url[1024];
    snprintf(url, sizeof url, "http://%s:%s/schemas/accept?table=%s", host, port, q ? q : "");
    curl_free(q);
    tw_buf body;
    tw_buf_init(&body, 65536);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 40000L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (rc == CURLE_COULDNT_CONNECT) {
        tw_buf_free(&body);
        return -1;
    }
    if (rc != CURLE_OK) {
        tw_error("schemas", "the agent at %s did not answer: %s", url, curl_easy_strerror(rc));
        tw_buf_free(&body);
        return 1;
    }
    tw_buf_putc(&body, '\0');
    fprintf(status == 200 ? stdout : stderr, "%s", body.data ? (const char *)body.data : "");
    tw_buf_free(&body);
    return status == 200 ? 0 : 1;
}

typedef struct {
    kafka_sink *sink;
    kafka_topic *topic;
    int failed;
    char errstr[256];
} writer_t;

static void on_delivery(void *app, uint64_t opaque, int ok, int too_large, const char *errstr)
{
    writer_t *w = app;
    (void)opaque;
    (void)too_large; /* errstr says so */
    if (!ok) {
        w->failed = 1;
        snprintf(w->errstr, sizeof w->errstr, "%s", errstr);
    }
}

static int put_kafka(void *arg, const char *key, const char *value, char *err, size_t errsize)
{
    writer_t *w = arg;
    kafka_headers h = {0};
    if (kafka_sink_produce(w->sink, w->topic, key, strlen(key), value, value ? strlen(value) : 0,
                           &h, 0, err, errsize) != KAFKA_SINK_OK)
        return -1;
    if (kafka_sink_flush(w->sink, 30000) != 0 || w->failed) {
        snprintf(err, errsize, "the broker did not acknowledge the record: %s",
                 w->failed ? w->errstr : "timed out");
        return -1;
    }
    return 0;
}

static int accept_offline(const tw_config *cfg, tw_store *s, const char *nsp, const char *rel)
{
    char err[1024];
    tw_store_table *t = tw_store_find(s, nsp, rel);
    json_t *rec = NULL;
    if (t && json_is_true(json_object_get(t->doc, "paused"))) {
        rec = json_deep_copy(t->doc);
        json_object_set_new(rec, "paused", json_false());
    } else {
        tw_catalog *cat = tw_catalog_open(cfg, err, sizeof err);
        if (!cat) {
            tw_error("schemas", "%s", err);
            return 1;
        }
        uint64_t lsn = 0;
        int unpublished;
        rec = current_record(cfg, cat, nsp, rel, &lsn, &unpublished, err, sizeof err);
        tw_catalog_close(cat);
        if (!rec) {
            tw_error("schemas", "%s", err);
            return 1;
        }
        const char *fp = json_string_value(json_object_get(rec, "fingerprint"));
        const char *old = t ? tw_store_str(t, "fingerprint") : NULL;
        if (old && strcmp(old, fp) == 0) {
            printf("nothing to accept: %s.%s is stored as it is now (fingerprint %s)\n", nsp, rel,
                   fp);
            json_decref(rec);
            return 1;
        }
        char lsns[32];
        snprintf(lsns, sizeof lsns, "%X/%X", (unsigned)(lsn >> 32), (unsigned)lsn);
        json_object_set_new(rec, "prev_fingerprint", old ? json_string(old) : json_null());
        json_object_set_new(rec, "since_lsn", json_string(lsns));
        json_object_set_new(rec, "since_ms", json_integer((json_int_t)time(NULL) * 1000));
        json_object_set_new(rec, "detected_by", json_string("accept"));
        json_object_set_new(rec, "paused", json_false());
    }
    json_object_set(rec, "accepted_fingerprint", json_object_get(rec, "fingerprint"));
    json_object_set_new(rec, "accepted_ms", json_integer((json_int_t)time(NULL) * 1000));
    char fp[65];
    snprintf(fp, sizeof fp, "%s", json_string_value(json_object_get(rec, "fingerprint")));
    writer_t w = {0};
    if (strcmp(tw_config_str(cfg, TW_CFG_SCHEMA_STORE), "kafka") == 0) {
        w.sink = kafka_sink_new(cfg, "tidewater-schemas", on_delivery, &w, err, sizeof err);
        char topic[300];
        snprintf(topic, sizeof topic, "%s.schemas", tw_config_str(cfg, TW_CFG_TOPIC_PREFIX));
        if (w.sink)
            w.topic = kafka_sink_topic(w.sink, topic, 1, err, sizeof err);
        if (!w.topic) {
            tw_error("schemas", "%s", err);
            json_decref(rec);
            kafka_sink_destroy(w.sink);
            return 1;
        }
        tw_store_set_writer(s, put_kafka, &w);
    }
    int rc = tw_store_put(s, nsp, rel, rec, err, sizeof err);
    kafka_sink_destroy(w.sink);
    if (rc != 0) {
        tw_error("schemas", "cannot write the schema store: %s", err);
        return 1;
    }
    printf("accepted %s.%s fingerprint %s (no agent was running: written to %s)\n", nsp, rel, fp,
           tw_store_where(s));
    return 0;
}

int tw_schemas_cli(const tw_config *cfg, const char *sub, const char *table)
{
    char nsp[64] = "", rel[64] = "", err[1024];
    if (table && tw_store_split_table(table, nsp, rel) != 0) {
        tw_error("schemas", "'%s' is not schema.table (each part at most 63 bytes)", table);
        return 2;
    }
    if (strcmp(sub, "accept") == 0) {
        int online = accept_online(cfg, table);
        if (online >= 0)
            return online;
    }
    tw_store *s = tw_store_open(cfg, err, sizeof err);
    if (!s) {
        tw_error("schemas", "%s", err);
        return 2;
    }
    int rc;
    if (strcmp(sub, "list") == 0)
        rc = list(s);
    else if (strcmp(sub, "diff") == 0)
        rc = diff(cfg, s, nsp, rel);
    else
        rc = accept_offline(cfg, s, nsp, rel);
    tw_store_close(s);
    return rc;
}
