/*
 * webhook.h — schema-change events POSTed as JSON to an HTTP endpoint
 * (config key schema.webhook.url), by libcurl on a sender thread of its own.
 *
 * Contract: each event is one POST of its body, Content-Type
 * application/json, User-Agent tidewater/<version>. A 2xx answer delivers
 * it; any other status or a transport error is retried, up to `attempts`
 * tries, with a growing pause between tries (0.5 s, 1 s, 2 s ... at most
 * 10 s). After the last try the event is given up (counted failed, one
 * tw_warn line). Redirects are not followed. Events are sent one at a time,
 * in the order they were posted. Delivery is best effort: events still held
 * when tw_webhook_stop's drain time runs out are abandoned.
 *
 * Never blocking the caller: tw_webhook_post only copies the body into a
 * bounded queue under a mutex that the sender thread holds only to take an
 * event, never during network I/O. A full queue drops the new event. A slow,
 * failing or unreachable endpoint therefore costs the caller nothing but
 * dropped events.
 *
 * Threading: tw_webhook_post and tw_webhook_get_stats may be called from any
 * thread; tw_webhook_stop once, by the owner, when no other thread uses the
 * handle any more. Log lines (log.h, component "webhook") never show the
 * user:password part of the URL.
 *
 * Ownership: tw_webhook_start copies url; tw_webhook_post copies body; the
 * caller keeps its own buffers. tw_webhook_stop frees everything.
 */
#ifndef TW_WEBHOOK_H
#define TW_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

typedef struct tw_webhook tw_webhook;

typedef struct {
    uint64_t delivered; /* answered 2xx */
    uint64_t failed;    /* every attempt failed */
    uint64_t dropped;   /* not queued: the queue was full (or out of memory) */
} tw_webhook_stats;

/* Starts the sender thread. url: http:// or https:// (anything else: NULL
 * with err naming the url, without its password). timeout_ms (> 0): each
 * attempt's limit, connect and transfer together. attempts (>= 1): tries per
 * event. queue_max (>= 1): events held at most, the one being sent
 * included. NULL with err when an argument is out of range or libcurl or the
 * thread cannot start. */
tw_webhook *tw_webhook_start(const char *url, int timeout_ms, int attempts, int queue_max,
                             char *err, size_t errsize);

/* Copies body (JSON, len bytes) into the queue and returns at once: 0, or -1
 * when the queue is full (the event is dropped, counted and logged, at most
 * one line per 10 s). Never waits for the network. */
int tw_webhook_post(tw_webhook *w, const char *body, size_t len);

/* Stops the sender thread: waits up to drain_ms (<= 0: not at all) for the
 * held events to be sent, then abandons the rest, the attempt in progress
 * included (within milliseconds), logs how many, and frees everything.
 * NULL is a no-op. */
void tw_webhook_stop(tw_webhook *w, int drain_ms);

/* The counters so far; any thread (atomics). */
void tw_webhook_get_stats(const tw_webhook *w, tw_webhook_stats *out);

#endif
