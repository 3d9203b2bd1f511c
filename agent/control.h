/*
 * control.h — requests from the HTTP server's thread to the replication
 * loop (e.g. POST /schemas/accept?table=…), one at a time.
 *
 * The HTTP thread calls tw_control_request() and waits for the loop's
 * answer; the loop calls tw_control_take() on each turn (and while paused)
 * and answers with tw_control_reply(). A request the loop does not take in
 * time is withdrawn and answered 504 by the caller.
 *
 * Thread-safe (one mutex, one condition variable); nothing is allocated.
 */
#ifndef TW_CONTROL_H
#define TW_CONTROL_H

#include <stddef.h>

/* HTTP thread: posts cmd(arg) and waits up to timeout_ms. Returns the HTTP
 * status the loop chose (reply filled), 503 when another request is being
 * served, or 504 on timeout. */
int tw_control_request(const char *cmd, const char *arg, int timeout_ms, char *reply,
                       size_t replysize);

/* Loop: 1 with a pending request copied out, 0 when none. */
int tw_control_take(char *cmd, size_t cmdsize, char *arg, size_t argsize);

/* Loop: answers the request last taken. */
void tw_control_reply(int status, const char *reply);

#endif
