
/*
 * wharf: no client's token in a log line.
 *
 * An old client may still send its token as "?access_token=" (browsers
 * now send it as a subprotocol, see ngx_http_wharf_auth.c).  The module
 * takes it out of $args in its own locations, but the request line holds
 * it in every location, and nginx writes the request line into the access
 * log ($request) and into the context of every error line of the request
 * ('request: "GET /rpc?access_token=..."'), along with the URI sent to a
 * proxied upstream ('upstream: "http://...?access_token=..."') and the
 * Referer.  So, for every request of the http{} block:
 *
 *   post read   r->request_line becomes a copy with each access_token's
 *               value replaced by "[redacted]" ($request, error lines);
 *               r->log_handler, which writes an error line's context, is
 *               wrapped to redact the same in what it wrote (the upstream
 *               URI, the Referer)
 *   log         first of the log phase handlers, before the access log:
 *               the same for a request that ended before post read (an
 *               invalid header is answered 400 right after the headers)
 *
 * $request_uri and $args keep the token outside the module's locations
 * (wharfd reads it there): a log format must not use them, nor
 * $http_referer.  What nginx writes below the notice level ("info" lines
 * about a bad header, and the debug log, which has every header) is not
 * covered: such a level is for debugging, not for production.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_wharf_module.h"


#define NGX_HTTP_WHARF_REDACTED      "[redacted]"
#define NGX_HTTP_WHARF_REDACTED_LEN  (sizeof(NGX_HTTP_WHARF_REDACTED) - 1)


static ngx_uint_t ngx_http_wharf_scrub_count(u_char *p, size_t len);
static u_char *ngx_http_wharf_scrub_copy(u_char *dst, u_char *end,
    u_char *src, size_t len);
static u_char *ngx_http_wharf_token_value(u_char *start, u_char *p,
    u_char *last, u_char **end);
static ngx_int_t ngx_http_wharf_scrub_request_line(ngx_http_request_t *r);
static u_char *ngx_http_wharf_log_error(ngx_http_request_t *r,
    ngx_http_request_t *sr, u_char *buf, size_t len);


/* nginx's own error context writer, which ngx_http_wharf_log_error wraps */
static ngx_http_log_handler_pt  ngx_http_wharf_next_log_error;


ngx_int_t
ngx_http_wharf_scrub_post_read_handler(ngx_http_request_t *r)
{
    ngx_table_elt_t  *referer;

    if (ngx_http_wharf_scrub_request_line(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_wharf_next_log_error == NULL) {
        ngx_http_wharf_next_log_error = r->log_handler;
    }

    /*
     * The upstream URI comes from the request target, which the request
     * line holds; the Referer is the client's.  Another module's handler
     * is left as it is.
     */

    referer = r->headers_in.referer;

    if (r->log_handler == ngx_http_wharf_next_log_error
        && (ngx_http_wharf_scrub_count(r->unparsed_uri.data,
                                       r->unparsed_uri.len)
            || (referer
                && ngx_http_wharf_scrub_count(referer->value.data,
                                              referer->value.len))))
    {
        r->log_handler = ngx_http_wharf_log_error;
    }

    return NGX_DECLINED;
}


ngx_int_t
ngx_http_wharf_scrub_log_handler(ngx_http_request_t *r)
{
    (void) ngx_http_wharf_scrub_request_line(r);

    return NGX_OK;
}


static ngx_int_t
ngx_http_wharf_scrub_request_line(ngx_http_request_t *r)
{
    u_char      *p;
    size_t       len;
    ngx_uint_t   n;

    n = ngx_http_wharf_scrub_count(r->request_line.data, r->request_line.len);

    if (n == 0) {
        return NGX_OK;
    }

    len = r->request_line.len + n * NGX_HTTP_WHARF_REDACTED_LEN;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    /*
     * A copy: r->unparsed_uri and r->args point into the same bytes, and
     * they must keep the token for whoever reads it.
     */

    r->request_line.len = ngx_http_wharf_scrub_copy(p, p + len,
                                                    r->request_line.data,
                                                    r->request_line.len)
                          - p;
    r->request_line.data = p;

    return NGX_OK;
}


/* the context of an error line, as nginx wrote it, redacted */

static u_char *
ngx_http_wharf_log_error(ngx_http_request_t *r, ngx_http_request_t *sr,
    u_char *buf, size_t len)
{
    u_char  *p;
    size_t   n;
    u_char   copy[NGX_MAX_ERROR_STR];

    p = ngx_http_wharf_next_log_error(r, sr, buf, len);

    n = p - buf;

    if (n > sizeof(copy) || ngx_http_wharf_scrub_count(buf, n) == 0) {
        return p;
    }

    ngx_memcpy(copy, buf, n);

    return ngx_http_wharf_scrub_copy(buf, buf + len, copy, n);
}


/* how many access_token values not yet redacted are in [p, p + len) */

static ngx_uint_t
ngx_http_wharf_scrub_count(u_char *p, size_t len)
{
    u_char      *start, *last, *value, *end;
    ngx_uint_t   n;

    if (p == NULL) {
        return 0;
    }

    start = p;
    last = p + len;
    n = 0;

    while ((value = ngx_http_wharf_token_value(start, p, last, &end))
           != NULL)
    {

        if (end - value != (ssize_t) NGX_HTTP_WHARF_REDACTED_LEN
            || ngx_strncmp(value, NGX_HTTP_WHARF_REDACTED,
                           NGX_HTTP_WHARF_REDACTED_LEN)
               != 0)
        {
            n++;
        }

        p = end;
    }

    return n;
}


/*
 * src into dst, up to end, with each access_token value replaced: the
 * result is at most NGX_HTTP_WHARF_REDACTED_LEN bytes longer per value.
 */

static u_char *
ngx_http_wharf_scrub_copy(u_char *dst, u_char *end, u_char *src, size_t len)
{
    u_char  *start, *last, *value, *vend;
    size_t   n;

    start = src;
    last = src + len;

    while (src < last) {
        value = ngx_http_wharf_token_value(start, src, last, &vend);

        if (value == NULL) {
            n = ngx_min((size_t) (last - src), (size_t) (end - dst));
            return ngx_cpymem(dst, src, n);
        }

        n = ngx_min((size_t) (value - src), (size_t) (end - dst));
        dst = ngx_cpymem(dst, src, n);

        n = ngx_min(NGX_HTTP_WHARF_REDACTED_LEN, (size_t) (end - dst));
        dst = ngx_cpymem(dst, NGX_HTTP_WHARF_REDACTED, n);

        src = vend;
    }

    return dst;
}


/*
 * The next "access_token=" parameter (after "?" or "&", in any case) in
 * [p, last): its value's start, and its end in *end (the next "&", space,
 * quote, "#" or last); NULL when there is none.
 */

static u_char *
ngx_http_wharf_token_value(u_char *start, u_char *p, u_char *last,
    u_char **end)
{
    u_char  *name, *v;

    for ( ;; ) {
        name = ngx_strlcasestrn(p, last, (u_char *) "access_token=",
                                sizeof("access_token=") - 2);

        if (name == NULL) {
            return NULL;
        }

        p = name + sizeof("access_token=") - 1;

        if (name > start && (name[-1] == '?' || name[-1] == '&')) {
            break;
        }
    }

    for (v = p; v < last; v++) {
        if (*v == '&' || *v == ' ' || *v == '"' || *v == '#') {
            break;
        }
    }

    *end = v;

    return p;
}
