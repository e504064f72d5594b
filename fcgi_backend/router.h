/*
 * Routing of requests to handlers, on the method and the raw path (no
 * query). A '*' in a route's path matches one non-empty segment, which is
 * percent-decoded and handed to the handler (the :instanceId of the REST
 * routes).
 *
 *   GET|HEAD /api/monitoring/health           no token (rest_monitoring.c)
 *   POST     /rpc                              rpc_route.c
 *   GET|HEAD /api/monitoring/metrics           Prometheus text, scope
 *                                              "read", sub "*" (metrics.c)
 *   GET|POST /api/monitoring/...               the REST routes, each one
 *                                              ContainerMonitoringOps
 *                                              method (rest_monitoring.c;
 *                                              docs/openapi.yaml)
 *   other path                        404 {"error":{"code":"not_found",...}}
 *   other method                      405 {"error":{"code":"method_not_allowed",...}}
 *                                     with an Allow header
 *
 * Routing runs in two steps, so that a request is refused before its
 * body is read, let alone parsed: wharfd_route_head (the route, the
 * method and the credentials: a route that needs a token answers 401
 * without one, or 400 invalid_request for two, with WWW-Authenticate,
 * in the route's own error shape, JSON-RPC for /rpc), then, with the
 * body, wharfd_route_run.
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
    /* Errors in the JSON-RPC shape (the handler reports a too large body
     * itself; the router's refusals take that shape too); for the others
     * the REST shape, and the router answers 413. */
    int rpc_shape;
    int open;               /* no token needed */
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
void wharfd_rest_metrics(struct wharfd_call *call,
                         const struct wharfd_route *route, const char *capture,
                         const struct wharfd_http_request *req,
                         struct wharfd_http_response *resp);
void wharfd_rpc_route(struct wharfd_call *call,
                      const struct wharfd_route *route, const char *capture,
                      const struct wharfd_http_request *req,
                      struct wharfd_http_response *resp);

/* This wharfd's name in its metrics' wharfd label: --name, or
 * HOST:LISTEN (metrics.c). */
struct wharfd_config;
void wharfd_metrics_name(const struct wharfd_config *cfg, char *buf,
                         size_t size);

/* Longest path segment a '*' captures. */
#define WHARFD_CAPTURE_MAX 256

/* A request between the two steps. */
struct wharfd_routing {
    const struct wharfd_route *route;
    char cap[WHARFD_CAPTURE_MAX];
    struct wharfd_call call;
};

/* Step 1, from the request's head (no body yet): 0 when the body is to
 * be read and step 2 run; -1 when resp holds the answer (404, 405, 400,
 * 401). */
int wharfd_route_head(struct wharfd *wd, const struct wharfd_http_request *req,
                      struct wharfd_routing *rt,
                      struct wharfd_http_response *resp);

/* Step 2: answers req, whose body is read, into resp (which starts
 * zeroed), then frees what the handler left in rt. */
void wharfd_route_run(struct wharfd_routing *rt,
                      const struct wharfd_http_request *req,
                      struct wharfd_http_response *resp);

/* The body could not be held (budget.h): 503 when every request's
 * budget is in use (--memory-budget; Retry-After), else 500, in the
 * route's shape. */
void wharfd_route_refuse_memory(const struct wharfd_routing *rt,
                                struct wharfd_http_response *resp);

/* Both steps, for a request whose body is at hand (tests, fuzzing). */
void wharfd_route(struct wharfd *wd, const struct wharfd_http_request *req,
                  struct wharfd_http_response *resp);

#endif
