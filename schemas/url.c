#include "schemas/url.h"

#include <stdlib.h>
#include <string.h>

char *tw_url_redact(const char *urls, const char *mark)
{
    size_t n = strlen(urls), marklen = strlen(mark), commas = 0;
    for (const char *c = urls; *c; c++)
        commas += *c == ',';
    /* Each URL grows by at most marklen. */
    char *out = malloc(n + (commas + 1) * marklen + 1), *o = out;
    if (!out)
        return NULL;
    const char *v = urls;
    for (;;) {
        size_t len = strcspn(v, ",");
        const char *scheme = strstr(v, "://");
        size_t host = scheme && (size_t)(scheme - v) < len ? (size_t)(scheme - v) + 3 : 0;
        size_t end = host ? host + strcspn(v + host, "/?#,") : 0, at = 0;
        for (size_t i = host; i < end; i++)
            if (v[i] == '@')
                at = i + 1;
        if (at) {
            memcpy(o, v, host);
            memcpy(o + host, mark, marklen);
            memcpy(o + host + marklen, v + at, len - at);
            o += host + marklen + len - at;
        } else {
            memcpy(o, v, len);
            o += len;
        }
        v += len;
        if (*v != ',')
            break;
        *o++ = *v++;
    }
    *o = '\0';
    return out;
}
