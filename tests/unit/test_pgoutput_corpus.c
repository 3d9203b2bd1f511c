/* pgoutput decoder against genuine server output: every file listed in
 * tests/fuzz/corpus/pgoutput/MANIFEST decodes to the type and fields the
 * manifest states, every proper prefix of it is rejected, and the corpus
 * covers every message type, column kind and old-tuple kind.
 *
 * The corpus is found through TW_SOURCE_DIR, else relative to this file. */
#include "decoders/pgoutput.h"
#include "tests/fuzz/pgo_frames.h"
#include "tw_test.h"

#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>

#define MAX_FILE (1 << 20)

static char corpus_dir[1024];

static void find_corpus(void)
{
    const char *src = getenv("TW_SOURCE_DIR");
    if (src && *src) {
        snprintf(corpus_dir, sizeof corpus_dir, "%s/tests/fuzz/corpus/pgoutput", src);
        return;
    }
    const char *file = __FILE__;
    const char *slash = strrchr(file, '/');
    int dirlen = slash ? (int)(slash - file) : 1;
    snprintf(corpus_dir, sizeof corpus_dir, "%.*s/../fuzz/corpus/pgoutput", dirlen,
             slash ? file : ".");
}

/* Reads a corpus file into a heap buffer of exactly its size (so reading
 * past the end trips the sanitizer build). Returns NULL if unreadable. */
static char *read_file(const char *name, size_t *len)
{
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", corpus_dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *tmp = malloc(MAX_FILE);
    size_t n = fread(tmp, 1, MAX_FILE, f);
    fclose(f);
    char *buf = malloc(n ? n : 1);
    memcpy(buf, tmp, n);
    free(tmp);
    *len = n;
    return buf;
}

/* Percent-decoding of manifest text; returns the decoded length. */
static size_t pct_decode(const char *s, char *out, size_t outsize)
{
    size_t n = 0;
    for (; *s && n + 1 < outsize; s++) {
        unsigned hex;
        if (s[0] == '%' && s[1] && s[2] && sscanf(s + 1, "%2x", &hex) == 1) {
            out[n++] = (char)hex;
            s += 2;
        } else {
            out[n++] = *s;
        }
    }
    out[n] = '\0';
    return n;
}

static int u64_is(uint64_t got, const char *want)
{
    char *end;
    unsigned long long w = strtoull(want, &end, 10);
    return *end == '\0' && got == w;
}

static int i64_is(int64_t got, const char *want)
{
    char *end;
    long long w = strtoll(want, &end, 10);
    return *end == '\0' && got == w;
}

static int lsn_is(uint64_t got, const char *want)
{
    unsigned hi, lo;
    char tail;
    if (sscanf(want, "%X/%X%c", &hi, &lo, &tail) != 2)
        return 0;
    return got == ((uint64_t)hi << 32 | lo);
}

static int str_is(const char *got, const char *want)
{
    char buf[512];
    pct_decode(want, buf, sizeof buf);
    return got && strcmp(got, buf) == 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* VALUE: n, u, t:TEXT, b:HEX, t#LEN, b#LEN. */
static int value_is(const pgo_value *v, const char *want)
{
    char buf[512];
    size_t n;
    if (strcmp(want, "n") == 0 || strcmp(want, "u") == 0)
        return v->kind == want[0] && v->len == 0 && v->data == NULL;
    if ((want[0] != 't' && want[0] != 'b') || v->kind != want[0] || !v->data)
        return 0;
    if (want[1] == '#')
        return u64_is(v->len, want + 2);
    if (want[1] != ':')
        return 0;
    if (want[0] == 't') {
        n = pct_decode(want + 2, buf, sizeof buf);
    } else {
        const char *h = want + 2;
        for (n = 0; h[0] && h[1] && n < sizeof buf; h += 2) {
            if (hexval(h[0]) < 0 || hexval(h[1]) < 0)
                return 0;
            buf[n++] = (char)(hexval(h[0]) << 4 | hexval(h[1]));
        }
        if (*h)
            return 0;
    }
    return v->len == n && memcmp(v->data, buf, n) == 0;
}

static int column_is(const pgo_column *c, const char *want)
{
    char name[256];
    unsigned flags, oid;
    int typmod;
    char tail;
    if (sscanf(want, "%u:%255[^:]:%u:%d%c", &flags, name, &oid, &typmod, &tail) != 4)
        return 0;
    return c->flags == flags && str_is(c->name, name) && c->type_oid == oid && c->typmod == typmod;
}

/* An indexed key "prefix.N" within a list of count entries; returns the
 * 0-based index or -1. */
static long indexed(const char *key, const char *prefix, unsigned count)
{
    size_t pl = strlen(prefix);
    if (strncmp(key, prefix, pl) != 0 || key[pl] != '.')
        return -1;
    char *end;
    long i = strtol(key + pl + 1, &end, 10);
    if (*end != '\0' || i < 1 || (unsigned long)i > count)
        return -2; /* names the list, but no such entry */
    return i - 1;
}

/* Seen across the corpus, for the coverage check. */
static char seen_types[32];
static int seen_kinds[4], seen_old[3];

static void note_tuple(const pgo_tuple *t)
{
    for (unsigned i = 0; i < t->ncols; i++) {
        const char *p = strchr("nutb", t->values[i].kind);
        if (p && t->values[i].kind)
            seen_kinds[p - "nutb"] = 1;
    }
}

/* Checks one key=value of a decoded message; returns 1 if the key is known
 * for this message type and the value matches, 0 if it differs, -1 if the
 * key is unknown here. */
static int check_field(const pgo_msg *m, const char *key, const char *val)
{
    long i;
    if (strcmp(key, "xid") == 0)
        return u64_is(m->xid, val);
    switch (m->type) {
    case PGO_BEGIN:
        if (strcmp(key, "final_lsn") == 0)
            return lsn_is(m->u.begin.final_lsn, val);
        if (strcmp(key, "commit_time") == 0)
            return i64_is(m->u.begin.commit_time, val);
        break;
    case PGO_COMMIT:
    case PGO_STREAM_COMMIT:
        if (strcmp(key, "commit_lsn") == 0)
            return lsn_is(m->u.commit.commit_lsn, val);
        if (strcmp(key, "end_lsn") == 0)
            return lsn_is(m->u.commit.end_lsn, val);
        if (strcmp(key, "commit_time") == 0)
            return i64_is(m->u.commit.commit_time, val);
        break;
    case PGO_ORIGIN:
        if (strcmp(key, "lsn") == 0)
            return lsn_is(m->u.origin.lsn, val);
        if (strcmp(key, "name") == 0)
            return str_is(m->u.origin.name, val);
        break;
    case PGO_RELATION:
        if (strcmp(key, "relid") == 0)
            return u64_is(m->u.relation.relid, val);
        if (strcmp(key, "nspname") == 0)
            return str_is(m->u.relation.nspname, val);
        if (strcmp(key, "relname") == 0)
            return str_is(m->u.relation.relname, val);
        if (strcmp(key, "replident") == 0)
            return val[0] && !val[1] && m->u.relation.replident == val[0];
        if (strcmp(key, "ncols") == 0)
            return u64_is(m->u.relation.ncols, val);
        if ((i = indexed(key, "col", m->u.relation.ncols)) != -1)
            return i >= 0 && column_is(&m->u.relation.columns[i], val);
        break;
    case PGO_TYPE:
        if (strcmp(key, "oid") == 0)
            return u64_is(m->u.type.oid, val);
        if (strcmp(key, "nspname") == 0)
            return str_is(m->u.type.nspname, val);
        if (strcmp(key, "typname") == 0)
            return str_is(m->u.type.typname, val);
        break;
    case PGO_INSERT:
    case PGO_UPDATE:
    case PGO_DELETE: {
        const pgo_tuple *o = &m->u.change.old_tuple, *n = &m->u.change.new_tuple;
        if (strcmp(key, "relid") == 0)
            return u64_is(m->u.change.relid, val);
        if (strcmp(key, "old") == 0)
            return strcmp(val, "-") == 0 ? m->u.change.old_kind == PGO_OLD_NONE
                                         : val[0] && !val[1] && m->u.change.old_kind == val[0];
        if (strcmp(key, "old.ncols") == 0)
            return u64_is(o->ncols, val);
        if (strcmp(key, "new.ncols") == 0)
            return u64_is(n->ncols, val);
        if ((i = indexed(key, "old", o->ncols)) != -1)
            return i >= 0 && value_is(&o->values[i], val);
        if ((i = indexed(key, "new", n->ncols)) != -1)
            return i >= 0 && value_is(&n->values[i], val);
        break;
    }
    case PGO_TRUNCATE:
        if (strcmp(key, "options") == 0)
            return u64_is(m->u.truncate.options, val);
        if (strcmp(key, "nrelids") == 0)
            return u64_is(m->u.truncate.nrelids, val);
        if ((i = indexed(key, "relid", m->u.truncate.nrelids)) != -1)
            return i >= 0 && u64_is(m->u.truncate.relids[i], val);
        break;
    case PGO_MESSAGE:
        if (strcmp(key, "transactional") == 0)
            return u64_is(m->u.message.transactional, val);
        if (strcmp(key, "lsn") == 0)
            return lsn_is(m->u.message.lsn, val);
        if (strcmp(key, "prefix") == 0)
            return str_is(m->u.message.prefix, val);
        if (strcmp(key, "content") == 0) {
            char buf[512];
            size_t len = pct_decode(val, buf, sizeof buf);
            return m->u.message.len == len && memcmp(m->u.message.content, buf, len) == 0;
        }
        break;
    case PGO_STREAM_START:
        if (strcmp(key, "first_segment") == 0)
            return u64_is(m->u.stream_start.first_segment, val);
        break;
    case PGO_STREAM_ABORT:
        if (strcmp(key, "subxid") == 0)
            return u64_is(m->u.stream_abort.subxid, val);
        if (strcmp(key, "abort_lsn") == 0)
            return lsn_is(m->u.stream_abort.abort_lsn, val);
        if (strcmp(key, "abort_time") == 0)
            return i64_is(m->u.stream_abort.abort_time, val);
        break;
    case PGO_STREAM_STOP:
        break;
    }
    return -1;
}

/* Every proper prefix of a real message is an error that leaves the stream
 * state alone (a parallel Stream Abort cut right after its subxid is a
 * complete plain one). */
static void check_prefixes(const char *name, int proto, int stream, const char *buf, size_t len)
{
    int failures = 0;
    for (size_t k = 0; k < len && failures < 3; k++) {
        if (buf[0] == 'A' && k == 9)
            continue;
        pgo_decoder d;
        pgo_decoder_init(&d, proto);
        d.in_stream = stream;
        char *copy = malloc(k ? k : 1);
        memcpy(copy, buf, k);
        char err[512] = "";
        pgo_msg m;
        int rc = pgo_decode(&d, copy, k, &m, err, sizeof err);
        if (rc != -1 || d.in_stream != stream || strncmp(err, "pgoutput ", 9) != 0)
            failures++;
        EXPECT(rc == -1, "%s: prefix of %zu of %zu bytes accepted", name, k, len);
        EXPECT(d.in_stream == stream, "%s: prefix %zu changed in_stream", name, k);
        EXPECT(strncmp(err, "pgoutput ", 9) == 0, "%s: prefix %zu: error '%s'", name, k, err);
        free(copy);
        pgo_decoder_free(&d);
    }
}

static void check_framed(const char *name, char *line_rest)
{
    const char *types = NULL;
    for (char *tok = strtok(line_rest, " \t"); tok; tok = strtok(NULL, " \t")) {
        if (strncmp(tok, "types=", 6) == 0)
            types = tok + 6;
        else
            EXPECT(strcmp(tok, "framed=1") == 0 || strncmp(tok, "src=", 4) == 0,
                   "%s: unknown manifest key '%s' for a framed file", name, tok);
    }
    EXPECT(types != NULL, "%s: framed file without types=", name);
    size_t len;
    char *buf = read_file(name, &len);
    EXPECT(buf != NULL, "%s: cannot read it from %s", name, corpus_dir);
    if (!buf || !types)
        goto done;
    pgo_frames f;
    pgo_decoder d;
    pgo_decoder_init(&d, pgo_frames_init(&f, (const unsigned char *)buf, len));
    char got[256];
    size_t n = 0;
    const unsigned char *msg;
    size_t mlen;
    while (pgo_frames_next(&f, &msg, &mlen) && n + 1 < sizeof got) {
        char err[512];
        pgo_msg m;
        char *copy = malloc(mlen ? mlen : 1);
        memcpy(copy, msg, mlen);
        int rc = pgo_decode(&d, copy, mlen, &m, err, sizeof err);
        EXPECT(rc == 0, "%s: record %zu: %s", name, n + 1, err);
        got[n++] = rc == 0 ? (char)m.type : '!';
        free(copy);
    }
    got[n] = '\0';
    EXPECT(strcmp(got, types) == 0, "%s: decoded types %s, manifest says %s", name, got, types);
    EXPECT(d.in_stream == 0, "%s: ends inside a stream block", name);
    pgo_decoder_free(&d);
done:
    free(buf);
}

static void check_real(const char *name, char *line_rest)
{
    /* First pass: the decoder settings and the type. */
    char *keys[256];
    int nkeys = 0;
    for (char *tok = strtok(line_rest, " \t"); tok && nkeys < 256; tok = strtok(NULL, " \t"))
        keys[nkeys++] = tok;
    int proto = 0, stream = -1;
    char type = 0;
    for (int k = 0; k < nkeys; k++) {
        if (strncmp(keys[k], "proto=", 6) == 0)
            proto = atoi(keys[k] + 6);
        else if (strncmp(keys[k], "stream=", 7) == 0)
            stream = atoi(keys[k] + 7);
        else if (strncmp(keys[k], "type=", 5) == 0)
            type = keys[k][5];
    }
    EXPECT(proto >= 1 && proto <= 4 && (stream == 0 || stream == 1) && type,
           "%s: manifest line needs proto=1..4, stream=0|1 and type=", name);

    size_t len;
    char *buf = read_file(name, &len);
    EXPECT(buf != NULL, "%s: cannot read it from %s", name, corpus_dir);
    if (!buf)
        return;
    pgo_decoder d;
    pgo_decoder_init(&d, proto);
    d.in_stream = stream;
    pgo_msg m;
    char err[512];
    int rc = pgo_decode(&d, buf, len, &m, err, sizeof err);
    EXPECT(rc == 0, "%s: %s", name, err);
    if (rc == 0) {
        EXPECT((char)m.type == type, "%s: type '%c', manifest says '%c'", name, m.type, type);
        size_t nt = strlen(seen_types);
        if (!strchr(seen_types, m.type) && nt + 1 < sizeof seen_types)
            seen_types[nt] = (char)m.type;
        if (m.type == PGO_INSERT || m.type == PGO_UPDATE || m.type == PGO_DELETE) {
            note_tuple(&m.u.change.old_tuple);
            note_tuple(&m.u.change.new_tuple);
            seen_old[m.u.change.old_kind == PGO_OLD_KEY    ? 1
                     : m.u.change.old_kind == PGO_OLD_FULL ? 2
                                                           : 0] = 1;
        }
        int want_stream = m.type == PGO_STREAM_START ? 1 : m.type == PGO_STREAM_STOP ? 0 : stream;
        EXPECT(d.in_stream == want_stream, "%s: in_stream %d after it, want %d", name, d.in_stream,
               want_stream);
        for (int k = 0; k < nkeys && (char)m.type == type; k++) {
            if (strncmp(keys[k], "proto=", 6) == 0 || strncmp(keys[k], "stream=", 7) == 0 ||
                strncmp(keys[k], "type=", 5) == 0 || strncmp(keys[k], "src=", 4) == 0)
                continue;
            char *eq = strchr(keys[k], '=');
            EXPECT(eq != NULL, "%s: manifest token '%s' is not key=value", name, keys[k]);
            if (!eq)
                continue;
            *eq = '\0';
            int r = check_field(&m, keys[k], eq + 1);
            EXPECT(r != -1, "%s: manifest key '%s' is unknown for type '%c'", name, keys[k],
                   m.type);
            EXPECT(r != 0, "%s: %s differs from the manifest's '%s'", name, keys[k], eq + 1);
        }
    }
    pgo_decoder_free(&d);
    check_prefixes(name, proto, stream, buf, len);
    free(buf);
}

static int listed(char names[][128], int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return 1;
    return 0;
}

int main(void)
{
    static char names[512][128];
    int nnames = 0;
    find_corpus();
    char path[1400];
    snprintf(path, sizeof path, "%s/MANIFEST", corpus_dir);
    FILE *mf = fopen(path, "r");
    EXPECT(mf != NULL, "cannot open %s (set TW_SOURCE_DIR to the source tree)", path);
    if (!mf)
        return tw_test_exit("test_pgoutput_corpus");
    char line[8192];
    while (fgets(line, sizeof line, mf)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *rest = line + strcspn(line, " \t");
        if (*rest)
            *rest++ = '\0';
        EXPECT(!listed(names, nnames, line), "%s is listed twice in the manifest", line);
        if (nnames < 512)
            snprintf(names[nnames++], sizeof names[0], "%.127s", line);
        if (strstr(rest, "framed=1"))
            check_framed(line, rest);
        else
            check_real(line, rest);
    }
    fclose(mf);

    /* Every file in the directory is described, so none goes untested. */
    DIR *dir = opendir(corpus_dir);
    EXPECT(dir != NULL, "cannot list %s", corpus_dir);
    for (struct dirent *e; dir && (e = readdir(dir));) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "MANIFEST") == 0)
            continue;
        EXPECT(listed(names, nnames, e->d_name), "%s is in the corpus but not in the MANIFEST",
               e->d_name);
    }
    if (dir)
        closedir(dir);

    EXPECT(nnames >= 40, "only %d files in the manifest", nnames);
    for (const char *t = "BCORYIUDTMSEcA"; *t; t++)
        EXPECT(strchr(seen_types, *t), "no real message of type '%c' in the corpus", *t);
    for (int k = 0; k < 4; k++)
        EXPECT(seen_kinds[k], "no real column of kind '%c' in the corpus", "nutb"[k]);
    for (int k = 0; k < 3; k++)
        EXPECT(seen_old[k], "no real change with old tuple '%c' in the corpus", "-KO"[k]);
    return tw_test_exit("test_pgoutput_corpus");
}
