/*
 * relation.h — one published table as Tidewater encodes it.
 *
 * Built when a Relation message arrives (never per row): column plans
 * (schemas/pgtypes.h), sanitised Avro names, the Avro schemas of the
 * message key and value in full JSON (checked to parse with avro-c) and in
 * Parsing Canonical Form, and their CRC-64-AVRO fingerprints. Then each row
 * change is encoded into caller-owned, reused buffers in Avro single-object
 * encoding.
 *
 * Schemas (namespace NS = <topic.prefix>.<schema>.<table>, sanitised):
 *   NS.Key       the replica identity key columns; for REPLICA IDENTITY FULL
 *                (where pgoutput flags every column) the primary key. No key:
 *                no Key schema, messages get a null key.
 *   NS.Envelope  Debezium-compatible: before and after (["null", NS.Value]),
 *                source (io.tidewater.Source: version, connector, name,
 *                ts_ms, snapshot, db, schema, table, txId, lsn), op, ts_ms,
 *                and unchanged (array of column names whose value was not
 *                sent, see below).
 * A column is ["null", T] with default null when it is nullable, and also
 * when its type is variable-length (TOASTable): an UPDATE that leaves a
 * TOASTed value untouched does not carry it, so `after` then holds null for
 * that column and lists it in `unchanged` -- never a made-up value. When the
 * old row is known (REPLICA IDENTITY FULL) the value is taken from it.
 * Every field carries "pg.type" (format_type of the column).
 *
 * `before` is filled only from a full old row (REPLICA IDENTITY FULL);
 * otherwise it is null and the message key identifies the row.
 *
 * Ownership: tw_relation owns everything it points to;
 * tw_relation_free() releases it. Encoders write into the caller's tw_buf.
 */
#ifndef TW_RELATION_H
#define TW_RELATION_H

#include "decoders/pgoutput.h"
#include "schemas/avro_bin.h"
#include "schemas/pgtypes.h"

#include <stdint.h>

#define TW_IDENT_MAX 64 /* NAMEDATALEN */

/* What the catalog says about one column (matched to the Relation message
 * by name). */
typedef struct {
    const char *name;
    uint32_t declared_oid;    /* pg_attribute.atttypid (before resolving domains) */
    int notnull;              /* pg_attribute.attnotnull */
    int primary_key;          /* part of the primary key */
    int typlen;               /* pg_type.typlen of the base type: -1 = varlena */
    const char *format_type;  /* format_type(atttypid, atttypmod) */
    pgt_type_info type;       /* domains resolved */
    int attnum;               /* pg_attribute.attnum */
    int32_t typmod;           /* pg_attribute.atttypmod */
    const char *type_name;    /* format_type(atttypid, NULL): without the typmod */
    int generated;            /* a generated column */
    const char *default_expr; /* pg_get_expr of the column default, NULL when none */
    int ident_key;            /* flagged as replica identity key by pgoutput */
    char replident;           /* the table's relreplident (same in every row) */
} tw_column_catalog;

typedef struct {
    char name[TW_IDENT_MAX];      /* PostgreSQL column name */
    char avro_name[TW_IDENT_MAX]; /* [A-Za-z_][A-Za-z0-9_]* */
    char pg_type[128];            /* the "pg.type" property */
    int key;                      /* part of the replica identity key */
    int nullable;                 /* ["null", T] in the Value schema */
    int notnull;                  /* declared NOT NULL (catalog) */
    int attnum;                   /* pg_attribute.attnum, 0 when the catalog lacked it */
    int32_t typmod;               /* atttypmod as the Relation message says */
    char type_name[128];          /* format_type without typmod */
    char *avro_default;           /* JSON "default" of a NOT NULL field, or NULL */
    pgt_plan plan;
} tw_column;

typedef struct {
    uint32_t relid;
    char nspname[TW_IDENT_MAX];
    char relname[TW_IDENT_MAX];
    char replident;
    int ncols;
    tw_column *cols;
    int nkey;
    char topic[256];     /* <prefix>.<schema>.<table> in Kafka's legal characters */
    char avro_ns[256];   /* Avro namespace of Key, Value, Envelope */
    tw_buf key_schema;   /* full JSON; empty when nkey == 0 */
    tw_buf value_schema; /* full JSON of the Envelope */
    uint64_t key_fp;     /* CRC-64-AVRO of the canonical forms */
    uint64_t value_fp;
    /* Schema ids in <prefix>.schemas: "<crc>/<variant>", 16 hex digits each,
     * variant = the first 8 bytes of SHA-256 over the full JSON. The CRC-64
     * of the canonical form cannot tell decimal(10,2) from decimal(12,2), a
     * timestamp from a timestamptz: the variant can. */
    char key_schema_id[34];
    char value_schema_id[34];
    /* Ids a schema registry gave the key and value schemas, set by the
     * caller after registering them: messages are then framed in
     * Confluent's wire format. -1 (as built): Avro single-object encoding. */
    int32_t key_registry_id;
    int32_t value_registry_id;
    tw_buf desc;          /* canonical description (TW_RELATION_DESC_VERSION) */
    char fingerprint[65]; /* SHA-256 of desc, lowercase hex */
    int unknown_types;    /* columns sent as text because their type is unknown */
    int catalog_mismatch; /* message columns the catalog (read now) no longer has as
                             sent: an older shape, its fingerprint untrustworthy */
    void *app;            /* the caller's (e.g. its Kafka topic handle) */
    void *stats;          /* the caller's (e.g. its per-table counters) */
} tw_relation;

/* The schema fingerprint (DESIGN.md, "Schema fingerprints and drift") is
 * SHA-256 over this canonical description, one line per item, fields
 * separated by tabs, names with \\, \t and \n escaped:
 *   tidewater.relation.v1
 *   replica_identity <d|n|f|i>
 *   column <name> <type name without typmod> <typmod> <notnull 0|1>   (in order)
 *   key <name>                                                        (key columns, in order)
 * Column defaults are not part of it (they change the Avro schema only). */
#define TW_RELATION_DESC_VERSION "tidewater.relation.v1"

/* Where a change comes from, for the envelope's source record. */
typedef struct {
    const char *prefix; /* topic.prefix: source.name */
    const char *db;     /* database name */
    int64_t commit_ms;  /* commit time, Unix ms */
    uint32_t xid;
    uint64_t lsn;         /* the change's LSN */
    const char *snapshot; /* "false", "true", "first", "last" */
} tw_source_info;

/* Builds r from a Relation message and catalog facts (cat may lack columns:
 * those are taken as nullable and, for builtin types, planned from the
 * message's oid). Returns 0, or -1 with err. */
int tw_relation_build(tw_relation *r, const pgo_msg *rel, const tw_column_catalog *cat, int ncat,
                      const char *prefix, const pgt_options *opts, char *err, size_t errsize);
void tw_relation_free(tw_relation *r);

/* Builds r from the catalog alone, as a Relation message sent now would
 * describe the table: cat's columns (attnum order) that are published
 * (names in published[0..npublished), or every non-generated column when
 * published is NULL), replica identity flags from the catalog. */
int tw_relation_build_from_catalog(tw_relation *r, uint32_t relid, const char *nspname,
                                   const char *relname, const tw_column_catalog *cat, int ncat,
                                   const char *const *published, int npublished, const char *prefix,
                                   const pgt_options *opts, char *err, size_t errsize);

/* Two relations have the same schemas (a resent Relation message):
 * fingerprint, Avro schemas and topic. */
int tw_relation_same_schema(const tw_relation *a, const tw_relation *b);

/* The key of row t (old as for tw_relation_encode_key) as text for a
 * message: `col=value, …` with the values as PostgreSQL sent them, each cut
 * at 64 bytes; "(no key)" for a table without one. Always terminated. */
void tw_relation_key_text(const tw_relation *r, const pgo_tuple *t, const pgo_tuple *old, char *out,
                          size_t outsize);
/* Encodes the key record of a tuple (new tuple, or old key/full tuple) as
 * framed Avro (see key_registry_id) into out (reset first). old (may be NULL) supplies key
 * values that t leaves unsent: the server does not resend a key column
 * stored out of line that an UPDATE did not change, but logs it in the old
 * key tuple. Returns 0, or -1 with err. */
int tw_relation_encode_key(const tw_relation *r, const pgo_tuple *t, const pgo_tuple *old,
                           tw_buf *out, char *err, size_t errsize);

/* Encodes an envelope (op 'c','u','d','r','t'), framed as the key is, into
 * out (reset first).
 * before/after may be NULL; old_full (may be NULL) supplies values that the
 * new tuple marks unchanged. now_ms is the envelope's ts_ms. Returns 0, or
 * -1 with err naming the column. *nulled counts values that the Avro type
 * cannot hold (numeric NaN/Infinity in a decimal column) and were sent as
 * null in a nullable field. */
int tw_relation_encode_envelope(const tw_relation *r, char op, const pgo_tuple *before,
                                const pgo_tuple *after, const pgo_tuple *old_full,
                                const tw_source_info *src, int64_t now_ms, tw_buf *out, int *nulled,
                                char *err, size_t errsize);

/* "<crc>/<variant>" of a schema (see key_schema_id above) into out. */
void tw_schema_id(uint64_t crc, const tw_buf *json, char out[34]);

/* Sanitises s into an Avro name ([A-Za-z_][A-Za-z0-9_]*) in out. */
void tw_avro_name(const char *s, char *out, size_t outsize);

#endif
