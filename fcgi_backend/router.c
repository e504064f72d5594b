#include "router.h"

#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "logstream.h"
#include "wharfd.h"

/* Longest path segment a '*' captures. */
#define WHARFD_CAPTURE_MAX 256

static const struct wharfd_route routes[] = {
    { "/api/monitoring/health", "GET, HEAD", wharfd_rest_health, 0, NULL,
      NULL },
    { "/rpc", "POST", wharfd_rpc_route, 1, NULL, NULL },
    { "/api/monitoring/workers", "GET", wharfd_rest_method, 0, "getWorkers",
      NULL },
    { "/api/monitoring/workers/*", "DELETE", wharfd_rest_method, 0,
      "removeWorker", "worker" },
    { "/api/monitoring/logs", "GET", wharfd_rest_method, 0, "getLogs", NULL },
    { "/api/monitoring/logs/*", "GET", wharfd_rest_method, 0, "getLogs",
      "instanceId" },
    { "/api/monitoring/logs/*/stats", "GET", wharfd_rest_method, 0,
      "getLogStats", "instanceId" },
    { "/api/monitoring/errors", "GET", wharfd_rest_method, 0, "getErrors",
      NULL },
    { "/api/monitoring/errors/*", "GET", wharfd_rest_method, 0, "getErrors",
      "instanceId" },
    { "/api/monitoring/errors/*/summary", "GET", wharfd_rest_method, 0,
      "getErrorSummary", "instanceId" },
    { "/api/monitoring/events", "GET", wharfd_rest_method, 0, "getEvents",
      NULL },
    { "/api/monitoring/processes", "GET", wharfd_rest_method, 0, "getProcesses",
      NULL },
    { "/api/monitoring/process/*/status", "GET", wharfd_rest_method, 0,
      "getProcessStatus", "instanceId" },
    { "/api/monitoring/process/*/start", "POST", wharfd_rest_method, 0,
      "startProcess", "instanceId" },
    { "/api/monitoring/process/*/stop", "POST", wharfd_rest_method, 0,
      "stopProcess", "instanceId" },
    { "/api/monitoring/process/*/restart", "POST", wharfd_rest_method, 0,
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

static int
hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Matches path against pattern; the '*' segment, percent-decoded, goes
 * into cap. Returns 1 on a match. */
static int
path_match(const char *pattern, const char *path, char *cap, size_t caplen)
{
    size_t n = 0;

    cap[0] = '\0';
    while (*pattern && *path) {
        if (*pattern == '*') {
            if (*path == '/') {
                return 0;
            }
            while (*path && *path != '/') {
                char c = *path++;

                if (c == '%' && hexval(path[0]) >= 0 && hexval(path[1]) >= 0) {
                    c = (char) (hexval(path[0]) * 16 + hexval(path[1]));
                    path += 2;
                }
                if (n + 1 >= caplen || c == '\0') {
                    return 0;
                }
                cap[n++] = c;
            }
            cap[n] = '\0';
            pattern++;
            continue;
        }
        if (*pattern++ != *path++) {
            return 0;
        }
    }
    return *pattern == '\0' && *path == '\0';
}

void
wharfd_route(struct wharfd *wd, const struct wharfd_http_request *req,
             struct wharfd_http_response *resp)
{
    const struct wharfd_route *r = NULL;
    struct wharfd_call call;
    char cap[WHARFD_CAPTURE_MAX];
    size_t i;

    for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (path_match(routes[i].path, req->path, cap, sizeof(cap))) {
            r = &routes[i];
            break;
        }
    }
    if (r == NULL) {
        wharfd_http_error(resp, 404, "not_found", "no route for %s %s",
                          req->method, req->path);
        return;
    }
    if (!method_allowed(r->methods, req->method)) {
        wharfd_http_error(resp, 405, "method_not_allowed",
                          "%s is not allowed on %s (allowed: %s)", req->method,
                          req->path, r->methods);
        resp->allow = r->methods;
        return;
    }
    if (req->body_too_large && !r->own_body_errors) {
        wharfd_http_error(resp, 413, "body_too_large",
                          "request body exceeds %zu bytes", req->body_limit);
        return;
    }
    /* Who is asking: checked per method (scope, worker) by the handler. */
    wharfd_auth_request(wd, &call, req->authorization, req->query);
    r->handler(&call, r, cap, req, resp);
    /* Whatever a handler left unclaimed. */
    free(call.raw);
    wharfd_logstream_free(call.stream);
}
