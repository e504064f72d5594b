/* libFuzzer target: the claim checks of token verification (common/token.c)
 * behind a VALID signature. fuzz_common_token can only reach the
 * rejection of bad signatures, since nothing random verifies; here the
 * input is the token's payload, signed with the target's own ES256 key, so
 * every byte string reaches the JSON parse of the claims and wharf's rules
 * (exp, nbf, iat, sub, aud, scope), for a verifier without an audience
 * (the gateway, wharfd) and one with (an agent, "demo").
 *
 * Oracle: whatever verifies must satisfy the rules (sub "*" or a worker
 * name, no aud without an audience and "demo" with one, exp + leeway
 * after now, nbf and iat not after now + leeway, only known scopes), and
 * the claims must survive a round trip through wharf_token_sign. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "b64url.h"
#include "name.h"
#include "token.h"

#define NOW ((time_t) 1800000000) /* fixed: runs must be reproducible */
#define KNOWN_SCOPES                                             \
    (WHARF_SCOPE_INGEST | WHARF_SCOPE_READ | WHARF_SCOPE_CONTROL \
     | WHARF_SCOPE_TERMINAL | WHARF_SCOPE_ADMIN)

static EVP_PKEY *key;
static char *priv_pem;
static size_t priv_len;
static struct wharf_keys keys;

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

    at = wharf_b64url_encode((const unsigned char *) header, sizeof(header) - 1,
                             tok);
    tok[at++] = '.';
    at += wharf_b64url_encode(payload, n, tok + at);
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
    wharf_b64url_encode(raw, sizeof(raw), tok + at);
    return tok;
}

/* The rules an accepted token obeys, for the verifier's audience. */
static void
check_accepted(const struct wharf_claims *c, const char *audience)
{
    struct wharf_claims again;
    const char *why = NULL;
    char *resigned;

    if (NOW >= c->exp + WHARF_TOKEN_LEEWAY || c->nbf > NOW + WHARF_TOKEN_LEEWAY
        || c->iat > NOW + WHARF_TOKEN_LEEWAY
        || (strcmp(c->sub, "*") != 0
            && !wharf_name_valid(c->sub, strlen(c->sub)))
        || strcmp(c->aud, audience ? audience : "") != 0
        || (c->scopes & ~(unsigned) KNOWN_SCOPES) != 0) {
        abort();
    }
    /* and mean the same once signed again by wharf itself */
    resigned = wharf_token_sign(c, (unsigned char *) priv_pem, priv_len, &why);
    if (resigned == NULL
        || wharf_token_verify(resigned, strlen(resigned), &keys, audience, NOW,
                              &again, &why)
            != 0
        || strcmp(again.sub, c->sub) != 0 || strcmp(again.aud, c->aud) != 0
        || again.scopes != c->scopes || again.exp != c->exp
        || again.nbf != c->nbf || again.iat != c->iat) {
        abort();
    }
    free(resigned);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const audiences[] = { NULL, "demo" };
    struct wharf_claims c;
    const char *why = NULL;
    char *token, *pub_pem;
    size_t pub_len, i;
    int rc;

    if (key == NULL) {
        key = EVP_EC_gen("P-256");
        pub_pem = pem_of(key, 0, &pub_len);
        priv_pem = pem_of(key, 1, &priv_len);
        if (wharf_keys_add_pem(&keys, (unsigned char *) pub_pem, pub_len, &why)
            != 1) {
            abort();
        }
        free(pub_pem);
        /* the harness itself: a well-formed payload must verify, or every
         * input would be refused at the signature and nothing tested */
        {
            static const char good[] = "{\"sub\":\"*\",\"scope\":\"read\","
                                       "\"exp\":1900000000}";
            char *t = sign_payload((const uint8_t *) good, sizeof(good) - 1);

            if (wharf_token_verify(t, strlen(t), &keys, NULL, NOW, &c, &why)
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
    for (i = 0; i < 2; i++) {
        why = NULL;
        rc = wharf_token_verify(token, strlen(token), &keys, audiences[i], NOW,
                                &c, &why);
        if (rc == 0) {
            check_accepted(&c, audiences[i]);
        } else if (why == NULL) {
            abort(); /* every refusal names its reason */
        }
    }
    free(token);
    return 0;
}
