#include "agent/errbuf.h"

#include <stdarg.h>
#include <stdio.h>

void tw_errf(char *err, size_t errsize, const char *fmt, ...)
{
    if (!err || errsize == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsize, fmt, ap);
    va_end(ap);
}
