/* Route tokens and WebSocket origins: see auth.h. */
#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libwebsockets.h>

#include "agent.h"
#include "keys_load.h"
#include "log.h"
#include "token.h"

int
agent_auth_load_keys(struct agent *agent)
{
    char err[512];
    int i;

    for (i = 0; i < agent->cfg.npublic_keys; i++) {
        if (wharf_keys_load(&agent->keys, agent->cfg.public_keys[i], err,
                            sizeof(err))
            != 0) {
            wharf_error("--public-key %s", err);
            return -1;
        }
    }
    for (i = 0; i < (int) agent->keys.n; i++) {
        wharf_info("verification key %s", agent->keys.key[i].kid);
    }
    return 0;
}

/* The bearer token of the request, into buf; 0 or -1 when none. */
static int
get_token(struct lws *wsi, char *buf, size_t size)
{
    char arg[WHARF_TOKEN_MAX + 32];
    int n, i;

    n = lws_hdr_copy(wsi, buf, (int) size, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n > 7 && strncasecmp(buf, "Bearer ", 7) == 0) {
        memmove(buf, buf + 7, (size_t) n - 6);
        return 0;
    }
    for (i = 0; lws_hdr_copy_fragment(wsi, arg, sizeof(arg),
                                      WSI_TOKEN_HTTP_URI_ARGS, i)
         > 0;
         i++) {
        if (strncmp(arg, "access_token=", 13) == 0 && strlen(arg + 13) < size) {
            snprintf(buf, size, "%s", arg + 13);
            return 0;
        }
    }
    return -1;
}

int
agent_auth_check(struct agent *agent, struct lws *wsi, unsigned scope,
                 unsigned *scopes, const char **why)
{
    char token[WHARF_TOKEN_MAX + 8];
    struct wharf_claims c;

    if (agent->cfg.insecure_no_auth) {
        *scopes = WHARF_SCOPE_INGEST | WHARF_SCOPE_READ | WHARF_SCOPE_CONTROL
            | WHARF_SCOPE_TERMINAL | WHARF_SCOPE_ADMIN;
        return 0;
    }
    if (get_token(wsi, token, sizeof(token)) != 0) {
        *why = "a bearer token is required";
        return 401;
    }
    /* the agent's audience is its worker: the token's aud must name it */
    switch (wharf_token_verify(token, strlen(token), &agent->keys,
                               agent->cfg.worker, time(NULL), &c, why)) {
    case 0:
        break;
    case WHARF_TOKEN_OTHER_AUDIENCE:
        return 403; /* a good token, for another worker or the gateway */
    default:
        return 401;
    }
    if (!wharf_claims_allow(&c, agent->cfg.worker, scope)) {
        *why = "the token lacks the scope of this route";
        return 403;
    }
    *scopes = c.scopes;
    return 0;
}

int
agent_origin_in_list(const char *origin, const char *list)
{
    size_t n = strlen(origin);
    const char *p = list, *e;

    while (p != NULL && *p != '\0') {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        e = p + strcspn(p, ", ");
        if ((size_t) (e - p) == n && strncasecmp(p, origin, n) == 0) {
            return 1;
        }
        p = e;
    }
    return 0;
}

int
agent_origin_matches_host(const char *origin, const char *host)
{
    const char *h = strstr(origin, "://");

    if (h == NULL || host == NULL || host[0] == '\0') {
        return 0;
    }
    return strcasecmp(h + 3, host) == 0;
}

int
agent_auth_origin(struct agent *agent, struct lws *wsi)
{
    char origin[512], host[300];

    if (lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) <= 0) {
        return 0; /* not a browser */
    }
    if (agent->cfg.allowed_origins != NULL) {
        return agent_origin_in_list(origin, agent->cfg.allowed_origins) ? 0
                                                                        : 403;
    }
    if (lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST) <= 0) {
        host[0] = '\0';
    }
    return agent_origin_matches_host(origin, host) ? 0 : 403;
}
