
/*
 * wharf: one request to a peer, on nginx's event loop.
 *
 * The module asks two kinds of peers on its own: a worker's agent, for a
 * health probe (a WebSocket handshake, ngx_http_wharf_probe.c), and
 * another gateway, for its sessions (a GET, ngx_http_wharf_fleet.c).
 * Both are one exchange on a connection of its own: connect
 * (ngx_event_connect_peer(), non-blocking), send the whole request, read
 * the answer into one buffer, hand each read to the owner, and close.
 * This file is that exchange, once; what is asked and what an answer
 * must say stay with the owner.
 *
 * The owner makes the request and answer buffers in its pool, sets the
 * two callbacks, and starts the exchange with the peer's address and the
 * log its connection's errors go to:
 *
 *   read(x, closed)    after each read, and once more when the peer
 *                      closed the connection (closed = 1): NGX_AGAIN to
 *                      read on, anything else when the owner has ended
 *                      (or will end) the exchange;
 *   fail(x, reason)    the connection failed (connect, send, recv, the
 *                      answer's limit), with why, as a C string.
 *
 * The owner keeps its timer and its ending: ngx_http_wharf_exchange_close()
 * closes the connection, and setting x->ended stops every later event
 * from reaching the owner before it gets there (a probe ends from a
 * posted event).  Nothing blocks, no thread is used.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_wharf_module.h"


static void ngx_http_wharf_exchange_write_handler(ngx_event_t *wev);
static void ngx_http_wharf_exchange_read_handler(ngx_event_t *rev);
static ngx_int_t ngx_http_wharf_exchange_room(ngx_http_wharf_exchange_t *x);
static void ngx_http_wharf_exchange_fail(ngx_http_wharf_exchange_t *x,
    const char *fmt, ...);


/*
 * Connects to addr, the connection's errors going to log; the request
 * goes when the connection is up.  A connection that cannot even be tried
 * is a failure too: the owner hears of it through fail(), before this
 * returns.
 */

void
ngx_http_wharf_exchange_start(ngx_http_wharf_exchange_t *x, ngx_addr_t *addr,
    ngx_log_t *log)
{
    ngx_int_t          rc;
    ngx_connection_t  *c;

    x->peer.sockaddr = addr->sockaddr;
    x->peer.socklen = addr->socklen;
    x->peer.name = &addr->name;
    x->peer.log = log;
    x->peer.get = ngx_event_get_peer;
    x->peer.log_error = NGX_ERROR_ERR;
    x->state = NGX_HTTP_WHARF_EXCHANGE_CONNECTING;

    rc = ngx_event_connect_peer(&x->peer);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {

        /* the peer's log may have the reason with its errno already */

        ngx_http_wharf_exchange_fail(x, "connect() to %V failed",
                                     x->peer.name);
        return;
    }

    c = x->peer.connection;
    c->data = x;
    c->pool = x->pool;

    c->read->handler = ngx_http_wharf_exchange_read_handler;
    c->write->handler = ngx_http_wharf_exchange_write_handler;

    if (rc == NGX_OK) {

        /* connected at once: the request goes from the event loop */

        ngx_post_event(c->write, &ngx_posted_events);
    }
}


void
ngx_http_wharf_exchange_close(ngx_http_wharf_exchange_t *x)
{
    x->ended = 1;

    if (x->peer.connection) {
        ngx_close_connection(x->peer.connection);
        x->peer.connection = NULL;
    }
}


static void
ngx_http_wharf_exchange_write_handler(ngx_event_t *wev)
{
    int                         err;
    u_char                     *p;
    ssize_t                     n;
    socklen_t                   len;
    ngx_buf_t                  *b;
    ngx_connection_t           *c;
    ngx_http_wharf_exchange_t  *x;
    u_char                      errstr[NGX_MAX_ERROR_STR];

    c = wev->data;
    x = c->data;

    if (x->ended) {
        return;
    }

    if (x->state == NGX_HTTP_WHARF_EXCHANGE_CONNECTING) {

        /* the outcome of a non-blocking connect() */

        err = 0;
        len = sizeof(int);

        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len)
            == -1)
        {
            err = ngx_socket_errno;
        }

        if (err) {
            p = ngx_strerror(err, errstr, sizeof(errstr));

            ngx_http_wharf_exchange_fail(x, "connect() to %V failed (%d: %*s)",
                                         x->peer.name, err,
                                         (size_t) (p - errstr), errstr);
            return;
        }

        x->state = NGX_HTTP_WHARF_EXCHANGE_SENDING;
    }

    if (x->state != NGX_HTTP_WHARF_EXCHANGE_SENDING) {
        return;
    }

    b = x->request;

    while (b->pos < b->last) {

        n = c->send(c, b->pos, b->last - b->pos);

        if (n == NGX_ERROR) {
            ngx_http_wharf_exchange_fail(x, "send() to %V failed",
                                         x->peer.name);
            return;
        }

        if (n == NGX_AGAIN) {
            if (ngx_handle_write_event(wev, 0) != NGX_OK) {
                ngx_http_wharf_exchange_fail(x, "cannot wait to send");
            }

            return;
        }

        b->pos += n;
    }

    x->state = NGX_HTTP_WHARF_EXCHANGE_READING;

    ngx_http_wharf_exchange_read_handler(c->read);
}


static void
ngx_http_wharf_exchange_read_handler(ngx_event_t *rev)
{
    ssize_t                     n;
    ngx_buf_t                  *b;
    ngx_connection_t           *c;
    ngx_http_wharf_exchange_t  *x;

    c = rev->data;
    x = c->data;

    if (x->ended || x->state != NGX_HTTP_WHARF_EXCHANGE_READING) {

        /* the answer cannot come before the question; wait for it */

        return;
    }

    for ( ;; ) {

        if (ngx_http_wharf_exchange_room(x) != NGX_OK) {
            return;
        }

        b = x->response;

        n = c->recv(c, b->last, b->end - b->last);

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(rev, 0) != NGX_OK) {
                ngx_http_wharf_exchange_fail(x, "cannot wait to read");
            }

            return;
        }

        if (n == NGX_ERROR) {
            ngx_http_wharf_exchange_fail(x, "recv() from %V failed",
                                         x->peer.name);
            return;
        }

        if (n == 0) {
            (void) x->read(x, 1);
            return;
        }

        b->last += n;

        if (x->read(x, 0) != NGX_AGAIN) {
            return;
        }
    }
}


/*
 * Room to read into: a full buffer doubles up to response_max (0: it
 * does not grow), else the exchange fails.
 */

static ngx_int_t
ngx_http_wharf_exchange_room(ngx_http_wharf_exchange_t *x)
{
    size_t      size;
    ngx_buf_t  *b, *nb;

    b = x->response;

    if (b->last < b->end) {
        return NGX_OK;
    }

    size = (size_t) (b->end - b->start);

    if (size >= x->response_max) {
        ngx_http_wharf_exchange_fail(x, "the answer is too large (over %uz "
                                     "bytes)", size);
        return NGX_ERROR;
    }

    nb = ngx_create_temp_buf(x->pool, ngx_min(2 * size, x->response_max));
    if (nb == NULL) {
        ngx_http_wharf_exchange_fail(x, "out of memory");
        return NGX_ERROR;
    }

    nb->last = ngx_cpymem(nb->last, b->pos, b->last - b->pos);
    x->response = nb;

    return NGX_OK;
}


static void
ngx_http_wharf_exchange_fail(ngx_http_wharf_exchange_t *x, const char *fmt,
    ...)
{
    u_char   *p;
    va_list   args;
    u_char    reason[NGX_MAX_ERROR_STR];

    va_start(args, fmt);
    p = ngx_vslprintf(reason, reason + sizeof(reason) - 1, fmt, args);
    va_end(args);

    *p = '\0';

    x->ended = 1;
    x->fail(x, (const char *) reason);
}
