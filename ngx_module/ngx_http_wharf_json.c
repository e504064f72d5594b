
/*
 * wharf: JSON answers.
 *
 * The registry can list thousands of workers, so an answer is written into
 * a chain of buffers that grows as needed, instead of being measured first
 * and written second: one pass, and nothing to keep in step.  A failed
 * allocation is remembered and reported once, when the answer is sent.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_wharf_module.h"


#define NGX_HTTP_WHARF_OUT_BUF        4096
#define NGX_HTTP_WHARF_PRINTF_MAX     512
#define NGX_HTTP_WHARF_ERROR_MAX      1024


static u_char *ngx_http_wharf_out_reserve(ngx_http_wharf_out_t *out,
    size_t len);


void
ngx_http_wharf_out_init(ngx_http_wharf_out_t *out, ngx_pool_t *pool)
{
    out->pool = pool;
    out->out = NULL;
    out->last = &out->out;
    out->buf = NULL;
    out->failed = 0;
}


/* room for len bytes at the end of the current buffer, or in a new one */

static u_char *
ngx_http_wharf_out_reserve(ngx_http_wharf_out_t *out, size_t len)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (out->failed) {
        return NULL;
    }

    b = out->buf;

    if (b && (size_t) (b->end - b->last) >= len) {
        return b->last;
    }

    b = ngx_create_temp_buf(out->pool,
                            ngx_max(len, NGX_HTTP_WHARF_OUT_BUF));
    if (b == NULL) {
        out->failed = 1;
        return NULL;
    }

    cl = ngx_alloc_chain_link(out->pool);
    if (cl == NULL) {
        out->failed = 1;
        return NULL;
    }

    cl->buf = b;
    cl->next = NULL;

    *out->last = cl;
    out->last = &cl->next;
    out->buf = b;

    return b->last;
}


void
ngx_http_wharf_out_raw(ngx_http_wharf_out_t *out, const void *data,
    size_t len)
{
    u_char  *p;

    p = ngx_http_wharf_out_reserve(out, len);
    if (p == NULL) {
        return;
    }

    out->buf->last = ngx_cpymem(p, data, len);
}


/* a JSON string: quoted, with '"', '\' and control bytes escaped */

void
ngx_http_wharf_out_string(ngx_http_wharf_out_t *out, u_char *data,
    size_t len)
{
    u_char  *p;
    size_t   n;

    n = len + ngx_escape_json(NULL, data, len) + 2;

    p = ngx_http_wharf_out_reserve(out, n);
    if (p == NULL) {
        return;
    }

    *p++ = '"';
    p = (u_char *) ngx_escape_json(p, data, len);
    *p++ = '"';

    out->buf->last = p;
}


/* numbers and fixed text: ngx_sprintf() formats, bounded */

void
ngx_http_wharf_out_printf(ngx_http_wharf_out_t *out, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    p = ngx_http_wharf_out_reserve(out, NGX_HTTP_WHARF_PRINTF_MAX);
    if (p == NULL) {
        return;
    }

    va_start(args, fmt);
    out->buf->last = ngx_vslprintf(p, p + NGX_HTTP_WHARF_PRINTF_MAX, fmt,
                                   args);
    va_end(args);
}


/* ISO-8601 in UTC with milliseconds, quoted: "2026-01-31T12:00:00.123Z" */

void
ngx_http_wharf_out_time(ngx_http_wharf_out_t *out, uint64_t ms)
{
    ngx_tm_t  tm;

    ngx_gmtime((time_t) (ms / 1000), &tm);

    ngx_http_wharf_out_printf(out, "\"%4d-%02d-%02dT%02d:%02d:%02d.%03uDZ\"",
                              tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                              tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec,
                              (uint32_t) (ms % 1000));
}


/*
 * "status":...,"checked_at":...,"latency_ms":...,"error":...  of one
 * result, without braces; an unknown result has nulls.
 */

void
ngx_http_wharf_out_result(ngx_http_wharf_out_t *out,
    ngx_http_wharf_result_t *res)
{
    if (res->status == NGX_HTTP_WHARF_UNKNOWN) {
        ngx_http_wharf_out_literal(out, "\"status\":\"unknown\","
                                   "\"checked_at\":null,"
                                   "\"latency_ms\":null,\"error\":null");
        return;
    }

    ngx_http_wharf_out_printf(out, "\"status\":\"%s\",\"checked_at\":",
                              res->status == NGX_HTTP_WHARF_HEALTHY
                              ? "healthy" : "unhealthy");
    ngx_http_wharf_out_time(out, res->checked_at);

    ngx_http_wharf_out_printf(out, ",\"latency_ms\":%uL.%03uL,\"error\":",
                              res->latency_us / 1000,
                              res->latency_us % 1000);

    if (res->error_len) {
        ngx_http_wharf_out_string(out, res->error, res->error_len);

    } else {
        ngx_http_wharf_out_literal(out, "null");
    }
}


ngx_int_t
ngx_http_wharf_out_send(ngx_http_request_t *r, ngx_http_wharf_out_t *out,
    ngx_uint_t status, ngx_str_t *type)
{
    off_t         len;
    ngx_int_t     rc;
    ngx_chain_t  *cl;

    if (out->failed || out->out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = 0;

    for (cl = out->out; cl; cl = cl->next) {
        len += cl->buf->last - cl->buf->pos;

        if (cl->next == NULL) {
            cl->buf->last_buf = (r == r->main) ? 1 : 0;
            cl->buf->last_in_chain = 1;
        }
    }

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;

    if (type) {
        r->headers_out.content_type = *type;

    } else {
        ngx_str_set(&r->headers_out.content_type, "application/json");
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    /* live data: a cache must not answer for the module */

    if (ngx_http_wharf_add_header(r, "Cache-Control",
                                  (u_char *) "no-store",
                                  sizeof("no-store") - 1)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, out->out);
}


/*
 * Answers {"error":{"code":"...","message":"..."}}.  The codes are stable,
 * for programs; the messages are for people and may change.  Returns what
 * a phase handler or a content handler passes to nginx.
 */

ngx_int_t
ngx_http_wharf_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *fmt, ...)
{
    u_char                *last;
    va_list                args;
    ngx_int_t              rc;
    ngx_http_wharf_out_t   out;
    u_char                 msg[NGX_HTTP_WHARF_ERROR_MAX];

    va_start(args, fmt);
    last = ngx_vslprintf(msg, msg + sizeof(msg), fmt, args);
    va_end(args);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "wharf: %ui %s: %*s", status, code,
                  (size_t) (last - msg), msg);

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    ngx_http_wharf_out_init(&out, r->pool);

    ngx_http_wharf_out_literal(&out, "{\"error\":{\"code\":");
    ngx_http_wharf_out_string(&out, (u_char *) code, ngx_strlen(code));
    ngx_http_wharf_out_literal(&out, ",\"message\":");
    ngx_http_wharf_out_string(&out, msg, last - msg);
    ngx_http_wharf_out_literal(&out, "}}" CRLF);

    return ngx_http_wharf_out_send(r, &out, status, NULL);
}


ngx_int_t
ngx_http_wharf_add_header(ngx_http_request_t *r, const char *key,
    u_char *value, size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value.data = value;
    h->value.len = len;

    return NGX_OK;
}


/*
 * The module's own routes are read-only: GET and HEAD, and 405 with Allow
 * otherwise.  Returns NGX_DECLINED for GET and HEAD, else what the content
 * handler returns: the 405 is sent already.
 */

ngx_int_t
ngx_http_wharf_check_method(ngx_http_request_t *r)
{
    if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
        return NGX_DECLINED;
    }

    if (ngx_http_wharf_add_header(r, "Allow", (u_char *) "GET, HEAD",
                                  sizeof("GET, HEAD") - 1)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_wharf_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                     "method_not_allowed",
                                     "%V is not allowed here; use GET or HEAD",
                                     &r->method_name);
}
