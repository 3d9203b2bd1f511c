/*
 * avro_json.h — reads Avro binary back as JSON, driven by a schema in Avro
 * JSON: what `tidewater consume` prints, and how a message is checked
 * against its schema.
 *
 * Supported: the types Tidewater writes -- null, boolean, int, long, float,
 * double, bytes, string, record, array, union, named references -- and the
 * logical types decimal, date, time-micros, timestamp-micros,
 * local-timestamp-micros and uuid. Output is plain JSON for people and
 * scripts: a union's value without a wrapper; decimals as exact strings;
 * dates, times and timestamps in ISO 8601 (`infinity`/`-infinity` for
 * PostgreSQL's infinities, `BC` for years before 1 AD); bytes as `\x` + hex;
 * NaN and infinite floats as the strings "NaN", "Infinity", "-Infinity".
 *
 * Strict: every read is bounds-checked, varints are at most 10 bytes, lengths
 * may not exceed what remains, nesting is limited, strings must be UTF-8, and
 * the whole datum must be consumed. Errors name the field path and offset.
 *
 * Framing: avro_frame_parse() recognises Avro single-object encoding (C3 01
 * + 8-byte little-endian CRC-64-AVRO fingerprint) and Confluent's wire format
 * (00 + 4-byte big-endian schema id).
 *
 * Ownership: avro_json_schema_parse() returns a schema the caller frees with
 * avro_json_schema_free(); avro_json_decode() returns a new jansson
 * reference the caller releases with json_decref().
 */
#ifndef TW_AVRO_JSON_H
#define TW_AVRO_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct avro_json_schema avro_json_schema;

avro_json_schema *avro_json_schema_parse(const char *json, size_t len, char *err, size_t errsize);
void avro_json_schema_free(avro_json_schema *s);

/* Decodes exactly len bytes of one datum. NULL with err on malformed data. */
json_t *avro_json_decode(const avro_json_schema *s, const uint8_t *data, size_t len, char *err,
                         size_t errsize);

typedef enum {
    AVRO_FRAME_SINGLE_OBJECT = 1, /* id = CRC-64-AVRO fingerprint */
    AVRO_FRAME_CONFLUENT = 2,     /* id = Schema Registry schema id */
} avro_frame_kind;

/* Recognises the framing of msg; sets *kind, *id and *header_len (bytes
 * before the Avro datum). Returns 0, or -1 with err when msg has neither. */
int avro_frame_parse(const uint8_t *msg, size_t len, avro_frame_kind *kind, uint64_t *id,
                     size_t *header_len, char *err, size_t errsize);

/* The schema a framed message names (kind and id from its frame), from the
 * caller's store; NULL with err when there is none. The schema stays owned
 * by the caller. */
typedef const avro_json_schema *(*avro_json_lookup)(void *ctx, avro_frame_kind kind, uint64_t id,
                                                    char *err, size_t errsize);

/* Decodes one framed message, a Kafka key or value as `tidewater consume`
 * reads it: the frame (avro_frame_parse), the schema lookup() gives for it,
 * then exactly the datum after the frame. NULL with err on any failure;
 * offsets in datum errors count from the start of the message. */
json_t *avro_json_decode_message(const uint8_t *msg, size_t len, avro_json_lookup lookup, void *ctx,
                                 char *err, size_t errsize);

#endif
