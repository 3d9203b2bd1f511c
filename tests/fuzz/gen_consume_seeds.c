/*
 * gen_consume_seeds — writes the seed corpus of fuzz_consume: keys and
 * values of shop.orders (tests/fuzz/consume_fixture.h) as the agent encodes
 * them, in both framings, and a schema-change event. Every seed is checked
 * to decode before it is written.
 *
 *   cmake --build build-fuzz --target gen_consume_seeds
 *   build-fuzz/tests/fuzz/gen_consume_seeds tests/fuzz/corpus/consume
 *
 * Run it again when the envelope or the fixture changes, and commit the
 * result as tests/fuzz/corpus/consume.
 */
#include "tests/fuzz/consume_fixture.h"

#include <stdlib.h>

static consume_fixture fx;
static const char *outdir;
static int failures;

static void write_seed(const char *name, const tw_buf *b)
{
    char err[1024] = "";
    json_t *j = avro_json_decode_message(b->data, b->len, fixture_lookup, &fx, err, sizeof err);
    if (!j) {
        fprintf(stderr, "seed %s does not decode: %s\n", name, err);
        failures++;
        return;
    }
    json_decref(j);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.bin", outdir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b->data, 1, b->len, f) != b->len || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        failures++;
    }
}

#define T(s)                                                                                       \
    {                                                                                              \
        PGO_VALUE_TEXT, (uint32_t)(sizeof s - 1), s                                                \
    }
#define N                                                                                          \
    {                                                                                              \
        PGO_VALUE_NULL, 0, NULL                                                                    \
    }
#define U                                                                                          \
    {                                                                                              \
        PGO_VALUE_UNCHANGED, 0, NULL                                                               \
    }

static const pgo_value row1[FIXTURE_NCOLS] = {
    T("42"),
    T("apple pie"),
    T("-1234.50"),
    T("3"),
    T("t"),
    T("0.25"),
    T("-1e+300"),
    T("\\x00ff10"),
    T("2024-02-29"),
    T("2024-02-29 13:45:30.123456+00"),
    T("1999-12-31 23:59:59"),
    T("24:00:00"),
    T("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    T("{\"a\": [1, null]}"),
    T("{1,NULL,-3}"),
    T("1 day 02:03:04"),
};
static const pgo_value row2[FIXTURE_NCOLS] = {
    T("-9223372036854775808"),
    T(""),
    N,
    T("-2147483648"),
    T("f"),
    T("NaN"),
    T("-Infinity"),
    T("\\x"),
    T("-infinity"),
    T("infinity"),
    T("0044-03-15 12:00:00 BC"),
    T("00:00:00"),
    N,
    U,
    T("{{1,2},{3,4}}"),
    N,
};

static void encode_rows(const char *frame)
{
    char err[512], name[64];
    tw_buf key, val;
    tw_buf_init(&key, 0);
    tw_buf_init(&val, 0);
    pgo_tuple t1 = {FIXTURE_NCOLS, row1}, t2 = {FIXTURE_NCOLS, row2};
    tw_source_info src = {"tidewater", "app", 1709214330123, 777, 0x16B3748, "false"};
    int nulled = 0;
    struct {
        const char *name;
        char op;
        const pgo_tuple *before, *after, *key;
    } cases[] = {
        {"insert", 'c', NULL, &t1, &t1},
        {"update-full", 'u', &t1, &t2, &t2},
        {"delete", 'd', &t2, NULL, &t2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (tw_relation_encode_key(&fx.rel, cases[i].key, NULL, &key, err, sizeof err) != 0 ||
            tw_relation_encode_envelope(&fx.rel, cases[i].op, cases[i].before, cases[i].after, NULL,
                                        &src, 1709214331000, &val, &nulled, err, sizeof err) != 0) {
            fprintf(stderr, "%s %s: %s\n", frame, cases[i].name, err);
            failures++;
            continue;
        }
        snprintf(name, sizeof name, "%s-%s-value", frame, cases[i].name);
        write_seed(name, &val);
        if (i == 0) {
            snprintf(name, sizeof name, "%s-%s-key", frame, cases[i].name);
            write_seed(name, &key);
        }
    }
    tw_buf_free(&key);
    tw_buf_free(&val);
}

static void encode_drift(void)
{
    json_t *rec = tw_drift_record(&fx.rel);
    avro_compat cls;
    json_t *ev = tw_drift_event(NULL, rec, "shop", "orders", &cls);
    json_object_set_new(ev, "db", json_string("app"));
    json_object_set_new(ev, "detected_by", json_string("stream"));
    json_object_set_new(ev, "lsn", json_string("0/16B3748"));
    json_object_set_new(ev, "commit_ts_ms", json_integer(1709214330123));
    json_object_set_new(ev, "action", json_string("continue"));
    json_object_set_new(ev, "ts_ms", json_integer(1709214331000));
    tw_buf key, val;
    tw_buf_init(&key, 0);
    tw_buf_init(&val, 0);
    if (tw_drift_encode(ev, tw_drift_key_fp(), tw_drift_event_fp(), 3, 4, &key, &val) != 0) {
        fprintf(stderr, "drift event does not encode\n");
        failures++;
    } else {
        write_seed("confluent-drift-added-key", &key);
        write_seed("confluent-drift-added-value", &val);
    }
    tw_buf_free(&key);
    tw_buf_free(&val);
    json_decref(ev);
    json_decref(rec);
}

int main(int argc, char **argv)
{
    char err[512];
    if (argc != 2) {
        fprintf(stderr, "usage: gen_consume_seeds OUTDIR\n");
        return 2;
    }
    outdir = argv[1];
    if (fixture_init(&fx, err, sizeof err) != 0) {
        fprintf(stderr, "fixture: %s\n", err);
        return 1;
    }
    encode_rows("single");
    fx.rel.key_registry_id = 1;
    fx.rel.value_registry_id = 2;
    encode_rows("confluent");
    encode_drift();
    fixture_free(&fx);
    return failures ? 1 : 0;
}
