/* The CopyData layer of the replication stream (tw_stream_parse_copydata):
 * XLogData and keepalive are read field by field, and a truncated header, a
 * keepalive of the wrong length and an unknown type are errors that name
 * the message, the offset and the fields, never reads past the message. */
#include "agent/stream.h"
#include "tw_test.h"

#include <stdint.h>
#include <stdlib.h>

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (56 - 8 * i));
}

/* Parses an exact-size heap copy of the first n bytes of msg. */
static int parse(const unsigned char *msg, size_t n, tw_stream_event *ev, char *err, size_t size)
{
    char *copy = malloc(n ? n : 1);
    memcpy(copy, msg, n);
    err[0] = '\0';
    int rc = tw_stream_parse_copydata(copy, n, ev, err, size);
    /* The payload points into the message: compare before freeing it. */
    if (rc == 0 && ev->kind == TW_EV_DATA) {
        EXPECT(ev->payload == copy + 25, "payload does not start after the 25-byte header");
        EXPECT(ev->len == 0 || memcmp(ev->payload, msg + 25, ev->len) == 0, "payload bytes");
    }
    free(copy);
    return rc;
}

static void test_xlogdata(void)
{
    unsigned char m[30] = {'w'};
    put_u64(m + 1, 0x16B3748);
    put_u64(m + 9, 0x16B4000);
    put_u64(m + 17, 12345);
    memcpy(m + 25, "Bxyzw", 5);
    tw_stream_event ev;
    char err[256];
    EXPECT(parse(m, sizeof m, &ev, err, sizeof err) == 0, "XLogData rejected: %s", err);
    EXPECT(ev.kind == TW_EV_DATA && ev.data_start == 0x16B3748 && ev.wal_end == 0x16B4000 &&
               ev.len == 5,
           "XLogData fields: kind %d start %llx end %llx len %zu", ev.kind,
           (unsigned long long)ev.data_start, (unsigned long long)ev.wal_end, ev.len);
    /* The header alone is a message with an empty payload (the decoder
     * then says "empty message"). */
    EXPECT(parse(m, 25, &ev, err, sizeof err) == 0 && ev.len == 0, "bare header: %s", err);
    for (size_t n = 1; n < 25; n++) {
        char want[128];
        EXPECT(parse(m, n, &ev, err, sizeof err) == -1, "XLogData cut at %zu accepted", n);
        snprintf(want, sizeof want, "XLogData ('w') truncated at offset %zu: its header needs 25",
                 n);
        EXPECT_CONTAINS(err, want);
        EXPECT_CONTAINS(err, "wal start at offset 1, wal end at 9, send time at 17");
    }
}

static void test_keepalive(void)
{
    unsigned char m[19] = {'k'};
    put_u64(m + 1, 0x2000000);
    put_u64(m + 9, 99);
    m[17] = 1;
    tw_stream_event ev;
    char err[256];
    EXPECT(parse(m, 18, &ev, err, sizeof err) == 0, "keepalive rejected: %s", err);
    EXPECT(ev.kind == TW_EV_KEEPALIVE && ev.wal_end == 0x2000000 && ev.reply_requested == 1,
           "keepalive fields");
    m[17] = 0;
    EXPECT(parse(m, 18, &ev, err, sizeof err) == 0 && ev.reply_requested == 0, "no reply: %s", err);
    for (size_t n = 1; n < 18; n++) {
        char want[128];
        EXPECT(parse(m, n, &ev, err, sizeof err) == -1, "keepalive cut at %zu accepted", n);
        snprintf(want, sizeof want, "primary keepalive ('k') truncated at offset %zu", n);
        EXPECT_CONTAINS(err, want);
    }
    EXPECT(parse(m, 19, &ev, err, sizeof err) == -1, "19-byte keepalive accepted");
    EXPECT_STR(err, "primary keepalive ('k') has trailing bytes at offset 18: it is exactly 18 "
                    "bytes (wal end at offset 1, send time at 9, reply flag at 17), got 19");
}

static void test_unknown(void)
{
    tw_stream_event ev;
    char err[256];
    static const unsigned char other[] = {'r', 0, 0};
    EXPECT(parse(other, sizeof other, &ev, err, sizeof err) == -1, "type 'r' accepted");
    EXPECT_STR(err, "unexpected replication message type 0x72 at offset 0 of 3 bytes from the "
                    "server (expected XLogData 'w' or keepalive 'k')");
    static const unsigned char high[] = {0xff};
    EXPECT(parse(high, 1, &ev, err, sizeof err) == -1, "type 0xff accepted");
    EXPECT_CONTAINS(err, "type 0xff at offset 0 of 1 bytes");
    EXPECT(parse(high, 0, &ev, err, sizeof err) == -1, "empty message accepted");
    EXPECT_CONTAINS(err, "empty replication message");
}

int main(void)
{
    test_xlogdata();
    test_keepalive();
    test_unknown();
    return tw_test_exit("test_copydata");
}
