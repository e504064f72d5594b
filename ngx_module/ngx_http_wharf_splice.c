
/*
 * wharf: the tunnel of an upgraded worker session, moved by splice(2).
 *
 *     location /api/workers/ {
 *         wharf_route;
 *         wharf_splice on;
 *         proxy_pass http://wharf_workers;
 *         ...
 *     }
 *
 * After the 101 the bytes between the client and the worker are opaque to
 * nginx.  Its own tunnel (ngx_http_upstream_process_upgraded()) recv()s
 * them into a buffer of proxy_buffer_size and send()s them on: every byte
 * is copied out of the kernel and back in, and a message larger than the
 * buffer goes out in buffer-sized pieces, each a send() and a TCP segment
 * of its own.  With wharf_splice on, the module moves them itself: large
 * messages socket -> pipe -> socket with splice(2), the pages of the
 * received segments passed into the pipe and on to the other socket by
 * reference, as much per call as the pipe holds (256 KiB), without a copy
 * through user space; small ones with a recv() and a send() through one
 * 16 KiB buffer, as nginx does (see ngx_http_wharf_splice_move()).
 *
 * What stays nginx's: whether to upgrade, the 101, the timers
 * (proxy_read_timeout, proxy_send_timeout, send_timeout), and the end of
 * the tunnel.  The module takes over the four event handlers that
 * ngx_http_upstream_upgrade() set, once it has returned (a posted event,
 * from the header filter of the 101), keeps nginx's, and arms the same
 * events and timers as nginx's handler does.  On a timeout or an end
 * (either side closed or failed), it puts nginx's handlers back and calls
 * them: nginx then finalizes the request as it does without the module
 * (504, 408, or a normal end), so the access log, $upstream_*, reload and
 * quit behave as they do without it.
 *
 * Bytes that nginx read before the module took over (the client's frames
 * sent with the handshake, in r->header_in or u->from_client; the
 * worker's, after its 101, in u->buffer) go out first.
 *
 * Pipes: a direction holds one only while bytes are in it.  Each nginx
 * worker process keeps up to NGX_HTTP_WHARF_SPLICE_KEPT empty ones for the
 * next read, so an idle session holds none and a busy one makes no
 * pipe2() per message.  When no pipe can be had (no file descriptor
 * left), that read goes through nginx's buffer, as without the module.
 *
 * Not spliced (nginx's tunnel, as without the module): a TLS connection on
 * either side (the bytes on the wire are not the tunnel's), a 101 that
 * nginx has not finished writing when the module would take over, a live
 * worker's session (its frames are counted as nginx sends them, for the
 * close frame that ends it when the worker is removed), and a location or
 * request that is not a wharf_route session.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_http.h>

#include "ngx_http_wharf_module.h"


#if (NGX_LINUX)

/* bytes asked of one splice(2) into a pipe: the pipe's room limits it */
#define NGX_HTTP_WHARF_SPLICE_LEN       (1024 * 1024)

/* the room asked for each pipe: a 64 KiB message and its header in one */
#define NGX_HTTP_WHARF_SPLICE_PIPE      (256 * 1024)

/* a read up to this is copied through the copy buffer, not spliced */
#define NGX_HTTP_WHARF_SPLICE_COPY      (16 * 1024)

/* empty pipes that each nginx worker process keeps for reuse */
#define NGX_HTTP_WHARF_SPLICE_KEPT      16

/* the two directions, and the pipe of each */
#define NGX_HTTP_WHARF_TO_CLIENT        0
#define NGX_HTTP_WHARF_TO_UPSTREAM      1


/* one direction: its pipe, if it holds one, and how it reads */

typedef struct {
    ngx_fd_t                        fd[2];     /* read end, write end */
    size_t                          size;      /* what the pipe holds */
    size_t                          len;       /* bytes in it */
    unsigned                        bulk:1;    /* the next read: splice */
} ngx_http_wharf_pipe_t;


struct ngx_http_wharf_splice_s {
    ngx_http_request_t             *request;
    ngx_event_t                     start;

    /* fd[0] == -1: none */
    ngx_http_wharf_pipe_t           pipe[2];

    /* nginx's handlers of the tunnel, put back at its end */
    ngx_http_event_handler_pt       read_event_handler;
    ngx_http_event_handler_pt       write_event_handler;
    ngx_http_upstream_handler_pt    upstream_read_event_handler;
    ngx_http_upstream_handler_pt    upstream_write_event_handler;

    unsigned                        active:1;
};


static ngx_int_t ngx_http_wharf_splice_header_filter(ngx_http_request_t *r);
static void ngx_http_wharf_splice_start(ngx_event_t *ev);
static void ngx_http_wharf_splice_cleanup(void *data);
static void ngx_http_wharf_splice_downstream(ngx_http_request_t *r);
static void ngx_http_wharf_splice_upstream(ngx_http_request_t *r,
    ngx_http_upstream_t *u);
static void ngx_http_wharf_splice_process(ngx_http_request_t *r);
static ngx_int_t ngx_http_wharf_splice_move(ngx_http_request_t *r,
    ngx_http_wharf_splice_t *sp, ngx_uint_t to);
static ngx_int_t ngx_http_wharf_splice_loop(ngx_http_request_t *r,
    ngx_http_wharf_pipe_t *p, ngx_uint_t to);
static ngx_buf_t *ngx_http_wharf_splice_buffered(ngx_http_request_t *r,
    ngx_uint_t to);
static ssize_t ngx_http_wharf_splice_recv(ngx_http_request_t *r,
    ngx_connection_t *src, ngx_uint_t to);
static ngx_uint_t ngx_http_wharf_splice_pending(ngx_http_request_t *r,
    ngx_http_wharf_splice_t *sp, ngx_uint_t to);
static void ngx_http_wharf_splice_end(ngx_http_request_t *r,
    ngx_http_wharf_splice_t *sp);
static void ngx_http_wharf_splice_fail(ngx_http_request_t *r,
    ngx_http_wharf_splice_t *sp);
static ngx_int_t ngx_http_wharf_pipe_get(ngx_http_wharf_pipe_t *p,
    ngx_log_t *log);
static void ngx_http_wharf_pipe_put(ngx_http_wharf_pipe_t *p,
    ngx_log_t *log);


static ngx_http_output_header_filter_pt  ngx_http_wharf_next_header_filter;

/* process-local: the empty pipes kept, and the copy buffer */
static ngx_http_wharf_pipe_t  ngx_http_wharf_pipes[NGX_HTTP_WHARF_SPLICE_KEPT];
static ngx_uint_t             ngx_http_wharf_npipes;
static u_char                 ngx_http_wharf_copy[NGX_HTTP_WHARF_SPLICE_COPY];

#endif


/* wharf_splice on | off; */

char *
ngx_http_wharf_splice_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char                        *rv;
    ngx_http_wharf_loc_conf_t   *wlcf = conf;
    ngx_http_wharf_main_conf_t  *wmcf;

    rv = ngx_conf_set_flag_slot(cf, cmd, conf);

    if (rv != NGX_CONF_OK || !wlcf->splice) {
        return rv;
    }

#if (NGX_LINUX)

    /* the header filter is installed only where it is used */

    wmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_wharf_module);
    wmcf->splice = 1;

    return NGX_CONF_OK;

#else

    (void) wmcf;

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"wharf_splice on\" needs Linux's splice(2)");
    return NGX_CONF_ERROR;

#endif
}


/* postconfiguration, when a wharf_splice is on somewhere */

ngx_int_t
ngx_http_wharf_splice_init(ngx_conf_t *cf)
{
#if (NGX_LINUX)

    ngx_http_wharf_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_wharf_splice_header_filter;

#endif

    return NGX_OK;
}


#if (NGX_LINUX)

/*
 * The 101 of a worker session on its way out: nginx sets up its tunnel
 * right after (ngx_http_upstream_upgrade(), once the header is sent), and
 * the module takes it over from a posted event, which runs once the
 * handler that read the 101 has returned to the event loop.
 */

static ngx_int_t
ngx_http_wharf_splice_header_filter(ngx_http_request_t *r)
{
    ngx_connection_t           *pc;
    ngx_pool_cleanup_t         *cln;
    ngx_http_upstream_t        *u;
    ngx_http_wharf_ctx_t       *ctx;
    ngx_http_wharf_splice_t    *sp;
    ngx_http_wharf_loc_conf_t  *wlcf;

    u = r->upstream;

    if (r->headers_out.status != NGX_HTTP_SWITCHING_PROTOCOLS
        || u == NULL || !u->upgrade || r != r->main)
    {
        return ngx_http_wharf_next_header_filter(r);
    }

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_wharf_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_wharf_module);
    pc = u->peer.connection;

    if (!wlcf->splice || ctx == NULL || ctx->worker == NULL
        || !ctx->counted || ctx->target || pc == NULL)
    {
        return ngx_http_wharf_next_header_filter(r);
    }

    /*
     * A live worker's session counts the frames it sends the client, to
     * end them with a close frame between two frames when the worker is
     * removed (ngx_http_wharf_live_end_session()): it sees them in the
     * client connection's send(), which bytes moved by splice(2) bypass.
     */

    if (ctx->session && ctx->session->tracking) {
        return ngx_http_wharf_next_header_filter(r);
    }

#if (NGX_SSL)

    if (r->connection->ssl || pc->ssl) {
        return ngx_http_wharf_next_header_filter(r);
    }

#endif

    sp = ngx_pcalloc(r->pool, sizeof(ngx_http_wharf_splice_t));
    if (sp == NULL) {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    sp->request = r;
    sp->pipe[0].fd[0] = NGX_INVALID_FILE;
    sp->pipe[1].fd[0] = NGX_INVALID_FILE;

    sp->start.handler = ngx_http_wharf_splice_start;
    sp->start.data = sp;
    sp->start.log = r->connection->log;

    cln->handler = ngx_http_wharf_splice_cleanup;
    cln->data = sp;

    /* the route's target is back in place (init_peer), so the union's free */

    ctx->u.splice = sp;

    ngx_post_event(&sp->start, &ngx_posted_events);

    return ngx_http_wharf_next_header_filter(r);
}


static void
ngx_http_wharf_splice_start(ngx_event_t *ev)
{
    ngx_http_wharf_splice_t *sp = ev->data;

    ngx_connection_t     *c;
    ngx_http_request_t   *r;
    ngx_http_upstream_t  *u;

    r = sp->request;
    c = r->connection;
    u = r->upstream;

    /*
     * u->cleanup is NULL once nginx has finalized the upstream (the
     * tunnel ended before it began); a request that nginx freed took
     * this event out of the queue (ngx_http_wharf_splice_cleanup()).
     * A 101 not all written yet stays nginx's: the tunnel's bytes would
     * overtake it.
     */

    if (u == NULL || u->cleanup == NULL || u->peer.connection == NULL
        || c->destroyed || c->buffered || r->out)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "wharf splice: not taken over");
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "wharf splice: tunnel taken over, fd %d <-> %d",
                   c->fd, u->peer.connection->fd);

    ngx_http_set_log_request(c->log, r);

    sp->read_event_handler = r->read_event_handler;
    sp->write_event_handler = r->write_event_handler;
    sp->upstream_read_event_handler = u->read_event_handler;
    sp->upstream_write_event_handler = u->write_event_handler;

    r->read_event_handler = ngx_http_wharf_splice_downstream;
    r->write_event_handler = ngx_http_wharf_splice_downstream;
    u->read_event_handler = ngx_http_wharf_splice_upstream;
    u->write_event_handler = ngx_http_wharf_splice_upstream;

    sp->active = 1;

    ngx_http_wharf_splice_process(r);

    ngx_http_run_posted_requests(c);
}


/* the request's pool goes: its pipes too, and the start if still queued */

static void
ngx_http_wharf_splice_cleanup(void *data)
{
    ngx_http_wharf_splice_t *sp = data;

    ngx_log_t  *log;

    log = sp->start.log;

    if (sp->start.posted) {
        ngx_delete_posted_event(&sp->start);
    }

    ngx_http_wharf_pipe_put(&sp->pipe[0], log);
    ngx_http_wharf_pipe_put(&sp->pipe[1], log);
}


static void
ngx_http_wharf_splice_downstream(ngx_http_request_t *r)
{
    ngx_http_wharf_splice_process(r);
}


static void
ngx_http_wharf_splice_upstream(ngx_http_request_t *r, ngx_http_upstream_t *u)
{
    ngx_http_wharf_splice_process(r);
}


/*
 * Any event of either connection: both directions, then the events and
 * timers as nginx's tunnel arms them (ngx_http_upstream_process_upgraded()),
 * so that each timeout means what it means without the module.
 */

static void
ngx_http_wharf_splice_process(ngx_http_request_t *r)
{
    ngx_uint_t                 flags;
    ngx_connection_t          *c, *pc;
    ngx_http_upstream_t       *u;
    ngx_http_wharf_ctx_t      *ctx;
    ngx_http_wharf_splice_t   *sp;
    ngx_http_core_loc_conf_t  *clcf;

    c = r->connection;
    u = r->upstream;
    pc = u->peer.connection;

    ctx = ngx_http_get_module_ctx(r, ngx_http_wharf_module);
    sp = ctx->u.splice;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0, "wharf splice: process");

    if (c->write->timedout || pc->read->timedout || pc->write->timedout) {
        ngx_http_wharf_splice_end(r, sp);
        return;
    }

    if (ngx_http_wharf_splice_move(r, sp, NGX_HTTP_WHARF_TO_CLIENT)
        != NGX_OK
        || ngx_http_wharf_splice_move(r, sp, NGX_HTTP_WHARF_TO_UPSTREAM)
           != NGX_OK)
    {
        ngx_http_wharf_splice_end(r, sp);
        return;
    }

    /* nginx's three ends, with what the module holds counted as pending */

    if ((pc->read->eof
         && !ngx_http_wharf_splice_pending(r, sp, NGX_HTTP_WHARF_TO_CLIENT))
        || (c->read->eof
            && !ngx_http_wharf_splice_pending(r, sp,
                                              NGX_HTTP_WHARF_TO_UPSTREAM))
        || (c->read->eof && pc->read->eof))
    {
        ngx_http_wharf_splice_end(r, sp);
        return;
    }

    if (ngx_handle_write_event(pc->write, u->conf->send_lowat) != NGX_OK) {
        ngx_http_wharf_splice_fail(r, sp);
        return;
    }

    if (pc->write->active && !pc->write->ready) {
        ngx_add_timer(pc->write, u->conf->send_timeout);

    } else if (pc->write->timer_set) {
        ngx_del_timer(pc->write);
    }

    flags = (pc->read->eof || pc->read->error) ? NGX_CLOSE_EVENT : 0;

    if (ngx_handle_read_event(pc->read, flags) != NGX_OK) {
        ngx_http_wharf_splice_fail(r, sp);
        return;
    }

    if (pc->read->active && !pc->read->ready) {
        ngx_add_timer(pc->read, u->conf->read_timeout);

    } else if (pc->read->timer_set) {
        ngx_del_timer(pc->read);
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (ngx_handle_write_event(c->write, clcf->send_lowat) != NGX_OK) {
        ngx_http_wharf_splice_fail(r, sp);
        return;
    }

    flags = (c->read->eof || c->read->error) ? NGX_CLOSE_EVENT : 0;

    if (ngx_handle_read_event(c->read, flags) != NGX_OK) {
        ngx_http_wharf_splice_fail(r, sp);
        return;
    }

    if (c->write->active && !c->write->ready) {
        ngx_add_timer(c->write, clcf->send_timeout);

    } else if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }
}


/*
 * One direction, until its source has nothing more to read or its
 * destination takes nothing more: what nginx had read first, then what
 * the pipe holds, then the next read.  A read goes only into an empty
 * pipe, so that a splice(2) that fails with EAGAIN means an empty socket.
 * NGX_ERROR: the destination failed, and the tunnel ends.
 *
 * Two ways to read, chosen per direction by the last read.  Small
 * messages (keystrokes, terminal output, small frames) are read into
 * the process's copy buffer and sent from it, with a recv() and a
 * send() each, as nginx does; splice(2) would cost them a third call, a
 * splice() that finds the socket empty, since a short splice() does not
 * tell an empty socket from a full pipe.  A read that fills the copy
 * buffer says more is coming: the rest, and the next reads, go by
 * splice(2), until one is short again.  Whatever the destination does
 * not take of a copied read goes into the pipe (it fits: the copy
 * buffer is no larger than the pipe).
 */

static ngx_int_t
ngx_http_wharf_splice_move(ngx_http_request_t *r, ngx_http_wharf_splice_t *sp,
    ngx_uint_t to)
{
    ngx_int_t               rc;
    ngx_http_wharf_pipe_t  *p;

    p = &sp->pipe[to];

    rc = ngx_http_wharf_splice_loop(r, p, to);

    /* a pipe is held only while bytes are in it */

    if (p->len == 0) {
        ngx_http_wharf_pipe_put(p, r->connection->log);
    }

    return rc;
}


static ngx_int_t
ngx_http_wharf_splice_loop(ngx_http_request_t *r, ngx_http_wharf_pipe_t *p,
    ngx_uint_t to)
{
    size_t                  size;
    ssize_t                 n, m;
    ngx_buf_t              *b;
    ngx_err_t               err;
    ngx_connection_t       *src, *dst;
    ngx_http_upstream_t    *u;

    u = r->upstream;

    if (to == NGX_HTTP_WHARF_TO_CLIENT) {
        src = u->peer.connection;
        dst = r->connection;

    } else {
        src = r->connection;
        dst = u->peer.connection;
    }

    for ( ;; ) {

        b = ngx_http_wharf_splice_buffered(r, to);

        if (b) {
            if (!dst->write->ready) {
                return NGX_OK;
            }

            n = dst->send(dst, b->pos, b->last - b->pos);

            if (n == NGX_ERROR) {
                goto failed;
            }

            if (n > 0) {
                b->pos += n;
            }

            if (b->pos != b->last) {
                return NGX_OK;
            }

            continue;
        }

        if (p->len) {
            if (!dst->write->ready) {
                return NGX_OK;
            }

            n = splice(p->fd[0], NULL, dst->fd, NULL, p->len,
                       SPLICE_F_NONBLOCK);

            ngx_log_debug3(NGX_LOG_DEBUG_EVENT, dst->log, 0,
                           "splice to fd %d: %z of %uz", dst->fd, n, p->len);

            if (n > 0) {
                p->len -= n;
                dst->sent += n;

                if (p->len) {
                    dst->write->ready = 0;
                    return NGX_OK;
                }

                continue;
            }

            err = ngx_errno;

            if (n == 0) {
                ngx_log_error(NGX_LOG_ALERT, dst->log, 0,
                              "splice() to socket returned zero");
                dst->write->ready = 0;
                return NGX_OK;
            }

            if (err == NGX_EAGAIN) {
                dst->write->ready = 0;
                return NGX_OK;
            }

            if (err == NGX_EINTR) {
                continue;
            }

            dst->write->error = 1;
            (void) ngx_connection_error(dst, err, "splice() to socket failed");
            goto failed;
        }

        if (!src->read->ready) {
            return NGX_OK;
        }

        if (p->fd[0] == NGX_INVALID_FILE
            && ngx_http_wharf_pipe_get(p, src->log) != NGX_OK)
        {
            /* no pipe: this read goes through nginx's buffer */

            n = ngx_http_wharf_splice_recv(r, src, to);

            if (n > 0) {
                continue;
            }

            return (n == NGX_ERROR) ? NGX_ERROR : NGX_OK;
        }

        if (!p->bulk) {

            /* nginx's recv(): its ready, eof and available rules */

            size = ngx_min(NGX_HTTP_WHARF_SPLICE_COPY, p->size);

            n = src->recv(src, ngx_http_wharf_copy, size);

            if (n == NGX_AGAIN || n == 0) {
                return NGX_OK;
            }

            if (n == NGX_ERROR) {
                src->read->eof = 1;
                return NGX_OK;
            }

            if (to == NGX_HTTP_WHARF_TO_CLIENT) {
                u->state->bytes_received += n;
            }

            if ((size_t) n == size) {
                p->bulk = 1;
            }

            m = 0;

            if (dst->write->ready) {
                m = dst->send(dst, ngx_http_wharf_copy, n);

                if (m == NGX_ERROR) {
                    goto failed;
                }

                if (m == NGX_AGAIN) {
                    m = 0;
                }
            }

            if (m == n) {
                continue;
            }

            /* the rest waits in the pipe, which is empty and holds it */

            if (write(p->fd[1], ngx_http_wharf_copy + m, n - m) != n - m) {
                ngx_log_error(NGX_LOG_ALERT, src->log, ngx_errno,
                              "write() of %z bytes to a pipe of %uz failed",
                              n - m, p->size);
                goto failed;
            }

            p->len = n - m;

            continue;
        }

        n = splice(src->fd, NULL, p->fd[1], NULL, NGX_HTTP_WHARF_SPLICE_LEN,
                   SPLICE_F_NONBLOCK);

        ngx_log_debug2(NGX_LOG_DEBUG_EVENT, src->log, 0,
                       "splice from fd %d: %z", src->fd, n);

        if (n > 0) {
            p->len = n;

            /* nginx's recv() counts on it: unknown again */

            src->read->available = -1;

            if (n < NGX_HTTP_WHARF_SPLICE_COPY) {
                p->bulk = 0;
            }

            if (to == NGX_HTTP_WHARF_TO_CLIENT) {
                u->state->bytes_received += n;
            }

            continue;
        }

        if (n == 0) {
            src->read->ready = 0;
            src->read->eof = 1;
            return NGX_OK;
        }

        err = ngx_errno;

        if (err == NGX_EAGAIN) {
            src->read->ready = 0;
            return NGX_OK;
        }

        if (err == NGX_EINTR) {
            continue;
        }

        /* as nginx's tunnel takes a failed recv(): the end of that side */

        (void) ngx_connection_error(src, err, "splice() from socket failed");

        src->read->ready = 0;
        src->read->error = 1;
        src->read->eof = 1;

        return NGX_OK;
    }

failed:

    /*
     * The destination is gone: so is its side of the tunnel, which ends
     * with nothing left for it (where nginx's own tunnel would finalize
     * with NGX_ERROR rather than 0: both close the two connections, and
     * the request logs its 101 either way).
     */

    dst->read->ready = 0;
    dst->read->error = 1;
    dst->read->eof = 1;

    return NGX_ERROR;
}


/* the bytes nginx read for this direction and has not sent, if any */

static ngx_buf_t *
ngx_http_wharf_splice_buffered(ngx_http_request_t *r, ngx_uint_t to)
{
    ngx_buf_t            *b;
    ngx_http_upstream_t  *u;

    u = r->upstream;

    if (to == NGX_HTTP_WHARF_TO_CLIENT) {
        b = &u->buffer;

    } else {
        b = r->header_in;

        if (b->pos == b->last) {
            b = &u->from_client;
        }
    }

    if (b->pos == b->last) {

        /* emptied: the next read, if nginx's, starts at its start */

        b->pos = b->start;
        b->last = b->start;

        return NULL;
    }

    return b;
}


/*
 * A read through nginx's buffer, when no pipe could be had: into
 * u->buffer or u->from_client (allocated as nginx's tunnel does), never
 * into r->header_in, whose bytes the request's headers point to.
 */

static ssize_t
ngx_http_wharf_splice_recv(ngx_http_request_t *r, ngx_connection_t *src,
    ngx_uint_t to)
{
    ssize_t               n;
    ngx_buf_t            *b;
    ngx_http_upstream_t  *u;

    u = r->upstream;

    if (to == NGX_HTTP_WHARF_TO_CLIENT) {
        b = &u->buffer;

    } else {
        b = &u->from_client;

        if (b->start == NULL) {
            b->start = ngx_palloc(r->pool, u->conf->buffer_size);
            if (b->start == NULL) {
                return NGX_ERROR;
            }

            b->pos = b->start;
            b->last = b->start;
            b->end = b->start + u->conf->buffer_size;
            b->temporary = 1;
            b->tag = u->output.tag;
        }
    }

    n = src->recv(src, b->last, b->end - b->last);

    if (n > 0) {
        b->last += n;

        if (to == NGX_HTTP_WHARF_TO_CLIENT) {
            u->state->bytes_received += n;
        }

        return n;
    }

    if (n == NGX_ERROR) {
        src->read->eof = 1;
    }

    return NGX_AGAIN;
}


static ngx_uint_t
ngx_http_wharf_splice_pending(ngx_http_request_t *r,
    ngx_http_wharf_splice_t *sp, ngx_uint_t to)
{
    return sp->pipe[to].len != 0
           || ngx_http_wharf_splice_buffered(r, to) != NULL;
}


/*
 * A timeout or an end: nginx's handlers back, and nginx's tunnel to
 * finalize the request as it would have, from the flags the module set as
 * nginx's recv() and send() set them.  Nothing more is read from the
 * upstream, so that nothing it sends can overtake what the module drops.
 */

static void
ngx_http_wharf_splice_end(ngx_http_request_t *r, ngx_http_wharf_splice_t *sp)
{
    ngx_connection_t     *c;
    ngx_http_upstream_t  *u;

    c = r->connection;
    u = r->upstream;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "wharf splice: tunnel handed back");

    u->peer.connection->read->ready = 0;

    r->read_event_handler = sp->read_event_handler;
    r->write_event_handler = sp->write_event_handler;
    u->read_event_handler = sp->upstream_read_event_handler;
    u->write_event_handler = sp->upstream_write_event_handler;

    sp->active = 0;

    ngx_http_wharf_pipe_put(&sp->pipe[0], c->log);
    ngx_http_wharf_pipe_put(&sp->pipe[1], c->log);

    r->write_event_handler(r);
}


/* the event loop refused the tunnel's events: both sides are done */

static void
ngx_http_wharf_splice_fail(ngx_http_request_t *r, ngx_http_wharf_splice_t *sp)
{
    ngx_connection_t  *c, *pc;

    c = r->connection;
    pc = r->upstream->peer.connection;

    c->read->error = 1;
    c->read->eof = 1;
    pc->read->error = 1;
    pc->read->eof = 1;

    ngx_http_wharf_splice_end(r, sp);
}


/* an empty pipe: a kept one, or a new one */

static ngx_int_t
ngx_http_wharf_pipe_get(ngx_http_wharf_pipe_t *p, ngx_log_t *log)
{
    int  fd[2], size;

    if (ngx_http_wharf_npipes) {
        ngx_http_wharf_npipes--;
        p->fd[0] = ngx_http_wharf_pipes[ngx_http_wharf_npipes].fd[0];
        p->fd[1] = ngx_http_wharf_pipes[ngx_http_wharf_npipes].fd[1];
        p->size = ngx_http_wharf_pipes[ngx_http_wharf_npipes].size;
        p->len = 0;
        return NGX_OK;
    }

    if (pipe2(fd, O_NONBLOCK | O_CLOEXEC) == -1) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "wharf_splice: pipe2() failed, reading through "
                      "nginx's buffer");
        return NGX_ERROR;
    }

    /*
     * More room than the default 64 KiB, so that a 64 KiB message with its
     * header goes in one splice(2); refused (EPERM) once the user's pipes
     * hold more than /proc/sys/fs/pipe-user-pages-soft, when the pipe
     * keeps what it has (or only 8 KiB then: see docs/DIRECTIVES.md).
     */

    size = fcntl(fd[1], F_SETPIPE_SZ, NGX_HTTP_WHARF_SPLICE_PIPE);

    if (size == -1) {
        size = fcntl(fd[1], F_GETPIPE_SZ);

        if (size == -1) {
            ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                          "fcntl(F_GETPIPE_SZ) failed");
            (void) close(fd[0]);
            (void) close(fd[1]);
            return NGX_ERROR;
        }
    }

    ngx_log_debug3(NGX_LOG_DEBUG_EVENT, log, 0,
                   "wharf splice: new pipe %d %d of %d", fd[0], fd[1], size);

    p->fd[0] = fd[0];
    p->fd[1] = fd[1];
    p->size = size;
    p->len = 0;

    return NGX_OK;
}


/* a pipe that a direction no longer needs: kept if empty, else closed */

static void
ngx_http_wharf_pipe_put(ngx_http_wharf_pipe_t *p, ngx_log_t *log)
{
    ngx_http_wharf_pipe_t  *kept;

    if (p->fd[0] == NGX_INVALID_FILE) {
        return;
    }

    if (p->len == 0 && ngx_http_wharf_npipes < NGX_HTTP_WHARF_SPLICE_KEPT) {
        kept = &ngx_http_wharf_pipes[ngx_http_wharf_npipes++];
        kept->fd[0] = p->fd[0];
        kept->fd[1] = p->fd[1];
        kept->size = p->size;

    } else {
        if (close(p->fd[0]) == -1) {
            ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                          "close() of a pipe failed");
        }

        if (close(p->fd[1]) == -1) {
            ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                          "close() of a pipe failed");
        }
    }

    p->fd[0] = NGX_INVALID_FILE;
    p->fd[1] = NGX_INVALID_FILE;
    p->len = 0;
}

#endif
