
/*
 * wharf: live workers as each nginx worker process sees them.
 *
 * The zone holds the live entries (ngx_http_wharf_live_store.c); each
 * process keeps its own copy of each, a worker of its own with an
 * upstream of its own (ngx_http_wharf_peer_t), so that routing, auth,
 * sessions, probes and the registry treat a live worker as they treat a
 * wharf_worker.  A copy is made when the process first looks after a
 * change: every lookup compares sh->changes with the last change this
 * process saw, one read of shared memory, and only a difference makes it
 * walk the zone, under its mutex, for the entries that changed (each has
 * the change number it was made at).  So a change is seen by every
 * process at its next request, with nothing reloaded.
 *
 * A copy is replaced, not changed, when its entry changes, and dropped
 * when its entry goes; it is freed once nothing holds it: the registry of
 * this process, a request routed to it (ctx->held), a probe.  A copy that
 * something other than the registry holds pins its node in the zone
 * (wn->refs), so that the node outlives it; a copy that only the registry
 * holds does not: a removal frees the node, and its room, at once, and
 * this process's copy, stale, goes at its next look (nothing reads a
 * copy's node but after a sync, or while holding it).  A hold checks,
 * under the zone's mutex, that the copy's entry is still the zone's.  A replaced copy hands its sessions and, if the
 * address stays, its keepalive connections to the new one; a dropped one
 * closes them, and ends its sessions (ngx_http_wharf_live_peer.c).  A
 * process that has sessions of live workers looks for changes every
 * NGX_HTTP_WHARF_LIVE_POLL ms even without requests, so that a removal
 * ends them promptly everywhere.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_wharf_module.h"


static ngx_http_wharf_peer_t *ngx_http_wharf_peer_create(
    ngx_http_wharf_main_conf_t *wmcf, ngx_http_wharf_node_t *wn);
static void ngx_http_wharf_peer_link(ngx_http_wharf_live_t *live,
    ngx_http_wharf_peer_t *peer);
static void ngx_http_wharf_peer_unlink(ngx_http_wharf_live_t *live,
    ngx_http_wharf_peer_t *peer);
static void ngx_http_wharf_peer_free(ngx_http_wharf_peer_t *peer);
static void ngx_http_wharf_peer_end_handler(ngx_event_t *ev);
static void ngx_http_wharf_live_poll_handler(ngx_event_t *ev);
static void ngx_http_wharf_live_exit(void *data);
static void ngx_http_wharf_live_request_freed(void *data);
static ngx_int_t ngx_http_wharf_peer_pin(ngx_http_wharf_peer_t *peer);
static void ngx_http_wharf_peer_unpin(ngx_http_wharf_peer_t *peer);


ngx_int_t
ngx_http_wharf_live_init_process(ngx_cycle_t *cycle,
    ngx_http_wharf_main_conf_t *wmcf)
{
    ngx_pool_cleanup_t     *cln;
    ngx_http_wharf_live_t  *live;

    if (wmcf->sh == NULL) {
        return NGX_OK;
    }

    live = ngx_pcalloc(cycle->pool, sizeof(ngx_http_wharf_live_t));
    if (live == NULL) {
        return NGX_ERROR;
    }

    ngx_rbtree_init(&live->rbtree, &live->sentinel,
                    ngx_http_wharf_named_insert_value);
    ngx_queue_init(&live->peers);

    /* nothing seen yet: the first lookup copies every entry */

    live->seen = (ngx_uint_t) -1;

    live->poll.handler = ngx_http_wharf_live_poll_handler;
    live->poll.data = wmcf;
    live->poll.log = cycle->log;
    live->poll.cancelable = 1;

    cln = ngx_pool_cleanup_add(cycle->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_wharf_live_exit;
    cln->data = wmcf;

    wmcf->live = live;

    return NGX_OK;
}


/*
 * This process's copies as the zone's entries are: new ones made, changed
 * ones replaced, removed ones dropped.
 */

void
ngx_http_wharf_live_sync(ngx_http_wharf_main_conf_t *wmcf)
{
    ngx_uint_t              changes, stamp;
    ngx_queue_t            *q, *next, replaced;
    ngx_rbtree_node_t      *node, *root, *sentinel;
    ngx_http_wharf_live_t  *live;
    ngx_http_wharf_node_t  *wn;
    ngx_http_wharf_peer_t  *peer, *np;

    live = wmcf->live;

    if (live == NULL || live->seen == wmcf->sh->changes) {
        return;
    }

    stamp = ++live->stamp;
    ngx_queue_init(&replaced);

    ngx_shmtx_lock(&wmcf->shpool->mutex);

    changes = wmcf->sh->changes;

    root = wmcf->sh->rbtree.root;
    sentinel = wmcf->sh->rbtree.sentinel;

    node = (root != sentinel) ? ngx_rbtree_min(root, sentinel) : NULL;

    for ( /* void */ ; node; node = ngx_rbtree_next(&wmcf->sh->rbtree, node))
    {
        wn = (ngx_http_wharf_node_t *) node;

        if (wn->live == NULL) {
            continue;
        }

        peer = (ngx_http_wharf_peer_t *)
                   ngx_http_wharf_named_lookup(&live->rbtree, wn->name,
                                               wn->len, wn->node.key);

        if (peer && peer->changed == wn->changed) {
            peer->stamp = stamp;
            continue;
        }

        np = ngx_http_wharf_peer_create(wmcf, wn);

        if (np == NULL) {

            /* the copy it has, if any, still serves */

            if (peer) {
                peer->stamp = stamp;
            }

            ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                          "wharf: no memory for live worker \"%*s\"",
                          (size_t) wn->len, wn->name);
            continue;
        }

        np->stamp = stamp;

        if (peer) {

            /*
             * Its sessions are the worker's still, and so are its kept
             * connections if the address stays.
             */

            ngx_queue_add(&np->sessions, &peer->sessions);
            ngx_queue_init(&peer->sessions);

            if (np->addr.socklen == peer->addr.socklen
                && ngx_memcmp(&np->sockaddr, &peer->sockaddr,
                              np->addr.socklen)
                   == 0)
            {
                ngx_http_wharf_live_move_idle(peer, np);
            }

            ngx_http_wharf_peer_unlink(live, peer);
            ngx_queue_insert_tail(&replaced, &peer->queue);
        }

        ngx_http_wharf_peer_link(live, np);
    }

    ngx_shmtx_unlock(&wmcf->shpool->mutex);

    /* the copies of entries that are gone */

    for (q = ngx_queue_head(&live->peers);
         q != ngx_queue_sentinel(&live->peers);
         q = next)
    {
        next = ngx_queue_next(q);
        peer = ngx_queue_data(q, ngx_http_wharf_peer_t, queue);

        if (peer->stamp == stamp) {
            continue;
        }

        ngx_http_wharf_peer_unlink(live, peer);
        peer->removed = 1;

        if (!ngx_queue_empty(&peer->sessions)) {
            peer->refs++;
            ngx_post_event(&peer->end, &ngx_posted_events);
        }

        ngx_http_wharf_worker_release(&peer->worker);
    }

    while (!ngx_queue_empty(&replaced)) {
        q = ngx_queue_head(&replaced);
        ngx_queue_remove(q);

        peer = ngx_queue_data(q, ngx_http_wharf_peer_t, queue);
        ngx_http_wharf_worker_release(&peer->worker);
    }

    live->seen = changes;
}


/* a live worker by name, as this process sees it now */

ngx_http_wharf_worker_t *
ngx_http_wharf_live_find(ngx_http_wharf_main_conf_t *wmcf, u_char *name,
    size_t len)
{
    ngx_http_wharf_peer_t  *peer;

    if (wmcf->live == NULL) {
        return NULL;
    }

    ngx_http_wharf_live_sync(wmcf);

    peer = (ngx_http_wharf_peer_t *)
               ngx_http_wharf_named_lookup(&wmcf->live->rbtree, name, len,
                                           ngx_crc32_short(name, len));

    return peer ? &peer->worker : NULL;
}


/*
 * Every worker, wharf_worker ones in configuration order, then live ones
 * by name: for an answer made at once, without holding them.
 */

ngx_http_wharf_worker_t **
ngx_http_wharf_all_workers(ngx_http_wharf_main_conf_t *wmcf, ngx_pool_t *pool,
    ngx_uint_t *n)
{
    ngx_uint_t                 i, total;
    ngx_queue_t               *q;
    ngx_http_wharf_peer_t     *peer;
    ngx_http_wharf_worker_t  **all;

    total = wmcf->workers.nelts;

    if (wmcf->live) {
        ngx_http_wharf_live_sync(wmcf);
        total += wmcf->live->npeers;
    }

    all = ngx_palloc(pool, (total + 1) * sizeof(ngx_http_wharf_worker_t *));
    if (all == NULL) {
        return NULL;
    }

    ngx_memcpy(all, wmcf->workers.elts,
               wmcf->workers.nelts * sizeof(ngx_http_wharf_worker_t *));

    i = wmcf->workers.nelts;

    if (wmcf->live) {
        for (q = ngx_queue_head(&wmcf->live->peers);
             q != ngx_queue_sentinel(&wmcf->live->peers);
             q = ngx_queue_next(q))
        {
            peer = ngx_queue_data(q, ngx_http_wharf_peer_t, queue);
            all[i++] = &peer->worker;
        }
    }

    *n = i;

    return all;
}


/*
 * From the routing (ngx_http_wharf_route.c), once ctx->worker is found: a
 * live worker is held until the request is freed, whatever changes
 * meanwhile.  Released by a cleanup of the request's pool, which nginx
 * runs after the request is logged (its request cleanups run before:
 * the access log and the log phase still read the worker, its name, its
 * node).  NGX_DECLINED: the worker is gone (removed meanwhile, by another
 * process); NGX_ERROR when memory runs out.
 */

ngx_int_t
ngx_http_wharf_live_hold(ngx_http_request_t *r, ngx_http_wharf_ctx_t *ctx)
{
    ngx_uint_t                   i;
    ngx_pool_cleanup_t          *cln;
    ngx_http_wharf_main_conf_t  *wmcf;

    if (ctx->worker == NULL || ctx->worker->peer == NULL
        || ctx->held == ctx->worker)
    {
        return NGX_OK;
    }

    if (ctx->held == NULL) {

        /* the first held by this context: one cleanup for all of them */

        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }

        cln->handler = ngx_http_wharf_live_request_freed;
        cln->data = ctx;
    }

    ngx_http_wharf_worker_release(ctx->held);
    ctx->held = NULL;

    /*
     * Another process changed or removed the worker since this one looked:
     * the worker as the zone has it now, if any.
     */

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_wharf_module);

    for (i = 0; i < 2 && ctx->worker && ctx->worker->peer; i++) {

        ctx->held = ngx_http_wharf_worker_hold(ctx->worker);

        if (ctx->held) {
            return NGX_OK;
        }

        ngx_http_wharf_live_sync(wmcf);
        ctx->worker = ngx_http_wharf_find_worker(wmcf, ctx->name.data,
                                                 ctx->name.len);
    }

    return (ctx->worker && ctx->worker->peer == NULL) ? NGX_OK
                                                       : NGX_DECLINED;
}


static void
ngx_http_wharf_live_request_freed(void *data)
{
    ngx_http_wharf_ctx_t *ctx = data;

    ngx_http_wharf_worker_release(ctx->held);
    ctx->held = NULL;
}


/*
 * Holds a worker: NULL if it is a live worker whose entry is no longer the
 * zone's (changed or removed by another process since this one looked).
 */

ngx_http_wharf_worker_t *
ngx_http_wharf_worker_hold(ngx_http_wharf_worker_t *worker)
{
    ngx_http_wharf_peer_t  *peer;

    if (worker == NULL || worker->peer == NULL) {
        return worker;
    }

    peer = worker->peer;

    if (!peer->pinned && ngx_http_wharf_peer_pin(peer) != NGX_OK) {
        return NULL;
    }

    peer->refs++;

    return worker;
}


void
ngx_http_wharf_worker_release(ngx_http_wharf_worker_t *worker)
{
    ngx_http_wharf_peer_t  *peer;

    if (worker == NULL || worker->peer == NULL) {
        return;
    }

    peer = worker->peer;

    peer->refs--;

    /* nothing but the registry holds it: its node is free to go */

    if (peer->pinned && peer->refs <= peer->current) {
        ngx_http_wharf_peer_unpin(peer);
    }

    if (peer->refs == 0) {
        ngx_http_wharf_peer_free(peer);
    }
}


/* the copy pins its node, if its entry is still the zone's */

static ngx_int_t
ngx_http_wharf_peer_pin(ngx_http_wharf_peer_t *peer)
{
    ngx_uint_t                   ok;
    ngx_http_wharf_node_t       *wn;
    ngx_http_wharf_main_conf_t  *wmcf;

    wmcf = peer->wmcf;

    ngx_shmtx_lock(&wmcf->shpool->mutex);

    wn = (ngx_http_wharf_node_t *)
             ngx_http_wharf_named_lookup(&wmcf->sh->rbtree, peer->name,
                                         peer->len, peer->node.key);

    ok = (wn == peer->worker.node && wn->live
          && wn->changed == peer->changed);

    if (ok) {
        wn->refs++;
        peer->pinned = 1;
    }

    ngx_shmtx_unlock(&wmcf->shpool->mutex);

    return ok ? NGX_OK : NGX_DECLINED;
}


static void
ngx_http_wharf_peer_unpin(ngx_http_wharf_peer_t *peer)
{
    ngx_http_wharf_node_t       *wn;
    ngx_http_wharf_main_conf_t  *wmcf;

    wmcf = peer->wmcf;
    wn = peer->worker.node;

    ngx_shmtx_lock(&wmcf->shpool->mutex);

    wn->refs--;
    ngx_http_wharf_node_gc_locked(wmcf, wn);

    ngx_shmtx_unlock(&wmcf->shpool->mutex);

    peer->pinned = 0;
}


/*
 * A WebSocket session with a live worker (precontent phase, once it is
 * counted): listed with its worker, so that removing the worker ends it.
 */

ngx_int_t
ngx_http_wharf_live_session(ngx_http_request_t *r, ngx_http_wharf_ctx_t *ctx)
{
    ngx_http_wharf_live_t     *live;
    ngx_http_wharf_peer_t     *peer;
    ngx_http_wharf_session_t  *s;

    peer = ctx->worker->peer;
    live = peer->wmcf->live;

    s = ngx_pcalloc(r->pool, sizeof(ngx_http_wharf_session_t));
    if (s == NULL) {
        return NGX_ERROR;
    }

    s->request = r;
    s->live = live;

    ngx_http_wharf_live_track(r, s);

    ngx_queue_insert_tail(&peer->sessions, &s->queue);
    s->linked = 1;

    ctx->session = s;
    live->sessions++;

    if (!live->poll.timer_set) {
        ngx_add_timer(&live->poll, NGX_HTTP_WHARF_LIVE_POLL);
    }

    return NGX_OK;
}


/* the request's cleanup (ngx_http_wharf_sessions.c): its session ends */

void
ngx_http_wharf_live_request_end(ngx_http_wharf_ctx_t *ctx)
{
    if (ctx->session) {
        ngx_http_wharf_live_session_unlink(ctx->session);
        ctx->session = NULL;
    }
}


/* a session out of its worker's list: it ends, or is ended */

void
ngx_http_wharf_live_session_unlink(ngx_http_wharf_session_t *s)
{
    ngx_http_wharf_live_untrack(s);

    if (s->linked) {
        ngx_queue_remove(&s->queue);
        s->linked = 0;
        s->live->sessions--;
    }
}


/*
 * A copy of the zone's entry, in a pool of its own; the zone's mutex is
 * held (the entry may not change while it is read).
 */

static ngx_http_wharf_peer_t *
ngx_http_wharf_peer_create(ngx_http_wharf_main_conf_t *wmcf,
    ngx_http_wharf_node_t *wn)
{
    u_char                   *p;
    ngx_uint_t                k;
    ngx_str_t                 s[NGX_HTTP_WHARF_SPEC_STRINGS];
    ngx_pool_t               *pool;
    ngx_http_wharf_spec_t    *spec;
    ngx_http_wharf_peer_t    *peer;
    ngx_http_wharf_worker_t  *worker;

    spec = wn->live;

    pool = ngx_create_pool(1024, ngx_cycle->log);
    if (pool == NULL) {
        return NULL;
    }

    peer = ngx_pcalloc(pool, sizeof(ngx_http_wharf_peer_t));
    if (peer == NULL) {
        goto failed;
    }

    /* the name and the strings, each NUL-terminated: the name is a C */
    /* string where the module signs the agent's token */

    p = ngx_pnalloc(pool, wn->len + 1);
    if (p == NULL) {
        goto failed;
    }

    peer->worker.name.data = p;
    peer->worker.name.len = wn->len;
    p = ngx_cpymem(p, wn->name, wn->len);
    *p = '\0';

    p = spec->data;

    for (k = 0; k < NGX_HTTP_WHARF_SPEC_STRINGS; k++) {
        s[k].len = spec->len[k];
        s[k].data = ngx_pnalloc(pool, s[k].len + 1);

        if (s[k].data == NULL) {
            goto failed;
        }

        ngx_memcpy(s[k].data, p, s[k].len);
        s[k].data[s[k].len] = '\0';
        p += s[k].len;
    }

    peer->pool = pool;
    peer->wmcf = wmcf;
    peer->node.key = wn->node.key;
    peer->len = wn->len;
    ngx_memcpy(peer->name, wn->name, wn->len);
    peer->changed = wn->changed;
    peer->refs = 1;

    worker = &peer->worker;

    worker->container = s[NGX_HTTP_WHARF_SPEC_CONTAINER];
    worker->paths[NGX_HTTP_WHARF_CHECK_TERMINAL] =
                                             s[NGX_HTTP_WHARF_SPEC_TERMINAL];
    worker->paths[NGX_HTTP_WHARF_CHECK_WEBSOCKET] =
                                            s[NGX_HTTP_WHARF_SPEC_WEBSOCKET];
    worker->max_sessions = spec->max_sessions;
    worker->upstream_name = s[NGX_HTTP_WHARF_SPEC_ADDR];
    worker->node = wn;
    worker->peer = peer;

    /*
     * The entry's address as the one server of an upstream{} block of the
     * copy's own, for everything that reads a worker's upstream: probes,
     * the registry, $wharf_upstream (an address, so "proxy_pass
     * http://$wharf_upstream..." reaches a live worker too).  The
     * balancer does not use it to connect: ngx_http_wharf_live_peer.c.
     */

    ngx_memcpy(&peer->sockaddr, &spec->sockaddr, spec->socklen);

    peer->addr.sockaddr = &peer->sockaddr.sockaddr;
    peer->addr.socklen = spec->socklen;
    peer->addr.name = s[NGX_HTTP_WHARF_SPEC_ADDR];

    peer->server.name = s[NGX_HTTP_WHARF_SPEC_ADDR];
    peer->server.addrs = &peer->addr;
    peer->server.naddrs = 1;
    peer->server.weight = 1;

    peer->servers.elts = &peer->server;
    peer->servers.nelts = 1;
    peer->servers.size = sizeof(ngx_http_upstream_server_t);
    peer->servers.nalloc = 1;
    peer->servers.pool = pool;

    peer->upstream.host = s[NGX_HTTP_WHARF_SPEC_ADDR];
    peer->upstream.servers = &peer->servers;

    worker->upstream = &peer->upstream;

    ngx_queue_init(&peer->idle);
    ngx_queue_init(&peer->free);
    ngx_queue_init(&peer->sessions);

    peer->end.handler = ngx_http_wharf_peer_end_handler;
    peer->end.data = peer;
    peer->end.log = ngx_cycle->log;

    return peer;

failed:

    ngx_destroy_pool(pool);

    return NULL;
}


/* into the registry of this process: the tree, and the list by name */

static void
ngx_http_wharf_peer_link(ngx_http_wharf_live_t *live,
    ngx_http_wharf_peer_t *peer)
{
    ngx_queue_t            *q;
    ngx_http_wharf_peer_t  *p;

    ngx_rbtree_insert(&live->rbtree, &peer->node);

    for (q = ngx_queue_last(&live->peers);
         q != ngx_queue_sentinel(&live->peers);
         q = ngx_queue_prev(q))
    {
        p = ngx_queue_data(q, ngx_http_wharf_peer_t, queue);

        if (ngx_memn2cmp(p->worker.name.data, peer->worker.name.data,
                         p->worker.name.len, peer->worker.name.len)
            < 0)
        {
            break;
        }
    }

    /* after q: the last one before it by name, or the sentinel */

    ngx_queue_insert_after(q, &peer->queue);

    peer->current = 1;
    live->npeers++;
}


/* out of the registry; its idle connections are closed */

static void
ngx_http_wharf_peer_unlink(ngx_http_wharf_live_t *live,
    ngx_http_wharf_peer_t *peer)
{
    ngx_rbtree_delete(&live->rbtree, &peer->node);
    ngx_queue_remove(&peer->queue);

    peer->current = 0;
    live->npeers--;

    ngx_http_wharf_live_close_idle(peer);
}


/* nothing holds the copy any more */

static void
ngx_http_wharf_peer_free(ngx_http_wharf_peer_t *peer)
{
    ngx_http_wharf_live_close_idle(peer);

    if (peer->pinned) {
        ngx_http_wharf_peer_unpin(peer);
    }

    if (peer->worker.token.data) {
        ngx_free(peer->worker.token.data);
    }

    ngx_destroy_pool(peer->pool);
}


/* a removed worker's sessions end, from the event loop */

static void
ngx_http_wharf_peer_end_handler(ngx_event_t *ev)
{
    ngx_queue_t               *q;
    ngx_http_wharf_peer_t     *peer;
    ngx_http_wharf_session_t  *s;

    peer = ev->data;

    while (!ngx_queue_empty(&peer->sessions)) {
        q = ngx_queue_head(&peer->sessions);
        s = ngx_queue_data(q, ngx_http_wharf_session_t, queue);

        ngx_http_wharf_live_end_session(s);
    }

    ngx_http_wharf_worker_release(&peer->worker);
}


static void
ngx_http_wharf_live_poll_handler(ngx_event_t *ev)
{
    ngx_http_wharf_main_conf_t  *wmcf = ev->data;

    if (ngx_quit || ngx_terminate) {
        return;
    }

    ngx_http_wharf_live_sync(wmcf);

    if (wmcf->live->sessions) {
        ngx_add_timer(ev, NGX_HTTP_WHARF_LIVE_POLL);
    }
}


/*
 * The process exits (its cycle pool goes): the copies let go of their
 * nodes, so that the zone may free them once no process has one.  Their
 * connections are left to the exit: nginx has closed the idle ones
 * already on a graceful shutdown (they are c->idle).
 */

static void
ngx_http_wharf_live_exit(void *data)
{
    ngx_http_wharf_main_conf_t  *wmcf = data;

    ngx_queue_t            *q;
    ngx_http_wharf_peer_t  *peer;

    while (!ngx_queue_empty(&wmcf->live->peers)) {
        q = ngx_queue_head(&wmcf->live->peers);
        ngx_queue_remove(q);

        peer = ngx_queue_data(q, ngx_http_wharf_peer_t, queue);

        ngx_queue_init(&peer->idle);
        ngx_http_wharf_peer_free(peer);
    }
}
