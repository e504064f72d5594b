/*
 * wharfd's JSON-RPC 2.0 answers: batches, notifications, limits, on the
 * envelope of common/jsonrpc.h (the request check, the response and error
 * objects, shared with the live feed and the agent). Knows nothing of
 * HTTP or of any method: the methods are found through a lookup function
 * (methods.c), and the caller turns the reply into an HTTP response
 * (rpc_route.c). Unit-tested on its own (tests/unit/test_wharfd_rpc.c).
 *
 * Rules, from https://www.jsonrpc.org/specification:
 *  - body not JSON                        -> one -32700 error, id null
 *  - not an object / bad jsonrpc, method,
 *    id or params type                    -> -32600 (id echoed when valid)
 *  - empty batch []                       -> one -32600 error (not an array)
 *  - unknown method                       -> -32601
 *  - method's own checks                  -> -32602 naming the field in the
 *                                            message and in data.field
 *  - method failure                       -> -32603
 *  - a request without "id" is a notification: run, never answered, even
 *    on error; a body of notifications only gets no body at all (204)
 *  - ids: strings, numbers and null are echoed as received (jansson keeps
 *    integers as 64-bit; a fraction is echoed as the same double)
 *
 * JSON-RPC errors travel in HTTP 200 responses; only transport problems
 * (body too large 413, wrong Content-Type 415) change the status.
 */
#ifndef WHARFD_RPC_H
#define WHARFD_RPC_H

#include <stddef.h>

#include <jansson.h>

#include "jsonrpc.h"

/* The codes, by wharfd's names (common/jsonrpc.h has them all). */
#define WHARFD_RPC_PARSE_ERROR      WHARF_JSONRPC_PARSE_ERROR
#define WHARFD_RPC_INVALID_REQUEST  WHARF_JSONRPC_INVALID_REQUEST
#define WHARFD_RPC_METHOD_NOT_FOUND WHARF_JSONRPC_METHOD_NOT_FOUND
#define WHARFD_RPC_INVALID_PARAMS   WHARF_JSONRPC_INVALID_PARAMS
#define WHARFD_RPC_INTERNAL_ERROR   WHARF_JSONRPC_INTERNAL_ERROR
#define WHARFD_RPC_UNAUTHORIZED     WHARF_JSONRPC_UNAUTHORIZED
#define WHARFD_RPC_FORBIDDEN        WHARF_JSONRPC_FORBIDDEN
/* Process control for a worker the gateway does not route (not in its
 * registry): REST 404 worker_not_found. Not -32004, which agents answer
 * for an unknown instance (relayed as their own error). */
#define WHARFD_RPC_WORKER_NOT_FOUND WHARF_JSONRPC_WORKER_NOT_FOUND

/* What a failing method reports. */
struct wharfd_rpc_error {
    int code;          /* one of the codes above; 0 means -32603 */
    char field[64];    /* -32602: the offending params member, "" if
                           * none ("logs[3].sequence" for an element) */
    char message[256]; /* detail, appended to the code's standard text */
    size_t max;        /* -32602 for a length: the limit ("data": {"max"}),
                          0 if none; a client may cut to it (the agent does) */
};

/*
 * A method. params is the request's "params" (object or array) or NULL
 * when absent. On success it returns 0 and sets *result (NULL means JSON
 * null; the envelope takes the reference). On failure it fills err and
 * returns -1.
 */
typedef int (*wharfd_rpc_fn)(void *ctx, json_t *params, json_t **result,
                             struct wharfd_rpc_error *err);

struct wharfd_rpc_method {
    const char *name; /* without the "ContainerMonitoringOps." prefix */
    wharfd_rpc_fn fn;
};

/* Finds the method of a full method name, or NULL (-> -32601). */
typedef const struct wharfd_rpc_method *(*wharfd_rpc_lookup_fn)(
    const char *name);

/* The answer to one HTTP body. body is NULL (and status 204) when every
 * request was a notification. */
struct wharfd_rpc_reply {
    int status;
    char *body; /* malloc'd */
    size_t len;
    /* Requests run (notifications included), and how many of them a
     * method refused with -32003: when it is all of them, the HTTP side
     * answers 403 (rpc_route.c). */
    size_t calls;
    size_t forbidden;
};

/* What one body may cost (budget.h); 0: no limit. */
struct wharfd_rpc_limits {
    size_t batch_max;  /* calls in a batch: more is 413, -32600, not parsed */
    size_t answer_max; /* bytes of the answer: calls past it are not run */
};

/* Runs every request of body and builds the reply. */
void wharfd_rpc_handle(wharfd_rpc_lookup_fn lookup, void *ctx, const char *body,
                       size_t len, struct wharfd_rpc_reply *reply);

/* The same within limits. A request that runs out of its memory
 * (budget.h) is answered 413 with -32600, or, when every request's budget
 * is in use, 503 with -32603; a batch's calls already answered keep their
 * answers, those left are answered -32603 and not run. */
void wharfd_rpc_handle_limited(wharfd_rpc_lookup_fn lookup, void *ctx,
                               const struct wharfd_rpc_limits *limits,
                               const char *body, size_t len,
                               struct wharfd_rpc_reply *reply);

/* A single call's 200 reply longer than answer_max (0: no limit) becomes
 * the -32603 error naming --answer-max. */
void wharfd_rpc_reply_answer_max(struct wharfd_rpc_reply *reply,
                                 size_t answer_max);

/* A reply holding one error object with id null, for problems found
 * before the body is read (too large, wrong Content-Type). */
void wharfd_rpc_reply_error(struct wharfd_rpc_reply *reply, int status,
                            int code, const char *detail);

/* The error object of a method's failure (code 0: -32603). */
json_t *wharfd_rpc_error_json(json_t *id, const struct wharfd_rpc_error *err);

/* Fills err; field may be NULL. Returns -1, for "return set_error(...)". */
int wharfd_rpc_set_error(struct wharfd_rpc_error *err, int code,
                         const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

void wharfd_rpc_reply_free(struct wharfd_rpc_reply *reply);

#endif
