/*
 * sha256.h — SHA-256 (FIPS 180-4, "Secure Hash Standard"), written by
 * Tidewater itself so that hashing needs no crypto library.
 *
 * Streaming use: tw_sha256_init(), then tw_sha256_update() any number of
 * times with pieces of any length (n may be 0, and data may then be NULL),
 * then tw_sha256_final() once. The digest depends only on the concatenated
 * input, never on how it was cut into pieces. tw_sha256_final() clears the
 * context; call tw_sha256_init() again to hash something else with it.
 * tw_sha256() does all three for one buffer.
 *
 * Input is limited to 2^61 - 1 bytes (the message length is counted in bits
 * in 64 bits); nothing checks this.
 *
 * Ownership: nothing is allocated; a context is a plain value the caller
 * owns. The functions keep no state of their own, so they are thread-safe as
 * long as each context is used by one thread at a time.
 */
#ifndef TW_SHA256_H
#define TW_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define TW_SHA256_DIGEST_LEN 32
#define TW_SHA256_HEX_LEN    64 /* without the terminating NUL */

typedef struct {
    uint32_t h[8];   /* chaining state */
    uint64_t len;    /* bytes fed so far */
    uint8_t buf[64]; /* a partial block */
    size_t nbuf;     /* bytes in buf, always < 64 between calls */
} tw_sha256_ctx;

void tw_sha256_init(tw_sha256_ctx *c);
void tw_sha256_update(tw_sha256_ctx *c, const void *data, size_t n);
/* Writes the 32-byte digest and clears the context. */
void tw_sha256_final(tw_sha256_ctx *c, uint8_t out[32]);
/* The digest of n bytes at data in one call. */
void tw_sha256(const void *data, size_t n, uint8_t out[32]);
/* The digest as 64 lowercase hex digits and a NUL. */
void tw_sha256_hex(const uint8_t digest[32], char out[65]);

#endif
