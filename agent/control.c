#include "agent/control.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

enum { IDLE, PENDING, TAKEN, ANSWERED };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t answered = PTHREAD_COND_INITIALIZER;
static int state = IDLE;
static unsigned long serial; /* which request an answer belongs to */
static char req_cmd[64], req_arg[512], answer[1024];
static int answer_status;

int tw_control_request(const char *cmd, const char *arg, int timeout_ms, char *reply,
                       size_t replysize)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&lock);
    if (state != IDLE) {
        pthread_mutex_unlock(&lock);
        snprintf(reply, replysize, "another request is being served; try again\n");
        return 503;
    }
    snprintf(req_cmd, sizeof req_cmd, "%s", cmd);
    snprintf(req_arg, sizeof req_arg, "%s", arg ? arg : "");
    state = PENDING;
    unsigned long mine = ++serial;
    int rc = 0;
    while (state != ANSWERED && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&answered, &lock, &until);
    int status;
    if (state == ANSWERED && serial == mine) {
        status = answer_status;
        snprintf(reply, replysize, "%s", answer);
    } else {
        status = 504;
        snprintf(reply, replysize, "the replication loop did not answer in time\n");
    }
    state = IDLE;
    pthread_mutex_unlock(&lock);
    return status;
}

int tw_control_take(char *cmd, size_t cmdsize, char *arg, size_t argsize)
{
    int got = 0;
    pthread_mutex_lock(&lock);
    if (state == PENDING) {
        snprintf(cmd, cmdsize, "%s", req_cmd);
        snprintf(arg, argsize, "%s", req_arg);
        state = TAKEN;
        got = 1;
    }
    pthread_mutex_unlock(&lock);
    return got;
}

void tw_control_reply(int status, const char *reply)
{
    pthread_mutex_lock(&lock);
    if (state == TAKEN) {
        answer_status = status;
        snprintf(answer, sizeof answer, "%s", reply);
        state = ANSWERED;
        pthread_cond_broadcast(&answered);
    }
    pthread_mutex_unlock(&lock);
}
