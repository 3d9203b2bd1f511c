/*
 * drift.h — what changed between two shapes of a table, and the
 * schema-change event that reports it (DESIGN.md, "Schema fingerprints and
 * drift"; README "Schema-change events").
 *
 * A table record (also what agent/schema_store.h stores) is built from a
 * tw_relation: schema fingerprint, replica identity, columns (name, type,
 * typmod, notnull, key, attnum), Avro key/value schemas and their
 * CRC-64-AVRO fingerprints. Two records give an event: the column changes,
 * the Avro compatibility class of old vs new (the value schema and, when
 * the key changed, the key schema: the class both keep), and the fields
 * the caller fills in (detection path, LSN, commit time, action).
 *
 * Event schema io.tidewater.SchemaChange, version 1 (field order is the
 * Avro order; the webhook receives the same fields as JSON):
 *   event_version int, kind string (altered|table_added|table_removed),
 *   db, schema, table string,
 *   old_fingerprint, new_fingerprint          ["null","string"] SHA-256 hex
 *   old_avro_schema, new_avro_schema           ["null","string"] Envelope JSON
 *   old_key_schema, new_key_schema             ["null","string"]
 *   changes array of {column ["null","string"], change string, old, new ["null","string"]}
 *     change: added|removed|renamed|type_changed|typmod_changed|
 *             nullability_changed|key_changed|replica_identity_changed
 *   compatibility string (FULL|BACKWARD|FORWARD|NONE), compatibility_reason ["null","string"]
 *   detected_by string (stream|catalog_check|startup),
 *   lsn ["null","string"] ("X/Y"), commit_ts_ms ["null",long timestamp-millis],
 *   action string (continue|pause|fail), ts_ms long timestamp-millis
 * Key io.tidewater.SchemaChangeKey {schema string, table string}.
 *
 * Ownership: functions returning json_t* give the caller a new reference.
 */
#ifndef TW_DRIFT_H
#define TW_DRIFT_H

#include "schemas/avro_bin.h"
#include "schemas/avro_compat.h"
#include "schemas/relation.h"

#include <jansson.h>
#include <stdint.h>

extern const char tw_drift_event_schema[];
extern const char tw_drift_key_schema[];

/* The table record of r (no drift state yet). */
json_t *tw_drift_record(const tw_relation *r);

/* The event for old -> new (old NULL: table added; new NULL: removed).
 * Sets *cls (FULL for an added table, NONE for a removed one). The caller
 * adds detected_by, lsn, commit_ts_ms, action, ts_ms and db. */
json_t *tw_drift_event(const json_t *old_rec, const json_t *new_rec, const char *nspname,
                       const char *relname, avro_compat *cls);

/* Number of entries in the event's changes. */
size_t tw_drift_nchanges(const json_t *event);

/* A one-line summary of the changes ("added c (integer); int→bigint of a"). */
void tw_drift_summary(const json_t *event, char *out, size_t outsize);

/* Encodes key and value of the event: Confluent wire format with the
 * registry ids key_id / value_id when they are >= 0, else Avro single-object
 * encoding with the fingerprints. 0, or -1. */
int tw_drift_encode(const json_t *event, uint64_t key_fp, uint64_t value_fp, int32_t key_id,
                    int32_t value_id, tw_buf *key, tw_buf *value);

/* CRC-64-AVRO fingerprints of the two schemas above. */
uint64_t tw_drift_event_fp(void);
uint64_t tw_drift_key_fp(void);

#endif
