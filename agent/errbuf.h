/*
 * errbuf.h — the one error model's formatting half: functions that can fail
 * return a status and write one sentence into a caller-supplied buffer
 * (char *err, size_t errsize). tw_errf() formats it; a NULL or empty buffer
 * is allowed (the caller did not want the text).
 */
#ifndef TW_ERRBUF_H
#define TW_ERRBUF_H

#include <stddef.h>

void tw_errf(char *err, size_t errsize, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
