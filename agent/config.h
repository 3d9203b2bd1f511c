/*
 * config.h — Tidewater's configuration: one declared table of keys
 * (config_keys.def), filled from three sources in increasing precedence:
 *
 *   1. a properties file        `key = value`, full-line `#` comments
 *   2. the environment          TIDEWATER_<KEY_WITH_UNDERSCORES>
 *   3. the command line         --set key=value
 *
 * then completed with defaults and validated by tw_config_finish().
 * Any key may instead be given as `<key>_file = /path`: the value is the
 * file's content without trailing newlines (how secrets arrive from mounted
 * Kubernetes Secrets). Keys under `kafka.` that the table does not declare
 * are collected as librdkafka pass-through properties.
 *
 * Errors: every function that can fail returns 0 on success or -1 and writes
 * one sentence into err (size errsize) that names the key and where its
 * value came from. Secret values never appear in error text or dumps.
 *
 * Ownership: tw_config owns every string it returns; they live until
 * tw_config_free(). Not thread-safe; build it once in main, then read it.
 */
#ifndef TW_CONFIG_H
#define TW_CONFIG_H

#include <stddef.h>
#include <stdio.h>

typedef enum {
    TW_CT_STRING,
    TW_CT_INT,
    TW_CT_BOOL,
    TW_CT_ENUM,
} tw_config_type;

#define TW_CF_REQUIRED 0x1 /* must be set by some source; no default */
#define TW_CF_SECRET   0x2 /* never printed */
#define TW_CF_EMPTY    0x4 /* set to empty: off (the default does not apply) */

typedef enum {
#define TW_KEY(id, ...) TW_CFG_##id,
#include "agent/config_keys.def"
#undef TW_KEY
    TW_CFG__COUNT
} tw_config_key;

typedef struct {
    const char *name;
    tw_config_type type;
    const char *defval; /* NULL: no default */
    int flags;
    const char *choices; /* "a|b|c" for TW_CT_ENUM */
    long long min, max;  /* TW_CT_INT range, inclusive */
    const char *description;
} tw_config_def;

extern const tw_config_def tw_config_defs[TW_CFG__COUNT];

typedef struct tw_config tw_config;

/* Returns a new, empty configuration, or NULL when out of memory. */
tw_config *tw_config_new(void);
void tw_config_free(tw_config *cfg);

/* Reads a properties file. Unknown keys, malformed lines and a key given
 * twice in the file are errors naming the file and line. */
int tw_config_load_file(tw_config *cfg, const char *path, char *err, size_t errsize);
/* The parser under tw_config_load_file(): len bytes of properties text
 * (need not be NUL-terminated), named `name` in messages ("NAME:LINE"). A NUL
 * byte in the text is an error. Like the file, it is one source: a key given
 * twice in it is an error. `<key>_file` lines still read the named files. */
int tw_config_load_buffer(tw_config *cfg, const char *name, const char *data, size_t len, char *err,
                          size_t errsize);

/* Applies every TIDEWATER_* variable of envp (NULL-terminated, like environ).
 * A TIDEWATER_* variable that names no key is an error. */
int tw_config_load_env(tw_config *cfg, char *const *envp, char *err, size_t errsize);

/* Applies one `key=value` assignment; origin says where it came from
 * ("--set") for messages. */
int tw_config_set(tw_config *cfg, const char *assignment, const char *origin, char *err,
                  size_t errsize);

/* Fills defaults and checks that every required key is set. Call once,
 * after all sources. */
int tw_config_finish(tw_config *cfg, char *err, size_t errsize);
/* The same, for a command that does not use some required keys: those in
 * not_needed (n entries) may stay unset. */
int tw_config_finish_except(tw_config *cfg, const tw_config_key *not_needed, size_t n, char *err,
                            size_t errsize);

/* Typed getters; valid after tw_config_finish(). tw_config_str() returns
 * NULL for a key that is unset and has no default. */
const char *tw_config_str(const tw_config *cfg, tw_config_key key);
long long tw_config_int(const tw_config *cfg, tw_config_key key);
int tw_config_bool(const tw_config *cfg, tw_config_key key);
/* Where the key's value came from: "default", "FILE:LINE", "env TIDEWATER_X", "--set". */
const char *tw_config_origin(const tw_config *cfg, tw_config_key key);

/* librdkafka pass-through properties, in the order first set. name is the
 * property without the `kafka.` prefix. Declared kafka.* keys (e.g.
 * kafka.bootstrap.servers) are not in this list: read them with
 * tw_config_str(). */
size_t tw_config_kafka_count(const tw_config *cfg);
void tw_config_kafka_get(const tw_config *cfg, size_t i, const char **name, const char **value,
                         const char **origin);
/* Is this librdkafka property (without prefix) a secret by its name? */
int tw_config_kafka_is_secret(const char *name);

/* Environment variable name of a key: TIDEWATER_ + upper case, dots to
 * underscores. Writes into buf; returns buf. */
char *tw_config_env_name(const char *key, char *buf, size_t bufsize);

/* Prints the effective configuration as properties, secrets replaced by
 * `(secret)` and passwords inside connection strings by `********`. */
void tw_config_dump(const tw_config *cfg, FILE *out);

/* Prints the configuration reference (Markdown) generated from the table. */
void tw_config_write_doc(FILE *out);

#endif
