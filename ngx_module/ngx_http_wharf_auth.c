
/*
 * wharf: who may use the gateway, and what the containers get instead.
 *
 * In: an ES256 JWT, verified by common/token.c (every claim: exp, nbf and
 * iat with the leeway, aud, typ, crit, kid; ES256 only) against every
 * wharf_auth_public_key, from "Authorization: Bearer" or, for browser
 * WebSockets, "?access_token=".  A worker's routes want scope "terminal"
 * and sub = the worker or "*"; its health sub-routes and registry entry
 * want "read" with the same sub; the fleet-wide routes (registry,
 * terminals, health, metrics) want "read" with sub "*".  The gateway has
 * no audience of its own, so a token with an "aud" (minted for one
 * agent) is refused: the module's own tokens, copied out of a container,
 * must not open anything.
 *
 * ECDSA verification costs about a hundred microseconds, so each nginx
 * worker process keeps the tokens it verified, up to wharf_auth_cache_size
 * of them, until they expire; a cached token costs a hash and a compare.
 *
 * Out: the container never sees the client's credential.  The query
 * parameter is removed from $args, and the Authorization header is
 * replaced by the module's own token for that worker (sub and aud the
 * worker), which each nginx worker process signs once and renews when
 * half its lifetime has passed, not per request.  Its header carries the
 * kid of wharf_auth_private_key, so that verifiers holding several keys
 * during a rotation check it against that one.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/crypto.h>

#include "ngx_http_wharf_module.h"


/* what the module's token lets the agent's clients do through it */
#define NGX_HTTP_WHARF_UPSTREAM_SCOPES                                       \
    (WHARF_SCOPE_READ|WHARF_SCOPE_CONTROL|WHARF_SCOPE_TERMINAL)


typedef struct {
    ngx_queue_t                    bucket;
    ngx_queue_t                    lru;
    uint32_t                       hash;
    struct wharf_claims            claims;
    size_t                         len;
    u_char                         token[1];
} ngx_http_wharf_cache_entry_t;


/* a hash table of verified tokens, with least recently used eviction */

struct ngx_http_wharf_cache_s {
    ngx_queue_t                   *buckets;
    ngx_uint_t                     mask;
    ngx_queue_t                    lru;       /* most recent first */
    ngx_uint_t                     n;
    ngx_uint_t                     max;
    ngx_log_t                     *log;
};


static ngx_int_t ngx_http_wharf_get_token(ngx_http_request_t *r,
    ngx_str_t *token, const char **why);
static ngx_uint_t ngx_http_wharf_query_tokens(ngx_http_request_t *r,
    ngx_str_t *value);
static ngx_uint_t ngx_http_wharf_subprotocol_tokens(ngx_http_request_t *r,
    ngx_str_t *value);
static ngx_uint_t ngx_http_wharf_is_subprotocol_header(ngx_table_elt_t *h);
static u_char *ngx_http_wharf_next_entry(u_char *p, u_char *last,
    u_char **end);
static ngx_uint_t ngx_http_wharf_is_bearer_entry(u_char *p, u_char *end);
static ngx_int_t ngx_http_wharf_check_handshake(ngx_http_request_t *r);
static ngx_int_t ngx_http_wharf_bearer_to_header(ngx_http_request_t *r);
static ngx_int_t ngx_http_wharf_add_authorization(ngx_http_request_t *r,
    ngx_str_t *value);
static ngx_int_t ngx_http_wharf_invalid_request(ngx_http_request_t *r,
    const char *why);
static void ngx_http_wharf_strip_subprotocol(ngx_http_request_t *r);
static ngx_uint_t ngx_http_wharf_kept_from_worker(ngx_table_elt_t *h,
    void *data);
static ngx_int_t ngx_http_wharf_list_filter(ngx_pool_t *pool,
    ngx_list_t *list, ngx_uint_t (*drop)(ngx_table_elt_t *h, void *data),
    void *data);
static ngx_int_t ngx_http_wharf_verify(ngx_http_wharf_main_conf_t *wmcf,
    ngx_str_t *token, struct wharf_claims *claims, const char **why);
static ngx_http_wharf_cache_entry_t *ngx_http_wharf_cache_find(
    ngx_http_wharf_cache_t *cache, ngx_str_t *token, uint32_t hash);
static void ngx_http_wharf_cache_add(ngx_http_wharf_cache_t *cache,
    ngx_str_t *token, uint32_t hash, struct wharf_claims *claims);
static void ngx_http_wharf_cache_drop(ngx_http_wharf_cache_t *cache,
    ngx_http_wharf_cache_entry_t *e);
static ngx_int_t ngx_http_wharf_origin_allowed(ngx_http_request_t *r,
    ngx_http_wharf_loc_conf_t *wlcf, ngx_str_t *origin);
static ngx_int_t ngx_http_wharf_unauthorized(ngx_http_request_t *r,
    ngx_uint_t invalid, const char *why);
static ngx_int_t ngx_http_wharf_sign(ngx_http_wharf_main_conf_t *wmcf,
    ngx_http_wharf_token_t *t, const char *sub, const char *aud,
    unsigned scopes, ngx_log_t *log);
static ngx_int_t ngx_http_wharf_cached_token(
    ngx_http_wharf_main_conf_t *wmcf, ngx_http_wharf_token_t *t,
    const char *sub, const char *aud, unsigned scopes, ngx_log_t *log,
    ngx_str_t *value);


/*
 * Access phase.  Refusals are answered here, in JSON, and the request is
 * finalized; nginx's own 401/403 pages would be HTML.
 */

ngx_int_t
ngx_http_wharf_access_handler(ngx_http_request_t *r)
{
    u_char                      *sub;
    ngx_int_t                    rc;
    ngx_str_t                    token, origin;
    unsigned                     scope;
    const char                  *why, *scope_name;
    struct wharf_claims          claims;
    ngx_http_wharf_ctx_t        *ctx;
    ngx_http_wharf_worker_t     *worker;
    ngx_http_wharf_loc_conf_t   *wlcf;
    ngx_http_wharf_main_conf_t  *wmcf;

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_wharf_module);

    if (wlcf->prefix.data == NULL
        && wlcf->handler == NGX_HTTP_WHARF_HANDLER_NONE)
    {
        if (wlcf->bearer_subprotocol) {
            return ngx_http_wharf_bearer_to_header(r);
        }

        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_wharf_module);

    if (wlcf->prefix.data) {

        /* the location's rewrite handler refused what is not routed */

        if (ctx == NULL || ctx->worker == NULL || !ctx->located) {
            return NGX_DECLINED;
        }

        worker = ctx->worker;

        if (ctx->check != NGX_HTTP_WHARF_CHECK_NONE) {
            scope = WHARF_SCOPE_READ;
            scope_name = "read";

        } else {
            scope = WHARF_SCOPE_TERMINAL;
            scope_name = "terminal";
        }

    } else {
        worker = NULL;

        /* the registry entry of one worker: "GET /api/workers/NAME" */

        if (wlcf->handler == NGX_HTTP_WHARF_HANDLER_REGISTRY
            && ctx && ctx->worker && ctx->bare)
        {
            worker = ctx->worker;
        }

        scope = WHARF_SCOPE_READ;
        scope_name = "read";

        /*
         * A change of the live registry (PUT, DELETE of "PREFIX NAME"):
         * "admin", sub "*".
         */

        if (wlcf->handler == NGX_HTTP_WHARF_HANDLER_REGISTRY
            && ctx && ctx->bare && ctx->name.len
            && (r->method & (NGX_HTTP_PUT|NGX_HTTP_DELETE)))
        {
            worker = NULL;
            scope = WHARF_SCOPE_ADMIN;
            scope_name = "admin";
        }
    }

    /*
     * A browser opens a WebSocket to any site with the user's ambient
     * credentials; the Origin header says which page asked.
     */

    if (r->headers_in.upgrade
        && ngx_http_wharf_origin_allowed(r, wlcf, &origin) != NGX_OK)
    {
        rc = ngx_http_wharf_send_error(r, NGX_HTTP_FORBIDDEN,
                                       "origin_not_allowed",
                                       "WebSocket from origin \"%V\" is not "
                                       "allowed (wharf_allowed_origins)",
                                       &origin);
        ngx_http_finalize_request(r, rc);
        return NGX_DONE;
    }

    /*
     * A WebSocket handshake the worker could not answer is refused here,
     * in JSON, rather than passed on to fail there (RFC 6455, 4.2.1).
     */

    if (worker && ctx->check == NGX_HTTP_WHARF_CHECK_NONE) {
        rc = ngx_http_wharf_check_handshake(r);

        if (rc != NGX_DECLINED) {
            ngx_http_finalize_request(r, rc);
            return NGX_DONE;
        }
    }

    if (!wlcf->auth) {
        return NGX_DECLINED;
    }

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_wharf_module);

    rc = ngx_http_wharf_get_token(r, &token, &why);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_BUSY) {
        rc = ngx_http_wharf_invalid_request(r, why);
        ngx_http_finalize_request(r, rc);
        return NGX_DONE;
    }

    if (rc == NGX_DECLINED) {
        rc = ngx_http_wharf_unauthorized(r, token.len != 0, why);
        ngx_http_finalize_request(r, rc);
        return NGX_DONE;
    }

    /* a token with an "aud" is refused here too (no audience) */

    if (ngx_http_wharf_verify(wmcf, &token, &claims, &why) != NGX_OK) {
        rc = ngx_http_wharf_unauthorized(r, 1, why);
        ngx_http_finalize_request(r, rc);
        return NGX_DONE;
    }

    if (!wharf_claims_allow(&claims,
                            worker ? (const char *) worker->name.data : NULL,
                            scope))
    {
        if (ngx_http_wharf_add_header(r, "WWW-Authenticate",
                (u_char *) "Bearer realm=\"wharf\", "
                           "error=\"insufficient_scope\"",
                sizeof("Bearer realm=\"wharf\", "
                       "error=\"insufficient_scope\"") - 1)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (worker) {
            rc = ngx_http_wharf_send_error(r, NGX_HTTP_FORBIDDEN,
                                           "forbidden",
                                           "this route needs scope \"%s\" "
                                           "and sub \"%V\" or \"*\"; the "
                                           "token has sub \"%s\"",
                                           scope_name, &worker->name,
                                           claims.sub);
        } else {
            rc = ngx_http_wharf_send_error(r, NGX_HTTP_FORBIDDEN,
                                           "forbidden",
                                           "this route needs scope \"%s\" "
                                           "and sub \"*\"; the token has "
                                           "sub \"%s\"",
                                           scope_name, claims.sub);
        }

        ngx_http_finalize_request(r, rc);
        return NGX_DONE;
    }

    /* $wharf_auth_sub, for the access log */

    if (ctx == NULL) {
        ctx = ngx_http_wharf_ctx_create(r);
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    /*
     * wharf_claims_allow() let the token in, so its sub is "*" or this
     * worker's name: both outlive the request, and nothing is copied.
     */

    if (claims.sub[0] == '*' && claims.sub[1] == '\0') {
        ngx_str_set(&ctx->sub, "*");

    } else if (worker) {
        ctx->sub = worker->name;

    } else {
        /* not reached: a fleet-wide route allows sub "*" only */

        ctx->sub.len = ngx_strlen(claims.sub);

        sub = ngx_pnalloc(r->pool, ctx->sub.len);
        if (sub == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(sub, claims.sub, ctx->sub.len);
        ctx->sub.data = sub;
    }

    return NGX_DECLINED;
}


/*
 * The client's token, from exactly one of its three places:
 * "Authorization: Bearer TOKEN", "?access_token=TOKEN", or an entry
 * "wharf.bearer.TOKEN" of Sec-WebSocket-Protocol (a browser cannot set
 * headers on a WebSocket, and a URL ends up in logs and histories).
 * NGX_OK: token set; NGX_DECLINED: none (token empty) or malformed (token
 * set); NGX_BUSY: more than one credential, which RFC 6750 (section 2)
 * calls an invalid request, whether they agree or not.  The query
 * parameter is removed from $args in any case.
 */

static ngx_int_t
ngx_http_wharf_get_token(ngx_http_request_t *r, ngx_str_t *token,
    const char **why)
{
    ngx_str_t         value, query, proto;
    ngx_uint_t        n, nquery, nproto, malformed;
    ngx_table_elt_t  *h;

    token->len = 0;
    token->data = NULL;

    ngx_str_null(&value);
    malformed = 0;
    n = 0;

    h = r->headers_in.authorization;

    if (h) {
        n++;

        if (h->value.len < sizeof("Bearer ") - 1
            || ngx_strncasecmp(h->value.data, (u_char *) "Bearer ",
                               sizeof("Bearer ") - 1)
               != 0)
        {
            malformed = 1;

        } else {
            value.data = h->value.data + sizeof("Bearer ") - 1;
            value.len = h->value.len - (sizeof("Bearer ") - 1);

            while (value.len && value.data[0] == ' ') {
                value.data++;
                value.len--;
            }

            while (value.len && value.data[value.len - 1] == ' ') {
                value.len--;
            }
        }
    }

    nquery = ngx_http_wharf_query_tokens(r, &query);
    nproto = ngx_http_wharf_subprotocol_tokens(r, &proto);

    if (n == 0) {
        value = nquery ? query : proto;
    }

    n += nquery + nproto;

    if (nquery) {

        /* value may point into r->args, which is rebuilt, not changed */

        if (ngx_http_wharf_strip_query_token(r) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (n > 1) {
        *why = "more than one credential: send the token once, in one of "
               "\"Authorization: Bearer\", \"?access_token=\" or the "
               "\"wharf.bearer.\" WebSocket subprotocol";
        return NGX_BUSY;
    }

    if (malformed) {
        token->len = 1;
        *why = "the Authorization header is not \"Bearer TOKEN\"";
        return NGX_DECLINED;
    }

    if (value.len == 0) {
        *why = "no token: send \"Authorization: Bearer TOKEN\", or, for a "
               "browser WebSocket, the subprotocol \"wharf.bearer.TOKEN\"";
        return NGX_DECLINED;
    }

    *token = value;

    if (value.len > WHARF_TOKEN_MAX) {
        *why = "token too long";
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * How many "access_token" parameters the query string has (the name in
 * any case, as ngx_http_arg() and the stripping compare it), and the
 * value of the first.
 */

static ngx_uint_t
ngx_http_wharf_query_tokens(ngx_http_request_t *r, ngx_str_t *value)
{
    u_char      *p, *last, *end, *eq;
    ngx_uint_t   n;

    ngx_str_null(value);

    p = r->args.data;
    last = p + r->args.len;

    if (r->args.len < sizeof("access_token") - 1
        || ngx_strlcasestrn(p, last, (u_char *) "access_token",
                            sizeof("access_token") - 2)
           == NULL)
    {
        return 0;
    }

    n = 0;

    for ( /* void */ ; p < last; p = end + 1) {

        end = ngx_strlchr(p, last, '&');
        if (end == NULL) {
            end = last;
        }

        eq = ngx_strlchr(p, end, '=');
        if (eq == NULL) {
            eq = end;
        }

        if (eq - p != sizeof("access_token") - 1
            || ngx_strncasecmp(p, (u_char *) "access_token",
                               sizeof("access_token") - 1)
               != 0)
        {
            continue;
        }

        if (n++ == 0 && eq < end) {
            value->data = eq + 1;
            value->len = end - eq - 1;
        }
    }

    return n;
}


/*
 * The entries "wharf.bearer.TOKEN" of every Sec-WebSocket-Protocol header
 * line: how many, and the token of the first.  Subprotocol names are
 * case-sensitive (RFC 6455, section 4.1), and a JWT is made of RFC 7230
 * token characters, so it stands in the list as it is.
 */

static ngx_uint_t
ngx_http_wharf_subprotocol_tokens(ngx_http_request_t *r, ngx_str_t *value)
{
    u_char           *p, *last, *end;
    ngx_uint_t        i, n;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    ngx_str_null(value);
    n = 0;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (!ngx_http_wharf_is_subprotocol_header(&h[i])) {
            continue;
        }

        p = h[i].value.data;
        last = p + h[i].value.len;

        while (p < last) {
            p = ngx_http_wharf_next_entry(p, last, &end);

            if (ngx_http_wharf_is_bearer_entry(p, end)) {
                if (n++ == 0) {
                    value->data = p + NGX_HTTP_WHARF_BEARER_LEN;
                    value->len = end - value->data;
                }
            }

            p = end;
        }
    }

    return n;
}


static ngx_uint_t
ngx_http_wharf_is_subprotocol_header(ngx_table_elt_t *h)
{
    return h->key.len == sizeof("Sec-WebSocket-Protocol") - 1
           && ngx_strncasecmp(h->key.data, (u_char *) "Sec-WebSocket-Protocol",
                              sizeof("Sec-WebSocket-Protocol") - 1)
              == 0;
}


/* the entry of a comma-separated list at p: [p, *end), blanks skipped */

static u_char *
ngx_http_wharf_next_entry(u_char *p, u_char *last, u_char **end)
{
    u_char  *e;

    while (p < last && (*p == ',' || *p == ' ' || *p == '\t')) {
        p++;
    }

    for (e = p; e < last && *e != ',' && *e != ' ' && *e != '\t'; e++) {
        /* void */
    }

    *end = e;

    return p;
}


static ngx_uint_t
ngx_http_wharf_is_bearer_entry(u_char *p, u_char *end)
{
    return (size_t) (end - p) >= NGX_HTTP_WHARF_BEARER_LEN
           && ngx_strncmp(p, NGX_HTTP_WHARF_BEARER_PREFIX,
                          NGX_HTTP_WHARF_BEARER_LEN)
              == 0;
}


static ngx_int_t
ngx_http_wharf_verify(ngx_http_wharf_main_conf_t *wmcf, ngx_str_t *token,
    struct wharf_claims *claims, const char **why)
{
    time_t                         now;
    uint32_t                       hash;
    ngx_http_wharf_cache_t        *cache;
    ngx_http_wharf_cache_entry_t  *e;

    now = ngx_time();
    cache = wmcf->cache;
    hash = 0;

    if (cache) {
        hash = ngx_murmur_hash2(token->data, token->len);

        e = ngx_http_wharf_cache_find(cache, token, hash);

        if (e) {
            if (wharf_claims_current(&e->claims, now)) {
                ngx_queue_remove(&e->lru);
                ngx_queue_insert_head(&cache->lru, &e->lru);

                *claims = e->claims;
                return NGX_OK;
            }

            ngx_http_wharf_cache_drop(cache, e);
        }
    }

    /* the gateway has no audience of its own: NULL */

    if (wharf_token_verify((const char *) token->data, token->len,
                           &wmcf->verify_keys, NULL, now, claims, why)
        != 0)
    {
        return NGX_ERROR;
    }

    if (cache) {
        ngx_http_wharf_cache_add(cache, token, hash, claims);
    }

    return NGX_OK;
}


static ngx_http_wharf_cache_entry_t *
ngx_http_wharf_cache_find(ngx_http_wharf_cache_t *cache, ngx_str_t *token,
    uint32_t hash)
{
    ngx_queue_t                   *b, *q;
    ngx_http_wharf_cache_entry_t  *e;

    b = &cache->buckets[hash & cache->mask];

    for (q = ngx_queue_head(b);
         q != ngx_queue_sentinel(b);
         q = ngx_queue_next(q))
    {
        e = ngx_queue_data(q, ngx_http_wharf_cache_entry_t, bucket);

        /*
         * Equal hashes are easy to make with murmurhash, so the compare
         * takes the same time however many bytes match: it must not tell
         * a client how much of someone else's token it has guessed.
         */

        if (e->hash == hash
            && e->len == token->len
            && CRYPTO_memcmp(e->token, token->data, token->len) == 0)
        {
            return e;
        }
    }

    return NULL;
}


static void
ngx_http_wharf_cache_add(ngx_http_wharf_cache_t *cache, ngx_str_t *token,
    uint32_t hash, struct wharf_claims *claims)
{
    ngx_queue_t                   *q;
    ngx_http_wharf_cache_entry_t  *e;

    if (cache->n >= cache->max) {
        q = ngx_queue_last(&cache->lru);
        e = ngx_queue_data(q, ngx_http_wharf_cache_entry_t, lru);
        ngx_http_wharf_cache_drop(cache, e);
    }

    e = ngx_alloc(sizeof(ngx_http_wharf_cache_entry_t) + token->len,
                  cache->log);
    if (e == NULL) {
        return;
    }

    e->hash = hash;
    e->claims = *claims;
    e->len = token->len;
    ngx_memcpy(e->token, token->data, token->len);

    ngx_queue_insert_head(&cache->buckets[hash & cache->mask], &e->bucket);
    ngx_queue_insert_head(&cache->lru, &e->lru);
    cache->n++;
}


static void
ngx_http_wharf_cache_drop(ngx_http_wharf_cache_t *cache,
    ngx_http_wharf_cache_entry_t *e)
{
    ngx_queue_remove(&e->bucket);
    ngx_queue_remove(&e->lru);
    cache->n--;
    ngx_free(e);
}


/*
 * Same origin (scheme://Host) unless wharf_allowed_origins says which;
 * no Origin header at all is not a browser, and passes.
 */

static ngx_int_t
ngx_http_wharf_origin_allowed(ngx_http_request_t *r,
    ngx_http_wharf_loc_conf_t *wlcf, ngx_str_t *origin)
{
    u_char           *p;
    size_t            len;
    ngx_str_t        *o;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *host;

    origin->len = 0;
    origin->data = NULL;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("Origin") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Origin",
                               sizeof("Origin") - 1)
               == 0)
        {
            *origin = h[i].value;
            break;
        }
    }

    if (origin->data == NULL) {
        return NGX_OK;
    }

    if (wlcf->origins && wlcf->origins->nelts) {
        o = wlcf->origins->elts;

        for (i = 0; i < wlcf->origins->nelts; i++) {
            if ((o[i].len == 1 && o[i].data[0] == '*')
                || (o[i].len == origin->len
                    && ngx_strncasecmp(o[i].data, origin->data, o[i].len)
                       == 0))
            {
                return NGX_OK;
            }
        }

        return NGX_DECLINED;
    }

    host = r->headers_in.host;

    if (host == NULL) {
        return NGX_DECLINED;
    }

    p = origin->data;
    len = origin->len;

    if (len > sizeof("https://") - 1
        && ngx_strncasecmp(p, (u_char *) "https://", sizeof("https://") - 1)
           == 0)
    {
        p += sizeof("https://") - 1;
        len -= sizeof("https://") - 1;

    } else if (len > sizeof("http://") - 1
               && ngx_strncasecmp(p, (u_char *) "http://",
                                  sizeof("http://") - 1)
                  == 0)
    {
        p += sizeof("http://") - 1;
        len -= sizeof("http://") - 1;

    } else {
        return NGX_DECLINED;
    }

    if (len == host->value.len
        && ngx_strncasecmp(p, host->value.data, len) == 0)
    {
        return NGX_OK;
    }

    return NGX_DECLINED;
}


/* 401 with the challenge RFC 6750 asks for */

static ngx_int_t
ngx_http_wharf_unauthorized(ngx_http_request_t *r, ngx_uint_t invalid,
    const char *why)
{
    u_char  *p, *last;
    size_t   len;

    len = sizeof("Bearer realm=\"wharf\", error=\"invalid_token\", "
                 "error_description=\"\"") + ngx_strlen(why);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (invalid) {
        last = ngx_snprintf(p, len, "Bearer realm=\"wharf\", "
                            "error=\"invalid_token\", "
                            "error_description=\"%s\"", why);

        /* the description is a quoted-string: no quotes inside */

        for (len = sizeof("Bearer realm=\"wharf\", error=\"invalid_token\", "
                          "error_description=\"") - 1;
             p + len < last - 1;
             len++)
        {
            if (p[len] == '"' || p[len] == '\\') {
                p[len] = '\'';
            }
        }

    } else {
        last = ngx_cpymem(p, "Bearer realm=\"wharf\"",
                          sizeof("Bearer realm=\"wharf\"") - 1);
    }

    if (ngx_http_wharf_add_header(r, "WWW-Authenticate", p, last - p)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_wharf_send_error(r, NGX_HTTP_UNAUTHORIZED, "unauthorized",
                                     "%s", why);
}


/*
 * wharf_bearer_subprotocol on, in a location the module does not serve
 * (wharfd's live feed): the backend checks the token, but its WebSocket
 * library, like the agent's, cannot take a Sec-WebSocket-Protocol as long
 * as a JWT (libwebsockets picks the protocol from a copy in 128 bytes).
 * So the "wharf.bearer." entry leaves the list here, and its token goes on
 * as "Authorization: Bearer", which the backend reads; two credentials are
 * refused here, as the backend would (400 invalid_request).  The query
 * string is left as it is: the backend reads an old client's token there.
 */

static ngx_int_t
ngx_http_wharf_bearer_to_header(ngx_http_request_t *r)
{
    u_char                     *p;
    ngx_int_t                   rc;
    ngx_str_t                   query, proto, token;
    ngx_uint_t                  n, nproto;
    ngx_http_wharf_loc_conf_t  *wlcf;

    nproto = ngx_http_wharf_subprotocol_tokens(r, &proto);

    if (nproto == 0) {
        return NGX_DECLINED;
    }

    n = nproto + ngx_http_wharf_query_tokens(r, &query)
        + (r->headers_in.authorization != NULL);

    if (n > 1) {
        rc = ngx_http_wharf_invalid_request(r, "more than one credential: "
                                            "send the token once, in one of "
                                            "\"Authorization: Bearer\", "
                                            "\"?access_token=\" or the "
                                            "\"wharf.bearer.\" WebSocket "
                                            "subprotocol");
        ngx_http_finalize_request(r, rc);
        return NGX_DONE;
    }

    /* the token is in the header's bytes, which are rewritten below */

    p = ngx_pnalloc(r->pool, sizeof("Bearer ") - 1 + proto.len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(p, "Bearer ", sizeof("Bearer ") - 1);
    ngx_memcpy(p + sizeof("Bearer ") - 1, proto.data, proto.len);

    ngx_http_wharf_strip_subprotocol(r);

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_wharf_module);

    if (ngx_http_wharf_list_filter(r->pool, &r->headers_in.headers,
                                   ngx_http_wharf_kept_from_worker,
                                   &wlcf->pass_headers)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    token.data = p;
    token.len = sizeof("Bearer ") - 1 + proto.len;

    if (ngx_http_wharf_add_authorization(r, &token) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DECLINED;
}


/* 400 invalid_request, as RFC 6750 (section 3.1) names it */

static ngx_int_t
ngx_http_wharf_invalid_request(ngx_http_request_t *r, const char *why)
{
    ngx_str_t  challenge;

    ngx_str_set(&challenge, "Bearer realm=\"wharf\", "
                            "error=\"invalid_request\"");

    if (ngx_http_wharf_add_header(r, "WWW-Authenticate", challenge.data,
                                  challenge.len)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_wharf_send_error(r, NGX_HTTP_BAD_REQUEST,
                                     "invalid_request", "%s", why);
}


/*
 * RFC 6455, section 4.2.1: an opening handshake has one Sec-WebSocket-Key
 * of 16 bytes in base64 and Sec-WebSocket-Version 13.  Returns
 * NGX_DECLINED for a request that is no WebSocket upgrade or a good one;
 * else what the answer returned: 426 with "Sec-WebSocket-Version: 13"
 * (section 4.2.2) for another version or none, 400 for a bad key.
 */

static ngx_int_t
ngx_http_wharf_check_handshake(ngx_http_request_t *r)
{
    u_char           *p;
    ngx_uint_t        i, nkey, nversion;
    ngx_str_t         key, version;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    if (!ngx_http_wharf_is_websocket(r)) {
        return NGX_DECLINED;
    }

    ngx_str_null(&key);
    ngx_str_null(&version);
    nkey = 0;
    nversion = 0;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("Sec-WebSocket-Key") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Sec-WebSocket-Key",
                               sizeof("Sec-WebSocket-Key") - 1)
               == 0)
        {
            key = h[i].value;
            nkey++;

        } else if (h[i].key.len == sizeof("Sec-WebSocket-Version") - 1
                   && ngx_strncasecmp(h[i].key.data,
                                      (u_char *) "Sec-WebSocket-Version",
                                      sizeof("Sec-WebSocket-Version") - 1)
                      == 0)
        {
            version = h[i].value;
            nversion++;
        }
    }

    if (nversion != 1 || version.len != 2
        || version.data[0] != '1' || version.data[1] != '3')
    {
        if (ngx_http_wharf_add_header(r, "Sec-WebSocket-Version",
                                      (u_char *) "13", 2)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_str_set(&r->headers_out.status_line, "426 Upgrade Required");

        return ngx_http_wharf_send_error(r, NGX_HTTP_WHARF_UPGRADE_REQUIRED,
                                         "unsupported_websocket_version",
                                         "the WebSocket handshake needs one "
                                         "\"Sec-WebSocket-Version: 13\"");
    }

    /* 16 bytes in base64: 22 characters of the alphabet, then "==" */

    if (nkey == 1 && key.len == 24
        && key.data[22] == '=' && key.data[23] == '=')
    {
        for (p = key.data; p < key.data + 22; p++) {
            if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')
                  || (*p >= '0' && *p <= '9') || *p == '+' || *p == '/'))
            {
                break;
            }
        }

        if (p == key.data + 22) {
            return NGX_DECLINED;
        }
    }

    return ngx_http_wharf_send_error(r, NGX_HTTP_BAD_REQUEST,
                                     "bad_handshake",
                                     "the WebSocket handshake needs one "
                                     "\"Sec-WebSocket-Key\": 16 bytes in "
                                     "base64");
}


/*
 * Removes every "access_token" parameter from $args, so that neither the
 * upstream nor the access log ($args) sees it.  $request_uri keeps the
 * request as it was sent: it must not be logged or proxied.
 */

ngx_int_t
ngx_http_wharf_strip_query_token(ngx_http_request_t *r)
{
    u_char  *p, *last, *param, *end, *dst, *start;
    size_t   len;

    p = r->args.data;
    last = p + r->args.len;

    if (r->args.len < sizeof("access_token") - 1
        || ngx_strlcasestrn(p, last, (u_char *) "access_token",
                            sizeof("access_token") - 2)
           == NULL)
    {
        return NGX_OK;
    }

    start = ngx_pnalloc(r->pool, r->args.len);
    if (start == NULL) {
        return NGX_ERROR;
    }

    dst = start;

    for (param = p; param < last; param = end + 1) {

        end = ngx_strlchr(param, last, '&');
        if (end == NULL) {
            end = last;
        }

        len = 0;

        while (param + len < end && param[len] != '=') {
            len++;
        }

        if (len == sizeof("access_token") - 1
            && ngx_strncasecmp(param, (u_char *) "access_token", len) == 0)
        {
            continue;
        }

        if (end > param) {
            if (dst > start) {
                *dst++ = '&';
            }

            dst = ngx_cpymem(dst, param, end - param);
        }
    }

    r->args.data = start;
    r->args.len = dst - start;

    /* proxy_pass without a URI would send the request line as it came */
    r->valid_unparsed_uri = 0;

    return NGX_OK;
}


/*
 * The Authorization header the upstream gets: the module's token, or an
 * empty value when the module has no private key.  proxy_pass sends
 * every header of headers_in that no proxy_set_header overrides, so the
 * client's header is changed in place: it can never pass on.  With add,
 * a header the client did not send is added, into the request's header
 * list, which has room for it unless the client sent 20 headers or more:
 * that is how routed requests and the subrequest to a health backend get
 * the module's token, with no proxy_set_header and no variable.  (A
 * location may still set "proxy_set_header Authorization
 * $wharf_upstream_authorization;", which takes precedence, and drops the
 * header when empty.)
 */

ngx_int_t
ngx_http_wharf_swap_credentials(ngx_http_request_t *r, ngx_str_t *token,
    ngx_uint_t add)
{
    ngx_table_elt_t            *h;
    ngx_http_wharf_loc_conf_t  *wlcf;

    if (ngx_http_wharf_strip_query_token(r) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_wharf_strip_subprotocol(r);

    /*
     * Out go the header lines left empty by that, and the client's other
     * credentials, unless the location passes them.
     */

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_wharf_module);

    if (ngx_http_wharf_list_filter(r->pool, &r->headers_in.headers,
                                   ngx_http_wharf_kept_from_worker,
                                   &wlcf->pass_headers)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    h = r->headers_in.authorization;

    if (h) {
        if (token) {
            h->value = *token;

        } else {
            h->value.len = 0;
        }

        return NGX_OK;
    }

    if (token == NULL || !add) {
        return NGX_OK;
    }

    return ngx_http_wharf_add_authorization(r, token);
}


/* a request header "Authorization: value", which the client did not send */

static ngx_int_t
ngx_http_wharf_add_authorization(ngx_http_request_t *r, ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_in.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(&h->key, "Authorization");
    h->lowcase_key = (u_char *) "authorization";
    h->hash = ngx_hash(ngx_hash(ngx_hash(ngx_hash(ngx_hash(ngx_hash(
              ngx_hash(ngx_hash(ngx_hash(ngx_hash(ngx_hash(ngx_hash('a', 'u'),
              't'), 'h'), 'o'), 'r'), 'i'), 'z'), 'a'), 't'), 'i'), 'o'), 'n');
    h->value = *value;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    r->headers_in.authorization = h;

    return NGX_OK;
}


/*
 * The "wharf.bearer." entries leave every Sec-WebSocket-Protocol header
 * line; the other subprotocols (wharf.tty.v1, ...) pass on as they were
 * offered, in their order.  The value is rewritten in place: it only gets
 * shorter.  A line left empty is then removed from the request (a worker
 * may refuse an empty list): see ngx_http_wharf_kept_from_worker().
 */

static void
ngx_http_wharf_strip_subprotocol(ngx_http_request_t *r)
{
    u_char           *p, *last, *end, *dst;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (!ngx_http_wharf_is_subprotocol_header(&h[i])) {
            continue;
        }

        p = h[i].value.data;
        last = p + h[i].value.len;
        dst = p;

        while (p < last) {
            p = ngx_http_wharf_next_entry(p, last, &end);

            if (p == end) {
                break;
            }

            if (!ngx_http_wharf_is_bearer_entry(p, end)) {
                if (dst > h[i].value.data) {
                    *dst++ = ',';
                    *dst++ = ' ';
                }

                dst = ngx_movemem(dst, p, end - p);
            }

            p = end;
        }

        h[i].value.len = dst - h[i].value.data;
    }
}


/* a request header line that must not reach a worker */

static ngx_uint_t
ngx_http_wharf_kept_from_worker(ngx_table_elt_t *h, void *data)
{
    ngx_uint_t  pass = *(ngx_uint_t *) data;

    if (ngx_http_wharf_is_subprotocol_header(h)) {
        return h->value.len == 0;
    }

    if (h->key.len == sizeof("Cookie") - 1
        && ngx_strncasecmp(h->key.data, (u_char *) "Cookie",
                           sizeof("Cookie") - 1)
           == 0)
    {
        return !(pass & NGX_HTTP_WHARF_PASS_COOKIE);
    }

    if (h->key.len == sizeof("Proxy-Authorization") - 1
        && ngx_strncasecmp(h->key.data, (u_char *) "Proxy-Authorization",
                           sizeof("Proxy-Authorization") - 1)
           == 0)
    {
        return !(pass & NGX_HTTP_WHARF_PASS_PROXY_AUTH);
    }

    return 0;
}


/*
 * Takes the elements that drop() names out of a list without moving any
 * element: r->headers_in points at some of them (host, upgrade,
 * authorization...).  The parts are described anew, one per run of kept
 * elements: the first in the list itself, the others from the pool; the
 * elements stay in their arrays.  No part is left empty (nginx's loops
 * over a list read the first element of each next part), and the list's
 * nalloc becomes the size of its last part, which so is full: a later
 * ngx_list_push() starts a part of its own rather than writing over the
 * elements after the last run.  ngx_list_t has had this layout since
 * nginx 0.x.
 */

static ngx_int_t
ngx_http_wharf_list_filter(ngx_pool_t *pool, ngx_list_t *list,
    ngx_uint_t (*drop)(ngx_table_elt_t *h, void *data), void *data)
{
    u_char           *elts;
    ngx_uint_t        i, n, runs, dropped;
    ngx_list_part_t  *part, *run, *spare, *prev, first;

    /* the usual request has nothing to drop, and gets nothing done */

    runs = 0;
    dropped = 0;

    for (part = &list->part; part; part = part->next) {
        elts = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (drop((ngx_table_elt_t *) (elts + i * list->size), data)) {
                dropped++;

            } else if (i == 0
                       || drop((ngx_table_elt_t *)
                                   (elts + (i - 1) * list->size), data))
            {
                runs++;
            }
        }
    }

    if (dropped == 0) {
        return NGX_OK;
    }

    spare = NULL;

    if (runs > 1) {
        spare = ngx_palloc(pool, (runs - 1) * sizeof(ngx_list_part_t));
        if (spare == NULL) {
            return NGX_ERROR;
        }
    }

    first = list->part;
    prev = NULL;

    for (part = &first; part; part = part->next) {
        elts = part->elts;
        i = 0;

        while (i < part->nelts) {

            if (drop((ngx_table_elt_t *) (elts + i * list->size), data)) {
                i++;
                continue;
            }

            for (n = i + 1;
                 n < part->nelts
                 && !drop((ngx_table_elt_t *) (elts + n * list->size), data);
                 n++)
            {
                /* void */
            }

            run = prev ? spare++ : &list->part;

            run->elts = elts + i * list->size;
            run->nelts = n - i;
            run->next = NULL;

            if (prev) {
                prev->next = run;
            }

            prev = run;
            i = n;
        }
    }

    if (prev == NULL) {

        /* nothing kept: an empty first part, with all its room */

        list->part.elts = first.elts;
        list->part.nelts = 0;
        list->part.next = NULL;
        list->last = &list->part;

        return NGX_OK;
    }

    list->last = prev;
    list->nalloc = prev->nelts;

    return NGX_OK;
}


/* "Bearer ..." for the agent of worker: sub and aud the worker */

ngx_int_t
ngx_http_wharf_upstream_token(ngx_http_wharf_main_conf_t *wmcf,
    ngx_http_wharf_worker_t *worker, ngx_log_t *log, ngx_str_t *value)
{
    return ngx_http_wharf_cached_token(wmcf, &worker->token,
                                       (const char *) worker->name.data,
                                       (const char *) worker->name.data,
                                       NGX_HTTP_WHARF_UPSTREAM_SCOPES, log,
                                       value);
}


/* "Bearer ..." with sub "*" and scope "read", for wharfd's health */

ngx_int_t
ngx_http_wharf_fleet_token(ngx_http_wharf_main_conf_t *wmcf, ngx_log_t *log,
    ngx_str_t *value)
{
    return ngx_http_wharf_cached_token(wmcf, &wmcf->fleet_token, "*", NULL,
                                       WHARF_SCOPE_READ, log, value);
}


/* "Bearer ..." with sub "*" and scope "admin", for wharfd's removals */

ngx_int_t
ngx_http_wharf_admin_token(ngx_http_wharf_main_conf_t *wmcf, ngx_log_t *log,
    ngx_str_t *value)
{
    return ngx_http_wharf_cached_token(wmcf, &wmcf->admin_token, "*", NULL,
                                       WHARF_SCOPE_ADMIN, log, value);
}


static ngx_int_t
ngx_http_wharf_cached_token(ngx_http_wharf_main_conf_t *wmcf,
    ngx_http_wharf_token_t *t, const char *sub, const char *aud,
    unsigned scopes, ngx_log_t *log, ngx_str_t *value)
{
    time_t  now;

    now = ngx_time();

    if (t->data == NULL || now >= t->renew) {

        if (ngx_http_wharf_sign(wmcf, t, sub, aud, scopes, log) != NGX_OK) {

            /* a token that has not expired yet still serves */

            if (t->data == NULL || now >= t->exp) {
                return NGX_ERROR;
            }
        }
    }

    value->data = t->data;
    value->len = t->len;

    return NGX_OK;
}


static ngx_int_t
ngx_http_wharf_sign(ngx_http_wharf_main_conf_t *wmcf,
    ngx_http_wharf_token_t *t, const char *sub, const char *aud,
    unsigned scopes, ngx_log_t *log)
{
    u_char               *p;
    char                 *jwt;
    size_t                len;
    time_t                now;
    const char           *why;
    struct wharf_claims   c;

    now = ngx_time();

    ngx_memzero(&c, sizeof(struct wharf_claims));

    (void) ngx_cpystrn((u_char *) c.sub, (u_char *) sub, sizeof(c.sub));

    if (aud) {
        (void) ngx_cpystrn((u_char *) c.aud, (u_char *) aud, sizeof(c.aud));
    }

    /*
     * No "iat": it is optional (common/token.c checks it when present),
     * and the agent's token is in every request to the worker and so in
     * each session's pool, where 23 bytes of base64 are 23 bytes more.
     */

    c.scopes = scopes;
    c.exp = now + wmcf->token_ttl;

    jwt = wharf_token_sign(&c, wmcf->private_key.data, wmcf->private_key.len,
                           &why);
    if (jwt == NULL) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "wharf: cannot sign a token for \"%s\": %s", sub, why);
        return NGX_ERROR;
    }

    len = sizeof("Bearer ") - 1 + ngx_strlen(jwt);

    p = ngx_alloc(len, log);
    if (p == NULL) {
        free(jwt);
        return NGX_ERROR;
    }

    ngx_memcpy(p, "Bearer ", sizeof("Bearer ") - 1);
    ngx_memcpy(p + sizeof("Bearer ") - 1, jwt, len - (sizeof("Bearer ") - 1));

    free(jwt);

    if (t->data) {
        ngx_free(t->data);
    }

    t->data = p;
    t->len = len;
    t->exp = c.exp;

    /* renewed at half its life: a request never carries one about to end */
    t->renew = now + ngx_max(wmcf->token_ttl / 2, 1);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0,
                   "wharf: signed a token for \"%s\", expires %T",
                   sub, c.exp);

    return NGX_OK;
}


/*
 * The verified-token cache entries and the minted upstream tokens are
 * ngx_alloc()ed, as they are replaced one by one during the process's
 * life; they go with the cycle pool when the worker process exits, so
 * that a memory checker sees nothing left behind.
 */

static void
ngx_http_wharf_auth_cleanup(void *data)
{
    ngx_http_wharf_main_conf_t  *wmcf = data;

    ngx_uint_t                     i;
    ngx_queue_t                   *q;
    ngx_http_wharf_worker_t      **w;
    ngx_http_wharf_cache_entry_t  *e;

    if (wmcf->cache) {
        while (!ngx_queue_empty(&wmcf->cache->lru)) {
            q = ngx_queue_head(&wmcf->cache->lru);
            e = ngx_queue_data(q, ngx_http_wharf_cache_entry_t, lru);
            ngx_http_wharf_cache_drop(wmcf->cache, e);
        }
    }

    w = wmcf->workers.elts;

    for (i = 0; i < wmcf->workers.nelts; i++) {
        if (w[i]->token.data) {
            ngx_free(w[i]->token.data);
            w[i]->token.data = NULL;
        }
    }

    if (wmcf->fleet_token.data) {
        ngx_free(wmcf->fleet_token.data);
        wmcf->fleet_token.data = NULL;
    }

    if (wmcf->admin_token.data) {
        ngx_free(wmcf->admin_token.data);
        wmcf->admin_token.data = NULL;
    }
}


ngx_int_t
ngx_http_wharf_auth_init_process(ngx_cycle_t *cycle,
    ngx_http_wharf_main_conf_t *wmcf)
{
    ngx_uint_t               i, n;
    ngx_pool_cleanup_t      *cln;
    ngx_http_wharf_cache_t  *cache;

    cln = ngx_pool_cleanup_add(cycle->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_wharf_auth_cleanup;
    cln->data = wmcf;

    if (wmcf->verify_keys.n == 0 || wmcf->auth_cache_size == 0) {
        return NGX_OK;
    }

    cache = ngx_pcalloc(cycle->pool, sizeof(ngx_http_wharf_cache_t));
    if (cache == NULL) {
        return NGX_ERROR;
    }

    /* about one entry per bucket when full */

    for (n = 1; n < wmcf->auth_cache_size; n <<= 1) { /* void */ }

    cache->buckets = ngx_palloc(cycle->pool, n * sizeof(ngx_queue_t));
    if (cache->buckets == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        ngx_queue_init(&cache->buckets[i]);
    }

    cache->mask = n - 1;
    ngx_queue_init(&cache->lru);

    cache->max = wmcf->auth_cache_size;
    cache->log = cycle->log;

    wmcf->cache = cache;

    return NGX_OK;
}


/*
 * wharf_auth_public_key FILE | FOLDER;  (repeatable)
 *
 * Every key given is trusted, each chosen by its kid (common/keys.h): a
 * file holds one PEM public key; a folder, every "*.pem" in it (not
 * those starting with a dot), in name order: "wharfctl keys rotate"
 * keeps one such folder, so a rotation needs no configuration change,
 * only a reload.  The same key twice is kept once.
 */

static void
ngx_http_wharf_keys_cleanup(void *data)
{
    wharf_keys_free(data);
}


static ngx_int_t
ngx_http_wharf_add_key(ngx_conf_t *cf, ngx_http_wharf_main_conf_t *wmcf,
    ngx_str_t *name)
{
    ngx_str_t    pem;
    const char  *why;

    if (ngx_http_wharf_read_key_file(cf, name, &pem) != NGX_OK) {
        return NGX_ERROR;
    }

    if (wharf_keys_add_pem(&wmcf->verify_keys, pem.data, pem.len, &why) < 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\": %s", name, why);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static int ngx_libc_cdecl
ngx_http_wharf_cmp_names(const void *one, const void *two)
{
    const ngx_str_t  *a = one, *b = two;

    return ngx_strcmp(a->data, b->data);
}


char *
ngx_http_wharf_public_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_wharf_main_conf_t *wmcf = conf;

    size_t               len;
    ngx_dir_t            dir;
    ngx_str_t           *value, name, *file;
    ngx_uint_t           i;
    ngx_array_t          files;
    ngx_file_info_t      fi;
    ngx_pool_cleanup_t  *cln;

    value = cf->args->elts;
    name = value[1];

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (wmcf->verify_keys.n == 0) {

        /* the keys are OpenSSL objects: freed with the configuration */

        cln = ngx_pool_cleanup_add(cf->pool, 0);
        if (cln == NULL) {
            return NGX_CONF_ERROR;
        }

        cln->handler = ngx_http_wharf_keys_cleanup;
        cln->data = &wmcf->verify_keys;
    }

    if (ngx_file_info(name.data, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_file_info_n " \"%V\" failed", &name);
        return NGX_CONF_ERROR;
    }

    if (!ngx_is_dir(&fi)) {
        return ngx_http_wharf_add_key(cf, wmcf, &name) == NGX_OK
               ? NGX_CONF_OK : NGX_CONF_ERROR;
    }

    if (ngx_array_init(&files, cf->temp_pool, 4, sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_open_dir(&name, &dir) == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_dir_n " \"%V\" failed", &name);
        return NGX_CONF_ERROR;
    }

    for ( ;; ) {
        ngx_set_errno(0);

        if (ngx_read_dir(&dir) == NGX_ERROR) {
            if (ngx_errno != NGX_ENOMOREFILES) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                                   ngx_read_dir_n " \"%V\" failed", &name);
                (void) ngx_close_dir(&dir);
                return NGX_CONF_ERROR;
            }

            break;
        }

        len = ngx_de_namelen(&dir);

        if (ngx_de_name(&dir)[0] == '.'
            || len < sizeof(".pem")
            || ngx_strncmp(ngx_de_name(&dir) + len - 4, ".pem", 4) != 0)
        {
            continue;
        }

        file = ngx_array_push(&files);
        if (file == NULL) {
            (void) ngx_close_dir(&dir);
            return NGX_CONF_ERROR;
        }

        file->len = name.len + 1 + len;
        file->data = ngx_pnalloc(cf->temp_pool, file->len + 1);
        if (file->data == NULL) {
            (void) ngx_close_dir(&dir);
            return NGX_CONF_ERROR;
        }

        ngx_sprintf(file->data, "%V/%s%Z", &name, ngx_de_name(&dir));
    }

    (void) ngx_close_dir(&dir);

    if (files.nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" holds no *.pem key", &name);
        return NGX_CONF_ERROR;
    }

    /* name order: the same keys in the same order on every reload */

    ngx_qsort(files.elts, files.nelts, sizeof(ngx_str_t),
              ngx_http_wharf_cmp_names);

    file = files.elts;

    for (i = 0; i < files.nelts; i++) {
        if (ngx_http_wharf_add_key(cf, wmcf, &file[i]) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/*
 * At configuration time: the private key is an ES256 key whose public
 * half is one of the trusted keys, or every agent would refuse the
 * module's tokens.  A token signed with it must verify with the keys.
 */

char *
ngx_http_wharf_auth_check_keys(ngx_conf_t *cf,
    ngx_http_wharf_main_conf_t *wmcf)
{
    char                 *jwt;
    const char           *why;
    struct wharf_claims   c, out;
    char                  kid[WHARF_KID_LEN + 1];

    if (wmcf->private_key.len == 0) {
        return NGX_CONF_OK;
    }

    if (wmcf->verify_keys.n == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "wharf_auth_private_key is set, "
                      "wharf_auth_public_key is not: both come from the "
                      "same key pair");
        return NGX_CONF_ERROR;
    }

    if (wharf_key_kid(wmcf->private_key.data, wmcf->private_key.len, 1, kid,
                      &why)
        != 0)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "wharf_auth_private_key: %s", why);
        return NGX_CONF_ERROR;
    }

    if (wharf_keys_find(&wmcf->verify_keys, kid, WHARF_KID_LEN) == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "wharf_auth_private_key (kid %s) is not among the "
                      "keys of wharf_auth_public_key: its tokens would "
                      "verify nowhere; give its public key too (wharfctl "
                      "keys rotate keeps both in DIR/public)", kid);
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&c, sizeof(struct wharf_claims));
    c.sub[0] = '*';
    c.scopes = WHARF_SCOPE_READ;
    c.exp = ngx_time() + 60;

    jwt = wharf_token_sign(&c, wmcf->private_key.data, wmcf->private_key.len,
                           &why);
    if (jwt == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "wharf_auth_private_key: %s", why);
        return NGX_CONF_ERROR;
    }

    if (wharf_token_verify(jwt, ngx_strlen(jwt), &wmcf->verify_keys, NULL,
                           ngx_time(), &out, &why)
        != 0)
    {
        free(jwt);
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "wharf_auth_private_key and wharf_auth_public_key "
                      "are not one key pair: a token signed with the one "
                      "does not verify with the other (%s)", why);
        return NGX_CONF_ERROR;
    }

    free(jwt);

    return NGX_CONF_OK;
}
