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
 * block only on our condition variable, and the poller in poll() on an
 * eventfd as well. wharfd_server_stop
 *   1. sets wd->stopping under the lock and wakes every request thread;
 *   2. shutdown(listen_fd): new connections are refused from then on
 *      (nginx answers 502 at once instead of waiting on a backlog);
 *   3. wakes the poller, which closes the idle connections and leaves;
 *   4. joins: request threads serve what is in progress or already
 *      queued, close their connections and leave.
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
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

/* Idle connections the poller watches at most; beyond, new ones wait in
 * the backlog. nginx keeps "keepalive" (8) per worker process. */
#define WHARFD_MAX_IDLE 1024

/* Pause of the accept loop when out of descriptors (EMFILE), so that a
 * listen socket that stays readable does not make the poller spin. */
#define WHARFD_ACCEPT_PAUSE_MS 100

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

int
wharfd_server_open(struct wharfd *wd)
{
    struct wharfd_server *srv = &wd->server;
    const struct wharfd_listen *a = &wd->config.listen;
    struct stat sb;
    mode_t old_mask;

    srv->listen_fd = -1;
    srv->wake_fd = -1;
    srv->addr = *a;
    pthread_mutex_init(&srv->lock, NULL);
    pthread_cond_init(&srv->ready_cond, NULL);
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
    /* The poller accepts until EAGAIN; never blocks on it. */
    fcntl(srv->listen_fd, F_SETFL, fcntl(srv->listen_fd, F_GETFL) | O_NONBLOCK);
    fcntl(srv->listen_fd, F_SETFD, FD_CLOEXEC);

    srv->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (srv->wake_fd < 0) {
        wharf_error("eventfd: %s", strerror(errno));
        return -1;
    }
    return 0;
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
    if (srv->wake_fd >= 0) {
        close(srv->wake_fd);
        srv->wake_fd = -1;
    }
    /* Stopped: the queues are empty (wharfd_server_stop drained them). */
    wharfd_fdq_free(&srv->ready);
    wharfd_fdq_free(&srv->returned);
    pthread_cond_destroy(&srv->ready_cond);
    pthread_mutex_destroy(&srv->lock);
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
        server_quickack(tcp_fd);
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

/* --- poller ---------------------------------------------------------- */

/* The poller's set: [0] the eventfd, [1] the listen socket, then the idle
 * connections. Owned by the poller thread alone. */
struct poll_set {
    struct pollfd *pfd;
    size_t n;
    size_t cap;
};

static int
poll_add(struct poll_set *ps, int fd)
{
    struct pollfd *bigger;
    size_t cap;

    if (ps->n == ps->cap) {
        cap = ps->cap ? ps->cap * 2 : 64;
        bigger = realloc(ps->pfd, cap * sizeof(*bigger));
        if (bigger == NULL) {
            return -1;
        }
        ps->pfd = bigger;
        ps->cap = cap;
    }
    ps->pfd[ps->n].fd = fd;
    ps->pfd[ps->n].events = POLLIN;
    ps->pfd[ps->n].revents = 0;
    ps->n++;
    return 0;
}

/* Queues a connection whose request is arriving, for a request thread. */
static void
server_dispatch(struct wharfd_server *srv, int fd)
{
    pthread_mutex_lock(&srv->lock);
    if (wharfd_fdq_push(&srv->ready, fd) == 0) {
        pthread_cond_signal(&srv->ready_cond);
        fd = -1;
    }
    pthread_mutex_unlock(&srv->lock);
    if (fd >= 0) {
        wharf_error("out of memory queueing a connection; closed");
        close(fd);
    }
}

/* Accepts every pending connection into the idle set, where it waits for
 * its first request like a kept-alive one. Returns 1 when accepting must
 * pause (out of descriptors), else 0. */
static int
server_accept(struct wharfd *wd, struct poll_set *ps)
{
    struct wharfd_server *srv = &wd->server;
    int fd, one = 1;

    while (ps->n - 2 < WHARFD_MAX_IDLE) {
        fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
                || errno == ECONNABORTED) {
                return 0;
            }
            wharf_error("accept on %s: %s", srv->addr.text, strerror(errno));
            return 1;
        }
        if (srv->addr.kind == WHARFD_LISTEN_TCP) {
            /* Small answers go out at once, not after Nagle's delay. */
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        if (poll_add(ps, fd) != 0) {
            close(fd);
            return 1;
        }
    }
    return 0;
}

/* An idle connection has an event: a request (dispatched) or its end. */
static void
server_idle_event(struct wharfd_server *srv, int fd)
{
    char c;
    ssize_t n;

    n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) {
        if (srv->addr.kind == WHARFD_LISTEN_TCP) {
            server_quickack(fd); /* the request's first segments */
        }
        server_dispatch(srv, fd);
    } else {
        close(fd); /* nginx closed it (n == 0), or it failed */
    }
}

static void *
server_poller(void *arg)
{
    struct wharfd *wd = arg;
    struct wharfd_server *srv = &wd->server;
    struct poll_set ps = { NULL, 0, 0 };
    uint64_t wakes;
    int fd, paused = 0, stop = 0;
    size_t i;

    if (poll_add(&ps, srv->wake_fd) != 0
        || poll_add(&ps, srv->listen_fd) != 0) {
        wharf_error("poller: out of memory");
        free(ps.pfd);
        return NULL;
    }

    while (!stop) {
        ps.pfd[1].events = (paused || ps.n - 2 >= WHARFD_MAX_IDLE) ? 0 : POLLIN;
        if (poll(ps.pfd, ps.n, paused ? WHARFD_ACCEPT_PAUSE_MS : -1) < 0) {
            if (errno != EINTR) {
                wharf_error("poll: %s", strerror(errno));
            }
            continue;
        }
        paused = 0;

        /* Idle connections first, from the end: removing one moves the
         * last (already seen) into its place. */
        for (i = ps.n; i-- > 2;) {
            if (ps.pfd[i].revents != 0) {
                fd = ps.pfd[i].fd;
                ps.pfd[i] = ps.pfd[--ps.n];
                server_idle_event(srv, fd);
            }
        }

        if (ps.pfd[0].revents != 0) {
            (void) !read(srv->wake_fd, &wakes, sizeof(wakes));
            pthread_mutex_lock(&srv->lock);
            stop = atomic_load(&wd->stopping);
            while ((fd = wharfd_fdq_pop(&srv->returned)) >= 0) {
                if (stop || poll_add(&ps, fd) != 0) {
                    close(fd);
                }
            }
            pthread_mutex_unlock(&srv->lock);
        }

        if (!stop && (ps.pfd[1].revents & POLLIN)) {
            paused = server_accept(wd, &ps);
        }
    }

    /* Stopping: idle connections are closed; nginx drops them from its
     * pool and opens new ones, refused now, when it next needs one. */
    for (i = 2; i < ps.n; i++) {
        close(ps.pfd[i].fd);
    }
    free(ps.pfd);
    return NULL;
}

/* --- request threads --------------------------------------------------- */

/* The next connection with a request, or -1 when stopping and none is
 * left. Requests that arrived before the stop are still served. */
static int
server_next(struct wharfd *wd)
{
    struct wharfd_server *srv = &wd->server;
    int fd;

    pthread_mutex_lock(&srv->lock);
    while ((fd = wharfd_fdq_pop(&srv->ready)) < 0
           && !atomic_load(&wd->stopping)) {
        pthread_cond_wait(&srv->ready_cond, &srv->lock);
    }
    pthread_mutex_unlock(&srv->lock);
    return fd;
}

/* A connection nginx keeps goes back to the poller; when stopping, or if
 * it cannot be queued, it is closed. */
static void
server_keep(struct wharfd *wd, int fd)
{
    struct wharfd_server *srv = &wd->server;
    uint64_t one = 1;

    pthread_mutex_lock(&srv->lock);
    if (!atomic_load(&wd->stopping)
        && wharfd_fdq_push(&srv->returned, fd) == 0) {
        fd = -1;
    }
    pthread_mutex_unlock(&srv->lock);
    if (fd >= 0) {
        close(fd);
    } else {
        (void) !write(srv->wake_fd, &one, sizeof(one));
    }
}

static void *
server_thread(void *arg)
{
    struct wharfd *wd = arg;
    FCGX_Request fr;
    int fd;

    while ((fd = server_next(wd)) >= 0) {
        /* Hand libfcgi the connection (see the top of this file). */
        FCGX_InitRequest(&fr, -1, 0);
        fr.ipcFd = fd;
        fr.keepConnection = 1;
        if (FCGX_Accept_r(&fr) != 0) {
            /* Closed or not FastCGI: libfcgi has closed it. */
            FCGX_Free(&fr, 1);
            continue;
        }
        if (!server_serve(wd, &fr)) {
            fr.keepConnection = 0;
        }
        /* Ends the request; closes the connection (gracefully: libfcgi
         * shuts down its sending side and reads until nginx closes)
         * unless it is kept, which nginx asks for with FCGI_KEEP_CONN;
         * ipcFd then stays open. */
        FCGX_Finish_r(&fr);
        if (fr.ipcFd >= 0) {
            server_keep(wd, fr.ipcFd);
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
    rc = pthread_create(&srv->poller, NULL, server_poller, wd);
    if (rc != 0) {
        wharf_error("starting the poller thread: %s", strerror(rc));
        return -1;
    }
    pthread_setname_np(srv->poller, "wharfd-poller");
    srv->poller_started = 1;
    return 0;
}

int
wharfd_server_stop(struct wharfd *wd, unsigned grace_s)
{
    struct wharfd_server *srv = &wd->server;
    struct timespec deadline;
    uint64_t one = 1;
    unsigned i, stuck = 0;
    int fd;

    pthread_mutex_lock(&srv->lock);
    atomic_store(&wd->stopping, 1);
    pthread_cond_broadcast(&srv->ready_cond);
    pthread_mutex_unlock(&srv->lock);

    if (srv->listen_fd >= 0 && shutdown(srv->listen_fd, SHUT_RDWR) != 0) {
        wharf_warn("shutdown of the listen socket: %s", strerror(errno));
    }
    if (srv->wake_fd >= 0) {
        (void) !write(srv->wake_fd, &one, sizeof(one));
    }

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += grace_s;
    if (srv->poller_started
        && pthread_timedjoin_np(srv->poller, NULL, &deadline) != 0) {
        stuck++;
    }
    srv->poller_started = 0;
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

    /* Every thread has left: nothing can be queued any more. */
    while ((fd = wharfd_fdq_pop(&srv->returned)) >= 0) {
        close(fd);
    }
    while ((fd = wharfd_fdq_pop(&srv->ready)) >= 0) {
        close(fd);
    }
    return 0;
}
