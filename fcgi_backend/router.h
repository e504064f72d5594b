/*
 * Routing of requests to handlers, on the method and the raw path (no
 * query, no percent-decoding: every route now is a fixed path; the store
 * issue's /api/monitoring/.../:instanceId routes decode their segments).
 *
 *   GET|HEAD /api/monitoring/health   rest_monitoring.c
 *   POST     /rpc                     rpc_route.c
 *   other path                        404 {"error":{"code":"not_found",...}}
 *   other method                      405 {"error":{"code":"method_not_allowed",...}}
 *                                     with an Allow header
 */
#ifndef WHARFD_ROUTER_H
#define WHARFD_ROUTER_H

#include "http.h"

struct wharfd;

typedef void (*wharfd_handler_fn)(struct wharfd *wd,
                                  const struct wharfd_http_request *req,
                                  struct wharfd_http_response *resp);

/* Handlers, one file per group of routes. */
void wharfd_rest_health(struct wharfd *wd,
                        const struct wharfd_http_request *req,
                        struct wharfd_http_response *resp);
void wharfd_rpc_route(struct wharfd *wd, const struct wharfd_http_request *req,
                      struct wharfd_http_response *resp);

/* Answers req into resp (which starts zeroed). */
void wharfd_route(struct wharfd *wd, const struct wharfd_http_request *req,
                  struct wharfd_http_response *resp);

#endif
