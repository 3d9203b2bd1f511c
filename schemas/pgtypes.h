/*
 * pgtypes.h — how a PostgreSQL column type becomes an Avro type (DESIGN.md,
 * "Type mapping"), and how a value in PostgreSQL's text output format becomes
 * Avro binary of that type.
 *
 * A plan (pgt_plan) is built once per column when a Relation message
 * arrives, by pgt_plan_for(); encoding a value with pgt_encode_text() then
 * allocates nothing beyond the growth of the output buffer (all scratch is
 * on the stack or in the plan).
 *
 * Mapping (default decimal handling, PGT_DECIMAL_PRECISE):
 *   bool                    boolean
 *   int2, int4              int
 *   int8, oid               long (oid is unsigned 32-bit: it does not fit int)
 *   float4, float8          float, double (NaN and ±Infinity are kept)
 *   numeric(p,s)            bytes, decimal(p,s); negative scale s (PG 15+)
 *                           becomes decimal(p-s,0), scale above precision
 *                           becomes decimal(s,s): Avro requires
 *                           0 <= scale <= precision, and these hold every
 *                           value the column can store
 *   numeric                 string, the exact text (incl. NaN, Infinity)
 *   money                   bytes, decimal(19,2)
 *   text, varchar, bpchar,  string, as sent (bpchar keeps its blank padding)
 *   name, "char", xml,
 *   citext (category 'S')
 *   bytea                   bytes
 *   uuid                    string, logicalType uuid
 *   json, jsonb             string, "connect.name":"io.debezium.data.Json"
 *   date                    int, logicalType date (days since 1970-01-01)
 *   time                    long, time-micros (24:00:00 is 86400000000)
 *   timestamp               long, local-timestamp-micros
 *   timestamptz             long, timestamp-micros (UTC)
 *   timetz, interval, inet, cidr, macaddr, macaddr8, bit, varbit, tsvector,
 *   tsquery, geometric types, ranges, multiranges, enums, composites
 *                           string, PostgreSQL's text form
 *   any other type          string, text form, and plan.warn_unknown set so
 *                           the caller logs it once
 *   arrays of any of these  {"type":"array","items":["null", element]};
 *                           a multi-dimensional array is flattened in
 *                           row-major order ({{1,2},{3,4}} -> [1,2,3,4]) and
 *                           its lower bounds ([0:1]={...}) are dropped
 * With PGT_DECIMAL_DOUBLE numeric and money become double; with
 * PGT_DECIMAL_STRING numeric becomes its exact text and money a plain
 * decimal string ("-1234.56").
 *
 * Special values: date ±infinity encode as INT32_MAX / INT32_MIN days and
 * timestamp[tz] ±infinity as INT64_MAX / INT64_MIN microseconds (PostgreSQL's
 * own sentinels). NaN and ±Infinity in a numeric(p,s) column cannot be a
 * decimal: pgt_encode_text() returns PGT_UNREPRESENTABLE and the caller
 * decides (e.g. null plus a warning). Dates before 1 AD are proleptic
 * Gregorian with astronomical years (44 BC is year -43), as PostgreSQL
 * computes them.
 *
 * Session settings the text parser relies on (the agent sets them on its
 * replication connection): DateStyle=ISO, IntervalStyle=postgres,
 * bytea_output=hex, extra_float_digits=3, lc_monetary=C. TimeZone=UTC is
 * expected but any numeric offset (+05:30, -08) is converted to UTC.
 * Floating-point text is read with strtod(), so LC_NUMERIC must stay "C"
 * (the default of a C program that never calls setlocale).
 */
#ifndef TW_PGTYPES_H
#define TW_PGTYPES_H

#include "schemas/avro_bin.h"

#include <stddef.h>
#include <stdint.h>

/* Status of pgt_encode_text(). */
#define PGT_OK              0
#define PGT_UNREPRESENTABLE 1    /* valid PostgreSQL value the Avro type cannot hold */
#define PGT_ERROR           (-1) /* malformed text */

/* What one column (or, for arrays, one element) is encoded as. */
typedef enum {
    PGT_BOOLEAN,
    PGT_INT2,            /* int, range-checked to int2 */
    PGT_INT4,            /* int */
    PGT_INT8,            /* long */
    PGT_OID,             /* long, range 0..4294967295 */
    PGT_FLOAT4,          /* float */
    PGT_FLOAT8,          /* double */
    PGT_NUMERIC_DECIMAL, /* numeric(p,s) -> bytes decimal(precision, scale) */
    PGT_NUMERIC_DOUBLE,  /* numeric -> double (decimal handling "double") */
    PGT_MONEY_DECIMAL,   /* money text -> bytes decimal(19,2) */
    PGT_MONEY_DOUBLE,    /* money text -> double */
    PGT_MONEY_STRING,    /* money text -> "-1234.56" */
    PGT_STRING,          /* the text as sent */
    PGT_JSON,            /* the text as sent, schema marks it as JSON */
    PGT_UUID,            /* the text as sent, checked to be a UUID */
    PGT_BYTEA,           /* \x hex -> bytes */
    PGT_DATE,            /* int days since 1970-01-01 */
    PGT_TIME,            /* long microseconds after midnight */
    PGT_TIMESTAMP,       /* long microseconds since 1970-01-01 00:00, no zone */
    PGT_TIMESTAMPTZ,     /* long microseconds since 1970-01-01 00:00 UTC */
} pgt_kind;

typedef enum {
    PGT_DECIMAL_PRECISE = 0, /* numeric(p,s) and money as decimal (the default) */
    PGT_DECIMAL_DOUBLE,      /* numeric and money as double: lossy, readable anywhere */
    PGT_DECIMAL_STRING,      /* numeric and money as exact decimal text */
} pgt_decimal_handling;

typedef struct {
    pgt_decimal_handling decimal_handling;
} pgt_options;

/* What the caller knows about a column's type. For builtin types (oid below
 * 16384) oid and typmod are enough; for others the caller reads pg_type:
 * it resolves a domain to its base type first (typtype 'd' is refused), and
 * for an array type (typcategory 'A') passes the element type as typelem
 * says, with the element's typtype, typcategory and typdelim. */
typedef struct {
    uint32_t oid;             /* pg_type oid, domains resolved */
    int32_t typmod;           /* atttypmod, -1 when none; for an array, the element's */
    char typtype;             /* pg_type.typtype ('b','c','e','r','m',...), 0 = not looked up */
    char typcategory;         /* pg_type.typcategory, 0 = not looked up */
    const char *typname;      /* for messages; NULL: the builtin name or "type <oid>" */
    const char *elem_typname; /* arrays: the element's name for messages, may be NULL */
    uint32_t elem_oid;        /* arrays: pg_type.typelem (domains resolved); 0 otherwise */
    char elem_typtype;        /* arrays: the element's typtype, 0 = not looked up */
    char elem_typcategory;    /* arrays: the element's typcategory, 0 = not looked up */
    char elem_typdelim;       /* arrays: the element's typdelim; 0 = ',' (';' for box) */
} pgt_type_info;

#define PGT_NAME_MAX 64 /* NAMEDATALEN */

typedef struct {
    pgt_kind kind;                /* of the value, or of each element when is_array */
    int32_t precision;            /* decimal kinds: Avro precision */
    int32_t scale;                /* decimal kinds: Avro scale, >= 0 */
    int is_array;                 /* the value is a PostgreSQL array of kind */
    char delim;                   /* arrays: element delimiter in the text form */
    int warn_unknown;             /* a type Tidewater does not know: sent as its text */
    uint32_t oid;                 /* the column's type oid, for the caller's messages */
    uint32_t elem_oid;            /* arrays: the element type oid */
    char type_name[PGT_NAME_MAX]; /* named in error messages */
    char elem_name[PGT_NAME_MAX]; /* arrays: the element type, named in error messages */
} pgt_plan;

/* Builds the plan of one column. opts may be NULL (defaults). Returns 0, or
 * -1 with one sentence in err for input that cannot describe a column: an
 * unresolved domain, a numeric typmod outside PostgreSQL's limits, an array
 * whose element is itself an array. Unknown types are not errors (see
 * warn_unknown). */
int pgt_plan_for(const pgt_type_info *type, const pgt_options *opts, pgt_plan *plan, char *err,
                 size_t errsize);

/* pg_type.typname of a builtin type Tidewater knows ("int4", "_int4"), or
 * NULL. A static string. */
const char *pgt_builtin_name(uint32_t oid);

/* Appends the plan's Avro type as JSON, with logical types and
 * connect.name, e.g. {"type":"int","logicalType":"date"}. The nullable
 * union and the field's "pg.type" property are the caller's. */
void pgt_write_avro_json(const pgt_plan *plan, tw_buf *out);
/* Appends the Parsing Canonical Form of the same type: logical types and
 * other attributes dropped ("int", {"type":"array","items":["null","int"]}). */
void pgt_write_avro_canonical(const pgt_plan *plan, tw_buf *out);

/* Encodes one non-null value, given in PostgreSQL's text output format
 * (len bytes at text, no terminator needed), as Avro binary of the plan's
 * type, appended to out. Array elements that are NULL become the union's
 * null branch.
 *
 * Returns PGT_OK; PGT_UNREPRESENTABLE for a valid value the Avro type
 * cannot hold (numeric NaN/±Infinity in a decimal column, a timestamp
 * beyond the int64 microsecond range); or PGT_ERROR for malformed text.
 * Both non-zero statuses write one sentence into err naming the type, a
 * short excerpt of the value and the problem, and leave out at the length
 * it had on entry. Running out of buffer is not reported here: it is
 * out->error, which the caller checks once per record. */
int pgt_encode_text(const pgt_plan *plan, const char *text, size_t len, tw_buf *out, char *err,
                    size_t errsize);

/* Appends the Avro JSON form of one non-null value given in PostgreSQL's
 * text output format, as a field "default" of the plan's type takes it
 * (numbers, true/false, strings; bytes and decimals as a string of code
 * points 0-255). Returns 0, or -1 (out unchanged) for arrays, values the
 * type cannot hold or JSON cannot write (NaN), and malformed text. */
int pgt_default_json(const pgt_plan *plan, const char *text, size_t len, tw_buf *out);

#endif
