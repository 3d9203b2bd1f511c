/* Drift events from two shapes of a table: the column changes, the class,
 * the Avro encoding of the event read back with the event schema, and the
 * dir-backed schema store surviving a reopen. */
#include "agent/config.h"
#include "agent/drift.h"
#include "agent/schema_store.h"
#include "schemas/avro_json.h"
#include "schemas/avro_pcf.h"
#include "tw_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const char *name;
    uint32_t oid;
    int32_t typmod;
    int notnull, key;
    const char *tname, *fmt;
    int attnum;
} col;

static json_t *record(const col *cols, int n, char replident)
{
    pgo_column pc[8];
    tw_column_catalog cat[8];
    memset(cat, 0, sizeof cat);
    for (int i = 0; i < n; i++) {
        pc[i] = (pgo_column){cols[i].key ? PGO_COLUMN_KEY : 0, cols[i].name, cols[i].oid,
                             cols[i].typmod};
        cat[i].name = cols[i].name;
        cat[i].declared_oid = cols[i].oid;
        cat[i].notnull = cols[i].notnull;
        cat[i].primary_key = cols[i].key;
        cat[i].typlen = cols[i].oid == 1043 || cols[i].oid == 1700 ? -1 : 4;
        cat[i].format_type = cols[i].fmt;
        cat[i].type = (pgt_type_info){.oid = cols[i].oid, .typmod = cols[i].typmod};
        cat[i].attnum = cols[i].attnum;
        cat[i].typmod = cols[i].typmod;
        cat[i].type_name = cols[i].tname;
        cat[i].ident_key = cols[i].key;
        cat[i].replident = replident;
    }
    pgo_msg m = {.type = PGO_RELATION};
    m.u.relation.relid = 1;
    m.u.relation.nspname = "s";
    m.u.relation.relname = "t";
    m.u.relation.replident = replident;
    m.u.relation.ncols = (uint16_t)n;
    m.u.relation.columns = pc;
    tw_relation r;
    char err[512];
    EXPECT(tw_relation_build(&r, &m, cat, n, "tw", NULL, err, sizeof err) == 0, "%s", err);
    json_t *rec = tw_drift_record(&r);
    tw_relation_free(&r);
    return rec;
}

static const col ID = {"id", 23, -1, 1, 1, "integer", "integer", 1};

static void expect_event(const char *what, const col *a, int na, const col *b, int nb,
                         const char *change, const char *column, avro_compat want)
{
    json_t *o = record(a, na, 'd'), *n = record(b, nb, 'd');
    avro_compat cls;
    json_t *ev = tw_drift_event(o, n, "s", "t", &cls);
    EXPECT(cls == want, "%s: class %s, want %s (%s)", what, avro_compat_name(cls),
           avro_compat_name(want), json_string_value(json_object_get(ev, "compatibility_reason")));
    json_t *c0 = json_array_get(json_object_get(ev, "changes"), 0);
    EXPECT(tw_drift_nchanges(ev) == 1, "%s: %zu changes", what, tw_drift_nchanges(ev));
    EXPECT_STR(json_string_value(json_object_get(c0, "change")), change);
    EXPECT_STR(json_string_value(json_object_get(c0, "column")), column);
    json_decref(ev);
    json_decref(o);
    json_decref(n);
}

static void test_changes(void)
{
    col c_int = {"c", 23, -1, 1, 0, "integer", "integer", 2};
    col c_big = {"c", 20, -1, 1, 0, "bigint", "bigint", 2};
    col c_null = {"c", 23, -1, 0, 0, "integer", "integer", 2};
    col d_int = {"d", 23, -1, 1, 0, "integer", "integer", 2};
    col c_v10 = {"c", 1043, 14, 0, 0, "character varying", "character varying(10)", 2};
    col c_v20 = {"c", 1043, 24, 0, 0, "character varying", "character varying(20)", 2};
    col c_n10 = {"c", 1700, (10 << 16 | 2) + 4, 0, 0, "numeric", "numeric(10,2)", 2};
    col c_n12 = {"c", 1700, (12 << 16 | 2) + 4, 0, 0, "numeric", "numeric(12,2)", 2};
    col c_key = {"c", 23, -1, 1, 1, "integer", "integer", 2};
    col a1[] = {ID}, a2[] = {ID, c_null}, b1[] = {ID, c_int}, b2[] = {ID, c_big},
        b3[] = {ID, d_int}, b4[] = {ID, c_v10}, b5[] = {ID, c_v20}, b6[] = {ID, c_n10},
        b7[] = {ID, c_n12}, b8[] = {ID, c_key};
    expect_event("add nullable", a1, 1, a2, 2, "added", "c", AVRO_COMPAT_FULL);
    expect_event("add not null", a1, 1, b1, 2, "added", "c", AVRO_COMPAT_FORWARD);
    expect_event("drop not null", b1, 2, a1, 1, "removed", "c", AVRO_COMPAT_BACKWARD);
    expect_event("rename", b1, 2, b3, 2, "renamed", "d", AVRO_COMPAT_NONE);
    expect_event("int to bigint", b1, 2, b2, 2, "type_changed", "c", AVRO_COMPAT_BACKWARD);
    expect_event("bigint to int", b2, 2, b1, 2, "type_changed", "c", AVRO_COMPAT_FORWARD);
    expect_event("varchar", b4, 2, b5, 2, "typmod_changed", "c", AVRO_COMPAT_FULL);
    expect_event("numeric", b6, 2, b7, 2, "typmod_changed", "c", AVRO_COMPAT_BACKWARD);
    expect_event("set not null", a2, 2, b1, 2, "nullability_changed", "c", AVRO_COMPAT_FORWARD);
    expect_event("key", b1, 2, b8, 2, "key_changed", "c", AVRO_COMPAT_FORWARD);

    json_t *o = record(a1, 1, 'd');
    avro_compat cls;
    json_t *ev = tw_drift_event(NULL, o, "s", "t", &cls);
    EXPECT(cls == AVRO_COMPAT_FULL, "an added table is FULL");
    EXPECT_STR(json_string_value(json_object_get(ev, "kind")), "table_added");
    json_decref(ev);
    ev = tw_drift_event(o, NULL, "s", "t", &cls);
    EXPECT(cls == AVRO_COMPAT_NONE, "a removed table is NONE");
    EXPECT_STR(json_string_value(json_object_get(ev, "kind")), "table_removed");
    json_decref(ev);
    json_decref(o);
}

/* The event's Avro bytes decode with its published schema to its fields. */
static void test_encoding(void)
{
    col c_int = {"c", 23, -1, 1, 0, "integer", "integer", 2};
    col d_int = {"d", 23, -1, 1, 0, "integer", "integer", 2};
    col a[] = {ID, c_int}, b[] = {ID, d_int};
    json_t *o = record(a, 2, 'd'), *n = record(b, 2, 'd');
    avro_compat cls;
    json_t *ev = tw_drift_event(o, n, "s", "t", &cls);
    json_object_set_new(ev, "db", json_string("app"));
    json_object_set_new(ev, "detected_by", json_string("stream"));
    json_object_set_new(ev, "lsn", json_string("0/16B3748"));
    json_object_set_new(ev, "commit_ts_ms", json_integer(1700000000123));
    json_object_set_new(ev, "action", json_string("pause"));
    json_object_set_new(ev, "ts_ms", json_integer(1700000000456));
    tw_buf k, v;
    tw_buf_init(&k, 0);
    tw_buf_init(&v, 0);
    uint64_t efp = 0, kfp = 0;
    char err[512];
    EXPECT(avro_pcf_fingerprint(tw_drift_event_schema, strlen(tw_drift_event_schema), &efp, err,
                                sizeof err) == 0,
           "%s", err);
    EXPECT(avro_pcf_fingerprint(tw_drift_key_schema, strlen(tw_drift_key_schema), &kfp, err,
                                sizeof err) == 0,
           "%s", err);
    EXPECT(efp == tw_drift_event_fp() && kfp == tw_drift_key_fp(), "fingerprints");
    EXPECT(tw_drift_encode(ev, kfp, efp, -1, -1, &k, &v) == 0, "encode");
    EXPECT(k.len > 10 && k.data[0] == 0xC3 && k.data[1] == 0x01 && v.data[0] == 0xC3,
           "single-object framing without registry ids");
    {
        /* With registry ids: Confluent framing, the same datum after it. */
        tw_buf k2, v2;
        tw_buf_init(&k2, 0);
        tw_buf_init(&v2, 0);
        EXPECT(tw_drift_encode(ev, kfp, efp, 7, 0x01020304, &k2, &v2) == 0, "encode (registry)");
        static const uint8_t kh[5] = {0, 0, 0, 0, 7}, vh[5] = {0, 1, 2, 3, 4};
        EXPECT(k2.len == k.len - 5 && memcmp(k2.data, kh, 5) == 0 &&
                   memcmp(k2.data + 5, k.data + 10, k2.len - 5) == 0,
               "Confluent key frame");
        EXPECT(v2.len == v.len - 5 && memcmp(v2.data, vh, 5) == 0 &&
                   memcmp(v2.data + 5, v.data + 10, v2.len - 5) == 0,
               "Confluent value frame");
        tw_buf_free(&k2);
        tw_buf_free(&v2);
    }
    avro_json_schema *es = avro_json_schema_parse(tw_drift_event_schema,
                                                  strlen(tw_drift_event_schema), err, sizeof err);
    avro_json_schema *ks =
        avro_json_schema_parse(tw_drift_key_schema, strlen(tw_drift_key_schema), err, sizeof err);
    EXPECT(es && ks, "event schemas parse: %s", err);
    json_t *dv = es ? avro_json_decode(es, v.data + 10, v.len - 10, err, sizeof err) : NULL;
    json_t *dk = ks ? avro_json_decode(ks, k.data + 10, k.len - 10, err, sizeof err) : NULL;
    EXPECT(dv && dk, "decode: %s", err);
    if (dv && dk) {
        EXPECT_STR(json_string_value(json_object_get(dk, "table")), "t");
        static const char *const same[] = {
            "kind",          "db",          "schema", "table", "old_fingerprint", "new_avro_schema",
            "compatibility", "detected_by", "lsn",    "action"};
        for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
            EXPECT(json_equal(json_object_get(dv, same[i]), json_object_get(ev, same[i])),
                   "field %s", same[i]);
        json_t *c0 = json_array_get(json_object_get(dv, "changes"), 0);
        EXPECT_STR(json_string_value(json_object_get(c0, "change")), "renamed");
        EXPECT_STR(json_string_value(json_object_get(c0, "old")), "c");
        EXPECT(json_is_null(json_object_get(dv, "old_key_schema")) == 0,
               "key schema of a table with a primary key");
    }
    json_decref(dv);
    json_decref(dk);
    avro_json_schema_free(es);
    avro_json_schema_free(ks);
    tw_buf_free(&k);
    tw_buf_free(&v);
    json_decref(ev);
    json_decref(o);
    json_decref(n);
}

static void test_dir_store(void)
{
    char dir[] = "/tmp/tw-store-XXXXXX", err[1024];
    EXPECT(mkdtemp(dir) != NULL, "mkdtemp");
    tw_config *cfg = tw_config_new();
    char set1[64], set2[128];
    snprintf(set1, sizeof set1, "schema.store=dir");
    snprintf(set2, sizeof set2, "state.dir=%s", dir);
    static const tw_config_key nn[] = {TW_CFG_SOURCE_CONNINFO, TW_CFG_SOURCE_PUBLICATION,
                                       TW_CFG_KAFKA_BOOTSTRAP_SERVERS};
    EXPECT(tw_config_set(cfg, set1, "test", err, sizeof err) == 0 &&
               tw_config_set(cfg, set2, "test", err, sizeof err) == 0 &&
               tw_config_finish_except(cfg, nn, 3, err, sizeof err) == 0,
           "%s", err);
    tw_store *s = tw_store_open(cfg, err, sizeof err);
    EXPECT(s && tw_store_is_new(s), "a new store: %s", err);
    col a[] = {ID};
    EXPECT(tw_store_put(s, "s", "t \"q\"", record(a, 1, 'd'), err, sizeof err) == 0, "%s", err);
    EXPECT(tw_store_put(s, "s", "u", record(a, 1, 'd'), err, sizeof err) == 0, "%s", err);
    EXPECT(tw_store_mark_initialised(s, err, sizeof err) == 0, "%s", err);
    EXPECT(tw_store_delete(s, "s", "u", err, sizeof err) == 0, "%s", err);
    tw_store_close(s);
    s = tw_store_open(cfg, err, sizeof err);
    EXPECT(s && !tw_store_is_new(s) && tw_store_count(s) == 1, "reopened: %s", err);
    tw_store_table *t = s ? tw_store_find(s, "s", "t \"q\"") : NULL;
    EXPECT(t && strcmp(t->key, "table:\"s\".\"t \"\"q\"\"\"") == 0, "key layout %s",
           t ? t->key : "-");
    EXPECT(t && tw_store_str(t, "fingerprint") && strlen(tw_store_str(t, "fingerprint")) == 64,
           "fingerprint stored");
    tw_store_close(s);
    char path[256];
    snprintf(path, sizeof path, "%s/schema-store.json", dir);
    unlink(path);
    rmdir(dir);
    /* state.dir missing */
    tw_config_free(cfg);
    cfg = tw_config_new();
    EXPECT(tw_config_set(cfg, set1, "test", err, sizeof err) == 0 &&
               tw_config_finish_except(cfg, nn, 3, err, sizeof err) == 0,
           "%s", err);
    s = tw_store_open(cfg, err, sizeof err);
    EXPECT(!s && strstr(err, "state.dir"), "schema.store=dir without state.dir: %s", err);
    tw_config_free(cfg);
}

int main(void)
{
    test_changes();
    test_encoding();
    test_dir_store();
    return tw_test_exit("test_drift");
}
