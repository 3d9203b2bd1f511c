/* Webhook: delivery, retries, timeouts, a full queue and stopping, against an
 * in-process libmicrohttpd server on 127.0.0.1 whose answers the test sets. */
#include "agent/log.h"
#include "agent/webhook.h"
#include "tw_http_test.h"
#include "tw_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_REQ  16
#define STALL_MS 10000 /* a stalled answer is released by then at the latest */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    /* Set before start. */
    int fail_first;  /* answer 500 to this many requests first, */
    unsigned status; /* then this */
    int stall;       /* hold every answer until released */
    /* Under mu. */
    int released;
    int requests;
    char *bodies[MAX_REQ], *types[MAX_REQ], *agents[MAX_REQ], *methods[MAX_REQ];
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
        s->bodies[n] = strdup(body_in);
        s->types[n] = tw_test_dup(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"));
        s->agents[n] = tw_test_dup(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent"));
        s->methods[n] = strdup(method);
    }
    unsigned status = n < s->fail_first ? 500 : s->status;
    pthread_cond_broadcast(&s->cond);
    if (s->stall) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += STALL_MS / 1000;
        while (!s->released)
            if (pthread_cond_timedwait(&s->cond, &s->mu, &until) == ETIMEDOUT)
                break;
    }
    pthread_mutex_unlock(&s->mu);
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Starts s (its behaviour fields already set) on 127.0.0.1, any free port. */
static int server_start(server *s)
{
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
        free(s->bodies[i]);
        free(s->types[i]);
        free(s->agents[i]);
        free(s->methods[i]);
    }
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
}

static int requests(server *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->requests;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* Waits until the server has seen at least n requests, up to ms. */
static int wait_requests(server *s, int n, int ms)
{
    int64_t until = tw_test_now_ms() + ms;
    while (requests(s) < n && tw_test_now_ms() < until)
        tw_test_sleep_ms(5);
    return requests(s) >= n;
}

static tw_webhook_stats stats(const tw_webhook *w)
{
    tw_webhook_stats st;
    tw_webhook_get_stats(w, &st);
    return st;
}

/* Waits until the counter (delivered/failed/dropped) reaches n, up to ms. */
#define WAIT_STAT(w, field, n, ms)                                                                 \
    do {                                                                                           \
        int64_t until_ = tw_test_now_ms() + (ms);                                                  \
        while (stats(w).field < (uint64_t)(n) && tw_test_now_ms() < until_)                        \
            tw_test_sleep_ms(5);                                                                   \
    } while (0)

static tw_webhook *start_on(const server *s, const char *userinfo, int timeout_ms, int attempts,
                            int queue_max)
{
    char url[128], err[256] = "";
    snprintf(url, sizeof url, "http://%s127.0.0.1:%u/hook", userinfo, s->port);
    tw_webhook *w = tw_webhook_start(url, timeout_ms, attempts, queue_max, err, sizeof err);
    EXPECT(w != NULL, "tw_webhook_start(%s): %s", url, err);
    return w;
}

static void test_in_order(void)
{
    server s = {.status = 200};
    EXPECT(server_start(&s) == 0, "server start");
    tw_webhook *w = start_on(&s, "", 2000, 3, 10);
    if (w) {
        static const char *const body[] = {"{\"n\":1}", "{\"n\":2,\"t\":\"a b\"}", "[]"};
        for (int i = 0; i < 3; i++)
            EXPECT(tw_webhook_post(w, body[i], strlen(body[i])) == 0, "post %d", i);
        WAIT_STAT(w, delivered, 3, 5000);
        tw_webhook_stats st = stats(w);
        EXPECT(st.delivered == 3 && st.failed == 0 && st.dropped == 0,
               "delivered %llu failed %llu dropped %llu", (unsigned long long)st.delivered,
               (unsigned long long)st.failed, (unsigned long long)st.dropped);
        tw_webhook_stop(w, 1000);
        EXPECT(requests(&s) == 3, "requests %d", requests(&s));
        for (int i = 0; i < 3 && i < requests(&s); i++) {
            EXPECT_STR(s.bodies[i], body[i]);
            EXPECT_STR(s.methods[i], "POST");
            EXPECT_STR(s.types[i], "application/json");
            EXPECT_STR(s.agents[i], "tidewater/" TW_VERSION);
        }
    }
    server_stop(&s);
}

/* stop waits for what is queued when the endpoint keeps up. */
static void test_stop_drains(void)
{
    server s = {.status = 204};
    EXPECT(server_start(&s) == 0, "server start");
    tw_webhook *w = start_on(&s, "", 2000, 1, 10);
    if (w) {
        for (int i = 0; i < 4; i++)
            EXPECT(tw_webhook_post(w, "{}", 2) == 0, "post %d", i);
        tw_webhook_stop(w, 5000);
        EXPECT(requests(&s) == 4, "stop returned after %d of 4 requests", requests(&s));
    }
    server_stop(&s);
}

static void test_retry_then_success(void)
{
    server s = {.fail_first = 2, .status = 200};
    EXPECT(server_start(&s) == 0, "server start");
    tw_webhook *w = start_on(&s, "", 2000, 3, 10);
    if (w) {
        EXPECT(tw_webhook_post(w, "{\"r\":1}", 7) == 0, "post");
        WAIT_STAT(w, delivered, 1, 8000);
        tw_webhook_stats st = stats(w);
        EXPECT(st.delivered == 1 && st.failed == 0, "delivered %llu failed %llu",
               (unsigned long long)st.delivered, (unsigned long long)st.failed);
        EXPECT(requests(&s) == 3, "requests %d, want 3", requests(&s));
        tw_webhook_stop(w, 0);
        EXPECT_STR(s.bodies[2], "{\"r\":1}");
    }
    server_stop(&s);
}

static void test_always_failing(void)
{
    server s = {.status = 500};
    EXPECT(server_start(&s) == 0, "server start");
    tw_webhook *w = start_on(&s, "", 2000, 2, 10);
    if (w) {
        EXPECT(tw_webhook_post(w, "{}", 2) == 0, "post");
        WAIT_STAT(w, failed, 1, 8000);
        tw_webhook_stats st = stats(w);
        EXPECT(st.failed == 1 && st.delivered == 0, "failed %llu delivered %llu",
               (unsigned long long)st.failed, (unsigned long long)st.delivered);
        tw_webhook_stop(w, 0);
        EXPECT(requests(&s) == 2, "requests %d, want exactly 2", requests(&s));
    }
    server_stop(&s);
}

static void test_slow_server(void)
{
    const int timeout_ms = 300;
    server s = {.status = 200, .stall = 1};
    EXPECT(server_start(&s) == 0, "server start");
    tw_webhook *w = start_on(&s, "", timeout_ms, 2, 200);
    if (w) {
        int64_t t0 = tw_test_now_ms();
        EXPECT(tw_webhook_post(w, "{\"slow\":0}", 10) == 0, "post");
        EXPECT(wait_requests(&s, 1, 5000), "the first attempt never arrived");
        /* An attempt is hanging on the server now: posting must not notice. */
        int64_t p0 = tw_test_now_ms();
        int ok = 0;
        for (int i = 0; i < 100; i++)
            ok += tw_webhook_post(w, "{\"slow\":1}", 10) == 0;
        int64_t took = tw_test_now_ms() - p0;
        EXPECT(ok == 100, "%d of 100 posts queued", ok);
        EXPECT(took < timeout_ms / 3, "100 posts took %lld ms, timeout is %d ms", (long long)took,
               timeout_ms);
        WAIT_STAT(w, failed, 1, 10000);
        int64_t failed_after = tw_test_now_ms() - t0;
        tw_webhook_stats st = stats(w);
        EXPECT(st.failed >= 1 && st.delivered == 0, "failed %llu delivered %llu",
               (unsigned long long)st.failed, (unsigned long long)st.delivered);
        /* Two attempts that each waited the whole timeout, and the pause between them. */
        EXPECT(failed_after >= 2 * timeout_ms + 500, "gave up after %lld ms",
               (long long)failed_after);
        EXPECT(requests(&s) >= 2, "requests %d", requests(&s));
        tw_webhook_stop(w, 0);
    }
    server_stop(&s);
}

static void test_queue_full(void)
{
    server s = {.status = 200, .stall = 1};
    EXPECT(server_start(&s) == 0, "server start");
    tw_webhook *w = start_on(&s, "", 10000, 1, 2);
    if (w) {
        int rc[5];
        for (int i = 0; i < 5; i++)
            rc[i] = tw_webhook_post(w, "{\"q\":1}", 7);
        EXPECT(rc[0] == 0 && rc[1] == 0, "first two posts: %d %d", rc[0], rc[1]);
        EXPECT(rc[2] == -1 && rc[3] == -1 && rc[4] == -1, "posts 3-5: %d %d %d", rc[2], rc[3],
               rc[4]);
        EXPECT(stats(w).dropped == 3, "dropped %llu", (unsigned long long)stats(w).dropped);
        EXPECT(wait_requests(&s, 1, 5000), "the first event never arrived");
        EXPECT(tw_webhook_post(w, "{}", 2) == -1, "post while full");
        EXPECT(stats(w).dropped == 4, "dropped %llu", (unsigned long long)stats(w).dropped);
        tw_webhook_stop(w, 0);
    }
    server_stop(&s);
}

/* Captures stderr (the log) into a temporary file until capture_end. */
static int capture_begin(int *saved)
{
    char path[] = "/tmp/tw-test-webhook.XXXXXX";
    int fd = mkstemp(path);
    unlink(path);
    *saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    return fd;
}

static void capture_end(int fd, int saved, char *buf, size_t size)
{
    dup2(saved, STDERR_FILENO);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, buf, size - 1);
    buf[n > 0 ? n : 0] = '\0';
    close(fd);
}

static void test_unreachable(void)
{
    /* A port that was just free: nothing listens there. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t salen = sizeof sa;
    EXPECT(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
               getsockname(fd, (struct sockaddr *)&sa, &salen) == 0,
           "bind a probe socket");
    close(fd);
    server dead = {.port = ntohs(sa.sin_port)};

    char log[8192];
    int saved, cap = capture_begin(&saved);
    tw_webhook *w = start_on(&dead, "alice:s3cret@", 2000, 2, 10);
    tw_webhook_stats st = {0};
    if (w) {
        tw_webhook_post(w, "{}", 2);
        WAIT_STAT(w, failed, 1, 8000);
        st = stats(w);
        tw_webhook_stop(w, 0);
    }
    capture_end(cap, saved, log, sizeof log);
    EXPECT(st.failed == 1 && st.delivered == 0, "failed %llu delivered %llu",
           (unsigned long long)st.failed, (unsigned long long)st.delivered);
    char where[64];
    snprintf(where, sizeof where, "http://127.0.0.1:%u/hook", dead.port);
    EXPECT_CONTAINS(log, where);
    EXPECT_CONTAINS(log, "level=warn component=webhook");
    EXPECT_CONTAINS(log, "after 2 attempts");
    EXPECT(!strstr(log, "s3cret") && !strstr(log, "alice"), "the log shows the userinfo: %s", log);
}

static void test_stop_bounded(void)
{
    const int drain_ms = 300;
    server s = {.status = 200, .stall = 1};
    EXPECT(server_start(&s) == 0, "server start");
    tw_webhook *w = start_on(&s, "", 10000, 3, 10);
    if (w) {
        EXPECT(tw_webhook_post(w, "{\"a\":1}", 7) == 0, "post");
        EXPECT(tw_webhook_post(w, "{\"a\":2}", 7) == 0, "post");
        EXPECT(wait_requests(&s, 1, 5000), "the first attempt never arrived");
        int64_t t0 = tw_test_now_ms();
        tw_webhook_stop(w, drain_ms);
        int64_t took = tw_test_now_ms() - t0;
        EXPECT(took >= drain_ms - 5 && took < drain_ms + 500, "stop(%d) took %lld ms", drain_ms,
               (long long)took);
    }
    server_stop(&s);
}

static void test_bad_urls(void)
{
    static const char *const bad[] = {"ftp://x", "garbage", "", "http://", "file:///etc/passwd"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char err[256] = "";
        tw_webhook *w = tw_webhook_start(bad[i], 1000, 1, 1, err, sizeof err);
        EXPECT(w == NULL, "'%s' accepted", bad[i]);
        tw_webhook_stop(w, 0);
        char quoted[64];
        snprintf(quoted, sizeof quoted, "'%s'", bad[i]);
        EXPECT_CONTAINS(err, quoted);
    }
    char err[256] = "";
    EXPECT(tw_webhook_start("ftp://bob:hunter2@x/y", 1000, 1, 1, err, sizeof err) == NULL, "ftp");
    EXPECT_CONTAINS(err, "'ftp://x/y'");
    EXPECT(!strstr(err, "hunter2"), "the error shows the password: %s", err);
    EXPECT(tw_webhook_start("http://127.0.0.1:1/", 1000, 0, 1, err, sizeof err) == NULL,
           "attempts 0 accepted");
    EXPECT(tw_webhook_start("http://127.0.0.1:1/", 0, 1, 1, err, sizeof err) == NULL,
           "timeout 0 accepted");
    EXPECT(tw_webhook_start("http://127.0.0.1:1/", 1000, 1, 0, err, sizeof err) == NULL,
           "queue_max 0 accepted");
    tw_webhook_stop(NULL, 1000);
}

int main(void)
{
    tw_log_configure(TW_LOG_INFO, TW_LOG_LOGFMT);
    test_bad_urls();
    test_in_order();
    test_stop_drains();
    test_retry_then_success();
    test_always_failing();
    test_slow_server();
    test_queue_full();
    test_unreachable();
    test_stop_bounded();
    return tw_test_exit("test_webhook");
}
