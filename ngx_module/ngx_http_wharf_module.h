
/*
 * wharf: nginx module shared declarations.
 *
 * The configuration structures and the per-request routing context live
 * here so that the parts added later (registry, health probes, sessions,
 * auth) can share them with the router in ngx_http_wharf_module.c.
 */


#ifndef _NGX_HTTP_WHARF_MODULE_H_INCLUDED_
#define _NGX_HTTP_WHARF_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "name.h"


#define NGX_HTTP_WHARF_DEFAULT_PREFIX      "/api/workers/"

/* a worker name longer than this is shown truncated in error messages */
#define NGX_HTTP_WHARF_NAME_SHOWN          (WHARF_NAME_MAX + 1)

#define NGX_HTTP_WHARF_CONTAINER_MAX       255
#define NGX_HTTP_WHARF_UPSTREAM_MAX        255


/* one wharf_worker directive */

typedef struct {
    ngx_str_t                      name;
    ngx_str_t                      container;

    /* as written in upstream=, resolved by ngx_http_wharf_init_main_conf() */
    ngx_str_t                      upstream_name;
    ngx_http_upstream_srv_conf_t  *upstream;

    /* where the directive is, for errors found after parsing */
    u_char                        *file_name;
    ngx_uint_t                     line;
} ngx_http_wharf_worker_t;


typedef struct {
    ngx_array_t                    workers;   /* ngx_http_wharf_worker_t * */
    ngx_hash_t                     hash;      /* name -> worker */

    /* only while the configuration is read */
    ngx_hash_keys_arrays_t        *keys;

    ngx_uint_t                     hash_max_size;
    ngx_uint_t                     hash_bucket_size;
} ngx_http_wharf_main_conf_t;


typedef struct {
    /* the prefixes of every wharf_route in this server, ngx_str_t */
    ngx_array_t                   *prefixes;
} ngx_http_wharf_srv_conf_t;


typedef struct {
    /* wharf_route prefix; data == NULL: no wharf_route here */
    ngx_str_t                      prefix;
} ngx_http_wharf_loc_conf_t;


typedef enum {
    NGX_HTTP_WHARF_ROUTED = 0,
    NGX_HTTP_WHARF_NOT_FOUND,
    NGX_HTTP_WHARF_INVALID_NAME,
    NGX_HTTP_WHARF_NO_NAME,
    NGX_HTTP_WHARF_NO_PREFIX,
    NGX_HTTP_WHARF_DOT_SEGMENT,
    NGX_HTTP_WHARF_MISMATCH,
    NGX_HTTP_WHARF_INTERNAL
} ngx_http_wharf_result_e;


/* the route of one request, set before the access phase */

typedef struct {
    ngx_http_wharf_worker_t       *worker;    /* NULL: not routed */
    ngx_http_wharf_result_e        result;

    ngx_str_t                      prefix;
    ngx_str_t                      name;      /* raw name segment */
    ngx_str_t                      path;      /* $wharf_path */
} ngx_http_wharf_ctx_t;


ngx_http_wharf_worker_t *ngx_http_wharf_find_worker(
    ngx_http_wharf_main_conf_t *wmcf, u_char *name, size_t len);


extern ngx_module_t  ngx_http_wharf_module;


#endif /* _NGX_HTTP_WHARF_MODULE_H_INCLUDED_ */
