#include "agent/checkpoint.h"

#include <stdlib.h>

int ckpt_init(ckpt_tracker *t, size_t cap, uint64_t start_lsn)
{
    t->ring = calloc(cap ? cap : 1, sizeof *t->ring);
    if (!t->ring)
        return -1;
    t->cap = cap ? cap : 1;
    t->head = t->next = 1;
    t->open = 0;
    t->flush_lsn = start_lsn;
    t->flushed_commit_ms = 0;
    t->failed = 0;
    return 0;
}

void ckpt_free(ckpt_tracker *t)
{
    free(t->ring);
    t->ring = NULL;
}

static ckpt_txn *slot_of(ckpt_tracker *t, ckpt_txn_id id)
{
    if (id < t->head || id >= t->next)
        return NULL; /* already retired, or never begun */
    return &t->ring[id % t->cap];
}

/* Retire every leading transaction that is committed and fully delivered,
 * moving the flush LSN to the last one's end. A failure pins the head. */
static void advance(ckpt_tracker *t)
{
    if (t->failed)
        return;
    while (t->head < t->next) {
        ckpt_txn *x = &t->ring[t->head % t->cap];
        if (x->end_lsn == 0 || x->outstanding != 0)
            break;
        if (x->end_lsn > t->flush_lsn)
            t->flush_lsn = x->end_lsn;
        t->flushed_commit_ms = x->commit_ms;
        t->head++;
    }
}

ckpt_txn_id ckpt_begin(ckpt_tracker *t)
{
    ckpt_txn_id id = t->next++;
    ckpt_txn *x = &t->ring[id % t->cap];
    x->id = id;
    x->end_lsn = 0;
    x->outstanding = 0;
    t->open = 1;
    return id;
}

void ckpt_produced(ckpt_tracker *t, ckpt_txn_id id)
{
    ckpt_txn *x = slot_of(t, id);
    if (x)
        x->outstanding++;
}

void ckpt_commit(ckpt_tracker *t, ckpt_txn_id id, uint64_t end_lsn, int64_t commit_ms)
{
    ckpt_txn *x = slot_of(t, id);
    t->open = 0;
    if (x) {
        x->end_lsn = end_lsn ? end_lsn : 1;
        x->commit_ms = commit_ms;
    }
    advance(t);
}

void ckpt_delivered(ckpt_tracker *t, ckpt_txn_id id, int ok)
{
    ckpt_txn *x = slot_of(t, id);
    if (!ok)
        t->failed++;
    if (x && x->outstanding > 0)
        x->outstanding--;
    advance(t);
}

void ckpt_idle(ckpt_tracker *t, uint64_t wal_end)
{
    if (ckpt_quiet(t) && !t->failed && wal_end > t->flush_lsn)
        t->flush_lsn = wal_end;
}

int ckpt_full(const ckpt_tracker *t)
{
    return t->next - t->head >= t->cap;
}

int ckpt_quiet(const ckpt_tracker *t)
{
    return !t->open && t->head == t->next;
}
