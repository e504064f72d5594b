/* libFuzzer target: the claim checks of token verification (common/token.c)
 * behind a VALID signature. fuzz_common_token can only reach libjwt's
 * rejection of bad signatures, since nothing random verifies; here the
 * input is the token's payload, signed with the target's own ES256 key, so
 * every byte string reaches the JSON parse of the claims and wharf's rules
 * (exp, sub, aud, scope).
 *
 * Oracle: whatever verifies must satisfy the rules (sub "*" or a worker
 * name, aud empty or a worker name, exp after now, only known scopes), and
 * the claims must survive a round trip through wharf_token_sign. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "name.h"
#include "token.h"

#define NOW ((time_t) 1800000000) /* fixed: runs must be reproducible */
#define KNOWN_SCOPES                                             \
    (WHARF_SCOPE_INGEST | WHARF_SCOPE_READ | WHARF_SCOPE_CONTROL \
     | WHARF_SCOPE_TERMINAL | WHARF_SCOPE_ADMIN)

static EVP_PKEY *key;
static char *pub_pem, *priv_pem;
static size_t pub_len, priv_len;

static char *
pem_of(EVP_PKEY *k, int private, size_t *len)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *out;
    long n;

    if (private) {
        PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL);
    } else {
        PEM_write_bio_PUBKEY(bio, k);
    }
    n = BIO_get_mem_data(bio, &data);
    out = malloc((size_t) n);
    memcpy(out, data, (size_t) n);
    *len = (size_t) n;
    BIO_free(bio);
    return out;
}

static size_t
b64url(const unsigned char *in, size_t n, char *out)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t i, o = 0;

    for (i = 0; i + 2 < n; i += 3) {
        unsigned v =
            (unsigned) in[i] << 16 | (unsigned) in[i + 1] << 8 | in[i + 2];

        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
        out[o++] = tab[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned) in[i] << 16;

        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
    } else if (n - i == 2) {
        unsigned v = (unsigned) in[i] << 16 | (unsigned) in[i + 1] << 8;

        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
    }
    out[o] = '\0';
    return o;
}

/* "HEADER.PAYLOAD.SIG" with an ES256 signature (raw r||s) over the first
 * two parts. Returns a malloc'd token. */
static char *
sign_payload(const uint8_t *payload, size_t n)
{
    static const char header[] = "{\"alg\":\"ES256\",\"typ\":\"JWT\"}";
    size_t cap = 4 * (sizeof(header) + n) / 3 + 200, at, siglen = 0;
    char *tok = malloc(cap);
    unsigned char der[128], raw[64];
    const unsigned char *p = der;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    ECDSA_SIG *sig;
    const BIGNUM *r, *s;

    at = b64url((const unsigned char *) header, sizeof(header) - 1, tok);
    tok[at++] = '.';
    at += b64url(payload, n, tok + at);
    siglen = sizeof(der);
    if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1
        || EVP_DigestSign(md, der, &siglen, (unsigned char *) tok, at) != 1) {
        abort();
    }
    EVP_MD_CTX_free(md);
    sig = d2i_ECDSA_SIG(NULL, &p, (long) siglen);
    ECDSA_SIG_get0(sig, &r, &s);
    BN_bn2binpad(r, raw, 32);
    BN_bn2binpad(s, raw + 32, 32);
    ECDSA_SIG_free(sig);
    tok[at++] = '.';
    b64url(raw, sizeof(raw), tok + at);
    return tok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wharf_claims c, again;
    const char *why = NULL;
    char *token, *resigned;

    if (key == NULL) {
        key = EVP_EC_gen("P-256");
        pub_pem = pem_of(key, 0, &pub_len);
        priv_pem = pem_of(key, 1, &priv_len);
        /* the harness itself: a well-formed payload must verify, or every
         * input would be refused at the signature and nothing tested */
        {
            static const char good[] = "{\"sub\":\"*\",\"scope\":\"read\","
                                       "\"exp\":1900000000}";
            char *t = sign_payload((const uint8_t *) good, sizeof(good) - 1);

            if (wharf_token_verify(t, (unsigned char *) pub_pem, pub_len, NOW,
                                   &c, &why)
                    != 0
                || c.scopes != WHARF_SCOPE_READ) {
                abort();
            }
            free(t);
        }
    }
    if (size > WHARF_TOKEN_MAX / 2) {
        return 0;
    }
    token = sign_payload(data, size);
    if (wharf_token_verify(token, (unsigned char *) pub_pem, pub_len, NOW, &c,
                           &why)
        == 0) {
        /* accepted: it must obey every rule */
        if (c.exp <= NOW
            || (strcmp(c.sub, "*") != 0
                && !wharf_name_valid(c.sub, strlen(c.sub)))
            || (c.aud[0] != '\0' && !wharf_name_valid(c.aud, strlen(c.aud)))
            || (c.scopes & ~(unsigned) KNOWN_SCOPES) != 0) {
            abort();
        }
        /* and mean the same once signed again by wharf itself */
        resigned =
            wharf_token_sign(&c, (unsigned char *) priv_pem, priv_len, &why);
        if (resigned == NULL
            || wharf_token_verify(resigned, (unsigned char *) pub_pem, pub_len,
                                  NOW, &again, &why)
                != 0
            || strcmp(again.sub, c.sub) != 0 || strcmp(again.aud, c.aud) != 0
            || again.scopes != c.scopes || again.exp != c.exp) {
            abort();
        }
        free(resigned);
    } else if (why == NULL) {
        abort(); /* every refusal names its reason */
    }
    free(token);
    return 0;
}
