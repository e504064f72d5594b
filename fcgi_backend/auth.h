/*
 * Authentication and authorisation of requests (DESIGN.md "Auth").
 *
 * Every route but GET /api/monitoring/health wants an ES256 bearer token
 * (Authorization: Bearer, or ?access_token= on the live feed), verified
 * with common/token.h against the orchestrator's public key. A verified
 * token is cached (keyed by its bytes, in a fixed direct-mapped table)
 * until it expires, so the signature check, the costly part, runs once
 * per token and not once per request.
 *
 * The outcome travels with the request in a struct wharfd_call; each
 * method then asks for its scope and worker (wharfd_call_* below), which
 * is where -32001/-32003 (REST: 401/403) come from.
 */
#ifndef WHARFD_AUTH_H
#define WHARFD_AUTH_H

#include <pthread.h>
#include <stddef.h>

#include <jansson.h>

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
    int off;            /* --auth off: everyone is an operator */
    unsigned char *pub; /* PEM of the public key, or NULL */
    size_t pub_len;
    pthread_mutex_t lock;
    struct wharfd_auth_slot slots[WHARFD_TOKEN_CACHE];
};

struct wharfd_logstream;

/* What one request is allowed: filled by wharfd_auth_request. */
struct wharfd_call {
    struct wharfd *wd;
    int authed;      /* a valid token (or auth off) */
    const char *why; /* when not authed: why (static) */
    struct wharf_claims claims;
    const char *authorization; /* the header as received, or NULL */
    const char *query;         /* the raw query (access_token=), or NULL */
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

/* Loads the key (path may be NULL: no key, every token refused). */
int wharfd_auth_init(struct wharfd_auth *a, const char *pub_path, int off);
void wharfd_auth_free(struct wharfd_auth *a);

/* Fills call from an Authorization header value (or NULL) and a raw
 * query string (for access_token=; may be NULL). */
void wharfd_auth_request(struct wharfd *wd, struct wharfd_call *call,
                         const char *authorization, const char *query);

/* "Bearer TOKEN" into buf: the token this request was let in with, from
 * the Authorization header or ?access_token= (so process control relays
 * it to the gateway either way). 0, or -1 when there is none or it does
 * not fit. */
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
