
/*
 * wharf: live sessions, max_sessions, routed requests by status class.
 *
 * A request routed to a worker is a session from the precontent phase,
 * after auth, until nginx frees the request, however it ends: the client
 * or the upstream closing a tunnel, a timeout, an error.  The count goes
 * up in the shared zone and a cleanup of the request brings it down, so
 * every way out of a request decrements exactly once, and in the node the
 * request incremented, even after a reload.
 *
 * Why a cleanup of the request and not the log phase: an error_page (a
 * server-wide "error_page 502 ..." is inherited) redirects a request
 * internally, and that clears its module contexts, so the log phase would
 * not know the request was counted.  The cleanup (r->main->cleanup) is the
 * first member of the module context itself (ngx_http_wharf_ctx_create()),
 * so it costs the request 24 bytes and no allocation of its own.  nginx
 * runs a request's cleanups in ngx_http_free_request() (and, for an
 * error, in ngx_http_terminate_request()) before the request is logged:
 * so the same cleanup also puts the client's request target back, for
 * $request_uri in the access log, when the request ends before the
 * balancer's init_peer could (its body failed, or the client left, while
 * nginx read it).
 *
 * Kinds: a WebSocket upgrade to the worker's terminal path is a
 * "terminal" session, any other upgrade a "websocket" session, the rest
 * "http".  max_sessions limits terminal and websocket sessions together:
 * they hold a PTY or a live feed in the container, while plain HTTP
 * requests are short, and a full worker should still answer its REST API.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_wharf_module.h"


static ngx_uint_t ngx_http_wharf_session_kind(ngx_http_request_t *r,
    ngx_http_wharf_ctx_t *ctx);
static void ngx_http_wharf_request_end(void *data);


/*
 * The module context of a request, with the cleanup of the request that
 * ends its session.  A subrequest's context goes into the main request's
 * cleanups, as ngx_http_cleanup_add() does: a subrequest has none of its
 * own, and its pool is the main request's.
 */

ngx_http_wharf_ctx_t *
ngx_http_wharf_ctx_create(ngx_http_request_t *r)
{
    ngx_http_wharf_ctx_t  *ctx;

    ctx = ngx_palloc(r->pool, sizeof(ngx_http_wharf_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ctx->cleanup.handler = ngx_http_wharf_request_end;
    ctx->cleanup.data = ctx;
    ctx->cleanup.next = r->main->cleanup;
    r->main->cleanup = &ctx->cleanup;

    ctx->held = NULL;
    ctx->session = NULL;

    ngx_http_wharf_ctx_reset(ctx);

    ngx_http_set_ctx(r, ctx, ngx_http_wharf_module);

    return ctx;
}


/*
 * Precontent phase, in a wharf_route location: runs after the access
 * phase has let the request in, just before proxy_pass.
 */

ngx_int_t
ngx_http_wharf_precontent_handler(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_str_t                    token;
    ngx_uint_t                   kind;
    ngx_atomic_int_t             n;
    ngx_http_wharf_ctx_t        *ctx;
    ngx_http_wharf_node_t       *wn;
    ngx_http_wharf_worker_t     *worker;
    ngx_http_wharf_loc_conf_t   *wlcf;
    ngx_http_wharf_main_conf_t  *wmcf;

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_wharf_module);

    if (wlcf->prefix.data == NULL) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_wharf_module);

    if (ctx == NULL || ctx->worker == NULL || !ctx->located) {
        return NGX_DECLINED;
    }

    if (ctx->check != NGX_HTTP_WHARF_CHECK_NONE) {
        r->content_handler = ngx_http_wharf_worker_health_handler;
        return NGX_DECLINED;
    }

    if (ctx->counted) {
        return NGX_DECLINED;
    }

    worker = ctx->worker;
    wmcf = ngx_http_get_module_main_conf(r, ngx_http_wharf_module);

    /*
     * The client's credentials stay here; the agent gets the module's own
     * token, bound to this worker by its "aud", as the Authorization
     * header that proxy_pass sends on, in place of the client's.  No
     * proxy_set_header, and so no variable, is needed for it.
     */

    token.len = 0;
    token.data = NULL;

    if (wmcf->private_key.len
        && ngx_http_wharf_upstream_token(wmcf, worker, r->connection->log,
                                         &token)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * Through wharf_balancer a header the client did not send is not added
     * here: init_peer adds the token to the request to the agent itself,
     * outside the request's pool (ngx_http_wharf_balancer_add_token()).
     */

    if (ngx_http_wharf_swap_credentials(r, token.len ? &token : NULL,
                                        !wlcf->balanced)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    kind = ngx_http_wharf_session_kind(r, ctx);
    wn = worker->node;

    if (kind != NGX_HTTP_WHARF_KIND_HTTP) {
        n = ngx_atomic_fetch_add(&wn->upgraded, 1);

        if (worker->max_sessions && (ngx_uint_t) n >= worker->max_sessions) {
            (void) ngx_atomic_fetch_add(&wn->upgraded, -1);
            (void) ngx_atomic_fetch_add(&wn->rejected, 1);

            rc = ngx_http_wharf_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                           "too_many_sessions",
                                           "worker \"%V\" has its %ui "
                                           "sessions (max_sessions); try "
                                           "again later",
                                           &worker->name,
                                           worker->max_sessions);
            ngx_http_finalize_request(r, rc);
            return NGX_DONE;
        }
    }

    (void) ngx_atomic_fetch_add(&wn->sessions[kind], 1);

    ctx->counted = 1;
    ctx->kind = kind;

    /* a live worker's removal ends its sessions: listed with it */

    if (kind != NGX_HTTP_WHARF_KIND_HTTP && worker->peer
        && ngx_http_wharf_live_session(r, ctx) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (wlcf->balanced && ngx_http_wharf_set_target(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DECLINED;
}


/* an Upgrade header that names websocket: a WebSocket session, for the
 * counts as for the handshake's checks (ngx_http_wharf_auth.c) */

ngx_uint_t
ngx_http_wharf_is_websocket(ngx_http_request_t *r)
{
    ngx_table_elt_t  *h;

    h = r->headers_in.upgrade;

    return h != NULL
           && ngx_strlcasestrn(h->value.data, h->value.data + h->value.len,
                               (u_char *) "websocket", sizeof("websocket") - 2)
              != NULL;
}


static ngx_uint_t
ngx_http_wharf_session_kind(ngx_http_request_t *r, ngx_http_wharf_ctx_t *ctx)
{
    ngx_str_t  *path;

    if (!ngx_http_wharf_is_websocket(r)) {
        return NGX_HTTP_WHARF_KIND_HTTP;
    }

    path = &ctx->worker->paths[NGX_HTTP_WHARF_CHECK_TERMINAL];

    if (ctx->path.len == path->len
        && ngx_strncmp(ctx->path.data, path->data, path->len) == 0)
    {
        return NGX_HTTP_WHARF_KIND_TERMINAL;
    }

    return NGX_HTTP_WHARF_KIND_WEBSOCKET;
}


static void
ngx_http_wharf_request_end(void *data)
{
    ngx_http_wharf_ctx_t *ctx = data;

    ngx_http_wharf_node_t  *wn;

    /* ended before the balancer's init_peer: $request_uri is the client's */

    if (ctx->target) {
        ngx_http_wharf_restore_target(ctx);
    }

    if (ctx->agent_request) {
        ngx_free(ctx->saved.agent_request);
        ctx->agent_request = 0;
    }

    if (ctx->counted) {
        ctx->counted = 0;
        wn = ctx->worker->node;

        (void) ngx_atomic_fetch_add(&wn->sessions[ctx->kind], -1);

        if (ctx->kind != NGX_HTTP_WHARF_KIND_HTTP) {
            (void) ngx_atomic_fetch_add(&wn->upgraded, -1);
        }
    }

    /* a live worker's session (the worker itself is held until later) */

    if (ctx->session) {
        ngx_http_wharf_live_request_end(ctx);
    }
}


/* log phase: every request bound to a worker, by status class */

ngx_int_t
ngx_http_wharf_log_handler(ngx_http_request_t *r)
{
    ngx_uint_t             status, i;
    ngx_http_wharf_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_wharf_module);

    if (ctx == NULL || ctx->worker == NULL || !ctx->located
        || ctx->worker->node == NULL)
    {
        return NGX_OK;
    }

    status = r->headers_out.status;

    i = (status >= 100 && status < 600) ? status / 100 - 1
                                        : NGX_HTTP_WHARF_CLASSES - 1;

    (void) ngx_atomic_fetch_add(&ctx->worker->node->requests[i], 1);

    return NGX_OK;
}
