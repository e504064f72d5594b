
/*
 * wharf: a question to the local backend, in the background.
 *
 * "wharf_health all" asks wharf_health_backend whether wharfd is healthy;
 * DELETE /api/workers/NAME tells wharf_registry_backend to forget the
 * worker.  Both ask with a background subrequest that carries the
 * module's own token in place of the client's, as any upstream gets,
 * and wait for its status at most wharf_health_timeout plus
 * NGX_HTTP_WHARF_BACKEND_SLACK: the backend's answer is not part of
 * theirs, only its status is, and theirs must not wait past the timeout.
 * Either way the main request is posted, and its write_event_handler
 * (the caller's) answers from the main request's own turn, not from
 * under the subrequest being finalized.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_wharf_module.h"


/* a backend answer may take this long beyond the probes' own timeout */
#define NGX_HTTP_WHARF_BACKEND_SLACK  100


static ngx_int_t ngx_http_wharf_backend_done(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);
static void ngx_http_wharf_backend_timeout(ngx_event_t *ev);


/*
 * Asks uri (with method; 0: GET) for r.  NGX_ERROR: not asked, and
 * b->error says so.
 */

ngx_int_t
ngx_http_wharf_backend_ask(ngx_http_request_t *r, ngx_http_wharf_backend_t *b,
    ngx_str_t *uri, ngx_uint_t method, ngx_str_t *token)
{
    ngx_http_request_t          *sr;
    ngx_http_post_subrequest_t  *ps;
    ngx_http_wharf_main_conf_t  *wmcf;

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_wharf_module);

    b->request = r;
    b->asked = 1;
    b->error = "cannot start the backend subrequest";

    if (ngx_http_wharf_swap_credentials(r, token->len ? token : NULL, 1)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        return NGX_ERROR;
    }

    ps->handler = ngx_http_wharf_backend_done;
    ps->data = b;

    if (ngx_http_subrequest(r, uri, NULL, &sr, ps,
                            NGX_HTTP_SUBREQUEST_BACKGROUND)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    sr->header_only = 1;

    /*
     * A subrequest inherits the client's request line, and a FastCGI
     * backend that routes by REQUEST_URI ($request_uri) would see the
     * client's rather than the URI it is asked.  $request_method is the
     * main request's: a DELETE is asked of a DELETE.
     */

    sr->unparsed_uri = *uri;

    if (method == NGX_HTTP_DELETE) {
        sr->method = NGX_HTTP_DELETE;
        ngx_str_set(&sr->method_name, "DELETE");
    }

    b->error = NULL;
    b->pending = 1;

    b->timer.handler = ngx_http_wharf_backend_timeout;
    b->timer.data = b;
    b->timer.log = r->connection->log;

    ngx_add_timer(&b->timer,
                  wmcf->health_timeout + NGX_HTTP_WHARF_BACKEND_SLACK);

    return NGX_OK;
}


static ngx_int_t
ngx_http_wharf_backend_done(ngx_http_request_t *sr, void *data, ngx_int_t rc)
{
    ngx_http_wharf_backend_t  *b = data;

    /* a failed subrequest comes here again for its error page */

    if (!b->pending) {
        return rc;
    }

    b->pending = 0;

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        b->status = rc;

    } else if (rc == NGX_ERROR || sr->headers_out.status == 0) {
        b->error = "the backend request failed";

    } else {
        b->status = sr->headers_out.status;
    }

    if (b->timer.timer_set) {
        ngx_del_timer(&b->timer);
    }

    if (ngx_http_post_request(b->request, NULL) != NGX_OK) {
        return NGX_ERROR;
    }

    return rc;
}


static void
ngx_http_wharf_backend_timeout(ngx_event_t *ev)
{
    ngx_connection_t          *c;
    ngx_http_wharf_backend_t  *b = ev->data;

    c = b->request->connection;

    b->pending = 0;
    b->error = "the backend did not answer in time";

    if (ngx_http_post_request(b->request, NULL) == NGX_OK) {
        ngx_http_run_posted_requests(c);
    }
}


/* the main request goes: nothing may call back into it */

void
ngx_http_wharf_backend_cancel(ngx_http_wharf_backend_t *b)
{
    if (b->timer.timer_set) {
        ngx_del_timer(&b->timer);
    }
}


ngx_uint_t
ngx_http_wharf_backend_ok(ngx_http_wharf_backend_t *b)
{
    return b->status >= 200 && b->status <= 299;
}


/* {"status":"<good|bad>","http_status":200,"error":null} */

void
ngx_http_wharf_backend_out(ngx_http_wharf_out_t *out,
    ngx_http_wharf_backend_t *b, const char *good, const char *bad)
{
    ngx_uint_t  ok;

    ok = ngx_http_wharf_backend_ok(b);

    ngx_http_wharf_out_printf(out, "{\"status\":\"%s\",\"http_status\":",
                              ok ? good : bad);

    if (b->status) {
        ngx_http_wharf_out_printf(out, "%ui", b->status);

    } else {
        ngx_http_wharf_out_literal(out, "null");
    }

    ngx_http_wharf_out_literal(out, ",\"error\":");

    if (b->error) {
        ngx_http_wharf_out_string(out, (u_char *) b->error,
                                  ngx_strlen(b->error));

    } else if (!ok) {
        ngx_http_wharf_out_printf(out, "\"the backend answered HTTP %ui\"",
                                  b->status);

    } else {
        ngx_http_wharf_out_literal(out, "null");
    }

    ngx_http_wharf_out_literal(out, "}");
}
