
/*
 * wharf: the balancer's peer for a live worker, and its sessions' end.
 *
 * A wharf_worker's requests go to its own upstream{} block, whose method
 * and keepalive nginx runs (ngx_http_wharf_balancer.c).  A live worker has
 * no block: nginx cannot add one at run time.  Its requests go to the one
 * address of its entry, through the peer below, which keeps connections
 * alive as nginx's keepalive module does for a block: idle connections to
 * the worker, per nginx worker process, up to wharf_live_keepalive, each
 * closed after wharf_live_keepalive_timeout idle, or after
 * NGX_HTTP_WHARF_LIVE_REQUESTS requests or NGX_HTTP_WHARF_LIVE_TIME ms.
 * They belong to the process's copy of the worker (ngx_http_wharf_peer_t),
 * so they are per address: a copy replaced by one at the same address
 * hands them over, one at another address closes them.  A request is
 * tried once: the worker has one address.
 *
 * Removing a live worker ends its WebSocket sessions, with a close frame
 * (1001, "worker NAME was removed") that tells the client why, rather than
 * leaving terminals open to a worker nobody can reach any more.  nginx's
 * proxy relays the tunnel's bytes without knowing its frames, and a close
 * frame written in the middle of one would break the stream.  So the
 * session tracks where the frames it sent the client end, from the bytes
 * themselves: the client connection's send() is wrapped, and it is the
 * only function nginx writes a tunnel to the client with
 * (ngx_http_upstream_process_upgraded(); a 100 Continue, the only other
 * user, is sent before the upgrade, and not looked at).  At the end, the
 * rest of the frame being sent, if nginx holds it, then the close frame,
 * go out if the client can take them at once; a client that cannot, or a
 * frame whose rest has not arrived, gets the connection closed without
 * one.  Then the request is finalized as for an error, which closes the
 * connection to the agent too.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_wharf_module.h"


#define NGX_HTTP_WHARF_WS_GOING_AWAY  1001


typedef struct {
    ngx_queue_t                    queue;     /* in the peer's idle or free */
    ngx_connection_t              *connection;
    ngx_http_wharf_peer_t         *peer;
} ngx_http_wharf_idle_t;


typedef struct {
    ngx_http_wharf_peer_t         *peer;
    ngx_http_upstream_t           *upstream;
} ngx_http_wharf_peer_data_t;


static ngx_int_t ngx_http_wharf_live_get_peer(ngx_peer_connection_t *pc,
    void *data);
static void ngx_http_wharf_live_free_peer(ngx_peer_connection_t *pc,
    void *data, ngx_uint_t state);
#if (NGX_HTTP_SSL)
static ngx_int_t ngx_http_wharf_live_set_session(ngx_peer_connection_t *pc,
    void *data);
static void ngx_http_wharf_live_save_session(ngx_peer_connection_t *pc,
    void *data);
#endif
static ngx_int_t ngx_http_wharf_live_keep(ngx_http_wharf_peer_t *peer,
    ngx_connection_t *c);
static void ngx_http_wharf_live_idle_handler(ngx_event_t *ev);
static void ngx_http_wharf_live_dummy_handler(ngx_event_t *ev);
static void ngx_http_wharf_live_close(ngx_connection_t *c);
static ssize_t ngx_http_wharf_live_send(ngx_connection_t *c, u_char *buf,
    size_t size);
static void ngx_http_wharf_frames(ngx_http_wharf_session_t *s, u_char *p,
    size_t n);
static ssize_t ngx_http_wharf_frame_rest(ngx_http_wharf_session_t *s,
    u_char *p, size_t n);
static ngx_int_t ngx_http_wharf_send_all(ngx_connection_t *c,
    ngx_send_pt send, u_char *p, size_t n);


/* from the balancer's init_peer, for a request routed to a live worker */

ngx_int_t
ngx_http_wharf_live_init_peer(ngx_http_request_t *r,
    ngx_http_wharf_worker_t *worker)
{
    ngx_http_upstream_t         *u;
    ngx_http_wharf_peer_data_t  *pd;

    pd = ngx_palloc(r->pool, sizeof(ngx_http_wharf_peer_data_t));
    if (pd == NULL) {
        return NGX_ERROR;
    }

    u = r->upstream;

    pd->peer = worker->peer;
    pd->upstream = u;

    u->peer.data = pd;
    u->peer.get = ngx_http_wharf_live_get_peer;
    u->peer.free = ngx_http_wharf_live_free_peer;
    u->peer.tries = 1;

#if (NGX_HTTP_SSL)
    u->peer.set_session = ngx_http_wharf_live_set_session;
    u->peer.save_session = ngx_http_wharf_live_save_session;
#endif

    return NGX_OK;
}


static ngx_int_t
ngx_http_wharf_live_get_peer(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_wharf_peer_data_t  *pd = data;

    ngx_queue_t            *q;
    ngx_connection_t       *c;
    ngx_http_wharf_peer_t  *peer;
    ngx_http_wharf_idle_t  *item;

    peer = pd->peer;

    pc->sockaddr = peer->addr.sockaddr;
    pc->socklen = peer->addr.socklen;
    pc->name = &peer->addr.name;
    pc->cached = 0;
    pc->connection = NULL;

    if (ngx_queue_empty(&peer->idle)) {
        return NGX_OK;
    }

    /* the most recently used first: the least likely to be closed */

    q = ngx_queue_head(&peer->idle);
    ngx_queue_remove(q);
    ngx_queue_insert_head(&peer->free, q);

    item = ngx_queue_data(q, ngx_http_wharf_idle_t, queue);
    c = item->connection;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                   "wharf live peer \"%V\": kept connection %p",
                   &peer->worker.name, c);

    c->idle = 0;
    c->sent = 0;
    c->data = NULL;
    c->log = pc->log;
    c->read->log = pc->log;
    c->write->log = pc->log;
    c->pool->log = pc->log;

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    pc->connection = c;
    pc->cached = 1;

    return NGX_DONE;
}


/* the request is done with the connection: kept, if it can be reused */

static void
ngx_http_wharf_live_free_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state)
{
    ngx_http_wharf_peer_data_t  *pd = data;

    ngx_connection_t       *c;
    ngx_http_upstream_t    *u;
    ngx_http_wharf_peer_t  *peer;

    peer = pd->peer;
    u = pd->upstream;
    c = pc->connection;

    /* one address: nothing else to try */

    pc->tries = 0;

    if ((state & NGX_PEER_FAILED)
        || c == NULL
        || c->read->eof
        || c->read->error
        || c->read->timedout
        || c->write->error
        || c->write->timedout)
    {
        return;
    }

    if (!peer->current
        || peer->wmcf->live_keepalive == 0
        || c->requests >= NGX_HTTP_WHARF_LIVE_REQUESTS
        || ngx_current_msec - c->start_time > NGX_HTTP_WHARF_LIVE_TIME
        || !u->keepalive
        || !u->request_body_sent
        || ngx_terminate
        || ngx_exiting)
    {
        return;
    }

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        return;
    }

    if (ngx_http_wharf_live_keep(peer, c) != NGX_OK) {
        return;
    }

    /* the peer has it now; the upstream does not close it */

    pc->connection = NULL;
}


#if (NGX_HTTP_SSL)

/* "proxy_pass https://" to the balancer: no session is kept */

static ngx_int_t
ngx_http_wharf_live_set_session(ngx_peer_connection_t *pc, void *data)
{
    return NGX_OK;
}


static void
ngx_http_wharf_live_save_session(ngx_peer_connection_t *pc, void *data)
{
}

#endif


/*
 * An idle connection into the peer's cache, the least recently used one
 * closed when it is full.
 */

static ngx_int_t
ngx_http_wharf_live_keep(ngx_http_wharf_peer_t *peer, ngx_connection_t *c)
{
    ngx_queue_t            *q;
    ngx_http_wharf_idle_t  *item;

    if (!ngx_queue_empty(&peer->free)) {
        q = ngx_queue_head(&peer->free);
        ngx_queue_remove(q);
        item = ngx_queue_data(q, ngx_http_wharf_idle_t, queue);

    } else if (peer->places < peer->wmcf->live_keepalive) {
        item = ngx_palloc(peer->pool, sizeof(ngx_http_wharf_idle_t));
        if (item == NULL) {
            return NGX_ERROR;
        }

        item->peer = peer;
        peer->places++;

    } else {
        q = ngx_queue_last(&peer->idle);
        ngx_queue_remove(q);
        item = ngx_queue_data(q, ngx_http_wharf_idle_t, queue);

        ngx_http_wharf_live_close(item->connection);
    }

    ngx_queue_insert_head(&peer->idle, &item->queue);
    item->connection = c;

    c->read->delayed = 0;
    ngx_add_timer(c->read, peer->wmcf->live_keepalive_timeout);

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    c->write->handler = ngx_http_wharf_live_dummy_handler;
    c->read->handler = ngx_http_wharf_live_idle_handler;

    c->data = item;
    c->idle = 1;
    c->log = ngx_cycle->log;
    c->read->log = ngx_cycle->log;
    c->write->log = ngx_cycle->log;
    c->pool->log = ngx_cycle->log;

    /* the worker closed it, or sent something unasked for: not kept */

    if (c->read->ready) {
        ngx_http_wharf_live_idle_handler(c->read);
    }

    return NGX_OK;
}


/*
 * An idle connection that can be read: the worker closed it, or it timed
 * out, or nginx shuts down (c->close); it is closed.
 */

static void
ngx_http_wharf_live_idle_handler(ngx_event_t *ev)
{
    int                     n;
    char                    buf[1];
    ngx_connection_t       *c;
    ngx_http_wharf_idle_t  *item;

    c = ev->data;

    if (c->close || c->read->timedout) {
        goto close;
    }

    n = recv(c->fd, buf, 1, MSG_PEEK);

    if (n == -1 && ngx_socket_errno == NGX_EAGAIN) {
        ev->ready = 0;

        if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
            goto close;
        }

        return;
    }

close:

    item = c->data;

    ngx_queue_remove(&item->queue);
    ngx_queue_insert_head(&item->peer->free, &item->queue);

    ngx_http_wharf_live_close(c);
}


static void
ngx_http_wharf_live_dummy_handler(ngx_event_t *ev)
{
}


static void
ngx_http_wharf_live_close(ngx_connection_t *c)
{
    ngx_destroy_pool(c->pool);
    ngx_close_connection(c);
}


/* the copy leaves the registry: its idle connections are closed */

void
ngx_http_wharf_live_close_idle(ngx_http_wharf_peer_t *peer)
{
    ngx_queue_t            *q;
    ngx_http_wharf_idle_t  *item;

    while (!ngx_queue_empty(&peer->idle)) {
        q = ngx_queue_head(&peer->idle);
        ngx_queue_remove(q);
        ngx_queue_insert_head(&peer->free, q);

        item = ngx_queue_data(q, ngx_http_wharf_idle_t, queue);
        ngx_http_wharf_live_close(item->connection);
    }
}


/* a copy replaced by one at the same address hands its connections over */

void
ngx_http_wharf_live_move_idle(ngx_http_wharf_peer_t *from,
    ngx_http_wharf_peer_t *to)
{
    ngx_queue_t            *q;
    ngx_connection_t       *c;
    ngx_http_wharf_idle_t  *item;

    /* oldest first, so the most recent ends up first again */

    while (!ngx_queue_empty(&from->idle)) {
        q = ngx_queue_last(&from->idle);
        ngx_queue_remove(q);
        ngx_queue_insert_head(&from->free, q);

        item = ngx_queue_data(q, ngx_http_wharf_idle_t, queue);
        c = item->connection;

        if (ngx_http_wharf_live_keep(to, c) != NGX_OK) {
            ngx_http_wharf_live_close(c);
        }
    }
}


/*
 * A WebSocket session with a live worker: its client connection's send()
 * is wrapped, to know where frames end.  HTTP/1 only (WebSockets do not
 * go over HTTP/2 in nginx).
 */

void
ngx_http_wharf_live_track(ngx_http_request_t *r, ngx_http_wharf_session_t *s)
{
    ngx_connection_t  *c;

    c = r->connection;

    if (r->http_version >= NGX_HTTP_VERSION_20 || r != r->main) {
        return;
    }

    s->send = c->send;
    c->send = ngx_http_wharf_live_send;
    s->tracking = 1;
}


void
ngx_http_wharf_live_untrack(ngx_http_wharf_session_t *s)
{
    ngx_connection_t  *c;

    if (!s->tracking) {
        return;
    }

    c = s->request->connection;

    if (c->send == ngx_http_wharf_live_send) {
        c->send = s->send;
    }

    s->tracking = 0;
}


static ssize_t
ngx_http_wharf_live_send(ngx_connection_t *c, u_char *buf, size_t size)
{
    ssize_t                    n;
    ngx_http_request_t        *r;
    ngx_http_wharf_ctx_t      *ctx;
    ngx_http_wharf_session_t  *s;

    r = c->data;
    ctx = ngx_http_get_module_ctx(r, ngx_http_wharf_module);

    s = (ctx && ctx->session && ctx->session->request == r)
        ? ctx->session : NULL;

    if (s == NULL) {

        /* not a session any more (a context reset): nginx's own send */

#if (NGX_SSL)
        if (c->ssl) {
            return ngx_ssl_write(c, buf, size);
        }
#endif

        return ngx_io.send(c, buf, size);
    }

    n = s->send(c, buf, size);

    if (n > 0 && r->upstream && r->upstream->upgrade) {
        ngx_http_wharf_frames(s, buf, n);
    }

    return n;
}


/* a WebSocket frame header's length, once its second byte is known */

static ngx_inline size_t
ngx_http_wharf_frame_head_len(u_char *head)
{
    size_t  len;

    len = head[1] & 0x7f;

    return 2 + (len == 126 ? 2 : (len == 127 ? 8 : 0))
           + ((head[1] & 0x80) ? 4 : 0);
}


static ngx_inline uint64_t
ngx_http_wharf_frame_payload_len(u_char *head)
{
    uint64_t    len;
    ngx_uint_t  i;

    len = head[1] & 0x7f;

    if (len == 126) {
        return ((uint64_t) head[2] << 8) | head[3];
    }

    if (len == 127) {
        len = 0;

        for (i = 2; i < 10; i++) {
            len = (len << 8) | head[i];
        }
    }

    return len;
}


/* the bytes the client was sent, through the frames they are part of */

static void
ngx_http_wharf_frames(ngx_http_wharf_session_t *s, u_char *p, size_t n)
{
    size_t  k;

    while (n) {

        if (s->left) {
            k = (s->left < n) ? (size_t) s->left : n;
            s->left -= k;
            p += k;
            n -= k;
            continue;
        }

        s->head[s->nhead++] = *p++;
        n--;

        if (s->nhead >= 2
            && s->nhead == ngx_http_wharf_frame_head_len(s->head))
        {
            s->left = ngx_http_wharf_frame_payload_len(s->head);
            s->nhead = 0;
        }
    }
}


/*
 * How many of the n bytes at p end the frame the client is in the middle
 * of (0 at a frame's end), or -1 if they do not reach its end.
 */

static ssize_t
ngx_http_wharf_frame_rest(ngx_http_wharf_session_t *s, u_char *p, size_t n)
{
    size_t                    i, k;
    ngx_http_wharf_session_t  t;

    t = *s;
    i = 0;

    for ( ;; ) {

        if (t.left == 0 && t.nhead == 0) {
            return (ssize_t) i;
        }

        if (i == n) {
            return -1;
        }

        if (t.left) {
            k = (t.left < n - i) ? (size_t) t.left : n - i;
            t.left -= k;
            i += k;
            continue;
        }

        t.head[t.nhead++] = p[i++];

        if (t.nhead >= 2 && t.nhead == ngx_http_wharf_frame_head_len(t.head)) {
            t.left = ngx_http_wharf_frame_payload_len(t.head);
            t.nhead = 0;
        }
    }
}


/*
 * The worker was removed: its session ends, with a close frame where a
 * frame ends if the client can take it now.  From a posted event.
 *
 * Then the connection to the agent is shut down, with nothing left for
 * nginx to send the client, and nginx ends the tunnel as when an agent
 * closes it (ngx_http_upstream_process_upgraded() sees the end of the
 * upstream and finalizes the request the upstream module's way, which
 * logs it).  Not ngx_http_finalize_request(r, NGX_ERROR): its
 * termination runs the request's cleanups in a row, and the upstream's
 * frees the request in the middle of them.  A request still reading the
 * client's body, before any upstream, is finalized so; one still waiting
 * for the agent's answer gets nginx's 502.
 */

void
ngx_http_wharf_live_end_session(ngx_http_wharf_session_t *s)
{
    u_char                *p;
    ssize_t                rest;
    ngx_buf_t             *b;
    ngx_str_t             *name;
    ngx_uint_t             tracking, closed;
    ngx_send_pt            send;
    ngx_connection_t      *c, *uc;
    ngx_http_request_t    *r;
    ngx_http_upstream_t   *u;
    ngx_http_wharf_ctx_t  *ctx;
    u_char                 frame[2 + 2 + 123];

    r = s->request;
    c = r->connection;
    u = r->upstream;
    uc = u ? u->peer.connection : NULL;

    tracking = s->tracking;
    send = s->send;

    ngx_http_wharf_live_session_unlink(s);

    ctx = ngx_http_get_module_ctx(r, ngx_http_wharf_module);
    name = (ctx && ctx->held) ? &ctx->held->name : NULL;

    closed = 0;

    if (tracking && name && u && u->upgrade && uc && !c->error) {
        b = &u->buffer;

        rest = ngx_http_wharf_frame_rest(s, b->pos, b->last - b->pos);

        if (rest >= 0
            && ngx_http_wharf_send_all(c, send, b->pos, rest) == NGX_OK)
        {
            p = ngx_snprintf(frame + 4, sizeof(frame) - 4,
                             "worker %V was removed", name);

            frame[0] = 0x88;                          /* FIN, close */
            frame[1] = (u_char) (p - frame - 2);      /* not masked */
            frame[2] = (u_char) (NGX_HTTP_WHARF_WS_GOING_AWAY >> 8);
            frame[3] = (u_char) (NGX_HTTP_WHARF_WS_GOING_AWAY & 0xff);

            closed = (ngx_http_wharf_send_all(c, send, frame, p - frame)
                      == NGX_OK);
        }

        /*
         * What nginx holds of the tunnel is not sent after that, and the
         * buffer has room again, for nginx to read the end of the agent's
         * connection.
         */

        b->pos = b->start;
        b->last = b->start;
    }

    ngx_log_error(NGX_LOG_INFO, c->log, 0,
                  "wharf: worker \"%V\" was removed: its session ends%s",
                  name ? name : &r->uri,
                  closed ? ", with a close frame" : "");

    if (uc) {
        (void) shutdown(uc->fd, SHUT_RDWR);

        uc->read->ready = 1;
        ngx_post_event(uc->read, &ngx_posted_events);
        return;
    }

    if (u == NULL || u->cleanup == NULL) {
        ngx_http_finalize_request(r, NGX_ERROR);
        ngx_http_run_posted_requests(c);
    }
}


/* all of it at once, or NGX_ERROR: a client that cannot take it now */

static ngx_int_t
ngx_http_wharf_send_all(ngx_connection_t *c, ngx_send_pt send, u_char *p,
    size_t n)
{
    ssize_t  sent;

    while (n) {
        sent = send(c, p, n);

        if (sent <= 0) {
            return NGX_ERROR;
        }

        p += sent;
        n -= sent;
    }

    return NGX_OK;
}
