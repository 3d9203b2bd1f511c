#include "agent/drift.h"

#include "schemas/avro_pcf.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

const char tw_drift_key_schema[] =
    "{\"type\":\"record\",\"name\":\"SchemaChangeKey\",\"namespace\":\"io.tidewater\","
    "\"fields\":[{\"name\":\"schema\",\"type\":\"string\"},{\"name\":\"table\",\"type\":"
    "\"string\"}]}";

#define OPT_STRING "[\"null\",\"string\"],\"default\":null"
const char tw_drift_event_schema[] =
    "{\"type\":\"record\",\"name\":\"SchemaChange\",\"namespace\":\"io.tidewater\","
    "\"doc\":\"A table's schema changed (Tidewater schema-change event, version 1)\","
    "\"fields\":["
    "{\"name\":\"event_version\",\"type\":\"int\"},"
    "{\"name\":\"kind\",\"type\":\"string\"},"
    "{\"name\":\"db\",\"type\":\"string\"},"
    "{\"name\":\"schema\",\"type\":\"string\"},"
    "{\"name\":\"table\",\"type\":\"string\"},"
    "{\"name\":\"old_fingerprint\",\"type\":" OPT_STRING "},"
    "{\"name\":\"new_fingerprint\",\"type\":" OPT_STRING "},"
    "{\"name\":\"old_avro_schema\",\"type\":" OPT_STRING "},"
    "{\"name\":\"new_avro_schema\",\"type\":" OPT_STRING "},"
    "{\"name\":\"old_key_schema\",\"type\":" OPT_STRING "},"
    "{\"name\":\"new_key_schema\",\"type\":" OPT_STRING "},"
    "{\"name\":\"changes\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\"record\","
    "\"name\":\"ColumnChange\",\"fields\":["
    "{\"name\":\"column\",\"type\":" OPT_STRING "},"
    "{\"name\":\"change\",\"type\":\"string\"},"
    "{\"name\":\"old\",\"type\":" OPT_STRING "},"
    "{\"name\":\"new\",\"type\":" OPT_STRING "}]}}},"
    "{\"name\":\"compatibility\",\"type\":\"string\"},"
    "{\"name\":\"compatibility_reason\",\"type\":" OPT_STRING "},"
    "{\"name\":\"detected_by\",\"type\":\"string\"},"
    "{\"name\":\"lsn\",\"type\":" OPT_STRING "},"
    "{\"name\":\"commit_ts_ms\",\"type\":[\"null\",{\"type\":\"long\",\"logicalType\":"
    "\"timestamp-millis\"}],\"default\":null},"
    "{\"name\":\"action\",\"type\":\"string\"},"
    "{\"name\":\"ts_ms\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}}"
    "]}";

static uint64_t event_fp, key_fp;
static pthread_once_t fp_once = PTHREAD_ONCE_INIT;

static void compute_fps(void)
{
    char err[256];
    if (avro_pcf_fingerprint(tw_drift_event_schema, strlen(tw_drift_event_schema), &event_fp, err,
                             sizeof err) != 0 ||
        avro_pcf_fingerprint(tw_drift_key_schema, strlen(tw_drift_key_schema), &key_fp, err,
                             sizeof err) != 0) {
        event_fp = key_fp = 0;
    }
}

uint64_t tw_drift_event_fp(void)
{
    pthread_once(&fp_once, compute_fps);
    return event_fp;
}

uint64_t tw_drift_key_fp(void)
{
    pthread_once(&fp_once, compute_fps);
    return key_fp;
}

json_t *tw_drift_record(const tw_relation *r)
{
    json_t *cols = json_array();
    for (int i = 0; i < r->ncols; i++) {
        const tw_column *c = &r->cols[i];
        json_array_append_new(cols, json_pack("{s:s,s:s,s:s,s:i,s:b,s:b,s:i}", "name", c->name,
                                              "type", c->type_name, "pg_type", c->pg_type, "typmod",
                                              (int)c->typmod, "notnull", c->notnull, "key", c->key,
                                              "attnum", c->attnum));
    }
    char vfp[17], kfp[17], rid[2] = {r->replident ? r->replident : 'd', '\0'};
    snprintf(vfp, sizeof vfp, "%016llx", (unsigned long long)r->value_fp);
    snprintf(kfp, sizeof kfp, "%016llx", (unsigned long long)r->key_fp);
    json_t *doc =
        json_pack("{s:i,s:s,s:s,s:s,s:s,s:o,s:s%,s:s}", "record_version", 1, "schema", r->nspname,
                  "table", r->relname, "fingerprint", r->fingerprint, "replica_identity", rid,
                  "columns", cols, "value_schema", (const char *)r->value_schema.data,
                  r->value_schema.len, "value_schema_fingerprint", vfp);
    if (doc && r->nkey > 0) {
        json_object_set_new(doc, "key_schema",
                            json_stringn((const char *)r->key_schema.data, r->key_schema.len));
        json_object_set_new(doc, "key_schema_fingerprint", json_string(kfp));
    }
    return doc;
}

static json_t *opt_str(const char *s)
{
    return s ? json_string(s) : json_null();
}

static const char *get_s(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void add_change(json_t *changes, const char *col, const char *what, const char *old,
                       const char *new_)
{
    json_array_append_new(changes, json_pack("{s:o,s:s,s:o,s:o}", "column", opt_str(col), "change",
                                             what, "old", opt_str(old), "new", opt_str(new_)));
}

static const json_t *find_col(const json_t *cols, const char *name)
{
    size_t i;
    json_t *c;
    json_array_foreach(cols, i, c) if (strcmp(get_s(c, "name"), name) == 0) return c;
    return NULL;
}

static const json_t *find_attnum(const json_t *cols, json_int_t attnum)
{
    size_t i;
    json_t *c;
    if (attnum <= 0)
        return NULL;
    json_array_foreach(cols, i,
                       c) if (json_integer_value(json_object_get(c, "attnum")) == attnum) return c;
    return NULL;
}

static int col_bool(const json_t *c, const char *k)
{
    return json_is_true(json_object_get(c, k));
}

static void diff_columns(const json_t *oc, const json_t *nc, json_t *changes)
{
    size_t i;
    json_t *c;
    json_array_foreach(oc, i, c)
    {
        const char *name = get_s(c, "name");
        const json_t *m = find_col(nc, name);
        if (!m) {
            /* Same attnum, a name the old shape did not have: a rename. */
            const json_t *r = find_attnum(nc, json_integer_value(json_object_get(c, "attnum")));
            if (r && !find_col(oc, get_s(r, "name")))
                add_change(changes, get_s(r, "name"), "renamed", name, get_s(r, "name"));
            else
                add_change(changes, name, "removed", get_s(c, "pg_type"), NULL);
            continue;
        }
        if (strcmp(get_s(c, "type"), get_s(m, "type")) != 0)
            add_change(changes, name, "type_changed", get_s(c, "pg_type"), get_s(m, "pg_type"));
        else if (json_integer_value(json_object_get(c, "typmod")) !=
                 json_integer_value(json_object_get(m, "typmod")))
            add_change(changes, name, "typmod_changed", get_s(c, "pg_type"), get_s(m, "pg_type"));
        if (col_bool(c, "notnull") != col_bool(m, "notnull"))
            add_change(changes, name, "nullability_changed",
                       col_bool(c, "notnull") ? "NOT NULL" : "NULL",
                       col_bool(m, "notnull") ? "NOT NULL" : "NULL");
        if (col_bool(c, "key") != col_bool(m, "key"))
            add_change(changes, name, "key_changed", col_bool(c, "key") ? "key" : "not key",
                       col_bool(m, "key") ? "key" : "not key");
    }
    json_array_foreach(nc, i, c)
    {
        const char *name = get_s(c, "name");
        if (find_col(oc, name))
            continue;
        const json_t *r = find_attnum(oc, json_integer_value(json_object_get(c, "attnum")));
        if (r && !find_col(nc, get_s(r, "name")))
            continue; /* reported as renamed */
        add_change(changes, name, "added", NULL, get_s(c, "pg_type"));
        if (col_bool(c, "key"))
            add_change(changes, name, "key_changed", "not key", "key");
    }
}

/* The class both the value and the key schema keep. */
static avro_compat compare(const json_t *o, const json_t *n, char *why, size_t whysize)
{
    avro_compat vc = AVRO_COMPAT_NONE, kc = AVRO_COMPAT_FULL;
    char w1[512] = "", w2[512] = "";
    if (avro_compat_class(get_s(o, "value_schema"), get_s(n, "value_schema"), &vc, w1, sizeof w1) !=
        0)
        vc = AVRO_COMPAT_NONE;
    const char *ok = get_s(o, "key_schema"), *nk = get_s(n, "key_schema");
    if (ok && nk) {
        if (strcmp(ok, nk) != 0 && avro_compat_class(ok, nk, &kc, w2, sizeof w2) != 0)
            kc = AVRO_COMPAT_NONE;
    } else if (ok || nk) {
        kc = AVRO_COMPAT_NONE;
        snprintf(w2, sizeof w2, "the table %s its key", ok ? "lost" : "gained");
    }
    snprintf(why, whysize, "%s%s%s%s", w1, w1[0] && w2[0] ? "; " : "", w2[0] ? "key: " : "", w2);
    return (avro_compat)(vc & kc);
}

json_t *tw_drift_event(const json_t *old_rec, const json_t *new_rec, const char *nspname,
                       const char *relname, avro_compat *cls)
{
    json_t *changes = json_array();
    char why[1100] = "";
    const char *kind = "altered";
    if (!old_rec) {
        kind = "table_added";
        *cls = AVRO_COMPAT_FULL;
    } else if (!new_rec) {
        kind = "table_removed";
        *cls = AVRO_COMPAT_NONE;
        snprintf(why, sizeof why, "the table left the publication (or was dropped)");
    } else {
        const char *orid = get_s(old_rec, "replica_identity"),
                   *nrid = get_s(new_rec, "replica_identity");
        if (orid && nrid && strcmp(orid, nrid) != 0)
            add_change(changes, NULL, "replica_identity_changed", orid, nrid);
        diff_columns(json_object_get(old_rec, "columns"), json_object_get(new_rec, "columns"),
                     changes);
        *cls = compare(old_rec, new_rec, why, sizeof why);
    }
    return json_pack("{s:i,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:s,s:o}", "event_version", 1,
                     "kind", kind, "schema", nspname, "table", relname, "old_fingerprint",
                     opt_str(get_s(old_rec, "fingerprint")), "new_fingerprint",
                     opt_str(get_s(new_rec, "fingerprint")), "old_avro_schema",
                     opt_str(get_s(old_rec, "value_schema")), "new_avro_schema",
                     opt_str(get_s(new_rec, "value_schema")), "old_key_schema",
                     opt_str(get_s(old_rec, "key_schema")), "new_key_schema",
                     opt_str(get_s(new_rec, "key_schema")), "changes", changes, "compatibility",
                     avro_compat_name(*cls), "compatibility_reason",
                     why[0] ? json_string(why) : json_null());
}

size_t tw_drift_nchanges(const json_t *event)
{
    return json_array_size(json_object_get(event, "changes"));
}

void tw_drift_summary(const json_t *event, char *out, size_t outsize)
{
    size_t o = 0, i;
    json_t *c;
    out[0] = '\0';
    json_array_foreach(json_object_get(event, "changes"), i, c)
    {
        const char *col = get_s(c, "column"), *old = get_s(c, "old"), *new_ = get_s(c, "new");
        int w = snprintf(out + o, outsize - o, "%s%s %s%s%s%s%s", i ? "; " : "", get_s(c, "change"),
                         col ? col : "", old ? " " : "", old ? old : "", new_ ? " -> " : "",
                         new_ ? new_ : "");
        if (w < 0 || (size_t)w >= outsize - o)
            break;
        o += (size_t)w;
    }
}

static void put_s(tw_buf *b, const char *s)
{
    avro_bin_string(b, s ? s : "", s ? strlen(s) : 0);
}

static void put_opt(tw_buf *b, const json_t *v)
{
    const char *s = json_string_value(v);
    if (!s) {
        avro_bin_union_index(b, 0);
        return;
    }
    avro_bin_union_index(b, 1);
    put_s(b, s);
}

int tw_drift_encode(const json_t *e, uint64_t kfp, uint64_t vfp, int32_t kid, int32_t vid,
                    tw_buf *key, tw_buf *value)
{
    tw_buf_reset(key);
    avro_bin_frame_header(key, kfp, kid);
    put_s(key, get_s(e, "schema"));
    put_s(key, get_s(e, "table"));

    tw_buf_reset(value);
    avro_bin_frame_header(value, vfp, vid);
    avro_bin_int(value, (int32_t)json_integer_value(json_object_get(e, "event_version")));
    static const char *const head[] = {"kind", "db", "schema", "table"};
    for (size_t i = 0; i < 4; i++)
        put_s(value, get_s(e, head[i]));
    static const char *const opts[] = {"old_fingerprint", "new_fingerprint", "old_avro_schema",
                                       "new_avro_schema", "old_key_schema",  "new_key_schema"};
    for (size_t i = 0; i < 6; i++)
        put_opt(value, json_object_get(e, opts[i]));
    json_t *changes = json_object_get(e, "changes");
    if (json_array_size(changes)) {
        avro_bin_block_count(value, (int64_t)json_array_size(changes));
        size_t i;
        json_t *c;
        json_array_foreach(changes, i, c)
        {
            put_opt(value, json_object_get(c, "column"));
            put_s(value, get_s(c, "change"));
            put_opt(value, json_object_get(c, "old"));
            put_opt(value, json_object_get(c, "new"));
        }
    }
    avro_bin_array_end_marker(value);
    put_s(value, get_s(e, "compatibility"));
    put_opt(value, json_object_get(e, "compatibility_reason"));
    put_s(value, get_s(e, "detected_by"));
    put_opt(value, json_object_get(e, "lsn"));
    json_t *ct = json_object_get(e, "commit_ts_ms");
    if (json_is_integer(ct)) {
        avro_bin_union_index(value, 1);
        avro_bin_long(value, (int64_t)json_integer_value(ct));
    } else {
        avro_bin_union_index(value, 0);
    }
    put_s(value, get_s(e, "action"));
    avro_bin_long(value, (int64_t)json_integer_value(json_object_get(e, "ts_ms")));
    return key->error || value->error ? -1 : 0;
}
