/*
 * POST /rpc: the HTTP side of JSON-RPC. Checks what only HTTP can tell
 * (body size, Content-Type), hands the body to the envelope (rpc.c) with
 * the ContainerMonitoringOps methods (methods.c) and the request's
 * struct wharfd_call as their context, and turns its reply into the
 * response.
 *
 * The credentials were checked before the body was read (router.c): no
 * token is 401 with WWW-Authenticate, two are 400 invalid_request, each
 * with a JSON-RPC error object as the body (-32001, -32600). Here, a body
 * over the limit is answered 413 with a JSON-RPC error -32600 and id null
 * (the body is not read, so no id is known): JSON-RPC clients get an
 * error object they understand, HTTP clients a status they understand.
 * A Content-Type other than application/json is refused the same way with
 * 415; no Content-Type at all is accepted. When the token lacks the scope
 * of every call of the body (-32003 for each), the answer is 403 with
 * WWW-Authenticate error="insufficient_scope" (RFC 6750 section 3.1),
 * the JSON-RPC answer as its body; a batch that is only partly refused is
 * 200, each call with its own answer.
 *
 * getLogs with "stream": true (a single request only): the reply is
 * replaced by the NDJSON stream (logstream.h), whose last line carries
 * the request's id.
 */
#include "router.h"

#include <stdio.h>
#include <string.h>

#include "ingest_fast.h"
#include "logstream.h"
#include "methods.h"
#include "rpc.h"
#include "textbuf.h"
#include "wharfd.h"

/* A single call's answer as jansson writes it when the method left its
 * result as text in call->raw (and a null in the tree): wharf_jsonrpc_result
 * packs "jsonrpc", "result", "id" in that order, and jansson writes
 * members in the order they were added. */
static const char rpc_null_result[] = "{\"jsonrpc\":\"2.0\",\"result\":null";

/*
 * Puts call->raw in place of the null result of reply (a single call's
 * answer): the list methods write their result as text for a single call
 * as they do for REST (jsonw.h), instead of a jansson tree of every row
 * that is then written out (measured: 2.1x the instructions of the text
 * path for a latest-100 getLogs). Then --answer-max applies as before.
 * Anything other than the expected answer leaves reply as it is.
 */
static void
rpc_splice_raw(struct wharfd_call *call, struct wharfd_rpc_reply *reply)
{
    size_t pre = sizeof(rpc_null_result) - 1, head = pre - 4, rest;
    struct wharf_textbuf w;

    if (reply->status != 200 || reply->body == NULL || reply->len < pre
        || memcmp(reply->body, rpc_null_result, pre) != 0) {
        return;
    }
    rest = reply->len - pre;
    memset(&w, 0, sizeof(w));
    (void) wharf_textbuf_room(&w, head + call->raw_len + rest);
    wharf_textbuf_put(&w, rpc_null_result, head);
    wharf_textbuf_put(&w, call->raw, call->raw_len);
    wharf_textbuf_put(&w, reply->body + pre, rest);
    if (w.oom) {
        wharf_textbuf_free(&w);
        return; /* the null answer stays: out of memory is reported so */
    }
    wharfd_rpc_reply_free(reply);
    reply->status = 200;
    reply->body = wharf_textbuf_take(&w, &reply->len);
}

/* 1 when the body's first non-blank byte opens an object. */
static int
body_single(const char *b, size_t n)
{
    size_t i;

    for (i = 0; b != NULL && i < n; i++) {
        if (b[i] != ' ' && b[i] != '\t' && b[i] != '\r' && b[i] != '\n') {
            return b[i] == '{';
        }
    }
    return 0;
}

void
wharfd_rpc_route(struct wharfd_call *call, const struct wharfd_route *route,
                 const char *capture, const struct wharfd_http_request *req,
                 struct wharfd_http_response *resp)
{
    struct wharfd_rpc_reply reply;
    char detail[96];
    json_t *ans;

    (void) route;
    (void) capture;
    /* the fast path fills only what it answers; the counts start at 0 */
    memset(&reply, 0, sizeof(reply));
    if (req->body_too_large) {
        snprintf(detail, sizeof(detail), "request body exceeds %zu bytes",
                 req->body_limit);
        wharfd_rpc_reply_error(&reply, 413, WHARFD_RPC_INVALID_REQUEST, detail);
    } else if (req->content_type != NULL && req->content_type[0] != '\0'
               && !wharfd_http_is_json(req->content_type)) {
        wharfd_rpc_reply_error(&reply, 415, WHARFD_RPC_INVALID_REQUEST,
                               "Content-Type must be application/json");
    } else {
        call->single = body_single(req->body, req->body_len);
        /* storeLogs/storeErrors in the common shape skip the jansson
         * tree (ingest_fast.h); anything else, or any doubt, goes on. */
        if (!wharfd_ingest_fast(call, req->body, req->body_len, &reply)) {
            /* the limits of the answer are checked after the splice */
            struct wharfd_rpc_limits limits = {
                call->wd->config.rpc_batch_max,
                call->single ? 0 : call->wd->config.answer_max
            };

            call->want_raw = call->single;
            wharfd_rpc_handle_limited(wharfd_methods_lookup, call, &limits,
                                      req->body, req->body_len, &reply);
            if (call->single) {
                if (call->raw != NULL) {
                    rpc_splice_raw(call, &reply);
                }
                wharfd_rpc_reply_answer_max(&reply,
                                            call->wd->config.answer_max);
            }
        }
    }

    if (call->stream != NULL) {
        /* The method accepted the stream: its reply is
         * {"jsonrpc","result":{"stream":true},"id"}, whose id ends the
         * stream. A notification (204) streams nothing. */
        ans = reply.status == 200 && reply.body
            ? json_loads(reply.body, 0, NULL)
            : NULL;
        if (json_is_object(ans) && json_object_get(ans, "result") != NULL) {
            call->stream->rpc_id = json_incref(json_object_get(ans, "id"));
            json_decref(ans);
            wharfd_rpc_reply_free(&reply);
            wharfd_logstream_respond(resp, &call->stream);
            return;
        }
        json_decref(ans);
        wharfd_logstream_free(call->stream);
        call->stream = NULL;
    }

    if (reply.calls > 0 && reply.forbidden == reply.calls) {
        if (reply.body == NULL) {
            /* notifications only: no answer of their own to carry */
            wharfd_rpc_reply_error(&reply, 403, WHARFD_RPC_FORBIDDEN,
                                   "the token allows none of these calls");
        }
        reply.status = 403;
        wharfd_auth_challenge(call, "", resp->www_authenticate,
                              sizeof(resp->www_authenticate));
    }
    if (reply.status == 503) {
        resp->retry_after = 1; /* the memory budget is in use: busy */
    }
    resp->status = reply.status;
    resp->body = reply.body; /* ownership moves to resp */
    resp->body_len = reply.len;
    resp->content_type = reply.body ? "application/json" : NULL;
}
