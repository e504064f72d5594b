/* lws context, protocols, HTTP routes: see server.h. */
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "agent.h"
#include "api.h"
#include "auth.h"
#include "log.h"
#include "terminal.h"
#include "token.h"
#include "tty_proto.h"

struct agent *
agent_from_lws_context(struct lws_context *cx)
{
    return lws_context_user(cx);
}

static struct agent *
agent_of(struct lws *wsi)
{
    return agent_from_lws_context(lws_get_context(wsi));
}

/* --- responses ------------------------------------------------------------ */

unsigned char *
agent_http_build(struct lws *wsi, unsigned status, const char *body,
                 size_t body_len, const char *allow,
                 const struct agent_http_header *extra, size_t *out_len)
{
    size_t cap = LWS_PRE + AGENT_HTTP_HEADERS_MAX + body_len;
    unsigned char *buf = malloc(cap), *start, *p, *end;
    char clen[24];
    int n;

    if (buf == NULL) {
        wharf_error("http: out of memory for a response of %zu bytes",
                    body_len);
        return NULL;
    }
    start = p = buf + LWS_PRE;
    end = buf + cap;
    n = snprintf(clen, sizeof(clen), "%zu", body_len);
    /* Content-Length is added as a plain header rather than with
     * lws_add_http_header_content_length(), which would make lws count the
     * headers written below against the body; as lws_return_http_status()
     * does for HTTP/1, headers and body go out in one write. */
    if (lws_add_http_header_status(wsi, status, &p, end)
        || lws_add_http_header_by_token(
            wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
            (const unsigned char *) "application/json", 16, &p, end)
        || lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                        (const unsigned char *) "no-store", 8,
                                        &p, end)
        || lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH,
                                        (const unsigned char *) clen, n, &p,
                                        end)
        || (allow != NULL
            && lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_ALLOW,
                                            (const unsigned char *) allow,
                                            (int) strlen(allow), &p, end))
        || (extra != NULL
            && lws_add_http_header_by_name(wsi,
                                           (const unsigned char *) extra->name,
                                           (const unsigned char *) extra->value,
                                           (int) strlen(extra->value), &p, end))
        || lws_finalize_http_header(wsi, &p, end)
        || (size_t) (end - p) < body_len) {
        wharf_error("http: response headers do not fit");
        free(buf);
        return NULL;
    }
    memcpy(p, body, body_len);
    p += body_len;
    *out_len = (size_t) (p - start);
    return buf;
}

int
agent_http_send(struct lws *wsi, unsigned char *buf, size_t len)
{
    /* the one write of the whole answer is its last: HTTP_FINAL, which
     * ends the stream under HTTP/2 and a compressed body's last chunk */
    int n = lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_HTTP_FINAL);

    free(buf);
    if (n < 0 || (size_t) n != len) {
        return -1; /* the connection failed; lws closes it */
    }
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int
reply_with(struct lws *wsi, unsigned status, const char *body, size_t body_len,
           const char *allow, const struct agent_http_header *extra)
{
    size_t len;
    unsigned char *buf =
        agent_http_build(wsi, status, body, body_len, allow, extra, &len);

    return buf != NULL ? agent_http_send(wsi, buf, len) : -1;
}

int
agent_http_reply(struct lws *wsi, unsigned status, const char *body,
                 size_t body_len, const char *allow)
{
    return reply_with(wsi, status, body, body_len, allow, NULL);
}

/* Builds {"error":{"code":..,"message":..}} into buf; returns its length. */
static size_t
error_body(char *buf, size_t size, const char *code, const char *message)
{
    json_t *j =
        json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
    size_t n = j != NULL ? json_dumpb(j, buf, size, JSON_COMPACT) : 0;

    json_decref(j);
    if (n == 0 || n > size) {
        n = (size_t) snprintf(buf, size,
                              "{\"error\":{\"code\":\"internal\","
                              "\"message\":\"error body too long\"}}");
    }
    return n;
}

int
agent_http_error(struct lws *wsi, unsigned status, const char *code,
                 const char *message, const char *allow)
{
    char body[512];
    size_t n = error_body(body, sizeof(body), code, message);

    return agent_http_reply(wsi, status, body, n, allow);
}

static int
http_error_with(struct lws *wsi, unsigned status, const char *code,
                const char *message, const struct agent_http_header *extra)
{
    char body[512];
    size_t n = error_body(body, sizeof(body), code, message);

    return reply_with(wsi, status, body, n, NULL, extra);
}

const char *
agent_auth_code(int status)
{
    return status == 400 ? "invalid_request"
        : status == 401  ? "unauthorized"
                         : "forbidden";
}

/* --- routes ---------------------------------------------------------------- */

static int
get_health(struct agent *agent, struct lws *wsi)
{
    char body[1024];
    uint64_t uptime_ms = (uv_hrtime() - agent->started_ns) / 1000000u;
    int stopping = agent->shutdown_stage != 0;
    json_t *j;
    size_t n;

    unsigned i, running = 0;

    for (i = 0; i < agent->sup.nprocs; i++) {
        running += agent->sup.procs[i]->state == AGENT_PS_RUNNING;
    }
    j = json_pack(
        "{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:{s:I,s:I},"
        "s:{s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:I}}",
        "status", stopping ? "stopping" : "ok", "worker", agent->cfg.worker,
        "container", agent->cfg.container, "version", AGENT_VERSION,
        "uptime_ms", (json_int_t) uptime_ms, "terminals",
        (json_int_t) agent->terminals_open, "terminal_sessions",
        (json_int_t) agent->next_session_id, "terminal_probes",
        (json_int_t) agent->terminal_probes, "processes", "total",
        (json_int_t) agent->sup.nprocs, "running", (json_int_t) running,
        "shipping", "enabled", agent->ship.enabled, "queued",
        (json_int_t) agent->ship.queue.nrecs, "shipped",
        (json_int_t) agent->ship.lines_shipped, "dropped",
        (json_int_t) agent->ship.lines_dropped, "refused",
        (json_int_t) agent->ship.lines_refused, "truncated",
        (json_int_t) agent->ship.truncated, "requests",
        (json_int_t) agent->ship.requests, "failures",
        (json_int_t) agent->ship.errors, "inflight_max",
        (json_int_t) agent->ship.nreqs, "inflight_peak",
        (json_int_t) agent->ship.inflight_peak, "orchestrator",
        agent->ship.urls.n > 0 ? agent->ship.urls.rpc[agent->ship.urls.cur]
                               : "",
        "failovers", (json_int_t) agent->ship.urls.failovers);
    n = j != NULL ? json_dumpb(j, body, sizeof(body), JSON_COMPACT) : 0;
    json_decref(j);
    if (n == 0 || n > sizeof(body)) {
        wharf_error("http: cannot encode /health");
        return agent_http_error(wsi, 500, "internal", "cannot encode health",
                                NULL);
    }
    return agent_http_reply(wsi, stopping ? 503 : 200, body, n, NULL);
}

static int
get_terminal_plain(struct agent *agent, struct lws *wsi)
{
    (void) agent;
    return agent_http_error(wsi, 426, "upgrade_required",
                            "/terminal is a WebSocket endpoint", NULL);
}

/* Later routes (REST /processes..., POST /rpc) join this table. */
static const struct route {
    const char *path;
    int method;        /* LWSHUMETH_* */
    const char *allow; /* Allow header for 405 */
    int (*handler)(struct agent *agent, struct lws *wsi);
} routes[] = {
    { "/health", LWSHUMETH_GET, "GET", get_health },
    { "/terminal", LWSHUMETH_GET, "GET", get_terminal_plain },
};

static int
serve_http(struct agent *agent, struct lws *wsi, struct agent_conn *conn,
           const char *path)
{
    char *uri;
    int uri_len, method;
    size_t i;

    if (strcmp(path, "/rpc") == 0 || strcmp(path, "/processes") == 0
        || strncmp(path, "/processes/", 11) == 0) {
        return agent_api_http(agent, wsi, conn, path);
    }

    method = lws_http_get_uri_and_method(wsi, &uri, &uri_len);
    for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (strcmp(path, routes[i].path) != 0) {
            continue;
        }
        if (method != routes[i].method) {
            return agent_http_error(wsi, 405, "method_not_allowed",
                                    "method not allowed on this path",
                                    routes[i].allow);
        }
        return routes[i].handler(agent, wsi);
    }
    return agent_http_error(wsi, 404, "not_found", "no such path", NULL);
}

/* 1 when key is base64 of 16 bytes: 22 characters of the alphabet and
 * "==" (RFC 6455 section 4.1). */
int
agent_ws_key_valid(const char *key)
{
    size_t i;

    if (strlen(key) != 24 || key[22] != '=' || key[23] != '=') {
        return 0;
    }
    for (i = 0; i < 22; i++) {
        char c = key[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
              || (c >= '0' && c <= '9') || c == '+' || c == '/')) {
            return 0;
        }
    }
    return 1;
}

/*
 * RFC 6455 section 4.2.1, before anything else: libwebsockets 4.1 upgrades
 * without a key (or with any bytes as one) and takes any version for 13.
 * 0 when the handshake is good, else the answer is sent: 426 with
 * "Sec-WebSocket-Version: 13" (section 4.2.2) for another version or
 * none, 400 for a missing or malformed key.
 */
static int
check_handshake(struct lws *wsi)
{
    static const struct agent_http_header version13 = {
        "sec-websocket-version:", "13"
    };
    char buf[64];
    int n;

    n = lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_VERSION);
    if (n != 2 || strcmp(buf, "13") != 0) {
        http_error_with(wsi, 426, "unsupported_websocket_version",
                        "the WebSocket handshake needs "
                        "Sec-WebSocket-Version: 13",
                        &version13);
        return 1;
    }
    n = lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_KEY);
    if (n <= 0 || !agent_ws_key_valid(buf)) {
        agent_http_error(wsi, 400, "bad_handshake",
                         "the WebSocket handshake needs a "
                         "Sec-WebSocket-Key of 16 bytes in base64",
                         NULL);
        return 1;
    }
    return 0;
}

/*
 * Before lws upgrades a connection: only /terminal and /websocket take
 * WebSockets, and not while shutting down. Returning >0 means "responded
 * already".
 *
 * A browser's token comes as the subprotocol "wharf.bearer.TOKEN". It is
 * read and checked here like any token, but libwebsockets (4.1, and its
 * main branch alike) copies Sec-WebSocket-Protocol into 128 bytes to pick
 * a protocol and drops the connection when it is longer, which a JWT
 * alone always is; it has no way to take an entry out of the list first.
 * So such an upgrade is answered 400 here, saying why, rather than
 * dropped: through the gateway the module has taken the entry out (the
 * agent gets the module's own token), and a client straight to the agent
 * sends Authorization or ?access_token=. Nothing is ever echoed back.
 */
static int
confirm_upgrade(struct agent *agent, struct lws *wsi, const char *upgrade)
{
    char path[64];
    const char *why = NULL;
    unsigned scopes;
    int n, protocols, bearer = 0;
    char *list;

    if (upgrade == NULL || strcasecmp(upgrade, "websocket") != 0) {
        agent_http_error(wsi, 400, "bad_upgrade",
                         "only WebSocket upgrades are served", NULL);
        return 1;
    }
    if (check_handshake(wsi) != 0) {
        return 1;
    }
    n = lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI);
    if (n <= 0
        || (strcmp(path, "/terminal") != 0
            && strcmp(path, "/websocket") != 0)) {
        agent_http_error(wsi, 404, "not_found", "no WebSocket at this path",
                         NULL);
        return 1;
    }
    protocols = lws_hdr_total_length(wsi, WSI_TOKEN_PROTOCOL);
    if (protocols > 0 && (list = malloc((size_t) protocols + 1)) != NULL) {
        if (lws_hdr_copy(wsi, list, protocols + 1, WSI_TOKEN_PROTOCOL) > 0) {
            bearer = agent_bearer_entries(list, NULL, 0);
        }
        free(list);
    }
    if (strcmp(path, "/websocket") == 0 && protocols > 0 && !bearer) {
        agent_http_error(wsi, 400, "bad_subprotocol",
                         "/websocket takes no subprotocol", NULL);
        return 1;
    }
    if (agent->shutdown_stage != 0) {
        agent_http_error(wsi, 503, "stopping", "the agent is shutting down",
                         NULL);
        return 1;
    }
    if (agent_auth_origin(agent, wsi) != 0) {
        agent_http_error(wsi, 403, "origin_not_allowed",
                         "this Origin may not open WebSockets here", NULL);
        return 1;
    }
    n = agent_auth_check(agent, wsi,
                         strcmp(path, "/terminal") == 0 ? WHARF_SCOPE_TERMINAL
                                                        : WHARF_SCOPE_READ,
                         &scopes, &why);
    if (n != 0) {
        agent_http_error(wsi, (unsigned) n, agent_auth_code(n), why, NULL);
        return 1;
    }
    if (bearer && protocols >= AGENT_LWS_PROTOCOLS_MAX) {
        agent_http_error(wsi, 400, "subprotocol_too_long",
                         "Sec-WebSocket-Protocol is too long for this "
                         "agent's WebSocket library (127 bytes or more): "
                         "open it through the gateway, which takes the "
                         "wharf.bearer. token out, or send the token as "
                         "Authorization: Bearer",
                         NULL);
        return 1;
    }
    return 0;
}

/* --- protocols ------------------------------------------------------------- */

static int
callback_http(struct lws *wsi, enum lws_callback_reasons reason, void *user,
              void *in, size_t len)
{
    struct agent_conn *conn = user;
    char path[64];

    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return serve_http(agent_of(wsi), wsi, conn, in);

    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return confirm_upgrade(agent_of(wsi), wsi, in);

    case LWS_CALLBACK_HTTP_BODY:
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
    case LWS_CALLBACK_HTTP_WRITEABLE:
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        return agent_api_callback(wsi, (int) reason, conn, in, len);

    /* A WebSocket that named no subprotocol is bound to the vhost's
     * default protocol, this one: on /websocket it is the live feed
     * (api.c), otherwise a raw-mode terminal. */
    case LWS_CALLBACK_ESTABLISHED:
        if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) > 0
            && strcmp(path, "/websocket") == 0) {
            memset(conn, 0, sizeof(*conn));
            conn->kind = AGENT_CONN_EVENTS;
            return agent_api_callback(wsi, (int) reason, conn, in, len);
        }
        return agent_terminal_callback(wsi, (int) reason, user, in, len,
                                       AGENT_TTY_RAW);
    case LWS_CALLBACK_WSI_DESTROY:
        if (conn != NULL && conn->kind == AGENT_CONN_EVENTS) {
            return agent_api_callback(wsi, (int) reason, conn, in, len);
        }
        if (conn != NULL) {
            (void) agent_api_callback(wsi, (int) reason, conn, in, len);
        }
        return agent_terminal_callback(wsi, (int) reason, user, in, len,
                                       AGENT_TTY_RAW);
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
    case LWS_CALLBACK_RECEIVE:
    case LWS_CALLBACK_SERVER_WRITEABLE:
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
    case LWS_CALLBACK_CLOSED:
    case LWS_CALLBACK_TIMER:
        if (conn != NULL && conn->kind == AGENT_CONN_EVENTS) {
            return agent_api_callback(wsi, (int) reason, conn, in, len);
        }
        return agent_terminal_callback(wsi, (int) reason, user, in, len,
                                       AGENT_TTY_RAW);
    default:
        return 0;
    }
}

static int
callback_tty_v1(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                void *in, size_t len)
{
    return agent_terminal_callback(wsi, (int) reason, user, in, len,
                                   AGENT_TTY_V1);
}

static const struct lws_protocols protocols[] = {
    { "http", callback_http, sizeof(struct agent_conn), AGENT_WS_RX_CHUNK, 0,
      NULL, AGENT_WS_TX_CHUNK },
    /* the same size as "http": lws may hand either protocol's callback
     * the user data of a connection that changed protocol */
    { AGENT_TTY_SUBPROTOCOL, callback_tty_v1, sizeof(struct agent_conn),
      AGENT_WS_RX_CHUNK, 0, NULL, AGENT_WS_TX_CHUNK },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

static const lws_retry_bo_t ws_liveness = {
    .secs_since_valid_ping = AGENT_WS_PING_SECS,
    .secs_since_valid_hangup = AGENT_WS_HANGUP_SECS,
};

/* lws logs through the agent's log, one line per event. */
static void
lws_log_emit(int level, const char *line)
{
    enum wharf_log_level wl = WHARF_LOG_DEBUG;
    size_t n = strlen(line);

    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
        n--;
    }
    if (level & LLL_ERR) {
        wl = WHARF_LOG_ERROR;
    } else if (level & LLL_WARN) {
        wl = WHARF_LOG_WARN;
    }
    wharf_log(wl, "lws: %.*s", (int) n, line);
}

int
agent_server_start(struct agent *agent)
{
    struct lws_context_creation_info info;
    void *foreign_loops[1] = { &agent->loop };

    lws_set_log_level(agent->cfg.log_level == WHARF_LOG_DEBUG
                          ? LLL_ERR | LLL_WARN | LLL_NOTICE
                          : LLL_ERR | LLL_WARN,
                      lws_log_emit);

    memset(&info, 0, sizeof(info));
    /* VALIDATE_UTF8: a text frame that is not UTF-8 is closed with 1007
     * by lws (RFC 6455 8.1), in every mode. */
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS
        | LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND
        | LWS_SERVER_OPTION_VALIDATE_UTF8;
    if (!agent->cfg.listen_ipv6) {
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    }
    /* lws copies what it needs from foreign_loops during creation. */
    info.foreign_loops = foreign_loops;
    info.user = agent;
    info.vhost_name = "wharf-agent";
    info.port = agent->cfg.listen_port;
    info.iface =
        agent->cfg.listen_host[0] != '\0' ? agent->cfg.listen_host : NULL;
    info.protocols = protocols;
    info.retry_and_idle_policy = &ws_liveness;
    /* lws keeps this pointer: a literal, not a buffer on the stack */
    info.server_string = "wharf-agent/" AGENT_VERSION;
    /* lws finishes destroying the context from a close callback on the
     * loop; it then clears agent->lws, so main() knows it is gone. */
    info.pcontext = &agent->lws;
    /* lws sizes (and zeroes) its fd tables by the fd limit: 16 bytes per
     * possible fd, 16 MiB resident under a container's usual 1048576.
     * Bounded, lws looks fds up in a smaller table instead. */
    info.fd_limit_per_thread = AGENT_LWS_MAX_FDS;
    info.uid = (uid_t) -1;
    info.gid = (gid_t) -1;

    agent->lws = lws_create_context(&info);
    if (agent->lws == NULL) {
        wharf_error("cannot create the libwebsockets context (is the "
                    "libuv event-lib plugin installed?)");
        return -1;
    }
    agent->vhost = lws_create_vhost(agent->lws, &info);
    if (agent->vhost == NULL) {
        wharf_error("cannot listen on %s:%d", agent->cfg.listen_text,
                    agent->cfg.listen_port);
        return -1;
    }
    agent->port = lws_get_vhost_listen_port(agent->vhost);
    return 0;
}

void
agent_server_stop(struct agent *agent)
{
    if (agent->lws != NULL) {
        lws_context_destroy(agent->lws);
    }
}
