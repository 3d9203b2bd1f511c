/*
 * checkpoint.h — which LSN may be reported to the server as flushed.
 *
 * The at-least-once rule: the flush LSN sent to PostgreSQL never passes a
 * change whose Kafka delivery report has not arrived. Transactions are
 * tracked in commit order in a fixed ring; each counts the messages produced
 * for it that are still unacknowledged. The flush LSN is the end LSN of the
 * longest prefix of committed transactions whose messages are all
 * acknowledged. When nothing is open or outstanding, a keepalive's walEnd may
 * be reported instead, so an idle database (or one writing only unpublished
 * tables) never retains WAL behind the slot.
 *
 * Delivery reports arrive in any order across partitions; produce calls carry
 * the transaction's sequence number (ckpt_txn_id) as their opaque value.
 *
 * Memory: one allocation at init (capacity fixed); nothing per message or per
 * transaction. When the ring is full, ckpt_full() says so and the caller
 * stops reading the socket until acknowledgements free a slot.
 * Not thread-safe: delivery reports are served on the main loop's thread.
 */
#ifndef TW_CHECKPOINT_H
#define TW_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

typedef uint64_t ckpt_txn_id; /* monotonically increasing, never 0 */

typedef struct {
    ckpt_txn_id id;
    uint64_t end_lsn;     /* commit end LSN; 0 while open */
    int64_t commit_ms;    /* commit time, for lag reporting */
    uint64_t outstanding; /* produced, not yet acknowledged */
} ckpt_txn;

typedef struct {
    ckpt_txn *ring;
    size_t cap;
    ckpt_txn_id head;          /* oldest tracked transaction */
    ckpt_txn_id next;          /* id the next ckpt_begin() returns */
    int open;                  /* a transaction is between begin and commit */
    uint64_t flush_lsn;        /* highest LSN safe to report as flushed */
    int64_t flushed_commit_ms; /* commit time of the newest retired transaction */
    uint64_t failed;           /* delivery failures seen (any makes the caller restart) */
} ckpt_tracker;

/* cap: transactions in flight at most (>= 1). Returns 0, or -1 on OOM. */
int ckpt_init(ckpt_tracker *t, size_t cap, uint64_t start_lsn);
void ckpt_free(ckpt_tracker *t);

/* A transaction starts; returns its id. Call only when !ckpt_full(). */
ckpt_txn_id ckpt_begin(ckpt_tracker *t);
/* One message of the open transaction was handed to the producer. */
void ckpt_produced(ckpt_tracker *t, ckpt_txn_id id);
/* The open transaction committed; end_lsn is its commit's end LSN,
 * commit_ms its commit time (Unix ms). */
void ckpt_commit(ckpt_tracker *t, ckpt_txn_id id, uint64_t end_lsn, int64_t commit_ms);
/* A delivery report arrived for a message of transaction id. ok=0 counts a
 * failure: the flush LSN stops advancing past it for good, and the caller
 * must restart from the last flush LSN. */
void ckpt_delivered(ckpt_tracker *t, ckpt_txn_id id, int ok);
/* A keepalive reported walEnd: advance to it when nothing is in flight. */
void ckpt_idle(ckpt_tracker *t, uint64_t wal_end);

/* No room for another transaction. */
int ckpt_full(const ckpt_tracker *t);
/* Nothing open and nothing unacknowledged. */
int ckpt_quiet(const ckpt_tracker *t);
static inline uint64_t ckpt_flush_lsn(const ckpt_tracker *t)
{
    return t->flush_lsn;
}

#endif
