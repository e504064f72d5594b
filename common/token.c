#include "token.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jws.h"

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

/* Largest NumericDate accepted: ~31 million years, far beyond any real
 * date, and far below where a double stops holding whole seconds. */
#define TOKEN_DATE_MAX 1e15

/* A NumericDate claim (RFC 7519 section 2): absent (0, *t = 0), a number
 * of seconds (1, *t set), or malformed (-1). */
static int
claim_date(json_t *claims, const char *name, time_t *t)
{
    json_t *v = json_object_get(claims, name);
    double d;

    *t = 0;
    if (v == NULL) {
        return 0;
    }
    if (json_is_integer(v)) {
        d = (double) json_integer_value(v);
    } else if (json_is_real(v)) {
        d = floor(json_real_value(v));
    } else {
        return -1;
    }
    if (!(d >= 0 && d <= TOKEN_DATE_MAX)) {
        return -1;
    }
    *t = (time_t) d;
    return 1;
}

/* A claim that names a worker: a valid name, or "*" where allowed. */
static int
copy_name_claim(char *dst, json_t *v, int star_ok)
{
    const char *s;
    size_t len;

    if (!json_is_string(v)) {
        return -1;
    }
    s = json_string_value(v);
    len = json_string_length(v);
    if ((star_ok && strcmp(s, "*") == 0) || wharf_name_valid(s, len)) {
        memcpy(dst, s, len + 1);
        return 0;
    }
    return -1;
}

/*
 * aud: absent, a worker name, or a non-empty array of them. With an
 * audience, it must be named (copied to out->aud); without one, any aud
 * refuses the token. Returns 0, -1 (malformed) or
 * WHARF_TOKEN_OTHER_AUDIENCE.
 */
static int
claim_aud(json_t *claims, const char *audience, struct wharf_claims *out,
          const char **why)
{
    json_t *v = json_object_get(claims, "aud"), *e;
    char name[WHARF_NAME_MAX + 1];
    int found = 0;
    size_t i;

    if (v == NULL) {
        if (audience != NULL) {
            *why = "the token has no aud claim: it is not made for an agent";
            return WHARF_TOKEN_OTHER_AUDIENCE;
        }
        return 0;
    }
    if (json_is_array(v)) {
        if (json_array_size(v) == 0 || json_array_size(v) > WHARF_AUD_MAX) {
            *why = "aud claim is an empty or too long array";
            return -1;
        }
        json_array_foreach (v, i, e) {
            if (copy_name_claim(name, e, 0) != 0) {
                *why = "aud claim holds something that is not a worker name";
                return -1;
            }
            found |= audience != NULL && strcmp(name, audience) == 0;
        }
    } else if (copy_name_claim(name, v, 0) != 0) {
        *why = "aud claim is not a worker name or an array of them";
        return -1;
    } else {
        found = audience != NULL && strcmp(name, audience) == 0;
    }
    if (audience == NULL) {
        *why = "the token has an aud claim: it was made for one worker's "
               "agent and opens nothing else";
        return WHARF_TOKEN_OTHER_AUDIENCE;
    }
    if (!found) {
        *why = "the token's aud does not name this worker";
        return WHARF_TOKEN_OTHER_AUDIENCE;
    }
    snprintf(out->aud, sizeof(out->aud), "%s", audience);
    return 0;
}

/* The claim rules of token.h on a verified payload. */
static int
token_claims(json_t *claims, const char *audience, time_t now,
             struct wharf_claims *out, const char **why)
{
    json_t *v;
    int rc;

    if (claim_date(claims, "exp", &out->exp) != 1 || out->exp <= 0) {
        *why = "token has no exp claim (or it is not a date)";
        return -1;
    }
    if (now >= out->exp + WHARF_TOKEN_LEEWAY) {
        *why = "token expired";
        return -1;
    }
    if (claim_date(claims, "nbf", &out->nbf) < 0) {
        *why = "nbf claim is not a date";
        return -1;
    }
    if (out->nbf > now + WHARF_TOKEN_LEEWAY) {
        *why = "token not valid yet (nbf is in the future)";
        return -1;
    }
    if (claim_date(claims, "iat", &out->iat) < 0) {
        *why = "iat claim is not a date";
        return -1;
    }
    if (out->iat > now + WHARF_TOKEN_LEEWAY) {
        *why = "token issued in the future (iat)";
        return -1;
    }
    if (copy_name_claim(out->sub, json_object_get(claims, "sub"), 1) != 0) {
        *why = "sub claim missing or not a worker name or \"*\"";
        return -1;
    }
    v = json_object_get(claims, "scope");
    if (!json_is_string(v)) {
        *why = "token has no scope claim";
        return -1;
    }
    if (wharf_scopes_parse(json_string_value(v), &out->scopes, why) != 0) {
        return -1;
    }
    /* last: a token well formed but for someone else is told apart */
    rc = claim_aud(claims, audience, out, why);
    return rc;
}

int
wharf_token_verify(const char *token, size_t len, const struct wharf_keys *keys,
                   const char *audience, time_t now, struct wharf_claims *out,
                   const char **why)
{
    json_t *claims;
    int rc;

    memset(out, 0, sizeof(*out));
    if (token == NULL) {
        *why = "no token";
        return -1;
    }
    if (wharf_jws_verify(token, len, keys, &claims, why) != 0) {
        return -1;
    }
    rc = token_claims(claims, audience, now, out, why);
    json_decref(claims);
    if (rc != 0) {
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

int
wharf_claims_current(const struct wharf_claims *c, time_t now)
{
    return now < c->exp + WHARF_TOKEN_LEEWAY;
}

char *
wharf_token_sign(const struct wharf_claims *c, const unsigned char *priv_pem,
                 size_t priv_len, const char **why)
{
    char scope[128], kid[WHARF_KID_LEN + 1];
    json_t *claims;
    void *pkey;
    char *out = NULL;

    pkey = wharf_pkey_parse(priv_pem, priv_len, 1, why);
    if (pkey == NULL) {
        return NULL;
    }
    if (wharf_pkey_kid(pkey, kid) != 0) {
        *why = "cannot read the key's point";
        goto done;
    }
    wharf_scopes_format(c->scopes, scope, sizeof(scope));
    claims = json_pack("{s:s,s:s,s:I}", "sub", c->sub, "scope", scope, "exp",
                       (json_int_t) c->exp);
    if (claims == NULL
        || (c->iat
            && json_object_set_new(claims, "iat", json_integer(c->iat)) != 0)
        || (c->nbf
            && json_object_set_new(claims, "nbf", json_integer(c->nbf)) != 0)
        || (c->aud[0]
            && json_object_set_new(claims, "aud", json_string(c->aud)) != 0)) {
        json_decref(claims);
        *why = "cannot add claims";
        goto done;
    }
    out = wharf_jws_sign(claims, pkey, kid, why);
    json_decref(claims);
done:
    wharf_pkey_free(pkey);
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
