/*
 * tw_test.h — the smallest harness that says what differed.
 * EXPECT* record a failure with file:line and both values and go on;
 * a test program returns tw_test_exit() from main.
 */
#ifndef TW_TEST_H
#define TW_TEST_H

#include <stdio.h>
#include <string.h>

static int tw_test_failures;
static int tw_test_checks;

#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        tw_test_checks++;                                                                          \
        if (!(cond)) {                                                                             \
            tw_test_failures++;                                                                    \
            fprintf(stderr, "%s:%d: FAILED %s: ", __FILE__, __LINE__, #cond);                      \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

#define EXPECT_STR(got, want)                                                                      \
    do {                                                                                           \
        const char *g_ = (got), *w_ = (want);                                                      \
        EXPECT(g_ &&w_ &&strcmp(g_, w_) == 0, "got '%s', want '%s'", g_ ? g_ : "(null)",           \
               w_ ? w_ : "(null)");                                                                \
    } while (0)

#define EXPECT_CONTAINS(hay, needle)                                                               \
    do {                                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                                    \
        EXPECT(h_ &&strstr(h_, n_), "'%s' does not contain '%s'", h_ ? h_ : "(null)", n_);         \
    } while (0)

static inline int tw_test_exit(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, tw_test_checks, tw_test_failures);
    return tw_test_failures ? 1 : 0;
}

#endif
