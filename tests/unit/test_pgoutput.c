/* pgoutput decoder: every message type built by hand, streamed variants, and
 * the strictness contract (truncation, bad lengths, unknown bytes, trailing
 * bytes, stream state kept on error). Messages are decoded from heap copies
 * of their exact length, so a read past the end trips the sanitizer build. */
#include "decoders/pgoutput.h"
#include "tw_test.h"

#include <stdint.h>
#include <stdlib.h>

/* ---- building messages ---------------------------------------------------- */

typedef struct {
    unsigned char b[16384];
    size_t n;
} mbuf;

static void put8(mbuf *m, unsigned v)
{
    m->b[m->n++] = (unsigned char)v;
}

static void put16(mbuf *m, unsigned v)
{
    put8(m, v >> 8 & 0xff);
    put8(m, v & 0xff);
}

static void put32(mbuf *m, uint32_t v)
{
    put16(m, v >> 16);
    put16(m, v & 0xffff);
}

static void put64(mbuf *m, uint64_t v)
{
    put32(m, (uint32_t)(v >> 32));
    put32(m, (uint32_t)v);
}

static void putstr(mbuf *m, const char *s)
{
    size_t len = strlen(s) + 1;
    memcpy(m->b + m->n, s, len);
    m->n += len;
}

static void putbytes(mbuf *m, const void *p, size_t len)
{
    memcpy(m->b + m->n, p, len);
    m->n += len;
}

/* A text ('t') or binary ('b') column value. */
static void putval(mbuf *m, char kind, const void *p, size_t len)
{
    put8(m, (unsigned char)kind);
    put32(m, (uint32_t)len);
    putbytes(m, p, len);
}

static mbuf start(char type)
{
    mbuf m = {.n = 0};
    put8(&m, (unsigned char)type);
    return m;
}

/* ---- decoding exact-size copies ------------------------------------------ */

static char *held; /* the copy the last decoded message points into */

static int decode_bytes(pgo_decoder *d, const void *bytes, size_t n, pgo_msg *msg, char *err,
                        size_t errsize)
{
    free(held);
    held = malloc(n ? n : 1);
    memcpy(held, bytes, n);
    err[0] = '\0';
    return pgo_decode(d, held, n, msg, err, errsize);
}

static int decode(pgo_decoder *d, const mbuf *m, pgo_msg *msg, char *err, size_t errsize)
{
    return decode_bytes(d, m->b, m->n, msg, err, errsize);
}

/* Every proper prefix of a valid message is an error (never a crash), every
 * one leaves the stream state alone, and so does one extra byte at the end.
 * ok_prefix names one prefix length that is itself a complete message (0:
 * none), as for a Stream Abort whose optional abort fields are cut off. */
static void check_strict(const char *label, int proto, int in_stream, const mbuf *m,
                         size_t ok_prefix)
{
    char err[512];
    pgo_msg msg;
    pgo_decoder d;
    pgo_decoder_init(&d, proto);
    for (size_t k = 0; k < m->n; k++) {
        d.in_stream = in_stream;
        int rc = decode_bytes(&d, m->b, k, &msg, err, sizeof err);
        if (k == ok_prefix && k != 0) {
            EXPECT(rc == 0, "%s: prefix of %zu bytes should be complete: %s", label, k, err);
            continue;
        }
        EXPECT(rc == -1, "%s: prefix of %zu of %zu bytes was accepted", label, k, m->n);
        EXPECT(strncmp(err, "pgoutput ", 9) == 0, "%s: prefix %zu: error text '%s'", label, k, err);
        /* The error says where (an offset inside the prefix, and its
         * length) and which field ran out. */
        char where[64];
        size_t at = (size_t)-1;
        const char *o = strstr(err, " at offset ");
        snprintf(where, sizeof where, " of %zu: ", k);
        EXPECT(o && sscanf(o, " at offset %zu", &at) == 1 && at <= k && strstr(o, where),
               "%s: prefix %zu: no offset within the prefix in '%s'", label, k, err);
        EXPECT(strstr(err, "needs ") || strstr(err, "no NUL terminator") ||
                   strstr(err, "exceeds the") || strstr(err, "empty message") ||
                   strstr(err, "bytes after subxid; expected 0, or 16 (abort lsn and abort time)"),
               "%s: prefix %zu: the error names no field that ran out: '%s'", label, k, err);
        EXPECT(d.in_stream == in_stream, "%s: prefix %zu changed in_stream from %d to %d", label, k,
               in_stream, d.in_stream);
    }
    mbuf longer = *m;
    put8(&longer, 0x5a);
    d.in_stream = in_stream;
    EXPECT(decode(&d, &longer, &msg, err, sizeof err) == -1, "%s: trailing byte accepted", label);
    /* A Stream Abort's length decides whether its optional fields are there,
     * so an extra byte is reported as a wrong length rather than trailing. */
    EXPECT(strstr(err, "1 trailing bytes after a complete message") ||
               (m->b[0] == 'A' && strstr(err, "bytes after subxid; expected 0, or 16")),
           "%s: error for a trailing byte: '%s'", label, err);
    EXPECT(d.in_stream == in_stream, "%s: trailing byte changed in_stream", label);
    d.in_stream = in_stream;
    EXPECT(decode(&d, m, &msg, err, sizeof err) == 0, "%s: full message rejected: %s", label, err);
    pgo_decoder_free(&d);
}

/* Decodes m, which must fail with an error containing want; the stream state
 * must be what it was. */
static void expect_error(pgo_decoder *d, const mbuf *m, const char *want)
{
    char err[512];
    pgo_msg msg;
    int before = d->in_stream;
    EXPECT(decode(d, m, &msg, err, sizeof err) == -1, "accepted, wanted error '%s'", want);
    EXPECT_CONTAINS(err, want);
    EXPECT(d->in_stream == before, "in_stream went from %d to %d on error '%s'", before,
           d->in_stream, err);
}

static int value_is(const pgo_value *v, char kind, const char *data, size_t len)
{
    if (v->kind != kind || v->len != len)
        return 0;
    if (kind == PGO_VALUE_NULL || kind == PGO_VALUE_UNCHANGED)
        return v->data == NULL;
    return v->data != NULL && memcmp(v->data, data, len) == 0;
}

#define EXPECT_VALUE(v, k, bytes, n)                                                               \
    EXPECT(value_is((v), (k), (bytes), (n)), "value kind '%c' len %u, want kind '%c' len %zu",     \
           (v)->kind, (unsigned)(v)->len, (k), (size_t)(n))

/* ---- message builders used by several tests ------------------------------ */

static mbuf msg_begin(void)
{
    mbuf m = start('B');
    put64(&m, UINT64_C(0x000000010000ABC8));
    put64(&m, UINT64_C(788918400000000)); /* 2024-12-31 00:00 UTC */
    put32(&m, 4242);
    return m;
}

static mbuf msg_commit(char type, uint32_t xid, unsigned flags)
{
    mbuf m = start(type);
    if (type == 'c')
        put32(&m, xid);
    put8(&m, flags);
    put64(&m, UINT64_C(0x000000010000ABC8));
    put64(&m, UINT64_C(0x000000010000AC00));
    put64(&m, UINT64_C(788918400000001));
    return m;
}

static mbuf msg_relation(int streamed, uint32_t xid, const char *nsp)
{
    mbuf m = start('R');
    if (streamed)
        put32(&m, xid);
    put32(&m, 16384);
    putstr(&m, nsp);
    putstr(&m, "orders");
    put8(&m, 'd');
    put16(&m, 3);
    put8(&m, 1);
    putstr(&m, "id");
    put32(&m, 20);
    put32(&m, 0xffffffff);
    put8(&m, 0);
    putstr(&m, "amount");
    put32(&m, 1700);
    put32(&m, 655366);
    put8(&m, 0);
    putstr(&m, "");
    put32(&m, 25);
    put32(&m, 0xffffffff);
    return m;
}

static mbuf msg_type(int streamed, uint32_t xid)
{
    mbuf m = start('Y');
    if (streamed)
        put32(&m, xid);
    put32(&m, 16400);
    putstr(&m, "shop");
    putstr(&m, "mood");
    return m;
}

/* An Insert whose tuple has all four column kinds, a zero-length text value
 * and binary bytes with a NUL inside. */
static mbuf msg_insert(int streamed, uint32_t xid)
{
    mbuf m = start('I');
    if (streamed)
        put32(&m, xid);
    put32(&m, 16384);
    put8(&m, 'N');
    put16(&m, 5);
    putval(&m, 't', "42", 2);
    put8(&m, 'n');
    put8(&m, 'u');
    putval(&m, 't', "", 0);
    putval(&m, 'b', "\x00\x01\xff", 3);
    return m;
}

static void put_small_tuple(mbuf *m, const char *a, const char *b)
{
    put16(m, 2);
    putval(m, 't', a, strlen(a));
    if (b)
        putval(m, 't', b, strlen(b));
    else
        put8(m, 'n');
}

/* old: 0 (none), 'K' or 'O'. */
static mbuf msg_update(int streamed, uint32_t xid, char old)
{
    mbuf m = start('U');
    if (streamed)
        put32(&m, xid);
    put32(&m, 16384);
    if (old) {
        put8(&m, (unsigned char)old);
        put_small_tuple(&m, "1", old == 'O' ? "before" : NULL);
    }
    put8(&m, 'N');
    put_small_tuple(&m, "2", "after");
    return m;
}

static mbuf msg_delete(int streamed, uint32_t xid, char old)
{
    mbuf m = start('D');
    if (streamed)
        put32(&m, xid);
    put32(&m, 16384);
    put8(&m, (unsigned char)old);
    put_small_tuple(&m, "7", old == 'O' ? "gone" : NULL);
    return m;
}

static mbuf msg_truncate(int streamed, uint32_t xid)
{
    mbuf m = start('T');
    if (streamed)
        put32(&m, xid);
    put32(&m, 3);
    put8(&m, 3);
    put32(&m, 16384);
    put32(&m, 16390);
    put32(&m, 4000000000u);
    return m;
}

static mbuf msg_message(int streamed, uint32_t xid, int transactional)
{
    mbuf m = start('M');
    if (streamed)
        put32(&m, xid);
    put8(&m, transactional ? 1 : 0);
    put64(&m, UINT64_C(0x16B3748));
    putstr(&m, "app");
    put32(&m, 5);
    putbytes(&m, "a\0b\nc", 5);
    return m;
}

static mbuf msg_origin(void)
{
    mbuf m = start('O');
    put64(&m, UINT64_C(0x12345678));
    putstr(&m, "upstream");
    return m;
}

static mbuf msg_stream_start(uint32_t xid, unsigned first)
{
    mbuf m = start('S');
    put32(&m, xid);
    put8(&m, first);
    return m;
}

static mbuf msg_stream_abort(uint32_t xid, uint32_t subxid, int with_info)
{
    mbuf m = start('A');
    put32(&m, xid);
    put32(&m, subxid);
    if (with_info) {
        put64(&m, UINT64_C(0x2252E88));
        put64(&m, UINT64_C(848606539201803));
    }
    return m;
}

/* ---- tests of valid messages --------------------------------------------- */

static void test_begin_commit_origin(void)
{
    char err[512];
    pgo_msg msg;
    pgo_decoder d;
    pgo_decoder_init(&d, 1);

    mbuf m = msg_begin();
    EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "Begin: %s", err);
    EXPECT(msg.type == PGO_BEGIN, "type '%c'", msg.type);
    EXPECT(msg.xid == 4242, "Begin xid %u", msg.xid);
    EXPECT(msg.u.begin.final_lsn == UINT64_C(0x000000010000ABC8), "final_lsn %llx",
           (unsigned long long)msg.u.begin.final_lsn);
    EXPECT(msg.u.begin.commit_time == 788918400000000, "commit_time %lld",
           (long long)msg.u.begin.commit_time);

    m = msg_commit('C', 0, 0);
    EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "Commit: %s", err);
    EXPECT(msg.type == PGO_COMMIT && msg.xid == 0, "type '%c' xid %u", msg.type, msg.xid);
    EXPECT(msg.u.commit.commit_lsn == UINT64_C(0x10000ABC8), "commit_lsn %llx",
           (unsigned long long)msg.u.commit.commit_lsn);
    EXPECT(msg.u.commit.end_lsn == UINT64_C(0x10000AC00), "end_lsn %llx",
           (unsigned long long)msg.u.commit.end_lsn);
    EXPECT(msg.u.commit.commit_time == 788918400000001, "commit_time %lld",
           (long long)msg.u.commit.commit_time);

    m = msg_origin();
    EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "Origin: %s", err);
    EXPECT(msg.type == PGO_ORIGIN && msg.u.origin.lsn == 0x12345678, "type '%c' lsn %llx", msg.type,
           (unsigned long long)msg.u.origin.lsn);
    EXPECT_STR(msg.u.origin.name, "upstream");
    pgo_decoder_free(&d);
}

static void check_relation(const pgo_msg *msg, uint32_t xid, const char *nsp)
{
    EXPECT(msg->type == PGO_RELATION, "type '%c'", msg->type);
    EXPECT(msg->xid == xid, "Relation xid %u, want %u", msg->xid, xid);
    EXPECT(msg->u.relation.relid == 16384, "relid %u", msg->u.relation.relid);
    EXPECT_STR(msg->u.relation.nspname, nsp);
    EXPECT_STR(msg->u.relation.relname, "orders");
    EXPECT(msg->u.relation.replident == 'd', "replident '%c'", msg->u.relation.replident);
    EXPECT(msg->u.relation.ncols == 3, "ncols %u", msg->u.relation.ncols);
    if (msg->u.relation.ncols != 3)
        return;
    const pgo_column *c = msg->u.relation.columns;
    EXPECT(c[0].flags == PGO_COLUMN_KEY && c[0].type_oid == 20 && c[0].typmod == -1,
           "column 1: flags %u oid %u typmod %d", c[0].flags, c[0].type_oid, c[0].typmod);
    EXPECT_STR(c[0].name, "id");
    EXPECT(c[1].flags == 0 && c[1].type_oid == 1700 && c[1].typmod == 655366,
           "column 2: flags %u oid %u typmod %d", c[1].flags, c[1].type_oid, c[1].typmod);
    EXPECT_STR(c[1].name, "amount");
    EXPECT_STR(c[2].name, ""); /* legal on the wire; not the decoder's business */
}

static void test_relation_and_type(void)
{
    char err[512];
    pgo_msg msg;
    pgo_decoder d;
    pgo_decoder_init(&d, 4);

    mbuf m = msg_relation(0, 0, "shop");
    EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "Relation: %s", err);
    check_relation(&msg, 0, "shop");

    /* The protocol sends an empty namespace for pg_catalog. */
    m = msg_relation(0, 0, "");
    EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "Relation in pg_catalog: %s", err);
    check_relation(&msg, 0, "pg_catalog");

    m = msg_type(0, 0);
    EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "Type: %s", err);
    EXPECT(msg.type == PGO_TYPE && msg.xid == 0 && msg.u.type.oid == 16400,
           "type '%c' xid %u oid %u", msg.type, msg.xid, msg.u.type.oid);
    EXPECT_STR(msg.u.type.nspname, "shop");
    EXPECT_STR(msg.u.type.typname, "mood");
    pgo_decoder_free(&d);
}

static void check_insert(const pgo_msg *msg, uint32_t xid)
{
    EXPECT(msg->type == PGO_INSERT && msg->xid == xid, "type '%c' xid %u, want I %u", msg->type,
           msg->xid, xid);
    EXPECT(msg->u.change.relid == 16384, "relid %u", msg->u.change.relid);
    EXPECT(msg->u.change.old_kind == PGO_OLD_NONE, "old_kind %d", msg->u.change.old_kind);
    EXPECT(msg->u.change.old_tuple.ncols == 0, "old ncols %u", msg->u.change.old_tuple.ncols);
    const pgo_tuple *t = &msg->u.change.new_tuple;
    EXPECT(t->ncols == 5, "new ncols %u", t->ncols);
    if (t->ncols != 5)
        return;
    EXPECT_VALUE(&t->values[0], 't', "42", 2);
    EXPECT_VALUE(&t->values[1], 'n', NULL, 0);
    EXPECT_VALUE(&t->values[2], 'u', NULL, 0);
    EXPECT_VALUE(&t->values[3], 't', "", 0);
    EXPECT_VALUE(&t->values[4], 'b', "\x00\x01\xff", 3);
}

static void check_update(const pgo_msg *msg, uint32_t xid, char old)
{
    EXPECT(msg->type == PGO_UPDATE && msg->xid == xid, "type '%c' xid %u, want U %u", msg->type,
           msg->xid, xid);
    EXPECT(msg->u.change.old_kind == old, "old_kind %d, want %d", msg->u.change.old_kind, old);
    const pgo_tuple *o = &msg->u.change.old_tuple, *n = &msg->u.change.new_tuple;
    if (old) {
        EXPECT(o->ncols == 2, "old ncols %u", o->ncols);
        if (o->ncols == 2) {
            EXPECT_VALUE(&o->values[0], 't', "1", 1);
            if (old == 'O')
                EXPECT_VALUE(&o->values[1], 't', "before", 6);
            else
                EXPECT_VALUE(&o->values[1], 'n', NULL, 0);
        }
    } else {
        EXPECT(o->ncols == 0, "old ncols %u without old tuple", o->ncols);
    }
    EXPECT(n->ncols == 2, "new ncols %u", n->ncols);
    if (n->ncols == 2) {
        EXPECT_VALUE(&n->values[0], 't', "2", 1);
        EXPECT_VALUE(&n->values[1], 't', "after", 5);
    }
}

static void check_delete(const pgo_msg *msg, uint32_t xid, char old)
{
    EXPECT(msg->type == PGO_DELETE && msg->xid == xid, "type '%c' xid %u, want D %u", msg->type,
           msg->xid, xid);
    EXPECT(msg->u.change.old_kind == old, "old_kind %d, want %d", msg->u.change.old_kind, old);
    const pgo_tuple *o = &msg->u.change.old_tuple;
    EXPECT(o->ncols == 2, "old ncols %u", o->ncols);
    EXPECT(msg->u.change.new_tuple.ncols == 0, "Delete has a new tuple of %u columns",
           msg->u.change.new_tuple.ncols);
    if (o->ncols == 2) {
        EXPECT_VALUE(&o->values[0], 't', "7", 1);
        if (old == 'O')
            EXPECT_VALUE(&o->values[1], 't', "gone", 4);
        else
            EXPECT_VALUE(&o->values[1], 'n', NULL, 0);
    }
}

static void check_truncate(const pgo_msg *msg, uint32_t xid)
{
    EXPECT(msg->type == PGO_TRUNCATE && msg->xid == xid, "type '%c' xid %u, want T %u", msg->type,
           msg->xid, xid);
    EXPECT(msg->u.truncate.options == 3, "options %u", msg->u.truncate.options);
    EXPECT(msg->u.truncate.nrelids == 3, "nrelids %u", msg->u.truncate.nrelids);
    if (msg->u.truncate.nrelids == 3)
        EXPECT(msg->u.truncate.relids[0] == 16384 && msg->u.truncate.relids[1] == 16390 &&
                   msg->u.truncate.relids[2] == 4000000000u,
               "relids %u %u %u", msg->u.truncate.relids[0], msg->u.truncate.relids[1],
               msg->u.truncate.relids[2]);
}

static void check_message(const pgo_msg *msg, uint32_t xid, int transactional)
{
    EXPECT(msg->type == PGO_MESSAGE && msg->xid == xid, "type '%c' xid %u, want M %u", msg->type,
           msg->xid, xid);
    EXPECT(msg->u.message.transactional == transactional, "transactional %u",
           msg->u.message.transactional);
    EXPECT(msg->u.message.lsn == 0x16B3748, "lsn %llx", (unsigned long long)msg->u.message.lsn);
    EXPECT_STR(msg->u.message.prefix, "app");
    EXPECT(msg->u.message.len == 5 && memcmp(msg->u.message.content, "a\0b\nc", 5) == 0,
           "content of %u bytes differs", msg->u.message.len);
}

static void test_changes(void)
{
    char err[512];
    pgo_msg msg;
    pgo_decoder d;
    pgo_decoder_init(&d, 1);

    mbuf m = msg_insert(0, 0);
    EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "Insert: %s", err);
    check_insert(&msg, 0);

    const char olds[] = {0, 'K', 'O'};
    for (int i = 0; i < 3; i++) {
        m = msg_update(0, 0, olds[i]);
        EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "Update old '%c': %s", olds[i], err);
        check_update(&msg, 0, olds[i]);
    }
    m = msg_delete(0, 0, 'K');
    EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "Delete K: %s", err);
    check_delete(&msg, 0, 'K');
    m = msg_delete(0, 0, 'O');
    EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "Delete O: %s", err);
    check_delete(&msg, 0, 'O');

    m = msg_truncate(0, 0);
    EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "Truncate: %s", err);
    check_truncate(&msg, 0);

    m = msg_message(0, 0, 1);
    EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "Message: %s", err);
    check_message(&msg, 0, 1);
    m = msg_message(0, 0, 0);
    EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "non-transactional Message: %s", err);
    check_message(&msg, 0, 0);

    /* A table without columns has an empty tuple; nothing to point at. */
    m = start('I');
    put32(&m, 1);
    put8(&m, 'N');
    put16(&m, 0);
    EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "Insert of no columns: %s", err);
    EXPECT(msg.u.change.new_tuple.ncols == 0, "ncols %u", msg.u.change.new_tuple.ncols);
    pgo_decoder_free(&d);
}

/* A whole streamed transaction: S, the data messages with their xid, E,
 * another segment, then Stream Commit; and an aborted one. */
static void test_streaming(void)
{
    char err[512];
    pgo_msg msg;
    pgo_decoder d;
    pgo_decoder_init(&d, 2);
    const uint32_t top = 900, sub = 901;

    mbuf m = msg_stream_start(top, 1);
    EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "Stream Start: %s", err);
    EXPECT(msg.type == PGO_STREAM_START && msg.xid == top && msg.u.stream_start.first_segment == 1,
           "type '%c' xid %u first %u", msg.type, msg.xid, msg.u.stream_start.first_segment);
    EXPECT(d.in_stream == 1, "in_stream %d after Stream Start", d.in_stream);

    m = msg_relation(1, top, "shop");
    EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "streamed Relation: %s", err);
    check_relation(&msg, top, "shop");
    m = msg_type(1, top);
    EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "streamed Type: %s", err);
    EXPECT(msg.type == PGO_TYPE && msg.xid == top && msg.u.type.oid == 16400,
           "type '%c' xid %u oid %u", msg.type, msg.xid, msg.u.type.oid);
    m = msg_insert(1, sub);
    EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "streamed Insert: %s", err);
    check_insert(&msg, sub);
    const char olds[] = {0, 'K', 'O'};
    for (int i = 0; i < 3; i++) {
        m = msg_update(1, top, olds[i]);
        EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "streamed Update '%c': %s", olds[i],
               err);
        check_update(&msg, top, olds[i]);
    }
    m = msg_delete(1, top, 'K');
    EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "streamed Delete: %s", err);
    check_delete(&msg, top, 'K');
    m = msg_truncate(1, top);
    EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "streamed Truncate: %s", err);
    check_truncate(&msg, top);
    m = msg_message(1, top, 1);
    EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "streamed Message: %s", err);
    check_message(&msg, top, 1);
    /* Origin carries no xid, even inside a stream block. */
    m = msg_origin();
    EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "Origin in a stream: %s", err);
    EXPECT(msg.xid == 0, "Origin xid %u", msg.xid);

    m = start('E');
    EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "Stream Stop: %s", err);
    EXPECT(msg.type == PGO_STREAM_STOP && msg.xid == 0, "type '%c' xid %u", msg.type, msg.xid);
    EXPECT(d.in_stream == 0, "in_stream %d after Stream Stop", d.in_stream);

    /* Outside the block the same bytes mean no xid: the Insert with an xid
     * prefix is now malformed. */
    m = msg_insert(1, sub);
    expect_error(&d, &m, "tuple marker");

    m = msg_stream_start(top, 0);
    EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "second Stream Start: %s", err);
    EXPECT(msg.u.stream_start.first_segment == 0, "first_segment %u",
           msg.u.stream_start.first_segment);
    m = start('E');
    EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "second Stream Stop: %s", err);

    m = msg_commit('c', top, 0);
    EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "Stream Commit: %s", err);
    EXPECT(msg.type == PGO_STREAM_COMMIT && msg.xid == top, "type '%c' xid %u", msg.type, msg.xid);
    EXPECT(msg.u.commit.end_lsn == UINT64_C(0x10000AC00), "end_lsn %llx",
           (unsigned long long)msg.u.commit.end_lsn);

    m = msg_stream_abort(top, sub, 0);
    EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "Stream Abort: %s", err);
    EXPECT(msg.type == PGO_STREAM_ABORT && msg.xid == top && msg.u.stream_abort.subxid == sub,
           "type '%c' xid %u subxid %u", msg.type, msg.xid, msg.u.stream_abort.subxid);
    EXPECT(msg.u.stream_abort.abort_lsn == 0 && msg.u.stream_abort.abort_time == 0,
           "abort fields %llx %lld without parallel streaming",
           (unsigned long long)msg.u.stream_abort.abort_lsn,
           (long long)msg.u.stream_abort.abort_time);

    /* Abort lsn and time: parallel streaming, protocol 4 only. */
    m = msg_stream_abort(top, top, 1);
    expect_error(&d, &m, "abort lsn and abort time need protocol version 4");
    d.proto_version = 4;
    EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "Stream Abort with abort info: %s", err);
    EXPECT(msg.u.stream_abort.abort_lsn == 0x2252E88 &&
               msg.u.stream_abort.abort_time == 848606539201803,
           "abort lsn %llx time %lld", (unsigned long long)msg.u.stream_abort.abort_lsn,
           (long long)msg.u.stream_abort.abort_time);
    mbuf eight = msg_stream_abort(top, top, 0);
    put64(&eight, 1);
    expect_error(&d, &eight, "8 bytes after subxid; expected 0, or 16");
    pgo_decoder_free(&d);

    /* Protocol 1 has no streaming at all. */
    pgo_decoder_init(&d, 1);
    m = msg_stream_start(top, 1);
    expect_error(&d, &m, "stream messages need protocol version 2, the decoder speaks 1");
    pgo_decoder_free(&d);
}

/* ---- strictness ------------------------------------------------------------ */

static void test_every_truncation(void)
{
    mbuf m;
    check_strict("Begin", 1, 0, (m = msg_begin(), &m), 0);
    check_strict("Commit", 1, 0, (m = msg_commit('C', 0, 0), &m), 0);
    check_strict("Origin", 1, 0, (m = msg_origin(), &m), 0);
    check_strict("Relation", 1, 0, (m = msg_relation(0, 0, "shop"), &m), 0);
    check_strict("Type", 1, 0, (m = msg_type(0, 0), &m), 0);
    check_strict("Insert", 1, 0, (m = msg_insert(0, 0), &m), 0);
    check_strict("Update", 1, 0, (m = msg_update(0, 0, 0), &m), 0);
    check_strict("Update K", 1, 0, (m = msg_update(0, 0, 'K'), &m), 0);
    check_strict("Update O", 1, 0, (m = msg_update(0, 0, 'O'), &m), 0);
    check_strict("Delete K", 1, 0, (m = msg_delete(0, 0, 'K'), &m), 0);
    check_strict("Delete O", 1, 0, (m = msg_delete(0, 0, 'O'), &m), 0);
    check_strict("Truncate", 1, 0, (m = msg_truncate(0, 0), &m), 0);
    check_strict("Message", 1, 0, (m = msg_message(0, 0, 1), &m), 0);
    check_strict("Stream Start", 2, 0, (m = msg_stream_start(5, 1), &m), 0);
    check_strict("Stream Stop", 2, 1, (m = start('E'), &m), 0);
    check_strict("Stream Commit", 2, 0, (m = msg_commit('c', 5, 0), &m), 0);
    check_strict("Stream Abort", 2, 0, (m = msg_stream_abort(5, 6, 0), &m), 0);
    /* Cut after subxid, the parallel Stream Abort is a plain one. */
    check_strict("Stream Abort with abort info", 4, 0, (m = msg_stream_abort(5, 6, 1), &m), 9);
    check_strict("streamed Relation", 2, 1, (m = msg_relation(1, 5, "shop"), &m), 0);
    check_strict("streamed Type", 2, 1, (m = msg_type(1, 5), &m), 0);
    check_strict("streamed Insert", 2, 1, (m = msg_insert(1, 5), &m), 0);
    check_strict("streamed Update K", 2, 1, (m = msg_update(1, 5, 'K'), &m), 0);
    check_strict("streamed Delete O", 2, 1, (m = msg_delete(1, 5, 'O'), &m), 0);
    check_strict("streamed Truncate", 2, 1, (m = msg_truncate(1, 5), &m), 0);
    check_strict("streamed Message", 2, 1, (m = msg_message(1, 5, 1), &m), 0);
}

static void test_error_texts(void)
{
    pgo_decoder d;
    pgo_decoder_init(&d, 4);
    mbuf m;

    /* The exact shape of an error: message, offset, column, field. */
    m = start('I');
    put32(&m, 16384);
    put8(&m, 'N');
    put16(&m, 5);
    put8(&m, 'n');
    putval(&m, 't', "ab", 2);
    put8(&m, 't');
    put32(&m, 100); /* column 3 claims 100 bytes; its length field is at offset 17 */
    putbytes(&m, "0123456789012345678901", 21);
    expect_error(&d, &m,
                 "pgoutput Insert ('I') at offset 17 of 42: column 3 of 5: value length 100 "
                 "exceeds the 21 remaining bytes");

    /* Negative lengths. */
    m = start('I');
    put32(&m, 1);
    put8(&m, 'N');
    put16(&m, 1);
    put8(&m, 'b');
    put32(&m, 0xfffffffe);
    expect_error(&d, &m, "at offset 9 of 13: column 1 of 1: value length -2 is negative");
    m = start('M');
    put8(&m, 0);
    put64(&m, 1);
    putstr(&m, "p");
    put32(&m, 0x80000000u);
    expect_error(&d, &m, "pgoutput Message ('M') at offset 12 of 16: content length -2147483648");
    m = start('M');
    put8(&m, 0);
    put64(&m, 1);
    putstr(&m, "p");
    put32(&m, 3);
    putbytes(&m, "ab", 2);
    expect_error(&d, &m, "content length 3 exceeds the 2 remaining bytes");

    /* A length field flipped to a larger value, in each tuple of an Update. */
    m = msg_update(0, 0, 'O');
    m.b[11] = 1; /* old tuple, column 1: length 1 -> 257 */
    expect_error(&d, &m, "old tuple, column 1 of 2: value length 257 exceeds the 31 remaining");
    m = msg_update(0, 0, 'K');
    m.b[m.n - 9] = 0x40; /* new tuple, column 2 ('after'): length 5 -> 0x40000005 */
    expect_error(&d, &m,
                 "new tuple, column 2 of 2: value length 1073741829 exceeds the 5 remaining");
    /* ...and flipped smaller: the next kind byte is then a data byte, or,
     * in the last column, bytes are left over. */
    m = msg_delete(0, 0, 'O');
    m.b[12] = 0;
    expect_error(&d, &m, "old tuple, column 2 of 2: unknown column kind '7' (0x37)");
    m = msg_delete(0, 0, 'O');
    m.b[m.n - 5] = 3;
    expect_error(&d, &m, "at offset 22 of 23: 1 trailing bytes after a complete message");

    /* Unknown bytes. */
    m = start('Z');
    expect_error(&d, &m, "pgoutput message at offset 0 of 1: unknown message type 'Z' (0x5a)");
    m = start('\0');
    put32(&m, 0);
    expect_error(&d, &m, "unknown message type 0x00");
    m = msg_insert(0, 0);
    m.b[8] = 'x';
    expect_error(&d, &m,
                 "Insert ('I') at offset 8 of 30: column 1 of 5: unknown column kind 'x' (0x78)");
    m = msg_insert(0, 0);
    m.b[5] = 'K';
    expect_error(&d, &m, "tuple marker 'K' (0x4b) is not 'N'");
    m = msg_update(0, 0, 'K');
    m.b[5] = 'X';
    expect_error(&d, &m, "tuple marker 'X' (0x58) is not 'K', 'O' or 'N'");
    m = msg_update(0, 0, 'K');
    m.b[15] = 'K'; /* the marker after the old key tuple */
    expect_error(&d, &m, "at offset 15 of 34: new tuple marker 'K' (0x4b) is not 'N'");
    m = msg_delete(0, 0, 'K');
    m.b[5] = 'N';
    expect_error(&d, &m, "tuple marker 'N' (0x4e) is not 'K' or 'O'");
    m = msg_relation(0, 0, "shop");
    m.b[17] = 'x';
    expect_error(&d, &m, "replica identity 'x' (0x78) is not 'd', 'n', 'f' or 'i'");
    m = msg_relation(0, 0, "shop");
    m.b[20] = 3;
    expect_error(&d, &m, "column 1 of 3: flags 0x03 has bits other than the key flag");

    /* Flags that must be zero or are undefined. */
    m = msg_commit('C', 0, 1);
    expect_error(&d, &m,
                 "pgoutput Commit ('C') at offset 1 of 26: flags 0x01 are not 0 (no commit flags");
    m = msg_commit('c', 7, 0x80);
    expect_error(&d, &m, "pgoutput Stream Commit ('c') at offset 5 of 30: flags 0x80 are not 0");
    m = msg_message(0, 0, 1);
    m.b[1] = 3;
    expect_error(&d, &m, "flags 0x03 has bits other than transactional");
    m = msg_truncate(0, 0);
    m.b[5] = 4;
    expect_error(&d, &m, "options 0x04 has bits other than CASCADE");
    m = msg_stream_start(5, 2);
    expect_error(&d, &m, "first segment 0x02 is not 0 or 1");

    /* Strings without a terminator inside the message. */
    m = start('O');
    put64(&m, 1);
    putbytes(&m, "abc", 3);
    expect_error(&d, &m, "Origin ('O') at offset 9 of 12: origin name has no NUL terminator");
    m = start('R');
    put32(&m, 1);
    putstr(&m, "public");
    putbytes(&m, "orders", 6);
    expect_error(&d, &m, "relation name has no NUL terminator in the 6 remaining bytes");
    m = start('M');
    put8(&m, 1);
    put64(&m, 1);
    putbytes(&m, "pfx", 3);
    expect_error(&d, &m, "prefix has no NUL terminator");

    /* Counts that the remaining bytes cannot hold fail before any allocation. */
    m = start('T');
    put32(&m, 0x7fffffff);
    put8(&m, 0);
    put32(&m, 1);
    expect_error(&d, &m, "relation count 2147483647 needs 8589934588 bytes, only 4 remain");
    m = start('I');
    put32(&m, 1);
    put8(&m, 'N');
    put16(&m, 65535);
    put8(&m, 'n');
    expect_error(&d, &m, "column count 65535 exceeds the 1 remaining bytes");
    m = start('R');
    put32(&m, 1);
    putstr(&m, "s");
    putstr(&m, "t");
    put8(&m, 'd');
    put16(&m, 2);
    put8(&m, 0);
    putstr(&m, "a");
    put32(&m, 23);
    put32(&m, 0);
    expect_error(&d, &m, "column count 2 needs at least 20 bytes, only 11 remain");

    /* Trailing garbage after a complete message. */
    m = msg_begin();
    putbytes(&m, "xyz", 3);
    expect_error(&d, &m, "pgoutput Begin ('B') at offset 21 of 24: 3 trailing bytes");

    /* Nothing at all. */
    m = start('B');
    m.n = 0;
    expect_error(&d, &m, "empty message");
    pgo_decoder_free(&d);

    /* No error buffer: still an error, and nothing is written. */
    pgo_decoder_init(&d, 4);
    m = msg_commit('C', 0, 1);
    pgo_msg msg;
    EXPECT(pgo_decode(&d, (const char *)m.b, m.n, &msg, NULL, 0) == -1,
           "bad Commit accepted without an error buffer");
    pgo_decoder_free(&d);

    /* A decoder that was never told a valid protocol version. */
    pgo_decoder_init(&d, 5);
    m = msg_begin();
    expect_error(&d, &m, "protocol version 5 is not one of 1 to 4");
    pgo_decoder_free(&d);
}

/* Malformations the tests above do not reach: type bytes with the high bit
 * set (char is signed here), unknown types inside a stream block, forged
 * counts in every tuple of an Update and Delete and in streamed messages,
 * and lengths one past the end or all ones. Each error names the field and
 * its offset. */
static void test_more_malformations(void)
{
    pgo_decoder d;
    pgo_decoder_init(&d, 4);
    mbuf m;

    /* Unknown types. */
    m = start((char)0xff);
    put32(&m, 1);
    expect_error(&d, &m, "pgoutput message at offset 0 of 5: unknown message type 0xff");
    m = start((char)0x80);
    expect_error(&d, &m, "pgoutput message at offset 0 of 1: unknown message type 0x80");
    m = start('e');
    expect_error(&d, &m, "unknown message type 'e' (0x65)");
    d.in_stream = 1;
    m = start('z');
    put32(&m, 5);
    expect_error(&d, &m, "pgoutput message at offset 0 of 5: unknown message type 'z' (0x7a)");
    d.in_stream = 0;

    /* Column counts the rest of the message cannot hold, in each tuple. */
    m = start('U');
    put32(&m, 1);
    put8(&m, 'O');
    put16(&m, 9); /* old tuple: 9 columns in 3 bytes */
    put8(&m, 'n');
    put8(&m, 'N');
    put16(&m, 0);
    expect_error(&d, &m,
                 "pgoutput Update ('U') at offset 6 of 12: old tuple: column count 9 "
                 "exceeds the 4 remaining bytes");
    m = start('U');
    put32(&m, 1);
    put8(&m, 'K');
    put16(&m, 1);
    put8(&m, 'n');
    put8(&m, 'N');
    put16(&m, 3); /* new tuple: 3 columns in 1 byte */
    put8(&m, 'n');
    expect_error(&d, &m,
                 "pgoutput Update ('U') at offset 10 of 13: new tuple: column count 3 "
                 "exceeds the 1 remaining bytes");
    m = start('D');
    put32(&m, 1);
    put8(&m, 'K');
    put16(&m, 0xffff);
    expect_error(&d, &m,
                 "pgoutput Delete ('D') at offset 6 of 8: old key tuple: column count "
                 "65535 exceeds the 0 remaining bytes");
    d.in_stream = 1;
    m = start('I');
    put32(&m, 77); /* streamed xid */
    put32(&m, 1);
    put8(&m, 'N');
    put16(&m, 2);
    put8(&m, 'u');
    expect_error(&d, &m,
                 "pgoutput Insert ('I') at offset 10 of 13: column count 2 exceeds the 1 "
                 "remaining bytes");
    m = start('T');
    put32(&m, 77);
    put32(&m, 2);
    put8(&m, 0);
    put32(&m, 16384);
    expect_error(&d, &m,
                 "pgoutput Truncate ('T') at offset 5 of 14: relation count 2 needs 8 "
                 "bytes, only 4 remain");
    m = start('R');
    put32(&m, 77);
    put32(&m, 16384);
    putstr(&m, "s");
    putstr(&m, "t");
    put8(&m, 'f');
    put16(&m, 65535);
    expect_error(&d, &m,
                 "pgoutput Relation ('R') at offset 14 of 16: column count 65535 needs at "
                 "least 655350 bytes, only 0 remain");
    d.in_stream = 0;

    /* Lengths one past the end, and all ones (-1). */
    m = start('I');
    put32(&m, 1);
    put8(&m, 'N');
    put16(&m, 1);
    put8(&m, 't');
    put32(&m, 4);
    putbytes(&m, "abc", 3);
    expect_error(&d, &m,
                 "pgoutput Insert ('I') at offset 9 of 16: column 1 of 1: value length 4 "
                 "exceeds the 3 remaining bytes");
    m = start('I');
    put32(&m, 1);
    put8(&m, 'N');
    put16(&m, 1);
    put8(&m, 't');
    put32(&m, 0xffffffffu);
    expect_error(&d, &m, "at offset 9 of 13: column 1 of 1: value length -1 is negative");
    m = start('M');
    put8(&m, 0);
    put64(&m, 1);
    putstr(&m, "p");
    put32(&m, 0x7fffffffu);
    expect_error(&d, &m,
                 "pgoutput Message ('M') at offset 12 of 16: content length 2147483647 "
                 "exceeds the 0 remaining bytes");

    /* A Relation column whose name runs to the end of the message. */
    m = start('R');
    put32(&m, 1);
    putstr(&m, "s");
    putstr(&m, "t");
    put8(&m, 'd');
    put16(&m, 1);
    put8(&m, 0);
    putbytes(&m, "abcdefghij", 10);
    expect_error(&d, &m,
                 "pgoutput Relation ('R') at offset 13 of 23: column 1 of 1: column name "
                 "has no NUL terminator in the 10 remaining bytes");
    pgo_decoder_free(&d);
}

static void test_two_phase_rejected(void)
{
    pgo_decoder d;
    pgo_decoder_init(&d, 4);
    const struct {
        char type;
        const char *name;
    } tp[] = {{'b', "Begin Prepare"},
              {'P', "Prepare"},
              {'K', "Commit Prepared"},
              {'r', "Rollback Prepared"},
              {'p', "Stream Prepare"}};
    for (size_t i = 0; i < sizeof tp / sizeof tp[0]; i++) {
        mbuf m = start(tp[i].type);
        put64(&m, 1);
        char want[128];
        snprintf(want, sizeof want, "pgoutput %s ('%c') at offset 0 of 9: unexpected", tp[i].name,
                 tp[i].type);
        expect_error(&d, &m, want);
        expect_error(&d, &m, "two_phase is not requested");
    }
    pgo_decoder_free(&d);
}

/* Stream control in the wrong state is an error that leaves the state as
 * it was; so is any malformed message inside a block. */
static void test_stream_state_errors(void)
{
    pgo_decoder d;
    pgo_decoder_init(&d, 4);
    mbuf m = start('E');
    expect_error(&d, &m, "Stream Stop without an open stream block");

    m = msg_stream_start(5, 1);
    char err[512];
    pgo_msg msg;
    EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "Stream Start: %s", err);
    expect_error(&d, &m, "Stream Start while a stream block is already open");
    m = msg_begin();
    expect_error(&d, &m, "Begin inside a stream block");
    m = msg_commit('C', 0, 0);
    expect_error(&d, &m, "Commit inside a stream block");
    m = msg_commit('c', 5, 0);
    expect_error(&d, &m, "Stream Commit inside a stream block");
    m = msg_stream_abort(5, 5, 0);
    expect_error(&d, &m, "Stream Abort inside a stream block");
    m = msg_insert(1, 5);
    m.n -= 1;
    expect_error(&d, &m, "Insert ('I')");
    m = start('I');
    put16(&m, 0);
    expect_error(&d, &m, "streamed xid needs 4 bytes, only 2 remain");
    EXPECT(d.in_stream == 1, "in_stream %d after errors inside a block", d.in_stream);
    m = start('E');
    EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "Stream Stop: %s", err);
    EXPECT(d.in_stream == 0, "in_stream %d after Stream Stop", d.in_stream);
    pgo_decoder_free(&d);
}

/* The arrays grow when a message needs more room and are then reused: the
 * same shape again allocates nothing (the pointers and capacities stay). */
static void test_buffer_reuse(void)
{
    char err[512];
    pgo_msg msg;
    pgo_decoder d;
    pgo_decoder_init(&d, 4);

    mbuf wide = start('U');
    put32(&wide, 1);
    put8(&wide, 'O');
    put16(&wide, 300);
    for (int i = 0; i < 300; i++)
        putval(&wide, 't', "o", 1);
    put8(&wide, 'N');
    put16(&wide, 300);
    for (int i = 0; i < 300; i++)
        putval(&wide, 't', "n", 1);
    EXPECT(decode(&d, &wide, &msg, err, sizeof err) == 0, "300-column Update: %s", err);
    EXPECT(msg.u.change.old_tuple.ncols == 300 && msg.u.change.new_tuple.ncols == 300,
           "ncols %u/%u", msg.u.change.old_tuple.ncols, msg.u.change.new_tuple.ncols);
    int all_ok = 1;
    for (int i = 0; i < 300 && all_ok; i++)
        all_ok = value_is(&msg.u.change.old_tuple.values[i], 't', "o", 1) &&
                 value_is(&msg.u.change.new_tuple.values[i], 't', "n", 1);
    EXPECT(all_ok, "old values must be 'o' and new values 'n' after the array grew");
    EXPECT(d.values_cap >= 600, "values_cap %zu for 600 values", d.values_cap);

    const pgo_value *values = d.values;
    size_t cap = d.values_cap;
    mbuf m = msg_relation(0, 0, "shop");
    EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "Relation: %s", err);
    const pgo_column *columns = d.columns;
    m = msg_truncate(0, 0);
    EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "Truncate: %s", err);
    const uint32_t *relids = d.relids;
    for (int i = 0; i < 100; i++) {
        EXPECT(decode(&d, &wide, &msg, err, sizeof err) == 0, "Update %d: %s", i, err);
        m = msg_insert(0, 0);
        EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "Insert %d: %s", i, err);
        m = msg_relation(0, 0, "shop");
        EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "Relation %d: %s", i, err);
        m = msg_truncate(0, 0);
        EXPECT(decode(&d, &m, &msg, err, sizeof err) == 0, "Truncate %d: %s", i, err);
    }
    EXPECT(d.values == values && d.values_cap == cap, "values array moved or grew in steady state");
    EXPECT(d.columns == columns, "columns array moved in steady state");
    EXPECT(d.relids == relids, "relids array moved in steady state");
    pgo_decoder_free(&d);
    EXPECT(d.values == NULL && d.values_cap == 0, "free left values %p cap %zu", (void *)d.values,
           d.values_cap);
    pgo_decoder_free(&d); /* twice is harmless */
}

static void test_time(void)
{
    const struct {
        int64_t pg_us, unix_ms;
    } cases[] = {
        {0, INT64_C(946684800000)},
        {999, INT64_C(946684800000)},
        {1000, INT64_C(946684800001)},
        {-1, INT64_C(946684799999)},
        {-1000, INT64_C(946684799999)},
        {-1001, INT64_C(946684799998)},
        {-999999, INT64_C(946684799000)},
        {INT64_C(-946684800000000), 0},                     /* the Unix epoch */
        {INT64_C(-946684800000001), -1},                    /* just before it */
        {INT64_C(788918400000000), INT64_C(1735603200000)}, /* 2024-12-31 00:00 UTC */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t got = pgo_time_to_unix_ms(cases[i].pg_us);
        EXPECT(got == cases[i].unix_ms, "pgo_time_to_unix_ms(%lld) = %lld, want %lld",
               (long long)cases[i].pg_us, (long long)got, (long long)cases[i].unix_ms);
    }
}

int main(void)
{
    test_begin_commit_origin();
    test_relation_and_type();
    test_changes();
    test_streaming();
    test_every_truncation();
    test_error_texts();
    test_more_malformations();
    test_two_phase_rejected();
    test_stream_state_errors();
    test_buffer_reuse();
    test_time();
    free(held);
    return tw_test_exit("test_pgoutput");
}
