/*
 * avro_pcf.h — Avro's Parsing Canonical Form of a schema given as JSON, and
 * its CRC-64-AVRO fingerprint: what single-object encoding puts in front of
 * every datum.
 *
 * Implements the specification's transformations: primitive schemas as
 * plain strings, names replaced by fullnames (namespaces resolved, named
 * references written as fullnames), only type, name, fields, symbols,
 * items, values and size kept, in that order, and no whitespace. Logical
 * types, defaults, docs and custom properties are dropped, which is why the
 * schema fingerprint of a table (schemas/relation.h) is not this one.
 *
 * Ownership: the caller's buffer receives the text. Thread-safe.
 */
#ifndef TW_AVRO_PCF_H
#define TW_AVRO_PCF_H

#include "schemas/avro_bin.h"

#include <stddef.h>
#include <stdint.h>

/* Appends the canonical form of schema JSON to out. 0, or -1 with err. */
int avro_pcf(const char *json, size_t len, tw_buf *out, char *err, size_t errsize);

/* CRC-64-AVRO of the canonical form into *fp. 0, or -1 with err. */
int avro_pcf_fingerprint(const char *json, size_t len, uint64_t *fp, char *err, size_t errsize);

#endif
