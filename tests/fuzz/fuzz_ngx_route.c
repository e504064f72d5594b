/*
 * libFuzzer target: the nginx module's routing of /api/workers/NAME/...
 * (ngx_module/ngx_http_wharf_route.c) on any request target.
 *
 * The module's file is compiled into this target as it is (#include
 * below), against the headers of the configured nginx tree, and driven
 * through its two entry points as nginx drives them: the server rewrite
 * phase (ngx_http_wharf_server_rewrite_handler) on the raw request target,
 * then, when $uri falls in the wharf_route location, the location's
 * rewrite phase (ngx_http_wharf_rewrite_handler). Fuzzed: the prefix
 * match, the split of the name segment and its check (common/name.c), the
 * "." / ".." segment detection with %-escapes, the re-escaping of
 * $wharf_path, the $uri agreement check, and the route errors with the
 * client's name made safe to show.
 *
 * Debian ships nginx's headers, not its core objects, so the few core
 * functions route.c calls are stand-ins here, each with nginx's contract:
 * ngx_hextoi, ngx_pcalloc/ngx_pnalloc (one malloc per allocation, freed
 * after each input, so ASan sees an overflow of any of them, which a real
 * pool would hide) and ngx_snprintf (the %V, %*s, %s, %d it is given; any
 * other conversion aborts, so a new one in route.c shows here). The
 * module's neighbours are stand-ins too: ngx_http_wharf_find_worker looks
 * the name up in a fixed list (the module looks the same bytes up in a
 * hash of the configured names), ngx_http_wharf_live_hold has no live
 * worker to hold, ngx_http_wharf_ctx_create allocates the
 * context without sessions.c's pool cleanup, ngx_http_wharf_send_error
 * checks and drops the error instead of sending it, and the query-token
 * strip is a no-op (auth.c's, not fuzzed here).
 *
 * Input: REQUEST_TARGET [ "\n" URI ]. The request target is
 * r->unparsed_uri, as the client sent it. r->uri is nginx's normalised
 * path; without "\n" it is the target's path (what nginx makes of a target
 * with nothing to decode), after "\n" it is given, as a "rewrite" in the
 * configuration can make it anything.
 *
 * Checks: a routed request has a registered name, exactly the raw bytes of
 * the name segment; a $wharf_path that starts with "/", has no "?" or "#",
 * no "." or ".." segment however escaped, and only RFC 3986 pchar, "/" and
 * valid %-escapes; and a $uri that begins with prefix and name. A refused
 * one answers 400 or 404 with a known code and a message of printable
 * ASCII only.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "../../ngx_module/ngx_http_wharf_route.c"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* what the send_error stand-in returns: "an answer was sent" */
#define FUZZ_SENT 4242

#define FUZZ_ALLOCS_MAX 64

ngx_module_t ngx_http_wharf_module; /* ctx_index 0 */

static ngx_str_t fuzz_workers[] = {
    ngx_string("demo"), ngx_string("web-1"), ngx_string("a"),
    ngx_string(
        "a23456789-123456789-123456789-123456789-123456789-123456789-123")
};

static ngx_http_wharf_worker_t fuzz_worker_conf[4];

static ngx_str_t fuzz_prefixes[] = { ngx_string(NGX_HTTP_WHARF_DEFAULT_PREFIX),
                                     ngx_string("/v2/w/") };

static ngx_array_t fuzz_prefix_array = { fuzz_prefixes, 2, sizeof(ngx_str_t), 2,
                                         NULL };

/* the allocations of the current input */
static void *fuzz_allocs[FUZZ_ALLOCS_MAX];
static ngx_uint_t fuzz_nallocs;

static ngx_uint_t fuzz_errors;

/* --- nginx core stand-ins ------------------------------------------------ */

ngx_int_t
ngx_hextoi(u_char *line, size_t n)
{
    u_char c;
    ngx_int_t value;

    if (n == 0) {
        return NGX_ERROR;
    }

    for (value = 0; n--; line++) {
        if (value > NGX_MAX_INT_T_VALUE / 16) {
            return NGX_ERROR;
        }

        c = *line;

        if (c >= '0' && c <= '9') {
            value = value * 16 + (c - '0');

        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            value = value * 16 + ((c | 0x20) - 'a' + 10);

        } else {
            return NGX_ERROR;
        }
    }

    return value;
}

void *
ngx_pnalloc(ngx_pool_t *pool, size_t size)
{
    void *p;

    if (fuzz_nallocs == FUZZ_ALLOCS_MAX) {
        abort();
    }

    p = malloc(size ? size : 1);
    if (p == NULL) {
        abort();
    }

    fuzz_allocs[fuzz_nallocs++] = p;

    return p;
}

void *
ngx_pcalloc(ngx_pool_t *pool, size_t size)
{
    return memset(ngx_pnalloc(pool, size), 0, size);
}

u_char *
ngx_vslprintf(u_char *buf, u_char *last, const char *fmt, va_list args)
{
    u_char *s;
    size_t len;
    ngx_str_t *v;
    char num[32];

    while (*fmt && buf < last) {
        if (*fmt != '%') {
            *buf++ = *fmt++;
            continue;
        }

        fmt++;

        if (fmt[0] == '*' && fmt[1] == 's') {
            len = va_arg(args, size_t);
            s = va_arg(args, u_char *);
            fmt += 2;

        } else if (fmt[0] == 'V') {
            v = va_arg(args, ngx_str_t *);
            s = v->data;
            len = v->len;
            fmt++;

        } else if (fmt[0] == 's') {
            s = va_arg(args, u_char *);
            len = ngx_strlen(s);
            fmt++;

        } else if (fmt[0] == 'd') {
            len = snprintf(num, sizeof(num), "%d", va_arg(args, int));
            s = (u_char *) num;
            fmt++;

        } else if (fmt[0] == '%') {
            s = (u_char *) "%";
            len = 1;
            fmt++;

        } else {
            abort(); /* a conversion this stand-in does not know */
        }

        len = ngx_min(len, (size_t) (last - buf));
        buf = ngx_cpymem(buf, s, len);
    }

    return buf;
}

u_char *
ngx_snprintf(u_char *buf, size_t max, const char *fmt, ...)
{
    u_char *p;
    va_list args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + max, fmt, args);
    va_end(args);

    return p;
}

void
ngx_log_error_core(ngx_uint_t level, ngx_log_t *log, ngx_err_t err,
                   const char *fmt, ...)
{
}

/* --- the module's neighbours -------------------------------------------- */

ngx_http_wharf_worker_t *
ngx_http_wharf_find_worker(ngx_http_wharf_main_conf_t *wmcf, u_char *name,
                           size_t len)
{
    ngx_uint_t i;

    for (i = 0; i < sizeof(fuzz_workers) / sizeof(fuzz_workers[0]); i++) {
        if (fuzz_workers[i].len == len
            && ngx_memcmp(fuzz_workers[i].data, name, len) == 0) {
            return &fuzz_worker_conf[i];
        }
    }

    return NULL;
}

/* live.c's: the fixed workers are wharf_worker ones, never held */

ngx_int_t
ngx_http_wharf_live_hold(ngx_http_request_t *r, ngx_http_wharf_ctx_t *ctx)
{
    return NGX_OK;
}

/* sessions.c's, without the pool cleanup that ends a counted session */

ngx_http_wharf_ctx_t *
ngx_http_wharf_ctx_create(ngx_http_request_t *r)
{
    ngx_http_wharf_ctx_t *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_wharf_ctx_t));
    ctx->check = NGX_HTTP_WHARF_CHECK_NONE;

    ngx_http_set_ctx(r, ctx, ngx_http_wharf_module);

    return ctx;
}

ngx_int_t
ngx_http_wharf_strip_query_token(ngx_http_request_t *r)
{
    return NGX_OK;
}

ngx_int_t
ngx_http_wharf_send_error(ngx_http_request_t *r, ngx_uint_t status,
                          const char *code, const char *fmt, ...)
{
    u_char *p, *last, msg[NGX_HTTP_WHARF_MESSAGE_LEN * 2];
    va_list args;

    va_start(args, fmt);
    last = ngx_vslprintf(msg, msg + sizeof(msg), fmt, args);
    va_end(args);

    if (!(status == NGX_HTTP_BAD_REQUEST
          && (ngx_strcmp(code, "bad_route") == 0
              || ngx_strcmp(code, "invalid_worker_name") == 0))
        && !(status == NGX_HTTP_NOT_FOUND
             && ngx_strcmp(code, "worker_not_found") == 0)) {
        abort();
    }

    /* the client's bytes are shown escaped: printable ASCII only */

    for (p = msg; p < last; p++) {
        if (*p < 0x20 || *p > 0x7e) {
            abort();
        }
    }

    fuzz_errors++;

    return FUZZ_SENT;
}

/* --- checks --------------------------------------------------------------- */

static ngx_uint_t
fuzz_hex(u_char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

static u_char
fuzz_unhex(u_char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* $wharf_path as it goes into the request line to the upstream */

static void
fuzz_check_path(ngx_str_t *path)
{
    u_char c, *p, *last;
    ngx_uint_t seg, dots;

    if (path->len == 0 || path->data[0] != '/') {
        abort();
    }

    last = path->data + path->len;
    seg = 0;
    dots = 0;

    for (p = path->data; p < last; p++) {
        c = *p;

        if (c == '%') {
            if (last - p < 3 || !fuzz_hex(p[1]) || !fuzz_hex(p[2])) {
                abort(); /* a "%" left unescaped */
            }

            c = (u_char) (fuzz_unhex(p[1]) * 16 + fuzz_unhex(p[2]));
            p += 2;

        } else if (!(isalnum(c)
                     || (c != '\0' && ngx_strchr("-._~!$&'()*+,;=:@/", c)))) {
            abort(); /* not a pchar */
        }

        if (c == '/') {
            if (seg && dots == seg && dots <= 2) {
                abort(); /* a "." or ".." segment */
            }

            seg = 0;
            dots = 0;
            continue;
        }

        seg++;
        dots += (c == '.');
    }

    if (seg && dots == seg && dots <= 2) {
        abort();
    }
}

static void
fuzz_check_routed(ngx_http_request_t *r, ngx_http_wharf_ctx_t *ctx,
                  ngx_str_t *prefix)
{
    u_char *p, *last;

    if (ctx->worker < fuzz_worker_conf || ctx->worker >= fuzz_worker_conf + 4
        || ctx->result != NGX_HTTP_WHARF_ROUTED) {
        abort();
    }

    /* the name is the raw segment after the prefix, and registered */

    p = r->unparsed_uri.data;
    last = p + r->unparsed_uri.len;

    if (r->unparsed_uri.len < prefix->len + ctx->name.len
        || ngx_memcmp(p, prefix->data, prefix->len) != 0
        || ctx->name.data != p + prefix->len
        || !wharf_name_valid((char *) ctx->name.data, ctx->name.len)
        || ngx_http_wharf_find_worker(NULL, ctx->name.data, ctx->name.len)
            != ctx->worker) {
        abort();
    }

    p += prefix->len + ctx->name.len;

    if (p < last && *p != '/' && *p != '?' && *p != '#') {
        abort();
    }

    if (ngx_strlchr(ctx->path.data, ctx->path.data + ctx->path.len, '?')
        || ngx_strlchr(ctx->path.data, ctx->path.data + ctx->path.len, '#')) {
        abort();
    }

    fuzz_check_path(&ctx->path);

    /* $uri agrees */

    if (r->uri.len < prefix->len + ctx->name.len
        || ngx_memcmp(r->uri.data, prefix->data, prefix->len) != 0
        || ngx_memcmp(r->uri.data + prefix->len, ctx->name.data, ctx->name.len)
            != 0) {
        abort();
    }
}

/* --- the target ----------------------------------------------------------- */

/* Runs one request target through both phases; 1 when it was routed. */

static ngx_uint_t
fuzz_one(const uint8_t *data, size_t size)
{
    u_char *buf, *nl, *p, *last;
    void *ctxs[1], *main_confs[1], *srv_confs[1];
    void *loc_confs[1];
    ngx_int_t rc;
    ngx_uint_t i, routed;
    ngx_log_t log;
    ngx_pool_t pool;
    ngx_connection_t c;
    ngx_http_request_t r;
    ngx_http_wharf_ctx_t *ctx;
    ngx_http_wharf_srv_conf_t wscf;
    ngx_http_wharf_loc_conf_t wlcf;
    ngx_http_wharf_main_conf_t wmcf;

    /* an exact copy, so ASan sees a read past either string */

    buf = malloc(size ? size : 1);
    if (buf == NULL) {
        abort();
    }

    ngx_memcpy(buf, data, size);

    ngx_memzero(&r, sizeof(ngx_http_request_t));
    ngx_memzero(&c, sizeof(ngx_connection_t));
    ngx_memzero(&log, sizeof(ngx_log_t));
    ngx_memzero(&wmcf, sizeof(ngx_http_wharf_main_conf_t));
    ngx_memzero(&wlcf, sizeof(ngx_http_wharf_loc_conf_t));

    c.log = &log;
    r.connection = &c;
    r.pool = &pool;

    ctxs[0] = NULL;
    main_confs[0] = &wmcf;
    srv_confs[0] = &wscf;
    loc_confs[0] = &wlcf;
    r.ctx = ctxs;
    r.main_conf = main_confs;
    r.srv_conf = srv_confs;
    r.loc_conf = loc_confs;

    wscf.prefixes = &fuzz_prefix_array;
    wlcf.prefix = fuzz_prefixes[0];

    nl = memchr(buf, '\n', size);

    r.unparsed_uri.data = buf;
    r.unparsed_uri.len = nl ? (size_t) (nl - buf) : size;

    if (nl) {
        r.uri.data = nl + 1;
        r.uri.len = size - r.unparsed_uri.len - 1;

    } else {
        last = buf + size;

        for (p = buf; p < last && *p != '?' && *p != '#'; p++) {
            /* void */
        }

        r.uri.data = buf;
        r.uri.len = p - buf;
    }

    fuzz_errors = 0;
    routed = 0;

    /* the server rewrite phase */

    rc = ngx_http_wharf_server_rewrite_handler(&r);

    ctx = ctxs[0];

    if (rc == FUZZ_SENT) {
        if (ctx == NULL || ctx->worker != NULL || fuzz_errors != 1) {
            abort();
        }

        goto done;
    }

    if (rc != NGX_DECLINED) {
        abort();
    }

    if (ctx != NULL) {
        if (ctx->worker == NULL) {
            abort(); /* declined a request it refused */
        }

        for (i = 0; i < fuzz_prefix_array.nelts; i++) {
            if (r.unparsed_uri.len >= fuzz_prefixes[i].len
                && ngx_memcmp(r.unparsed_uri.data, fuzz_prefixes[i].data,
                              fuzz_prefixes[i].len)
                    == 0) {
                break;
            }
        }

        if (i == fuzz_prefix_array.nelts) {
            abort(); /* routed without a prefix */
        }

        fuzz_check_routed(&r, ctx, &fuzz_prefixes[i]);
        routed = 1;
    }

    /* the location's rewrite phase, when $uri is in its location */

    if (r.uri.len < wlcf.prefix.len
        || ngx_memcmp(r.uri.data, wlcf.prefix.data, wlcf.prefix.len) != 0) {
        goto done;
    }

    rc = ngx_http_wharf_rewrite_handler(&r);

    ctx = ctxs[0];

    if (ctx == NULL) {
        abort();
    }

    if (rc == FUZZ_SENT) {
        if (ctx->worker != NULL || fuzz_errors != 1) {
            abort();
        }

        routed = 0;

    } else if (rc == NGX_DECLINED) {
        if (ctx->worker == NULL || !ctx->located) {
            abort();
        }

        fuzz_check_routed(&r, ctx, &wlcf.prefix);
        routed = 1;

    } else {
        abort();
    }

done:

    for (i = 0; i < fuzz_nallocs; i++) {
        free(fuzz_allocs[i]);
    }

    fuzz_nallocs = 0;

    free(buf);

    return routed;
}

/* the target refuses and routes what the module is documented to */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_uint_t i;
    static const struct {
        const char *target;
        ngx_uint_t routed;
    } known[] = {
        { "/api/workers/demo/api/items?x=1", 1 },
        { "/api/workers/web-1", 1 },
        { "/v2/w/a/x%20y", 1 },
        { "/api/workers/demo/a/%2e%2E/b", 0 },
        { "/api/workers/de%6Do/x", 0 },
        { "/api/workers/Demo/x", 0 },
        { "/api/workers/nobody/x", 0 },
        { "/api/workers/demo/x\n/api/workers/web-1/x", 0 },
    };

    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (fuzz_one((const uint8_t *) known[i].target,
                     ngx_strlen(known[i].target))
            != known[i].routed) {
            fprintf(stderr, "fuzz_ngx_route: \"%s\" is %srouted\n",
                    known[i].target, known[i].routed ? "not " : "");
            abort();
        }
    }

    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void) fuzz_one(data, size);

    return 0;
}
