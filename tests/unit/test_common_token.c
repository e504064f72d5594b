/* Unit tests for access tokens (common/token.c, jws.c, keys.c): ES256
 * only, every claim checked at its edge, keys chosen by kid. Keys are made
 * in-process with OpenSSL, and tokens with any header or payload are
 * signed here (forge), so the test needs no files and no JWT library. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "b64url.h"
#include "keys.h"
#include "token.h"

#define NOW ((time_t) 1800000000)
#define L   WHARF_TOKEN_LEEWAY

struct fixture {
    EVP_PKEY *a, *b; /* two key pairs */
    char *priv_a, *pub_a, *pub_b;
    size_t priv_a_len, pub_a_len, pub_b_len;
    char kid_a[WHARF_KID_LEN + 1], kid_b[WHARF_KID_LEN + 1];
    struct wharf_keys only_a, only_b, both;
};

static char *
pem_of(EVP_PKEY *k, int private_key, size_t *len)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *copy;
    long n;

    if (private_key) {
        PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL);
    } else {
        PEM_write_bio_PUBKEY(bio, k);
    }
    n = BIO_get_mem_data(bio, &data);
    copy = malloc((size_t) n + 1);
    memcpy(copy, data, (size_t) n);
    copy[n] = '\0';
    *len = (size_t) n;
    BIO_free(bio);
    return copy;
}

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    const char *why;

    f->a = EVP_EC_gen("P-256");
    f->b = EVP_EC_gen("P-256");
    f->priv_a = pem_of(f->a, 1, &f->priv_a_len);
    f->pub_a = pem_of(f->a, 0, &f->pub_a_len);
    f->pub_b = pem_of(f->b, 0, &f->pub_b_len);
    assert_int_equal(wharf_pkey_kid(f->a, f->kid_a), 0);
    assert_int_equal(wharf_pkey_kid(f->b, f->kid_b), 0);
    assert_int_equal(wharf_keys_add_pem(&f->only_a, (unsigned char *) f->pub_a,
                                        f->pub_a_len, &why),
                     1);
    assert_int_equal(wharf_keys_add_pem(&f->only_b, (unsigned char *) f->pub_b,
                                        f->pub_b_len, &why),
                     1);
    assert_int_equal(wharf_keys_add_pem(&f->both, (unsigned char *) f->pub_a,
                                        f->pub_a_len, &why),
                     1);
    assert_int_equal(wharf_keys_add_pem(&f->both, (unsigned char *) f->pub_b,
                                        f->pub_b_len, &why),
                     1);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    wharf_keys_free(&f->only_a);
    wharf_keys_free(&f->only_b);
    wharf_keys_free(&f->both);
    EVP_PKEY_free(f->a);
    EVP_PKEY_free(f->b);
    free(f->priv_a);
    free(f->pub_a);
    free(f->pub_b);
    free(f);
    return 0;
}

/* "b64(header).b64(payload).b64(ES256 signature by k)": any header and
 * payload text, as an attacker (or another issuer) could make them. */
static char *
forge(const char *header, const char *payload, EVP_PKEY *k)
{
    size_t cap = WHARF_B64URL_LEN(strlen(header))
        + WHARF_B64URL_LEN(strlen(payload)) + 100;
    char *t = malloc(cap);
    unsigned char der[80], raw[64];
    const unsigned char *p = der;
    size_t at, der_len = sizeof(der);
    const BIGNUM *r, *s;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    ECDSA_SIG *sig;

    at = wharf_b64url_encode((const unsigned char *) header, strlen(header), t);
    t[at++] = '.';
    at += wharf_b64url_encode((const unsigned char *) payload, strlen(payload),
                              t + at);
    assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k), 1);
    assert_int_equal(EVP_DigestSign(md, der, &der_len, (unsigned char *) t, at),
                     1);
    EVP_MD_CTX_free(md);
    sig = d2i_ECDSA_SIG(NULL, &p, (long) der_len);
    ECDSA_SIG_get0(sig, &r, &s);
    BN_bn2binpad(r, raw, 32);
    BN_bn2binpad(s, raw + 32, 32);
    ECDSA_SIG_free(sig);
    t[at++] = '.';
    wharf_b64url_encode(raw, sizeof(raw), t + at);
    return t;
}

/* Verifies a forged token; returns the verifier's answer, *why set. */
static int
check(const char *header, const char *payload, EVP_PKEY *k,
      const struct wharf_keys *keys, const char *audience, time_t now,
      const char **why)
{
    struct wharf_claims c;
    char *t = forge(header, payload, k);
    int rc;

    *why = NULL;
    rc = wharf_token_verify(t, strlen(t), keys, audience, now, &c, why);
    free(t);
    if (rc != 0) {
        assert_non_null(*why); /* every refusal says why */
    }
    return rc;
}

#define H_ES256 "{\"alg\":\"ES256\",\"typ\":\"JWT\"}"
#define GOOD    "{\"sub\":\"*\",\"scope\":\"read\",\"exp\":1800000100"

static void
test_round_trip_with_kid(void **state)
{
    struct fixture *f = *state;
    struct wharf_claims c = { .scopes = WHARF_SCOPE_TERMINAL | WHARF_SCOPE_READ,
                              .exp = NOW + 100,
                              .iat = NOW };
    const char *why = NULL;
    unsigned char header[256];
    char *t;
    long n;

    strcpy(c.sub, "demo");
    strcpy(c.aud, "demo");
    t = wharf_token_sign(&c, (unsigned char *) f->priv_a, f->priv_a_len, &why);
    assert_non_null(t);
    /* the header names the signing key */
    n = wharf_b64url_decode(t, (size_t) (strchr(t, '.') - t), header);
    assert_true(n > 0);
    header[n] = '\0';
    assert_non_null(strstr((char *) header, f->kid_a));
    assert_non_null(strstr((char *) header, "\"alg\":\"ES256\""));

    memset(&c, 0, sizeof(c));
    assert_int_equal(
        wharf_token_verify(t, strlen(t), &f->both, "demo", NOW, &c, &why), 0);
    assert_string_equal(c.sub, "demo");
    assert_string_equal(c.aud, "demo");
    assert_int_equal(c.scopes, WHARF_SCOPE_TERMINAL | WHARF_SCOPE_READ);
    assert_int_equal(c.exp, NOW + 100);
    assert_int_equal(c.iat, NOW);
    assert_true(wharf_claims_allow(&c, "demo", WHARF_SCOPE_TERMINAL));
    assert_false(wharf_claims_allow(&c, "other", WHARF_SCOPE_TERMINAL));
    assert_false(wharf_claims_allow(&c, "demo", WHARF_SCOPE_ADMIN));
    assert_false(wharf_claims_allow(&c, NULL, WHARF_SCOPE_READ));
    /* the kid names key a: a set without it does not try another key */
    assert_int_equal(
        wharf_token_verify(t, strlen(t), &f->only_b, "demo", NOW, &c, &why),
        -1);
    assert_non_null(strstr(why, "unknown kid"));
    free(t);
}

/* The kid derivation is RFC 7638's: checked against the RFC's own
 * example key (appendix A.1 of RFC 7638 is RSA, so the EC example of RFC
 * 7517 appendix A.1 with its published thumbprint). */
static void
test_kid_is_the_jwk_thumbprint(void **state)
{
    static const char pem[] =
        "-----BEGIN PUBLIC KEY-----\n"
        "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEMKBCTNIcKUSDii11ySs3526iDZ8A\n"
        "iTo7Tu6KPAqv7D7gS2XpJFbZiItSs3m9+9Ue6GnvHw/GW2ZZaVtszggXIw==\n"
        "-----END PUBLIC KEY-----\n";
    char kid[WHARF_KID_LEN + 1];
    const char *why;

    (void) state;
    /* x = MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4, y =
     * 4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM (RFC 7517 A.1): its
     * thumbprint, computed independently (node's crypto, sha256 of the
     * canonical JWK) */
    assert_int_equal(wharf_key_kid((const unsigned char *) pem, sizeof(pem) - 1,
                                   0, kid, &why),
                     0);
    assert_string_equal(kid, "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s");
}

static void
test_exp_edge_and_leeway(void **state)
{
    struct fixture *f = *state;
    const char *why;
    char p[128];

    snprintf(p, sizeof(p), "{\"sub\":\"*\",\"scope\":\"read\",\"exp\":%lld}",
             (long long) NOW);
    /* exp itself and up to the leeway: still valid */
    assert_int_equal(
        check(H_ES256, p, f->a, &f->only_a, NULL, NOW + L - 1, &why), 0);
    /* from exp + leeway on: expired */
    assert_int_equal(check(H_ES256, p, f->a, &f->only_a, NULL, NOW + L, &why),
                     -1);
    assert_string_equal(why, "token expired");
    /* no exp, a string exp, a zero or negative exp, an absurd one */
    assert_int_equal(check(H_ES256, "{\"sub\":\"*\",\"scope\":\"read\"}", f->a,
                           &f->only_a, NULL, NOW, &why),
                     -1);
    assert_non_null(strstr(why, "no exp"));
    assert_int_equal(check(H_ES256,
                           "{\"sub\":\"*\",\"scope\":\"read\",\"exp\":"
                           "\"1900000000\"}",
                           f->a, &f->only_a, NULL, NOW, &why),
                     -1);
    assert_int_equal(check(H_ES256,
                           "{\"sub\":\"*\",\"scope\":\"read\",\"exp\":-5}",
                           f->a, &f->only_a, NULL, NOW, &why),
                     -1);
    assert_int_equal(check(H_ES256,
                           "{\"sub\":\"*\",\"scope\":\"read\",\"exp\":1e300}",
                           f->a, &f->only_a, NULL, NOW, &why),
                     -1);
    /* a fractional NumericDate is a date (RFC 7519 section 2) */
    assert_int_equal(check(H_ES256,
                           "{\"sub\":\"*\",\"scope\":\"read\",\"exp\":"
                           "1800000100.5}",
                           f->a, &f->only_a, NULL, NOW, &why),
                     0);
}

static void
test_nbf_and_iat_edges(void **state)
{
    struct fixture *f = *state;
    const char *why;
    char p[160];

    /* nbf in the future, up to the leeway: valid; beyond: refused */
    snprintf(p, sizeof(p), GOOD ",\"nbf\":%lld}", (long long) (NOW + L));
    assert_int_equal(check(H_ES256, p, f->a, &f->only_a, NULL, NOW, &why), 0);
    snprintf(p, sizeof(p), GOOD ",\"nbf\":%lld}", (long long) (NOW + L + 1));
    assert_int_equal(check(H_ES256, p, f->a, &f->only_a, NULL, NOW, &why), -1);
    assert_non_null(strstr(why, "not valid yet"));
    snprintf(p, sizeof(p), GOOD ",\"nbf\":%lld}", (long long) (NOW + 3600));
    assert_int_equal(check(H_ES256, p, f->a, &f->only_a, NULL, NOW, &why), -1);
    assert_int_equal(check(H_ES256, GOOD ",\"nbf\":\"soon\"}", f->a, &f->only_a,
                           NULL, NOW, &why),
                     -1);
    /* iat: the same edge */
    snprintf(p, sizeof(p), GOOD ",\"iat\":%lld}", (long long) (NOW + L));
    assert_int_equal(check(H_ES256, p, f->a, &f->only_a, NULL, NOW, &why), 0);
    snprintf(p, sizeof(p), GOOD ",\"iat\":%lld}", (long long) (NOW + L + 1));
    assert_int_equal(check(H_ES256, p, f->a, &f->only_a, NULL, NOW, &why), -1);
    assert_non_null(strstr(why, "issued in the future"));
    assert_int_equal(
        check(H_ES256, GOOD ",\"iat\":[1]}", f->a, &f->only_a, NULL, NOW, &why),
        -1);
}

static void
test_aud_string_or_array(void **state)
{
    struct fixture *f = *state;
    const char *why;
    char p[1024];
    int i, n;

    /* the agent (audience "demo") */
    assert_int_equal(check(H_ES256, GOOD ",\"aud\":\"demo\"}", f->a, &f->only_a,
                           "demo", NOW, &why),
                     0);
    assert_int_equal(check(H_ES256, GOOD ",\"aud\":[\"x\",\"demo\"]}", f->a,
                           &f->only_a, "demo", NOW, &why),
                     0);
    assert_int_equal(check(H_ES256, GOOD ",\"aud\":[\"x\",\"y\"]}", f->a,
                           &f->only_a, "demo", NOW, &why),
                     WHARF_TOKEN_OTHER_AUDIENCE);
    assert_int_equal(check(H_ES256, GOOD ",\"aud\":\"other\"}", f->a,
                           &f->only_a, "demo", NOW, &why),
                     WHARF_TOKEN_OTHER_AUDIENCE);
    assert_int_equal(
        check(H_ES256, GOOD "}", f->a, &f->only_a, "demo", NOW, &why),
        WHARF_TOKEN_OTHER_AUDIENCE);
    assert_non_null(strstr(why, "no aud"));
    /* the gateway and wharfd (no audience): any aud, string or array */
    assert_int_equal(check(H_ES256, GOOD ",\"aud\":[\"demo\"]}", f->a,
                           &f->only_a, NULL, NOW, &why),
                     WHARF_TOKEN_OTHER_AUDIENCE);
    assert_int_equal(check(H_ES256, GOOD ",\"aud\":\"demo\"}", f->a, &f->only_a,
                           NULL, NOW, &why),
                     WHARF_TOKEN_OTHER_AUDIENCE);
    /* malformed: empty array, not names, a number, too many */
    assert_int_equal(
        check(H_ES256, GOOD ",\"aud\":[]}", f->a, &f->only_a, NULL, NOW, &why),
        -1);
    assert_int_equal(check(H_ES256, GOOD ",\"aud\":[\"demo\",\"../x\"]}", f->a,
                           &f->only_a, "demo", NOW, &why),
                     -1);
    assert_int_equal(
        check(H_ES256, GOOD ",\"aud\":7}", f->a, &f->only_a, "demo", NOW, &why),
        -1);
    n = snprintf(p, sizeof(p), GOOD ",\"aud\":[");
    for (i = 0; i <= WHARF_AUD_MAX; i++) {
        n += snprintf(p + n, sizeof(p) - (size_t) n, "%s\"w%d\"", i ? "," : "",
                      i);
    }
    snprintf(p + n, sizeof(p) - (size_t) n, "]}");
    assert_int_equal(check(H_ES256, p, f->a, &f->only_a, "w0", NOW, &why), -1);
}

static void
test_header_alg_typ_crit(void **state)
{
    struct fixture *f = *state;
    const char *why;
    const char *ok_typ[] = {
        "{\"alg\":\"ES256\"}", "{\"alg\":\"ES256\",\"typ\":\"jwt\"}",
        "{\"alg\":\"ES256\",\"typ\":\"application/JWT\"}"
    };
    const char *bad[] = {
        "{\"alg\":\"ES256\",\"typ\":\"at+jwt\"}",
        "{\"alg\":\"ES256\",\"typ\":\"application/at+jwt\"}",
        "{\"alg\":\"ES256\",\"typ\":1}",
        "{\"alg\":\"ES256\",\"crit\":[\"exp\"],\"exp\":1}",
        "{\"alg\":\"ES256\",\"crit\":[\"b64\"],\"b64\":true}",
        "{\"alg\":\"ES256\",\"crit\":[]}",
        "{\"alg\":\"ES384\"}",
        "{\"alg\":\"es256\"}",
        "{\"alg\":\"none\"}",
        "{\"typ\":\"JWT\"}",
        "{\"alg\":\"ES256\",\"alg\":\"ES256\"}", /* duplicate member */
        "{\"alg\":\"ES256\",\"kid\":7}",
        "[\"ES256\"]",
    };
    size_t i;

    for (i = 0; i < sizeof(ok_typ) / sizeof(ok_typ[0]); i++) {
        assert_int_equal(
            check(ok_typ[i], GOOD "}", f->a, &f->only_a, NULL, NOW, &why), 0);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (check(bad[i], GOOD "}", f->a, &f->only_a, NULL, NOW, &why) != -1) {
            fail_msg("accepted header %s", bad[i]);
        }
    }
    assert_int_equal(check("{\"alg\":\"ES256\",\"crit\":[\"x\"],\"x\":1}",
                           GOOD "}", f->a, &f->only_a, NULL, NOW, &why),
                     -1);
    assert_non_null(strstr(why, "crit"));
    assert_int_equal(check("{\"alg\":\"ES256\",\"typ\":\"at+jwt\"}", GOOD "}",
                           f->a, &f->only_a, NULL, NOW, &why),
                     -1);
    assert_non_null(strstr(why, "typ"));
}

/* HS256 keyed with the public key's PEM (the algorithm-confusion forgery),
 * and "none" with an empty signature. */
static void
test_other_algorithms_refused(void **state)
{
    struct fixture *f = *state;
    char input[512], t[700], mac_b64[64];
    unsigned char mac[32];
    unsigned int mac_len = sizeof(mac);
    struct wharf_claims c;
    const char *why;
    size_t n;

    n = wharf_b64url_encode((const unsigned char *) "{\"alg\":\"HS256\"}", 15,
                            input);
    input[n++] = '.';
    n += wharf_b64url_encode((const unsigned char *) GOOD "}", strlen(GOOD "}"),
                             input + n);
    HMAC(EVP_sha256(), f->pub_a, (int) f->pub_a_len, (unsigned char *) input, n,
         mac, &mac_len);
    wharf_b64url_encode(mac, mac_len, mac_b64);
    snprintf(t, sizeof(t), "%s.%s", input, mac_b64);
    assert_int_equal(
        wharf_token_verify(t, strlen(t), &f->only_a, NULL, NOW, &c, &why), -1);
    assert_string_equal(why, "algorithm not allowed (only ES256)");

    n = wharf_b64url_encode((const unsigned char *) "{\"alg\":\"none\"}", 14,
                            t);
    t[n++] = '.';
    n += wharf_b64url_encode((const unsigned char *) GOOD "}", strlen(GOOD "}"),
                             t + n);
    t[n++] = '.';
    t[n] = '\0';
    assert_int_equal(
        wharf_token_verify(t, strlen(t), &f->only_a, NULL, NOW, &c, &why), -1);
    assert_string_equal(why, "algorithm not allowed (only ES256)");
}

static void
test_kid_chooses_the_key(void **state)
{
    struct fixture *f = *state;
    const char *why;
    char h[160];

    /* kid of b, signed by b: verified in a set with both */
    snprintf(h, sizeof(h), "{\"alg\":\"ES256\",\"kid\":\"%s\"}", f->kid_b);
    assert_int_equal(check(h, GOOD "}", f->b, &f->both, NULL, NOW, &why), 0);
    /* kid of b, signed by a: only b is tried */
    assert_int_equal(check(h, GOOD "}", f->a, &f->both, NULL, NOW, &why), -1);
    assert_string_equal(why, "bad signature");
    /* a kid no key has: refused before any signature check */
    assert_int_equal(check("{\"alg\":\"ES256\",\"kid\":\"retired\"}", GOOD "}",
                           f->a, &f->both, NULL, NOW, &why),
                     -1);
    assert_non_null(strstr(why, "unknown kid"));
    /* no kid: every key is tried, so a token of either verifies */
    assert_int_equal(check(H_ES256, GOOD "}", f->a, &f->both, NULL, NOW, &why),
                     0);
    assert_int_equal(check(H_ES256, GOOD "}", f->b, &f->both, NULL, NOW, &why),
                     0);
    assert_int_equal(
        check(H_ES256, GOOD "}", f->a, &f->only_b, NULL, NOW, &why), -1);
    assert_string_equal(why, "bad signature");
    /* a set without keys refuses everything */
    {
        struct wharf_keys none = { .n = 0 };

        assert_int_equal(check(H_ES256, GOOD "}", f->a, &none, NULL, NOW, &why),
                         -1);
    }
}

/* Rotation, as the parts see it: a token of the old key (a) and one of the
 * new (b) both verify while both keys are trusted; once a is retired, only
 * b's. */
static void
test_rotation_overlap_then_retire(void **state)
{
    struct fixture *f = *state;
    const char *why;
    char ha[160], hb[160];

    snprintf(ha, sizeof(ha), "{\"alg\":\"ES256\",\"kid\":\"%s\"}", f->kid_a);
    snprintf(hb, sizeof(hb), "{\"alg\":\"ES256\",\"kid\":\"%s\"}", f->kid_b);
    assert_int_equal(check(ha, GOOD "}", f->a, &f->both, NULL, NOW, &why), 0);
    assert_int_equal(check(hb, GOOD "}", f->b, &f->both, NULL, NOW, &why), 0);
    assert_int_equal(check(ha, GOOD "}", f->a, &f->only_b, NULL, NOW, &why),
                     -1);
    assert_non_null(strstr(why, "unknown kid"));
    assert_int_equal(check(hb, GOOD "}", f->b, &f->only_b, NULL, NOW, &why), 0);
}

static void
test_claims_shape(void **state)
{
    struct fixture *f = *state;
    const char *why;
    const char *bad[] = {
        "{\"sub\":\"../etc\",\"scope\":\"read\",\"exp\":1800000100}",
        "{\"sub\":\"Demo\",\"scope\":\"read\",\"exp\":1800000100}",
        "{\"scope\":\"read\",\"exp\":1800000100}",
        "{\"sub\":7,\"scope\":\"read\",\"exp\":1800000100}",
        "{\"sub\":\"d\\u0000x\",\"scope\":\"read\",\"exp\":1800000100}",
        "{\"sub\":\"*\",\"scope\":\"read root\",\"exp\":1800000100}",
        "{\"sub\":\"*\",\"exp\":1800000100}",
        "{\"sub\":\"*\",\"scope\":[\"read\"],\"exp\":1800000100}",
        "{\"sub\":\"*\",\"sub\":\"x\",\"scope\":\"read\",\"exp\":1800000100}",
        "[1]",
        "null",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (check(H_ES256, bad[i], f->a, &f->only_a, NULL, NOW, &why) != -1) {
            fail_msg("accepted claims %s", bad[i]);
        }
    }
    /* unknown claims are ignored */
    assert_int_equal(check(H_ES256, GOOD ",\"iss\":\"x\",\"jti\":\"1\"}", f->a,
                           &f->only_a, NULL, NOW, &why),
                     0);
}

static void
test_form(void **state)
{
    struct fixture *f = *state;
    struct wharf_claims c;
    const char *why;
    char *t = forge(H_ES256, GOOD "}", f->a), *u;
    size_t n = strlen(t);
    const char *bad[] = { "", "a", "a.b", "a.b.c", "a.b.c.d", ".b.c", "a..c" };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(wharf_token_verify(bad[i], strlen(bad[i]), &f->only_a,
                                            NULL, NOW, &c, &why),
                         -1);
    }
    assert_int_equal(wharf_token_verify(t, n, &f->only_a, NULL, NOW, &c, &why),
                     0);
    /* a byte of the signature changed */
    u = strdup(t);
    u[n - 5] = u[n - 5] == 'A' ? 'B' : 'A';
    assert_int_equal(wharf_token_verify(u, n, &f->only_a, NULL, NOW, &c, &why),
                     -1);
    free(u);
    /* padding, white space, a fourth part */
    u = malloc(n + 8);
    snprintf(u, n + 8, "%s=", t);
    assert_int_equal(
        wharf_token_verify(u, n + 1, &f->only_a, NULL, NOW, &c, &why), -1);
    snprintf(u, n + 8, "%s .", t);
    assert_int_equal(
        wharf_token_verify(u, n + 2, &f->only_a, NULL, NOW, &c, &why), -1);
    snprintf(u, n + 8, "%s.x", t);
    assert_int_equal(
        wharf_token_verify(u, n + 2, &f->only_a, NULL, NOW, &c, &why), -1);
    free(u);
    /* the length is the caller's: a prefix of the token is not the token */
    assert_int_equal(
        wharf_token_verify(t, n - 1, &f->only_a, NULL, NOW, &c, &why), -1);
    /* too long */
    u = malloc(WHARF_TOKEN_MAX + 2);
    memset(u, 'a', WHARF_TOKEN_MAX + 1);
    u[WHARF_TOKEN_MAX + 1] = '\0';
    assert_int_equal(wharf_token_verify(u, WHARF_TOKEN_MAX + 1, &f->only_a,
                                        NULL, NOW, &c, &why),
                     -1);
    assert_string_equal(why, "token too long");
    free(u);
    free(t);
}

static void
test_b64url_canonical(void **state)
{
    unsigned char out[16];
    char enc[16];

    (void) state;
    assert_int_equal(wharf_b64url_encode((const unsigned char *) "ab", 2, enc),
                     3);
    assert_string_equal(enc, "YWI");
    assert_int_equal(wharf_b64url_decode("YWI", 3, out), 2);
    assert_memory_equal(out, "ab", 2);
    /* the same bytes with non-zero spare bits: not canonical */
    assert_int_equal(wharf_b64url_decode("YWJ", 3, out), -1);
    assert_int_equal(wharf_b64url_decode("YWI=", 4, out), -1);
    assert_int_equal(wharf_b64url_decode("Y", 1, out), -1);
    assert_int_equal(wharf_b64url_decode("a+b/", 4, out), -1);
    assert_int_equal(wharf_b64url_decode("-_-_", 4, out), 3);
}

static void
test_key_set(void **state)
{
    struct fixture *f = *state;
    struct wharf_keys ks = { .n = 0 };
    EVP_PKEY *p384 = EVP_EC_gen("P-384");
    char *pem384;
    size_t len;
    const char *why;
    int i;

    assert_int_equal(
        wharf_keys_add_pem(&ks, (unsigned char *) f->pub_a, f->pub_a_len, &why),
        1);
    /* the same key again: kept once */
    assert_int_equal(
        wharf_keys_add_pem(&ks, (unsigned char *) f->pub_a, f->pub_a_len, &why),
        0);
    assert_int_equal(ks.n, 1);
    assert_non_null(wharf_keys_find(&ks, f->kid_a, WHARF_KID_LEN));
    assert_null(wharf_keys_find(&ks, f->kid_b, WHARF_KID_LEN));
    /* a private key is not a verification key */
    assert_int_equal(wharf_keys_add_pem(&ks, (unsigned char *) f->priv_a,
                                        f->priv_a_len, &why),
                     -1);
    assert_non_null(strstr(why, "private key"));
    /* P-384 is not ES256 */
    pem384 = pem_of(p384, 0, &len);
    assert_int_equal(
        wharf_keys_add_pem(&ks, (unsigned char *) pem384, len, &why), -1);
    assert_non_null(strstr(why, "P-256"));
    free(pem384);
    EVP_PKEY_free(p384);
    assert_int_equal(
        wharf_keys_add_pem(&ks, (const unsigned char *) "junk", 4, &why), -1);
    /* full at WHARF_KEYS_MAX */
    for (i = 1; i < WHARF_KEYS_MAX; i++) {
        EVP_PKEY *k = EVP_EC_gen("P-256");
        char *p = pem_of(k, 0, &len);

        assert_int_equal(
            wharf_keys_add_pem(&ks, (unsigned char *) p, len, &why), 1);
        free(p);
        EVP_PKEY_free(k);
    }
    assert_int_equal(
        wharf_keys_add_pem(&ks, (unsigned char *) f->pub_b, f->pub_b_len, &why),
        -1);
    assert_non_null(strstr(why, "too many keys"));
    wharf_keys_free(&ks);
    assert_int_equal(ks.n, 0);
}

static void
test_scopes_parse_and_format(void **state)
{
    unsigned s;
    const char *why;
    char buf[64];

    (void) state;
    assert_int_equal(wharf_scopes_parse(" read  terminal ", &s, &why), 0);
    assert_int_equal(s, WHARF_SCOPE_READ | WHARF_SCOPE_TERMINAL);
    wharf_scopes_format(s, buf, sizeof(buf));
    assert_string_equal(buf, "read terminal");
    assert_int_equal(wharf_scopes_parse("", &s, &why), 0);
    assert_int_equal(s, 0);
    assert_int_equal(wharf_scopes_parse("reader", &s, &why), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_with_kid),
        cmocka_unit_test(test_kid_is_the_jwk_thumbprint),
        cmocka_unit_test(test_exp_edge_and_leeway),
        cmocka_unit_test(test_nbf_and_iat_edges),
        cmocka_unit_test(test_aud_string_or_array),
        cmocka_unit_test(test_header_alg_typ_crit),
        cmocka_unit_test(test_other_algorithms_refused),
        cmocka_unit_test(test_kid_chooses_the_key),
        cmocka_unit_test(test_rotation_overlap_then_retire),
        cmocka_unit_test(test_claims_shape),
        cmocka_unit_test(test_form),
        cmocka_unit_test(test_b64url_canonical),
        cmocka_unit_test(test_key_set),
        cmocka_unit_test(test_scopes_parse_and_format),
    };
    return cmocka_run_group_tests_name("common_token", tests, setup, teardown);
}
