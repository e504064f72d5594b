/*
 * JWS compact serialization (RFC 7515) with ES256 (RFC 7518 section 3.4)
 * only: the header rules and the signature of wharf's tokens. The claims
 * inside are token.c's business. token.h lists the rules.
 *
 * Written on OpenSSL's EVP API rather than a JWT library, so that the key
 * is chosen by kid before any signature check, every header member is
 * seen (crit, typ), the keys are parsed once instead of per token, and the
 * set of algorithms is one, by construction.
 */
#ifndef WHARF_JWS_H
#define WHARF_JWS_H

#include <stddef.h>

#include <jansson.h>

#include "keys.h"

/*
 * Checks the form, the header and the signature of token (len bytes)
 * against keys. On success returns 0 with the decoded payload, a JSON
 * object, in *payload (the caller decrefs it). On failure -1 with the
 * reason in *why.
 */
int wharf_jws_verify(const char *token, size_t len,
                     const struct wharf_keys *keys, json_t **payload,
                     const char **why);

/* Signs payload (a JSON object) with pkey (EVP_PKEY *, EC P-256 private)
 * under header {"alg":"ES256","typ":"JWT","kid":kid}. Returns a malloc'd
 * token, or NULL with *why set. */
char *wharf_jws_sign(json_t *payload, void *pkey, const char *kid,
                     const char **why);

#endif
