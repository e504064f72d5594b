/* Route tokens and WebSocket origins: see auth.h. */
#include "auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libwebsockets.h>

#include "agent.h"
#include "bearer.h"
#include "keys_load.h"
#include "log.h"
#include "origin.h"
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

/* A token goes into an Authorization header: printable ASCII, no space,
 * at most WHARF_TOKEN_MAX bytes. */
static int
token_text_ok(const char *t, size_t n)
{
    size_t i;

    if (n == 0 || n > WHARF_TOKEN_MAX) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if ((unsigned char) t[i] < 0x21 || (unsigned char) t[i] > 0x7e) {
            return 0;
        }
    }
    return 1;
}

int
agent_auth_load_token(struct agent *agent)
{
    const char *path = agent->cfg.token_file;
    char buf[WHARF_TOKEN_MAX + 2];
    size_t n;
    FILE *f;

    if (path == NULL) {
        if (agent->cfg.token != NULL
            && !token_text_ok(agent->cfg.token, strlen(agent->cfg.token))) {
            wharf_error("WHARF_TOKEN: not a token (1..%d printable ASCII "
                        "characters without spaces)",
                        WHARF_TOKEN_MAX);
            return -1;
        }
        return 0;
    }
    f = fopen(path, "rb");
    if (f == NULL) {
        wharf_error("--token-file %s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    /* one line: the trailing newline (and spaces) of an editor or echo
     * are not part of it */
    while (n > 0
           && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '
               || buf[n - 1] == '\t')) {
        n--;
    }
    if (!token_text_ok(buf, n)) {
        wharf_error("--token-file %s: not a token (one line of 1..%d "
                    "printable ASCII characters without spaces)",
                    path, WHARF_TOKEN_MAX);
        return -1;
    }
    agent->token_buf = strndup(buf, n);
    if (agent->token_buf == NULL) {
        wharf_error("--token-file %s: out of memory", path);
        return -1;
    }
    agent->cfg.token = agent->token_buf;
    return 0;
}

/* The first "wharf.bearer.TOKEN" entry of a subprotocol list into buf
 * (when buf is not NULL); returns how many such entries the list has
 * (common/bearer.h reads the list, as wharfd's feed does). */
int
agent_bearer_entries(const char *list, char *buf, size_t size)
{
    const char *tok;
    size_t len;
    int n;

    n = wharf_bearer_protocols(list, strlen(list), &tok, &len, NULL, 0);
    if (n > 0 && buf != NULL && size > 0) {
        snprintf(buf, size, "%.*s", (int) (len < size ? len : 0), tok);
    }
    return n;
}

/*
 * The bearer token of the request into buf, from exactly one place:
 * "Authorization: Bearer", "?access_token=" or a subprotocol entry
 * "wharf.bearer.TOKEN". Returns 1 with the token, 0 when there is none,
 * -1 when there are several (RFC 6750 section 2: invalid_request), -2 for
 * an Authorization header that is not Bearer.
 */
static int
get_token(struct lws *wsi, char *buf, size_t size)
{
    char arg[WHARF_TOKEN_MAX + 32], *list;
    int n, i, count = 0, found = 0, malformed = 0, len;

    buf[0] = '\0';
    n = lws_hdr_copy(wsi, buf, (int) size, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n != 0 || lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION)) {
        count++;
        if (n > 7 && strncasecmp(buf, "Bearer ", 7) == 0) {
            memmove(buf, buf + 7, (size_t) n - 6);
            found = 1;
        } else {
            malformed = 1;
            buf[0] = '\0';
        }
    }
    for (i = 0; lws_hdr_copy_fragment(wsi, arg, sizeof(arg),
                                      WSI_TOKEN_HTTP_URI_ARGS, i)
         > 0;
         i++) {
        if (strncasecmp(arg, "access_token=", 13) == 0) {
            count++;
            if (!found && strlen(arg + 13) < size) {
                snprintf(buf, size, "%s", arg + 13);
                found = 1;
            }
        }
    }
    len = lws_hdr_total_length(wsi, WSI_TOKEN_PROTOCOL);
    if (len > 0 && (list = malloc((size_t) len + 1)) != NULL) {
        if (lws_hdr_copy(wsi, list, len + 1, WSI_TOKEN_PROTOCOL) > 0) {
            n = agent_bearer_entries(list, found ? NULL : buf, size);
            count += n;
            found |= n > 0;
        }
        free(list);
    }
    if (count > 1) {
        return -1;
    }
    if (malformed) {
        return -2;
    }
    return found && buf[0] != '\0' ? 1 : 0;
}

int
agent_auth_check(struct agent *agent, struct lws *wsi, unsigned scope,
                 unsigned *scopes, const char **why)
{
    char token[WHARF_TOKEN_MAX + 8];
    struct wharf_claims c;
    int n;

    if (agent->cfg.insecure_no_auth) {
        *scopes = WHARF_SCOPE_INGEST | WHARF_SCOPE_READ | WHARF_SCOPE_CONTROL
            | WHARF_SCOPE_TERMINAL | WHARF_SCOPE_ADMIN;
        return 0;
    }
    n = get_token(wsi, token, sizeof(token));
    if (n == -1) {
        *why = "more than one credential: send the token once, in one of "
               "Authorization: Bearer, ?access_token= or the wharf.bearer. "
               "subprotocol";
        return 400;
    }
    if (n != 1) {
        *why = n == -2 ? "the Authorization header is not \"Bearer TOKEN\""
                       : "a bearer token is required";
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
agent_auth_origin(struct agent *agent, struct lws *wsi)
{
    char origin[512], host[300];

    if (lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) <= 0) {
        return 0; /* not a browser */
    }
    if (lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST) <= 0) {
        host[0] = '\0';
    }
    return wharf_origin_allowed(origin, agent->cfg.allowed_origins, host) ? 0
                                                                          : 403;
}
