
/*
 * wharf: what the gateway knows, as JSON and as Prometheus text.
 *
 *   wharf_registry    GET /api/workers, GET /api/workers/NAME
 *                     (PUT and DELETE /api/workers/NAME: live workers,
 *                     ngx_http_wharf_live_api.c)
 *   wharf_terminals   GET /api/terminals[?worker=NAME][&status=healthy]
 *   wharf_metrics     GET /metrics
 *
 * "sessions" are the fleet's, across the gateways (wharf_fleet_peer,
 * ngx_http_wharf_fleet.c); "sessions_here" this gateway's own.
 *
 * The configuration and the live registry give the workers ("source":
 * "static" or "live"); the shared zone gives their live sessions, request
 * counts and last probe results, the same in every nginx worker process.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_wharf_module.h"


static ngx_int_t ngx_http_wharf_registry_methods(ngx_http_request_t *r,
    ngx_http_wharf_ctx_t *ctx);
static void ngx_http_wharf_route_path(ngx_http_request_t *r,
    ngx_http_wharf_out_t *out, ngx_http_wharf_worker_t *worker,
    ngx_str_t *rest);


static const char  *ngx_http_wharf_kind_names[] = {
    "terminal",
    "websocket",
    "http"
};

static const char  *ngx_http_wharf_class_names[] = {
    "1xx", "2xx", "3xx", "4xx", "5xx", "other"
};


static ngx_str_t  ngx_http_wharf_metrics_type =
    ngx_string("text/plain; version=0.0.4; charset=utf-8");


/*
 * GET and HEAD only, and no body to read.  NGX_DECLINED: go on; anything
 * else is what the handler returns at once: the 405 was sent (and its
 * NGX_OK must not be taken for "go on", or a second answer would follow
 * the first: "header already sent"), or the body failed.
 */

ngx_int_t
ngx_http_wharf_read_only(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    rc = ngx_http_wharf_check_method(r);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    rc = ngx_http_discard_request_body(r);

    return rc == NGX_OK ? NGX_DECLINED : rc;
}


/*
 * The list, or one worker when the request was routed to it by its name
 * alone ("/api/workers/NAME", see conf/wharf.conf), which PUT and DELETE
 * change.
 */

ngx_int_t
ngx_http_wharf_registry_handler(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_uint_t                   i, n;
    ngx_http_wharf_ctx_t        *ctx;
    ngx_http_wharf_out_t         out;
    ngx_http_wharf_worker_t    **wp;
    ngx_http_wharf_main_conf_t  *wmcf;

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_wharf_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_wharf_module);

    if (ctx && ctx->bare && ctx->name.len) {
        rc = ngx_http_wharf_registry_methods(r, ctx);

        if (rc != NGX_DECLINED) {
            return rc;
        }

        if (ctx->worker == NULL) {
            return ngx_http_wharf_send_error(r, NGX_HTTP_NOT_FOUND,
                                             "worker_not_found",
                                             "worker \"%V\" is not "
                                             "registered", &ctx->name);
        }

        ngx_http_wharf_out_init(&out, r->pool);
        ngx_http_wharf_registry_entry(r, &out, wmcf, ctx->worker);
        ngx_http_wharf_out_literal(&out, CRLF);

        return ngx_http_wharf_out_send(r, &out, NGX_HTTP_OK, NULL);
    }

    rc = ngx_http_wharf_read_only(r);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (ctx && ctx->worker) {
        return ngx_http_wharf_send_error(r, NGX_HTTP_NOT_FOUND,
                                         "not_found",
                                         "no registry route here");
    }

    wp = ngx_http_wharf_all_workers(wmcf, r->pool, &n);
    if (wp == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_wharf_out_init(&out, r->pool);
    ngx_http_wharf_out_literal(&out, "[");

    for (i = 0; i < n; i++) {
        if (i) {
            ngx_http_wharf_out_literal(&out, ",");
        }

        ngx_http_wharf_registry_entry(r, &out, wmcf, wp[i]);
    }

    ngx_http_wharf_out_literal(&out, "]" CRLF);

    return ngx_http_wharf_out_send(r, &out, NGX_HTTP_OK, NULL);
}


/*
 * "PREFIX NAME": GET and HEAD read it (NGX_DECLINED: go on), PUT and
 * DELETE change the live registry; anything else is 405.
 */

static ngx_int_t
ngx_http_wharf_registry_methods(ngx_http_request_t *r,
    ngx_http_wharf_ctx_t *ctx)
{
    ngx_int_t  rc;

    if (r->method & (NGX_HTTP_PUT|NGX_HTTP_DELETE)) {
        return ngx_http_wharf_live_handler(r, ctx);
    }

    if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
        rc = ngx_http_discard_request_body(r);
        return (rc == NGX_OK) ? NGX_DECLINED : rc;
    }

    if (ngx_http_wharf_add_header(r, "Allow",
                                  (u_char *) "GET, HEAD, PUT, DELETE",
                                  sizeof("GET, HEAD, PUT, DELETE") - 1)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_wharf_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                     "method_not_allowed",
                                     "%V is not allowed here; use GET, "
                                     "HEAD, PUT or DELETE", &r->method_name);
}


void
ngx_http_wharf_registry_entry(ngx_http_request_t *r,
    ngx_http_wharf_out_t *out, ngx_http_wharf_main_conf_t *wmcf,
    ngx_http_wharf_worker_t *worker)
{
    ngx_uint_t                   i;
    ngx_atomic_uint_t            fleet[NGX_HTTP_WHARF_KINDS];
    ngx_http_wharf_node_t       *wn;
    ngx_http_wharf_result_t      res[NGX_HTTP_WHARF_CHECKS];
    ngx_http_upstream_server_t  *server;

    wn = worker->node;

    ngx_http_wharf_out_literal(out, "{\"name\":");
    ngx_http_wharf_out_string(out, worker->name.data, worker->name.len);
    ngx_http_wharf_out_literal(out, ",\"container\":");
    ngx_http_wharf_out_string(out, worker->container.data,
                              worker->container.len);

    /* a live worker has no upstream{} block: its one address */

    if (worker->peer) {
        ngx_http_wharf_out_literal(out, ",\"source\":\"live\","
                                   "\"upstream\":{\"name\":null");

    } else {
        ngx_http_wharf_out_literal(out, ",\"source\":\"static\","
                                   "\"upstream\":{\"name\":");
        ngx_http_wharf_out_string(out, worker->upstream->host.data,
                                  worker->upstream->host.len);
    }

    ngx_http_wharf_out_literal(out, ",\"servers\":[");

    if (worker->upstream->servers) {
        server = worker->upstream->servers->elts;

        for (i = 0; i < worker->upstream->servers->nelts; i++) {
            if (i) {
                ngx_http_wharf_out_literal(out, ",");
            }

            ngx_http_wharf_out_string(out, server[i].name.data,
                                      server[i].name.len);
        }
    }

    ngx_http_wharf_out_literal(out, "]},\"paths\":{\"terminal\":");
    ngx_http_wharf_route_path(r, out, worker,
                              &worker->paths[NGX_HTTP_WHARF_CHECK_TERMINAL]);
    ngx_http_wharf_out_literal(out, ",\"websocket\":");
    ngx_http_wharf_route_path(r, out, worker,
                              &worker->paths[NGX_HTTP_WHARF_CHECK_WEBSOCKET]);

    if (worker->max_sessions) {
        ngx_http_wharf_out_printf(out, "},\"max_sessions\":%ui",
                                  worker->max_sessions);

    } else {
        ngx_http_wharf_out_literal(out, "},\"max_sessions\":null");
    }

    ngx_http_wharf_load_results(wmcf, worker, res);

    ngx_http_wharf_out_literal(out, ",\"health\":{");

    for (i = 0; i < NGX_HTTP_WHARF_CHECKS; i++) {
        ngx_http_wharf_out_printf(out, "%s\"%s\":{", i ? "," : "",
                                  ngx_http_wharf_check_name(i));
        ngx_http_wharf_out_result(out, &res[i]);
        ngx_http_wharf_out_literal(out, "}");
    }

    /* the fleet's (wharf_fleet_peer), and this gateway's own */

    ngx_http_wharf_fleet_sessions(wmcf, wn, fleet);

    ngx_http_wharf_out_literal(out, "},\"sessions\":{");

    for (i = 0; i < NGX_HTTP_WHARF_KINDS; i++) {
        ngx_http_wharf_out_printf(out, "%s\"%s\":%A", i ? "," : "",
                                  ngx_http_wharf_kind_names[i], fleet[i]);
    }

    ngx_http_wharf_out_literal(out, "},\"sessions_here\":{");

    for (i = 0; i < NGX_HTTP_WHARF_KINDS; i++) {
        ngx_http_wharf_out_printf(out, "%s\"%s\":%A", i ? "," : "",
                                  ngx_http_wharf_kind_names[i],
                                  wn ? wn->sessions[i] : 0);
    }

    ngx_http_wharf_out_literal(out, "},\"requests\":{");

    for (i = 0; i < NGX_HTTP_WHARF_CLASSES; i++) {
        ngx_http_wharf_out_printf(out, "%s\"%s\":%A", i ? "," : "",
                                  ngx_http_wharf_class_names[i],
                                  wn ? wn->requests[i] : 0);
    }

    ngx_http_wharf_out_printf(out, "},\"rejected_sessions\":%A}",
                              wn ? wn->rejected : 0);
}



/*
 * Where a client opens the worker's path through this server: the first
 * wharf_route prefix of the server, else the default "/api/workers/".
 * The agent path "/terminal" is reached at ".../NAME/terminal".
 */

static void
ngx_http_wharf_route_path(ngx_http_request_t *r, ngx_http_wharf_out_t *out,
    ngx_http_wharf_worker_t *worker, ngx_str_t *rest)
{
    u_char                     *p;
    size_t                      len;
    ngx_str_t                   prefix;
    ngx_http_wharf_srv_conf_t  *wscf;

    wscf = ngx_http_get_module_srv_conf(r, ngx_http_wharf_module);

    if (wscf->prefixes && wscf->prefixes->nelts) {
        prefix = *(ngx_str_t *) wscf->prefixes->elts;

    } else {
        ngx_str_set(&prefix, NGX_HTTP_WHARF_DEFAULT_PREFIX);
    }

    len = prefix.len + worker->name.len + rest->len;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        out->failed = 1;
        return;
    }

    ngx_sprintf(p, "%V%V%V", &prefix, &worker->name, rest);

    ngx_http_wharf_out_string(out, p, len);
}


/*
 * The unified terminal view: for a front end that shows every worker's
 * terminal at once, where to open each and whether it can be opened.
 */

ngx_int_t
ngx_http_wharf_terminals_handler(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_str_t                    name, status;
    ngx_uint_t                   i, n, nw, want;
    ngx_atomic_uint_t            fleet[NGX_HTTP_WHARF_KINDS];
    ngx_http_wharf_out_t         out;
    ngx_http_wharf_worker_t    **wp, *only;
    ngx_http_wharf_result_t      res[NGX_HTTP_WHARF_CHECKS];
    ngx_http_wharf_main_conf_t  *wmcf;

    rc = ngx_http_wharf_read_only(r);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_wharf_module);

    only = NULL;
    want = NGX_HTTP_WHARF_UNKNOWN;

    if (ngx_http_arg(r, (u_char *) "worker", sizeof("worker") - 1, &name)
        == NGX_OK)
    {
        if (!wharf_name_valid((const char *) name.data, name.len)) {
            return ngx_http_wharf_send_error(r, NGX_HTTP_BAD_REQUEST,
                                             "invalid_worker_name",
                                             "worker= must be a worker name: "
                                             "1 to %d characters of a-z, "
                                             "0-9 and \"-\", not starting "
                                             "with \"-\"", WHARF_NAME_MAX);
        }

        only = ngx_http_wharf_find_worker(wmcf, name.data, name.len);

        if (only == NULL) {
            return ngx_http_wharf_send_error(r, NGX_HTTP_NOT_FOUND,
                                             "worker_not_found",
                                             "worker \"%V\" is not "
                                             "registered", &name);
        }
    }

    if (ngx_http_arg(r, (u_char *) "status", sizeof("status") - 1, &status)
        == NGX_OK)
    {
        if (status.len == sizeof("healthy") - 1
            && ngx_strncmp(status.data, "healthy", status.len) == 0)
        {
            want = NGX_HTTP_WHARF_HEALTHY;

        } else if (status.len == sizeof("unhealthy") - 1
                   && ngx_strncmp(status.data, "unhealthy", status.len) == 0)
        {
            want = NGX_HTTP_WHARF_UNHEALTHY;

        } else {
            return ngx_http_wharf_send_error(r, NGX_HTTP_BAD_REQUEST,
                                             "bad_request",
                                             "status= must be \"healthy\" "
                                             "or \"unhealthy\"");
        }
    }

    wp = ngx_http_wharf_all_workers(wmcf, r->pool, &nw);
    if (wp == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_wharf_out_init(&out, r->pool);
    ngx_http_wharf_out_literal(&out, "[");

    n = 0;

    for (i = 0; i < nw; i++) {

        if (only && wp[i] != only) {
            continue;
        }

        ngx_http_wharf_load_results(wmcf, wp[i], res);

        /*
         * "unhealthy" is what a front end greys out: a failed probe, or
         * none yet.  "healthy" is a terminal proven to open.
         */

        if (want == NGX_HTTP_WHARF_HEALTHY
            && res[NGX_HTTP_WHARF_CHECK_TERMINAL].status
               != NGX_HTTP_WHARF_HEALTHY)
        {
            continue;
        }

        if (want == NGX_HTTP_WHARF_UNHEALTHY
            && res[NGX_HTTP_WHARF_CHECK_TERMINAL].status
               == NGX_HTTP_WHARF_HEALTHY)
        {
            continue;
        }

        if (n++) {
            ngx_http_wharf_out_literal(&out, ",");
        }

        ngx_http_wharf_out_literal(&out, "{\"worker\":");
        ngx_http_wharf_out_string(&out, wp[i]->name.data, wp[i]->name.len);
        ngx_http_wharf_out_literal(&out, ",\"container\":");
        ngx_http_wharf_out_string(&out, wp[i]->container.data,
                                  wp[i]->container.len);
        ngx_http_wharf_out_literal(&out, ",\"path\":");
        ngx_http_wharf_route_path(r, &out, wp[i], &wp[i]->paths[0]);
        ngx_http_wharf_out_literal(&out, ",\"protocols\":[\"wharf.tty.v1\"],"
                                   "\"health\":{");
        ngx_http_wharf_out_result(&out, &res[NGX_HTTP_WHARF_CHECK_TERMINAL]);
        ngx_http_wharf_fleet_sessions(wmcf, wp[i]->node, fleet);

        ngx_http_wharf_out_printf(&out, "},\"sessions\":%A,"
                                  "\"sessions_here\":%A",
                                  fleet[NGX_HTTP_WHARF_KIND_TERMINAL],
                                  wp[i]->node
                                  ? wp[i]->node->sessions[
                                        NGX_HTTP_WHARF_KIND_TERMINAL]
                                  : 0);

        if (wp[i]->max_sessions) {
            ngx_http_wharf_out_printf(&out, ",\"max_sessions\":%ui}",
                                      wp[i]->max_sessions);

        } else {
            ngx_http_wharf_out_literal(&out, ",\"max_sessions\":null}");
        }
    }

    ngx_http_wharf_out_literal(&out, "]" CRLF);

    return ngx_http_wharf_out_send(r, &out, NGX_HTTP_OK, NULL);
}


/* Prometheus text format, version 0.0.4 */

ngx_int_t
ngx_http_wharf_metrics_handler(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_uint_t                   i, k, n;
    ngx_http_wharf_out_t         out;
    ngx_http_wharf_node_t       *wn;
    ngx_http_wharf_worker_t    **wp;
    ngx_http_wharf_result_t      res[NGX_HTTP_WHARF_CHECKS];
    ngx_http_wharf_main_conf_t  *wmcf;

    rc = ngx_http_wharf_read_only(r);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_wharf_module);
    wp = ngx_http_wharf_all_workers(wmcf, r->pool, &n);
    if (wp == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_wharf_out_init(&out, r->pool);

    ngx_http_wharf_out_printf(&out,
        "# HELP wharf_workers Workers in the registry.\n"
        "# TYPE wharf_workers gauge\n"
        "wharf_workers %ui\n", n);

    ngx_http_wharf_out_literal(&out,
        "# HELP wharf_sessions Live sessions through the gateway, by worker "
        "and kind.\n"
        "# TYPE wharf_sessions gauge\n");

    for (i = 0; i < n; i++) {
        wn = wp[i]->node;

        for (k = 0; k < NGX_HTTP_WHARF_KINDS; k++) {
            ngx_http_wharf_out_printf(&out,
                "wharf_sessions{worker=\"%V\",kind=\"%s\"} %A\n",
                &wp[i]->name, ngx_http_wharf_kind_names[k],
                wn ? wn->sessions[k] : 0);
        }
    }

    ngx_http_wharf_out_literal(&out,
        "# HELP wharf_sessions_rejected_total Sessions refused by "
        "max_sessions.\n"
        "# TYPE wharf_sessions_rejected_total counter\n");

    for (i = 0; i < n; i++) {
        wn = wp[i]->node;

        ngx_http_wharf_out_printf(&out,
            "wharf_sessions_rejected_total{worker=\"%V\"} %A\n",
            &wp[i]->name, wn ? wn->rejected : 0);
    }

    ngx_http_wharf_out_literal(&out,
        "# HELP wharf_requests_total Requests routed to a worker, by status "
        "class.\n"
        "# TYPE wharf_requests_total counter\n");

    for (i = 0; i < n; i++) {
        wn = wp[i]->node;

        for (k = 0; k < NGX_HTTP_WHARF_CLASSES; k++) {
            ngx_http_wharf_out_printf(&out,
                "wharf_requests_total{worker=\"%V\",class=\"%s\"} %A\n",
                &wp[i]->name, ngx_http_wharf_class_names[k],
                wn ? wn->requests[k] : 0);
        }
    }

    ngx_http_wharf_out_literal(&out,
        "# HELP wharf_health Last probe of a worker: 1 healthy, 0 "
        "unhealthy, -1 not probed yet.\n"
        "# TYPE wharf_health gauge\n");

    for (i = 0; i < n; i++) {
        ngx_http_wharf_load_results(wmcf, wp[i], res);

        for (k = 0; k < NGX_HTTP_WHARF_CHECKS; k++) {
            ngx_http_wharf_out_printf(&out,
                "wharf_health{worker=\"%V\",check=\"%s\"} %s\n",
                &wp[i]->name, ngx_http_wharf_check_name(k),
                res[k].status == NGX_HTTP_WHARF_HEALTHY ? "1"
                : res[k].status == NGX_HTTP_WHARF_UNHEALTHY ? "0" : "-1");
        }
    }

    ngx_http_wharf_out_literal(&out,
        "# HELP wharf_health_latency_seconds Duration of the last probe.\n"
        "# TYPE wharf_health_latency_seconds gauge\n");

    for (i = 0; i < n; i++) {
        ngx_http_wharf_load_results(wmcf, wp[i], res);

        for (k = 0; k < NGX_HTTP_WHARF_CHECKS; k++) {
            if (res[k].status == NGX_HTTP_WHARF_UNKNOWN) {
                continue;
            }

            ngx_http_wharf_out_printf(&out,
                "wharf_health_latency_seconds{worker=\"%V\",check=\"%s\"} "
                "%uL.%06uL\n",
                &wp[i]->name, ngx_http_wharf_check_name(k),
                res[k].latency_us / 1000000, res[k].latency_us % 1000000);
        }
    }

    ngx_http_wharf_out_literal(&out,
        "# HELP wharf_health_checked_timestamp_seconds When the last probe "
        "ended.\n"
        "# TYPE wharf_health_checked_timestamp_seconds gauge\n");

    for (i = 0; i < n; i++) {
        ngx_http_wharf_load_results(wmcf, wp[i], res);

        for (k = 0; k < NGX_HTTP_WHARF_CHECKS; k++) {
            if (res[k].status == NGX_HTTP_WHARF_UNKNOWN) {
                continue;
            }

            ngx_http_wharf_out_printf(&out,
                "wharf_health_checked_timestamp_seconds{worker=\"%V\","
                "check=\"%s\"} %uL.%03uL\n",
                &wp[i]->name, ngx_http_wharf_check_name(k),
                res[k].checked_at / 1000, res[k].checked_at % 1000);
        }
    }

    ngx_http_wharf_out_literal(&out,
        "# HELP wharf_probes_total Probes run, on demand and in the "
        "background.\n"
        "# TYPE wharf_probes_total counter\n");

    for (i = 0; i < n; i++) {
        wn = wp[i]->node;

        for (k = 0; k < NGX_HTTP_WHARF_CHECKS; k++) {
            ngx_http_wharf_out_printf(&out,
                "wharf_probes_total{worker=\"%V\",check=\"%s\"} %A\n",
                &wp[i]->name, ngx_http_wharf_check_name(k),
                wn ? wn->probes[k] : 0);
        }
    }

    ngx_http_wharf_out_printf(&out,
        "# HELP wharf_health_rounds_total Background probe rounds "
        "(wharf_health_interval), across all nginx worker processes.\n"
        "# TYPE wharf_health_rounds_total counter\n"
        "wharf_health_rounds_total %A\n",
        wmcf->sh ? wmcf->sh->rounds : 0);

    ngx_http_wharf_fleet_metrics(wmcf, &out);

    return ngx_http_wharf_out_send(r, &out, NGX_HTTP_OK,
                                   &ngx_http_wharf_metrics_type);
}
