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

#include "log.h"
#include "methods.h"
#include "wharfd.h"

/* Largest public key file read. */
#define WHARFD_KEY_MAX 16384

int
wharfd_auth_init(struct wharfd_auth *a, const char *pub_path, int off)
{
    FILE *f;
    size_t n;

    memset(a, 0, sizeof(*a));
    a->off = off;
    pthread_mutex_init(&a->lock, NULL);
    if (pub_path == NULL || pub_path[0] == '\0') {
        if (!off) {
            wharf_warn("no --public-key: every token is refused");
        }
        return 0;
    }
    f = fopen(pub_path, "rb");
    if (f == NULL) {
        wharf_error("--public-key %s: %s", pub_path, strerror(errno));
        return -1;
    }
    a->pub = malloc(WHARFD_KEY_MAX + 1);
    n = a->pub ? fread(a->pub, 1, WHARFD_KEY_MAX + 1, f) : 0;
    fclose(f);
    if (n == 0 || n > WHARFD_KEY_MAX
        || strstr((char *) a->pub, "-----BEGIN PUBLIC KEY-----") == NULL) {
        if (a->pub) {
            a->pub[n <= WHARFD_KEY_MAX ? n : WHARFD_KEY_MAX] = '\0';
        }
        wharf_error("--public-key %s: not a PEM public key (at most %d bytes)",
                    pub_path, WHARFD_KEY_MAX);
        free(a->pub);
        a->pub = NULL;
        return -1;
    }
    a->pub[n] = '\0';
    a->pub_len = n;
    return 0;
}

void
wharfd_auth_free(struct wharfd_auth *a)
{
    size_t i;

    for (i = 0; i < WHARFD_TOKEN_CACHE; i++) {
        free(a->slots[i].token);
    }
    free(a->pub);
    pthread_mutex_destroy(&a->lock);
    memset(a, 0, sizeof(*a));
}

/* FNV-1a over the token bytes. */
static size_t
token_slot(const char *t)
{
    unsigned long long h = 1469598103934665603ULL;

    for (; *t; t++) {
        h = (h ^ (unsigned char) *t) * 1099511628211ULL;
    }
    return (size_t) (h % WHARFD_TOKEN_CACHE);
}

static void
auth_verify(struct wharfd_auth *a, struct wharfd_call *call, const char *tok)
{
    struct wharfd_auth_slot *slot = &a->slots[token_slot(tok)];
    time_t now = time(NULL);
    char *copy;

    pthread_mutex_lock(&a->lock);
    if (slot->token != NULL && strcmp(slot->token, tok) == 0
        && slot->claims.exp > now) {
        call->claims = slot->claims;
        call->authed = 1;
    }
    pthread_mutex_unlock(&a->lock);
    if (call->authed) {
        return;
    }

    if (a->pub == NULL) {
        call->why = "no public key configured";
        return;
    }
    if (wharf_token_verify(tok, a->pub, a->pub_len, now, &call->claims,
                           &call->why)
        != 0) {
        return;
    }
    call->authed = 1;
    copy = strdup(tok);
    if (copy == NULL) {
        return; /* verified, just not cached */
    }
    pthread_mutex_lock(&a->lock);
    free(slot->token);
    slot->token = copy;
    slot->claims = call->claims;
    pthread_mutex_unlock(&a->lock);
}

/* The value of access_token= in a raw query, copied into buf (tokens are
 * base64url and dots: nothing to percent-decode). */
static const char *
query_token(const char *q, char *buf, size_t size)
{
    const char *p = q, *end;
    size_t n;

    while (p != NULL && *p) {
        if (strncmp(p, "access_token=", 13) == 0) {
            p += 13;
            end = strchr(p, '&');
            n = end ? (size_t) (end - p) : strlen(p);
            if (n == 0 || n >= size) {
                return NULL;
            }
            memcpy(buf, p, n);
            buf[n] = '\0';
            return buf;
        }
        p = strchr(p, '&');
        if (p) {
            p++;
        }
    }
    return NULL;
}

void
wharfd_auth_request(struct wharfd *wd, struct wharfd_call *call,
                    const char *authorization, const char *query)
{
    struct wharfd_auth *a = &wd->auth;
    char buf[WHARF_TOKEN_MAX + 1];
    const char *tok = NULL;

    memset(call, 0, sizeof(*call));
    call->wd = wd;
    call->authorization = authorization;
    call->query = query;
    if (a->off) {
        call->authed = 1;
        strcpy(call->claims.sub, "*");
        call->claims.scopes = WHARF_SCOPE_INGEST | WHARF_SCOPE_READ
            | WHARF_SCOPE_CONTROL | WHARF_SCOPE_ADMIN;
        return;
    }
    if (authorization != NULL
        && strncasecmp(authorization, "Bearer ", 7) == 0) {
        tok = authorization + 7;
        while (*tok == ' ') {
            tok++;
        }
    } else if (authorization == NULL && query != NULL) {
        tok = query_token(query, buf, sizeof(buf));
    }
    if (tok == NULL || *tok == '\0') {
        call->why = authorization ? "Authorization is not a Bearer token"
                                  : "no bearer token";
        return;
    }
    if (strlen(tok) > WHARF_TOKEN_MAX) {
        call->why = "token too long";
        return;
    }
    auth_verify(a, call, tok);
}

int
wharfd_call_bearer(const struct wharfd_call *call, char *buf, size_t size)
{
    char tok[WHARF_TOKEN_MAX + 1];
    int n;

    if (call->authorization != NULL) {
        n = snprintf(buf, size, "%s", call->authorization);
    } else if (call->query != NULL
               && query_token(call->query, tok, sizeof(tok)) != NULL) {
        n = snprintf(buf, size, "Bearer %s", tok);
    } else {
        return -1;
    }
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
