/*
 * tw_http_test.h — the common parts of the in-process HTTP servers that
 * unit tests run to play a peer (webhook endpoint, schema registry):
 * libmicrohttpd on 127.0.0.1, any free port, a thread per connection (so a
 * stalled answer holds only its own), request bodies collected whole.
 * Header-only: each test is one program.
 */
#ifndef TW_HTTP_TEST_H
#define TW_HTTP_TEST_H

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static inline int64_t tw_test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void tw_test_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static inline char *tw_test_dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

struct tw_http_upload {
    char *buf;
    size_t len;
};

/* Call first in the access handler with its own arguments. Returns 1 while
 * the request body is still arriving: the handler then returns *ret at
 * once. Returns 0 when the request is complete: *body is its body,
 * NUL-terminated ("" when there was none), valid until the request ends. */
static inline int tw_http_body(void **con_cls, const char *upload, size_t *upload_size,
                               enum MHD_Result *ret, const char **body)
{
    struct tw_http_upload *u = *con_cls;
    if (!u) {
        *con_cls = calloc(1, sizeof *u);
        *ret = *con_cls ? MHD_YES : MHD_NO;
        return 1;
    }
    if (*upload_size) {
        char *grown = realloc(u->buf, u->len + *upload_size + 1);
        if (!grown) {
            *ret = MHD_NO;
            return 1;
        }
        memcpy(grown + u->len, upload, *upload_size);
        u->buf = grown;
        u->len += *upload_size;
        u->buf[u->len] = '\0';
        *upload_size = 0;
        *ret = MHD_YES;
        return 1;
    }
    *body = u->buf ? u->buf : "";
    return 0;
}

static inline void tw_http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                                     enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct tw_http_upload *u = *con_cls;
    if (u) {
        free(u->buf);
        free(u);
        *con_cls = NULL;
    }
}

/* Starts a server whose handler is h(cls, ...) on 127.0.0.1; *port is the
 * port it got. NULL when it cannot start. */
static inline struct MHD_Daemon *tw_http_start(MHD_AccessHandlerCallback h, void *cls,
                                               unsigned *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL,
                         NULL, h, cls, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_NOTIFY_COMPLETED,
                         tw_http_completed, NULL, MHD_OPTION_END);
    const union MHD_DaemonInfo *info = d ? MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    *port = info ? info->port : 0;
    if (d && !*port) {
        MHD_stop_daemon(d);
        d = NULL;
    }
    return d;
}

#endif
