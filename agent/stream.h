/*
 * stream.h — Tidewater's one replication connection.
 *
 * tw_stream_open() opens a `replication=database` session to
 * source.conninfo (read-only, see pgconn.h), runs IDENTIFY_SYSTEM, makes
 * sure the logical slot slot.name exists (creating it with pgoutput if it
 * does not; on a standby that waits for the primary to log a
 * running-transactions record, and says so every few seconds), and starts
 * streaming pgoutput at the highest protocol version the server speaks, for
 * source.publication.
 *
 * The session pins the text formats of values so the converters can rely on
 * them: DateStyle=ISO, TimeZone=UTC, IntervalStyle=postgres,
 * bytea_output=hex, extra_float_digits=3, lc_monetary=C.
 *
 * The steps can also be taken one by one (the pipeline does, to take a
 * snapshot): tw_stream_connect() connects and looks at the slot without
 * touching it; tw_stream_create_slot() creates it, optionally inside a
 * REPEATABLE READ READ ONLY transaction whose snapshot is the slot's
 * consistent point and is exported for worker sessions;
 * tw_stream_drop_slot() drops it; tw_stream_start() ends that transaction
 * and starts streaming. tw_stream_open() is connect + create when absent
 * (no snapshot) + start.
 *
 * tw_stream_next() returns one event at a time: an XLogData payload (a
 * pgoutput message) or a keepalive. It never blocks longer than the timeout
 * given. The caller reports progress with tw_stream_send_status().
 *
 * Ownership: event payloads point into a buffer owned by the stream, valid
 * until the next tw_stream_next() or tw_stream_close().
 */
#ifndef TW_STREAM_H
#define TW_STREAM_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

struct tw_config;

/* Session settings every reader of values needs (streaming and snapshot
 * sessions alike): the text formats the converters in schemas/ rely on. */
#define TW_STREAM_FORMAT_OPTIONS                                                                   \
    "-c DateStyle=ISO,MDY -c TimeZone=UTC -c IntervalStyle=postgres -c bytea_output=hex "          \
    "-c extra_float_digits=3 -c lc_monetary=C"

typedef enum {
    TW_SLOT_ABSENT = 0,
    TW_SLOT_USABLE,
    TW_SLOT_INVALIDATED, /* wal_status lost, or conflicting (PostgreSQL 16+) */
} tw_slot_state;

typedef struct {
    char systemid[32];
    uint32_t timeline;
    uint64_t server_lsn; /* IDENTIFY_SYSTEM xlogpos at connect */
    int server_version;  /* e.g. 170010 */
    int standby;         /* pg_is_in_recovery() */
    int proto_version;   /* pgoutput protocol negotiated */
    int slot_created;    /* this open created the slot */
    tw_slot_state slot_state;
    /* TW_SLOT_INVALIDATED: what pg_replication_slots says and what it means,
     * e.g. "wal_status=lost, invalidation_reason=wal_removed: ..." */
    char slot_invalid_why[256];
    uint64_t slot_lsn; /* slot's consistent point (created) or confirmed_flush_lsn */
} tw_stream_info;

typedef enum {
    TW_EV_NONE = 0,  /* nothing arrived within the timeout */
    TW_EV_DATA,      /* an XLogData message: payload is one pgoutput message */
    TW_EV_KEEPALIVE, /* the server's keepalive */
} tw_stream_ev_kind;

typedef struct {
    tw_stream_ev_kind kind;
    uint64_t data_start; /* TW_EV_DATA: WAL position of the message */
    uint64_t wal_end;    /* the server's current end of WAL */
    int reply_requested; /* TW_EV_KEEPALIVE: answer now or be disconnected */
    const char *payload; /* TW_EV_DATA */
    size_t len;
} tw_stream_event;

typedef struct tw_stream tw_stream;

/* Connects and starts streaming from the slot's position. stop, when it
 * becomes non-zero (a signal), aborts a wait for slot creation. Returns NULL
 * with the reason (and what to do) in err; *retriable (may be NULL) is set
 * to 1 when trying again later may succeed (the server is unreachable or
 * busy), 0 when it cannot (unsupported server, unusable slot). */
tw_stream *tw_stream_open(const struct tw_config *cfg, volatile sig_atomic_t *stop, int *retriable,
                          char *err, size_t errsize);

const tw_stream_info *tw_stream_get_info(const tw_stream *s);
/* The server the replication session is connected to (PQhost/PQport). */
const char *tw_stream_host(const tw_stream *s);
const char *tw_stream_port(const tw_stream *s);

/* Connects, runs IDENTIFY_SYSTEM and the version checks, and looks at
 * slot.name (info.slot_state, info.slot_lsn); no slot is created. NULL with
 * err as tw_stream_open(); a slot of another kind or database is an error. */
tw_stream *tw_stream_connect(const struct tw_config *cfg, int *retriable, char *err,
                             size_t errsize);

/* Creates slot.name (info.slot_lsn = its consistent point). With
 * snapshot_name non-NULL, the slot is created with SNAPSHOT 'use' inside
 * BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY, and that snapshot is
 * exported (pg_export_snapshot()) into snapshot_name: sessions that import
 * it see exactly the data the stream from the consistent point continues.
 * The transaction stays open (holding the snapshot) until
 * tw_stream_end_snapshot() or tw_stream_start(). 0, or -1 with err. */
int tw_stream_create_slot(tw_stream *s, volatile sig_atomic_t *stop, char *snapshot_name,
                          size_t snapshot_size, char *err, size_t errsize);
/* Ends the snapshot transaction, if one is open. */
int tw_stream_end_snapshot(tw_stream *s, char *err, size_t errsize);
/* DROP_REPLICATION_SLOT slot.name. 0, or -1 with err. */
int tw_stream_drop_slot(tw_stream *s, char *err, size_t errsize);
/* Starts streaming from the slot's position. 0, or -1 with err (and
 * *retriable, may be NULL). */
int tw_stream_start(tw_stream *s, int *retriable, char *err, size_t errsize);

/* Waits up to timeout_ms for the next event. Returns 0 with *ev filled
 * (TW_EV_NONE on timeout), or -1 with err when the connection failed or the
 * server ended the stream. */
int tw_stream_next(tw_stream *s, int timeout_ms, tw_stream_event *ev, char *err, size_t errsize);

/* Reads one CopyData message of the replication stream (n bytes at buf):
 * XLogData ('w': 25-byte header, then the payload, which points into buf)
 * or primary keepalive ('k': exactly 18 bytes). Returns 0 with *ev filled,
 * or -1 with err naming the message kind, the field and the byte offset
 * (truncated header, wrong keepalive length, unknown type). */
int tw_stream_parse_copydata(const char *buf, size_t n, tw_stream_event *ev, char *err,
                             size_t errsize);

/* Sends a standby status update: flush_lsn is what Tidewater has made
 * durable (Kafka-acknowledged); the server may recycle WAL before it.
 * Returns 0, or -1 with err when the connection failed. */
int tw_stream_send_status(tw_stream *s, uint64_t flush_lsn, char *err, size_t errsize);

/* Ends the copy stream cleanly (after a final status update) and closes. */
void tw_stream_close(tw_stream *s);

/* "X/Y" form of an LSN into buf (at least 20 bytes); returns buf. */
char *tw_lsn_str(uint64_t lsn, char *buf, size_t bufsize);
/* Parses "X/Y"; returns 0, or -1 if malformed. */
int tw_lsn_parse(const char *s, uint64_t *lsn);

#endif
