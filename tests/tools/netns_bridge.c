/*
 * netns_bridge — a loopback link between a network namespace and the host
 * that a test can cut and heal, for the network-cut fault test
 * (tests/integration/fault_netcut.sh). No packet filter is needed.
 *
 * Usage: netns_bridge NETNS PORT[:cut]...
 *
 * NETNS is a network namespace file (/proc/PID/ns/net of a process started
 * with `unshare -n`, its lo up). For each PORT the bridge listens on
 * 127.0.0.1:PORT inside that namespace and relays every connection accepted
 * there to 127.0.0.1:PORT on the host, so a program in the namespace reaches
 * the host's services at the very addresses they advertise. Single-threaded,
 * one poll loop; at most MAX_PAIRS relayed connections (more wait in the
 * listen backlog) with a RELAY_BUF-byte buffer per direction.
 *
 * Signals, each answered by one line on stdout once in effect:
 *   SIGUSR1  cut the ports marked ":cut": their relayed connections stop
 *            moving bytes in both directions (neither read nor written, so
 *            bytes stay in the kernel's socket buffers and no FIN or RST is
 *            sent: to the peers, like a link that drops every packet), and
 *            new connections complete the handshake in the kernel's backlog
 *            but are not accepted or served. Prints "cut PORTS (N held)".
 *   SIGUSR2  heal: relaying resumes on the connections kept open (what the
 *            peers wrote during the cut is delivered late, unless a peer
 *            closed its connection meanwhile: then the other side gets the
 *            close) and the backlog is accepted. Prints "healed".
 *   SIGTERM, SIGINT  close everything, exit 0.
 * Prints "ready" once listening. Unlike dropped packets, the kernel on each
 * side still acknowledges what fits in the held socket's receive buffer, so
 * a sender's TCP retransmission timeout never fires; applications see no
 * answer, as on a real cut.
 *
 * Exit status: 0 after SIGTERM/SIGINT, 1 an error (printed), 2 bad usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_PORTS 8
#define MAX_PAIRS 128
#define RELAY_BUF 16384

typedef struct {
    int fd;
    int port;
    int cuttable;
} listener;

/* One direction of a relayed connection: bytes read from `from`, not yet
 * written to `to`. eof: `from` ended; the write side is shut once drained. */
typedef struct {
    char buf[RELAY_BUF];
    size_t len;
    int eof;
} pipe_dir;

typedef struct {
    int inner, outer; /* accepted in the namespace / connected on the host */
    int li;           /* index of its listener */
    pipe_dir in2out, out2in;
} pair;

static listener lst[MAX_PORTS];
static int nlst;
static pair *pairs[MAX_PAIRS];
static int cut;

static int die(const char *what)
{
    fprintf(stderr, "netns_bridge: %s: %s\n", what, strerror(errno));
    return 1;
}

static int nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static int held(const pair *p)
{
    return cut && lst[p->li].cuttable;
}

static void close_pair(int i)
{
    close(pairs[i]->inner);
    close(pairs[i]->outer);
    free(pairs[i]);
    pairs[i] = NULL;
}

/* Accepts one connection on listener li and connects it to the host. */
static void accept_one(int li)
{
    int slot = -1;
    for (int i = 0; i < MAX_PAIRS && slot < 0; i++)
        if (!pairs[i])
            slot = i;
    if (slot < 0)
        return; /* full: it waits in the backlog */
    int in = accept(lst[li].fd, NULL, NULL);
    if (in < 0)
        return;
    int out = socket(AF_INET, SOCK_STREAM, 0); /* the host namespace: see main() */
    struct sockaddr_in a = loopback(lst[li].port);
    pair *p = out >= 0 ? calloc(1, sizeof *p) : NULL;
    if (!p || connect(out, (struct sockaddr *)&a, sizeof a) < 0 || nonblock(in) < 0 ||
        nonblock(out) < 0) {
        fprintf(stderr, "netns_bridge: port %d: cannot relay a connection: %s\n", lst[li].port,
                strerror(errno));
        if (out >= 0)
            close(out);
        close(in);
        free(p);
        return;
    }
    int one = 1;
    setsockopt(in, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(out, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    p->inner = in;
    p->outer = out;
    p->li = li;
    pairs[slot] = p;
}

/* Moves what it can from `from` through d to `to`. -1: the connection
 * failed (reset or error) and the pair is to be closed. */
static int pump(int from, int to, pipe_dir *d, short rev_from, short rev_to)
{
    if ((rev_from & (POLLIN | POLLHUP | POLLERR)) && !d->eof && d->len < RELAY_BUF) {
        ssize_t n = read(from, d->buf + d->len, RELAY_BUF - d->len);
        if (n > 0)
            d->len += (size_t)n;
        else if (n == 0)
            d->eof = 1;
        else if (errno != EAGAIN && errno != EINTR)
            return -1;
    }
    if ((rev_to & POLLOUT) && d->len > 0) {
        ssize_t n = write(to, d->buf, d->len);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
        if (n > 0) {
            memmove(d->buf, d->buf + n, d->len - (size_t)n);
            d->len -= (size_t)n;
        }
    }
    if (d->eof == 1 && d->len == 0) {
        shutdown(to, SHUT_WR);
        d->eof = 2; /* passed on */
    }
    return 0;
}

static void report_cut(void)
{
    int n = 0;
    for (int i = 0; i < MAX_PAIRS; i++)
        n += pairs[i] && held(pairs[i]);
    printf("cut");
    for (int i = 0; i < nlst; i++)
        if (lst[i].cuttable)
            printf(" %d", lst[i].port);
    printf(" (%d held)\n", n);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc - 2 > MAX_PORTS) {
        fprintf(stderr, "usage: netns_bridge NETNS PORT[:cut]... (at most %d ports)\n", MAX_PORTS);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        char *end;
        long port = strtol(argv[i], &end, 10);
        int cuttable = strcmp(end, ":cut") == 0;
        if (port < 1 || port > 65535 || (*end && !cuttable)) {
            fprintf(stderr, "netns_bridge: '%s' is not PORT or PORT:cut (1..65535)\n", argv[i]);
            return 2;
        }
        lst[nlst].port = (int)port;
        lst[nlst++].cuttable = cuttable;
    }

    /* Listeners are made inside the namespace; every socket made after the
     * switch back (the host-side connections) belongs to the host. */
    int host_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (host_ns < 0)
        return die("/proc/self/ns/net");
    int ns = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (ns < 0)
        return die(argv[1]);
    if (setns(ns, CLONE_NEWNET) < 0)
        return die("setns into the namespace");
    for (int i = 0; i < nlst; i++) {
        struct sockaddr_in a = loopback(lst[i].port);
        int one = 1;
        lst[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (lst[i].fd < 0 || setsockopt(lst[i].fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
            bind(lst[i].fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lst[i].fd, 64) < 0) {
            fprintf(stderr, "netns_bridge: cannot listen on 127.0.0.1:%d in %s: %s\n", lst[i].port,
                    argv[1], strerror(errno));
            return 1;
        }
    }
    if (setns(host_ns, CLONE_NEWNET) < 0)
        return die("setns back to the host");
    close(ns);
    close(host_ns);

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGUSR1);
    sigaddset(&sigs, SIGUSR2);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    signal(SIGPIPE, SIG_IGN);
    if (sigprocmask(SIG_BLOCK, &sigs, NULL) < 0)
        return die("sigprocmask");
    int sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
    if (sfd < 0)
        return die("signalfd");
    printf("ready\n");
    fflush(stdout);

    /* poll set: the signalfd, the listeners, then two entries per pair. */
    struct pollfd pf[1 + MAX_PORTS + 2 * MAX_PAIRS];
    int at[MAX_PAIRS]; /* index in pf of pair i's inner entry, or -1 */
    for (;;) {
        int n = 0;
        pf[n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
        for (int i = 0; i < nlst; i++)
            pf[n++] =
                (struct pollfd){.fd = (cut && lst[i].cuttable) ? -1 : lst[i].fd, .events = POLLIN};
        for (int i = 0; i < MAX_PAIRS; i++) {
            pair *p = pairs[i];
            at[i] = -1;
            if (!p || held(p))
                continue; /* a held connection: nothing read, nothing written */
            at[i] = n;
            short ein = (short)((!p->in2out.eof && p->in2out.len < RELAY_BUF ? POLLIN : 0) |
                                (p->out2in.len ? POLLOUT : 0));
            short eout = (short)((!p->out2in.eof && p->out2in.len < RELAY_BUF ? POLLIN : 0) |
                                 (p->in2out.len ? POLLOUT : 0));
            pf[n++] = (struct pollfd){.fd = p->inner, .events = ein};
            pf[n++] = (struct pollfd){.fd = p->outer, .events = eout};
        }
        if (poll(pf, (nfds_t)n, -1) < 0) {
            if (errno == EINTR)
                continue;
            return die("poll");
        }
        if (pf[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) != (ssize_t)sizeof si)
                return die("signalfd read");
            if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
                break;
            cut = si.ssi_signo == SIGUSR1;
            if (cut) {
                report_cut();
            } else {
                printf("healed\n");
                fflush(stdout);
            }
            continue; /* the poll set changes */
        }
        for (int i = 0; i < nlst; i++)
            if (pf[1 + i].revents & POLLIN)
                accept_one(i);
        for (int i = 0; i < MAX_PAIRS; i++) {
            if (at[i] < 0 || !pairs[i])
                continue;
            pair *p = pairs[i];
            short rin = pf[at[i]].revents, rout = pf[at[i] + 1].revents;
            if (((rin | rout) & POLLERR) || pump(p->inner, p->outer, &p->in2out, rin, rout) < 0 ||
                pump(p->outer, p->inner, &p->out2in, rout, rin) < 0 ||
                (p->in2out.eof == 2 && p->out2in.eof == 2))
                close_pair(i);
        }
    }
    for (int i = 0; i < MAX_PAIRS; i++)
        if (pairs[i])
            close_pair(i);
    for (int i = 0; i < nlst; i++)
        close(lst[i].fd);
    close(sfd);
    return 0;
}
