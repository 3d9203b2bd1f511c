/*
 * avro_compat.h — schema compatibility by the schema resolution rules of the
 * Avro 1.11 specification, decided on the schemas' JSON text: can data
 * written with one schema (the writer's) be read with another (the
 * reader's)? Used to classify a schema change as BACKWARD, FORWARD, FULL or
 * NONE before it is published.
 *
 * Rules (reader R, writer W):
 *  - primitives match, or W is promoted to R: int to long, float or double;
 *    long to float or double; float to double; string to bytes; bytes to
 *    string;
 *  - records, enums and fixed match when their unqualified names are equal
 *    or one of R's "aliases" has W's unqualified name (aliases are honoured
 *    for all three named kinds, compared unqualified); fixed sizes must be
 *    equal;
 *  - record fields: every R field must find a W field of the same name (or
 *    named by one of the R field's "aliases") whose type resolves, or else
 *    carry a "default" (its value is not examined); W fields unknown to R
 *    are skipped;
 *  - enums: every W symbol must be an R symbol, unless R has a "default";
 *  - arrays: the items resolve; maps: the values resolve;
 *  - unions: when W is a union, every W branch must be readable (by R, or
 *    by some branch of R when R is a union too); when only R is a union, W
 *    must be readable by one of its branches. The spec's reader takes the
 *    first branch that matches; as a union holds at most one schema of each
 *    kind or name, that is the same answer except when a branch of W's kind
 *    fails only the logical-type rule below and a later branch reads W by a
 *    promotion (["timestamp-micros long","double"] reading a plain long):
 *    that counts as readable;
 *  - recursive records are compared coinductively: a (reader record, writer
 *    record) pair met again while it is being compared is taken as
 *    compatible.
 *
 * Logical types, stricter than plain Avro (which ignores them in
 * resolution): when R has no logicalType, W's is ignored (a plain string
 * reads a uuid). When R has one, W must have the same one; for "decimal" the
 * scales must be equal and R's precision must be at least W's. A decimal
 * whose precision is not a positive integer, or whose scale is not an
 * integer from 0 to the precision, is invalid and, as the spec requires,
 * ignored (the schema counts as its underlying type). Other logicalType
 * values, known or not, are compared as strings.
 *
 * Names: a named type's fullname comes from a dotted "name", else its
 * "namespace" attribute, else the enclosing namespace; a reference is a
 * fullname when dotted, else resolved in the enclosing namespace and then,
 * failing that, in the null namespace (as the Java implementation does).
 * References must name a type defined earlier in the same schema; the
 * reader's and writer's names are kept apart. A schema object's "type" must
 * be a string; {"type":"SomeName"} is accepted as a reference.
 *
 * Nothing else counts: "doc", "order", "default" values, "pg.type",
 * "connect.name" and any other property have no effect on the answer.
 *
 * A schema "does not parse" (-1) when it is not JSON, is not a schema (a
 * missing "type", "name", "fields", "symbols", "size", "items" or
 * "values"; a union directly inside a union; two union branches of the same
 * kind or name; duplicate field names, symbols or type names; an enum
 * "default" that is not one of its symbols; "aliases" that is not an array
 * of names), uses a name the spec does not allow (type names, field names,
 * symbols and aliases are [A-Za-z_][A-Za-z0-9_]*, dotted for type names; a
 * primitive or "record", "enum", "fixed", "array", "map", "union" cannot
 * name a type), names an undefined type, or nests more than 128 levels
 * deep. Running out of memory is reported the same way (-1, why says so).
 *
 * Messages: why (may be NULL when whysize is 0) gets one line, cut to fit.
 * Failures name the place by field path, with a named type's name where the
 * path goes through a union, "[]" for array items and "{}" for map values:
 * "field after.Value.amount: reader int cannot read writer long" ("top
 * level: ..." for the schema itself). When no branch of a reader union
 * reads the writer, the reason is that of the branch of the writer's kind
 * and name when there is one, else "reader union [null, int] has no branch
 * that can read writer string". why is emptied on success.
 *
 * Ownership: the functions allocate only for their own use and free it all
 * before returning; nothing escapes, and the inputs are only read. They keep
 * no state between calls, so they are thread-safe (jansson, which parses the
 * schemas, is thread-safe too).
 */
#ifndef TW_AVRO_COMPAT_H
#define TW_AVRO_COMPAT_H

#include <stddef.h>

typedef enum {
    AVRO_COMPAT_NONE = 0,
    AVRO_COMPAT_BACKWARD = 1,
    AVRO_COMPAT_FORWARD = 2,
    AVRO_COMPAT_FULL = 3,
} avro_compat;

/* 1 when data written with writer_json can be read with reader_json, 0 when
 * not (why says the first reason, naming the field path), -1 when either
 * schema does not parse (why says which: "reader schema: ..." or "writer
 * schema: ..."). */
int avro_can_read(const char *reader_json, const char *writer_json, char *why, size_t whysize);

/* BACKWARD = the new schema reads data written with the old; FORWARD = the
 * old reads the new; FULL = both; NONE = neither. Returns 0 with *out set,
 * or -1 on a parse error ("old schema: ..." or "new schema: ..." in why).
 * why gets the reason for each direction that fails, joined by "; ", e.g.
 * "FORWARD fails (the old schema cannot read new data): field ...", and is
 * empty for FULL. */
int avro_compat_class(const char *old_json, const char *new_json, avro_compat *out, char *why,
                      size_t whysize);

/* "NONE", "BACKWARD", "FORWARD", "FULL"; "UNKNOWN" for any other value. */
const char *avro_compat_name(avro_compat c);

/* Parses "BACKWARD" etc. (case-insensitive) into *out; -1 when unknown or
 * NULL (*out is then untouched). */
int avro_compat_parse(const char *s, avro_compat *out);

/* 1 when `have` satisfies `required`: FULL satisfies everything, BACKWARD
 * and FORWARD satisfy themselves and NONE, NONE satisfies only NONE (a NONE
 * requirement asks for nothing). 0 otherwise, and for values outside the
 * enum. */
int avro_compat_satisfies(avro_compat have, avro_compat required);

#endif
