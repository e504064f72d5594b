
/*
 * wharf: the health routes.
 *
 *   GET /api/workers/NAME/health/terminal (or /websocket): one probe of
 *   one worker;
 *   GET /health, /health/terminal, /health/websocket: every worker at
 *   once, and for "wharf_health all" the backend too.
 *
 * The probes themselves (the WebSocket handshake, sharing one probe among
 * its waiters, background probing) are in ngx_http_wharf_probe.c; the
 * handlers here wait for their results and answer JSON.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_wharf_module.h"


/* one GET /health..., waiting for its probes and for the backend */

typedef struct {
    ngx_http_request_t            *request;
    ngx_uint_t                     check;       /* one, or _ALL */
    ngx_http_wharf_worker_t      **workers;     /* held until it ends */
    ngx_uint_t                     nworkers;
    ngx_uint_t                     pending;
    ngx_http_wharf_result_t       *results;     /* [worker][check] */
    ngx_http_wharf_waiter_t      **waiters;     /* [worker][check] */

    ngx_http_wharf_backend_t       backend;     /* "all": wharfd too */

    uint64_t                       start;
    unsigned                       responded:1;
} ngx_http_wharf_health_ctx_t;


static void ngx_http_wharf_worker_health_done(ngx_http_wharf_waiter_t *w,
    ngx_http_wharf_result_t *res);
static void ngx_http_wharf_worker_health_cleanup(void *data);
static void ngx_http_wharf_health_cleanup(void *data);
static void ngx_http_wharf_health_probe_done(ngx_http_wharf_waiter_t *w,
    ngx_http_wharf_result_t *res);
static ngx_int_t ngx_http_wharf_health_backend(ngx_http_request_t *r,
    ngx_http_wharf_health_ctx_t *hctx, ngx_str_t *uri);
static void ngx_http_wharf_health_wake(ngx_http_request_t *r);
static void ngx_http_wharf_health_try_finish(ngx_http_wharf_health_ctx_t *hctx);


/* GET /api/workers/NAME/health/terminal (or /websocket) */

ngx_int_t
ngx_http_wharf_worker_health_handler(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_http_cleanup_t          *cln;
    ngx_http_wharf_ctx_t        *ctx;
    ngx_http_wharf_waiter_t     *w;
    ngx_http_wharf_main_conf_t  *wmcf;

    rc = ngx_http_wharf_read_only(r);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_wharf_module);
    wmcf = ngx_http_get_module_main_conf(r, ngx_http_wharf_module);

    w = ngx_pcalloc(r->pool, sizeof(ngx_http_wharf_waiter_t));
    if (w == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    w->handler = ngx_http_wharf_worker_health_done;
    w->data = r;

    /*
     * Should nginx end the request early (ngx_http_terminate_request()),
     * the probe must not call back into it.
     */

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_wharf_worker_health_cleanup;
    cln->data = w;

    if (ngx_http_wharf_probe_start(wmcf, ctx->worker, ctx->check, w,
                                   r->connection->log)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_http_wharf_worker_health_cleanup(void *data)
{
    ngx_http_wharf_waiter_t  *w = data;

    if (w->queued) {
        ngx_queue_remove(&w->queue);
        w->queued = 0;
    }
}


static void
ngx_http_wharf_worker_health_done(ngx_http_wharf_waiter_t *w,
    ngx_http_wharf_result_t *res)
{
    ngx_int_t              rc;
    ngx_connection_t      *c;
    ngx_http_request_t    *r;
    ngx_http_wharf_ctx_t  *ctx;
    ngx_http_wharf_out_t   out;

    r = w->data;
    c = r->connection;
    ctx = ngx_http_get_module_ctx(r, ngx_http_wharf_module);

    ngx_http_wharf_out_init(&out, r->pool);

    ngx_http_wharf_out_literal(&out, "{\"worker\":");
    ngx_http_wharf_out_string(&out, ctx->worker->name.data,
                              ctx->worker->name.len);
    ngx_http_wharf_out_printf(&out, ",\"check\":\"%s\",",
                              ngx_http_wharf_check_name(ctx->check));
    ngx_http_wharf_out_result(&out, res);
    ngx_http_wharf_out_literal(&out, "}" CRLF);

    rc = ngx_http_wharf_out_send(r, &out,
                                 res->status == NGX_HTTP_WHARF_HEALTHY
                                 ? NGX_HTTP_OK
                                 : NGX_HTTP_SERVICE_UNAVAILABLE, NULL);

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


/*
 * GET /health, /health/terminal, /health/websocket: every worker at once,
 * and for "wharf_health all" the backend too, through a subrequest to
 * wharf_health_backend.  The answer comes when the last of them is in,
 * so it takes about as long as the slowest, at most the probe timeout.
 */

ngx_int_t
ngx_http_wharf_health_handler(ngx_http_request_t *r)
{
    ngx_int_t                     rc;
    ngx_uint_t                    i, k, n, first, last;
    ngx_http_cleanup_t           *cln;
    ngx_http_wharf_ctx_t         *ctx;
    ngx_http_wharf_waiter_t      *w;
    ngx_http_wharf_worker_t     **wp;
    ngx_http_wharf_loc_conf_t    *wlcf;
    ngx_http_wharf_main_conf_t   *wmcf;
    ngx_http_wharf_health_ctx_t  *hctx;

    rc = ngx_http_wharf_read_only(r);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_wharf_module);
    wmcf = ngx_http_get_module_main_conf(r, ngx_http_wharf_module);

    ctx = ngx_http_get_module_ctx(r, ngx_http_wharf_module);

    if (ctx == NULL) {
        ctx = ngx_http_wharf_ctx_create(r);
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    hctx = ngx_pcalloc(r->pool, sizeof(ngx_http_wharf_health_ctx_t));
    if (hctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->u.health = hctx;

    hctx->request = r;
    hctx->check = wlcf->check;
    hctx->start = ngx_http_wharf_now_us();

    /* the workers now, live ones too, kept until the answer is sent */

    hctx->workers = ngx_http_wharf_all_workers(wmcf, r->pool, &n);
    if (hctx->workers == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    hctx->results = ngx_pcalloc(r->pool, n * NGX_HTTP_WHARF_CHECKS
                                         * sizeof(ngx_http_wharf_result_t));
    hctx->waiters = ngx_pcalloc(r->pool, n * NGX_HTTP_WHARF_CHECKS
                                         * sizeof(ngx_http_wharf_waiter_t *));

    if ((hctx->results == NULL || hctx->waiters == NULL) && n) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_wharf_health_cleanup;
    cln->data = hctx;

    /*
     * Held until the request ends (the cleanup releases them); a live
     * worker removed by another process meanwhile is left out.
     */

    for (i = 0; i < n; i++) {
        if (ngx_http_wharf_worker_hold(hctx->workers[i])) {
            hctx->workers[hctx->nworkers++] = hctx->workers[i];
        }
    }

    if (wlcf->check == NGX_HTTP_WHARF_CHECK_ALL) {
        first = 0;
        last = NGX_HTTP_WHARF_CHECKS;

    } else {
        first = wlcf->check;
        last = wlcf->check + 1;
    }

    /* the request stays until the last probe and the backend are in */

    r->main->count++;
    r->write_event_handler = ngx_http_wharf_health_wake;

    wp = hctx->workers;

    for (i = 0; i < hctx->nworkers; i++) {
        for (k = first; k < last; k++) {

            w = ngx_pcalloc(r->pool, sizeof(ngx_http_wharf_waiter_t));

            if (w == NULL
                || ngx_http_wharf_probe_start(wmcf, wp[i], k, w,
                                              r->connection->log)
                   != NGX_OK)
            {
                hctx->results[i * NGX_HTTP_WHARF_CHECKS + k].status =
                                                     NGX_HTTP_WHARF_UNHEALTHY;
                continue;
            }

            w->handler = ngx_http_wharf_health_probe_done;
            w->data = hctx;
            w->index = i * NGX_HTTP_WHARF_CHECKS + k;

            hctx->waiters[w->index] = w;
            hctx->pending++;
        }
    }

    /* a subrequest does not ask the backend again */

    if (wlcf->check == NGX_HTTP_WHARF_CHECK_ALL
        && wlcf->health_backend.len
        && r == r->main)
    {
        (void) ngx_http_wharf_health_backend(r, hctx, &wlcf->health_backend);
    }

    ngx_http_wharf_health_try_finish(hctx);

    return NGX_DONE;
}


/* the request is going away early: nothing may call back into it */

static void
ngx_http_wharf_health_cleanup(void *data)
{
    ngx_http_wharf_health_ctx_t  *hctx = data;

    ngx_uint_t                i;
    ngx_http_wharf_waiter_t  *w;

    hctx->responded = 1;

    for (i = 0; i < hctx->nworkers * NGX_HTTP_WHARF_CHECKS; i++) {
        w = hctx->waiters[i];

        if (w && w->queued) {
            ngx_queue_remove(&w->queue);
            w->queued = 0;
        }
    }

    ngx_http_wharf_backend_cancel(&hctx->backend);

    for (i = 0; i < hctx->nworkers; i++) {
        ngx_http_wharf_worker_release(hctx->workers[i]);
    }

    hctx->nworkers = 0;
}


static void
ngx_http_wharf_health_probe_done(ngx_http_wharf_waiter_t *w,
    ngx_http_wharf_result_t *res)
{
    ngx_connection_t             *c;
    ngx_http_wharf_health_ctx_t  *hctx;

    hctx = w->data;
    c = hctx->request->connection;

    hctx->results[w->index] = *res;
    hctx->pending--;

    ngx_http_wharf_health_try_finish(hctx);
    ngx_http_run_posted_requests(c);
}


/*
 * wharfd's own health, asked in the background (ngx_http_wharf_backend.c)
 * with the module's own read token.
 */

static ngx_int_t
ngx_http_wharf_health_backend(ngx_http_request_t *r,
    ngx_http_wharf_health_ctx_t *hctx, ngx_str_t *uri)
{
    ngx_str_t                    token;
    ngx_http_wharf_main_conf_t  *wmcf;

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_wharf_module);

    token.len = 0;
    token.data = NULL;

    if (wmcf->private_key.len
        && ngx_http_wharf_fleet_token(wmcf, r->connection->log, &token)
           != NGX_OK)
    {
        hctx->backend.asked = 1;
        hctx->backend.error = "cannot sign the backend's token";
        return NGX_ERROR;
    }

    return ngx_http_wharf_backend_ask(r, &hctx->backend, uri, 0, &token);
}


static void
ngx_http_wharf_health_wake(ngx_http_request_t *r)
{
    ngx_http_wharf_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_wharf_module);

    if (ctx == NULL || ctx->u.health == NULL) {
        return;
    }

    ngx_http_wharf_health_try_finish(ctx->u.health);
}


static void
ngx_http_wharf_health_try_finish(ngx_http_wharf_health_ctx_t *hctx)
{
    uint64_t                     elapsed;
    ngx_int_t                    rc;
    ngx_uint_t                   i, k, first, last, healthy, unhealthy, ok;
    ngx_http_request_t          *r;
    ngx_http_wharf_out_t         out;
    ngx_http_wharf_worker_t    **wp;
    ngx_http_wharf_result_t     *res;

    if (hctx->responded || hctx->pending || hctx->backend.pending) {
        return;
    }

    hctx->responded = 1;

    r = hctx->request;
    wp = hctx->workers;

    ngx_http_wharf_backend_cancel(&hctx->backend);

    elapsed = ngx_http_wharf_now_us() - hctx->start;

    if (hctx->check == NGX_HTTP_WHARF_CHECK_ALL) {
        first = 0;
        last = NGX_HTTP_WHARF_CHECKS;

    } else {
        first = hctx->check;
        last = hctx->check + 1;
    }

    healthy = 0;
    unhealthy = 0;

    for (i = 0; i < hctx->nworkers; i++) {
        for (k = first; k < last; k++) {
            res = &hctx->results[i * NGX_HTTP_WHARF_CHECKS + k];

            if (res->status == NGX_HTTP_WHARF_HEALTHY) {
                healthy++;

            } else {
                unhealthy++;
            }
        }
    }

    ok = (unhealthy == 0);

    if (hctx->backend.asked && !ngx_http_wharf_backend_ok(&hctx->backend)) {
        ok = 0;
    }

    ngx_http_wharf_out_init(&out, r->pool);

    ngx_http_wharf_out_printf(&out, "{\"check\":\"%s\",\"status\":\"%s\","
                              "\"healthy\":%ui,\"unhealthy\":%ui,"
                              "\"latency_ms\":%uL.%03uL",
                              ngx_http_wharf_check_name(hctx->check),
                              ok ? "healthy" : "unhealthy",
                              healthy, unhealthy,
                              elapsed / 1000, elapsed % 1000);

    if (hctx->backend.asked) {
        ngx_http_wharf_out_literal(&out, ",\"wharfd\":");
        ngx_http_wharf_backend_out(&out, &hctx->backend, "healthy",
                                   "unhealthy");
    }

    ngx_http_wharf_out_literal(&out, ",\"workers\":[");

    for (i = 0; i < hctx->nworkers; i++) {
        for (k = first; k < last; k++) {
            res = &hctx->results[i * NGX_HTTP_WHARF_CHECKS + k];

            if (i || k != first) {
                ngx_http_wharf_out_literal(&out, ",");
            }

            ngx_http_wharf_out_literal(&out, "{\"worker\":");
            ngx_http_wharf_out_string(&out, wp[i]->name.data,
                                      wp[i]->name.len);
            ngx_http_wharf_out_printf(&out, ",\"check\":\"%s\",",
                                      ngx_http_wharf_check_name(k));
            ngx_http_wharf_out_result(&out, res);
            ngx_http_wharf_out_literal(&out, "}");
        }
    }

    ngx_http_wharf_out_literal(&out, "]}" CRLF);

    rc = ngx_http_wharf_out_send(r, &out,
                                 ok ? NGX_HTTP_OK
                                    : NGX_HTTP_SERVICE_UNAVAILABLE, NULL);

    ngx_http_finalize_request(r, rc);
}
