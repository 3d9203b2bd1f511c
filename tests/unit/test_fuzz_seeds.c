/* The seed corpora of fuzz_consume and fuzz_config still say what their
 * names say: every consume seed decodes (and every proper prefix of it is
 * refused with an error, never a crash), every config seed named err-* is
 * refused with the file and line, and every other config seed loads. When
 * the envelope or the configuration keys change, this test says which seed
 * to regenerate (tests/fuzz/gen_consume_seeds.c, gen_config_seeds.sh).
 *
 * The corpora are found through TW_SOURCE_DIR, else relative to this file. */
#include "agent/config.h"
#include "tests/fuzz/consume_fixture.h"
#include "tw_test.h"

#include <dirent.h>
#include <stdlib.h>

static char root[1024];

static void find_root(void)
{
    const char *src = getenv("TW_SOURCE_DIR");
    if (src && *src) {
        snprintf(root, sizeof root, "%s/tests/fuzz/corpus", src);
        return;
    }
    const char *file = __FILE__;
    const char *slash = strrchr(file, '/');
    int dirlen = slash ? (int)(slash - file) : 1;
    snprintf(root, sizeof root, "%.*s/../fuzz/corpus", dirlen, slash ? file : ".");
}

/* Reads dir/name into an exact-size heap buffer; NULL if unreadable. */
static unsigned char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[2200];
    snprintf(path, sizeof path, "%s/%s/%s", root, dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char tmp[65536];
    size_t n = fread(tmp, 1, sizeof tmp, f);
    fclose(f);
    unsigned char *buf = malloc(n ? n : 1);
    memcpy(buf, tmp, n);
    *len = n;
    return buf;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static void test_consume_seeds(void)
{
    consume_fixture fx;
    char err[1024];
    EXPECT(fixture_init(&fx, err, sizeof err) == 0, "fixture: %s", err);
    char dirpath[1100];
    snprintf(dirpath, sizeof dirpath, "%s/consume", root);
    DIR *d = opendir(dirpath);
    EXPECT(d != NULL, "cannot open %s", dirpath);
    int seeds = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!ends_with(e->d_name, ".bin"))
            continue;
        size_t len = 0;
        unsigned char *buf = slurp("consume", e->d_name, &len);
        EXPECT(buf != NULL, "cannot read %s", e->d_name);
        if (!buf)
            continue;
        seeds++;
        json_t *j = avro_json_decode_message(buf, len, fixture_lookup, &fx, err, sizeof err);
        EXPECT(j != NULL, "seed %s does not decode (regenerate with gen_consume_seeds): %s",
               e->d_name, err);
        json_decref(j);
        for (size_t k = 0; k < len; k++) {
            unsigned char *cut = malloc(k ? k : 1);
            memcpy(cut, buf, k);
            j = avro_json_decode_message(cut, k, fixture_lookup, &fx, err, sizeof err);
            EXPECT(j == NULL, "seed %s cut to %zu of %zu bytes decoded", e->d_name, k, len);
            EXPECT(strstr(err, "offset") || strstr(err, "is neither"),
                   "seed %s cut to %zu: error without a position: '%s'", e->d_name, k, err);
            json_decref(j);
            free(cut);
        }
        free(buf);
    }
    if (d)
        closedir(d);
    EXPECT(seeds >= 10, "only %d consume seeds", seeds);
    fixture_free(&fx);
}

static void test_config_seeds(void)
{
    char dirpath[1100];
    snprintf(dirpath, sizeof dirpath, "%s/config", root);
    DIR *d = opendir(dirpath);
    EXPECT(d != NULL, "cannot open %s", dirpath);
    int seeds = 0, bad = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!ends_with(e->d_name, ".properties"))
            continue;
        size_t len = 0;
        char *buf = (char *)slurp("config", e->d_name, &len);
        EXPECT(buf != NULL, "cannot read %s", e->d_name);
        if (!buf)
            continue;
        seeds++;
        char err[512] = "";
        tw_config *cfg = tw_config_new();
        int rc = tw_config_load_buffer(cfg, e->d_name, buf, len, err, sizeof err);
        if (strncmp(e->d_name, "err-", 4) == 0) {
            bad++;
            char want[300];
            snprintf(want, sizeof want, "%s:", e->d_name);
            EXPECT(rc != 0, "seed %s was meant to be refused", e->d_name);
            EXPECT(strncmp(err, want, strlen(want)) == 0, "seed %s: error '%s' names no line",
                   e->d_name, err);
        } else {
            EXPECT(rc == 0, "seed %s is refused (regenerate with gen_config_seeds.sh): %s",
                   e->d_name, err);
        }
        tw_config_free(cfg);
        free(buf);
    }
    if (d)
        closedir(d);
    EXPECT(seeds >= 8 && bad >= 4, "config seeds: %d, of which %d err-*", seeds, bad);
}

int main(void)
{
    find_root();
    test_consume_seeds();
    test_config_seeds();
    return tw_test_exit("test_fuzz_seeds");
}
