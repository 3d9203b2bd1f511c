/* PostgreSQL -> Avro type mapping: the plan of every row of DESIGN.md's
 * table, the schema JSON and canonical form, and the conversion of every
 * type's text output (values taken from a real PostgreSQL 15 session with
 * Tidewater's session settings) into Avro binary, edge values and malformed
 * input included.
 *
 * With TW_AVRO_CROSSCHECK_DIR set, the cross-check cases are also written
 * there (schema, datum, expected value) for tests/unit/avro_crosscheck.py,
 * which decodes them with fastavro. */
#include "schemas/pgtypes.h"
#include "tw_test.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* ---- helpers ---- */

static const char *hex_of(const uint8_t *p, size_t n)
{
    static char out[8192];
    size_t k = 0;
    for (size_t i = 0; i < n && k + 3 < sizeof out; i++)
        k += (size_t)snprintf(out + k, sizeof out - k, "%02x", p[i]);
    out[k] = '\0';
    return out;
}

static pgt_plan plan_of(uint32_t oid, int32_t typmod)
{
    pgt_type_info t = {.oid = oid, .typmod = typmod};
    pgt_plan p;
    char err[256] = "";
    int rc = pgt_plan_for(&t, NULL, &p, err, sizeof err);
    EXPECT(rc == 0, "plan for oid %u: %s", (unsigned)oid, err);
    return p;
}

static pgt_plan plan_opts(uint32_t oid, int32_t typmod, pgt_decimal_handling dh)
{
    pgt_type_info t = {.oid = oid, .typmod = typmod};
    pgt_options o = {.decimal_handling = dh};
    pgt_plan p;
    char err[256] = "";
    int rc = pgt_plan_for(&t, &o, &p, err, sizeof err);
    EXPECT(rc == 0, "plan for oid %u: %s", (unsigned)oid, err);
    return p;
}

static int32_t numeric_typmod(int precision, int scale)
{
    return (int32_t)((((uint32_t)precision << 16) | ((uint32_t)scale & 0x7ff)) + 4);
}

/* "hex", "UNREPRESENTABLE: message" or "ERROR: message". */
static const char *enc(const pgt_plan *p, const char *text)
{
    static char out[8192];
    char err[512] = "";
    tw_buf b;
    tw_buf_init(&b, 0);
    int rc = pgt_encode_text(p, text, strlen(text), &b, err, sizeof err);
    if (rc == PGT_OK)
        snprintf(out, sizeof out, "%s", hex_of(b.data, b.len));
    else
        snprintf(out, sizeof out, "%s: %s", rc == PGT_UNREPRESENTABLE ? "UNREPRESENTABLE" : "ERROR",
                 err);
    EXPECT(rc != PGT_OK || b.error == 0, "buffer error %d", b.error);
    EXPECT(rc == PGT_OK || b.len == 0, "failed encoding left %zu bytes", b.len);
    tw_buf_free(&b);
    return out;
}

/* Encodes a value whose Avro form is one int or long and decodes it back. */
static int enc_long(const pgt_plan *p, const char *text, int64_t *v)
{
    char err[512] = "";
    tw_buf b;
    tw_buf_init(&b, 0);
    int rc = pgt_encode_text(p, text, strlen(text), &b, err, sizeof err);
    EXPECT(rc == PGT_OK, "'%s': %s", text, err);
    uint64_t u = 0;
    size_t i = 0;
    for (int shift = 0; rc == PGT_OK && i < b.len; shift += 7) {
        u |= (uint64_t)(b.data[i] & 0x7f) << shift;
        if (!(b.data[i++] & 0x80))
            break;
    }
    EXPECT(rc != PGT_OK || i == b.len, "'%s': %zu trailing bytes", text, b.len - i);
    *v = (int64_t)((u >> 1) ^ (0 - (u & 1)));
    tw_buf_free(&b);
    return rc;
}

#define EXPECT_LONG(plan, text, want)                                                              \
    do {                                                                                           \
        int64_t v_ = 0;                                                                            \
        if (enc_long(&(plan), (text), &v_) == PGT_OK)                                              \
            EXPECT(v_ == (int64_t)(want), "'%s': got %lld, want %lld", (text), (long long)v_,      \
                   (long long)(want));                                                             \
    } while (0)

/* The Avro bytes of a string, for building expected values. */
static void put_string(tw_buf *b, const char *s)
{
    avro_bin_string(b, s, strlen(s));
}

static const char *json_of(const pgt_plan *p, int canonical)
{
    static char out[512];
    tw_buf b;
    tw_buf_init(&b, 0);
    if (canonical)
        pgt_write_avro_canonical(p, &b);
    else
        pgt_write_avro_json(p, &b);
    snprintf(out, sizeof out, "%.*s", (int)b.len, (const char *)b.data);
    tw_buf_free(&b);
    return out;
}

/* ---- plans and schema JSON ---- */

static void test_builtin_plans(void)
{
    static const struct {
        uint32_t oid;
        int32_t typmod;
        const char *json, *canonical;
        int warn;
    } cases[] = {
        {16, -1, "\"boolean\"", "\"boolean\"", 0},
        {21, -1, "\"int\"", "\"int\"", 0},
        {23, -1, "\"int\"", "\"int\"", 0},
        {20, -1, "\"long\"", "\"long\"", 0},
        {26, -1, "\"long\"", "\"long\"", 0},
        {700, -1, "\"float\"", "\"float\"", 0},
        {701, -1, "\"double\"", "\"double\"", 0},
        {1700, -1, "\"string\"", "\"string\"", 0},
        {790, -1, "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":19,\"scale\":2}",
         "\"bytes\"", 0},
        {25, -1, "\"string\"", "\"string\"", 0},
        {1043, 104, "\"string\"", "\"string\"", 0},
        {1042, 14, "\"string\"", "\"string\"", 0},
        {19, -1, "\"string\"", "\"string\"", 0},
        {18, -1, "\"string\"", "\"string\"", 0},
        {142, -1, "\"string\"", "\"string\"", 0},
        {17, -1, "\"bytes\"", "\"bytes\"", 0},
        {2950, -1, "{\"type\":\"string\",\"logicalType\":\"uuid\"}", "\"string\"", 0},
        {114, -1, "{\"type\":\"string\",\"connect.name\":\"io.debezium.data.Json\"}", "\"string\"",
         0},
        {3802, -1, "{\"type\":\"string\",\"connect.name\":\"io.debezium.data.Json\"}", "\"string\"",
         0},
        {1082, -1, "{\"type\":\"int\",\"logicalType\":\"date\"}", "\"int\"", 0},
        {1083, -1, "{\"type\":\"long\",\"logicalType\":\"time-micros\"}", "\"long\"", 0},
        {1114, 6, "{\"type\":\"long\",\"logicalType\":\"local-timestamp-micros\"}", "\"long\"", 0},
        {1184, -1, "{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}", "\"long\"", 0},
        /* Text forms by design: no warning. */
        {1266, -1, "\"string\"", "\"string\"", 0}, /* timetz */
        {1186, -1, "\"string\"", "\"string\"", 0}, /* interval */
        {869, -1, "\"string\"", "\"string\"", 0},  /* inet */
        {650, -1, "\"string\"", "\"string\"", 0},  /* cidr */
        {829, -1, "\"string\"", "\"string\"", 0},  /* macaddr */
        {774, -1, "\"string\"", "\"string\"", 0},  /* macaddr8 */
        {1560, 5, "\"string\"", "\"string\"", 0},  /* bit */
        {1562, -1, "\"string\"", "\"string\"", 0}, /* varbit */
        {3614, -1, "\"string\"", "\"string\"", 0}, /* tsvector */
        {600, -1, "\"string\"", "\"string\"", 0},  /* point */
        {603, -1, "\"string\"", "\"string\"", 0},  /* box */
        {718, -1, "\"string\"", "\"string\"", 0},  /* circle */
        {3904, -1, "\"string\"", "\"string\"", 0}, /* int4range */
        {4536, -1, "\"string\"", "\"string\"", 0}, /* int8multirange */
        /* Builtins outside the mapping: text form with a warning. */
        {3220, -1, "\"string\"", "\"string\"", 1}, /* pg_lsn */
        {22, -1, "\"string\"", "\"string\"", 1},   /* int2vector: not an array */
        {12345, -1, "\"string\"", "\"string\"", 1},
        /* Arrays of builtins, from the array oid alone. */
        {1007, -1, "{\"type\":\"array\",\"items\":[\"null\",\"int\"]}",
         "{\"type\":\"array\",\"items\":[\"null\",\"int\"]}", 0},
        {1016, -1, "{\"type\":\"array\",\"items\":[\"null\",\"long\"]}",
         "{\"type\":\"array\",\"items\":[\"null\",\"long\"]}", 0},
        {1182, -1,
         "{\"type\":\"array\",\"items\":[\"null\",{\"type\":\"int\",\"logicalType\":\"date\"}]}",
         "{\"type\":\"array\",\"items\":[\"null\",\"int\"]}", 0},
        {1231, ((10 << 16) | 3) + 4,
         "{\"type\":\"array\",\"items\":[\"null\",{\"type\":\"bytes\",\"logicalType\":\"decimal\","
         "\"precision\":10,\"scale\":3}]}",
         "{\"type\":\"array\",\"items\":[\"null\",\"bytes\"]}", 0},
        {3807, -1,
         "{\"type\":\"array\",\"items\":[\"null\",{\"type\":\"string\",\"connect.name\":\"io."
         "debezium.data.Json\"}]}",
         "{\"type\":\"array\",\"items\":[\"null\",\"string\"]}", 0},
        {3221, -1, "{\"type\":\"array\",\"items\":[\"null\",\"string\"]}",
         "{\"type\":\"array\",\"items\":[\"null\",\"string\"]}", 1}, /* _pg_lsn */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pgt_plan p = plan_of(cases[i].oid, cases[i].typmod);
        const char *j = json_of(&p, 0);
        EXPECT(strcmp(j, cases[i].json) == 0, "oid %u json: got %s, want %s",
               (unsigned)cases[i].oid, j, cases[i].json);
        j = json_of(&p, 1);
        EXPECT(strcmp(j, cases[i].canonical) == 0, "oid %u canonical: got %s, want %s",
               (unsigned)cases[i].oid, j, cases[i].canonical);
        EXPECT(p.warn_unknown == cases[i].warn, "oid %u warn_unknown %d", (unsigned)cases[i].oid,
               p.warn_unknown);
    }

    pgt_plan p = plan_of(1020, -1);
    EXPECT(p.is_array && p.delim == ';', "box[] must use ';', got '%c'", p.delim);
    p = plan_of(1007, -1);
    EXPECT(p.is_array && p.delim == ',' && p.elem_oid == 23, "int4[] delim '%c' elem %u", p.delim,
           (unsigned)p.elem_oid);
    EXPECT_STR(p.type_name, "_int4");
    p = plan_of(12345, -1);
    EXPECT_STR(p.type_name, "type 12345");
    EXPECT_STR(pgt_builtin_name(1184), "timestamptz");
    EXPECT_STR(pgt_builtin_name(1185), "_timestamptz");
    EXPECT(pgt_builtin_name(99999) == NULL, "unknown oid must have no builtin name");
}

static void test_numeric_plans(void)
{
    pgt_plan p = plan_of(1700, numeric_typmod(12, 2));
    EXPECT_STR(json_of(&p, 0),
               "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":12,\"scale\":2}");
    EXPECT_STR(json_of(&p, 1), "\"bytes\"");
    /* numeric(1000,500): PostgreSQL's limit. */
    p = plan_of(1700, numeric_typmod(1000, 500));
    EXPECT(p.kind == PGT_NUMERIC_DECIMAL && p.precision == 1000 && p.scale == 500, "p %d s %d",
           (int)p.precision, (int)p.scale);
    /* Negative scale (PG 15+): integers of up to p - s digits. */
    p = plan_of(1700, numeric_typmod(5, -2));
    EXPECT(p.precision == 7 && p.scale == 0, "numeric(5,-2) -> decimal(%d,%d)", (int)p.precision,
           (int)p.scale);
    /* Scale above precision: fractions with at most s unscaled digits. */
    p = plan_of(1700, numeric_typmod(3, 5));
    EXPECT(p.precision == 5 && p.scale == 5, "numeric(3,5) -> decimal(%d,%d)", (int)p.precision,
           (int)p.scale);

    p = plan_opts(1700, numeric_typmod(12, 2), PGT_DECIMAL_DOUBLE);
    EXPECT_STR(json_of(&p, 0), "\"double\"");
    p = plan_opts(1700, -1, PGT_DECIMAL_DOUBLE);
    EXPECT_STR(json_of(&p, 0), "\"double\"");
    p = plan_opts(1700, numeric_typmod(12, 2), PGT_DECIMAL_STRING);
    EXPECT_STR(json_of(&p, 0), "\"string\"");
    p = plan_opts(790, -1, PGT_DECIMAL_DOUBLE);
    EXPECT_STR(json_of(&p, 0), "\"double\"");
    p = plan_opts(790, -1, PGT_DECIMAL_STRING);
    EXPECT_STR(json_of(&p, 0), "\"string\"");

    pgt_type_info t = {.oid = 1700, .typmod = numeric_typmod(1001, 0)};
    char err[256];
    EXPECT(pgt_plan_for(&t, NULL, &p, err, sizeof err) == -1, "precision 1001 accepted");
    EXPECT_CONTAINS(err, "numeric typmod");
    EXPECT_CONTAINS(err, "precision of 1 to 1000");
}

static void test_catalog_plans(void)
{
    char err[256];
    pgt_plan p;

    /* citext: an extension type, category 'S'. */
    pgt_type_info citext = {
        .oid = 16500, .typmod = -1, .typtype = 'b', .typcategory = 'S', .typname = "citext"};
    EXPECT(pgt_plan_for(&citext, NULL, &p, err, sizeof err) == 0, "%s", err);
    EXPECT(p.kind == PGT_STRING && !p.warn_unknown, "citext kind %d warn %d", p.kind,
           p.warn_unknown);
    EXPECT_STR(p.type_name, "citext");

    /* enum, composite, range: text form, no warning. */
    const char kinds[] = {'e', 'c', 'r', 'm'};
    for (size_t i = 0; i < sizeof kinds; i++) {
        pgt_type_info t = {.oid = 16600, .typmod = -1, .typtype = kinds[i], .typcategory = 'U'};
        EXPECT(pgt_plan_for(&t, NULL, &p, err, sizeof err) == 0, "%s", err);
        EXPECT(p.kind == PGT_STRING && !p.warn_unknown, "typtype %c: kind %d warn %d", kinds[i],
               p.kind, p.warn_unknown);
    }

    /* An extension base type Tidewater does not know (e.g. PostGIS). */
    pgt_type_info geom = {
        .oid = 17000, .typmod = -1, .typtype = 'b', .typcategory = 'U', .typname = "geometry"};
    EXPECT(pgt_plan_for(&geom, NULL, &p, err, sizeof err) == 0, "%s", err);
    EXPECT(p.kind == PGT_STRING && p.warn_unknown, "geometry: kind %d warn %d", p.kind,
           p.warn_unknown);

    /* Array of an enum, and of citext with a custom delimiter. */
    pgt_type_info enum_arr = {.oid = 16601,
                              .typmod = -1,
                              .typtype = 'b',
                              .typcategory = 'A',
                              .elem_oid = 16600,
                              .elem_typtype = 'e',
                              .elem_typcategory = 'E'};
    EXPECT(pgt_plan_for(&enum_arr, NULL, &p, err, sizeof err) == 0, "%s", err);
    EXPECT(p.is_array && p.kind == PGT_STRING && !p.warn_unknown && p.delim == ',',
           "enum[]: array %d kind %d warn %d", p.is_array, p.kind, p.warn_unknown);
    EXPECT_STR(p.elem_name, "type 16600");
    EXPECT_STR(json_of(&p, 0), "{\"type\":\"array\",\"items\":[\"null\",\"string\"]}");
    pgt_type_info odd = {.oid = 16501,
                         .typmod = -1,
                         .typcategory = 'A',
                         .elem_oid = 16500,
                         .elem_typtype = 'b',
                         .elem_typcategory = 'S',
                         .elem_typdelim = '|'};
    EXPECT(pgt_plan_for(&odd, NULL, &p, err, sizeof err) == 0, "%s", err);
    EXPECT(p.is_array && p.delim == '|', "custom delimiter '%c'", p.delim);
    /* Array of a domain over int4, resolved by the caller to int4. */
    pgt_type_info dom_arr = {.oid = 16700,
                             .typmod = -1,
                             .typcategory = 'A',
                             .elem_oid = 23,
                             .typname = "_posint",
                             .elem_typname = "posint"};
    EXPECT(pgt_plan_for(&dom_arr, NULL, &p, err, sizeof err) == 0, "%s", err);
    EXPECT(p.is_array && p.kind == PGT_INT4, "domain-int4[]: array %d kind %d", p.is_array, p.kind);
    EXPECT_CONTAINS(enc(&p, "{1,-}"),
                    "invalid posint value '-': expected an integer (element 2 of _posint '{1,-}')");

    /* Refused inputs. */
    pgt_type_info dom = {.oid = 16800, .typmod = -1, .typtype = 'd', .typname = "posint"};
    EXPECT(pgt_plan_for(&dom, NULL, &p, err, sizeof err) == -1, "unresolved domain accepted");
    EXPECT_CONTAINS(err, "type posint is a domain: resolve it to its base type");
    pgt_type_info dom_elem = {.oid = 16801,
                              .typmod = -1,
                              .typcategory = 'A',
                              .elem_oid = 16800,
                              .elem_typtype = 'd',
                              .typname = "_posint"};
    EXPECT(pgt_plan_for(&dom_elem, NULL, &p, err, sizeof err) == -1, "domain element accepted");
    EXPECT_CONTAINS(err, "the element type 16800 of _posint is a domain");
    pgt_type_info nested = {.oid = 16900, .typmod = -1, .typcategory = 'A', .elem_oid = 1007};
    EXPECT(pgt_plan_for(&nested, NULL, &p, err, sizeof err) == -1, "array of array accepted");
    EXPECT_CONTAINS(err, "is itself an array");
}

/* ---- values ---- */

static void test_bool_and_integers(void)
{
    pgt_plan b = plan_of(16, -1);
    EXPECT_STR(enc(&b, "t"), "01");
    EXPECT_STR(enc(&b, "f"), "00");
    EXPECT_STR(enc(&b, "true"), "ERROR: invalid bool value 'true': expected t or f");
    EXPECT_STR(enc(&b, ""), "ERROR: invalid bool value '': expected t or f");

    pgt_plan i2 = plan_of(21, -1), i4 = plan_of(23, -1), i8 = plan_of(20, -1),
             oid = plan_of(26, -1);
    EXPECT_LONG(i2, "32767", 32767);
    EXPECT_LONG(i2, "-32768", -32768);
    EXPECT_CONTAINS(enc(&i2, "32768"), "invalid int2 value '32768': out of the int2 range");
    EXPECT_LONG(i4, "0", 0);
    EXPECT_LONG(i4, "-1", -1);
    EXPECT_LONG(i4, "2147483647", INT32_MAX);
    EXPECT_LONG(i4, "-2147483648", INT32_MIN);
    EXPECT_CONTAINS(enc(&i4, "2147483648"), "out of the int4 range");
    EXPECT_STR(enc(&i4, "1"), "02");
    EXPECT_LONG(i8, "9223372036854775807", INT64_MAX);
    EXPECT_LONG(i8, "-9223372036854775808", INT64_MIN);
    EXPECT_STR(enc(&i8, "-9223372036854775808"), "ffffffffffffffffff01");
    EXPECT_CONTAINS(enc(&i8, "9223372036854775808"),
                    "invalid int8 value '9223372036854775808': out of the 64-bit integer range");
    EXPECT_CONTAINS(enc(&i8, "-9223372036854775809"), "out of the 64-bit integer range");
    EXPECT_LONG(oid, "4294967295", 4294967295LL);
    EXPECT_CONTAINS(enc(&oid, "4294967296"), "out of the oid range");
    EXPECT_CONTAINS(enc(&oid, "-1"), "out of the oid range");
    EXPECT_CONTAINS(enc(&i4, "12x"), "invalid int4 value '12x': expected an integer");
    EXPECT_CONTAINS(enc(&i4, ""), "invalid int4 value '': expected an integer");
    EXPECT_CONTAINS(enc(&i4, "-"), "expected an integer");
    EXPECT_CONTAINS(enc(&i4, " 1"), "expected an integer");
    EXPECT_CONTAINS(enc(&i4, "1.0"), "expected an integer");
}

static const char *float_hex(float f)
{
    uint8_t b[4];
    uint32_t u;
    memcpy(&u, &f, 4);
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(u >> (8 * i));
    return hex_of(b, 4);
}

static const char *double_hex(double d)
{
    uint8_t b[8];
    uint64_t u;
    memcpy(&u, &d, 8);
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(u >> (8 * i));
    return hex_of(b, 8);
}

static void test_floats(void)
{
    pgt_plan f4 = plan_of(700, -1), f8 = plan_of(701, -1);
    char want[32];
    snprintf(want, sizeof want, "%s", float_hex(1.1f));
    EXPECT_STR(enc(&f4, "1.1"), want);
    EXPECT_STR(enc(&f4, "1e-45"), "01000000"); /* smallest subnormal */
    EXPECT_STR(enc(&f4, "3.4028235e+38"), "ffff7f7f");
    EXPECT_STR(enc(&f4, "-0"), "00000080");
    EXPECT_STR(enc(&f4, "NaN"), "0000c07f");
    EXPECT_STR(enc(&f4, "Infinity"), "0000807f");
    EXPECT_STR(enc(&f4, "-Infinity"), "000080ff");
    EXPECT_STR(enc(&f8, "0.1"), "9a9999999999b93f");
    snprintf(want, sizeof want, "%s", double_hex(1e300));
    EXPECT_STR(enc(&f8, "1e+300"), want);
    snprintf(want, sizeof want, "%s", double_hex(-1.7976931348623157e308));
    EXPECT_STR(enc(&f8, "-1.7976931348623157e+308"), want);
    snprintf(want, sizeof want, "%s", double_hex(5e-324));
    EXPECT_STR(enc(&f8, "5e-324"), want);
    EXPECT_STR(enc(&f8, "NaN"), "000000000000f87f");
    EXPECT_STR(enc(&f8, "-Infinity"), "000000000000f0ff");
    EXPECT_CONTAINS(enc(&f4, "1e39"), "invalid float4 value '1e39': out of the float4 range");
    EXPECT_CONTAINS(enc(&f8, "inf"), "invalid float8 value 'inf': expected a floating-point");
    EXPECT_CONTAINS(enc(&f8, "nan"), "expected a floating-point");
    EXPECT_CONTAINS(enc(&f8, "0x10"), "expected a floating-point");
    EXPECT_CONTAINS(enc(&f8, "1.5 "), "expected a floating-point");
    EXPECT_CONTAINS(enc(&f8, "1e"), "expected a floating-point");
    EXPECT_CONTAINS(enc(&f8, ""), "expected a floating-point");
}

static void test_numeric_values(void)
{
    pgt_plan d = plan_of(1700, numeric_typmod(12, 2));
    EXPECT_STR(enc(&d, "12345.67"), "0612d687");
    EXPECT_STR(enc(&d, "-0.01"), "02ff");
    EXPECT_STR(enc(&d, "0.00"), "0200");
    EXPECT_STR(enc(&d, "9999999999.99"), "0c00e8d4a50fff");
    EXPECT_CONTAINS(enc(&d, "NaN"),
                    "UNREPRESENTABLE: numeric value 'NaN' cannot be represented in Avro");
    EXPECT_CONTAINS(enc(&d, "Infinity"), "UNREPRESENTABLE");
    EXPECT_CONTAINS(enc(&d, "-Infinity"), "UNREPRESENTABLE");
    EXPECT_CONTAINS(enc(&d, "123.456"),
                    "ERROR: invalid numeric value '123.456': '123.456' has 3 fraction digits, "
                    "more than the scale 2");
    EXPECT_CONTAINS(enc(&d, "12345678901.00"), "more integer digits than decimal(12,2) holds");
    EXPECT_CONTAINS(enc(&d, "1,5"), "expected a decimal number");
    EXPECT_CONTAINS(enc(&d, "nan"), "expected a decimal number");

    pgt_plan negscale = plan_of(1700, numeric_typmod(5, -2));
    EXPECT_STR(enc(&negscale, "12300"), "04300c");
    pgt_plan bigscale = plan_of(1700, numeric_typmod(3, 5));
    EXPECT_STR(enc(&bigscale, "0.00123"), "027b");

    pgt_plan wide = plan_of(1700, numeric_typmod(40, 0));
    EXPECT_STR(enc(&wide, "-1234567890123456789012345678901234567890"),
               "22fc5f36df8a3f240c475343a06931c0f52e");

    /* Unconstrained: the exact text, special values too. */
    pgt_plan s = plan_of(1700, -1);
    EXPECT_STR(enc(&s, "NaN"), "064e614e");
    EXPECT_STR(enc(&s, "-1.50"), "0a2d312e3530");

    /* decimal handling "double": nearest double, specials kept. */
    pgt_plan dd = plan_opts(1700, -1, PGT_DECIMAL_DOUBLE);
    EXPECT_STR(enc(&dd, "1.5"), "000000000000f83f");
    EXPECT_STR(enc(&dd, "NaN"), "000000000000f87f");
    EXPECT_STR(enc(&dd, "-Infinity"), "000000000000f0ff");
    EXPECT_STR(enc(&dd, "0.000"), "0000000000000000");
    char want[32];
    snprintf(want, sizeof want, "%s", double_hex(1.2345678901234568e29));
    EXPECT_STR(enc(&dd, "123456789012345678901234567890.000"), want);
    /* 2000 significant digits: rounded as strtod would round all of them. */
    static char many[2100];
    memset(many, '0', sizeof many);
    many[0] = '1';
    many[1] = '.';
    many[2001] = '1';
    many[2002] = '\0';
    snprintf(want, sizeof want, "%s", double_hex(1.0));
    EXPECT_STR(enc(&dd, many), want);
    memset(many, '9', 1000);
    many[1000] = '\0';
    EXPECT_CONTAINS(enc(&dd, many), "UNREPRESENTABLE: numeric value '9999");
    EXPECT_CONTAINS(enc(&dd, many), "beyond the range of a double");

    pgt_plan ds = plan_opts(1700, numeric_typmod(12, 2), PGT_DECIMAL_STRING);
    EXPECT_STR(enc(&ds, "NaN"), "064e614e");
}

static void test_money(void)
{
    pgt_plan m = plan_of(790, -1);
    EXPECT_STR(enc(&m, "$1,234.56"), "0601e240");
    EXPECT_STR(enc(&m, "-$1,234.56"), "06fe1dc0");
    EXPECT_STR(enc(&m, "$0.00"), "0200");
    EXPECT_STR(enc(&m, "-$92,233,720,368,547,758.08"), "108000000000000000");
    EXPECT_STR(enc(&m, "$92,233,720,368,547,758.07"), "107fffffffffffffff");
    EXPECT_STR(enc(&m, "($5.00)"), "04fe0c");
    EXPECT_STR(enc(&m, "$5"), "0401f4");
    EXPECT_CONTAINS(enc(&m, "$1,,234.00"),
                    "invalid money value '$1,,234.00': expected a money amount like $1,234.56");
    EXPECT_CONTAINS(enc(&m, "$"), "expected a money amount");
    EXPECT_CONTAINS(enc(&m, "EUR 5"), "expected a money amount");
    EXPECT_CONTAINS(enc(&m, "($5.00"), "expected a money amount");
    EXPECT_CONTAINS(enc(&m, "$1.234"), "3 fraction digits, more than the scale 2");

    pgt_plan md = plan_opts(790, -1, PGT_DECIMAL_DOUBLE);
    char want[32];
    snprintf(want, sizeof want, "%s", double_hex(-1234.56));
    EXPECT_STR(enc(&md, "-$1,234.56"), want);
    pgt_plan ms = plan_opts(790, -1, PGT_DECIMAL_STRING);
    EXPECT_STR(enc(&ms, "-$1,234.56"), "102d313233342e3536"); /* "-1234.56" */
}

static void test_strings_and_bytes(void)
{
    pgt_plan t = plan_of(25, -1);
    EXPECT_STR(enc(&t, ""), "00");
    EXPECT_STR(enc(&t, "h\xc3\xa9"), "0668c3a9");
    pgt_plan bp = plan_of(1042, 9);
    EXPECT_STR(enc(&bp, "ab   "), "0a6162202020"); /* blank padding kept */
    pgt_plan j = plan_of(3802, -1);
    EXPECT_STR(enc(&j, "{\"a\": 1}"), "107b2261223a20317d");
    pgt_plan u = plan_of(2950, -1);
    tw_buf want;
    tw_buf_init(&want, 0);
    put_string(&want, "7c9e6679-7425-40de-944b-e07fc1f90ae7");
    EXPECT_STR(enc(&u, "7c9e6679-7425-40de-944b-e07fc1f90ae7"), hex_of(want.data, want.len));
    tw_buf_free(&want);
    EXPECT_CONTAINS(enc(&u, "7c9e6679742540de944be07fc1f90ae7"),
                    "invalid uuid value '7c9e6679742540de944be07fc1f90ae7': expected");
    EXPECT_CONTAINS(enc(&u, "7c9e6679-7425-40de-944b-e07fc1f90aeg"), "invalid uuid value");

    pgt_plan b = plan_of(17, -1);
    EXPECT_STR(enc(&b, "\\x0102ff"), "060102ff");
    EXPECT_STR(enc(&b, "\\xABcd"), "04abcd");
    EXPECT_STR(enc(&b, "\\x"), "00");
    EXPECT_CONTAINS(enc(&b, "0102"), "invalid bytea value '0102': expected hex format \\x");
    EXPECT_CONTAINS(enc(&b, "\\001"), "bytea_output must be hex");
    EXPECT_CONTAINS(enc(&b, "\\x012"), "odd number of hex digits");
    EXPECT_CONTAINS(enc(&b, "\\x0g"), "not a hex digit");

    /* Text forms of types mapped to string pass through untouched. */
    pgt_plan iv = plan_of(1186, -1);
    EXPECT_STR(enc(&iv, "1 day 02:00:00"), "1c31206461792030323a30303a3030");
}

static void test_dates(void)
{
    pgt_plan d = plan_of(1082, -1);
    /* Expected day numbers: ('<date>'::date - '1970-01-01'::date) in PG 15. */
    EXPECT_LONG(d, "1970-01-01", 0);
    EXPECT_LONG(d, "1969-12-31", -1);
    EXPECT_LONG(d, "2000-01-01", 10957);
    EXPECT_LONG(d, "2000-02-29", 11016);
    EXPECT_LONG(d, "2020-01-01", 18262);
    EXPECT_LONG(d, "0001-01-01", -719162);
    EXPECT_LONG(d, "0001-01-01 BC", -719528);
    EXPECT_LONG(d, "0044-03-15 BC", -735160);
    EXPECT_LONG(d, "4713-01-01 BC", -2440550);
    EXPECT_LONG(d, "10000-01-01", 2932897);
    EXPECT_LONG(d, "5874897-12-31", 2145042905);
    EXPECT_LONG(d, "infinity", INT32_MAX);
    EXPECT_LONG(d, "-infinity", INT32_MIN);
    EXPECT_CONTAINS(enc(&d, "2020-13-01"), "invalid date value '2020-13-01': month out of range");
    EXPECT_CONTAINS(enc(&d, "2021-02-29"), "day out of range for the month");
    EXPECT_CONTAINS(enc(&d, "2021-04-31"), "day out of range for the month");
    EXPECT_CONTAINS(enc(&d, "2020-1-01"), "expected YYYY-MM-DD");
    EXPECT_CONTAINS(enc(&d, "20-01-01"), "expected YYYY-MM-DD");
    EXPECT_CONTAINS(enc(&d, "0000-01-01"), "year 0 does not exist");
    EXPECT_CONTAINS(enc(&d, "2020-01-01 AD"), "unexpected text after the date");
    EXPECT_CONTAINS(enc(&d, "01/02/2020"), "expected YYYY-MM-DD");
    EXPECT_CONTAINS(enc(&d, "Infinity"), "expected YYYY-MM-DD");
}

static void test_times(void)
{
    pgt_plan t = plan_of(1083, -1);
    EXPECT_LONG(t, "00:00:00", 0);
    EXPECT_LONG(t, "12:00:00.000001", 43200000001LL);
    EXPECT_LONG(t, "12:00:00.5", 43200500000LL);
    EXPECT_LONG(t, "23:59:59.999999", 86399999999LL);
    EXPECT_LONG(t, "24:00:00", 86400000000LL);
    EXPECT_CONTAINS(enc(&t, "24:00:01"), "invalid time value '24:00:01': time of day out of range");
    EXPECT_CONTAINS(enc(&t, "25:00:00"), "time of day out of range");
    EXPECT_CONTAINS(enc(&t, "12:60:00"), "time of day out of range");
    EXPECT_CONTAINS(enc(&t, "12:00:60"), "time of day out of range");
    EXPECT_CONTAINS(enc(&t, "12:00:00.1234567"), "more than 6 fractional second digits");
    EXPECT_CONTAINS(enc(&t, "12:00:00."), "expected HH:MM:SS[.ffffff]");
    EXPECT_CONTAINS(enc(&t, "12:00"), "expected HH:MM:SS[.ffffff]");
    EXPECT_CONTAINS(enc(&t, "12:00:00+01"), "unexpected text after the time");

    pgt_plan ts = plan_of(1114, -1);
    /* extract(epoch from '<ts>'::timestamp) * 1e6 in PG 15. */
    EXPECT_LONG(ts, "1970-01-01 00:00:00", 0);
    EXPECT_LONG(ts, "1969-12-31 23:59:59.999999", -1);
    EXPECT_LONG(ts, "2020-01-02 03:04:05.123456", 1577934245123456LL);
    EXPECT_LONG(ts, "4713-01-01 00:00:00 BC", -210863520000000000LL);
    EXPECT_LONG(ts, "infinity", INT64_MAX);
    EXPECT_LONG(ts, "-infinity", INT64_MIN);
    /* PostgreSQL's last timestamp is past int64 microseconds from 1970. */
    EXPECT_CONTAINS(enc(&ts, "294276-12-31 23:59:59.999999"),
                    "UNREPRESENTABLE: timestamp value '294276-12-31 23:59:59.999999' cannot be "
                    "represented in Avro: outside the int64 microsecond range");
    EXPECT_LONG(ts, "294246-12-31 23:59:59.999999", 9223371244799999999LL);
    EXPECT_CONTAINS(enc(&ts, "2020-01-02T03:04:05"), "expected a space between date and time");
    EXPECT_CONTAINS(enc(&ts, "2020-01-02 03:04:05+00"), "unexpected text after the timestamp");
    EXPECT_CONTAINS(enc(&ts, "2020-01-02 24:00:00"), "time of day out of range");
    EXPECT_CONTAINS(enc(&ts, "2020-02-30 00:00:00"), "day out of range for the month");

    pgt_plan tz = plan_of(1184, -1);
    EXPECT_LONG(tz, "2020-01-02 03:04:05.123456+00", 1577934245123456LL);
    EXPECT_LONG(tz, "2020-06-01 12:00:00+05:30", 1590993000000000LL);
    EXPECT_LONG(tz, "2020-06-01 12:00:00-08", 1591041600000000LL);
    EXPECT_LONG(tz, "1900-01-01 00:00:00+00:53:28", -2208992008000000LL);
    EXPECT_LONG(tz, "0044-03-15 12:34:56.5+00 BC", -63517778703500000LL);
    EXPECT_LONG(tz, "infinity", INT64_MAX);
    EXPECT_LONG(tz, "-infinity", INT64_MIN);
    EXPECT_CONTAINS(enc(&tz, "2020-01-02 03:04:05"),
                    "invalid timestamptz value '2020-01-02 03:04:05': expected a UTC offset");
    EXPECT_CONTAINS(enc(&tz, "2020-01-02 03:04:05+5"), "expected a UTC offset");
    EXPECT_CONTAINS(enc(&tz, "2020-01-02 03:04:05+24"), "UTC offset out of range");
    EXPECT_CONTAINS(enc(&tz, "2020-01-02 03:04:05 UTC"), "expected a UTC offset");
}

/* Builds the Avro bytes of an array of nullable strings (NULL = null). */
static const char *string_array_hex(const char *const *elems, size_t n)
{
    static char out[4096];
    tw_buf b;
    tw_buf_init(&b, 0);
    if (n) {
        avro_bin_block_count(&b, (int64_t)n);
        for (size_t i = 0; i < n; i++) {
            avro_bin_union_index(&b, elems[i] ? 1 : 0);
            if (elems[i])
                put_string(&b, elems[i]);
        }
    }
    avro_bin_array_end_marker(&b);
    snprintf(out, sizeof out, "%s", hex_of(b.data, b.len));
    tw_buf_free(&b);
    return out;
}

static void test_arrays(void)
{
    pgt_plan ia = plan_of(1007, -1);
    EXPECT_STR(enc(&ia, "{1,2,NULL}"), "06020202040000");
    EXPECT_STR(enc(&ia, "{}"), "00");
    EXPECT_STR(enc(&ia, "[0:1]={1,2}"), enc(&ia, "{1,2}"));
    EXPECT_STR(enc(&ia, "[-3:-2]={1,2}"), enc(&ia, "{1,2}"));
    EXPECT_STR(enc(&ia, "{ 1 , 2 }"), enc(&ia, "{1,2}"));
    EXPECT_STR(enc(&ia, "{null,NuLl}"), "04000000");
    /* Quotes and escapes are allowed around any element type. */
    EXPECT_STR(enc(&ia, "{\"1\",\\2,\"\\3\"}"), enc(&ia, "{1,2,3}"));
    /* Two dimensions, flattened in row-major order. */
    EXPECT_STR(enc(&ia, "{{1,2},{3,4}}"), "08020202040206020800");
    EXPECT_STR(enc(&ia, "[1:2][1:2]={{1,2},{3,4}}"), "08020202040206020800");
    EXPECT_STR(enc(&ia, "{{{1},{2}},{{3},{4}}}"), "08020202040206020800");

    pgt_plan ta = plan_of(1009, -1);
    const char *const want[] = {"a,b", "c\"d", NULL, "NULL", "", " x", "back\\slash", "{1}"};
    EXPECT_STR(enc(&ta, "{\"a,b\",\"c\\\"d\",NULL,\"NULL\",\"\",\" x\",\"back\\\\slash\",\"{1}\"}"),
               string_array_hex(want, 8));
    const char *const tab[] = {"a\tb", "z"};
    EXPECT_STR(enc(&ta, "{\"a\tb\",z}"), string_array_hex(tab, 2));
    /* array_in's escapes in unquoted elements, kept trailing space. */
    const char *const unq[] = {"a b", "c ", "N"};
    EXPECT_STR(enc(&ta, "{a b,c\\ ,\\N}"), string_array_hex(unq, 3));
    pgt_plan tsp = plan_of(1115, -1);
    EXPECT_STR(enc(&tsp, "{\"2020-01-01 00:00:00\"}"), "02028080d29f98c2cd0500");

    /* box uses ';' between elements; its text has commas. */
    pgt_plan bx = plan_of(1020, -1);
    const char *const boxes[] = {"(1,1),(0,0)", "(3,3),(2,2)"};
    EXPECT_STR(enc(&bx, "{(1,1),(0,0);(3,3),(2,2)}"), string_array_hex(boxes, 2));

    /* bytea elements arrive with the backslash escaped. */
    pgt_plan ba = plan_of(1001, -1);
    EXPECT_STR(enc(&ba, "{\"\\\\x01ff\",\"\\\\x\",NULL}"), "060204"
                                                           "01ff"
                                                           "020000"
                                                           "00");
    pgt_plan na = plan_of(1231, numeric_typmod(12, 2));
    EXPECT_STR(enc(&na, "{12345.67,NULL}"), "04020612d6870000");
    EXPECT_CONTAINS(enc(&na, "{1.00,NaN}"), "UNREPRESENTABLE: numeric value 'NaN'");
    EXPECT_CONTAINS(enc(&na, "{1.00,NaN}"), "(element 2 of _numeric '{1.00,NaN}')");
    pgt_plan ua = plan_of(2951, -1);
    EXPECT(strncmp(enc(&ua, "{7c9e6679-7425-40de-944b-e07fc1f90ae7}"), "0202", 4) == 0,
           "uuid[]: %s", enc(&ua, "{7c9e6679-7425-40de-944b-e07fc1f90ae7}"));

    /* Malformed arrays name the problem and where. */
    EXPECT_CONTAINS(enc(&ia, "{1,x}"),
                    "invalid int4 value 'x': expected an integer (element 2 of _int4 '{1,x}')");
    EXPECT_CONTAINS(enc(&ia, "{1,2"),
                    "invalid _int4 value '{1,2': expected ',' or '}' at offset 4");
    EXPECT_CONTAINS(enc(&ia, "1,2}"), "expected '{' at offset 0");
    EXPECT_CONTAINS(enc(&ia, ""), "expected '{' at offset 0");
    EXPECT_CONTAINS(enc(&ia, "{1,,2}"), "empty unquoted element at offset 3");
    EXPECT_CONTAINS(enc(&ia, "{1,}"), "empty unquoted element");
    EXPECT_CONTAINS(enc(&ia, "{1,{2}}"), "sub-array where an element was expected");
    EXPECT_CONTAINS(enc(&ia, "{{1},2}"), "element where a sub-array was expected");
    EXPECT_CONTAINS(enc(&ia, "{{}}"), "empty sub-array");
    EXPECT_CONTAINS(enc(&ia, "{1} x"), "unexpected text after the array");
    EXPECT_CONTAINS(enc(&ta, "{\"a}"), "unterminated quoted element");
    EXPECT_CONTAINS(enc(&ta, "{a\"b}"), "unexpected character in an unquoted element");
    EXPECT_CONTAINS(enc(&ta, "{a\\"), "backslash at the end of the array");
    EXPECT_CONTAINS(enc(&ia, "[0:1]{1,2}"), "malformed dimension decoration");
    EXPECT_CONTAINS(enc(&ia, "[0]={1}"), "malformed dimension decoration");
    EXPECT_CONTAINS(enc(&ia, "{{{{{{{1}}}}}}}"), "more than 6 dimensions");
    EXPECT_STR(enc(&bx, "{(1,1),(0,0),(3,3),(2,2)}"),
               enc(&bx, "{\"(1,1),(0,0),(3,3),(2,2)\"}")); /* no ';': one element */
}

/* A failed value leaves the buffer as it was; steady-state encoding does
 * not regrow it. */
static void test_buffer_contract(void)
{
    pgt_plan ia = plan_of(1007, -1), ts = plan_of(1184, -1), t = plan_of(25, -1);
    tw_buf b;
    tw_buf_init(&b, 0);
    tw_buf_append(&b, "abc", 3);
    char err[256];
    EXPECT(pgt_encode_text(&ia, "{1,2,x}", 7, &b, err, sizeof err) == PGT_ERROR, "accepted");
    EXPECT(b.len == 3 && memcmp(b.data, "abc", 3) == 0, "failed array left %zu bytes", b.len);

    const char *vals[] = {"{1,2,3,NULL,5}", "2020-01-02 03:04:05.123456+00", "some text value"};
    const pgt_plan *plans[] = {&ia, &ts, &t};
    for (int round = 0; round < 2; round++) {
        tw_buf_reset(&b);
        for (int k = 0; k < 100; k++)
            for (int j = 0; j < 3; j++)
                pgt_encode_text(plans[j], vals[j], strlen(vals[j]), &b, err, sizeof err);
    }
    uint8_t *data = b.data;
    size_t cap = b.cap, len = b.len;
    for (int round = 0; round < 5; round++) {
        tw_buf_reset(&b);
        for (int k = 0; k < 100; k++)
            for (int j = 0; j < 3; j++)
                pgt_encode_text(plans[j], vals[j], strlen(vals[j]), &b, err, sizeof err);
    }
    EXPECT(b.data == data && b.cap == cap && b.len == len, "steady state regrew the buffer");
    tw_buf_free(&b);

    /* A size limit is reported through the buffer, not as a value error. */
    tw_buf_init(&b, 4);
    EXPECT(pgt_encode_text(&t, "longer than four", 16, &b, err, sizeof err) == PGT_OK,
           "a full buffer is the buffer's error");
    EXPECT(b.error == TW_BUF_TOOBIG, "error %d", b.error);
    tw_buf_free(&b);
}

/* ---- cross-check with an independent decoder (fastavro) ---- */

typedef struct {
    const char *name;
    uint32_t oid;
    int32_t typmod;
    pgt_decimal_handling dh;
    int canonical; /* write the canonical schema: the value has no Python form */
    const char *text;
    const char *expect; /* JSON of the value fastavro must decode */
} xcase;

static int xseq;

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void xcheck(const xcase *c)
{
    pgt_plan p = plan_opts(c->oid, c->typmod, c->dh);
    tw_buf schema, datum;
    tw_buf_init(&schema, 0);
    tw_buf_init(&datum, 0);
    if (c->canonical)
        pgt_write_avro_canonical(&p, &schema);
    else
        pgt_write_avro_json(&p, &schema);
    char err[512] = "";
    int rc = pgt_encode_text(&p, c->text, strlen(c->text), &datum, err, sizeof err);
    EXPECT(rc == PGT_OK, "cross-check %s: %s", c->name, err);
    const char *dir = getenv("TW_AVRO_CROSSCHECK_DIR");
    if (dir && *dir && rc == PGT_OK) {
        char path[1024];
        int seq = ++xseq;
        snprintf(path, sizeof path, "%s/%03d_%s.avsc", dir, seq, c->name);
        FILE *f = fopen(path, "w");
        EXPECT(f != NULL, "cannot write %s", path);
        if (f) {
            fwrite(schema.data, 1, schema.len, f);
            fclose(f);
        }
        snprintf(path, sizeof path, "%s/%03d_%s.bin", dir, seq, c->name);
        f = fopen(path, "wb");
        if (f) {
            fwrite(datum.data, 1, datum.len, f);
            fclose(f);
        }
        snprintf(path, sizeof path, "%s/%03d_%s.json", dir, seq, c->name);
        f = fopen(path, "w");
        if (f) {
            fputs("{\"text\":", f);
            json_string(f, c->text);
            fprintf(f, ",\"expect\":%s}\n", c->expect);
            fclose(f);
        }
    }
    tw_buf_free(&schema);
    tw_buf_free(&datum);
}

static void test_crosscheck_cases(void)
{
    static const xcase cases[] = {
        {"bool", 16, -1, 0, 0, "t", "true"},
        {"int2_min", 21, -1, 0, 0, "-32768", "-32768"},
        {"int4_max", 23, -1, 0, 0, "2147483647", "2147483647"},
        {"int8_min", 20, -1, 0, 0, "-9223372036854775808", "-9223372036854775808"},
        {"int8_max", 20, -1, 0, 0, "9223372036854775807", "9223372036854775807"},
        {"oid_max", 26, -1, 0, 0, "4294967295", "4294967295"},
        {"float4", 700, -1, 0, 0, "1.1", "1.1"},
        {"float4_subnormal", 700, -1, 0, 0, "1e-45", "1e-45"},
        {"float4_max", 700, -1, 0, 0, "3.4028235e+38", "3.4028235e+38"},
        {"float4_nan", 700, -1, 0, 0, "NaN", "\"NaN\""},
        {"float8", 701, -1, 0, 0, "0.1", "0.1"},
        {"float8_big", 701, -1, 0, 0, "1e+300", "1e+300"},
        {"float8_neginf", 701, -1, 0, 0, "-Infinity", "\"-Infinity\""},
        {"numeric_12_2", 1700, ((12 << 16) | 2) + 4, 0, 0, "12345.67", "\"12345.67\""},
        {"numeric_12_2_neg", 1700, ((12 << 16) | 2) + 4, 0, 0, "-0.01", "\"-0.01\""},
        {"numeric_12_2_zero", 1700, ((12 << 16) | 2) + 4, 0, 0, "0.00", "\"0.00\""},
        {"numeric_40_0", 1700, (40 << 16) + 4, 0, 0, "-1234567890123456789012345678901234567890",
         "\"-1234567890123456789012345678901234567890\""},
        {"numeric_5_m2", 1700, ((5 << 16) | (0x7ff & -2)) + 4, 0, 0, "12300", "\"12300\""},
        {"numeric_3_5", 1700, ((3 << 16) | 5) + 4, 0, 0, "0.00123", "\"0.00123\""},
        {"numeric_free", 1700, -1, 0, 0, "NaN", "\"NaN\""},
        {"numeric_double", 1700, -1, PGT_DECIMAL_DOUBLE, 0, "-2.5", "-2.5"},
        {"money_min", 790, -1, 0, 0, "-$92,233,720,368,547,758.08", "\"-92233720368547758.08\""},
        {"money_double", 790, -1, PGT_DECIMAL_DOUBLE, 0, "-$1,234.56", "-1234.56"},
        {"money_string", 790, -1, PGT_DECIMAL_STRING, 0, "$1,234.56", "\"1234.56\""},
        {"text", 25, -1, 0, 0, "h\xc3\xa9llo, \"world\"", "\"h\\u00e9llo, \\\"world\\\"\""},
        {"jsonb", 3802, -1, 0, 0, "{\"a\": 1}", "\"{\\\"a\\\": 1}\""},
        {"uuid", 2950, -1, 0, 0, "7c9e6679-7425-40de-944b-e07fc1f90ae7",
         "\"7c9e6679-7425-40de-944b-e07fc1f90ae7\""},
        {"bytea", 17, -1, 0, 0, "\\x0102ff", "\"0102ff\""},
        {"bytea_empty", 17, -1, 0, 0, "\\x", "\"\""},
        {"date", 1082, -1, 0, 0, "2020-01-02", "\"2020-01-02\""},
        {"date_ad1", 1082, -1, 0, 0, "0001-01-01", "\"0001-01-01\""},
        {"date_9999", 1082, -1, 0, 0, "9999-12-31", "\"9999-12-31\""},
        {"date_bc", 1082, -1, 0, 1, "0044-03-15 BC", "-735160"},
        {"date_inf", 1082, -1, 0, 1, "infinity", "2147483647"},
        {"time", 1083, -1, 0, 0, "12:00:00.000001", "\"12:00:00.000001\""},
        {"time_2400", 1083, -1, 0, 1, "24:00:00", "86400000000"},
        {"timestamp", 1114, -1, 0, 0, "2020-01-02 03:04:05.123456",
         "\"2020-01-02T03:04:05.123456\""},
        {"timestamp_pre1970", 1114, -1, 0, 0, "1900-03-01 00:00:00.5",
         "\"1900-03-01T00:00:00.500000\""},
        {"timestamp_neginf", 1114, -1, 0, 1, "-infinity", "-9223372036854775808"},
        {"timestamptz", 1184, -1, 0, 0, "2020-06-01 12:00:00+05:30",
         "\"2020-06-01T06:30:00+00:00\""},
        {"timestamptz_utc", 1184, -1, 0, 0, "1999-12-31 23:59:59.999999+00",
         "\"1999-12-31T23:59:59.999999+00:00\""},
        {"interval", 1186, -1, 0, 0, "1 day 02:00:00", "\"1 day 02:00:00\""},
        {"int4_array", 1007, -1, 0, 0, "{1,2,NULL}", "[1,2,null]"},
        {"int4_array_2d", 1007, -1, 0, 0, "[0:1][1:2]={{1,2},{3,4}}", "[1,2,3,4]"},
        {"int4_array_empty", 1007, -1, 0, 0, "{}", "[]"},
        {"text_array", 1009, -1, 0, 0, "{\"a,b\",\"c\\\"d\",NULL,\"NULL\",\"\"}",
         "[\"a,b\",\"c\\\"d\",null,\"NULL\",\"\"]"},
        {"numeric_array", 1231, ((12 << 16) | 2) + 4, 0, 0, "{12345.67,NULL,-1.00}",
         "[\"12345.67\",null,\"-1.00\"]"},
        {"date_array", 1182, -1, 0, 0, "{2020-01-01,NULL}", "[\"2020-01-01\",null]"},
        {"timestamptz_array", 1185, -1, 0, 0, "{\"2020-01-01 00:00:00+00\"}",
         "[\"2020-01-01T00:00:00+00:00\"]"},
        {"bytea_array", 1001, -1, 0, 0, "{\"\\\\x01ff\",NULL}", "[\"01ff\",null]"},
        {"box_array", 1020, -1, 0, 0, "{(1,1),(0,0);(3,3),(2,2)}",
         "[\"(1,1),(0,0)\",\"(3,3),(2,2)\"]"},
        {"bool_array", 1000, -1, 0, 0, "{t,f}", "[true,false]"},
        {"float8_array", 1022, -1, 0, 0, "{1.5,NaN,-Infinity}", "[1.5,\"NaN\",\"-Infinity\"]"},
        {"uuid_array", 2951, -1, 0, 0, "{7c9e6679-7425-40de-944b-e07fc1f90ae7}",
         "[\"7c9e6679-7425-40de-944b-e07fc1f90ae7\"]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        xcheck(&cases[i]);

    /* The widest decimals PostgreSQL allows. */
    static char text[1100], expect[1200];
    memset(text, '9', 1000);
    text[1000] = '\0';
    snprintf(expect, sizeof expect, "\"%s\"", text);
    xcase wide = {"numeric_1000_0", 1700, (int32_t)((1000u << 16) + 4), 0, 0, text, expect};
    xcheck(&wide);
    text[0] = '-';
    memset(text + 1, '1', 500);
    text[501] = '.';
    memset(text + 502, '2', 500);
    text[1002] = '\0';
    snprintf(expect, sizeof expect, "\"%s\"", text);
    xcase half = {
        "numeric_1000_500", 1700, (int32_t)(((1000u << 16) | 500) + 4), 0, 0, text, expect};
    xcheck(&half);
}

int main(void)
{
    test_builtin_plans();
    test_numeric_plans();
    test_catalog_plans();
    test_bool_and_integers();
    test_floats();
    test_numeric_values();
    test_money();
    test_strings_and_bytes();
    test_dates();
    test_times();
    test_arrays();
    test_buffer_contract();
    test_crosscheck_cases();
    return tw_test_exit("test_pgtypes");
}
