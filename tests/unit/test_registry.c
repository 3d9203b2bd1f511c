/* Schema registry client: URLs, registration and its cache, the status of
 * every kind of answer, basic auth, failover, fetching by id and timeouts,
 * against an in-process libmicrohttpd server on 127.0.0.1 that plays back
 * the answers the test queued and records every request it gets. */
#include "schemas/registry.h"
#include "tw_http_test.h"
#include "tw_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_REQ     64
#define MAX_ANSWERS 64
#define SR_TYPE     "application/vnd.schemaregistry.v1+json"

typedef struct {
    char *method, *path, *body, *type, *auth;
} seen_request;

typedef struct {
    unsigned status;
    char *body;
    int stall_ms; /* hold the answer this long (or until the server stops) */
} answer;

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    /* Under mu. */
    answer answers[MAX_ANSWERS];
    int nanswers, next_answer;
    int unscripted; /* requests that found the queue empty */
    int released;
    seen_request req[MAX_REQ];
    int requests;
    struct MHD_Daemon *daemon;
    unsigned port;
} server;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    server *s = cls;
    enum MHD_Result ret;
    const char *body_in;
    if (tw_http_body(con_cls, upload, upload_size, &ret, &body_in))
        return ret;
    pthread_mutex_lock(&s->mu);
    int n = s->requests++;
    if (n < MAX_REQ) {
        seen_request *q = &s->req[n];
        q->method = strdup(method);
        q->path = strdup(url);
        q->body = strdup(body_in);
        q->type = tw_test_dup(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"));
        q->auth = tw_test_dup(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"));
    }
    unsigned status = 500;
    const char *body = "{\"error_code\":50001,\"message\":\"the test queued no answer\"}";
    int stall_ms = 0;
    if (s->next_answer < s->nanswers) {
        const answer *a = &s->answers[s->next_answer++];
        status = a->status;
        body = a->body;
        stall_ms = a->stall_ms;
    } else {
        s->unscripted++;
    }
    if (stall_ms) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += stall_ms / 1000;
        until.tv_nsec += (long)(stall_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!s->released)
            if (pthread_cond_timedwait(&s->cond, &s->mu, &until) == ETIMEDOUT)
                break;
    }
    /* The body is copied while the queue cannot change under it. */
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    pthread_mutex_unlock(&s->mu);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", SR_TYPE);
    ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Starts s on 127.0.0.1, any free port. */
static int server_start(server *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->daemon = tw_http_start(on_request, s, &s->port);
    return s->daemon ? 0 : -1;
}

static void server_stop(server *s)
{
    pthread_mutex_lock(&s->mu);
    s->released = 1;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    for (int i = 0; i < MAX_REQ; i++) {
        free(s->req[i].method);
        free(s->req[i].path);
        free(s->req[i].body);
        free(s->req[i].type);
        free(s->req[i].auth);
    }
    for (int i = 0; i < s->nanswers; i++)
        free(s->answers[i].body);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
}

/* Queues the answer to the next request. */
static void answer_next(server *s, unsigned status, const char *body, int stall_ms)
{
    pthread_mutex_lock(&s->mu);
    if (s->nanswers < MAX_ANSWERS) {
        answer *a = &s->answers[s->nanswers++];
        a->status = status;
        a->body = strdup(body);
        a->stall_ms = stall_ms;
    }
    pthread_mutex_unlock(&s->mu);
}

static int requests(server *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->requests;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* The i-th request the server saw (0-based); every field "" when there was none. */
static seen_request request_at(server *s, int i)
{
    static char none[] = "";
    seen_request q = {none, none, none, none, none};
    pthread_mutex_lock(&s->mu);
    if (i >= 0 && i < s->requests && i < MAX_REQ)
        q = s->req[i];
    pthread_mutex_unlock(&s->mu);
    return q;
}

/* The server got no request that found the answer queue empty. */
#define EXPECT_SCRIPTED(s)                                                                         \
    do {                                                                                           \
        pthread_mutex_lock(&(s)->mu);                                                              \
        int u_ = (s)->unscripted;                                                                  \
        pthread_mutex_unlock(&(s)->mu);                                                            \
        EXPECT(u_ == 0, "%d requests had no queued answer", u_);                                   \
    } while (0)

/* A port on 127.0.0.1 that was free a moment ago: nothing listens there. */
static unsigned dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t salen = sizeof sa;
    int ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
             getsockname(fd, (struct sockaddr *)&sa, &salen) == 0;
    EXPECT(ok, "bind a probe socket");
    if (fd >= 0)
        close(fd);
    return ok ? ntohs(sa.sin_port) : 1;
}

static void base64(const char *in, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(in), o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)(unsigned char)in[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)in[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = '\0';
}

static tw_registry *open_registry(const char *urls, const char *user_info, int timeout_ms)
{
    char err[512] = "";
    tw_registry_opts o = {.urls = urls, .user_info = user_info, .timeout_ms = timeout_ms};
    tw_registry *r = tw_registry_new(&o, err, sizeof err);
    EXPECT(r != NULL, "tw_registry_new(%s): %s", urls, err);
    return r;
}

static tw_registry *open_on(const server *s, const char *user_info, int timeout_ms)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", s->port);
    return open_registry(url, user_info, timeout_ms);
}

#define EXPECT_COUNTS(r, ok, unavail, incompat, invalid, auth, notfound, error)                    \
    do {                                                                                           \
        uint64_t c_[TW_REG_ERROR + 1];                                                             \
        tw_registry_counts(r, c_);                                                                 \
        const uint64_t w_[TW_REG_ERROR + 1] = {ok,   unavail,  incompat, invalid,                  \
                                               auth, notfound, error};                             \
        EXPECT(memcmp(c_, w_, sizeof c_) == 0,                                                     \
               "counts ok %llu unavailable %llu incompatible %llu invalid %llu auth %llu "         \
               "not_found %llu error %llu",                                                        \
               (unsigned long long)c_[0], (unsigned long long)c_[1], (unsigned long long)c_[2],    \
               (unsigned long long)c_[3], (unsigned long long)c_[4], (unsigned long long)c_[5],    \
               (unsigned long long)c_[6]);                                                         \
    } while (0)

static void test_new(void)
{
    char urls[256], want[128], err[512];
    unsigned p1 = dead_port(), p2 = p1 == 65535 ? p1 - 1 : p1 + 1;
    snprintf(urls, sizeof urls, "http://user:s3cret@127.0.0.1:%u/ , http://127.0.0.1:%u/", p1, p2);
    tw_registry *r = open_registry(urls, NULL, 1000);
    if (r) {
        const char *shown = tw_registry_shown(r) ? tw_registry_shown(r) : "";
        snprintf(want, sizeof want, "http://127.0.0.1:%u,http://127.0.0.1:%u", p1, p2);
        EXPECT_STR(shown, want);
        EXPECT(!strstr(shown, "s3cret") && !strstr(shown, "user:"),
               "shown URLs carry the userinfo: %s", shown);
        EXPECT(*shown && shown[strlen(shown) - 1] != '/', "trailing '/': %s", shown);
    }
    tw_registry_free(r);

    /* A path is kept, its trailing '/' is not. */
    r = open_registry("https://reg.example:8081/sr/", NULL, 1000);
    if (r)
        EXPECT_STR(tw_registry_shown(r), "https://reg.example:8081/sr");
    tw_registry_free(r);

    tw_registry_opts o = {.urls = "ftp://x", .timeout_ms = 1000};
    err[0] = '\0';
    r = tw_registry_new(&o, err, sizeof err);
    EXPECT(r == NULL, "ftp:// accepted");
    tw_registry_free(r);
    EXPECT_CONTAINS(err, "http");

    o.urls = "ftp://bob:hunter2@x/";
    err[0] = '\0';
    r = tw_registry_new(&o, err, sizeof err);
    EXPECT(r == NULL, "ftp:// with userinfo accepted");
    tw_registry_free(r);
    EXPECT(!strstr(err, "hunter2"), "the error shows the password: %s", err);

    static const char *const empty[] = {"", " , ,", NULL};
    for (size_t i = 0; i < sizeof empty / sizeof *empty; i++) {
        o.urls = empty[i];
        err[0] = '\0';
        r = tw_registry_new(&o, err, sizeof err);
        EXPECT(r == NULL, "'%s' accepted", empty[i] ? empty[i] : "(null)");
        tw_registry_free(r);
        EXPECT_CONTAINS(err, "schema.registry.url");
    }

    o.urls = "http://[::1";
    err[0] = '\0';
    r = tw_registry_new(&o, err, sizeof err);
    EXPECT(r == NULL, "an unparsable URL accepted");
    tw_registry_free(r);
    EXPECT_CONTAINS(err, "schema.registry.url");

    /* More URLs than the client keeps. */
    char many[512] = "";
    for (int i = 0; i < 9; i++) {
        size_t n = strlen(many);
        snprintf(many + n, sizeof many - n, "%shttp://h%d:1", i ? "," : "", i);
    }
    o.urls = many;
    err[0] = '\0';
    r = tw_registry_new(&o, err, sizeof err);
    EXPECT(r == NULL, "9 URLs accepted");
    tw_registry_free(r);
    EXPECT_CONTAINS(err, "schema.registry.url");
    tw_registry_free(NULL);
}

/* A schema text whose JSON string needs every kind of escaping. */
static const char schema_text[] =
    "{\"type\":\"record\",\"name\":\"t\",\"doc\":\"say \\\"hi\\\" at C:\\\\tmp, "
    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8c\x8a\",\"fields\":[]}";

/* The request body is {"schema": <want, len bytes>} and nothing else. */
static void expect_schema_body(const char *body, const char *want, size_t len)
{
    json_error_t je;
    json_t *j = json_loads(body, 0, &je);
    EXPECT(json_is_object(j), "the body is no JSON object (%s): %s", je.text, body);
    EXPECT(json_object_size(j) == 1, "the body has %zu members: %s", json_object_size(j), body);
    json_t *s = json_object_get(j, "schema");
    EXPECT(json_is_string(s), "no \"schema\" string in %s", body);
    if (json_is_string(s))
        EXPECT(json_string_length(s) == len && memcmp(json_string_value(s), want, len) == 0,
               "schema sent as '%s', want '%.*s'", json_string_value(s), (int)len, want);
    json_decref(j);
}

static void test_register(void)
{
    server s;
    EXPECT(server_start(&s) == 0, "server start");
    tw_registry *r = open_on(&s, NULL, 2000);
    if (r) {
        char err[512];
        int32_t id = -1;
        size_t len = strlen(schema_text);
        answer_next(&s, 200, "{\"id\": 42}", 0);
        tw_reg_status st =
            tw_registry_register(r, "orders-value", schema_text, len, &id, err, sizeof err);
        EXPECT(st == TW_REG_OK && id == 42, "register: %s id %d: %s", tw_reg_status_name(st),
               (int)id, err);
        EXPECT(requests(&s) == 1, "requests %d", requests(&s));
        seen_request q = request_at(&s, 0);
        EXPECT_STR(q.method, "POST");
        EXPECT_STR(q.path, "/subjects/orders-value/versions");
        EXPECT_STR(q.type, SR_TYPE);
        EXPECT(q.auth == NULL, "Authorization sent without user_info: %s", q.auth);
        expect_schema_body(q.body, schema_text, len);
        EXPECT_COUNTS(r, 1, 0, 0, 0, 0, 0, 0);

        /* The same (subject, schema) again: the cache answers. */
        id = -1;
        st = tw_registry_register(r, "orders-value", schema_text, len, &id, err, sizeof err);
        EXPECT(st == TW_REG_OK && id == 42, "cached: %s id %d: %s", tw_reg_status_name(st), (int)id,
               err);
        EXPECT(requests(&s) == 1, "a cached registration made a request (%d)", requests(&s));
        EXPECT_COUNTS(r, 1, 0, 0, 0, 0, 0, 0);

        /* The same text from another buffer is the same schema. */
        char *copy = strdup(schema_text);
        id = -1;
        st = tw_registry_register(r, "orders-value", copy, len, &id, err, sizeof err);
        EXPECT(st == TW_REG_OK && id == 42 && requests(&s) == 1, "copy: %s id %d requests %d",
               tw_reg_status_name(st), (int)id, requests(&s));
        free(copy);

        /* The same schema under another subject is another registration. */
        answer_next(&s, 200, "{\"id\":43}", 0);
        id = -1;
        st = tw_registry_register(r, "orders-key", schema_text, len, &id, err, sizeof err);
        EXPECT(st == TW_REG_OK && id == 43, "other subject: %s id %d: %s", tw_reg_status_name(st),
               (int)id, err);
        EXPECT(requests(&s) == 2, "requests %d", requests(&s));
        EXPECT_STR(request_at(&s, 1).path, "/subjects/orders-key/versions");
        EXPECT_COUNTS(r, 2, 0, 0, 0, 0, 0, 0);

        /* Only len bytes are the schema; a prefix of a cached one is another. */
        answer_next(&s, 200, "{\"id\":44}", 0);
        const char longer[] = "{\"type\":\"string\"}TRAILING";
        size_t short_len = strlen("{\"type\":\"string\"}");
        id = -1;
        st = tw_registry_register(r, "orders-value", longer, short_len, &id, err, sizeof err);
        EXPECT(st == TW_REG_OK && id == 44, "len: %s id %d: %s", tw_reg_status_name(st), (int)id,
               err);
        expect_schema_body(request_at(&s, 2).body, longer, short_len);
        EXPECT(requests(&s) == 3, "requests %d", requests(&s));

        /* Many subjects (the cache grows) and the first answers still hit. */
        for (int i = 0; i < 40; i++) {
            char subject[32], body[32];
            snprintf(subject, sizeof subject, "t%d-value", i);
            snprintf(body, sizeof body, "{\"id\":%d}", 100 + i);
            answer_next(&s, 200, body, 0);
            id = -1;
            st = tw_registry_register(r, subject, "\"string\"", 8, &id, err, sizeof err);
            EXPECT(st == TW_REG_OK && id == 100 + i, "%s: %s id %d: %s", subject,
                   tw_reg_status_name(st), (int)id, err);
        }
        int before = requests(&s);
        id = -1;
        st = tw_registry_register(r, "orders-value", schema_text, len, &id, err, sizeof err);
        EXPECT(st == TW_REG_OK && id == 42 && requests(&s) == before,
               "after growth: %s id %d requests %d (were %d)", tw_reg_status_name(st), (int)id,
               requests(&s), before);
        id = -1;
        st = tw_registry_register(r, "t3-value", "\"string\"", 8, &id, err, sizeof err);
        EXPECT(st == TW_REG_OK && id == 103 && requests(&s) == before,
               "after growth: %s id %d requests %d (were %d)", tw_reg_status_name(st), (int)id,
               requests(&s), before);
    }
    tw_registry_free(r);
    EXPECT_SCRIPTED(&s);
    server_stop(&s);
}

static void test_statuses(void)
{
    server s;
    EXPECT(server_start(&s) == 0, "server start");
    char url[128];
    snprintf(url, sizeof url, "http://user:s3cret@127.0.0.1:%u/", s.port);
    char shown[128];
    snprintf(shown, sizeof shown, "http://127.0.0.1:%u", s.port);
    tw_registry *r = open_registry(url, NULL, 2000);
    if (r) {
        char err[1024];
        int32_t id = -1;
        const char *sch = "{\"type\":\"int\"}";
        size_t len = strlen(sch);

        answer_next(&s, 500, "{\"error_code\":50001,\"message\":\"Error in the backend\"}", 0);
        tw_reg_status st = tw_registry_register(r, "s-value", sch, len, &id, err, sizeof err);
        EXPECT(st == TW_REG_UNAVAILABLE, "500: %s: %s", tw_reg_status_name(st), err);
        EXPECT_CONTAINS(err, shown);
        EXPECT_CONTAINS(err, "500");
        EXPECT_CONTAINS(err, "Error in the backend");

        answer_next(&s, 503, "", 0);
        st = tw_registry_register(r, "s-value", sch, len, &id, err, sizeof err);
        EXPECT(st == TW_REG_UNAVAILABLE, "503: %s: %s", tw_reg_status_name(st), err);
        EXPECT_CONTAINS(err, "503");

        answer_next(&s, 429, "{\"message\":\"slow down\"}", 0);
        st = tw_registry_register(r, "s-value", sch, len, &id, err, sizeof err);
        EXPECT(st == TW_REG_UNAVAILABLE, "429: %s: %s", tw_reg_status_name(st), err);

        answer_next(&s, 409,
                    "{\"error_code\":409,\"message\":\"Schema being registered is incompatible\"}",
                    0);
        st = tw_registry_register(r, "s-value", sch, len, &id, err, sizeof err);
        EXPECT(st == TW_REG_INCOMPATIBLE, "409: %s: %s", tw_reg_status_name(st), err);
        EXPECT_CONTAINS(err, "Schema being registered is incompatible");
        EXPECT_CONTAINS(err, "s-value");
        EXPECT_CONTAINS(err, shown);

        answer_next(&s, 422,
                    "{\"error_code\":42201,\"message\":\"Input schema is an invalid Avro\"}", 0);
        st = tw_registry_register(r, "s-value", sch, len, &id, err, sizeof err);
        EXPECT(st == TW_REG_INVALID, "422: %s: %s", tw_reg_status_name(st), err);
        EXPECT_CONTAINS(err, "Input schema is an invalid Avro");
        EXPECT_CONTAINS(err, "s-value");

        answer_next(&s, 401, "{\"error_code\":401,\"message\":\"Unauthorized\"}", 0);
        st = tw_registry_register(r, "s-value", sch, len, &id, err, sizeof err);
        EXPECT(st == TW_REG_AUTH, "401: %s: %s", tw_reg_status_name(st), err);
        EXPECT_CONTAINS(err, shown);
        EXPECT_CONTAINS(err, "schema.registry.basic.auth.user.info");
        EXPECT(!strstr(err, "s3cret"), "the error shows the password: %s", err);

        answer_next(&s, 403, "", 0);
        st = tw_registry_register(r, "s-value", sch, len, &id, err, sizeof err);
        EXPECT(st == TW_REG_AUTH, "403: %s: %s", tw_reg_status_name(st), err);

        answer_next(&s, 400, "{\"message\":\"what\"}", 0);
        st = tw_registry_register(r, "s-value", sch, len, &id, err, sizeof err);
        EXPECT(st == TW_REG_ERROR, "400: %s: %s", tw_reg_status_name(st), err);

        /* 200 without an id; err quotes exactly the body, not the bytes of an
         * earlier, longer answer still in the buffer. */
        answer_next(&s, 200, "{\"version\":3}", 0);
        st = tw_registry_register(r, "s-value", sch, len, &id, err, sizeof err);
        EXPECT(st == TW_REG_ERROR, "200 without id: %s: %s", tw_reg_status_name(st), err);
        EXPECT_CONTAINS(err, "s-value");
        size_t el = strlen(err), bl = strlen("{\"version\":3}");
        EXPECT(el >= bl && strcmp(err + el - bl, "{\"version\":3}") == 0,
               "err does not end with the body: %s", err);

        answer_next(&s, 200, "{\"id\":\"7\"}", 0);
        st = tw_registry_register(r, "s-value", sch, len, &id, err, sizeof err);
        EXPECT(st == TW_REG_ERROR, "string id: %s: %s", tw_reg_status_name(st), err);

        answer_next(&s, 200, "not json", 0);
        st = tw_registry_register(r, "s-value", sch, len, &id, err, sizeof err);
        EXPECT(st == TW_REG_ERROR, "not JSON: %s: %s", tw_reg_status_name(st), err);

        /* None of the failures was cached. */
        int before = requests(&s);
        answer_next(&s, 200, "{\"id\":5}", 0);
        id = -1;
        st = tw_registry_register(r, "s-value", sch, len, &id, err, sizeof err);
        EXPECT(st == TW_REG_OK && id == 5, "after failures: %s id %d: %s", tw_reg_status_name(st),
               (int)id, err);
        EXPECT(requests(&s) == before + 1, "requests %d, were %d", requests(&s), before);
        EXPECT(requests(&s) == 12, "requests %d", requests(&s));

        /* The URL's userinfo is the basic-auth credential. */
        char want[128];
        strcpy(want, "Basic ");
        base64("user:s3cret", want + strlen(want));
        EXPECT_STR(request_at(&s, 0).auth, want);

        answer_next(&s, 404, "{\"error_code\":40403,\"message\":\"Schema not found\"}", 0);
        const char *text = NULL;
        st = tw_registry_schema(r, 99, &text, err, sizeof err);
        EXPECT(st == TW_REG_NOT_FOUND, "404: %s: %s", tw_reg_status_name(st), err);
        EXPECT_CONTAINS(err, "Schema not found");
        EXPECT_CONTAINS(err, "99");
        EXPECT_STR(request_at(&s, 12).path, "/schemas/ids/99");

        /* 200, three of them without an id; 500, 503, 429; 409; 422; 401, 403;
         * 400; 404. */
        EXPECT_COUNTS(r, 4, 3, 1, 1, 2, 1, 1);
    }
    tw_registry_free(r);
    EXPECT_SCRIPTED(&s);
    server_stop(&s);
}

static void test_basic_auth(void)
{
    server s;
    EXPECT(server_start(&s) == 0, "server start");
    const char *user_info = "alice:pa ss:word";
    tw_registry *r = open_on(&s, user_info, 2000);
    if (r) {
        char err[1024], want[128];
        strcpy(want, "Basic ");
        base64(user_info, want + strlen(want));
        EXPECT_STR(want, "Basic YWxpY2U6cGEgc3M6d29yZA==");

        answer_next(&s, 200, "{\"id\":1}", 0);
        int32_t id = -1;
        tw_reg_status st = tw_registry_register(r, "a-value", "\"long\"", 6, &id, err, sizeof err);
        EXPECT(st == TW_REG_OK && id == 1, "register: %s: %s", tw_reg_status_name(st), err);
        EXPECT_STR(request_at(&s, 0).auth, want);

        answer_next(&s, 200, "{\"compatibilityLevel\":\"BACKWARD\"}", 0);
        st = tw_registry_ping(r, err, sizeof err);
        EXPECT(st == TW_REG_OK, "ping: %s: %s", tw_reg_status_name(st), err);
        EXPECT_STR(request_at(&s, 1).auth, want);

        answer_next(&s, 401, "{\"error_code\":401,\"message\":\"Unauthorized\"}", 0);
        st = tw_registry_ping(r, err, sizeof err);
        EXPECT(st == TW_REG_AUTH, "ping 401: %s: %s", tw_reg_status_name(st), err);
        EXPECT_CONTAINS(err, "schema.registry.basic.auth.user.info");
        EXPECT(!strstr(err, "pa ss") && !strstr(err, "word") && !strstr(err, "YWxp"),
               "the error shows the secret: %s", err);
        EXPECT_COUNTS(r, 2, 0, 0, 0, 1, 0, 0);
    }
    tw_registry_free(r);
    EXPECT_SCRIPTED(&s);
    server_stop(&s);
}

static void test_failover(void)
{
    server a, b;
    EXPECT(server_start(&a) == 0, "server start");
    EXPECT(server_start(&b) == 0, "server start");
    unsigned dead = dead_port();
    char urls[256], err[1024], where[64];
    int32_t id = -1;
    tw_reg_status st;

    /* Nothing listens at the first URL: the second answers. */
    snprintf(urls, sizeof urls, "http://127.0.0.1:%u,http://127.0.0.1:%u", dead, b.port);
    tw_registry *r = open_registry(urls, NULL, 2000);
    if (r) {
        answer_next(&b, 200, "{\"id\":8}", 0);
        st = tw_registry_register(r, "f-value", "\"int\"", 5, &id, err, sizeof err);
        EXPECT(st == TW_REG_OK && id == 8, "failover: %s id %d: %s", tw_reg_status_name(st),
               (int)id, err);
        EXPECT(requests(&b) == 1, "requests %d", requests(&b));
        EXPECT_COUNTS(r, 1, 0, 0, 0, 0, 0, 0);
    }
    tw_registry_free(r);

    /* The first URL answers 503: the second is asked, and asked first next time. */
    snprintf(urls, sizeof urls, "http://127.0.0.1:%u,http://127.0.0.1:%u", a.port, b.port);
    r = open_registry(urls, NULL, 2000);
    if (r) {
        answer_next(&a, 503, "", 0);
        answer_next(&b, 200, "{\"id\":9}", 0);
        st = tw_registry_register(r, "g-value", "\"int\"", 5, &id, err, sizeof err);
        EXPECT(st == TW_REG_OK && id == 9, "after 503: %s id %d: %s", tw_reg_status_name(st),
               (int)id, err);
        EXPECT(requests(&a) == 1 && requests(&b) == 2, "requests a %d b %d", requests(&a),
               requests(&b));
        answer_next(&b, 200, "{}", 0);
        st = tw_registry_ping(r, err, sizeof err);
        EXPECT(st == TW_REG_OK, "ping: %s: %s", tw_reg_status_name(st), err);
        EXPECT(requests(&a) == 1 && requests(&b) == 3,
               "the answering URL is not tried first: "
               "requests a %d b %d",
               requests(&a), requests(&b));

        /* Both fail: unavailable, and err names the last one tried. */
        answer_next(&b, 500, "", 0);
        answer_next(&a, 502, "", 0);
        st = tw_registry_ping(r, err, sizeof err);
        EXPECT(st == TW_REG_UNAVAILABLE, "both down: %s: %s", tw_reg_status_name(st), err);
        snprintf(where, sizeof where, "http://127.0.0.1:%u", a.port);
        EXPECT_CONTAINS(err, where);
        EXPECT_COUNTS(r, 2, 1, 0, 0, 0, 0, 0);
    }
    tw_registry_free(r);

    /* Only the dead URL: unavailable at once, named in err. */
    snprintf(urls, sizeof urls, "http://127.0.0.1:%u", dead);
    r = open_registry(urls, NULL, 2000);
    if (r) {
        int64_t t0 = tw_test_now_ms();
        st = tw_registry_register(r, "f-value", "\"int\"", 5, &id, err, sizeof err);
        int64_t took = tw_test_now_ms() - t0;
        EXPECT(st == TW_REG_UNAVAILABLE, "dead: %s: %s", tw_reg_status_name(st), err);
        EXPECT(took < 1500, "a refused connection took %lld ms", (long long)took);
        snprintf(where, sizeof where, "http://127.0.0.1:%u", dead);
        EXPECT_CONTAINS(err, where);
        EXPECT_COUNTS(r, 0, 1, 0, 0, 0, 0, 0);
    }
    tw_registry_free(r);
    EXPECT_SCRIPTED(&a);
    EXPECT_SCRIPTED(&b);
    server_stop(&a);
    server_stop(&b);
}

static void test_schema_by_id(void)
{
    server s;
    EXPECT(server_start(&s) == 0, "server start");
    tw_registry *r = open_on(&s, NULL, 2000);
    if (r) {
        char err[1024];
        const char *text = NULL;
        answer_next(&s, 200, "{\"schema\":\"{\\\"type\\\":\\\"string\\\"}\"}", 0);
        tw_reg_status st = tw_registry_schema(r, 7, &text, err, sizeof err);
        EXPECT(st == TW_REG_OK, "schema 7: %s: %s", tw_reg_status_name(st), err);
        EXPECT_STR(text, "{\"type\":\"string\"}");
        seen_request q = request_at(&s, 0);
        EXPECT_STR(q.method, "GET");
        EXPECT_STR(q.path, "/schemas/ids/7");
        EXPECT_STR(q.body, "");

        const char *again = NULL;
        st = tw_registry_schema(r, 7, &again, err, sizeof err);
        EXPECT(st == TW_REG_OK && again == text, "cached schema 7: %s %p %p",
               tw_reg_status_name(st), (const void *)again, (const void *)text);
        EXPECT(requests(&s) == 1, "a cached schema made a request (%d)", requests(&s));

        /* Many ids (the cache grows): the first text stays where it was. */
        for (int i = 0; i < 20; i++) {
            const char *t = NULL;
            answer_next(&s, 200, "{\"schema\":\"\\\"int\\\"\"}", 0);
            st = tw_registry_schema(r, 1000 + i, &t, err, sizeof err);
            EXPECT(st == TW_REG_OK, "schema %d: %s: %s", 1000 + i, tw_reg_status_name(st), err);
            EXPECT_STR(t, "\"int\"");
        }
        st = tw_registry_schema(r, 7, &again, err, sizeof err);
        EXPECT(st == TW_REG_OK && again == text && requests(&s) == 21, "schema 7: %s requests %d",
               tw_reg_status_name(st), requests(&s));
        EXPECT_STR(text, "{\"type\":\"string\"}");

        answer_next(&s, 200, "{\"subject\":\"x\"}", 0);
        st = tw_registry_schema(r, 8, &again, err, sizeof err);
        EXPECT(st == TW_REG_ERROR, "no schema: %s: %s", tw_reg_status_name(st), err);

        /* A POST before a GET must not turn the GET into a POST. */
        answer_next(&s, 200, "{\"id\":3}", 0);
        int32_t id = -1;
        st = tw_registry_register(r, "p-value", "\"int\"", 5, &id, err, sizeof err);
        EXPECT(st == TW_REG_OK && id == 3, "register: %s: %s", tw_reg_status_name(st), err);
        answer_next(&s, 200, "{\"compatibilityLevel\":\"BACKWARD\"}", 0);
        st = tw_registry_ping(r, err, sizeof err);
        EXPECT(st == TW_REG_OK, "ping: %s: %s", tw_reg_status_name(st), err);
        q = request_at(&s, 23);
        EXPECT_STR(q.method, "GET");
        EXPECT_STR(q.path, "/config");
        EXPECT_STR(q.body, "");
        EXPECT(requests(&s) == 24, "requests %d", requests(&s));
    }
    tw_registry_free(r);
    EXPECT_SCRIPTED(&s);
    server_stop(&s);
}

static void test_timeout(void)
{
    const int timeout_ms = 300;
    server s;
    EXPECT(server_start(&s) == 0, "server start");
    tw_registry *r = open_on(&s, NULL, timeout_ms);
    if (r) {
        char err[1024], where[64];
        int32_t id = -1;
        answer_next(&s, 200, "{\"id\":1}", 1500);
        int64_t t0 = tw_test_now_ms();
        tw_reg_status st =
            tw_registry_register(r, "slow-value", "\"int\"", 5, &id, err, sizeof err);
        int64_t took = tw_test_now_ms() - t0;
        EXPECT(st == TW_REG_UNAVAILABLE, "stalled: %s: %s", tw_reg_status_name(st), err);
        EXPECT(took >= timeout_ms - 50 && took < 1200, "gave up after %lld ms, timeout %d ms",
               (long long)took, timeout_ms);
        snprintf(where, sizeof where, "http://127.0.0.1:%u", s.port);
        EXPECT_CONTAINS(err, where);
        EXPECT(requests(&s) == 1, "requests %d", requests(&s));
        EXPECT_COUNTS(r, 0, 1, 0, 0, 0, 0, 0);
    }
    tw_registry_free(r);
    EXPECT_SCRIPTED(&s);
    server_stop(&s); /* releases the stalled answer */
}

typedef struct {
    server *s;
    int after; /* abort once the server has seen more requests than this */
    int calls;
} abort_when;

static int abort_now(void *arg)
{
    abort_when *a = arg;
    a->calls++;
    return a->after >= 0 && requests(a->s) > a->after;
}

/* The progress callback stops a stalled request at once; forget() makes the
 * next registration ask again; 422 is "invalid" only for error code 42201;
 * the last HTTP status is kept. */
static void test_abort_forget_422(void)
{
    server s;
    EXPECT(server_start(&s) == 0, "server start");
    tw_registry *r = open_on(&s, NULL, 5000);
    if (r) {
        char err[1024];
        int32_t id = -1;
        abort_when stop = {.s = &s, .after = requests(&s)};
        tw_registry_set_progress(r, abort_now, &stop);
        answer_next(&s, 200, "{\"id\":1}", 1500);
        int64_t t0 = tw_test_now_ms();
        tw_reg_status st = tw_registry_register(r, "a-value", "\"int\"", 5, &id, err, sizeof err);
        EXPECT(st == TW_REG_UNAVAILABLE && tw_test_now_ms() - t0 < 1000 && stop.calls > 0,
               "aborted: %s after %lld ms: %s", tw_reg_status_name(st),
               (long long)(tw_test_now_ms() - t0), err);
        EXPECT_CONTAINS(err, "aborted");
        EXPECT(tw_registry_last_http_status(r) == 0, "no status after an abort");
        stop.after = -1;

        answer_next(&s, 200, "{\"id\":3}", 0);
        st = tw_registry_register(r, "b-value", "\"long\"", 6, &id, err, sizeof err);
        EXPECT(st == TW_REG_OK && id == 3, "registered: %s", err);
        EXPECT(tw_registry_last_http_status(r) == 200, "status 200");
        int before = requests(&s);
        EXPECT(tw_registry_register(r, "b-value", "\"long\"", 6, &id, err, sizeof err) ==
                       TW_REG_OK &&
                   requests(&s) == before,
               "cached");
        tw_registry_forget(r);
        answer_next(&s, 200, "{\"id\":3}", 0);
        EXPECT(tw_registry_register(r, "b-value", "\"long\"", 6, &id, err, sizeof err) ==
                       TW_REG_OK &&
                   requests(&s) == before + 1 && id == 3,
               "asked again after forget");

        answer_next(&s, 422, "{\"error_code\":42205,\"message\":\"Subject is read-only\"}", 0);
        st = tw_registry_register(r, "c-value", "\"int\"", 5, &id, err, sizeof err);
        EXPECT(st == TW_REG_ERROR, "42205: %s", tw_reg_status_name(st));
        EXPECT_CONTAINS(err, "read-only");
        EXPECT(tw_registry_last_http_status(r) == 422, "status 422");
        answer_next(&s, 422, "{\"error_code\":42201,\"message\":\"Invalid schema\"}", 0);
        st = tw_registry_register(r, "c-value", "\"int\"", 5, &id, err, sizeof err);
        EXPECT(st == TW_REG_INVALID, "42201: %s", tw_reg_status_name(st));
    }
    tw_registry_free(r);
    EXPECT_SCRIPTED(&s);
    server_stop(&s);
}

static void test_names(void)
{
    EXPECT_STR(tw_reg_status_name(TW_REG_OK), "ok");
    EXPECT_STR(tw_reg_status_name(TW_REG_UNAVAILABLE), "unavailable");
    EXPECT_STR(tw_reg_status_name(TW_REG_INCOMPATIBLE), "incompatible");
    EXPECT_STR(tw_reg_status_name(TW_REG_INVALID), "invalid");
    EXPECT_STR(tw_reg_status_name(TW_REG_AUTH), "auth");
    EXPECT_STR(tw_reg_status_name(TW_REG_NOT_FOUND), "not_found");
    EXPECT_STR(tw_reg_status_name(TW_REG_ERROR), "error");
}

int main(void)
{
    int64_t t0 = tw_test_now_ms();
    test_names();
    test_new();
    test_register();
    test_statuses();
    test_basic_auth();
    test_failover();
    test_schema_by_id();
    test_timeout();
    test_abort_forget_422();
    int64_t took = tw_test_now_ms() - t0;
    EXPECT(took < 5000, "the test took %lld ms", (long long)took);
    return tw_test_exit("test_registry");
}
