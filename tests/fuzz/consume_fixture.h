/*
 * consume_fixture.h — the schemas fuzz_consume decodes against, and the
 * rows gen_consume_seeds encodes with them: what `tidewater consume` would
 * find in a topic's schemas topic (or registry) for one wide table and for
 * schema-change events.
 *
 * The table shop.orders is built by schemas/relation.c from a Relation
 * message alone (no catalog), with one column of every kind of Avro type
 * Tidewater writes: long key, string, decimal bytes, int, boolean, float,
 * double, bytes, date, timestamp-micros, local-timestamp-micros,
 * time-micros, uuid, json string, array of nullable int, and a type sent
 * as text. Its schemas are known by fingerprint (single-object encoding)
 * and by registry ids 1 (key) and 2 (value); the drift event's key and
 * value schemas by their fingerprints and ids 3 and 4.
 *
 * Ownership: fixture_init() fills a caller-owned struct; fixture_free()
 * releases what it holds.
 */
#ifndef TW_CONSUME_FIXTURE_H
#define TW_CONSUME_FIXTURE_H

#include "agent/drift.h"
#include "schemas/avro_json.h"
#include "schemas/relation.h"

#include <stdio.h>
#include <string.h>

#define FIXTURE_NCOLS 16

typedef struct {
    tw_relation rel;
    struct {
        avro_json_schema *schema;
        uint64_t fp;
        int32_t registry_id;
    } known[4];
    int nknown;
} consume_fixture;

static const pgo_column fixture_columns[FIXTURE_NCOLS] = {
    {PGO_COLUMN_KEY, "id", 20, -1},           /* int8 */
    {0, "name", 25, -1},                      /* text */
    {0, "total", 1700, ((12 << 16) | 2) + 4}, /* numeric(12,2) */
    {0, "qty", 23, -1},                       /* int4 */
    {0, "paid", 16, -1},                      /* bool */
    {0, "ratio", 700, -1},                    /* float4 */
    {0, "weight", 701, -1},                   /* float8 */
    {0, "raw", 17, -1},                       /* bytea */
    {0, "born", 1082, -1},                    /* date */
    {0, "at", 1184, -1},                      /* timestamptz */
    {0, "local at", 1114, -1},                /* timestamp */
    {0, "t", 1083, -1},                       /* time */
    {0, "uid", 2950, -1},                     /* uuid */
    {0, "doc", 3802, -1},                     /* jsonb */
    {0, "tags", 1007, -1},                    /* int4[] */
    {0, "span", 1186, -1},                    /* interval: text form */
};

static int fixture_add(consume_fixture *fx, const char *json, size_t len, uint64_t fp,
                       int32_t registry_id, char *err, size_t errsize)
{
    avro_json_schema *s = avro_json_schema_parse(json, len, err, errsize);
    if (!s)
        return -1;
    fx->known[fx->nknown].schema = s;
    fx->known[fx->nknown].fp = fp;
    fx->known[fx->nknown++].registry_id = registry_id;
    return 0;
}

static void fixture_free(consume_fixture *fx)
{
    for (int i = 0; i < fx->nknown; i++)
        avro_json_schema_free(fx->known[i].schema);
    fx->nknown = 0;
    tw_relation_free(&fx->rel);
}

static int fixture_init(consume_fixture *fx, char *err, size_t errsize)
{
    memset(fx, 0, sizeof *fx);
    pgo_msg m = {.type = PGO_RELATION};
    m.u.relation.relid = 16400;
    m.u.relation.nspname = "shop";
    m.u.relation.relname = "orders";
    m.u.relation.replident = 'd';
    m.u.relation.ncols = FIXTURE_NCOLS;
    m.u.relation.columns = fixture_columns;
    if (tw_relation_build(&fx->rel, &m, NULL, 0, "tidewater", NULL, err, errsize) != 0)
        return -1;
    if (fixture_add(fx, (const char *)fx->rel.key_schema.data, fx->rel.key_schema.len,
                    fx->rel.key_fp, 1, err, errsize) != 0 ||
        fixture_add(fx, (const char *)fx->rel.value_schema.data, fx->rel.value_schema.len,
                    fx->rel.value_fp, 2, err, errsize) != 0 ||
        fixture_add(fx, tw_drift_key_schema, strlen(tw_drift_key_schema), tw_drift_key_fp(), 3, err,
                    errsize) != 0 ||
        fixture_add(fx, tw_drift_event_schema, strlen(tw_drift_event_schema), tw_drift_event_fp(),
                    4, err, errsize) != 0) {
        fixture_free(fx);
        return -1;
    }
    return 0;
}

/* avro_json_lookup over the fixture (ctx): as consume's store, an unknown
 * fingerprint or id is an error. */
static const avro_json_schema *fixture_lookup(void *ctx, avro_frame_kind kind, uint64_t id,
                                              char *err, size_t errsize)
{
    const consume_fixture *fx = ctx;
    for (int i = 0; i < fx->nknown; i++)
        if (kind == AVRO_FRAME_CONFLUENT ? (uint64_t)fx->known[i].registry_id == id
                                         : fx->known[i].fp == id)
            return fx->known[i].schema;
    snprintf(err, errsize, "no schema under %s %llu",
             kind == AVRO_FRAME_CONFLUENT ? "registry id" : "fingerprint", (unsigned long long)id);
    return NULL;
}

#endif
