/*
 * Who may use the agent's routes: every route but GET /health wants an
 * ES256 token (common/token.h) whose aud is this agent's worker name and
 * whose scopes allow the route:
 *   /terminal                          terminal
 *   /websocket                         read (control calls: control)
 *   GET /processes, GET /processes/ID  read
 *   POST /processes..., POST /rpc      control (reads over /rpc: read)
 * The token comes as "Authorization: Bearer T" (what the gateway sends) or
 * "?access_token=T" (a browser WebSocket straight to the agent). The
 * orchestrator's public key is read once at start (--public-key); without
 * one the agent refuses to start unless --insecure-no-auth is given, and
 * then lets everything through (development only; logged at start).
 *
 * GET /health stays open: the container's HEALTHCHECK and the gateway's
 * probes call it without a token, and it tells nothing secret.
 *
 * WebSocket upgrades also check Origin: absent (not a browser) is fine;
 * otherwise it must be in --allowed-origins, or, without that flag, name
 * the same host as the Host header (the page came from the gateway).
 */
#ifndef AGENT_AUTH_H
#define AGENT_AUTH_H

struct agent;
struct lws;

/* Checks the request's token for scope. Returns 0 with the token's scope
 * bits in *scopes, or an HTTP status (401 no/bad token, 403 wrong
 * audience or scope) with a static reason in *why. */
int agent_auth_check(struct agent *agent, struct lws *wsi, unsigned scope,
                     unsigned *scopes, const char **why);

/* 0 when the upgrade's Origin is acceptable, else 403. */
int agent_auth_origin(struct agent *agent, struct lws *wsi);

/* The ingest token the shipper sends: from --token-file / WHARF_TOKEN_FILE
 * when given (read into agent->token_buf), else WHARF_TOKEN; never from the
 * command line. Checks that it is one header-safe word. 0 or -1 (logged). */
int agent_auth_load_token(struct agent *agent);

/* Reads the public key file into agent->pubkey. 0 or -1 (logged). */
int agent_auth_load_key(struct agent *agent, const char *path);

/* Pure: does an Origin value name host (HOST[:PORT] as in a Host header)?
 * Exposed for unit tests. */
int agent_origin_matches_host(const char *origin, const char *host);
/* Pure: is origin in the comma-separated list? */
int agent_origin_in_list(const char *origin, const char *list);

#endif
