#include "agent/webhook.h"

#include "agent/errbuf.h"
#include "agent/log.h"
#include "schemas/url.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* curl_multi_wakeup (7.68) lets stop interrupt an attempt at once. */
#if LIBCURL_VERSION_NUM < 0x074400
#error "libcurl 7.68 or newer is required"
#endif

#define COMPONENT       "webhook"
#define PAUSE_FIRST_MS  500
#define PAUSE_MAX_MS    10000
#define DROP_LOG_GAP_MS 10000

struct item {
    struct item *next;
    size_t len;
    char body[];
};

enum outcome { DELIVERED, FAILED, ABANDONED };

struct tw_webhook {
    char *url;   /* as configured: libcurl's */
    char *shown; /* without user:password@, for log lines */
    int timeout_ms, attempts, queue_max;

    /* Used by the sender thread only, except curl_multi_wakeup (thread-safe). */
    CURL *easy;
    CURLM *multi;
    struct curl_slist *headers;
    char curl_err[CURL_ERROR_SIZE];

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake; /* to the sender: an event was queued, or stop */
    pthread_cond_t idle; /* to stop: the sender finished an event */
    /* Under mu. */
    struct item *head, *tail;
    int held;      /* queued + the one being sent */
    int stopping;  /* no more waiting for events: exit when the queue is empty */
    int abandoned; /* events given up by stop */
    int64_t drop_logged_ms;
    uint64_t drops_unlogged;

    atomic_int abort_now; /* stop's drain time is over: give up at once */
    atomic_uint_least64_t delivered, failed, dropped;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timespec mono_deadline(int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static size_t discard(char *data, size_t size, size_t nmemb, void *userdata)
{
    (void)data;
    (void)userdata;
    return size * nmemb;
}

/* One POST of it. 1: answered 2xx; 0: failed, why says how; -1: abandoned. */
static int attempt(tw_webhook *w, const struct item *it, char *why, size_t whysize)
{
    curl_easy_setopt(w->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)it->len);
    curl_easy_setopt(w->easy, CURLOPT_POSTFIELDS, (const char *)it->body);
    w->curl_err[0] = '\0';
    CURLMcode mc = curl_multi_add_handle(w->multi, w->easy);
    if (mc != CURLM_OK) {
        snprintf(why, whysize, "%s", curl_multi_strerror(mc));
        return 0;
    }
    int running = 1, aborted = 0;
    while (running) {
        mc = curl_multi_perform(w->multi, &running);
        if (mc != CURLM_OK)
            break;
        if (atomic_load(&w->abort_now)) {
            aborted = 1;
            break;
        }
        if (!running)
            break;
        /* libcurl shortens the wait to its own timers; stop wakes it. */
        mc = curl_multi_poll(w->multi, NULL, 0, 1000, NULL);
        if (mc != CURLM_OK)
            break;
    }
    CURLcode res = CURLE_FAILED_INIT;
    int done = 0, queued;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(w->multi, &queued)) != NULL) {
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == w->easy) {
            res = msg->data.result;
            done = 1;
        }
    }
    curl_multi_remove_handle(w->multi, w->easy);
    if (aborted && !done)
        return -1;
    if (!done) {
        snprintf(why, whysize, "%s", curl_multi_strerror(mc));
        return 0;
    }
    if (res != CURLE_OK) {
        snprintf(why, whysize, "%s", w->curl_err[0] ? w->curl_err : curl_easy_strerror(res));
        return 0;
    }
    long status = 0;
    curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300)
        return 1;
    snprintf(why, whysize, "HTTP status %ld", status);
    return 0;
}

/* Waits ms unless stop gives up first; -1 then. */
static int pause_ms(tw_webhook *w, int ms)
{
    struct timespec until = mono_deadline(ms);
    pthread_mutex_lock(&w->mu);
    while (!atomic_load(&w->abort_now))
        if (pthread_cond_timedwait(&w->wake, &w->mu, &until) == ETIMEDOUT)
            break;
    int aborted = atomic_load(&w->abort_now);
    pthread_mutex_unlock(&w->mu);
    return aborted ? -1 : 0;
}

static enum outcome deliver(tw_webhook *w, const struct item *it)
{
    char why[CURL_ERROR_SIZE + 64];
    int pause = PAUSE_FIRST_MS;
    for (int n = 1;; n++) {
        int r = attempt(w, it, why, sizeof why);
        if (r > 0) {
            atomic_fetch_add(&w->delivered, 1);
            return DELIVERED;
        }
        if (r < 0)
            return ABANDONED;
        if (n >= w->attempts) {
            atomic_fetch_add(&w->failed, 1);
            tw_warn(COMPONENT, "POST to %s failed after %d attempt%s: %s; event given up", w->shown,
                    n, n == 1 ? "" : "s", why);
            return FAILED;
        }
        tw_debug(COMPONENT, "POST to %s: %s (attempt %d of %d); retrying in %d ms", w->shown, why,
                 n, w->attempts, pause);
        if (pause_ms(w, pause) != 0)
            return ABANDONED;
        pause = pause * 2 < PAUSE_MAX_MS ? pause * 2 : PAUSE_MAX_MS;
    }
}

static void *sender_main(void *arg)
{
    tw_webhook *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (!w->head && !w->stopping)
            pthread_cond_wait(&w->wake, &w->mu);
        struct item *it = NULL;
        if (w->head && !atomic_load(&w->abort_now)) {
            it = w->head;
            w->head = it->next;
            if (!w->head)
                w->tail = NULL;
        }
        pthread_mutex_unlock(&w->mu);
        if (!it)
            return NULL;
        enum outcome o = deliver(w, it);
        free(it);
        pthread_mutex_lock(&w->mu);
        w->held--;
        if (o == ABANDONED)
            w->abandoned++;
        pthread_cond_broadcast(&w->idle);
        pthread_mutex_unlock(&w->mu);
    }
}

/* Checks the URL and prepares the reusable easy handle. */
static int setup_curl(tw_webhook *w, char *err, size_t errsize)
{
    CURLU *u = curl_url();
    if (!u) {
        tw_errf(err, errsize, "webhook: out of memory");
        return -1;
    }
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, w->url, 0);
    char *host = NULL;
    if (uc == CURLUE_OK)
        uc = curl_url_get(u, CURLUPART_HOST, &host, 0);
    curl_free(host);
    curl_url_cleanup(u);
    if (uc != CURLUE_OK) {
        tw_errf(err, errsize, "webhook URL '%s' does not parse: %s", w->shown,
                curl_url_strerror(uc));
        return -1;
    }
    w->easy = curl_easy_init();
    w->multi = curl_multi_init();
    w->headers = curl_slist_append(NULL, "Content-Type: application/json");
    /* No "Expect: 100-continue" round trip before larger bodies. */
    struct curl_slist *h = w->headers ? curl_slist_append(w->headers, "Expect:") : NULL;
    if (!w->easy || !w->multi || !h) {
        tw_errf(err, errsize, "webhook: cannot initialise libcurl");
        return -1;
    }
    CURL *e = w->easy;
    int bad = 0;
    bad |= curl_easy_setopt(e, CURLOPT_URL, w->url) != CURLE_OK;
#if LIBCURL_VERSION_NUM >= 0x075500
    bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
#else
    bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) !=
           CURLE_OK;
#endif
    bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_POST, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, w->headers) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, "tidewater/" TW_VERSION) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)w->timeout_ms) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)w->timeout_ms) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, w->curl_err) != CURLE_OK;
    if (bad) {
        tw_errf(err, errsize, "webhook: libcurl refuses an option (%s)", curl_version());
        return -1;
    }
#if LIBCURL_VERSION_NUM >= 0x075700
    /* An abandoned attempt must not wait for a DNS lookup thread to end. */
    curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L);
#endif
    return 0;
}

static void destroy(tw_webhook *w)
{
    while (w->head) {
        struct item *next = w->head->next;
        free(w->head);
        w->head = next;
    }
    if (w->easy)
        curl_easy_cleanup(w->easy);
    if (w->multi)
        curl_multi_cleanup(w->multi);
    curl_slist_free_all(w->headers);
    free(w->url);
    free(w->shown);
    free(w);
}

tw_webhook *tw_webhook_start(const char *url, int timeout_ms, int attempts, int queue_max,
                             char *err, size_t errsize)
{
    if (!url) {
        tw_errf(err, errsize, "webhook URL missing");
        return NULL;
    }
    tw_webhook *w = calloc(1, sizeof *w);
    if (!w || !(w->url = strdup(url)) || !(w->shown = tw_url_redact(url, ""))) {
        tw_errf(err, errsize, "webhook: out of memory");
        if (w)
            destroy(w);
        return NULL;
    }
    if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0) {
        tw_errf(err, errsize, "webhook URL '%s' is not an http:// or https:// URL", w->shown);
        destroy(w);
        return NULL;
    }
    if (timeout_ms <= 0 || attempts < 1 || queue_max < 1) {
        tw_errf(err, errsize,
                "webhook %s: timeout_ms (%d) must be > 0, attempts (%d) and queue_max (%d) >= 1",
                w->shown, timeout_ms, attempts, queue_max);
        destroy(w);
        return NULL;
    }
    w->timeout_ms = timeout_ms;
    w->attempts = attempts;
    w->queue_max = queue_max;
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK) {
        tw_errf(err, errsize, "webhook: curl_global_init: %s", curl_easy_strerror(global_rc));
        destroy(w);
        return NULL;
    }
    if (setup_curl(w, err, errsize) != 0) {
        destroy(w);
        return NULL;
    }

    pthread_condattr_t ca;
    int ok = pthread_condattr_init(&ca) == 0;
    if (ok) {
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        ok = pthread_mutex_init(&w->mu, NULL) == 0;
        if (ok && pthread_cond_init(&w->wake, &ca) != 0) {
            pthread_mutex_destroy(&w->mu);
            ok = 0;
        }
        if (ok && pthread_cond_init(&w->idle, &ca) != 0) {
            pthread_cond_destroy(&w->wake);
            pthread_mutex_destroy(&w->mu);
            ok = 0;
        }
        pthread_condattr_destroy(&ca);
    }
    if (!ok) {
        tw_errf(err, errsize, "webhook: cannot initialise its mutex");
        destroy(w);
        return NULL;
    }
    int rc = pthread_create(&w->thread, NULL, sender_main, w);
    if (rc != 0) {
        tw_errf(err, errsize, "webhook: cannot start its thread: %s", strerror(rc));
        pthread_cond_destroy(&w->idle);
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->mu);
        destroy(w);
        return NULL;
    }
    tw_info(COMPONENT, "posting schema changes to %s (timeout %d ms, %d attempt%s, queue %d)",
            w->shown, timeout_ms, attempts, attempts == 1 ? "" : "s", queue_max);
    return w;
}

int tw_webhook_post(tw_webhook *w, const char *body, size_t len)
{
    struct item *it = malloc(sizeof *it + len);
    if (it) {
        it->next = NULL;
        it->len = len;
        if (len)
            memcpy(it->body, body, len);
    }
    uint64_t report = 0;
    int held = 0;
    pthread_mutex_lock(&w->mu);
    if (it && w->held < w->queue_max) {
        if (w->tail)
            w->tail->next = it;
        else
            w->head = it;
        w->tail = it;
        w->held++;
        pthread_cond_signal(&w->wake);
        pthread_mutex_unlock(&w->mu);
        return 0;
    }
    held = w->held;
    atomic_fetch_add(&w->dropped, 1);
    w->drops_unlogged++;
    int64_t now = mono_ms();
    if (w->drop_logged_ms == 0 || now - w->drop_logged_ms >= DROP_LOG_GAP_MS) {
        report = w->drops_unlogged;
        w->drops_unlogged = 0;
        w->drop_logged_ms = now;
    }
    pthread_mutex_unlock(&w->mu);
    int oom = !it;
    free(it);
    if (report)
        tw_warn(COMPONENT, "%s: %llu event%s dropped (%s; %d held)", w->shown,
                (unsigned long long)report, report == 1 ? "" : "s",
                oom ? "out of memory" : "queue full, the endpoint is not keeping up", held);
    return -1;
}

void tw_webhook_stop(tw_webhook *w, int drain_ms)
{
    if (!w)
        return;
    struct timespec until = mono_deadline(drain_ms > 0 ? drain_ms : 0);
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_broadcast(&w->wake);
    while (w->held > 0 && drain_ms > 0)
        if (pthread_cond_timedwait(&w->idle, &w->mu, &until) == ETIMEDOUT)
            break;
    atomic_store(&w->abort_now, 1);
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->mu);
    curl_multi_wakeup(w->multi);
    pthread_join(w->thread, NULL);

    /* The sender has ended: what it did not take is abandoned too. */
    int abandoned = w->abandoned;
    for (const struct item *it = w->head; it; it = it->next)
        abandoned++;
    if (abandoned > 0)
        tw_warn(COMPONENT, "stop: %d event%s for %s abandoned undelivered (drain time %d ms)",
                abandoned, abandoned == 1 ? "" : "s", w->shown, drain_ms);
    tw_info(COMPONENT, "stopped: %llu delivered, %llu failed, %llu dropped",
            (unsigned long long)atomic_load(&w->delivered),
            (unsigned long long)atomic_load(&w->failed),
            (unsigned long long)atomic_load(&w->dropped));
    pthread_cond_destroy(&w->idle);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->mu);
    destroy(w);
}

void tw_webhook_get_stats(const tw_webhook *w, tw_webhook_stats *out)
{
    out->delivered = atomic_load(&w->delivered);
    out->failed = atomic_load(&w->failed);
    out->dropped = atomic_load(&w->dropped);
}
