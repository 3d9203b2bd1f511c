/*
 * http.h — the agent's HTTP endpoint (libmicrohttpd, its own thread):
 *
 *   GET /healthz  200 "ok" while the main loop turns (a loop stuck for more
 *                 than 60 s answers 503); also 200 while still starting
 *   GET /readyz   200 "ready", or 503 with the reason (tw_metrics_ready)
 *   GET /metrics  Prometheus text format (tw_metrics_render)
 *
 * Everything it reports comes from tw_m (metrics.h); it changes nothing.
 */
#ifndef TW_HTTP_H
#define TW_HTTP_H

#include <stddef.h>

typedef struct tw_http tw_http;

/* listen: "host:port" (IPv6 as "[::1]:8080"). NULL with err when the
 * address does not parse or cannot be bound. */
tw_http *tw_http_start(const char *listen, char *err, size_t errsize);
void tw_http_stop(tw_http *h);

/* `tidewater healthcheck`: GET /healthz on listen (a wildcard host means
 * this machine). Returns 0 on HTTP 200, 1 otherwise, with the reason in err. */
int tw_http_probe(const char *listen, const char *path, char *err, size_t errsize);

#endif
