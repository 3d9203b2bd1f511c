#include "agent/schema_store.h"

#include "agent/config.h"
#include "agent/log.h"
#include "sinks/kafka_read.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STORE_VERSION 1
#define STORE_FILE    "schema-store.json"

struct tw_store {
    int dir;           /* the dir backend */
    char where[1100];  /* for messages */
    char path[1024];   /* dir: the file */
    char topic[300];   /* kafka: the topic */
    int initialised;   /* a meta record exists */
    json_t *state;     /* agent state records by key (tw_store_state) */
    tw_store_table *t; /* records */
    int n, cap;
    tw_store_put_fn put;
    void *put_arg;
};

int tw_store_split_table(const char *arg, char nsp[64], char rel[64])
{
    const char *dot = strchr(arg, '.');
    size_t nl = dot ? (size_t)(dot - arg) : strlen("public");
    const char *rs = dot ? dot + 1 : arg;
    if (nl >= 64 || strlen(rs) >= 64)
        return -1;
    memcpy(nsp, dot ? arg : "public", nl);
    nsp[nl] = '\0';
    memcpy(rel, rs, strlen(rs) + 1);
    return 0;
}

void tw_store_key(const char *nspname, const char *relname, char *out, size_t outsize)
{
    size_t o = 0;
    const char *parts[2] = {nspname, relname};
    const char *pre[2] = {"table:\"", "\".\""};
    for (int k = 0; k < 2; k++) {
        for (const char *p = pre[k]; *p && o + 1 < outsize; p++)
            out[o++] = *p;
        for (const char *p = parts[k]; *p && o + 2 < outsize; p++) {
            if (*p == '"')
                out[o++] = '"';
            out[o++] = *p;
        }
    }
    if (o + 1 < outsize)
        out[o++] = '"';
    out[o] = '\0';
}

static tw_store_table *find_key(tw_store *s, const char *key)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->t[i].key, key) == 0)
            return &s->t[i];
    return NULL;
}

/* Sets (owning doc) or, with doc NULL, removes the record under key. */
static int set_record(tw_store *s, const char *key, json_t *doc)
{
    tw_store_table *t = find_key(s, key);
    if (!doc) {
        if (t) {
            json_decref(t->doc);
            *t = s->t[--s->n];
        }
        return 0;
    }
    const char *nsp = json_string_value(json_object_get(doc, "schema"));
    const char *rel = json_string_value(json_object_get(doc, "table"));
    if (!nsp || !rel) {
        json_decref(doc);
        return -1;
    }
    if (!t) {
        if (s->n == s->cap) {
            int ncap = s->cap ? s->cap * 2 : 16;
            tw_store_table *nt = realloc(s->t, (size_t)ncap * sizeof *nt);
            if (!nt) {
                json_decref(doc);
                return -1;
            }
            s->t = nt;
            s->cap = ncap;
        }
        t = &s->t[s->n++];
        memset(t, 0, sizeof *t);
        snprintf(t->key, sizeof t->key, "%s", key);
    } else {
        json_decref(t->doc);
    }
    snprintf(t->nspname, sizeof t->nspname, "%s", nsp);
    snprintf(t->relname, sizeof t->relname, "%s", rel);
    t->doc = doc;
    return 0;
}

static int load_message(void *arg, const void *key, size_t keylen, const void *value,
                        size_t valuelen, char *err, size_t errsize)
{
    tw_store *s = arg;
    if (!key)
        return 0;
    if (keylen == 4 && memcmp(key, "meta", 4) == 0) {
        s->initialised = value != NULL;
        return 0;
    }
    if (keylen > 9 && keylen < 300 && memcmp(key, "snapshot:", 9) == 0) {
        char k[300];
        memcpy(k, key, keylen);
        k[keylen] = '\0';
        if (!value)
            return json_object_del(s->state, k), 0;
        json_error_t je;
        json_t *doc = json_loadb(value, valuelen, 0, &je);
        if (!doc || !json_is_object(doc)) {
            json_decref(doc);
            snprintf(err, errsize, "record %s in %s is not a JSON object", k, s->where);
            return -1;
        }
        json_object_set_new(s->state, k, doc);
        return 0;
    }
    if (keylen < 7 || keylen >= sizeof s->t[0].key || memcmp(key, "table:", 6) != 0)
        return 0; /* an Avro schema by fingerprint */
    char k[sizeof s->t[0].key];
    memcpy(k, key, keylen);
    k[keylen] = '\0';
    if (!value)
        return set_record(s, k, NULL);
    json_error_t je;
    json_t *doc = json_loadb(value, valuelen, 0, &je);
    if (!doc || set_record(s, k, doc) != 0) {
        snprintf(err, errsize, "record %s in %s is not a table record (%s)", k, s->where,
                 doc ? "schema or table missing" : je.text);
        return -1;
    }
    return 0;
}

static int load_file(tw_store *s, char *err, size_t errsize)
{
    json_error_t je;
    json_t *root = json_load_file(s->path, 0, &je);
    if (!root) {
        if (access(s->path, F_OK) != 0 && errno == ENOENT)
            return 0; /* a new store */
        snprintf(err, errsize, "cannot read the schema store %s: %s (line %d)", s->path, je.text,
                 je.line);
        return -1;
    }
    s->initialised = json_object_get(root, "meta") != NULL;
    json_t *state = json_object_get(root, "state");
    if (json_is_object(state))
        json_object_update(s->state, state);
    json_t *tables = json_object_get(root, "tables");
    const char *k;
    json_t *v;
    int rc = 0;
    json_object_foreach(tables, k, v)
    {
        if (set_record(s, k, json_incref(v)) != 0) {
            snprintf(err, errsize, "record %s in %s is not a table record", k, s->path);
            rc = -1;
            break;
        }
    }
    json_decref(root);
    return rc;
}

static int save_file(tw_store *s, char *err, size_t errsize)
{
    json_t *root = json_object();
    json_t *tables = json_object();
    if (s->initialised) /* an interrupted first fill stays "new" */
        json_object_set_new(root, "meta", json_pack("{s:i}", "store_version", STORE_VERSION));
    for (int i = 0; i < s->n; i++)
        json_object_set(tables, s->t[i].key, s->t[i].doc);
    json_object_set_new(root, "tables", tables);
    if (json_object_size(s->state) > 0)
        json_object_set(root, "state", s->state);
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", s->path);
    int rc = -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    if (fd < 0) {
        snprintf(err, errsize, "cannot write %s: %s", tmp, strerror(errno));
    } else if (json_dumpfd(root, fd, JSON_INDENT(1) | JSON_SORT_KEYS) != 0 || fsync(fd) != 0) {
        snprintf(err, errsize, "cannot write %s: %s", tmp, strerror(errno));
        close(fd);
    } else if (close(fd) != 0 || rename(tmp, s->path) != 0) {
        snprintf(err, errsize, "cannot replace %s: %s", s->path, strerror(errno));
    } else {
        /* The rename is durable once the directory is synced. */
        char dir[1024];
        snprintf(dir, sizeof dir, "%s", s->path);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        int dfd = open(slash ? dir : ".", O_RDONLY);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        rc = 0;
    }
    json_decref(root);
    return rc;
}

tw_store *tw_store_open(const tw_config *cfg, char *err, size_t errsize)
{
    tw_store *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errsize, "out of memory");
        return NULL;
    }
    s->state = json_object();
    if (!s->state) {
        free(s);
        snprintf(err, errsize, "out of memory");
        return NULL;
    }
    s->dir = strcmp(tw_config_str(cfg, TW_CFG_SCHEMA_STORE), "dir") == 0;
    if (s->dir) {
        const char *d = tw_config_str(cfg, TW_CFG_STATE_DIR);
        struct stat st;
        if (!d || !d[0]) {
            snprintf(err, errsize,
                     "schema.store=dir needs state.dir: set it to a writable "
                     "directory that survives restarts");
            tw_store_close(s);
            return NULL;
        }
        if (stat(d, &st) != 0 || !S_ISDIR(st.st_mode) || access(d, W_OK) != 0) {
            snprintf(err, errsize, "state.dir '%s' is not a writable directory%s%s", d,
                     errno ? ": " : "", errno ? strerror(errno) : "");
            tw_store_close(s);
            return NULL;
        }
        snprintf(s->path, sizeof s->path, "%s/%s", d, STORE_FILE);
        snprintf(s->where, sizeof s->where, "file '%s'", s->path);
        if (load_file(s, err, errsize) != 0) {
            tw_store_close(s);
            return NULL;
        }
        return s;
    }
    snprintf(s->topic, sizeof s->topic, "%s.schemas", tw_config_str(cfg, TW_CFG_TOPIC_PREFIX));
    snprintf(s->where, sizeof s->where, "topic '%s'", s->topic);
    char rerr[1024];
    int rc = kafka_read_topic(cfg, s->topic, 30000, load_message, s, rerr, sizeof rerr);
    if (rc < 0) {
        snprintf(err, errsize, "cannot read the schema store (%s): %s", s->where, rerr);
        tw_store_close(s);
        return NULL;
    }
    return s;
}

void tw_store_close(tw_store *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n; i++)
        json_decref(s->t[i].doc);
    json_decref(s->state);
    free(s->t);
    free(s);
}

void tw_store_set_writer(tw_store *s, tw_store_put_fn fn, void *arg)
{
    s->put = fn;
    s->put_arg = arg;
}

const char *tw_store_where(const tw_store *s)
{
    return s->where;
}

int tw_store_is_new(const tw_store *s)
{
    return !s->initialised;
}

static int write_through(tw_store *s, const char *key, const json_t *doc, char *err, size_t errsize)
{
    if (s->dir)
        return save_file(s, err, errsize);
    if (!s->put) {
        snprintf(err, errsize, "the schema store %s has no writer", s->where);
        return -1;
    }
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (doc && !text) {
        snprintf(err, errsize, "out of memory");
        return -1;
    }
    int rc = s->put(s->put_arg, key, text, err, errsize);
    free(text);
    return rc;
}

int tw_store_mark_initialised(tw_store *s, char *err, size_t errsize)
{
    json_t *meta = json_pack("{s:i}", "store_version", STORE_VERSION);
    s->initialised = 1;
    int rc = write_through(s, "meta", meta, err, errsize);
    json_decref(meta);
    if (rc != 0)
        s->initialised = 0;
    return rc;
}

int tw_store_count(const tw_store *s)
{
    return s->n;
}

tw_store_table *tw_store_at(tw_store *s, int i)
{
    return i >= 0 && i < s->n ? &s->t[i] : NULL;
}

tw_store_table *tw_store_find(tw_store *s, const char *nspname, const char *relname)
{
    char key[300];
    tw_store_key(nspname, relname, key, sizeof key);
    return find_key(s, key);
}

int tw_store_put(tw_store *s, const char *nspname, const char *relname, json_t *doc, char *err,
                 size_t errsize)
{
    char key[300];
    if (!doc) { /* e.g. a failed json_deep_copy: never a tombstone */
        snprintf(err, errsize, "out of memory");
        return -1;
    }
    tw_store_key(nspname, relname, key, sizeof key);
    json_object_set_new(doc, "schema", json_string(nspname));
    json_object_set_new(doc, "table", json_string(relname));
    /* Durable first: memory follows what the store holds. */
    if (s->dir) {
        json_t *keep = json_incref(doc);
        tw_store_table *old = find_key(s, key);
        json_t *prev = old ? json_incref(old->doc) : NULL;
        if (set_record(s, key, doc) != 0) {
            json_decref(keep);
            json_decref(prev);
            snprintf(err, errsize, "out of memory");
            return -1;
        }
        if (save_file(s, err, errsize) != 0) {
            set_record(s, key, prev); /* back to what the file holds */
            json_decref(keep);
            return -1;
        }
        json_decref(keep);
        json_decref(prev);
        return 0;
    }
    if (write_through(s, key, doc, err, errsize) != 0) {
        json_decref(doc);
        return -1;
    }
    if (set_record(s, key, doc) != 0) {
        snprintf(err, errsize, "out of memory");
        return -1;
    }
    return 0;
}

int tw_store_delete(tw_store *s, const char *nspname, const char *relname, char *err,
                    size_t errsize)
{
    char key[300];
    tw_store_key(nspname, relname, key, sizeof key);
    tw_store_table *t = find_key(s, key);
    if (!t)
        return 0;
    if (s->dir) {
        json_t *prev = json_incref(t->doc);
        set_record(s, key, NULL);
        if (save_file(s, err, errsize) != 0) {
            set_record(s, key, prev);
            return -1;
        }
        json_decref(prev);
        return 0;
    }
    if (write_through(s, key, NULL, err, errsize) != 0)
        return -1;
    return set_record(s, key, NULL);
}

const char *tw_store_str(const tw_store_table *t, const char *field)
{
    return t ? json_string_value(json_object_get(t->doc, field)) : NULL;
}

long long tw_store_int(const tw_store_table *t, const char *field)
{
    return t ? (long long)json_integer_value(json_object_get(t->doc, field)) : 0;
}

uint64_t tw_store_lsn(const tw_store_table *t, const char *field)
{
    const char *v = tw_store_str(t, field);
    unsigned hi, lo;
    if (!v || sscanf(v, "%X/%X", &hi, &lo) != 2)
        return 0;
    return ((uint64_t)hi << 32) | lo;
}

const json_t *tw_store_state(const tw_store *s, const char *key)
{
    return json_object_get(s->state, key);
}

int tw_store_set_state(tw_store *s, const char *key, json_t *doc, char *err, size_t errsize)
{
    json_t *old = json_incref(json_object_get(s->state, key));
    if (doc)
        json_object_set(s->state, key, doc);
    else
        json_object_del(s->state, key);
    int rc = write_through(s, key, doc, err, errsize);
    if (rc != 0) { /* as before: the caller's view stays true */
        if (old)
            json_object_set(s->state, key, old);
        else
            json_object_del(s->state, key);
    }
    json_decref(old);
    json_decref(doc);
    return rc;
}
