/* Key ids and key sets: see keys.h. */
#include "keys.h"

#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "b64url.h"

/* 1 when the PEM text holds a private key's armour (no memmem: the nginx
 * module compiles this file without _GNU_SOURCE). */
static int
pem_is_private(const unsigned char *pem, size_t len)
{
    static const char armour[] = "PRIVATE KEY-----";
    size_t i, n = sizeof(armour) - 1;

    for (i = 0; i + n <= len; i++) {
        if (memcmp(pem + i, armour, n) == 0) {
            return 1;
        }
    }
    return 0;
}

void *
wharf_pkey_parse(const unsigned char *pem, size_t len, int private_key,
                 const char **why)
{
    EVP_PKEY *pkey;
    char group[32];
    BIO *bio;

    if (len == 0 || len > WHARF_KEY_PEM_MAX) {
        *why = "not a PEM key (empty, or over 16 KiB)";
        return NULL;
    }
    if (!private_key && pem_is_private(pem, len)) {
        *why = "a private key where a public key belongs (\"BEGIN PUBLIC "
               "KEY\"): a verifier never needs the private key";
        return NULL;
    }
    bio = BIO_new_mem_buf(pem, (int) len);
    if (bio == NULL) {
        *why = "out of memory";
        return NULL;
    }
    pkey = private_key ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)
                       : PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (pkey == NULL) {
        *why = private_key ? "not a PEM private key (\"BEGIN PRIVATE KEY\")"
                           : "not a PEM public key (\"BEGIN PUBLIC KEY\")";
        return NULL;
    }
    if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC
        || EVP_PKEY_get_group_name(pkey, group, sizeof(group), NULL) != 1
        || (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0)) {
        EVP_PKEY_free(pkey);
        *why = "not an EC P-256 key: tokens are ES256";
        return NULL;
    }
    return pkey;
}

void
wharf_pkey_free(void *pkey)
{
    EVP_PKEY_free(pkey);
}

int
wharf_pkey_kid(void *pkey, char *kid)
{
    BIGNUM *x = NULL, *y = NULL;
    unsigned char xb[32], yb[32], digest[SHA256_DIGEST_LENGTH];
    char xs[WHARF_B64URL_LEN(32) + 1], ys[WHARF_B64URL_LEN(32) + 1];
    char jwk[160];
    int n, rc = -1;

    if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1
        || EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1
        || BN_bn2binpad(x, xb, sizeof(xb)) != (int) sizeof(xb)
        || BN_bn2binpad(y, yb, sizeof(yb)) != (int) sizeof(yb)) {
        goto done;
    }
    wharf_b64url_encode(xb, sizeof(xb), xs);
    wharf_b64url_encode(yb, sizeof(yb), ys);
    /* RFC 7638 section 3.2: the required members only, in lexicographic
     * order, no white space. */
    n = snprintf(jwk, sizeof(jwk),
                 "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
                 xs, ys);
    if (n < 0 || (size_t) n >= sizeof(jwk)) {
        goto done;
    }
    SHA256((const unsigned char *) jwk, (size_t) n, digest);
    wharf_b64url_encode(digest, sizeof(digest), kid);
    rc = 0;
done:
    BN_free(x);
    BN_free(y);
    return rc;
}

int
wharf_key_kid(const unsigned char *pem, size_t len, int private_key, char *kid,
              const char **why)
{
    void *pkey = wharf_pkey_parse(pem, len, private_key, why);
    int rc;

    if (pkey == NULL) {
        return -1;
    }
    rc = wharf_pkey_kid(pkey, kid);
    EVP_PKEY_free(pkey);
    if (rc != 0) {
        *why = "cannot read the key's point";
    }
    return rc;
}

int
wharf_keys_add_pem(struct wharf_keys *ks, const unsigned char *pem, size_t len,
                   const char **why)
{
    char kid[WHARF_KID_LEN + 1];
    void *pkey;

    pkey = wharf_pkey_parse(pem, len, 0, why);
    if (pkey == NULL) {
        return -1;
    }
    if (wharf_pkey_kid(pkey, kid) != 0) {
        EVP_PKEY_free(pkey);
        *why = "cannot read the key's point";
        return -1;
    }
    if (wharf_keys_find(ks, kid, WHARF_KID_LEN) != NULL) {
        EVP_PKEY_free(pkey);
        return 0;
    }
    if (ks->n == WHARF_KEYS_MAX) {
        EVP_PKEY_free(pkey);
        *why = "too many keys (at most 16): retire the old ones";
        return -1;
    }
    memcpy(ks->key[ks->n].kid, kid, sizeof(kid));
    ks->key[ks->n].pkey = pkey;
    ks->n++;
    return 1;
}

const struct wharf_key *
wharf_keys_find(const struct wharf_keys *ks, const char *kid, size_t kid_len)
{
    size_t i;

    if (kid_len != WHARF_KID_LEN) {
        return NULL;
    }
    for (i = 0; i < ks->n; i++) {
        if (memcmp(ks->key[i].kid, kid, WHARF_KID_LEN) == 0) {
            return &ks->key[i];
        }
    }
    return NULL;
}

void
wharf_keys_free(struct wharf_keys *ks)
{
    size_t i;

    for (i = 0; i < ks->n; i++) {
        EVP_PKEY_free(ks->key[i].pkey);
        ks->key[i].pkey = NULL;
    }
    ks->n = 0;
}
