
/*
 * wharf: the shared zone.
 *
 * Every nginx worker process counts sessions and requests, and records
 * probe results, in one zone, so that any process answers for all of them.
 * The zone keeps its contents across "nginx -s reload" as long as its size
 * does not change: nginx hands the new configuration the zone of the old
 * one, and ngx_http_wharf_init_zone() then finds each worker's node by
 * name.  A request that opened a session before the reload holds a pointer
 * to its node, and decrements that very node when it ends, whichever
 * configuration is current by then.
 *
 * A live worker (PUT /api/workers/NAME) has a node too, found by the same
 * name, with its entry (ngx_http_wharf_spec_t) hung on it: its counters
 * and health are kept the same way, and a live worker that becomes a
 * wharf_worker, or the reverse, keeps them.  Such a node is freed once
 * nothing needs it: no entry, no copy in any process
 * (ngx_http_wharf_peer_t, counted in refs), no sessions, and no
 * wharf_worker of the current or the previous configuration.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_wharf_module.h"


static ngx_uint_t ngx_http_wharf_node_unused(ngx_http_wharf_shctx_t *sh,
    ngx_http_wharf_node_t *wn);
static void ngx_http_wharf_sweep(ngx_http_wharf_main_conf_t *wmcf);
static ngx_uint_t ngx_http_wharf_node_idle(ngx_http_wharf_node_t *wn);


/*
 * Runs in the master (and in "nginx -t"), once per configuration loaded;
 * data is the previous configuration's main conf when the zone is reused.
 * Old worker processes may be running meanwhile, so the tree is changed
 * under the zone's mutex.
 */

ngx_int_t
ngx_http_wharf_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_wharf_main_conf_t  *owmcf = data;

    size_t                       len;
    ngx_uint_t                   i;
    ngx_http_wharf_node_t       *wn;
    ngx_http_wharf_worker_t    **wp, *worker;
    ngx_http_wharf_main_conf_t  *wmcf;

    wmcf = shm_zone->data;

    if (owmcf) {
        wmcf->sh = owmcf->sh;
        wmcf->shpool = owmcf->shpool;

    } else {
        wmcf->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

        if (shm_zone->shm.exists) {
            wmcf->sh = wmcf->shpool->data;

        } else {
            wmcf->sh = ngx_slab_alloc(wmcf->shpool,
                                      sizeof(ngx_http_wharf_shctx_t));
            if (wmcf->sh == NULL) {
                return NGX_ERROR;
            }

            wmcf->shpool->data = wmcf->sh;

            ngx_rbtree_init(&wmcf->sh->rbtree, &wmcf->sh->sentinel,
                            ngx_http_wharf_named_insert_value);

            wmcf->sh->generation = 0;
            wmcf->sh->next_round = 0;
            wmcf->sh->rounds = 0;
            wmcf->sh->changes = 0;
            wmcf->sh->written = 0;
            wmcf->sh->live = 0;
            ngx_memzero(wmcf->sh->fleet, sizeof(wmcf->sh->fleet));
            wmcf->sh->fleet_next = 0;

            len = sizeof(" in wharf zone \"\"") + shm_zone->shm.name.len;

            wmcf->shpool->log_ctx = ngx_slab_alloc(wmcf->shpool, len);
            if (wmcf->shpool->log_ctx == NULL) {
                return NGX_ERROR;
            }

            ngx_sprintf(wmcf->shpool->log_ctx, " in wharf zone \"%V\"%Z",
                        &shm_zone->shm.name);

            /* a full zone is reported by init_zone, with advice */
            wmcf->shpool->log_nomem = 0;
        }
    }

    ngx_shmtx_lock(&wmcf->shpool->mutex);

    wmcf->sh->generation++;

    ngx_http_wharf_fleet_init_zone(wmcf);

    wp = wmcf->workers.elts;

    for (i = 0; i < wmcf->workers.nelts; i++) {
        worker = wp[i];

        wn = ngx_http_wharf_node_add_locked(wmcf, &worker->name);

        if (wn == NULL) {
            ngx_shmtx_unlock(&wmcf->shpool->mutex);

            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "wharf zone \"%V\" (%uz bytes) is full at "
                          "worker \"%V\" of %ui; raise "
                          "\"wharf_zone_size\"",
                          &shm_zone->shm.name, shm_zone->shm.size,
                          &worker->name, wmcf->workers.nelts);
            return NGX_ERROR;
        }

        wn->generation = wmcf->sh->generation;
        worker->node = wn;
    }

    ngx_shmtx_unlock(&wmcf->shpool->mutex);

    /* the live workers: from the state file, or as the zone has them */

    if (ngx_http_wharf_live_init_zone(shm_zone, wmcf, owmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_shmtx_lock(&wmcf->shpool->mutex);
    ngx_http_wharf_sweep(wmcf);
    ngx_shmtx_unlock(&wmcf->shpool->mutex);

    return NGX_OK;
}


/* the node of a name, or NULL; the zone's mutex is held */

ngx_http_wharf_node_t *
ngx_http_wharf_node_get_locked(ngx_http_wharf_main_conf_t *wmcf,
    ngx_str_t *name)
{
    return (ngx_http_wharf_node_t *) ngx_http_wharf_named_lookup(
                                      &wmcf->sh->rbtree, name->data, name->len,
                                      ngx_crc32_short(name->data, name->len));
}


/* the node of a name, made if need be; NULL when the zone is full */

ngx_http_wharf_node_t *
ngx_http_wharf_node_add_locked(ngx_http_wharf_main_conf_t *wmcf,
    ngx_str_t *name)
{
    uint32_t                hash;
    ngx_http_wharf_node_t  *wn;

    hash = ngx_crc32_short(name->data, name->len);

    wn = (ngx_http_wharf_node_t *) ngx_http_wharf_named_lookup(
                                &wmcf->sh->rbtree, name->data, name->len, hash);

    if (wn) {
        return wn;
    }

    wn = ngx_slab_calloc_locked(wmcf->shpool, sizeof(ngx_http_wharf_node_t));
    if (wn == NULL) {
        return NULL;
    }

    wn->node.key = hash;
    wn->len = (u_char) name->len;
    ngx_memcpy(wn->name, name->data, name->len);

    ngx_rbtree_insert(&wmcf->sh->rbtree, &wn->node);

    return wn;
}


/* frees the node if nothing needs it any more; the zone's mutex is held */

void
ngx_http_wharf_node_gc_locked(ngx_http_wharf_main_conf_t *wmcf,
    ngx_http_wharf_node_t *wn)
{
    if (ngx_http_wharf_node_unused(wmcf->sh, wn)) {
        ngx_rbtree_delete(&wmcf->sh->rbtree, &wn->node);
        ngx_slab_free_locked(wmcf->shpool, wn);
    }
}


ngx_http_wharf_named_t *
ngx_http_wharf_named_lookup(ngx_rbtree_t *tree, u_char *name, size_t len,
    uint32_t hash)
{
    ngx_int_t                rc;
    ngx_rbtree_node_t       *node, *sentinel;
    ngx_http_wharf_named_t  *n;

    node = tree->root;
    sentinel = tree->sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        n = (ngx_http_wharf_named_t *) node;

        rc = ngx_memn2cmp(name, n->name, len, n->len);

        if (rc == 0) {
            return n;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


void
ngx_http_wharf_named_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t       **p;
    ngx_http_wharf_named_t   *n, *t;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            n = (ngx_http_wharf_named_t *) node;
            t = (ngx_http_wharf_named_t *) temp;

            p = (ngx_memn2cmp(n->name, t->name, n->len, t->len) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


/*
 * Frees the nodes of workers that are gone from the configuration.  A node
 * is kept while it has live sessions, and for one more configuration after
 * the one that dropped it: worker processes of that older configuration
 * may still be finishing a request routed to it, and must not count into
 * freed memory.  Each pass frees at most one node, and the tree changes
 * under the walk, so it starts over until nothing is left to free.
 */

static void
ngx_http_wharf_sweep(ngx_http_wharf_main_conf_t *wmcf)
{
    ngx_uint_t              found;
    ngx_rbtree_node_t      *n, *sentinel;
    ngx_http_wharf_node_t  *wn;

    sentinel = wmcf->sh->rbtree.sentinel;

    do {
        found = 0;

        if (wmcf->sh->rbtree.root == sentinel) {
            return;
        }

        for (n = ngx_rbtree_min(wmcf->sh->rbtree.root, sentinel);
             n;
             n = ngx_rbtree_next(&wmcf->sh->rbtree, n))
        {
            wn = (ngx_http_wharf_node_t *) n;

            if (ngx_http_wharf_node_unused(wmcf->sh, wn)) {
                ngx_rbtree_delete(&wmcf->sh->rbtree, n);
                ngx_slab_free_locked(wmcf->shpool, wn);
                found = 1;
                break;
            }
        }

    } while (found);
}


/*
 * No wharf_worker of this configuration or the one before, no live entry,
 * no process's copy of one, no session: nothing counts into it any more.
 */

static ngx_uint_t
ngx_http_wharf_node_unused(ngx_http_wharf_shctx_t *sh,
    ngx_http_wharf_node_t *wn)
{
    if (wn->live || wn->refs) {
        return 0;
    }

    if (wn->generation && wn->generation + 1 >= sh->generation) {
        return 0;
    }

    return ngx_http_wharf_node_idle(wn);
}


static ngx_uint_t
ngx_http_wharf_node_idle(ngx_http_wharf_node_t *wn)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_WHARF_KINDS; i++) {
        if (wn->sessions[i] != 0) {
            return 0;
        }
    }

    return wn->upgraded == 0;
}


/* a probe result into the zone, where every process sees it */

void
ngx_http_wharf_store_result(ngx_http_wharf_main_conf_t *wmcf,
    ngx_http_wharf_worker_t *worker, ngx_uint_t check,
    ngx_http_wharf_result_t *res)
{
    ngx_http_wharf_node_t  *wn;

    wn = worker->node;

    if (wn == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add(&wn->probes[check], 1);

    ngx_shmtx_lock(&wmcf->shpool->mutex);
    wn->health[check] = *res;
    ngx_shmtx_unlock(&wmcf->shpool->mutex);
}


/* both checks' last results of a worker: res[NGX_HTTP_WHARF_CHECKS] */

void
ngx_http_wharf_load_results(ngx_http_wharf_main_conf_t *wmcf,
    ngx_http_wharf_worker_t *worker, ngx_http_wharf_result_t *res)
{
    ngx_uint_t              i;
    ngx_http_wharf_node_t  *wn;

    wn = worker->node;

    if (wn == NULL) {
        for (i = 0; i < NGX_HTTP_WHARF_CHECKS; i++) {
            res[i].status = NGX_HTTP_WHARF_UNKNOWN;
        }

        return;
    }

    ngx_shmtx_lock(&wmcf->shpool->mutex);
    ngx_memcpy(res, wn->health, sizeof(wn->health));
    ngx_shmtx_unlock(&wmcf->shpool->mutex);
}


/*
 * Rounds shared by the nginx worker processes (background probing, the
 * fleet's polls): every process ticks, and the first to find a round due
 * at *next, in the zone, claims it; so a round runs once for the whole
 * server, in whichever process is free, and goes on when one dies.
 */

void
ngx_http_wharf_round_init(ngx_event_t *ev, ngx_event_handler_pt handler,
    ngx_http_wharf_main_conf_t *wmcf, ngx_log_t *log)
{
    ev->handler = handler;
    ev->data = wmcf;
    ev->log = log;

    /* a reload or shutdown does not wait for the next round */
    ev->cancelable = 1;

    /* the processes start together: spread their first look a little */
    ngx_add_timer(ev, 1 + ngx_random() % 100);
}


/* 1: this process runs the round now; 0: not due, or another has it */

ngx_uint_t
ngx_http_wharf_round_claim(ngx_http_wharf_main_conf_t *wmcf,
    ngx_msec_t *next, ngx_msec_t interval)
{
    ngx_msec_t  now;
    ngx_uint_t  claimed;

    now = ngx_current_msec;

    ngx_shmtx_lock(&wmcf->shpool->mutex);

    claimed = (*next == 0 || (ngx_msec_int_t) (now - *next) >= 0);

    if (claimed) {
        *next = now + interval;
    }

    ngx_shmtx_unlock(&wmcf->shpool->mutex);

    return claimed;
}


/* the next look, often enough that a round is late by a fraction at most */

void
ngx_http_wharf_round_wait(ngx_event_t *ev, ngx_msec_t interval)
{
    ngx_msec_t  tick;

    tick = interval / 4;
    tick = ngx_max(ngx_min(tick, 1000), 10);

    ngx_add_timer(ev, tick);
}
