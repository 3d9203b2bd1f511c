#include "schemas/relation.h"

#include "schemas/sha256.h"

#include <avro.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SOURCE_SCHEMA_NS "io.tidewater"

void tw_avro_name(const char *s, char *out, size_t outsize)
{
    size_t n = 0;
    if (outsize == 0)
        return;
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_') && n + 1 < outsize)
        out[n++] = '_';
    for (; *s && n + 1 < outsize; s++) {
        char c = *s;
        int ok =
            (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        out[n++] = ok ? c : '_';
    }
    out[n] = '\0';
}

/* Kafka topic names: [a-zA-Z0-9._-], at most 249 characters. */
static int topic_name(const char *prefix, const char *nsp, const char *rel, char *out,
                      size_t outsize, char *err, size_t errsize)
{
    int n = snprintf(out, outsize, "%s.%s.%s", prefix, nsp, rel);
    if (n < 0 || (size_t)n >= outsize || n > 249) {
        snprintf(err, errsize, "topic name for %s.%s is longer than Kafka's 249 characters", nsp,
                 rel);
        return -1;
    }
    for (char *p = out; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            *p = '_';
    }
    return 0;
}

/* Appends ".part" (or "part" first) to out; 0, or -1 when it does not fit. */
static int ns_append(char *out, size_t outsize, size_t *n, const char *raw)
{
    char part[TW_IDENT_MAX + 2];
    tw_avro_name(raw, part, sizeof part);
    int w = snprintf(out + *n, outsize - *n, "%s%s", *n ? "." : "", part);
    if (w < 0 || (size_t)w >= outsize - *n)
        return -1;
    *n += (size_t)w;
    return 0;
}

/* Avro namespace: every dot-separated part of prefix, then schema, table. */
static int avro_namespace(const char *prefix, const char *nsp, const char *rel, char *out,
                          size_t outsize)
{
    size_t n = 0;
    out[0] = '\0';
    for (const char *p = prefix; *p;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        char raw[TW_IDENT_MAX + 1];
        if (len > TW_IDENT_MAX)
            len = TW_IDENT_MAX;
        memcpy(raw, p, len);
        raw[len] = '\0';
        if (len && ns_append(out, outsize, &n, raw) != 0)
            return -1;
        if (!dot)
            break;
        p = dot + 1;
    }
    return ns_append(out, outsize, &n, nsp) || ns_append(out, outsize, &n, rel) ? -1 : 0;
}

/* One field, in full JSON and canonical form. as_key: plain type. */
static void write_field(const tw_column *c, int as_key, tw_buf *full, tw_buf *canon, int first)
{
    int nullable = c->nullable && !as_key;
    if (!first) {
        tw_buf_putc(full, ',');
        tw_buf_putc(canon, ',');
    }
    tw_buf_printf(full, "{\"name\":\"%s\",\"type\":", c->avro_name);
    tw_buf_printf(canon, "{\"name\":\"%s\",\"type\":", c->avro_name);
    if (nullable) {
        tw_buf_puts(full, "[\"null\",");
        tw_buf_puts(canon, "[\"null\",");
    }
    pgt_write_avro_json(&c->plan, full);
    pgt_write_avro_canonical(&c->plan, canon);
    if (nullable) {
        tw_buf_puts(full, "],\"default\":null");
        tw_buf_putc(canon, ']');
    } else if (!as_key && c->avro_default) {
        tw_buf_printf(full, ",\"default\":%s", c->avro_default);
    }
    tw_buf_puts(full, ",\"pg.type\":");
    tw_buf_json_string(full, c->pg_type);
    if (strcmp(c->name, c->avro_name) != 0) {
        tw_buf_puts(full, ",\"pg.column\":");
        tw_buf_json_string(full, c->name);
    }
    tw_buf_putc(full, '}');
    tw_buf_putc(canon, '}');
}

void tw_schema_id(uint64_t crc, const tw_buf *json, char out[34])
{
    uint8_t d[32];
    tw_sha256(json->data, json->len, d);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | d[i];
    snprintf(out, 34, "%016llx/%016llx", (unsigned long long)crc, (unsigned long long)v);
}

static const char *const source_fields[][2] = {
    {"version", "string"},  {"connector", "string"}, {"name", "string"},   {"ts_ms", "long"},
    {"snapshot", "string"}, {"db", "string"},        {"schema", "string"}, {"table", "string"},
    {"txId", "long"},       {"lsn", "long"},
};

static int build_schemas(tw_relation *r, char *err, size_t errsize)
{
    tw_buf canon;
    tw_buf_init(&canon, 0);

    if (r->nkey > 0) {
        tw_buf_printf(&r->key_schema,
                      "{\"type\":\"record\",\"name\":\"Key\",\"namespace\":\"%s\","
                      "\"fields\":[",
                      r->avro_ns);
        tw_buf_printf(&canon, "{\"name\":\"%s.Key\",\"type\":\"record\",\"fields\":[", r->avro_ns);
        int first = 1;
        for (int i = 0; i < r->ncols; i++)
            if (r->cols[i].key) {
                write_field(&r->cols[i], 1, &r->key_schema, &canon, first);
                first = 0;
            }
        tw_buf_puts(&r->key_schema, "]}");
        tw_buf_puts(&canon, "]}");
        r->key_fp = avro_crc64(canon.data, canon.len);
        tw_buf_reset(&canon);
    }

    tw_buf *f = &r->value_schema;
    tw_buf_printf(f,
                  "{\"type\":\"record\",\"name\":\"Envelope\",\"namespace\":\"%s\","
                  "\"tidewater.envelope.version\":1,\"fields\":[",
                  r->avro_ns);
    tw_buf_printf(&canon, "{\"name\":\"%s.Envelope\",\"type\":\"record\",\"fields\":[", r->avro_ns);
    tw_buf_puts(f,
                "{\"name\":\"before\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"Value\","
                "\"fields\":[");
    tw_buf_printf(&canon,
                  "{\"name\":\"before\",\"type\":[\"null\",{\"name\":\"%s.Value\","
                  "\"type\":\"record\",\"fields\":[",
                  r->avro_ns);
    for (int i = 0; i < r->ncols; i++)
        write_field(&r->cols[i], 0, f, &canon, i == 0);
    tw_buf_puts(f, "]}],\"default\":null},");
    tw_buf_puts(&canon, "]}]},");
    tw_buf_puts(f, "{\"name\":\"after\",\"type\":[\"null\",\"Value\"],\"default\":null},");
    tw_buf_printf(&canon, "{\"name\":\"after\",\"type\":[\"null\",\"%s.Value\"]},", r->avro_ns);
    tw_buf_puts(f, "{\"name\":\"source\",\"type\":{\"type\":\"record\",\"name\":\"Source\","
                   "\"namespace\":\"" SOURCE_SCHEMA_NS "\",\"fields\":[");
    tw_buf_puts(&canon, "{\"name\":\"source\",\"type\":{\"name\":\"" SOURCE_SCHEMA_NS ".Source\","
                        "\"type\":\"record\",\"fields\":[");
    size_t nsrc = sizeof source_fields / sizeof source_fields[0];
    for (size_t i = 0; i < nsrc; i++) {
        tw_buf_printf(f, "%s{\"name\":\"%s\",\"type\":\"%s\"}", i ? "," : "", source_fields[i][0],
                      source_fields[i][1]);
        tw_buf_printf(&canon, "%s{\"name\":\"%s\",\"type\":\"%s\"}", i ? "," : "",
                      source_fields[i][0], source_fields[i][1]);
    }
    tw_buf_puts(f,
                "]}},{\"name\":\"op\",\"type\":\"string\"},{\"name\":\"ts_ms\",\"type\":\"long\"},"
                "{\"name\":\"unchanged\",\"type\":{\"type\":\"array\",\"items\":\"string\"},"
                "\"default\":[]}]}");
    tw_buf_puts(&canon, "]}},{\"name\":\"op\",\"type\":\"string\"},{\"name\":\"ts_ms\",\"type\":"
                        "\"long\"},{\"name\":\"unchanged\",\"type\":{\"type\":\"array\",\"items\":"
                        "\"string\"}}]}");
    r->value_fp = avro_crc64(canon.data, canon.len);
    tw_schema_id(r->value_fp, &r->value_schema, r->value_schema_id);
    if (r->nkey > 0)
        tw_schema_id(r->key_fp, &r->key_schema, r->key_schema_id);

    int rc = 0;
    if (canon.error || r->key_schema.error || r->value_schema.error) {
        snprintf(err, errsize, "cannot build the Avro schemas of %s.%s: %s", r->nspname, r->relname,
                 "out of memory");
        rc = -1;
    }
    /* Our JSON must be a schema other Avro libraries accept: avro-c is the
     * independent judge at hand (it ignores the logical types it lacks). */
    const tw_buf *check[2] = {&r->key_schema, &r->value_schema};
    for (int i = 0; i < 2 && rc == 0; i++) {
        if (check[i]->len == 0)
            continue;
        avro_schema_t parsed = NULL;
        if (avro_schema_from_json_length((const char *)check[i]->data, check[i]->len, &parsed) !=
            0) {
            snprintf(err, errsize, "the %s schema written for %s.%s does not parse with avro-c: %s",
                     i ? "value" : "key", r->nspname, r->relname, avro_strerror());
            rc = -1;
        }
        if (parsed)
            avro_schema_decref(parsed);
    }
    tw_buf_free(&canon);
    return rc;
}

static void desc_name(tw_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '\t' || *s == '\n') {
            tw_buf_putc(b, '\\');
            tw_buf_putc(b, *s == '\t' ? 't' : *s == '\n' ? 'n' : '\\');
        } else {
            tw_buf_putc(b, (uint8_t)*s);
        }
    }
}

/* The canonical description and its SHA-256 (see relation.h). */
static void describe(tw_relation *r)
{
    tw_buf *b = &r->desc;
    tw_buf_puts(b, TW_RELATION_DESC_VERSION "\n");
    tw_buf_printf(b, "replica_identity\t%c\n", r->replident ? r->replident : 'd');
    for (int i = 0; i < r->ncols; i++) {
        const tw_column *c = &r->cols[i];
        tw_buf_puts(b, "column\t");
        desc_name(b, c->name);
        tw_buf_putc(b, '\t');
        desc_name(b, c->type_name);
        tw_buf_printf(b, "\t%d\t%d\n", (int)c->typmod, c->notnull);
    }
    for (int i = 0; i < r->ncols; i++)
        if (r->cols[i].key) {
            tw_buf_puts(b, "key\t");
            desc_name(b, r->cols[i].name);
            tw_buf_putc(b, '\n');
        }
    uint8_t d[32];
    tw_sha256(b->data, b->len, d);
    tw_sha256_hex(d, r->fingerprint);
}

/* The constant a column default names, in PostgreSQL's text form, as
 * pg_get_expr() writes it: 42, (-1), 1.5, true, 'text'::type. Anything else
 * (a function call, an expression) is no constant: NULL. */
static char *default_literal(const char *e)
{
    size_t n = strlen(e);
    if (strcmp(e, "true") == 0 || strcmp(e, "false") == 0)
        return strdup(e[0] == 't' ? "t" : "f");
    const char *num = e;
    size_t nlen = n;
    if (n > 2 && e[0] == '(' && e[n - 1] == ')') {
        num = e + 1;
        nlen = n - 2;
    }
    size_t k = 0;
    if (k < nlen && num[k] == '-')
        k++;
    int digits = 0;
    for (; k < nlen && ((num[k] >= '0' && num[k] <= '9') || num[k] == '.' || num[k] == 'e' ||
                        num[k] == 'E' || num[k] == '+' || num[k] == '-');
         k++)
        digits += num[k] >= '0' && num[k] <= '9';
    if (digits && k == nlen)
        return strndup(num, nlen);
    if (e[0] != '\'')
        return NULL;
    char *out = malloc(n);
    if (!out)
        return NULL;
    size_t o = 0, i = 1;
    for (; i < n; i++) {
        if (e[i] == '\'') {
            if (i + 1 < n && e[i + 1] == '\'') {
                out[o++] = '\'';
                i++;
                continue;
            }
            break;
        }
        out[o++] = e[i];
    }
    out[o] = '\0';
    /* 'text' must be followed by nothing or a single ::type cast. */
    const char *rest = e + i + 1;
    if (i >= n || (*rest && (strncmp(rest, "::", 2) != 0 || strchr(rest + 2, '\'') ||
                             strchr(rest + 2, '(') != strrchr(rest + 2, '(')))) {
        free(out);
        return NULL;
    }
    return out;
}

/* The Avro "default" JSON of a NOT NULL column whose default is a constant
 * the Avro type can hold, or NULL. */
static char *default_json(const pgt_plan *plan, const char *expr)
{
    char *lit = default_literal(expr);
    if (!lit)
        return NULL;
    tw_buf b;
    tw_buf_init(&b, 0);
    char *out = NULL;
    if (pgt_default_json(plan, lit, strlen(lit), &b) == 0 && !b.error) {
        tw_buf_putc(&b, '\0');
        out = b.error ? NULL : strdup((const char *)b.data);
    }
    tw_buf_free(&b);
    free(lit);
    return out;
}

int tw_relation_build(tw_relation *r, const pgo_msg *rel, const tw_column_catalog *cat, int ncat,
                      const char *prefix, const pgt_options *opts, char *err, size_t errsize)
{
    memset(r, 0, sizeof *r);
    r->key_registry_id = r->value_registry_id = -1;
    tw_buf_init(&r->key_schema, 0);
    tw_buf_init(&r->value_schema, 0);
    tw_buf_init(&r->desc, 0);
    r->relid = rel->u.relation.relid;
    snprintf(r->nspname, sizeof r->nspname, "%s", rel->u.relation.nspname);
    snprintf(r->relname, sizeof r->relname, "%s", rel->u.relation.relname);
    r->replident = rel->u.relation.replident;
    r->ncols = rel->u.relation.ncols;
    r->cols = calloc(r->ncols ? (size_t)r->ncols : 1, sizeof *r->cols);
    if (!r->cols) {
        snprintf(err, errsize, "out of memory");
        return -1;
    }
    for (int i = 0; i < r->ncols; i++) {
        const pgo_column *pc = &rel->u.relation.columns[i];
        tw_column *c = &r->cols[i];
        const tw_column_catalog *cc = NULL;
        for (int j = 0; j < ncat && !cc; j++)
            if (strcmp(cat[j].name, pc->name) == 0)
                cc = &cat[j];
        snprintf(c->name, sizeof c->name, "%s", pc->name);
        tw_avro_name(pc->name, c->avro_name, sizeof c->avro_name);
        /* FULL identity flags every column; the row's key is its primary key. */
        pgt_type_info ti = {.oid = pc->type_oid, .typmod = pc->typmod};
        /* The catalog is read now; the message may describe the table as it
         * was earlier in the WAL. Its facts apply only to a column of the
         * same declared type. */
        if (cc && cc->declared_oid != pc->type_oid)
            cc = NULL;
        r->catalog_mismatch += !cc;
        if (cc) {
            ti = cc->type;
            if (ti.oid == pc->type_oid)
                ti.typmod = pc->typmod;
        }
        c->key = r->replident == 'f' ? (cc && cc->primary_key) : (pc->flags & PGO_COLUMN_KEY) != 0;
        r->nkey += c->key;
        c->notnull = cc && cc->notnull;
        c->nullable = !cc || !cc->notnull || cc->typlen == -1;
        c->attnum = cc ? cc->attnum : 0;
        c->typmod = pc->typmod;
        char perr[256];
        if (pgt_plan_for(&ti, opts, &c->plan, perr, sizeof perr) != 0) {
            snprintf(err, errsize, "column %s of %s.%s: %s", pc->name, r->nspname, r->relname,
                     perr);
            tw_relation_free(r);
            return -1;
        }
        r->unknown_types += c->plan.warn_unknown != 0;
        const char *bare = cc && cc->type_name ? cc->type_name : pgt_builtin_name(pc->type_oid);
        if (bare)
            snprintf(c->type_name, sizeof c->type_name, "%s", bare);
        else
            snprintf(c->type_name, sizeof c->type_name, "oid %u", pc->type_oid);
        if (!c->nullable && cc && cc->default_expr)
            c->avro_default = default_json(&c->plan, cc->default_expr);
        const char *tn = cc && cc->format_type ? cc->format_type : pgt_builtin_name(pc->type_oid);
        if (tn)
            snprintf(c->pg_type, sizeof c->pg_type, "%s", tn);
        else
            snprintf(c->pg_type, sizeof c->pg_type, "oid %u", pc->type_oid);
        for (int j = 0; j < i; j++)
            if (strcmp(r->cols[j].avro_name, c->avro_name) == 0) {
                snprintf(err, errsize,
                         "columns \"%s\" and \"%s\" of %s.%s both become Avro field %s: rename "
                         "one of them",
                         r->cols[j].name, c->name, r->nspname, r->relname, c->avro_name);
                tw_relation_free(r);
                return -1;
            }
    }
    if (topic_name(prefix, r->nspname, r->relname, r->topic, sizeof r->topic, err, errsize) != 0) {
        tw_relation_free(r);
        return -1;
    }
    if (avro_namespace(prefix, r->nspname, r->relname, r->avro_ns, sizeof r->avro_ns) != 0) {
        snprintf(err, errsize,
                 "the Avro namespace for %s.%s under topic.prefix '%s' is longer than %zu "
                 "characters; use a shorter topic.prefix",
                 r->nspname, r->relname, prefix, sizeof r->avro_ns - 1);
        tw_relation_free(r);
        return -1;
    }
    describe(r);
    if (build_schemas(r, err, errsize) != 0) {
        tw_relation_free(r);
        return -1;
    }
    return 0;
}

int tw_relation_build_from_catalog(tw_relation *r, uint32_t relid, const char *nspname,
                                   const char *relname, const tw_column_catalog *cat, int ncat,
                                   const char *const *published, int npublished, const char *prefix,
                                   const pgt_options *opts, char *err, size_t errsize)
{
    pgo_column *cols = calloc(ncat ? (size_t)ncat : 1, sizeof *cols);
    if (!cols) {
        snprintf(err, errsize, "out of memory");
        return -1;
    }
    int n = 0;
    char replident = ncat ? cat[0].replident : 'd';
    for (int i = 0; i < ncat; i++) {
        int in = 0;
        if (!published)
            in = !cat[i].generated;
        for (int j = 0; published && j < npublished && !in; j++)
            in = strcmp(published[j], cat[i].name) == 0;
        if (!in)
            continue;
        cols[n].name = cat[i].name;
        cols[n].type_oid = cat[i].declared_oid;
        cols[n].typmod = cat[i].typmod;
        cols[n].flags = cat[i].ident_key ? PGO_COLUMN_KEY : 0;
        n++;
    }
    pgo_msg m;
    memset(&m, 0, sizeof m);
    m.type = PGO_RELATION;
    m.u.relation.relid = relid;
    m.u.relation.nspname = nspname;
    m.u.relation.relname = relname;
    m.u.relation.replident = replident;
    m.u.relation.ncols = (uint16_t)n;
    m.u.relation.columns = cols;
    int rc = tw_relation_build(r, &m, cat, ncat, prefix, opts, err, errsize);
    free(cols);
    return rc;
}

void tw_relation_free(tw_relation *r)
{
    for (int i = 0; r->cols && i < r->ncols; i++)
        free(r->cols[i].avro_default);
    free(r->cols);
    tw_buf_free(&r->desc);
    r->cols = NULL;
    tw_buf_free(&r->key_schema);
    tw_buf_free(&r->value_schema);
}

int tw_relation_same_schema(const tw_relation *a, const tw_relation *b)
{
    return strcmp(a->fingerprint, b->fingerprint) == 0 && a->key_fp == b->key_fp &&
           a->value_fp == b->value_fp && a->value_schema.len == b->value_schema.len &&
           memcmp(a->value_schema.data, b->value_schema.data, a->value_schema.len) == 0 &&
           strcmp(a->topic, b->topic) == 0;
}

static int check_tuple(const tw_relation *r, const pgo_tuple *t, char *err, size_t errsize)
{
    if (t->ncols != r->ncols) {
        snprintf(err, errsize, "a row of %s.%s has %u columns, its Relation message %d", r->nspname,
                 r->relname, t->ncols, r->ncols);
        return -1;
    }
    return 0;
}

static int encode_value(const tw_relation *r, const tw_column *c, const pgo_value *v, int plain,
                        tw_buf *out, int *nulled, char *err, size_t errsize)
{
    int nullable = c->nullable && !plain;
    if (v->kind == PGO_VALUE_NULL || v->kind == PGO_VALUE_UNCHANGED) {
        if (!nullable) {
            snprintf(err, errsize, "column %s of %s.%s is %s but its Avro field is not nullable",
                     c->name, r->nspname, r->relname,
                     v->kind == PGO_VALUE_NULL ? "NULL" : "an unsent TOAST value");
            return -1;
        }
        avro_bin_union_index(out, 0);
        return 0;
    }
    if (v->kind != PGO_VALUE_TEXT) {
        snprintf(err, errsize, "column %s of %s.%s came in binary format, which is not requested",
                 c->name, r->nspname, r->relname);
        return -1;
    }
    size_t mark = out->len;
    if (nullable)
        avro_bin_union_index(out, 1);
    char verr[256];
    int rc = pgt_encode_text(&c->plan, v->data, v->len, out, verr, sizeof verr);
    if (rc == PGT_UNREPRESENTABLE && nullable) {
        tw_buf_truncate(out, mark);
        avro_bin_union_index(out, 0);
        if (nulled)
            (*nulled)++;
        return 0;
    }
    if (rc != PGT_OK) {
        snprintf(err, errsize, "column %s of %s.%s: %s", c->name, r->nspname, r->relname, verr);
        return -1;
    }
    return 0;
}

/* The value taken for column i of t: an unsent TOAST value comes from the
 * full old row when there is one. */
static const pgo_value *value_at(const pgo_tuple *t, const pgo_tuple *old_full, int i)
{
    const pgo_value *v = &t->values[i];
    if (v->kind == PGO_VALUE_UNCHANGED && old_full && old_full->ncols == t->ncols &&
        old_full->values[i].kind == PGO_VALUE_TEXT)
        return &old_full->values[i];
    return v;
}

void tw_relation_key_text(const tw_relation *r, const pgo_tuple *t, const pgo_tuple *old, char *out,
                          size_t outsize)
{
    size_t n = 0;
    if (outsize == 0)
        return;
    out[0] = '\0';
    if (r->nkey == 0 || !t) {
        snprintf(out, outsize, "(no key)");
        return;
    }
    for (int i = 0; i < r->ncols && i < t->ncols && n < outsize; i++) {
        if (!r->cols[i].key)
            continue;
        const pgo_value *v = value_at(t, old, i);
        int w;
        if (v->kind == PGO_VALUE_TEXT)
            w = snprintf(out + n, outsize - n, "%s%s=%.*s%s", n ? ", " : "", r->cols[i].name,
                         (int)(v->len > 64 ? 64 : v->len), v->data, v->len > 64 ? "…" : "");
        else
            w = snprintf(out + n, outsize - n, "%s%s=%s", n ? ", " : "", r->cols[i].name,
                         v->kind == PGO_VALUE_NULL     ? "null"
                         : v->kind == PGO_VALUE_BINARY ? "(binary)"
                                                       : "(not sent)");
        if (w < 0)
            break;
        n += (size_t)w;
    }
}

int tw_relation_encode_key(const tw_relation *r, const pgo_tuple *t, const pgo_tuple *old,
                           tw_buf *out, char *err, size_t errsize)
{
    tw_buf_reset(out);
    if (check_tuple(r, t, err, errsize) != 0)
        return -1;
    avro_bin_frame_header(out, r->key_fp, r->key_registry_id);
    for (int i = 0; i < r->ncols; i++)
        if (r->cols[i].key &&
            encode_value(r, &r->cols[i], value_at(t, old, i), 1, out, NULL, err, errsize) != 0)
            return -1;
    if (out->error) {
        snprintf(err, errsize, "key of %s.%s: %s", r->nspname, r->relname, tw_buf_strerror(out));
        return -1;
    }
    return 0;
}

static int encode_row(const tw_relation *r, const pgo_tuple *t, const pgo_tuple *old_full,
                      tw_buf *out, int *nulled, char *err, size_t errsize)
{
    if (!t) {
        avro_bin_union_index(out, 0);
        return 0;
    }
    if (check_tuple(r, t, err, errsize) != 0)
        return -1;
    avro_bin_union_index(out, 1);
    for (int i = 0; i < r->ncols; i++)
        if (encode_value(r, &r->cols[i], value_at(t, old_full, i), 0, out, nulled, err, errsize) !=
            0)
            return -1;
    return 0;
}

static void put_string(tw_buf *b, const char *s)
{
    avro_bin_string(b, s, strlen(s));
}

int tw_relation_encode_envelope(const tw_relation *r, char op, const pgo_tuple *before,
                                const pgo_tuple *after, const pgo_tuple *old_full,
                                const tw_source_info *src, int64_t now_ms, tw_buf *out, int *nulled,
                                char *err, size_t errsize)
{
    tw_buf_reset(out);
    avro_bin_frame_header(out, r->value_fp, r->value_registry_id);
    if (encode_row(r, before, NULL, out, nulled, err, errsize) != 0 ||
        encode_row(r, after, old_full, out, nulled, err, errsize) != 0)
        return -1;
    put_string(out, TW_VERSION);
    put_string(out, "tidewater");
    put_string(out, src->prefix);
    avro_bin_long(out, src->commit_ms);
    put_string(out, src->snapshot ? src->snapshot : "false");
    put_string(out, src->db);
    put_string(out, r->nspname);
    put_string(out, r->relname);
    avro_bin_long(out, (int64_t)src->xid);
    avro_bin_long(out, (int64_t)src->lsn);
    char opstr[2] = {op, '\0'};
    put_string(out, opstr);
    avro_bin_long(out, now_ms);

    int64_t unchanged = 0;
    for (int i = 0; after && i < r->ncols; i++)
        unchanged += value_at(after, old_full, i)->kind == PGO_VALUE_UNCHANGED;
    if (unchanged) {
        avro_bin_block_count(out, unchanged);
        for (int i = 0; i < r->ncols; i++)
            if (value_at(after, old_full, i)->kind == PGO_VALUE_UNCHANGED)
                put_string(out, r->cols[i].name);
    }
    avro_bin_array_end_marker(out);
    if (out->error) {
        snprintf(err, errsize, "change of %s.%s: %s", r->nspname, r->relname, tw_buf_strerror(out));
        return -1;
    }
    return 0;
}
