/* Avro binary encoding: the byte buffer and its limit, zig-zag varints,
 * IEEE floats, bytes/strings, array blocks, decimal two's complement and the
 * CRC-64-AVRO fingerprint against the Avro project's own vectors. */
#include "schemas/avro_bin.h"
#include "tw_test.h"

#include <stdint.h>
#include <stdlib.h>

/* Lower-case hex of the buffer, for comparisons that show both sides. */
static const char *hex(const tw_buf *b)
{
    static char out[4096];
    size_t k = 0;
    for (size_t i = 0; i < b->len && k + 3 < sizeof out; i++)
        k += (size_t)snprintf(out + k, sizeof out - k, "%02x", b->data[i]);
    out[k] = '\0';
    return out;
}

static void test_zigzag(void)
{
    static const struct {
        int64_t v;
        const char *want;
    } cases[] = {
        {0, "00"},
        {-1, "01"},
        {1, "02"},
        {-2, "03"},
        {63, "7e"},
        {-64, "7f"},
        {64, "8001"},
        {-65, "8101"},
        {INT32_MAX, "feffffff0f"},
        {INT32_MIN, "ffffffff0f"},
        {INT64_MAX, "feffffffffffffffff01"},
        {INT64_MIN, "ffffffffffffffffff01"},
    };
    tw_buf b;
    tw_buf_init(&b, 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tw_buf_reset(&b);
        avro_bin_long(&b, cases[i].v);
        EXPECT(strcmp(hex(&b), cases[i].want) == 0, "long %lld: got %s, want %s",
               (long long)cases[i].v, hex(&b), cases[i].want);
        if (cases[i].v >= INT32_MIN && cases[i].v <= INT32_MAX) {
            tw_buf_reset(&b);
            avro_bin_int(&b, (int32_t)cases[i].v);
            EXPECT(strcmp(hex(&b), cases[i].want) == 0, "int %lld: got %s, want %s",
                   (long long)cases[i].v, hex(&b), cases[i].want);
        }
    }
    tw_buf_free(&b);
}

static void test_primitives(void)
{
    tw_buf b;
    tw_buf_init(&b, 0);
    avro_bin_boolean(&b, 1);
    avro_bin_boolean(&b, 0);
    EXPECT_STR(hex(&b), "0100");

    tw_buf_reset(&b);
    avro_bin_float(&b, 1.0f);
    avro_bin_float(&b, -2.5f);
    EXPECT_STR(hex(&b), "0000803f000020c0");

    tw_buf_reset(&b);
    avro_bin_double(&b, 1.0);
    avro_bin_double(&b, 0.1);
    EXPECT_STR(hex(&b), "000000000000f03f9a9999999999b93f");

    tw_buf_reset(&b);
    avro_bin_string(&b, "foo", 3);
    avro_bin_bytes(&b, "", 0);
    avro_bin_union_index(&b, 1);
    EXPECT_STR(hex(&b), "06666f6f0002");
    tw_buf_free(&b);
}

static void test_arrays(void)
{
    tw_buf b;
    tw_buf_init(&b, 0);
    /* Known count: block, items, end marker. */
    avro_bin_block_count(&b, 2);
    avro_bin_long(&b, 3);
    avro_bin_long(&b, 27);
    avro_bin_array_end_marker(&b);
    EXPECT_STR(hex(&b), "04063600");

    /* Count patched in afterwards gives the same bytes. */
    tw_buf_reset(&b);
    tw_buf_putc(&b, 0xaa); /* something before the array stays put */
    size_t mark = avro_bin_array_begin(&b);
    avro_bin_long(&b, 3);
    avro_bin_long(&b, 27);
    avro_bin_array_finish(&b, mark, 2);
    EXPECT_STR(hex(&b), "aa04063600");

    /* Empty array: only the end marker. */
    tw_buf_reset(&b);
    mark = avro_bin_array_begin(&b);
    avro_bin_array_finish(&b, mark, 0);
    EXPECT_STR(hex(&b), "00");

    /* 64 items need a two-byte count: the items move right by two. */
    tw_buf_reset(&b);
    mark = avro_bin_array_begin(&b);
    for (int i = 0; i < 64; i++)
        avro_bin_boolean(&b, 1);
    avro_bin_array_finish(&b, mark, 64);
    EXPECT(b.len == 2 + 64 + 1, "len %zu", b.len);
    EXPECT(b.data[0] == 0x80 && b.data[1] == 0x01 && b.data[2] == 1 && b.data[65] == 1 &&
               b.data[66] == 0,
           "64-item array: %s", hex(&b));
    tw_buf_free(&b);
}

static void test_buffer_limit_and_reuse(void)
{
    tw_buf b;
    tw_buf_init(&b, 8);
    tw_buf_append(&b, "12345678", 8);
    EXPECT(b.error == 0 && b.len == 8, "exactly max must fit: error %d len %zu", b.error, b.len);
    tw_buf_putc(&b, '9');
    EXPECT(b.error == TW_BUF_TOOBIG, "growing past max must set TOOBIG, got %d", b.error);
    EXPECT(b.len == 8, "a failed append must not write, len %zu", b.len);
    EXPECT_CONTAINS(tw_buf_strerror(&b), "size limit");
    /* Sticky: even a small append is a no-op now. */
    tw_buf_truncate(&b, 0);
    tw_buf_putc(&b, 'x');
    EXPECT(b.len == 0 && b.error == TW_BUF_TOOBIG, "error must be sticky: len %zu", b.len);
    tw_buf_reset(&b);
    EXPECT(b.error == 0 && b.len == 0, "reset must clear the error");
    tw_buf_printf(&b, "%d-%s", 42, "ab");
    EXPECT(b.len == 5 && memcmp(b.data, "42-ab", 5) == 0, "printf wrote %zu bytes", b.len);
    tw_buf_printf(&b, "%s", "toolong");
    EXPECT(b.error == TW_BUF_TOOBIG && b.len == 5, "printf past max: error %d len %zu", b.error,
           b.len);
    tw_buf_free(&b);

    /* Steady state: once grown, re-encoding the same record does not move
     * or regrow the buffer. */
    tw_buf_init(&b, 0);
    for (int i = 0; i < 1000; i++)
        avro_bin_long(&b, i);
    uint8_t *data = b.data;
    size_t cap = b.cap;
    for (int round = 0; round < 3; round++) {
        tw_buf_reset(&b);
        for (int i = 0; i < 1000; i++)
            avro_bin_long(&b, i);
    }
    EXPECT(b.data == data && b.cap == cap, "buffer regrew in steady state");
    tw_buf_free(&b);
}

static const char *dec(const char *text, int32_t scale)
{
    static char out[4096];
    char err[256] = "";
    tw_buf b;
    tw_buf_init(&b, 0);
    if (avro_bin_decimal(&b, text, strlen(text), scale, err, sizeof err) != 0)
        snprintf(out, sizeof out, "ERROR: %s", err);
    else
        snprintf(out, sizeof out, "%s", hex(&b));
    tw_buf_free(&b);
    return out;
}

static void test_decimal(void)
{
    /* Each is the Avro length (zig-zag) followed by the two's complement. */
    EXPECT_STR(dec("0", 0), "0200");
    EXPECT_STR(dec("-0.00", 2), "0200");
    EXPECT_STR(dec("1", 0), "0201");
    EXPECT_STR(dec("-1", 0), "02ff");
    EXPECT_STR(dec("127", 0), "027f");
    EXPECT_STR(dec("128", 0), "040080");
    EXPECT_STR(dec("-128", 0), "0280");
    EXPECT_STR(dec("-129", 0), "04ff7f");
    EXPECT_STR(dec("255", 0), "0400ff");
    EXPECT_STR(dec("-256", 0), "04ff00");
    EXPECT_STR(dec("32768", 0), "06008000");
    EXPECT_STR(dec("12345.67", 2), "0612d687");
    EXPECT_STR(dec("+12345.67", 2), "0612d687");
    /* The fraction is padded to the scale: 12345.6 at scale 2 is 1234560. */
    EXPECT_STR(dec("12345.6", 2), dec("1234560", 0));
    EXPECT_STR(dec("12345", 2), dec("1234500", 0));
    EXPECT_STR(dec(".5", 1), "0205");
    EXPECT_STR(dec("0.01", 2), "0201");
    EXPECT_STR(dec("-1234567890123456789012345678901234567890", 0),
               "22fc5f36df8a3f240c475343a06931c0f52e");

    /* numeric(1000,0) at its largest: 10^1000 - 1 takes 416 bytes. */
    char big[1100];
    memset(big, '9', 1000);
    big[1000] = '\0';
    const char *h = dec(big, 0);
    EXPECT(strncmp(h, "c00603ce36c7e774f6b0", 20) == 0, "10^1000-1 starts %.20s", h);
    EXPECT(strlen(h) == 4 + 2 * 416, "10^1000-1: %zu hex digits", strlen(h));
    EXPECT(strcmp(h + strlen(h) - 16, "ffffffffffffffff") == 0, "10^1000-1 ends %s",
           h + strlen(h) - 16);

    /* numeric(1000,500): -(500 ones . 500 twos), 415 bytes. */
    memset(big, '1', 500);
    memset(big + 501, '2', 500);
    big[500] = '.';
    big[1001] = '\0';
    char neg[1100] = "-";
    strcat(neg, big);
    h = dec(neg, 500);
    EXPECT(strncmp(h, "be0693c1063b9dabb38b", 20) == 0, "numeric(1000,500) starts %.20s", h);
    EXPECT(strlen(h) == 4 + 2 * 415, "numeric(1000,500): %zu hex digits", strlen(h));
    EXPECT(strcmp(h + strlen(h) - 16, "1c71c71c71c71c72") == 0, "numeric(1000,500) ends %s",
           h + strlen(h) - 16);

    /* Malformed input names the problem and writes nothing. */
    EXPECT_CONTAINS(dec("1.234", 2), "3 fraction digits, more than the scale 2");
    EXPECT_CONTAINS(dec("", 0), "is not a decimal number");
    EXPECT_CONTAINS(dec("-", 0), "'-' is not a decimal number");
    EXPECT_CONTAINS(dec(".", 0), "is not a decimal number");
    EXPECT_CONTAINS(dec("1e5", 0), "'1e5' is not a decimal number");
    EXPECT_CONTAINS(dec(" 1", 0), "is not a decimal number");
    EXPECT_CONTAINS(dec("1.2.3", 2), "is not a decimal number");
    EXPECT_CONTAINS(dec("NaN", 2), "'NaN' is not a decimal number");
    EXPECT_CONTAINS(dec("1", -1), "scale -1 is negative");
    tw_buf b;
    tw_buf_init(&b, 0);
    char err[128];
    EXPECT(avro_bin_decimal(&b, "12x", 3, 0, err, sizeof err) == -1 && b.len == 0,
           "malformed decimal wrote %zu bytes", b.len);
    tw_buf_free(&b);

    /* The content limit holds for the decimal's output, not its scratch. */
    tw_buf_init(&b, 4);
    EXPECT(avro_bin_decimal(&b, "12345.67", 8, 2, err, sizeof err) == 0, "%s", err);
    EXPECT(b.error == 0 && b.len == 4, "decimal that fits max: error %d len %zu", b.error, b.len);
    avro_bin_decimal(&b, "1", 1, 0, err, sizeof err);
    EXPECT(b.error == TW_BUF_TOOBIG && b.len == 4, "decimal past max: error %d len %zu", b.error,
           b.len);
    tw_buf_free(&b);
}

static void test_crc64(void)
{
    /* share/test/data/schema-tests.txt of the Avro project: canonical form
     * and its fingerprint as a signed 64-bit number. */
    static const struct {
        const char *canonical;
        int64_t fingerprint;
    } vectors[] = {
        {"\"null\"", INT64_C(7195948357588979594)},
        {"\"boolean\"", INT64_C(-6970731678124411036)},
        {"\"int\"", INT64_C(8247732601305521295)},
        {"\"long\"", INT64_C(-3434872931120570953)},
        {"\"float\"", INT64_C(5583340709985441680)},
        {"\"double\"", INT64_C(-8181574048448539266)},
        {"\"bytes\"", INT64_C(5746618253357095269)},
        {"\"string\"", INT64_C(-8142146995180207161)},
        {"[]", INT64_C(-1241056759729112623)},
        {"[\"int\"]", INT64_C(-5232228896498058493)},
        {"[\"int\",\"boolean\"]", INT64_C(5392556393470105090)},
        {"{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", INT64_C(-4824392279771201922)},
        {"{\"name\":\"x.y.foo\",\"type\":\"record\",\"fields\":[]}", INT64_C(5916914534497305771)},
        {"{\"name\":\"foo\",\"type\":\"record\",\"fields\":[{\"name\":\"f1\",\"type\":\"boolean\"}"
         "]}",
         INT64_C(7843277075252814651)},
        {"{\"name\":\"foo\",\"type\":\"enum\",\"symbols\":[\"A1\"]}",
         INT64_C(-6342190197741309591)},
        {"{\"name\":\"foo\",\"type\":\"fixed\",\"size\":15}", INT64_C(1756455273707447556)},
        {"{\"type\":\"array\",\"items\":\"null\"}", INT64_C(-589620603366471059)},
        {"{\"type\":\"map\",\"values\":\"string\"}", INT64_C(-8732877298790414990)},
        {"{\"name\":\"PigValue\",\"type\":\"record\",\"fields\":[{\"name\":\"value\",\"type\":["
         "\"null\",\"int\",\"long\",\"PigValue\"]}]}",
         INT64_C(-1759257747318642341)},
    };
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        const char *c = vectors[i].canonical;
        int64_t got = (int64_t)avro_crc64(c, strlen(c));
        EXPECT(got == vectors[i].fingerprint, "fingerprint of %s: got %lld, want %lld", c,
               (long long)got, (long long)vectors[i].fingerprint);
    }
    EXPECT(avro_crc64("", 0) == 0xc15d213aa4d7a795ULL, "empty input must give the EMPTY value");

    tw_buf b;
    tw_buf_init(&b, 0);
    avro_bin_single_object_header(&b, avro_crc64("\"null\"", 6));
    /* 7195948357588979594 = 0x63dd24e7cc258f8a, little-endian after C3 01. */
    EXPECT_STR(hex(&b), "c3018a8f25cce724dd63");
    tw_buf_free(&b);
}

int main(void)
{
    test_zigzag();
    test_primitives();
    test_arrays();
    test_buffer_limit_and_reuse();
    test_decimal();
    test_crc64();
    return tw_test_exit("test_avro_bin");
}
