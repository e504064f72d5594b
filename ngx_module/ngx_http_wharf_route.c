
/*
 * wharf: routing of /api/workers/NAME/... to the upstream of worker NAME.
 *
 * Routing is decided in the server rewrite phase, on the request line, and
 * bound in the rewrite phase of the wharf_route location: both come before
 * the access phase, where auth checks the worker.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_wharf_module.h"


#define NGX_HTTP_WHARF_MESSAGE_LEN    512


static ngx_http_wharf_ctx_t *ngx_http_wharf_route(ngx_http_request_t *r,
    ngx_str_t *prefix);
static ngx_uint_t ngx_http_wharf_has_dot_segment(u_char *p, u_char *last);
static ngx_int_t ngx_http_wharf_escape_path(ngx_http_request_t *r,
    ngx_str_t *path);
static ngx_uint_t ngx_http_wharf_path_byte_escaped(u_char *p, u_char *last);
static ngx_uint_t ngx_http_wharf_uri_matches(ngx_http_request_t *r,
    ngx_http_wharf_ctx_t *ctx);
static ngx_int_t ngx_http_wharf_send_route_error(ngx_http_request_t *r,
    ngx_http_wharf_ctx_t *ctx);
static size_t ngx_http_wharf_show_name(u_char *dst, ngx_str_t *name);


/*
 * Bytes kept as they are in $wharf_path: RFC 3986 pchar and "/".  Every
 * other byte is %-escaped; "%" itself is kept only when it starts a valid
 * escape.  nginx already refuses control characters and spaces in the
 * request line; this also covers """, "<", ">", "\", "^", "`", "{", "|",
 * "}", "[", "]" and bytes over 0x7e, which nginx lets through.
 */

static uint32_t  ngx_http_wharf_path_escape[] = {
    0xffffffff, /* 1111 1111 1111 1111  1111 1111 1111 1111 */

                /* ?>=< ;:98 7654 3210  /.-, +*)( '&%$ #"!  */
    0xd000000d, /* 1101 0000 0000 0000  0000 0000 0000 1101 */

                /* _^]\ [ZYX WVUT SRQP  ONML KJIH GFED CBA@ */
    0x78000000, /* 0111 1000 0000 0000  0000 0000 0000 0000 */

                /*  ~}| {zyx wvut srqp  onml kjih gfed cba` */
    0xb8000001, /* 1011 1000 0000 0000  0000 0000 0000 0001 */

    0xffffffff, /* 1111 1111 1111 1111  1111 1111 1111 1111 */
    0xffffffff, /* 1111 1111 1111 1111  1111 1111 1111 1111 */
    0xffffffff, /* 1111 1111 1111 1111  1111 1111 1111 1111 */
    0xffffffff  /* 1111 1111 1111 1111  1111 1111 1111 1111 */
};


/*
 * Server rewrite phase: the raw request line decides, before nginx picks a
 * location.  A request that the client addressed to a worker route, such
 * as "/api/workers/..%2Fetc/health", would otherwise be normalised by
 * nginx to "/api/etc/health", miss the wharf_route location and be served
 * by whatever location matches that; here it is refused as what it is.
 *
 * Internal redirects and subrequests are left to the location handler:
 * the request line no longer describes them.
 */

ngx_int_t
ngx_http_wharf_server_rewrite_handler(ngx_http_request_t *r)
{
    u_char                     *p;
    size_t                      len;
    ngx_str_t                  *prefix;
    ngx_uint_t                  i;
    ngx_http_wharf_ctx_t       *ctx;
    ngx_http_wharf_srv_conf_t  *wscf;

    wscf = ngx_http_get_module_srv_conf(r, ngx_http_wharf_module);

    if (wscf->prefixes == NULL || r->internal) {
        return NGX_DECLINED;
    }

    p = r->unparsed_uri.data;
    len = r->unparsed_uri.len;

    prefix = wscf->prefixes->elts;

    for (i = 0; i < wscf->prefixes->nelts; i++) {

        if (len >= prefix[i].len
            && ngx_strncmp(p, prefix[i].data, prefix[i].len) == 0)
        {
            ctx = ngx_http_wharf_route(r, &prefix[i]);
            if (ctx == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            if (ctx->worker == NULL) {

                /*
                 * PUT of a new worker: its registry location answers
                 * (ngx_http_wharf_live_api.c); a location that routes
                 * refuses it there.
                 */

                if (ctx->result == NGX_HTTP_WHARF_NOT_FOUND && ctx->bare
                    && r->method == NGX_HTTP_PUT)
                {
                    return NGX_DECLINED;
                }

                return ngx_http_wharf_send_route_error(r, ctx);
            }

            return NGX_DECLINED;
        }
    }

    return NGX_DECLINED;
}


/*
 * Rewrite phase, in a location with wharf_route: binds the route so that
 * the access phase (auth, later) sees the worker, and the content phase
 * (proxy_pass) its variables.  A request that reaches this location without
 * having been routed by its request line (its URI was normalised into the
 * location, rewritten, or internally redirected) is refused rather than
 * guessed at.
 *
 * This handler is registered after ngx_http_rewrite_module's, so it runs
 * before "rewrite", "set" and "return" in the same location; they may use
 * the $wharf_ variables.
 */

ngx_int_t
ngx_http_wharf_rewrite_handler(ngx_http_request_t *r)
{
    ngx_http_wharf_ctx_t       *ctx;
    ngx_http_wharf_loc_conf_t  *wlcf;

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_wharf_module);

    if (wlcf->prefix.data == NULL) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_wharf_module);

    if (ctx == NULL
        || ctx->prefix->len != wlcf->prefix.len
        || ngx_strncmp(ctx->prefix->data, wlcf->prefix.data, wlcf->prefix.len)
           != 0)
    {
        ctx = ngx_http_wharf_route(r, &wlcf->prefix);
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

    } else if (ctx->worker && !ngx_http_wharf_uri_matches(r, ctx)) {

        /* a "rewrite ... last" moved the request since it was routed */

        ctx->worker = NULL;
        ctx->result = NGX_HTTP_WHARF_MISMATCH;
    }

    if (ctx->worker == NULL) {
        return ngx_http_wharf_send_route_error(r, ctx);
    }

    ctx->located = 1;

    /*
     * The module answers these two paths itself, with a probe of the
     * worker, rather than passing them on (see ngx_http_wharf_health.c).
     */

    if (ctx->path.len == sizeof("/health/terminal") - 1
        && ngx_strncmp(ctx->path.data, "/health/terminal",
                       sizeof("/health/terminal") - 1) == 0)
    {
        ctx->check = NGX_HTTP_WHARF_CHECK_TERMINAL;

    } else if (ctx->path.len == sizeof("/health/websocket") - 1
               && ngx_strncmp(ctx->path.data, "/health/websocket",
                              sizeof("/health/websocket") - 1) == 0)
    {
        ctx->check = NGX_HTTP_WHARF_CHECK_WEBSOCKET;

    } else {
        ctx->check = NGX_HTTP_WHARF_CHECK_NONE;
    }

    return NGX_DECLINED;
}


/*
 * Routes the request by its prefix, and sets the module context.  Returns
 * NULL only on allocation failure; ctx->worker is NULL when the request is
 * not routed, ctx->result says why.
 *
 * Which bytes decide.  The worker name is taken from r->unparsed_uri, the
 * request target exactly as the client sent it, and never from r->uri:
 *
 *   - r->uri is %-decoded and has its dot segments resolved (a decoded
 *     "%2F" counts as "/", "%2e" as "."), and its slashes merged, so
 *     "/api/workers/..%2Fetc/x" is "/api/etc/x" there and
 *     "/api/workers/de%6Do/x" is "/api/workers/demo/x".  Checking the
 *     decoded name and forwarding the raw one, or the reverse, lets the
 *     checked and the used bytes differ.
 *   - The name is therefore checked, literally, on the raw bytes, and these
 *     same bytes are looked up: any "%", "." or upper case letter in the
 *     name segment makes it invalid (400), "de%6Do" included, though it
 *     decodes to a valid name.  Clients send names as they are; a valid
 *     name never needs escaping.
 *   - $wharf_path is the rest of the raw path, handed to proxy_pass as it
 *     was sent (re-escaped only where a byte is not allowed in a URI path),
 *     so the worker receives what the access log's $request shows, and the
 *     path cannot pick the upstream: that is $wharf_upstream alone.
 *   - A raw path with a "." or ".." segment, literal or %-encoded, is
 *     refused (400 bad_route): for those nginx's location and $uri differ
 *     from what the worker would get.  Clients normalise dot segments
 *     before sending (RFC 3986, section 5.2.4), so only crafted requests
 *     have them.
 *   - Last, r->uri must still begin with the same prefix and name, so the
 *     location nginx chose, $uri in the logs and the route all agree.
 *
 * The query string is not part of the path: proxy_pass adds $is_args$args.
 */

static ngx_http_wharf_ctx_t *
ngx_http_wharf_route(ngx_http_request_t *r, ngx_str_t *prefix)
{
    u_char                      *p, *q, *last, *name;
    ngx_http_wharf_ctx_t        *ctx;
    ngx_http_wharf_main_conf_t  *wmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_wharf_module);

    /* a counted session keeps its context, for its cleanup */

    if (ctx == NULL || ctx->counted) {
        ctx = ngx_http_wharf_ctx_create(r);
        if (ctx == NULL) {
            return NULL;
        }

    } else {
        ngx_http_wharf_ctx_reset(ctx);
    }

    ctx->prefix = prefix;

    if (r->internal) {
        ctx->result = NGX_HTTP_WHARF_INTERNAL;
        return ctx;
    }

    /* the path part of the request target: up to "?" or "#" */

    p = r->unparsed_uri.data;
    last = p + r->unparsed_uri.len;

    for (name = p; name < last; name++) {
        if (*name == '?' || *name == '#') {
            break;
        }
    }

    last = name;

    if ((size_t) (last - p) < prefix->len
        || ngx_strncmp(p, prefix->data, prefix->len) != 0)
    {
        ctx->result = NGX_HTTP_WHARF_NO_PREFIX;
        return ctx;
    }

    name = p + prefix->len;

    for (p = name; p < last && *p != '/'; p++) { /* void */ }

    ctx->name.data = name;
    ctx->name.len = p - name;

    if (ctx->name.len == 0) {
        ctx->result = NGX_HTTP_WHARF_NO_NAME;
        return ctx;
    }

    if (ctx->name.len > WHARF_NAME_MAX
        || !wharf_name_valid((const char *) name, ctx->name.len))
    {
        ctx->result = NGX_HTTP_WHARF_INVALID_NAME;
        return ctx;
    }

    /* "/api/workers/NAME" and "/api/workers/NAME/" both mean "/" */

    if (p == last) {
        ngx_str_set(&ctx->path, "/");
        ctx->bare = 1;

    } else {
        ctx->path.data = p;
        ctx->path.len = last - p;

        /*
         * Most paths have no ".", no "%" and nothing to escape: one look
         * at each byte says so, and the careful checks are skipped.
         */

        for (q = p; q < last; q++) {
            if (*q == '.' || *q == '%'
                || (ngx_http_wharf_path_escape[*q >> 5] & (1U << (*q & 0x1f))))
            {
                break;
            }
        }

        if (q < last) {
            if (ngx_http_wharf_has_dot_segment(p, last)) {
                ctx->result = NGX_HTTP_WHARF_DOT_SEGMENT;
                return ctx;
            }

            if (ngx_http_wharf_escape_path(r, &ctx->path) != NGX_OK) {
                return NULL;
            }
        }
    }

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_wharf_module);

    ctx->worker = ngx_http_wharf_find_worker(wmcf, name, ctx->name.len);

    if (ctx->worker == NULL) {
        ctx->result = NGX_HTTP_WHARF_NOT_FOUND;
        return ctx;
    }

    /* a live worker stays as it is for this request, whatever changes */

    switch (ngx_http_wharf_live_hold(r, ctx)) {

    case NGX_OK:
        break;

    case NGX_DECLINED:
        ctx->worker = NULL;
        ctx->result = NGX_HTTP_WHARF_NOT_FOUND;
        return ctx;

    default:
        return NULL;
    }

    if (!ngx_http_wharf_uri_matches(r, ctx)) {
        ctx->worker = NULL;
        ctx->result = NGX_HTTP_WHARF_MISMATCH;
        return ctx;
    }

    ctx->result = NGX_HTTP_WHARF_ROUTED;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "wharf route: worker \"%V\", upstream \"%V\", path \"%V\"",
                   &ctx->worker->name, &ctx->worker->upstream->host,
                   &ctx->path);

    return ctx;
}


/*
 * Looks for a "." or ".." segment in a raw path that starts with "/".
 * Escapes are decoded as nginx decodes them, and a decoded "%2F" ends a
 * segment just as "/" does, so "/..", "/%2e%2E", "/.%2e/" and "/a%2F.."
 * are all found.
 */

static ngx_uint_t
ngx_http_wharf_has_dot_segment(u_char *p, u_char *last)
{
    u_char      ch;
    ngx_int_t   n;
    ngx_uint_t  dots, other;

    dots = 0;
    other = 1;

    while (p < last) {

        ch = *p++;

        if (ch == '%' && last - p >= 2) {
            n = ngx_hextoi(p, 2);

            if (n != NGX_ERROR) {
                ch = (u_char) n;
                p += 2;
            }
        }

        if (ch == '/') {
            if (!other && dots && dots <= 2) {
                return 1;
            }

            dots = 0;
            other = 0;
            continue;
        }

        if (ch == '.') {
            dots++;

        } else {
            other = 1;
        }
    }

    return !other && dots && dots <= 2;
}


/*
 * $wharf_path goes verbatim into the request line to the upstream, so it
 * must be a well-formed path.  Escapes bytes only where needed; the
 * common case allocates nothing and points into the request line.
 */

static ngx_int_t
ngx_http_wharf_escape_path(ngx_http_request_t *r, ngx_str_t *path)
{
    u_char         *p, *last, *dst, *start;
    ngx_uint_t      n;
    static u_char   hex[] = "0123456789ABCDEF";

    last = path->data + path->len;
    n = 0;

    for (p = path->data; p < last; p++) {
        if (ngx_http_wharf_path_byte_escaped(p, last)) {
            n++;
        }
    }

    if (n == 0) {
        return NGX_OK;
    }

    start = ngx_pnalloc(r->pool, path->len + 2 * n);
    if (start == NULL) {
        return NGX_ERROR;
    }

    dst = start;

    for (p = path->data; p < last; p++) {

        if (ngx_http_wharf_path_byte_escaped(p, last)) {
            *dst++ = '%';
            *dst++ = hex[*p >> 4];
            *dst++ = hex[*p & 0xf];
            continue;
        }

        *dst++ = *p;
    }

    path->data = start;
    path->len = dst - start;

    return NGX_OK;
}


static ngx_uint_t
ngx_http_wharf_path_byte_escaped(u_char *p, u_char *last)
{
    if (*p == '%') {
        return last - p < 3 || ngx_hextoi(p + 1, 2) == NGX_ERROR;
    }

    return (ngx_http_wharf_path_escape[*p >> 5] & (1U << (*p & 0x1f))) != 0;
}


/*
 * r->uri must begin with the prefix and name the route was taken from,
 * followed by "/" or nothing: nginx's location, $uri and the route agree.
 */

static ngx_uint_t
ngx_http_wharf_uri_matches(ngx_http_request_t *r, ngx_http_wharf_ctx_t *ctx)
{
    u_char  *p;
    size_t   len;

    len = ctx->prefix->len + ctx->name.len;

    if (r->uri.len < len) {
        return 0;
    }

    p = r->uri.data;

    if (ngx_memcmp(p, ctx->prefix->data, ctx->prefix->len) != 0
        || ngx_memcmp(p + ctx->prefix->len, ctx->name.data, ctx->name.len)
           != 0)
    {
        return 0;
    }

    return r->uri.len == len || p[len] == '/';
}


/*
 * Answers {"error":{"code":"...","message":"..."}} for a request that was
 * not routed.  The codes are stable, for programs; the messages are for
 * people and may change.
 */

static ngx_int_t
ngx_http_wharf_send_route_error(ngx_http_request_t *r,
    ngx_http_wharf_ctx_t *ctx)
{
    u_char      *last;
    size_t       shown_len;
    ngx_uint_t   status;
    const char  *code;
    u_char       msg[NGX_HTTP_WHARF_MESSAGE_LEN];
    u_char       shown[NGX_HTTP_WHARF_NAME_SHOWN * 3 + sizeof("...")];

    shown_len = ngx_http_wharf_show_name(shown, &ctx->name);

    status = NGX_HTTP_BAD_REQUEST;
    code = "bad_route";

    switch (ctx->result) {

    case NGX_HTTP_WHARF_NOT_FOUND:
        status = NGX_HTTP_NOT_FOUND;
        code = "worker_not_found";
        last = ngx_snprintf(msg, sizeof(msg),
                            "worker \"%*s\" is not registered",
                            shown_len, shown);
        break;

    case NGX_HTTP_WHARF_INVALID_NAME:
        code = "invalid_worker_name";
        last = ngx_snprintf(msg, sizeof(msg),
                            "invalid worker name \"%*s\": a worker name is "
                            "1 to %d characters of a-z, 0-9 and \"-\", "
                            "and does not start with \"-\"",
                            shown_len, shown, WHARF_NAME_MAX);
        break;

    case NGX_HTTP_WHARF_NO_NAME:
        last = ngx_snprintf(msg, sizeof(msg),
                            "no worker name after \"%V\"", ctx->prefix);
        break;

    case NGX_HTTP_WHARF_NO_PREFIX:
        last = ngx_snprintf(msg, sizeof(msg),
                            "request path does not start with \"%V\"",
                            ctx->prefix);
        break;

    case NGX_HTTP_WHARF_DOT_SEGMENT:
        last = ngx_snprintf(msg, sizeof(msg),
                            "path to worker \"%*s\" has a \".\" or \"..\" "
                            "segment", shown_len, shown);
        break;

    case NGX_HTTP_WHARF_MISMATCH:
        last = ngx_snprintf(msg, sizeof(msg),
                            "request path does not resolve to worker \"%*s\"",
                            shown_len, shown);
        break;

    default: /* NGX_HTTP_WHARF_INTERNAL */
        last = ngx_snprintf(msg, sizeof(msg),
                            "internally redirected requests and subrequests "
                            "are not routed");
        break;
    }

    /*
     * A token in the query string of a refused request must not reach the
     * access log either.
     */

    if (ngx_http_wharf_strip_query_token(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_wharf_send_error(r, status, code, "%*s",
                                     (size_t) (last - msg), msg);
}


/*
 * A name as the client sent it, made safe to show in a message and in the
 * error log: at most NGX_HTTP_WHARF_NAME_SHOWN bytes then "...", and bytes
 * that are not printable ASCII, or are quotes, "\", "<", ">" or "&",
 * %-escaped as in a URL.
 */

static size_t
ngx_http_wharf_show_name(u_char *dst, ngx_str_t *name)
{
    u_char         ch, *p;
    size_t         i, n;
    static u_char  hex[] = "0123456789ABCDEF";

    p = dst;
    n = ngx_min(name->len, NGX_HTTP_WHARF_NAME_SHOWN);

    for (i = 0; i < n; i++) {
        ch = name->data[i];

        if (ch <= 0x20 || ch >= 0x7f
            || ch == '"' || ch == '\'' || ch == '\\'
            || ch == '<' || ch == '>' || ch == '&')
        {
            *p++ = '%';
            *p++ = hex[ch >> 4];
            *p++ = hex[ch & 0xf];
            continue;
        }

        *p++ = ch;
    }

    if (name->len > n) {
        p = ngx_cpymem(p, "...", sizeof("...") - 1);
    }

    return p - dst;
}
