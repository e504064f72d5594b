/* Unit tests for access tokens (common/token.c): ES256 only, claims checked.
 * Keys are made in-process with OpenSSL, so the test needs no files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "token.h"

struct keys {
    char *priv, *pub, *other_pub;
    size_t priv_len, pub_len, other_pub_len;
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
    struct keys *k = calloc(1, sizeof(*k));
    EVP_PKEY *a = EVP_EC_gen("P-256"), *b = EVP_EC_gen("P-256");

    k->priv = pem_of(a, 1, &k->priv_len);
    k->pub = pem_of(a, 0, &k->pub_len);
    k->other_pub = pem_of(b, 0, &k->other_pub_len);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
    *state = k;
    return 0;
}

static int
teardown(void **state)
{
    struct keys *k = *state;

    free(k->priv);
    free(k->pub);
    free(k->other_pub);
    free(k);
    return 0;
}

static char *
sign(struct keys *k, const char *sub, const char *aud, unsigned scopes,
     time_t exp)
{
    struct wharf_claims c = { .scopes = scopes, .exp = exp, .iat = 1000 };
    const char *why = NULL;
    char *t;

    strcpy(c.sub, sub);
    strcpy(c.aud, aud);
    t = wharf_token_sign(&c, (unsigned char *) k->priv, k->priv_len, &why);
    assert_non_null(t);
    return t;
}

static void
test_round_trip(void **state)
{
    struct keys *k = *state;
    struct wharf_claims c;
    const char *why = NULL;
    char *t =
        sign(k, "demo", "demo", WHARF_SCOPE_TERMINAL | WHARF_SCOPE_READ, 5000);

    assert_int_equal(wharf_token_verify(t, (unsigned char *) k->pub, k->pub_len,
                                        4000, &c, &why),
                     0);
    assert_string_equal(c.sub, "demo");
    assert_string_equal(c.aud, "demo");
    assert_int_equal(c.scopes, WHARF_SCOPE_TERMINAL | WHARF_SCOPE_READ);
    assert_int_equal(c.exp, 5000);
    assert_true(wharf_claims_allow(&c, "demo", WHARF_SCOPE_TERMINAL));
    assert_false(wharf_claims_allow(&c, "other", WHARF_SCOPE_TERMINAL));
    assert_false(wharf_claims_allow(&c, "demo", WHARF_SCOPE_ADMIN));
    assert_false(wharf_claims_allow(&c, NULL, WHARF_SCOPE_READ));
    free(t);
}

static void
test_star_sub_allows_every_worker(void **state)
{
    struct keys *k = *state;
    struct wharf_claims c;
    const char *why = NULL;
    char *t = sign(k, "*", "", WHARF_SCOPE_READ, 5000);

    assert_int_equal(wharf_token_verify(t, (unsigned char *) k->pub, k->pub_len,
                                        4000, &c, &why),
                     0);
    assert_true(wharf_claims_allow(&c, "any", WHARF_SCOPE_READ));
    assert_true(wharf_claims_allow(&c, NULL, WHARF_SCOPE_READ));
    free(t);
}

static void
test_expired_and_wrong_key_refused(void **state)
{
    struct keys *k = *state;
    struct wharf_claims c;
    const char *why = NULL;
    char *t = sign(k, "demo", "", WHARF_SCOPE_READ, 5000);

    assert_int_equal(wharf_token_verify(t, (unsigned char *) k->pub, k->pub_len,
                                        5000, &c, &why),
                     -1);
    assert_string_equal(why, "token expired");
    assert_int_equal(wharf_token_verify(t, (unsigned char *) k->other_pub,
                                        k->other_pub_len, 10, &c, &why),
                     -1);
    t[strlen(t) - 3] ^= 1; /* tamper with the signature */
    assert_int_equal(wharf_token_verify(t, (unsigned char *) k->pub, k->pub_len,
                                        10, &c, &why),
                     -1);
    free(t);
}

/* alg "none", and HS256 keyed with the public key's PEM bytes: the classic
 * algorithm-confusion forgery. Both must be refused. */
static void
test_other_algorithms_refused(void **state)
{
    struct keys *k = *state;
    struct wharf_claims c;
    const char *why = NULL;
    jwt_t *jwt;
    char *t;

    jwt_new(&jwt);
    jwt_add_grant(jwt, "sub", "*");
    jwt_add_grant(jwt, "scope", "admin");
    jwt_add_grant_int(jwt, "exp", 5000);
    jwt_set_alg(jwt, JWT_ALG_HS256, (unsigned char *) k->pub, (int) k->pub_len);
    t = jwt_encode_str(jwt);
    assert_int_equal(wharf_token_verify(t, (unsigned char *) k->pub, k->pub_len,
                                        10, &c, &why),
                     -1);
    free(t);

    jwt_set_alg(jwt, JWT_ALG_NONE, NULL, 0);
    t = jwt_encode_str(jwt);
    assert_int_equal(wharf_token_verify(t, (unsigned char *) k->pub, k->pub_len,
                                        10, &c, &why),
                     -1);
    free(t);
    jwt_free(jwt);
}

static void
test_claims_shape(void **state)
{
    struct keys *k = *state;
    struct wharf_claims c;
    const char *why = NULL;
    jwt_t *jwt;
    char *t;

    /* No exp. */
    jwt_new(&jwt);
    jwt_add_grant(jwt, "sub", "demo");
    jwt_add_grant(jwt, "scope", "read");
    jwt_set_alg(jwt, JWT_ALG_ES256, (unsigned char *) k->priv,
                (int) k->priv_len);
    t = jwt_encode_str(jwt);
    assert_int_equal(wharf_token_verify(t, (unsigned char *) k->pub, k->pub_len,
                                        10, &c, &why),
                     -1);
    assert_string_equal(why, "token has no exp claim");
    free(t);

    /* A sub that is not a worker name. */
    jwt_add_grant_int(jwt, "exp", 5000);
    jwt_del_grants(jwt, "sub");
    jwt_add_grant(jwt, "sub", "../etc");
    t = jwt_encode_str(jwt);
    assert_int_equal(wharf_token_verify(t, (unsigned char *) k->pub, k->pub_len,
                                        10, &c, &why),
                     -1);
    free(t);

    /* An unknown scope. */
    jwt_del_grants(jwt, "sub");
    jwt_add_grant(jwt, "sub", "demo");
    jwt_del_grants(jwt, "scope");
    jwt_add_grant(jwt, "scope", "read root");
    t = jwt_encode_str(jwt);
    assert_int_equal(wharf_token_verify(t, (unsigned char *) k->pub, k->pub_len,
                                        10, &c, &why),
                     -1);
    free(t);
    jwt_free(jwt);

    assert_int_equal(wharf_token_verify("", (unsigned char *) k->pub,
                                        k->pub_len, 10, &c, &why),
                     -1);
    assert_int_equal(wharf_token_verify("a.b.c", (unsigned char *) k->pub,
                                        k->pub_len, 10, &c, &why),
                     -1);
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
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_star_sub_allows_every_worker),
        cmocka_unit_test(test_expired_and_wrong_key_refused),
        cmocka_unit_test(test_other_algorithms_refused),
        cmocka_unit_test(test_claims_shape),
        cmocka_unit_test(test_scopes_parse_and_format),
    };
    return cmocka_run_group_tests_name("common_token", tests, setup, teardown);
}
