/*
 * ttyload: the C client of the terminal benchmark (bench/terminal/run.mjs),
 * beside the node `ws` one, so that a run shows the client's own cost apart
 * from wharf's; and the bare-PTY references the benchmark compares with.
 *
 *   ttyload sink --port P --path PATH [--host H] [--protocol P]
 *                [--header "K: V"]...
 *       Opens the WebSocket and reads until the server's close frame:
 *       terminal output bytes (binary frames), seconds (connect to close
 *       frame), MB/s, the data frames' count and sizes, the read() calls
 *       it took. With --protocol wharf.tty.v1 (docs/agent.md) the 101 must
 *       select it, and the exit message (a text frame: the end marker)
 *       must come before the close frame; its text is printed as "exit".
 *   ttyload keys --port P --path PATH [--count N] [--header "K: V"]...
 *       A terminal running a raw-mode `cat` that prints one byte when it is
 *       ready (bench/terminal/run.mjs's echo worker): waits for that byte,
 *       then sends N single-byte frames, each after the previous one's echo
 *       came back; round trips in microseconds: p50, p90, p99, max.
 *   ttyload ceiling -- CMD
 *       The same command as the terminal's, on a PTY read straight from its
 *       master in 64 KiB reads, no server: the throughput ceiling.
 *   ttyload ceiling-batched -- CMD
 *       The same, read the way the agent reads the master (agent/terminal.c,
 *       pty_read()): poll() until readable, then non-blocking reads until
 *       64 KiB are gathered, the master is empty, or a read is small. The
 *       eager reader above wakes for every line-discipline flush (a few
 *       KiB); on a small machine those wake-ups take CPU from the command,
 *       so the agent, which gathers, can outrun it. This one gathers too.
 *   ttyload pty-keys [--count N] -- CMD
 *       Keystroke round trips on a bare PTY running CMD (the echo worker's
 *       command), no server: the floor under the terminal's echo.
 *
 * Every mode prints one JSON line, with this process's own CPU time
 * (client_cpu_us) and, for the PTY modes, the CPU of the command's
 * processes (child_cpu_us), so that a client- or CPU-bound run shows.
 * Blocking I/O on one connection: the simplest client that can be.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_HDRS  8
#define READ_SIZE (256 * 1024)
#define PTY_READ  65536
#define MAX_KEYS  1000000

static struct {
    const char *host, *path, *protocol, *headers[MAX_HDRS];
    int port, nheaders;
    long count;
    char **cmd;
} opt = { "127.0.0.1", NULL, NULL, { 0 }, 0, 0, 2000, NULL };

static unsigned char buf[READ_SIZE];

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static long long
cpu_us(int who)
{
    struct rusage ru;

    getrusage(who, &ru);
    return (long long) ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec
        + (long long) ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
}

static void
die(const char *what)
{
    fprintf(stderr, "ttyload: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void
write_all(int fd, const void *p, size_t len)
{
    const char *c = p;

    while (len > 0) {
        ssize_t n = write(fd, c, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            die("write");
        }
        c += n;
        len -= (size_t) n;
    }
}

/* --- WebSocket --------------------------------------------------------- */

/* Connects and upgrades; what came after the 101 is left in buf[0..*have). */
static int
ws_open(size_t *have)
{
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_port = htons((uint16_t) opt.port) };
    unsigned char rnd[16], key[32], md[EVP_MAX_MD_SIZE], cat[128];
    char req[8192], accept[32], *end, *acc;
    unsigned mdlen;
    size_t len = 0;
    int fd, one = 1, n;

    inet_pton(AF_INET, opt.host, &sa.sin_addr);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
        die("connect");
    }
    /* as the node client (ws sets it) and a browser do */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    RAND_bytes(rnd, sizeof(rnd));
    EVP_EncodeBlock(key, rnd, sizeof(rnd));
    n = snprintf((char *) cat, sizeof(cat),
                 "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    EVP_Digest(cat, (size_t) n, md, &mdlen, EVP_sha1(), NULL);
    EVP_EncodeBlock((unsigned char *) accept, md, (int) mdlen);

    n = snprintf(req, sizeof(req),
                 "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                 "Sec-WebSocket-Key: %s\r\n",
                 opt.path, opt.host, opt.port, key);
    for (int i = 0; i < opt.nheaders; i++) {
        n += snprintf(req + n, sizeof(req) - (size_t) n, "%s\r\n",
                      opt.headers[i]);
    }
    if (opt.protocol != NULL) {
        n += snprintf(req + n, sizeof(req) - (size_t) n,
                      "Sec-WebSocket-Protocol: %s\r\n", opt.protocol);
    }
    n += snprintf(req + n, sizeof(req) - (size_t) n, "\r\n");
    write_all(fd, req, (size_t) n);

    for (;;) {
        ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (r <= 0) {
            fprintf(stderr, "ttyload: connection closed before the 101\n");
            exit(1);
        }
        len += (size_t) r;
        buf[len] = '\0';
        if ((end = strstr((char *) buf, "\r\n\r\n")) != NULL) {
            break;
        }
    }
    if (strncmp((char *) buf, "HTTP/1.1 101", 12) != 0) {
        fprintf(stderr, "ttyload: not upgraded: %.200s\n", buf);
        exit(1);
    }
    acc = strcasestr((char *) buf, "\r\nSec-WebSocket-Accept: ");
    if (acc == NULL || strncmp(acc + 24, accept, 28) != 0) {
        fprintf(stderr, "ttyload: bad Sec-WebSocket-Accept\n");
        exit(1);
    }
    if (opt.protocol != NULL) {
        const char *sel =
            strcasestr((char *) buf, "\r\nSec-WebSocket-Protocol: ");
        size_t plen = strlen(opt.protocol);
        if (sel == NULL || strncmp(sel + 26, opt.protocol, plen) != 0
            || sel[26 + plen] != '\r') {
            fprintf(stderr, "ttyload: the server did not select %s\n",
                    opt.protocol);
            exit(1);
        }
    }
    end += 4;
    *have = len - (size_t) (end - (char *) buf);
    memmove(buf, end, *have);
    return fd;
}

/* Server frames (unmasked), parsed as they stream in: header bytes are
 * gathered across reads. Binary payloads (the terminal's output, in both
 * the raw protocol and wharf.tty.v1) are only counted; a text message
 * (wharf.tty.v1's control messages: the exit message) is kept. */
#define TEXT_MAX 256
struct frames {
    unsigned char hdr[10];
    size_t hlen;
    uint64_t left; /* payload bytes of the current frame still to come */
    int op;
    int data_op; /* the opcode a continuation frame continues */
    int closed;
    char text[TEXT_MAX];
    size_t text_len;
    uint64_t texts;
    uint64_t bytes, frames, min, max;
    unsigned char last; /* last payload byte seen (keys: the echo) */
};

static size_t
header_len(const unsigned char *h, size_t have)
{
    if (have < 2) {
        return 2;
    }
    switch (h[1] & 0x7f) {
    case 126:
        return 4;
    case 127:
        return 10;
    default:
        return 2;
    }
}

static void
frames_feed(struct frames *f, const unsigned char *p, size_t len)
{
    while (len > 0) {
        if (f->left == 0
            && (f->hlen == 0 || f->hlen < header_len(f->hdr, f->hlen))) {
            f->hdr[f->hlen++] = *p++;
            len--;
            if (f->hlen < header_len(f->hdr, f->hlen)) {
                continue;
            }
            f->op = f->hdr[0] & 0x0f;
            f->left = f->hdr[1] & 0x7f;
            if (f->left == 126) {
                f->left = ((uint64_t) f->hdr[2] << 8) | f->hdr[3];
            } else if (f->left == 127) {
                f->left = 0;
                for (int i = 2; i < 10; i++) {
                    f->left = (f->left << 8) | f->hdr[i];
                }
            }
            if (f->op == 1 || f->op == 2) {
                f->data_op = f->op;
            }
            if (f->op == 1) {
                f->texts++;
                f->text_len = 0;
            }
            if (f->op == 2 || (f->op == 0 && f->data_op == 2)) {
                f->frames++;
                f->min = f->frames == 1 || f->left < f->min ? f->left : f->min;
                f->max = f->left > f->max ? f->left : f->max;
            }
            if (f->op == 8) {
                f->closed = 1;
                return;
            }
            if (f->left == 0) {
                f->hlen = 0;
            }
            continue;
        }
        size_t take = len < f->left ? len : (size_t) f->left;
        if (f->op == 2 || (f->op == 0 && f->data_op == 2)) {
            f->bytes += take;
            f->last = p[take - 1];
        } else if (f->op == 1 || f->op == 0) {
            size_t room = TEXT_MAX - 1 - f->text_len;
            size_t keep = take < room ? take : room;
            memcpy(f->text + f->text_len, p, keep);
            f->text_len += keep;
            f->text[f->text_len] = '\0';
        }
        p += take;
        len -= take;
        f->left -= take;
        if (f->left == 0) {
            f->hlen = 0;
        }
    }
}

static int
mode_sink(void)
{
    struct frames f = { 0 };
    long long cpu0 = cpu_us(RUSAGE_SELF);
    double t0 = now(), t1;
    unsigned long long reads = 0;
    size_t have;
    int fd = ws_open(&have);

    frames_feed(&f, buf, have);
    while (!f.closed) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            fprintf(stderr,
                    "ttyload: connection ended without a close "
                    "frame\n");
            return 1;
        }
        reads++;
        frames_feed(&f, buf, (size_t) n);
    }
    t1 = now();
    close(fd);
    if (opt.protocol != NULL && f.texts == 0) {
        fprintf(stderr, "ttyload: closed without the exit message\n");
        return 1;
    }
    for (char *c = f.text; *c; c++) {
        if (*c == '"' || *c == '\\' || (unsigned char) *c < 0x20) {
            *c = '\'';
        }
    }
    printf("{\"mode\":\"sink\",\"exit\":\"%s\",", f.text);
    printf("\"bytes\":%llu,\"seconds\":%.4f,"
           "\"mbps\":%.2f,\"frames\":%llu,\"frame_mean\":%.0f,"
           "\"frame_min\":%llu,\"frame_max\":%llu,\"reads\":%llu,"
           "\"read_mean\":%.0f,\"client_cpu_us\":%lld}\n",
           (unsigned long long) f.bytes, t1 - t0,
           (double) f.bytes / (t1 - t0) / 1e6, (unsigned long long) f.frames,
           f.frames ? (double) f.bytes / (double) f.frames : 0.0,
           (unsigned long long) f.min, (unsigned long long) f.max, reads,
           reads ? (double) f.bytes / (double) reads : 0.0,
           cpu_us(RUSAGE_SELF) - cpu0);
    return 0;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return x < y ? -1 : x > y;
}

static void
print_keys(const char *mode, double *rtt, long n, long long cpu)
{
    qsort(rtt, (size_t) n, sizeof(*rtt), cmp_double);
    printf("{\"mode\":\"%s\",\"keys\":%ld,\"p50_us\":%.1f,\"p90_us\":%.1f,"
           "\"p99_us\":%.1f,\"max_us\":%.1f,\"client_cpu_us\":%lld}\n",
           mode, n, rtt[n / 2] * 1e6, rtt[n * 9 / 10] * 1e6,
           rtt[n * 99 / 100] * 1e6, rtt[n - 1] * 1e6, cpu);
}

/* Reads frames until the payload count passes want. */
static void
wait_bytes(int fd, struct frames *f, uint64_t want)
{
    while (f->bytes < want && !f->closed) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            fprintf(stderr, "ttyload: connection ended\n");
            exit(1);
        }
        frames_feed(f, buf, (size_t) n);
    }
    if (f->closed) {
        fprintf(stderr, "ttyload: the server closed the terminal\n");
        exit(1);
    }
}

static int
mode_keys(void)
{
    /* one masked binary frame with the key 'a' */
    unsigned char key[7] = { 0x82, 0x81, 0x11, 0x22, 0x33, 0x44, 'a' ^ 0x11 };
    struct frames f = { 0 };
    double *rtt = malloc(sizeof(double) * (size_t) opt.count), t;
    long long cpu0;
    size_t have;
    int fd = ws_open(&have);

    frames_feed(&f, buf, have);
    wait_bytes(fd, &f, 1); /* the ready byte: stty has run */
    cpu0 = cpu_us(RUSAGE_SELF);
    for (long i = 0; i < opt.count; i++) {
        uint64_t want = f.bytes + 1;
        t = now();
        write_all(fd, key, sizeof(key));
        wait_bytes(fd, &f, want);
        rtt[i] = now() - t;
    }
    print_keys("keys", rtt, opt.count, cpu_us(RUSAGE_SELF) - cpu0);
    close(fd);
    free(rtt);
    return 0;
}

/* --- bare PTY ---------------------------------------------------------- */

static pid_t
pty_start(int *master)
{
    pid_t pid = forkpty(master, NULL, NULL, NULL);

    if (pid < 0) {
        die("forkpty");
    }
    if (pid == 0) {
        execv("/bin/sh", (char *[]){ "sh", "-c", opt.cmd[0], NULL });
        _exit(127);
    }
    return pid;
}

/* A ceiling run's result line: bytes over seconds, and the mean size of
 * what was read in `units` (reads, or the agent-like chunks). */
static void
ceiling_report(const char *mode, unsigned long long bytes, double seconds,
               unsigned long long reads, const char *mean_name,
               unsigned long long units, long long cpu0, long long child0)
{
    printf("{\"mode\":\"%s\",\"bytes\":%llu,\"seconds\":%.4f,"
           "\"mbps\":%.2f,\"reads\":%llu,\"%s\":%.0f,"
           "\"client_cpu_us\":%lld,\"child_cpu_us\":%lld}\n",
           mode, bytes, seconds, (double) bytes / seconds / 1e6, reads,
           mean_name, units ? (double) bytes / (double) units : 0.0,
           cpu_us(RUSAGE_SELF) - cpu0, cpu_us(RUSAGE_CHILDREN) - child0);
}

static int
mode_ceiling(void)
{
    static unsigned char chunk[PTY_READ];
    unsigned long long bytes = 0, reads = 0;
    long long cpu0 = cpu_us(RUSAGE_SELF), child0 = cpu_us(RUSAGE_CHILDREN);
    double t0 = now(), t1;
    int master, status;
    pid_t pid = pty_start(&master);

    for (;;) {
        ssize_t n = read(master, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break; /* EIO: the slave side is closed */
        }
        bytes += (unsigned long long) n;
        reads++;
    }
    waitpid(pid, &status, 0);
    t1 = now();
    close(master);
    ceiling_report("ceiling", bytes, t1 - t0, reads, "read_mean", reads, cpu0,
                   child0);
    return 0;
}

static int
mode_ceiling_batched(void)
{
    static unsigned char chunk[PTY_READ];
    unsigned long long bytes = 0, reads = 0, chunks = 0;
    long long cpu0 = cpu_us(RUSAGE_SELF), child0 = cpu_us(RUSAGE_CHILDREN);
    double t0 = now(), t1;
    int master, status, end = 0;
    pid_t pid = pty_start(&master);
    struct pollfd pfd = { .fd = master, .events = POLLIN };

    fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
    while (!end) {
        size_t len = 0;
        if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
            die("poll");
        }
        for (;;) {
            ssize_t n = read(master, chunk + len, sizeof(chunk) - len);
            if (n > 0) {
                len += (size_t) n;
                reads++;
                if (len == sizeof(chunk) || n < 256) {
                    break;
                }
                continue;
            }
            if (n < 0 && errno == EINTR) {
                continue;
            }
            end = !(n < 0 && errno == EAGAIN); /* EIO: the slave is closed */
            break;
        }
        bytes += len;
        chunks += len > 0;
    }
    waitpid(pid, &status, 0);
    t1 = now();
    close(master);
    ceiling_report("ceiling-batched", bytes, t1 - t0, reads, "chunk_mean",
                   chunks, cpu0, child0);
    return 0;
}

static int
mode_pty_keys(void)
{
    double *rtt = malloc(sizeof(double) * (size_t) opt.count), t;
    unsigned char c;
    long long cpu0;
    int master, status;
    pid_t pid = pty_start(&master);

    if (read(master, &c, 1) != 1) { /* the ready byte */
        die("read");
    }
    cpu0 = cpu_us(RUSAGE_SELF);
    for (long i = 0; i < opt.count; i++) {
        t = now();
        write_all(master, "a", 1);
        if (read(master, &c, 1) != 1) {
            die("read");
        }
        rtt[i] = now() - t;
    }
    print_keys("pty-keys", rtt, opt.count, cpu_us(RUSAGE_SELF) - cpu0);
    close(master);
    kill(pid, SIGHUP);
    waitpid(pid, &status, 0);
    free(rtt);
    return 0;
}

static int
usage(void)
{
    fprintf(
        stderr,
        "usage: ttyload sink|keys --port P --path PATH [--host H] "
        "[--protocol P] [--header \"K: V\"]... [--count N]\n"
        "       ttyload ceiling|ceiling-batched|pty-keys [--count N] -- CMD\n");
    return 2;
}

int
main(int argc, char **argv)
{
    const char *mode;
    int i;

    if (argc < 2) {
        return usage();
    }
    mode = argv[1];
    for (i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--")) {
            opt.cmd = argv + i + 1;
            break;
        }
        if (v == NULL) {
            return usage();
        }
        i++;
        if (!strcmp(a, "--host")) {
            opt.host = v;
        } else if (!strcmp(a, "--port")) {
            opt.port = atoi(v);
        } else if (!strcmp(a, "--path")) {
            opt.path = v;
        } else if (!strcmp(a, "--protocol")) {
            opt.protocol = v;
        } else if (!strcmp(a, "--header") && opt.nheaders < MAX_HDRS) {
            opt.headers[opt.nheaders++] = v;
        } else if (!strcmp(a, "--count")) {
            opt.count = atol(v);
        } else {
            return usage();
        }
    }
    if (opt.count <= 0 || opt.count > MAX_KEYS) {
        return usage();
    }
    if (!strcmp(mode, "sink") || !strcmp(mode, "keys")) {
        if (opt.port <= 0 || opt.path == NULL) {
            return usage();
        }
        return !strcmp(mode, "sink") ? mode_sink() : mode_keys();
    }
    if (opt.cmd == NULL || opt.cmd[0] == NULL) {
        return usage();
    }
    if (!strcmp(mode, "ceiling")) {
        return mode_ceiling();
    }
    if (!strcmp(mode, "ceiling-batched")) {
        return mode_ceiling_batched();
    }
    if (!strcmp(mode, "pty-keys")) {
        return mode_pty_keys();
    }
    return usage();
}
