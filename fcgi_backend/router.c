#include "router.h"

#include <string.h>

#include "auth.h"

struct wharfd_route {
    const char *path;
    const char *methods;        /* also the Allow header of a 405 */
    wharfd_handler_fn handler;
    /* The handler reports a too large body itself (JSON-RPC says it in
     * its own error shape); for the others the router answers 413. */
    int own_body_errors;
};

static const struct wharfd_route routes[] = {
    { "/api/monitoring/health", "GET, HEAD", wharfd_rest_health, 0 },
    { "/rpc",                   "POST",      wharfd_rpc_route,   1 },
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

void
wharfd_route(struct wharfd *wd, const struct wharfd_http_request *req,
             struct wharfd_http_response *resp)
{
    const struct wharfd_route *r = NULL;
    size_t i;

    for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (strcmp(routes[i].path, req->path) == 0) {
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
                          "%s is not allowed on %s (allowed: %s)",
                          req->method, req->path, r->methods);
        resp->allow = r->methods;
        return;
    }
    if (wharfd_auth_check(wd, req) != 0) {
        wharfd_http_error(resp, 401, "unauthorized", "a valid bearer token "
                          "is required");
        return;
    }
    if (req->body_too_large && !r->own_body_errors) {
        wharfd_http_error(resp, 413, "body_too_large",
                          "request body exceeds %zu bytes", req->body_limit);
        return;
    }
    r->handler(wd, req, resp);
}
