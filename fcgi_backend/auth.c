/*
 * Bearer tokens: parsing, verification with a cache, per-method checks.
 */
#include "auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bearer.h"
#include "keys_load.h"
#include "log.h"
#include "methods.h"
#include "wharfd.h"

int
wharfd_auth_init(struct wharfd_auth *a, char (*paths)[PATH_MAX], size_t npaths,
                 int off)
{
    char err[512];
    size_t i;

    memset(a, 0, sizeof(*a));
    a->off = off;
    pthread_mutex_init(&a->lock, NULL);
    for (i = 0; i < npaths; i++) {
        if (wharf_keys_load(&a->keys, paths[i], err, sizeof(err)) != 0) {
            wharf_error("--public-key %s", err);
            wharf_keys_free(&a->keys);
            return -1;
        }
    }
    for (i = 0; i < a->keys.n; i++) {
        wharf_info("verification key %s", a->keys.key[i].kid);
    }
    if (a->keys.n == 0 && !off) {
        wharf_warn("no --public-key: every token is refused");
    }
    return 0;
}

void
wharfd_auth_free(struct wharfd_auth *a)
{
    size_t i;

    for (i = 0; i < WHARFD_TOKEN_CACHE; i++) {
        free(a->slots[i].token);
    }
    wharf_keys_free(&a->keys);
    pthread_mutex_destroy(&a->lock);
    memset(a, 0, sizeof(*a));
}

/* FNV-1a over the token bytes. */
static size_t
token_slot(const char *t, size_t n)
{
    unsigned long long h = 1469598103934665603ULL;
    size_t i;

    for (i = 0; i < n; i++) {
        h = (h ^ (unsigned char) t[i]) * 1099511628211ULL;
    }
    return (size_t) (h % WHARFD_TOKEN_CACHE);
}

static void
auth_verify(struct wharfd_auth *a, struct wharfd_call *call, const char *tok,
            size_t len)
{
    struct wharfd_auth_slot *slot = &a->slots[token_slot(tok, len)];
    time_t now = time(NULL);
    char *copy;

    pthread_mutex_lock(&a->lock);
    if (slot->token != NULL && strlen(slot->token) == len
        && memcmp(slot->token, tok, len) == 0
        && wharf_claims_current(&slot->claims, now)) {
        call->claims = slot->claims;
        call->authed = 1;
    }
    pthread_mutex_unlock(&a->lock);
    if (call->authed) {
        return;
    }

    /* no audience: a token made for one agent (aud) opens nothing here */
    if (wharf_token_verify(tok, len, &a->keys, NULL, now, &call->claims,
                           &call->why)
        != 0) {
        call->refusal = WHARFD_AUTH_INVALID;
        return;
    }
    call->authed = 1;
    copy = strndup(tok, len);
    if (copy == NULL) {
        return; /* verified, just not cached */
    }
    pthread_mutex_lock(&a->lock);
    free(slot->token);
    slot->token = copy;
    slot->claims = call->claims;
    pthread_mutex_unlock(&a->lock);
}

/* Every access_token= of a raw query: how many, and the first one's value
 * (tokens are base64url and dots: nothing to percent-decode). */
static int
query_tokens(const char *q, const char **tok, size_t *len)
{
    const char *p = q, *end;
    int n = 0;

    while (p != NULL && *p) {
        if (strncmp(p, "access_token=", 13) == 0) {
            end = strchr(p + 13, '&');
            if (n++ == 0) {
                *tok = p + 13;
                *len = end ? (size_t) (end - *tok) : strlen(*tok);
            }
        }
        p = strchr(p, '&');
        if (p) {
            p++;
        }
    }
    return n;
}

void
wharfd_auth_request(struct wharfd *wd, struct wharfd_call *call,
                    const char *authorization, const char *query,
                    const char *protocols)
{
    struct wharfd_auth *a = &wd->auth;
    const char *qtok = NULL, *ptok = NULL;
    size_t qlen = 0, plen = 0;
    int nq, np;

    memset(call, 0, sizeof(*call));
    call->wd = wd;
    if (a->off) {
        call->authed = 1;
        strcpy(call->claims.sub, "*");
        call->claims.scopes = WHARF_SCOPE_INGEST | WHARF_SCOPE_READ
            | WHARF_SCOPE_CONTROL | WHARF_SCOPE_ADMIN;
        return;
    }
    nq = query ? query_tokens(query, &qtok, &qlen) : 0;
    np = protocols ? wharf_bearer_protocols(protocols, strlen(protocols), &ptok,
                                            &plen, NULL, 0)
                   : 0;
    if ((authorization != NULL) + nq + np > 1) {
        call->refusal = WHARFD_AUTH_TWO;
        call->why = "more than one credential: send the token once, in "
                    "one of the Authorization header, ?access_token= or "
                    "the wharf.bearer. subprotocol";
        return;
    }
    if (authorization != NULL) {
        if (strncasecmp(authorization, "Bearer ", 7) != 0) {
            call->refusal = WHARFD_AUTH_INVALID;
            call->why = "Authorization is not a Bearer token";
            return;
        }
        call->token = authorization + 7;
        while (*call->token == ' ') {
            call->token++;
        }
        call->token_len = strlen(call->token);
        while (call->token_len > 0 && call->token[call->token_len - 1] == ' ') {
            call->token_len--;
        }
    } else if (nq == 1) {
        call->token = qtok;
        call->token_len = qlen;
    } else if (np == 1) {
        call->token = ptok;
        call->token_len = plen;
    }
    if (call->token == NULL) {
        call->refusal = WHARFD_AUTH_MISSING;
        call->why = "no bearer token";
        return;
    }
    if (call->token_len == 0) {
        call->token = NULL;
        call->refusal = WHARFD_AUTH_INVALID;
        call->why = "empty bearer token";
        return;
    }
    if (call->token_len > WHARF_TOKEN_MAX) {
        call->refusal = WHARFD_AUTH_INVALID;
        call->why = "token too long";
        return;
    }
    auth_verify(a, call, call->token, call->token_len);
}

void
wharfd_auth_challenge(const struct wharfd_call *call, const char *scope_names,
                      char *buf, size_t size)
{
    const char *error = NULL;
    size_t i, n;

    if (scope_names != NULL) {
        snprintf(buf, size,
                 "Bearer realm=\"wharf\", error=\"insufficient_scope\"%s%s%s",
                 scope_names[0] ? ", scope=\"" : "", scope_names,
                 scope_names[0] ? "\"" : "");
        return;
    }
    if (call->refusal == WHARFD_AUTH_TWO) {
        error = "invalid_request";
    } else if (call->refusal == WHARFD_AUTH_INVALID) {
        error = "invalid_token";
    }
    if (error == NULL) {
        /* no credential: no error code (RFC 6750 section 3.1) */
        snprintf(buf, size, "Bearer realm=\"wharf\"");
        return;
    }
    n = (size_t) snprintf(buf, size,
                          "Bearer realm=\"wharf\", error=\"%s\", "
                          "error_description=\"",
                          error);
    /* the reason is a quoted-string: no quote or backslash inside */
    for (i = 0; call->why != NULL && call->why[i] && n + 2 < size; i++) {
        buf[n++] =
            call->why[i] == '"' || call->why[i] == '\\' ? '\'' : call->why[i];
    }
    if (n + 1 < size) {
        buf[n++] = '"';
    }
    buf[n < size ? n : size - 1] = '\0';
}

int
wharfd_call_bearer(const struct wharfd_call *call, char *buf, size_t size)
{
    int n;

    if (call->token == NULL) {
        return -1;
    }
    n = snprintf(buf, size, "Bearer %.*s", (int) call->token_len, call->token);
    return n < 0 || (size_t) n >= size ? -1 : 0;
}

int
wharfd_call_scope(struct wharfd_call *call, unsigned scope,
                  struct wharfd_rpc_error *err)
{
    char names[64];

    if (!call->authed) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_UNAUTHORIZED, NULL, "%s",
                                    call->why ? call->why : "no token");
    }
    if ((call->claims.scopes & scope) != scope) {
        wharf_scopes_format(scope, names, sizeof(names));
        return wharfd_rpc_set_error(err, WHARFD_RPC_FORBIDDEN, NULL,
                                    "the token lacks the '%s' scope", names);
    }
    return 0;
}

int
wharfd_call_write_worker(struct wharfd_call *call, json_t *obj, unsigned scope,
                         const char **worker, struct wharfd_rpc_error *err)
{
    const char *given = NULL;
    json_t *v;

    *worker = NULL;
    if (wharfd_call_scope(call, scope, err) != 0) {
        return -1;
    }
    v = obj ? json_object_get(obj, "worker") : NULL;
    if (strcmp(call->claims.sub, "*") == 0) {
        if (wharfd_param_worker(obj, "worker", worker, err) != 0) {
            return -1;
        }
        /* common/token.h's rule decides (here: always yes for "*"). */
        return wharf_claims_allow(&call->claims, *worker, scope)
            ? 0
            : wharfd_rpc_set_error(err, WHARFD_RPC_FORBIDDEN, "worker",
                                   "the token may not write as '%s'", *worker);
    }
    if (v != NULL && !json_is_null(v)) {
        if (wharfd_param_worker(obj, "worker", &given, err) != 0) {
            return -1;
        }
        if (strcmp(given, call->claims.sub) != 0) {
            return wharfd_rpc_set_error(err, WHARFD_RPC_FORBIDDEN, "worker",
                                        "this token may write only as "
                                        "worker '%s'",
                                        call->claims.sub);
        }
    }
    if (!wharf_claims_allow(&call->claims, call->claims.sub, scope)) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_FORBIDDEN, NULL,
                                    "the token does not allow this");
    }
    *worker = call->claims.sub;
    return 0;
}

int
wharfd_call_read_worker(struct wharfd_call *call, json_t *obj, unsigned scope,
                        const char **worker, struct wharfd_rpc_error *err)
{
    const char *given = NULL;
    json_t *v;

    *worker = NULL;
    if (wharfd_call_scope(call, scope, err) != 0) {
        return -1;
    }
    v = obj ? json_object_get(obj, "worker") : NULL;
    if (v != NULL && !json_is_null(v)
        && wharfd_param_worker(obj, "worker", &given, err) != 0) {
        return -1;
    }
    if (strcmp(call->claims.sub, "*") == 0) {
        *worker = given; /* NULL: every worker, which "*" allows */
        return 0;
    }
    /* A worker's token: confined to its worker (common/token.h's rule). */
    if (!wharf_claims_allow(&call->claims, given ? given : call->claims.sub,
                            scope)) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_FORBIDDEN, "worker",
                                    "this token may read only worker '%s'",
                                    call->claims.sub);
    }
    *worker = call->claims.sub;
    return 0;
}
