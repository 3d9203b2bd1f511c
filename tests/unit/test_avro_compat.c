/* Avro schema compatibility: every resolution rule both ways (primitives and
 * promotions, records and aliases, enums, fixed, arrays, maps, unions, named
 * references and namespaces, recursion, logical types, ignored properties),
 * parse errors, and the change classes of Tidewater's envelope schema. */
#include "schemas/avro_compat.h"
#include "tw_test.h"

#include <stdlib.h>

static char why[2048];

/* avro_can_read(reader, writer) must give want; when reason is not NULL,
 * why must contain it. */
static void expect_read_at(int line, const char *reader, const char *writer, int want,
                           const char *reason)
{
    memset(why, 'x', sizeof why - 1);
    why[sizeof why - 1] = '\0';
    int got = avro_can_read(reader, writer, why, sizeof why);
    EXPECT(got == want, "line %d: reader %s, writer %s: got %d, want %d (why: %s)", line, reader,
           writer, got, want, why);
    if (want == 1)
        EXPECT(why[0] == '\0', "line %d: why must be empty on success, is '%s'", line, why);
    if (reason)
        EXPECT(strstr(why, reason) != NULL, "line %d: why '%s' does not contain '%s'", line, why,
               reason);
}
#define expect_read(r, w, want, reason) expect_read_at(__LINE__, r, w, want, reason)

/* Both directions at once: a reads b, b reads a. */
#define expect_both(a, b, a_reads_b, b_reads_a)                                                    \
    do {                                                                                           \
        expect_read(a, b, a_reads_b, NULL);                                                        \
        expect_read(b, a, b_reads_a, NULL);                                                        \
    } while (0)

static void expect_class_at(int line, const char *what, const char *old_json, const char *new_json,
                            avro_compat want, const char *reason)
{
    avro_compat got = (avro_compat)99;
    why[0] = '\0';
    int rc = avro_compat_class(old_json, new_json, &got, why, sizeof why);
    EXPECT(rc == 0, "line %d: %s: avro_compat_class returned %d (%s)", line, what, rc, why);
    EXPECT(got == want, "line %d: %s: got %s, want %s (why: %s)", line, what, avro_compat_name(got),
           avro_compat_name(want), why);
    if (want == AVRO_COMPAT_FULL)
        EXPECT(why[0] == '\0', "line %d: %s: why must be empty for FULL, is '%s'", line, what, why);
    if (reason)
        EXPECT(strstr(why, reason) != NULL, "line %d: %s: why '%s' does not contain '%s'", line,
               what, why, reason);
}
#define expect_class(what, o, n, want, reason) expect_class_at(__LINE__, what, o, n, want, reason)

/* A record "R" with the given fields (JSON text, comma-separated). */
static const char *rec(char *buf, size_t size, const char *fields)
{
    snprintf(buf, size, "{\"type\":\"record\",\"name\":\"R\",\"fields\":[%s]}", fields);
    return buf;
}

/* The envelope Tidewater publishes for a table, with the given Value fields
 * (JSON objects, NULL-terminated list). */
static const char *envelope(char *buf, size_t size, const char *const *fields)
{
    size_t len = (size_t)snprintf(
        buf, size,
        "{\"type\":\"record\",\"name\":\"Envelope\",\"namespace\":\"tw.public.t\",\"fields\":["
        "{\"name\":\"before\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"Value\","
        "\"fields\":[");
    for (size_t i = 0; fields[i] && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? "," : "", fields[i]);
    if (len < size)
        snprintf(buf + len, size - len,
                 "]}],\"default\":null},{\"name\":\"after\",\"type\":[\"null\",\"Value\"],"
                 "\"default\":null},{\"name\":\"op\",\"type\":\"string\"}]}");
    return buf;
}

static void test_primitives(void)
{
    static const char *const prims[] = {"null",  "boolean", "int",   "long",
                                        "float", "double",  "bytes", "string"};
    /* promotes[w][r]: a writer of prims[w] is read by a reader of prims[r]. */
    static const int promotes[8][8] = {
        /* null boolean int long float double bytes string */
        {1, 0, 0, 0, 0, 0, 0, 0}, /* null */
        {0, 1, 0, 0, 0, 0, 0, 0}, /* boolean */
        {0, 0, 1, 1, 1, 1, 0, 0}, /* int */
        {0, 0, 0, 1, 1, 1, 0, 0}, /* long */
        {0, 0, 0, 0, 1, 1, 0, 0}, /* float */
        {0, 0, 0, 0, 0, 1, 0, 0}, /* double */
        {0, 0, 0, 0, 0, 0, 1, 1}, /* bytes */
        {0, 0, 0, 0, 0, 0, 1, 1}, /* string */
    };
    for (int w = 0; w < 8; w++) {
        for (int r = 0; r < 8; r++) {
            char rj[64], wj[64];
            snprintf(rj, sizeof rj, "\"%s\"", prims[r]);
            snprintf(wj, sizeof wj, "{\"type\":\"%s\"}", prims[w]);
            expect_read(rj, wj, promotes[w][r], NULL);
        }
    }
    expect_read("\"int\"", "\"long\"", 0, "top level: reader int cannot read writer long");
    expect_read("\"bytes\"", "\"string\"", 1, NULL);
    expect_read("\"string\"", "\"bytes\"", 1, NULL);
}

static void test_records(void)
{
    char a[1024], b[1024];
    /* Same unqualified name in different namespaces. */
    expect_both("{\"type\":\"record\",\"name\":\"x.R\",\"fields\":[{\"name\":\"a\",\"type\":"
                "\"int\"}]}",
                "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"y\",\"fields\":[{\"name\":"
                "\"a\",\"type\":\"int\"}]}",
                1, 1);
    /* Different names; the reader's aliases bridge them, the writer's do not. */
    const char *old_r = "{\"type\":\"record\",\"name\":\"Old\",\"fields\":[]}";
    expect_read("{\"type\":\"record\",\"name\":\"New\",\"fields\":[]}", old_r, 0,
                "top level: reader record New cannot read writer record Old");
    expect_read("{\"type\":\"record\",\"name\":\"New\",\"aliases\":[\"Old\"],\"fields\":[]}", old_r,
                1, NULL);
    expect_read("{\"type\":\"record\",\"name\":\"New\",\"aliases\":[\"some.ns.Old\"],"
                "\"fields\":[]}",
                old_r, 1, NULL);
    expect_read(old_r, "{\"type\":\"record\",\"name\":\"New\",\"aliases\":[\"Old\"],\"fields\":[]}",
                0, NULL);

    /* A reader field the writer lacks needs a default (null counts). */
    rec(a, sizeof a, "{\"name\":\"a\",\"type\":\"int\"}");
    expect_read(rec(b, sizeof b,
                    "{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":\"int\","
                    "\"default\":7}"),
                a, 1, NULL);
    expect_read(rec(b, sizeof b,
                    "{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":[\"null\","
                    "\"int\"],\"default\":null}"),
                a, 1, NULL);
    expect_read(rec(b, sizeof b,
                    "{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":"
                    "\"int\"}"),
                a, 0, "field b: not in the writer's schema, and the reader's field has no default");
    /* Writer fields the reader does not know are skipped. */
    expect_read(a, b, 1, NULL);
    /* Field order does not matter. */
    expect_both(rec(a, sizeof a,
                    "{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":"
                    "\"string\"}"),
                "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"b\",\"type\":"
                "\"string\"},{\"name\":\"a\",\"type\":\"int\"}]}",
                1, 1);

    /* Field aliases: the reader's. */
    rec(a, sizeof a, "{\"name\":\"new\",\"aliases\":[\"older\",\"old\"],\"type\":\"long\"}");
    rec(b, sizeof b, "{\"name\":\"old\",\"type\":\"int\"}");
    expect_read(a, b, 1, NULL);
    expect_read(b, a, 0, "field old: not in the writer's schema");
    rec(b, sizeof b, "{\"name\":\"old\",\"type\":\"string\"}");
    expect_read(a, b, 0, "field new: reader long cannot read writer string");

    /* Field types resolve recursively; the message gives the path. */
    rec(a, sizeof a,
        "{\"name\":\"inner\",\"type\":{\"type\":\"record\",\"name\":\"I\",\"fields\":[{\"name\":"
        "\"x\",\"type\":\"int\"}]}}");
    rec(b, sizeof b,
        "{\"name\":\"inner\",\"type\":{\"type\":\"record\",\"name\":\"I\",\"fields\":[{\"name\":"
        "\"x\",\"type\":\"string\"}]}}");
    expect_read(a, b, 0, "field inner.x: reader int cannot read writer string");
    expect_read(b, a, 0, "field inner.x: reader string cannot read writer int");

    /* A record is not a map or a string. */
    expect_read(a, "{\"type\":\"map\",\"values\":\"int\"}", 0,
                "reader record R cannot read writer map");
}

static void test_enums(void)
{
    const char *ab = "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]}";
    const char *abc = "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\",\"C\"]}";
    const char *ab_def =
        "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"],\"default\":\"A\"}";
    expect_read(ab, ab, 1, NULL);
    expect_read(abc, ab, 1, NULL);
    expect_read(ab, abc, 0, "writer symbol C is not in reader enum E, which has no default");
    expect_read(ab_def, abc, 1, NULL);
    expect_read(abc, ab_def, 1, NULL);
    /* Symbol order does not matter. */
    expect_both(ab, "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"B\",\"A\"]}", 1, 1);
    /* Names must match (or the reader's alias). */
    const char *f = "{\"type\":\"enum\",\"name\":\"F\",\"symbols\":[\"A\",\"B\"]}";
    expect_both(ab, f, 0, 0);
    expect_read("{\"type\":\"enum\",\"name\":\"F\",\"aliases\":[\"E\"],\"symbols\":[\"A\",\"B\"]}",
                ab, 1, NULL);
    expect_both(ab, "\"string\"", 0, 0);
}

static void test_fixed(void)
{
    const char *f16 = "{\"type\":\"fixed\",\"name\":\"H\",\"size\":16}";
    expect_read(f16, f16, 1, NULL);
    expect_both(f16, "{\"type\":\"fixed\",\"name\":\"H\",\"size\":8}", 0, 0);
    expect_read(f16, "{\"type\":\"fixed\",\"name\":\"H\",\"size\":8}", 0,
                "reader fixed H(16) cannot read writer fixed H(8)");
    expect_both(f16, "{\"type\":\"fixed\",\"name\":\"G\",\"size\":16}", 0, 0);
    expect_read("{\"type\":\"fixed\",\"name\":\"G\",\"aliases\":[\"H\"],\"size\":16}", f16, 1,
                NULL);
    expect_both(f16, "\"bytes\"", 0, 0);
}

static void test_arrays_and_maps(void)
{
    char a[512], b[512];
    rec(a, sizeof a, "{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":\"long\"}}");
    rec(b, sizeof b, "{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":\"int\"}}");
    expect_read(a, b, 1, NULL);
    expect_read(b, a, 0, "field tags[]: reader int cannot read writer long");

    rec(a, sizeof a, "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"double\"}}");
    rec(b, sizeof b, "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"float\"}}");
    expect_read(a, b, 1, NULL);
    expect_read(b, a, 0, "field m{}: reader float cannot read writer double");

    expect_both("{\"type\":\"array\",\"items\":\"int\"}", "{\"type\":\"map\",\"values\":\"int\"}",
                0, 0);
    expect_both("{\"type\":\"array\",\"items\":{\"type\":\"array\",\"items\":\"string\"}}",
                "{\"type\":\"array\",\"items\":{\"type\":\"array\",\"items\":\"bytes\"}}", 1, 1);
}

static void test_unions(void)
{
    /* Both unions: every writer branch needs a reader branch. */
    expect_read("[\"null\",\"int\",\"string\"]", "[\"null\",\"int\"]", 1, NULL);
    expect_read("[\"null\",\"int\"]", "[\"null\",\"int\",\"string\"]", 0,
                "reader union [null, int] has no branch that can read writer string");
    expect_read("[\"null\",\"long\"]", "[\"int\",\"null\"]", 1, NULL);
    /* Writer union, reader not: every branch must be readable. */
    expect_read("\"long\"", "[\"int\",\"long\"]", 1, NULL);
    expect_read("\"long\"", "[\"int\",\"string\"]", 0, "reader long cannot read writer string");
    expect_read("\"int\"", "[\"null\",\"int\"]", 0, "reader int cannot read writer null");
    /* Reader union only: some branch reads it, promotions included. */
    expect_read("[\"null\",\"long\"]", "\"int\"", 1, NULL);
    expect_read("[\"null\",\"int\"]", "\"string\"", 0,
                "top level: reader union [null, int] has no branch that can read writer string");
    /* The first branch of the right kind fails (logical type), a later one reads it. */
    expect_read("[{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"},\"double\"]", "\"long\"",
                1, NULL);
    /* ...and when none does, its reason is the one given. */
    expect_read("[\"null\",{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}]", "\"long\"",
                0,
                "reader long timestamp-micros cannot read writer long (the logical types differ)");
    /* Records in unions: the path names the record. */
    expect_read("[\"null\",{\"type\":\"record\",\"name\":\"V\",\"fields\":[{\"name\":\"x\","
                "\"type\":\"int\"}]}]",
                "{\"type\":\"record\",\"name\":\"V\",\"fields\":[{\"name\":\"x\",\"type\":"
                "\"long\"}]}",
                0, "field V.x: reader int cannot read writer long");
    expect_read("{\"type\":\"record\",\"name\":\"V\",\"fields\":[{\"name\":\"x\",\"type\":"
                "\"long\"}]}",
                "[{\"type\":\"record\",\"name\":\"V\",\"fields\":[{\"name\":\"x\",\"type\":"
                "\"string\"}]},\"null\"]",
                0, "field V.x: reader long cannot read writer string");
    /* Two records of different names in one union. */
    const char *two = "[{\"type\":\"record\",\"name\":\"A\",\"fields\":[]},{\"type\":\"record\","
                      "\"name\":\"B\",\"fields\":[]}]";
    expect_read(two, "{\"type\":\"record\",\"name\":\"B\",\"fields\":[]}", 1, NULL);
    expect_read("{\"type\":\"record\",\"name\":\"B\",\"fields\":[]}", two, 0,
                "reader record B cannot read writer record A");
}

static void test_names(void)
{
    /* Namespaces: "F" inside n1 is n1.F (size 4), "n2.F" is the other. */
    const char *w = "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"n1\",\"fields\":["
                    "{\"name\":\"a\",\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"size\":4}},"
                    "{\"name\":\"b\",\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"namespace\":"
                    "\"n2\",\"size\":8}},"
                    "{\"name\":\"c\",\"type\":\"F\"}]}";
    const char *r_ok = "{\"type\":\"record\",\"name\":\"n1.R\",\"fields\":["
                       "{\"name\":\"a\",\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"size\":4}},"
                       "{\"name\":\"b\",\"type\":{\"type\":\"fixed\",\"name\":\"n2.F\","
                       "\"size\":8}},"
                       "{\"name\":\"c\",\"type\":\"n1.F\"}]}";
    const char *r_bad = "{\"type\":\"record\",\"name\":\"n1.R\",\"fields\":["
                        "{\"name\":\"a\",\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"size\":4}},"
                        "{\"name\":\"b\",\"type\":{\"type\":\"fixed\",\"name\":\"n2.F\","
                        "\"size\":8}},"
                        "{\"name\":\"c\",\"type\":\"n2.F\"}]}";
    expect_both(r_ok, w, 1, 1);
    expect_read(r_bad, w, 0, "field c: reader fixed F(8) cannot read writer fixed F(4)");

    /* A dotted name sets the namespace of what it contains; {"type":"Name"}
     * is a reference; a short name falls back to the null namespace. */
    const char *dotted =
        "{\"type\":\"record\",\"name\":\"a.b.Outer\",\"fields\":["
        "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"Color\",\"namespace\":\"\","
        "\"symbols\":[\"RED\"]}},"
        "{\"name\":\"x\",\"type\":{\"type\":\"record\",\"name\":\"Inner\",\"fields\":["
        "{\"name\":\"v\",\"type\":\"int\"},{\"name\":\"c\",\"type\":\"Color\"}]}},"
        "{\"name\":\"y\",\"type\":\"a.b.Inner\"},"
        "{\"name\":\"z\",\"type\":{\"type\":\"Inner\"}}]}";
    expect_read(dotted, dotted, 1, NULL);
    const char *dotted_long =
        "{\"type\":\"record\",\"name\":\"a.b.Outer\",\"fields\":["
        "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"Color\",\"namespace\":\"\","
        "\"symbols\":[\"RED\"]}},"
        "{\"name\":\"x\",\"type\":{\"type\":\"record\",\"name\":\"Inner\",\"fields\":["
        "{\"name\":\"v\",\"type\":\"long\"},{\"name\":\"c\",\"type\":\"Color\"}]}},"
        "{\"name\":\"y\",\"type\":\"a.b.Inner\"},"
        "{\"name\":\"z\",\"type\":{\"type\":\"Inner\"}}]}";
    expect_read(dotted_long, dotted, 1, NULL);
    expect_read(dotted, dotted_long, 0, "field x.v: reader int cannot read writer long");

    /* The reader's and the writer's names are apart: "Value" means each
     * side's own definition. */
    const char *rv = "{\"type\":\"record\",\"name\":\"T\",\"fields\":["
                     "{\"name\":\"d\",\"type\":{\"type\":\"record\",\"name\":\"Value\",\"fields\":"
                     "[{\"name\":\"n\",\"type\":\"int\"}]}},{\"name\":\"e\",\"type\":\"Value\"}]}";
    const char *wv = "{\"type\":\"record\",\"name\":\"T\",\"fields\":["
                     "{\"name\":\"e\",\"type\":{\"type\":\"record\",\"name\":\"Value\",\"fields\":"
                     "[{\"name\":\"n\",\"type\":\"long\"}]}},{\"name\":\"d\",\"type\":\"Value\"}]}";
    expect_read(rv, wv, 0, "field d.n: reader int cannot read writer long");
    expect_read(wv, rv, 1, NULL);

    /* Undefined names, and names used before their definition. */
    expect_read("{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"n\",\"fields\":[{\"name\":"
                "\"a\",\"type\":\"Missing\"}]}",
                "\"int\"", -1,
                "reader schema: at field a: unknown type name \"Missing\" in namespace n");
    expect_read("\"int\"",
                "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"E\"},"
                "{\"name\":\"b\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"X\"]}}"
                "]}",
                -1, "writer schema: at field a: unknown type name \"E\"");
}

static void test_recursion(void)
{
    const char *list_int = "{\"type\":\"record\",\"name\":\"Node\",\"fields\":["
                           "{\"name\":\"next\",\"type\":[\"null\",\"Node\"],\"default\":null},"
                           "{\"name\":\"value\",\"type\":\"int\"}]}";
    const char *list_long = "{\"type\":\"record\",\"name\":\"Node\",\"fields\":["
                            "{\"name\":\"next\",\"type\":[\"null\",\"Node\"],\"default\":null},"
                            "{\"name\":\"value\",\"type\":\"long\"}]}";
    expect_read(list_int, list_int, 1, NULL);
    expect_read(list_long, list_int, 1, NULL);
    expect_read(list_int, list_long, 0, "field value: reader int cannot read writer long");

    /* Mutual recursion: A holds B, B holds an array of A. */
    const char *ab_int = "{\"type\":\"record\",\"name\":\"A\",\"fields\":["
                         "{\"name\":\"b\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"B\","
                         "\"fields\":[{\"name\":\"as\",\"type\":{\"type\":\"array\",\"items\":"
                         "\"A\"}},{\"name\":\"n\",\"type\":\"int\"}]}]}]}";
    const char *ab_str = "{\"type\":\"record\",\"name\":\"A\",\"fields\":["
                         "{\"name\":\"b\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"B\","
                         "\"fields\":[{\"name\":\"as\",\"type\":{\"type\":\"array\",\"items\":"
                         "\"A\"}},{\"name\":\"n\",\"type\":\"string\"}]}]}]}";
    expect_read(ab_int, ab_int, 1, NULL);
    expect_both(ab_int, ab_str, 0, 0);
    expect_read(ab_int, ab_str, 0, "field b.B.n: reader int cannot read writer string");
}

static void test_logical_types(void)
{
    const char *uuid = "{\"type\":\"string\",\"logicalType\":\"uuid\"}";
    expect_read("\"string\"", uuid, 1, NULL);
    expect_read(uuid, "\"string\"", 0, "reader string uuid cannot read writer string");
    expect_read(uuid, uuid, 1, NULL);
    /* A reader without a logical type also takes promotions as usual. */
    expect_read("\"bytes\"", uuid, 1, NULL);

    const char *micros = "{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}";
    const char *millis = "{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}";
    expect_both(micros, millis, 0, 0);
    expect_read(micros, millis, 0,
                "reader long timestamp-micros cannot read writer long timestamp-millis");
    expect_read("\"long\"", micros, 1, NULL);
    /* Unknown logical types are compared as names too. */
    expect_read("{\"type\":\"string\",\"logicalType\":\"x-custom\"}",
                "{\"type\":\"string\",\"logicalType\":\"x-custom\",\"other\":1}", 1, NULL);
    expect_read("{\"type\":\"string\",\"logicalType\":\"x-custom\"}", uuid, 0, NULL);

    const char *d10_2 = "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":10,"
                        "\"scale\":2}";
    const char *d12_2 = "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":12,"
                        "\"scale\":2}";
    const char *d10_3 = "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":10,"
                        "\"scale\":3}";
    const char *d10 = "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":10}";
    const char *d10_0 = "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":10,"
                        "\"scale\":0}";
    expect_read(d12_2, d10_2, 1, NULL);
    expect_read(d10_2, d12_2, 0,
                "reader bytes decimal(10,2) cannot read writer bytes decimal(12,2) (precision "
                "10 is less than 12)");
    expect_both(d10_2, d10_3, 0, 0);
    expect_read(d10_2, d10_3, 0, "(scale 2 is not 3)");
    expect_both(d10, d10_0, 1, 1); /* scale defaults to 0 */
    expect_read("\"bytes\"", d10_2, 1, NULL);
    expect_read(d10_2, "\"bytes\"", 0, "(the logical types differ)");
    /* An invalid decimal is ignored: it is plain bytes. */
    const char *no_precision = "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"scale\":2}";
    const char *scale_too_big = "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":2,"
                                "\"scale\":3}";
    expect_read(no_precision, d10_2, 1, NULL);
    expect_read(scale_too_big, "\"bytes\"", 1, NULL);
    expect_read(d10_2, no_precision, 0, NULL);
    /* Decimal on fixed: name and size as usual, then the decimal rules. */
    const char *fd10 = "{\"type\":\"fixed\",\"name\":\"D\",\"size\":8,\"logicalType\":"
                       "\"decimal\",\"precision\":10,\"scale\":2}";
    const char *fd12 = "{\"type\":\"fixed\",\"name\":\"D\",\"size\":8,\"logicalType\":"
                       "\"decimal\",\"precision\":12,\"scale\":2}";
    expect_read(fd12, fd10, 1, NULL);
    expect_read(fd10, fd12, 0, "reader fixed D(8) decimal(10,2) cannot read writer fixed D(8)");
    expect_both(fd10, d10_2, 0, 0);
    /* Inside a union branch. */
    expect_read("[\"null\",{\"type\":\"string\",\"logicalType\":\"uuid\"}]",
                "[\"null\",\"string\"]", 0,
                "top level: reader string uuid cannot read writer string (the logical types "
                "differ)");
}

static void test_ignored_properties(void)
{
    char a[1024], b[1024];
    rec(a, sizeof a,
        "{\"name\":\"s\",\"type\":{\"type\":\"string\",\"pg.type\":\"text\",\"connect.name\":"
        "\"x\"},\"doc\":\"one\",\"default\":\"a\",\"order\":\"ascending\"}");
    rec(b, sizeof b,
        "{\"name\":\"s\",\"type\":{\"type\":\"string\",\"pg.type\":\"varchar(10)\",\"x-any\":[1,"
        "{\"deep\":true}]},\"doc\":\"two\",\"default\":\"b\",\"order\":\"descending\"}");
    expect_both(a, b, 1, 1);
    expect_both("{\"type\":\"record\",\"name\":\"R\",\"doc\":\"x\",\"fields\":[]}",
                "{\"type\":\"record\",\"name\":\"R\",\"doc\":\"y\",\"x-prop\":{},\"fields\":[]}", 1,
                1);
}

static void test_parse_errors(void)
{
    char deep[8192];
    size_t len = 0;
    for (int i = 0; i < 200; i++)
        len += (size_t)snprintf(deep + len, sizeof deep - len, "{\"type\":\"array\",\"items\":");
    len += (size_t)snprintf(deep + len, sizeof deep - len, "\"int\"");
    for (int i = 0; i < 200 && len + 1 < sizeof deep; i++)
        deep[len++] = '}';
    deep[len] = '\0';

    const struct {
        const char *schema;
        const char *reason;
    } bad[] = {
        {"{\"type\":", "not valid JSON"},
        {"", "not valid JSON"},
        {"42", "not a number"},
        {"{\"name\":\"x\"}", "has no \"type\""},
        {"{\"type\":{\"type\":\"int\"}}", "must be a string"},
        {"\"integer\"", "unknown type name \"integer\""},
        {"{\"type\":\"record\",\"fields\":[]}", "a record has no \"name\""},
        {"{\"type\":\"record\",\"name\":\"R\"}", "record \"R\" has no \"fields\" array"},
        {"{\"type\":\"record\",\"name\":\"1R\",\"fields\":[]}", "is not a valid name"},
        {"{\"type\":\"record\",\"name\":\"int\",\"fields\":[]}", "reserved word"},
        {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"type\":\"int\"}]}",
         "field 0 of record \"R\" has no valid \"name\""},
        {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\"}]}",
         "at field a: the field has no \"type\""},
        {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"},"
         "{\"name\":\"a\",\"type\":\"int\"}]}",
         "two fields named \"a\""},
        {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":{\"type\":"
         "\"record\",\"name\":\"R\",\"fields\":[]}}]}",
         "record \"R\" is defined twice"},
        {"{\"type\":\"enum\",\"name\":\"E\"}", "no \"symbols\" array"},
        {"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"A\"]}", "symbol \"A\" twice"},
        {"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"],\"default\":\"B\"}",
         "not one of its symbols"},
        {"{\"type\":\"fixed\",\"name\":\"F\"}", "no valid \"size\""},
        {"{\"type\":\"array\"}", "has no \"items\""},
        {"{\"type\":\"map\"}", "has no \"values\""},
        {"[\"int\",[\"null\"]]", "union contains a union directly"},
        {"[\"int\",\"null\",{\"type\":\"int\"}]", "two int branches (0 and 2)"},
        {"[{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"]},\"E\"]", "\"E\" twice"},
        {"{\"type\":\"record\",\"name\":\"R\",\"aliases\":\"Q\",\"fields\":[]}",
         "\"aliases\" is not an array"},
        {deep, "nests deeper than 128 levels"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        expect_read(bad[i].schema, "\"int\"", -1, "reader schema: ");
        EXPECT(strstr(why, bad[i].reason) != NULL, "reader %s: why '%s' does not contain '%s'",
               bad[i].schema, why, bad[i].reason);
        expect_read("\"int\"", bad[i].schema, -1, "writer schema: ");
        EXPECT(strstr(why, bad[i].reason) != NULL, "writer %s: why '%s' does not contain '%s'",
               bad[i].schema, why, bad[i].reason);
    }
    expect_read(NULL, "\"int\"", -1, "reader schema: no schema given");

    avro_compat c = AVRO_COMPAT_FULL;
    EXPECT(avro_compat_class("\"int\"", "{\"type\":", &c, why, sizeof why) == -1,
           "a bad new schema is -1");
    EXPECT_CONTAINS(why, "new schema: not valid JSON (line 1");
    EXPECT(avro_compat_class("nope", "\"int\"", &c, why, sizeof why) == -1,
           "a bad old schema is -1");
    EXPECT_CONTAINS(why, "old schema: not valid JSON");
    EXPECT(c == AVRO_COMPAT_FULL, "*out is left alone on a parse error");
    /* why may be absent. */
    EXPECT(avro_can_read("\"long\"", "\"int\"", NULL, 0) == 1, "why NULL");
    EXPECT(avro_can_read("\"int\"", "\"long\"", NULL, 0) == 0, "why NULL");
    EXPECT(avro_can_read("{", "\"long\"", NULL, 0) == -1, "why NULL");
    /* A small why is cut, not overrun. */
    char small[8];
    memset(small, 'x', sizeof small);
    EXPECT(avro_can_read("\"int\"", "\"long\"", small, 5) == 0, "small why");
    EXPECT_STR(small, "top ");
    EXPECT(small[5] == 'x', "why overrun");
}

#define F_ID  "{\"name\":\"id\",\"type\":\"int\"}"
#define F_AMT "{\"name\":\"amount\",\"type\":\"int\"}"

static void test_envelope(void)
{
    static char o[4096], n[4096];
    const char *base = envelope(o, sizeof o, (const char *[]){F_ID, F_AMT, NULL});

    expect_class("identical", base, envelope(n, sizeof n, (const char *[]){F_ID, F_AMT, NULL}),
                 AVRO_COMPAT_FULL, NULL);
    expect_class("add nullable field", base,
                 envelope(n, sizeof n,
                          (const char *[]){F_ID, F_AMT,
                                           "{\"name\":\"c\",\"type\":[\"null\",\"int\"],"
                                           "\"default\":null}",
                                           NULL}),
                 AVRO_COMPAT_FULL, NULL);
    expect_class(
        "add int with default", base,
        envelope(
            n, sizeof n,
            (const char *[]){F_ID, F_AMT, "{\"name\":\"c\",\"type\":\"int\",\"default\":0}", NULL}),
        AVRO_COMPAT_FULL, NULL);
    expect_class("add int without default", base,
                 envelope(n, sizeof n,
                          (const char *[]){F_ID, F_AMT, "{\"name\":\"c\",\"type\":\"int\"}", NULL}),
                 AVRO_COMPAT_FORWARD,
                 "BACKWARD fails (the new schema cannot read old data): field before.Value.c: not "
                 "in the writer's schema, and the reader's field has no default");

    const char *with_c = "{\"name\":\"c\",\"type\":[\"null\",\"int\"],\"default\":null}";
    expect_class(
        "drop nullable field", envelope(o, sizeof o, (const char *[]){F_ID, F_AMT, with_c, NULL}),
        envelope(n, sizeof n, (const char *[]){F_ID, F_AMT, NULL}), AVRO_COMPAT_FULL, NULL);
    expect_class("drop int without default",
                 envelope(o, sizeof o, (const char *[]){F_ID, F_AMT, NULL}),
                 envelope(n, sizeof n, (const char *[]){F_ID, NULL}), AVRO_COMPAT_BACKWARD,
                 "FORWARD fails (the old schema cannot read new data): field before.Value.amount: "
                 "not in the writer's schema");
    expect_class("rename int", envelope(o, sizeof o, (const char *[]){F_ID, F_AMT, NULL}),
                 envelope(n, sizeof n,
                          (const char *[]){F_ID, "{\"name\":\"total\",\"type\":\"int\"}", NULL}),
                 AVRO_COMPAT_NONE,
                 "BACKWARD fails (the new schema cannot read old data): field before.Value.total: "
                 "not in the writer's schema, and the reader's field has no default; FORWARD "
                 "fails (the old schema cannot read new data): field before.Value.amount: not in "
                 "the writer's schema");
    expect_class("int to long", envelope(o, sizeof o, (const char *[]){F_ID, F_AMT, NULL}),
                 envelope(n, sizeof n,
                          (const char *[]){F_ID, "{\"name\":\"amount\",\"type\":\"long\"}", NULL}),
                 AVRO_COMPAT_BACKWARD,
                 "FORWARD fails (the old schema cannot read new data): field "
                 "before.Value.amount: reader int cannot read writer long");
    expect_class("long to int",
                 envelope(o, sizeof o,
                          (const char *[]){F_ID, "{\"name\":\"amount\",\"type\":\"long\"}", NULL}),
                 envelope(n, sizeof n, (const char *[]){F_ID, F_AMT, NULL}), AVRO_COMPAT_FORWARD,
                 "field before.Value.amount: reader int cannot read writer long");
    expect_class("pg.type differs",
                 envelope(o, sizeof o,
                          (const char *[]){F_ID,
                                           "{\"name\":\"s\",\"type\":{\"type\":\"string\","
                                           "\"pg.type\":\"text\"}}",
                                           NULL}),
                 envelope(n, sizeof n,
                          (const char *[]){F_ID,
                                           "{\"name\":\"s\",\"type\":{\"type\":\"string\","
                                           "\"pg.type\":\"varchar(20)\"}}",
                                           NULL}),
                 AVRO_COMPAT_FULL, NULL);

    const char *dec10_2 = "{\"name\":\"price\",\"type\":{\"type\":\"bytes\",\"logicalType\":"
                          "\"decimal\",\"precision\":10,\"scale\":2}}";
    const char *dec12_2 = "{\"name\":\"price\",\"type\":{\"type\":\"bytes\",\"logicalType\":"
                          "\"decimal\",\"precision\":12,\"scale\":2}}";
    const char *dec10_3 = "{\"name\":\"price\",\"type\":{\"type\":\"bytes\",\"logicalType\":"
                          "\"decimal\",\"precision\":10,\"scale\":3}}";
    expect_class("decimal(10,2) to decimal(12,2)",
                 envelope(o, sizeof o, (const char *[]){F_ID, dec10_2, NULL}),
                 envelope(n, sizeof n, (const char *[]){F_ID, dec12_2, NULL}), AVRO_COMPAT_BACKWARD,
                 "precision 10 is less than 12");
    expect_class("decimal(10,2) to decimal(10,3)",
                 envelope(o, sizeof o, (const char *[]){F_ID, dec10_2, NULL}),
                 envelope(n, sizeof n, (const char *[]){F_ID, dec10_3, NULL}), AVRO_COMPAT_NONE,
                 "field before.Value.price: reader bytes decimal(10,3) cannot read writer bytes "
                 "decimal(10,2) (scale 3 is not 2)");

    const char *opt = "{\"name\":\"amount\",\"type\":[\"null\",\"int\"],\"default\":null}";
    expect_class("[null,int] to int", envelope(o, sizeof o, (const char *[]){F_ID, opt, NULL}),
                 envelope(n, sizeof n, (const char *[]){F_ID, F_AMT, NULL}), AVRO_COMPAT_FORWARD,
                 "field before.Value.amount: reader int cannot read writer null");
    expect_class("int to [null,int]", envelope(o, sizeof o, (const char *[]){F_ID, F_AMT, NULL}),
                 envelope(n, sizeof n, (const char *[]){F_ID, opt, NULL}), AVRO_COMPAT_BACKWARD,
                 NULL);

    /* The same through avro_can_read: "after" refers to Value by name. */
    envelope(o, sizeof o, (const char *[]){F_ID, F_AMT, NULL});
    envelope(n, sizeof n, (const char *[]){F_ID, "{\"name\":\"amount\",\"type\":\"long\"}", NULL});
    expect_read(n, o, 1, NULL);
    expect_read(o, n, 0, "field before.Value.amount: reader int cannot read writer long");

    /* A different table (namespace) with the same shape is still readable:
     * names compare unqualified. */
    char other[4096];
    snprintf(other, sizeof other, "%s", o);
    char *ns = strstr(other, "tw.public.t");
    EXPECT(ns != NULL, "envelope namespace");
    if (ns)
        ns[10] = 'u';
    expect_class("other namespace", o, other, AVRO_COMPAT_FULL, NULL);
}

static void test_names_and_satisfies(void)
{
    EXPECT_STR(avro_compat_name(AVRO_COMPAT_NONE), "NONE");
    EXPECT_STR(avro_compat_name(AVRO_COMPAT_BACKWARD), "BACKWARD");
    EXPECT_STR(avro_compat_name(AVRO_COMPAT_FORWARD), "FORWARD");
    EXPECT_STR(avro_compat_name(AVRO_COMPAT_FULL), "FULL");
    EXPECT_STR(avro_compat_name((avro_compat)7), "UNKNOWN");

    static const struct {
        const char *s;
        int rc;
        avro_compat want;
    } parse[] = {
        {"NONE", 0, AVRO_COMPAT_NONE},
        {"backward", 0, AVRO_COMPAT_BACKWARD},
        {"Forward", 0, AVRO_COMPAT_FORWARD},
        {"fUlL", 0, AVRO_COMPAT_FULL},
        {"FULL_TRANSITIVE", -1, AVRO_COMPAT_NONE},
        {"FUL", -1, AVRO_COMPAT_NONE},
        {"", -1, AVRO_COMPAT_NONE},
        {" FULL", -1, AVRO_COMPAT_NONE},
    };
    for (size_t i = 0; i < sizeof parse / sizeof parse[0]; i++) {
        avro_compat c = (avro_compat)42;
        int rc = avro_compat_parse(parse[i].s, &c);
        EXPECT(rc == parse[i].rc, "parse '%s': got %d, want %d", parse[i].s, rc, parse[i].rc);
        if (parse[i].rc == 0)
            EXPECT(c == parse[i].want, "parse '%s': got %d", parse[i].s, (int)c);
        else
            EXPECT((int)c == 42, "parse '%s' changed *out", parse[i].s);
    }
    avro_compat c;
    EXPECT(avro_compat_parse(NULL, &c) == -1, "NULL parses to nothing");

    /* sat[have][required] */
    static const int sat[4][4] = {
        /* NONE BACKWARD FORWARD FULL */
        {1, 0, 0, 0}, /* NONE */
        {1, 1, 0, 0}, /* BACKWARD */
        {1, 0, 1, 0}, /* FORWARD */
        {1, 1, 1, 1}, /* FULL */
    };
    for (int h = 0; h < 4; h++)
        for (int r = 0; r < 4; r++)
            EXPECT(avro_compat_satisfies((avro_compat)h, (avro_compat)r) == sat[h][r],
                   "%s satisfies %s: want %d", avro_compat_name((avro_compat)h),
                   avro_compat_name((avro_compat)r), sat[h][r]);
    EXPECT(!avro_compat_satisfies((avro_compat)4, AVRO_COMPAT_NONE), "out of range");
}

int main(void)
{
    test_primitives();
    test_records();
    test_enums();
    test_fixed();
    test_arrays_and_maps();
    test_unions();
    test_names();
    test_recursion();
    test_logical_types();
    test_ignored_properties();
    test_parse_errors();
    test_envelope();
    test_names_and_satisfies();
    return tw_test_exit("test_avro_compat");
}
