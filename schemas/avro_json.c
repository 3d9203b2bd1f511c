#include "schemas/avro_json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64
#define MAX_NAMED 256

typedef struct {
    char *fullname;
    json_t *def; /* borrowed from root */
} named_type;

struct avro_json_schema {
    json_t *root;
    named_type named[MAX_NAMED];
    int nnamed;
};

typedef struct {
    const uint8_t *base, *p, *end;
    char *err;
    size_t errsize;
    const avro_json_schema *s;
    size_t header_len; /* framing before base, for messages: offsets count from the frame */
    char path[256];    /* field path, for messages */
} reader;

static void fail(reader *r, const char *what)
{
    if (r->err[0])
        return; /* keep the first, innermost message */
    if (r->header_len)
        snprintf(r->err, r->errsize,
                 "Avro datum at offset %zu of the message (after the %zu-byte header), field %s: "
                 "%s",
                 (size_t)(r->p - r->base) + r->header_len, r->header_len,
                 r->path[0] ? r->path : "(top)", what);
    else
        snprintf(r->err, r->errsize, "Avro datum at offset %zu, field %s: %s",
                 (size_t)(r->p - r->base), r->path[0] ? r->path : "(top)", what);
}

/* ---- schema ----------------------------------------------------------- */

static int collect_named(avro_json_schema *s, json_t *node, const char *ns, char *err,
                         size_t errsize, int depth)
{
    if (depth > MAX_DEPTH) {
        snprintf(err, errsize, "schema nests deeper than %d levels", MAX_DEPTH);
        return -1;
    }
    if (json_is_array(node)) {
        size_t i;
        json_t *v;
        json_array_foreach(node, i,
                           v) if (collect_named(s, v, ns, err, errsize, depth + 1) != 0) return -1;
        return 0;
    }
    if (!json_is_object(node))
        return 0;
    const char *type = json_string_value(json_object_get(node, "type"));
    if (!type)
        return collect_named(s, json_object_get(node, "type"), ns, err, errsize, depth + 1);
    if (strcmp(type, "record") == 0) {
        const char *name = json_string_value(json_object_get(node, "name"));
        const char *own_ns = json_string_value(json_object_get(node, "namespace"));
        if (!name) {
            snprintf(err, errsize, "a record in the schema has no name");
            return -1;
        }
        const char *use_ns = strchr(name, '.') ? NULL : own_ns ? own_ns : ns;
        char full[512];
        snprintf(full, sizeof full, "%s%s%s", use_ns ? use_ns : "", use_ns ? "." : "", name);
        if (s->nnamed == MAX_NAMED) {
            snprintf(err, errsize, "schema defines more than %d named types", MAX_NAMED);
            return -1;
        }
        s->named[s->nnamed].fullname = strdup(full);
        if (!s->named[s->nnamed].fullname) {
            snprintf(err, errsize, "out of memory");
            return -1;
        }
        s->named[s->nnamed++].def = node;
        char *dot = strrchr(full, '.');
        if (dot)
            *dot = '\0';
        const char *child_ns = dot ? full : "";
        size_t i;
        json_t *f;
        json_t *fields = json_object_get(node, "fields");
        if (!json_is_array(fields)) {
            snprintf(err, errsize, "record %s has no fields array", name);
            return -1;
        }
        json_array_foreach(fields, i, f)
        {
            if (!json_is_object(f) || !json_string_value(json_object_get(f, "name"))) {
                snprintf(err, errsize, "record %s has a field without a name", name);
                return -1;
            }
            if (collect_named(s, json_object_get(f, "type"), child_ns, err, errsize, depth + 1) !=
                0)
                return -1;
        }
        return 0;
    }
    if (strcmp(type, "array") == 0)
        return collect_named(s, json_object_get(node, "items"), ns, err, errsize, depth + 1);
    return 0;
}

avro_json_schema *avro_json_schema_parse(const char *json, size_t len, char *err, size_t errsize)
{
    json_error_t je;
    json_t *root = json_loadb(json, len, 0, &je);
    if (!root) {
        snprintf(err, errsize, "schema is not JSON: %s (line %d)", je.text, je.line);
        return NULL;
    }
    avro_json_schema *s = calloc(1, sizeof *s);
    if (!s) {
        json_decref(root);
        snprintf(err, errsize, "out of memory");
        return NULL;
    }
    s->root = root;
    if (collect_named(s, root, NULL, err, errsize, 0) != 0) {
        avro_json_schema_free(s);
        return NULL;
    }
    return s;
}

void avro_json_schema_free(avro_json_schema *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->nnamed; i++)
        free(s->named[i].fullname);
    json_decref(s->root);
    free(s);
}

static json_t *lookup_named(const avro_json_schema *s, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < s->nnamed; i++) {
        const char *f = s->named[i].fullname;
        size_t fl = strlen(f);
        if (strcmp(f, name) == 0 ||
            (fl > n && f[fl - n - 1] == '.' && strcmp(f + fl - n, name) == 0))
            return s->named[i].def;
    }
    return NULL;
}

/* ---- primitives ------------------------------------------------------- */

static int rd_long(reader *r, int64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (r->p >= r->end) {
            fail(r, "truncated varint");
            return -1;
        }
        uint8_t b = *r->p++;
        if (shift == 63 && (b & 0x7e)) {
            fail(r, "varint overflows 64 bits");
            return -1;
        }
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            return 0;
        }
    }
    fail(r, "varint longer than 10 bytes");
    return -1;
}

static int rd_int(reader *r, int32_t *out)
{
    int64_t v;
    if (rd_long(r, &v) != 0)
        return -1;
    if (v < INT32_MIN || v > INT32_MAX) {
        fail(r, "int out of 32-bit range");
        return -1;
    }
    *out = (int32_t)v;
    return 0;
}

static int rd_len(reader *r, size_t *len)
{
    int64_t n;
    if (rd_long(r, &n) != 0)
        return -1;
    if (n < 0 || (uint64_t)n > (uint64_t)(r->end - r->p)) {
        fail(r, "length exceeds the remaining bytes");
        return -1;
    }
    *len = (size_t)n;
    return 0;
}

static json_t *float_json(double d)
{
    if (isnan(d))
        return json_string("NaN");
    if (isinf(d))
        return json_string(d > 0 ? "Infinity" : "-Infinity");
    return json_real(d);
}

/* ---- logical types ---------------------------------------------------- */

/* Days since 1970-01-01 to a proleptic Gregorian civil date. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

static int fmt_date(char *buf, size_t size, int64_t days)
{
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (y <= 0) /* astronomical year 0 is 1 BC */
        return snprintf(buf, size, "%04" PRId64 "-%02u-%02u BC", 1 - y, m, d);
    return snprintf(buf, size, "%04" PRId64 "-%02u-%02u", y, m, d);
}

static json_t *date_json(int32_t days)
{
    char buf[48];
    if (days == INT32_MAX)
        return json_string("infinity");
    if (days == INT32_MIN)
        return json_string("-infinity");
    fmt_date(buf, sizeof buf, days);
    return json_string(buf);
}

static int fmt_time(char *buf, size_t size, int64_t us)
{
    int64_t s = us / 1000000, frac = us % 1000000;
    return snprintf(buf, size, "%02" PRId64 ":%02" PRId64 ":%02" PRId64 ".%06" PRId64, s / 3600,
                    s / 60 % 60, s % 60, frac);
}

static json_t *timestamp_json(int64_t us, int utc)
{
    char buf[96];
    if (us == INT64_MAX)
        return json_string("infinity");
    if (us == INT64_MIN)
        return json_string("-infinity");
    int64_t days = us / 86400000000LL, rem = us % 86400000000LL;
    if (rem < 0) {
        rem += 86400000000LL;
        days--;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    char t[32];
    fmt_time(t, sizeof t, rem);
    if (y <= 0)
        snprintf(buf, sizeof buf, "%04" PRId64 "-%02u-%02uT%s%s BC", 1 - y, m, d, t,
                 utc ? "Z" : "");
    else
        snprintf(buf, sizeof buf, "%04" PRId64 "-%02u-%02uT%s%s", y, m, d, t, utc ? "Z" : "");
    return json_string(buf);
}

/* Big-endian two's complement bytes with scale to an exact decimal string. */
static json_t *decimal_json(reader *r, const uint8_t *b, size_t n, int64_t scale)
{
    /* 512 bytes hold at most 1234 digits; PostgreSQL scales stop at 1000. */
    if (n == 0 || n > 512 || scale < 0 || scale > 1000) {
        fail(r, "decimal of unsupported size or scale");
        return NULL;
    }
    uint8_t mag[512];
    int neg = b[0] & 0x80;
    memcpy(mag, b, n);
    if (neg) { /* magnitude = two's complement negation */
        int carry = 1;
        for (size_t i = n; i-- > 0;) {
            int v = (uint8_t)~mag[i] + carry;
            mag[i] = (uint8_t)v;
            carry = v >> 8;
        }
    }
    char digits[1400];
    size_t nd = 0;
    size_t start = 0;
    while (start < n) { /* repeated division by 10 */
        int rem = 0;
        for (size_t i = start; i < n; i++) {
            int cur = rem * 256 + mag[i];
            mag[i] = (uint8_t)(cur / 10);
            rem = cur % 10;
        }
        digits[nd++] = (char)('0' + rem);
        while (start < n && mag[start] == 0)
            start++;
    }
    while ((int64_t)nd <= scale)
        digits[nd++] = '0';
    char out[1500];
    size_t o = 0;
    if (neg)
        out[o++] = '-';
    for (size_t i = nd; i-- > 0;) {
        out[o++] = digits[i];
        if ((int64_t)i == scale && scale > 0)
            out[o++] = '.';
    }
    out[o] = '\0';
    return json_string(out);
}

/* ---- decoding --------------------------------------------------------- */

static json_t *decode(reader *r, json_t *sch, int depth);

static json_t *decode_primitive(reader *r, const char *type, json_t *node)
{
    const char *logical = node ? json_string_value(json_object_get(node, "logicalType")) : NULL;
    if (strcmp(type, "null") == 0)
        return json_null();
    if (strcmp(type, "boolean") == 0) {
        if (r->p >= r->end || *r->p > 1) {
            fail(r, r->p >= r->end ? "truncated boolean" : "boolean byte is neither 0 nor 1");
            return NULL;
        }
        return json_boolean(*r->p++);
    }
    if (strcmp(type, "int") == 0) {
        int32_t v;
        if (rd_int(r, &v) != 0)
            return NULL;
        return logical && strcmp(logical, "date") == 0 ? date_json(v) : json_integer(v);
    }
    if (strcmp(type, "long") == 0) {
        int64_t v;
        const uint8_t *at = r->p;
        if (rd_long(r, &v) != 0)
            return NULL;
        if (logical && strcmp(logical, "time-micros") == 0) {
            char buf[96];
            if (v < 0 || v > 86400000000LL) { /* PostgreSQL's time: 00:00:00 to 24:00:00 */
                snprintf(buf, sizeof buf,
                         "time-micros value %" PRId64 " is outside 00:00:00 to 24:00:00", v);
                r->p = at; /* the error names where the value starts */
                fail(r, buf);
                return NULL;
            }
            fmt_time(buf, sizeof buf, v);
            return json_string(buf);
        }
        if (logical && strcmp(logical, "timestamp-micros") == 0)
            return timestamp_json(v, 1);
        if (logical && strcmp(logical, "local-timestamp-micros") == 0)
            return timestamp_json(v, 0);
        return json_integer(v);
    }
    if (strcmp(type, "float") == 0 || strcmp(type, "double") == 0) {
        size_t n = type[0] == 'f' ? 4 : 8;
        if ((size_t)(r->end - r->p) < n) {
            fail(r, "truncated float");
            return NULL;
        }
        uint64_t bits = 0;
        for (size_t i = n; i-- > 0;)
            bits = (bits << 8) | r->p[i];
        r->p += n;
        if (n == 4) {
            uint32_t b32 = (uint32_t)bits;
            float f;
            memcpy(&f, &b32, 4);
            return float_json(f);
        }
        double d;
        memcpy(&d, &bits, 8);
        return float_json(d);
    }
    if (strcmp(type, "bytes") == 0 || strcmp(type, "string") == 0) {
        size_t n;
        if (rd_len(r, &n) != 0)
            return NULL;
        const uint8_t *b = r->p;
        r->p += n;
        if (type[0] == 's') {
            json_t *j = json_stringn((const char *)b, n);
            if (!j)
                fail(r, "string is not valid UTF-8");
            return j;
        }
        if (logical && strcmp(logical, "decimal") == 0)
            return decimal_json(r, b, n, json_integer_value(json_object_get(node, "scale")));
        static const char hex[] = "0123456789abcdef";
        char *buf = malloc(2 * n + 3);
        if (!buf) {
            fail(r, "out of memory");
            return NULL;
        }
        buf[0] = '\\';
        buf[1] = 'x';
        for (size_t i = 0; i < n; i++) {
            buf[2 + 2 * i] = hex[b[i] >> 4];
            buf[3 + 2 * i] = hex[b[i] & 15];
        }
        json_t *j = json_stringn(buf, 2 * n + 2);
        free(buf);
        return j;
    }
    fail(r, "type not supported by this reader");
    return NULL;
}

static json_t *decode_record(reader *r, json_t *sch, int depth)
{
    json_t *obj = json_object(), *fields = json_object_get(sch, "fields"), *f;
    size_t i, plen = strlen(r->path);
    json_array_foreach(fields, i, f)
    {
        const char *name = json_string_value(json_object_get(f, "name"));
        snprintf(r->path + plen, sizeof r->path - plen, "%s%s", plen ? "." : "", name);
        json_t *v = decode(r, json_object_get(f, "type"), depth + 1);
        if (!v) {
            json_decref(obj);
            return NULL;
        }
        json_object_set_new(obj, name, v);
    }
    r->path[plen] = '\0';
    return obj;
}

static json_t *decode_array(reader *r, json_t *sch, int depth)
{
    json_t *arr = json_array(), *items = json_object_get(sch, "items");
    for (;;) {
        int64_t count;
        if (rd_long(r, &count) != 0)
            goto bad;
        if (count == 0)
            return arr;
        if (count < 0) { /* a block with its byte size */
            int64_t bytes;
            if (count == INT64_MIN) {
                fail(r, "array block count out of range");
                goto bad;
            }
            count = -count;
            if (rd_long(r, &bytes) != 0)
                goto bad;
        }
        /* Each item takes at least a byte unless it is null: refuse counts
         * that could only be a lie, so a forged count cannot spin. */
        if (count > (int64_t)(r->end - r->p) + 1 ||
            json_array_size(arr) + (size_t)count > 10000000) {
            fail(r, "array block count exceeds the remaining bytes");
            goto bad;
        }
        for (int64_t i = 0; i < count; i++) {
            json_t *v = decode(r, items, depth + 1);
            if (!v)
                goto bad;
            json_array_append_new(arr, v);
        }
    }
bad:
    json_decref(arr);
    return NULL;
}

static json_t *decode(reader *r, json_t *sch, int depth)
{
    if (depth > MAX_DEPTH) {
        fail(r, "nested too deeply");
        return NULL;
    }
    if (json_is_string(sch)) {
        const char *name = json_string_value(sch);
        json_t *named = lookup_named(r->s, name);
        return named ? decode(r, named, depth + 1) : decode_primitive(r, name, NULL);
    }
    if (json_is_array(sch)) {
        int64_t idx;
        if (rd_long(r, &idx) != 0)
            return NULL;
        if (idx < 0 || (size_t)idx >= json_array_size(sch)) {
            fail(r, "union branch index out of range");
            return NULL;
        }
        return decode(r, json_array_get(sch, (size_t)idx), depth + 1);
    }
    if (!json_is_object(sch)) {
        fail(r, "schema node is neither a name, a union nor an object");
        return NULL;
    }
    json_t *t = json_object_get(sch, "type");
    if (!json_is_string(t))
        return decode(r, t, depth + 1);
    const char *type = json_string_value(t);
    if (strcmp(type, "record") == 0)
        return decode_record(r, sch, depth);
    if (strcmp(type, "array") == 0)
        return decode_array(r, sch, depth);
    return decode_primitive(r, type, sch);
}

static json_t *decode_datum(const avro_json_schema *s, const uint8_t *data, size_t len,
                            size_t header_len, char *err, size_t errsize)
{
    reader r = {.base = data,
                .p = data,
                .end = data + len,
                .err = err,
                .errsize = errsize,
                .s = s,
                .header_len = header_len};
    err[0] = '\0';
    json_t *v = decode(&r, s->root, 0);
    if (v && r.p != r.end) {
        fail(&r, "trailing bytes after the datum");
        json_decref(v);
        return NULL;
    }
    return v;
}

json_t *avro_json_decode(const avro_json_schema *s, const uint8_t *data, size_t len, char *err,
                         size_t errsize)
{
    return decode_datum(s, data, len, 0, err, errsize);
}

json_t *avro_json_decode_message(const uint8_t *msg, size_t len, avro_json_lookup lookup, void *ctx,
                                 char *err, size_t errsize)
{
    avro_frame_kind kind;
    uint64_t id;
    size_t hl;
    if (avro_frame_parse(msg, len, &kind, &id, &hl, err, errsize) != 0)
        return NULL;
    err[0] = '\0';
    const avro_json_schema *s = lookup(ctx, kind, id, err, errsize);
    if (!s) {
        if (!err[0])
            snprintf(err, errsize, "no schema for %s %" PRIu64,
                     kind == AVRO_FRAME_CONFLUENT ? "schema id" : "fingerprint", id);
        return NULL;
    }
    return decode_datum(s, msg + hl, len - hl, hl, err, errsize);
}

int avro_frame_parse(const uint8_t *msg, size_t len, avro_frame_kind *kind, uint64_t *id,
                     size_t *header_len, char *err, size_t errsize)
{
    if (len >= 10 && msg[0] == 0xC3 && msg[1] == 0x01) {
        uint64_t fp = 0;
        for (int i = 9; i >= 2; i--)
            fp = (fp << 8) | msg[i];
        *kind = AVRO_FRAME_SINGLE_OBJECT;
        *id = fp;
        *header_len = 10;
        return 0;
    }
    if (len >= 5 && msg[0] == 0x00) {
        *kind = AVRO_FRAME_CONFLUENT;
        *id =
            ((uint64_t)msg[1] << 24) | ((uint64_t)msg[2] << 16) | ((uint64_t)msg[3] << 8) | msg[4];
        *header_len = 5;
        return 0;
    }
    snprintf(err, errsize,
             "message of %zu bytes is neither Avro single-object encoding (C3 01 + fingerprint) "
             "nor Confluent wire format (00 + schema id)",
             len);
    return -1;
}
