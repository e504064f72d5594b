
/*
 * wharf: a balancer that hands each request to its worker's own upstream.
 *
 *     upstream wharf_workers {
 *         wharf_balancer;
 *     }
 *
 *     location /api/workers/ {
 *         wharf_route;
 *         proxy_pass http://wharf_workers;
 *         ...
 *     }
 *
 * Why: a proxy_pass with variables ("http://$wharf_upstream$wharf_path...")
 * makes nginx evaluate the variables, parse the resulting URL and look the
 * upstream up by name, with a linear search of every upstream{} block, on
 * each request, and allocate for all of that from the request pool.  A
 * static proxy_pass does none of it: its upstream is known when the
 * configuration is read.  This balancer is that static upstream; the route
 * the module found in the rewrite phases already names the worker, and so
 * its upstream{} block (resolved once, by ngx_http_wharf_init_main_conf()).
 *
 * init_peer hands the request to that block's own balancer (round robin,
 * or hash, least_conn, keepalive: whatever the worker's block has), so
 * its servers, weights, backups, max_fails, keepalive connections and
 * proxy_next_upstream's tries are exactly those of a proxy_pass straight
 * to it.  Nothing is allocated here; the worker's balancer allocates what
 * it would anyway.  A live worker (PUT /api/workers/NAME) has no block of
 * its own: its requests go to the peer of ngx_http_wharf_live_peer.c.
 *
 * The path: proxy_pass without a URI sends the request target as the
 * client sent it (r->unparsed_uri).  The precontent handler puts the
 * worker's path there ($wharf_path, and the query string without a
 * client's token) and keeps the original in the module context; init_peer
 * runs right after the proxy module has built the request to the
 * upstream, and puts the original back, so that $request_uri in the logs
 * is what the client sent; a request that ends before (its body failed,
 * the client left while nginx read it) gets it back from its cleanup.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_wharf_module.h"

#if (nginx_version >= 1029004)
#include <ngx_http_proxy_module.h>
#endif


static ngx_int_t ngx_http_wharf_balancer_init_upstream(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us);
#if (nginx_version >= 1029007)
static ngx_int_t ngx_http_wharf_balancer_no_keepalive(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us, ngx_http_wharf_srv_conf_t *wscf);
#endif
static ngx_int_t ngx_http_wharf_balancer_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_wharf_balancer_add_token(ngx_http_request_t *r,
    ngx_http_wharf_ctx_t *ctx);


/*
 * wharf_balancer;  in an upstream{} block.
 *
 * nginx refuses an upstream{} block without a "server" when the block
 * closes, before any balancer is initialised, so the directive adds a
 * placeholder, never connected to.  A real "server" line, before or
 * after, is refused by ngx_http_wharf_balancer_init_upstream().
 *
 * The placeholder has an address (0.0.0.0:0) so that, should "hash",
 * "least_conn" or another method follow in the block and replace this
 * balancer, their initialisation (round robin's) accepts the block and
 * ngx_http_wharf_balancer_check() refuses it saying why, rather than
 * round robin saying "no servers in upstream".
 */

char *
ngx_http_wharf_balancer(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_wharf_srv_conf_t *wscf = conf;

    ngx_addr_t                    *addr;
    struct sockaddr_in            *sin;
    ngx_http_upstream_server_t    *server;
    ngx_http_upstream_srv_conf_t  *uscf;

    if (wscf->balancer) {
        return "is duplicate";
    }

    uscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_upstream_module);

    if (uscf->peer.init_upstream) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "wharf_balancer: upstream \"%V\" already has a "
                           "load balancing method or \"keepalive\"; each "
                           "worker's own upstream block has its own",
                           &uscf->host);
        return NGX_CONF_ERROR;
    }

    if (uscf->servers->nelts) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "wharf_balancer: upstream \"%V\" has \"server\" "
                           "lines; the servers are those of each worker's "
                           "own upstream block", &uscf->host);
        return NGX_CONF_ERROR;
    }

    server = ngx_array_push(uscf->servers);
    if (server == NULL) {
        return NGX_CONF_ERROR;
    }

    addr = ngx_pcalloc(cf->pool, sizeof(ngx_addr_t));
    sin = ngx_pcalloc(cf->pool, sizeof(struct sockaddr_in));
    if (addr == NULL || sin == NULL) {
        return NGX_CONF_ERROR;
    }

    sin->sin_family = AF_INET;

    addr->sockaddr = (struct sockaddr *) sin;
    addr->socklen = sizeof(struct sockaddr_in);
    ngx_str_set(&addr->name, "wharf_balancer");

    ngx_memzero(server, sizeof(ngx_http_upstream_server_t));
    ngx_str_set(&server->name, "wharf_balancer");
    server->addrs = addr;
    server->naddrs = 1;
    server->weight = 1;
    server->max_fails = 1;
    server->fail_timeout = 10;

    uscf->peer.init_upstream = ngx_http_wharf_balancer_init_upstream;

    wscf->balancer = 1;
    wscf->file_name = cf->conf_file->file.name.data;
    wscf->line = cf->conf_file->line;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_wharf_balancer_init_upstream(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_http_wharf_srv_conf_t  *wscf;

    wscf = ngx_http_conf_upstream_srv_conf(us, ngx_http_wharf_module);

    if (us->servers->nelts != 1) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "upstream \"%V\" with wharf_balancer (%s:%ui) has "
                      "\"server\" lines; the servers are those of each "
                      "worker's own upstream block",
                      &us->host, wscf->file_name, wscf->line);
        return NGX_ERROR;
    }

    if (us->shm_zone) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "upstream \"%V\" with wharf_balancer (%s:%ui) has a "
                      "\"zone\"; put it in each worker's upstream block",
                      &us->host, wscf->file_name, wscf->line);
        return NGX_ERROR;
    }

#if (nginx_version >= 1029007)
    if (ngx_http_wharf_balancer_no_keepalive(cf, us, wscf) != NGX_OK) {
        return NGX_ERROR;
    }
#endif

    us->peer.init = ngx_http_wharf_balancer_init_peer;

    return NGX_OK;
}


#if (nginx_version >= 1029007)

/*
 * Since nginx 1.29.7 every upstream{} block keeps connections alive
 * unless it says "keepalive 0;": once all blocks are initialised, the
 * keepalive module wraps the peer.init of each.  Around this balancer the
 * wrapper would cache the workers' connections in this block, where the
 * "keepalive" of each worker's own block no longer counts.  So the block
 * says "keepalive 0;" itself, through the keepalive module's own
 * directive (what nginx would call for that line), here: after the whole
 * configuration is read, before the keepalive module wraps anything.  A
 * "keepalive" that the block already has makes the directive answer "is
 * duplicate", and is refused.
 */

static ngx_int_t
ngx_http_wharf_balancer_no_keepalive(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us, ngx_http_wharf_srv_conf_t *wscf)
{
    char           *rv;
    ngx_str_t      *value;
    ngx_uint_t      i;
    ngx_array_t    *saved, args;
    ngx_module_t   *m;
    ngx_command_t  *cmd;

    for (i = 0; cf->cycle->modules[i]; i++) {
        m = cf->cycle->modules[i];

        if (m->type == NGX_HTTP_MODULE
            && ngx_strcmp(m->name, "ngx_http_upstream_keepalive_module") == 0)
        {
            break;
        }
    }

    if (cf->cycle->modules[i] == NULL) {

        /* nginx built without it: no keepalive to turn off */

        return NGX_OK;
    }

    for (cmd = m->commands; cmd && cmd->name.len; cmd++) {

        if (cmd->name.len == sizeof("keepalive") - 1
            && ngx_strncmp(cmd->name.data, "keepalive", cmd->name.len) == 0
            && cmd->conf == NGX_HTTP_SRV_CONF_OFFSET)
        {
            break;
        }
    }

    if (cmd == NULL || cmd->name.len == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "wharf_balancer: this nginx's keepalive module has "
                      "no \"keepalive\" directive for upstream blocks, "
                      "which turns off its default keepalive in upstream "
                      "\"%V\" (%s:%ui); see docs/DESIGN-module.md",
                      &us->host, wscf->file_name, wscf->line);
        return NGX_ERROR;
    }

    if (ngx_array_init(&args, cf->temp_pool, 2, sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    value = ngx_array_push_n(&args, 2);
    if (value == NULL) {
        return NGX_ERROR;
    }

    value[0] = cmd->name;
    ngx_str_set(&value[1], "0");

    saved = cf->args;
    cf->args = &args;

    rv = cmd->set(cf, cmd, us->srv_conf[m->ctx_index]);

    cf->args = saved;

    if (rv != NGX_CONF_OK) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "upstream \"%V\" with wharf_balancer (%s:%ui) also "
                      "has \"keepalive\"; put it in each worker's own "
                      "upstream block", &us->host, wscf->file_name,
                      wscf->line);
        return NGX_ERROR;
    }

    return NGX_OK;
}

#endif


/*
 * Called from ngx_http_wharf_init_main_conf(), after every upstream{} is
 * initialised and after the init_main_conf of every static module (this
 * one is loaded after them): the block's peer.init must still be this
 * balancer's, on every nginx version.  "hash", "least_conn", "ip_hash",
 * "random" after wharf_balancer replace its init_upstream, which then
 * never runs; "keepalive" before 1.29.7, or "sticky", wrap it.  Either
 * would see only this block, not the worker's: those belong in the
 * workers' blocks.  (Since 1.29.7 the keepalive module wraps every block
 * by default, unless "keepalive 0;": see
 * ngx_http_wharf_balancer_no_keepalive().)
 */

ngx_int_t
ngx_http_wharf_balancer_check(ngx_conf_t *cf)
{
    ngx_uint_t                      i;
    ngx_http_wharf_srv_conf_t      *wscf;
    ngx_http_upstream_srv_conf_t  **uscfp;
    ngx_http_upstream_main_conf_t  *umcf;

    umcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_upstream_module);
    uscfp = umcf->upstreams.elts;

    for (i = 0; i < umcf->upstreams.nelts; i++) {

        if (uscfp[i]->srv_conf == NULL) {
            continue;
        }

        wscf = ngx_http_conf_upstream_srv_conf(uscfp[i],
                                               ngx_http_wharf_module);

        if (wscf == NULL || !wscf->balancer) {
            continue;
        }

        if (uscfp[i]->peer.init != ngx_http_wharf_balancer_init_peer) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "upstream \"%V\" with wharf_balancer (%s:%ui) "
                          "also has \"keepalive\", \"hash\", \"least_conn\" "
                          "or another balancer; put those in each "
                          "worker's own upstream block",
                          &uscfp[i]->host, wscf->file_name, wscf->line);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


ngx_uint_t
ngx_http_wharf_balancer_is(ngx_http_upstream_srv_conf_t *us)
{
    ngx_http_wharf_srv_conf_t  *wscf;

    if (us == NULL || us->srv_conf == NULL) {
        return 0;
    }

    wscf = ngx_http_conf_upstream_srv_conf(us, ngx_http_wharf_module);

    return wscf != NULL && wscf->balancer;
}


/*
 * Runs once per request, in ngx_http_upstream_init_request(), right after
 * the proxy module's create_request.  Retries (proxy_next_upstream) call
 * the peer's get again, never this.
 */

static ngx_int_t
ngx_http_wharf_balancer_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_http_wharf_ctx_t          *ctx;
    ngx_http_upstream_srv_conf_t  *wus;

    ctx = ngx_http_get_module_ctx(r, ngx_http_wharf_module);

    if (ctx == NULL || ctx->worker == NULL || !ctx->counted) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "wharf: a request reached upstream \"%V\" "
                      "(wharf_balancer) without a worker: only a location "
                      "with wharf_route may proxy_pass to it", &us->host);
        return NGX_ERROR;
    }

    if (ctx->target) {

        /*
         * The proxy module has sent the target only if its proxy_pass has
         * no URI; "proxy_pass http://wharf_workers/;" sends r->uri, less
         * the location's prefix, which is not the worker's path.
         */

        if (r->upstream->uri.len != r->unparsed_uri.len
            || ngx_memcmp(r->upstream->uri.data, r->unparsed_uri.data,
                          r->unparsed_uri.len)
               != 0)
        {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "wharf: \"proxy_pass\" to upstream \"%V\" "
                          "(wharf_balancer) must have no URI, as in "
                          "\"proxy_pass http://%V;\"", &us->host, &us->host);
            ngx_http_wharf_restore_target(ctx);
            return NGX_ERROR;
        }

        ngx_http_wharf_restore_target(ctx);
    }

    if (ngx_http_wharf_balancer_add_token(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    /* a live worker has no upstream{} block: its own peer, with keepalive */

    if (ctx->worker->peer) {
        return ngx_http_wharf_live_init_peer(r, ctx->worker);
    }

    wus = ctx->worker->upstream;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "wharf balancer: worker \"%V\", upstream \"%V\"",
                   &ctx->worker->name, &wus->host);

    /* as if proxy_pass had named the worker's upstream itself */

    r->upstream->upstream = wus;

#if (NGX_HTTP_SSL)
    r->upstream->ssl_name = wus->host;
#endif

    return wus->peer.init(r, wus);
}


/*
 * The agent's token, added to the request that the proxy module built, in
 * a copy outside the request's pool.  proxy_pass copies every header it
 * sends into one buffer from the request's pool, and a WebSocket session
 * keeps that pool for as long as it lives: the ~250-byte "Authorization:
 * Bearer" line of an ES256 token takes one more 4 KiB block of it for a
 * usual request (docs/BENCHMARKS.md, RSS per idle session).  The copy is
 * malloc()ed at its exact size and freed when the request ends.
 *
 * Nothing is added when the request already has an Authorization line:
 * the client's, which ngx_http_wharf_swap_credentials() replaced by the
 * token, if the location does not drop it with
 * "proxy_set_header Authorization "";", or one that a proxy_set_header
 * sets.  Retries (proxy_next_upstream) send the same buffer again.
 */

static ngx_int_t
ngx_http_wharf_balancer_add_token(ngx_http_request_t *r,
    ngx_http_wharf_ctx_t *ctx)
{
    size_t                       head, len;
    u_char                      *p, *end, *eol, *copy, *q;
    ngx_buf_t                   *b;
    ngx_str_t                    token;
    ngx_http_wharf_main_conf_t  *wmcf;

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_wharf_module);

    if (wmcf->private_key.len == 0
        || ctx->agent_request
        || r->upstream->request_bufs == NULL)
    {
        return NGX_OK;
    }

    b = r->upstream->request_bufs->buf;

    if (b == NULL || b->in_file || !ngx_buf_in_memory(b)) {
        goto unexpected;
    }

    p = b->pos;
    end = b->last;

    /* an HTTP/1 request line: what proxy_pass sends */

    eol = ngx_strlchr(p, end, LF);

    if (eol == NULL
        || eol - p < (ssize_t) sizeof(" HTTP/1.x" CRLF) - 1
        || ngx_strncmp(eol - (sizeof(" HTTP/1.x" CRLF) - 2), " HTTP/1.",
                       sizeof(" HTTP/1.") - 1)
           != 0)
    {
        goto unexpected;
    }

    /* its header lines, up to the empty one */

    for ( ;; ) {
        p = eol + 1;

        if (end - p < 2) {
            goto unexpected;
        }

        if (p[0] == CR && p[1] == LF) {
            break;
        }

        if ((p[0] | 0x20) == 'a'
            && end - p > (ssize_t) sizeof("authorization:") - 1
            && ngx_strncasecmp(p, (u_char *) "authorization:",
                               sizeof("authorization:") - 1)
               == 0)
        {
            return NGX_OK;
        }

        eol = ngx_strlchr(p, end, LF);

        if (eol == NULL) {
            goto unexpected;
        }
    }

    if (ngx_http_wharf_upstream_token(wmcf, ctx->worker, r->connection->log,
                                      &token)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    head = p - b->pos;
    len = (b->last - b->pos) + sizeof("Authorization: " CRLF) - 1 + token.len;

    copy = ngx_alloc(len, r->connection->log);
    if (copy == NULL) {
        return NGX_ERROR;
    }

    q = ngx_cpymem(copy, b->pos, head);
    q = ngx_cpymem(q, "Authorization: ", sizeof("Authorization: ") - 1);
    q = ngx_cpymem(q, token.data, token.len);
    *q++ = CR; *q++ = LF;
    ngx_memcpy(q, p, b->last - p);

    /* the client's target is back in r (init_peer): the union is free */

    ctx->saved.agent_request = copy;
    ctx->agent_request = 1;

    b->start = copy;
    b->pos = copy;
    b->last = copy + len;
    b->end = copy + len;

    return NGX_OK;

unexpected:

    /*
     * Not the request the proxy module builds in nginx 1.22 to 1.31:
     * sent on without the token, the agent would answer 401.
     */

    ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                  "wharf: the request that the proxy module built for "
                  "worker \"%V\" is not one buffer with an HTTP/1 request "
                  "line and header lines, so the agent's token cannot be "
                  "added; see docs/DESIGN-module.md", &ctx->worker->name);

    return NGX_ERROR;
}


/*
 * For "proxy_pass http://UPSTREAM;" to the wharf_balancer, from the
 * precontent handler (ngx_http_wharf_sessions.c) once the session is
 * counted: proxy_pass without a URI sends r->unparsed_uri as it is, so the
 * worker's path and the query string (without a client's access_token) go
 * there until init_peer puts the client's back, with
 * ngx_http_wharf_restore_target() below.  Usually the path is the end of
 * the client's request target, query string included, and nothing is
 * copied.
 */

ngx_int_t
ngx_http_wharf_set_target(ngx_http_request_t *r, ngx_http_wharf_ctx_t *ctx)
{
    u_char                      *p, *end;
    size_t                       len;
    ngx_http_wharf_main_conf_t  *wmcf;

    /*
     * nginx keeps a variable's value for the rest of the request once it
     * is evaluated.  $request_uri is evaluated now, while it is still the
     * client's, so that a "proxy_set_header ... $request_uri" evaluated
     * while the proxy module builds the request to the worker, and the
     * access log, both get the client's target, not the worker's path.
     */

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_wharf_module);

    if (wmcf->request_uri_index) {
        (void) ngx_http_get_indexed_variable(r, wmcf->request_uri_index - 1);
    }

    ctx->saved.unparsed_uri = r->unparsed_uri;
    ctx->valid_unparsed_uri = r->valid_unparsed_uri;
    ctx->u.request = r;
    ctx->target = 1;

    end = r->unparsed_uri.data + r->unparsed_uri.len;
    p = ctx->path.data + ctx->path.len;

    if (r->valid_unparsed_uri
        && !ctx->bare
        && ctx->path.data >= r->unparsed_uri.data
        && p <= end
        && (p == end
            || (*p == '?' && r->args.data == p + 1
                && r->args.len == (size_t) (end - p - 1))))
    {
        r->unparsed_uri.data = ctx->path.data;
        r->unparsed_uri.len = end - ctx->path.data;
        return NGX_OK;
    }

    len = ctx->path.len;

    if (r->args.len) {
        len += 1 + r->args.len;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    r->unparsed_uri.data = p;
    r->unparsed_uri.len = len;
    r->valid_unparsed_uri = 1;

    p = ngx_cpymem(p, ctx->path.data, ctx->path.len);

    if (r->args.len) {
        *p++ = '?';
        ngx_memcpy(p, r->args.data, r->args.len);
    }

    return NGX_OK;
}


/*
 * $request_uri is the client's again; also called by the request's
 * cleanup (ngx_http_wharf_sessions.c) if the request ends before this.
 */

void
ngx_http_wharf_restore_target(ngx_http_wharf_ctx_t *ctx)
{
    ngx_http_request_t  *r;

    r = ctx->u.request;

    r->unparsed_uri = ctx->saved.unparsed_uri;
    r->valid_unparsed_uri = ctx->valid_unparsed_uri;
    ctx->target = 0;
}


/*
 * Whether the location being merged has "proxy_pass http://UPSTREAM;" to
 * a wharf_balancer upstream: NGX_OK then, and only then the precontent
 * handler puts the worker's path in the request target; NGX_DECLINED if
 * not.  The module is found by name, so that nginx without the proxy
 * module still loads this one.  Runs after the proxy module's own merge,
 * which has inherited proxy_pass into nested locations already.
 *
 * Its location configuration, like that of every upstream module, begins
 * with its ngx_http_upstream_conf_t, which holds the upstream of a static
 * proxy_pass (NULL with variables).  Before nginx 1.29.4 the proxy module
 * keeps the type private and this reads it as ngx_http_upstream_conf_t;
 * since, ngx_http_proxy_module.h declares it.  On every version the
 * "module" field must say "proxy", as the proxy module's create_loc_conf
 * sets it: an nginx that lays it out otherwise fails nginx -t here rather
 * than have the module read the wrong field.
 *
 * Since 1.29.4 "proxy_http_version 2" makes the proxy module build HTTP/2
 * frames, where neither the worker's path nor the agent's token would be
 * put (ngx_http_wharf_balancer_add_token() reads an HTTP/1 request), and
 * a WebSocket cannot pass: refused with the balancer.
 */

ngx_int_t
ngx_http_wharf_balancer_location(ngx_conf_t *cf,
    ngx_http_wharf_loc_conf_t *wlcf)
{
    void                           *plcf;
    ngx_uint_t                      i;
    ngx_module_t                  **modules;
    ngx_http_conf_ctx_t            *ctx;
    ngx_http_upstream_conf_t       *ucf;
    ngx_http_upstream_srv_conf_t   *us;

    modules = cf->cycle->modules;
    ctx = cf->ctx;

    for (i = 0; modules[i]; i++) {

        if (modules[i]->type == NGX_HTTP_MODULE
            && ngx_strcmp(modules[i]->name, "ngx_http_proxy_module") == 0)
        {
            break;
        }
    }

    if (modules[i] == NULL) {
        return NGX_DECLINED;
    }

    plcf = ctx->loc_conf[modules[i]->ctx_index];

    if (plcf == NULL) {
        return NGX_DECLINED;
    }

#if (nginx_version >= 1029004)
    ucf = &((ngx_http_proxy_loc_conf_t *) plcf)->upstream;
#else
    ucf = (ngx_http_upstream_conf_t *) plcf;
#endif

    if (ucf->module.len != sizeof("proxy") - 1
        || ngx_strncmp(ucf->module.data, "proxy", sizeof("proxy") - 1) != 0)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "wharf_route (%s:%ui): the proxy module's location "
                      "configuration does not begin with its "
                      "ngx_http_upstream_conf_t in this nginx (%s); the "
                      "module needs a change for it, see "
                      "docs/DESIGN-module.md", wlcf->file_name, wlcf->line,
                      NGINX_VERSION);
        return NGX_ERROR;
    }

    us = ucf->upstream;

    if (!ngx_http_wharf_balancer_is(us)) {
        return NGX_DECLINED;
    }

#if (nginx_version >= 1029004)
    if (((ngx_http_proxy_loc_conf_t *) plcf)->http_version
        == NGX_HTTP_VERSION_20)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "wharf_route (%s:%ui): \"proxy_http_version 2\" to "
                      "upstream \"%V\" (wharf_balancer) cannot carry the "
                      "worker's path, the agent's token or a WebSocket; "
                      "use \"proxy_http_version 1.1\"",
                      wlcf->file_name, wlcf->line, &us->host);
        return NGX_ERROR;
    }
#endif

    return NGX_OK;
}
