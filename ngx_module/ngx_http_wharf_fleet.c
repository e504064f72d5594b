
/*
 * wharf: the fleet's sessions, across the gateways.
 *
 * Several gateways (nginx with this module) stand in front of the same
 * workers, behind a load balancer; a session goes through one of them,
 * and each counts its own in its zone.  /api/workers and /api/terminals
 * report the fleet's: this gateway's own, plus what each other gateway
 * (wharf_fleet_peer) last said it has.
 *
 *   wharf_fleet_sessions     a location: this gateway's own sessions, one
 *                            line per worker, for the other gateways
 *   wharf_fleet_peer URL     another gateway's wharf_fleet_sessions
 *   wharf_fleet_interval T   how often the peers are asked (default 2s)
 *   wharf_fleet_stale T      a peer not answered for this long counts no
 *                            more (default five intervals)
 *
 * The polls are a round shared by the nginx worker processes
 * (ngx_http_wharf_round_claim(), as background probing's), so each peer
 * is asked once per interval for the whole gateway.  A poll is one HTTP/1.0 GET
 * (an exchange on nginx's event loop, ngx_http_wharf_exchange.c, as a
 * health probe is), with the module's own token (sub "*", scope "read"),
 * that must end within the interval.  The answer goes into the
 * zone, on each worker's node, under the peer's slot, stamped: a worker
 * the peer no longer lists keeps an old stamp and counts nothing.  A peer
 * that stops answering (dead, cut off, refusing) keeps its last answer
 * for wharf_fleet_stale, then drops out of the totals; the error log says
 * when a peer goes and comes back, not at every failed poll.
 *
 * The answer, text/plain:
 *
 *   wharf-fleet-sessions 1
 *   NAME TERMINAL WEBSOCKET HTTP
 *   ...
 *
 * Why gateways that know their peers, not a table in the database that
 * every gateway writes: docs/DESIGN-module.md, "Several gateways".
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_wharf_module.h"


#define NGX_HTTP_WHARF_FLEET_HEAD     "wharf-fleet-sessions 1\n"

/* the first buffer of an answer; it doubles up to the limit */
#define NGX_HTTP_WHARF_FLEET_BUF      16384


struct ngx_http_wharf_poll_s {
    ngx_pool_t                    *pool;
    ngx_http_wharf_main_conf_t    *wmcf;
    ngx_http_wharf_fleet_peer_t   *peer;
    ngx_uint_t                     slot;

    ngx_http_wharf_exchange_t      x;         /* the GET */
    ngx_event_t                    timeout;

    /* the cycle's log, quieter: a failed poll is reported by its end */
    ngx_log_t                      log;
};


static ngx_int_t ngx_http_wharf_poll_start(ngx_http_wharf_main_conf_t *wmcf,
    ngx_uint_t slot);
static ngx_int_t ngx_http_wharf_poll_read(ngx_http_wharf_exchange_t *x,
    ngx_uint_t closed);
static void ngx_http_wharf_poll_failed(ngx_http_wharf_exchange_t *x,
    const char *reason);
static void ngx_http_wharf_poll_timeout_handler(ngx_event_t *ev);
static void ngx_http_wharf_poll_end(ngx_http_wharf_poll_t *poll,
    const char *error);
static const char *ngx_http_wharf_poll_answer(ngx_http_wharf_poll_t *poll);
static const char *ngx_http_wharf_fleet_parse(u_char *p, u_char *last,
    ngx_http_wharf_main_conf_t *wmcf, ngx_uint_t slot, uint32_t stamp);
static void ngx_http_wharf_fleet_tick(ngx_event_t *ev);


static ngx_str_t  ngx_http_wharf_fleet_type =
    ngx_string("text/plain; charset=utf-8");


/* wharf_fleet_peer http://HOST[:PORT]/PATH; */

char *
ngx_http_wharf_fleet_peer(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_wharf_main_conf_t *wmcf = conf;

    ngx_str_t                    *value;
    ngx_url_t                     u;
    ngx_uint_t                    i;
    ngx_http_wharf_fleet_peer_t  *peer;

    value = cf->args->elts;

    if (wmcf->fleet_peers == NULL) {
        wmcf->fleet_peers = ngx_array_create(cf->pool, 2,
                                         sizeof(ngx_http_wharf_fleet_peer_t));
        if (wmcf->fleet_peers == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (wmcf->fleet_peers->nelts == NGX_HTTP_WHARF_FLEET_PEERS_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "at most %d \"wharf_fleet_peer\" directives: "
                           "a fleet of more gateways shares its sessions "
                           "otherwise (docs/scale-out.md)",
                           NGX_HTTP_WHARF_FLEET_PEERS_MAX);
        return NGX_CONF_ERROR;
    }

    if (value[1].len >= sizeof("https://") - 1
        && ngx_strncasecmp(value[1].data, (u_char *) "https://",
                           sizeof("https://") - 1) == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": https is not supported; a peer is asked "
                           "in plain http, on the gateways' own network",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    if (value[1].len <= sizeof("http://") - 1
        || ngx_strncasecmp(value[1].data, (u_char *) "http://",
                           sizeof("http://") - 1) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" is not an http:// URL", &value[1]);
        return NGX_CONF_ERROR;
    }

    peer = wmcf->fleet_peers->elts;

    for (i = 0; i < wmcf->fleet_peers->nelts; i++) {
        if (peer[i].url.len == value[1].len
            && ngx_strncmp(peer[i].url.data, value[1].data, value[1].len)
               == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "peer \"%V\" is duplicate", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url.data = value[1].data + sizeof("http://") - 1;
    u.url.len = value[1].len - (sizeof("http://") - 1);
    u.default_port = 80;
    u.uri_part = 1;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        if (u.err) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s in peer \"%V\"",
                               u.err, &value[1]);
        }

        return NGX_CONF_ERROR;
    }

    if (u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "peer \"%V\" has no address", &value[1]);
        return NGX_CONF_ERROR;
    }

    peer = ngx_array_push(wmcf->fleet_peers);
    if (peer == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(peer, sizeof(ngx_http_wharf_fleet_peer_t));

    peer->url = value[1];
    peer->crc = ngx_crc32_short(value[1].data, value[1].len);
    peer->addr = u.addrs[0];

    /* HOST[:PORT] as written, and the path */

    peer->host.data = u.url.data;
    peer->host.len = u.uri.len ? (size_t) (u.uri.data - u.url.data)
                               : u.url.len;

    if (u.uri.len) {
        peer->uri = u.uri;

    } else {
        ngx_str_set(&peer->uri, "/");
    }

    return NGX_CONF_OK;
}


/*
 * wharf_fleet_interval TIME; wharf_fleet_stale TIME;
 * cmd->offset: the field; both at least NGX_HTTP_WHARF_FLEET_INTERVAL_MIN.
 */

char *
ngx_http_wharf_fleet_time(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t                   *value;
    ngx_msec_t                  *ms;
    ngx_http_wharf_main_conf_t  *wmcf;

    wmcf = conf;
    ms = (ngx_msec_t *) (p + cmd->offset);

    if (*ms != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    *ms = ngx_parse_time(&value[1], 0);

    if (*ms == (ngx_msec_t) NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" is not a time", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (*ms < NGX_HTTP_WHARF_FLEET_INTERVAL_MIN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" is too short, the least is %dms",
                           &value[1], NGX_HTTP_WHARF_FLEET_INTERVAL_MIN);
        return NGX_CONF_ERROR;
    }

    if (cmd->offset == offsetof(ngx_http_wharf_main_conf_t, fleet_stale)) {
        wmcf->fleet_stale_file = cf->conf_file->file.name.data;
        wmcf->fleet_stale_line = cf->conf_file->line;
    }

    return NGX_CONF_OK;
}


/* the defaults, and a stale time that a peer answering in time meets */

char *
ngx_http_wharf_fleet_init_conf(ngx_conf_t *cf,
    ngx_http_wharf_main_conf_t *wmcf)
{
    ngx_conf_init_msec_value(wmcf->fleet_interval, 2000);

    if (wmcf->fleet_stale == NGX_CONF_UNSET_MSEC) {
        wmcf->fleet_stale = wmcf->fleet_interval
                            * NGX_HTTP_WHARF_FLEET_STALE_INTERVALS;
        return NGX_CONF_OK;
    }

    if (wmcf->fleet_stale <= wmcf->fleet_interval) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"wharf_fleet_stale\" (%Mms) must be longer than "
                      "\"wharf_fleet_interval\" (%Mms), or every peer "
                      "would drop out between two answers in %s:%ui",
                      wmcf->fleet_stale, wmcf->fleet_interval,
                      wmcf->fleet_stale_file, wmcf->fleet_stale_line);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * In the master, the zone's mutex held: a slot whose peer changed in a
 * reload forgets the old one's answer (its stamp goes on growing, so no
 * node's old stamp is taken for the new peer's).
 */

void
ngx_http_wharf_fleet_init_zone(ngx_http_wharf_main_conf_t *wmcf)
{
    ngx_uint_t                    i, n;
    ngx_http_wharf_fleet_sh_t    *fs;
    ngx_http_wharf_fleet_peer_t  *peer;

    n = wmcf->fleet_peers ? wmcf->fleet_peers->nelts : 0;
    peer = n ? wmcf->fleet_peers->elts : NULL;

    for (i = 0; i < NGX_HTTP_WHARF_FLEET_PEERS_MAX; i++) {
        fs = &wmcf->sh->fleet[i];

        if (i < n && fs->url_crc == peer[i].crc) {
            continue;
        }

        fs->url_crc = i < n ? peer[i].crc : 0;
        fs->updated = 0;

        /* so that a peer that never answers is logged once too */
        fs->up = 1;
        fs->polls = 0;
        fs->failures = 0;
    }

    wmcf->sh->fleet_next = 0;
}


ngx_int_t
ngx_http_wharf_fleet_init_process(ngx_cycle_t *cycle,
    ngx_http_wharf_main_conf_t *wmcf)
{
    if (wmcf->fleet_peers == NULL || wmcf->sh == NULL) {
        return NGX_OK;
    }

    ngx_http_wharf_round_init(&wmcf->fleet_timer, ngx_http_wharf_fleet_tick,
                              wmcf, cycle->log);

    return NGX_OK;
}


static void
ngx_http_wharf_fleet_tick(ngx_event_t *ev)
{
    ngx_uint_t                    i;
    ngx_http_wharf_fleet_peer_t  *peer;
    ngx_http_wharf_main_conf_t   *wmcf;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    wmcf = ev->data;

    if (ngx_http_wharf_round_claim(wmcf, &wmcf->sh->fleet_next,
                                   wmcf->fleet_interval))
    {
        peer = wmcf->fleet_peers->elts;

        for (i = 0; i < wmcf->fleet_peers->nelts; i++) {

            /* this process's last poll of it has not ended: its own
             * timeout ends it */

            if (peer[i].poll) {
                continue;
            }

            if (ngx_http_wharf_poll_start(wmcf, i) != NGX_OK) {
                ngx_log_error(NGX_LOG_ALERT, ev->log, 0,
                              "wharf: cannot ask fleet peer \"%V\"",
                              &peer[i].url);
            }
        }
    }

    ngx_http_wharf_round_wait(ev, wmcf->fleet_interval);
}


/* NGX_ERROR only when memory runs out; a peer away is a failed poll */

static ngx_int_t
ngx_http_wharf_poll_start(ngx_http_wharf_main_conf_t *wmcf, ngx_uint_t slot)
{
    size_t                        len;
    ngx_str_t                     token;
    ngx_pool_t                   *pool;
    ngx_buf_t                    *b;
    ngx_http_wharf_poll_t        *poll;
    ngx_http_wharf_fleet_peer_t  *peer;

    peer = (ngx_http_wharf_fleet_peer_t *) wmcf->fleet_peers->elts + slot;

    pool = ngx_create_pool(1024, ngx_cycle->log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    poll = ngx_pcalloc(pool, sizeof(ngx_http_wharf_poll_t));
    if (poll == NULL) {
        ngx_destroy_pool(pool);
        return NGX_ERROR;
    }

    poll->pool = pool;
    poll->wmcf = wmcf;
    poll->peer = peer;
    poll->slot = slot;

    poll->log = *ngx_cycle->log;
    poll->log.log_level = NGX_LOG_CRIT;
    poll->log.connection = 0;
    poll->log.handler = NULL;
    poll->log.data = NULL;
    poll->log.action = NULL;

    token.len = 0;

    if (wmcf->private_key.len
        && ngx_http_wharf_fleet_token(wmcf, ngx_cycle->log, &token)
           != NGX_OK)
    {
        ngx_destroy_pool(pool);
        return NGX_ERROR;
    }

    len = sizeof("GET  HTTP/1.0" CRLF) - 1 + peer->uri.len
          + sizeof("Host: " CRLF) - 1 + peer->host.len
          + sizeof("User-Agent: wharf-fleet" CRLF) - 1
          + sizeof("Authorization: " CRLF) - 1 + token.len
          + sizeof(CRLF) - 1;

    b = ngx_create_temp_buf(pool, len);
    if (b == NULL) {
        ngx_destroy_pool(pool);
        return NGX_ERROR;
    }

    b->last = ngx_sprintf(b->last, "GET %V HTTP/1.0" CRLF
                          "Host: %V" CRLF
                          "User-Agent: wharf-fleet" CRLF,
                          &peer->uri, &peer->host);

    if (token.len) {
        b->last = ngx_sprintf(b->last, "Authorization: %V" CRLF, &token);
    }

    b->last = ngx_cpymem(b->last, CRLF, sizeof(CRLF) - 1);

    poll->x.request = b;

    poll->x.response = ngx_create_temp_buf(pool, NGX_HTTP_WHARF_FLEET_BUF);
    if (poll->x.response == NULL) {
        ngx_destroy_pool(pool);
        return NGX_ERROR;
    }

    poll->x.response_max = NGX_HTTP_WHARF_FLEET_ANSWER_MAX;

    poll->timeout.handler = ngx_http_wharf_poll_timeout_handler;
    poll->timeout.data = poll;
    poll->timeout.log = ngx_cycle->log;
    poll->timeout.cancelable = 1;

    peer->poll = poll;

    (void) ngx_atomic_fetch_add(&wmcf->sh->fleet[slot].polls, 1);

    ngx_add_timer(&poll->timeout, wmcf->fleet_interval);

    poll->x.pool = pool;
    poll->x.read = ngx_http_wharf_poll_read;
    poll->x.fail = ngx_http_wharf_poll_failed;
    poll->x.data = poll;

    ngx_http_wharf_exchange_start(&poll->x, &peer->addr, &poll->log);

    return NGX_OK;
}


/* HTTP/1.0: the answer ends where the peer closes the connection */

static ngx_int_t
ngx_http_wharf_poll_read(ngx_http_wharf_exchange_t *x, ngx_uint_t closed)
{
    ngx_http_wharf_poll_t  *poll;

    if (!closed) {
        return NGX_AGAIN;
    }

    poll = x->data;

    ngx_http_wharf_poll_end(poll, ngx_http_wharf_poll_answer(poll));

    return NGX_DONE;
}


static void
ngx_http_wharf_poll_failed(ngx_http_wharf_exchange_t *x, const char *reason)
{
    ngx_http_wharf_poll_end(x->data, reason);
}


static void
ngx_http_wharf_poll_timeout_handler(ngx_event_t *ev)
{
    ngx_http_wharf_poll_end(ev->data, "timed out");
}


/*
 * The whole answer: a 200 with the head line, then valid lines only.
 * NULL when it went into the zone, else what was wrong.
 */

static const char *
ngx_http_wharf_poll_answer(ngx_http_wharf_poll_t *poll)
{
    u_char                      *p, *last, *body;
    uint32_t                     stamp;
    const char                  *error;
    ngx_buf_t                   *b;
    ngx_http_wharf_fleet_sh_t   *fs;
    ngx_http_wharf_main_conf_t  *wmcf;

    b = poll->x.response;
    p = b->pos;
    last = b->last;

    if (last - p < (ssize_t) sizeof("HTTP/1.x 200") - 1
        || ngx_strncmp(p, "HTTP/1.", sizeof("HTTP/1.") - 1) != 0)
    {
        return "the answer is not HTTP";
    }

    if (ngx_strncmp(p + sizeof("HTTP/1.x ") - 1, "200", 3) != 0) {
        return "the answer's status is not 200";
    }

    body = ngx_strlcasestrn(p, last, (u_char *) CRLF CRLF,
                            sizeof(CRLF CRLF) - 2);
    if (body == NULL) {
        return "the answer's header has no end";
    }

    body += sizeof(CRLF CRLF) - 1;

    if (last - body < (ssize_t) sizeof(NGX_HTTP_WHARF_FLEET_HEAD) - 1
        || ngx_strncmp(body, NGX_HTTP_WHARF_FLEET_HEAD,
                       sizeof(NGX_HTTP_WHARF_FLEET_HEAD) - 1) != 0)
    {
        return "the answer is not a wharf_fleet_sessions one";
    }

    body += sizeof(NGX_HTTP_WHARF_FLEET_HEAD) - 1;

    /* checked whole first: a bad answer changes nothing */

    error = ngx_http_wharf_fleet_parse(body, last, NULL, 0, 0);
    if (error) {
        return error;
    }

    wmcf = poll->wmcf;
    fs = &wmcf->sh->fleet[poll->slot];

    ngx_shmtx_lock(&wmcf->shpool->mutex);

    stamp = fs->stamp + 1;

    if (stamp == 0) {
        stamp = 1;
    }

    (void) ngx_http_wharf_fleet_parse(body, last, wmcf, poll->slot, stamp);

    fs->stamp = stamp;
    fs->updated = ngx_current_msec ? ngx_current_msec : 1;

    ngx_shmtx_unlock(&wmcf->shpool->mutex);

    return NULL;
}


/*
 * "NAME TERMINAL WEBSOCKET HTTP\n" lines from p to last.  With wmcf (its
 * zone's mutex held), each count goes on the worker's node under slot
 * with stamp; workers this gateway does not have are skipped.  NULL, or
 * what is wrong.
 */

static const char *
ngx_http_wharf_fleet_parse(u_char *p, u_char *last,
    ngx_http_wharf_main_conf_t *wmcf, ngx_uint_t slot, uint32_t stamp)
{
    u_char                 *eol, *sp;
    uint64_t                v;
    uint32_t                count[NGX_HTTP_WHARF_KINDS];
    ngx_str_t               name;
    ngx_uint_t              k;
    ngx_http_wharf_node_t  *wn;

    while (p < last) {
        eol = ngx_strlchr(p, last, '\n');
        if (eol == NULL) {
            return "the answer's last line has no end";
        }

        sp = ngx_strlchr(p, eol, ' ');
        if (sp == NULL
            || !wharf_name_valid((const char *) p, (size_t) (sp - p)))
        {
            return "a line of the answer has no worker name";
        }

        name.data = p;
        name.len = sp - p;
        p = sp;

        for (k = 0; k < NGX_HTTP_WHARF_KINDS; k++) {
            if (p == eol || *p++ != ' ' || p == eol
                || *p < '0' || *p > '9')
            {
                return "a line of the answer has not three counts";
            }

            v = 0;

            while (p < eol && *p >= '0' && *p <= '9') {
                v = v * 10 + (*p++ - '0');

                if (v > NGX_MAX_UINT32_VALUE) {
                    return "a count of the answer is too large";
                }
            }

            count[k] = (uint32_t) v;
        }

        if (p != eol) {
            return "a line of the answer has more than three counts";
        }

        p = eol + 1;

        if (wmcf == NULL) {
            continue;
        }

        wn = ngx_http_wharf_node_get_locked(wmcf, &name);

        if (wn == NULL) {
            continue;
        }

        for (k = 0; k < NGX_HTTP_WHARF_KINDS; k++) {
            wn->fleet[slot][k] = count[k];
        }

        wn->fleet_stamp[slot] = stamp;
    }

    return NULL;
}


/*
 * The poll is over (error: why it failed, NULL: answered).  The error
 * log hears of a peer that goes or comes back, not of every poll.
 */

static void
ngx_http_wharf_poll_end(ngx_http_wharf_poll_t *poll, const char *error)
{
    ngx_uint_t                    up, was;
    ngx_http_wharf_fleet_sh_t    *fs;
    ngx_http_wharf_main_conf_t   *wmcf;
    ngx_http_wharf_fleet_peer_t  *peer;

    wmcf = poll->wmcf;
    peer = poll->peer;
    fs = &wmcf->sh->fleet[poll->slot];

    if (poll->timeout.timer_set) {
        ngx_del_timer(&poll->timeout);
    }

    ngx_http_wharf_exchange_close(&poll->x);

    up = (error == NULL);

    if (!up) {
        (void) ngx_atomic_fetch_add(&fs->failures, 1);
    }

    ngx_shmtx_lock(&wmcf->shpool->mutex);
    was = fs->up;
    fs->up = up;
    ngx_shmtx_unlock(&wmcf->shpool->mutex);

    if (up && !was) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "wharf: fleet peer \"%V\" answers", &peer->url);

    } else if (!up && was) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "wharf: fleet peer \"%V\" does not answer: %s; its "
                      "sessions count until %Mms after its last answer "
                      "(wharf_fleet_stale)", &peer->url, error,
                      wmcf->fleet_stale);
    }

    peer->poll = NULL;
    ngx_destroy_pool(poll->pool);
}


/*
 * The worker's sessions across the fleet, by kind: this gateway's own
 * plus each peer's that answered within wharf_fleet_stale.
 */

void
ngx_http_wharf_fleet_sessions(ngx_http_wharf_main_conf_t *wmcf,
    ngx_http_wharf_node_t *wn, ngx_atomic_uint_t *sessions)
{
    ngx_msec_t                    now;
    ngx_uint_t                    i, k;
    ngx_http_wharf_fleet_sh_t    *fs;
    ngx_http_wharf_fleet_peer_t  *peer;

    for (k = 0; k < NGX_HTTP_WHARF_KINDS; k++) {
        sessions[k] = wn ? wn->sessions[k] : 0;
    }

    if (wn == NULL || wmcf->fleet_peers == NULL || wmcf->sh == NULL) {
        return;
    }

    now = ngx_current_msec;
    peer = wmcf->fleet_peers->elts;

    for (i = 0; i < wmcf->fleet_peers->nelts; i++) {
        fs = &wmcf->sh->fleet[i];

        if (fs->updated == 0
            || fs->url_crc != peer[i].crc
            || wn->fleet_stamp[i] != fs->stamp
            || (ngx_msec_int_t) (now - fs->updated)
               > (ngx_msec_int_t) wmcf->fleet_stale)
        {
            continue;
        }

        for (k = 0; k < NGX_HTTP_WHARF_KINDS; k++) {
            sessions[k] += wn->fleet[i][k];
        }
    }
}


/* wharf_fleet_sessions: this gateway's own sessions, for its peers */

ngx_int_t
ngx_http_wharf_fleet_handler(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_uint_t                   i, n;
    ngx_http_wharf_out_t         out;
    ngx_http_wharf_node_t       *wn;
    ngx_http_wharf_worker_t    **wp;
    ngx_http_wharf_main_conf_t  *wmcf;

    rc = ngx_http_wharf_read_only(r);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_wharf_module);

    wp = ngx_http_wharf_all_workers(wmcf, r->pool, &n);
    if (wp == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_wharf_out_init(&out, r->pool);
    ngx_http_wharf_out_literal(&out, NGX_HTTP_WHARF_FLEET_HEAD);

    for (i = 0; i < n; i++) {
        wn = wp[i]->node;

        ngx_http_wharf_out_printf(&out, "%V %A %A %A\n", &wp[i]->name,
                                  wn ? wn->sessions[0] : 0,
                                  wn ? wn->sessions[1] : 0,
                                  wn ? wn->sessions[2] : 0);
    }

    return ngx_http_wharf_out_send(r, &out, NGX_HTTP_OK,
                                   &ngx_http_wharf_fleet_type);
}


/* Prometheus text: each peer, whether it counts, its polls */

void
ngx_http_wharf_fleet_metrics(ngx_http_wharf_main_conf_t *wmcf,
    ngx_http_wharf_out_t *out)
{
    ngx_msec_t                    now;
    ngx_uint_t                    i, fresh;
    ngx_http_wharf_fleet_sh_t    *fs;
    ngx_http_wharf_fleet_peer_t  *peer;

    if (wmcf->fleet_peers == NULL || wmcf->sh == NULL) {
        return;
    }

    now = ngx_current_msec;
    peer = wmcf->fleet_peers->elts;

    ngx_http_wharf_out_literal(out,
        "# HELP wharf_fleet_peer_up Whether a wharf_fleet_peer's sessions "
        "count: it answered within wharf_fleet_stale.\n"
        "# TYPE wharf_fleet_peer_up gauge\n");

    for (i = 0; i < wmcf->fleet_peers->nelts; i++) {
        fs = &wmcf->sh->fleet[i];

        fresh = fs->updated != 0 && fs->url_crc == peer[i].crc
                && (ngx_msec_int_t) (now - fs->updated)
                   <= (ngx_msec_int_t) wmcf->fleet_stale;

        ngx_http_wharf_out_printf(out, "wharf_fleet_peer_up{peer=\"%V\"} "
                                  "%ui\n", &peer[i].url, fresh);
    }

    ngx_http_wharf_out_literal(out,
        "# HELP wharf_fleet_polls_total Polls of a wharf_fleet_peer.\n"
        "# TYPE wharf_fleet_polls_total counter\n");

    for (i = 0; i < wmcf->fleet_peers->nelts; i++) {
        ngx_http_wharf_out_printf(out, "wharf_fleet_polls_total{peer=\"%V\"} "
                                  "%A\n", &peer[i].url,
                                  wmcf->sh->fleet[i].polls);
    }

    ngx_http_wharf_out_literal(out,
        "# HELP wharf_fleet_poll_failures_total Polls of a wharf_fleet_peer "
        "that failed.\n"
        "# TYPE wharf_fleet_poll_failures_total counter\n");

    for (i = 0; i < wmcf->fleet_peers->nelts; i++) {
        ngx_http_wharf_out_printf(out, "wharf_fleet_poll_failures_total"
                                  "{peer=\"%V\"} %A\n", &peer[i].url,
                                  wmcf->sh->fleet[i].failures);
    }
}
