/*
 * copytext.h — one row of `COPY ... TO STDOUT` text format as the values a
 * pgoutput tuple carries, so a snapshot row goes through the same
 * converters as a streamed one (both are the types' text output under the
 * same session settings).
 *
 * The format: columns separated by a tab, the row ended by a newline, NULL
 * written as \N, and backslash escapes \b \f \n \r \t \v \\, \ooo (octal,
 * 1-3 digits), \xhh (hex, 1-2 digits); any other escaped character stands
 * for itself.
 *
 * Decoding is in place: line is rewritten (unescaping only shrinks it) and
 * the values point into it. No allocation.
 */
#ifndef TW_COPYTEXT_H
#define TW_COPYTEXT_H

#include "decoders/pgoutput.h"

#include <stddef.h>

/* Splits and unescapes line[0..len) (a trailing newline is allowed) into
 * exactly ncols values (PGO_VALUE_NULL or PGO_VALUE_TEXT). Returns 0, or -1
 * with err naming the column count or the byte offset of what is wrong. */
int tw_copytext_row(char *line, size_t len, pgo_value *values, int ncols, char *err,
                    size_t errsize);

#endif
