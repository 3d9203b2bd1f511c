/*
 * url.h — URLs as they may be shown: without the user:password part that
 * an http(s) URL can carry (schema registry, webhook, `config --show`).
 */
#ifndef TW_URL_H
#define TW_URL_H

/* A copy of urls (one URL or several, comma-separated) in which the
 * userinfo of every URL with a "scheme://" authority, up to and including
 * its last '@', is replaced by mark ("" drops it; "(secret)@" shows that
 * there was one). Everything else is kept as it is. The caller frees the
 * result; NULL when out of memory. */
char *tw_url_redact(const char *urls, const char *mark);

#endif
