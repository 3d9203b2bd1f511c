#include "schemas/pgtypes.h"

#include "agent/errbuf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the builtin types Tidewater knows ---- */

/* How a type family maps, before typmod and options are applied. */
typedef enum {
    TC_BOOL,
    TC_INT2,
    TC_INT4,
    TC_INT8,
    TC_OID,
    TC_FLOAT4,
    TC_FLOAT8,
    TC_NUMERIC,
    TC_MONEY,
    TC_STRING,
    TC_JSON,
    TC_UUID,
    TC_BYTEA,
    TC_DATE,
    TC_TIME,
    TC_TIMESTAMP,
    TC_TIMESTAMPTZ,
    TC_TEXTFORM, /* a type DESIGN.md maps to its text form on purpose */
    TC_UNKNOWN,  /* builtin, but not in the mapping: text form plus a warning */
} type_class;

typedef struct {
    uint32_t oid, array_oid; /* from PostgreSQL's pg_type.dat */
    const char *name, *array_name;
    type_class cls;
} builtin_type;

static const builtin_type builtins[] = {
    {16, 1000, "bool", "_bool", TC_BOOL},
    {17, 1001, "bytea", "_bytea", TC_BYTEA},
    {18, 1002, "char", "_char", TC_STRING},
    {19, 1003, "name", "_name", TC_STRING},
    {20, 1016, "int8", "_int8", TC_INT8},
    {21, 1005, "int2", "_int2", TC_INT2},
    {22, 1006, "int2vector", "_int2vector", TC_UNKNOWN},
    {23, 1007, "int4", "_int4", TC_INT4},
    {24, 1008, "regproc", "_regproc", TC_UNKNOWN},
    {25, 1009, "text", "_text", TC_STRING},
    {26, 1028, "oid", "_oid", TC_OID},
    {27, 1010, "tid", "_tid", TC_UNKNOWN},
    {28, 1011, "xid", "_xid", TC_UNKNOWN},
    {29, 1012, "cid", "_cid", TC_UNKNOWN},
    {30, 1013, "oidvector", "_oidvector", TC_UNKNOWN},
    {114, 199, "json", "_json", TC_JSON},
    {142, 143, "xml", "_xml", TC_STRING},
    {600, 1017, "point", "_point", TC_TEXTFORM},
    {601, 1018, "lseg", "_lseg", TC_TEXTFORM},
    {602, 1019, "path", "_path", TC_TEXTFORM},
    {603, 1020, "box", "_box", TC_TEXTFORM},
    {604, 1027, "polygon", "_polygon", TC_TEXTFORM},
    {628, 629, "line", "_line", TC_TEXTFORM},
    {650, 651, "cidr", "_cidr", TC_TEXTFORM},
    {700, 1021, "float4", "_float4", TC_FLOAT4},
    {701, 1022, "float8", "_float8", TC_FLOAT8},
    {718, 719, "circle", "_circle", TC_TEXTFORM},
    {774, 775, "macaddr8", "_macaddr8", TC_TEXTFORM},
    {790, 791, "money", "_money", TC_MONEY},
    {829, 1040, "macaddr", "_macaddr", TC_TEXTFORM},
    {869, 1041, "inet", "_inet", TC_TEXTFORM},
    {1033, 1034, "aclitem", "_aclitem", TC_UNKNOWN},
    {1042, 1014, "bpchar", "_bpchar", TC_STRING},
    {1043, 1015, "varchar", "_varchar", TC_STRING},
    {1082, 1182, "date", "_date", TC_DATE},
    {1083, 1183, "time", "_time", TC_TIME},
    {1114, 1115, "timestamp", "_timestamp", TC_TIMESTAMP},
    {1184, 1185, "timestamptz", "_timestamptz", TC_TIMESTAMPTZ},
    {1186, 1187, "interval", "_interval", TC_TEXTFORM},
    {1266, 1270, "timetz", "_timetz", TC_TEXTFORM},
    {1560, 1561, "bit", "_bit", TC_TEXTFORM},
    {1562, 1563, "varbit", "_varbit", TC_TEXTFORM},
    {1700, 1231, "numeric", "_numeric", TC_NUMERIC},
    {1790, 2201, "refcursor", "_refcursor", TC_STRING},
    {2205, 2210, "regclass", "_regclass", TC_UNKNOWN},
    {2206, 2211, "regtype", "_regtype", TC_UNKNOWN},
    {2950, 2951, "uuid", "_uuid", TC_UUID},
    {2970, 2949, "txid_snapshot", "_txid_snapshot", TC_UNKNOWN},
    {3220, 3221, "pg_lsn", "_pg_lsn", TC_UNKNOWN},
    {3614, 3643, "tsvector", "_tsvector", TC_TEXTFORM},
    {3615, 3645, "tsquery", "_tsquery", TC_TEXTFORM},
    {3802, 3807, "jsonb", "_jsonb", TC_JSON},
    {3904, 3905, "int4range", "_int4range", TC_TEXTFORM},
    {3906, 3907, "numrange", "_numrange", TC_TEXTFORM},
    {3908, 3909, "tsrange", "_tsrange", TC_TEXTFORM},
    {3910, 3911, "tstzrange", "_tstzrange", TC_TEXTFORM},
    {3912, 3913, "daterange", "_daterange", TC_TEXTFORM},
    {3926, 3927, "int8range", "_int8range", TC_TEXTFORM},
    {4072, 4073, "jsonpath", "_jsonpath", TC_UNKNOWN},
    {4451, 6150, "int4multirange", "_int4multirange", TC_TEXTFORM},
    {4532, 6151, "nummultirange", "_nummultirange", TC_TEXTFORM},
    {4533, 6152, "tsmultirange", "_tsmultirange", TC_TEXTFORM},
    {4534, 6153, "tstzmultirange", "_tstzmultirange", TC_TEXTFORM},
    {4535, 6155, "datemultirange", "_datemultirange", TC_TEXTFORM},
    {4536, 6157, "int8multirange", "_int8multirange", TC_TEXTFORM},
    {5038, 5039, "pg_snapshot", "_pg_snapshot", TC_UNKNOWN},
    {5069, 271, "xid8", "_xid8", TC_UNKNOWN},
};
#define NBUILTINS (sizeof builtins / sizeof builtins[0])

#define BOX_OID 603

static const builtin_type *builtin_by_oid(uint32_t oid)
{
    for (size_t i = 0; i < NBUILTINS; i++)
        if (builtins[i].oid == oid)
            return &builtins[i];
    return NULL;
}

static const builtin_type *builtin_by_array_oid(uint32_t oid)
{
    for (size_t i = 0; i < NBUILTINS; i++)
        if (builtins[i].array_oid == oid)
            return &builtins[i];
    return NULL;
}

const char *pgt_builtin_name(uint32_t oid)
{
    const builtin_type *b = builtin_by_oid(oid);
    if (b)
        return b->name;
    b = builtin_by_array_oid(oid);
    return b ? b->array_name : NULL;
}

/* ---- errors ---- */

static void append_err(char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void append_err(char *err, size_t errsize, const char *fmt, ...)
{
    if (!err || errsize == 0)
        return;
    size_t used = strnlen(err, errsize);
    if (used + 1 >= errsize)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + used, errsize - used, fmt, ap);
    va_end(ap);
}

#define EXCERPT_MAX 40

/* A printable excerpt of a value for messages: at most EXCERPT_MAX bytes,
 * control characters and quotes replaced, "..." when cut. */
static const char *excerpt(char out[EXCERPT_MAX + 4], const char *s, size_t n)
{
    size_t k = n > EXCERPT_MAX ? EXCERPT_MAX : n;
    for (size_t i = 0; i < k; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c < 0x20 || c == 0x7f || c == '\'') ? '?' : (char)c;
    }
    if (n > k) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
    return out;
}

/* Status PGT_ERROR with "invalid <type> value '<excerpt>': <why>". */
static int bad_value(char *err, size_t errsize, const char *type, const char *s, size_t n,
                     const char *why)
{
    char ex[EXCERPT_MAX + 4];
    tw_errf(err, errsize, "invalid %s value '%s': %s", type, excerpt(ex, s, n), why);
    return PGT_ERROR;
}

static int unrepresentable(char *err, size_t errsize, const char *type, const char *s, size_t n,
                           const char *why)
{
    char ex[EXCERPT_MAX + 4];
    tw_errf(err, errsize, "%s value '%s' cannot be represented in Avro: %s", type,
            excerpt(ex, s, n), why);
    return PGT_UNREPRESENTABLE;
}

/* ---- plans ---- */

static type_class class_of(uint32_t oid, char typtype, char typcategory)
{
    const builtin_type *b = builtin_by_oid(oid);
    if (b)
        return b->cls;
    /* Enums, composites, ranges and multiranges have a well-defined text
     * form the consumer can parse; mapping them is the design, not a gap. */
    if (typtype == 'e' || typtype == 'c' || typtype == 'r' || typtype == 'm')
        return TC_TEXTFORM;
    /* Extension string types (citext) are category 'S'. */
    if (typcategory == 'S')
        return TC_STRING;
    return TC_UNKNOWN;
}

/* numeric's typmod is ((precision << 16) | scale) + VARHDRSZ; since
 * PostgreSQL 15 the scale is an 11-bit signed field (-1000..1000). */
static int numeric_typmod(int32_t typmod, int32_t *precision, int32_t *scale, char *err,
                          size_t errsize)
{
    uint32_t t = (uint32_t)(typmod - 4);
    int32_t p = (int32_t)((t >> 16) & 0xffff);
    int32_t s = (int32_t)(((t & 0x7ff) ^ 1024)) - 1024;
    if ((t & 0xf800) != 0 || p < 1 || p > 1000 || s < -1000 || s > 1000) {
        tw_errf(err, errsize,
                "numeric typmod %d does not encode a precision of 1 to 1000 and a scale of "
                "-1000 to 1000",
                (int)typmod);
        return -1;
    }
    /* Avro needs 0 <= scale <= precision. numeric(p,-k) holds integers of
     * up to p+k digits; numeric(p,s) with s > p holds fractions below
     * 10^(p-s), i.e. at most s unscaled digits. */
    if (s < 0) {
        *precision = p - s;
        *scale = 0;
    } else {
        *precision = s > p ? s : p;
        *scale = s;
    }
    return 0;
}

static int plan_scalar(pgt_plan *p, uint32_t oid, int32_t typmod, char typtype, char typcategory,
                       pgt_decimal_handling dh, char *err, size_t errsize)
{
    switch (class_of(oid, typtype, typcategory)) {
    case TC_BOOL:
        p->kind = PGT_BOOLEAN;
        break;
    case TC_INT2:
        p->kind = PGT_INT2;
        break;
    case TC_INT4:
        p->kind = PGT_INT4;
        break;
    case TC_INT8:
        p->kind = PGT_INT8;
        break;
    case TC_OID:
        p->kind = PGT_OID;
        break;
    case TC_FLOAT4:
        p->kind = PGT_FLOAT4;
        break;
    case TC_FLOAT8:
        p->kind = PGT_FLOAT8;
        break;
    case TC_NUMERIC:
        if (dh == PGT_DECIMAL_DOUBLE) {
            p->kind = PGT_NUMERIC_DOUBLE;
        } else if (dh == PGT_DECIMAL_STRING || typmod < 4) {
            /* Without a typmod there is no fixed scale, and a decimal needs
             * one: the exact text keeps every digit. */
            p->kind = PGT_STRING;
        } else {
            p->kind = PGT_NUMERIC_DECIMAL;
            if (numeric_typmod(typmod, &p->precision, &p->scale, err, errsize) != 0)
                return -1;
        }
        break;
    case TC_MONEY:
        /* money is an int64 count of cents (lc_monetary=C has 2 fraction
         * digits): 19 digits hold every value. */
        p->kind = dh == PGT_DECIMAL_DOUBLE   ? PGT_MONEY_DOUBLE
                  : dh == PGT_DECIMAL_STRING ? PGT_MONEY_STRING
                                             : PGT_MONEY_DECIMAL;
        p->precision = 19;
        p->scale = 2;
        break;
    case TC_STRING:
    case TC_TEXTFORM:
        p->kind = PGT_STRING;
        break;
    case TC_UNKNOWN:
        p->kind = PGT_STRING;
        p->warn_unknown = 1;
        break;
    case TC_JSON:
        p->kind = PGT_JSON;
        break;
    case TC_UUID:
        p->kind = PGT_UUID;
        break;
    case TC_BYTEA:
        p->kind = PGT_BYTEA;
        break;
    case TC_DATE:
        p->kind = PGT_DATE;
        break;
    case TC_TIME:
        p->kind = PGT_TIME;
        break;
    case TC_TIMESTAMP:
        p->kind = PGT_TIMESTAMP;
        break;
    case TC_TIMESTAMPTZ:
        p->kind = PGT_TIMESTAMPTZ;
        break;
    }
    return 0;
}

int pgt_plan_for(const pgt_type_info *t, const pgt_options *opts, pgt_plan *p, char *err,
                 size_t errsize)
{
    memset(p, 0, sizeof *p);
    pgt_decimal_handling dh = opts ? opts->decimal_handling : PGT_DECIMAL_PRECISE;
    p->oid = t->oid;
    const char *name = t->typname ? t->typname : pgt_builtin_name(t->oid);
    if (name)
        snprintf(p->type_name, sizeof p->type_name, "%s", name);
    else
        snprintf(p->type_name, sizeof p->type_name, "type %u", (unsigned)t->oid);

    if (t->typtype == 'd') {
        tw_errf(err, errsize,
                "type %s is a domain: resolve it to its base type before planning the column",
                p->type_name);
        return -1;
    }

    /* Builtin array oids are known here, so a caller that reads nothing
     * from the catalog still gets arrays of builtins right. int2vector and
     * oidvector are category 'A' but print space-separated, not as arrays:
     * the builtin table catches them first. */
    uint32_t elem = 0;
    char etype = 0, ecat = 0;
    const builtin_type *ab = builtin_by_oid(t->oid) ? NULL : builtin_by_array_oid(t->oid);
    if (ab) {
        elem = ab->oid;
    } else if (!builtin_by_oid(t->oid) && t->typcategory == 'A' && t->elem_oid != 0) {
        elem = t->elem_oid;
        etype = t->elem_typtype;
        ecat = t->elem_typcategory;
    }
    if (!elem)
        return plan_scalar(p, t->oid, t->typmod, t->typtype, t->typcategory, dh, err, errsize);

    if (etype == 'd') {
        tw_errf(err, errsize,
                "the element type %u of %s is a domain: resolve it to its base type before "
                "planning the column",
                (unsigned)elem, p->type_name);
        return -1;
    }
    if (builtin_by_array_oid(elem) || ecat == 'A') {
        tw_errf(err, errsize,
                "type %s is an array whose element type %u is itself an array, which "
                "PostgreSQL does not create",
                p->type_name, (unsigned)elem);
        return -1;
    }
    p->is_array = 1;
    p->elem_oid = elem;
    const char *ename = t->elem_typname ? t->elem_typname : pgt_builtin_name(elem);
    if (ename)
        snprintf(p->elem_name, sizeof p->elem_name, "%s", ename);
    else
        snprintf(p->elem_name, sizeof p->elem_name, "type %u", (unsigned)elem);
    p->delim = t->elem_typdelim ? t->elem_typdelim : elem == BOX_OID ? ';' : ',';
    return plan_scalar(p, elem, t->typmod, etype, ecat, dh, err, errsize);
}

/* ---- schema JSON ---- */

static void write_scalar_json(const pgt_plan *p, tw_buf *out, int canonical)
{
    switch (p->kind) {
    case PGT_BOOLEAN:
        tw_buf_puts(out, "\"boolean\"");
        return;
    case PGT_INT2:
    case PGT_INT4:
        tw_buf_puts(out, "\"int\"");
        return;
    case PGT_INT8:
    case PGT_OID:
        tw_buf_puts(out, "\"long\"");
        return;
    case PGT_FLOAT4:
        tw_buf_puts(out, "\"float\"");
        return;
    case PGT_FLOAT8:
    case PGT_NUMERIC_DOUBLE:
    case PGT_MONEY_DOUBLE:
        tw_buf_puts(out, "\"double\"");
        return;
    case PGT_NUMERIC_DECIMAL:
    case PGT_MONEY_DECIMAL:
        if (canonical)
            tw_buf_puts(out, "\"bytes\"");
        else
            tw_buf_printf(out,
                          "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":%d,"
                          "\"scale\":%d}",
                          (int)p->precision, (int)p->scale);
        return;
    case PGT_STRING:
    case PGT_MONEY_STRING:
        tw_buf_puts(out, "\"string\"");
        return;
    case PGT_JSON:
        tw_buf_puts(out, canonical ? "\"string\""
                                   : "{\"type\":\"string\",\"connect.name\":"
                                     "\"io.debezium.data.Json\"}");
        return;
    case PGT_UUID:
        tw_buf_puts(out,
                    canonical ? "\"string\"" : "{\"type\":\"string\",\"logicalType\":\"uuid\"}");
        return;
    case PGT_BYTEA:
        tw_buf_puts(out, "\"bytes\"");
        return;
    case PGT_DATE:
        tw_buf_puts(out, canonical ? "\"int\"" : "{\"type\":\"int\",\"logicalType\":\"date\"}");
        return;
    case PGT_TIME:
        tw_buf_puts(out,
                    canonical ? "\"long\"" : "{\"type\":\"long\",\"logicalType\":\"time-micros\"}");
        return;
    case PGT_TIMESTAMP:
        tw_buf_puts(out, canonical ? "\"long\""
                                   : "{\"type\":\"long\",\"logicalType\":"
                                     "\"local-timestamp-micros\"}");
        return;
    case PGT_TIMESTAMPTZ:
        tw_buf_puts(out, canonical ? "\"long\""
                                   : "{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}");
        return;
    }
}

static void write_json(const pgt_plan *p, tw_buf *out, int canonical)
{
    if (!p->is_array) {
        write_scalar_json(p, out, canonical);
        return;
    }
    /* Canonical form orders array attributes type, items: the same order
     * serves both forms. */
    tw_buf_puts(out, "{\"type\":\"array\",\"items\":[\"null\",");
    write_scalar_json(p, out, canonical);
    tw_buf_puts(out, "]}");
}

void pgt_write_avro_json(const pgt_plan *plan, tw_buf *out)
{
    write_json(plan, out, 0);
}

void pgt_write_avro_canonical(const pgt_plan *plan, tw_buf *out)
{
    write_json(plan, out, 1);
}

/* ---- text parsing helpers ---- */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int text_is(const char *s, size_t n, const char *lit)
{
    size_t k = strlen(lit);
    return n == k && memcmp(s, lit, k) == 0;
}

/* Reads exactly k digits at s[*i]. */
static int fixed_digits(const char *s, size_t n, size_t *i, int k, int *out)
{
    int v = 0;
    for (int j = 0; j < k; j++) {
        if (*i >= n || !is_digit(s[*i]))
            return -1;
        v = v * 10 + (s[(*i)++] - '0');
    }
    *out = v;
    return 0;
}

static int parse_i64(const char *s, size_t n, int64_t *out, const char **why)
{
    size_t i = 0;
    int neg = 0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    if (i == n) {
        *why = "expected an integer";
        return -1;
    }
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    for (; i < n; i++) {
        if (!is_digit(s[i])) {
            *why = "expected an integer";
            return -1;
        }
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (limit - d) / 10) {
            *why = "out of the 64-bit integer range";
            return -1;
        }
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/* [-+]digits[.digits][e[-+]digits], at least one mantissa digit. */
static int float_syntax_ok(const char *s, size_t n)
{
    size_t i = 0, nd = 0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        i++;
    while (i < n && is_digit(s[i]))
        i++, nd++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && is_digit(s[i]))
            i++, nd++;
    }
    if (nd == 0)
        return 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+'))
            i++;
        size_t ne = 0;
        while (i < n && is_digit(s[i]))
            i++, ne++;
        if (ne == 0)
            return 0;
    }
    return i == n;
}

/* float4/float8 text: shortest-exact digits (extra_float_digits=3) or
 * NaN/Infinity/-Infinity, which Avro float and double hold as IEEE does. */
static int parse_float(const char *s, size_t n, int single, double *d, float *f, const char **why)
{
    if (text_is(s, n, "NaN")) {
        *d = NAN;
        *f = NAN;
        return 0;
    }
    if (text_is(s, n, "Infinity") || text_is(s, n, "-Infinity")) {
        *d = s[0] == '-' ? -INFINITY : INFINITY;
        *f = (float)*d;
        return 0;
    }
    char buf[64];
    if (n >= sizeof buf || !float_syntax_ok(s, n)) {
        *why = "expected a floating-point number, NaN, Infinity or -Infinity";
        return -1;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    /* Underflow to a subnormal or zero sets ERANGE but is the right value;
     * only overflow to infinity from finite digits is wrong. */
    if (single) {
        *f = strtof(buf, NULL);
        if (isinf(*f)) {
            *why = "out of the float4 range";
            return -1;
        }
    } else {
        *d = strtod(buf, NULL);
        if (isinf(*d)) {
            *why = "out of the float8 range";
            return -1;
        }
    }
    return 0;
}

/* numeric's special values, which no decimal can hold. */
static int numeric_special(const char *s, size_t n)
{
    return text_is(s, n, "NaN") || text_is(s, n, "Infinity") || text_is(s, n, "-Infinity");
}

/* Splits [-+]digits[.digits]; at least one digit. */
static int split_decimal(const char *s, size_t n, int *neg, const char **ip, size_t *ni,
                         const char **fp, size_t *nf)
{
    size_t i = 0;
    *neg = 0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        *neg = s[i++] == '-';
    *ip = s + i;
    while (i < n && is_digit(s[i]))
        i++;
    *ni = (size_t)(s + i - *ip);
    *fp = s + i;
    *nf = 0;
    if (i < n && s[i] == '.') {
        *fp = s + ++i;
        while (i < n && is_digit(s[i]))
            i++;
        *nf = (size_t)(s + i - *fp);
    }
    return i == n && *ni + *nf > 0 ? 0 : -1;
}

/* Exact decimal text to the nearest double. strtod rounds correctly, but an
 * unconstrained numeric can have 100000+ digits: keep 800 significant
 * digits (more than the 767 that can decide a rounding tie) and stand for
 * the dropped ones with a trailing 1 when any was non-zero, which keeps
 * their effect on rounding without the stack holding them. */
static int decimal_to_double(const char *s, size_t n, double *out, const char **why)
{
    int neg;
    const char *ip, *fp;
    size_t ni, nf;
    if (split_decimal(s, n, &neg, &ip, &ni, &fp, &nf) != 0) {
        *why = "expected a decimal number, NaN, Infinity or -Infinity";
        return -1;
    }
    char buf[840];
    size_t k = 0, kept = 0;
    int started = 0, sticky = 0;
    long long exp10 = -(long long)nf;
    if (neg)
        buf[k++] = '-';
    for (size_t j = 0; j < ni + nf; j++) {
        char c = j < ni ? ip[j] : fp[j - ni];
        if (!started && c == '0')
            continue;
        started = 1;
        if (kept < 800) {
            buf[k++] = c;
            kept++;
        } else {
            exp10++;
            sticky |= c != '0';
        }
    }
    if (!started) {
        *out = 0.0;
        return 0;
    }
    if (sticky) {
        buf[k++] = '1';
        exp10--;
    }
    snprintf(buf + k, sizeof buf - k, "e%lld", exp10);
    *out = strtod(buf, NULL);
    return 0;
}

/* money text under lc_monetary=C ("$1,234.56", "-$1,234.56"; also a
 * parenthesised negative) to plain "-1234.56" in buf. */
static int money_plain(const char *s, size_t n, char *buf, size_t bufsize, size_t *blen,
                       const char **why)
{
    size_t i = 0, k = 0;
    int neg = 0, paren = 0;
    *why = "expected a money amount like $1,234.56";
    if (i < n && s[i] == '(')
        paren = neg = 1, i++;
    if (i < n && s[i] == '-')
        neg = 1, i++;
    if (i < n && s[i] == '$')
        i++;
    if (!neg && i < n && s[i] == '-')
        neg = 1, i++;
    if (neg)
        buf[k++] = '-';
    size_t nd = 0;
    for (; i < n; i++) {
        if (is_digit(s[i])) {
            if (k + 2 >= bufsize)
                return -1;
            buf[k++] = s[i];
            nd++;
        } else if (s[i] == ',' && nd > 0 && i + 1 < n && is_digit(s[i + 1])) {
            continue; /* thousands separator */
        } else {
            break;
        }
    }
    if (nd == 0)
        return -1;
    if (i < n && s[i] == '.') {
        buf[k++] = s[i++];
        size_t nfd = 0;
        while (i < n && is_digit(s[i])) {
            if (k + 2 >= bufsize)
                return -1;
            buf[k++] = s[i++];
            nfd++;
        }
        if (nfd == 0)
            return -1;
    }
    if (paren && !(i < n && s[i++] == ')'))
        return -1;
    if (i != n)
        return -1;
    buf[k] = '\0';
    *blen = k;
    return 0;
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int uuid_ok(const char *s, size_t n)
{
    if (n != 36)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (hex_value((unsigned char)s[i]) < 0) {
            return 0;
        }
    }
    return 1;
}

/* ---- dates and times ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar with
 * astronomical years (1 BC = 0). Days before Y-01-01 counted from year 0
 * are 365*Y plus the leap years in [0, Y): floor((Y+3)/4) - floor((Y+99)/100)
 * + floor((Y+399)/400), a count that also holds for negative Y. */
static int64_t days_from_epoch(int64_t y, int m, int d)
{
    static const int before_month[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    int64_t days = 365 * y + floor_div(y + 3, 4) - floor_div(y + 99, 100) + floor_div(y + 399, 400);
    days += before_month[m - 1] + (m > 2 && is_leap(y)) + (d - 1);
    return days - 719528; /* days from 0000-01-01 to 1970-01-01 */
}

typedef struct {
    int64_t year; /* as printed, >= 1; made astronomical by the BC suffix */
    int month, day;
} ymd;

/* YYYY-MM-DD with 4 to 7 year digits (PostgreSQL zero-pads to 4 and
 * allows years up to 5874897). */
static int parse_ymd(const char *s, size_t n, size_t *i, ymd *out, const char **why)
{
    int64_t y = 0;
    int nd = 0;
    while (*i < n && is_digit(s[*i]) && nd < 8) {
        y = y * 10 + (s[(*i)++] - '0');
        nd++;
    }
    if (nd < 4 || nd > 7 || *i >= n || s[*i] != '-') {
        *why = "expected YYYY-MM-DD";
        return -1;
    }
    if (y == 0) {
        *why = "year 0 does not exist (1 BC precedes 1 AD)";
        return -1;
    }
    (*i)++;
    if (fixed_digits(s, n, i, 2, &out->month) != 0 || *i >= n || s[(*i)++] != '-' ||
        fixed_digits(s, n, i, 2, &out->day) != 0) {
        *why = "expected YYYY-MM-DD";
        return -1;
    }
    out->year = y;
    return 0;
}

/* Applies an optional " BC" at s[*i] and checks the calendar. */
static int finish_ymd(const char *s, size_t n, size_t *i, ymd *d, const char **why)
{
    if (n - *i == 3 && memcmp(s + *i, " BC", 3) == 0) {
        d->year = 1 - d->year;
        *i += 3;
    }
    if (d->month < 1 || d->month > 12) {
        *why = "month out of range";
        return -1;
    }
    if (d->day < 1 || d->day > days_in_month(d->year, d->month)) {
        *why = "day out of range for the month";
        return -1;
    }
    return 0;
}

#define USECS_PER_SEC  INT64_C(1000000)
#define USECS_PER_DAY  (INT64_C(86400) * USECS_PER_SEC)
#define USECS_PER_HOUR (INT64_C(3600) * USECS_PER_SEC)

/* HH:MM:SS[.f{1,6}] as microseconds after midnight. max_hour 24 admits
 * time's 24:00:00, which must then be exact. */
static int parse_hms(const char *s, size_t n, size_t *i, int max_hour, int64_t *us,
                     const char **why)
{
    int h, m, sec;
    *why = "expected HH:MM:SS[.ffffff]";
    if (fixed_digits(s, n, i, 2, &h) != 0 || *i >= n || s[(*i)++] != ':' ||
        fixed_digits(s, n, i, 2, &m) != 0 || *i >= n || s[(*i)++] != ':' ||
        fixed_digits(s, n, i, 2, &sec) != 0)
        return -1;
    int64_t frac = 0;
    if (*i < n && s[*i] == '.') {
        (*i)++;
        int nd = 0;
        while (*i < n && is_digit(s[*i])) {
            if (++nd > 6) {
                *why = "more than 6 fractional second digits";
                return -1;
            }
            frac = frac * 10 + (s[(*i)++] - '0');
        }
        if (nd == 0)
            return -1;
        for (; nd < 6; nd++)
            frac *= 10;
    }
    if (h > max_hour || m > 59 || sec > 59 || (h == 24 && (m || sec || frac))) {
        *why = "time of day out of range";
        return -1;
    }
    *us = h * USECS_PER_HOUR + m * 60 * USECS_PER_SEC + sec * USECS_PER_SEC + frac;
    return 0;
}

/* A UTC offset: +HH, +HH:MM or +HH:MM:SS (historical zones have seconds). */
static int parse_offset(const char *s, size_t n, size_t *i, int64_t *us, const char **why)
{
    *why = "expected a UTC offset like +00 or -08:00";
    if (*i >= n || (s[*i] != '+' && s[*i] != '-'))
        return -1;
    int neg = s[(*i)++] == '-';
    int h, m = 0, sec = 0;
    if (fixed_digits(s, n, i, 2, &h) != 0)
        return -1;
    if (*i < n && s[*i] == ':') {
        (*i)++;
        if (fixed_digits(s, n, i, 2, &m) != 0)
            return -1;
        if (*i < n && s[*i] == ':') {
            (*i)++;
            if (fixed_digits(s, n, i, 2, &sec) != 0)
                return -1;
        }
    }
    if (h > 23 || m > 59 || sec > 59) {
        *why = "UTC offset out of range";
        return -1;
    }
    int64_t v = h * USECS_PER_HOUR + m * 60 * USECS_PER_SEC + sec * USECS_PER_SEC;
    *us = neg ? -v : v;
    return 0;
}

static int encode_date(const pgt_plan *p, const char *type, const char *s, size_t n, tw_buf *out,
                       char *err, size_t errsize)
{
    if (text_is(s, n, "infinity")) {
        avro_bin_int(out, INT32_MAX);
        return PGT_OK;
    }
    if (text_is(s, n, "-infinity")) {
        avro_bin_int(out, INT32_MIN);
        return PGT_OK;
    }
    const char *why;
    size_t i = 0;
    ymd d;
    if (parse_ymd(s, n, &i, &d, &why) != 0 || finish_ymd(s, n, &i, &d, &why) != 0)
        return bad_value(err, errsize, type, s, n, why);
    if (i != n)
        return bad_value(err, errsize, type, s, n, "unexpected text after the date");
    int64_t days = days_from_epoch(d.year, d.month, d.day);
    /* The extremes are the infinity sentinels; PostgreSQL's own date range
     * stays well inside them. */
    if (days <= INT32_MIN || days >= INT32_MAX)
        return unrepresentable(err, errsize, type, s, n, "outside the Avro date (int) range");
    avro_bin_int(out, (int32_t)days);
    return PGT_OK;
}

static int encode_time(const char *type, const char *s, size_t n, tw_buf *out, char *err,
                       size_t errsize)
{
    const char *why;
    size_t i = 0;
    int64_t us;
    if (parse_hms(s, n, &i, 24, &us, &why) != 0)
        return bad_value(err, errsize, type, s, n, why);
    if (i != n)
        return bad_value(err, errsize, type, s, n, "unexpected text after the time");
    avro_bin_long(out, us);
    return PGT_OK;
}

static int encode_timestamp(int with_tz, const char *type, const char *s, size_t n, tw_buf *out,
                            char *err, size_t errsize)
{
    if (text_is(s, n, "infinity")) {
        avro_bin_long(out, INT64_MAX);
        return PGT_OK;
    }
    if (text_is(s, n, "-infinity")) {
        avro_bin_long(out, INT64_MIN);
        return PGT_OK;
    }
    const char *why;
    size_t i = 0;
    ymd d;
    int64_t tod, off = 0;
    if (parse_ymd(s, n, &i, &d, &why) != 0)
        return bad_value(err, errsize, type, s, n, why);
    if (i >= n || s[i++] != ' ')
        return bad_value(err, errsize, type, s, n, "expected a space between date and time");
    if (parse_hms(s, n, &i, 23, &tod, &why) != 0)
        return bad_value(err, errsize, type, s, n, why);
    if (with_tz && parse_offset(s, n, &i, &off, &why) != 0)
        return bad_value(err, errsize, type, s, n, why);
    if (finish_ymd(s, n, &i, &d, &why) != 0)
        return bad_value(err, errsize, type, s, n, why);
    if (i != n)
        return bad_value(err, errsize, type, s, n, "unexpected text after the timestamp");
    /* PostgreSQL counts from 2000 and reaches year 294276; counted from
     * 1970 its last years overflow int64 microseconds. */
    int64_t us;
    if (__builtin_mul_overflow(days_from_epoch(d.year, d.month, d.day), USECS_PER_DAY, &us) ||
        __builtin_add_overflow(us, tod, &us) || __builtin_sub_overflow(us, off, &us) ||
        us == INT64_MAX || us == INT64_MIN)
        return unrepresentable(err, errsize, type, s, n,
                               "outside the int64 microsecond range of Avro timestamps");
    avro_bin_long(out, us);
    return PGT_OK;
}

/* ---- values ---- */

/* Reads text that may hold array-element backslash escapes (esc set): each
 * backslash stands for the character after it. */
typedef struct {
    const char *p, *end;
    int esc;
} esc_reader;

static int esc_next(esc_reader *r)
{
    if (r->p >= r->end)
        return -1;
    char c = *r->p++;
    if (r->esc && c == '\\' && r->p < r->end)
        c = *r->p++;
    return (unsigned char)c;
}

static size_t esc_len(const char *s, size_t n, int esc)
{
    if (!esc)
        return n;
    esc_reader r = {s, s + n, 1};
    size_t k = 0;
    while (esc_next(&r) >= 0)
        k++;
    return k;
}

static void encode_string(const char *s, size_t n, int esc, tw_buf *out)
{
    if (!esc) {
        avro_bin_string(out, s, n);
        return;
    }
    avro_bin_long(out, (int64_t)esc_len(s, n, esc));
    esc_reader r = {s, s + n, 1};
    for (int c; (c = esc_next(&r)) >= 0;)
        tw_buf_putc(out, (uint8_t)c);
}

static int encode_bytea(const char *type, const char *s, size_t n, int esc, tw_buf *out, char *err,
                        size_t errsize)
{
    esc_reader r = {s, s + n, esc};
    size_t len = esc_len(s, n, esc);
    if (len < 2 || esc_next(&r) != '\\' || esc_next(&r) != 'x')
        return bad_value(err, errsize, type, s, n,
                         "expected hex format \\x... (bytea_output must be hex)");
    if ((len - 2) % 2 != 0)
        return bad_value(err, errsize, type, s, n, "odd number of hex digits");
    size_t nbytes = (len - 2) / 2;
    avro_bin_long(out, (int64_t)nbytes);
    if (tw_buf_reserve(out, nbytes) != 0)
        return PGT_OK; /* the buffer's sticky error reports it */
    uint8_t *dst = out->data + out->len;
    for (size_t j = 0; j < nbytes; j++) {
        int hi = hex_value(esc_next(&r)), lo = hex_value(esc_next(&r));
        if (hi < 0 || lo < 0)
            return bad_value(err, errsize, type, s, n, "not a hex digit");
        dst[j] = (uint8_t)(hi << 4 | lo);
    }
    out->len += nbytes;
    return PGT_OK;
}

static int encode_decimal(const pgt_plan *p, const char *type, const char *s, size_t n, tw_buf *out,
                          char *err, size_t errsize)
{
    if (numeric_special(s, n))
        return unrepresentable(err, errsize, type, s, n, "NaN and Infinity are not decimal values");
    int neg;
    const char *ip, *fp;
    size_t ni, nf;
    if (split_decimal(s, n, &neg, &ip, &ni, &fp, &nf) != 0)
        return bad_value(err, errsize, type, s, n, "expected a decimal number");
    while (ni > 0 && *ip == '0')
        ip++, ni--;
    if (ni > (size_t)(p->precision - p->scale)) {
        char why[96];
        snprintf(why, sizeof why, "more integer digits than decimal(%d,%d) holds",
                 (int)p->precision, (int)p->scale);
        return bad_value(err, errsize, type, s, n, why);
    }
    char why[160];
    if (avro_bin_decimal(out, s, n, p->scale, why, sizeof why) != 0)
        return bad_value(err, errsize, type, s, n, why);
    return PGT_OK;
}

static int encode_money(const pgt_plan *p, const char *type, const char *s, size_t n, tw_buf *out,
                        char *err, size_t errsize)
{
    char plain[64], why2[160];
    size_t k;
    const char *why;
    if (money_plain(s, n, plain, sizeof plain, &k, &why) != 0)
        return bad_value(err, errsize, type, s, n, why);
    switch (p->kind) {
    case PGT_MONEY_DECIMAL:
        if (avro_bin_decimal(out, plain, k, p->scale, why2, sizeof why2) != 0)
            return bad_value(err, errsize, type, s, n, why2);
        return PGT_OK;
    case PGT_MONEY_DOUBLE:
        avro_bin_double(out, strtod(plain, NULL));
        return PGT_OK;
    default:
        avro_bin_string(out, plain, k);
        return PGT_OK;
    }
}

static int encode_int(const pgt_plan *p, const char *type, const char *s, size_t n, tw_buf *out,
                      char *err, size_t errsize)
{
    int64_t v;
    const char *why;
    if (parse_i64(s, n, &v, &why) != 0)
        return bad_value(err, errsize, type, s, n, why);
    switch (p->kind) {
    case PGT_INT2:
        if (v < INT16_MIN || v > INT16_MAX)
            return bad_value(err, errsize, type, s, n, "out of the int2 range");
        avro_bin_int(out, (int32_t)v);
        break;
    case PGT_INT4:
        if (v < INT32_MIN || v > INT32_MAX)
            return bad_value(err, errsize, type, s, n, "out of the int4 range");
        avro_bin_int(out, (int32_t)v);
        break;
    case PGT_OID:
        if (v < 0 || v > (int64_t)UINT32_MAX)
            return bad_value(err, errsize, type, s, n, "out of the oid range");
        avro_bin_long(out, v);
        break;
    default:
        avro_bin_long(out, v);
        break;
    }
    return PGT_OK;
}

/* Longest escaped array element of a non-string kind that is unescaped on
 * the stack; PostgreSQL never escapes such elements, so this only bounds
 * hand-written input. */
#define UNESCAPE_MAX 256

/* One non-null value. type names it in messages; esc says the text is an
 * array element that still holds its backslash escapes. */
static int encode_scalar(const pgt_plan *p, const char *type, const char *s, size_t n, int esc,
                         tw_buf *out, char *err, size_t errsize)
{
    switch (p->kind) {
    case PGT_STRING:
    case PGT_JSON:
        encode_string(s, n, esc, out);
        return PGT_OK;
    case PGT_BYTEA:
        return encode_bytea(type, s, n, esc, out, err, errsize);
    default:
        break;
    }
    if (esc) {
        char tmp[UNESCAPE_MAX];
        size_t k = esc_len(s, n, 1);
        if (k > sizeof tmp)
            return bad_value(err, errsize, type, s, n, "escaped array element too long");
        esc_reader r = {s, s + n, 1};
        for (size_t j = 0; j < k; j++)
            tmp[j] = (char)esc_next(&r);
        return encode_scalar(p, type, tmp, k, 0, out, err, errsize);
    }
    const char *why;
    switch (p->kind) {
    case PGT_BOOLEAN:
        if (text_is(s, n, "t") || text_is(s, n, "f")) {
            avro_bin_boolean(out, s[0] == 't');
            return PGT_OK;
        }
        return bad_value(err, errsize, type, s, n, "expected t or f");
    case PGT_INT2:
    case PGT_INT4:
    case PGT_INT8:
    case PGT_OID:
        return encode_int(p, type, s, n, out, err, errsize);
    case PGT_FLOAT4:
    case PGT_FLOAT8: {
        double d = 0;
        float f = 0;
        if (parse_float(s, n, p->kind == PGT_FLOAT4, &d, &f, &why) != 0)
            return bad_value(err, errsize, type, s, n, why);
        if (p->kind == PGT_FLOAT4)
            avro_bin_float(out, f);
        else
            avro_bin_double(out, d);
        return PGT_OK;
    }
    case PGT_NUMERIC_DECIMAL:
        return encode_decimal(p, type, s, n, out, err, errsize);
    case PGT_NUMERIC_DOUBLE: {
        double d = 0;
        float f;
        if (numeric_special(s, n)) {
            parse_float(s, n, 0, &d, &f, &why);
        } else {
            if (decimal_to_double(s, n, &d, &why) != 0)
                return bad_value(err, errsize, type, s, n, why);
            if (isinf(d))
                return unrepresentable(err, errsize, type, s, n, "beyond the range of a double");
        }
        avro_bin_double(out, d);
        return PGT_OK;
    }
    case PGT_MONEY_DECIMAL:
    case PGT_MONEY_DOUBLE:
    case PGT_MONEY_STRING:
        return encode_money(p, type, s, n, out, err, errsize);
    case PGT_UUID:
        if (!uuid_ok(s, n))
            return bad_value(err, errsize, type, s, n,
                             "expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx in hex");
        avro_bin_string(out, s, n);
        return PGT_OK;
    case PGT_DATE:
        return encode_date(p, type, s, n, out, err, errsize);
    case PGT_TIME:
        return encode_time(type, s, n, out, err, errsize);
    case PGT_TIMESTAMP:
    case PGT_TIMESTAMPTZ:
        return encode_timestamp(p->kind == PGT_TIMESTAMPTZ, type, s, n, out, err, errsize);
    case PGT_STRING:
    case PGT_JSON:
    case PGT_BYTEA:
        break; /* handled above */
    }
    return bad_value(err, errsize, type, s, n, "no encoder for this type");
}

/* ---- arrays ---- */

#define ARRAY_MAXDIM 6 /* PostgreSQL's MAXDIM */

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* array_in takes NULL in any letter case. */
static int is_null_literal(const char *s, size_t n)
{
    static const char lit[] = "NULL";
    if (n != 4)
        return 0;
    for (size_t j = 0; j < 4; j++)
        if ((s[j] & ~0x20) != lit[j])
            return 0;
    return 1;
}

static void skip_space(const char *s, size_t n, size_t *i)
{
    while (*i < n && is_space(s[*i]))
        (*i)++;
}

/* [lb:ub]... = before the braces, present when a lower bound is not 1.
 * Checked for form and skipped: Avro arrays have no bounds. */
static int skip_dimensions(const char *s, size_t n, size_t *i)
{
    int ndim = 0;
    while (*i < n && s[*i] == '[') {
        (*i)++;
        for (int part = 0; part < 2; part++) {
            if (*i < n && (s[*i] == '-' || s[*i] == '+'))
                (*i)++;
            size_t start = *i;
            while (*i < n && is_digit(s[*i]))
                (*i)++;
            if (*i == start || *i >= n || s[(*i)++] != (part == 0 ? ':' : ']'))
                return -1;
        }
        ndim++;
    }
    skip_space(s, n, i);
    if (*i >= n || s[(*i)++] != '=')
        return -1;
    skip_space(s, n, i);
    return ndim > 0 && ndim <= ARRAY_MAXDIM ? 0 : -1;
}

static int array_error(char *err, size_t errsize, const char *type, const char *s, size_t n,
                       size_t at, const char *why)
{
    char ex[EXCERPT_MAX + 4];
    tw_errf(err, errsize, "invalid %s value '%s': %s at offset %zu", type, excerpt(ex, s, n), why,
            at);
    return PGT_ERROR;
}

/* Elements are encoded as they are found, as one Avro block whose count is
 * inserted at the end (avro_bin_array_finish), so nothing is buffered. */
static int encode_array(const pgt_plan *p, const char *s, size_t n, tw_buf *out, char *err,
                        size_t errsize)
{
    const char *type = p->type_name, *etype = p->elem_name;
    const char delim = p->delim;
    size_t i = 0;
    skip_space(s, n, &i);
    if (i < n && s[i] == '[' && skip_dimensions(s, n, &i) != 0)
        return array_error(err, errsize, type, s, n, i, "malformed dimension decoration");
    if (i >= n || s[i] != '{')
        return array_error(err, errsize, type, s, n, i, "expected '{'");
    i++;
    int depth = 1, leaf_depth = 0, just_opened = 1;
    int64_t count = 0;
    size_t mark = avro_bin_array_begin(out);
    for (;;) {
        /* An item: a sub-array, an element, or '}' right after '{'. */
        skip_space(s, n, &i);
        if (i >= n)
            return array_error(err, errsize, type, s, n, i, "unexpected end of array");
        if (s[i] == '{') {
            if (leaf_depth && depth >= leaf_depth)
                return array_error(err, errsize, type, s, n, i,
                                   "sub-array where an element was expected");
            if (++depth > ARRAY_MAXDIM)
                return array_error(err, errsize, type, s, n, i, "more than 6 dimensions");
            i++;
            just_opened = 1;
            continue;
        }
        if (s[i] == '}' && just_opened) {
            if (depth != 1 || leaf_depth)
                return array_error(err, errsize, type, s, n, i, "empty sub-array");
            i++;
            depth = 0;
            break;
        }
        just_opened = 0;
        if (!leaf_depth)
            leaf_depth = depth;
        else if (depth != leaf_depth)
            return array_error(err, errsize, type, s, n, i,
                               "element where a sub-array was expected");

        const char *es;
        size_t en;
        int esc = 0, quoted = 0;
        if (s[i] == '"') {
            quoted = 1;
            es = s + ++i;
            while (i < n && s[i] != '"') {
                if (s[i] == '\\') {
                    esc = 1;
                    i++;
                }
                i++;
            }
            if (i >= n)
                return array_error(err, errsize, type, s, n, (size_t)(es - s),
                                   "unterminated quoted element");
            en = (size_t)(s + i - es);
            i++;
        } else {
            /* Unquoted: up to the delimiter or '}', trailing white space
             * dropped unless escaped (array_in's rules). */
            es = s + i;
            size_t end = i;
            while (i < n && s[i] != delim && s[i] != '}') {
                if (s[i] == '{' || s[i] == '"')
                    return array_error(err, errsize, type, s, n, i,
                                       "unexpected character in an unquoted element");
                if (s[i] == '\\') {
                    if (i + 1 >= n)
                        return array_error(err, errsize, type, s, n, i,
                                           "backslash at the end of the array");
                    esc = 1;
                    i++;
                    end = i + 1;
                } else if (!is_space(s[i])) {
                    end = i + 1;
                }
                i++;
            }
            en = (size_t)(s + end - es);
            if (en == 0)
                return array_error(err, errsize, type, s, n, i, "empty unquoted element");
        }
        if (!quoted && !esc && is_null_literal(es, en)) {
            avro_bin_union_index(out, 0);
        } else {
            avro_bin_union_index(out, 1);
            int rc = encode_scalar(p, etype, es, en, esc, out, err, errsize);
            if (rc != PGT_OK) {
                char ex[EXCERPT_MAX + 4];
                append_err(err, errsize, " (element %lld of %s '%s')", (long long)count + 1, type,
                           excerpt(ex, s, n));
                return rc;
            }
        }
        count++;

        /* After an item: a delimiter, or '}' closing one or more levels. */
        for (;;) {
            skip_space(s, n, &i);
            if (i < n && s[i] == delim) {
                i++;
                break;
            }
            if (i < n && s[i] == '}') {
                i++;
                if (--depth == 0)
                    goto done;
                continue;
            }
            char why[48];
            snprintf(why, sizeof why, "expected '%c' or '}'", delim);
            return array_error(err, errsize, type, s, n, i, why);
        }
    }
done:
    skip_space(s, n, &i);
    if (i != n)
        return array_error(err, errsize, type, s, n, i, "unexpected text after the array");
    avro_bin_array_finish(out, mark, count);
    return PGT_OK;
}

int pgt_encode_text(const pgt_plan *plan, const char *text, size_t len, tw_buf *out, char *err,
                    size_t errsize)
{
    size_t start = out->len;
    int rc = plan->is_array ? encode_array(plan, text, len, out, err, errsize)
                            : encode_scalar(plan, plan->type_name, text, len, 0, out, err, errsize);
    if (rc != PGT_OK)
        tw_buf_truncate(out, start);
    return rc;
}

/* Reads one zig-zag varint; 0, or -1 when it runs past end. */
static int read_varlong(const uint8_t **p, const uint8_t *end, int64_t *v)
{
    uint64_t u = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end)
            return -1;
        uint8_t b = *(*p)++;
        u |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
            return 0;
        }
    }
    return -1;
}

/* The Avro JSON form of one value already in Avro binary (bin..end). */
static int binary_to_json(const pgt_plan *plan, const uint8_t *p, const uint8_t *end, tw_buf *out)
{
    int64_t v, n;
    switch (plan->kind) {
    case PGT_BOOLEAN:
        if (p >= end)
            return -1;
        tw_buf_puts(out, *p ? "true" : "false");
        return 0;
    case PGT_FLOAT4:
    case PGT_FLOAT8:
    case PGT_NUMERIC_DOUBLE:
    case PGT_MONEY_DOUBLE: {
        double d;
        if (plan->kind == PGT_FLOAT4) {
            float f;
            if (end - p < 4)
                return -1;
            memcpy(&f, p, 4); /* little-endian hosts only, as the encoder */
            d = f;
        } else {
            if (end - p < 8)
                return -1;
            memcpy(&d, p, 8);
        }
        if (!isfinite(d))
            return -1; /* JSON has no NaN or Infinity */
        tw_buf_printf(out, "%.17g", d);
        return 0;
    }
    case PGT_NUMERIC_DECIMAL:
    case PGT_MONEY_DECIMAL:
    case PGT_BYTEA:
    case PGT_STRING:
    case PGT_JSON:
    case PGT_UUID:
    case PGT_MONEY_STRING: {
        if (read_varlong(&p, end, &n) != 0 || n < 0 || n > end - p)
            return -1;
        /* Avro's JSON default of bytes: one code point 0-255 per byte. */
        int bytes = plan->kind == PGT_NUMERIC_DECIMAL || plan->kind == PGT_MONEY_DECIMAL ||
                    plan->kind == PGT_BYTEA;
        tw_buf_putc(out, '"');
        for (int64_t i = 0; i < n; i++) {
            uint8_t c = p[i];
            if (c == '"' || c == '\\') {
                tw_buf_putc(out, '\\');
                tw_buf_putc(out, c);
            } else if (c < 0x20 || (bytes && c >= 0x7f)) {
                tw_buf_printf(out, "\\u%04x", c);
            } else {
                tw_buf_putc(out, c);
            }
        }
        tw_buf_putc(out, '"');
        return 0;
    }
    default: /* the int and long kinds */
        if (read_varlong(&p, end, &v) != 0)
            return -1;
        tw_buf_printf(out, "%lld", (long long)v);
        return 0;
    }
}

int pgt_default_json(const pgt_plan *plan, const char *text, size_t len, tw_buf *out)
{
    if (plan->is_array)
        return -1;
    tw_buf bin;
    tw_buf_init(&bin, 0);
    char err[256];
    int rc = -1;
    if (pgt_encode_text(plan, text, len, &bin, err, sizeof err) == PGT_OK && !bin.error) {
        size_t mark = out->len;
        rc = binary_to_json(plan, bin.data, bin.data + bin.len, out);
        if (rc != 0)
            tw_buf_truncate(out, mark);
    }
    tw_buf_free(&bin);
    return rc;
}
