/*
 * metrics.h — what `tidewater run` counts, for /metrics and /readyz.
 *
 * Written by the pipeline's thread, read by the HTTP server's thread: every
 * value is a C11 atomic (relaxed: figures, not synchronisation). Per-table
 * counters live in entries that are created once per table under a mutex
 * and never freed or moved, so the hot path keeps a pointer and only does
 * atomic adds.
 *
 * The exposition (tw_metrics_render) follows the Prometheus text format:
 * every family has # HELP and # TYPE, counters end in _total.
 */
#ifndef TW_METRICS_H
#define TW_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum { TW_OP_C, TW_OP_U, TW_OP_D, TW_OP_T, TW_OP_R, TW_OP__COUNT };

typedef struct tw_table_metrics {
    char table[160]; /* schema.table */
    atomic_ullong changes[TW_OP__COUNT];
    atomic_ullong schema_changes[4]; /* by avro_compat class: NONE BACKWARD FORWARD FULL */
    atomic_int schema_paused;        /* rows of a new shape held for `schemas accept` */
    atomic_ullong snapshot_rows;     /* rows of the current (or last) snapshot */
    atomic_llong snapshot_estimated; /* the planner's estimate for it; -1 unknown */
    atomic_int snapshot_done;        /* the table's snapshot finished */
    atomic_ullong oversize_skipped;  /* changes too large for the topic, skipped (on_oversize) */
    struct tw_table_metrics *next;
} tw_table_metrics;

enum {
    TW_RESTART_KAFKA,
    TW_RESTART_STREAM,
    TW_RESTART_CATALOG,
    TW_RESTART_SCHEMA,
    TW_RESTART__COUNT
};

#define TW_REGISTRY_RESULTS 7 /* tw_reg_status values (schemas/registry.h) */

typedef struct {
    atomic_ullong messages, bytes, delivery_errors;
    atomic_ullong oversize_refused; /* refused by the broker for their size, skipped */
    atomic_ullong restarts[TW_RESTART__COUNT];
    atomic_ullong received_lsn, flushed_lsn, server_wal_end;
    atomic_llong last_flushed_commit_ms; /* commit time of the newest fully delivered txn */
    atomic_int quiet;                    /* nothing in flight: lag seconds is 0 */
    atomic_int queue_messages;
    atomic_int pg_connected, kafka_connected, streaming;
    atomic_llong loop_heartbeat_ms;    /* monotonic ms of the main loop's last turn */
    atomic_llong slot_safe_wal_size;   /* -1 when unknown or unlimited */
    atomic_int slot_wal_status;        /* index into tw_wal_status_names, -1 unknown */
    atomic_int consecutive_failures;   /* restarts since the last productive run */
    atomic_int schema_paused;          /* tables paused by schema.on_breaking_change=pause */
    atomic_llong schema_check_ms;      /* wall ms of the last successful catalog check */
    atomic_llong schema_check_took_ms; /* how long it held the loop */
    atomic_ullong webhook_delivered, webhook_failed, webhook_dropped;
    atomic_ullong registry_requests[TW_REGISTRY_RESULTS]; /* by tw_reg_status */
    atomic_int registry_waiting;        /* publishing waits for the schema registry */
    atomic_int snapshot_running;        /* a snapshot is being read */
    atomic_int snapshot_tables;         /* tables in the current (or last) snapshot */
    atomic_llong snapshot_completed_ms; /* wall ms the last snapshot was complete, 0 none */
} tw_metrics;

extern tw_metrics tw_m;
extern const char *const tw_wal_status_names[4]; /* reserved extended unreserved lost */

/* The entry of a table; created on first use. NULL only when out of memory. */
tw_table_metrics *tw_metrics_table(const char *schema, const char *table);

/* Monotonic milliseconds, the clock of loop_heartbeat_ms. */
int64_t tw_metrics_now_ms(void);
/* Wall-clock Unix milliseconds. */
int64_t tw_metrics_wall_ms(void);

/* Appends the Prometheus exposition to buf (up to size-1 bytes); returns the
 * length it needed (like snprintf). */
size_t tw_metrics_render(char *buf, size_t size);

/* Why the pipeline is paused (shown by /readyz while schema_paused > 0). */
void tw_metrics_set_pause_reason(const char *why);

/* Why publishing waits for the schema registry (shown by /readyz while
 * registry_waiting is set). */
void tw_metrics_set_registry_reason(const char *why);

/* Ready to serve? 1, or 0 with the reason in why. */
int tw_metrics_ready(char *why, size_t whysize);

#endif
