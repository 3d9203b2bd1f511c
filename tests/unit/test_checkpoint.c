/* The flush LSN never passes an unacknowledged change. */
#include "agent/checkpoint.h"
#include "tw_test.h"

#include <stdlib.h>

static void test_in_order(void)
{
    ckpt_tracker t;
    EXPECT(ckpt_init(&t, 4, 100) == 0, "init");
    ckpt_txn_id a = ckpt_begin(&t);
    ckpt_produced(&t, a);
    ckpt_produced(&t, a);
    EXPECT(!ckpt_quiet(&t), "open transaction is not quiet");
    ckpt_commit(&t, a, 200, 0);
    EXPECT(ckpt_flush_lsn(&t) == 100, "flushed past unacked messages: %llu",
           (unsigned long long)ckpt_flush_lsn(&t));
    ckpt_delivered(&t, a, 1);
    EXPECT(ckpt_flush_lsn(&t) == 100, "flushed with one message unacked");
    ckpt_delivered(&t, a, 1);
    EXPECT(ckpt_flush_lsn(&t) == 200, "want 200, got %llu", (unsigned long long)ckpt_flush_lsn(&t));
    EXPECT(ckpt_quiet(&t), "all acked is quiet");
    ckpt_free(&t);
}

static void test_out_of_order_acks(void)
{
    ckpt_tracker t;
    ckpt_init(&t, 8, 0);
    ckpt_txn_id a = ckpt_begin(&t);
    ckpt_produced(&t, a);
    ckpt_commit(&t, a, 10, 0);
    ckpt_txn_id b = ckpt_begin(&t);
    ckpt_produced(&t, b);
    ckpt_commit(&t, b, 20, 0);
    ckpt_txn_id c = ckpt_begin(&t);
    ckpt_produced(&t, c);
    ckpt_commit(&t, c, 30, 0);
    /* c and b acknowledged first: nothing may be flushed before a is. */
    ckpt_delivered(&t, c, 1);
    ckpt_delivered(&t, b, 1);
    EXPECT(ckpt_flush_lsn(&t) == 0, "flushed past a: %llu", (unsigned long long)ckpt_flush_lsn(&t));
    ckpt_delivered(&t, a, 1);
    EXPECT(ckpt_flush_lsn(&t) == 30, "want 30, got %llu", (unsigned long long)ckpt_flush_lsn(&t));
    ckpt_free(&t);
}

static void test_empty_transactions_and_idle(void)
{
    ckpt_tracker t;
    ckpt_init(&t, 2, 5);
    /* A transaction with no published change still moves the flush LSN. */
    ckpt_txn_id a = ckpt_begin(&t);
    ckpt_commit(&t, a, 50, 0);
    EXPECT(ckpt_flush_lsn(&t) == 50, "empty txn: %llu", (unsigned long long)ckpt_flush_lsn(&t));
    ckpt_idle(&t, 80);
    EXPECT(ckpt_flush_lsn(&t) == 80, "idle keepalive: %llu",
           (unsigned long long)ckpt_flush_lsn(&t));
    ckpt_idle(&t, 70);
    EXPECT(ckpt_flush_lsn(&t) == 80, "went backwards: %llu",
           (unsigned long long)ckpt_flush_lsn(&t));
    /* Not idle while a message is unacknowledged. */
    ckpt_txn_id b = ckpt_begin(&t);
    ckpt_produced(&t, b);
    ckpt_idle(&t, 90);
    EXPECT(ckpt_flush_lsn(&t) == 80, "idle advanced inside a transaction");
    ckpt_commit(&t, b, 100, 0);
    ckpt_idle(&t, 120);
    EXPECT(ckpt_flush_lsn(&t) == 80, "idle advanced past unacked message");
    ckpt_delivered(&t, b, 1);
    ckpt_idle(&t, 120);
    EXPECT(ckpt_flush_lsn(&t) == 120, "want 120, got %llu", (unsigned long long)ckpt_flush_lsn(&t));
    ckpt_free(&t);
}

static void test_full_ring_and_failure(void)
{
    ckpt_tracker t;
    ckpt_init(&t, 2, 0);
    ckpt_txn_id a = ckpt_begin(&t);
    ckpt_produced(&t, a);
    ckpt_commit(&t, a, 10, 0);
    ckpt_txn_id b = ckpt_begin(&t);
    ckpt_produced(&t, b);
    ckpt_commit(&t, b, 20, 0);
    EXPECT(ckpt_full(&t), "two in flight in a ring of 2 is full");
    ckpt_delivered(&t, a, 1);
    EXPECT(!ckpt_full(&t), "a slot is free after a is retired");
    EXPECT(ckpt_flush_lsn(&t) == 10, "want 10");
    /* A failed delivery pins the flush LSN for good. */
    ckpt_delivered(&t, b, 0);
    EXPECT(t.failed == 1, "failure counted");
    EXPECT(ckpt_flush_lsn(&t) == 10, "advanced past a failed delivery: %llu",
           (unsigned long long)ckpt_flush_lsn(&t));
    ckpt_idle(&t, 99);
    EXPECT(ckpt_flush_lsn(&t) == 10, "idle advanced after a failure");
    ckpt_free(&t);
}

/* Randomised: acks in random order; at every step the flush LSN equals the
 * end LSN of the longest fully acknowledged committed prefix. */
static void test_random(void)
{
    enum { N = 500, MAXMSG = 4 };
    static int remaining[N];
    static uint64_t ends[N];
    ckpt_tracker t;
    ckpt_init(&t, N, 0);
    srand(42);
    ckpt_txn_id ids[N];
    int total = 0;
    for (int i = 0; i < N; i++) {
        ids[i] = ckpt_begin(&t);
        remaining[i] = rand() % (MAXMSG + 1);
        for (int m = 0; m < remaining[i]; m++)
            ckpt_produced(&t, ids[i]);
        total += remaining[i];
        ends[i] = (uint64_t)(i + 1) * 100;
        ckpt_commit(&t, ids[i], ends[i], 0);
    }
    while (total > 0) {
        int i = rand() % N;
        if (remaining[i] == 0)
            continue;
        remaining[i]--;
        total--;
        ckpt_delivered(&t, ids[i], 1);
        uint64_t want = 0;
        for (int j = 0; j < N && remaining[j] == 0; j++)
            want = ends[j];
        if (ckpt_flush_lsn(&t) != want) {
            EXPECT(0, "flush %llu, want %llu", (unsigned long long)ckpt_flush_lsn(&t),
                   (unsigned long long)want);
            break;
        }
    }
    EXPECT(ckpt_flush_lsn(&t) == ends[N - 1], "all acked: %llu",
           (unsigned long long)ckpt_flush_lsn(&t));
    ckpt_free(&t);
}

int main(void)
{
    test_in_order();
    test_out_of_order_acks();
    test_empty_transactions_and_idle();
    test_full_ring_and_failure();
    test_random();
    return tw_test_exit("test_checkpoint");
}
