/*
 * avro_bin.h — a growable byte buffer and the Avro binary encoding
 * (Avro 1.11 specification, "Binary Encoding"), written by Tidewater itself
 * because avro-c 1.11 has no logical types and no canonical form.
 *
 * tw_buf: the output of every encoder. It grows by doubling and never
 * shrinks, so once a buffer has seen the largest record of a stream, encoding
 * allocates nothing. A buffer may have a hard size limit (max). Running out
 * of memory or growing past max sets a sticky error (TW_BUF_NOMEM or
 * TW_BUF_TOOBIG) and turns every later append into a no-op: an encoder writes
 * a whole record and checks tw_buf.error once at the end. tw_buf_reset()
 * clears the error.
 *
 * Encoders (avro_bin_*) append to a tw_buf and cannot fail except through
 * the buffer's sticky error; avro_bin_decimal() also rejects malformed input
 * and says why in err (one sentence).
 *
 * Fingerprints: avro_crc64() is the 64-bit Rabin fingerprint of the
 * specification ("CRC-64-AVRO"), computed over a schema's Parsing Canonical
 * Form; avro_bin_single_object_header() writes the 10-byte prefix of Avro
 * single-object encoding.
 *
 * Ownership: a tw_buf owns data; tw_buf_free() releases it. Pointers into
 * data are invalidated by any append (the buffer may move). Not thread-safe;
 * a buffer belongs to one thread.
 */
#ifndef TW_AVRO_BIN_H
#define TW_AVRO_BIN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define TW_BUF_NOMEM  1 /* an allocation failed */
#define TW_BUF_TOOBIG 2 /* the content would exceed max */

typedef struct {
    uint8_t *data; /* len bytes of content; NULL until the first growth */
    size_t len;    /* bytes written */
    size_t cap;    /* bytes allocated at data */
    size_t max;    /* hard limit on len, 0 = none: bounds a runaway record */
    int error;     /* 0, TW_BUF_NOMEM or TW_BUF_TOOBIG; sticky until reset */
} tw_buf;

/* Starts an empty buffer with the given limit (0 = none). Allocates nothing. */
void tw_buf_init(tw_buf *b, size_t max);
/* Empties the buffer and clears its error; keeps the memory for reuse. */
void tw_buf_reset(tw_buf *b);
/* Releases the memory; the buffer is then empty and may be reused. */
void tw_buf_free(tw_buf *b);
/* Makes room for n more bytes. Returns 0, or -1 with b->error set (also
 * when b->error was already set). */
int tw_buf_reserve(tw_buf *b, size_t n);
/* Appends n bytes (a no-op once b->error is set). Inline: encoders append
 * a few bytes at a time, and the common case (room already there) must not
 * cost a call; tw_buf_append_grow() does the rest. */
void tw_buf_append_grow(tw_buf *b, const void *p, size_t n);
static inline int tw_buf_has_room(const tw_buf *b, size_t n)
{
    return !b->error && n <= b->cap - b->len && (b->max == 0 || n <= b->max - b->len);
}
static inline void tw_buf_append(tw_buf *b, const void *p, size_t n)
{
    if (n > 0 && tw_buf_has_room(b, n)) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
    } else if (n > 0) {
        tw_buf_append_grow(b, p, n);
    }
}
static inline void tw_buf_putc(tw_buf *b, uint8_t c)
{
    if (tw_buf_has_room(b, 1))
        b->data[b->len++] = c;
    else
        tw_buf_append_grow(b, &c, 1);
}
/* Appends a NUL-terminated string without its terminator. */
void tw_buf_puts(tw_buf *b, const char *s);
/* Appends formatted text (no terminator stored). */
void tw_buf_printf(tw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal (quotes, \" \\ and control characters escaped). */
void tw_buf_json_string(tw_buf *b, const char *s);
/* Cuts the content back to len bytes (len <= b->len): how an encoder undoes
 * a partly written value. The error flag is left as it is. */
void tw_buf_truncate(tw_buf *b, size_t len);
/* Why the buffer failed, as a phrase for messages ("out of memory"). */
const char *tw_buf_strerror(const tw_buf *b);

/* Avro primitives. null encodes to nothing, so it has no function. */
void avro_bin_boolean(tw_buf *b, int v);
void avro_bin_int(tw_buf *b, int32_t v);   /* zig-zag varint, at most 5 bytes */
void avro_bin_long(tw_buf *b, int64_t v);  /* zig-zag varint, at most 10 bytes */
void avro_bin_float(tw_buf *b, float v);   /* 4 bytes IEEE 754, little-endian */
void avro_bin_double(tw_buf *b, double v); /* 8 bytes IEEE 754, little-endian */
/* bytes and string: length as long, then the bytes. string takes UTF-8 as
 * given; it does not validate it. */
void avro_bin_bytes(tw_buf *b, const void *p, size_t n);
void avro_bin_string(tw_buf *b, const char *s, size_t n);
/* Union: the zero-based index of the branch, as long; the value follows. */
void avro_bin_union_index(tw_buf *b, int64_t branch);

/* Arrays (and maps) are a sequence of blocks: a count, that many items,
 * ..., and a 0 count at the end. When the count is known: write
 * avro_bin_block_count(n), the n items, then avro_bin_array_end_marker().
 * An empty array is just the end marker.
 *
 * When the count is not known in advance: mark = avro_bin_array_begin(b),
 * write the items, then avro_bin_array_finish(b, mark, count), which moves
 * the items right to insert the count (a memmove inside the buffer; nothing
 * is allocated beyond the buffer's own growth) and writes the end marker. */
void avro_bin_block_count(tw_buf *b, int64_t count);
void avro_bin_array_end_marker(tw_buf *b);
size_t avro_bin_array_begin(const tw_buf *b);
void avro_bin_array_finish(tw_buf *b, size_t mark, int64_t count);

/* decimal logical type on bytes: writes the unscaled value of a decimal
 * number as a minimal-length big-endian two's-complement integer (0 is one
 * 0x00 byte), exact for any number of digits (no floating point).
 *
 * text (n bytes, no terminator needed) is `[+-]digits[.digits]`, or
 * `[+-].digits`: at least one digit, nothing else (no spaces, no exponent).
 * The fraction is padded with zeros to scale (scale >= 0); a fraction longer
 * than scale is an error, since rounding would silently change the value.
 * Returns 0, or -1 with one sentence in err and nothing written. Running out
 * of buffer is not an error here: it is the buffer's sticky error. */
int avro_bin_decimal(tw_buf *b, const char *text, size_t n, int32_t scale, char *err,
                     size_t errsize);

/* CRC-64-AVRO (Rabin) fingerprint of len bytes: the fingerprint of a schema
 * is taken over its Parsing Canonical Form. The empty input gives
 * 0xc15d213aa4d7a795. */
uint64_t avro_crc64(const void *data, size_t len);

#define AVRO_SINGLE_OBJECT_HEADER_LEN 10
/* Avro single-object encoding prefix: 0xC3 0x01, then the schema's
 * fingerprint in little-endian byte order. */
void avro_bin_single_object_header(tw_buf *b, uint64_t fingerprint);

#define AVRO_CONFLUENT_HEADER_LEN 5
/* The prefix of a message: Confluent's wire format (0x00, then the schema
 * registry's id as 4 bytes big-endian) when registry_id >= 0, else Avro
 * single-object encoding with the fingerprint. */
void avro_bin_frame_header(tw_buf *b, uint64_t fingerprint, int32_t registry_id);

#endif
