
/*
 * wharf: the orchestrator's front door, as an nginx module.
 *
 * It knows every worker (wharf_worker, one per conf/workers.d/NAME.conf),
 * routes /api/workers/NAME/... to the worker's upstream, lets in only
 * holders of the right token, counts live sessions, probes health, and
 * lists it all.  It decides; nginx's proxy module carries the bytes:
 *
 *     upstream wharf_demo { server 127.0.0.1:9001; keepalive 8; }
 *     wharf_worker demo upstream=wharf_demo container=demo-c;
 *
 *     upstream wharf_workers { wharf_balancer; }
 *
 *     map $http_upgrade $connection_upgrade { default upgrade; "" ""; }
 *
 *     location /api/workers/ {
 *         wharf_route;
 *         proxy_http_version 1.1;
 *         proxy_set_header Upgrade $http_upgrade;
 *         proxy_set_header Connection $connection_upgrade;
 *         proxy_pass http://wharf_workers;
 *     }
 *
 * (Mapping no Upgrade to an empty Connection header rather than "close"
 * lets plain HTTP requests reuse the upstream's keepalive connections.)
 *
 * A request to a worker goes through these phases (see the other files):
 *
 *   post read        request line redacted for the logs   (scrub)
 *   server rewrite   routed by the raw request line       (route)
 *   rewrite          bound in the wharf_route location    (route)
 *   access           Origin, token, scope, sub            (auth)
 *   precontent       credentials swapped, session counted (sessions)
 *   content          proxy_pass, or a health probe        (health)
 *   upstream         the worker's own upstream block      (balancer)
 *   log              request counted by status class      (sessions)
 *
 * This file holds the directives, the configuration and the variables.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_wharf_module.h"


#define NGX_HTTP_WHARF_VAR_WORKER     0
#define NGX_HTTP_WHARF_VAR_UPSTREAM   1
#define NGX_HTTP_WHARF_VAR_CONTAINER  2
#define NGX_HTTP_WHARF_VAR_PATH       3

#define NGX_HTTP_WHARF_ZONE_NAME      "wharf"
#define NGX_HTTP_WHARF_ZONE_SIZE      (1024 * 1024)

#define NGX_HTTP_WHARF_TOKEN_TTL_MIN  2
#define NGX_HTTP_WHARF_TOKEN_TTL_MAX  86400
#define NGX_HTTP_WHARF_CACHE_MAX      1000000

#define NGX_HTTP_WHARF_LIVE_KEEPALIVE_MAX  1024


static ngx_int_t ngx_http_wharf_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_wharf_auth_sub_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_wharf_upstream_authorization_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);

static char *ngx_http_wharf_worker(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_wharf_route_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_uint_t ngx_http_wharf_prefix_valid(ngx_str_t *prefix);
static char *ngx_http_wharf_handler_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_wharf_health_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_wharf_health_interval(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_wharf_auth_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_wharf_key_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_wharf_origins(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_wharf_backend_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_wharf_registry_state(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_wharf_pass_request_headers(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);

static void *ngx_http_wharf_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_wharf_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_wharf_create_srv_conf(ngx_conf_t *cf);
static void *ngx_http_wharf_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_wharf_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_wharf_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_wharf_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_wharf_init_process(ngx_cycle_t *cycle);


static ngx_conf_num_bounds_t  ngx_http_wharf_cache_size_bounds = {
    ngx_conf_check_num_bounds, 0, NGX_HTTP_WHARF_CACHE_MAX
};

static ngx_conf_num_bounds_t  ngx_http_wharf_live_keepalive_bounds = {
    ngx_conf_check_num_bounds, 0, NGX_HTTP_WHARF_LIVE_KEEPALIVE_MAX
};


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

    { ngx_string("wharf_zone_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_wharf_main_conf_t, zone_size),
      NULL },

    { ngx_string("wharf_route"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_wharf_route_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("wharf_balancer"),
      NGX_HTTP_UPS_CONF|NGX_CONF_NOARGS,
      ngx_http_wharf_balancer,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("wharf_registry"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_wharf_handler_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_HTTP_WHARF_HANDLER_REGISTRY,
      NULL },

    { ngx_string("wharf_terminals"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_wharf_handler_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_HTTP_WHARF_HANDLER_TERMINALS,
      NULL },

    { ngx_string("wharf_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_wharf_handler_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_HTTP_WHARF_HANDLER_METRICS,
      NULL },

    { ngx_string("wharf_fleet_sessions"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_wharf_handler_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_HTTP_WHARF_HANDLER_FLEET,
      NULL },

    { ngx_string("wharf_fleet_peer"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_wharf_fleet_peer,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("wharf_fleet_interval"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_wharf_fleet_time,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_wharf_main_conf_t, fleet_interval),
      NULL },

    { ngx_string("wharf_fleet_stale"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_wharf_fleet_time,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_wharf_main_conf_t, fleet_stale),
      NULL },

    { ngx_string("wharf_health"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_wharf_health_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_HTTP_WHARF_HANDLER_HEALTH,
      NULL },

    { ngx_string("wharf_health_backend"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_wharf_backend_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_wharf_loc_conf_t, health_backend),
      NULL },

    { ngx_string("wharf_health_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_wharf_main_conf_t, health_timeout),
      NULL },

    { ngx_string("wharf_health_interval"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_wharf_health_interval,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("wharf_auth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_http_wharf_auth_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_wharf_loc_conf_t, auth),
      NULL },

    { ngx_string("wharf_auth_public_key"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_wharf_public_key,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("wharf_auth_private_key"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_wharf_key_file,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_wharf_main_conf_t, private_key),
      NULL },

    { ngx_string("wharf_auth_token_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_wharf_main_conf_t, token_ttl),
      NULL },

    { ngx_string("wharf_auth_cache_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_wharf_main_conf_t, auth_cache_size),
      &ngx_http_wharf_cache_size_bounds },

    { ngx_string("wharf_registry_state"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_wharf_registry_state,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("wharf_registry_backend"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_wharf_backend_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_wharf_loc_conf_t, registry_backend),
      (void *) "prefix" },

    { ngx_string("wharf_live_keepalive"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_wharf_main_conf_t, live_keepalive),
      &ngx_http_wharf_live_keepalive_bounds },

    { ngx_string("wharf_live_keepalive_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_wharf_main_conf_t, live_keepalive_timeout),
      NULL },

    { ngx_string("wharf_allowed_origins"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_wharf_origins,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("wharf_bearer_subprotocol"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_wharf_loc_conf_t, bearer_subprotocol),
      NULL },

    { ngx_string("wharf_pass_request_headers"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_wharf_pass_request_headers,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("wharf_splice"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_http_wharf_splice_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_wharf_loc_conf_t, splice),
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
    ngx_http_wharf_init_process,           /* init process */
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

    { ngx_string("wharf_auth_sub"), NULL, ngx_http_wharf_auth_sub_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("wharf_upstream_authorization"), NULL,
      ngx_http_wharf_upstream_authorization_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


/*
 * The hash holds valid names only, so a name is checked before its lookup.
 * A wharf_worker of the configuration comes first: a live worker of the
 * same name is refused (ngx_http_wharf_live_put()), or dropped when a
 * reload brings the wharf_worker (ngx_http_wharf_live_init_zone()).
 */

ngx_http_wharf_worker_t *
ngx_http_wharf_find_worker(ngx_http_wharf_main_conf_t *wmcf, u_char *name,
    size_t len)
{
    ngx_http_wharf_worker_t  *worker;

    worker = ngx_http_wharf_find_static(wmcf, name, len);

    if (worker == NULL && wmcf->live) {
        worker = ngx_http_wharf_live_find(wmcf, name, len);
    }

    return worker;
}


ngx_http_wharf_worker_t *
ngx_http_wharf_find_static(ngx_http_wharf_main_conf_t *wmcf, u_char *name,
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


/* the token's subject, once the access phase has let the request in */

static ngx_int_t
ngx_http_wharf_auth_sub_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_wharf_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_wharf_module);

    if (ctx == NULL || ctx->sub.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = ctx->sub.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = ctx->sub.data;

    return NGX_OK;
}


/*
 * "Bearer ..." signed by the module for the routed worker's agent, or
 * empty (and so not sent by proxy_set_header) without a private key.
 */

static ngx_int_t
ngx_http_wharf_upstream_authorization_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                    token;
    ngx_http_wharf_ctx_t        *ctx;
    ngx_http_wharf_main_conf_t  *wmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_wharf_module);
    wmcf = ngx_http_get_module_main_conf(r, ngx_http_wharf_module);

    if (ctx == NULL || ctx->worker == NULL || wmcf->private_key.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (ngx_http_wharf_upstream_token(wmcf, ctx->worker, r->connection->log,
                                      &token)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    v->len = token.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = token.data;

    return NGX_OK;
}


/*
 * wharf_worker NAME upstream=UPSTREAM [container=CONTAINER]
 *     [max_sessions=N] [terminal_path=PATH] [websocket_path=PATH];
 *
 * The upstream block may come later in the configuration, so it is looked
 * up in ngx_http_wharf_init_main_conf(); the directive's place is kept to
 * name it then.
 */

static char *
ngx_http_wharf_worker(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_wharf_main_conf_t *wmcf = conf;

    ngx_int_t                  rc, n;
    ngx_str_t                 *value, *name, *path;
    ngx_uint_t                 i, k, max_set;
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

    max_set = 0;

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

            if (!ngx_http_wharf_container_valid(&worker->container)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "wharf_worker \"%V\": invalid container "
                                   "name \"%V\"", name, &worker->container);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "max_sessions=", 13) == 0) {

            if (max_set) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "wharf_worker \"%V\": duplicate "
                                   "\"max_sessions=\" parameter", name);
                return NGX_CONF_ERROR;
            }

            max_set = 1;

            n = ngx_atoi(value[i].data + 13, value[i].len - 13);

            if (n == NGX_ERROR || n > NGX_HTTP_WHARF_MAX_SESSIONS_MAX) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "wharf_worker \"%V\": invalid "
                                   "\"%V\", expected 0 (no limit) to %d",
                                   name, &value[i],
                                   NGX_HTTP_WHARF_MAX_SESSIONS_MAX);
                return NGX_CONF_ERROR;
            }

            worker->max_sessions = n;
            continue;
        }

        k = NGX_HTTP_WHARF_CHECKS;

        if (ngx_strncmp(value[i].data, "terminal_path=", 14) == 0) {
            k = NGX_HTTP_WHARF_CHECK_TERMINAL;
            n = 14;

        } else if (ngx_strncmp(value[i].data, "websocket_path=", 15) == 0) {
            k = NGX_HTTP_WHARF_CHECK_WEBSOCKET;
            n = 15;
        }

        if (k != NGX_HTTP_WHARF_CHECKS) {
            path = &worker->paths[k];

            if (path->data) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "wharf_worker \"%V\": duplicate "
                                   "\"%*s\" parameter", name,
                                   (size_t) n, value[i].data);
                return NGX_CONF_ERROR;
            }

            path->data = value[i].data + n;
            path->len = value[i].len - n;

            /* it goes into a request line as it is */

            if (!ngx_http_wharf_probe_path_valid(path)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "wharf_worker \"%V\": invalid path "
                                   "\"%V\", expected \"/\" and up to %d "
                                   "printable characters without spaces",
                                   name, path,
                                   NGX_HTTP_WHARF_PROBE_PATH_MAX - 1);
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

    if (worker->paths[NGX_HTTP_WHARF_CHECK_TERMINAL].data == NULL) {
        ngx_str_set(&worker->paths[NGX_HTTP_WHARF_CHECK_TERMINAL],
                    "/terminal");
    }

    if (worker->paths[NGX_HTTP_WHARF_CHECK_WEBSOCKET].data == NULL) {
        ngx_str_set(&worker->paths[NGX_HTTP_WHARF_CHECK_WEBSOCKET],
                    "/websocket");
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

ngx_uint_t
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


/* a container's name, Docker's rule: [a-zA-Z0-9][a-zA-Z0-9_.-]* */

ngx_uint_t
ngx_http_wharf_container_valid(ngx_str_t *s)
{
    return ngx_http_wharf_token_valid(s, NGX_HTTP_WHARF_CONTAINER_MAX)
           && s->data[0] != '.' && s->data[0] != '-' && s->data[0] != '_';
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
    wlcf->file_name = cf->conf_file->file.name.data;
    wlcf->line = cf->conf_file->line;

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


/* the path a probe requests: it goes into a request line as it is */

ngx_uint_t
ngx_http_wharf_probe_path_valid(ngx_str_t *path)
{
    size_t  i;

    if (path->len == 0 || path->len > NGX_HTTP_WHARF_PROBE_PATH_MAX
        || path->data[0] != '/')
    {
        return 0;
    }

    for (i = 0; i < path->len; i++) {
        if (path->data[i] <= 0x20 || path->data[i] >= 0x7f) {
            return 0;
        }
    }

    return 1;
}


/*
 * wharf_registry; wharf_terminals; wharf_metrics; wharf_fleet_sessions;
 *
 * Content handlers, one per location, as stub_status is.
 */

static char *
ngx_http_wharf_handler_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_wharf_loc_conf_t *wlcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (wlcf->handler != NGX_HTTP_WHARF_HANDLER_NONE) {
        return "is duplicate, or another wharf handler is in this location";
    }

    wlcf->handler = cmd->offset;
    wlcf->file_name = cf->conf_file->file.name.data;
    wlcf->line = cf->conf_file->line;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    switch (cmd->offset) {

    case NGX_HTTP_WHARF_HANDLER_REGISTRY:
        clcf->handler = ngx_http_wharf_registry_handler;
        break;

    case NGX_HTTP_WHARF_HANDLER_TERMINALS:
        clcf->handler = ngx_http_wharf_terminals_handler;
        break;

    case NGX_HTTP_WHARF_HANDLER_FLEET:
        clcf->handler = ngx_http_wharf_fleet_handler;
        break;

    default: /* NGX_HTTP_WHARF_HANDLER_METRICS */
        clcf->handler = ngx_http_wharf_metrics_handler;
        break;
    }

    return NGX_CONF_OK;
}


/* wharf_health terminal | websocket | all; */

static char *
ngx_http_wharf_health_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_wharf_loc_conf_t *wlcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (wlcf->handler != NGX_HTTP_WHARF_HANDLER_NONE) {
        return "is duplicate, or another wharf handler is in this location";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "terminal") == 0) {
        wlcf->check = NGX_HTTP_WHARF_CHECK_TERMINAL;

    } else if (ngx_strcmp(value[1].data, "websocket") == 0) {
        wlcf->check = NGX_HTTP_WHARF_CHECK_WEBSOCKET;

    } else if (ngx_strcmp(value[1].data, "all") == 0) {
        wlcf->check = NGX_HTTP_WHARF_CHECK_ALL;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\", expected \"terminal\", "
                           "\"websocket\" or \"all\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    wlcf->handler = NGX_HTTP_WHARF_HANDLER_HEALTH;
    wlcf->file_name = cf->conf_file->file.name.data;
    wlcf->line = cf->conf_file->line;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_wharf_health_handler;

    return NGX_CONF_OK;
}


/*
 * wharf_health_backend URI;    what "wharf_health all" asks;
 * wharf_registry_backend URI;  where a removed live worker is reported
 *                              ("DELETE URI NAME": a prefix, ending "/").
 * Local paths of this server, asked in subrequests.
 */

static char *
ngx_http_wharf_backend_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_str_t   *field, *value;
    ngx_uint_t   prefix;

    field = (ngx_str_t *) (p + cmd->offset);
    prefix = (cmd->post != NULL);

    if (field->data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].data[0] != '/'
        || !ngx_http_wharf_probe_path_valid(&value[1])
        || ngx_strlchr(value[1].data, value[1].data + value[1].len, '?')
        || (prefix && (value[1].len < 2
                       || value[1].data[value[1].len - 1] != '/')))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid URI \"%V\", expected a local path %s",
                           &value[1],
                           prefix ? "that ends with \"/\", such as "
                                    "/api/monitoring/workers/"
                                  : "such as /api/monitoring/health");
        return NGX_CONF_ERROR;
    }

    *field = value[1];

    return NGX_CONF_OK;
}


/*
 * wharf_registry_state FILE;  where live workers are kept across restarts.
 * Data, not configuration: relative to nginx's prefix, as logs are.
 */

static char *
ngx_http_wharf_registry_state(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_wharf_main_conf_t *wmcf = conf;

    ngx_str_t  *value;

    if (wmcf->state_file.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].data[value[1].len - 1] == '/') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid state file \"%V\", expected the name "
                           "of a file, such as /var/lib/wharf/registry.json",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    wmcf->state_file = value[1];

    if (ngx_conf_full_name(cf->cycle, &wmcf->state_file, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* wharf_health_interval TIME | off; */

static char *
ngx_http_wharf_health_interval(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_wharf_main_conf_t *wmcf = conf;

    ngx_str_t   *value;
    ngx_msec_t   ms;

    if (wmcf->health_interval != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        wmcf->health_interval = 0;
        return NGX_CONF_OK;
    }

    ms = ngx_parse_time(&value[1], 0);

    if (ms == (ngx_msec_t) NGX_ERROR || ms < 100) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid interval \"%V\", expected \"off\" or a "
                           "time of 100ms or more", &value[1]);
        return NGX_CONF_ERROR;
    }

    wmcf->health_interval = ms;

    return NGX_CONF_OK;
}


/*
 * wharf_auth on | off;
 *
 * "off" opens the module's routes to anyone: fine on a laptop, so it is
 * allowed, but said out loud, by "nginx -t" too.
 */

static char *
ngx_http_wharf_auth_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_wharf_loc_conf_t *wlcf = conf;

    char  *rv;

    rv = ngx_conf_set_flag_slot(cf, cmd, conf);

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (!wlcf->auth) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "wharf_auth is off: the wharf routes here are "
                           "open to anyone who can reach this server; use "
                           "it for local experiments only");
    }

    return NGX_CONF_OK;
}


/*
 * wharf_auth_private_key FILE;
 *
 * Read once, by the master, which may be the only one allowed to: the
 * worker processes keep the key in memory and never open the file.  The
 * public keys are read the same way (ngx_http_wharf_public_key).
 */

static char *
ngx_http_wharf_key_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t  *key, *value, name;

    key = (ngx_str_t *) (p + cmd->offset);

    if (key->data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    name = value[1];

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_wharf_read_key_file(cf, &name, key) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* a whole key file into the configuration's pool, NUL-terminated */

ngx_int_t
ngx_http_wharf_read_key_file(ngx_conf_t *cf, ngx_str_t *name, ngx_str_t *out)
{
    u_char           *buf;
    ssize_t           n;
    ngx_file_t        file;
    ngx_file_info_t   fi;

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = *name;
    file.log = cf->log;

    file.fd = ngx_open_file(name->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", name);
        return NGX_ERROR;
    }

    if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", name);
        goto failed;
    }

    if (ngx_file_size(&fi) == 0
        || ngx_file_size(&fi) > NGX_HTTP_WHARF_KEY_FILE_MAX)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" is %O bytes; a PEM key is 1 to %d",
                           name, ngx_file_size(&fi),
                           NGX_HTTP_WHARF_KEY_FILE_MAX);
        goto failed;
    }

    buf = ngx_pnalloc(cf->pool, ngx_file_size(&fi) + 1);
    if (buf == NULL) {
        goto failed;
    }

    n = ngx_read_file(&file, buf, ngx_file_size(&fi), 0);

    if (n != ngx_file_size(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, n == NGX_ERROR ? ngx_errno : 0,
                           "cannot read \"%V\"", name);
        goto failed;
    }

    buf[n] = '\0';

    out->data = buf;
    out->len = n;

    if (ngx_close_file(file.fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", name);
    }

    return NGX_OK;

failed:

    if (ngx_close_file(file.fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", name);
    }

    return NGX_ERROR;
}


/*
 * wharf_pass_request_headers Cookie | Proxy-Authorization ...;
 *
 * The client's credentials do not reach a worker: its token (replaced by
 * the module's), and these two, unless named here, for an app that keeps
 * its own sessions in cookies behind the gateway.
 */

static char *
ngx_http_wharf_pass_request_headers(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_wharf_loc_conf_t *wlcf = conf;

    ngx_str_t   *value;
    ngx_uint_t   i;

    if (wlcf->pass_headers != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    wlcf->pass_headers = 0;
    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (value[i].len == sizeof("Cookie") - 1
            && ngx_strncasecmp(value[i].data, (u_char *) "Cookie",
                               sizeof("Cookie") - 1)
               == 0)
        {
            wlcf->pass_headers |= NGX_HTTP_WHARF_PASS_COOKIE;
            continue;
        }

        if (value[i].len == sizeof("Proxy-Authorization") - 1
            && ngx_strncasecmp(value[i].data, (u_char *) "Proxy-Authorization",
                               sizeof("Proxy-Authorization") - 1)
               == 0)
        {
            wlcf->pass_headers |= NGX_HTTP_WHARF_PASS_PROXY_AUTH;
            continue;
        }

        if (value[i].len == sizeof("Authorization") - 1
            && ngx_strncasecmp(value[i].data, (u_char *) "Authorization",
                               sizeof("Authorization") - 1)
               == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"Authorization\" cannot be passed: the "
                               "client's token never reaches a worker, "
                               "which gets the module's own token");
            return NGX_CONF_ERROR;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": only \"Cookie\" and "
                           "\"Proxy-Authorization\" are kept from workers "
                           "and can be passed; other headers pass anyway",
                           &value[i]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* wharf_allowed_origins ORIGIN ... | *; */

static char *
ngx_http_wharf_origins(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_wharf_loc_conf_t *wlcf = conf;

    u_char      *p;
    ngx_str_t   *value, *o;
    ngx_uint_t   i;

    if (wlcf->origins != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    wlcf->origins = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                     sizeof(ngx_str_t));
    if (wlcf->origins == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        /* an origin is scheme://host[:port], exactly as browsers send it */

        p = value[i].data;

        if (!(value[i].len == 1 && p[0] == '*')
            && !((value[i].len > 7 && ngx_strncmp(p, "http://", 7) == 0)
                 || (value[i].len > 8 && ngx_strncmp(p, "https://", 8) == 0))
            )
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid origin \"%V\", expected \"*\" or "
                               "scheme://host[:port] as in an Origin header",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        if (value[i].len > 1 && value[i].data[value[i].len - 1] == '/') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid origin \"%V\": an Origin header "
                               "has no path, not even \"/\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        o = ngx_array_push(wlcf->origins);
        if (o == NULL) {
            return NGX_CONF_ERROR;
        }

        *o = value[i];
    }

    return NGX_CONF_OK;
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
     *     wmcf->verify_keys = { {}, 0 };
     *     wmcf->private_key = { 0, NULL };
     *     wmcf->shm_zone = NULL;
     *     wmcf->cache = NULL;
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
    wmcf->zone_size = NGX_CONF_UNSET_SIZE;
    wmcf->health_timeout = NGX_CONF_UNSET_MSEC;
    wmcf->health_interval = NGX_CONF_UNSET_MSEC;
    wmcf->token_ttl = NGX_CONF_UNSET;
    wmcf->auth_cache_size = NGX_CONF_UNSET_UINT;
    wmcf->live_keepalive = NGX_CONF_UNSET_UINT;
    wmcf->live_keepalive_timeout = NGX_CONF_UNSET_MSEC;
    wmcf->fleet_interval = NGX_CONF_UNSET_MSEC;
    wmcf->fleet_stale = NGX_CONF_UNSET_MSEC;

    wmcf->cycle = cf->cycle;

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

    ngx_str_t                       name;
    ngx_uint_t                      i, j;
    ngx_hash_init_t                 hash;
    ngx_http_wharf_worker_t       **wp, *worker;
    ngx_http_upstream_srv_conf_t  **uscfp;
    ngx_http_upstream_main_conf_t  *umcf;

    ngx_conf_init_uint_value(wmcf->hash_max_size, 2048);
    ngx_conf_init_uint_value(wmcf->hash_bucket_size, 128);
    ngx_conf_init_size_value(wmcf->zone_size, NGX_HTTP_WHARF_ZONE_SIZE);
    ngx_conf_init_msec_value(wmcf->health_timeout, 3000);
    ngx_conf_init_msec_value(wmcf->health_interval, 0);
    ngx_conf_init_value(wmcf->token_ttl, 300);
    ngx_conf_init_uint_value(wmcf->auth_cache_size, 1024);
    ngx_conf_init_uint_value(wmcf->live_keepalive, 16);
    ngx_conf_init_msec_value(wmcf->live_keepalive_timeout, 60000);

    if (wmcf->live_keepalive_timeout == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"wharf_live_keepalive_timeout\" must be more "
                      "than 0; \"wharf_live_keepalive 0\" keeps no "
                      "connections");
        return NGX_CONF_ERROR;
    }


    if (wmcf->health_timeout == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"wharf_health_timeout\" must be more than 0");
        return NGX_CONF_ERROR;
    }

    if (wmcf->token_ttl < NGX_HTTP_WHARF_TOKEN_TTL_MIN
        || wmcf->token_ttl > NGX_HTTP_WHARF_TOKEN_TTL_MAX)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"wharf_auth_token_ttl\" must be %ds to %ds",
                      NGX_HTTP_WHARF_TOKEN_TTL_MIN,
                      NGX_HTTP_WHARF_TOKEN_TTL_MAX);
        return NGX_CONF_ERROR;
    }

    if (wmcf->zone_size < 8 * ngx_pagesize) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"wharf_zone_size\" of %uz bytes is too small, "
                      "the least is %uz", wmcf->zone_size,
                      8 * ngx_pagesize);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_wharf_auth_check_keys(cf, wmcf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_wharf_fleet_init_conf(cf, wmcf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    /*
     * One zone for the whole http{} block, under a fixed name: a reload
     * with the same size finds it, and its counts, again.
     */

    ngx_str_set(&name, NGX_HTTP_WHARF_ZONE_NAME);

    wmcf->shm_zone = ngx_shared_memory_add(cf, &name, wmcf->zone_size,
                                           &ngx_http_wharf_module);
    if (wmcf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    wmcf->shm_zone->init = ngx_http_wharf_init_zone;
    wmcf->shm_zone->data = wmcf;

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

        if (ngx_http_wharf_balancer_is(worker->upstream)) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "wharf_worker \"%V\": upstream \"%V\" is the "
                          "wharf_balancer, not a worker's own upstream, "
                          "in %s:%ui", &worker->name,
                          &worker->upstream_name, worker->file_name,
                          worker->line);
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_http_wharf_balancer_check(cf) != NGX_OK) {
        return NGX_CONF_ERROR;
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
     *     wscf->balancer = 0;
     *     wscf->file_name = NULL;
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
     *     wlcf->handler = NGX_HTTP_WHARF_HANDLER_NONE;
     *     wlcf->health_backend = { 0, NULL };
     */

    wlcf->check = NGX_HTTP_WHARF_CHECK_NONE;
    wlcf->auth = NGX_CONF_UNSET;
    wlcf->origins = NGX_CONF_UNSET_PTR;
    wlcf->pass_headers = NGX_CONF_UNSET_UINT;
    wlcf->bearer_subprotocol = NGX_CONF_UNSET;
    wlcf->splice = NGX_CONF_UNSET;

    return wlcf;
}


/*
 * wharf_route and the handlers are not inherited by nested locations:
 * they name what a location is.  A nested location routes as its parent
 * does, though, so that the request it serves is still checked.
 *
 * Auth is on unless switched off, and a location the module serves with
 * auth on needs the public key; one that routes to workers also needs the
 * private key, to sign what the agents accept.
 */

static char *
ngx_http_wharf_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_wharf_loc_conf_t  *prev = parent;
    ngx_http_wharf_loc_conf_t  *conf = child;

    ngx_int_t                    rc;
    ngx_uint_t                   nested;
    ngx_http_wharf_main_conf_t  *wmcf;

    if (conf->prefix.data == NULL) {
        conf->prefix = prev->prefix;
    }

    ngx_conf_merge_value(conf->auth, prev->auth, 1);
    ngx_conf_merge_ptr_value(conf->origins, prev->origins, NULL);
    ngx_conf_merge_uint_value(conf->pass_headers, prev->pass_headers, 0);
    ngx_conf_merge_value(conf->bearer_subprotocol, prev->bearer_subprotocol,
                         0);
    ngx_conf_merge_str_value(conf->health_backend, prev->health_backend, "");
    ngx_conf_merge_str_value(conf->registry_backend, prev->registry_backend,
                             "");
    ngx_conf_merge_value(conf->splice, prev->splice, 0);

    /* a nested location's errors name its parent's wharf directive */

    nested = (conf->file_name == NULL);

    if (nested) {
        conf->file_name = prev->file_name;
        conf->line = prev->line;
    }

    if (conf->prefix.data) {
        rc = ngx_http_wharf_balancer_location(cf, conf);

        if (rc == NGX_ERROR) {
            return NGX_CONF_ERROR;
        }

        conf->balanced = (rc == NGX_OK);
    }

    if (!conf->auth
        || (conf->prefix.data == NULL
            && conf->handler == NGX_HTTP_WHARF_HANDLER_NONE))
    {
        return NGX_CONF_OK;
    }

    if (nested) {

        /* its parent was checked */

        return NGX_CONF_OK;
    }

    wmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_wharf_module);

    if (wmcf->verify_keys.n == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "wharf_auth is on (the default) and "
                      "\"wharf_auth_public_key\" is not set: every "
                      "wharf route needs a token, checked with the "
                      "orchestrator's public key; set the keys, or "
                      "\"wharf_auth off\" for a local experiment, "
                      "in %s:%ui", conf->file_name, conf->line);
        return NGX_CONF_ERROR;
    }

    if (conf->prefix.data && wmcf->private_key.len == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"wharf_auth_private_key\" is not set: with "
                      "wharf_auth on, the module signs each worker's "
                      "agent its own token in place of the client's, "
                      "in %s:%ui", conf->file_name, conf->line);
        return NGX_CONF_ERROR;
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
 * that auth already knows the worker a request is for, and a request that
 * cannot be routed is refused before anything else runs for it.  Sessions
 * are counted in the precontent phase, once auth has let the request in.
 */

static ngx_int_t
ngx_http_wharf_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt         *h, *log;
    ngx_http_core_main_conf_t   *cmcf;
    ngx_http_wharf_main_conf_t  *wmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_POST_READ_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_wharf_scrub_post_read_handler;

    /*
     * The request line is redacted before any log phase handler, the
     * access log's included, reads it: first in the list, which
     * ngx_http_log_request() runs in order.
     */

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    log = cmcf->phases[NGX_HTTP_LOG_PHASE].handlers.elts;
    ngx_memmove(&log[1], &log[0],
                (cmcf->phases[NGX_HTTP_LOG_PHASE].handlers.nelts - 1)
                * sizeof(ngx_http_handler_pt));
    log[0] = ngx_http_wharf_scrub_log_handler;

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

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_wharf_access_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_wharf_precontent_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_wharf_log_handler;

    wmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_wharf_module);

    if (wmcf->splice) {
        return ngx_http_wharf_splice_init(cf);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_wharf_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                   i;
    ngx_http_variable_t         *v;
    ngx_http_core_main_conf_t   *cmcf;
    ngx_http_wharf_main_conf_t  *wmcf;

    wmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_wharf_module);

    if (wmcf == NULL) {
        return NGX_OK;
    }

    /*
     * Whether anything (a log_format, a proxy_set_header) uses
     * $request_uri, found without making it an indexed variable of every
     * request: see ngx_http_wharf_set_target().
     */

    cmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_core_module);
    v = cmcf->variables.elts;

    for (i = 0; i < cmcf->variables.nelts; i++) {
        if (v[i].name.len == sizeof("request_uri") - 1
            && ngx_strncmp(v[i].name.data, "request_uri",
                           sizeof("request_uri") - 1)
               == 0)
        {
            wmcf->request_uri_index = i + 1;
            break;
        }
    }

    if (ngx_http_wharf_auth_init_process(cycle, wmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_wharf_live_init_process(cycle, wmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_wharf_fleet_init_process(cycle, wmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_wharf_probe_init_process(cycle, wmcf);
}
