#include "schemas/avro_bin.h"

#include "agent/errbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tw_buf_init(tw_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
    b->error = 0;
}

void tw_buf_reset(tw_buf *b)
{
    b->len = 0;
    b->error = 0;
}

void tw_buf_free(tw_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->error = 0;
}

/* Grows the allocation to at least need bytes, ignoring max: scratch space
 * (decimal conversion, a printf terminator) may briefly sit past the content
 * limit without the content ever exceeding it. */
static int buf_grow(tw_buf *b, size_t need)
{
    if (b->error)
        return -1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    uint8_t *p = realloc(b->data, cap);
    if (!p) {
        b->error = TW_BUF_NOMEM;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int tw_buf_reserve(tw_buf *b, size_t n)
{
    if (b->error)
        return -1;
    if (n > SIZE_MAX - b->len || (b->max && b->len + n > b->max)) {
        b->error = TW_BUF_TOOBIG;
        return -1;
    }
    return buf_grow(b, b->len + n);
}

void tw_buf_append_grow(tw_buf *b, const void *p, size_t n)
{
    if (n == 0 || tw_buf_reserve(b, n) != 0)
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void tw_buf_puts(tw_buf *b, const char *s)
{
    tw_buf_append(b, s, strlen(s));
}

void tw_buf_printf(tw_buf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    /* vsnprintf needs room for its terminator, which is not content. */
    if (n >= 0 && tw_buf_reserve(b, (size_t)n) == 0 && buf_grow(b, b->len + (size_t)n + 1) == 0) {
        vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

void tw_buf_truncate(tw_buf *b, size_t len)
{
    if (len < b->len)
        b->len = len;
}

const char *tw_buf_strerror(const tw_buf *b)
{
    switch (b->error) {
    case 0:
        return "no error";
    case TW_BUF_NOMEM:
        return "out of memory";
    case TW_BUF_TOOBIG:
        return "encoded value exceeds the buffer's size limit";
    }
    return "unknown buffer error";
}

/* ---- primitives ---- */

static size_t varint_encode(uint64_t u, uint8_t out[10])
{
    size_t n = 0;
    while (u >= 0x80) {
        out[n++] = (uint8_t)(u | 0x80);
        u >>= 7;
    }
    out[n++] = (uint8_t)u;
    return n;
}

/* Zig-zag moves the sign into bit 0 so small negative numbers stay short.
 * Done on unsigned values: shifting a negative signed value is undefined. */
static uint64_t zigzag64(int64_t v)
{
    uint64_t u = (uint64_t)v;
    return (u << 1) ^ (0 - (u >> 63));
}

void avro_bin_long(tw_buf *b, int64_t v)
{
    if (tw_buf_has_room(b, 10)) { /* straight into the buffer */
        b->len += varint_encode(zigzag64(v), b->data + b->len);
        return;
    }
    uint8_t tmp[10];
    tw_buf_append(b, tmp, varint_encode(zigzag64(v), tmp));
}

void avro_bin_int(tw_buf *b, int32_t v)
{
    /* The zig-zag of an int and of the same value as long are identical. */
    avro_bin_long(b, v);
}

void avro_bin_boolean(tw_buf *b, int v)
{
    tw_buf_putc(b, v ? 1 : 0);
}

static void put_le(tw_buf *b, uint64_t u, size_t n)
{
    uint8_t tmp[8];
    for (size_t i = 0; i < n; i++)
        tmp[i] = (uint8_t)(u >> (8 * i));
    tw_buf_append(b, tmp, n);
}

void avro_bin_float(tw_buf *b, float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    put_le(b, u, 4);
}

void avro_bin_double(tw_buf *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    put_le(b, u, 8);
}

void avro_bin_bytes(tw_buf *b, const void *p, size_t n)
{
    avro_bin_long(b, (int64_t)n);
    tw_buf_append(b, p, n);
}

void avro_bin_string(tw_buf *b, const char *s, size_t n)
{
    avro_bin_bytes(b, s, n);
}

void avro_bin_union_index(tw_buf *b, int64_t branch)
{
    avro_bin_long(b, branch);
}

void avro_bin_block_count(tw_buf *b, int64_t count)
{
    avro_bin_long(b, count);
}

void avro_bin_array_end_marker(tw_buf *b)
{
    tw_buf_putc(b, 0);
}

size_t avro_bin_array_begin(const tw_buf *b)
{
    return b->len;
}

void avro_bin_array_finish(tw_buf *b, size_t mark, int64_t count)
{
    if (b->error || mark > b->len)
        return;
    if (count > 0) {
        uint8_t tmp[10];
        size_t vlen = varint_encode(zigzag64(count), tmp);
        if (tw_buf_reserve(b, vlen) != 0)
            return;
        memmove(b->data + mark + vlen, b->data + mark, b->len - mark);
        memcpy(b->data + mark, tmp, vlen);
        b->len += vlen;
    }
    avro_bin_array_end_marker(b);
}

/* ---- decimal ---- */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* The digits of the unscaled value, read one at a time: the integer part,
 * the fraction, then the zeros that pad the fraction to the scale. */
typedef struct {
    const char *ip, *fp; /* integer and fraction digits */
    size_t ni, nf, npad;
    size_t pos; /* next digit, 0 .. ni + nf + npad */
} digit_stream;

static unsigned ds_digit(const digit_stream *d, size_t i)
{
    if (i < d->ni)
        return (unsigned)(d->ip[i] - '0');
    i -= d->ni;
    if (i < d->nf)
        return (unsigned)(d->fp[i] - '0');
    return 0;
}

int avro_bin_decimal(tw_buf *b, const char *text, size_t n, int32_t scale, char *err,
                     size_t errsize)
{
    if (scale < 0) {
        tw_errf(err, errsize, "decimal scale %d is negative", (int)scale);
        return -1;
    }
    size_t i = 0;
    int negative = 0;
    if (i < n && (text[i] == '-' || text[i] == '+'))
        negative = text[i++] == '-';
    digit_stream d = {0};
    d.ip = text + i;
    while (i < n && is_digit(text[i]))
        i++;
    d.ni = (size_t)(text + i - d.ip);
    d.fp = text + i;
    if (i < n && text[i] == '.') {
        d.fp = text + ++i;
        while (i < n && is_digit(text[i]))
            i++;
        d.nf = (size_t)(text + i - d.fp);
    }
    if (i != n || d.ni + d.nf == 0) {
        tw_errf(err, errsize, "'%.*s' is not a decimal number (expected [-]digits[.digits])",
                (int)(n > 40 ? 40 : n), text);
        return -1;
    }
    if (d.nf > (size_t)scale) {
        tw_errf(err, errsize, "'%.*s' has %zu fraction digits, more than the scale %d",
                (int)(n > 40 ? 40 : n), text, d.nf, (int)scale);
        return -1;
    }
    d.npad = (size_t)scale - d.nf;
    size_t total = d.ni + d.nf + d.npad;
    while (d.pos < total && ds_digit(&d, d.pos) == 0)
        d.pos++;
    if (d.pos == total) {
        /* Zero (also "-0.00"): one 0x00 byte, as BigInteger.toByteArray() gives. */
        uint8_t zero = 0;
        avro_bin_bytes(b, &zero, 1);
        return 0;
    }

    /* The magnitude is built little-endian in scratch space past the spot
     * where the length varint (at most 10 bytes) will go. D digits need at
     * most D * log2(10) / 8 < D * 0.416 bytes, plus one for the sign. */
    size_t ndig = total - d.pos;
    if (ndig > (SIZE_MAX - 64) / 416) {
        b->error = TW_BUF_TOOBIG;
        return 0;
    }
    size_t room = ndig * 416 / 1000 + 2;
    if (b->error || buf_grow(b, b->len + 10 + room) != 0)
        return 0;
    uint8_t *mag = b->data + b->len + 10;
    size_t m = 0;
    /* Nine digits at a time: byte * 10^9 + carry stays far below 2^64. */
    while (d.pos < total) {
        uint64_t mult = 1, add = 0;
        for (int k = 0; k < 9 && d.pos < total; k++, d.pos++) {
            mult *= 10;
            add = add * 10 + ds_digit(&d, d.pos);
        }
        uint64_t carry = add;
        for (size_t j = 0; j < m; j++) {
            uint64_t t = mag[j] * mult + carry;
            mag[j] = (uint8_t)t;
            carry = t >> 8;
        }
        while (carry) {
            mag[m++] = (uint8_t)carry;
            carry >>= 8;
        }
    }
    if (negative) {
        /* Two's complement: invert and add one. A magnitude of m minimal
         * bytes never negates to a value with a redundant 0xFF on top. */
        unsigned c = 1;
        for (size_t j = 0; j < m; j++) {
            unsigned t = (unsigned)(uint8_t)~mag[j] + c;
            mag[j] = (uint8_t)t;
            c = t >> 8;
        }
        if (!(mag[m - 1] & 0x80))
            mag[m++] = 0xFF;
    } else if (mag[m - 1] & 0x80) {
        mag[m++] = 0x00; /* keep the sign bit clear */
    }
    for (size_t lo = 0, hi = m - 1; lo < hi; lo++, hi--) {
        uint8_t t = mag[lo];
        mag[lo] = mag[hi];
        mag[hi] = t;
    }
    uint8_t vl[10];
    size_t vlen = varint_encode(zigzag64((int64_t)m), vl);
    if (b->max && b->len + vlen + m > b->max) {
        b->error = TW_BUF_TOOBIG;
        return 0;
    }
    memcpy(b->data + b->len, vl, vlen);
    memmove(b->data + b->len + vlen, mag, m);
    b->len += vlen + m;
    return 0;
}

/* ---- fingerprints ---- */

#define CRC64_AVRO_EMPTY 0xc15d213aa4d7a795ULL

uint64_t avro_crc64(const void *data, size_t len)
{
    /* Bit at a time rather than with the usual 256-entry table: schemas are
     * fingerprinted rarely, and there is then no table to initialise under
     * threads. Shifting eight times per byte is the same polynomial
     * arithmetic the table would precompute. */
    const uint8_t *p = data;
    uint64_t fp = CRC64_AVRO_EMPTY;
    for (size_t i = 0; i < len; i++) {
        fp ^= p[i];
        for (int k = 0; k < 8; k++)
            fp = (fp >> 1) ^ (CRC64_AVRO_EMPTY & (0 - (fp & 1)));
    }
    return fp;
}

void avro_bin_single_object_header(tw_buf *b, uint64_t fingerprint)
{
    uint8_t magic[2] = {0xC3, 0x01};
    tw_buf_append(b, magic, 2);
    put_le(b, fingerprint, 8);
}

void avro_bin_frame_header(tw_buf *b, uint64_t fingerprint, int32_t registry_id)
{
    if (registry_id < 0) {
        avro_bin_single_object_header(b, fingerprint);
        return;
    }
    uint32_t u = (uint32_t)registry_id;
    uint8_t h[AVRO_CONFLUENT_HEADER_LEN] = {0, (uint8_t)(u >> 24), (uint8_t)(u >> 16),
                                            (uint8_t)(u >> 8), (uint8_t)u};
    tw_buf_append(b, h, sizeof h);
}

void tw_buf_json_string(tw_buf *b, const char *s)
{
    tw_buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            tw_buf_putc(b, '\\');
            tw_buf_putc(b, *p);
        } else if (*p < 0x20) {
            tw_buf_printf(b, "\\u%04x", *p);
        } else {
            tw_buf_putc(b, *p);
        }
    }
    tw_buf_putc(b, '"');
}
