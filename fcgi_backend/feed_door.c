/* The feed's listen socket and handshake checks: see feed_door.h. */
#include "feed_door.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "http.h"
#include "http_head.h"
#include "log.h"
#include "origin.h"
#include "wharfd.h"

/* First buffer for a head; it doubles up to WHARFD_FEED_HEAD_MAX + 1. */
#define DOOR_BUF_FIRST 2048

/* A client admitted by the door, until its handshake takes it. */
struct feed_waiting {
    int fd;
    struct feed_client *c;
    struct feed_waiting *next;
};

/* What the door answers a refused head. */
struct door_refusal {
    int status;
    const char *code;
    const char *message;
    char www_authenticate[384];
    const char *extra; /* more header lines, CRLF-ended, or NULL */
};

static void
door_answer(int fd, const struct door_refusal *r)
{
    char head[1024], *body;
    int n;

    body = wharfd_http_error_body(r->code, r->message);
    if (body == NULL) {
        return;
    }
    n = snprintf(head, sizeof(head),
                 "HTTP/1.1 %d %s\r\n"
                 "Content-Type: application/json\r\n"
                 "Content-Length: %zu\r\n"
                 "Cache-Control: no-store\r\n"
                 "Connection: close\r\n"
                 "%s%s%s%s\r\n",
                 r->status, wharfd_http_reason(r->status), strlen(body),
                 r->www_authenticate[0] ? "WWW-Authenticate: " : "",
                 r->www_authenticate, r->www_authenticate[0] ? "\r\n" : "",
                 r->extra ? r->extra : "");
    /* a fresh socket's buffer takes this much at once; a client that
     * does not read it loses its answer, nothing else */
    if (n > 0 && (size_t) n < sizeof(head)
        && send(fd, head, (size_t) n, MSG_NOSIGNAL) == n) {
        (void) !send(fd, body, strlen(body), MSG_NOSIGNAL);
    }
    free(body);
}

static int
door_refuse(int fd, struct door_refusal *r, int status, const char *code,
            const char *message)
{
    r->status = status;
    r->code = code;
    r->message = message;
    wharf_info("feed: refused %d %s: %s", status, code, message);
    door_answer(fd, r);
    return -1;
}

/* A field's value as a C string (malloc'd; several fields of the same
 * name joined with ", ", as RFC 9110 section 5.3 allows for lists). NULL
 * when there is none, or out of memory (*oom). */
static char *
door_field(const struct wharf_http_head *h, const char *name, int *oom)
{
    size_t i, n = strlen(name), len = 0;
    char *out = NULL, *bigger;

    for (i = 0; i < h->nfields; i++) {
        const struct wharf_http_field *f = &h->field[i];

        if (f->name_len != n || strncasecmp(f->name, name, n) != 0) {
            continue;
        }
        bigger = realloc(out, len + f->value_len + 3);
        if (bigger == NULL) {
            free(out);
            *oom = 1;
            return NULL;
        }
        out = bigger;
        if (len > 0) {
            memcpy(out + len, ", ", 2);
            len += 2;
        }
        memcpy(out + len, f->value, f->value_len);
        len += f->value_len;
        out[len] = '\0';
    }
    return out;
}

/* 1 when a comma-separated field value holds token (any case). */
static int
door_list_has(const struct wharf_http_head *h, const char *name,
              const char *token)
{
    size_t i, n = strlen(name), t = strlen(token), k;

    for (i = 0; i < h->nfields; i++) {
        const struct wharf_http_field *f = &h->field[i];

        if (f->name_len != n || strncasecmp(f->name, name, n) != 0) {
            continue;
        }
        for (k = 0; k + t <= f->value_len; k++) {
            if (strncasecmp(f->value + k, token, t) == 0
                && (k == 0 || f->value[k - 1] == ',' || f->value[k - 1] == ' ')
                && (k + t == f->value_len || f->value[k + t] == ','
                    || f->value[k + t] == ' ')) {
                return 1;
            }
        }
    }
    return 0;
}

/* common/origin.h's rule, the agent's too: a page may open the feed from
 * an origin in --ws-origins or, without the flag, from the host the
 * browser addressed (its Host header). */
static int
door_origin_allowed(struct wharfd *wd, const struct wharf_http_head *h,
                    const struct wharf_http_field *origin)
{
    const struct wharf_http_field *host;
    char o[512], hv[300];

    if (origin->value_len >= sizeof(o)) {
        return 0;
    }
    memcpy(o, origin->value, origin->value_len);
    o[origin->value_len] = '\0';
    hv[0] = '\0';
    if (wharf_http_head_find(h, "Host", &host) > 0
        && host->value_len < sizeof(hv)) {
        memcpy(hv, host->value, host->value_len);
        hv[host->value_len] = '\0';
    }
    return wharf_origin_allowed(o, wd->config.ws_origins, hv);
}

/* Appends [p, p+n) to the head being rebuilt. */
static void
door_put(char *out, size_t *at, const char *p, size_t n)
{
    memcpy(out + *at, p, n);
    *at += n;
}

/*
 * The head libwebsockets gets: the same request, without its
 * credentials: access_token out of the query, no Authorization, and
 * Sec-WebSocket-Protocol without the bearer token (omitted when nothing
 * else is left). out has room for the original head.
 */
static size_t
door_rebuild(const struct wharf_http_head *h, const char *protocols_rest,
             char *out)
{
    const char *q = memchr(h->target, '?', h->target_len), *end, *param;
    size_t at = 0, i, plen;
    int first = 1;

    door_put(out, &at, h->method, h->method_len);
    door_put(out, &at, " ", 1);
    plen = q ? (size_t) (q - h->target) : h->target_len;
    door_put(out, &at, h->target, plen);
    for (param = q ? q + 1 : NULL; param != NULL;
         param = end < h->target + h->target_len ? end + 1 : NULL) {
        end = memchr(param, '&', (size_t) (h->target + h->target_len - param));
        if (end == NULL) {
            end = h->target + h->target_len;
        }
        if (end == param
            || ((size_t) (end - param) >= 12
                && strncmp(param, "access_token", 12) == 0
                && (param + 12 == end || param[12] == '='))) {
            continue;
        }
        door_put(out, &at, first ? "?" : "&", 1);
        door_put(out, &at, param, (size_t) (end - param));
        first = 0;
    }
    door_put(out, &at, " ", 1);
    door_put(out, &at, h->version, h->version_len);
    door_put(out, &at, "\r\n", 2);
    for (i = 0; i < h->nfields; i++) {
        const struct wharf_http_field *f = &h->field[i];

        if ((f->name_len == 13
             && strncasecmp(f->name, "Authorization", 13) == 0)
            || (f->name_len == 22
                && strncasecmp(f->name, "Sec-WebSocket-Protocol", 22) == 0)) {
            continue;
        }
        door_put(out, &at, f->name, f->name_len);
        door_put(out, &at, ": ", 2);
        door_put(out, &at, f->value, f->value_len);
        door_put(out, &at, "\r\n", 2);
    }
    if (protocols_rest != NULL && protocols_rest[0] != '\0') {
        door_put(out, &at, "Sec-WebSocket-Protocol: ", 24);
        door_put(out, &at, protocols_rest, strlen(protocols_rest));
        door_put(out, &at, "\r\n", 2);
    }
    door_put(out, &at, "\r\n", 2);
    return at;
}

/* Hands the connection, its head rebuilt, to libwebsockets, with the
 * client waiting for it. */
static void
door_hand_over(struct wharfd *wd, int fd, const struct wharf_http_head *h,
               const char *protocols_rest, const char *rest, size_t rest_len,
               size_t head_len, struct feed_client *c)
{
    struct wharfd_feed *f = &wd->feed;
    struct feed_waiting *w = calloc(1, sizeof(*w));
    /* the rebuilt head is at most one byte longer per field (": ") */
    char *head = malloc(head_len + h->nfields + rest_len + 64);
    size_t n;
    int fd2;

    fd2 = w && head ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
    if (fd2 < 0) {
        wharf_error("feed: cannot take a connection: %s", strerror(errno));
        free(w);
        free(head);
        feed_client_discard(c);
        return;
    }
    n = door_rebuild(h, protocols_rest, head);
    memcpy(head + n, rest, rest_len); /* bytes sent after the head */
    w->fd = fd2;
    w->c = c;
    w->next = f->waiting;
    f->waiting = w;
    /* may run the handshake at once, which takes the client */
    if (lws_adopt_socket_readbuf(f->ctx, fd2, head, n + rest_len) == NULL) {
        /* lws closed fd2 */
        c = feed_door_waiting(wd, fd2, 1);
        if (c != NULL) {
            feed_client_discard(c);
        }
    }
    free(head);
}

/* A whole head has arrived: checks it, then refuses or hands it over.
 * Returns -1: the door's descriptor closes either way. */
static int
door_admit(struct wharfd *wd, int fd, char *buf, size_t head_len, size_t len)
{
    struct door_refusal r;
    struct wharf_http_head h;
    const struct wharf_http_field *origin, *auth;
    struct wharfd_call call;
    struct feed_client *c;
    char *query = NULL, *protocols = NULL, *authorization = NULL;
    const char *q;
    size_t plen;
    int nauth, oom = 0;

    memset(&r, 0, sizeof(r));
    if (wharf_http_head_parse(buf, head_len, &h) != 0) {
        return door_refuse(fd, &r, 400, "bad_request",
                           "malformed request head");
    }
    q = memchr(h.target, '?', h.target_len);
    plen = q ? (size_t) (q - h.target) : h.target_len;
    if (plen < 14 || strncmp(h.target, "/ws/monitoring", 14) != 0
        || (plen > 14 && h.target[14] != '/')) {
        return door_refuse(fd, &r, 404, "not_found", "no feed at this path");
    }
    if (!door_list_has(&h, "Upgrade", "websocket") || h.method_len != 3
        || memcmp(h.method, "GET", 3) != 0) {
        r.extra = "Upgrade: websocket\r\n";
        return door_refuse(fd, &r, 426, "upgrade_required",
                           "the feed is a WebSocket: GET with Upgrade: "
                           "websocket");
    }
    if (wharf_http_head_find(&h, "Origin", &origin) > 0
        && !door_origin_allowed(wd, &h, origin)) {
        return door_refuse(fd, &r, 403, "origin_not_allowed",
                           "this Origin may not open the feed");
    }

    nauth = wharf_http_head_find(&h, "Authorization", &auth);
    if (auth != NULL) {
        authorization = strndup(auth->value, auth->value_len);
        oom |= authorization == NULL;
    }
    if (q != NULL) {
        query = strndup(q + 1, h.target_len - plen - 1);
        oom |= query == NULL;
    }
    protocols = door_field(&h, "Sec-WebSocket-Protocol", &oom);
    if (oom) {
        door_refuse(fd, &r, 500, "internal", "out of memory");
        goto done;
    }
    wharfd_auth_request(wd, &call, authorization, query, protocols);
    if (nauth > 1) {
        call.authed = 0;
        call.refusal = WHARFD_AUTH_TWO;
        call.why = "more than one Authorization header";
    }
    if (!call.authed) {
        wharfd_auth_challenge(&call, NULL, r.www_authenticate,
                              sizeof(r.www_authenticate));
        if (call.refusal == WHARFD_AUTH_TWO) {
            door_refuse(fd, &r, 400, "invalid_request", call.why);
        } else {
            door_refuse(fd, &r, 401, "unauthorized",
                        call.why ? call.why : "no bearer token");
        }
        goto done;
    }
    if (!(call.claims.scopes & WHARF_SCOPE_READ)) {
        wharfd_auth_challenge(&call, "read", r.www_authenticate,
                              sizeof(r.www_authenticate));
        door_refuse(fd, &r, 403, "forbidden",
                    "the token lacks the 'read' scope");
        goto done;
    }
    c = feed_client_new(wd, &call);
    if (c == NULL) {
        door_refuse(fd, &r, 500, "internal", "out of memory");
        goto done;
    }
    /* Of the subprotocols offered, libwebsockets sees only the feed's
     * own: never the token (so it cannot be selected and echoed), and no
     * unknown one (it would drop the handshake without an answer). */
    door_hand_over(
        wd, fd, &h,
        door_list_has(&h, "Sec-WebSocket-Protocol", FEED_PROTOCOL_NAME)
            ? FEED_PROTOCOL_NAME
            : NULL,
        buf + head_len, len - head_len, head_len, c);
done:
    free(authorization);
    free(query);
    free(protocols);
    return -1;
}

/* The listen socket is readable: takes every waiting connection. */
static void
door_accept(struct wharfd *wd, int lfd)
{
    lws_sock_file_fd_type u;
    struct lws *w;
    int fd;

    for (;;) {
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR
                && errno != ECONNABORTED) {
                wharf_warn("feed: accept: %s", strerror(errno));
            }
            return;
        }
        u.filefd = (lws_filefd_type) (intptr_t) fd;
        w = lws_adopt_descriptor_vhost(
            lws_get_vhost_by_name(wd->feed.ctx, "default"),
            LWS_ADOPT_RAW_FILE_DESC, u, "wharf-feed-door", NULL);
        if (w == NULL) {
            close(fd);
            continue;
        }
        /* a head that does not arrive in time is dropped */
        lws_set_timeout(w, PENDING_TIMEOUT_USER_OK, WHARFD_FEED_HEAD_TIMEOUT);
    }
}

/* Reads what arrived of a head; -1 when the descriptor is done. */
static int
door_read(struct wharfd *wd, struct feed_door_conn *dc, int fd)
{
    struct door_refusal r;
    size_t cap, head_len;
    char *bigger;
    ssize_t n;

    if (dc->len == dc->cap) {
        if (dc->cap > WHARFD_FEED_HEAD_MAX) {
            /* full, and the head not over: the head is longer than the
             * limit (checked below, so this is not reached) */
            return -1;
        }
        cap = dc->cap ? dc->cap * 2 : DOOR_BUF_FIRST;
        if (cap > WHARFD_FEED_HEAD_MAX + 1) {
            cap = WHARFD_FEED_HEAD_MAX + 1;
        }
        bigger = realloc(dc->buf, cap);
        if (bigger == NULL) {
            return -1;
        }
        dc->buf = bigger;
        dc->cap = cap;
    }
    n = recv(fd, dc->buf + dc->len, dc->cap - dc->len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return 0;
    }
    if (n <= 0) {
        return -1; /* gone before its head was whole */
    }
    dc->len += (size_t) n;
    head_len = wharf_http_head_len(dc->buf, dc->len);
    if (head_len > WHARFD_FEED_HEAD_MAX
        || (head_len == 0 && dc->len > WHARFD_FEED_HEAD_MAX)) {
        memset(&r, 0, sizeof(r));
        return door_refuse(fd, &r, 431, "header_too_large",
                           "the request head is over the feed's "
                           "WHARFD_FEED_HEAD_MAX (32 KiB)");
    }
    if (head_len == 0) {
        return 0; /* more to come */
    }
    return door_admit(wd, fd, dc->buf, head_len, dc->len);
}

int
feed_door_callback(struct lws *wsi, enum lws_callback_reasons reason,
                   void *user, void *in, size_t len)
{
    struct wharfd *wd = lws_context_user(lws_get_context(wsi));
    struct feed_door_conn *dc = user;
    int fd = (int) (intptr_t) lws_get_socket_fd(wsi);

    (void) in;
    (void) len;
    switch (reason) {
    case LWS_CALLBACK_RAW_ADOPT_FILE:
        if (dc != NULL) {
            memset(dc, 0, sizeof(*dc));
            dc->listener = fd == wd->feed.listen_fd;
        }
        return 0;
    case LWS_CALLBACK_RAW_RX_FILE:
        if (dc == NULL) {
            return -1;
        }
        if (dc->listener) {
            door_accept(wd, fd);
            return 0;
        }
        return door_read(wd, dc, fd);
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        if (dc != NULL) {
            free(dc->buf);
            dc->buf = NULL;
        }
        return 0;
    default:
        return 0;
    }
}

int
feed_door_open(struct wharfd *wd)
{
    const struct wharfd_listen *a = &wd->config.ws_listen;
    struct sockaddr_in sin;
    lws_sock_file_fd_type u;
    int fd, one = 1;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t) a->port);
    inet_pton(AF_INET, a->host, &sin.sin_addr);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        wharf_error("--ws-listen %s: socket: %s", a->text, strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *) &sin, sizeof(sin)) != 0
        || listen(fd, 128) != 0) {
        wharf_error("--ws-listen %s: %s", a->text, strerror(errno));
        close(fd);
        return -1;
    }
    wd->feed.listen_fd = fd;
    u.filefd = (lws_filefd_type) (intptr_t) fd;
    if (lws_adopt_descriptor_vhost(
            lws_get_vhost_by_name(wd->feed.ctx, "default"),
            LWS_ADOPT_RAW_FILE_DESC, u, "wharf-feed-door", NULL)
        == NULL) {
        /* lws closed fd */
        wd->feed.listen_fd = -1;
        wharf_error("--ws-listen %s: cannot watch the socket", a->text);
        return -1;
    }
    return 0;
}

struct feed_client *
feed_door_waiting(struct wharfd *wd, int fd, int take)
{
    struct feed_waiting **pp, *w;
    struct feed_client *c;

    for (pp = &wd->feed.waiting; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->fd == fd) {
            if (!take) {
                return (*pp)->c;
            }
            w = *pp;
            *pp = w->next;
            c = w->c;
            free(w);
            return c;
        }
    }
    return NULL;
}

void
feed_door_close(struct wharfd *wd)
{
    struct feed_waiting *w;

    while ((w = wd->feed.waiting) != NULL) {
        wd->feed.waiting = w->next;
        feed_client_discard(w->c);
        free(w);
    }
}
