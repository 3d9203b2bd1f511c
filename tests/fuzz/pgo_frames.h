/*
 * pgo_frames.h — the "framed" input format of fuzz_pgoutput, which lets one
 * input carry several messages so the fuzzer reaches stream state (a
 * Stream Start changes how the next messages parse):
 *
 *   byte 0      protocol version - 1 (only the low two bits count)
 *   then        records: a big-endian uint16 length and that many bytes;
 *               a length beyond the end of the input takes what is left,
 *               and a lone last byte is ignored
 *
 * The corpus's framed-*.bin seeds are in this format, and
 * tests/unit/test_pgoutput_corpus.c reads them through the same code.
 */
#ifndef TW_PGO_FRAMES_H
#define TW_PGO_FRAMES_H

#include <stddef.h>

typedef struct {
    const unsigned char *p;
    size_t left;
} pgo_frames;

/* Starts reading data; returns the protocol version (1..4), or 0 if the
 * input is empty. */
static inline int pgo_frames_init(pgo_frames *f, const unsigned char *data, size_t size)
{
    f->p = data;
    f->left = 0;
    if (size == 0)
        return 0;
    f->p = data + 1;
    f->left = size - 1;
    return 1 + (data[0] & 3);
}

/* The next record: returns 1 and sets msg and len, or 0 at the end. */
static inline int pgo_frames_next(pgo_frames *f, const unsigned char **msg, size_t *len)
{
    if (f->left < 2)
        return 0;
    size_t n = (size_t)f->p[0] << 8 | f->p[1];
    f->p += 2;
    f->left -= 2;
    if (n > f->left)
        n = f->left;
    *msg = f->p;
    *len = n;
    f->p += n;
    f->left -= n;
    return 1;
}

#endif
