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

typedef struct {
    char systemid[32];
    uint32_t timeline;
    uint64_t server_lsn; /* IDENTIFY_SYSTEM xlogpos at connect */
    int server_version;  /* e.g. 170010 */
    int standby;         /* pg_is_in_recovery() */
    int proto_version;   /* pgoutput protocol negotiated */
    int slot_created;    /* this open created the slot */
    uint64_t slot_lsn;   /* slot's consistent point (created) or confirmed_flush_lsn */
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

/* Waits up to timeout_ms for the next event. Returns 0 with *ev filled
 * (TW_EV_NONE on timeout), or -1 with err when the connection failed or the
 * server ended the stream. */
int tw_stream_next(tw_stream *s, int timeout_ms, tw_stream_event *ev, char *err, size_t errsize);

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
