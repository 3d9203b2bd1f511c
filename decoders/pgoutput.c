/*
 * pgoutput.c — reader for pgoutput messages; the contract is in pgoutput.h.
 *
 * One pass per message through a bounds-checked cursor. Counts read from
 * the wire (columns, relation ids) are checked against the bytes that remain
 * before anything is allocated — every column takes at least one byte on the
 * wire, every relation id four — so a forged count cannot make the decoder
 * allocate more than a small multiple of the message size. The stream state
 * is written back to the decoder only once the whole message is accepted.
 */
#include "decoders/pgoutput.h"

#include "agent/errbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* PostgreSQL's epoch, 2000-01-01 00:00 UTC, in Unix milliseconds. */
#define PG_EPOCH_UNIX_MS INT64_C(946684800000)

/* One pass over one message. Every read goes through the rd_* helpers, which
 * check the remaining length first and write the error on failure. */
typedef struct {
    const unsigned char *buf;
    size_t len;
    size_t pos;
    char type;         /* message type byte, for the error text */
    const char *name;  /* message name, for the error text */
    const char *tuple; /* "old key tuple" etc. while reading a tuple, else NULL */
    unsigned col;      /* 1-based column being read, 0 outside a column list */
    unsigned ncols;    /* size of that column list */
    char *err;
    size_t errsize;
} pgo_reader;

/* A byte as the error text shows it: the character too when it is one. */
static const char *byte_str(unsigned char c, char *buf, size_t size)
{
    if (c >= 0x20 && c < 0x7f)
        snprintf(buf, size, "'%c' (0x%02x)", c, c);
    else
        snprintf(buf, size, "0x%02x", c);
    return buf;
}

/* Formats "pgoutput <Name> ('<t>') at offset <at> of <len>: [<where>: ]<detail>".
 * Only called on the failure path, so the hot path formats nothing. */
static int fail(pgo_reader *r, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(pgo_reader *r, size_t at, const char *fmt, ...)
{
    char detail[256], where[96] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (r->col)
        snprintf(where, sizeof where, "%s%scolumn %u of %u: ", r->tuple ? r->tuple : "",
                 r->tuple ? ", " : "", r->col, r->ncols);
    else if (r->tuple)
        snprintf(where, sizeof where, "%s: ", r->tuple);
    tw_errf(r->err, r->errsize, "pgoutput %s ('%c') at offset %zu of %zu: %s%s", r->name, r->type,
            at, r->len, where, detail);
    return -1;
}

static size_t remaining(const pgo_reader *r)
{
    return r->len - r->pos;
}

static int rd_need(pgo_reader *r, size_t n, const char *field)
{
    if (remaining(r) >= n)
        return 0;
    return fail(r, r->pos, "%s needs %zu bytes, only %zu remain", field, n, remaining(r));
}

static int rd_u8(pgo_reader *r, const char *field, uint8_t *out)
{
    if (rd_need(r, 1, field) != 0)
        return -1;
    *out = r->buf[r->pos++];
    return 0;
}

static int rd_u16(pgo_reader *r, const char *field, uint16_t *out)
{
    if (rd_need(r, 2, field) != 0)
        return -1;
    const unsigned char *p = r->buf + r->pos;
    *out = (uint16_t)((unsigned)p[0] << 8 | p[1]);
    r->pos += 2;
    return 0;
}

static int rd_u32(pgo_reader *r, const char *field, uint32_t *out)
{
    if (rd_need(r, 4, field) != 0)
        return -1;
    const unsigned char *p = r->buf + r->pos;
    *out = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    r->pos += 4;
    return 0;
}

static int rd_u64(pgo_reader *r, const char *field, uint64_t *out)
{
    uint32_t hi = 0, lo = 0; /* rd_need checked the length; -O3 cannot see that */
    if (rd_need(r, 8, field) != 0)
        return -1;
    rd_u32(r, field, &hi);
    rd_u32(r, field, &lo);
    *out = (uint64_t)hi << 32 | lo;
    return 0;
}

/* Two's complement reinterpretation without implementation-defined casts. */
static int32_t as_i32(uint32_t v)
{
    return v <= INT32_MAX ? (int32_t)v : -(int32_t)(UINT32_MAX - v) - 1;
}

static int64_t as_i64(uint64_t v)
{
    return v <= INT64_MAX ? (int64_t)v : -(int64_t)(UINT64_MAX - v) - 1;
}

/* A NUL-terminated string; the terminator must lie inside the message. */
static int rd_str(pgo_reader *r, const char *field, const char **out)
{
    const unsigned char *start = r->buf + r->pos;
    const unsigned char *nul = memchr(start, 0, remaining(r));
    if (!nul)
        return fail(r, r->pos, "%s has no NUL terminator in the %zu remaining bytes", field,
                    remaining(r));
    *out = (const char *)start;
    r->pos += (size_t)(nul - start) + 1;
    return 0;
}

/* The protocol sends an empty namespace for pg_catalog to save space. */
static int rd_namespace(pgo_reader *r, const char **out)
{
    if (rd_str(r, "namespace", out) != 0)
        return -1;
    if ((*out)[0] == '\0')
        *out = "pg_catalog";
    return 0;
}

/* Grows a decoder-owned array to hold need elements. Doubling keeps the
 * number of reallocations logarithmic; capacity never shrinks, so a steady
 * stream of same-shaped messages allocates nothing. */
static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need)
        ncap *= 2;
    if (ncap > SIZE_MAX / elem)
        return -1;
    void *p = realloc(*arr, ncap * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = ncap;
    return 0;
}

/* Reads a TupleData into d->values[first ...]; *ncols gets its column count.
 * The caller takes the values pointer only after its last tuple is read,
 * since a later grow may move the array. */
static int read_tuple(pgo_decoder *d, pgo_reader *r, const char *label, size_t first,
                      uint16_t *ncols)
{
    uint16_t n;
    r->tuple = label;
    if (rd_u16(r, "column count", &n) != 0)
        return -1;
    /* Every column takes at least its kind byte. */
    if (n > remaining(r))
        return fail(r, r->pos - 2, "column count %u exceeds the %zu remaining bytes", n,
                    remaining(r));
    if (grow((void **)&d->values, &d->values_cap, first + n, sizeof *d->values) != 0)
        return fail(r, r->pos - 2, "out of memory for %u column values", n);
    r->ncols = n;
    for (unsigned i = 0; i < n; i++) {
        pgo_value *v = &d->values[first + i];
        uint8_t kind;
        uint32_t raw;
        char b[16];
        r->col = i + 1;
        if (rd_u8(r, "kind", &kind) != 0)
            return -1;
        v->kind = (char)kind;
        v->len = 0;
        v->data = NULL;
        switch (kind) {
        case PGO_VALUE_NULL:
        case PGO_VALUE_UNCHANGED:
            break;
        case PGO_VALUE_TEXT:
        case PGO_VALUE_BINARY:
            if (rd_u32(r, "value length", &raw) != 0)
                return -1;
            if (as_i32(raw) < 0)
                return fail(r, r->pos - 4, "value length %d is negative", as_i32(raw));
            if (raw > remaining(r))
                return fail(r, r->pos - 4, "value length %u exceeds the %zu remaining bytes", raw,
                            remaining(r));
            v->len = raw;
            v->data = (const char *)r->buf + r->pos;
            r->pos += raw;
            break;
        default:
            return fail(r, r->pos - 1, "unknown column kind %s, expected 'n', 'u', 't' or 'b'",
                        byte_str(kind, b, sizeof b));
        }
    }
    r->col = 0;
    r->tuple = NULL;
    *ncols = n;
    return 0;
}

static int read_relation(pgo_decoder *d, pgo_reader *r, pgo_msg *msg)
{
    uint8_t replident;
    uint16_t n;
    char b[16];
    if (rd_u32(r, "relation id", &msg->u.relation.relid) != 0 ||
        rd_namespace(r, &msg->u.relation.nspname) != 0 ||
        rd_str(r, "relation name", &msg->u.relation.relname) != 0 ||
        rd_u8(r, "replica identity", &replident) != 0)
        return -1;
    if (replident != 'd' && replident != 'n' && replident != 'f' && replident != 'i')
        return fail(r, r->pos - 1, "replica identity %s is not 'd', 'n', 'f' or 'i'",
                    byte_str(replident, b, sizeof b));
    msg->u.relation.replident = (char)replident;
    if (rd_u16(r, "column count", &n) != 0)
        return -1;
    /* flags, name terminator, type oid and typmod: at least 10 bytes each. */
    if ((size_t)n * 10 > remaining(r))
        return fail(r, r->pos - 2, "column count %u needs at least %zu bytes, only %zu remain", n,
                    (size_t)n * 10, remaining(r));
    if (grow((void **)&d->columns, &d->columns_cap, n, sizeof *d->columns) != 0)
        return fail(r, r->pos - 2, "out of memory for %u columns", n);
    r->ncols = n;
    for (unsigned i = 0; i < n; i++) {
        pgo_column *c = &d->columns[i];
        uint32_t typmod;
        r->col = i + 1;
        if (rd_u8(r, "flags", &c->flags) != 0)
            return -1;
        if (c->flags & ~PGO_COLUMN_KEY)
            return fail(r, r->pos - 1, "flags 0x%02x has bits other than the key flag 0x01",
                        c->flags);
        if (rd_str(r, "column name", &c->name) != 0 || rd_u32(r, "type oid", &c->type_oid) != 0 ||
            rd_u32(r, "typmod", &typmod) != 0)
            return -1;
        c->typmod = as_i32(typmod);
    }
    r->col = 0;
    msg->u.relation.ncols = n;
    msg->u.relation.columns = d->columns;
    return 0;
}

static int read_change(pgo_decoder *d, pgo_reader *r, pgo_msg *msg)
{
    uint8_t marker;
    uint16_t nold = 0, nnew = 0;
    char b[16];
    msg->u.change.old_kind = PGO_OLD_NONE;
    if (rd_u32(r, "relation id", &msg->u.change.relid) != 0 ||
        rd_u8(r, "tuple marker", &marker) != 0)
        return -1;
    switch (msg->type) {
    case PGO_INSERT:
        if (marker != 'N')
            return fail(r, r->pos - 1, "tuple marker %s is not 'N'", byte_str(marker, b, sizeof b));
        break;
    case PGO_UPDATE:
        if (marker != 'K' && marker != 'O' && marker != 'N')
            return fail(r, r->pos - 1, "tuple marker %s is not 'K', 'O' or 'N'",
                        byte_str(marker, b, sizeof b));
        break;
    default: /* Delete */
        if (marker != 'K' && marker != 'O')
            return fail(r, r->pos - 1, "tuple marker %s is not 'K' or 'O'",
                        byte_str(marker, b, sizeof b));
        break;
    }
    if (marker == 'K' || marker == 'O') {
        msg->u.change.old_kind = (char)marker;
        if (read_tuple(d, r, marker == 'K' ? "old key tuple" : "old tuple", 0, &nold) != 0)
            return -1;
        if (msg->type == PGO_UPDATE) {
            if (rd_u8(r, "new tuple marker", &marker) != 0)
                return -1;
            if (marker != 'N')
                return fail(r, r->pos - 1, "new tuple marker %s is not 'N'",
                            byte_str(marker, b, sizeof b));
        }
    }
    if (msg->type != PGO_DELETE &&
        read_tuple(d, r, msg->type == PGO_UPDATE ? "new tuple" : NULL, nold, &nnew) != 0)
        return -1;
    /* Both tuples share d->values; take the pointers after the last grow. */
    msg->u.change.old_tuple.ncols = nold;
    msg->u.change.old_tuple.values = nold ? d->values : NULL;
    msg->u.change.new_tuple.ncols = nnew;
    msg->u.change.new_tuple.values = nnew ? d->values + nold : NULL;
    return 0;
}

static int read_truncate(pgo_decoder *d, pgo_reader *r, pgo_msg *msg)
{
    uint32_t n;
    size_t at = r->pos;
    if (rd_u32(r, "relation count", &n) != 0 || rd_u8(r, "options", &msg->u.truncate.options) != 0)
        return -1;
    if (msg->u.truncate.options & ~3u)
        return fail(r, r->pos - 1,
                    "options 0x%02x has bits other than CASCADE (0x01) and RESTART IDENTITY (0x02)",
                    msg->u.truncate.options);
    if (n > remaining(r) / 4)
        return fail(r, at, "relation count %u needs %llu bytes, only %zu remain", n,
                    (unsigned long long)n * 4, remaining(r));
    if (grow((void **)&d->relids, &d->relids_cap, n, sizeof *d->relids) != 0)
        return fail(r, r->pos, "out of memory for %u relation ids", n);
    for (uint32_t i = 0; i < n; i++)
        rd_u32(r, "relation id", &d->relids[i]); /* length checked above */
    msg->u.truncate.nrelids = n;
    msg->u.truncate.relids = d->relids;
    return 0;
}

static int read_message(pgo_reader *r, pgo_msg *msg)
{
    uint8_t flags;
    uint32_t len;
    if (rd_u8(r, "flags", &flags) != 0)
        return -1;
    if (flags & ~1u)
        return fail(r, r->pos - 1, "flags 0x%02x has bits other than transactional (0x01)", flags);
    msg->u.message.transactional = flags & 1u;
    if (rd_u64(r, "lsn", &msg->u.message.lsn) != 0 ||
        rd_str(r, "prefix", &msg->u.message.prefix) != 0 || rd_u32(r, "content length", &len) != 0)
        return -1;
    if (as_i32(len) < 0)
        return fail(r, r->pos - 4, "content length %d is negative", as_i32(len));
    if (len > remaining(r))
        return fail(r, r->pos - 4, "content length %u exceeds the %zu remaining bytes", len,
                    remaining(r));
    msg->u.message.len = len;
    msg->u.message.content = (const char *)r->buf + r->pos;
    r->pos += len;
    return 0;
}

static int read_commit_fields(pgo_reader *r, pgo_msg *msg)
{
    uint8_t flags;
    uint64_t t;
    if (rd_u8(r, "flags", &flags) != 0)
        return -1;
    if (flags != 0)
        return fail(r, r->pos - 1, "flags 0x%02x are not 0 (no commit flags are defined)", flags);
    if (rd_u64(r, "commit lsn", &msg->u.commit.commit_lsn) != 0 ||
        rd_u64(r, "end lsn", &msg->u.commit.end_lsn) != 0 || rd_u64(r, "commit time", &t) != 0)
        return -1;
    msg->u.commit.commit_time = as_i64(t);
    return 0;
}

static int read_stream_abort(pgo_decoder *d, pgo_reader *r, pgo_msg *msg)
{
    uint64_t t;
    if (rd_u32(r, "xid", &msg->xid) != 0 || rd_u32(r, "subxid", &msg->u.stream_abort.subxid) != 0)
        return -1;
    msg->u.stream_abort.abort_lsn = 0;
    msg->u.stream_abort.abort_time = 0;
    /* abort_lsn and abort_time follow only with streaming 'parallel'; the
     * message carries no flag for that, so its length decides. */
    if (remaining(r) == 0)
        return 0;
    if (remaining(r) != 16)
        return fail(r, r->pos,
                    "%zu bytes after subxid; expected 0, or 16 (abort lsn and abort time) with "
                    "parallel streaming",
                    remaining(r));
    if (d->proto_version < 4)
        return fail(r, r->pos,
                    "abort lsn and abort time need protocol version 4, the decoder speaks %d",
                    d->proto_version);
    rd_u64(r, "abort lsn", &msg->u.stream_abort.abort_lsn);
    rd_u64(r, "abort time", &t);
    msg->u.stream_abort.abort_time = as_i64(t);
    return 0;
}

typedef struct {
    char type;
    const char *name;
    unsigned char streamed_xid; /* carries an xid inside a stream block */
    unsigned char stream_ctl;   /* stream control message: needs protocol 2 */
    unsigned char two_phase;    /* only sent with two_phase, which Tidewater never asks for */
} msg_kind;

static const msg_kind msg_kinds[] = {
    {'B', "Begin", 0, 0, 0},
    {'C', "Commit", 0, 0, 0},
    {'O', "Origin", 0, 0, 0},
    {'R', "Relation", 1, 0, 0},
    {'Y', "Type", 1, 0, 0},
    {'I', "Insert", 1, 0, 0},
    {'U', "Update", 1, 0, 0},
    {'D', "Delete", 1, 0, 0},
    {'T', "Truncate", 1, 0, 0},
    {'M', "Message", 1, 0, 0},
    {'S', "Stream Start", 0, 1, 0},
    {'E', "Stream Stop", 0, 1, 0},
    {'c', "Stream Commit", 0, 1, 0},
    {'A', "Stream Abort", 0, 1, 0},
    {'b', "Begin Prepare", 0, 0, 1},
    {'P', "Prepare", 0, 0, 1},
    {'K', "Commit Prepared", 0, 0, 1},
    {'r', "Rollback Prepared", 0, 0, 1},
    {'p', "Stream Prepare", 0, 0, 1},
};

void pgo_decoder_init(pgo_decoder *d, int proto_version)
{
    memset(d, 0, sizeof *d);
    d->proto_version = proto_version;
}

void pgo_decoder_free(pgo_decoder *d)
{
    free(d->values);
    free(d->columns);
    free(d->relids);
    d->values = NULL;
    d->columns = NULL;
    d->relids = NULL;
    d->values_cap = d->columns_cap = d->relids_cap = 0;
}

int pgo_decode(pgo_decoder *d, const char *buf, size_t len, pgo_msg *msg, char *err, size_t errsize)
{
    const msg_kind *k = NULL;
    uint64_t t;
    uint8_t first_segment;
    char b[16];
    int in_stream = d->in_stream; /* committed to d only on success */

    memset(msg, 0, sizeof *msg);
    if (d->proto_version < 1 || d->proto_version > 4) {
        tw_errf(err, errsize, "pgoutput decoder: protocol version %d is not one of 1 to 4",
                d->proto_version);
        return -1;
    }
    if (!buf || len == 0) {
        tw_errf(err, errsize, "pgoutput message at offset 0 of %zu: empty message, no type byte",
                len);
        return -1;
    }
    for (size_t i = 0; i < sizeof msg_kinds / sizeof msg_kinds[0]; i++)
        if (msg_kinds[i].type == buf[0])
            k = &msg_kinds[i];
    if (!k) {
        tw_errf(err, errsize, "pgoutput message at offset 0 of %zu: unknown message type %s", len,
                byte_str((unsigned char)buf[0], b, sizeof b));
        return -1;
    }

    pgo_reader r = {(const unsigned char *)buf, len, 1, k->type, k->name, NULL, 0, 0, err, errsize};
    msg->type = (pgo_msg_type)k->type;
    if (k->two_phase)
        return fail(&r, 0, "unexpected two-phase message: two_phase is not requested by Tidewater");
    if (k->stream_ctl && d->proto_version < 2)
        return fail(&r, 0, "stream messages need protocol version 2, the decoder speaks %d",
                    d->proto_version);
    if (k->streamed_xid && in_stream && rd_u32(&r, "streamed xid", &msg->xid) != 0)
        return -1;

    switch (k->type) {
    case PGO_BEGIN:
        if (in_stream)
            return fail(&r, 0, "Begin inside a stream block (after Stream Start, before Stop)");
        if (rd_u64(&r, "final lsn", &msg->u.begin.final_lsn) != 0 ||
            rd_u64(&r, "commit time", &t) != 0 || rd_u32(&r, "xid", &msg->xid) != 0)
            return -1;
        msg->u.begin.commit_time = as_i64(t);
        break;
    case PGO_COMMIT:
        if (in_stream)
            return fail(&r, 0, "Commit inside a stream block (after Stream Start, before Stop)");
        if (read_commit_fields(&r, msg) != 0)
            return -1;
        break;
    case PGO_ORIGIN:
        if (rd_u64(&r, "origin lsn", &msg->u.origin.lsn) != 0 ||
            rd_str(&r, "origin name", &msg->u.origin.name) != 0)
            return -1;
        break;
    case PGO_RELATION:
        if (read_relation(d, &r, msg) != 0)
            return -1;
        break;
    case PGO_TYPE:
        if (rd_u32(&r, "type oid", &msg->u.type.oid) != 0 ||
            rd_namespace(&r, &msg->u.type.nspname) != 0 ||
            rd_str(&r, "type name", &msg->u.type.typname) != 0)
            return -1;
        break;
    case PGO_INSERT:
    case PGO_UPDATE:
    case PGO_DELETE:
        if (read_change(d, &r, msg) != 0)
            return -1;
        break;
    case PGO_TRUNCATE:
        if (read_truncate(d, &r, msg) != 0)
            return -1;
        break;
    case PGO_MESSAGE:
        if (read_message(&r, msg) != 0)
            return -1;
        break;
    case PGO_STREAM_START:
        if (in_stream)
            return fail(&r, 0, "Stream Start while a stream block is already open");
        if (rd_u32(&r, "xid", &msg->xid) != 0 || rd_u8(&r, "first segment", &first_segment) != 0)
            return -1;
        if (first_segment > 1)
            return fail(&r, r.pos - 1, "first segment %s is not 0 or 1",
                        byte_str(first_segment, b, sizeof b));
        msg->u.stream_start.first_segment = first_segment;
        in_stream = 1;
        break;
    case PGO_STREAM_STOP:
        if (!in_stream)
            return fail(&r, 0, "Stream Stop without an open stream block");
        in_stream = 0;
        break;
    case PGO_STREAM_COMMIT:
        if (in_stream)
            return fail(&r, 0, "Stream Commit inside a stream block (before Stream Stop)");
        if (rd_u32(&r, "xid", &msg->xid) != 0 || read_commit_fields(&r, msg) != 0)
            return -1;
        break;
    case PGO_STREAM_ABORT:
        if (in_stream)
            return fail(&r, 0, "Stream Abort inside a stream block (before Stream Stop)");
        if (read_stream_abort(d, &r, msg) != 0)
            return -1;
        break;
    }

    if (r.pos != r.len)
        return fail(&r, r.pos, "%zu trailing bytes after a complete message", r.len - r.pos);
    d->in_stream = in_stream;
    return 0;
}

int64_t pgo_time_to_unix_ms(int64_t pg_us)
{
    int64_t ms = pg_us / 1000;
    if (pg_us % 1000 < 0)
        ms--; /* C division truncates toward zero; times before 2000 need floor */
    return ms + PG_EPOCH_UNIX_MS;
}
