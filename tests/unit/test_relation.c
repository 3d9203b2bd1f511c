/* A relation's schemas parse with avro-c, and an encoded envelope decodes
 * back with avro-c's generic reader to the values that went in. */
#include "schemas/relation.h"
#include "tw_test.h"

#include "schemas/avro_pcf.h"

#include <avro.h>
#include <stdlib.h>

static pgo_column columns[] = {
    {PGO_COLUMN_KEY, "id", 20, -1},           /* int8 primary key */
    {0, "name", 25, -1},                      /* text not null: TOASTable */
    {0, "total", 1700, ((12 << 16) | 2) + 4}, /* numeric(12,2) */
    {0, "odd-name", 23, -1},                  /* int4, needs sanitising */
};

/* name, oid, notnull, primary key, typlen, format_type, typmod, attnum, type name,
 * replica identity key, relreplident */
#define CAT(n, typ, nn, pk, len, fmt, tm, num, tname, ident, ri)                                   \
    {                                                                                              \
        n, typ, nn, pk, len, fmt, {.oid = typ, .typmod = tm}, num, tm, tname, 0, NULL, ident, ri   \
    }

static tw_column_catalog catalog[] = {
    CAT("id", 20, 1, 1, 8, "bigint", -1, 1, "bigint", 1, 'd'),
    CAT("name", 25, 1, 0, -1, "text", -1, 2, "text", 0, 'd'),
    CAT("total", 1700, 0, 0, -1, "numeric(12,2)", ((12 << 16) | 2) + 4, 3, "numeric", 0, 'd'),
    CAT("odd-name", 23, 0, 0, 4, "integer", -1, 4, "integer", 0, 'd'),
};

static pgo_msg relation_msg(void)
{
    pgo_msg m = {.type = PGO_RELATION};
    m.u.relation.relid = 16400;
    m.u.relation.nspname = "shop";
    m.u.relation.relname = "line items";
    m.u.relation.replident = 'd';
    m.u.relation.ncols = 4;
    m.u.relation.columns = columns;
    return m;
}

/* memmem is a GNU extension; strict C11 here. */
static int contains(const tw_buf *b, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= b->len; i++)
        if (memcmp(b->data + i, needle, n) == 0)
            return 1;
    return 0;
}

static avro_value_t read_back(const char *schema_json, size_t schema_len, const tw_buf *b,
                              avro_value_iface_t **iface_out, avro_schema_t *schema_out)
{
    avro_schema_t schema = NULL;
    avro_value_t v = {0};
    EXPECT(avro_schema_from_json_length(schema_json, schema_len, &schema) == 0,
           "avro-c rejects the schema: %s\n%.*s", avro_strerror(), (int)schema_len, schema_json);
    if (!schema)
        return v;
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_generic_value_new(iface, &v);
    avro_reader_t rd = avro_reader_memory((const char *)b->data + AVRO_SINGLE_OBJECT_HEADER_LEN,
                                          (int64_t)(b->len - AVRO_SINGLE_OBJECT_HEADER_LEN));
    EXPECT(avro_value_read(rd, &v) == 0, "avro-c cannot read the datum: %s", avro_strerror());
    avro_reader_free(rd);
    *iface_out = iface;
    *schema_out = schema;
    return v;
}

static void test_schemas_and_roundtrip(void)
{
    char err[512];
    pgo_msg m = relation_msg();
    tw_relation r;
    EXPECT(tw_relation_build(&r, &m, catalog, 4, "tidewater", NULL, err, sizeof err) == 0,
           "build: %s", err);
    EXPECT_STR(r.topic, "tidewater.shop.line_items");
    EXPECT_STR(r.avro_ns, "tidewater.shop.line_items");
    EXPECT(r.nkey == 1, "nkey %d", r.nkey);
    EXPECT(!r.cols[0].nullable, "id must not be nullable");
    EXPECT(r.cols[1].nullable, "a TOASTable NOT NULL column is nullable (unsent TOAST values)");
    EXPECT_STR(r.cols[3].avro_name, "odd_name");
    tw_buf_putc(&r.value_schema, '\0');
    EXPECT_CONTAINS((const char *)r.value_schema.data,
                    "{\"name\":\"odd_name\",\"type\":[\"null\",\"int\"],\"default\":null,"
                    "\"pg.type\":\"integer\",\"pg.column\":\"odd-name\"}");
    EXPECT_CONTAINS((const char *)r.value_schema.data, "\"logicalType\":\"decimal\"");
    r.value_schema.len--; /* drop the terminator again */

    /* An update whose name is an unsent TOAST value and whose total is NaN. */
    pgo_value vals[4] = {
        {PGO_VALUE_TEXT, 2, "42"},
        {PGO_VALUE_UNCHANGED, 0, NULL},
        {PGO_VALUE_TEXT, 3, "NaN"},
        {PGO_VALUE_TEXT, 2, "-7"},
    };
    pgo_tuple after = {4, vals};
    tw_source_info src = {"tidewater", "twdb", 1700000000123, 777, 0x1234, "false"};
    tw_buf key, val;
    tw_buf_init(&key, 0);
    tw_buf_init(&val, 0);
    int nulled = 0;
    EXPECT(tw_relation_encode_key(&r, &after, NULL, &key, err, sizeof err) == 0, "key: %s", err);
    EXPECT(tw_relation_encode_envelope(&r, 'u', NULL, &after, NULL, &src, 1700000000999, &val,
                                       &nulled, err, sizeof err) == 0,
           "envelope: %s", err);
    EXPECT(nulled == 1, "NaN in a decimal column should be nulled once, got %d", nulled);
    EXPECT(key.data[0] == 0xC3 && key.data[1] == 0x01, "single-object marker missing");
    uint64_t fp = 0;
    for (int i = 9; i >= 2; i--)
        fp = (fp << 8) | val.data[i];
    EXPECT(fp == r.value_fp, "header fingerprint %llx, want %llx", (unsigned long long)fp,
           (unsigned long long)r.value_fp);

    avro_value_iface_t *iface = NULL;
    avro_schema_t schema = NULL;
    avro_value_t v =
        read_back((const char *)r.value_schema.data, r.value_schema.len, &val, &iface, &schema);
    if (iface) {
        avro_value_t f, branch, col;
        int disc;
        avro_value_get_by_name(&v, "before", &f, NULL);
        avro_value_get_discriminant(&f, &disc);
        EXPECT(disc == 0, "before should be null");
        avro_value_get_by_name(&v, "after", &f, NULL);
        avro_value_get_current_branch(&f, &branch);
        avro_value_get_by_name(&branch, "id", &col, NULL);
        int64_t id = 0;
        avro_value_get_long(&col, &id);
        EXPECT(id == 42, "id %lld", (long long)id);
        avro_value_get_by_name(&branch, "name", &col, NULL);
        avro_value_get_discriminant(&col, &disc);
        EXPECT(disc == 0, "unsent TOAST value must be null, not made up");
        avro_value_get_by_name(&branch, "odd_name", &col, NULL);
        avro_value_get_current_branch(&col, &col);
        int32_t odd = 0;
        avro_value_get_int(&col, &odd);
        EXPECT(odd == -7, "odd_name %d", odd);
        const char *s;
        size_t sz;
        avro_value_get_by_name(&v, "op", &f, NULL);
        avro_value_get_string(&f, &s, &sz);
        EXPECT_STR(s, "u");
        avro_value_get_by_name(&v, "source", &f, NULL);
        avro_value_get_by_name(&f, "table", &col, NULL);
        avro_value_get_string(&col, &s, &sz);
        EXPECT_STR(s, "line items");
        avro_value_get_by_name(&f, "txId", &col, NULL);
        avro_value_get_long(&col, &id);
        EXPECT(id == 777, "txId %lld", (long long)id);
        avro_value_get_by_name(&v, "unchanged", &f, NULL);
        size_t n = 0;
        avro_value_get_size(&f, &n);
        EXPECT(n == 1, "unchanged has %zu entries, want 1", n);
        if (n == 1) {
            avro_value_get_by_index(&f, 0, &col, NULL);
            avro_value_get_string(&col, &s, &sz);
            EXPECT_STR(s, "name");
        }
        avro_value_decref(&v);
        avro_value_iface_decref(iface);
        avro_schema_decref(schema);
    }

    /* The key schema parses and the key decodes. */
    v = read_back((const char *)r.key_schema.data, r.key_schema.len, &key, &iface, &schema);
    if (iface) {
        avro_value_t col;
        int64_t id = 0;
        avro_value_get_by_name(&v, "id", &col, NULL);
        avro_value_get_long(&col, &id);
        EXPECT(id == 42, "key id %lld", (long long)id);
        avro_value_decref(&v);
        avro_value_iface_decref(iface);
        avro_schema_decref(schema);
    }

    /* With the full old row, the unsent value is taken from it. */
    pgo_value oldv[4] = {
        {PGO_VALUE_TEXT, 2, "42"},
        {PGO_VALUE_TEXT, 5, "Alice"},
        {PGO_VALUE_NULL, 0, NULL},
        {PGO_VALUE_NULL, 0, NULL},
    };
    pgo_tuple old = {4, oldv};
    EXPECT(tw_relation_encode_envelope(&r, 'u', &old, &after, &old, &src, 1, &val, &nulled, err,
                                       sizeof err) == 0,
           "envelope with old row: %s", err);
    EXPECT(contains(&val, "Alice"), "old value not carried into after");

    /* An unsent (out-of-line, unchanged) key value comes from the old key tuple. */
    pgo_value newk[4] = {{PGO_VALUE_UNCHANGED, 0, NULL}, {PGO_VALUE_TEXT, 1, "x"}};
    pgo_value oldk[4] = {{PGO_VALUE_TEXT, 2, "42"}, {PGO_VALUE_NULL, 0, NULL}};
    pgo_tuple newt = {4, newk}, oldt = {4, oldk};
    EXPECT(tw_relation_encode_key(&r, &newt, NULL, &key, err, sizeof err) != 0,
           "an unsent key value without an old tuple was accepted");
    EXPECT(tw_relation_encode_key(&r, &newt, &oldt, &key, err, sizeof err) == 0,
           "key from the old tuple: %s", err);
    EXPECT(key.len == 11 && key.data[10] == 84, "key should encode 42 (zig-zag 84)");

    /* A NULL key column is an error naming it. */
    pgo_value badv[4] = {{PGO_VALUE_NULL, 0, NULL}};
    pgo_tuple bad = {4, badv};
    EXPECT(tw_relation_encode_key(&r, &bad, NULL, &key, err, sizeof err) != 0, "NULL key accepted");
    EXPECT_CONTAINS(err, "column id of shop.line items is NULL");

    tw_buf_free(&key);
    tw_buf_free(&val);
    tw_relation_free(&r);
}

static void test_same_schema_and_collisions(void)
{
    char err[512];
    pgo_msg m = relation_msg();
    tw_relation a, b;
    tw_relation_build(&a, &m, catalog, 4, "tidewater", NULL, err, sizeof err);
    tw_relation_build(&b, &m, catalog, 4, "tidewater", NULL, err, sizeof err);
    EXPECT(tw_relation_same_schema(&a, &b), "a resent Relation message changed the schema");
    tw_relation_free(&b);
    /* numeric(12,2) -> numeric(14,2): a different schema and fingerprint. */
    columns[2].typmod = ((14 << 16) | 2) + 4;
    tw_column_catalog cat2[4];
    memcpy(cat2, catalog, sizeof cat2);
    cat2[2].type.typmod = columns[2].typmod;
    tw_relation_build(&b, &m, cat2, 4, "tidewater", NULL, err, sizeof err);
    /* The full schemas differ; the CRC-64 of the Parsing Canonical Form does
     * not (it drops logical types), which is why drift detection compares
     * more than that fingerprint. */
    EXPECT(!tw_relation_same_schema(&a, &b),
           "numeric(12,2) -> numeric(14,2) not seen as a schema change");
    EXPECT(a.value_fp == b.value_fp, "canonical forms unexpectedly differ");
    columns[2].typmod = ((12 << 16) | 2) + 4;
    tw_relation_free(&a);
    tw_relation_free(&b);

    /* A prefix whose parts all need a '_' cannot overflow the namespace. */
    char long_prefix[234]; /* the topic name fits in 249, the namespace does not */
    for (size_t i = 0; i < sizeof long_prefix - 1; i++)
        long_prefix[i] = i % 2 ? '.' : '7';
    long_prefix[sizeof long_prefix - 1] = '\0';
    EXPECT(tw_relation_build(&a, &m, catalog, 4, long_prefix, NULL, err, sizeof err) != 0,
           "an oversized Avro namespace was accepted");
    EXPECT_CONTAINS(err, "use a shorter topic.prefix");

    pgo_column dup[2] = {{0, "a-b", 23, -1}, {0, "a_b", 23, -1}};
    m.u.relation.columns = dup;
    m.u.relation.ncols = 2;
    EXPECT(tw_relation_build(&a, &m, NULL, 0, "tidewater", NULL, err, sizeof err) != 0,
           "colliding Avro names accepted");
    EXPECT_CONTAINS(err, "both become Avro field a_b");
}

static void test_full_identity_keys_on_primary_key(void)
{
    char err[512];
    pgo_column cols[2] = {{PGO_COLUMN_KEY, "id", 23, -1}, {PGO_COLUMN_KEY, "v", 25, -1}};
    tw_column_catalog cat[2] = {
        CAT("id", 23, 1, 1, 4, "integer", -1, 1, "integer", 1, 'f'),
        CAT("v", 25, 0, 0, -1, "text", -1, 2, "text", 1, 'f'),
    };
    pgo_msg m = relation_msg();
    m.u.relation.replident = 'f';
    m.u.relation.columns = cols;
    m.u.relation.ncols = 2;
    tw_relation r;
    EXPECT(tw_relation_build(&r, &m, cat, 2, "p", NULL, err, sizeof err) == 0, "%s", err);
    EXPECT(r.nkey == 1 && r.cols[0].key && !r.cols[1].key,
           "FULL identity: key must be the primary key, got nkey=%d", r.nkey);
    tw_relation_free(&r);
    cat[0].primary_key = 0; /* FULL without a primary key: no key at all */
    EXPECT(tw_relation_build(&r, &m, cat, 2, "p", NULL, err, sizeof err) == 0, "%s", err);
    EXPECT(r.nkey == 0 && r.key_schema.len == 0, "FULL without a primary key: nkey=%d", r.nkey);
    tw_relation_free(&r);
}

static void test_catalog_of_another_type_is_ignored(void)
{
    char err[512];
    /* The message says int4 (as in the WAL); the catalog already says text
     * after an ALTER COLUMN TYPE: the message's type wins. */
    pgo_column cols[1] = {{PGO_COLUMN_KEY, "id", 23, -1}};
    tw_column_catalog cat[1] = {CAT("id", 25, 1, 1, -1, "text", -1, 1, "text", 1, 'd')};
    pgo_msg m = relation_msg();
    m.u.relation.columns = cols;
    m.u.relation.ncols = 1;
    tw_relation r;
    EXPECT(tw_relation_build(&r, &m, cat, 1, "p", NULL, err, sizeof err) == 0, "%s", err);
    EXPECT(r.cols[0].plan.kind == PGT_INT4, "planned as %d, not int4", (int)r.cols[0].plan.kind);
    tw_relation_free(&r);
}

/* The schema fingerprint: stable, versioned, and moved by each part of the
 * description (typmod, nullability, key) but not by a column default. */
static void test_fingerprint(void)
{
    char err[512];
    pgo_msg m = relation_msg();
    tw_relation a, b;
    EXPECT(tw_relation_build(&a, &m, catalog, 4, "tw", NULL, err, sizeof err) == 0, "%s", err);
    EXPECT(strlen(a.fingerprint) == 64, "fingerprint is 64 hex digits: %s", a.fingerprint);
    EXPECT(contains(&a.desc, TW_RELATION_DESC_VERSION "\n"), "description is versioned");
    EXPECT(contains(&a.desc, "column\ttotal\tnumeric\t786438\t0\n"), "column line: %.*s",
           (int)a.desc.len, (const char *)a.desc.data);
    EXPECT(contains(&a.desc, "key\tid\n"), "key line");
    EXPECT(tw_relation_build(&b, &m, catalog, 4, "tw", NULL, err, sizeof err) == 0, "%s", err);
    EXPECT_STR(b.fingerprint, a.fingerprint);
    tw_relation_free(&b);

    /* numeric(12,2) -> numeric(14,2): same Avro canonical form, other fingerprint */
    pgo_column cols[4];
    memcpy(cols, columns, sizeof cols);
    cols[2].typmod = ((14 << 16) | 2) + 4;
    tw_column_catalog cat[4];
    memcpy(cat, catalog, sizeof cat);
    cat[2].type.typmod = cols[2].typmod;
    cat[2].typmod = cols[2].typmod;
    m.u.relation.columns = cols;
    EXPECT(tw_relation_build(&b, &m, cat, 4, "tw", NULL, err, sizeof err) == 0, "%s", err);
    EXPECT(strcmp(b.fingerprint, a.fingerprint) != 0, "typmod change moves the fingerprint");
    EXPECT(b.value_fp == a.value_fp, "the Avro canonical form cannot see the typmod");
    tw_relation_free(&b);

    /* nullability */
    memcpy(cat, catalog, sizeof cat);
    cat[3].notnull = 1;
    m.u.relation.columns = columns;
    EXPECT(tw_relation_build(&b, &m, cat, 4, "tw", NULL, err, sizeof err) == 0, "%s", err);
    EXPECT(strcmp(b.fingerprint, a.fingerprint) != 0, "NOT NULL moves the fingerprint");
    tw_relation_free(&b);

    /* a constant default of a NOT NULL int column: an Avro default, same fingerprint */
    cat[3].default_expr = "42";
    EXPECT(tw_relation_build(&b, &m, cat, 4, "tw", NULL, err, sizeof err) == 0, "%s", err);
    EXPECT(contains(&b.value_schema, "\"type\":\"int\",\"default\":42"), "default 42: %.*s",
           (int)b.value_schema.len, (const char *)b.value_schema.data);
    tw_relation c;
    cat[3].default_expr = NULL;
    EXPECT(tw_relation_build(&c, &m, cat, 4, "tw", NULL, err, sizeof err) == 0, "%s", err);
    EXPECT_STR(b.fingerprint, c.fingerprint);
    tw_relation_free(&c);
    tw_relation_free(&b);
    const char *exprs[][2] = {{"(-7)", "-7"},
                              {"'-7'::integer", "-7"},
                              {"nextval('s'::regclass)", NULL},
                              {"(1 + 2)", NULL},
                              {"'1'::integer || 'x'::text", NULL}};
    for (size_t i = 0; i < sizeof exprs / sizeof exprs[0]; i++) {
        cat[3].default_expr = exprs[i][0];
        EXPECT(tw_relation_build(&b, &m, cat, 4, "tw", NULL, err, sizeof err) == 0, "%s", err);
        char want[64];
        snprintf(want, sizeof want, "\"default\":%s", exprs[i][1] ? exprs[i][1] : "");
        EXPECT(exprs[i][1] ? contains(&b.value_schema, want)
                           : !contains(&b.value_schema, "\"type\":\"int\",\"default\""),
               "default of %s", exprs[i][0]);
        tw_relation_free(&b);
    }
    tw_relation_free(&a);
}

/* A relation built from the catalog alone equals the one the stream gives;
 * and our canonical form is the specification's (avro_pcf on the JSON). */
static void test_catalog_build_and_pcf(void)
{
    char err[512];
    pgo_msg m = relation_msg();
    tw_relation a, b;
    EXPECT(tw_relation_build(&a, &m, catalog, 4, "tw", NULL, err, sizeof err) == 0, "%s", err);
    EXPECT(tw_relation_build_from_catalog(&b, 16400, "shop", "line items", catalog, 4, NULL, 0,
                                          "tw", NULL, err, sizeof err) == 0,
           "%s", err);
    EXPECT_STR(b.fingerprint, a.fingerprint);
    EXPECT(tw_relation_same_schema(&a, &b), "same schemas from catalog and stream");
    tw_relation_free(&b);
    const char *only[2] = {"odd-name", "id"};
    EXPECT(tw_relation_build_from_catalog(&b, 16400, "shop", "line items", catalog, 4, only, 2,
                                          "tw", NULL, err, sizeof err) == 0,
           "%s", err);
    EXPECT(b.ncols == 2 && strcmp(b.cols[0].name, "id") == 0, "column list keeps attnum order");
    tw_relation_free(&b);

    uint64_t fp = 0;
    EXPECT(avro_pcf_fingerprint((const char *)a.value_schema.data, a.value_schema.len, &fp, err,
                                sizeof err) == 0,
           "%s", err);
    EXPECT(fp == a.value_fp, "value: avro_pcf %016llx, relation %016llx", (unsigned long long)fp,
           (unsigned long long)a.value_fp);
    EXPECT(avro_pcf_fingerprint((const char *)a.key_schema.data, a.key_schema.len, &fp, err,
                                sizeof err) == 0,
           "%s", err);
    EXPECT(fp == a.key_fp, "key fingerprint");
    EXPECT(avro_pcf_fingerprint("{\"type\":\"null\"}", 15, &fp, err, sizeof err) == 0 &&
               fp == 7195948357588979594ULL,
           "\"null\" -> 7195948357588979594 (Avro's test vector)");
    tw_relation_free(&a);
}

int main(void)
{
    test_fingerprint();
    test_catalog_build_and_pcf();
    test_schemas_and_roundtrip();
    test_same_schema_and_collisions();
    test_full_identity_keys_on_primary_key();
    test_catalog_of_another_type_is_ignored();
    return tw_test_exit("test_relation");
}
