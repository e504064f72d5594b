/*
 * Routing of requests to handlers, on the method and the raw path (no
 * query). A '*' in a route's path matches one non-empty segment, which is
 * percent-decoded and handed to the handler (the :instanceId of the REST
 * routes).
 *
 *   GET|HEAD /api/monitoring/health           no token (rest_monitoring.c)
 *   POST     /rpc                              rpc_route.c
 *   GET|POST /api/monitoring/...               the REST routes, each one
 *                                              ContainerMonitoringOps
 *                                              method (rest_monitoring.c;
 *                                              docs/openapi.yaml)
 *   other path                        404 {"error":{"code":"not_found",...}}
 *   other method                      405 {"error":{"code":"method_not_allowed",...}}
 *                                     with an Allow header
 */
#ifndef WHARFD_ROUTER_H
#define WHARFD_ROUTER_H

#include "auth.h"
#include "http.h"

struct wharfd;
struct wharfd_route;

typedef void (*wharfd_handler_fn)(struct wharfd_call *call,
                                  const struct wharfd_route *route,
                                  const char *capture,
                                  const struct wharfd_http_request *req,
                                  struct wharfd_http_response *resp);

struct wharfd_route {
    const char *path;    /* '*' = one segment */
    const char *methods; /* also the Allow header of a 405 */
    wharfd_handler_fn handler;
    /* The handler reports a too large body itself (JSON-RPC says it in
     * its own error shape); for the others the router answers 413. */
    int own_body_errors;
    const char *rpc;        /* REST: the method it runs */
    const char *capture_as; /* REST: the params member of the '*' */
};

/* Handlers, one file per group of routes. */
void wharfd_rest_health(struct wharfd_call *call,
                        const struct wharfd_route *route, const char *capture,
                        const struct wharfd_http_request *req,
                        struct wharfd_http_response *resp);
void wharfd_rest_method(struct wharfd_call *call,
                        const struct wharfd_route *route, const char *capture,
                        const struct wharfd_http_request *req,
                        struct wharfd_http_response *resp);
void wharfd_rpc_route(struct wharfd_call *call,
                      const struct wharfd_route *route, const char *capture,
                      const struct wharfd_http_request *req,
                      struct wharfd_http_response *resp);

/* Answers req into resp (which starts zeroed). */
void wharfd_route(struct wharfd *wd, const struct wharfd_http_request *req,
                  struct wharfd_http_response *resp);

#endif
