
/*
 * wharf: routes /api/workers/NAME/... to the upstream of worker NAME.
 *
 * The module decides; nginx's proxy module carries the bytes:
 *
 *     upstream wharf_demo { server 127.0.0.1:9001; keepalive 8; }
 *     wharf_worker demo upstream=wharf_demo container=demo-c;
 *
 *     map $http_upgrade $connection_upgrade { default upgrade; "" ""; }
 *
 *     location /api/workers/ {
 *         wharf_route;
 *         proxy_http_version 1.1;
 *         proxy_set_header Upgrade $http_upgrade;
 *         proxy_set_header Connection $connection_upgrade;
 *         proxy_pass http://$wharf_upstream$wharf_path$is_args$args;
 *     }
 *
 * (Mapping no Upgrade to an empty Connection header rather than "close"
 * lets plain HTTP requests reuse the upstream's keepalive connections.)
 *
 * Routing is decided in the server rewrite phase, on the request line, and
 * bound in the rewrite phase of the wharf_route location: both come before
 * the access phase, where auth will check the worker.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_wharf_module.h"


#define NGX_HTTP_WHARF_VAR_WORKER     0
#define NGX_HTTP_WHARF_VAR_UPSTREAM   1
#define NGX_HTTP_WHARF_VAR_CONTAINER  2
#define NGX_HTTP_WHARF_VAR_PATH       3

#define NGX_HTTP_WHARF_MESSAGE_LEN    512


static ngx_int_t ngx_http_wharf_server_rewrite_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_wharf_rewrite_handler(ngx_http_request_t *r);
static ngx_http_wharf_ctx_t *ngx_http_wharf_route(ngx_http_request_t *r,
    ngx_str_t *prefix);
static ngx_uint_t ngx_http_wharf_has_dot_segment(u_char *p, u_char *last);
static ngx_int_t ngx_http_wharf_escape_path(ngx_http_request_t *r,
    ngx_str_t *path);
static ngx_uint_t ngx_http_wharf_path_byte_escaped(u_char *p, u_char *last);
static ngx_uint_t ngx_http_wharf_uri_matches(ngx_http_request_t *r,
    ngx_http_wharf_ctx_t *ctx);
static ngx_int_t ngx_http_wharf_send_error(ngx_http_request_t *r,
    ngx_http_wharf_ctx_t *ctx);
static size_t ngx_http_wharf_show_name(u_char *dst, ngx_str_t *name);

static ngx_int_t ngx_http_wharf_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

static char *ngx_http_wharf_worker(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_uint_t ngx_http_wharf_token_valid(ngx_str_t *s, size_t max);
static char *ngx_http_wharf_route_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_uint_t ngx_http_wharf_prefix_valid(ngx_str_t *prefix);

static void *ngx_http_wharf_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_wharf_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_wharf_create_srv_conf(ngx_conf_t *cf);
static void *ngx_http_wharf_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_wharf_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_wharf_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_wharf_init(ngx_conf_t *cf);


static ngx_command_t  ngx_http_wharf_commands[] = {

    { ngx_string("wharf_worker"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_wharf_worker,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("wharf_workers_hash_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_wharf_main_conf_t, hash_max_size),
      NULL },

    { ngx_string("wharf_workers_hash_bucket_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_wharf_main_conf_t, hash_bucket_size),
      NULL },

    { ngx_string("wharf_route"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_wharf_route_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_wharf_module_ctx = {
    ngx_http_wharf_add_variables,          /* preconfiguration */
    ngx_http_wharf_init,                   /* postconfiguration */

    ngx_http_wharf_create_main_conf,       /* create main configuration */
    ngx_http_wharf_init_main_conf,         /* init main configuration */

    ngx_http_wharf_create_srv_conf,        /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_wharf_create_loc_conf,        /* create location configuration */
    ngx_http_wharf_merge_loc_conf          /* merge location configuration */
};


ngx_module_t  ngx_http_wharf_module = {
    NGX_MODULE_V1,
    &ngx_http_wharf_module_ctx,            /* module context */
    ngx_http_wharf_commands,               /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/*
 * The variables change when a request is routed, and are reset with the
 * module context by an internal redirect, so none of them may be cached.
 */

static ngx_http_variable_t  ngx_http_wharf_vars[] = {

    { ngx_string("wharf_worker"), NULL, ngx_http_wharf_variable,
      NGX_HTTP_WHARF_VAR_WORKER, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("wharf_upstream"), NULL, ngx_http_wharf_variable,
      NGX_HTTP_WHARF_VAR_UPSTREAM, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("wharf_container"), NULL, ngx_http_wharf_variable,
      NGX_HTTP_WHARF_VAR_CONTAINER, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("wharf_path"), NULL, ngx_http_wharf_variable,
      NGX_HTTP_WHARF_VAR_PATH, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


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

static ngx_int_t
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
                return ngx_http_wharf_send_error(r, ctx);
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

static ngx_int_t
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
        || ctx->prefix.len != wlcf->prefix.len
        || ngx_strncmp(ctx->prefix.data, wlcf->prefix.data, wlcf->prefix.len)
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
        return ngx_http_wharf_send_error(r, ctx);
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
    u_char                      *p, *last, *name;
    ngx_http_wharf_ctx_t        *ctx;
    ngx_http_wharf_main_conf_t  *wmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_wharf_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_wharf_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_wharf_module);

    } else {
        ngx_memzero(ctx, sizeof(ngx_http_wharf_ctx_t));
    }

    ctx->prefix = *prefix;

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

    } else {
        if (ngx_http_wharf_has_dot_segment(p, last)) {
            ctx->result = NGX_HTTP_WHARF_DOT_SEGMENT;
            return ctx;
        }

        ctx->path.data = p;
        ctx->path.len = last - p;
    }

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_wharf_module);

    ctx->worker = ngx_http_wharf_find_worker(wmcf, name, ctx->name.len);

    if (ctx->worker == NULL) {
        ctx->result = NGX_HTTP_WHARF_NOT_FOUND;
        return ctx;
    }

    if (!ngx_http_wharf_uri_matches(r, ctx)) {
        ctx->worker = NULL;
        ctx->result = NGX_HTTP_WHARF_MISMATCH;
        return ctx;
    }

    if (ngx_http_wharf_escape_path(r, &ctx->path) != NGX_OK) {
        return NULL;
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

    len = ctx->prefix.len + ctx->name.len;

    if (r->uri.len < len) {
        return 0;
    }

    p = r->uri.data;

    if (ngx_strncmp(p, ctx->prefix.data, ctx->prefix.len) != 0
        || ngx_strncmp(p + ctx->prefix.len, ctx->name.data, ctx->name.len)
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
ngx_http_wharf_send_error(ngx_http_request_t *r, ngx_http_wharf_ctx_t *ctx)
{
    u_char       *last;
    size_t        len, shown_len;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_str_t     code;
    ngx_uint_t    status;
    ngx_chain_t   out;
    u_char        msg[NGX_HTTP_WHARF_MESSAGE_LEN];
    u_char        shown[NGX_HTTP_WHARF_NAME_SHOWN * 3 + sizeof("...")];

    shown_len = ngx_http_wharf_show_name(shown, &ctx->name);

    status = NGX_HTTP_BAD_REQUEST;
    ngx_str_set(&code, "bad_route");

    switch (ctx->result) {

    case NGX_HTTP_WHARF_NOT_FOUND:
        status = NGX_HTTP_NOT_FOUND;
        ngx_str_set(&code, "worker_not_found");
        last = ngx_snprintf(msg, sizeof(msg),
                            "worker \"%*s\" is not registered",
                            shown_len, shown);
        break;

    case NGX_HTTP_WHARF_INVALID_NAME:
        ngx_str_set(&code, "invalid_worker_name");
        last = ngx_snprintf(msg, sizeof(msg),
                            "invalid worker name \"%*s\": a worker name is "
                            "1 to %d characters of a-z, 0-9 and \"-\", "
                            "and does not start with \"-\"",
                            shown_len, shown, WHARF_NAME_MAX);
        break;

    case NGX_HTTP_WHARF_NO_NAME:
        last = ngx_snprintf(msg, sizeof(msg),
                            "no worker name after \"%V\"", &ctx->prefix);
        break;

    case NGX_HTTP_WHARF_NO_PREFIX:
        last = ngx_snprintf(msg, sizeof(msg),
                            "request path does not start with \"%V\"",
                            &ctx->prefix);
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

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "wharf: %V: %*s", &code, (size_t) (last - msg), msg);

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    len = sizeof("{\"error\":{\"code\":\"") - 1 + code.len
          + sizeof("\",\"message\":\"") - 1
          + (last - msg) + ngx_escape_json(NULL, msg, last - msg)
          + sizeof("\"}}" CRLF) - 1;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, "{\"error\":{\"code\":\"",
                         sizeof("{\"error\":{\"code\":\"") - 1);
    b->last = ngx_cpymem(b->last, code.data, code.len);
    b->last = ngx_cpymem(b->last, "\",\"message\":\"",
                         sizeof("\",\"message\":\"") - 1);
    b->last = (u_char *) ngx_escape_json(b->last, msg, last - msg);
    b->last = ngx_cpymem(b->last, "\"}}" CRLF, sizeof("\"}}" CRLF) - 1);

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
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


/* the hash holds valid names only, so a name is checked before its lookup */

ngx_http_wharf_worker_t *
ngx_http_wharf_find_worker(ngx_http_wharf_main_conf_t *wmcf, u_char *name,
    size_t len)
{
    if (wmcf->hash.buckets == NULL) {
        return NULL;
    }

    return ngx_hash_find(&wmcf->hash, ngx_hash_key(name, len), name, len);
}


static ngx_int_t
ngx_http_wharf_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    ngx_str_t             *s;
    ngx_http_wharf_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_wharf_module);

    if (ctx == NULL || ctx->worker == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {

    case NGX_HTTP_WHARF_VAR_WORKER:
        s = &ctx->worker->name;
        break;

    case NGX_HTTP_WHARF_VAR_UPSTREAM:
        s = &ctx->worker->upstream->host;
        break;

    case NGX_HTTP_WHARF_VAR_CONTAINER:
        s = &ctx->worker->container;
        break;

    default: /* NGX_HTTP_WHARF_VAR_PATH */
        s = &ctx->path;
        break;
    }

    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = s->data;

    return NGX_OK;
}


/*
 * wharf_worker NAME upstream=UPSTREAM [container=CONTAINER];
 *
 * The upstream block may come later in the configuration, so it is looked
 * up in ngx_http_wharf_init_main_conf(); the directive's place is kept to
 * name it then.
 */

static char *
ngx_http_wharf_worker(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_wharf_main_conf_t *wmcf = conf;

    ngx_int_t                  rc;
    ngx_str_t                 *value, *name;
    ngx_uint_t                 i;
    ngx_http_wharf_worker_t   *worker, **wp;

    value = cf->args->elts;
    name = &value[1];

    if (!wharf_name_valid((const char *) name->data, name->len)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "wharf_worker \"%V\": invalid worker name, "
                           "expected 1 to %d characters of a-z, 0-9 and "
                           "\"-\", not starting with \"-\"",
                           name, WHARF_NAME_MAX);
        return NGX_CONF_ERROR;
    }

    worker = ngx_pcalloc(cf->pool, sizeof(ngx_http_wharf_worker_t));
    if (worker == NULL) {
        return NGX_CONF_ERROR;
    }

    worker->name = *name;
    worker->file_name = cf->conf_file->file.name.data;
    worker->line = cf->conf_file->line;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "upstream=", 9) == 0) {

            if (worker->upstream_name.data) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "wharf_worker \"%V\": duplicate "
                                   "\"upstream=\" parameter", name);
                return NGX_CONF_ERROR;
            }

            worker->upstream_name.len = value[i].len - 9;
            worker->upstream_name.data = value[i].data + 9;

            /* it becomes the host of the proxy_pass URL */

            if (!ngx_http_wharf_token_valid(&worker->upstream_name,
                                            NGX_HTTP_WHARF_UPSTREAM_MAX))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "wharf_worker \"%V\": invalid upstream "
                                   "name \"%V\"", name,
                                   &worker->upstream_name);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "container=", 10) == 0) {

            if (worker->container.data) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "wharf_worker \"%V\": duplicate "
                                   "\"container=\" parameter", name);
                return NGX_CONF_ERROR;
            }

            worker->container.len = value[i].len - 10;
            worker->container.data = value[i].data + 10;

            /* Docker's rule: [a-zA-Z0-9][a-zA-Z0-9_.-]* */

            if (!ngx_http_wharf_token_valid(&worker->container,
                                            NGX_HTTP_WHARF_CONTAINER_MAX)
                || worker->container.data[0] == '.'
                || worker->container.data[0] == '-'
                || worker->container.data[0] == '_')
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "wharf_worker \"%V\": invalid container "
                                   "name \"%V\"", name, &worker->container);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "wharf_worker \"%V\": invalid parameter \"%V\"",
                           name, &value[i]);
        return NGX_CONF_ERROR;
    }

    if (worker->upstream_name.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "wharf_worker \"%V\": missing \"upstream=\" "
                           "parameter", name);
        return NGX_CONF_ERROR;
    }

    if (worker->container.data == NULL) {
        worker->container = *name;
    }

    /* names are lower case already, so the key is used as it is */

    rc = ngx_hash_add_key(wmcf->keys, name, worker, NGX_HASH_READONLY_KEY);

    if (rc == NGX_BUSY) {
        wp = wmcf->workers.elts;

        for (i = 0; i < wmcf->workers.nelts; i++) {
            if (wp[i]->name.len == name->len
                && ngx_strncmp(wp[i]->name.data, name->data, name->len) == 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "wharf_worker \"%V\" is duplicate "
                                   "(first defined in %s:%ui)", name,
                                   wp[i]->file_name, wp[i]->line);
                return NGX_CONF_ERROR;
            }
        }

        return NGX_CONF_ERROR;
    }

    if (rc != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    wp = ngx_array_push(&wmcf->workers);
    if (wp == NULL) {
        return NGX_CONF_ERROR;
    }

    *wp = worker;

    return NGX_CONF_OK;
}


/* 1 to max bytes of a-z, A-Z, 0-9, ".", "-" and "_" */

static ngx_uint_t
ngx_http_wharf_token_valid(ngx_str_t *s, size_t max)
{
    u_char  ch;
    size_t  i;

    if (s->len == 0 || s->len > max) {
        return 0;
    }

    for (i = 0; i < s->len; i++) {
        ch = s->data[i];

        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
            || (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_')
        {
            continue;
        }

        return 0;
    }

    return 1;
}


/*
 * wharf_route [prefix=/api/workers/];
 *
 * The prefix is also recorded in the server, whose server rewrite phase
 * handler refuses malformed worker routes before a location is chosen.
 */

static char *
ngx_http_wharf_route_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_wharf_loc_conf_t *wlcf = conf;

    size_t                      len;
    ngx_str_t                  *value, prefix, *p;
    ngx_uint_t                  i;
    ngx_http_wharf_srv_conf_t  *wscf;

    if (wlcf->prefix.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    ngx_str_set(&prefix, NGX_HTTP_WHARF_DEFAULT_PREFIX);

    if (cf->args->nelts == 2) {

        if (ngx_strncmp(value[1].data, "prefix=", 7) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }

        prefix.len = value[1].len - 7;
        prefix.data = value[1].data + 7;

        if (!ngx_http_wharf_prefix_valid(&prefix)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid wharf_route prefix \"%V\", expected "
                               "a path that starts and ends with \"/\", of "
                               "a-z, A-Z, 0-9, \"-\", \".\", \"_\" and "
                               "\"~\", without empty, \".\" or \"..\" "
                               "segments", &prefix);
            return NGX_CONF_ERROR;
        }
    }

    wlcf->prefix = prefix;

    wscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_wharf_module);

    if (wscf->prefixes == NULL) {
        wscf->prefixes = ngx_array_create(cf->pool, 1, sizeof(ngx_str_t));
        if (wscf->prefixes == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    /*
     * The server handler routes by the first prefix that matches, so no
     * prefix may begin with another one of the same server.
     */

    p = wscf->prefixes->elts;

    for (i = 0; i < wscf->prefixes->nelts; i++) {
        len = ngx_min(p[i].len, prefix.len);

        if (ngx_strncmp(p[i].data, prefix.data, len) != 0) {
            continue;
        }

        if (p[i].len == prefix.len) {
            return NGX_CONF_OK;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "wharf_route prefix \"%V\" overlaps prefix "
                           "\"%V\" of another wharf_route in this server",
                           &prefix, &p[i]);
        return NGX_CONF_ERROR;
    }

    p = ngx_array_push(wscf->prefixes);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    *p = prefix;

    return NGX_CONF_OK;
}


/*
 * The prefix is compared with the raw request line, so it must be spelled
 * the one way a client sends it: no escapes, no dot or empty segments.
 */

static ngx_uint_t
ngx_http_wharf_prefix_valid(ngx_str_t *prefix)
{
    u_char  ch, *p, *last, *segment;

    p = prefix->data;
    last = p + prefix->len;

    if (prefix->len == 0 || p[0] != '/' || last[-1] != '/') {
        return 0;
    }

    segment = p + 1;

    for (p++; p < last; p++) {
        ch = *p;

        if (ch == '/') {
            if (p == segment
                || (p - segment == 1 && segment[0] == '.')
                || (p - segment == 2 && segment[0] == '.'
                    && segment[1] == '.'))
            {
                return 0;
            }

            segment = p + 1;
            continue;
        }

        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
            || (ch >= '0' && ch <= '9')
            || ch == '-' || ch == '.' || ch == '_' || ch == '~')
        {
            continue;
        }

        return 0;
    }

    return 1;
}


static void *
ngx_http_wharf_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_wharf_main_conf_t  *wmcf;

    wmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_wharf_main_conf_t));
    if (wmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     wmcf->hash = { NULL, 0 };
     */

    if (ngx_array_init(&wmcf->workers, cf->pool, 4,
                       sizeof(ngx_http_wharf_worker_t *))
        != NGX_OK)
    {
        return NULL;
    }

    /* the keys are needed only until the hash is built */

    wmcf->keys = ngx_pcalloc(cf->temp_pool, sizeof(ngx_hash_keys_arrays_t));
    if (wmcf->keys == NULL) {
        return NULL;
    }

    wmcf->keys->pool = cf->pool;
    wmcf->keys->temp_pool = cf->temp_pool;

    if (ngx_hash_keys_array_init(wmcf->keys, NGX_HASH_SMALL) != NGX_OK) {
        return NULL;
    }

    wmcf->hash_max_size = NGX_CONF_UNSET_UINT;
    wmcf->hash_bucket_size = NGX_CONF_UNSET_UINT;

    return wmcf;
}


/*
 * Runs once the whole http{} block is read, so every upstream{} block is
 * known, wherever it is.  Only explicit upstream{} blocks count: proxy_pass
 * with a literal host also adds an entry to the upstream list.
 */

static char *
ngx_http_wharf_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_wharf_main_conf_t *wmcf = conf;

    ngx_uint_t                      i, j;
    ngx_hash_init_t                 hash;
    ngx_http_wharf_worker_t       **wp, *worker;
    ngx_http_upstream_srv_conf_t  **uscfp;
    ngx_http_upstream_main_conf_t  *umcf;

    ngx_conf_init_uint_value(wmcf->hash_max_size, 2048);
    ngx_conf_init_uint_value(wmcf->hash_bucket_size, 128);

    umcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_upstream_module);

    uscfp = umcf->upstreams.elts;
    wp = wmcf->workers.elts;

    for (i = 0; i < wmcf->workers.nelts; i++) {
        worker = wp[i];

        for (j = 0; j < umcf->upstreams.nelts; j++) {

            if ((uscfp[j]->flags & NGX_HTTP_UPSTREAM_CREATE)
                && uscfp[j]->host.len == worker->upstream_name.len
                && ngx_strncasecmp(uscfp[j]->host.data,
                                   worker->upstream_name.data,
                                   worker->upstream_name.len)
                   == 0)
            {
                worker->upstream = uscfp[j];
                break;
            }
        }

        if (worker->upstream == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "wharf_worker \"%V\": upstream \"%V\" is not "
                          "defined by any upstream block in %s:%ui",
                          &worker->name, &worker->upstream_name,
                          worker->file_name, worker->line);
            return NGX_CONF_ERROR;
        }
    }

    if (wmcf->workers.nelts) {
        hash.hash = &wmcf->hash;
        hash.key = ngx_hash_key;
        hash.max_size = wmcf->hash_max_size;
        hash.bucket_size = ngx_align(wmcf->hash_bucket_size,
                                     ngx_cacheline_size);
        hash.name = "wharf_workers_hash";
        hash.pool = cf->pool;
        hash.temp_pool = NULL;

        if (ngx_hash_init(&hash, wmcf->keys->keys.elts,
                          wmcf->keys->keys.nelts)
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    wmcf->keys = NULL;

    return NGX_CONF_OK;
}


static void *
ngx_http_wharf_create_srv_conf(ngx_conf_t *cf)
{
    ngx_http_wharf_srv_conf_t  *wscf;

    wscf = ngx_pcalloc(cf->pool, sizeof(ngx_http_wharf_srv_conf_t));
    if (wscf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     wscf->prefixes = NULL;
     */

    return wscf;
}


static void *
ngx_http_wharf_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_wharf_loc_conf_t  *wlcf;

    wlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_wharf_loc_conf_t));
    if (wlcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     wlcf->prefix = { 0, NULL };
     */

    return wlcf;
}


static char *
ngx_http_wharf_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_wharf_loc_conf_t  *prev = parent;
    ngx_http_wharf_loc_conf_t  *conf = child;

    /* a nested location routes as its parent does */

    if (conf->prefix.data == NULL) {
        conf->prefix = prev->prefix;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_wharf_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_wharf_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/*
 * Routing is done in the two rewrite phases, before the access phase, so
 * that an access handler (auth) already knows the worker a request is for,
 * and a request that cannot be routed is refused before anything else
 * runs for it.
 */

static ngx_int_t
ngx_http_wharf_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_SERVER_REWRITE_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_wharf_server_rewrite_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_REWRITE_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_wharf_rewrite_handler;

    return NGX_OK;
}
