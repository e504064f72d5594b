/*
 * POST /rpc: the HTTP side of JSON-RPC. Checks what only HTTP can tell
 * (body size, Content-Type), hands the body to the envelope (rpc.c) with
 * the ContainerMonitoringOps methods (methods.c), and turns its reply into
 * the response.
 *
 * A body over the limit is answered 413 with a JSON-RPC error -32600 and
 * id null (the body is not read, so no id is known): JSON-RPC clients get
 * an error object they understand, HTTP clients a status they understand.
 * A Content-Type other than application/json is refused the same way with
 * 415; no Content-Type at all is accepted.
 */
#include "router.h"

#include <stdio.h>

#include "methods.h"
#include "rpc.h"
#include "wharfd.h"

void
wharfd_rpc_route(struct wharfd *wd, const struct wharfd_http_request *req,
                 struct wharfd_http_response *resp)
{
    struct wharfd_rpc_reply reply;
    char detail[96];

    if (req->body_too_large) {
        snprintf(detail, sizeof(detail), "request body exceeds %zu bytes",
                 req->body_limit);
        wharfd_rpc_reply_error(&reply, 413, WHARFD_RPC_INVALID_REQUEST, detail);
    } else if (req->content_type != NULL && req->content_type[0] != '\0'
               && !wharfd_http_is_json(req->content_type))
    {
        wharfd_rpc_reply_error(&reply, 415, WHARFD_RPC_INVALID_REQUEST,
                               "Content-Type must be application/json");
    } else {
        wharfd_rpc_handle(wharfd_methods_lookup, wd, req->body, req->body_len,
                          &reply);
    }

    resp->status = reply.status;
    resp->body = reply.body;            /* ownership moves to resp */
    resp->body_len = reply.len;
    resp->content_type = reply.body ? "application/json" : NULL;
}
