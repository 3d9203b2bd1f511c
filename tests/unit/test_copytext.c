/* COPY text rows: plain columns, \N in every position, empty string against
 * NULL, a literal backslash-N in the data, every escape (named, octal, hex,
 * unknown), the optional trailing newline, column count and truncated
 * escape errors, and values pointing into the line. Rows are decoded from
 * heap copies of their exact length, so a read past the end trips the
 * sanitizer build. */
#include "decoders/copytext.h"
#include "tw_test.h"

#include <stdint.h>
#include <stdlib.h>

#define MAXCOLS 8

static char *held; /* the line last decoded, exactly held_len bytes */
static size_t held_len;
static pgo_value vals[MAXCOLS + 1]; /* one more as a sentinel */
static char err[256];

/* Decodes a heap copy of text[0..len), kept in held until the next call;
 * the entry after the last column must come back untouched. */
static int row(const char *text, size_t len, int ncols)
{
    free(held);
    held = malloc(len ? len : 1);
    if (!held) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    memcpy(held, text, len);
    held_len = len;
    for (int i = 0; i <= MAXCOLS; i++) {
        vals[i].kind = '?';
        vals[i].len = 12345;
        vals[i].data = "sentinel";
    }
    strcpy(err, "(untouched)");
    int rc = tw_copytext_row(held, len, vals, ncols, err, sizeof err);
    EXPECT(vals[ncols].kind == '?' && vals[ncols].len == 12345,
           "row of %zu bytes: entry %d after the last column was written", len, ncols);
    return rc;
}

#define ROW(lit, ncols) row(lit, sizeof lit - 1, ncols)

/* The value's bytes with everything unprintable as \ooo, for messages. */
static const char *shown(const char *p, size_t n)
{
    static char out[512];
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < sizeof out; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, sizeof out - o, "\\%03o", c);
    }
    out[o] = '\0';
    return out;
}

static void expect_text(int line, int col, const char *want, size_t n)
{
    const pgo_value *v = &vals[col];
    EXPECT(v->kind == PGO_VALUE_TEXT, "line %d column %d: kind '%c', want TEXT", line, col,
           v->kind);
    uintptr_t p = (uintptr_t)v->data, lo = (uintptr_t)held;
    int inside = v->data != NULL && p >= lo && p - lo <= held_len && v->len <= held_len - (p - lo);
    EXPECT(inside, "line %d column %d: data %p len %u is not inside the line [%p, +%zu)", line, col,
           (const void *)v->data, (unsigned)v->len, (const void *)held, held_len);
    EXPECT(v->len == n, "line %d column %d: len %u, want %zu", line, col, (unsigned)v->len, n);
    if (v->kind == PGO_VALUE_TEXT && inside && v->len == n) {
        int same = memcmp(v->data, want, n) == 0;
        EXPECT(same, "line %d column %d: got '%s'", line, col, shown(v->data, v->len));
        if (!same)
            fprintf(stderr, "    want '%s'\n", shown(want, n));
    }
}

static void expect_null(int line, int col)
{
    const pgo_value *v = &vals[col];
    EXPECT(v->kind == PGO_VALUE_NULL && v->len == 0 && v->data == NULL,
           "line %d column %d: kind '%c' len %u, want NULL with no data", line, col, v->kind,
           (unsigned)v->len);
}

#define TEXT(col, lit) expect_text(__LINE__, col, lit, sizeof lit - 1)
#define ISNULL(col)    expect_null(__LINE__, col)
#define OK(rc)         EXPECT((rc) == 0, "rc %d, err '%s'", rc, err)

/* Decodes a one-column row and checks its only value. */
#define ONE(in, want)                                                                              \
    do {                                                                                           \
        int rc_ = ROW(in, 1);                                                                      \
        EXPECT(rc_ == 0, "'%s': rc %d, err '%s'", shown(in, sizeof in - 1), rc_, err);             \
        TEXT(0, want);                                                                             \
    } while (0)

/* Expects -1 with an error containing `needle`. */
#define FAILS(in, ncols, needle)                                                                   \
    do {                                                                                           \
        int rc_ = ROW(in, ncols);                                                                  \
        EXPECT(rc_ == -1, "'%s' (%d columns): rc %d, want -1", shown(in, sizeof in - 1), ncols,    \
               rc_);                                                                               \
        EXPECT_CONTAINS(err, needle);                                                              \
    } while (0)

static void test_plain(void)
{
    OK(ROW("1\tabc\thello world\n", 3));
    TEXT(0, "1");
    TEXT(1, "abc");
    TEXT(2, "hello world");

    /* UTF-8 and other bytes above 0x7f pass through. */
    OK(ROW("h\xc3\xa9llo\t\xe2\x82\xac", 2));
    TEXT(0, "h\xc3\xa9llo");
    TEXT(1, "\xe2\x82\xac");

    ONE("x", "x");
    ONE("x\n", "x");

    /* What COPY writes for (1, 'it''s', NULL, E'a\nb', '', E't\there',
     * E'back\\slash'). */
    OK(ROW("1\tit's\t\\N\ta\\nb\t\tt\\there\tback\\\\slash\n", 7));
    TEXT(0, "1");
    TEXT(1, "it's");
    ISNULL(2);
    TEXT(3, "a\nb");
    TEXT(4, "");
    TEXT(5, "t\there");
    TEXT(6, "back\\slash");
}

static void test_nulls(void)
{
    OK(ROW("\\N\n", 1));
    ISNULL(0);
    OK(ROW("\\N", 1));
    ISNULL(0);

    OK(ROW("\\N\tb\tc\n", 3));
    ISNULL(0);
    TEXT(1, "b");
    TEXT(2, "c");

    OK(ROW("a\t\\N\tc\n", 3));
    TEXT(0, "a");
    ISNULL(1);
    TEXT(2, "c");

    OK(ROW("a\tb\t\\N\n", 3));
    TEXT(0, "a");
    TEXT(1, "b");
    ISNULL(2);
    OK(ROW("a\tb\t\\N", 3));
    ISNULL(2);

    OK(ROW("\\N\t\\N\t\\N\n", 3));
    ISNULL(0);
    ISNULL(1);
    ISNULL(2);
}

static void test_empty_vs_null(void)
{
    /* A one-column row holding '' is an empty line: an empty TEXT. */
    OK(ROW("\n", 1));
    TEXT(0, "");
    OK(ROW("", 1));
    TEXT(0, "");

    OK(ROW("\t\n", 2));
    TEXT(0, "");
    TEXT(1, "");

    OK(ROW("\t\\N\t\n", 3));
    TEXT(0, "");
    ISNULL(1);
    TEXT(2, "");

    OK(ROW("a\t", 2));
    TEXT(0, "a");
    TEXT(1, "");

    OK(ROW("\\N\t", 2));
    ISNULL(0);
    TEXT(1, "");
}

static void test_backslash_n_data(void)
{
    /* The two characters \N as data are written \\N: TEXT, not NULL. */
    ONE("\\\\N\n", "\\N");
    ONE("\\\\N", "\\N");
    OK(ROW("a\t\\\\N\t\\N\n", 3));
    TEXT(0, "a");
    TEXT(1, "\\N");
    ISNULL(2);
    ONE("\\\\N\\\\N", "\\N\\N");

    /* \N is NULL only as the whole field; elsewhere it is an escaped N. */
    ONE("\\Nx", "Nx");
    ONE("x\\N", "xN");
    ONE("\\N\\N", "NN");
}

static void test_escapes(void)
{
    ONE("\\b", "\b");
    ONE("\\f", "\f");
    ONE("\\n", "\n");
    ONE("\\r", "\r");
    ONE("\\t", "\t");
    ONE("\\v", "\v");
    ONE("\\\\", "\\");
    ONE("\\\\t", "\\t");
    ONE("a\\b\\f\\n\\r\\t\\v\\\\z\n", "a\b\f\n\r\t\v\\z");

    /* An unescaped value tab is data, not a separator. */
    OK(ROW("a\\tb\tc\\nd\n", 2));
    TEXT(0, "a\tb");
    TEXT(1, "c\nd");
    /* Nor is a tab after a backslash (COPY never writes one; the server
     * reads it as a tab). */
    ONE("a\\\tb", "a\tb");

    /* Any other escaped character stands for itself. */
    ONE("\\q", "q");
    ONE("\\a", "a");
    ONE("\\\"", "\"");
    ONE("x\\qy", "xqy");
}

static void test_octal(void)
{
    ONE("\\1", "\x01");
    ONE("\\12", "\n");
    ONE("\\123", "S");
    ONE("\\1234", "S4"); /* three digits at most */
    ONE("\\0", "\0");
    ONE("\\000", "\0");
    ONE("a\\0b", "a\0b");
    ONE("\\0\\0", "\0\0");
    ONE("\\8", "8");      /* not an octal digit */
    ONE("\\18", "\0018"); /* the digits stop at 8 */
    ONE("\\377", "\xff");
    ONE("\\400", "\0"); /* the server keeps the low 8 bits */

    OK(ROW("\\1\t\\12\t\\0\n", 3));
    TEXT(0, "\x01");
    TEXT(1, "\n");
    TEXT(2, "\0");
}

static void test_hex(void)
{
    ONE("\\x4", "\x04");
    ONE("\\x41", "A");
    ONE("\\x414", "A4");   /* two digits at most */
    ONE("\\x4g", "\x04g"); /* g is not a hex digit, in C either */
    ONE("\\xfF", "\xff");
    ONE("\\x00", "\0");

    /* \x without a digit is a plain x. */
    ONE("\\x", "x");
    ONE("\\x\n", "x");
    ONE("\\xg", "xg");
    ONE("a\\xz", "axz");

    OK(ROW("\\x\tb", 2));
    TEXT(0, "x");
    TEXT(1, "b");
    OK(ROW("\\x4\t\\x41\n", 2));
    TEXT(0, "\x04");
    TEXT(1, "A");
}

static void test_trailing_newline(void)
{
    OK(ROW("a\tb\n", 2));
    TEXT(0, "a");
    TEXT(1, "b");
    OK(ROW("a\tb", 2));
    TEXT(0, "a");
    TEXT(1, "b");
    OK(ROW("a\t\\N", 2));
    ISNULL(1);
}

static void test_column_count(void)
{
    FAILS("a\tb\tc\n", 2, "2 columns");
    FAILS("a\tb\t\\N", 2, "2 columns");
    FAILS("\t", 1, "1 columns");
    FAILS("a", 0, "0 columns");
    FAILS("\\N", 0, "0 columns");

    FAILS("a\tb\n", 3, "2 columns, 3 expected");
    FAILS("a\tb", 3, "2 columns, 3 expected");
    FAILS("\\N\n", 2, "1 columns, 2 expected");
    FAILS("\n", 2, "1 columns, 2 expected");
    FAILS("", 3, "1 columns, 3 expected");

    /* A table without columns: an empty line, nothing decoded. */
    OK(ROW("\n", 0));
    OK(ROW("", 0));
}

static void test_truncated_escape(void)
{
    FAILS("ab\\", 1, "escape (byte 2)");
    FAILS("ab\\\n", 1, "escape (byte 2)");
    FAILS("\\", 1, "escape (byte 0)");
    FAILS("a\tb\\", 2, "escape (byte 3)");
    FAILS("a\\\\\\", 1, "escape (byte 3)");
}

static void test_errors(void)
{
    /* A short error buffer gets a truncated, terminated message. */
    free(held);
    held = malloc(8);
    memcpy(held, "a\tb\tc\td", 7);
    held_len = 7;
    char small[10];
    memset(small, 'z', sizeof small);
    EXPECT(tw_copytext_row(held, 7, vals, 2, small, sizeof small) == -1, "too many columns");
    EXPECT(memchr(small, '\0', sizeof small) != NULL && strlen(small) == sizeof small - 1,
           "error not truncated to %zu bytes", sizeof small - 1);
}

static void test_in_place(void)
{
    /* Values start where their field starts in the line, unescaped there. */
    OK(ROW("\\ta\tb\t\\N\t\\\\\n", 4));
    EXPECT(vals[0].data == held + 0, "column 0 at offset %td", vals[0].data - held);
    EXPECT(vals[1].data == held + 4, "column 1 at offset %td", vals[1].data - held);
    EXPECT(vals[3].data == held + 9, "column 3 at offset %td", vals[3].data - held);
    TEXT(0, "\ta");
    TEXT(1, "b");
    ISNULL(2);
    TEXT(3, "\\");
    /* The line was rewritten: the first field now begins with a real tab. */
    EXPECT(held[0] == '\t' && held[1] == 'a', "line not unescaped in place: '%s'",
           shown(held, held_len));

    OK(ROW("\t\t", 3));
    for (int i = 0; i < 3; i++)
        EXPECT(vals[i].data == held + i, "empty column %d at offset %td", i, vals[i].data - held);
}

int main(void)
{
    test_plain();
    test_nulls();
    test_empty_vs_null();
    test_backslash_n_data();
    test_escapes();
    test_octal();
    test_hex();
    test_trailing_newline();
    test_column_count();
    test_truncated_escape();
    test_errors();
    test_in_place();
    free(held);
    return tw_test_exit("test_copytext");
}
