/*
 * The JSON-RPC 2.0 envelope (https://www.jsonrpc.org/specification): the
 * one request check and the one response and error builders of every
 * part that answers JSON-RPC (wharfd's /rpc and live feed, the agent's
 * /rpc and /websocket), and the request builder of every part that asks.
 * Batches, notifications and the methods themselves stay with each part.
 *
 * A request (wharf_jsonrpc_check), in this order of checks, each -32600:
 *  - a JSON object;
 *  - "id", if present, a string, a number or null (an id of another type
 *    cannot be echoed: the error says id null);
 *  - "jsonrpc" exactly the string "2.0" (present: a request without it is
 *    refused, as the specification says it MUST be there);
 *  - "method" a string without NUL;
 *  - "params", if present, an object or an array.
 * Without "id" a valid request is a notification.
 *
 * An error object: {"code":C,"message":"Standard text: detail"[,"data":
 * {"field":F[,"max":N]}]}, the standard text of the code (below) and the
 * part's detail; the message is cut to printable ASCII, as a detail may
 * quote client input. An error answer's id is the request's when it was
 * valid, else null.
 */
#ifndef WHARF_JSONRPC_H
#define WHARF_JSONRPC_H

#include <stddef.h>

#include <jansson.h>

/* The specification's codes. */
#define WHARF_JSONRPC_PARSE_ERROR      (-32700)
#define WHARF_JSONRPC_INVALID_REQUEST  (-32600)
#define WHARF_JSONRPC_METHOD_NOT_FOUND (-32601)
#define WHARF_JSONRPC_INVALID_PARAMS   (-32602)
#define WHARF_JSONRPC_INTERNAL_ERROR   (-32603)
/* wharf's, in the server error range. */
#define WHARF_JSONRPC_UNAUTHORIZED     (-32001) /* no or bad token (HTTP 401) */
#define WHARF_JSONRPC_FORBIDDEN        (-32003) /* the token lacks the scope */
#define WHARF_JSONRPC_NOT_FOUND        (-32004) /* the agent: no such instance */
#define WHARF_JSONRPC_WORKER_NOT_FOUND (-32005) /* wharfd: not at the gateway */
#define WHARF_JSONRPC_CONFLICT         (-32009) /* the agent: wrong state */

/* Every method's name begins with it; the agent and the live feed also
 * take a method without it. */
#define WHARF_JSONRPC_PREFIX "ContainerMonitoringOps."

/* The parts of a checked request (borrowed from the request). */
struct wharf_jsonrpc_request {
    json_t *id; /* NULL: a notification */
    const char *method;
    json_t *params; /* NULL when absent */
};

/* The standard text of a code ("Invalid params"); "Internal error" for a
 * code it does not know. */
const char *wharf_jsonrpc_message(int code);

/* An error object's message: "Standard text: detail" (or the standard
 * text alone when detail is NULL or ""), cut to printable ASCII. */
void wharf_jsonrpc_error_message(int code, const char *detail, char *out,
                                 size_t size);

/* The detail of an error message: message without the standard text of
 * code and its ": ", if it begins with them. */
const char *wharf_jsonrpc_detail(int code, const char *message);

/* Parses a body or frame: any JSON value (a bare 1 is valid JSON, hence a
 * -32600 and not a -32700), duplicate members refused ("method" twice
 * would mean whichever one jansson kept), with the caller's other jansson
 * flags (JSON_ALLOW_NUL). NULL on a parse error, its detail in why. */
json_t *wharf_jsonrpc_parse(const char *text, size_t len, size_t flags,
                            char *why, size_t whylen);

/* Checks one request (see above): 0 and *out, or -1 with *out->id the id
 * to echo (NULL: null) and the reason in *why. */
int wharf_jsonrpc_check(json_t *req, struct wharf_jsonrpc_request *out,
                        const char **why);

/* The method's name without WHARF_JSONRPC_PREFIX. */
const char *wharf_jsonrpc_short_name(const char *method);

/* {"jsonrpc":"2.0","result":R,"id":ID}: takes the reference to result
 * (NULL: null), none to id (NULL: null). NULL when out of memory. */
json_t *wharf_jsonrpc_result(json_t *id, json_t *result);

/* {"jsonrpc":"2.0","error":{...},"id":ID}: field NULL or "" and max 0 for
 * no data; detail NULL or "" for the standard text alone. */
json_t *wharf_jsonrpc_error(json_t *id, int code, const char *field, size_t max,
                            const char *detail);

/* A request to send: {"jsonrpc":"2.0","id":id,"method":M[,"params":P]};
 * takes the reference to params (NULL: none); id < 0: a notification. */
json_t *wharf_jsonrpc_call(json_int_t id, const char *method, json_t *params);

#endif
