/*
 * fuzz_pgoutput — libFuzzer target for decoders/pgoutput.
 *
 * Each input is decoded three ways, all deterministic:
 *   1. as one whole message, protocol 4, outside a stream block;
 *   2. the same, inside a stream block (so the xid-prefixed forms are tried
 *      on the raw seeds, which are single real messages);
 *   3. as a framed sequence (tests/fuzz/pgo_frames.h) through one decoder,
 *      protocol version from the first byte, so stream state carries over.
 * Beyond the sanitizers it checks the contract: an error leaves the stream
 * state as it was and says where ("... at offset N of LEN: ..."); success
 * leaves every pointer inside the input and every count consistent.
 *
 * Built and run by tests/fuzz/run.sh (CMake option TW_FUZZ, clang); seeds
 * in tests/fuzz/corpus/pgoutput (genuine server output, see its MANIFEST).
 */
#include "decoders/pgoutput.h"
#include "tests/fuzz/pgo_frames.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char *in_lo, *in_hi; /* the message being decoded */

static void must(int cond)
{
    if (!cond)
        abort();
}

static void inside(const void *p, size_t len)
{
    const unsigned char *c = p;
    must(c >= in_lo && c <= in_hi && len <= (size_t)(in_hi - c));
}

static void check_string(const char *s)
{
    /* "pg_catalog" is the decoder's own constant for an empty namespace. */
    if (strcmp(s, "pg_catalog") == 0 &&
        !((const unsigned char *)s >= in_lo && (const unsigned char *)s < in_hi))
        return;
    inside(s, strlen(s) + 1);
}

static unsigned touch_tuple(const pgo_tuple *t)
{
    unsigned sum = 0;
    for (unsigned i = 0; i < t->ncols; i++) {
        const pgo_value *v = &t->values[i];
        if (v->kind == PGO_VALUE_TEXT || v->kind == PGO_VALUE_BINARY) {
            inside(v->data, v->len);
            for (uint32_t j = 0; j < v->len; j++)
                sum += (unsigned char)v->data[j];
        } else {
            must((v->kind == PGO_VALUE_NULL || v->kind == PGO_VALUE_UNCHANGED) && v->len == 0 &&
                 v->data == NULL);
        }
    }
    return sum;
}

static void check_msg(const pgo_msg *m)
{
    volatile unsigned sink = 0;
    switch (m->type) {
    case PGO_ORIGIN:
        check_string(m->u.origin.name);
        break;
    case PGO_RELATION:
        check_string(m->u.relation.nspname);
        check_string(m->u.relation.relname);
        for (unsigned i = 0; i < m->u.relation.ncols; i++)
            check_string(m->u.relation.columns[i].name);
        break;
    case PGO_TYPE:
        check_string(m->u.type.nspname);
        check_string(m->u.type.typname);
        break;
    case PGO_INSERT:
    case PGO_UPDATE:
    case PGO_DELETE:
        if (m->u.change.old_kind == PGO_OLD_NONE)
            must(m->u.change.old_tuple.ncols == 0);
        if (m->type == PGO_DELETE)
            must(m->u.change.old_kind != PGO_OLD_NONE && m->u.change.new_tuple.ncols == 0);
        sink += touch_tuple(&m->u.change.old_tuple);
        sink += touch_tuple(&m->u.change.new_tuple);
        break;
    case PGO_TRUNCATE:
        for (uint32_t i = 0; i < m->u.truncate.nrelids; i++)
            sink += m->u.truncate.relids[i];
        break;
    case PGO_MESSAGE:
        check_string(m->u.message.prefix);
        inside(m->u.message.content, m->u.message.len);
        break;
    default:
        break;
    }
    (void)sink;
}

/* Decodes one message and checks the contract; copies it to a heap buffer
 * of exactly its size so a read past the end is caught even when the
 * message is a slice of a larger input. */
static void decode_one(pgo_decoder *d, const unsigned char *data, size_t size)
{
    unsigned char *copy = malloc(size ? size : 1);
    if (!copy)
        return;
    if (size)
        memcpy(copy, data, size);
    in_lo = copy;
    in_hi = copy + size;
    char err[256];
    err[0] = '\0';
    pgo_msg m;
    int before = d->in_stream;
    if (pgo_decode(d, (const char *)copy, size, &m, err, sizeof err) == 0)
        check_msg(&m);
    else
        must(d->in_stream == before && strstr(err, " at offset ") != NULL);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pgo_decoder d;
    pgo_decoder_init(&d, 4);
    decode_one(&d, data, size);
    d.in_stream = 1;
    decode_one(&d, data, size);
    pgo_decoder_free(&d);

    pgo_frames f;
    int proto = pgo_frames_init(&f, data, size);
    if (proto == 0)
        return 0;
    pgo_decoder_init(&d, proto);
    const unsigned char *msg;
    size_t len;
    while (pgo_frames_next(&f, &msg, &len))
        decode_one(&d, msg, len);
    pgo_decoder_free(&d);
    return 0;
}
