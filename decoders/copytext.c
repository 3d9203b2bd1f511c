#include "decoders/copytext.h"

#include <stdint.h>
#include <stdio.h>

static int octal(char c)
{
    return c >= '0' && c <= '7';
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

int tw_copytext_row(char *line, size_t len, pgo_value *values, int ncols, char *err, size_t errsize)
{
    if (len > 0 && line[len - 1] == '\n')
        len--;
    if (ncols == 0 && len == 0)
        return 0; /* a table without columns */
    size_t i = 0;
    int col = 0;
    for (;;) {
        if (col == ncols) {
            snprintf(err, errsize, "COPY row has more than the %d columns expected (byte %zu)",
                     ncols, i);
            return -1;
        }
        size_t start = i, out = i;
        if (i + 2 <= len && line[i] == '\\' && line[i + 1] == 'N' &&
            (i + 2 == len || line[i + 2] == '\t')) {
            values[col].kind = PGO_VALUE_NULL;
            values[col].len = 0;
            values[col].data = NULL;
            i += 2;
        } else {
            while (i < len && line[i] != '\t') {
                char c = line[i++];
                if (c != '\\') {
                    line[out++] = c;
                    continue;
                }
                if (i == len) {
                    snprintf(err, errsize, "COPY row ends inside an escape (byte %zu)", i - 1);
                    return -1;
                }
                c = line[i++];
                switch (c) {
                case 'b':
                    c = '\b';
                    break;
                case 'f':
                    c = '\f';
                    break;
                case 'n':
                    c = '\n';
                    break;
                case 'r':
                    c = '\r';
                    break;
                case 't':
                    c = '\t';
                    break;
                case 'v':
                    c = '\v';
                    break;
                case 'x': {
                    int h = i < len ? hexval(line[i]) : -1;
                    if (h < 0)
                        break; /* "\x" without digits is a plain x */
                    int v = h;
                    i++;
                    if (i < len && (h = hexval(line[i])) >= 0) {
                        v = v * 16 + h;
                        i++;
                    }
                    c = (char)v;
                    break;
                }
                default:
                    if (octal(c)) {
                        int v = c - '0';
                        for (int k = 0; k < 2 && i < len && octal(line[i]); k++)
                            v = v * 8 + (line[i++] - '0');
                        c = (char)(v & 0xff);
                    }
                    break;
                }
                line[out++] = c;
            }
            if (out - start > UINT32_MAX) {
                snprintf(err, errsize, "COPY value of column %d is too long", col + 1);
                return -1;
            }
            values[col].kind = PGO_VALUE_TEXT;
            values[col].len = (uint32_t)(out - start);
            values[col].data = line + start;
        }
        col++;
        if (i == len)
            break;
        if (line[i] != '\t') {
            snprintf(err, errsize, "COPY row is malformed after column %d (byte %zu)", col, i);
            return -1;
        }
        i++; /* the tab */
    }
    if (col != ncols) {
        snprintf(err, errsize, "COPY row has %d columns, %d expected", col, ncols);
        return -1;
    }
    return 0;
}
