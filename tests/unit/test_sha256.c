/* SHA-256: the FIPS 180-4 example vectors, one million 'a' in odd pieces,
 * and the padding boundaries (55/56/63/64/65 bytes and one block later),
 * each checked one-shot, byte at a time and against Python's hashlib. */
#include "schemas/sha256.h"
#include "tw_test.h"

#include <stdint.h>
#include <stdlib.h>

static const char *hex_of(const uint8_t d[32])
{
    static char out[65];
    tw_sha256_hex(d, out);
    return out;
}

static const char *oneshot(const void *data, size_t n)
{
    uint8_t d[32];
    tw_sha256(data, n, d);
    return hex_of(d);
}

/* Feeds data in pieces of `step` bytes (the last one shorter). */
static const char *chunked(const void *data, size_t n, size_t step)
{
    const uint8_t *p = data;
    tw_sha256_ctx c;
    uint8_t d[32];
    tw_sha256_init(&c);
    for (size_t off = 0; off < n; off += step)
        tw_sha256_update(&c, p + off, n - off < step ? n - off : step);
    tw_sha256_final(&c, d);
    return hex_of(d);
}

static void test_standard_vectors(void)
{
    static const struct {
        const char *msg;
        const char *want;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t n = strlen(v[i].msg);
        EXPECT_STR(oneshot(v[i].msg, n), v[i].want);
        EXPECT_STR(chunked(v[i].msg, n, 1), v[i].want);
        EXPECT_STR(chunked(v[i].msg, n, 5), v[i].want);
    }

    /* Empty updates, with and without a pointer, change nothing. */
    tw_sha256_ctx c;
    uint8_t d[32];
    tw_sha256_init(&c);
    tw_sha256_update(&c, NULL, 0);
    tw_sha256_update(&c, "ab", 2);
    tw_sha256_update(&c, "", 0);
    tw_sha256_update(&c, "c", 1);
    tw_sha256_final(&c, d);
    EXPECT_STR(hex_of(d), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    /* A context is reusable after init. */
    tw_sha256_init(&c);
    tw_sha256_final(&c, d);
    EXPECT_STR(hex_of(d), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_million_a(void)
{
    const char *want = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    size_t n = 1000000;
    char *a = malloc(n);
    EXPECT(a != NULL, "out of memory");
    if (!a)
        return;
    memset(a, 'a', n);
    EXPECT_STR(oneshot(a, n), want);
    EXPECT_STR(chunked(a, n, 7), want);
    EXPECT_STR(chunked(a, n, 63), want);
    EXPECT_STR(chunked(a, n, 65), want);
    EXPECT_STR(chunked(a, n, 4096 + 1), want);
    free(a);
}

static void test_boundaries(void)
{
    /* Message i of length n is bytes (7*i + 3) mod 256; expected digests
     * from python3 hashlib.sha256(bytes((i*7+3) & 0xff for i in range(n))). */
    static const struct {
        size_t n;
        const char *want;
    } v[] = {
        {55, "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b"},
        {56, "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27"},
        {63, "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055"},
        {64, "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241"},
        {65, "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e"},
        {119, "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e"},
        {120, "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5"},
        {127, "a8d23e75d936f303d248888d9b165ee543f4cbafcad3c9dd2a79bd84faa11d07"},
        {128, "d2742f1f4ac6bb7ca2b239ee18402ba8b3f9f8e652d2a72973c2b9ba11c08cf6"},
    };
    uint8_t msg[256];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 7 + 3);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        EXPECT(strcmp(oneshot(msg, v[i].n), v[i].want) == 0, "%zu bytes one-shot: got %s, want %s",
               v[i].n, oneshot(msg, v[i].n), v[i].want);
        EXPECT(strcmp(chunked(msg, v[i].n, 1), v[i].want) == 0,
               "%zu bytes byte at a time: got %s, want %s", v[i].n, chunked(msg, v[i].n, 1),
               v[i].want);
    }

    /* Every length up to 200, every piece size up to 70: the same digest. */
    for (size_t n = 0; n <= 200; n++) {
        char want[65];
        memcpy(want, oneshot(msg, n), sizeof want);
        for (size_t step = 1; step <= 70; step++) {
            const char *got = chunked(msg, n, step);
            EXPECT(strcmp(got, want) == 0, "%zu bytes in pieces of %zu: got %s, want %s", n, step,
                   got, want);
        }
    }
}

static void test_hex(void)
{
    uint8_t d[32];
    for (int i = 0; i < 32; i++)
        d[i] = (uint8_t)(i * 8 + 15);
    char out[65];
    memset(out, 'x', sizeof out);
    tw_sha256_hex(d, out);
    EXPECT_STR(out, "0f171f272f373f474f575f676f777f878f979fa7afb7bfc7cfd7dfe7eff7ff07");
    EXPECT(out[64] == '\0', "hex must be NUL-terminated");
}

int main(void)
{
    test_standard_vectors();
    test_million_a();
    test_boundaries();
    test_hex();
    return tw_test_exit("test_sha256");
}
