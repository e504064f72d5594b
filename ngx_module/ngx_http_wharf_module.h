
/*
 * wharf: nginx module shared declarations.
 *
 * The module is split by concern; every part sees the configuration, the
 * shared memory layout and the per-request context declared here:
 *
 *   ngx_http_wharf_module.c     directives, configuration, phases, variables
 *   ngx_http_wharf_route.c      /api/workers/NAME/... routing, route errors
 *   ngx_http_wharf_json.c       JSON output and the JSON error responses
 *   ngx_http_wharf_shm.c        shared zone: per-worker counters and health
 *   ngx_http_wharf_sessions.c   live sessions, max_sessions, request counts
 *   ngx_http_wharf_balancer.c   wharf_balancer: the static upstream of routes
 *   ngx_http_wharf_auth.c       ES256 tokens in, aud-bound tokens out, Origin
 *   ngx_http_wharf_scrub.c      no client's token in the logs
 *   ngx_http_wharf_probe.c      WebSocket handshake probes, background probing
 *   ngx_http_wharf_health.c     the health routes, answering from the probes
 *   ngx_http_wharf_backend.c    a background question to the local backend
 *   ngx_http_wharf_registry.c   /api/workers, /api/terminals, /metrics
 *   ngx_http_wharf_live.c       live workers: each process's copy of them
 *   ngx_http_wharf_live_store.c live workers in the zone, their JSON
 *   ngx_http_wharf_live_state.c the state file (wharf_registry_state)
 *   ngx_http_wharf_live_api.c   PUT and DELETE /api/workers/NAME
 *   ngx_http_wharf_live_peer.c  the balancer's peer for a live worker,
 *                               keepalive, sessions ended on removal
 *   ngx_http_wharf_fleet.c      the other gateways' sessions (wharf_fleet_*)
 *   ngx_http_wharf_splice.c     wharf_splice: upgraded tunnels by splice(2)
 */


#ifndef _NGX_HTTP_WHARF_MODULE_H_INCLUDED_
#define _NGX_HTTP_WHARF_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "name.h"
#include "token.h"


#define NGX_HTTP_WHARF_DEFAULT_PREFIX      "/api/workers/"

/* a worker name longer than this is shown truncated in error messages */
#define NGX_HTTP_WHARF_NAME_SHOWN          (WHARF_NAME_MAX + 1)

#define NGX_HTTP_WHARF_CONTAINER_MAX       255
#define NGX_HTTP_WHARF_UPSTREAM_MAX        255
#define NGX_HTTP_WHARF_PROBE_PATH_MAX      255

/* max_sessions=N: 0 is "no limit", so the largest N is this */
#define NGX_HTTP_WHARF_MAX_SESSIONS_MAX    1000000

/* a key file larger than this is not a PEM key */
#define NGX_HTTP_WHARF_KEY_FILE_MAX        16384

/* not among nginx's own status codes */
#define NGX_HTTP_WHARF_UPGRADE_REQUIRED    426

/*
 * A browser's WebSocket carries its token as a subprotocol, as Kubernetes
 * does (its "base64url.bearer.authorization.k8s.io."): the client offers
 * "wharf.bearer.JWT" beside its real subprotocol, if any.
 */
#define NGX_HTTP_WHARF_BEARER_PREFIX       "wharf.bearer."
#define NGX_HTTP_WHARF_BEARER_LEN          (sizeof("wharf.bearer.") - 1)

/* wharf_pass_request_headers: the client's headers a worker may get */
#define NGX_HTTP_WHARF_PASS_COOKIE         0x01
#define NGX_HTTP_WHARF_PASS_PROXY_AUTH     0x02

/* the text of a probe's error, in shared memory and in answers */
#define NGX_HTTP_WHARF_ERROR_LEN           160

/* the body of PUT /api/workers/NAME; larger is 413 */
#define NGX_HTTP_WHARF_LIVE_BODY_MAX       4096

/* a state file (wharf_registry_state) larger than this is refused */
#define NGX_HTTP_WHARF_STATE_MAX           (16 * 1024 * 1024)

/* how often a process with sessions of live workers looks for removals */
#define NGX_HTTP_WHARF_LIVE_POLL           100

/* keepalive connections to a live worker: requests and lifetime, each */
#define NGX_HTTP_WHARF_LIVE_REQUESTS       1000
#define NGX_HTTP_WHARF_LIVE_TIME           3600000


/* health checks: what a probe proves */

#define NGX_HTTP_WHARF_CHECK_TERMINAL      0
#define NGX_HTTP_WHARF_CHECK_WEBSOCKET     1
#define NGX_HTTP_WHARF_CHECKS              2

/* "wharf_health all": every check of every worker, and the backend */
#define NGX_HTTP_WHARF_CHECK_ALL           2
#define NGX_HTTP_WHARF_CHECK_NONE          3

#define NGX_HTTP_WHARF_UNKNOWN             0
#define NGX_HTTP_WHARF_HEALTHY             1
#define NGX_HTTP_WHARF_UNHEALTHY           2


/* session kinds */

#define NGX_HTTP_WHARF_KIND_TERMINAL       0
#define NGX_HTTP_WHARF_KIND_WEBSOCKET      1
#define NGX_HTTP_WHARF_KIND_HTTP           2
#define NGX_HTTP_WHARF_KINDS               3

/* routed requests by status class: 1xx to 5xx, and anything else */
#define NGX_HTTP_WHARF_CLASSES             6


/* content handlers a location can have */

#define NGX_HTTP_WHARF_HANDLER_NONE        0
#define NGX_HTTP_WHARF_HANDLER_REGISTRY    1
#define NGX_HTTP_WHARF_HANDLER_TERMINALS   2
#define NGX_HTTP_WHARF_HANDLER_METRICS     3
#define NGX_HTTP_WHARF_HANDLER_HEALTH      4
#define NGX_HTTP_WHARF_HANDLER_FLEET       5


/* wharf_fleet_peer: the other gateways of a fleet, at most */
#define NGX_HTTP_WHARF_FLEET_PEERS_MAX     8

/* a peer's answer larger than this is refused */
#define NGX_HTTP_WHARF_FLEET_ANSWER_MAX    (8 * 1024 * 1024)

/* the shortest wharf_fleet_interval */
#define NGX_HTTP_WHARF_FLEET_INTERVAL_MIN  100

/* wharf_fleet_stale, unless set: this many intervals without an answer */
#define NGX_HTTP_WHARF_FLEET_STALE_INTERVALS  5


/* the last result of one check of one worker */

typedef struct {
    ngx_uint_t                     status;       /* NGX_HTTP_WHARF_HEALTHY... */
    uint64_t                       checked_at;   /* ms since the epoch */
    uint64_t                       latency_us;
    size_t                         error_len;
    u_char                         error[NGX_HTTP_WHARF_ERROR_LEN];
} ngx_http_wharf_result_t;


/*
 * One worker in the shared zone, found by name.  The counters are atomic
 * and updated without the zone's mutex; the health results are copied in
 * and out under it.  A node outlives the configuration that created it:
 * sessions opened before a reload decrement the node they incremented.
 */

/*
 * A live worker's settings (PUT /api/workers/NAME), in the shared zone:
 * one slab allocation, the strings after the fixed part.  Replaced, never
 * changed in place: a process copies it under the zone's mutex.
 */

#define NGX_HTTP_WHARF_SPEC_ADDR           0
#define NGX_HTTP_WHARF_SPEC_CONTAINER      1
#define NGX_HTTP_WHARF_SPEC_TERMINAL       2
#define NGX_HTTP_WHARF_SPEC_WEBSOCKET      3
#define NGX_HTTP_WHARF_SPEC_STRINGS        4

typedef struct {
    ngx_uint_t                     max_sessions;
    socklen_t                      socklen;
    ngx_sockaddr_t                 sockaddr;
    u_short                        len[NGX_HTTP_WHARF_SPEC_STRINGS];
    u_char                         data[1];
} ngx_http_wharf_spec_t;


/*
 * A node of a tree of workers found by name: the key is the crc32 of the
 * name, then the name decides (ngx_http_wharf_named_lookup()).  The zone's
 * nodes and each process's live copies begin with these members.
 */

typedef struct {
    ngx_rbtree_node_t              node;
    u_char                         len;
    u_char                         name[WHARF_NAME_MAX];
} ngx_http_wharf_named_t;


typedef struct {
    ngx_rbtree_node_t              node;         /* ngx_http_wharf_named_t */
    u_char                         len;
    u_char                         name[WHARF_NAME_MAX];

    ngx_atomic_t                   sessions[NGX_HTTP_WHARF_KINDS];

    /* terminal + websocket sessions: what max_sessions limits */
    ngx_atomic_t                   upgraded;

    ngx_atomic_t                   requests[NGX_HTTP_WHARF_CLASSES];
    ngx_atomic_t                   rejected;     /* by max_sessions */
    ngx_atomic_t                   probes[NGX_HTTP_WHARF_CHECKS];

    ngx_http_wharf_result_t        health[NGX_HTTP_WHARF_CHECKS];

    /*
     * The last configuration (ngx_http_wharf_shctx_t) that had it as a
     * wharf_worker; 0 for a worker that was only ever live.
     */
    ngx_uint_t                     generation;

    /* the live entry, NULL if none; sh->changes when it last changed */
    ngx_http_wharf_spec_t         *live;
    ngx_uint_t                     changed;

    /* processes' copies of the live worker that something holds */
    ngx_uint_t                     refs;

    /*
     * Its sessions through the other gateways (wharf_fleet_peer), by
     * peer: counted while fleet_stamp is the peer's last answer's.
     */
    uint32_t                       fleet[NGX_HTTP_WHARF_FLEET_PEERS_MAX]
                                        [NGX_HTTP_WHARF_KINDS];
    uint32_t                       fleet_stamp[NGX_HTTP_WHARF_FLEET_PEERS_MAX];
} ngx_http_wharf_node_t;


/* the last answer of one wharf_fleet_peer, in the shared zone */

typedef struct {
    uint32_t                       url_crc;   /* the peer it is of */
    uint32_t                       stamp;     /* of its last answer */
    ngx_msec_t                     updated;   /* then; 0: none yet */
    ngx_uint_t                     up;        /* as last logged */
    ngx_atomic_t                   polls;
    ngx_atomic_t                   failures;
} ngx_http_wharf_fleet_sh_t;


typedef struct {
    ngx_rbtree_t                   rbtree;
    ngx_rbtree_node_t              sentinel;

    /* one per configuration loaded, reloads included */
    ngx_uint_t                     generation;

    /* background probing: the next round, claimed by one process */
    ngx_msec_t                     next_round;
    ngx_atomic_t                   rounds;

    /*
     * Live workers: bumped by every change of one; the change that the
     * state file holds (wharf_registry_state); the number of entries.
     */
    ngx_atomic_t                   changes;
    ngx_uint_t                     written;
    ngx_uint_t                     live;

    /* the other gateways: their answers; the next poll, claimed */
    ngx_http_wharf_fleet_sh_t      fleet[NGX_HTTP_WHARF_FLEET_PEERS_MAX];
    ngx_msec_t                     fleet_next;
} ngx_http_wharf_shctx_t;


/* a token the module signed, cached in each nginx worker process */

typedef struct {
    u_char                        *data;         /* "Bearer eyJ..." */
    size_t                         len;
    time_t                         renew;        /* sign anew from then */
    time_t                         exp;
} ngx_http_wharf_token_t;


typedef struct ngx_http_wharf_probe_s  ngx_http_wharf_probe_t;
typedef struct ngx_http_wharf_peer_s  ngx_http_wharf_peer_t;
typedef struct ngx_http_wharf_session_s  ngx_http_wharf_session_t;

/* a tunnel that wharf_splice moves (ngx_http_wharf_splice.c) */

typedef struct ngx_http_wharf_splice_s  ngx_http_wharf_splice_t;


/* one who waits for a probe's result (ngx_http_wharf_probe_start()) */

typedef struct ngx_http_wharf_waiter_s  ngx_http_wharf_waiter_t;

typedef void (*ngx_http_wharf_waiter_pt)(ngx_http_wharf_waiter_t *w,
    ngx_http_wharf_result_t *res);

struct ngx_http_wharf_waiter_s {
    ngx_queue_t                    queue;     /* in the probe's, if queued */
    ngx_http_wharf_waiter_pt       handler;
    void                          *data;
    ngx_uint_t                     index;
    unsigned                       queued:1;
};


/*
 * One request to a peer and its answer, on the event loop
 * (ngx_http_wharf_exchange.c): the health probes and the fleet polls.
 */

typedef struct ngx_http_wharf_exchange_s  ngx_http_wharf_exchange_t;

/* NGX_AGAIN: read on; else the owner has ended, or will end, the exchange */
typedef ngx_int_t (*ngx_http_wharf_exchange_read_pt)(
    ngx_http_wharf_exchange_t *x, ngx_uint_t closed);
typedef void (*ngx_http_wharf_exchange_fail_pt)(ngx_http_wharf_exchange_t *x,
    const char *reason);

typedef enum {
    NGX_HTTP_WHARF_EXCHANGE_CONNECTING = 0,
    NGX_HTTP_WHARF_EXCHANGE_SENDING,
    NGX_HTTP_WHARF_EXCHANGE_READING
} ngx_http_wharf_exchange_state_e;

struct ngx_http_wharf_exchange_s {
    ngx_peer_connection_t             peer;

    ngx_pool_t                       *pool;      /* the owner's */
    ngx_buf_t                        *request;
    ngx_buf_t                        *response;
    size_t                            response_max;  /* it doubles to */

    ngx_http_wharf_exchange_read_pt   read;
    ngx_http_wharf_exchange_fail_pt   fail;
    void                             *data;      /* the owner */

    ngx_http_wharf_exchange_state_e   state;
    unsigned                          ended:1;
};


/*
 * One worker: a wharf_worker directive, or a live worker's copy in an
 * nginx worker process (peer set; upstream then is the peer's own, with
 * the one server of the live entry).
 */

typedef struct {
    ngx_str_t                      name;      /* NUL-terminated */
    ngx_str_t                      container;

    /* as written in upstream=, resolved by ngx_http_wharf_init_main_conf() */
    ngx_str_t                      upstream_name;
    ngx_http_upstream_srv_conf_t  *upstream;

    ngx_uint_t                     max_sessions; /* 0: no limit */

    /* the agent paths the health probes open */
    ngx_str_t                      paths[NGX_HTTP_WHARF_CHECKS];

    /* set in the master by ngx_http_wharf_init_zone() */
    ngx_http_wharf_node_t         *node;

    /* process-local: each nginx worker process has its own copy */
    ngx_http_wharf_probe_t        *probe[NGX_HTTP_WHARF_CHECKS];
    ngx_http_wharf_token_t         token;

    /* where the directive is, for errors found after parsing */
    u_char                        *file_name;
    ngx_uint_t                     line;

    /* a live worker: this process's copy (ngx_http_wharf_live.c) */
    ngx_http_wharf_peer_t         *peer;
} ngx_http_wharf_worker_t;


/* a live worker as read from a PUT body or the state file */

typedef struct {
    ngx_str_t                      name;
    ngx_str_t                      strings[NGX_HTTP_WHARF_SPEC_STRINGS];
    ngx_uint_t                     max_sessions;
    socklen_t                      socklen;
    ngx_sockaddr_t                 sockaddr;
} ngx_http_wharf_entry_t;


/* this process's live workers (ngx_http_wharf_live.c) */

typedef struct {
    ngx_rbtree_t                   rbtree;    /* by name */
    ngx_rbtree_node_t              sentinel;
    ngx_queue_t                    peers;     /* by name */
    ngx_uint_t                     npeers;

    ngx_uint_t                     seen;      /* sh->changes, when synced */
    ngx_uint_t                     stamp;

    /* sessions of live workers here, and the look for removals */
    ngx_uint_t                     sessions;
    ngx_event_t                    poll;
} ngx_http_wharf_live_t;


typedef struct ngx_http_wharf_cache_s  ngx_http_wharf_cache_t;
typedef struct ngx_http_wharf_poll_s  ngx_http_wharf_poll_t;


/* a wharf_fleet_peer */

typedef struct {
    ngx_str_t                      url;       /* as written */
    ngx_str_t                      host;      /* the Host header */
    ngx_str_t                      uri;
    ngx_addr_t                     addr;
    uint32_t                       crc;       /* of url */

    /* process-local: the poll in flight, if any */
    ngx_http_wharf_poll_t         *poll;
} ngx_http_wharf_fleet_peer_t;


typedef struct {
    ngx_array_t                    workers;   /* ngx_http_wharf_worker_t * */
    ngx_hash_t                     hash;      /* name -> worker */

    /* only while the configuration is read */
    ngx_hash_keys_arrays_t        *keys;

    ngx_uint_t                     hash_max_size;
    ngx_uint_t                     hash_bucket_size;

    ngx_shm_zone_t                *shm_zone;
    size_t                         zone_size;
    ngx_http_wharf_shctx_t        *sh;
    ngx_slab_pool_t               *shpool;

    ngx_msec_t                     health_timeout;
    ngx_msec_t                     health_interval;

    /* every wharf_auth_public_key's keys, by kid (common/keys.h) */
    struct wharf_keys              verify_keys;

    /* PEM, as read from the file; NUL-terminated */
    ngx_str_t                      private_key;

    time_t                         token_ttl;
    ngx_uint_t                     auth_cache_size;

    /* any location with "wharf_auth on", and its place */
    u_char                        *auth_file;
    ngx_uint_t                     auth_line;

    /* process-local */
    ngx_http_wharf_cache_t        *cache;
    ngx_event_t                    health_timer;
    ngx_http_wharf_token_t         fleet_token;   /* sub "*", read */

    /* $request_uri's index + 1, if the configuration uses it; else 0 */
    ngx_uint_t                     request_uri_index;

    /* live workers: wharf_registry_state, keepalive to them */
    ngx_str_t                      state_file;   /* NUL-terminated */
    ngx_uint_t                     live_keepalive;
    ngx_msec_t                     live_keepalive_timeout;

    /* the cycle being configured: its user, for the state file's folder */
    ngx_cycle_t                   *cycle;

    /* process-local */
    ngx_http_wharf_live_t         *live;
    ngx_http_wharf_token_t         admin_token;   /* sub "*", admin */

    /* the other gateways (ngx_http_wharf_fleet.c) */
    ngx_array_t                   *fleet_peers;   /* fleet_peer_t */
    ngx_msec_t                     fleet_interval;
    ngx_msec_t                     fleet_stale;
    u_char                        *fleet_stale_file;
    ngx_uint_t                     fleet_stale_line;

    /* process-local */
    ngx_event_t                    fleet_timer;

    /* "wharf_splice on" somewhere: its header filter is installed */
    ngx_flag_t                     splice;
} ngx_http_wharf_main_conf_t;


/*
 * A live worker's copy in this nginx worker process, made from the zone's
 * entry (ngx_http_wharf_live_sync()) and replaced when the entry changes.
 * Everything of it is in its own pool, freed when nothing holds it: the
 * registry of this process, a request routed to it, a probe.
 */

struct ngx_http_wharf_peer_s {
    ngx_rbtree_node_t              node;      /* ngx_http_wharf_named_t */
    u_char                         len;
    u_char                         name[WHARF_NAME_MAX];

    ngx_queue_t                    queue;     /* in live->peers, by name */
    ngx_pool_t                    *pool;
    ngx_http_wharf_main_conf_t    *wmcf;

    ngx_http_wharf_worker_t        worker;
    ngx_uint_t                     refs;
    ngx_uint_t                     changed;   /* the entry's, when copied */
    ngx_uint_t                     stamp;     /* seen by the last sync */

    /* the entry's one server, as an upstream{} block of its own */
    ngx_http_upstream_srv_conf_t   upstream;
    ngx_array_t                    servers;
    ngx_http_upstream_server_t     server;
    ngx_addr_t                     addr;
    ngx_sockaddr_t                 sockaddr;

    /* keepalive connections (wharf_live_keepalive) */
    ngx_queue_t                    idle;
    ngx_queue_t                    free;
    ngx_uint_t                     places;

    /* upgraded sessions here, which a removal of the worker ends */
    ngx_queue_t                    sessions;
    ngx_event_t                    end;

    unsigned                       current:1; /* in the registry */
    unsigned                       removed:1; /* gone from the zone */
    unsigned                       pinned:1;  /* counted in wn->refs */
};


/*
 * A WebSocket session with a live worker, in the request's pool: what the
 * client was sent of the tunnel's frames, so that a close frame can be
 * sent where a frame ends (ngx_http_wharf_live_peer.c).
 */

struct ngx_http_wharf_session_s {
    ngx_queue_t                    queue;     /* in the peer's sessions */
    ngx_http_request_t            *request;
    ngx_http_wharf_live_t         *live;
    ngx_send_pt                    send;      /* the connection's own */

    uint64_t                       left;      /* of the frame's payload */
    u_char                         head[14];  /* of the frame's header */
    u_char                         nhead;
    unsigned                       tracking:1;
    unsigned                       linked:1;  /* in the peer's sessions */
};


typedef struct {
    /* the prefixes of every wharf_route in this server, ngx_str_t */
    ngx_array_t                   *prefixes;

    /* in an upstream{} block: wharf_balancer, and where */
    ngx_flag_t                     balancer;
    u_char                        *file_name;
    ngx_uint_t                     line;
} ngx_http_wharf_srv_conf_t;


typedef struct {
    /* wharf_route prefix; data == NULL: no wharf_route here */
    ngx_str_t                      prefix;

    ngx_uint_t                     handler;   /* NGX_HTTP_WHARF_HANDLER_* */
    ngx_uint_t                     check;     /* wharf_health */

    ngx_flag_t                     auth;
    ngx_array_t                   *origins;   /* ngx_str_t; "*": any */
    ngx_uint_t                     pass_headers; /* NGX_HTTP_WHARF_PASS_* */

    /* elsewhere than the module's locations: the subprotocol's token
       goes on as "Authorization: Bearer" (wharf_bearer_subprotocol) */
    ngx_flag_t                     bearer_subprotocol;
    ngx_str_t                      health_backend;
    ngx_str_t                      registry_backend;

    /* proxy_pass to a wharf_balancer upstream: set the upstream's path */
    ngx_flag_t                     balanced;

    /* wharf_splice: an upgraded session's bytes moved by splice(2) */
    ngx_flag_t                     splice;

    /* where wharf_route or the handler is, for errors found at merge */
    u_char                        *file_name;
    ngx_uint_t                     line;
} ngx_http_wharf_loc_conf_t;


typedef enum {
    NGX_HTTP_WHARF_ROUTED = 0,
    NGX_HTTP_WHARF_NOT_FOUND,
    NGX_HTTP_WHARF_INVALID_NAME,
    NGX_HTTP_WHARF_NO_NAME,
    NGX_HTTP_WHARF_NO_PREFIX,
    NGX_HTTP_WHARF_DOT_SEGMENT,
    NGX_HTTP_WHARF_MISMATCH,
    NGX_HTTP_WHARF_INTERNAL
} ngx_http_wharf_result_e;


/*
 * The route of one request, set before the access phase.  One allocation
 * from the request's pool (ngx_http_wharf_ctx_create()), which begins with
 * a cleanup of the request (r->main->cleanup): it ends the request's
 * session, and puts the client's request target back, however the request
 * ends.  Found again by that cleanup even after an internal redirect has
 * cleared the request's module contexts.  Every byte here is in every
 * routed request's pool, hence the bit fields and the union.
 */

typedef struct {
    ngx_http_cleanup_t             cleanup;   /* first: not reset on reroute */

    /*
     * Not reset on reroute either: the live worker this request holds
     * (ngx_http_wharf_live_hold()), released when the request's pool goes,
     * and its session there, which a removal of the worker ends.
     */
    ngx_http_wharf_worker_t       *held;
    ngx_http_wharf_session_t      *session;

    ngx_http_wharf_worker_t       *worker;    /* NULL: not routed */
    ngx_str_t                     *prefix;    /* of the wharf_route */

    ngx_str_t                      name;      /* raw name segment */
    ngx_str_t                      path;      /* $wharf_path */

    ngx_str_t                      sub;       /* $wharf_auth_sub */

    /*
     * A health request has no upstream target, a routed one no health
     * check in progress (its health sub-routes are answered by the module
     * and never swap the target), and a tunnel begins after init_peer has
     * put the target back.
     */
    union {
        void                      *health;    /* a GET /health in progress */
        ngx_http_request_t        *request;   /* whose target is swapped */
        ngx_http_wharf_splice_t   *splice;    /* wharf_splice's tunnel */
    } u;

    /*
     * While the upstream's target is in its place (target), the client's;
     * once init_peer has put it back, the request to the agent with its
     * token, malloc()ed (agent_request) and freed by the cleanup: see
     * ngx_http_wharf_balancer_add_token().
     */
    union {
        ngx_str_t                  unparsed_uri;
        u_char                    *agent_request;
    } saved;

    unsigned                       result:4;  /* ngx_http_wharf_result_e */
    unsigned                       check:2;   /* health sub-route, or NONE */
    unsigned                       kind:2;    /* NGX_HTTP_WHARF_KIND_* */
    unsigned                       bare:1;    /* "/api/workers/NAME" */
    unsigned                       located:1; /* bound by a wharf_route */
    unsigned                       counted:1; /* a live session */
    unsigned                       target:1;  /* unparsed_uri is swapped */
    unsigned                       valid_unparsed_uri:1;
    unsigned                       agent_request:1; /* saved.agent_request */
} ngx_http_wharf_ctx_t;


/*
 * A new context, or one routed again: everything but the cleanup, which
 * stays in the request's list.  Only a context that is not counted is
 * routed again (a counted one is replaced, and its cleanup ends its
 * session), so it holds no agent_request to free.  Inline, for the fuzz
 * target that includes the routing code without the sessions
 * (tests/fuzz/fuzz_ngx_route.c).
 */

static ngx_inline void
ngx_http_wharf_ctx_reset(ngx_http_wharf_ctx_t *ctx)
{
    ngx_memzero(&ctx->worker,
                sizeof(ngx_http_wharf_ctx_t)
                - offsetof(ngx_http_wharf_ctx_t, worker));

    ctx->check = NGX_HTTP_WHARF_CHECK_NONE;
}


/* a question to the local backend (ngx_http_wharf_backend.c) */

typedef struct {
    ngx_http_request_t            *request;   /* the main request */
    ngx_uint_t                     status;    /* the backend's; 0: none */
    const char                    *error;
    ngx_event_t                    timer;
    unsigned                       asked:1;
    unsigned                       pending:1;
} ngx_http_wharf_backend_t;


/* JSON output: a chain of buffers from the request pool */

typedef struct {
    ngx_pool_t                    *pool;
    ngx_chain_t                   *out;
    ngx_chain_t                  **last;
    ngx_buf_t                     *buf;
    ngx_uint_t                     failed;
} ngx_http_wharf_out_t;


/* ngx_http_wharf_module.c */

ngx_http_wharf_worker_t *ngx_http_wharf_find_worker(
    ngx_http_wharf_main_conf_t *wmcf, u_char *name, size_t len);
ngx_http_wharf_worker_t *ngx_http_wharf_find_static(
    ngx_http_wharf_main_conf_t *wmcf, u_char *name, size_t len);
ngx_uint_t ngx_http_wharf_token_valid(ngx_str_t *s, size_t max);
ngx_uint_t ngx_http_wharf_container_valid(ngx_str_t *s);
ngx_uint_t ngx_http_wharf_probe_path_valid(ngx_str_t *path);


/* ngx_http_wharf_route.c */

ngx_int_t ngx_http_wharf_server_rewrite_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_wharf_rewrite_handler(ngx_http_request_t *r);


/* ngx_http_wharf_json.c */

void ngx_http_wharf_out_init(ngx_http_wharf_out_t *out, ngx_pool_t *pool);
void ngx_http_wharf_out_raw(ngx_http_wharf_out_t *out, const void *data,
    size_t len);
#define ngx_http_wharf_out_literal(out, s)                                   \
    ngx_http_wharf_out_raw(out, s, sizeof(s) - 1)
void ngx_http_wharf_out_string(ngx_http_wharf_out_t *out, u_char *data,
    size_t len);
void ngx_http_wharf_out_printf(ngx_http_wharf_out_t *out,
    const char *fmt, ...);
void ngx_http_wharf_out_time(ngx_http_wharf_out_t *out, uint64_t ms);
void ngx_http_wharf_out_result(ngx_http_wharf_out_t *out,
    ngx_http_wharf_result_t *res);
ngx_int_t ngx_http_wharf_out_send(ngx_http_request_t *r,
    ngx_http_wharf_out_t *out, ngx_uint_t status, ngx_str_t *type);
ngx_int_t ngx_http_wharf_send_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *fmt, ...);
ngx_int_t ngx_http_wharf_add_header(ngx_http_request_t *r, const char *key,
    u_char *value, size_t len);
ngx_int_t ngx_http_wharf_check_method(ngx_http_request_t *r);


/* ngx_http_wharf_shm.c */

ngx_int_t ngx_http_wharf_init_zone(ngx_shm_zone_t *shm_zone, void *data);
void ngx_http_wharf_store_result(ngx_http_wharf_main_conf_t *wmcf,
    ngx_http_wharf_worker_t *worker, ngx_uint_t check,
    ngx_http_wharf_result_t *res);
void ngx_http_wharf_load_results(ngx_http_wharf_main_conf_t *wmcf,
    ngx_http_wharf_worker_t *worker, ngx_http_wharf_result_t *res);
ngx_http_wharf_named_t *ngx_http_wharf_named_lookup(ngx_rbtree_t *tree,
    u_char *name, size_t len, uint32_t hash);
void ngx_http_wharf_named_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
ngx_http_wharf_node_t *ngx_http_wharf_node_get_locked(
    ngx_http_wharf_main_conf_t *wmcf, ngx_str_t *name);
ngx_http_wharf_node_t *ngx_http_wharf_node_add_locked(
    ngx_http_wharf_main_conf_t *wmcf, ngx_str_t *name);
void ngx_http_wharf_node_gc_locked(ngx_http_wharf_main_conf_t *wmcf,
    ngx_http_wharf_node_t *wn);
void ngx_http_wharf_round_init(ngx_event_t *ev, ngx_event_handler_pt handler,
    ngx_http_wharf_main_conf_t *wmcf, ngx_log_t *log);
ngx_uint_t ngx_http_wharf_round_claim(ngx_http_wharf_main_conf_t *wmcf,
    ngx_msec_t *next, ngx_msec_t interval);
void ngx_http_wharf_round_wait(ngx_event_t *ev, ngx_msec_t interval);


/* ngx_http_wharf_sessions.c */

ngx_http_wharf_ctx_t *ngx_http_wharf_ctx_create(ngx_http_request_t *r);
ngx_uint_t ngx_http_wharf_is_websocket(ngx_http_request_t *r);

ngx_int_t ngx_http_wharf_precontent_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_wharf_log_handler(ngx_http_request_t *r);


/* ngx_http_wharf_balancer.c */

char *ngx_http_wharf_balancer(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_wharf_balancer_check(ngx_conf_t *cf);
ngx_uint_t ngx_http_wharf_balancer_is(ngx_http_upstream_srv_conf_t *us);
ngx_int_t ngx_http_wharf_balancer_location(ngx_conf_t *cf,
    ngx_http_wharf_loc_conf_t *wlcf);
ngx_int_t ngx_http_wharf_set_target(ngx_http_request_t *r,
    ngx_http_wharf_ctx_t *ctx);
void ngx_http_wharf_restore_target(ngx_http_wharf_ctx_t *ctx);


/* ngx_http_wharf_auth.c */

ngx_int_t ngx_http_wharf_access_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_wharf_auth_init_process(ngx_cycle_t *cycle,
    ngx_http_wharf_main_conf_t *wmcf);
char *ngx_http_wharf_auth_check_keys(ngx_conf_t *cf,
    ngx_http_wharf_main_conf_t *wmcf);
char *ngx_http_wharf_public_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_wharf_upstream_token(ngx_http_wharf_main_conf_t *wmcf,
    ngx_http_wharf_worker_t *worker, ngx_log_t *log, ngx_str_t *value);
ngx_int_t ngx_http_wharf_fleet_token(ngx_http_wharf_main_conf_t *wmcf,
    ngx_log_t *log, ngx_str_t *value);
ngx_int_t ngx_http_wharf_admin_token(ngx_http_wharf_main_conf_t *wmcf,
    ngx_log_t *log, ngx_str_t *value);
ngx_int_t ngx_http_wharf_swap_credentials(ngx_http_request_t *r,
    ngx_str_t *token, ngx_uint_t add);
ngx_int_t ngx_http_wharf_strip_query_token(ngx_http_request_t *r);


/* ngx_http_wharf_module.c */

ngx_int_t ngx_http_wharf_read_key_file(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *out);


/* ngx_http_wharf_exchange.c */

void ngx_http_wharf_exchange_start(ngx_http_wharf_exchange_t *x,
    ngx_addr_t *addr, ngx_log_t *log);
void ngx_http_wharf_exchange_close(ngx_http_wharf_exchange_t *x);


/* ngx_http_wharf_probe.c */

ngx_int_t ngx_http_wharf_probe_start(ngx_http_wharf_main_conf_t *wmcf,
    ngx_http_wharf_worker_t *worker, ngx_uint_t check,
    ngx_http_wharf_waiter_t *w, ngx_log_t *log);
ngx_int_t ngx_http_wharf_probe_init_process(ngx_cycle_t *cycle,
    ngx_http_wharf_main_conf_t *wmcf);
const char *ngx_http_wharf_check_name(ngx_uint_t check);
uint64_t ngx_http_wharf_now_us(void);


/* ngx_http_wharf_scrub.c */

ngx_int_t ngx_http_wharf_scrub_post_read_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_wharf_scrub_log_handler(ngx_http_request_t *r);


/* ngx_http_wharf_health.c */

ngx_int_t ngx_http_wharf_worker_health_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_wharf_health_handler(ngx_http_request_t *r);


/* ngx_http_wharf_backend.c */

ngx_int_t ngx_http_wharf_backend_ask(ngx_http_request_t *r,
    ngx_http_wharf_backend_t *b, ngx_str_t *uri, ngx_uint_t method,
    ngx_str_t *token);
void ngx_http_wharf_backend_cancel(ngx_http_wharf_backend_t *b);
ngx_uint_t ngx_http_wharf_backend_ok(ngx_http_wharf_backend_t *b);
void ngx_http_wharf_backend_out(ngx_http_wharf_out_t *out,
    ngx_http_wharf_backend_t *b, const char *good, const char *bad);


/* ngx_http_wharf_splice.c */

char *ngx_http_wharf_splice_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_wharf_splice_init(ngx_conf_t *cf);


/* ngx_http_wharf_registry.c */

ngx_int_t ngx_http_wharf_read_only(ngx_http_request_t *r);
ngx_int_t ngx_http_wharf_registry_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_wharf_terminals_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_wharf_metrics_handler(ngx_http_request_t *r);

/* ngx_http_wharf_fleet.c */

char *ngx_http_wharf_fleet_peer(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_wharf_fleet_time(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_wharf_fleet_init_conf(ngx_conf_t *cf,
    ngx_http_wharf_main_conf_t *wmcf);
void ngx_http_wharf_fleet_init_zone(ngx_http_wharf_main_conf_t *wmcf);
ngx_int_t ngx_http_wharf_fleet_init_process(ngx_cycle_t *cycle,
    ngx_http_wharf_main_conf_t *wmcf);
ngx_int_t ngx_http_wharf_fleet_handler(ngx_http_request_t *r);
void ngx_http_wharf_fleet_sessions(ngx_http_wharf_main_conf_t *wmcf,
    ngx_http_wharf_node_t *wn, ngx_atomic_uint_t *sessions);
void ngx_http_wharf_fleet_metrics(ngx_http_wharf_main_conf_t *wmcf,
    ngx_http_wharf_out_t *out);
void ngx_http_wharf_registry_entry(ngx_http_request_t *r,
    ngx_http_wharf_out_t *out, ngx_http_wharf_main_conf_t *wmcf,
    ngx_http_wharf_worker_t *worker);


/* ngx_http_wharf_live.c */

ngx_int_t ngx_http_wharf_live_init_process(ngx_cycle_t *cycle,
    ngx_http_wharf_main_conf_t *wmcf);
void ngx_http_wharf_live_sync(ngx_http_wharf_main_conf_t *wmcf);
ngx_http_wharf_worker_t *ngx_http_wharf_live_find(
    ngx_http_wharf_main_conf_t *wmcf, u_char *name, size_t len);
ngx_http_wharf_worker_t **ngx_http_wharf_all_workers(
    ngx_http_wharf_main_conf_t *wmcf, ngx_pool_t *pool, ngx_uint_t *n);
ngx_int_t ngx_http_wharf_live_hold(ngx_http_request_t *r,
    ngx_http_wharf_ctx_t *ctx);
ngx_http_wharf_worker_t *ngx_http_wharf_worker_hold(
    ngx_http_wharf_worker_t *worker);
void ngx_http_wharf_worker_release(ngx_http_wharf_worker_t *worker);
ngx_int_t ngx_http_wharf_live_session(ngx_http_request_t *r,
    ngx_http_wharf_ctx_t *ctx);
void ngx_http_wharf_live_request_end(ngx_http_wharf_ctx_t *ctx);
void ngx_http_wharf_live_session_unlink(ngx_http_wharf_session_t *s);


/* ngx_http_wharf_live_store.c */

#define NGX_HTTP_WHARF_LIVE_CREATED        1
#define NGX_HTTP_WHARF_LIVE_CHANGED        2
#define NGX_HTTP_WHARF_LIVE_STATIC         3
#define NGX_HTTP_WHARF_LIVE_NOT_FOUND      4
#define NGX_HTTP_WHARF_LIVE_FULL           5
#define NGX_HTTP_WHARF_LIVE_NOT_SAVED      6

ngx_int_t ngx_http_wharf_entry_parse(ngx_pool_t *pool, void *json,
    ngx_str_t *name, ngx_http_wharf_entry_t *e, u_char *err, size_t len);
ngx_int_t ngx_http_wharf_live_put(ngx_http_wharf_main_conf_t *wmcf,
    ngx_http_wharf_entry_t *e, ngx_log_t *log, u_char *err, size_t len);
ngx_int_t ngx_http_wharf_live_delete(ngx_http_wharf_main_conf_t *wmcf,
    ngx_str_t *name, ngx_log_t *log, u_char *err, size_t len);
ngx_int_t ngx_http_wharf_live_init_zone(ngx_shm_zone_t *shm_zone,
    ngx_http_wharf_main_conf_t *wmcf, ngx_http_wharf_main_conf_t *owmcf);
ngx_int_t ngx_http_wharf_live_link(ngx_http_wharf_main_conf_t *wmcf,
    ngx_http_wharf_entry_t *e);
u_char *ngx_http_wharf_spec_string(ngx_http_wharf_spec_t *spec,
    ngx_uint_t i);


/* ngx_http_wharf_live_state.c */

ngx_int_t ngx_http_wharf_state_snapshot_locked(
    ngx_http_wharf_main_conf_t *wmcf, ngx_http_wharf_out_t *out);
ngx_int_t ngx_http_wharf_state_save(ngx_http_wharf_main_conf_t *wmcf,
    ngx_http_wharf_out_t *out, ngx_uint_t changes, ngx_log_t *log,
    u_char *err, size_t len);
ngx_int_t ngx_http_wharf_state_load(ngx_http_wharf_main_conf_t *wmcf,
    ngx_pool_t *pool, ngx_log_t *log, ngx_uint_t *dropped);
ngx_int_t ngx_http_wharf_state_rewrite(ngx_http_wharf_main_conf_t *wmcf,
    ngx_log_t *log);
ngx_int_t ngx_http_wharf_state_dir(ngx_http_wharf_main_conf_t *wmcf,
    ngx_log_t *log);


/* ngx_http_wharf_live_api.c */

ngx_int_t ngx_http_wharf_live_handler(ngx_http_request_t *r,
    ngx_http_wharf_ctx_t *ctx);


/* ngx_http_wharf_live_peer.c */

ngx_int_t ngx_http_wharf_live_init_peer(ngx_http_request_t *r,
    ngx_http_wharf_worker_t *worker);
void ngx_http_wharf_live_close_idle(ngx_http_wharf_peer_t *peer);
void ngx_http_wharf_live_move_idle(ngx_http_wharf_peer_t *from,
    ngx_http_wharf_peer_t *to);
void ngx_http_wharf_live_track(ngx_http_request_t *r,
    ngx_http_wharf_session_t *s);
void ngx_http_wharf_live_untrack(ngx_http_wharf_session_t *s);
void ngx_http_wharf_live_end_session(ngx_http_wharf_session_t *s);


extern ngx_module_t  ngx_http_wharf_module;


#endif /* _NGX_HTTP_WHARF_MODULE_H_INCLUDED_ */
