/*
 * Authentication and authorisation of requests (DESIGN.md "Auth").
 *
 * Every route but GET /api/monitoring/health wants an ES256 bearer token,
 * verified with common/token.h against the orchestrator's public keys
 * (--public-key, a file or a folder, repeatable: several keys while one is
 * rotated), with no audience of wharfd's own: a token with an aud claim
 * was made for one agent and is refused, as the gateway refuses it.
 *
 * One credential per request (RFC 6750 section 2): the Authorization
 * header, or ?access_token=, or (the live feed) the subprotocol
 * "wharf.bearer.TOKEN" of Sec-WebSocket-Protocol. Two of them, even the
 * same token twice, or both valid, are refused 400 invalid_request: which
 * one would count is not the client's to leave open.
 *
 * A verified token is cached (keyed by its bytes, in a fixed direct-mapped
 * table) until it expires, so the signature check, the costly part, runs
 * once per token and not once per request.
 *
 * The outcome travels with the request in a struct wharfd_call: the router
 * refuses a request without a valid credential before its body is read
 * (401, or 400 for two), and each method then asks for its scope and worker
 * (wharfd_call_* below), which is where -32003 (REST: 403) comes from.
 */
#ifndef WHARFD_AUTH_H
#define WHARFD_AUTH_H

#include <limits.h>
#include <pthread.h>
#include <stddef.h>

#include <jansson.h>

#include "keys.h"
#include "rpc.h"
#include "token.h"

/* Verified tokens kept; a new one replaces the one in its slot. */
#define WHARFD_TOKEN_CACHE 1024

struct wharfd;

struct wharfd_auth_slot {
    char *token; /* malloc'd, NULL when empty */
    struct wharf_claims claims;
};

struct wharfd_auth {
    int off;                /* --auth off: everyone is an operator */
    struct wharf_keys keys; /* verification keys, possibly none */
    pthread_mutex_t lock;
    struct wharfd_auth_slot slots[WHARFD_TOKEN_CACHE];
};

struct wharfd_logstream;

/* Why a request is not authed. */
enum wharfd_auth_refusal {
    WHARFD_AUTH_NONE = 0, /* authed */
    WHARFD_AUTH_MISSING,  /* no credential at all: 401 */
    WHARFD_AUTH_INVALID,  /* a credential that does not verify: 401 */
    WHARFD_AUTH_TWO       /* more than one credential: 400 */
};

/* What one request is allowed: filled by wharfd_auth_request. */
struct wharfd_call {
    struct wharfd *wd;
    int authed; /* a valid token (or auth off) */
    enum wharfd_auth_refusal refusal;
    const char *why; /* when not authed: why (static) */
    struct wharf_claims claims;
    /* The token the request was let in with (points into the request's
     * header, query or subprotocol list, which outlive the call), so that
     * process control can relay it to the gateway; NULL without one. */
    const char *token;
    size_t token_len;
    /* The body is one request, not a batch: only then may a method
     * answer as a stream (getLogs "stream": true). */
    int single;
    /* Set by getLogs with "stream": true; the route streams it. */
    struct wharfd_logstream *stream;
    /* REST asks lists for their answer as JSON text (jsonw.h): the method
     * then sets raw (malloc'd) and returns a null result. */
    int want_raw;
    char *raw;
    size_t raw_len;
};

/* Loads the keys of each path (a PEM file or a folder of them; none: no
 * key, every token refused). 0, or -1 (logged). */
int wharfd_auth_init(struct wharfd_auth *a, char (*paths)[PATH_MAX],
                     size_t npaths, int off);
void wharfd_auth_free(struct wharfd_auth *a);

/* Fills call from an Authorization header value (or NULL), a raw query
 * string (for access_token=; may be NULL) and a Sec-WebSocket-Protocol
 * value (for wharf.bearer.TOKEN; NULL but on the feed). */
void wharfd_auth_request(struct wharfd *wd, struct wharfd_call *call,
                         const char *authorization, const char *query,
                         const char *protocols);

/* The WWW-Authenticate value (RFC 6750 section 3) for a refused call, or
 * for a missing scope (scope_names not NULL: error="insufficient_scope",
 * with scope="..." unless it is ""), into buf. */
void wharfd_auth_challenge(const struct wharfd_call *call,
                           const char *scope_names, char *buf, size_t size);

/* "Bearer TOKEN" into buf: the token this request was let in with, from
 * the Authorization header, ?access_token= or the subprotocol (so process
 * control relays it to the gateway either way). 0, or -1 when there is
 * none or it does not fit. */
int wharfd_call_bearer(const struct wharfd_call *call, char *buf, size_t size);

/* -32001 unless authed, -32003 unless the token holds scope (for any
 * worker: the worker check is separate). Returns 0 or -1 (err set). */
int wharfd_call_scope(struct wharfd_call *call, unsigned scope,
                      struct wharfd_rpc_error *err);

/*
 * The worker a write is stamped with: the token's sub; params.worker may
 * be absent or the same, another name is -32003. A "*" token must name
 * the worker in params. Checks the scope first.
 */
int wharfd_call_write_worker(struct wharfd_call *call, json_t *obj,
                             unsigned scope, const char **worker,
                             struct wharfd_rpc_error *err);

/*
 * The worker a read is confined to: params.worker for a "*" token (NULL
 * when absent: every worker); the token's sub for a worker's token
 * (params.worker naming another is -32003). Checks the scope first.
 */
int wharfd_call_read_worker(struct wharfd_call *call, json_t *obj,
                            unsigned scope, const char **worker,
                            struct wharfd_rpc_error *err);

#endif
