/*
 * schema_store.h — the stored schema of every published table: what the
 * agent last knew about it, so that drift is detected across restarts
 * (DESIGN.md, "Schema fingerprints and drift").
 *
 * A table record is a JSON object (built by agent/drift.h) holding the
 * schema fingerprint, the columns, the Avro key and value schemas with
 * their CRC-64-AVRO fingerprints, and the drift state: prev_fingerprint,
 * since_lsn (where the stream may still show the previous shape),
 * since_ms, detected_by and paused (a breaking change waits for
 * `tidewater schemas accept`).
 *
 * Backends (schema.store):
 *   kafka  records in the compacted topic <topic.prefix>.schemas, beside
 *          the Avro schemas the pipeline keys there by fingerprint:
 *            key "<crc>", "<crc>/<variant>"  an Avro schema (pipeline, see
 *                                           relation.h key_schema_id)
 *            key table:"<schema>"."<table>" a table record (" doubled)
 *            key meta                       {"store_version":1,...}
 *            key snapshot:<slot>            the snapshot state of a slot
 *                                           (tw_store_state)
 *          A table that left the publication gets a tombstone. Writes go
 *          through the caller's writer (tw_store_set_writer), which must
 *          return only once the broker acknowledged them.
 *   dir    <state.dir>/schema-store.json: {"meta":{…},"tables":{key:record}},
 *          rewritten whole (temporary file, fsync, rename) on every write.
 * Either is read fully by tw_store_open().
 *
 * Ownership: the store owns its records; tw_store_put() takes ownership
 * of the record passed in. Not thread-safe (the replication loop's).
 */
#ifndef TW_SCHEMA_STORE_H
#define TW_SCHEMA_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct tw_config;

typedef struct tw_store tw_store;

typedef struct {
    char key[300];
    char nspname[64];
    char relname[64];
    json_t *doc;
} tw_store_table;

/* Writes key -> value (NULL: tombstone) durably; 0, or -1 with err. */
typedef int (*tw_store_put_fn)(void *arg, const char *key, const char *value, char *err,
                               size_t errsize);

/* Loads the store named by the configuration. NULL with err. */
tw_store *tw_store_open(const struct tw_config *cfg, char *err, size_t errsize);
void tw_store_close(tw_store *s);
/* The kafka backend's writer (the dir backend ignores it). */
void tw_store_set_writer(tw_store *s, tw_store_put_fn fn, void *arg);
/* "topic 'x.schemas'" or "file '/dir/schema-store.json'". */
const char *tw_store_where(const tw_store *s);

/* 1 until the first tw_store_mark_initialised(): a store never written. */
int tw_store_is_new(const tw_store *s);
int tw_store_mark_initialised(tw_store *s, char *err, size_t errsize);

int tw_store_count(const tw_store *s);
tw_store_table *tw_store_at(tw_store *s, int i);
tw_store_table *tw_store_find(tw_store *s, const char *nspname, const char *relname);
/* Stores (and owns) doc as the record of nspname.relname. */
int tw_store_put(tw_store *s, const char *nspname, const char *relname, json_t *doc, char *err,
                 size_t errsize);
int tw_store_delete(tw_store *s, const char *nspname, const char *relname, char *err,
                    size_t errsize);

/* "schema.table" (or "table": public) as typed by an operator into nsp and
 * rel (64 bytes each, NAMEDATALEN). 0, or -1 when a part is too long. */
int tw_store_split_table(const char *arg, char nsp[64], char rel[64]);

/* table:"<schema>"."<table>" into out. */
void tw_store_key(const char *nspname, const char *relname, char *out, size_t outsize);

/* Agent state kept beside the schemas, durable the same way; keys start
 * with "snapshot:". tw_store_state() returns the record (borrowed) or NULL;
 * tw_store_set_state() writes doc (taking ownership; NULL deletes) and
 * returns 0, or -1 with err (the record then stays as it was). */
const json_t *tw_store_state(const tw_store *s, const char *key);
int tw_store_set_state(tw_store *s, const char *key, json_t *doc, char *err, size_t errsize);

/* Convenience readers of a record (NULL / 0 when absent). */
const char *tw_store_str(const tw_store_table *t, const char *field);
long long tw_store_int(const tw_store_table *t, const char *field);
/* An LSN field written as "X/Y"; 0 when absent. */
uint64_t tw_store_lsn(const tw_store_table *t, const char *field);

#endif
