#include "token.h"

#include <errno.h>
#include <jwt.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    unsigned bit;
} scope_names[] = {
    { "ingest", WHARF_SCOPE_INGEST },   { "read", WHARF_SCOPE_READ },
    { "control", WHARF_SCOPE_CONTROL }, { "terminal", WHARF_SCOPE_TERMINAL },
    { "admin", WHARF_SCOPE_ADMIN },
};

#define SCOPE_COUNT (sizeof(scope_names) / sizeof(scope_names[0]))

int
wharf_scopes_parse(const char *s, unsigned *scopes, const char **why)
{
    unsigned bits = 0;

    while (*s) {
        size_t len, i;

        while (*s == ' ') {
            s++;
        }
        len = strcspn(s, " ");
        if (len == 0) {
            break;
        }
        for (i = 0; i < SCOPE_COUNT; i++) {
            if (strlen(scope_names[i].name) == len
                && memcmp(scope_names[i].name, s, len) == 0) {
                bits |= scope_names[i].bit;
                break;
            }
        }
        if (i == SCOPE_COUNT) {
            *why = "unknown scope (known: ingest read control terminal admin)";
            return -1;
        }
        s += len;
    }

    *scopes = bits;
    return 0;
}

void
wharf_scopes_format(unsigned scopes, char *buf, size_t size)
{
    size_t n = 0;

    if (size == 0) {
        return;
    }
    buf[0] = '\0';
    for (size_t i = 0; i < SCOPE_COUNT; i++) {
        if (scopes & scope_names[i].bit) {
            int w = snprintf(buf + n, size - n, "%s%s", n ? " " : "",
                             scope_names[i].name);
            if (w < 0 || (size_t) w >= size - n) {
                return;
            }
            n += (size_t) w;
        }
    }
}

/* A claim that names a worker: a valid name, or "*" where allowed. */
static int
copy_name_claim(char *dst, const char *v, int star_ok)
{
    size_t len = strlen(v);

    if ((star_ok && strcmp(v, "*") == 0) || wharf_name_valid(v, len)) {
        memcpy(dst, v, len + 1);
        return 0;
    }
    return -1;
}

int
wharf_token_verify(const char *token, const unsigned char *pub_pem,
                   size_t pub_len, time_t now, struct wharf_claims *out,
                   const char **why)
{
    jwt_t *jwt = NULL;
    const char *v;
    long exp;
    int rc = -1;

    memset(out, 0, sizeof(*out));

    if (token == NULL || *token == '\0') {
        *why = "no token";
        return -1;
    }
    if (strlen(token) > WHARF_TOKEN_MAX) {
        *why = "token too long";
        return -1;
    }
    if (jwt_decode(&jwt, token, pub_pem, (int) pub_len) != 0 || jwt == NULL) {
        *why = "malformed token or bad signature";
        return -1;
    }
    if (jwt_get_alg(jwt) != JWT_ALG_ES256) {
        *why = "algorithm not allowed (only ES256)";
        goto done;
    }

    errno = 0;
    exp = jwt_get_grant_int(jwt, "exp");
    if (errno != 0 || exp <= 0) {
        *why = "token has no exp claim";
        goto done;
    }
    if ((time_t) exp <= now) {
        *why = "token expired";
        goto done;
    }
    out->exp = (time_t) exp;
    errno = 0;
    out->iat = (time_t) jwt_get_grant_int(jwt, "iat");
    if (errno != 0) {
        out->iat = 0;
    }

    v = jwt_get_grant(jwt, "sub");
    if (v == NULL || copy_name_claim(out->sub, v, 1) != 0) {
        *why = "sub claim missing or not a worker name or \"*\"";
        goto done;
    }

    v = jwt_get_grant(jwt, "aud");
    if (v != NULL && copy_name_claim(out->aud, v, 0) != 0) {
        *why = "aud claim is not a worker name";
        goto done;
    }

    v = jwt_get_grant(jwt, "scope");
    if (v == NULL) {
        *why = "token has no scope claim";
        goto done;
    }
    if (wharf_scopes_parse(v, &out->scopes, why) != 0) {
        goto done;
    }

    rc = 0;

done:
    jwt_free(jwt);
    return rc;
}

char *
wharf_token_sign(const struct wharf_claims *c, const unsigned char *priv_pem,
                 size_t priv_len, const char **why)
{
    jwt_t *jwt = NULL;
    char scope[128];
    char *out = NULL;

    if (jwt_new(&jwt) != 0) {
        *why = "out of memory";
        return NULL;
    }

    wharf_scopes_format(c->scopes, scope, sizeof(scope));

    if (jwt_add_grant(jwt, "sub", c->sub) != 0
        || jwt_add_grant(jwt, "scope", scope) != 0
        || jwt_add_grant_int(jwt, "exp", (long) c->exp) != 0
        || (c->iat && jwt_add_grant_int(jwt, "iat", (long) c->iat) != 0)
        || (c->aud[0] && jwt_add_grant(jwt, "aud", c->aud) != 0)) {
        *why = "cannot add claims";
        goto done;
    }
    if (jwt_set_alg(jwt, JWT_ALG_ES256, priv_pem, (int) priv_len) != 0) {
        *why = "not an ES256 (EC P-256) private key";
        goto done;
    }
    out = jwt_encode_str(jwt);
    if (out == NULL) {
        *why = "signing failed (is the key an EC P-256 private key?)";
    }

done:
    jwt_free(jwt);
    return out;
}

int
wharf_claims_allow(const struct wharf_claims *c, const char *worker,
                   unsigned scope)
{
    if ((c->scopes & scope) != scope) {
        return 0;
    }
    if (strcmp(c->sub, "*") == 0) {
        return 1;
    }
    return worker != NULL && strcmp(c->sub, worker) == 0;
}
