/*
 * The orchestrator's keys: ES256 (EC P-256) key pairs, each named by its
 * key id ("kid").
 *
 * Key id. The kid of a key is its RFC 7638 JWK thumbprint: the base64url
 * SHA-256 of {"crv":"P-256","kty":"EC","x":"...","y":"..."}, 43
 * characters. It is a function of the public key alone, so every part
 * (the module that signs, wharfctl that mints, nginx, wharfd and the agents
 * that verify) computes the same kid from the key it already has, with no
 * name to configure or to get wrong, and a private key and its public key
 * have the same kid.
 *
 * Key set. A verifier holds up to WHARF_KEYS_MAX public keys at once, so
 * that tokens of the old and of the new key both verify while a key is
 * rotated (docs/SECURITY.md, "Key rotation"). The same key given twice (a
 * file and a folder holding a copy) is kept once.
 *
 * The set holds OpenSSL key objects, which are safe to share between
 * threads for verification. Parsing needs no file system: keys_load.h
 * reads files and folders for the daemons; the nginx module reads them
 * its own way and adds each here.
 */
#ifndef WHARF_KEYS_H
#define WHARF_KEYS_H

#include <stddef.h>

/* Length of a kid: base64url of 32 bytes. */
#define WHARF_KID_LEN 43

/* Keys a verifier holds at once: the current key, the one being retired,
 * and room for a mistake or two. */
#define WHARF_KEYS_MAX 16

/* Largest PEM file read as a key. */
#define WHARF_KEY_PEM_MAX 16384

struct wharf_key {
    char kid[WHARF_KID_LEN + 1];
    void *pkey; /* EVP_PKEY *: the public key (or the pair, for signing) */
};

struct wharf_keys {
    struct wharf_key key[WHARF_KEYS_MAX];
    size_t n;
};

/*
 * Parses a PEM public key ("BEGIN PUBLIC KEY") and adds it to the set.
 * Returns 1 when added, 0 when the set already holds that key (same
 * kid), -1 with a reason in *why: not PEM, not EC P-256, a private key
 * (a verifier never needs one), or the set is full.
 */
int wharf_keys_add_pem(struct wharf_keys *ks, const unsigned char *pem,
                       size_t len, const char **why);

/* The key of that kid, or NULL. */
const struct wharf_key *wharf_keys_find(const struct wharf_keys *ks,
                                        const char *kid, size_t kid_len);

/* Frees every key; the set is empty afterwards. */
void wharf_keys_free(struct wharf_keys *ks);

/*
 * The kid of a PEM key, public or private (a private key's kid is that of
 * its public half). kid holds WHARF_KID_LEN + 1 bytes. 0, or -1 with a
 * reason in *why.
 */
int wharf_key_kid(const unsigned char *pem, size_t len, int private_key,
                  char *kid, const char **why);

/* The kid of an OpenSSL EC P-256 key (EVP_PKEY *). 0 or -1. */
int wharf_pkey_kid(void *pkey, char *kid);

/* Frees a key parsed by wharf_pkey_parse (NULL is fine). */
void wharf_pkey_free(void *pkey);

/* Parses a PEM key into an EVP_PKEY * that must be EC P-256; private_key
 * selects which kind of PEM is expected. NULL with a reason in *why. */
void *wharf_pkey_parse(const unsigned char *pem, size_t len, int private_key,
                       const char **why);

#endif
