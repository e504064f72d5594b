#include "router.h"

#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "budget.h"
#include "logstream.h"
#include "percent.h"
#include "wharfd.h"

static const struct wharfd_route routes[] = {
    { "/api/monitoring/health", "GET, HEAD", wharfd_rest_health, 0, 1, NULL,
      NULL },
    { "/rpc", "POST", wharfd_rpc_route, 1, 0, NULL, NULL },
    { "/api/monitoring/metrics", "GET, HEAD", wharfd_rest_metrics, 0, 0, NULL,
      NULL },
    { "/api/monitoring/workers", "GET", wharfd_rest_method, 0, 0, "getWorkers",
      NULL },
    { "/api/monitoring/workers/*", "DELETE", wharfd_rest_method, 0, 0,
      "removeWorker", "worker" },
    { "/api/monitoring/logs", "GET", wharfd_rest_method, 0, 0, "getLogs",
      NULL },
    { "/api/monitoring/logs/*", "GET", wharfd_rest_method, 0, 0, "getLogs",
      "instanceId" },
    { "/api/monitoring/logs/*/stats", "GET", wharfd_rest_method, 0, 0,
      "getLogStats", "instanceId" },
    { "/api/monitoring/errors", "GET", wharfd_rest_method, 0, 0, "getErrors",
      NULL },
    { "/api/monitoring/errors/*", "GET", wharfd_rest_method, 0, 0, "getErrors",
      "instanceId" },
    { "/api/monitoring/errors/*/summary", "GET", wharfd_rest_method, 0, 0,
      "getErrorSummary", "instanceId" },
    { "/api/monitoring/events", "GET", wharfd_rest_method, 0, 0, "getEvents",
      NULL },
    { "/api/monitoring/processes", "GET", wharfd_rest_method, 0, 0,
      "getProcesses", NULL },
    { "/api/monitoring/process/*/status", "GET", wharfd_rest_method, 0, 0,
      "getProcessStatus", "instanceId" },
    { "/api/monitoring/process/*/start", "POST", wharfd_rest_method, 0, 0,
      "startProcess", "instanceId" },
    { "/api/monitoring/process/*/stop", "POST", wharfd_rest_method, 0, 0,
      "stopProcess", "instanceId" },
    { "/api/monitoring/process/*/restart", "POST", wharfd_rest_method, 0, 0,
      "restartProcess", "instanceId" },
};

/* 1 when method is one of the ", "-separated list. */
static int
method_allowed(const char *list, const char *method)
{
    size_t n = strlen(method);
    const char *p = list;

    if (n == 0) {
        return 0;
    }
    while ((p = strstr(p, method)) != NULL) {
        if ((p == list || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0')) {
            return 1;
        }
        p += n;
    }
    return 0;
}

/* Matches path against pattern; the '*' segment, percent-decoded, goes
 * into cap. Returns 1 on a match. */
static int
path_match(const char *pattern, const char *path, char *cap, size_t caplen)
{
    size_t seg;
    long n;

    cap[0] = '\0';
    while (*pattern && *path) {
        if (*pattern == '*') {
            seg = strcspn(path, "/");
            if (seg == 0) {
                return 0;
            }
            /* a %00 would cut the captured C string: no match */
            n = wharf_percent_decode(path, seg, cap, caplen, 0);
            if (n < 0 || (size_t) n != strlen(cap)) {
                return 0;
            }
            path += seg;
            pattern++;
            continue;
        }
        if (*pattern++ != *path++) {
            return 0;
        }
    }
    return *pattern == '\0' && *path == '\0';
}

/* 401 (or 400 for two credentials) with its challenge, in the route's
 * shape. */
static void
route_refuse(const struct wharfd_route *r, const struct wharfd_call *call,
             struct wharfd_http_response *resp)
{
    struct wharfd_rpc_reply reply;
    int two = call->refusal == WHARFD_AUTH_TWO;

    if (r->rpc_shape) {
        wharfd_rpc_reply_error(&reply, two ? 400 : 401,
                               two ? WHARFD_RPC_INVALID_REQUEST
                                   : WHARFD_RPC_UNAUTHORIZED,
                               call->why);
        resp->status = reply.status;
        resp->body = reply.body;
        resp->body_len = reply.len;
        resp->content_type = reply.body ? "application/json" : NULL;
    } else {
        wharfd_http_error(resp, two ? 400 : 401,
                          two ? "invalid_request" : "unauthorized", "%s",
                          call->why ? call->why : "no bearer token");
    }
    wharfd_auth_challenge(call, NULL, resp->www_authenticate,
                          sizeof(resp->www_authenticate));
}

int
wharfd_route_head(struct wharfd *wd, const struct wharfd_http_request *req,
                  struct wharfd_routing *rt, struct wharfd_http_response *resp)
{
    const struct wharfd_route *r = NULL;
    size_t i;

    memset(rt, 0, sizeof(*rt));
    for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (path_match(routes[i].path, req->path, rt->cap, sizeof(rt->cap))) {
            r = &routes[i];
            break;
        }
    }
    if (r == NULL) {
        wharfd_http_error(resp, 404, "not_found", "no route for %s %s",
                          req->method, req->path);
        return -1;
    }
    if (!method_allowed(r->methods, req->method)) {
        wharfd_http_error(resp, 405, "method_not_allowed",
                          "%s is not allowed on %s (allowed: %s)", req->method,
                          req->path, r->methods);
        resp->allow = r->methods;
        return -1;
    }
    /* Who is asking: the scope and worker are checked per method by the
     * handler; a request without a valid token goes no further. */
    wharfd_auth_request(wd, &rt->call, req->authorization, req->query, NULL);
    if (!r->open && !rt->call.authed) {
        route_refuse(r, &rt->call, resp);
        return -1;
    }
    rt->route = r;
    return 0;
}

void
wharfd_route_run(struct wharfd_routing *rt,
                 const struct wharfd_http_request *req,
                 struct wharfd_http_response *resp)
{
    const struct wharfd_route *r = rt->route;

    if (req->body_too_large && !r->rpc_shape) {
        wharfd_http_error(resp, 413, "body_too_large",
                          "request body exceeds %zu bytes", req->body_limit);
    } else {
        r->handler(&rt->call, r, rt->cap, req, resp);
    }
    /* Whatever a handler left unclaimed. */
    free(rt->call.raw);
    rt->call.raw = NULL;
    wharfd_logstream_free(rt->call.stream);
    rt->call.stream = NULL;
}

void
wharfd_route_refuse_memory(const struct wharfd_routing *rt,
                           struct wharfd_http_response *resp)
{
    enum wharfd_budget_hit hit = wharfd_budget_exceeded();
    struct wharfd_rpc_reply reply;
    int status = hit == WHARFD_BUDGET_OK ? 500 : 503;

    if (rt->route->rpc_shape) {
        wharfd_rpc_reply_error(&reply, status, WHARFD_RPC_INTERNAL_ERROR,
                               wharfd_budget_message(hit));
        resp->status = reply.status;
        resp->body = reply.body;
        resp->body_len = reply.len;
        resp->content_type = reply.body ? "application/json" : NULL;
    } else {
        wharfd_http_error(resp, status, status == 503 ? "busy" : "internal",
                          "%s", wharfd_budget_message(hit));
    }
    if (status == 503) {
        resp->retry_after = 1;
    }
}

void
wharfd_route(struct wharfd *wd, const struct wharfd_http_request *req,
             struct wharfd_http_response *resp)
{
    struct wharfd_routing rt;

    if (wharfd_route_head(wd, req, &rt, resp) == 0) {
        wharfd_route_run(&rt, req, resp);
    }
}
