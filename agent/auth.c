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
#include "log.h"
#include "token.h"

int
agent_auth_load_key(struct agent *agent, const char *path)
{
    FILE *f = fopen(path, "rb");
    long n;

    if (f == NULL) {
        wharf_error("--public-key %s: cannot open", path);
        return -1;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0 || n > 65536
        || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        wharf_error("--public-key %s: not a PEM key file", path);
        return -1;
    }
    agent->pubkey = malloc((size_t) n + 1);
    if (agent->pubkey == NULL
        || fread(agent->pubkey, 1, (size_t) n, f) != (size_t) n) {
        fclose(f);
        wharf_error("--public-key %s: cannot read", path);
        return -1;
    }
    fclose(f);
    agent->pubkey[n] = '\0';
    agent->pubkey_len = (size_t) n;
    if (strstr((char *) agent->pubkey, "PUBLIC KEY") == NULL) {
        wharf_error("--public-key %s: not a PEM public key", path);
        return -1;
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
    if (wharf_token_verify(token, agent->pubkey, agent->pubkey_len, time(NULL),
                           &c, why)
        != 0) {
        return 401;
    }
    if (strcmp(c.aud, agent->cfg.worker) != 0) {
        *why = "the token is not for this worker (aud)";
        return 403;
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
