
/*
 * wharf: the health probe engine.
 *
 * A probe proves that a worker's terminal (or live feed) can be opened:
 * it connects to the first address of the worker's upstream, sends a
 * WebSocket handshake to the agent's path with a random key, and accepts
 * only "101", "Upgrade: websocket", "Connection: upgrade" and the
 * Sec-WebSocket-Accept that the key asks for (SHA-1, RFC 6455 4.2.2).
 * Then it sends a close frame and hangs up.
 *
 * Everything runs on nginx's event loop: the connection is one exchange
 * (ngx_http_wharf_exchange.c, as a fleet poll's), and one timer covers
 * the whole probe (wharf_health_timeout).  Nothing blocks, no thread is
 * used.
 *
 * A probe is shared: while one is in flight for a worker and check, in
 * this nginx worker process, whoever else asks waits for the same result,
 * so a burst of health requests does not become a burst of connections
 * to the container.  Every result goes into the shared zone.
 *
 * Results reach their waiters through a callback, never synchronously
 * from ngx_http_wharf_probe_start(), so a caller can start many probes and
 * count them before any of them ends.  The waiters are the HTTP handlers
 * of ngx_http_wharf_health.c, and background probing (below), which waits
 * for nothing.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "ngx_http_wharf_module.h"


/* the handshake answer must fit; an agent's is about 150 bytes */
#define NGX_HTTP_WHARF_PROBE_BUF      4096

#define NGX_HTTP_WHARF_WS_GUID        "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


struct ngx_http_wharf_probe_s {
    ngx_pool_t                    *pool;
    ngx_http_wharf_main_conf_t    *wmcf;
    ngx_http_wharf_worker_t       *worker;
    ngx_uint_t                     check;

    ngx_http_wharf_exchange_t      x;         /* the handshake */

    ngx_event_t                    timeout;
    ngx_event_t                    failed;    /* posted: ends a probe */

    /* errors of the connection land here (see the writer) */
    ngx_log_t                      log;

    u_char                         accept[28];  /* base64 of a SHA-1 */

    uint64_t                       start;       /* us, monotonic */
    ngx_queue_t                    waiters;
    ngx_http_wharf_result_t        result;

    unsigned                       done:1;
};


static ngx_int_t ngx_http_wharf_probe_request(ngx_http_wharf_probe_t *probe,
    ngx_http_upstream_server_t *server);
static ngx_int_t ngx_http_wharf_probe_read(ngx_http_wharf_exchange_t *x,
    ngx_uint_t closed);
static void ngx_http_wharf_probe_exchange_failed(
    ngx_http_wharf_exchange_t *x, const char *reason);
static ngx_int_t ngx_http_wharf_probe_parse(ngx_http_wharf_probe_t *probe);
static ngx_int_t ngx_http_wharf_probe_header(ngx_http_wharf_probe_t *probe,
    u_char *line, u_char *end, ngx_uint_t *seen);
static void ngx_http_wharf_probe_close_frame(ngx_http_wharf_probe_t *probe);
static void ngx_http_wharf_probe_timeout_handler(ngx_event_t *ev);
static void ngx_http_wharf_probe_failed_handler(ngx_event_t *ev);
static void ngx_http_wharf_probe_fail(ngx_http_wharf_probe_t *probe,
    const char *fmt, ...);
static void ngx_http_wharf_probe_finish(ngx_http_wharf_probe_t *probe,
    ngx_uint_t status);
static void ngx_http_wharf_probe_log_writer(ngx_log_t *log, ngx_uint_t level,
    u_char *buf, size_t len);
static void ngx_http_wharf_probe_tick(ngx_event_t *ev);


static const char  *ngx_http_wharf_check_names[] = {
    "terminal",
    "websocket",
    "all"
};

static const char  *ngx_http_wharf_probe_states[] = {
    "connecting",
    "sending the handshake",
    "waiting for the handshake response"
};


const char *
ngx_http_wharf_check_name(ngx_uint_t check)
{
    return ngx_http_wharf_check_names[check];
}


/*
 * Starts a probe, or joins the one in flight.  w may be NULL (background
 * probing: the result only goes to the zone).  NGX_ERROR only when memory
 * runs out; a worker that cannot be reached is a result, not an error.
 */

ngx_int_t
ngx_http_wharf_probe_start(ngx_http_wharf_main_conf_t *wmcf,
    ngx_http_wharf_worker_t *worker, ngx_uint_t check,
    ngx_http_wharf_waiter_t *w, ngx_log_t *log)
{
    ngx_pool_t                  *pool;
    ngx_http_wharf_probe_t      *probe;
    ngx_http_upstream_server_t  *server;

    probe = worker->probe[check];

    if (probe) {
        if (w) {
            ngx_queue_insert_tail(&probe->waiters, &w->queue);
            w->queued = 1;
        }

        return NGX_OK;
    }

    /*
     * A probe may outlive the request that started it (others wait for
     * it too), so it logs to the cycle's log, not the request's.
     */

    log = ngx_cycle->log;

    /*
     * A live worker stays until its probe ends, even if it is removed
     * meanwhile; one removed by another process since this one looked is
     * not probed (in the background: a waiter holds it already).
     */

    if (ngx_http_wharf_worker_hold(worker) == NULL) {
        return w ? NGX_ERROR : NGX_OK;
    }

    pool = ngx_create_pool(1024, log);
    if (pool == NULL) {
        ngx_http_wharf_worker_release(worker);
        return NGX_ERROR;
    }

    probe = ngx_pcalloc(pool, sizeof(ngx_http_wharf_probe_t));
    if (probe == NULL) {
        ngx_destroy_pool(pool);
        ngx_http_wharf_worker_release(worker);
        return NGX_ERROR;
    }

    probe->pool = pool;
    probe->wmcf = wmcf;
    probe->worker = worker;
    probe->check = check;
    probe->start = ngx_http_wharf_now_us();

    ngx_queue_init(&probe->waiters);

    /*
     * The probe's own log: errors of its connection (refused, reset...)
     * are the probe's result, in its answer and in the zone; the error
     * log only hears of a change of health (ngx_http_wharf_probe_finish).
     */

    probe->log = *ngx_cycle->log;
    probe->log.log_level = NGX_LOG_ERR;
    probe->log.connection = 0;
    probe->log.handler = NULL;
    probe->log.data = NULL;
    probe->log.action = NULL;
    probe->log.writer = ngx_http_wharf_probe_log_writer;
    probe->log.wdata = probe;
    probe->log.next = NULL;

    probe->timeout.handler = ngx_http_wharf_probe_timeout_handler;
    probe->timeout.data = probe;
    probe->timeout.log = log;

    probe->failed.handler = ngx_http_wharf_probe_failed_handler;
    probe->failed.data = probe;
    probe->failed.log = log;

    if (w) {
        ngx_queue_insert_tail(&probe->waiters, &w->queue);
        w->queued = 1;
    }

    worker->probe[check] = probe;

    ngx_add_timer(&probe->timeout, wmcf->health_timeout);

    if (worker->upstream->servers == NULL
        || worker->upstream->servers->nelts == 0)
    {
        ngx_http_wharf_probe_fail(probe, "upstream \"%V\" has no server",
                                  &worker->upstream->host);
        return NGX_OK;
    }

    server = worker->upstream->servers->elts;

    if (server[0].naddrs == 0) {
        ngx_http_wharf_probe_fail(probe, "upstream \"%V\" has no address",
                                  &worker->upstream->host);
        return NGX_OK;
    }

#if (nginx_version >= 1027003 && NGX_HTTP_UPSTREAM_ZONE)

    /*
     * "server NAME resolve" (nginx 1.27.3 and later): the address is the
     * resolver's to find at run time, and addrs[0] holds only the port.
     */

    if (server[0].host.len) {
        ngx_http_wharf_probe_fail(probe, "upstream \"%V\": server \"%V\" "
                                  "is resolved at run time (\"resolve\"), "
                                  "the probe needs an address known at "
                                  "start", &worker->upstream->host,
                                  &server[0].name);
        return NGX_OK;
    }

#endif

    if (ngx_http_wharf_probe_request(probe, &server[0]) != NGX_OK) {
        ngx_http_wharf_probe_fail(probe, "out of memory");
        return NGX_OK;
    }

    probe->x.pool = pool;
    probe->x.read = ngx_http_wharf_probe_read;
    probe->x.fail = ngx_http_wharf_probe_exchange_failed;
    probe->x.data = probe;

    /*
     * The connection's errors (refused, reset...) reach the probe's log
     * writer with their errno first, then its fail(); the first one is
     * kept.
     */

    ngx_http_wharf_exchange_start(&probe->x, &server[0].addrs[0],
                                  &probe->log);

    return NGX_OK;
}


static ngx_int_t
ngx_http_wharf_probe_request(ngx_http_wharf_probe_t *probe,
    ngx_http_upstream_server_t *server)
{
    u_char     *p;
    size_t      len;
    ngx_buf_t  *b;
    ngx_str_t   key, token, src, dst, *path;
    u_char      digest[SHA_DIGEST_LENGTH];
    u_char      rnd[16], key_buf[24];
    u_char      concat[24 + sizeof(NGX_HTTP_WHARF_WS_GUID) - 1];

    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        return NGX_ERROR;
    }

    src.data = rnd;
    src.len = sizeof(rnd);
    key.data = key_buf;
    ngx_encode_base64(&key, &src);

    /* what a server that read this key must answer */

    p = ngx_cpymem(concat, key.data, key.len);
    p = ngx_cpymem(p, NGX_HTTP_WHARF_WS_GUID,
                   sizeof(NGX_HTTP_WHARF_WS_GUID) - 1);

    if (EVP_Digest(concat, p - concat, digest, NULL, EVP_sha1(), NULL) != 1) {
        return NGX_ERROR;
    }

    src.data = digest;
    src.len = sizeof(digest);
    dst.data = probe->accept;
    ngx_encode_base64(&dst, &src);

    token.len = 0;

    if (probe->wmcf->private_key.len
        && ngx_http_wharf_upstream_token(probe->wmcf, probe->worker,
                                         &probe->log, &token)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    path = &probe->worker->paths[probe->check];

    len = sizeof("GET  HTTP/1.1" CRLF) - 1 + path->len
          + sizeof("Host: " CRLF) - 1 + server->name.len
          + sizeof("Upgrade: websocket" CRLF
                   "Connection: Upgrade" CRLF
                   "Sec-WebSocket-Version: 13" CRLF
                   "User-Agent: wharf-health" CRLF
                   "X-Wharf-Probe: 1" CRLF) - 1
          + sizeof("Sec-WebSocket-Key: " CRLF) - 1 + key.len
          + sizeof("Authorization: " CRLF) - 1 + token.len
          + sizeof(CRLF) - 1;

    b = ngx_create_temp_buf(probe->pool, len);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->last = ngx_sprintf(b->last, "GET %V HTTP/1.1" CRLF
                          "Host: %V" CRLF
                          "Upgrade: websocket" CRLF
                          "Connection: Upgrade" CRLF
                          "Sec-WebSocket-Version: 13" CRLF
                          "User-Agent: wharf-health" CRLF
                          "X-Wharf-Probe: 1" CRLF
                          "Sec-WebSocket-Key: %V" CRLF,
                          path, &server->name, &key);

    if (token.len) {
        b->last = ngx_sprintf(b->last, "Authorization: %V" CRLF, &token);
    }

    b->last = ngx_cpymem(b->last, CRLF, sizeof(CRLF) - 1);

    probe->x.request = b;

    probe->x.response = ngx_create_temp_buf(probe->pool,
                                            NGX_HTTP_WHARF_PROBE_BUF);
    if (probe->x.response == NULL) {
        return NGX_ERROR;
    }

    probe->x.response_max = NGX_HTTP_WHARF_PROBE_BUF;

    return NGX_OK;
}


/* what the worker answered so far, or that it closed the connection */

static ngx_int_t
ngx_http_wharf_probe_read(ngx_http_wharf_exchange_t *x, ngx_uint_t closed)
{
    ngx_int_t                rc;
    ngx_http_wharf_probe_t  *probe;

    probe = x->data;

    if (closed) {
        if (x->response->last == x->response->pos) {
            ngx_http_wharf_probe_fail(probe, "the worker closed the "
                                      "connection without answering "
                                      "the handshake");

        } else {
            ngx_http_wharf_probe_fail(probe, "the worker closed the "
                                      "connection in the middle of "
                                      "the handshake response");
        }

        return NGX_DONE;
    }

    rc = ngx_http_wharf_probe_parse(probe);

    if (rc == NGX_OK) {
        ngx_http_wharf_probe_close_frame(probe);
        ngx_http_wharf_probe_finish(probe, NGX_HTTP_WHARF_HEALTHY);
    }

    /* NGX_ERROR: the probe has failed already */

    return rc;
}


static void
ngx_http_wharf_probe_exchange_failed(ngx_http_wharf_exchange_t *x,
    const char *reason)
{
    ngx_http_wharf_probe_fail(x->data, "%s", reason);
}


#define NGX_HTTP_WHARF_SEEN_UPGRADE      1
#define NGX_HTTP_WHARF_SEEN_CONNECTION   2
#define NGX_HTTP_WHARF_SEEN_ACCEPT       4


/*
 * The handshake response: NGX_AGAIN until the header is whole, then
 * NGX_OK if it is a valid 101 for our key, or NGX_ERROR with the probe
 * failed and the reason given.
 */

static ngx_int_t
ngx_http_wharf_probe_parse(ngx_http_wharf_probe_t *probe)
{
    u_char      *p, *end, *line, *eol;
    ngx_buf_t   *b;
    ngx_int_t    status;
    ngx_uint_t   seen;

    b = probe->x.response;

    end = NULL;

    for (p = b->pos; p + 3 < b->last; p++) {
        if (p[0] == CR && p[1] == LF && p[2] == CR && p[3] == LF) {
            end = p + 2;
            break;
        }
    }

    if (end == NULL) {
        return NGX_AGAIN;
    }

    /* the status line: "HTTP/1.1 101 Switching Protocols" */

    eol = ngx_strlchr(b->pos, end, CR);

    if (eol - b->pos < 12
        || ngx_strncmp(b->pos, "HTTP/1.", 7) != 0
        || b->pos[8] != ' '
        || (eol - b->pos > 12 && b->pos[12] != ' '))
    {
        ngx_http_wharf_probe_fail(probe, "the worker did not answer "
                                  "with HTTP: \"%*s\"",
                                  (size_t) ngx_min(eol - b->pos, 40),
                                  b->pos);
        return NGX_ERROR;
    }

    status = ngx_atoi(b->pos + 9, 3);

    if (status != 101) {
        ngx_http_wharf_probe_fail(probe, "the worker answered \"%*s\" to "
                                  "the WebSocket handshake, not 101 "
                                  "Switching Protocols",
                                  (size_t) ngx_min(eol - b->pos, 60),
                                  b->pos);
        return NGX_ERROR;
    }

    seen = 0;

    for (line = eol + 2; line < end; line = eol + 2) {

        eol = ngx_strlchr(line, end, CR);

        if (eol == NULL || eol + 1 >= b->last || eol[1] != LF) {
            ngx_http_wharf_probe_fail(probe, "malformed handshake "
                                      "response header");
            return NGX_ERROR;
        }

        if (ngx_http_wharf_probe_header(probe, line, eol, &seen) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (!(seen & NGX_HTTP_WHARF_SEEN_UPGRADE)) {
        ngx_http_wharf_probe_fail(probe, "the 101 response has no "
                                  "\"Upgrade: websocket\"");
        return NGX_ERROR;
    }

    if (!(seen & NGX_HTTP_WHARF_SEEN_CONNECTION)) {
        ngx_http_wharf_probe_fail(probe, "the 101 response has no "
                                  "\"Connection: upgrade\"");
        return NGX_ERROR;
    }

    if (!(seen & NGX_HTTP_WHARF_SEEN_ACCEPT)) {
        ngx_http_wharf_probe_fail(probe, "the 101 response has no "
                                  "Sec-WebSocket-Accept");
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_wharf_probe_header(ngx_http_wharf_probe_t *probe, u_char *line,
    u_char *end, ngx_uint_t *seen)
{
    u_char     *colon;
    ngx_str_t   name, value;

    colon = ngx_strlchr(line, end, ':');

    if (colon == NULL) {
        ngx_http_wharf_probe_fail(probe, "malformed handshake response "
                                  "header line");
        return NGX_ERROR;
    }

    name.data = line;
    name.len = colon - line;

    value.data = colon + 1;
    value.len = end - value.data;

    while (value.len && (value.data[0] == ' ' || value.data[0] == '\t')) {
        value.data++;
        value.len--;
    }

    while (value.len && (value.data[value.len - 1] == ' '
                         || value.data[value.len - 1] == '\t'))
    {
        value.len--;
    }

    if (name.len == sizeof("Upgrade") - 1
        && ngx_strncasecmp(name.data, (u_char *) "Upgrade", name.len) == 0)
    {
        if (value.len != sizeof("websocket") - 1
            || ngx_strncasecmp(value.data, (u_char *) "websocket",
                               value.len)
               != 0)
        {
            ngx_http_wharf_probe_fail(probe, "the 101 response upgrades to "
                                      "\"%*s\", not websocket",
                                      ngx_min(value.len, 40), value.data);
            return NGX_ERROR;
        }

        *seen |= NGX_HTTP_WHARF_SEEN_UPGRADE;
        return NGX_OK;
    }

    if (name.len == sizeof("Connection") - 1
        && ngx_strncasecmp(name.data, (u_char *) "Connection", name.len)
           == 0)
    {
        if (value.len >= sizeof("upgrade") - 1
            && ngx_strlcasestrn(value.data, value.data + value.len,
                                (u_char *) "upgrade",
                                sizeof("upgrade") - 2)
               != NULL)
        {
            *seen |= NGX_HTTP_WHARF_SEEN_CONNECTION;
        }

        return NGX_OK;
    }

    if (name.len == sizeof("Sec-WebSocket-Accept") - 1
        && ngx_strncasecmp(name.data, (u_char *) "Sec-WebSocket-Accept",
                           name.len)
           == 0)
    {
        if (value.len != sizeof(probe->accept)
            || ngx_strncmp(value.data, probe->accept, sizeof(probe->accept))
               != 0)
        {
            ngx_http_wharf_probe_fail(probe, "Sec-WebSocket-Accept \"%*s\" "
                                      "does not match the key (expected "
                                      "\"%*s\")",
                                      ngx_min(value.len, 40), value.data,
                                      sizeof(probe->accept), probe->accept);
            return NGX_ERROR;
        }

        *seen |= NGX_HTTP_WHARF_SEEN_ACCEPT;
        return NGX_OK;
    }

    return NGX_OK;
}


/*
 * A masked close frame with status 1000, so the agent sees a client that
 * leaves properly; sent once, without waiting: the probe is over.
 */

static void
ngx_http_wharf_probe_close_frame(ngx_http_wharf_probe_t *probe)
{
    u_char             frame[8];
    ngx_connection_t  *c;

    c = probe->x.peer.connection;

    if (RAND_bytes(frame + 2, 4) != 1) {
        ngx_memzero(frame + 2, 4);
    }

    frame[0] = 0x88;                       /* FIN, close */
    frame[1] = 0x80 | 2;                   /* masked, 2 bytes */
    frame[6] = (u_char) (0x03 ^ frame[2]); /* 1000, big endian */
    frame[7] = (u_char) (0xe8 ^ frame[3]);

    (void) c->send(c, frame, sizeof(frame));
}


static void
ngx_http_wharf_probe_timeout_handler(ngx_event_t *ev)
{
    ngx_http_wharf_probe_t  *probe = ev->data;

    ngx_http_wharf_probe_fail(probe, "timed out after %M ms while %s",
                              probe->wmcf->health_timeout,
                              ngx_http_wharf_probe_states[probe->x.state]);
}


static void
ngx_http_wharf_probe_failed_handler(ngx_event_t *ev)
{
    ngx_http_wharf_probe_finish(ev->data, NGX_HTTP_WHARF_UNHEALTHY);
}


/*
 * Records why the probe failed, unless the connection's log already said
 * (its message, with the errno, is the better one), and ends the probe
 * from the event loop: a caller of ngx_http_wharf_probe_start() never
 * sees its waiters called back before it returns.
 */

static void
ngx_http_wharf_probe_fail(ngx_http_wharf_probe_t *probe, const char *fmt,
    ...)
{
    va_list   args;
    u_char   *p;

    if (probe->result.error_len == 0) {
        va_start(args, fmt);
        p = ngx_vslprintf(probe->result.error,
                          probe->result.error + NGX_HTTP_WHARF_ERROR_LEN,
                          fmt, args);
        va_end(args);

        probe->result.error_len = p - probe->result.error;
    }

    /* the connection's later events are not the probe's business now */

    probe->x.ended = 1;

    if (!probe->failed.posted && !probe->done) {
        ngx_post_event(&probe->failed, &ngx_posted_events);
    }
}


static void
ngx_http_wharf_probe_finish(ngx_http_wharf_probe_t *probe, ngx_uint_t status)
{
    ngx_uint_t                previous;
    ngx_queue_t              *q;
    ngx_time_t               *tp;
    ngx_http_wharf_worker_t  *worker;
    ngx_http_wharf_waiter_t  *w;
    ngx_http_wharf_result_t  *res, last[NGX_HTTP_WHARF_CHECKS];

    if (probe->done) {
        return;
    }

    probe->done = 1;

    res = &probe->result;

    res->status = status;
    res->latency_us = ngx_http_wharf_now_us() - probe->start;

    if (status == NGX_HTTP_WHARF_HEALTHY) {
        res->error_len = 0;
    }

    tp = ngx_timeofday();
    res->checked_at = (uint64_t) tp->sec * 1000 + tp->msec;

    if (probe->timeout.timer_set) {
        ngx_del_timer(&probe->timeout);
    }

    if (probe->failed.posted) {
        ngx_delete_posted_event(&probe->failed);
    }

    ngx_http_wharf_exchange_close(&probe->x);

    probe->worker->probe[probe->check] = NULL;

    ngx_http_wharf_load_results(probe->wmcf, probe->worker, last);
    previous = last[probe->check].status;

    ngx_http_wharf_store_result(probe->wmcf, probe->worker, probe->check,
                                res);

    if (status != previous) {
        if (status == NGX_HTTP_WHARF_HEALTHY) {
            ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                          "wharf: worker \"%V\" %s is healthy",
                          &probe->worker->name,
                          ngx_http_wharf_check_names[probe->check]);

        } else {
            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "wharf: worker \"%V\" %s is unhealthy: %*s",
                          &probe->worker->name,
                          ngx_http_wharf_check_names[probe->check],
                          res->error_len, res->error);
        }
    }

    while (!ngx_queue_empty(&probe->waiters)) {
        q = ngx_queue_head(&probe->waiters);
        ngx_queue_remove(q);

        w = ngx_queue_data(q, ngx_http_wharf_waiter_t, queue);
        w->queued = 0;
        w->handler(w, res);
    }

    worker = probe->worker;

    ngx_destroy_pool(probe->pool);

    ngx_http_wharf_worker_release(worker);
}


/*
 * The probe connection's log writer: keeps the first error as the
 * probe's reason, without the time and pid prefix nginx puts before it;
 * serious trouble (no sockets left...) still goes to the error log.
 */

static void
ngx_http_wharf_probe_log_writer(ngx_log_t *log, ngx_uint_t level,
    u_char *buf, size_t len)
{
    u_char                  *p, *last;
    ngx_http_wharf_probe_t  *probe;

    probe = log->wdata;
    last = buf + len;

    while (last > buf && (last[-1] == LF || last[-1] == CR)) {
        last--;
    }

    if (level <= NGX_LOG_CRIT) {
        ngx_log_error(level, ngx_cycle->log, 0, "wharf probe: %*s",
                      (size_t) (last - buf), buf);
    }

    if (probe->result.error_len) {
        return;
    }

    /* "2026/01/31 12:00:00 [error] 123#0: message" */

    p = ngx_strlchr(buf, last, ']');

    if (p) {
        p = ngx_strlchr(p, last, ':');
    }

    p = (p && p + 2 <= last) ? p + 2 : buf;

    len = ngx_min((size_t) (last - p), NGX_HTTP_WHARF_ERROR_LEN);

    ngx_memcpy(probe->result.error, p, len);
    probe->result.error_len = len;
}


uint64_t
ngx_http_wharf_now_us(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


/*
 * Background probing, wharf_health_interval: a round shared by the nginx
 * worker processes (ngx_http_wharf_round_claim()), so each round is
 * probed once for the whole server, whichever process is free.
 */

ngx_int_t
ngx_http_wharf_probe_init_process(ngx_cycle_t *cycle,
    ngx_http_wharf_main_conf_t *wmcf)
{
    /* live workers may come at any time: the rounds run without any */

    if (wmcf->health_interval == 0) {
        return NGX_OK;
    }

    ngx_http_wharf_round_init(&wmcf->health_timer, ngx_http_wharf_probe_tick,
                              wmcf, cycle->log);

    return NGX_OK;
}


static void
ngx_http_wharf_probe_tick(ngx_event_t *ev)
{
    ngx_uint_t                   i, k, n;
    ngx_queue_t                 *q;
    ngx_http_wharf_peer_t       *peer;
    ngx_http_wharf_worker_t    **wp, *worker;
    ngx_http_wharf_main_conf_t  *wmcf;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    wmcf = ev->data;

    if (ngx_http_wharf_round_claim(wmcf, &wmcf->sh->next_round,
                                   wmcf->health_interval))
    {
        (void) ngx_atomic_fetch_add(&wmcf->sh->rounds, 1);

        /* the wharf_worker ones, then the live ones */

        ngx_http_wharf_live_sync(wmcf);

        wp = wmcf->workers.elts;
        n = wmcf->workers.nelts;
        q = wmcf->live ? ngx_queue_head(&wmcf->live->peers) : NULL;

        for (i = 0; /* void */ ; i++) {

            if (i < n) {
                worker = wp[i];

            } else if (q && q != ngx_queue_sentinel(&wmcf->live->peers)) {
                peer = ngx_queue_data(q, ngx_http_wharf_peer_t, queue);
                worker = &peer->worker;
                q = ngx_queue_next(q);

            } else {
                break;
            }

            for (k = 0; k < NGX_HTTP_WHARF_CHECKS; k++) {
                if (ngx_http_wharf_probe_start(wmcf, worker, k, NULL, ev->log)
                    != NGX_OK)
                {
                    ngx_log_error(NGX_LOG_ALERT, ev->log, 0,
                                  "wharf: cannot start a probe of \"%V\"",
                                  &worker->name);
                }
            }
        }
    }

    ngx_http_wharf_round_wait(ev, wmcf->health_interval);
}
