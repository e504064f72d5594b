
/*
 * wharf: PUT and DELETE /api/workers/NAME, the live registry's API.
 *
 *   PUT /api/workers/NAME
 *   {"upstream":"127.0.0.1:9001","container":"c","max_sessions":20,
 *    "terminal_path":"/terminal","websocket_path":"/websocket"}
 *
 * adds worker NAME (201) or changes it (200), answering its registry
 * entry; DELETE removes it (200), ends its sessions and, with
 * wharf_registry_backend, has wharfd forget it.  Scope "admin", sub "*"
 * (ngx_http_wharf_auth.c).  A wharf_worker's name is the configuration's:
 * 409.  Served by the wharf_registry location of "/api/workers/NAME".
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include "ngx_http_wharf_module.h"


/* a DELETE, waiting for wharfd (wharf_registry_backend) */

typedef struct {
    ngx_http_request_t            *request;
    ngx_str_t                      name;
    ngx_http_wharf_backend_t       backend;
    unsigned                       responded:1;
} ngx_http_wharf_removal_t;


static ngx_int_t ngx_http_wharf_live_put_handler(ngx_http_request_t *r,
    ngx_http_wharf_ctx_t *ctx);
static void ngx_http_wharf_live_put_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_wharf_live_body(ngx_http_request_t *r,
    ngx_str_t *body, ngx_int_t *rc);
static ngx_int_t ngx_http_wharf_live_put_answer(ngx_http_request_t *r,
    ngx_str_t *name, ngx_uint_t status);
static ngx_int_t ngx_http_wharf_live_delete_handler(ngx_http_request_t *r,
    ngx_http_wharf_ctx_t *ctx);
static ngx_int_t ngx_http_wharf_live_static(ngx_http_request_t *r,
    ngx_http_wharf_worker_t *worker);
static ngx_int_t ngx_http_wharf_removal_backend(ngx_http_request_t *r,
    ngx_http_wharf_removal_t *rm, ngx_str_t *prefix);
static void ngx_http_wharf_removal_wake(ngx_http_request_t *r);
static void ngx_http_wharf_removal_cleanup(void *data);
static void ngx_http_wharf_removal_answer(ngx_http_wharf_removal_t *rm);
static ngx_int_t ngx_http_wharf_removal_send(ngx_http_wharf_removal_t *rm);


/*
 * From the wharf_registry handler, for PUT or DELETE of "PREFIX NAME":
 * ctx->name is the name, ctx->worker the worker if there is one.
 */

ngx_int_t
ngx_http_wharf_live_handler(ngx_http_request_t *r, ngx_http_wharf_ctx_t *ctx)
{
    if (r->method == NGX_HTTP_PUT) {
        return ngx_http_wharf_live_put_handler(r, ctx);
    }

    return ngx_http_wharf_live_delete_handler(r, ctx);
}


static ngx_int_t
ngx_http_wharf_live_put_handler(ngx_http_request_t *r,
    ngx_http_wharf_ctx_t *ctx)
{
    ngx_int_t  rc;

    if (ctx->worker && ctx->worker->peer == NULL) {
        return ngx_http_wharf_live_static(r, ctx->worker);
    }

    if (r->headers_in.content_length_n > NGX_HTTP_WHARF_LIVE_BODY_MAX) {
        return ngx_http_wharf_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                         "body_too_large",
                                         "a worker's JSON is at most %d "
                                         "bytes", NGX_HTTP_WHARF_LIVE_BODY_MAX);
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_wharf_live_put_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_wharf_live_put_body(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_str_t                    body;
    json_t                      *json;
    json_error_t                 jerr;
    ngx_http_wharf_ctx_t        *ctx;
    ngx_http_wharf_entry_t       e;
    ngx_http_wharf_main_conf_t  *wmcf;
    u_char                       err[NGX_HTTP_WHARF_ERROR_LEN * 2];

    ctx = ngx_http_get_module_ctx(r, ngx_http_wharf_module);
    wmcf = ngx_http_get_module_main_conf(r, ngx_http_wharf_module);

    if (ngx_http_wharf_live_body(r, &body, &rc) != NGX_OK) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    json = json_loadb((const char *) body.data, body.len,
                      JSON_REJECT_DUPLICATES, &jerr);

    if (json == NULL) {
        rc = ngx_http_wharf_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "invalid_body",
                                       "the body is not JSON: line %d: %s",
                                       jerr.line, jerr.text);
        ngx_http_finalize_request(r, rc);
        return;
    }

    rc = ngx_http_wharf_entry_parse(r->pool, json, &ctx->name, &e, err,
                                    sizeof(err));
    json_decref(json);

    if (rc == NGX_DECLINED) {
        rc = ngx_http_wharf_send_error(r, NGX_HTTP_BAD_REQUEST,
                                       "invalid_body", "%s", err);
        ngx_http_finalize_request(r, rc);
        return;
    }

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = ngx_http_wharf_live_put(wmcf, &e, r->connection->log, err,
                                 sizeof(err));

    switch (rc) {

    case NGX_HTTP_WHARF_LIVE_CREATED:
        rc = ngx_http_wharf_live_put_answer(r, &e.name, NGX_HTTP_CREATED);
        break;

    case NGX_HTTP_WHARF_LIVE_CHANGED:
        rc = ngx_http_wharf_live_put_answer(r, &e.name, NGX_HTTP_OK);
        break;

    case NGX_HTTP_WHARF_LIVE_STATIC:
        rc = ngx_http_wharf_live_static(r,
                                        ngx_http_wharf_find_static(wmcf,
                                            e.name.data, e.name.len));
        break;

    case NGX_HTTP_WHARF_LIVE_FULL:
        rc = ngx_http_wharf_send_error(r, NGX_HTTP_INSUFFICIENT_STORAGE,
                                       "zone_full",
                                       "the wharf zone (%uz bytes) has no "
                                       "room for worker \"%V\"; raise "
                                       "wharf_zone_size",
                                       wmcf->shm_zone->shm.size, &e.name);
        break;

    case NGX_HTTP_WHARF_LIVE_NOT_SAVED:
        rc = ngx_http_wharf_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                       "state_not_saved",
                                       "worker \"%V\" is not changed: the "
                                       "registry cannot be saved: %s",
                                       &e.name, err);
        break;

    default:
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_finalize_request(r, rc);
}


/*
 * The body, read already, as one piece: in memory (request_body_in_single_buf
 * and the limit, below client_body_buffer_size, keep it there), or in a
 * file with client_body_in_file_only.  NGX_ERROR with *rc what finalizes
 * the request, an answer sent already or an error status.
 */

static ngx_int_t
ngx_http_wharf_live_body(ngx_http_request_t *r, ngx_str_t *body,
    ngx_int_t *rc)
{
    u_char       *p;
    off_t         len;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    len = 0;

    if (r->request_body) {
        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            len += ngx_buf_size(cl->buf);
        }
    }

    if (len == 0) {
        *rc = ngx_http_wharf_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        "invalid_body",
                                        "no body: a worker's JSON, such as "
                                        "{\"upstream\":\"127.0.0.1:7681\"}");
        return NGX_ERROR;
    }

    if (len > NGX_HTTP_WHARF_LIVE_BODY_MAX) {
        *rc = ngx_http_wharf_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                        "body_too_large",
                                        "a worker's JSON is at most %d "
                                        "bytes", NGX_HTTP_WHARF_LIVE_BODY_MAX);
        return NGX_ERROR;
    }

    *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;

    p = ngx_pnalloc(r->pool, (size_t) len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    body->data = p;
    body->len = (size_t) len;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            n = ngx_read_file(b->file, p, (size_t) (b->file_last - b->file_pos),
                              b->file_pos);

            if (n != b->file_last - b->file_pos) {
                return NGX_ERROR;
            }

            p += n;
            continue;
        }

        p = ngx_cpymem(p, b->pos, b->last - b->pos);
    }

    return NGX_OK;
}


/* 201 or 200, with the worker's entry as GET /api/workers/NAME has it */

static ngx_int_t
ngx_http_wharf_live_put_answer(ngx_http_request_t *r, ngx_str_t *name,
    ngx_uint_t status)
{
    ngx_http_wharf_out_t         out;
    ngx_http_wharf_worker_t     *worker;
    ngx_http_wharf_main_conf_t  *wmcf;

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_wharf_module);

    worker = ngx_http_wharf_live_find(wmcf, name->data, name->len);

    ngx_http_wharf_out_init(&out, r->pool);

    if (worker) {
        ngx_http_wharf_registry_entry(r, &out, wmcf, worker);

    } else {

        /* removed again already, by another request */

        ngx_http_wharf_out_literal(&out, "{\"name\":");
        ngx_http_wharf_out_string(&out, name->data, name->len);
        ngx_http_wharf_out_literal(&out, ",\"source\":\"live\"}");
    }

    ngx_http_wharf_out_literal(&out, CRLF);

    return ngx_http_wharf_out_send(r, &out, status, NULL);
}


static ngx_int_t
ngx_http_wharf_live_delete_handler(ngx_http_request_t *r,
    ngx_http_wharf_ctx_t *ctx)
{
    ngx_int_t                    rc;
    ngx_http_cleanup_t          *cln;
    ngx_http_wharf_removal_t    *rm;
    ngx_http_wharf_loc_conf_t   *wlcf;
    ngx_http_wharf_main_conf_t  *wmcf;
    u_char                       err[NGX_HTTP_WHARF_ERROR_LEN * 2];

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    if (ctx->worker && ctx->worker->peer == NULL) {
        return ngx_http_wharf_live_static(r, ctx->worker);
    }

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_wharf_module);
    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_wharf_module);

    rc = ngx_http_wharf_live_delete(wmcf, &ctx->name, r->connection->log,
                                    err, sizeof(err));

    if (rc == NGX_HTTP_WHARF_LIVE_NOT_FOUND) {
        return ngx_http_wharf_send_error(r, NGX_HTTP_NOT_FOUND,
                                         "worker_not_found",
                                         "worker \"%V\" is not registered",
                                         &ctx->name);
    }

    if (rc == NGX_HTTP_WHARF_LIVE_NOT_SAVED) {
        return ngx_http_wharf_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                         "state_not_saved",
                                         "worker \"%V\" is not removed: the "
                                         "registry cannot be saved: %s",
                                         &ctx->name, err);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* this process's copy goes now, and its sessions end */

    ngx_http_wharf_live_sync(wmcf);

    rm = ngx_pcalloc(r->pool, sizeof(ngx_http_wharf_removal_t));
    if (rm == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rm->request = r;
    rm->name = ctx->name;

    if (wlcf->registry_backend.len == 0 || r != r->main) {
        return ngx_http_wharf_removal_send(rm);
    }

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_wharf_removal_cleanup;
    cln->data = rm;

    r->main->count++;
    r->write_event_handler = ngx_http_wharf_removal_wake;

    if (ngx_http_wharf_removal_backend(r, rm, &wlcf->registry_backend)
        != NGX_OK)
    {
        ngx_http_wharf_removal_answer(rm);
    }

    return NGX_DONE;
}


static ngx_int_t
ngx_http_wharf_live_static(ngx_http_request_t *r,
    ngx_http_wharf_worker_t *worker)
{
    return ngx_http_wharf_send_error(r, NGX_HTTP_CONFLICT, "worker_is_static",
                                     "worker \"%V\" is a wharf_worker of "
                                     "the configuration (%s:%ui): change it "
                                     "there, and reload", &worker->name,
                                     worker->file_name, worker->line);
}


/*
 * "DELETE PREFIX NAME" to wharfd, in the background, with the module's own
 * admin token in place of the client's (ngx_http_wharf_backend.c): wharfd
 * forgets the worker, which would otherwise stay in its list for good.
 */

static ngx_int_t
ngx_http_wharf_removal_backend(ngx_http_request_t *r,
    ngx_http_wharf_removal_t *rm, ngx_str_t *prefix)
{
    u_char                      *p;
    ngx_str_t                    uri, token;
    ngx_http_wharf_main_conf_t  *wmcf;

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_wharf_module);

    rm->backend.asked = 1;
    rm->backend.error = "cannot start the backend subrequest";

    token.len = 0;
    token.data = NULL;

    if (wmcf->private_key.len
        && ngx_http_wharf_admin_token(wmcf, r->connection->log, &token)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    uri.len = prefix->len + rm->name.len;

    p = ngx_pnalloc(r->pool, uri.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    uri.data = p;
    p = ngx_cpymem(p, prefix->data, prefix->len);
    ngx_memcpy(p, rm->name.data, rm->name.len);

    return ngx_http_wharf_backend_ask(r, &rm->backend, &uri, NGX_HTTP_DELETE,
                                      &token);
}


static void
ngx_http_wharf_removal_wake(ngx_http_request_t *r)
{
    ngx_http_cleanup_t        *cln;
    ngx_http_wharf_removal_t  *rm;

    for (cln = r->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_wharf_removal_cleanup) {
            rm = cln->data;

            if (!rm->backend.pending) {
                ngx_http_wharf_removal_answer(rm);
            }

            return;
        }
    }
}


static void
ngx_http_wharf_removal_cleanup(void *data)
{
    ngx_http_wharf_removal_t  *rm = data;

    rm->responded = 1;

    ngx_http_wharf_backend_cancel(&rm->backend);
}


/*
 * {"removed":"NAME","wharfd":{"status":"ok","http_status":200,
 *  "error":null}}, "wharfd" only with wharf_registry_backend.  The
 * worker is removed from the gateway whatever wharfd says.
 */

static void
ngx_http_wharf_removal_answer(ngx_http_wharf_removal_t *rm)
{
    if (rm->responded) {
        return;
    }

    ngx_http_finalize_request(rm->request, ngx_http_wharf_removal_send(rm));
}


static ngx_int_t
ngx_http_wharf_removal_send(ngx_http_wharf_removal_t *rm)
{
    ngx_http_request_t    *r;
    ngx_http_wharf_out_t   out;

    rm->responded = 1;

    r = rm->request;

    ngx_http_wharf_backend_cancel(&rm->backend);

    ngx_http_wharf_out_init(&out, r->pool);

    ngx_http_wharf_out_literal(&out, "{\"removed\":");
    ngx_http_wharf_out_string(&out, rm->name.data, rm->name.len);

    if (rm->backend.asked) {
        ngx_http_wharf_out_literal(&out, ",\"wharfd\":");
        ngx_http_wharf_backend_out(&out, &rm->backend, "ok", "failed");
    }

    ngx_http_wharf_out_literal(&out, "}" CRLF);

    return ngx_http_wharf_out_send(r, &out, NGX_HTTP_OK, NULL);
}
