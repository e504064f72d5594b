/* libFuzzer target: token verification (common/token.c) on outside bytes.
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

static char *pub_pem;
static size_t pub_len;

static void
make_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long n;

    PEM_write_bio_PUBKEY(bio, k);
    n = BIO_get_mem_data(bio, &data);
    pub_pem = malloc((size_t) n);
    memcpy(pub_pem, data, (size_t) n);
    pub_len = (size_t) n;
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

    if (pub_pem == NULL) {
        make_key();
    }
    if (size > WHARF_TOKEN_MAX + 16) {
        return 0;
    }
    token = malloc(size + 1);
    memcpy(token, data, size);
    token[size] = '\0';
    if (wharf_token_verify(token, (unsigned char *) pub_pem, pub_len, 0, &c,
                           &why)
        == 0) {
        abort(); /* verified without our private key: a forgery */
    }
    free(token);
    return 0;
}
