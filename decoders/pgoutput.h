/*
 * pgoutput.h — reader for the messages of PostgreSQL's pgoutput logical
 * replication plugin (protocol versions 1 to 4), as carried in the payload of
 * an XLogData ('w') CopyData message after its 25-byte header.
 *
 * Strict: every length is checked before it is read; an unknown message
 * type, an unknown tuple column kind, a non-zero flags byte where the
 * protocol says zero, a string without its terminator, or trailing bytes
 * after a complete message is an error whose text names the message type,
 * the byte offset and the field. The decoder never reads outside buf.
 *
 * Zero-copy: strings and column values in the decoded message point into
 * buf and are valid only as long as buf is (one exception: the empty
 * namespace the server sends for pg_catalog becomes the static string
 * "pg_catalog"). Arrays (columns, tuple values,
 * truncated relation ids) live in buffers owned by the decoder, reused for
 * every message: valid until the next pgo_decode() on the same decoder. In
 * steady state (no new maximum column count) decoding allocates nothing.
 *
 * Streaming of large transactions (proto_version >= 2, `streaming 'on'`):
 * between Stream Start and Stream Stop, data messages carry the xid of the
 * (sub)transaction right after the type byte; the decoder tracks that state
 * itself and sets msg->xid.
 *
 * Not thread-safe; one decoder per replication connection.
 */
#ifndef TW_PGOUTPUT_H
#define TW_PGOUTPUT_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    PGO_BEGIN = 'B',
    PGO_COMMIT = 'C',
    PGO_ORIGIN = 'O',
    PGO_RELATION = 'R',
    PGO_TYPE = 'Y',
    PGO_INSERT = 'I',
    PGO_UPDATE = 'U',
    PGO_DELETE = 'D',
    PGO_TRUNCATE = 'T',
    PGO_MESSAGE = 'M',
    PGO_STREAM_START = 'S',
    PGO_STREAM_STOP = 'E',
    PGO_STREAM_COMMIT = 'c',
    PGO_STREAM_ABORT = 'A',
} pgo_msg_type;

/* Tuple column kinds, as on the wire. */
#define PGO_VALUE_NULL      'n'
#define PGO_VALUE_UNCHANGED 'u' /* unchanged TOASTed value: not sent */
#define PGO_VALUE_TEXT      't'
#define PGO_VALUE_BINARY    'b'

typedef struct {
    char kind;        /* PGO_VALUE_* */
    uint32_t len;     /* bytes at data; 0 for 'n' and 'u' */
    const char *data; /* into buf; NOT NUL-terminated; NULL for 'n' and 'u' */
} pgo_value;

typedef struct {
    uint16_t ncols;
    const pgo_value *values; /* ncols entries, decoder-owned */
} pgo_tuple;

#define PGO_COLUMN_KEY 0x01 /* column is part of the replica identity key */

typedef struct {
    uint8_t flags;     /* PGO_COLUMN_KEY or 0 */
    const char *name;  /* NUL-terminated, into buf */
    uint32_t type_oid; /* pg_type oid */
    int32_t typmod;    /* atttypmod, -1 when none */
} pgo_column;

/* Old-tuple kinds of Update and Delete. */
#define PGO_OLD_NONE 0   /* Update only: no old tuple sent */
#define PGO_OLD_KEY  'K' /* only the replica identity key columns */
#define PGO_OLD_FULL 'O' /* the whole old row (REPLICA IDENTITY FULL) */

typedef struct {
    pgo_msg_type type;
    /* Transaction id carried by the message: Begin's xid; inside a streamed
     * block, the (sub)transaction's xid; for Stream Start, Stream Commit and
     * Stream Abort, the top-level xid; 0 when the message carries none
     * (Commit, Stream Stop, ...). */
    uint32_t xid;
    union {
        struct {
            uint64_t final_lsn;  /* LSN of the commit record */
            int64_t commit_time; /* microseconds since 2000-01-01 00:00 UTC */
        } begin;
        struct {
            uint64_t commit_lsn;
            uint64_t end_lsn; /* end of the commit record: the next flush point */
            int64_t commit_time;
        } commit; /* also Stream Commit (xid in msg->xid) */
        struct {
            uint64_t lsn;
            const char *name;
        } origin;
        struct {
            uint32_t relid;
            const char *nspname;
            const char *relname;
            char replident; /* 'd' default, 'n' nothing, 'f' full, 'i' index */
            uint16_t ncols;
            const pgo_column *columns; /* decoder-owned */
        } relation;
        struct {
            uint32_t oid;
            const char *nspname;
            const char *typname;
        } type;
        struct {
            uint32_t relid;
            char old_kind;       /* PGO_OLD_*; always PGO_OLD_NONE for Insert */
            pgo_tuple old_tuple; /* valid when old_kind != PGO_OLD_NONE */
            pgo_tuple new_tuple; /* Insert, Update */
        } change;                /* Insert, Update, Delete (Delete: old only) */
        struct {
            uint8_t options; /* 1 CASCADE, 2 RESTART IDENTITY */
            uint32_t nrelids;
            const uint32_t *relids; /* decoder-owned */
        } truncate;
        struct {
            uint8_t transactional; /* flags bit 0 */
            uint64_t lsn;
            const char *prefix;
            uint32_t len;
            const char *content; /* into buf, len bytes */
        } message;
        struct {
            uint8_t first_segment;
        } stream_start;
        struct {
            uint32_t subxid;
            uint64_t abort_lsn; /* 0 unless the server sent it (parallel streaming) */
            int64_t abort_time;
        } stream_abort;
    } u;
} pgo_msg;

typedef struct {
    int proto_version; /* 1..4, as negotiated in START_REPLICATION */
    int in_stream;     /* between Stream Start and Stream Stop */
    pgo_value *values; /* room for old + new tuple values */
    size_t values_cap;
    pgo_column *columns;
    size_t columns_cap;
    uint32_t *relids;
    size_t relids_cap;
} pgo_decoder;

void pgo_decoder_init(pgo_decoder *d, int proto_version);
void pgo_decoder_free(pgo_decoder *d);

/* Decodes one pgoutput message (buf, len: the XLogData payload, starting
 * with the message type byte). Returns 0 and fills *msg, or -1 with an error
 * naming type, offset and field in err. On error the decoder's stream state
 * is unchanged. */
int pgo_decode(pgo_decoder *d, const char *buf, size_t len, pgo_msg *msg, char *err,
               size_t errsize);

/* PostgreSQL epoch (2000-01-01) microseconds to Unix epoch milliseconds. */
int64_t pgo_time_to_unix_ms(int64_t pg_us);

#endif
