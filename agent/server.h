/*
 * The agent's HTTP/WebSocket server: one libwebsockets context and vhost on
 * the agent's libuv loop.
 *
 * Routes (auth: auth.h; the API's JSON shapes: api.h, docs/agent.md):
 *   every WebSocket upgrade: Sec-WebSocket-Version 13 (else 426) and a
 *                   Sec-WebSocket-Key of 16 bytes in base64 (else 400)
 *   GET /health     200 application/json {"status":"ok","worker":...,
 *                   "container":...,"version":...,"uptime_ms":N,
 *                   "terminals":N,"processes":{...},"shipping":{...}}
 *                   (503 with "status":"stopping" during shutdown); open
 *   /terminal       WebSocket (terminal.c); a plain GET gets 426
 *   /websocket      WebSocket without subprotocol: live events and
 *                   JSON-RPC control (api.c)
 *   /processes...   REST process control (api.c)
 *   POST /rpc       JSON-RPC process control (api.c)
 *   anything else   404 {"error":{"code":"not_found","message":...}}
 *   known path, other method: 405 {"error":{"code":"method_not_allowed",...}}
 *
 * Protocol table: protocols[0] ("http") serves HTTP and is also the vhost's
 * default WebSocket protocol, so a WebSocket that asks for no subprotocol
 * lands there and runs the terminal in raw mode; protocols[1] is
 * wharf.tty.v1. A client that offers only unknown subprotocols is refused by
 * lws (connection dropped).
 */
#ifndef AGENT_SERVER_H
#define AGENT_SERVER_H

#include <stddef.h>

struct agent;
struct lws;

/* Most file descriptors lws tracks (sockets of terminals, /websocket and
 * HTTP clients; a terminal's PTY is on libuv, not lws). lws allocates its
 * fd tables for this many rather than for the whole fd limit. */
#define AGENT_LWS_MAX_FDS 4096

/* Room for the status line and headers of an answer the agent builds. */
#define AGENT_HTTP_HEADERS_MAX 1024

/* WebSocket liveness: a connection idle this long is pinged, and one that
 * has not proved alive (any frame, pong included) for the second figure is
 * dropped, which ends its terminal like any client departure. */
#define AGENT_WS_PING_SECS   30
#define AGENT_WS_HANGUP_SECS 90

/* libwebsockets 4.1 refuses (drops) an upgrade whose Sec-WebSocket-Protocol
 * is this long or longer: it picks the protocol from a copy in 128 bytes. */
#define AGENT_LWS_PROTOCOLS_MAX 127

/* Creates the lws context and the listening vhost on agent->loop and sets
 * agent->port. Returns 0 or -1 (logged). */
int agent_server_start(struct agent *agent);

/* Begins destroying the lws context: every connection is closed, lws's
 * handles on the loop are closed as the loop runs. */
void agent_server_stop(struct agent *agent);

/*
 * HTTP answers: every JSON answer of the agent (server.c's routes and
 * handshake refusals, api.c's REST and /rpc) is built by
 * agent_http_build() and written by agent_http_send(), whole, in one write
 * that ends the response (LWS_WRITE_HTTP_FINAL), then the HTTP transaction
 * ends (keep-alive goes on). An answer that cannot go at once (api.c's
 * deferred replies) is built, kept, and sent when the connection is
 * writable.
 */

/* One more response header, by name ("name:"). */
struct agent_http_header {
    const char *name;
    const char *value;
};

/* Status line, Content-Type application/json, Cache-Control no-store,
 * Content-Length, Allow (allow, or none), extra (or none), then body, in
 * one heap buffer of LWS_PRE bytes of headroom and *out_len bytes. NULL
 * when out of memory or the headers do not fit (logged). */
unsigned char *agent_http_build(struct lws *wsi, unsigned status,
                                const char *body, size_t body_len,
                                const char *allow,
                                const struct agent_http_header *extra,
                                size_t *out_len);

/* Writes an answer agent_http_build() made, and frees it. Returns what
 * an lws HTTP callback should return. */
int agent_http_send(struct lws *wsi, unsigned char *buf, size_t len);

/* Builds and sends a JSON answer at once. allow is the Allow header's
 * value, or NULL. */
int agent_http_reply(struct lws *wsi, unsigned status, const char *body,
                     size_t body_len, const char *allow);

/* The same with an error body {"error":{"code":code,"message":message}}. */
int agent_http_error(struct lws *wsi, unsigned status, const char *code,
                     const char *message, const char *allow);

/* The error code of an agent_auth_check() status: 400 invalid_request,
 * 401 unauthorized, 403 forbidden. */
const char *agent_auth_code(int status);

/* Pure: is key a Sec-WebSocket-Key, base64 of 16 bytes? */
int agent_ws_key_valid(const char *key);

#endif
