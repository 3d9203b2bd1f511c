#include "agent/config.h"

#include "agent/errbuf.h"

#include "agent/pgconn.h"
#include "schemas/url.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const tw_config_def tw_config_defs[TW_CFG__COUNT] = {
#define TW_KEY(id, name, type, def, flags, choices, min, max, desc)                                \
    [TW_CFG_##id] = {name, type, def, flags, choices, min, max, desc},
#include "agent/config_keys.def"
#undef TW_KEY
};

#define ORIGIN_MAX 320

typedef struct {
    char *value;             /* NULL: unset */
    char origin[ORIGIN_MAX]; /* where value came from, for messages */
    unsigned source_gen;     /* which load set it: catches a key twice in one file */
    long long ival;          /* parsed TW_CT_INT / TW_CT_BOOL value */
} cfg_value;

typedef struct {
    char *name; /* without "kafka." */
    char *value;
    char origin[ORIGIN_MAX];
    unsigned source_gen;
} cfg_kafka_prop;

struct tw_config {
    cfg_value values[TW_CFG__COUNT];
    cfg_kafka_prop *kafka;
    size_t nkafka, capkafka;
    unsigned gen; /* bumped for each source that is loaded */
};

tw_config *tw_config_new(void)
{
    return calloc(1, sizeof(tw_config));
}

void tw_config_free(tw_config *cfg)
{
    if (!cfg)
        return;
    for (int i = 0; i < TW_CFG__COUNT; i++)
        free(cfg->values[i].value);
    for (size_t i = 0; i < cfg->nkafka; i++) {
        free(cfg->kafka[i].name);
        free(cfg->kafka[i].value);
    }
    free(cfg->kafka);
    free(cfg);
}

char *tw_config_env_name(const char *key, char *buf, size_t bufsize)
{
    size_t n = (size_t)snprintf(buf, bufsize, "TIDEWATER_");
    for (const char *p = key; *p && n + 1 < bufsize; p++)
        buf[n++] = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
    buf[n] = '\0';
    return buf;
}

int tw_config_kafka_is_secret(const char *name)
{
    return strstr(name, "password") || strstr(name, "secret") || strstr(name, ".pem") ||
           strstr(name, "sasl.oauthbearer.config");
}

static int find_key(const char *name)
{
    for (int i = 0; i < TW_CFG__COUNT; i++)
        if (strcmp(tw_config_defs[i].name, name) == 0)
            return i;
    return -1;
}

/* Edit distance, for "did you mean" on unknown keys. Keys are short. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 64;
    size_t prev[64], cur[64];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof prev[0]);
    }
    return prev[lb];
}

static const char *closest_key(const char *name)
{
    const char *best = NULL;
    size_t best_d = 4; /* suggest only near misses */
    for (int i = 0; i < TW_CFG__COUNT; i++) {
        size_t d = edit_distance(name, tw_config_defs[i].name);
        if (d < best_d) {
            best_d = d;
            best = tw_config_defs[i].name;
        }
    }
    return best;
}

static int parse_bool(const char *s, long long *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

static int enum_contains(const char *choices, const char *s)
{
    size_t n = strlen(s);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, s, n) == 0)
            return 1;
        if (!bar)
            break;
        p = bar + 1;
    }
    return 0;
}

/* Checks value against the key's type; fills *ival for int/bool. The
 * message never includes a secret value. */
static int validate_value(int k, const char *value, const char *origin, long long *ival, char *err,
                          size_t errsize)
{
    const tw_config_def *d = &tw_config_defs[k];
    const char *shown = (d->flags & TW_CF_SECRET) ? "(secret)" : value;
    switch (d->type) {
    case TW_CT_STRING:
        return 0;
    case TW_CT_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end != '\0' || v < d->min || v > d->max) {
            tw_errf(err, errsize, "%s: '%s' must be an integer from %lld to %lld, got '%s'", origin,
                    d->name, d->min, d->max, shown);
            return -1;
        }
        *ival = v;
        return 0;
    }
    case TW_CT_BOOL:
        if (parse_bool(value, ival) != 0) {
            tw_errf(err, errsize, "%s: '%s' must be true or false, got '%s'", origin, d->name,
                    shown);
            return -1;
        }
        return 0;
    case TW_CT_ENUM:
        if (!enum_contains(d->choices, value)) {
            tw_errf(err, errsize, "%s: '%s' must be one of %s, got '%s'", origin, d->name,
                    d->choices, shown);
            return -1;
        }
        return 0;
    }
    return 0;
}

/* Reads the whole file at path into a NUL-terminated buffer (*len bytes
 * before the terminator), refusing one of max bytes or more. NULL with err
 * ("what" names the file in it: "config file", "'key_file'"). */
static char *read_whole_file(const char *path, size_t max, const char *what, size_t *len, char *err,
                             size_t errsize)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        tw_errf(err, errsize, "%s: cannot open '%s': %s", what, path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    int too_big = 0;
    while (buf) {
        if (n + 1 == cap) {
            if (cap >= max) {
                too_big = 1;
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int failed = !buf || too_big || ferror(f);
    if (!buf)
        tw_errf(err, errsize, "%s: out of memory reading '%s'", what, path);
    else if (too_big)
        tw_errf(err, errsize, "%s: '%s' is too large (the limit is %zu MiB)", what, path,
                max >> 20);
    else if (ferror(f))
        tw_errf(err, errsize, "%s: error reading '%s'", what, path);
    fclose(f);
    if (failed) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Reads a secret or value file: whole content minus trailing newlines. */
static char *read_value_file(const char *path, const char *key, const char *origin, char *err,
                             size_t errsize)
{
    char what[200];
    size_t len;
    snprintf(what, sizeof what, "%s: '%s_file'", origin, key);
    char *buf = read_whole_file(path, 1u << 20, what, &len, err, errsize);
    if (!buf)
        return NULL;
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    buf[len] = '\0';
    return buf;
}

static int set_kafka(tw_config *cfg, const char *name, const char *value, const char *origin,
                     char *err, size_t errsize)
{
    for (size_t i = 0; i < cfg->nkafka; i++) {
        cfg_kafka_prop *p = &cfg->kafka[i];
        if (strcmp(p->name, name) != 0)
            continue;
        if (p->source_gen == cfg->gen) {
            tw_errf(err, errsize, "%s: 'kafka.%s' is set twice (first at %s)", origin, name,
                    p->origin);
            return -1;
        }
        char *v = strdup(value);
        if (!v)
            goto oom;
        free(p->value);
        p->value = v;
        snprintf(p->origin, sizeof p->origin, "%s", origin);
        p->source_gen = cfg->gen;
        return 0;
    }
    if (cfg->nkafka == cfg->capkafka) {
        size_t ncap = cfg->capkafka ? cfg->capkafka * 2 : 8;
        cfg_kafka_prop *n = realloc(cfg->kafka, ncap * sizeof *n);
        if (!n)
            goto oom;
        cfg->kafka = n;
        cfg->capkafka = ncap;
    }
    cfg_kafka_prop *p = &cfg->kafka[cfg->nkafka];
    p->name = strdup(name);
    p->value = strdup(value);
    if (!p->name || !p->value) {
        free(p->name);
        free(p->value);
        goto oom;
    }
    snprintf(p->origin, sizeof p->origin, "%s", origin);
    p->source_gen = cfg->gen;
    cfg->nkafka++;
    return 0;
oom:
    tw_errf(err, errsize, "%s: out of memory", origin);
    return -1;
}

/* The one place a key gets a value. key may carry the `_file` suffix. An
 * empty value unsets the key (so a later source can clear an earlier one). */
static int assign(tw_config *cfg, const char *key, const char *value, const char *origin, char *err,
                  size_t errsize)
{
    char base[256];
    size_t klen = strlen(key);
    if (klen == 0) {
        tw_errf(err, errsize, "%s: empty key", origin);
        return -1;
    }
    if (klen >= sizeof base) {
        tw_errf(err, errsize, "%s: key is too long: '%.64s...'", origin, key);
        return -1;
    }
    memcpy(base, key, klen + 1);
    int from_file = klen > 5 && strcmp(base + klen - 5, "_file") == 0;
    if (from_file)
        base[klen - 5] = '\0';

    int k = find_key(base);
    int is_kafka = k < 0 && strncmp(base, "kafka.", 6) == 0 && base[6] != '\0';
    if (k < 0 && !is_kafka) {
        const char *hint = closest_key(base);
        if (hint)
            tw_errf(err, errsize, "%s: unknown configuration key '%s' (did you mean '%s'?)", origin,
                    key, hint);
        else
            tw_errf(err, errsize,
                    "%s: unknown configuration key '%s' (see `tidewater config --doc`)", origin,
                    key);
        return -1;
    }

    char *owned = NULL;
    if (from_file && value[0] != '\0') {
        owned = read_value_file(value, base, origin, err, errsize);
        if (!owned)
            return -1;
        value = owned;
    }

    int rc = 0;
    if (is_kafka) {
        rc = set_kafka(cfg, base + 6, value, origin, err, errsize);
        free(owned);
        return rc;
    }

    cfg_value *v = &cfg->values[k];
    if (v->source_gen == cfg->gen && v->source_gen != 0) {
        tw_errf(err, errsize, "%s: '%s' is set twice (first at %s)", origin, base, v->origin);
        free(owned);
        return -1;
    }
    long long ival = 0;
    if (value[0] != '\0' && validate_value(k, value, origin, &ival, err, errsize) != 0) {
        free(owned);
        return -1;
    }
    char *copy = NULL;
    if (value[0] != '\0') {
        copy = owned ? owned : strdup(value);
        owned = NULL;
        if (!copy) {
            tw_errf(err, errsize, "%s: out of memory", origin);
            return -1;
        }
    }
    free(owned);
    free(v->value);
    v->value = copy;
    v->ival = ival;
    v->source_gen = cfg->gen;
    snprintf(v->origin, sizeof v->origin, "%s", origin);
    return rc;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

int tw_config_load_buffer(tw_config *cfg, const char *name, const char *data, size_t len, char *err,
                          size_t errsize)
{
    cfg->gen++;
    char *line = NULL; /* one line at a time, NUL-terminated, for trim() and assign() */
    size_t cap = 0;
    int lineno = 0, rc = 0;
    for (size_t pos = 0; pos < len && rc == 0;) {
        const char *start = data + pos;
        const char *nl = memchr(start, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - start) : len - pos;
        pos += n + (nl ? 1 : 0);
        lineno++;
        char origin[ORIGIN_MAX];
        snprintf(origin, sizeof origin, "%s:%d", name, lineno);
        const char *nul = memchr(start, '\0', n);
        if (nul) {
            /* The text after it would be silently cut off: not a text file. */
            tw_errf(err, errsize, "%s: NUL byte at column %zu (not a text file?)", origin,
                    (size_t)(nul - start) + 1);
            rc = -1;
            break;
        }
        if (n + 1 > cap) {
            char *nb = realloc(line, n + 1);
            if (!nb) {
                tw_errf(err, errsize, "%s: out of memory", origin);
                rc = -1;
                break;
            }
            line = nb;
            cap = n + 1;
        }
        memcpy(line, start, n);
        line[n] = '\0';
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            tw_errf(err, errsize, "%s: expected 'key = value', got '%.60s'", origin, s);
            rc = -1;
            break;
        }
        *eq = '\0';
        if (assign(cfg, trim(s), trim(eq + 1), origin, err, errsize) != 0)
            rc = -1;
    }
    free(line);
    return rc;
}

/* A properties file larger than this is not a configuration. */
#define CONFIG_FILE_MAX (16u << 20)

int tw_config_load_file(tw_config *cfg, const char *path, char *err, size_t errsize)
{
    size_t len;
    char *buf = read_whole_file(path, CONFIG_FILE_MAX, "config file", &len, err, errsize);
    if (!buf)
        return -1;
    int rc = tw_config_load_buffer(cfg, path, buf, len, err, errsize);
    free(buf);
    return rc;
}

int tw_config_load_env(tw_config *cfg, char *const *envp, char *err, size_t errsize)
{
    static const char prefix[] = "TIDEWATER_";
    cfg->gen++;
    for (char *const *e = envp; e && *e; e++) {
        if (strncmp(*e, prefix, sizeof prefix - 1) != 0)
            continue;
        const char *eq = strchr(*e, '=');
        if (!eq)
            continue;
        char var[256], origin[ORIGIN_MAX];
        size_t vlen = (size_t)(eq - *e);
        if (vlen >= sizeof var) {
            tw_errf(err, errsize, "environment variable name too long: '%.64s...'", *e);
            return -1;
        }
        memcpy(var, *e, vlen);
        var[vlen] = '\0';
        snprintf(origin, sizeof origin, "env %s", var);

        /* Declared keys first: their names may contain underscores. */
        char key[256] = "";
        for (int k = 0; k < TW_CFG__COUNT && !key[0]; k++) {
            char name[256];
            tw_config_env_name(tw_config_defs[k].name, name, sizeof name);
            size_t nl = strlen(name);
            if (strcmp(var, name) == 0)
                snprintf(key, sizeof key, "%s", tw_config_defs[k].name);
            else if (strncmp(var, name, nl) == 0 && strcmp(var + nl, "_FILE") == 0)
                snprintf(key, sizeof key, "%s_file", tw_config_defs[k].name);
        }
        /* librdkafka property names use dots only, so underscores map back to
         * dots unambiguously; a trailing _FILE means "read from file". */
        if (!key[0] && strncmp(var, "TIDEWATER_KAFKA_", 16) == 0 && var[16]) {
            size_t n = 0;
            int file = vlen > 21 && strcmp(var + vlen - 5, "_FILE") == 0;
            size_t end = file ? vlen - 5 : vlen;
            for (size_t i = 10; i < end && n + 6 < sizeof key; i++)
                key[n++] = var[i] == '_' ? '.' : (char)tolower((unsigned char)var[i]);
            key[n] = '\0';
            if (file)
                strcat(key, "_file");
        }
        if (!key[0]) {
            tw_errf(err, errsize,
                    "environment variable %s does not name a configuration key "
                    "(see `tidewater config --doc`)",
                    var);
            return -1;
        }
        if (assign(cfg, key, eq + 1, origin, err, errsize) != 0)
            return -1;
    }
    return 0;
}

int tw_config_set(tw_config *cfg, const char *assignment, const char *origin, char *err,
                  size_t errsize)
{
    const char *eq = strchr(assignment, '=');
    if (!eq) {
        tw_errf(err, errsize, "%s: expected key=value, got '%s'", origin, assignment);
        return -1;
    }
    char key[256];
    size_t klen = (size_t)(eq - assignment);
    if (klen >= sizeof key) {
        tw_errf(err, errsize, "%s: key is too long", origin);
        return -1;
    }
    memcpy(key, assignment, klen);
    key[klen] = '\0';
    cfg->gen++; /* each --set is its own source: a later one wins */
    return assign(cfg, trim(key), eq + 1, origin, err, errsize);
}

int tw_config_finish(tw_config *cfg, char *err, size_t errsize)
{
    return tw_config_finish_except(cfg, NULL, 0, err, errsize);
}

int tw_config_finish_except(tw_config *cfg, const tw_config_key *not_needed, size_t n, char *err,
                            size_t errsize)
{
    for (int k = 0; k < TW_CFG__COUNT; k++) {
        const tw_config_def *d = &tw_config_defs[k];
        cfg_value *v = &cfg->values[k];
        if (v->value)
            continue;
        int needed = 1;
        for (size_t i = 0; i < n; i++)
            needed &= not_needed[i] != (tw_config_key)k;
        if ((d->flags & TW_CF_REQUIRED) && needed) {
            char env[256];
            tw_errf(err, errsize,
                    "missing required configuration key '%s' (set it in the config file, "
                    "as %s, or with --set %s=...)",
                    d->name, tw_config_env_name(d->name, env, sizeof env), d->name);
            return -1;
        }
        if ((d->flags & TW_CF_EMPTY) && v->source_gen != 0) {
            /* Set to empty on purpose: the feature is off. */
            v->value = strdup("");
            if (!v->value) {
                tw_errf(err, errsize, "out of memory");
                return -1;
            }
        } else if (d->defval) {
            v->value = strdup(d->defval);
            if (!v->value) {
                tw_errf(err, errsize, "out of memory");
                return -1;
            }
            if (validate_value(k, d->defval, "default", &v->ival, err, errsize) != 0)
                return -1;
            snprintf(v->origin, sizeof v->origin, "default");
        }
    }
    return 0;
}

const char *tw_config_str(const tw_config *cfg, tw_config_key key)
{
    return cfg->values[key].value;
}

long long tw_config_int(const tw_config *cfg, tw_config_key key)
{
    return cfg->values[key].ival;
}

int tw_config_bool(const tw_config *cfg, tw_config_key key)
{
    return cfg->values[key].ival != 0;
}

const char *tw_config_origin(const tw_config *cfg, tw_config_key key)
{
    return cfg->values[key].value ? cfg->values[key].origin : "unset";
}

size_t tw_config_kafka_count(const tw_config *cfg)
{
    return cfg->nkafka;
}

void tw_config_kafka_get(const tw_config *cfg, size_t i, const char **name, const char **value,
                         const char **origin)
{
    *name = cfg->kafka[i].name;
    *value = cfg->kafka[i].value;
    if (origin)
        *origin = cfg->kafka[i].origin;
}

void tw_config_dump(const tw_config *cfg, FILE *out)
{
    for (int k = 0; k < TW_CFG__COUNT; k++) {
        const tw_config_def *d = &tw_config_defs[k];
        const cfg_value *v = &cfg->values[k];
        if (!v->value) {
            fprintf(out, "# %s is unset\n", d->name);
            continue;
        }
        if (d->flags & TW_CF_SECRET) {
            fprintf(out, "%s = (secret)  # %s\n", d->name, v->origin);
        } else if (k == TW_CFG_SOURCE_CONNINFO) {
            char *red = tw_pg_redact_conninfo(v->value);
            fprintf(out, "%s = %s  # %s\n", d->name, red ? red : "(unparseable)", v->origin);
            free(red);
        } else if (k == TW_CFG_SCHEMA_REGISTRY_URL || k == TW_CFG_SCHEMA_WEBHOOK_URL) {
            char *red = tw_url_redact(v->value, "(secret)@");
            fprintf(out, "%s = %s  # %s\n", d->name, red ? red : "(out of memory)", v->origin);
            free(red);
        } else {
            fprintf(out, "%s = %s  # %s\n", d->name, v->value, v->origin);
        }
    }
    for (size_t i = 0; i < cfg->nkafka; i++) {
        const cfg_kafka_prop *p = &cfg->kafka[i];
        fprintf(out, "kafka.%s = %s  # %s\n", p->name,
                tw_config_kafka_is_secret(p->name) ? "(secret)" : p->value, p->origin);
    }
}

void tw_config_write_doc(FILE *out)
{
    static const char *const type_names[] = {"string", "integer", "boolean", "enum"};
    fprintf(out, "# Tidewater configuration reference\n\n"
                 "Generated by `tidewater config --doc` from the table in "
                 "`agent/config_keys.def`; do not edit by hand.\n\n"
                 "Sources, lowest precedence first: the properties file given with `--config` "
                 "(`key = value`, full-line `#` comments; an empty value unsets the key), then "
                 "environment variables `TIDEWATER_<KEY>` (upper case, dots as underscores, e.g. "
                 "`TIDEWATER_SOURCE_CONNINFO`), then `--set key=value` on the command line.\n\n"
                 "Any key can be read from a file instead: `<key>_file = /path` (environment: "
                 "`TIDEWATER_<KEY>_FILE`). The value is the file's content without trailing "
                 "newlines; this is how secrets from a mounted Kubernetes Secret arrive. Secret "
                 "values are never printed.\n\n"
                 "Keys under `kafka.` that are not listed below are librdkafka properties passed "
                 "through unchanged without the prefix (e.g. `kafka.security.protocol`, "
                 "`kafka.sasl.password`); librdkafka validates them and an unknown one is an "
                 "error. In environment variables their dots are underscores "
                 "(`TIDEWATER_KAFKA_SECURITY_PROTOCOL`). Properties whose names contain "
                 "`password`, `secret` or `.pem` are treated as secrets. Tidewater's own "
                 "producer defaults, which such keys override: `enable.idempotence=true`, "
                 "`compression.codec=zstd`, `compression.level=1`, `linger.ms=20`, "
                 "`queue.buffering.max.messages=20000`, `queue.buffering.max.kbytes=16384`.\n\n"
                 "Unknown keys, values of the wrong type and missing required keys are errors "
                 "that name the key and where the value came from.\n\n"
                 "| key | type | default | environment variable |\n"
                 "|---|---|---|---|\n");
    for (int k = 0; k < TW_CFG__COUNT; k++) {
        const tw_config_def *d = &tw_config_defs[k];
        char env[256];
        fprintf(out, "| [`%s`](#", d->name);
        for (const char *p = d->name; *p; p++)
            if (isalnum((unsigned char)*p) || *p == '_')
                fputc(*p, out);
        fprintf(out, ") | %s | %s | `%s` |\n", type_names[d->type],
                (d->flags & TW_CF_REQUIRED) ? "**required**"
                : d->defval                 ? d->defval
                                            : "(unset)",
                tw_config_env_name(d->name, env, sizeof env));
    }
    fputc('\n', out);
    for (int k = 0; k < TW_CFG__COUNT; k++) {
        const tw_config_def *d = &tw_config_defs[k];
        fprintf(out, "## %s\n\n%s\n\n", d->name, d->description);
        fprintf(out, "- type: %s", type_names[d->type]);
        if (d->type == TW_CT_ENUM)
            fprintf(out, ", one of `%s`", d->choices);
        if (d->type == TW_CT_INT)
            fprintf(out, ", from %lld to %lld", d->min, d->max);
        fputc('\n', out);
        if (d->flags & TW_CF_REQUIRED)
            fprintf(out, "- required\n");
        else if (d->defval)
            fprintf(out, "- default: `%s`\n", d->defval);
        else
            fprintf(out, "- default: unset\n");
        if (d->flags & TW_CF_SECRET)
            fprintf(out, "- secret: never printed; may be read with `%s_file`\n", d->name);
        fputc('\n', out);
    }
}
