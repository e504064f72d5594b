
/*
 * wharf: live workers in the shared zone, and the state file.
 *
 * A live worker (PUT /api/workers/NAME) is an entry hung on the worker's
 * node in the zone (ngx_http_wharf_spec_t), which every nginx worker
 * process sees: each copies the entries it has not seen yet when
 * sh->changes moves (ngx_http_wharf_live.c).  Entries are replaced, never
 * changed in place, under the zone's mutex.
 *
 * The state file (wharf_registry_state) keeps them across a restart: a
 * JSON document of every entry, written by the process that made a
 * change before it answers, to a temporary file beside it, fsync()ed and
 * renamed over it, so the file is always one whole state.  Writers do not
 * wait for each other: each writes the whole registry as it was right
 * after its own change (sh->changes then), and renames only if no newer
 * one is in place (sh->written), under the zone's mutex.  So the file
 * ends with the newest state, and a change is answered only once a state
 * that holds it is on disk.  A change whose state cannot be written is
 * undone, unless a newer state that holds it was written meanwhile.
 *
 * Why not the zone's mutex around the whole write: an fsync() can take a
 * while, and every process takes that mutex (probe results, copies of the
 * entries); and no mutex of our own: the master unlocks a dead process's
 * zone mutexes (ngx_unlock_mutexes()), not a mutex it does not know of.
 *
 * The master reads the file when the zone is new (nginx starts, or a
 * reload changes wharf_zone_size); on a reload that keeps the zone, the
 * zone is the newer of the two and is kept.  Either way a live worker
 * whose name a wharf_worker of the configuration now has is dropped,
 * logged, and the file rewritten: the configuration wins.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include "ngx_http_wharf_module.h"


static ngx_int_t ngx_http_wharf_entry_string(ngx_pool_t *pool, json_t *v,
    const char *key, ngx_str_t *s, u_char *err, size_t len);
static ngx_int_t ngx_http_wharf_entry_addr(ngx_pool_t *pool,
    ngx_http_wharf_entry_t *e, u_char *err, size_t len);
static ngx_http_wharf_spec_t *ngx_http_wharf_spec_alloc_locked(
    ngx_http_wharf_main_conf_t *wmcf, ngx_http_wharf_entry_t *e);
static ngx_int_t ngx_http_wharf_live_change(ngx_http_wharf_main_conf_t *wmcf,
    ngx_str_t *name, ngx_http_wharf_entry_t *e, ngx_log_t *log, u_char *err,
    size_t len);


/*
 * A live worker from JSON: a PUT body (name: the worker's, from the URL;
 * a "name" member, if any, must be the same) or an element of the state
 * file (name NULL: the "name" member is required).  NGX_DECLINED with the
 * reason in err when the JSON is not a valid worker; NGX_ERROR when memory
 * runs out.  The bounds are those of the wharf_worker directive.
 */

ngx_int_t
ngx_http_wharf_entry_parse(ngx_pool_t *pool, void *json, ngx_str_t *name,
    ngx_http_wharf_entry_t *e, u_char *err, size_t len)
{
    json_t      *obj = json;

    ngx_int_t    rc;
    ngx_str_t   *s;
    ngx_uint_t   k;
    json_int_t   n;
    const char  *key;
    json_t      *v;

    ngx_memzero(e, sizeof(ngx_http_wharf_entry_t));

    if (!json_is_object(obj)) {
        ngx_snprintf(err, len, "a worker is a JSON object%Z");
        return NGX_DECLINED;
    }

    json_object_foreach(obj, key, v) {

        if (ngx_strcmp(key, "name") == 0) {
            s = &e->name;

        } else if (ngx_strcmp(key, "upstream") == 0) {
            s = &e->strings[NGX_HTTP_WHARF_SPEC_ADDR];

        } else if (ngx_strcmp(key, "container") == 0) {
            s = &e->strings[NGX_HTTP_WHARF_SPEC_CONTAINER];

        } else if (ngx_strcmp(key, "terminal_path") == 0) {
            s = &e->strings[NGX_HTTP_WHARF_SPEC_TERMINAL];

        } else if (ngx_strcmp(key, "websocket_path") == 0) {
            s = &e->strings[NGX_HTTP_WHARF_SPEC_WEBSOCKET];

        } else if (ngx_strcmp(key, "max_sessions") == 0) {

            /* null, as /api/workers shows "no limit", is 0 */

            if (json_is_null(v)) {
                continue;
            }

            n = json_is_integer(v) ? json_integer_value(v) : -1;

            if (n < 0 || n > NGX_HTTP_WHARF_MAX_SESSIONS_MAX) {
                ngx_snprintf(err, len, "\"max_sessions\" must be a whole "
                             "number from 0 (no limit) to %d, or null%Z",
                             NGX_HTTP_WHARF_MAX_SESSIONS_MAX);
                return NGX_DECLINED;
            }

            e->max_sessions = (ngx_uint_t) n;
            continue;

        } else {
            ngx_snprintf(err, len, "unknown member \"%*s\"; a worker has "
                         "upstream, container, max_sessions, terminal_path "
                         "and websocket_path%Z",
                         ngx_min(ngx_strlen(key), 64), key);
            return NGX_DECLINED;
        }

        rc = ngx_http_wharf_entry_string(pool, v, key, s, err, len);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (name) {
        if (e->name.data
            && (e->name.len != name->len
                || ngx_strncmp(e->name.data, name->data, name->len) != 0))
        {
            ngx_snprintf(err, len, "\"name\" is \"%V\", the URL says \"%V\""
                         "%Z", &e->name, name);
            return NGX_DECLINED;
        }

        e->name = *name;

    } else if (e->name.data == NULL) {
        ngx_snprintf(err, len, "a worker without \"name\"%Z");
        return NGX_DECLINED;
    }

    if (!wharf_name_valid((const char *) e->name.data, e->name.len)) {
        ngx_snprintf(err, len, "invalid worker name \"%*s\": 1 to %d "
                     "characters of a-z, 0-9 and \"-\", not starting with "
                     "\"-\"%Z", ngx_min(e->name.len, 64), e->name.data,
                     WHARF_NAME_MAX);
        return NGX_DECLINED;
    }

    if (e->strings[NGX_HTTP_WHARF_SPEC_ADDR].data == NULL) {
        ngx_snprintf(err, len, "\"upstream\" is required: the agent's "
                     "address, such as \"127.0.0.1:7681\"%Z");
        return NGX_DECLINED;
    }

    rc = ngx_http_wharf_entry_addr(pool, e, err, len);
    if (rc != NGX_OK) {
        return rc;
    }

    s = &e->strings[NGX_HTTP_WHARF_SPEC_CONTAINER];

    if (s->data == NULL) {
        *s = e->name;

    } else if (!ngx_http_wharf_container_valid(s)) {
        ngx_snprintf(err, len, "invalid \"container\": 1 to %d characters "
                     "of a-z, A-Z, 0-9, \"_\", \".\" and \"-\", starting "
                     "with a letter or digit%Z",
                     NGX_HTTP_WHARF_CONTAINER_MAX);
        return NGX_DECLINED;
    }

    for (k = 0; k < NGX_HTTP_WHARF_CHECKS; k++) {
        s = &e->strings[NGX_HTTP_WHARF_SPEC_TERMINAL + k];

        if (s->data == NULL) {
            if (k == NGX_HTTP_WHARF_CHECK_TERMINAL) {
                ngx_str_set(s, "/terminal");

            } else {
                ngx_str_set(s, "/websocket");
            }

            continue;
        }

        if (!ngx_http_wharf_probe_path_valid(s)) {
            ngx_snprintf(err, len, "invalid \"%s\": \"/\" and up to %d "
                         "printable characters without spaces%Z",
                         k == NGX_HTTP_WHARF_CHECK_TERMINAL
                         ? "terminal_path" : "websocket_path",
                         NGX_HTTP_WHARF_PROBE_PATH_MAX - 1);
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/* a string member, copied into the pool, NUL-terminated */

static ngx_int_t
ngx_http_wharf_entry_string(ngx_pool_t *pool, json_t *v, const char *key,
    ngx_str_t *s, u_char *err, size_t len)
{
    size_t       n;
    const char  *p;

    if (!json_is_string(v)) {
        ngx_snprintf(err, len, "\"%s\" must be a string%Z", key);
        return NGX_DECLINED;
    }

    p = json_string_value(v);
    n = json_string_length(v);

    /* a NUL inside would cut the string short where it is used */

    if (ngx_strlen(p) != n || n > 1024) {
        ngx_snprintf(err, len, "\"%s\" is not a valid value%Z", key);
        return NGX_DECLINED;
    }

    s->data = ngx_pnalloc(pool, n + 1);
    if (s->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(s->data, p, n + 1);
    s->len = n;

    return NGX_OK;
}


/*
 * "upstream": an IPv4 address, an [IPv6] one, with a port, or unix:/PATH.
 * No host name: nothing may be resolved while a request is answered, and
 * the address is resolved once, here, in the canonical text of it that
 * the registry shows.
 */

static ngx_int_t
ngx_http_wharf_entry_addr(ngx_pool_t *pool, ngx_http_wharf_entry_t *e,
    u_char *err, size_t len)
{
    u_char     *p;
    size_t      n;
    ngx_str_t  *text;
    ngx_url_t   u;

    text = &e->strings[NGX_HTTP_WHARF_SPEC_ADDR];

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = *text;
    u.no_resolve = 1;

    if (ngx_parse_url(pool, &u) != NGX_OK) {

        if (u.err == NULL) {
            return NGX_ERROR;
        }

        ngx_snprintf(err, len, "invalid \"upstream\" \"%*s\": %s%Z",
                     ngx_min(text->len, 64), text->data, u.err);
        return NGX_DECLINED;
    }

    if (u.family != AF_UNIX && u.no_port) {
        ngx_snprintf(err, len, "invalid \"upstream\" \"%*s\": no port%Z",
                     ngx_min(text->len, 64), text->data);
        return NGX_DECLINED;
    }

    if (u.uri.len) {
        ngx_snprintf(err, len, "invalid \"upstream\" \"%*s\": an address "
                     "has no path%Z", ngx_min(text->len, 64), text->data);
        return NGX_DECLINED;
    }

    if (u.naddrs != 1) {
        ngx_snprintf(err, len, "invalid \"upstream\" \"%*s\": not an IP "
                     "address and port, [IPv6]:port or unix:/path (host "
                     "names are not resolved at run time)%Z",
                     ngx_min(text->len, 64), text->data);
        return NGX_DECLINED;
    }

    if (u.addrs[0].socklen > (socklen_t) sizeof(ngx_sockaddr_t)) {
        return NGX_ERROR;
    }

    ngx_memcpy(&e->sockaddr, u.addrs[0].sockaddr, u.addrs[0].socklen);
    e->socklen = u.addrs[0].socklen;

    p = ngx_pnalloc(pool, NGX_SOCKADDR_STRLEN + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    n = ngx_sock_ntop(&e->sockaddr.sockaddr, e->socklen, p,
                      NGX_SOCKADDR_STRLEN, 1);
    p[n] = '\0';

    text->data = p;
    text->len = n;

    return NGX_OK;
}


u_char *
ngx_http_wharf_spec_string(ngx_http_wharf_spec_t *spec, ngx_uint_t i)
{
    u_char      *p;
    ngx_uint_t   k;

    p = spec->data;

    for (k = 0; k < i; k++) {
        p += spec->len[k];
    }

    return p;
}


static ngx_http_wharf_spec_t *
ngx_http_wharf_spec_alloc_locked(ngx_http_wharf_main_conf_t *wmcf,
    ngx_http_wharf_entry_t *e)
{
    u_char                 *p;
    size_t                  size;
    ngx_uint_t              k;
    ngx_http_wharf_spec_t  *spec;

    size = offsetof(ngx_http_wharf_spec_t, data);

    for (k = 0; k < NGX_HTTP_WHARF_SPEC_STRINGS; k++) {
        size += e->strings[k].len;
    }

    spec = ngx_slab_alloc_locked(wmcf->shpool, size);
    if (spec == NULL) {
        return NULL;
    }

    spec->max_sessions = e->max_sessions;
    spec->socklen = e->socklen;
    ngx_memcpy(&spec->sockaddr, &e->sockaddr, e->socklen);

    p = spec->data;

    for (k = 0; k < NGX_HTTP_WHARF_SPEC_STRINGS; k++) {
        spec->len[k] = (u_short) e->strings[k].len;
        p = ngx_cpymem(p, e->strings[k].data, e->strings[k].len);
    }

    return spec;
}


/*
 * PUT: the entry in the zone, and, with a state file, on disk.  Returns
 * NGX_HTTP_WHARF_LIVE_CREATED or _CHANGED; _STATIC when a wharf_worker
 * has the name; _FULL when the zone has no room; _NOT_SAVED (err says
 * why) when the state file cannot be written, and the change is undone;
 * NGX_ERROR when memory runs out.
 */

ngx_int_t
ngx_http_wharf_live_put(ngx_http_wharf_main_conf_t *wmcf,
    ngx_http_wharf_entry_t *e, ngx_log_t *log, u_char *err, size_t len)
{
    if (ngx_http_wharf_find_static(wmcf, e->name.data, e->name.len)) {
        return NGX_HTTP_WHARF_LIVE_STATIC;
    }

    return ngx_http_wharf_live_change(wmcf, &e->name, e, log, err, len);
}


/*
 * DELETE: NGX_OK; NGX_HTTP_WHARF_LIVE_NOT_FOUND without a live entry;
 * _NOT_SAVED as for a PUT.
 */

ngx_int_t
ngx_http_wharf_live_delete(ngx_http_wharf_main_conf_t *wmcf, ngx_str_t *name,
    ngx_log_t *log, u_char *err, size_t len)
{
    return ngx_http_wharf_live_change(wmcf, name, NULL, log, err, len);
}


/*
 * A change of the registry: worker name becomes e, or goes (e NULL).  The
 * zone changes first, under its mutex, with a snapshot of the whole
 * registry as it is then (sh->changes = c); then the snapshot is saved,
 * without the mutex; then, under it again, the entry replaced is freed,
 * or, if no state with this change could be saved, the change is undone,
 * unless another one has replaced it meanwhile.
 */

static ngx_int_t
ngx_http_wharf_live_change(ngx_http_wharf_main_conf_t *wmcf, ngx_str_t *name,
    ngx_http_wharf_entry_t *e, ngx_log_t *log, u_char *err, size_t len)
{
    ngx_int_t               rc;
    ngx_uint_t              c, saved, created;
    ngx_pool_t             *pool;
    ngx_http_wharf_out_t    out;
    ngx_http_wharf_node_t  *wn;
    ngx_http_wharf_spec_t  *spec, *old;

    pool = NULL;

    if (wmcf->state_file.len) {
        pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, log);
        if (pool == NULL) {
            return NGX_ERROR;
        }

        ngx_http_wharf_out_init(&out, pool);
    }

    ngx_shmtx_lock(&wmcf->shpool->mutex);

    spec = NULL;
    rc = NGX_OK;

    if (e) {
        wn = ngx_http_wharf_node_add_locked(wmcf, name);
        spec = wn ? ngx_http_wharf_spec_alloc_locked(wmcf, e) : NULL;

        if (spec == NULL) {
            if (wn) {
                ngx_http_wharf_node_gc_locked(wmcf, wn);
            }

            rc = NGX_HTTP_WHARF_LIVE_FULL;
        }

    } else {
        wn = ngx_http_wharf_node_get_locked(wmcf, name);

        if (wn == NULL || wn->live == NULL) {
            rc = NGX_HTTP_WHARF_LIVE_NOT_FOUND;
        }
    }

    if (rc != NGX_OK) {
        ngx_shmtx_unlock(&wmcf->shpool->mutex);

        if (pool) {
            ngx_destroy_pool(pool);
        }

        return rc;
    }

    old = wn->live;
    created = (old == NULL);

    wn->live = spec;
    wmcf->sh->live += (spec != NULL) - (old != NULL);

    c = ++wmcf->sh->changes;
    wn->changed = c;

    if (pool) {
        rc = ngx_http_wharf_state_snapshot_locked(wmcf, &out);
    }

    ngx_shmtx_unlock(&wmcf->shpool->mutex);

    if (pool && rc == NGX_OK) {
        rc = ngx_http_wharf_state_save(wmcf, &out, c, log, err, len);

    } else if (pool) {
        ngx_snprintf(err, len, "out of memory%Z");
    }

    if (pool) {
        ngx_destroy_pool(pool);
    }

    ngx_shmtx_lock(&wmcf->shpool->mutex);

    /* a newer state, written meanwhile, holds this change too */

    saved = (rc == NGX_OK || wmcf->sh->written >= c);

    if (!saved && wn->changed == c) {

        /* not saved: undone */

        wn->live = old;
        wmcf->sh->live += (old != NULL) - (spec != NULL);
        wn->changed = ++wmcf->sh->changes;

        old = spec;
    }

    if (old) {
        ngx_slab_free_locked(wmcf->shpool, old);
    }

    ngx_http_wharf_node_gc_locked(wmcf, wn);

    ngx_shmtx_unlock(&wmcf->shpool->mutex);

    if (!saved) {

        /* undone, or replaced meanwhile by a change not saved either */

        return NGX_HTTP_WHARF_LIVE_NOT_SAVED;
    }

    if (e == NULL) {
        return NGX_OK;
    }

    return created ? NGX_HTTP_WHARF_LIVE_CREATED : NGX_HTTP_WHARF_LIVE_CHANGED;
}


/*
 * In the master, for each configuration loaded (and in "nginx -t"), after
 * the wharf_worker nodes: the live entries from the state file when the
 * zone is new, else those the zone has; none with the name of a
 * wharf_worker of this configuration.
 */

ngx_int_t
ngx_http_wharf_live_init_zone(ngx_shm_zone_t *shm_zone,
    ngx_http_wharf_main_conf_t *wmcf, ngx_http_wharf_main_conf_t *owmcf)
{
    ngx_int_t               rc;
    ngx_str_t               name;
    ngx_uint_t              dropped, fresh, moved;
    ngx_pool_t             *pool;
    ngx_rbtree_node_t      *node, *next, *root, *sentinel;
    ngx_http_wharf_node_t  *wn;

    fresh = (owmcf == NULL && !shm_zone->shm.exists);
    dropped = 0;

    if (wmcf->state_file.len) {
        if (ngx_http_wharf_state_dir(wmcf, shm_zone->shm.log) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (fresh && wmcf->state_file.len) {
        pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, shm_zone->shm.log);
        if (pool == NULL) {
            return NGX_ERROR;
        }

        rc = ngx_http_wharf_state_load(wmcf, pool, shm_zone->shm.log,
                                       &dropped);

        ngx_destroy_pool(pool);

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }

    } else if (!fresh) {

        /* a wharf_worker that this configuration adds takes the name */

        ngx_shmtx_lock(&wmcf->shpool->mutex);

        root = wmcf->sh->rbtree.root;
        sentinel = wmcf->sh->rbtree.sentinel;

        node = (root != sentinel) ? ngx_rbtree_min(root, sentinel) : NULL;

        for ( /* void */ ; node; node = next) {
            next = ngx_rbtree_next(&wmcf->sh->rbtree, node);
            wn = (ngx_http_wharf_node_t *) node;

            name.data = wn->name;
            name.len = wn->len;

            if (wn->live == NULL
                || ngx_http_wharf_find_static(wmcf, name.data, name.len)
                   == NULL)
            {
                continue;
            }

            ngx_log_error(NGX_LOG_WARN, shm_zone->shm.log, 0,
                          "wharf: live worker \"%V\" is dropped: a "
                          "wharf_worker of the configuration has its name",
                          &name);

            ngx_slab_free_locked(wmcf->shpool, wn->live);
            wn->live = NULL;
            wmcf->sh->live--;
            wn->changed = ++wmcf->sh->changes;
            dropped++;
        }

        ngx_shmtx_unlock(&wmcf->shpool->mutex);
    }

    if (wmcf->state_file.len == 0 || ngx_test_config) {
        return NGX_OK;
    }

    /* a new place for the state file: it is written there now */

    moved = (owmcf
             && (owmcf->state_file.len != wmcf->state_file.len
                 || ngx_strncmp(owmcf->state_file.data,
                                wmcf->state_file.data,
                                wmcf->state_file.len)
                    != 0));

    if (dropped || moved) {
        (void) ngx_http_wharf_state_rewrite(wmcf, shm_zone->shm.log);
    }

    return NGX_OK;
}


/* one entry from the state file: NGX_DECLINED if it is there already */

ngx_int_t
ngx_http_wharf_live_link(ngx_http_wharf_main_conf_t *wmcf,
    ngx_http_wharf_entry_t *e)
{
    ngx_int_t               rc;
    ngx_http_wharf_node_t  *wn;
    ngx_http_wharf_spec_t  *spec;

    ngx_shmtx_lock(&wmcf->shpool->mutex);

    rc = NGX_ERROR;

    wn = ngx_http_wharf_node_add_locked(wmcf, &e->name);

    if (wn && wn->live) {
        rc = NGX_DECLINED;

    } else if (wn) {
        spec = ngx_http_wharf_spec_alloc_locked(wmcf, e);

        if (spec) {
            wn->live = spec;
            wmcf->sh->live++;
            wn->changed = ++wmcf->sh->changes;
            rc = NGX_OK;

        } else {
            ngx_http_wharf_node_gc_locked(wmcf, wn);
        }
    }

    ngx_shmtx_unlock(&wmcf->shpool->mutex);

    return rc;
}
