/* libFuzzer target: token verification (common/token.c, jws.c) on outside
 * bytes.
 * A token reaches the module, wharfd and the agent from any client, so no
 * byte string may crash, leak or be accepted without a valid signature.
 * The key pair is made once per process; nothing random-looking can verify,
 * so a success here is itself a finding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "token.h"

static struct wharf_keys keys;

static void
make_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    BIO *bio = BIO_new(BIO_s_mem());
    const char *why;
    char *data;
    long n;

    PEM_write_bio_PUBKEY(bio, k);
    n = BIO_get_mem_data(bio, &data);
    if (wharf_keys_add_pem(&keys, (unsigned char *) data, (size_t) n, &why)
        != 1) {
        abort();
    }
    BIO_free(bio);
    EVP_PKEY_free(k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wharf_claims c;
    const char *why = NULL;
    char *token;

    if (keys.n == 0) {
        make_key();
    }
    if (size > WHARF_TOKEN_MAX + 16) {
        return 0;
    }
    token = malloc(size + 1);
    memcpy(token, data, size);
    token[size] = '\0';
    /* the length is the caller's: NULs and all, as the module passes it */
    if (wharf_token_verify(token, size, &keys, NULL, 0, &c, &why) == 0
        || wharf_token_verify(token, size, &keys, "demo", 0, &c, &why) == 0) {
        abort(); /* verified without our private key: a forgery */
    }
    free(token);
    return 0;
}
