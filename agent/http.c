#include "agent/http.h"

#include "agent/control.h"
#include "agent/metrics.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define STUCK_MS 60000

struct tw_http {
    struct MHD_Daemon *daemon;
};

/* Splits "host:port" or "[v6]:port". */
static int split_listen(const char *listen, char *host, size_t hostsize, char *port,
                        size_t portsize)
{
    const char *colon;
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':')
            return -1;
        snprintf(host, hostsize, "%.*s", (int)(close - listen - 1), listen + 1);
        colon = close + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon)
            return -1;
        snprintf(host, hostsize, "%.*s", (int)(colon - listen), listen);
    }
    snprintf(port, portsize, "%s", colon + 1);
    return port[0] && host[0] ? 0 : -1;
}

static enum MHD_Result respond(struct MHD_Connection *c, unsigned code, const char *type,
                               const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)version;
    (void)upload;
    (void)upload_size;
    (void)con_cls;
    static const char text[] = "text/plain; charset=utf-8";
    if (strcmp(url, "/schemas/accept") == 0) {
        if (strcmp(method, "POST") != 0)
            return respond(c, MHD_HTTP_METHOD_NOT_ALLOWED, text, "POST only\n", 10);
        const char *table = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "table");
        if (!table || !table[0])
            return respond(c, MHD_HTTP_BAD_REQUEST, text, "missing ?table=schema.table\n", 28);
        char reply[1024];
        int code = tw_control_request("accept", table, 30000, reply, sizeof reply);
        return respond(c, (unsigned)code, text, reply, strlen(reply));
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return respond(c, MHD_HTTP_METHOD_NOT_ALLOWED, text, "GET only\n", 9);
    if (strcmp(url, "/healthz") == 0) {
        int64_t beat = atomic_load(&tw_m.loop_heartbeat_ms);
        if (beat != 0 && tw_metrics_now_ms() - beat > STUCK_MS)
            return respond(c, MHD_HTTP_SERVICE_UNAVAILABLE, text, "main loop stuck\n", 16);
        return respond(c, MHD_HTTP_OK, text, "ok\n", 3);
    }
    if (strcmp(url, "/readyz") == 0) {
        char why[256];
        int ok = tw_metrics_ready(why, sizeof why);
        size_t n = strlen(why);
        why[n < sizeof why - 1 ? n++ : n - 1] = '\n';
        return respond(c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, text, why, n);
    }
    if (strcmp(url, "/metrics") == 0) {
        size_t need = tw_metrics_render(NULL, 0) + 4096; /* tables may appear meanwhile */
        char *buf = malloc(need);
        if (!buf)
            return respond(c, MHD_HTTP_INTERNAL_SERVER_ERROR, text, "out of memory\n", 14);
        size_t len = tw_metrics_render(buf, need);
        enum MHD_Result r = respond(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", buf,
                                    len < need ? len : need - 1);
        free(buf);
        return r;
    }
    return respond(c, MHD_HTTP_NOT_FOUND, text, "not found: try /healthz, /readyz, /metrics\n", 43);
}

tw_http *tw_http_start(const char *listen, char *err, size_t errsize)
{
    char host[256], port[32];
    if (split_listen(listen, host, sizeof host, port, sizeof port) != 0) {
        snprintf(err, errsize, "http.listen '%s' is not host:port", listen);
        return NULL;
    }
    struct addrinfo hints = {.ai_flags = AI_PASSIVE, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    int gai = getaddrinfo(host, port, &hints, &ai);
    if (gai != 0) {
        snprintf(err, errsize, "http.listen '%s': %s", listen, gai_strerror(gai));
        return NULL;
    }
    tw_http *h = calloc(1, sizeof *h);
    if (h) {
        unsigned flags =
            MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
        if (ai->ai_family == AF_INET6)
            flags |= MHD_USE_IPv6;
        h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR,
                                     ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT, (unsigned)32,
                                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    }
    freeaddrinfo(ai);
    if (!h || !h->daemon) {
        snprintf(err, errsize, "cannot serve HTTP on %s (address in use, or not this host's?)",
                 listen);
        free(h);
        return NULL;
    }
    return h;
}

void tw_http_stop(tw_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->daemon);
    free(h);
}

int tw_http_probe(const char *listen, const char *path, char *err, size_t errsize)
{
    char host[256], port[32];
    if (split_listen(listen, host, sizeof host, port, sizeof port) != 0) {
        snprintf(err, errsize, "http.listen '%s' is not host:port", listen);
        return 1;
    }
    if (strcmp(host, "0.0.0.0") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    else if (strcmp(host, "::") == 0)
        snprintf(host, sizeof host, "::1");
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(host, port, &hints, &ai) != 0) {
        snprintf(err, errsize, "cannot resolve %s", host);
        return 1;
    }
    int fd = socket(ai->ai_family, ai->ai_socktype, 0), rc = 1;
    struct timeval tv = {5, 0};
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        snprintf(err, errsize, "cannot connect to %s", listen);
    } else {
        char req[512], resp[64] = "";
        int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, host);
        if (write(fd, req, (size_t)n) != n || read(fd, resp, sizeof resp - 1) <= 0)
            snprintf(err, errsize, "no answer from %s", listen);
        else if (strncmp(resp, "HTTP/1.", 7) == 0 && strncmp(resp + 8, " 200", 4) == 0)
            rc = 0;
        else
            snprintf(err, errsize, "%s%s answered: %.20s", listen, path, resp);
    }
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return rc;
}
