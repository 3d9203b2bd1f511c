/* avro_json: Avro binary written by avro_bin reads back as the JSON that
 * `tidewater consume` prints; malformed data is refused with a position. */
#include "schemas/avro_bin.h"
#include "schemas/avro_json.h"
#include "tw_test.h"

#include <stdlib.h>

static const char schema[] =
    "{\"type\":\"record\",\"name\":\"Envelope\",\"namespace\":\"p.s.t\",\"fields\":["
    "{\"name\":\"before\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"Value\",\"fields\":["
    "{\"name\":\"d\",\"type\":{\"type\":\"int\",\"logicalType\":\"date\"}},"
    "{\"name\":\"ts\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}},"
    "{\"name\":\"t\",\"type\":{\"type\":\"long\",\"logicalType\":\"time-micros\"}},"
    "{\"name\":\"n\",\"type\":[\"null\",{\"type\":\"bytes\",\"logicalType\":\"decimal\","
    "\"precision\":30,\"scale\":2}]},"
    "{\"name\":\"b\",\"type\":\"bytes\"},"
    "{\"name\":\"f\",\"type\":\"double\"},"
    "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":[\"null\",\"string\"]}}]}]},"
    "{\"name\":\"after\",\"type\":[\"null\",\"Value\"]}]}";

static void value(tw_buf *b, int32_t d, int64_t ts, int64_t t, const char *num, double f)
{
    char err[128];
    avro_bin_int(b, d);
    avro_bin_long(b, ts);
    avro_bin_long(b, t);
    avro_bin_union_index(b, 1);
    avro_bin_decimal(b, num, strlen(num), 2, err, sizeof err);
    avro_bin_bytes(b, "\x00\xff", 2);
    avro_bin_double(b, f);
    avro_bin_block_count(b, 2);
    avro_bin_union_index(b, 0);
    avro_bin_union_index(b, 1);
    avro_bin_string(b, "x", 1);
    avro_bin_array_end_marker(b);
}

/* A schema store of one schema under fingerprint 7 and registry id 300. */
static const avro_json_schema *one_schema(void *ctx, avro_frame_kind kind, uint64_t id, char *err,
                                          size_t errsize)
{
    if ((kind == AVRO_FRAME_SINGLE_OBJECT && id == 7) ||
        (kind == AVRO_FRAME_CONFLUENT && id == 300))
        return ctx;
    snprintf(err, errsize, "test store has no schema %llu", (unsigned long long)id);
    return NULL;
}

static char *render(const avro_json_schema *s, const tw_buf *b, char *err, size_t errsize)
{
    json_t *j = avro_json_decode(s, b->data, b->len, err, errsize);
    if (!j)
        return NULL;
    char *out = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    return out;
}

int main(void)
{
    char err[512];
    avro_json_schema *s = avro_json_schema_parse(schema, sizeof schema - 1, err, sizeof err);
    EXPECT(s != NULL, "schema: %s", err);
    if (!s)
        return tw_test_exit("test_avro_json");
    tw_buf b;
    tw_buf_init(&b, 0);

    /* before = null; after = a Value reached through the named reference. */
    avro_bin_union_index(&b, 0);
    avro_bin_union_index(&b, 1);
    value(&b, 19782, 1709214330123456, 49530123456, "-12345.67", 0.5);
    char *out = render(s, &b, err, sizeof err);
    EXPECT_STR(out, "{\"before\":null,\"after\":{\"d\":\"2024-02-29\","
                    "\"ts\":\"2024-02-29T13:45:30.123456Z\",\"t\":\"13:45:30.123456\","
                    "\"n\":\"-12345.67\",\"b\":\"\\\\x00ff\",\"f\":0.5,\"a\":[null,\"x\"]}}");
    free(out);

    /* Infinities, BC, before 1970, tiny decimals, NaN. */
    tw_buf_reset(&b);
    avro_bin_union_index(&b, 0);
    avro_bin_union_index(&b, 1);
    value(&b, -735160, INT64_MIN, 0, "0.05", 0.0 / 0.0); /* PostgreSQL: 0044-03-15 BC */
    out = render(s, &b, err, sizeof err);
    EXPECT_CONTAINS(out, "\"d\":\"0044-03-15 BC\"");
    EXPECT_CONTAINS(out, "\"ts\":\"-infinity\"");
    EXPECT_CONTAINS(out, "\"n\":\"0.05\"");
    EXPECT_CONTAINS(out, "\"f\":\"NaN\"");
    free(out);
    tw_buf_reset(&b);
    avro_bin_union_index(&b, 0);
    avro_bin_union_index(&b, 1);
    value(&b, INT32_MAX, -1, 86400000000, "-0.01", 1.0 / 0.0);
    out = render(s, &b, err, sizeof err);
    EXPECT_CONTAINS(out, "\"d\":\"infinity\"");
    EXPECT_CONTAINS(out, "\"ts\":\"1969-12-31T23:59:59.999999Z\"");
    EXPECT_CONTAINS(out, "\"t\":\"24:00:00.000000\"");
    EXPECT_CONTAINS(out, "\"n\":\"-0.01\"");
    EXPECT_CONTAINS(out, "\"f\":\"Infinity\"");
    free(out);

    /* Every truncation of a valid datum is refused with a position, and so
     * are a trailing byte and an out-of-range union branch. */
    size_t full = b.len;
    for (size_t n = 0; n < full; n++) {
        json_t *j = avro_json_decode(s, b.data, n, err, sizeof err);
        EXPECT(j == NULL, "a datum cut at %zu of %zu bytes was accepted", n, full);
        EXPECT_CONTAINS(err, "Avro datum at offset");
        json_decref(j);
    }
    tw_buf_putc(&b, 0);
    EXPECT(avro_json_decode(s, b.data, b.len, err, sizeof err) == NULL, "trailing byte accepted");
    EXPECT_CONTAINS(err, "trailing bytes");
    uint8_t bad_branch[] = {0x04};
    EXPECT(avro_json_decode(s, bad_branch, 1, err, sizeof err) == NULL, "branch 2 accepted");
    EXPECT_CONTAINS(err, "union branch index out of range");
    uint8_t long_varint[] = {0x02, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff,
                             0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    EXPECT(avro_json_decode(s, long_varint, sizeof long_varint, err, sizeof err) == NULL,
           "11-byte varint accepted");

    /* A time of day outside 00:00:00..24:00:00 is not one. */
    tw_buf_reset(&b);
    avro_bin_union_index(&b, 0);
    avro_bin_union_index(&b, 1);
    value(&b, 0, 0, -1, "1", 0);
    EXPECT(avro_json_decode(s, b.data, b.len, err, sizeof err) == NULL, "time -1 us accepted");
    EXPECT_STR(err, "Avro datum at offset 4, field after.t: time-micros value -1 is outside "
                    "00:00:00 to 24:00:00");
    tw_buf_reset(&b);
    avro_bin_union_index(&b, 0);
    avro_bin_union_index(&b, 1);
    value(&b, 0, 0, 86400000001, "1", 0);
    EXPECT(avro_json_decode(s, b.data, b.len, err, sizeof err) == NULL, "time 24:00:00.000001");
    EXPECT_CONTAINS(err, "time-micros value 86400000001 is outside");

    /* Framing. */
    avro_frame_kind kind;
    uint64_t id;
    size_t hl;
    tw_buf_reset(&b);
    avro_bin_single_object_header(&b, 0x0123456789abcdefULL);
    EXPECT(avro_frame_parse(b.data, b.len, &kind, &id, &hl, err, sizeof err) == 0 &&
               kind == AVRO_FRAME_SINGLE_OBJECT && id == 0x0123456789abcdefULL && hl == 10,
           "single-object header not recognised");
    uint8_t confluent[] = {0, 0, 0, 1, 44, 2};
    EXPECT(avro_frame_parse(confluent, sizeof confluent, &kind, &id, &hl, err, sizeof err) == 0 &&
               kind == AVRO_FRAME_CONFLUENT && id == 300 && hl == 5,
           "Confluent header not recognised");
    uint8_t junk[] = {'h', 'i'};
    EXPECT(avro_frame_parse(junk, 2, &kind, &id, &hl, err, sizeof err) != 0, "junk framed");
    EXPECT_CONTAINS(err, "neither Avro single-object encoding");

    /* A whole message, as `tidewater consume` reads one: frame, lookup,
     * datum; datum errors count offsets from the start of the message. */
    tw_buf_reset(&b);
    avro_bin_single_object_header(&b, 7);
    avro_bin_union_index(&b, 0);
    avro_bin_union_index(&b, 0);
    json_t *j = avro_json_decode_message(b.data, b.len, one_schema, s, err, sizeof err);
    EXPECT(j && json_is_null(json_object_get(j, "after")), "single-object message: %s", err);
    json_decref(j);
    uint8_t conf_msg[] = {0, 0, 0, 1, 44, 0, 2, 2};
    j = avro_json_decode_message(conf_msg, sizeof conf_msg, one_schema, s, err, sizeof err);
    EXPECT(j == NULL, "a Confluent message with a cut datum was accepted");
    EXPECT_STR(err, "Avro datum at offset 8 of the message (after the 5-byte header), field "
                    "after.ts: truncated varint");
    conf_msg[4] = 45;
    j = avro_json_decode_message(conf_msg, sizeof conf_msg, one_schema, s, err, sizeof err);
    EXPECT(j == NULL, "a message with an unknown schema id was accepted");
    EXPECT_STR(err, "test store has no schema 301");
    j = avro_json_decode_message(junk, 2, one_schema, s, err, sizeof err);
    EXPECT(j == NULL, "junk decoded");
    EXPECT_CONTAINS(err, "message of 2 bytes is neither");

    tw_buf_free(&b);
    avro_json_schema_free(s);
    return tw_test_exit("test_avro_json");
}
