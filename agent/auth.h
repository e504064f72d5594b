/*
 * Who may use the agent's routes: every route but GET /health wants an
 * ES256 token (common/token.h) whose aud is this agent's worker name and
 * whose scopes allow the route:
 *   /terminal                          terminal
 *   /websocket                         read (control calls: control)
 *   GET /processes, GET /processes/ID  read
 *   POST /processes..., POST /rpc      control (reads over /rpc: read)
 * The token comes as "Authorization: Bearer T" (what the gateway sends),
 * "?access_token=T" (old clients), or a Sec-WebSocket-Protocol entry
 * "wharf.bearer.T" (how a browser sends it; see server.c for why
 * libwebsockets cannot take it here); exactly one of them: two are 400
 * invalid_request (RFC 6750 section 2), even when both are good. It is
 * verified by common/token.h with the agent's worker name as the
 * audience. The orchestrator's public keys are read once at start
 * (--public-key, a file or a folder, repeatable: several during a key
 * rotation); without one the agent refuses to start unless
 * --insecure-no-auth is given, and then lets everything through
 * (development only; logged at start).
 *
 * GET /health stays open: the container's HEALTHCHECK and the gateway's
 * probes call it without a token, and it tells nothing secret.
 *
 * WebSocket upgrades also check Origin (common/origin.h): absent (not a
 * browser, or a request through the gateway, which checked it and does not
 * pass it on) is fine; otherwise it must be in --allowed-origins, or,
 * without that flag, name the same host as the Host header.
 */
#ifndef AGENT_AUTH_H
#define AGENT_AUTH_H

#include <stddef.h>

#include "bearer.h"

struct agent;
struct lws;

/* The prefix of the subprotocol entry that carries a browser's token. */
#define AGENT_BEARER_PREFIX WHARF_BEARER_PROTOCOL

/* Checks the request's token for scope. Returns 0 with the token's scope
 * bits in *scopes, or an HTTP status (400 more than one credential, 401
 * no/bad token, 403 wrong audience or scope) with a static reason in
 * *why. */
int agent_auth_check(struct agent *agent, struct lws *wsi, unsigned scope,
                     unsigned *scopes, const char **why);

/* Pure: how many "wharf.bearer.TOKEN" entries a Sec-WebSocket-Protocol
 * list has; the first token goes into buf (size bytes) unless NULL. */
int agent_bearer_entries(const char *list, char *buf, size_t size);

/* 0 when the upgrade's Origin is acceptable, else 403. */
int agent_auth_origin(struct agent *agent, struct lws *wsi);

/* Reads the keys of every --public-key into agent->keys. 0 or -1
 * (logged). */
int agent_auth_load_keys(struct agent *agent);

/* The ingest token the shipper sends: from --token-file / WHARF_TOKEN_FILE
 * when given (read into agent->token_buf), else WHARF_TOKEN; never from the
 * command line. Checks that it is one header-safe word. 0 or -1 (logged). */
int agent_auth_load_token(struct agent *agent);

#endif
