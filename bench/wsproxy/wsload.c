/*
 * wsload: the WebSocket load client of the wsproxy benchmark.
 *
 *   wsload --port P [--host 127.0.0.1] [--path /echo] [--header "K: V"]...
 *          [--mode echo|handshake|idle] [--conns N] [--size BYTES]
 *          [--duration S] [--warmup S] [--count N] [--pid PID]
 *
 *   echo       N connections, each with one message in flight: send a
 *              masked binary frame of SIZE bytes (1 B to 1 MiB), wait for
 *              its echo, again; for --duration, or until --count echoes in
 *              all
 *   handshake  N connection slots, each in a loop: connect, upgrade (101
 *              and Sec-WebSocket-Accept checked), close frame, wait for the
 *              server to close; for --duration, or until --count of them
 *   idle       open N sessions, echo one message on each, print "ready",
 *              then hold them until SIGTERM or SIGINT
 *
 * One thread, epoll. Prints one JSON line: counts, seconds, rate, and, with
 * --pid, the CPU time that process used during the measurement, from
 * /proc/PID/stat (utime + stime, clock ticks) and /proc/PID/schedstat
 * (nanoseconds), plus this client's own CPU time, to show it was not the
 * bottleneck.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IN_SIZE  (16 * 1024)
#define MAX_HDRS 8

/* the largest message: a 64 KiB one needs the 64-bit length form */
#define SIZE_MAX_MSG (1024 * 1024)

enum {
    CONNECTING,
    UPGRADING,
    OPEN,
    CLOSING,
    HOLDING
};
enum {
    MODE_ECHO,
    MODE_HANDSHAKE,
    MODE_IDLE
};

struct conn {
    int fd;
    int state;
    int want_out;
    size_t in_len;
    size_t out_off;
    const unsigned char *out;
    size_t out_len;
    char accept[32];
    char req[8192];
    size_t req_len;
    unsigned char *in; /* in_cap bytes: a whole echoed frame fits */
    size_t in_cap;
};

static struct {
    const char *host, *path, *headers[MAX_HDRS];
    int port, nheaders, mode, conns, size, pid;
    long long count;
    double duration, warmup;
} opt = { "127.0.0.1", "/echo", { 0 }, 0, 0, MODE_ECHO, 1, 64, 0, 0, 5, 1 };

static int ep;
static unsigned char *frame;
static size_t frame_len;
static unsigned char close_frame[8] = {
    0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe8 ^ 2 /* masked close 1000 */
};
static int measuring, stop_flag;
static long long messages, handshakes, errors, opened;

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* CPU of a process: utime+stime in us (stat), run time in ns (schedstat) */
static void
proc_cpu(int pid, long long *stat_us, long long *sched_ns)
{
    char path[64], buf[2048], *p;
    FILE *f;
    long long ut = 0, st = 0;

    *stat_us = *sched_ns = -1;
    if (pid <= 0)
        return;
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    if ((f = fopen(path, "r")) != NULL) {
        if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) != NULL) {
            /* fields after ")": 3 state ... 14 utime 15 stime */
            if (sscanf(p + 2,
                       "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u"
                       " %lld %lld",
                       &ut, &st)
                == 2) {
                *stat_us = (ut + st) * (1000000LL / sysconf(_SC_CLK_TCK));
            }
        }
        fclose(f);
    }
    snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
    if ((f = fopen(path, "r")) != NULL) {
        if (fscanf(f, "%lld", sched_ns) != 1)
            *sched_ns = -1;
        fclose(f);
    }
}

static long long
self_cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (long long) ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec
        + (long long) ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
}

static void
watch(struct conn *c, int out)
{
    struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0),
                              .data.ptr = c };
    if (c->want_out != out) {
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        c->want_out = out;
    }
}

static void conn_start(struct conn *c);

static void
conn_reset(struct conn *c, int failed)
{
    struct linger lg = { 1, 0 };

    if (failed) {
        errors++;

        /* a benchmark with failures measures nothing: stop at the first */
        stop_flag = 1;
    }
    /* the server closed first; no TIME_WAIT left on this side either way */
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    if (opt.mode == MODE_HANDSHAKE && !stop_flag) {
        conn_start(c);
    }
}

static void
conn_start(struct conn *c)
{
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_port = htons((uint16_t) opt.port) };
    struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN, .data.ptr = c };
    unsigned char rnd[16], key[32], md[EVP_MAX_MD_SIZE], cat[128];
    unsigned int mdlen;
    int one = 1, n;

    inet_pton(AF_INET, opt.host, &sa.sin_addr);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->state = CONNECTING;
    c->in_len = 0;
    c->want_out = 1;
    if (connect(c->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0
        && errno != EINPROGRESS) {
        perror("wsload: connect");
        exit(1);
    }
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);

    RAND_bytes(rnd, sizeof(rnd));
    EVP_EncodeBlock(key, rnd, sizeof(rnd));
    n = snprintf((char *) cat, sizeof(cat),
                 "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    EVP_Digest(cat, (size_t) n, md, &mdlen, EVP_sha1(), NULL);
    EVP_EncodeBlock((unsigned char *) c->accept, md, (int) mdlen);

    n = snprintf(c->req, sizeof(c->req),
                 "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                 "Sec-WebSocket-Key: %s\r\n",
                 opt.path, opt.host, opt.port, key);
    for (int i = 0; i < opt.nheaders; i++) {
        n += snprintf(c->req + n, sizeof(c->req) - (size_t) n, "%s\r\n",
                      opt.headers[i]);
    }
    n += snprintf(c->req + n, sizeof(c->req) - (size_t) n, "\r\n");
    c->req_len = (size_t) n;
    c->out = (unsigned char *) c->req;
    c->out_len = c->req_len;
    c->out_off = 0;
}

static void
conn_send(struct conn *c, const unsigned char *p, size_t len)
{
    c->out = p;
    c->out_len = len;
    c->out_off = 0;
    while (c->out_off < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (n < 0) {
            if (errno == EAGAIN) {
                watch(c, 1);
                return;
            }
            conn_reset(c, 1);
            return;
        }
        c->out_off += (size_t) n;
    }
    c->out_len = 0;
    watch(c, 0);
}

/* the 101 answer: 1 when whole and right, 0 when more is needed, -1 bad */
static int
upgraded(struct conn *c)
{
    char *end, *acc;

    c->in[c->in_len < c->in_cap ? c->in_len : c->in_cap - 1] = '\0';
    end = strstr((char *) c->in, "\r\n\r\n");
    if (end == NULL)
        return 0;
    if (strncmp((char *) c->in, "HTTP/1.1 101", 12) != 0) {
        fprintf(stderr, "wsload: not upgraded: %.80s\n", c->in);
        return -1;
    }
    acc = strcasestr((char *) c->in, "\r\nSec-WebSocket-Accept: ");
    if (acc == NULL || strncmp(acc + 24, c->accept, 28) != 0) {
        fprintf(stderr, "wsload: bad Sec-WebSocket-Accept\n");
        return -1;
    }
    end += 4;
    c->in_len -= (size_t) (end - (char *) c->in);
    memmove(c->in, end, c->in_len);
    return 1;
}

/* a whole frame from the server: its length, or 0 */
static size_t
frame_in(struct conn *c, int *op)
{
    size_t h = 2, len;

    if (c->in_len < 2)
        return 0;
    *op = c->in[0] & 0x0f;
    len = c->in[1] & 0x7f;
    if (len == 126) {
        if (c->in_len < 4)
            return 0;
        len = ((size_t) c->in[2] << 8) | c->in[3];
        h = 4;
    } else if (len == 127) {
        if (c->in_len < 10)
            return 0;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = (len << 8) | c->in[2 + i];
        h = 10;
    }
    if (c->in_len < h + len)
        return 0;
    return h + len;
}

static void
on_open(struct conn *c)
{
    c->state = OPEN;
    opened++;
    if (opt.mode == MODE_HANDSHAKE) {
        if (measuring)
            handshakes++;
        if (opt.count && handshakes >= opt.count)
            stop_flag = 1;
        c->state = CLOSING;
        conn_send(c, close_frame, sizeof(close_frame));
    } else {
        conn_send(c, frame, frame_len);
    }
}

static void
on_readable(struct conn *c)
{
    ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - 1 - c->in_len);

    if (n <= 0) {
        if (n < 0 && errno == EAGAIN)
            return;
        conn_reset(c, c->state != CLOSING);
        return;
    }
    c->in_len += (size_t) n;

    if (c->state == UPGRADING) {
        int r = upgraded(c);
        if (r < 0) {
            conn_reset(c, 1);
            return;
        }
        if (r == 0)
            return;
        on_open(c);
        if (c->fd < 0)
            return;
    }
    for (;;) {
        int op;
        size_t len = frame_in(c, &op);
        if (len == 0)
            break;
        memmove(c->in, c->in + len, c->in_len - len);
        c->in_len -= len;
        if (c->state == OPEN && op == 0x2) {
            if (measuring)
                messages++;
            if (opt.count && opt.mode == MODE_ECHO && messages >= opt.count) {
                stop_flag = 1;
                return;
            }
            if (opt.mode == MODE_ECHO)
                conn_send(c, frame, frame_len);
            else
                c->state = HOLDING; /* idle: one echo, then hold */
            if (c->fd < 0)
                return;
        }
    }
}

static void
on_writable(struct conn *c)
{
    if (c->state == CONNECTING) {
        int err = 0;
        socklen_t l = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err) {
            errno = err;
            perror("wsload: connect");
            conn_reset(c, 1);
            return;
        }
        c->state = UPGRADING;
        conn_send(c, (unsigned char *) c->req, c->req_len);
        return;
    }
    if (c->out_len) {
        const unsigned char *p = c->out;
        size_t len = c->out_len, off = c->out_off;
        c->out_len = 0;
        conn_send(c, p + off, len - off);
    } else {
        watch(c, 0);
    }
}

static void
loop(double until)
{
    struct epoll_event evs[512];

    while (!stop_flag && now() < until) {
        int n = epoll_wait(ep, evs, 512, 10);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c->fd < 0)
                continue;
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                on_readable(c);
            if (c->fd >= 0 && (evs[i].events & EPOLLOUT))
                on_writable(c);
        }
    }
}

static void
on_signal(int sig)
{
    (void) sig;
    stop_flag = 1;
}

int
main(int argc, char **argv)
{
    struct rlimit rl = { 1 << 17, 1 << 17 };
    struct conn *cs;
    long long cpu0, cpu1, sch0, sch1, self0, self1;
    double t0, t1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            fprintf(stderr, "wsload: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--host"))
            opt.host = v;
        else if (!strcmp(a, "--port"))
            opt.port = atoi(v);
        else if (!strcmp(a, "--path"))
            opt.path = v;
        else if (!strcmp(a, "--header") && opt.nheaders < MAX_HDRS)
            opt.headers[opt.nheaders++] = v;
        else if (!strcmp(a, "--mode"))
            opt.mode = !strcmp(v, "echo") ? MODE_ECHO
                : !strcmp(v, "handshake") ? MODE_HANDSHAKE
                                          : MODE_IDLE;
        else if (!strcmp(a, "--conns"))
            opt.conns = atoi(v);
        else if (!strcmp(a, "--size"))
            opt.size = atoi(v);
        else if (!strcmp(a, "--duration"))
            opt.duration = atof(v);
        else if (!strcmp(a, "--warmup"))
            opt.warmup = atof(v);
        else if (!strcmp(a, "--pid"))
            opt.pid = atoi(v);
        else if (!strcmp(a, "--count"))
            opt.count = atoll(v);
        else {
            fprintf(stderr, "wsload: unknown flag %s\n", a);
            return 2;
        }
    }
    if (opt.port <= 0 || opt.conns <= 0 || opt.size <= 0
        || opt.size > SIZE_MAX_MSG) {
        fprintf(stderr, "wsload: --port, --conns and --size (1..%d) please\n",
                SIZE_MAX_MSG);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    setrlimit(RLIMIT_NOFILE, &rl);

    /* one masked binary frame, built once: the payload is the same each time */
    frame_len = 2
        + (opt.size >= 65536     ? 8
               : opt.size >= 126 ? 2
                                 : 0)
        + 4 + (size_t) opt.size;
    frame = malloc(frame_len);
    {
        size_t h = 0;
        unsigned char mask[4] = { 0x11, 0x22, 0x33, 0x44 };
        frame[h++] = 0x82;
        if (opt.size >= 65536) {
            frame[h++] = 0x80 | 127;
            for (int i = 7; i >= 0; i--)
                frame[h++] = (unsigned char) ((uint64_t) opt.size >> (8 * i));
        } else if (opt.size >= 126) {
            frame[h++] = 0x80 | 126;
            frame[h++] = (unsigned char) (opt.size >> 8);
            frame[h++] = (unsigned char) opt.size;
        } else {
            frame[h++] = (unsigned char) (0x80 | opt.size);
        }
        memcpy(frame + h, mask, 4);
        h += 4;
        for (int i = 0; i < opt.size; i++) {
            frame[h + (size_t) i] =
                (unsigned char) ('a' + i % 26) ^ mask[i & 3];
        }
    }

    ep = epoll_create1(0);
    cs = calloc((size_t) opt.conns, sizeof(*cs));
    for (int i = 0; i < opt.conns; i++) {
        /* the 101, or one echoed frame (never masked) and the next's start */
        cs[i].in_cap = IN_SIZE + (size_t) opt.size;
        cs[i].in = malloc(cs[i].in_cap);
        if (cs[i].in == NULL) {
            fprintf(stderr, "wsload: out of memory\n");
            return 1;
        }
    }

    /* idle: every session's one echo counts, from the first */
    measuring = opt.mode == MODE_IDLE;

    /* open the connections a few hundred at a time: no SYN flood */
    for (int i = 0; i < opt.conns; i++) {
        conn_start(&cs[i]);
        if (opt.mode != MODE_HANDSHAKE && i % 200 == 199) {
            double until = now() + 5;
            while (opened < i + 1 - 100 && now() < until && !stop_flag) {
                loop(now() + 0.01);
            }
        }
    }
    if (opt.mode == MODE_IDLE) {
        double until = now() + 60;
        while (messages < opt.conns && now() < until && !stop_flag) {
            loop(now() + 0.05);
        }
        printf("ready %lld\n", messages);
        fflush(stdout);
        while (!stop_flag)
            loop(now() + 1);
        printf("{\"mode\":\"idle\",\"conns\":%d,\"echoed\":%lld,"
               "\"errors\":%lld}\n",
               opt.conns, messages, errors);
        return messages == opt.conns ? 0 : 1;
    }

    if (opt.count) {
        /* exactly --count handshakes or echoes, from the first: no warmup */
        opt.warmup = 0;
        opt.duration = 1e9;
        measuring = 1;
    }
    loop(now() + opt.warmup);
    proc_cpu(opt.pid, &cpu0, &sch0);
    self0 = self_cpu_us();
    t0 = now();
    measuring = 1;
    loop(t0 + opt.duration);
    measuring = 0;
    t1 = now();
    proc_cpu(opt.pid, &cpu1, &sch1);
    self1 = self_cpu_us();

    long long n = opt.mode == MODE_ECHO ? messages : handshakes;
    printf("{\"mode\":\"%s\",\"conns\":%d,\"size\":%d,\"count\":%lld,"
           "\"seconds\":%.4f,"
           "\"rate\":%.1f,\"errors\":%lld,\"cpu_us\":%lld,\"sched_ns\":%lld,"
           "\"client_cpu_us\":%lld}\n",
           opt.mode == MODE_ECHO ? "echo" : "handshake", opt.conns, opt.size, n,
           t1 - t0, (double) n / (t1 - t0), errors,
           cpu0 >= 0 ? cpu1 - cpu0 : -1, sch0 >= 0 ? sch1 - sch0 : -1,
           self1 - self0);
    return errors ? 1 : 0;
}
