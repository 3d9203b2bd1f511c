/*
 * snapshot.h — reads the published tables inside one exported snapshot and
 * produces every row as an op="r" envelope, with worker threads.
 *
 * The caller takes the snapshot (the slot's, tw_stream_create_slot(), or a
 * plain one, tw_catalog_export_snapshot()), builds each table's
 * tw_relation from the catalog as of that snapshot, gives it its topic
 * (rel->app) and publishes or registers its schemas; then it calls
 * tw_snapshot_run() on its own thread, which must be the thread that polls
 * the producer (delivery reports are served from job->tick).
 *
 * Work: each table is one chunk, or, with more than one thread and enough
 * blocks, several block ranges (`ctid >= '(a,0)' AND ctid < '(b,0)'`, a TID
 * range scan; the last range is open-ended, so blocks added since the size
 * was read are covered). min(threads, chunks) workers each open a
 * read-only session with the same value formats as the stream
 * (TW_STREAM_FORMAT_OPTIONS), BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY,
 * SET TRANSACTION SNAPSHOT, and take chunks until none is left: `COPY
 * (SELECT <published columns> FROM [ONLY] t WHERE <range> AND
 * <publication row filter>) TO STDOUT` (text), each row decoded in place
 * (decoders/copytext.h), encoded into the worker's own buffers and handed
 * to the producer (which is thread-safe); a full producer queue makes the
 * worker wait (backpressure), never buffer.
 *
 * source.snapshot marks rows as Debezium does: "first" (the first row
 * produced), "first_in_data_collection" (a table's first), "true",
 * "last_in_data_collection" (a table's last) and "last" (the last row of
 * the table that finishes last; none when that table is empty). A worker
 * holds back the last row of each chunk until it knows whether it is its
 * table's last, and sends a table's last row only after the rows other
 * workers hold of it (of every table, for "last") are out. A table is
 * `done` once every row of it was handed to the producer.
 *
 * Memory: per worker one libpq row buffer (two while one is held back),
 * a values array and key/value buffers reused for every row; per chunk one
 * query string. Nothing per row beyond libpq's own row buffer.
 *
 * Ownership: the job and its tables stay the caller's; progress counters in
 * tw_snap_table are written by workers (atomics) and may be read at any
 * time.
 */
#ifndef TW_SNAPSHOT_H
#define TW_SNAPSHOT_H

#include "schemas/relation.h"

#include <stdatomic.h>
#include <stdint.h>

struct tw_config;
struct kafka_sink;

typedef struct {
    const tw_relation *rel; /* caller's; rel->app is its kafka_topic */
    char relkind;           /* 'r' (block ranges possible) or 'p' (partitioned: whole) */
    const char *rowfilter;  /* the publication's row filter, or NULL */
    long long pages;        /* relation size in blocks (for splitting) */
    long long est_rows;     /* the planner's estimate, -1 unknown (progress only) */
    atomic_llong rows;      /* rows produced so far */
    atomic_int done;        /* every row of the table produced */
} tw_snap_table;

enum {
    TW_SNAP_OK = 0,  /* every row handed to the producer */
    TW_SNAP_ABORTED, /* tick asked to stop */
    TW_SNAP_RETRY,   /* a session or query failed (connection, recovery conflict, SQLSTATE
                        classes 08, 40, 53, 57): take a new snapshot later */
    TW_SNAP_FATAL,   /* a row cannot be encoded or produced, or the server refuses the
                        query for good (privileges, ...): retrying cannot help */
};

typedef struct {
    const struct tw_config *cfg; /* source.* for the worker sessions */
    struct kafka_sink *sink;
    const char *snapshot_name; /* the exported snapshot to import */
    const char *host, *port;   /* the server that exported it (workers connect there) */
    uint64_t lsn;              /* the consistent point: source.lsn and tidewater.lsn */
    int64_t ts_ms;             /* source.ts_ms of every row: when the snapshot was taken */
    const char *prefix, *db;   /* source.name, source.db */
    int threads;               /* at most this many worker sessions */
    uint64_t opaque;           /* delivery opaque of a message: opaque + table index */
    int skip_oversize;         /* on_oversize=skip: a row too large for its topic is logged,
                                  counted and left out; otherwise it is TW_SNAP_FATAL */
    tw_snap_table *tables;
    int ntables;
    /* Called on the caller's thread about every 100 ms while workers run:
     * serve delivery reports (kafka_sink_poll, which also paces the loop),
     * heartbeat, progress. Returns non-zero to abort the snapshot. */
    int (*tick)(void *arg);
    void *arg;
    /* out */
    atomic_ullong produced; /* messages handed to the producer */
    atomic_ullong nulled;   /* NaN/Infinity numerics sent as null (see relation.h) */
    int workers;            /* sessions opened */
} tw_snapshot_job;

/* Runs the job to the end. Returns TW_SNAP_* (err says why unless OK).
 * Messages produced stay in the producer: the caller waits for their
 * delivery reports (opaque) before it counts the snapshot as done. */
int tw_snapshot_run(tw_snapshot_job *job, char *err, size_t errsize);

/* Is err (a server's message) a recovery conflict on a standby? */
int tw_snapshot_is_recovery_conflict(const char *err);

#endif
