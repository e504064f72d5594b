/*
 * FastCGI transport on libfcgi (design in server.h).
 *
 * libfcgi reads and writes the FastCGI records; the connections are ours.
 * FCGX_Accept_r serves an already open connection when the request's
 * ipcFd is set (and keepConnection, so that it does not close it first):
 * those two fields are marked internal in fcgiapp.h but are the only way
 * libfcgi offers to serve a connection it did not accept, and they are
 * the same from 2.4.0 to 2.4.7. listen_sock is -1, so should the
 * connection turn out closed, libfcgi's fall-back accept() fails at once
 * instead of blocking.
 *
 * Shutdown. The known libfcgi difficulty, threads blocked in accept() or
 * in a read on a kept-alive connection, does not arise: request threads
 * block only in epoll_wait, and read a connection only once a request
 * (or its end) is there. wharfd_server_stop
 *   1. sets wd->stopping;
 *   2. shutdown(listen_fd): new connections are refused from then on
 *      (nginx answers 502 at once instead of waiting on a backlog);
 *   3. writes stop_fd, which wakes every thread: each finishes the
 *      request it has, if any, closes that connection and leaves;
 *   4. closes the idle connections (those no thread has taken); nginx
 *      drops them from its pool, and opens new ones, refused now, when it
 *      next needs one;
 *   5. joins the threads, then closes what is left.
 * The listen fd is closed only after every thread has been joined.
 *
 * Listen socket. FCGX_OpenSocket creates it, but it exit()s when it cannot
 * bind or resolve, and unlinks whatever file is at a unix socket's path.
 * So the address is checked first (config.c: IPv4 literal, path length;
 * here: a trial bind for TCP, and for unix: no live server and no
 * non-socket file at the path, the directory writable), and errors are
 * reported with a message and exit status 1 instead.
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <fcgios.h>

#include "budget.h"
#include "fcgi_records.h"
#include "http.h"
#include "log.h"
#include "router.h"
#include "wharfd.h"

#define WHARFD_LISTEN_BACKLOG 128

/* Connections open at most (idle or serving a request); beyond, new ones
 * wait in the backlog until one closes. nginx keeps "keepalive" (32,
 * conf/nginx.conf) idle ones per worker process. */
#define WHARFD_MAX_CONNS 1024

/* Pause of accepting when out of descriptors (EMFILE), so that a listen
 * socket that stays readable does not make the threads spin. */
#define WHARFD_ACCEPT_PAUSE_MS 100

/* The most descriptor numbers tracked (struct wharfd_server's conn): the
 * descriptor limit at start, up to this. A connection with a higher
 * number is closed at once. */
#define WHARFD_CONN_FDS_MAX (1u << 20)

/* First allocation for a body of unknown length; grows by doubling. */
#define WHARFD_BODY_CHUNK (16 * 1024)

/* A refused request's body up to this size is read and dropped, so that
 * its connection serves the next request; a longer one is not read and
 * the connection is closed. */
#define WHARFD_DRAIN_MAX (64 * 1024)

/* Largest single FCGX_GetStr (it takes an int). */
#define WHARFD_READ_MAX (1024 * 1024)

/* --- listen socket ---------------------------------------------------- */

static int
server_check_tcp(const struct wharfd_listen *a)
{
    struct sockaddr_in sin;
    int fd, one = 1, rc;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t) a->port);
    inet_pton(AF_INET, a->host, &sin.sin_addr);

    /* A trial bind with the options libfcgi uses: what fails here would
     * make FCGX_OpenSocket exit. */
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        wharf_error("listen %s: socket: %s", a->text, strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    rc = bind(fd, (struct sockaddr *) &sin, sizeof(sin));
    if (rc != 0) {
        wharf_error("listen %s: %s", a->text, strerror(errno));
    }
    close(fd);
    return rc == 0 ? 0 : -1;
}

static int
server_check_unix(const struct wharfd_listen *a)
{
    struct sockaddr_un sun;
    char dir[sizeof(a->path)], *slash;
    struct stat sb;
    int fd, live;

    strcpy(dir, a->path);
    slash = strrchr(dir, '/');
    if (slash == NULL) {
        strcpy(dir, ".");
    } else if (slash == dir) {
        dir[1] = '\0';
    } else {
        *slash = '\0';
    }
    if (access(dir, W_OK | X_OK) != 0) {
        wharf_error("listen %s: directory %s: %s", a->text, dir,
                    strerror(errno));
        return -1;
    }

    if (lstat(a->path, &sb) != 0) {
        return 0; /* nothing there: the usual case */
    }
    if (!S_ISSOCK(sb.st_mode)) {
        wharf_error("listen %s: %s exists and is not a socket; not replacing "
                    "it",
                    a->text, a->path);
        return -1;
    }

    /* A socket file is left by a wharfd that did not exit cleanly, or is
     * in use by a running one: only the first may be replaced. */
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        wharf_error("listen %s: socket: %s", a->text, strerror(errno));
        return -1;
    }
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    strcpy(sun.sun_path, a->path);
    live = connect(fd, (struct sockaddr *) &sun, sizeof(sun)) == 0;
    close(fd);
    if (live) {
        wharf_error("listen %s: another server is listening on %s", a->text,
                    a->path);
        return -1;
    }
    wharf_info("listen %s: replacing stale socket %s", a->text, a->path);
    return 0;
}

/* Registers fd with the epoll instance, one-shot unless level (stop_fd),
 * or re-arms it (mod). */
static int
server_arm(struct wharfd_server *srv, int op, int fd, int oneshot)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN | (oneshot ? EPOLLONESHOT : 0);
    ev.data.fd = fd;
    return epoll_ctl(srv->epoll_fd, op, fd, &ev);
}

/* The epoll instance, its stop and pause descriptors, the table of
 * connections. */
static int
server_open_loop(struct wharfd_server *srv)
{
    struct rlimit rl;

    srv->conn_cap = WHARFD_CONN_FDS_MAX;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
        && rl.rlim_cur < srv->conn_cap) {
        srv->conn_cap = (size_t) rl.rlim_cur;
    }
    /* one byte a descriptor; pages never touched (high numbers) stay
     * unallocated */
    srv->conn = calloc(srv->conn_cap, sizeof(*srv->conn));
    if (srv->conn == NULL) {
        wharf_error("out of memory");
        return -1;
    }
    srv->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    srv->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    srv->pause_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (srv->epoll_fd < 0 || srv->stop_fd < 0 || srv->pause_fd < 0) {
        wharf_error("epoll, eventfd or timerfd: %s", strerror(errno));
        return -1;
    }
    /* The pause timer is registered unarmed (never set) until a pause;
     * the listen socket waits for wharfd_server_start. */
    if (server_arm(srv, EPOLL_CTL_ADD, srv->stop_fd, 0) != 0
        || server_arm(srv, EPOLL_CTL_ADD, srv->pause_fd, 1) != 0) {
        wharf_error("epoll_ctl: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int
wharfd_server_open(struct wharfd *wd)
{
    struct wharfd_server *srv = &wd->server;
    const struct wharfd_listen *a = &wd->config.listen;
    struct stat sb;
    mode_t old_mask;

    srv->listen_fd = -1;
    srv->epoll_fd = -1;
    srv->stop_fd = -1;
    srv->pause_fd = -1;
    srv->addr = *a;
    if (FCGX_Init() != 0) {
        wharf_error("FCGX_Init failed");
        return -1;
    }

    if (a->kind == WHARFD_LISTEN_TCP) {
        if (server_check_tcp(a) != 0) {
            return -1;
        }
        srv->listen_fd = FCGX_OpenSocket(a->text, WHARFD_LISTEN_BACKLOG);
    } else {
        if (server_check_unix(a) != 0) {
            return -1;
        }
        /* The umask gives the socket file its mode as bind creates it:
         * no moment with wider permissions, as a chmod after would. */
        old_mask = umask(0777 & ~(mode_t) wd->config.socket_mode);
        srv->listen_fd = FCGX_OpenSocket(a->path, WHARFD_LISTEN_BACKLOG);
        umask(old_mask);
        if (srv->listen_fd >= 0 && stat(a->path, &sb) == 0) {
            srv->sock_dev = sb.st_dev;
            srv->sock_ino = sb.st_ino;
        }
    }
    if (srv->listen_fd < 0) {
        wharf_error("listen %s: %s", a->text, strerror(errno));
        return -1;
    }
    /* A thread accepts until EAGAIN; never blocks on it. */
    fcntl(srv->listen_fd, F_SETFL, fcntl(srv->listen_fd, F_GETFL) | O_NONBLOCK);
    fcntl(srv->listen_fd, F_SETFD, FD_CLOEXEC);
    return server_open_loop(srv);
}

static void
server_close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

void
wharfd_server_close(struct wharfd *wd)
{
    struct wharfd_server *srv = &wd->server;
    struct stat sb;

    if (srv->listen_fd >= 0) {
        close(srv->listen_fd);
        srv->listen_fd = -1;
        /* Remove the socket file only if it is still the one we made (a
         * newer wharfd may have replaced it). */
        if (srv->addr.kind == WHARFD_LISTEN_UNIX
            && stat(srv->addr.path, &sb) == 0 && sb.st_dev == srv->sock_dev
            && sb.st_ino == srv->sock_ino) {
            unlink(srv->addr.path);
        }
    }
    /* Stopped: no connection is left (wharfd_server_stop closed them). */
    server_close_fd(&srv->epoll_fd);
    server_close_fd(&srv->stop_fd);
    server_close_fd(&srv->pause_fd);
    free((void *) srv->conn);
    srv->conn = NULL;
    free(srv->threads);
    srv->threads = NULL;
    OS_LibShutdown(); /* frees libfcgi's I/O table */
}

/* --- one request ------------------------------------------------------ */

static const char *
param(FCGX_Request *fr, const char *name)
{
    return FCGX_GetParam(name, fr->envp);
}

/* nginx sends a request of several segments on an upstream connection
 * without TCP_NODELAY, so Nagle holds its last segment until this side
 * ACKs what came before; with Linux's delayed ACK (up to 40 ms) every
 * request of more than one segment stalled (measured: a 24 KB storeErrors
 * took ~47 ms, 2.5 ms with quick ACKs). Linux leaves quick-ACK mode by
 * itself, so it is asked for again before each read of a request. */
static void
server_quickack(int fd)
{
    int one = 1;

    if (fd >= 0) {
        (void) setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
    }
}

/*
 * Reads stdin into a NUL-terminated buffer. expect is CONTENT_LENGTH
 * (0 if absent); nothing is read when it is over the limit. Returns -1
 * when out of memory. tcp_fd is the connection when it is TCP (for quick
 * ACKs), else -1.
 */
static int
server_read_body(FCGX_Stream *in, int tcp_fd, size_t expect, size_t limit,
                 char **out, size_t *out_len, int *too_large)
{
    size_t cap, len = 0, want;
    char *buf, *bigger;
    int n;

    *out = NULL;
    *out_len = 0;
    *too_large = 0;
    if (expect > limit) {
        *too_large = 1;
        return 0;
    }

    /* Up to limit + 1 bytes, so that one byte more than allowed is seen
     * even when CONTENT_LENGTH is absent or wrong. */
    cap = expect > 0 ? expect + 1 : WHARFD_BODY_CHUNK;
    if (cap > limit + 1) {
        cap = limit + 1;
    }
    /* counted against the request's memory (budget.h) */
    buf = wharfd_budget_malloc(cap + 1);
    if (buf == NULL) {
        return -1;
    }
    for (;;) {
        if (len == cap) {
            if (cap == limit + 1) {
                break;
            }
            cap = cap > (limit + 1) / 2 ? limit + 1 : cap * 2;
            bigger = wharfd_budget_realloc(buf, cap + 1);
            if (bigger == NULL) {
                wharfd_budget_free(buf);
                return -1;
            }
            buf = bigger;
        }
        want = cap - len < WHARFD_READ_MAX ? cap - len : WHARFD_READ_MAX;
        /* A request without a body (every GET: no CONTENT_LENGTH) ends
         * with an empty stdin record that came with its params: nothing
         * for an ACK to release, and one system call less per request. */
        if (expect > 0 || len > 0) {
            server_quickack(tcp_fd);
        }
        n = FCGX_GetStr(buf + len, (int) want, in);
        if (n <= 0) {
            break;
        }
        len += (size_t) n;
    }
    if (len > limit) {
        wharfd_budget_free(buf);
        *too_large = 1;
        return 0;
    }
    if (len == 0) {
        wharfd_budget_free(buf);
        return 0;
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return 0;
}

static int
server_out(void *arg, const char *buf, size_t len)
{
    FCGX_Stream *out = arg;
    size_t off = 0;
    int n;

    while (off < len) {
        n = FCGX_PutStr(
            buf + off,
            (int) (len - off > WHARFD_READ_MAX ? WHARFD_READ_MAX : len - off),
            out);
        if (n <= 0) {
            return -1; /* the client is gone */
        }
        off += (size_t) n;
    }
    return 0;
}

static void
server_write(FCGX_Request *fr, const struct wharfd_http_request *req,
             struct wharfd_http_response *resp)
{
    char head[1024];
    int n;

    n = snprintf(head, sizeof(head), "Status: %d %s\r\n", resp->status,
                 wharfd_http_reason(resp->status));
    if (resp->allow != NULL) {
        n += snprintf(head + n, sizeof(head) - (size_t) n, "Allow: %s\r\n",
                      resp->allow);
    }
    if (resp->retry_after > 0) {
        n += snprintf(head + n, sizeof(head) - (size_t) n,
                      "Retry-After: %u\r\n", resp->retry_after);
    }
    if (resp->www_authenticate[0] != '\0') {
        n += snprintf(head + n, sizeof(head) - (size_t) n,
                      "WWW-Authenticate: %s\r\n", resp->www_authenticate);
    }
    if (resp->content_type != NULL) {
        n += snprintf(head + n, sizeof(head) - (size_t) n,
                      "Content-Type: %s\r\n", resp->content_type);
    }
    /* RFC 9110: no Content-Length on a 204; none on a stream either
     * (nginx chunks it for the client). */
    if (resp->status != 204 && resp->stream == NULL) {
        n += snprintf(head + n, sizeof(head) - (size_t) n,
                      "Content-Length: %zu\r\n", resp->body_len);
    }
    n += snprintf(head + n, sizeof(head) - (size_t) n,
                  "Cache-Control: no-store\r\n\r\n");

    if (resp->stream != NULL) {
        /* A client gone away makes these fail; nothing more to do then. */
        FCGX_PutStr(head, n, fr->out);
        if (strcmp(req->method, "HEAD") != 0) {
            resp->stream(resp->stream_arg, server_out, fr->out);
        }
        return;
    }

    /* A whole answer: its records in one writev (fcgi_records.h), the
     * end-of-stream and FCGI_END_REQUEST included. libfcgi's out stream
     * is then marked closed (the fields of FCGX_Stream, public in
     * fcgiapp.h), so that FCGX_Finish_r writes nothing more for it; its
     * err stream, never written, adds nothing either. A failed write is
     * left as the stream's error, which makes FCGX_Finish_r close the
     * connection. */
    if (wharfd_fcgi_send(fr->ipcFd, fr->requestId, head, (size_t) n,
                         strcmp(req->method, "HEAD") != 0 ? resp->body : NULL,
                         strcmp(req->method, "HEAD") != 0 ? resp->body_len : 0)
        != 0) {
        fr->out->FCGI_errno = errno != 0 ? errno : EPIPE;
    }
    fr->out->wasFCloseCalled = 1;
    fr->out->isClosed = 1;
}

/* Parses CONTENT_LENGTH: absent or empty is 0; garbage is -1. */
static int
server_content_length(const char *s, size_t *out)
{
    unsigned long long v;
    char *end;

    *out = 0;
    if (s == NULL || *s == '\0') {
        return 0;
    }
    if (*s < '0' || *s > '9') {
        return -1;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > SIZE_MAX / 2) {
        return -1;
    }
    *out = (size_t) v;
    return 0;
}

/*
 * Serves the request read by FCGX_Accept_r. Returns 1 when its body was
 * read to the end, so the connection may serve another request; 0 when
 * it was not (over the limit, bad CONTENT_LENGTH): the rest of it is
 * still on the way, or not even that (nginx stops sending a body once it
 * has the answer), so the connection must be closed, not drained.
 */
static int
server_serve(struct wharfd *wd, FCGX_Request *fr)
{
    struct wharfd_http_request req;
    struct wharfd_http_response resp;
    struct wharfd_routing rt;
    struct wharfd_budget_request budget;
    struct timespec t0, t1;
    const char *uri, *q;
    char *path = NULL, *body = NULL;
    size_t expect;
    int bad_length, tcp_fd, counted = 0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    memset(&req, 0, sizeof(req));
    memset(&resp, 0, sizeof(resp));

    req.method = param(fr, "REQUEST_METHOD");
    if (req.method == NULL) {
        req.method = "";
    }
    req.content_type = param(fr, "CONTENT_TYPE");
    req.authorization = param(fr, "HTTP_AUTHORIZATION");
    req.body_limit = wd->config.body_limit;

    /* The path of REQUEST_URI without the query; REQUEST_URI is what the
     * client sent, before nginx's rewrites. DOCUMENT_URI and SCRIPT_NAME
     * stand in when a server passes no REQUEST_URI. */
    uri = param(fr, "REQUEST_URI");
    if (uri == NULL || *uri == '\0') {
        uri = param(fr, "DOCUMENT_URI");
    }
    if (uri == NULL || *uri == '\0') {
        uri = param(fr, "SCRIPT_NAME");
    }
    if (uri == NULL) {
        uri = "";
    }
    q = strchr(uri, '?');
    path = q ? strndup(uri, (size_t) (q - uri)) : strdup(uri);
    req.path = path;
    req.query = q ? q + 1 : "";

    bad_length = server_content_length(param(fr, "CONTENT_LENGTH"), &expect);
    tcp_fd = wd->server.addr.kind == WHARFD_LISTEN_TCP ? fr->ipcFd : -1;
    if (path == NULL) {
        wharfd_http_error(&resp, 500, "internal", "out of memory");
    } else if (bad_length != 0) {
        wharfd_http_error(&resp, 400, "bad_request",
                          "CONTENT_LENGTH is not a number");
    } else if (wharfd_route_head(wd, &req, &rt, &resp) != 0) {
        /* Refused on its head: the body is not read, let alone parsed.
         * A small one is drained so the connection can serve again. */
        if (server_read_body(fr->in, tcp_fd, expect, WHARFD_DRAIN_MAX, &body,
                             &req.body_len, &req.body_too_large)
                != 0
            || req.body_too_large) {
            req.body_too_large = 1; /* not drained: close */
        }
    } else {
        /* from here on what the request holds is counted (budget.h) */
        wharfd_budget_begin(&budget, wd->config.request_memory_max);
        counted = 1;
        if (server_read_body(fr->in, tcp_fd, expect, wd->config.body_limit,
                             &body, &req.body_len, &req.body_too_large)
            != 0) {
            /* not read to its end: the connection closes */
            req.body_too_large = 1;
            wharfd_route_refuse_memory(&rt, &resp);
        } else {
            req.body = body;
            wharfd_route_run(&rt, &req, &resp);
        }
    }

    server_write(fr, &req, &resp);

    clock_gettime(CLOCK_MONOTONIC, &t1);
    wharf_debug("%s %s -> %d, %zu bytes in, %zu out, %.1f ms", req.method,
                path ? path : "?", resp.status, req.body_len, resp.body_len,
                (double) (t1.tv_sec - t0.tv_sec) * 1e3
                    + (double) (t1.tv_nsec - t0.tv_nsec) / 1e6);

    wharfd_http_response_free(&resp);
    wharfd_budget_free(body);
    free(path);
    if (counted) {
        wharfd_budget_end(&budget);
    }
    return bad_length == 0 && !req.body_too_large;
}

/* --- connections ---------------------------------------------------- */

/* What a descriptor number is (struct wharfd_server's conn). */
enum {
    CONN_NONE = 0, /* not a connection of ours */
    CONN_IDLE,     /* armed in the epoll instance, no thread on it */
    CONN_BUSY      /* a thread owns it (a request, or registering it) */
};

/* Re-arms the listen socket. */
static void
server_accept_on(struct wharfd_server *srv)
{
    if (server_arm(srv, EPOLL_CTL_MOD, srv->listen_fd, 1) != 0) {
        wharf_error("epoll_ctl on %s: %s", srv->addr.text, strerror(errno));
    }
}

/* A connection closed leaves the count, and accepting resumes if it had
 * stopped at WHARFD_MAX_CONNS. */
static void
server_conn_uncount(struct wharfd_server *srv)
{
    atomic_fetch_sub(&srv->conns, 1);
    if (atomic_load(&srv->accept_off)
        && atomic_load(&srv->conns) < WHARFD_MAX_CONNS
        && atomic_exchange(&srv->accept_off, 0)) {
        server_accept_on(srv);
    }
}

/* A connection we owned (BUSY) was closed by libfcgi. Its state goes
 * from BUSY to NONE only if it still is BUSY: once closed, its number
 * may already be a new connection's (whose owner, if any, sets the state
 * again when it is done). */
static void
server_conn_gone(struct wharfd_server *srv, int fd)
{
    unsigned char busy = CONN_BUSY;

    atomic_compare_exchange_strong(&srv->conn[fd], &busy, CONN_NONE);
    server_conn_uncount(srv);
}

/* Closes a connection we own. */
static void
server_conn_close(struct wharfd_server *srv, int fd)
{
    atomic_store(&srv->conn[fd], CONN_NONE); /* before its number is free */
    close(fd);
    server_conn_uncount(srv);
}

/* An idle connection no thread owns is closed, unless a thread took it
 * first (then that thread closes it, stopping). */
static void
server_conn_close_idle(struct wharfd_server *srv, int fd)
{
    unsigned char idle = CONN_IDLE;

    if (atomic_compare_exchange_strong(&srv->conn[fd], &idle, CONN_NONE)) {
        close(fd);
        server_conn_uncount(srv);
    }
}

/* A connection whose request is done, and which nginx keeps, waits for
 * the next one: armed again, or closed when stopping. */
static void
server_conn_idle(struct wharfd *wd, int fd)
{
    struct wharfd_server *srv = &wd->server;

    if (atomic_load(&wd->stopping)) {
        server_conn_close(srv, fd);
        return;
    }
    /* IDLE before armed: a request may arrive, and another thread take
     * it, the moment it is armed. */
    atomic_store(&srv->conn[fd], CONN_IDLE);
    if (server_arm(srv, EPOLL_CTL_MOD, fd, 1) != 0) {
        wharf_error("epoll_ctl: %s; connection closed", strerror(errno));
        server_conn_close_idle(srv, fd);
        return;
    }
    /* The stop began meanwhile and may have passed this one by. */
    if (atomic_load(&wd->stopping)) {
        server_conn_close_idle(srv, fd);
    }
}

/* A new connection: registered to wait for its first request as a
 * kept-alive one waits for its next. */
static void
server_conn_add(struct wharfd *wd, int fd)
{
    struct wharfd_server *srv = &wd->server;
    int one = 1, top;

    if ((size_t) fd >= srv->conn_cap) {
        wharf_error("connection on descriptor %d, over the limit at start "
                    "(%zu); closed",
                    fd, srv->conn_cap);
        close(fd);
        return;
    }
    if (srv->addr.kind == WHARFD_LISTEN_TCP) {
        /* Small answers go out at once, not after Nagle's delay. */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    atomic_fetch_add(&srv->conns, 1);
    top = atomic_load(&srv->conn_top);
    while (fd + 1 > top
           && !atomic_compare_exchange_weak(&srv->conn_top, &top, fd + 1)) {
    }
    atomic_store(&srv->conn[fd], CONN_IDLE); /* before it is armed */
    if (server_arm(srv, EPOLL_CTL_ADD, fd, 1) != 0) {
        wharf_error("epoll_ctl: %s; connection closed", strerror(errno));
        server_conn_close_idle(srv, fd);
    } else if (atomic_load(&wd->stopping)) {
        server_conn_close_idle(srv, fd); /* the stop may have passed it by */
    }
}

/* Accepts every pending connection, then re-arms the listen socket;
 * leaves it unarmed at WHARFD_MAX_CONNS (the next close re-arms it) and,
 * out of descriptors, for WHARFD_ACCEPT_PAUSE_MS (pause_fd re-arms it). */
static void
server_accept(struct wharfd *wd)
{
    struct wharfd_server *srv = &wd->server;
    struct itimerspec pause;
    int fd;

    for (;;) {
        if (atomic_load(&wd->stopping)) {
            return; /* unarmed for good */
        }
        if (atomic_load(&srv->conns) >= WHARFD_MAX_CONNS) {
            /* Stop here; a connection closing meanwhile would not see the
             * flag, hence the second look. */
            atomic_store(&srv->accept_off, 1);
            if (atomic_load(&srv->conns) >= WHARFD_MAX_CONNS
                || !atomic_exchange(&srv->accept_off, 0)) {
                return; /* a close re-arms it (or has) */
            }
            continue;
        }
        fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            server_conn_add(wd, fd);
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
            || errno == ECONNABORTED) {
            break;
        }
        if (atomic_load(&wd->stopping)) {
            return; /* the listen socket is shut down */
        }
        wharf_error("accept on %s: %s", srv->addr.text, strerror(errno));
        memset(&pause, 0, sizeof(pause));
        pause.it_value.tv_nsec = WHARFD_ACCEPT_PAUSE_MS * 1000000L;
        if (timerfd_settime(srv->pause_fd, 0, &pause, NULL) == 0
            && server_arm(srv, EPOLL_CTL_MOD, srv->pause_fd, 1) == 0) {
            return;
        }
        wharf_error("pause timer: %s", strerror(errno));
        break; /* no pause then: accept again when the socket says so */
    }
    server_accept_on(srv);
}

/* A request (or its end) arrived on connection fd: served by this thread,
 * which owns the connection until it is idle again or closed. */
static void
server_conn_request(struct wharfd *wd, int fd)
{
    struct wharfd_server *srv = &wd->server;
    unsigned char idle = CONN_IDLE;
    FCGX_Request fr;

    if ((size_t) fd >= srv->conn_cap
        || !atomic_compare_exchange_strong(&srv->conn[fd], &idle, CONN_BUSY)) {
        return; /* closed by the stop (or not ours): nothing to serve */
    }
    if (srv->addr.kind == WHARFD_LISTEN_TCP) {
        server_quickack(fd); /* the request's first segments */
    }
    /* Hand libfcgi the connection (see the top of this file). */
    FCGX_InitRequest(&fr, -1, 0);
    fr.ipcFd = fd;
    fr.keepConnection = 1;
    if (FCGX_Accept_r(&fr) != 0) {
        /* nginx closed it, or not FastCGI: libfcgi has closed it. */
        FCGX_Free(&fr, 1);
        server_conn_gone(srv, fd);
        return;
    }
    if (!server_serve(wd, &fr)) {
        fr.keepConnection = 0;
    }
    /* Ends the request; closes the connection (gracefully: libfcgi shuts
     * down its sending side and reads until nginx closes) unless it is
     * kept, which nginx asks for with FCGI_KEEP_CONN; ipcFd then stays
     * open. */
    FCGX_Finish_r(&fr);
    if (fr.ipcFd >= 0) {
        server_conn_idle(wd, fd);
    } else {
        server_conn_gone(srv, fd);
    }
}

/* --- request threads --------------------------------------------------- */

static void *
server_thread(void *arg)
{
    struct wharfd *wd = arg;
    struct wharfd_server *srv = &wd->server;
    struct epoll_event ev;
    uint64_t ticks;
    int n;

    for (;;) {
        /* One event at a time: the thread serves it while the others
         * wait for the next. */
        n = epoll_wait(srv->epoll_fd, &ev, 1, -1);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            wharf_error("epoll_wait: %s", strerror(errno));
            break;
        }
        if (n == 0) {
            continue;
        }
        if (ev.data.fd == srv->stop_fd) {
            break; /* level-triggered: the next thread sees it as well */
        } else if (ev.data.fd == srv->listen_fd) {
            server_accept(wd);
        } else if (ev.data.fd == srv->pause_fd) {
            (void) !read(srv->pause_fd, &ticks, sizeof(ticks));
            if (!atomic_load(&wd->stopping)) {
                server_accept_on(srv);
            }
        } else {
            server_conn_request(wd, ev.data.fd);
        }
    }
    return NULL;
}

int
wharfd_server_start(struct wharfd *wd)
{
    struct wharfd_server *srv = &wd->server;
    unsigned i;
    int rc;

    srv->threads = calloc(wd->config.threads, sizeof(*srv->threads));
    if (srv->threads == NULL) {
        wharf_error("out of memory");
        return -1;
    }
    for (i = 0; i < wd->config.threads; i++) {
        rc = pthread_create(&srv->threads[i], NULL, server_thread, wd);
        if (rc != 0) {
            wharf_error("starting request thread %u: %s", i, strerror(rc));
            return -1; /* the caller stops the ones started */
        }
        pthread_setname_np(srv->threads[i], "wharfd-request");
        srv->nthreads++;
    }
    if (server_arm(srv, EPOLL_CTL_ADD, srv->listen_fd, 1) != 0) {
        wharf_error("epoll_ctl on %s: %s", srv->addr.text, strerror(errno));
        return -1;
    }
    return 0;
}

int
wharfd_server_stop(struct wharfd *wd, unsigned grace_s)
{
    struct wharfd_server *srv = &wd->server;
    struct timespec deadline;
    uint64_t one = 1;
    unsigned i, stuck = 0;
    int fd, top;

    atomic_store(&wd->stopping, 1);
    if (srv->listen_fd >= 0 && shutdown(srv->listen_fd, SHUT_RDWR) != 0) {
        wharf_warn("shutdown of the listen socket: %s", strerror(errno));
    }
    if (srv->stop_fd >= 0) {
        (void) !write(srv->stop_fd, &one, sizeof(one));
    }

    /* Idle connections are closed; nginx drops them from its pool and
     * opens new ones, refused now, when it next needs one. Those a thread
     * owns it closes itself when its request is done. */
    top = srv->conn != NULL ? atomic_load(&srv->conn_top) : 0;
    for (fd = 0; fd < top; fd++) {
        server_conn_close_idle(srv, fd);
    }

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += grace_s;
    for (i = 0; i < srv->nthreads; i++) {
        if (pthread_timedjoin_np(srv->threads[i], NULL, &deadline) != 0) {
            stuck++;
        }
    }
    srv->nthreads = 0;
    if (stuck > 0) {
        wharf_error("%u thread(s) still busy after %u s", stuck, grace_s);
        return -1;
    }

    /* Every thread has left: what a race with the stop left registered
     * (a connection accepted or kept just then) is closed here. */
    top = srv->conn != NULL ? atomic_load(&srv->conn_top) : 0;
    for (fd = 0; fd < top; fd++) {
        if (atomic_load(&srv->conn[fd]) != CONN_NONE) {
            server_conn_close(srv, fd);
        }
    }
    return 0;
}
