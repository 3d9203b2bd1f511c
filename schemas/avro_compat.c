#include "schemas/avro_compat.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NESTING       128  /* JSON levels a schema may nest */
#define MAX_COMPARE_DEPTH 4096 /* recursion while comparing, a backstop */

/* The primitives come first and in this order: kind <= K_STRING is a test. */
enum kind {
    K_NULL,
    K_BOOLEAN,
    K_INT,
    K_LONG,
    K_FLOAT,
    K_DOUBLE,
    K_BYTES,
    K_STRING,
    K_RECORD,
    K_ENUM,
    K_FIXED,
    K_ARRAY,
    K_MAP,
    K_UNION,
    K_NKINDS
};

static const char *const kind_names[K_NKINDS] = {
    "null",   "boolean", "int",  "long",  "float", "double", "bytes",
    "string", "record",  "enum", "fixed", "array", "map",    "union",
};

static int primitive_kind(const char *s)
{
    for (int k = K_NULL; k <= K_STRING; k++)
        if (strcmp(s, kind_names[k]) == 0)
            return k;
    return -1;
}

/* A record, enum or fixed defined in a schema. */
typedef struct {
    char *fullname;   /* owned */
    const char *name; /* unqualified: the tail of fullname */
    char *ns;         /* owned; "" is the null namespace */
    json_t *def;      /* the defining object, borrowed from the root */
    enum kind kind;
} named_type;

/* Which named type a node stands for: a definition, or a reference (a
 * string, or an object whose "type" is a name). Bindings are made while the
 * schema is read, in document order, so a name means what it meant where it
 * was written; comparing never resolves a name again. */
typedef struct {
    const json_t *node;
    size_t type; /* index into schema.types */
} binding;

typedef struct {
    json_t *root;
    named_type *types;
    size_t ntypes, captypes;
    binding *binds;
    size_t nbinds, capbinds;
    int sorted; /* binds sorted by node, once loading is done */
} schema;

/* A dotted place in a schema, for messages. */
typedef struct {
    char buf[512];
    size_t len;
} path_t;

/* Appends seg (after a dot when sep and the path is not empty); returns the
 * length to give back to path_pop(). Truncates quietly when full. */
static size_t path_push(path_t *p, const char *seg, int sep)
{
    size_t mark = p->len;
    int n =
        snprintf(p->buf + p->len, sizeof p->buf - p->len, "%s%s", sep && p->len ? "." : "", seg);
    if (n > 0)
        p->len += (size_t)n;
    if (p->len >= sizeof p->buf)
        p->len = sizeof p->buf - 1;
    return mark;
}

static void path_pop(path_t *p, size_t mark)
{
    p->len = mark;
    p->buf[mark] = '\0';
}

static void set_why(char *why, size_t whysize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_why(char *why, size_t whysize, const char *fmt, ...)
{
    if (!why || whysize == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whysize, fmt, ap);
    va_end(ap);
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Makes room for one more element in *arr. */
static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, ncap * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = ncap;
    return 0;
}

static int bind_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const binding *)a)->node;
    uintptr_t y = (uintptr_t)((const binding *)b)->node;
    return x < y ? -1 : x > y;
}

static const binding *find_binding(const schema *s, const json_t *node)
{
    if (s->nbinds == 0)
        return NULL;
    if (s->sorted) {
        binding key = {node, 0};
        return bsearch(&key, s->binds, s->nbinds, sizeof *s->binds, bind_cmp);
    }
    for (size_t i = 0; i < s->nbinds; i++)
        if (s->binds[i].node == node)
            return &s->binds[i];
    return NULL;
}

static void schema_free(schema *s)
{
    for (size_t i = 0; i < s->ntypes; i++) {
        free(s->types[i].fullname);
        free(s->types[i].ns);
    }
    free(s->types);
    free(s->binds);
    json_decref(s->root);
    memset(s, 0, sizeof *s);
}

/* ---- reading a schema ------------------------------------------------- */

typedef struct {
    schema *s;
    const char *label; /* "reader schema", "old schema", ... */
    path_t path;
    char *why;
    size_t whysize;
} loader;

static int lfail(loader *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int lfail(loader *L, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (L->path.len)
        set_why(L->why, L->whysize, "%s: at field %s: %s", L->label, L->path.buf, msg);
    else
        set_why(L->why, L->whysize, "%s: %s", L->label, msg);
    return -1;
}

/* [A-Za-z_][A-Za-z0-9_]* */
static int valid_simple_name(const char *s, size_t n)
{
    if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
            return 0;
    return 1;
}

/* Simple names joined by dots. */
static int valid_full_name(const char *s)
{
    for (;;) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        if (!valid_simple_name(s, n))
            return 0;
        if (!dot)
            return 1;
        s = dot + 1;
    }
}

static int reserved_type_name(const char *name)
{
    static const char *const words[] = {"record", "enum", "fixed", "array", "map", "union"};
    if (primitive_kind(name) >= 0)
        return 1;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcmp(name, words[i]) == 0)
            return 1;
    return 0;
}

static long find_type(const schema *s, const char *fullname)
{
    for (size_t i = 0; i < s->ntypes; i++)
        if (strcmp(s->types[i].fullname, fullname) == 0)
            return (long)i;
    return -1;
}

/* A reference: a fullname when dotted, else a name in the enclosing
 * namespace, else in the null namespace. Only types defined so far. */
static long lookup_ref(const schema *s, const char *ref, const char *ns)
{
    if (!strchr(ref, '.') && ns[0]) {
        size_t nl = strlen(ns);
        for (size_t i = 0; i < s->ntypes; i++) {
            const char *f = s->types[i].fullname;
            if (strncmp(f, ns, nl) == 0 && f[nl] == '.' && strcmp(f + nl + 1, ref) == 0)
                return (long)i;
        }
    }
    return find_type(s, ref);
}

static int bind(loader *L, const json_t *node, size_t type)
{
    schema *s = L->s;
    if (grow((void **)&s->binds, &s->capbinds, s->nbinds, sizeof *s->binds) != 0)
        return lfail(L, "out of memory");
    s->binds[s->nbinds].node = node;
    s->binds[s->nbinds].type = type;
    s->nbinds++;
    return 0;
}

static int bind_ref(loader *L, const json_t *node, const char *ref, const char *ns)
{
    long t = lookup_ref(L->s, ref, ns);
    if (t < 0)
        return lfail(L, "unknown type name \"%s\"%s%s", ref, ns[0] ? " in namespace " : "", ns);
    return bind(L, node, (size_t)t);
}

/* "aliases", when present, is an array of names. */
static int check_aliases(loader *L, json_t *obj, int full)
{
    json_t *al = json_object_get(obj, "aliases");
    if (!al)
        return 0;
    size_t i;
    json_t *a;
    if (!json_is_array(al))
        return lfail(L, "\"aliases\" is not an array");
    json_array_foreach(al, i, a)
    {
        const char *s = json_string_value(a);
        if (!s || !(full ? valid_full_name(s) : valid_simple_name(s, strlen(s))))
            return lfail(L, "alias %zu is not a valid name", i);
    }
    return 0;
}

/* Registers the record, enum or fixed defined by def; its index in *idx. */
static int add_type(loader *L, json_t *def, enum kind kind, const char *enclosing, size_t *idx)
{
    schema *s = L->s;
    const char *name = json_string_value(json_object_get(def, "name"));
    if (!name)
        return lfail(L, "a %s has no \"name\"", kind_names[kind]);
    char *full, *ns;
    const char *dot = strrchr(name, '.');
    if (dot) {
        full = dup_n(name, strlen(name));
        ns = dup_n(name, (size_t)(dot - name));
    } else {
        const char *space = json_string_value(json_object_get(def, "namespace"));
        if (!space)
            space = enclosing;
        size_t sl = strlen(space), nl = strlen(name);
        ns = dup_n(space, sl);
        full = malloc(sl + nl + 2);
        if (full) {
            if (sl)
                snprintf(full, sl + nl + 2, "%s.%s", space, name);
            else
                memcpy(full, name, nl + 1);
        }
    }
    if (!full || !ns) {
        free(full);
        free(ns);
        return lfail(L, "out of memory");
    }
    const char *shortname = strrchr(full, '.') ? strrchr(full, '.') + 1 : full;
    const char *problem = NULL;
    if (!valid_full_name(full))
        problem = "is not a valid name";
    else if (reserved_type_name(shortname))
        problem = "is a reserved word and cannot name a type";
    else if (find_type(s, full) >= 0)
        problem = "is defined twice";
    if (!problem && grow((void **)&s->types, &s->captypes, s->ntypes, sizeof *s->types) != 0)
        problem = "could not be stored: out of memory";
    if (problem) {
        lfail(L, "%s \"%s\" %s", kind_names[kind], full, problem);
        free(full);
        free(ns);
        return -1;
    }
    named_type *t = &s->types[s->ntypes];
    t->fullname = full;
    t->name = shortname;
    t->ns = ns;
    t->def = def;
    t->kind = kind;
    *idx = s->ntypes++;
    if (check_aliases(L, def, 1) != 0)
        return -1;
    return bind(L, def, *idx);
}

static int walk(loader *L, json_t *node, const char *ns, int depth);

static int walk_record(loader *L, json_t *node, const char *ns, int depth)
{
    size_t idx;
    if (add_type(L, node, K_RECORD, ns, &idx) != 0)
        return -1;
    /* The pointers stay valid while L->s->types grows. */
    const char *own_ns = L->s->types[idx].ns, *rname = L->s->types[idx].fullname;
    json_t *fields = json_object_get(node, "fields");
    if (!json_is_array(fields))
        return lfail(L, "record \"%s\" has no \"fields\" array", rname);
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f)
    {
        const char *fname = json_string_value(json_object_get(f, "name"));
        if (!json_is_object(f) || !fname || !valid_simple_name(fname, strlen(fname)))
            return lfail(L, "field %zu of record \"%s\" has no valid \"name\"", i, rname);
        for (size_t j = 0; j < i; j++)
            if (strcmp(fname,
                       json_string_value(json_object_get(json_array_get(fields, j), "name"))) == 0)
                return lfail(L, "record \"%s\" has two fields named \"%s\"", rname, fname);
        size_t mark = path_push(&L->path, fname, 1);
        json_t *ftype = json_object_get(f, "type");
        if (!ftype)
            return lfail(L, "the field has no \"type\"");
        if (check_aliases(L, f, 0) != 0 || walk(L, ftype, own_ns, depth + 1) != 0)
            return -1;
        path_pop(&L->path, mark);
    }
    return 0;
}

static int walk_enum(loader *L, json_t *node, const char *ns)
{
    size_t idx;
    if (add_type(L, node, K_ENUM, ns, &idx) != 0)
        return -1;
    const char *ename = L->s->types[idx].fullname;
    json_t *symbols = json_object_get(node, "symbols");
    if (!json_is_array(symbols))
        return lfail(L, "enum \"%s\" has no \"symbols\" array", ename);
    size_t i;
    json_t *sym;
    json_array_foreach(symbols, i, sym)
    {
        const char *s = json_string_value(sym);
        if (!s || !valid_simple_name(s, strlen(s)))
            return lfail(L, "symbol %zu of enum \"%s\" is not a valid name", i, ename);
        for (size_t j = 0; j < i; j++)
            if (strcmp(s, json_string_value(json_array_get(symbols, j))) == 0)
                return lfail(L, "enum \"%s\" has the symbol \"%s\" twice", ename, s);
    }
    json_t *def = json_object_get(node, "default");
    if (def) {
        const char *d = json_string_value(def);
        int found = 0;
        json_array_foreach(symbols, i, sym)
        {
            if (d && strcmp(d, json_string_value(sym)) == 0)
                found = 1;
        }
        if (!found)
            return lfail(L, "the default of enum \"%s\" is not one of its symbols", ename);
    }
    return 0;
}

static int walk_fixed(loader *L, json_t *node, const char *ns)
{
    size_t idx;
    if (add_type(L, node, K_FIXED, ns, &idx) != 0)
        return -1;
    json_t *size = json_object_get(node, "size");
    if (!json_is_integer(size) || json_integer_value(size) < 0)
        return lfail(L, "fixed \"%s\" has no valid \"size\"", L->s->types[idx].fullname);
    return 0;
}

/* What a union branch is, for the rule that a union holds one schema of
 * each kind and name: the kind, or K_NKINDS + the named type's index. */
static size_t branch_key(const schema *s, const json_t *b)
{
    const char *t =
        json_is_string(b) ? json_string_value(b) : json_string_value(json_object_get(b, "type"));
    int k = primitive_kind(t);
    if (k >= 0)
        return (size_t)k;
    if (json_is_object(b) && strcmp(t, "array") == 0)
        return K_ARRAY;
    if (json_is_object(b) && strcmp(t, "map") == 0)
        return K_MAP;
    const binding *bd = find_binding(s, b);
    return K_NKINDS + (bd ? bd->type : 0);
}

static int walk_union(loader *L, json_t *u, const char *ns, int depth)
{
    size_t i;
    json_t *b;
    json_array_foreach(u, i, b)
    {
        if (json_is_array(b))
            return lfail(L, "a union contains a union directly (branch %zu)", i);
        if (walk(L, b, ns, depth + 1) != 0)
            return -1;
        size_t key = branch_key(L->s, b);
        for (size_t j = 0; j < i; j++) {
            if (branch_key(L->s, json_array_get(u, j)) != key)
                continue;
            if (key < K_NKINDS)
                return lfail(L, "a union has two %s branches (%zu and %zu)", kind_names[key], j, i);
            return lfail(L, "a union has \"%s\" twice (branches %zu and %zu)",
                         L->s->types[key - K_NKINDS].fullname, j, i);
        }
    }
    return 0;
}

static int walk(loader *L, json_t *node, const char *ns, int depth)
{
    if (depth > MAX_NESTING)
        return lfail(L, "the schema nests deeper than %d levels", MAX_NESTING);
    if (json_is_string(node)) {
        const char *t = json_string_value(node);
        return primitive_kind(t) >= 0 ? 0 : bind_ref(L, node, t, ns);
    }
    if (json_is_array(node))
        return walk_union(L, node, ns, depth);
    if (!json_is_object(node))
        return lfail(L, "a schema is a JSON string, object or array, not %s",
                     json_is_null(node)     ? "null"
                     : json_is_number(node) ? "a number"
                                            : "a boolean");
    json_t *tn = json_object_get(node, "type");
    if (!tn)
        return lfail(L, "a schema object has no \"type\"");
    const char *t = json_string_value(tn);
    if (!t)
        return lfail(L, "the \"type\" of a schema object must be a string");
    if (primitive_kind(t) >= 0)
        return 0;
    if (strcmp(t, "record") == 0)
        return walk_record(L, node, ns, depth);
    if (strcmp(t, "enum") == 0)
        return walk_enum(L, node, ns);
    if (strcmp(t, "fixed") == 0)
        return walk_fixed(L, node, ns);
    if (strcmp(t, "array") == 0 || strcmp(t, "map") == 0) {
        int array = t[0] == 'a';
        json_t *inner = json_object_get(node, array ? "items" : "values");
        if (!inner)
            return lfail(L, "%s has no \"%s\"", array ? "an array" : "a map",
                         array ? "items" : "values");
        size_t mark = path_push(&L->path, array ? "[]" : "{}", 0);
        if (walk(L, inner, ns, depth + 1) != 0)
            return -1;
        path_pop(&L->path, mark);
        return 0;
    }
    return bind_ref(L, node, t, ns);
}

/* Parses json into s (zeroed first). 0, or -1 with why set. */
static int schema_load(schema *s, const char *json, const char *label, char *why, size_t whysize)
{
    memset(s, 0, sizeof *s);
    if (!json) {
        set_why(why, whysize, "%s: no schema given", label);
        return -1;
    }
    json_error_t err;
    s->root = json_loads(json, JSON_DECODE_ANY, &err);
    if (!s->root) {
        set_why(why, whysize, "%s: not valid JSON (line %d, column %d): %s", label, err.line,
                err.column, err.text);
        return -1;
    }
    loader L = {.s = s, .label = label, .why = why, .whysize = whysize};
    if (walk(&L, s->root, "", 0) != 0) {
        schema_free(s);
        return -1;
    }
    if (s->nbinds > 1)
        qsort(s->binds, s->nbinds, sizeof *s->binds, bind_cmp);
    s->sorted = 1;
    return 0;
}

/* ---- comparing -------------------------------------------------------- */

/* A schema node seen through references. */
typedef struct {
    enum kind kind;
    json_t *node;           /* object with the attributes, the union's array, or NULL */
    const named_type *type; /* record, enum, fixed */
} view;

static view view_of(const schema *s, json_t *node)
{
    view v = {K_NULL, NULL, NULL};
    if (json_is_array(node)) {
        v.kind = K_UNION;
        v.node = node;
        return v;
    }
    const char *t = json_is_string(node) ? json_string_value(node)
                                         : json_string_value(json_object_get(node, "type"));
    int k = primitive_kind(t);
    if (k >= 0) {
        v.kind = (enum kind)k;
        v.node = json_is_object(node) ? node : NULL;
        return v;
    }
    if (json_is_object(node) && (strcmp(t, "array") == 0 || strcmp(t, "map") == 0)) {
        v.kind = t[0] == 'a' ? K_ARRAY : K_MAP;
        v.node = node;
        return v;
    }
    /* Every other node was bound while loading. */
    const binding *b = find_binding(s, node);
    if (b) {
        v.type = &s->types[b->type];
        v.kind = v.type->kind;
        v.node = v.type->def;
    }
    return v;
}

typedef struct {
    const char *name; /* NULL: none, or an invalid decimal */
    long long precision, scale;
} logical;

static logical logical_of(const view *v)
{
    logical l = {NULL, 0, 0};
    if (!v->node || !(v->kind <= K_STRING || v->kind == K_FIXED))
        return l;
    l.name = json_string_value(json_object_get(v->node, "logicalType"));
    if (l.name && strcmp(l.name, "decimal") == 0) {
        json_t *p = json_object_get(v->node, "precision"), *sc = json_object_get(v->node, "scale");
        l.precision = json_is_integer(p) ? json_integer_value(p) : 0;
        l.scale = json_is_integer(sc) ? json_integer_value(sc) : sc ? -1 : 0;
        if (l.precision < 1 || l.scale < 0 || l.scale > l.precision)
            l.name = NULL;
    }
    return l;
}

static void describe_logical(const view *v, char *buf, size_t size)
{
    logical l = logical_of(v);
    if (!l.name)
        buf[0] = '\0';
    else if (strcmp(l.name, "decimal") == 0)
        snprintf(buf, size, " decimal(%lld,%lld)", l.precision, l.scale);
    else
        snprintf(buf, size, " %s", l.name);
}

/* "int", "long timestamp-micros", "bytes decimal(10,2)", "record Value",
 * "fixed Hash(16)", "array", "union [null, Value]". */
static const char *describe(const schema *s, const view *v, char *buf, size_t size)
{
    char lt[96];
    describe_logical(v, lt, sizeof lt);
    switch (v->kind) {
    case K_RECORD:
    case K_ENUM:
        snprintf(buf, size, "%s %s", kind_names[v->kind], v->type->name);
        break;
    case K_FIXED:
        snprintf(buf, size, "fixed %s(%lld)%s", v->type->name,
                 (long long)json_integer_value(json_object_get(v->node, "size")), lt);
        break;
    case K_UNION: {
        size_t len = (size_t)snprintf(buf, size, "union [");
        size_t i;
        json_t *b;
        json_array_foreach(v->node, i, b)
        {
            view bv = view_of(s, b);
            const char *bn = bv.type ? bv.type->name : kind_names[bv.kind];
            if (len < size)
                len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "", bn);
        }
        if (len < size)
            snprintf(buf + len, size - len, "]");
        break;
    }
    default:
        snprintf(buf, size, "%s%s", kind_names[v->kind], lt);
    }
    return buf;
}

typedef struct {
    const json_t *r, *w;
} record_pair;

typedef struct {
    const schema *r, *w;
    path_t path;
    char msg[1024]; /* the first reason, once there is one */
    int quiet;      /* > 0 while trying union branches whose failure is not the reason */
    int depth;
    int nomem;
    record_pair *visiting; /* record pairs being compared, outermost first */
    size_t nvisiting, capvisiting;
} checker;

static void cfail(checker *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cfail(checker *c, const char *fmt, ...)
{
    if (c->quiet || c->msg[0])
        return;
    char m[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    if (c->path.len)
        snprintf(c->msg, sizeof c->msg, "field %.512s: %.500s", c->path.buf, m);
    else
        snprintf(c->msg, sizeof c->msg, "top level: %.640s", m);
}

static void fail_types(checker *c, const view *r, const view *w, const char *why)
{
    char rd[256], wd[256];
    cfail(c, "reader %s cannot read writer %s%s", describe(c->r, r, rd, sizeof rd),
          describe(c->w, w, wd, sizeof wd), why);
}

static int promotable(enum kind r, enum kind w)
{
    if (r == w)
        return 1;
    switch (w) {
    case K_INT:
        return r == K_LONG || r == K_FLOAT || r == K_DOUBLE;
    case K_LONG:
        return r == K_FLOAT || r == K_DOUBLE;
    case K_FLOAT:
        return r == K_DOUBLE;
    case K_STRING:
        return r == K_BYTES;
    case K_BYTES:
        return r == K_STRING;
    default:
        return 0;
    }
}

/* R's unqualified name, or one of R's aliases unqualified, is W's. */
static int names_match(const named_type *r, const named_type *w)
{
    if (strcmp(r->name, w->name) == 0)
        return 1;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(r->def, "aliases"), i, a)
    {
        const char *s = json_string_value(a), *dot = strrchr(s, '.');
        if (strcmp(dot ? dot + 1 : s, w->name) == 0)
            return 1;
    }
    return 0;
}

/* The top of the resolution rules for two non-unions: same kind (or a
 * promotion), same name, same fixed size. What lies below is not looked at. */
static int shallow_match(const view *r, const view *w)
{
    if (r->kind <= K_STRING && w->kind <= K_STRING)
        return promotable(r->kind, w->kind);
    if (r->kind != w->kind)
        return 0;
    switch (r->kind) {
    case K_RECORD:
    case K_ENUM:
        return names_match(r->type, w->type);
    case K_FIXED:
        return names_match(r->type, w->type) &&
               json_integer_value(json_object_get(r->node, "size")) ==
                   json_integer_value(json_object_get(w->node, "size"));
    default:
        return 1;
    }
}

static int logical_ok(checker *c, const view *r, const view *w)
{
    logical lr = logical_of(r), lw = logical_of(w);
    if (!lr.name)
        return 1;
    if (!lw.name || strcmp(lr.name, lw.name) != 0) {
        fail_types(c, r, w, " (the logical types differ)");
        return 0;
    }
    if (strcmp(lr.name, "decimal") != 0)
        return 1;
    char why[96];
    if (lr.scale != lw.scale)
        snprintf(why, sizeof why, " (scale %lld is not %lld)", lr.scale, lw.scale);
    else if (lr.precision < lw.precision)
        snprintf(why, sizeof why, " (precision %lld is less than %lld)", lr.precision,
                 lw.precision);
    else
        return 1;
    fail_types(c, r, w, why);
    return 0;
}

static int check(checker *c, json_t *rn, json_t *wn, int via_union);

static int check_enum(checker *c, const view *r, const view *w)
{
    if (json_object_get(r->node, "default"))
        return 1;
    json_t *rsyms = json_object_get(r->node, "symbols");
    size_t i, j;
    json_t *ws, *rs;
    json_array_foreach(json_object_get(w->node, "symbols"), i, ws)
    {
        int found = 0;
        json_array_foreach(rsyms, j, rs)
        {
            if (strcmp(json_string_value(rs), json_string_value(ws)) == 0)
                found = 1;
        }
        if (!found) {
            cfail(c, "writer symbol %s is not in reader enum %s, which has no default",
                  json_string_value(ws), r->type->name);
            return 0;
        }
    }
    return 1;
}

static json_t *field_named(json_t *fields, const char *name)
{
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f)
    {
        if (strcmp(json_string_value(json_object_get(f, "name")), name) == 0)
            return f;
    }
    return NULL;
}

static int check_record(checker *c, const view *r, const view *w)
{
    for (size_t i = 0; i < c->nvisiting; i++)
        if (c->visiting[i].r == r->node && c->visiting[i].w == w->node)
            return 1; /* met again inside itself: holds unless something else fails */
    if (grow((void **)&c->visiting, &c->capvisiting, c->nvisiting, sizeof *c->visiting) != 0) {
        c->nomem = 1;
        return 0;
    }
    c->visiting[c->nvisiting].r = r->node;
    c->visiting[c->nvisiting].w = w->node;
    c->nvisiting++;

    json_t *wfields = json_object_get(w->node, "fields");
    size_t i;
    json_t *rf;
    int ok = 1;
    json_array_foreach(json_object_get(r->node, "fields"), i, rf)
    {
        const char *name = json_string_value(json_object_get(rf, "name"));
        json_t *wf = field_named(wfields, name);
        size_t k;
        json_t *alias;
        json_array_foreach(json_object_get(rf, "aliases"), k, alias)
        {
            if (!wf)
                wf = field_named(wfields, json_string_value(alias));
        }
        size_t mark = path_push(&c->path, name, 1);
        if (wf) {
            ok = check(c, json_object_get(rf, "type"), json_object_get(wf, "type"), 0);
        } else if (!json_object_get(rf, "default")) {
            cfail(c, "not in the writer's schema, and the reader's field has no default");
            ok = 0;
        }
        path_pop(&c->path, mark);
        if (!ok)
            break;
    }
    c->nvisiting--;
    return ok;
}

/* Two non-unions. */
static int check_same(checker *c, const view *r, const view *w)
{
    if (!shallow_match(r, w)) {
        fail_types(c, r, w, "");
        return 0;
    }
    size_t mark;
    int ok;
    switch (r->kind) {
    case K_RECORD:
        return check_record(c, r, w);
    case K_ENUM:
        return check_enum(c, r, w);
    case K_ARRAY:
    case K_MAP:
        mark = path_push(&c->path, r->kind == K_ARRAY ? "[]" : "{}", 0);
        ok = check(c, json_object_get(r->node, r->kind == K_ARRAY ? "items" : "values"),
                   json_object_get(w->node, r->kind == K_ARRAY ? "items" : "values"), 0);
        path_pop(&c->path, mark);
        return ok;
    default: /* primitives and fixed */
        return logical_ok(c, r, w);
    }
}

/* A reader union and a writer that is not one: some branch must read it.
 * The reason given when none does is that of the first branch of the same
 * kind and name, which is the one meant; failing that, the union's. */
static int check_reader_union(checker *c, const view *r, json_t *wn, const view *w)
{
    size_t meant = SIZE_MAX, i;
    json_t *b;
    json_array_foreach(r->node, i, b)
    {
        view bv = view_of(c->r, b);
        if (shallow_match(&bv, w)) {
            meant = i;
            break;
        }
    }
    int had_msg = c->msg[0] != '\0';
    json_array_foreach(r->node, i, b)
    {
        if (i != meant)
            c->quiet++;
        int ok = check(c, b, wn, 0);
        if (i != meant)
            c->quiet--;
        if (c->nomem)
            return 0;
        if (ok) {
            if (!had_msg)
                c->msg[0] = '\0'; /* the meant branch failed, a later one reads it */
            return 1;
        }
    }
    if (meant == SIZE_MAX) {
        char rd[256], wd[256];
        cfail(c, "reader %s has no branch that can read writer %s",
              describe(c->r, r, rd, sizeof rd), describe(c->w, w, wd, sizeof wd));
    }
    return 0;
}

/* via_union: wn is a branch of the writer's union. */
static int check(checker *c, json_t *rn, json_t *wn, int via_union)
{
    if (c->nomem)
        return 0;
    if (c->depth >= MAX_COMPARE_DEPTH) {
        cfail(c, "the schemas nest too deeply to compare");
        return 0;
    }
    c->depth++;
    view r = view_of(c->r, rn), w = view_of(c->w, wn);
    size_t mark = c->path.len;
    int ok = 1;
    if (w.kind == K_UNION) {
        size_t i;
        json_t *b;
        json_array_foreach(wn, i, b)
        {
            if (ok)
                ok = check(c, rn, b, 1);
        }
    } else {
        /* Through a union, say which named branch the path goes into. */
        if (w.type && (via_union || r.kind == K_UNION))
            path_push(&c->path, w.type->name, 1);
        ok = r.kind == K_UNION ? check_reader_union(c, &r, wn, &w) : check_same(c, &r, &w);
    }
    path_pop(&c->path, mark);
    c->depth--;
    return ok;
}

/* 1 when r reads what w wrote, 0 with the reason in msg, -1 out of memory. */
static int compare(const schema *r, const schema *w, char *msg, size_t msgsize)
{
    checker *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    c->r = r;
    c->w = w;
    int ok = check(c, r->root, w->root, 0);
    int rc = c->nomem ? -1 : ok;
    if (rc == 0)
        snprintf(msg, msgsize, "%s", c->msg[0] ? c->msg : "top level: incompatible");
    free(c->visiting);
    free(c);
    return rc;
}

/* ---- the interface ---------------------------------------------------- */

int avro_can_read(const char *reader_json, const char *writer_json, char *why, size_t whysize)
{
    schema r, w;
    set_why(why, whysize, "%s", "");
    if (schema_load(&r, reader_json, "reader schema", why, whysize) != 0)
        return -1;
    if (schema_load(&w, writer_json, "writer schema", why, whysize) != 0) {
        schema_free(&r);
        return -1;
    }
    char msg[1024];
    int rc = compare(&r, &w, msg, sizeof msg);
    if (rc < 0)
        set_why(why, whysize, "out of memory");
    else if (rc == 0)
        set_why(why, whysize, "%s", msg);
    schema_free(&r);
    schema_free(&w);
    return rc;
}

int avro_compat_class(const char *old_json, const char *new_json, avro_compat *out, char *why,
                      size_t whysize)
{
    schema o, n;
    set_why(why, whysize, "%s", "");
    if (schema_load(&o, old_json, "old schema", why, whysize) != 0)
        return -1;
    if (schema_load(&n, new_json, "new schema", why, whysize) != 0) {
        schema_free(&o);
        return -1;
    }
    char bmsg[1024], fmsg[1024];
    int back = compare(&n, &o, bmsg, sizeof bmsg);
    int fwd = back < 0 ? -1 : compare(&o, &n, fmsg, sizeof fmsg);
    schema_free(&o);
    schema_free(&n);
    if (back < 0 || fwd < 0) {
        set_why(why, whysize, "out of memory");
        return -1;
    }
    *out = (avro_compat)((back ? AVRO_COMPAT_BACKWARD : 0) | (fwd ? AVRO_COMPAT_FORWARD : 0));
    const char *bpre = "BACKWARD fails (the new schema cannot read old data): ";
    const char *fpre = "FORWARD fails (the old schema cannot read new data): ";
    if (!back && !fwd)
        set_why(why, whysize, "%s%s; %s%s", bpre, bmsg, fpre, fmsg);
    else if (!back)
        set_why(why, whysize, "%s%s", bpre, bmsg);
    else if (!fwd)
        set_why(why, whysize, "%s%s", fpre, fmsg);
    return 0;
}

static const char *const compat_names[] = {"NONE", "BACKWARD", "FORWARD", "FULL"};

const char *avro_compat_name(avro_compat c)
{
    if ((int)c < 0 || (int)c > AVRO_COMPAT_FULL)
        return "UNKNOWN";
    return compat_names[c];
}

int avro_compat_parse(const char *s, avro_compat *out)
{
    if (!s)
        return -1;
    for (int c = AVRO_COMPAT_NONE; c <= AVRO_COMPAT_FULL; c++) {
        const char *n = compat_names[c];
        size_t i = 0;
        while (s[i] && n[i] && toupper((unsigned char)s[i]) == n[i])
            i++;
        if (!s[i] && !n[i]) {
            *out = (avro_compat)c;
            return 0;
        }
    }
    return -1;
}

int avro_compat_satisfies(avro_compat have, avro_compat required)
{
    int h = (int)have, r = (int)required;
    if (h < 0 || h > AVRO_COMPAT_FULL || r < 0 || r > AVRO_COMPAT_FULL)
        return 0;
    return (h & r) == r;
}
