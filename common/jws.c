/* ES256 JWS: see jws.h, and token.h for the rules. */
#include "jws.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include "b64url.h"
#include "token.h"

/* Bytes of an ES256 signature: r and s, 32 bytes each (RFC 7518 3.4). */
#define JWS_ES256_SIG_LEN 64

/* The parts of a compact JWS: [0] header, [1] payload, [2] signature. */
struct jws_parts {
    const char *p[3];
    size_t n[3];
};

static int
jws_split(const char *t, size_t len, struct jws_parts *parts)
{
    size_t i, start = 0;
    int k = 0;

    for (i = 0; i <= len; i++) {
        if (i == len || t[i] == '.') {
            /* a fourth part, or an empty header or payload; an empty
             * signature ("alg":"none") is read, for its header to say
             * what is wrong */
            if (k == 3 || (i == start && k < 2)) {
                return -1;
            }
            parts->p[k] = t + start;
            parts->n[k] = i - start;
            k++;
            start = i + 1;
        } else if (!wharf_b64url_char((unsigned char) t[i])) {
            return -1;
        }
    }
    return k == 3 ? 0 : -1;
}

/* A base64url part decoded and parsed as a JSON object; NULL if not. */
static json_t *
jws_json_part(const char *p, size_t n)
{
    unsigned char buf[WHARF_TOKEN_MAX];
    long len;
    json_t *v;

    if (n > sizeof(buf)) {
        return NULL;
    }
    len = wharf_b64url_decode(p, n, buf);
    if (len <= 0) {
        return NULL;
    }
    /* no JSON_ALLOW_NUL: a NUL in a claim would cut it short in C */
    v = json_loadb((const char *) buf, (size_t) len, JSON_REJECT_DUPLICATES,
                   NULL);
    if (v != NULL && !json_is_object(v)) {
        json_decref(v);
        v = NULL;
    }
    return v;
}

/* "JWT", in any case, with or without "application/" (RFC 7515 4.1.9). */
static int
jws_typ_ok(const char *typ)
{
    if (strncasecmp(typ, "application/", 12) == 0) {
        typ += 12;
    }
    return strcasecmp(typ, "JWT") == 0;
}

static int
jws_header_check(json_t *h, const char **kid, size_t *kid_len, const char **why)
{
    json_t *alg = json_object_get(h, "alg"), *typ = json_object_get(h, "typ"),
           *k = json_object_get(h, "kid");

    if (!json_is_string(alg) || strcmp(json_string_value(alg), "ES256") != 0) {
        *why = "algorithm not allowed (only ES256)";
        return -1;
    }
    if (typ != NULL
        && (!json_is_string(typ) || !jws_typ_ok(json_string_value(typ)))) {
        *why = "token type (typ) is not JWT";
        return -1;
    }
    if (json_object_get(h, "crit") != NULL) {
        *why = "the token names a critical header extension (crit), and "
               "wharf understands none";
        return -1;
    }
    *kid = NULL;
    *kid_len = 0;
    if (k != NULL) {
        if (!json_is_string(k)) {
            *why = "kid is not a string";
            return -1;
        }
        *kid = json_string_value(k);
        *kid_len = json_string_length(k);
    }
    return 0;
}

/* The raw r||s signature as the DER ECDSA-Sig-Value OpenSSL verifies. */
static int
jws_sig_der(const unsigned char *raw, unsigned char *der, size_t *der_len)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, 32, NULL), *s = BN_bin2bn(raw + 32, 32, NULL);
    unsigned char *p = der;
    int n = -1;

    if (sig != NULL && r != NULL && s != NULL && ECDSA_SIG_set0(sig, r, s)) {
        r = s = NULL; /* owned by sig now */
        if (i2d_ECDSA_SIG(sig, NULL) <= (int) *der_len) {
            n = i2d_ECDSA_SIG(sig, &p);
        }
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    if (n <= 0) {
        return -1;
    }
    *der_len = (size_t) n;
    return 0;
}

static int
jws_verify_with(void *pkey, const unsigned char *der, size_t der_len,
                const char *input, size_t input_len)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok;

    ok = md != NULL
        && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1
        && EVP_DigestVerify(md, der, der_len, (const unsigned char *) input,
                            input_len)
            == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

int
wharf_jws_verify(const char *token, size_t len, const struct wharf_keys *keys,
                 json_t **payload, const char **why)
{
    unsigned char raw[JWS_ES256_SIG_LEN + 3], der[80];
    size_t der_len = sizeof(der), kid_len, i, input_len;
    const struct wharf_key *key;
    struct jws_parts parts;
    const char *kid;
    json_t *header;
    int ok = 0;

    *payload = NULL;
    if (len == 0) {
        *why = "no token";
        return -1;
    }
    if (len > WHARF_TOKEN_MAX) {
        *why = "token too long";
        return -1;
    }
    if (jws_split(token, len, &parts) != 0) {
        *why = "malformed token (not three base64url parts)";
        return -1;
    }
    header = jws_json_part(parts.p[0], parts.n[0]);
    if (header == NULL) {
        *why = "malformed token header (not a JSON object)";
        return -1;
    }
    if (jws_header_check(header, &kid, &kid_len, why) != 0) {
        json_decref(header);
        return -1;
    }
    key = NULL;
    if (kid != NULL) {
        key = wharf_keys_find(keys, kid, kid_len);
        if (key == NULL) {
            json_decref(header);
            *why = "unknown kid: no configured key has this id (a retired "
                   "key?)";
            return -1;
        }
    }
    json_decref(header); /* kid pointed into it: not used below */

    if (parts.n[2] != WHARF_B64URL_LEN(JWS_ES256_SIG_LEN)
        || wharf_b64url_decode(parts.p[2], parts.n[2], raw) != JWS_ES256_SIG_LEN
        || jws_sig_der(raw, der, &der_len) != 0) {
        *why = "malformed signature (ES256 is 64 bytes)";
        return -1;
    }
    if (keys->n == 0) {
        *why = "no public key configured";
        return -1;
    }
    input_len = parts.n[0] + 1 + parts.n[1];
    if (key != NULL) {
        ok = jws_verify_with(key->pkey, der, der_len, token, input_len);
    } else {
        for (i = 0; i < keys->n && !ok; i++) {
            ok = jws_verify_with(keys->key[i].pkey, der, der_len, token,
                                 input_len);
        }
    }
    if (!ok) {
        *why = "bad signature";
        return -1;
    }
    *payload = jws_json_part(parts.p[1], parts.n[1]);
    if (*payload == NULL) {
        *why = "malformed claims (not a JSON object without duplicates)";
        return -1;
    }
    return 0;
}

/* base64url of a JSON object's compact text, appended at out. */
static size_t
jws_put_json(json_t *obj, char *out, size_t room, int *fail)
{
    char *text = json_dumps(obj, JSON_COMPACT);
    size_t n = text ? strlen(text) : 0, w = 0;

    if (text == NULL || WHARF_B64URL_LEN(n) + 1 > room) {
        *fail = 1;
    } else {
        w = wharf_b64url_encode((const unsigned char *) text, n, out);
    }
    free(text);
    return w;
}

char *
wharf_jws_sign(json_t *payload, void *pkey, const char *kid, const char **why)
{
    unsigned char der[80], raw[JWS_ES256_SIG_LEN];
    const unsigned char *p = der;
    size_t at = 0, der_len = sizeof(der);
    const BIGNUM *r, *s;
    EVP_MD_CTX *md;
    ECDSA_SIG *sig;
    json_t *header;
    char *out;
    int fail = 0;

    out = malloc(WHARF_TOKEN_MAX + 1);
    header =
        json_pack("{s:s,s:s,s:s}", "alg", "ES256", "typ", "JWT", "kid", kid);
    if (out == NULL || header == NULL) {
        json_decref(header);
        free(out);
        *why = "out of memory";
        return NULL;
    }
    at = jws_put_json(header, out, WHARF_TOKEN_MAX, &fail);
    json_decref(header);
    out[at++] = '.';
    at += jws_put_json(payload, out + at, WHARF_TOKEN_MAX - at, &fail);
    if (fail
        || at + 1 + WHARF_B64URL_LEN(JWS_ES256_SIG_LEN) > WHARF_TOKEN_MAX) {
        free(out);
        *why = "claims too large for a token";
        return NULL;
    }

    md = EVP_MD_CTX_new();
    if (md == NULL
        || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey) != 1
        || EVP_DigestSign(md, der, &der_len, (unsigned char *) out, at) != 1) {
        EVP_MD_CTX_free(md);
        free(out);
        *why = "signing failed (is the key an EC P-256 private key?)";
        return NULL;
    }
    EVP_MD_CTX_free(md);
    sig = d2i_ECDSA_SIG(NULL, &p, (long) der_len);
    if (sig == NULL) {
        free(out);
        *why = "signing failed";
        return NULL;
    }
    ECDSA_SIG_get0(sig, &r, &s);
    if (BN_bn2binpad(r, raw, 32) != 32 || BN_bn2binpad(s, raw + 32, 32) != 32) {
        ECDSA_SIG_free(sig);
        free(out);
        *why = "signing failed";
        return NULL;
    }
    ECDSA_SIG_free(sig);
    out[at++] = '.';
    wharf_b64url_encode(raw, sizeof(raw), out + at);
    return out;
}
